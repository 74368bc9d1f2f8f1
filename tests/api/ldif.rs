//! `gatehouse import FILE.ldif`: an OpenLDAP-style export imported by the real binary into the
//! database of a running server, on both backends: users with their `{SSHA}` / `{CRYPT}`
//! hashes log in, groups keep their members and nesting (as parents), what cannot be taken is
//! reported, a dry run writes nothing, and running it again changes nothing.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_test;
use crate::common::{TestServer, TEST_SECRET};

/// ann: `{SSHA}` of "ann-Secret-1" (base64 as slapcat writes it); bob: `{CRYPT}` sha512-crypt
/// of "bob-Secret-2"; carol: cleartext (reported, unusable); an organizational unit, a
/// modify record and a member that is not in the file (all reported).
const EXPORT: &str = "\
version: 1

# the base
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: uid=ann,ou=people,dc=example,dc=org
objectClass: top
objectClass: inetOrgPerson
objectClass: posixAccount
uid: ann
cn: Ann Example
givenName: Ann
sn: Example
mail: ann@example.org
uidNumber: 1001
gidNumber: 1001
homeDirectory: /home/ann
userPassword:: e1NTSEF9bWViQ0hkTDlCRkI5ZEZxbGx4N2FLM2crVS9zeE1qTTBOVFkzT0E9PQ==
entryUUID: 5f3a1c2e-1111-4a4a-8b8b-0123456789ab
createTimestamp: 20240131120000Z

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
  by Example
sn: Example
mail: bob@example.org
userPassword: {CRYPT}$6$rounds=5000$saltsaltsalt$FW2x5EH18qQbKxNdnEDYGs0/x8wrX71Xlem8ycgHE/d2zBd5R/UaKwrApD6HqXSWiZFm8txixMtG.A.f3FJFq/

dn: uid=carol,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: C
userPassword: plain-text-password

dn: cn=devs,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: devs
member: uid=ann,ou=people,dc=example,dc=org
member: uid=ghost,ou=people,dc=example,dc=org

dn: cn=staff,ou=groups,dc=example,dc=org
objectClass: groupOfUniqueNames
cn: staff
uniqueMember: cn=devs,ou=groups,dc=example,dc=org
uniqueMember: UID=Bob, OU=People, DC=example, DC=org

dn: uid=ann,ou=people,dc=example,dc=org
changetype: modify
replace: mail
mail: other@example.org
-
";

