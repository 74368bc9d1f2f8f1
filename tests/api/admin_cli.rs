//! The administration commands (`gatehouse users|tokens|groups …`, `completions`) run as
//! subprocesses against the database of a server that keeps running, on both backends: what
//! they change is seen through the API (on SQLite within the server's look for other
//! processes' writes), their exit codes and `--json` answers are what scripts rely on, and
//! their changes are in the audit log as `gatehouse-cli`. Also: contrib/gatehouse.service
//! passes `systemd-analyze verify` (when `GATEHOUSE_SYSTEMD_ANALYZE` names it).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_test;
use crate::common::{TestServer, TEST_SECRET};

/// What a command answered.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    fn error(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", self.stderr))
    }
}

/// Runs `gatehouse ARGS --database-url URL` with `stdin` (none: no terminal, empty input).
fn gatehouse(url: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .args(["--database-url", url])
        .env("GATEHOUSE_SECRET_KEY", TEST_SECRET)
        .env("GATEHOUSE_LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("gatehouse exits");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "exit {}: {}", run.code, run.stderr);
    run
}

/// Waits (up to 5 s) until `check` holds: another process's write reaches a SQLite server's
/// caches at its next look (every 250 ms), a PostgreSQL server's through the change feed.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not seen within 5 s");
}

async fn basic_status(srv: &TestServer, username: &str, password: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{}/api/v2/me/", srv.base))
        .basic_auth(username, Some(password))
        .send()
        .await
        .expect("request")
        .status()
}

backend_test!(users_through_the_command_line, |srv| {
    let url = srv.config().database_url;
    let password = "ann-Secret-42!";
    let created = ok(gatehouse(
        &url,
        &[
            "users",
            "create",
            "ann",
            "--name",
            "Ann Example",
            "--email",
            "ann@example.org",
            "--password-stdin",
            "--json",
        ],
        Some(&format!("{password}\n")),
    ))
    .json();
    assert_eq!(created["username"], "ann");
    assert_eq!(created["has_password"], true);
    let pk = created["pk"].as_i64().expect("pk");
    let r = srv.get(&format!("/api/v3/core/users/{pk}/")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "Ann Example");
    assert_eq!(r.body["email"], "ann@example.org");
    assert_eq!(basic_status(srv, "ann", password).await, StatusCode::OK);

    // Exit codes: conflict, invalid, not found, usage.
    let again = gatehouse(&url, &["users", "create", "ann", "--json"], None);
    assert_eq!(again.code, 5, "{}", again.stderr);
    assert_eq!(again.error()["error"], "conflict");
    assert!(
        again.error()["fields"]["username"].is_array(),
        "{}",
        again.stderr
    );
    let bad = gatehouse(&url, &["users", "create", "no spaces!"], None);
    assert_eq!(bad.code, 4, "{}", bad.stderr);
    assert!(bad.stderr.contains("username"), "{}", bad.stderr);
    let missing = gatehouse(
        &url,
        &["users", "set-password", "nobody", "--password-stdin"],
        Some("x-Secret-1\n"),
    );
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    let blank = gatehouse(
        &url,
        &["users", "set-password", "ann", "--password-stdin", "--json"],
        Some("  \n"),
    );
    assert_eq!(blank.code, 4, "{}", blank.stderr);
    assert_eq!(
        blank.error()["fields"]["password"][0],
        "This field may not be blank."
    );
    // No terminal to prompt on and no --password-stdin: a usage error, nothing read from argv.
    let no_tty = gatehouse(&url, &["users", "set-password", "ann"], None);
    assert_eq!(no_tty.code, 2, "{}", no_tty.stderr);
    assert!(
        no_tty.stderr.contains("--password-stdin"),
        "{}",
        no_tty.stderr
    );
    let unknown = gatehouse(&url, &["users", "frobnicate"], None);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);

    // A new password: the old one stops working, the new one works.
    ok(gatehouse(
        &url,
        &["users", "set-password", "ann", "--password-stdin"],
        Some("ann-Other-43!\n"),
    ));
    assert_eq!(
        basic_status(srv, "ann", "ann-Other-43!").await,
        StatusCode::OK
    );
    assert_eq!(
        basic_status(srv, "ann", password).await,
        StatusCode::UNAUTHORIZED
    );

    // Lists: JSON array, search, by id.
    let all = ok(gatehouse(&url, &["users", "list", "--json"], None)).json();
    let names: Vec<&str> = all
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert!(
        names.contains(&"akadmin") && names.contains(&"ann"),
        "{names:?}"
    );
    let found = ok(gatehouse(
        &url,
        &["users", "list", "--search", "EXAMPLE.org", "--json"],
        None,
    ))
    .json();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let text = ok(gatehouse(&url, &["users", "list"], None)).stdout;
    assert!(
        text.lines()
            .any(|l| l.contains("ann") && l.contains("ann@example.org")),
        "{text}"
    );

    // Deactivate: the password stops working (the server drops what it cached).
    let off = ok(gatehouse(
        &url,
        &["users", "deactivate", "ann", "--json"],
        None,
    ))
    .json();
    assert_eq!(off["is_active"], false);
    eventually("deactivated user refused", || async {
        basic_status(srv, "ann", "ann-Other-43!").await == StatusCode::UNAUTHORIZED
    })
    .await;
    // Cached reads follow another process's write within the watch interval (logins read the
    // row itself, so they may see it first).
    eventually("deactivated user read as inactive", || async {
        srv.get(&format!("/api/v3/core/users/{pk}/")).await.body["is_active"] == false
    })
    .await;
    ok(gatehouse(
        &url,
        &["users", "activate", &pk.to_string()],
        None,
    ));
    eventually("activated user accepted", || async {
        basic_status(srv, "ann", "ann-Other-43!").await == StatusCode::OK
    })
    .await;

    // Every change is in the audit log, made by gatehouse-cli.
    let events = srv
        .get("/api/v3/events/events/?page_size=100&ordering=-created")
        .await;
    let cli: Vec<&Value> = events.body["results"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["user"]["username"] == "gatehouse-cli")
        .collect();
    assert!(
        cli.iter().any(|e| e["action"] == "model_created"
            && e["context"]["http_request"]["path"] == "gatehouse users create"),
        "{}",
        events.text
    );
    assert!(cli.iter().any(|e| e["action"] == "password_set"
        || e["context"]["http_request"]["path"] == "gatehouse users set-password"));
    assert!(cli
        .iter()
        .all(|e| e["context"]["http_request"]["method"] == "CLI"));
    assert!(
        !events.text.contains("ann-Other-43!"),
        "no password in the audit log"
    );
});

