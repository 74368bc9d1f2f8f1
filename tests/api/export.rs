//! `gatehouse export` → `gatehouse import FILE.jsonl`: a directory built through the API on one
//! backend, exported by the real binary, imported into a fresh directory on the other backend,
//! reads the same through both dialects; passwords and token keys keep working.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{postgres_url, Backend, FreshDatabase, TestServer, TEST_SECRET};

fn gatehouse(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env("GATEHOUSE_SECRET_KEY", TEST_SECRET)
        .env("GATEHOUSE_LOG_LEVEL", "warn")
        .output()
        .expect("run gatehouse");
    assert!(
        out.status.success(),
        "gatehouse {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What both dialects show of the directory.
async fn snapshot(srv: &TestServer, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v3/core/users/?page_size=100&ordering=pk",
        "/api/v3/core/groups/?page_size=100&ordering=name",
        "/api/v3/core/tokens/?page_size=100&ordering=identifier",
        "/api/v3/rbac/roles/?page_size=100&ordering=name",
        "/api/v2/users/?page_size=100&order_by=id",
        "/api/v2/tokens/?page_size=100&order_by=id",
    ] {
        let r = srv.send(Method::GET, path, Some(key), None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        out.push(r.body["results"].clone());
    }
    let r = srv
        .send(Method::GET, "/api/v3/core/users/me/", Some(key), None)
        .await;
    out.push(r.body["user"].clone());
    out
}

/// Builds a small directory through the API; returns (user pk, password, token key).
async fn populate(srv: &TestServer) -> (i64, String, String) {
    let parent = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "parent-g", "attributes": {"a": 1}}),
        )
        .await;
    assert_eq!(parent.status, StatusCode::CREATED, "{}", parent.text);
    let child = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "child-g", "parents": [parent.body["pk"]]}),
        )
        .await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.text);
    let user = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "ann", "name": "Ann Example", "email": "ann@example.org",
                    "groups": [child.body["pk"]], "attributes": {"team": "x"}, "path": "users/x"}),
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.text);
    let pk = user.body["pk"].as_i64().expect("pk");
    let password = "ann-Secret-42!".to_string();
    let r = srv
        .post(
            &format!("/api/v3/core/users/{pk}/set_password/"),
            &json!({"password": password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let role = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "readers"}))
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.text);
    let role_uuid = role.body["pk"].as_str().expect("role pk").to_string();
    let r = srv
        .post(
            &format!("/api/v3/rbac/permissions/assigned_by_roles/{role_uuid}/assign/"),
            &json!({"permissions": ["authentik_core.view_user"]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = srv
        .patch(
            &format!(
                "/api/v3/core/groups/{}/",
                child.body["pk"].as_str().expect("uuid")
            ),
            &json!({"roles": [role_uuid]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({"identifier": "ann-tok", "user": pk, "intent": "api", "description": "d"}),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.text);
    let key = srv.get("/api/v3/core/tokens/ann-tok/view_key/").await;
    let key = key.body["key"].as_str().expect("key").to_string();
    (pk, password, key)
}

async fn round_trip(from: Backend, to: Backend) {
    let srv = TestServer::start(from).await;
    let (ann, password, ann_key) = populate(&srv).await;
    let admin_key = srv.token.clone();
    let before = snapshot(&srv, &admin_key).await;
    let dir = std::env::temp_dir().join(format!("gatehouse-export-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = srv.config().database_url;
    let with_keys = dir.join("with-keys.jsonl");
    let without = dir.join("without-keys.jsonl");
    gatehouse(&[
        "export",
        "--database-url",
        &url,
        "--include-token-keys",
        "--output",
        with_keys.to_str().expect("path"),
    ]);
    gatehouse(&[
        "export",
        "--database-url",
        &url,
        "--output",
        without.to_str().expect("path"),
    ]);
    // The key export is in the audit log; the keyless file holds hashes but no keys.
    let events = srv
        .get("/api/v3/events/events/?action=secret_view&page_size=100")
        .await;
    assert!(
        events.text.contains("gatehouse export"),
        "key export audited: {}",
        events.text
    );
    srv.finish().await;
    let text = std::fs::read_to_string(&without).expect("export");
    assert!(text
        .lines()
        .next()
        .unwrap_or("")
        .contains("\"kind\":\"header\""));
    assert!(text.contains("$argon2id$"), "hashes included");
    assert!(
        !text.contains(&ann_key),
        "no keys without --include-token-keys"
    );
    assert!(std::fs::read_to_string(&with_keys)
        .expect("export")
        .contains(&ann_key));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&with_keys)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "export readable by its owner only");
    }

    let db = FreshDatabase::new(to).await;
    let out = gatehouse(&[
        "import",
        with_keys.to_str().expect("path"),
        "--json",
        "--database-url",
        &db.url,
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(report["users"]["created"], 2, "{report}");
    assert_eq!(report["tokens"]["created"], 2, "{report}");
    assert_eq!(report["groups"]["created"], 3, "{report}");
    assert_eq!(report["skipped"], json!([]), "{report}");

    let srv = TestServer::start_on(to, &db.url, "never-used-key-0123456789abcdef", |_| {}).await;
    let after = snapshot(&srv, &admin_key).await;
    assert_eq!(after, before);
    // The password hash and the token key moved with the user.
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/api/v2/me/", srv.base))
        .basic_auth("ann", Some(&password))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let r = srv
        .send(Method::GET, "/api/v3/core/users/me/", Some(&ann_key), None)
        .await;
    assert_eq!(r.body["user"]["pk"], ann);

    // Importing the keyless file again changes nothing, and says why its tokens are skipped.
    srv.finish().await;
    let out = gatehouse(&[
        "import",
        without.to_str().expect("path"),
        "--json",
        "--database-url",
        &db.url,
    ]);
    let again: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(again["users"]["unchanged"], 2, "{again}");
    assert_eq!(again["users"]["updated"], 0, "{again}");
    assert_eq!(again["tokens"]["skipped"], 2, "{again}");
    db.remove().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres() {
    if postgres_url().is_none() {
        eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: round trip to PostgreSQL not run");
        return;
    }
    round_trip(Backend::Sqlite, Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_sqlite() {
    if postgres_url().is_none() {
        eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: round trip from PostgreSQL not run");
        return;
    }
    round_trip(Backend::Postgres, Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ldif_file_is_named_in_the_error() {
    // LDIF is read now (tests/api/ldif.rs); a file that is not there is a clear failure.
    let db = FreshDatabase::new(Backend::Sqlite).await;
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["import", "people.ldif", "--database-url", &db.url])
        .env("GATEHOUSE_SECRET_KEY", TEST_SECRET)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("people.ldif") && stderr.contains("No such file"),
        "{stderr}"
    );
    db.remove().await;
}

/// A hand-written file whose links come before the objects they name, with more users than one
/// import batch (5,000) and a username repeated across batches, enough of them (10,000) for the
/// bulk load into an empty directory (on PostgreSQL the search index is rebuilt after it, and
/// searches find the users): a dry run and the import give
/// the same report, the links land, and the same file again changes nothing (its users carry
/// their dates: a line without `date_joined` takes the time of the import).
async fn lines_in_any_order(backend: Backend) {
    let db = FreshDatabase::new(backend).await;
    let dir = std::env::temp_dir().join(format!("gatehouse-order-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("any-order.jsonl");
    let users = 10_003;
    let mut text = String::from(
        "{\"kind\":\"header\",\"format\":\"gatehouse-directory\",\"version\":1}\n\
         {\"kind\":\"membership\",\"user\":5002,\"group\":\"6f1d4a9e-0a51-4c7e-9f53-5d2cf7b1a001\"}\n\
         {\"kind\":\"user_role\",\"user\":7,\"role\":\"6f1d4a9e-0a51-4c7e-9f53-5d2cf7b1a003\"}\n\
         {\"kind\":\"token\",\"identifier\":\"late-owner\",\"user\":5002,\"key\":\"order-test-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ\"}\n\
         {\"kind\":\"group\",\"uuid\":\"6f1d4a9e-0a51-4c7e-9f53-5d2cf7b1a001\",\"name\":\"child\",\"parents\":[\"6f1d4a9e-0a51-4c7e-9f53-5d2cf7b1a002\"]}\n",
    );
    for pk in 1..users {
        text.push_str(&format!(
            "{{\"kind\":\"user\",\"pk\":{pk},\"username\":\"order-{pk}\",\"password_hash\":\"pbkdf2_sha256$1000$s$h\",\"date_joined\":\"2026-01-01T00:00:00Z\"}}\n"
        ));
    }
    // The last user repeats the first one's username (in the second batch).
    text.push_str(&format!(
        "{{\"kind\":\"user\",\"pk\":{users},\"username\":\"order-1\"}}\n"
    ));
    text.push_str(
        "{\"kind\":\"group\",\"uuid\":\"6f1d4a9e-0a51-4c7e-9f53-5d2cf7b1a002\",\"name\":\"parent\"}\n\
         {\"kind\":\"role\",\"uuid\":\"6f1d4a9e-0a51-4c7e-9f53-5d2cf7b1a003\",\"name\":\"r\",\"permissions\":[\"authentik_core.view_user\"]}\n",
    );
    std::fs::write(&file, text).expect("write");
    let path = file.to_str().expect("path");
    let run = |dry: bool| {
        let mut args = vec!["import", path, "--json", "--database-url", db.url.as_str()];
        if dry {
            args.push("--dry-run");
        }
        let out = gatehouse(&args);
        let mut report: Value = serde_json::from_slice(&out.stdout).expect("report");
        report["dry_run"] = Value::Null;
        report
    };
    // (A test schema has the trigram index only where pg_trgm is visible: count it first.)
    gatehouse(&["migrate", "--database-url", &db.url]);
    let indexes_before = match backend {
        Backend::Postgres => search_indexes(&db.url).await,
        Backend::Sqlite => 0,
    };
    let dry = run(true);
    let report = run(false);
    assert_eq!(dry, report, "a dry run reports what the import does");
    assert_eq!(report["users"]["created"], users - 1, "{report}");
    assert_eq!(report["users"]["skipped"], 1, "{report}");
    for kind in [
        "memberships",
        "parents",
        "user_roles",
        "tokens",
        "permissions",
    ] {
        assert_eq!(report[kind]["created"], 1, "{kind}: {report}");
    }
    assert_eq!(
        report["hash_schemes"]["pbkdf2_sha256"],
        users - 1,
        "{report}"
    );
    if backend == Backend::Postgres {
        assert_eq!(
            search_indexes(&db.url).await,
            indexes_before,
            "the search index is back after the bulk load"
        );
    }
    let srv = TestServer::start_on(
        backend,
        &db.url,
        "order-bootstrap-key-0123456789abcdef",
        |_| {},
    )
    .await;
    let found = srv.get("/api/v3/core/users/?search=order-7777").await;
    assert_eq!(found.body["pagination"]["count"], 1, "{}", found.text);
    srv.finish().await;
    let again = run(false);
    assert_eq!(again["users"]["unchanged"], users - 1, "{again}");
    assert_eq!(again["users"]["created"], 0, "{again}");
    assert_eq!(again["memberships"]["unchanged"], 1, "{again}");
    assert_eq!(again["tokens"]["unchanged"], 1, "{again}");
    db.remove().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// How many user search indexes (`users_search_trgm`) the PostgreSQL schema of `url` has.
async fn search_indexes(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() \
         AND indexname = 'users_search_trgm'",
    )
    .fetch_one(&pool)
    .await
    .expect("pg_indexes");
    pool.close().await;
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_in_any_order_sqlite() {
    lines_in_any_order(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_in_any_order_postgres() {
    if postgres_url().is_none() {
        eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: PostgreSQL not run");
        return;
    }
    lines_in_any_order(Backend::Postgres).await;
}

/// Usernames are unique under ASCII case folding: a source user whose name differs from a
/// directory user's only in case, or from another source user's, is skipped with its reason
/// (the import goes on and exits 0), never a database error.
async fn case_variant_usernames(backend: Backend) {
    let db = FreshDatabase::new(backend).await;
    let dir = std::env::temp_dir().join(format!("gatehouse-case-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let header = "{\"kind\":\"header\",\"format\":\"gatehouse-directory\",\"version\":1}\n";
    let import = |name: &str, lines: &str| {
        let file = dir.join(name);
        std::fs::write(&file, format!("{header}{lines}")).expect("write");
        let out = gatehouse(&[
            "import",
            file.to_str().expect("path"),
            "--json",
            "--database-url",
            db.url.as_str(),
        ]);
        serde_json::from_slice::<Value>(&out.stdout).expect("report")
    };
    let first = import(
        "first.jsonl",
        "{\"kind\":\"user\",\"pk\":5,\"username\":\"bob\"}\n",
    );
    assert_eq!(first["users"]["created"], 1, "{first}");
    let second = import(
        "second.jsonl",
        "{\"kind\":\"user\",\"pk\":6,\"username\":\"Bob\"}\n\
         {\"kind\":\"user\",\"pk\":7,\"username\":\"Carol\"}\n\
         {\"kind\":\"user\",\"pk\":8,\"username\":\"carol\"}\n",
    );
    assert_eq!(second["users"]["created"], 1, "{second}");
    assert_eq!(second["users"]["skipped"], 2, "{second}");
    let reasons = second["skipped"].to_string();
    assert!(
        reasons.contains("username is taken by user id 5"),
        "{second}"
    );
    assert!(reasons.contains("twice"), "{second}");
    db.remove().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_variant_usernames_sqlite() {
    case_variant_usernames(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_variant_usernames_postgres() {
    if postgres_url().is_none() {
        eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: PostgreSQL not run");
        return;
    }
    case_variant_usernames(Backend::Postgres).await;
}
