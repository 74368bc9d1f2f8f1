//! Issue 18, item 4: `gatehouse backup` copies a SQLite directory while the server runs and
//! answers writes; a second server serves the copy. On PostgreSQL it refuses, naming pg_dump.

use gatehouse::domain::backup::{backup, BackupError};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_serves_on_a_second_server() {
    let srv = TestServer::start(Backend::Sqlite).await;
    for name in ["bk-ann", "bk-ben", "bk-cat"] {
        let r = srv
            .post(
                "/api/v3/core/users/",
                &json!({"username": name, "name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-backup-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let output = dir.join("copy.db");
    let url = srv.config().database_url;
    // Writes keep coming while the copy is taken.
    let writer = {
        let base = srv.base.clone();
        let token = srv.token.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut created = 0;
            for i in 0..20 {
                let r = client
                    .post(format!("{base}/api/v3/core/users/"))
                    .bearer_auth(&token)
                    .json(&json!({"username": format!("bk-during-{i}"), "name": "during"}))
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(r.status(), StatusCode::CREATED);
                created += 1;
            }
            created
        })
    };
    let summary = backup(&url, &output, false).await.expect("backup");
    assert_eq!(
        writer.await.expect("writer"),
        20,
        "the server answered writes throughout"
    );
    assert!(summary.bytes > 0);
    assert!(
        summary.users >= 4,
        "akadmin and the three: {}",
        summary.users
    );
    assert_eq!(
        std::fs::metadata(&output).expect("written").len(),
        summary.bytes
    );
    // Not overwritten without --force; replaced with it.
    assert!(matches!(
        backup(&url, &output, false).await,
        Err(BackupError::Exists(_))
    ));
    let again = backup(&url, &output, true).await.expect("forced");
    assert!(again.users >= summary.users, "{}", again.users);
    assert_eq!(
        std::fs::read_dir(&dir).expect("dir").count(),
        1,
        "no partial file left beside the copy"
    );

    // A second server on the copy, as a restore would run it: the same users, the same token.
    let copy_url = format!("sqlite://{}", output.display());
    let second = TestServer::start_with(Backend::Sqlite, |c| c.database_url = copy_url).await;
    for name in ["bk-ann", "bk-ben", "bk-cat"] {
        let r = second
            .send(
                Method::GET,
                &format!("/api/v3/core/users/?username={name}"),
                Some(&srv.token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.body["pagination"]["count"],
            json!(1),
            "{name} in the copy"
        );
    }
    second.finish().await;
    srv.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_missing_database_is_not_backed_up_as_an_empty_one() {
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-nobackup-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}/absent.db", dir.display());
    let r = backup(&url, &dir.join("copy.db"), false).await;
    assert!(matches!(r, Err(BackupError::NoDatabase(_))), "{r:?}");
    assert!(!dir.exists(), "nothing created");
}

/// The command itself on PostgreSQL: exit code 2, pg_dump named, the password not shown.
/// (No connection is made, so this needs no PostgreSQL.)
#[tokio::test]
async fn on_postgres_the_command_points_to_pg_dump() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "backup",
            "--database-url",
            "postgres://gate:hunter2-secret@127.0.0.1:5432/directory",
            "--output",
            "/nonexistent-dir/copy.db",
        ])
        .output()
        .await
        .expect("ran");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    if let Some(url) = crate::common::postgres_url() {
        let r = backup(
            &url,
            std::path::Path::new("/nonexistent-dir/copy.db"),
            false,
        )
        .await;
        assert!(matches!(r, Err(BackupError::Postgres(_))), "{r:?}");
    }
}
