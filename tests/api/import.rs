//! `gatehouse import --from-authentik-db`: the real authentik 2025.12.4 fixture
//! (tests/fixtures/authentik-2025.12.4.sql.gz) restored with `psql` into a PostgreSQL database
//! of each test's own, imported by the real binary into a fresh gatehouse directory on each
//! backend, then checked through the API. Needs `psql` and `GATEHOUSE_TEST_DATABASE_URL`
//! (.ci/run provides both); without them the tests say so and pass.

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{postgres_url, Backend, FreshDatabase, TestServer, TEST_SECRET};

const FIXTURE_SQL: &str = "tests/fixtures/authentik-2025.12.4.sql.gz";
const FIXTURE_JSON: &str = "tests/fixtures/authentik-2025.12.4.json";
/// What the fixture holds beyond the JSON: the users `AnonymousUser` (skipped), the embedded
/// outpost's service account, and akadmin.
const FIXTURE_USERS: u64 = 13;
const FIXTURE_GROUPS: u64 = 7;
const FIXTURE_TOKENS: u64 = 5;
const ADMINS_UUID: &str = "f917bd11-859c-4a22-a9e2-d83f0270e55a";

fn fixture() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_JSON);
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture json")).expect("json")
}

/// Why the import tests cannot run here, if they cannot.
fn unavailable() -> Option<&'static str> {
    if postgres_url().is_none() {
        return Some("GATEHOUSE_TEST_DATABASE_URL unset: the authentik fixture needs PostgreSQL");
    }
    match Command::new("psql").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("psql not found: cannot restore the authentik fixture (.ci/run installs postgresql-client)"),
    }
}

/// The authentik fixture restored into a database of its own (dropped by `remove`).
struct AuthentikDb {
    url: String,
    name: String,
    admin_url: String,
}

impl AuthentikDb {
    async fn restore() -> AuthentikDb {
        let admin_url = postgres_url().expect("postgres url");
        let name = format!(
            "ak_import_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let pool = sqlx::PgPool::connect(&admin_url).await.expect("postgres");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create database");
        pool.close().await;
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin_url.as_str(), String::new()),
        };
        let server = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(base);
        let url = format!("{server}/{name}{query}");
        let sql = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_SQL);
        let status = Command::new("sh")
            .arg("-c")
            .arg("gunzip -c \"$1\" | psql -q -v ON_ERROR_STOP=1 -o /dev/null \"$2\"")
            .arg("restore")
            .arg(&sql)
            .arg(&url)
            .status()
            .expect("run psql");
        assert!(status.success(), "restoring the authentik fixture failed");
        AuthentikDb {
            url,
            name,
            admin_url,
        }
    }

    async fn remove(self) {
        if let Ok(pool) = sqlx::PgPool::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&pool)
            .await;
            pool.close().await;
        }
    }

    /// (pk, uuid) of every user but AnonymousUser, by pk.
    async fn users(&self) -> Vec<(i64, String)> {
        let pool = sqlx::PgPool::connect(&self.url)
            .await
            .expect("authentik db");
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id::bigint, uuid::text FROM authentik_core_user \
             WHERE username <> 'AnonymousUser' ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .expect("users");
        pool.close().await;
        rows
    }
}

/// Runs `gatehouse import` against `database_url`; the parsed JSON report.
fn import(ak: &AuthentikDb, database_url: &str, dry_run: bool) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.args(["import", "--json", "--from-authentik-db", &ak.url])
        .args(["--database-url", database_url])
        .env("GATEHOUSE_SECRET_KEY", TEST_SECRET)
        .env("GATEHOUSE_LOG_LEVEL", "warn");
    if dry_run {
        cmd.arg("--dry-run");
    }
    let out = cmd.output().expect("run gatehouse import");
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "report is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn tally(report: &Value, kind: &str, what: &str) -> u64 {
    report[kind][what].as_u64().unwrap_or(u64::MAX)
}

async fn list(srv: &TestServer, path: &str, key: &str) -> Vec<Value> {
    let r = srv.send(reqwest::Method::GET, path, Some(key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    r.body["results"].as_array().cloned().unwrap_or_default()
}

/// Everything the API shows of users, groups and tokens, for comparing two moments.
async fn snapshot(srv: &TestServer, key: &str) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for path in [
        "/api/v3/core/users/?page_size=1000&ordering=pk",
        "/api/v3/core/groups/?page_size=1000&ordering=name",
        "/api/v3/core/tokens/?page_size=1000&ordering=identifier",
        "/api/v3/rbac/roles/?page_size=1000&ordering=name",
    ] {
        out.push(list(srv, path, key).await);
    }
    out
}

macro_rules! import_test {
    ($name:ident, |$backend:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(why) = unavailable() {
                    eprintln!("import test skipped: {why}");
                    return;
                }
                run(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(why) = unavailable() {
                    eprintln!("import test skipped: {why}");
                    return;
                }
                run(Backend::Postgres).await;
            }
        }
    };
}

