//! Secrets never reach the logs: the real binary, at debug level, handles a bootstrap token, a
//! password, a viewed token key, a replaced key and a failed Basic login; none of them (nor the
//! secret key or a password hash) appears in what it logged.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_secrets() {
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-secrets-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let token = "secret-bootstrap-token-0123456789abcdefghij";
    let secret_key = "secret-key-material-0123456789abcdefghijklmnop";
    let password = "a-password-nobody-may-log-42";
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .current_dir(&dir)
        .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "GATEHOUSE_DATABASE_URL",
            format!("sqlite://{}/g.db", dir.display()),
        )
        .env("GATEHOUSE_BOOTSTRAP_TOKEN", token)
        .env("GATEHOUSE_BOOTSTRAP_PASSWORD", password)
        .env("GATEHOUSE_SECRET_KEY", secret_key)
        .env("GATEHOUSE_LDAP_LISTEN", "")
        .env("GATEHOUSE_LOG_LEVEL", "debug")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    // Drain the output while the server runs: a full pipe would block its logging.
    let mut err = child.stderr.take().expect("stderr");
    let mut out = child.stdout.take().expect("stdout");
    let err_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s).await;
        s
    });
    let out_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s).await;
        s
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..600 {
        if client
            .get(format!("{base}/-/health/ready/"))
            .send()
            .await
            .map(|r| r.status() == StatusCode::OK)
            .unwrap_or(false)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "server came up");

    let me: serde_json::Value = client
        .get(format!("{base}/api/v3/core/users/me/"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let pk = me["user"]["pk"].clone();
    let r = client
        .post(format!("{base}/api/v3/core/tokens/"))
        .bearer_auth(token)
        .json(&json!({"identifier": "logged"}))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::CREATED);
    let key: serde_json::Value = client
        .get(format!("{base}/api/v3/core/tokens/logged/view_key/"))
        .bearer_auth(token)
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let viewed = key["key"].as_str().expect("key").to_string();
    let new_key = "a-replacement-key-that-must-stay-secret-77";
    client
        .post(format!("{base}/api/v3/core/tokens/logged/set_key/"))
        .bearer_auth(token)
        .json(&json!({"key": new_key}))
        .send()
        .await
        .expect("set_key");
    let new_password = "another-password-nobody-may-log-43";
    client
        .post(format!("{base}/api/v3/core/users/{pk}/set_password/"))
        .bearer_auth(token)
        .json(&json!({"password": new_password}))
        .send()
        .await
        .expect("set_password");
    client
        .get(format!("{base}/api/v2/me/"))
        .basic_auth("akadmin", Some("a-wrong-password-also-secret-44"))
        .send()
        .await
        .expect("basic");
    client
        .get(format!("{base}/api/v3/core/users/?search=x"))
        .bearer_auth(token)
        .send()
        .await
        .expect("list");
    client
        .get(format!("{base}/api/v3/core/users/"))
        .bearer_auth("an-unknown-bearer-key-also-secret-45")
        .send()
        .await
        .expect("bad bearer");

    let _ = child.start_kill();
    let _ = child.wait().await;
    let logs = format!(
        "{}{}",
        err_task.await.unwrap_or_default(),
        out_task.await.unwrap_or_default()
    );
    assert!(
        logs.contains("request finished"),
        "the server logged its requests"
    );
    for secret in [
        token,
        secret_key,
        password,
        viewed.as_str(),
        new_key,
        new_password,
        "a-wrong-password-also-secret-44",
        "an-unknown-bearer-key-also-secret-45",
        "$argon2id$",
    ] {
        assert!(
            !logs.contains(secret),
            "the logs contain a secret ({} characters)",
            secret.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