backend_test!(tokens_and_groups_through_the_command_line, |srv| {
    let url = srv.config().database_url;
    ok(gatehouse(
        &url,
        &["users", "create", "bob", "--email", "bob@example.org"],
        None,
    ));
    let created = ok(gatehouse(
        &url,
        &[
            "tokens",
            "create",
            "bob-cli",
            "--user",
            "bob",
            "--description",
            "from the CLI",
            "--json",
        ],
        None,
    ))
    .json();
    let key = created["key"].as_str().expect("key").to_string();
    assert_eq!(created["user"], "bob");
    assert_eq!(created["intent"], "api");
    // bob is no superuser: his api tokens expire, as through the API.
    assert_eq!(created["expiring"], true);
    let me = srv
        .send(Method::GET, "/api/v3/core/users/me/", Some(&key), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["user"]["username"], "bob");

    // Text mode prints the key alone on stdout.
    let text = ok(gatehouse(
        &url,
        &["tokens", "create", "bob-two", "--user", "bob"],
        None,
    ));
    assert_eq!(text.stdout.trim().len(), 60, "{}", text.stdout);
    assert!(!text.stdout.trim().contains(' '));

    let dup = gatehouse(
        &url,
        &["tokens", "create", "bob-cli", "--user", "bob", "--json"],
        None,
    );
    assert_eq!(dup.code, 5, "{}", dup.stderr);
    let bad = gatehouse(
        &url,
        &[
            "tokens", "create", "x", "--user", "bob", "--intent", "recovery",
        ],
        None,
    );
    assert_eq!(bad.code, 4, "{}", bad.stderr);
    let nobody = gatehouse(&url, &["tokens", "create", "x", "--user", "nobody"], None);
    assert_eq!(nobody.code, 3, "{}", nobody.stderr);

    let listed = ok(gatehouse(
        &url,
        &["tokens", "list", "--user", "bob", "--json"],
        None,
    ))
    .json();
    let ids: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["identifier"].as_str())
        .collect();
    assert_eq!(ids, vec!["bob-cli", "bob-two"]);
    assert!(!listed.to_string().contains(&key), "lists never show keys");
    let everyone = ok(gatehouse(&url, &["tokens", "list"], None)).stdout;
    assert!(
        everyone.contains("authentik-bootstrap-token") && everyone.contains("bob-cli"),
        "{everyone}"
    );

    // Revoked while the server has the key's principal cached: it stops working.
    ok(gatehouse(&url, &["tokens", "revoke", "bob-cli"], None));
    eventually("revoked token refused", || async {
        srv.send(Method::GET, "/api/v3/core/users/me/", Some(&key), None)
            .await
            .status
            == StatusCode::FORBIDDEN
    })
    .await;
    let again = gatehouse(&url, &["tokens", "revoke", "bob-cli", "--json"], None);
    assert_eq!(again.code, 3, "{}", again.stderr);
    assert_eq!(again.error()["error"], "not_found");

    // Memberships, by group name and by uuid.
    let group = srv
        .post("/api/v3/core/groups/", &json!({"name": "ops"}))
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.text);
    let uuid = group.body["pk"].as_str().expect("uuid").to_string();
    let added = ok(gatehouse(
        &url,
        &["groups", "add-user", "ops", "bob", "--json"],
        None,
    ))
    .json();
    assert_eq!(
        (added["group_uuid"].as_str(), added["member"].as_bool()),
        (Some(uuid.as_str()), Some(true))
    );
    let members = |r: &crate::common::Resp| -> Vec<String> {
        r.body["users_obj"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| u["username"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let r = srv.get(&format!("/api/v3/core/groups/{uuid}/")).await;
    assert_eq!(members(&r), vec!["bob".to_string()], "{}", r.text);
    ok(gatehouse(
        &url,
        &["groups", "remove-user", &uuid, "bob"],
        None,
    ));
    let r = srv.get(&format!("/api/v3/core/groups/{uuid}/")).await;
    assert!(members(&r).is_empty(), "{}", r.text);
    let missing = gatehouse(&url, &["groups", "add-user", "no-such-group", "bob"], None);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    let missing = gatehouse(&url, &["groups", "add-user", "ops", "nobody"], None);
    assert_eq!(missing.code, 3, "{}", missing.stderr);

    // A superuser's token may be made without expiry.
    let forever = ok(gatehouse(
        &url,
        &[
            "tokens",
            "create",
            "admin-forever",
            "--user",
            "akadmin",
            "--no-expiry",
            "--json",
        ],
        None,
    ))
    .json();
    assert_eq!(forever["expiring"], false, "{forever}");
});

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_gatehouse()"),
        ("zsh", "#compdef gatehouse"),
        ("fish", "complete -c gatehouse"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["completions", shell])
            .output()
            .expect("run gatehouse");
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {marker} missing");
        assert!(
            text.contains("set-password") && text.contains("add-user"),
            "{shell}: subcommands"
        );
    }
}