fn import(url: &str, file: &std::path::Path, dry_run: bool) -> Value {
    let mut args = vec![
        "import",
        file.to_str().expect("path"),
        "--json",
        "--database-url",
        url,
    ];
    if dry_run {
        args.push("--dry-run");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(&args)
        .env("GATEHOUSE_SECRET_KEY", TEST_SECRET)
        .env("GATEHOUSE_LOG_LEVEL", "warn")
        .output()
        .expect("run gatehouse");
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
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

/// The user named `username` through the API (polled: another process wrote it).
async fn user(srv: &TestServer, username: &str) -> Value {
    for _ in 0..50 {
        let r = srv
            .get(&format!("/api/v3/core/users/?username={username}"))
            .await;
        if let Some(u) = r.body["results"].as_array().and_then(|a| a.first()) {
            return u.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("user {username} not found");
}

fn skipped(report: &Value, kind: &str, name_part: &str) -> bool {
    report["skipped"].as_array().is_some_and(|s| {
        s.iter()
            .any(|s| s["kind"] == kind && s["name"].as_str().is_some_and(|n| n.contains(name_part)))
    })
}

backend_test!(ldif_export_imports, |srv| {
    let url = srv.config().database_url;
    let dir =
        std::env::temp_dir().join(format!("gatehouse-ldif-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("directory.ldif");
    std::fs::write(&file, EXPORT).expect("write ldif");

    let dry = import(&url, &file, true);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["users"]["created"], 3, "{dry}");
    let r = srv.get("/api/v3/core/users/?username=ann").await;
    assert_eq!(
        r.body["results"],
        Value::Array(vec![]),
        "a dry run writes nothing"
    );

    let report = import(&url, &file, false);
    assert_eq!(report["users"]["created"], 3, "{report}");
    assert_eq!(report["groups"]["created"], 2, "{report}");
    assert_eq!(report["parents"]["created"], 1, "{report}");
    assert_eq!(report["memberships"]["created"], 2, "{report}");
    // carol is imported (without a password); entries and passwords count in no kind's tally.
    assert_eq!(report["users"]["skipped"], 0, "{report}");
    assert_eq!(report["permissions"]["skipped"], 0, "{report}");
    // The server's own directory already had an install id.
    assert!(report["install_id"]["kept"].is_string(), "{report}");
    assert!(skipped(&report, "password", "carol"), "{report}");
    assert!(skipped(&report, "membership", "ghost"), "{report}");
    assert!(
        skipped(&report, "entry", "ou=people,dc=example,dc=org"),
        "{report}"
    );
    assert!(
        skipped(&report, "entry", "uid=ann"),
        "the modify record: {report}"
    );
    assert_eq!(report["hash_schemes"]["{SSHA}"], 1, "{report}");
    assert_eq!(report["hash_schemes"]["{CRYPT}"], 1, "{report}");

    let ann = user(srv, "ann").await;
    assert_eq!(ann["uuid"], "5f3a1c2e-1111-4a4a-8b8b-0123456789ab");
    assert_eq!(ann["name"], "Ann Example");
    assert_eq!(ann["email"], "ann@example.org");
    assert_eq!(ann["attributes"]["uidNumber"], "1001");
    assert_eq!(
        ann["attributes"]["distinguishedName"],
        "uid=ann,ou=people,dc=example,dc=org"
    );
    assert!(
        ann["date_joined"]
            .as_str()
            .is_some_and(|d| d.starts_with("2024-01-31T12:00:00")),
        "{ann}"
    );
    let bob = user(srv, "bob").await;
    assert_eq!(bob["name"], "Bob by Example", "folded line");
    let groups = srv
        .get("/api/v3/core/groups/?ordering=name&page_size=100")
        .await;
    let by_name = |name: &str| -> Value {
        groups.body["results"]
            .as_array()
            .and_then(|a| a.iter().find(|g| g["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    let (devs, staff) = (by_name("devs"), by_name("staff"));
    assert_eq!(
        devs["parents"],
        Value::Array(vec![staff["pk"].clone()]),
        "{}",
        groups.text
    );
    assert_eq!(
        devs["users"],
        Value::Array(vec![ann["pk"].clone()]),
        "{}",
        groups.text
    );
    assert_eq!(
        staff["users"],
        Value::Array(vec![bob["pk"].clone()]),
        "{}",
        groups.text
    );

    // Running it again changes nothing.
    let again = import(&url, &file, false);
    for kind in ["users", "groups", "parents", "memberships"] {
        assert_eq!(again[kind]["created"], 0, "{kind}: {again}");
        assert_eq!(again[kind]["updated"], 0, "{kind}: {again}");
    }
    assert_eq!(again["users"]["unchanged"], 3, "{again}");

    // The hashes work as they are; cleartext was not taken.
    assert_eq!(
        basic_status(srv, "ann", "ann-Secret-1").await,
        StatusCode::OK
    );
    assert_eq!(
        basic_status(srv, "bob", "bob-Secret-2").await,
        StatusCode::OK
    );
    assert_eq!(
        basic_status(srv, "bob", "wrong").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        basic_status(srv, "carol", "plain-text-password").await,
        StatusCode::UNAUTHORIZED
    );

    // New users made through the API afterwards get ids of their own.
    let r = srv
        .post(
            "/api/v3/core/users/",
            &serde_json::json!({"username": "dave", "name": "Dave"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(
        r.body["pk"].as_i64() > ann["pk"].as_i64().max(bob["pk"].as_i64()),
        "{}",
        r.text
    );

    // A malformed file is refused with its line, writing nothing.
    let broken = dir.join("broken.ldif");
    std::fs::write(
        &broken,
        "dn: uid=x,dc=example,dc=org\nthis line has no colon\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "import",
            broken.to_str().expect("path"),
            "--database-url",
            &url,
        ])
        .env("GATEHOUSE_SECRET_KEY", TEST_SECRET)
        .output()
        .expect("run gatehouse");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
});
