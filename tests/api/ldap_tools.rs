//! The LDAP door against OpenLDAP's own command-line clients (Debian's `ldap-utils`:
//! `ldapsearch`, `ldapwhoami`, `ldapcompare`, `ldappasswd`), replaying ldap.md §6.3's
//! conformance rows. Runs when `GATEHOUSE_LDAP_UTILS` names the directory holding them
//! (`.ci/run` installs the package and sets it); otherwise it reports that it did not run.

use std::process::Output;

use serde_json::json;

use crate::backend_test;
use crate::common::TestServer;

const BASE: &str = "dc=ldap,dc=goauthentik,dc=io";
const PW: &str = "correct-horse-battery";

fn tools() -> Option<String> {
    std::env::var("GATEHOUSE_LDAP_UTILS")
        .ok()
        .filter(|p| !p.is_empty())
}

async fn tool(dir: &str, name: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(format!("{dir}/{name}"))
        .args(args)
        .env("LDAPTLS_REQCERT", "never")
        .env("LDAPNOINIT", "1")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{name} runs: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn user(srv: &TestServer, body: serde_json::Value) -> i64 {
    let r = srv.post("/api/v3/core/users/", &body).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let pk = r.body["pk"].as_i64().expect("pk");
    srv.post(
        &format!("/api/v3/core/users/{pk}/set_password/"),
        &json!({"password": PW}),
    )
    .await;
    pk
}

backend_test!(ldap_utils_conversations, |srv| {
    let Some(dir) = tools() else {
        eprintln!("GATEHOUSE_LDAP_UTILS unset: ldap-utils conversations not run");
        return;
    };
    let uri = srv.ldap.as_str();
    let alice_dn = format!("cn=alice,ou=users,{BASE}");
    let svc_dn = format!("cn=svc,ou=users,{BASE}");
    let alice = user(
        srv,
        json!({"username": "alice", "name": "Alice Smith", "email": "alice@example.com"}),
    )
    .await;
    let svc = user(srv, json!({"username": "svc", "name": "Service"})).await;
    srv.post(
        "/api/v3/core/groups/",
        &json!({"name": "admins", "is_superuser": true, "users": [svc]}),
    )
    .await;
    srv.post(
        "/api/v3/core/groups/",
        &json!({"name": "developers", "users": [alice]}),
    )
    .await;
    for i in 0..7 {
        user(
            srv,
            json!({"username": format!("user{i}"), "name": format!("User {i}")}),
        )
        .await;
    }

    // 1: anonymous rootDSE.
    let out = tool(
        &dir,
        "ldapsearch",
        &[
            "-x",
            "-H",
            uri,
            "-b",
            "",
            "-s",
            "base",
            "(objectClass=*)",
            "*",
            "+",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("namingContexts: {BASE}")),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("supportedControl: 1.2.840.113556.1.4.319"));
    // 3: whoami (ldap-auth-sh's form).
    let out = tool(
        &dir,
        "ldapwhoami",
        &["-x", "-H", uri, "-D", &alice_dn, "-w", PW],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("dn:{alice_dn}")
    );
    // 4: a wrong password exits 49.
    let out = tool(
        &dir,
        "ldapwhoami",
        &["-x", "-H", uri, "-D", &alice_dn, "-w", "nope"],
    )
    .await;
    assert_eq!(out.status.code(), Some(49), "{}", text(&out));
    // 9: the user as Nextcloud/Gitea read it.
    let out = tool(
        &dir,
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            "-b",
            &format!("ou=users,{BASE}"),
            "(cn=alice)",
            "cn",
            "mail",
            "memberOf",
            "MAIL",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains(&format!("dn: {alice_dn}")), "{shown}");
    assert!(shown.contains("mail: alice@example.com"), "{shown}");
    assert!(
        shown.contains(&format!("memberOf: cn=developers,ou=groups,{BASE}")),
        "{shown}"
    );
    // 15: size limit → exit 4 after that many entries.
    let out = tool(
        &dir,
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            "-b",
            BASE,
            "-z",
            "3",
            "(objectClass=user)",
            "1.1",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).matches("dn: ").count(),
        3
    );
    // 16: paging, 2 per page, over every user.
    let out = tool(
        &dir,
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            "-b",
            BASE,
            "-E",
            "pr=2/noprompt",
            "(objectClass=user)",
            "cn",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).matches("dn: ").count(),
        10,
        "akadmin, alice, svc, user0..6"
    );
    // 18: a missing base exits 32.
    let out = tool(
        &dir,
        "ldapsearch",
        &[
            "-x",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            "-b",
            &format!("ou=nope,{BASE}"),
            "(objectClass=*)",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(32), "{}", text(&out));
    assert!(
        text(&out).contains("matchedDN: DC=ldap,DC=goauthentik,DC=io"),
        "{}",
        text(&out)
    );
    // 20: typesOnly.
    let out = tool(
        &dir,
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-A",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            "-b",
            BASE,
            "(cn=alice)",
            "mail",
        ],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == "mail:"),
        "{}",
        text(&out)
    );
    // 21: compare.
    let out = tool(
        &dir,
        "ldapcompare",
        &[
            "-x",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            &alice_dn,
            "mail:alice@example.com",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let out = tool(
        &dir,
        "ldapcompare",
        &[
            "-x",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            &alice_dn,
            "mail:bob@example.com",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    // 22: ldappasswd, own password with the old one.
    let out = tool(
        &dir,
        "ldappasswd",
        &[
            "-x",
            "-H",
            uri,
            "-D",
            &alice_dn,
            "-w",
            PW,
            "-a",
            PW,
            "-s",
            "brand-new-secret-1",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = tool(
        &dir,
        "ldapwhoami",
        &["-x", "-H", uri, "-D", &alice_dn, "-w", "brand-new-secret-1"],
    )
    .await;
    assert!(
        out.status.success(),
        "the new password binds: {}",
        text(&out)
    );
    // 23: writes are refused with 50.
    let ldif = format!("dn: {alice_dn}\nchangetype: modify\nreplace: mail\nmail: x@example.com\n");
    let path =
        std::env::temp_dir().join(format!("gatehouse-ldif-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, ldif).expect("ldif");
    let out = tool(
        &dir,
        "ldapmodify",
        &[
            "-x",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            "-f",
            path.to_str().expect("path"),
        ],
    )
    .await;
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(50), "{}", text(&out));
    // Unknown critical control: 12.
    let out = tool(
        &dir,
        "ldapsearch",
        &[
            "-x",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            "-b",
            BASE,
            "-E",
            "!1.2.3.4.5",
            "(cn=alice)",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(12), "{}", text(&out));
    // 17: server-side sort is not implemented: 12 when critical, ignored when not.
    let out = tool(
        &dir,
        "ldapsearch",
        &[
            "-x",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            "-b",
            BASE,
            "-E",
            "!sss=cn",
            "(cn=alice)",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(12), "{}", text(&out));
    let out = tool(
        &dir,
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            uri,
            "-D",
            &svc_dn,
            "-w",
            PW,
            "-b",
            BASE,
            "-E",
            "sss=cn",
            "(cn=alice)",
            "1.1",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("dn: {alice_dn}")),
        "{}",
        text(&out)
    );
});

backend_test!(ldap_auth_sh_with_curl, |srv| {
    // ldap-auth.sh's `CLIENT="curl"` (Home Assistant's container has no ldapsearch): curl's
    // LDAP URL support (OpenLDAP underneath). Runs when `GATEHOUSE_LDAP_CURL` names a curl.
    let Some(curl) = std::env::var("GATEHOUSE_LDAP_CURL")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!("GATEHOUSE_LDAP_CURL unset: ldap-auth.sh's curl form not run");
        return;
    };
    let alice = user(
        srv,
        json!({"username": "alice", "name": "Alice Smith", "email": "alice@example.com"}),
    )
    .await;
    user(srv, json!({"username": "carol", "name": "Carol"})).await;
    srv.post(
        "/api/v3/core/groups/",
        &json!({"name": "hass", "users": [alice]}),
    )
    .await;
    let run = |user_dn: String, pw: &str, url: String| {
        let credentials = format!("{user_dn}:{pw}");
        let curl = curl.clone();
        async move {
            tokio::process::Command::new(curl)
                .args(["-s", "-S", "-u", &credentials, &url])
                .kill_on_drop(true)
                .output()
                .await
                .expect("curl runs")
        }
    };
    let alice_dn = format!("cn=alice,ou=users,{BASE}");
    let carol_dn = format!("cn=carol,ou=users,{BASE}");
    // No BASEDN: a bind and a base search of the rootDSE; the exit status decides.
    let root = format!("{}/?dn??", srv.ldap);
    let out = run(alice_dn.clone(), PW, root.clone()).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(alice_dn.clone(), "wrong", root).await;
    assert!(!out.status.success(), "a wrong password fails the login");
    // BASEDN=USERDN, SCOPE=base, a group filter, NAME_ATTR=displayName: one entry needed.
    let filter = format!("(%26(objectClass=user)(memberOf=cn=hass,ou=groups,{BASE}))");
    let url = |dn: &str| format!("{}/{dn}?displayName?base?{filter}", srv.ldap);
    let out = run(alice_dn.clone(), PW, url(&alice_dn)).await;
    assert!(out.status.success(), "{}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("Alice Smith"), "{listed}");
    assert_eq!(listed.matches("DN: ").count(), 1, "{listed}");
    let out = run(carol_dn.clone(), PW, url(&carol_dn)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).matches("DN: ").count(),
        0,
        "carol is not in hass"
    );
});