/// contrib/gatehouse.service with ExecStart pointing at the built binary, verified by
/// `systemd-analyze` (GATEHOUSE_SYSTEMD_ANALYZE; .ci/run sets it).
#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/gatehouse.service"
    ))
    .expect("contrib/gatehouse.service");
    for setting in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=gatehouse",
        "EnvironmentFile=-/etc/gatehouse/gatehouse.env",
        "ExecStart=/usr/local/bin/gatehouse serve",
    ] {
        assert!(
            unit.lines().any(|l| l.trim() == setting),
            "{setting} missing"
        );
    }
    let Some(analyze) = std::env::var("GATEHOUSE_SYSTEMD_ANALYZE")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("GATEHOUSE_SYSTEMD_ANALYZE unset: systemd-analyze verify not run");
        return;
    };
    let dir =
        std::env::temp_dir().join(format!("gatehouse-unit-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("gatehouse.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/gatehouse", env!("CARGO_BIN_EXE_gatehouse")),
    )
    .expect("write unit");
    let verify = Command::new(&analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "systemd-analyze verify: {stderr}");
    assert!(
        !stderr.contains("gatehouse.service"),
        "warnings about the unit: {stderr}"
    );
    let security = Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .expect("systemd-analyze security");
    let text = String::from_utf8_lossy(&security.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for gatehouse.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {text}"));
    assert!(level <= 2.0, "exposure {level}: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}