import_test!(
    authentik_fixture_imports_into_a_fresh_directory,
    |backend| {
        let fx = fixture();
        let ak = AuthentikDb::restore().await;
        let db = FreshDatabase::new(backend).await;

        // A dry run reports the work and writes nothing.
        let dry = import(&ak, &db.url, true);
        assert_eq!(dry["dry_run"], true);
        assert_eq!(tally(&dry, "users", "created"), FIXTURE_USERS);

        let report = import(&ak, &db.url, false);
        assert_eq!(report["dry_run"], false);
        assert_eq!(tally(&report, "users", "created"), FIXTURE_USERS);
        assert_eq!(tally(&report, "users", "skipped"), 1);
        assert_eq!(tally(&report, "groups", "created"), FIXTURE_GROUPS);
        assert_eq!(tally(&report, "parents", "created"), 3);
        assert_eq!(tally(&report, "memberships", "created"), 10);
        assert_eq!(tally(&report, "tokens", "created"), FIXTURE_TOKENS);
        assert_eq!(tally(&report, "roles", "created"), 3);
        assert_eq!(report["hash_schemes"]["pbkdf2_sha256"], 11);
        let skipped = report["skipped"].as_array().expect("skipped");
        assert!(
            skipped
                .iter()
                .any(|s| s["kind"] == "user" && s["name"] == "AnonymousUser"),
            "AnonymousUser reported as skipped: {skipped:?}"
        );
        assert_eq!(report["replaced"], serde_json::json!([]));
        assert_eq!(
            report["install_id"]["adopted"],
            "65c04497-6849-45ae-a1a9-9f80416f54b2"
        );

        // First start: bootstrap finds the directory made; the configured key is never created.
        let admin_key = fx["admin"]["bootstrap_token_key"].as_str().expect("key");
        let unused = format!("unused-bootstrap-{}", uuid::Uuid::new_v4().simple());
        let srv = TestServer::start_on(backend, &db.url, &unused, |_| {}).await;
        let r = srv
            .send(
                reqwest::Method::GET,
                "/api/v3/core/users/me/",
                Some(&unused),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let r = srv
            .send(
                reqwest::Method::GET,
                "/api/v3/core/users/me/",
                Some(admin_key),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["user"]["username"], "akadmin");
        assert_eq!(r.body["user"]["pk"], 3);
        assert_eq!(r.body["user"]["is_superuser"], true);

        // Users: the fixture's ids and uuids, AnonymousUser left out.
        let users = list(
            &srv,
            "/api/v3/core/users/?page_size=1000&ordering=pk",
            admin_key,
        )
        .await;
        let shown: Vec<(i64, String)> = users
            .iter()
            .map(|u| {
                (
                    u["pk"].as_i64().expect("pk"),
                    u["uuid"].as_str().expect("uuid").to_string(),
                )
            })
            .collect();
        assert_eq!(shown, ak.users().await);
        assert!(users.iter().all(|u| u["username"] != "AnonymousUser"));
        for (username, user) in fx["users"].as_object().expect("users") {
            let pk = user["pk"].as_i64().expect("pk");
            let r = srv
                .send(
                    reqwest::Method::GET,
                    &format!("/api/v3/core/users/{pk}/"),
                    Some(admin_key),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.body["username"], username.as_str());
            assert_eq!(r.body["is_active"], user["is_active"]);
            let mut groups: Vec<String> = r.body["groups_obj"]
                .as_array()
                .expect("groups_obj")
                .iter()
                .map(|g| g["name"].as_str().unwrap_or_default().to_string())
                .collect();
            groups.sort();
            let mut wanted: Vec<String> = user["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .map(|g| g.as_str().unwrap_or_default().to_string())
                .collect();
            wanted.sort();
            assert_eq!(groups, wanted, "groups of {username}");
        }
        let alice = srv
            .send(
                reqwest::Method::GET,
                "/api/v3/core/users/10288/",
                Some(admin_key),
                None,
            )
            .await;
        assert_eq!(alice.body["attributes"]["employee_id"], "E-100");
        assert_eq!(alice.body["path"], "users/imported");
        let found = list(&srv, "/api/v3/core/users/?search=liddell", admin_key).await;
        assert_eq!(found.len(), 1, "imported users are searchable");
        assert_eq!(found[0]["pk"], 10288);

        // Groups: uuids and parents kept; authentik's admin group is the superuser group.
        for (name, group) in fx["groups"].as_object().expect("groups") {
            let uuid = group["pk"].as_str().expect("pk");
            let r = srv
                .send(
                    reqwest::Method::GET,
                    &format!("/api/v3/core/groups/{uuid}/"),
                    Some(admin_key),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{name}");
            assert_eq!(r.body["name"], name.as_str());
            let mut parents: Vec<Value> = r.body["parents"].as_array().cloned().unwrap_or_default();
            parents.sort_by_key(|v| v.to_string());
            let mut wanted = group["parents"].as_array().cloned().unwrap_or_default();
            wanted.sort_by_key(|v| v.to_string());
            assert_eq!(parents, wanted, "parents of {name}");
        }
        let admins = srv
            .send(
                reqwest::Method::GET,
                &format!("/api/v3/core/groups/{ADMINS_UUID}/"),
                Some(admin_key),
                None,
            )
            .await;
        assert_eq!(admins.body["name"], "authentik Admins");
        assert_eq!(admins.body["is_superuser"], true);
        assert_eq!(admins.body["users"], serde_json::json!([3]));

        // The role and its permissions (the ones gatehouse knows).
        let roles = list(&srv, "/api/v3/rbac/roles/?name=auditors", admin_key).await;
        assert_eq!(roles.len(), 1);
        let role_uuid = roles[0]["pk"].as_str().expect("role pk");
        let perms = list(
            &srv,
            &format!("/api/v3/rbac/permissions/?role={role_uuid}&page_size=100"),
            admin_key,
        )
        .await;
        let mut codenames: Vec<&str> = perms
            .iter()
            .filter_map(|p| p["codename"].as_str())
            .collect();
        codenames.sort();
        assert_eq!(codenames, vec!["view_group", "view_user"]);

        // Tokens: the same keys work as Bearer, for their owners.
        for (identifier, key) in fx["tokens"].as_object().expect("tokens") {
            let key = key.as_str().expect("key");
            let r = srv
                .send(
                    reqwest::Method::GET,
                    "/api/v3/core/users/me/",
                    Some(key),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{identifier}: {}", r.text);
            let owner = identifier.trim_end_matches("-api");
            assert_eq!(r.body["user"]["username"], owner);
        }
        let boot = list(
            &srv,
            "/api/v3/core/tokens/?identifier=authentik-bootstrap-token",
            admin_key,
        )
        .await;
        assert_eq!(boot.len(), 1, "exactly one bootstrap token");
        assert_eq!(boot[0]["user"], 3);

        // New users get ids past the imported ones (the id sequence moved on).
        let r = srv
            .send(
                reqwest::Method::POST,
                "/api/v3/core/users/",
                Some(admin_key),
                Some(&serde_json::json!({"username": "made-after-import", "name": "After"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert!(r.body["pk"].as_i64().expect("pk") > 10298);

        // Re-running changes nothing and duplicates nothing.
        let before = snapshot(&srv, admin_key).await;
        srv.finish().await;
        let again = import(&ak, &db.url, false);
        for kind in [
            "users",
            "groups",
            "tokens",
            "roles",
            "memberships",
            "parents",
            "permissions",
        ] {
            assert_eq!(tally(&again, kind, "created"), 0, "{kind} created again");
            assert_eq!(tally(&again, kind, "updated"), 0, "{kind} updated again");
        }
        assert_eq!(tally(&again, "users", "unchanged"), FIXTURE_USERS);
        assert!(again["install_id"]["kept"].is_string());
        let srv = TestServer::start_on(backend, &db.url, &unused, |_| {}).await;
        assert_eq!(snapshot(&srv, admin_key).await, before);
        srv.finish().await;
        db.remove().await;
        ak.remove().await;
    }
);

import_test!(dry_run_writes_nothing, |backend| {
    let ak = AuthentikDb::restore().await;
    let db = FreshDatabase::new(backend).await;
    let report = import(&ak, &db.url, true);
    assert_eq!(report["dry_run"], true);
    assert_eq!(tally(&report, "tokens", "created"), FIXTURE_TOKENS);
    // The directory is still new: the first start bootstraps gatehouse's own objects.
    let srv =
        TestServer::start_on(backend, &db.url, "dry-run-bootstrap-key-0123456789", |_| {}).await;
    let users = list(&srv, "/api/v3/core/users/?page_size=100", &srv.token).await;
    let names: Vec<&str> = users
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, vec!["akadmin"]);
    assert_eq!(users[0]["pk"], 1);
    let groups = list(&srv, "/api/v3/core/groups/?page_size=100", &srv.token).await;
    assert_eq!(groups.len(), 1);
    assert_ne!(groups[0]["pk"], ADMINS_UUID);
    srv.finish().await;
    db.remove().await;
    ak.remove().await;
});

import_test!(import_replaces_gatehouse_bootstrap_objects, |backend| {
    let fx = fixture();
    let ak = AuthentikDb::restore().await;
    let db = FreshDatabase::new(backend).await;
    let own_key = format!("own-bootstrap-{}", uuid::Uuid::new_v4().simple());
    let srv = TestServer::start_on(backend, &db.url, &own_key, |_| {}).await;
    let install_id = srv.install_id();
    let r = srv
        .post(
            "/api/v3/core/users/",
            &serde_json::json!({"username": "zed", "name": "Zed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let zed = r.body["pk"].as_i64().expect("pk");
    srv.finish().await;

    let report = import(&ak, &db.url, false);
    let replaced: Vec<&str> = report["replaced"]
        .as_array()
        .expect("replaced")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        replaced,
        vec![
            "user akadmin",
            "group authentik Admins",
            "token authentik-bootstrap-token"
        ]
    );
    assert_eq!(report["install_id"]["kept"], install_id.as_str());
    assert_eq!(tally(&report, "users", "created"), FIXTURE_USERS);

    let srv = TestServer::start_on(backend, &db.url, &own_key, |_| {}).await;
    // gatehouse's bootstrap key went with its akadmin; authentik's works.
    let r = srv
        .send(
            reqwest::Method::GET,
            "/api/v3/core/users/me/",
            Some(&own_key),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let admin_key = fx["admin"]["bootstrap_token_key"].as_str().expect("key");
    let r = srv
        .send(
            reqwest::Method::GET,
            "/api/v3/core/users/me/",
            Some(admin_key),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["user"]["pk"], 3);
    let users = list(
        &srv,
        "/api/v3/core/users/?page_size=100&username=akadmin",
        admin_key,
    )
    .await;
    assert_eq!(users.len(), 1);
    let r = srv
        .send(
            reqwest::Method::GET,
            &format!("/api/v3/core/users/{zed}/"),
            Some(admin_key),
            None,
        )
        .await;
    assert_eq!(r.body["username"], "zed", "gatehouse's other users stay");
    let groups = list(
        &srv,
        "/api/v3/core/groups/?name=authentik%20Admins",
        admin_key,
    )
    .await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["pk"], ADMINS_UUID);
    assert_eq!(groups[0]["users"], serde_json::json!([3]));
    srv.finish().await;
    db.remove().await;
    ak.remove().await;
});

/// After an import the fixture's users log in with their authentik passwords (pbkdf2_sha256,
/// as authentik stored them). Password logins exist in the AWX dialect only (Basic on
/// `/api/v2/me/`): gatehouse's authentik dialect takes tokens, not passwords.
mod passwords {
    use super::*;

    async fn run(backend: Backend) {
        let fx = fixture();
        let ak = AuthentikDb::restore().await;
        let db = FreshDatabase::new(backend).await;
        import(&ak, &db.url, false);
        let srv =
            TestServer::start_on(backend, &db.url, "unused-key-for-passwords-0123", |_| {}).await;
        let client = reqwest::Client::new();
        for (username, user) in fx["users"].as_object().expect("users") {
            let password = user["password"].as_str().expect("password");
            let active = user["is_active"].as_bool().unwrap_or(true);
            for path in ["/api/v2/me/"] {
                let r = client
                    .get(format!("{}{path}", srv.base))
                    .basic_auth(username, Some(password))
                    .send()
                    .await
                    .expect("request");
                if active {
                    assert_eq!(r.status(), StatusCode::OK, "{username} on {path}");
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    assert!(body.to_string().contains(username.as_str()), "{body}");
                } else {
                    assert_ne!(r.status(), StatusCode::OK, "inactive {username} on {path}");
                }
            }
        }
        srv.finish().await;
        db.remove().await;
        ak.remove().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(why) = unavailable() {
            eprintln!("import test skipped: {why}");
            return;
        }
        run(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(why) = unavailable() {
            eprintln!("import test skipped: {why}");
            return;
        }
        run(Backend::Postgres).await;
    }
}
