//! The LDAP door over the wire with the `ldap3` client: rootDSE, binds (passwords, app
//! passwords, failures audited), the outpost's entries (golden user and group), the filter
//! language, scopes, limits, paging that stays exact while the directory changes, visibility,
//! compare, whoami, password modify, refused writes and hostile input.

use std::collections::{BTreeMap, BTreeSet};

use ldap3::exop::{PasswordModify, WhoAmI, WhoAmIResp};
use ldap3::{Ldap, LdapConnAsync, Scope, SearchEntry};
use serde_json::{json, Value};

use crate::backend_test;
use crate::common::TestServer;

pub const BASE: &str = "dc=ldap,dc=goauthentik,dc=io";
pub const PW: &str = "correct-horse-battery";
pub const SVC: &str = "cn=svc,ou=users,dc=ldap,dc=goauthentik,dc=io";

pub fn user_dn(name: &str) -> String {
    format!("cn={name},ou=users,{BASE}")
}

pub fn group_dn(name: &str) -> String {
    format!("cn={name},ou=groups,{BASE}")
}

/// A fresh LDAP connection to the server.
pub async fn connect(srv: &TestServer) -> Ldap {
    let (conn, ldap) = LdapConnAsync::new(&srv.ldap).await.expect("ldap connects");
    ldap3::drive!(conn);
    ldap
}

/// A connection bound as `dn`.
pub async fn bound(srv: &TestServer, dn: &str, pw: &str) -> Ldap {
    let mut ldap = connect(srv).await;
    let r = ldap.simple_bind(dn, pw).await.expect("bind answered");
    assert_eq!(r.rc, 0, "bind as {dn}: {r:?}");
    ldap
}

async fn create_user(srv: &TestServer, body: Value) -> i64 {
    let r = srv.post("/api/v3/core/users/", &body).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let pk = r.body["pk"].as_i64().expect("pk");
    let r = srv
        .post(
            &format!("/api/v3/core/users/{pk}/set_password/"),
            &json!({"password": PW}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.text);
    pk
}

async fn create_group(srv: &TestServer, body: Value) -> String {
    let r = srv.post("/api/v3/core/groups/", &body).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    r.body["pk"].as_str().expect("pk").to_string()
}

/// The directory of ldap.md §1.8: alice and bob in `developers` (parent `staff`, child
/// `backend`), carol in `backend`, dave inactive, and `svc`, a superuser service account.
pub struct Seed {
    pub alice: i64,
    pub developers: String,
}

pub async fn seed(srv: &TestServer) -> Seed {
    let alice = create_user(
        srv,
        json!({"username": "alice", "name": "Alice Smith", "email": "alice@example.com",
               "attributes": {"sshPublicKey": ["ssh-ed25519 AAAAC3Nza…Q alice@laptop"], "department": "R&D"}}),
    )
    .await;
    let bob = create_user(
        srv,
        json!({"username": "bob", "name": "Bob", "email": "bob@example.com"}),
    )
    .await;
    let carol = create_user(srv, json!({"username": "carol", "name": "Carol"})).await;
    create_user(
        srv,
        json!({"username": "dave", "name": "Dave", "email": "dave@example.com", "is_active": false}),
    )
    .await;
    let svc = create_user(srv, json!({"username": "svc", "name": "Service"})).await;
    create_group(
        srv,
        json!({"name": "admins", "is_superuser": true, "users": [svc]}),
    )
    .await;
    let staff = create_group(srv, json!({"name": "staff"})).await;
    let developers = create_group(
        srv,
        json!({"name": "developers", "parents": [staff], "users": [alice, bob]}),
    )
    .await;
    create_group(
        srv,
        json!({"name": "backend", "parents": [developers], "users": [carol]}),
    )
    .await;
    Seed { alice, developers }
}

/// Entries of a search as dn → attribute → values (attribute names as sent).
pub type Entries = BTreeMap<String, BTreeMap<String, Vec<String>>>;

pub async fn search(
    ldap: &mut Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
) -> (u32, Entries) {
    let r = ldap
        .search(base, scope, filter, attrs.to_vec())
        .await
        .expect("search answered");
    let entries =
        r.0.into_iter()
            .map(|e| {
                let e = SearchEntry::construct(e);
                (e.dn, e.attrs.into_iter().collect())
            })
            .collect();
    (r.1.rc, entries)
}

async fn dns(ldap: &mut Ldap, base: &str, scope: Scope, filter: &str) -> BTreeSet<String> {
    let (rc, entries) = search(ldap, base, scope, filter, &["1.1"]).await;
    assert_eq!(rc, 0, "{filter}");
    entries.into_keys().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

backend_test!(ldap_root_dse_and_anonymous_access, |srv| {
    let mut ldap = connect(srv).await;
    let r = ldap.simple_bind("", "").await.expect("bind");
    assert_eq!(r.rc, 0, "anonymous bind is accepted (RFC 4513)");
    let (rc, entries) = search(&mut ldap, "", Scope::Base, "(objectClass=*)", &["*", "+"]).await;
    assert_eq!(rc, 0);
    let root = &entries[""];
    assert_eq!(root["namingContexts"], vec![BASE]);
    assert!(root["supportedControl"].contains(&"1.2.840.113556.1.4.319".to_string()));
    assert!(root["supportedExtension"].contains(&"1.3.6.1.4.1.4203.1.11.3".to_string()));
    assert_eq!(root["vendorName"], vec!["goauthentik.io"]);
    let (rc, entries) = search(
        &mut ldap,
        "cn=Subschema",
        Scope::Base,
        "(objectClass=*)",
        &["attributeTypes"],
    )
    .await;
    assert_eq!(rc, 0);
    assert!(entries["cn=subschema"]["attributeTypes"]
        .iter()
        .any(|a| a.contains("'memberOf'")));
    let (rc, entries) = search(&mut ldap, BASE, Scope::Subtree, "(objectClass=*)", &[]).await;
    assert_eq!(rc, 50, "anonymous callers see nothing of the directory");
    assert!(entries.is_empty());
    let r = ldap
        .compare(&user_dn("akadmin"), "cn", "akadmin")
        .await
        .expect("compare");
    assert_eq!(r.0.rc, 50);
});

backend_test!(ldap_binds_by_dn_email_and_app_password, |srv| {
    let seed = seed(srv).await;
    let mut ldap = bound(srv, &user_dn("alice"), PW).await;
    let who = ldap
        .extended(WhoAmI)
        .await
        .expect("whoami")
        .success()
        .expect("ok");
    let (exop, _) = who;
    let resp: WhoAmIResp = exop.parse();
    assert_eq!(resp.authzid, format!("dn:{}", user_dn("alice")));
    // Case-insensitive DNs, an e-mail for the cn, spaces after commas.
    bound(srv, "CN=ALICE,OU=Users,DC=LDAP,DC=goauthentik,DC=io", PW).await;
    bound(srv, &format!("cn=alice@example.com, ou=users, {BASE}"), PW).await;
    // Failures all answer 49 and reset the connection to anonymous.
    for (dn, pw) in [
        (user_dn("alice"), "wrong"),
        (user_dn("nobody"), PW),
        (user_dn("dave"), PW),
        ("cn=alice,dc=example,dc=com".to_string(), PW),
        ("not a dn".to_string(), PW),
    ] {
        let r = ldap.simple_bind(&dn, pw).await.expect("bind answered");
        assert_eq!(r.rc, 49, "{dn}");
    }
    let (exop, _) = ldap
        .extended(WhoAmI)
        .await
        .expect("whoami")
        .success()
        .expect("ok");
    let resp: WhoAmIResp = exop.parse();
    assert_eq!(
        resp.authzid, "",
        "a failed bind leaves the connection anonymous"
    );
    let r = ldap
        .simple_bind(&user_dn("alice"), "")
        .await
        .expect("bind answered");
    assert_eq!(r.rc, 49, "unauthenticated binds are refused");
    let r = ldap.sasl_external_bind().await.expect("bind answered");
    assert_eq!(r.rc, 7, "SASL: authMethodNotSupported");
    // Failed binds are audited as HTTP login failures are.
    let events = srv
        .get("/api/v3/events/events/?actions=login_failed&page_size=50")
        .await;
    let names: Vec<&str> = events.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|e| e["context"]["username"].as_str())
        .collect();
    assert!(
        names.contains(&"alice") && names.contains(&"nobody"),
        "{names:?}"
    );
    // An app password of alice's binds; an API token does not.
    for (identifier, intent) in [("alice-app", "app_password"), ("alice-api", "api")] {
        let r = srv
            .post(
                "/api/v3/core/tokens/",
                &json!({"identifier": identifier, "intent": intent, "user": seed.alice}),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    }
    let key = |id: &'static str| async move {
        srv.get(&format!("/api/v3/core/tokens/{id}/view_key/"))
            .await
            .body["key"]
            .as_str()
            .expect("key")
            .to_string()
    };
    bound(srv, &user_dn("alice"), &key("alice-app").await).await;
    let r = ldap
        .simple_bind(&user_dn("alice"), &key("alice-api").await)
        .await
        .expect("bind");
    assert_eq!(r.rc, 49, "an api token is not an app password");
    let r = ldap
        .simple_bind(&user_dn("bob"), &key("alice-app").await)
        .await
        .expect("bind");
    assert_eq!(r.rc, 49, "another user's app password");
});

backend_test!(ldap_golden_user_and_group_entries, |srv| {
    let seed = seed(srv).await;
    let mut ldap = bound(srv, SVC, PW).await;
    let (rc, entries) = search(
        &mut ldap,
        &format!("ou=users,{BASE}"),
        Scope::Subtree,
        "(cn=alice)",
        &["*", "+"],
    )
    .await;
    assert_eq!(rc, 0);
    let alice = &entries[&user_dn("alice")];
    let uid = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(format!(
            "{}-{}",
            seed.alice,
            srv.install_id()
        )))
    };
    let one = |v: &str| vec![v.to_string()];
    let expect: Vec<(&str, Vec<String>)> = vec![
        (
            "objectClass",
            [
                "top",
                "person",
                "organizationalPerson",
                "inetOrgPerson",
                "user",
                "posixAccount",
                "goauthentik.io/ldap/user",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ),
        ("cn", one("alice")),
        ("uid", one(&uid)),
        ("sAMAccountName", one("alice")),
        ("name", one("Alice Smith")),
        ("displayName", one("Alice Smith")),
        ("sn", one("Alice Smith")),
        ("mail", one("alice@example.com")),
        ("uidNumber", one(&(2000 + seed.alice).to_string())),
        ("gidNumber", one(&(2000 + seed.alice).to_string())),
        ("homeDirectory", one("/home/alice")),
        ("memberOf", one(&group_dn("developers"))),
        ("ak-active", one("TRUE")),
        ("ak-superuser", one("FALSE")),
        ("sshPublicKey", one("ssh-ed25519 AAAAC3Nza…Q alice@laptop")),
        ("department", one("R&D")),
    ];
    for (name, values) in &expect {
        assert_eq!(alice.get(*name), Some(values), "{name}");
    }
    for stamp in ["pwdChangedTime", "createTimestamp", "modifyTimestamp"] {
        let v = &alice[stamp][0];
        assert!(v.len() == 15 && v.ends_with('Z'), "{stamp}: {v}");
    }
    assert!(alice["entryUUID"][0].len() == 36, "entryUUID on request");
    // `*` alone leaves out the operational attributes; names come back in canonical spelling.
    let (_, entries) = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        "(cn=alice)",
        &["MEMBEROF", "displayname"],
    )
    .await;
    let keys: Vec<&String> = entries[&user_dn("alice")].keys().collect();
    assert_eq!(keys, vec!["displayName", "memberOf"]);
    let (_, entries) = search(&mut ldap, BASE, Scope::Subtree, "(cn=alice)", &["*"]).await;
    assert!(!entries[&user_dn("alice")].contains_key("entryUUID"));

    let (_, entries) = search(
        &mut ldap,
        &format!("ou=groups,{BASE}"),
        Scope::OneLevel,
        "(cn=developers)",
        &[],
    )
    .await;
    let developers = &entries[&group_dn("developers")];
    let num_pk: i64 = {
        let n = uuid::Uuid::parse_str(&seed.developers)
            .expect("uuid")
            .as_u128()
            .to_string();
        n[..5].parse().expect("digits")
    };
    assert_eq!(
        developers["objectClass"],
        vec![
            "group",
            "groupOfUniqueNames",
            "groupOfNames",
            "goauthentik.io/ldap/group",
            "posixGroup"
        ]
    );
    assert_eq!(developers["cn"], one("developers"));
    assert_eq!(developers["uid"], one(&seed.developers));
    assert_eq!(developers["sAMAccountName"], one("developers"));
    assert_eq!(developers["gidNumber"], one(&(4000 + num_pk).to_string()));
    assert_eq!(
        developers["member"],
        vec![user_dn("alice"), user_dn("bob"), group_dn("backend")]
    );
    assert_eq!(developers["memberOf"], one(&group_dn("staff")));
    assert_eq!(developers["ak-superuser"], one("false"));

    let (_, entries) = search(
        &mut ldap,
        &format!("cn=alice,ou=virtual-groups,{BASE}"),
        Scope::Base,
        "(objectClass=*)",
        &[],
    )
    .await;
    let private = &entries[&format!("cn=alice,ou=virtual-groups,{BASE}")];
    assert!(private["objectClass"].contains(&"goauthentik.io/ldap/virtual-group".to_string()));
    assert_eq!(private["gidNumber"], one(&(2000 + seed.alice).to_string()));
    assert_eq!(private["member"], one(&user_dn("alice")));
    assert_eq!(private["uid"], one(&uid));
});

backend_test!(ldap_filters_scopes_and_limits, |srv| {
    seed(srv).await;
    let mut ldap = bound(srv, SVC, PW).await;
    let sub = Scope::Subtree;
    let users = |names: &[&str]| names.iter().map(|n| user_dn(n)).collect::<BTreeSet<_>>();
    let mut direct = users(&["alice", "bob"]);
    direct.insert(group_dn("backend"));
    assert_eq!(
        dns(
            &mut ldap,
            BASE,
            sub,
            &format!("(memberOf={})", group_dn("developers"))
        )
        .await,
        direct,
        "direct members: users, and child groups through their own memberOf"
    );
    assert_eq!(
        dns(
            &mut ldap,
            BASE,
            sub,
            "(&(objectClass=user)(memberOf=CN=Developers, OU=Groups,DC=LDAP,DC=goauthentik,DC=io))"
        )
        .await,
        users(&["alice", "bob"]),
        "DN-valued assertions are normalised"
    );
    let mut chain = users(&["alice", "bob", "carol"]);
    chain.insert(group_dn("developers"));
    chain.insert(group_dn("backend"));
    assert_eq!(
        dns(
            &mut ldap,
            BASE,
            sub,
            &format!("(memberOf:1.2.840.113556.1.4.1941:={})", group_dn("staff"))
        )
        .await,
        chain,
        "in-chain membership over the group DAG"
    );
    let mut groups_of_carol: BTreeSet<String> = ["backend", "developers", "staff"]
        .iter()
        .map(|g| group_dn(g))
        .collect();
    groups_of_carol.insert(format!("cn=carol,ou=virtual-groups,{BASE}"));
    assert_eq!(
        dns(
            &mut ldap,
            BASE,
            sub,
            &format!("(member:1.2.840.113556.1.4.1941:={})", user_dn("carol"))
        )
        .await,
        groups_of_carol
    );
    assert_eq!(
        dns(&mut ldap, BASE, sub, "(&(objectClass=user)(cn=a*e))").await,
        users(&["alice"])
    );
    assert_eq!(
        dns(
            &mut ldap,
            BASE,
            sub,
            "(&(objectClass=user)(|(cn=BOB)(mail=alice@EXAMPLE.com)))"
        )
        .await,
        users(&["alice", "bob"])
    );
    assert_eq!(
        dns(
            &mut ldap,
            BASE,
            sub,
            "(&(objectClass=user)(ak-active=false))"
        )
        .await,
        users(&["dave"])
    );
    assert_eq!(
        dns(
            &mut ldap,
            BASE,
            sub,
            "(&(objectClass=user)(!(ak-active=true)))"
        )
        .await,
        users(&["dave"])
    );
    assert_eq!(
        dns(&mut ldap, BASE, sub, "(&(objectClass=user)(cn~=carol))").await,
        users(&["carol"])
    );
    assert_eq!(
        dns(
            &mut ldap,
            BASE,
            sub,
            "(&(objectClass=posixAccount)(mail=*)(displayName=*o*))"
        )
        .await,
        users(&["bob"])
    );
    let (_, all) = search(&mut ldap, BASE, sub, "(objectClass=user)", &["uidNumber"]).await;
    let max: i64 = all
        .values()
        .map(|e| e["uidNumber"][0].parse::<i64>().expect("number"))
        .max()
        .expect("users");
    assert_eq!(
        dns(&mut ldap, BASE, sub, &format!("(uidNumber>={max})"))
            .await
            .len(),
        1,
        "integer ordering"
    );
    assert_eq!(
        dns(
            &mut ldap,
            BASE,
            sub,
            &format!("(&(objectClass=group)(gidNumber<={max})(gidNumber>={max}))")
        )
        .await
        .len(),
        1,
        "the user's private group"
    );
    assert!(
        dns(&mut ldap, BASE, sub, "(cn:1.2.3.4:=alice)")
            .await
            .is_empty(),
        "unknown matching rule: no match"
    );
    // Scopes.
    assert_eq!(
        dns(&mut ldap, BASE, Scope::OneLevel, "(objectClass=*)").await,
        set(&[
            &format!("ou=users,{BASE}"),
            &format!("ou=groups,{BASE}"),
            &format!("ou=virtual-groups,{BASE}")
        ])
    );
    assert_eq!(
        dns(&mut ldap, BASE, Scope::Base, "(objectClass=*)").await,
        set(&["DC=ldap,DC=goauthentik,DC=io"])
    );
    assert_eq!(
        dns(&mut ldap, &user_dn("bob"), Scope::Base, "(objectClass=*)").await,
        users(&["bob"])
    );
    // A base that does not exist: 32 with the deepest existing entry.
    let r = ldap
        .search(
            &user_dn("nobody"),
            Scope::Base,
            "(objectClass=*)",
            vec!["1.1"],
        )
        .await
        .expect("search");
    assert_eq!(
        (r.1.rc, r.1.matched.as_str()),
        (32, format!("ou=users,{BASE}").as_str())
    );
    let r = ldap
        .search(
            &format!("ou=nope,{BASE}"),
            Scope::Subtree,
            "(objectClass=*)",
            vec!["1.1"],
        )
        .await
        .expect("search");
    assert_eq!(r.1.rc, 32);
    // Size limit: 4 after that many entries.
    let r = ldap
        .with_search_options(ldap3::SearchOptions::new().sizelimit(2))
        .search(BASE, sub, "(objectClass=user)", vec!["1.1"])
        .await
        .expect("search");
    assert_eq!((r.1.rc, r.0.len()), (4, 2));
    // typesOnly.
    let r = ldap
        .with_search_options(ldap3::SearchOptions::new().typesonly(true))
        .search(BASE, sub, "(cn=alice)", vec!["cn", "mail"])
        .await
        .expect("search");
    let entry = SearchEntry::construct(r.0[0].clone());
    assert!(entry.attrs.values().all(|v| v.is_empty()), "{entry:?}");
    // Compare and refused writes.
    let r = ldap
        .compare(&user_dn("alice"), "mail", "ALICE@example.com")
        .await
        .expect("compare");
    assert_eq!(r.0.rc, 6);
    let r = ldap
        .compare(&user_dn("alice"), "mail", "bob@example.com")
        .await
        .expect("compare");
    assert_eq!(r.0.rc, 5);
    let r = ldap
        .compare(&user_dn("nobody"), "mail", "x")
        .await
        .expect("compare");
    assert_eq!(r.0.rc, 32);
    let r = ldap.delete(&user_dn("bob")).await.expect("delete");
    assert_eq!(r.rc, 50, "the directory is read-only over LDAP");
    let r = ldap
        .modify(
            &user_dn("bob"),
            vec![ldap3::Mod::Replace(
                "mail",
                std::collections::HashSet::from(["x@y"]),
            )],
        )
        .await
        .expect("modify");
    assert_eq!(r.rc, 50);
});

backend_test!(ldap_visibility_follows_rest_authorization, |srv| {
    seed(srv).await;
    let mut ldap = bound(srv, &user_dn("alice"), PW).await;
    let seen = dns(&mut ldap, BASE, Scope::Subtree, "(objectClass=*)").await;
    let expected = set(&[
        "DC=ldap,DC=goauthentik,DC=io",
        &format!("ou=users,{BASE}"),
        &format!("ou=groups,{BASE}"),
        &format!("ou=virtual-groups,{BASE}"),
        &user_dn("alice"),
        &group_dn("developers"),
        &format!("cn=alice,ou=virtual-groups,{BASE}"),
    ]);
    assert_eq!(seen, expected, "itself, its groups, the containers");
    let (_, entries) = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        "(cn=developers)",
        &["member"],
    )
    .await;
    assert_eq!(
        entries[&group_dn("developers")]["member"],
        vec![user_dn("alice")]
    );
    let r = ldap
        .search(&user_dn("bob"), Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await
        .expect("search");
    assert_eq!(r.1.rc, 32, "another user does not exist for alice");
    // A deactivated user loses access on its next operation.
    let alice = srv.get("/api/v3/core/users/?username=alice").await.body["results"][0]["pk"]
        .as_i64()
        .expect("pk");
    srv.patch(
        &format!("/api/v3/core/users/{alice}/"),
        &json!({"is_active": false}),
    )
    .await;
    let (rc, _) = search(&mut ldap, BASE, Scope::Subtree, "(objectClass=*)", &["1.1"]).await;
    assert_eq!(rc, 50);
});

backend_test!(
    ldap_paged_results_stay_exact_while_the_directory_changes,
    |srv| {
        seed(srv).await;
        for i in 0..25 {
            let r = srv
                .post(
                    "/api/v3/core/users/",
                    &json!({"username": format!("u{i:02}"), "name": "U"}),
                )
                .await;
            assert_eq!(r.status.as_u16(), 201);
        }
        let mut ldap = bound(srv, SVC, PW).await;
        let base = format!("ou=users,{BASE}");
        let mut seen: Vec<String> = Vec::new();
        let mut cookie: Vec<u8> = Vec::new();
        let mut pages = 0;
        loop {
            let paged = ldap3::controls::PagedResults {
                size: 10,
                cookie: cookie.clone(),
            };
            let r = ldap
                .with_controls(paged)
                .search(&base, Scope::OneLevel, "(objectClass=user)", vec!["cn"])
                .await
                .expect("search");
            assert_eq!(r.1.rc, 0);
            pages += 1;
            seen.extend(r.0.into_iter().map(|e| SearchEntry::construct(e).dn));
            if pages == 1 {
                // Mid-listing: one user is added (after every existing pk), one not yet sent removed.
                srv.post(
                    "/api/v3/core/users/",
                    &json!({"username": "late", "name": "Late"}),
                )
                .await;
                let u24 = srv.get("/api/v3/core/users/?username=u24").await.body["results"][0]
                    ["pk"]
                    .as_i64()
                    .expect("pk");
                assert_eq!(
                    srv.delete(&format!("/api/v3/core/users/{u24}/"))
                        .await
                        .status
                        .as_u16(),
                    204
                );
            }
            let raw =
                r.1.ctrls
                    .iter()
                    .find(|c| matches!(c.0, Some(ldap3::controls::ControlType::PagedResults)))
                    .expect("every paged reply carries the control");
            let parsed: ldap3::controls::PagedResults = raw.1.parse();
            cookie = parsed.cookie;
            assert!(pages < 20, "paging ends");
            if cookie.is_empty() {
                break;
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no entry twice");
        assert!(
            seen.contains(&user_dn("late")),
            "a user added mid-listing is reached"
        );
        assert!(
            !seen.contains(&user_dn("u24")),
            "a user removed before its page is not sent"
        );
        assert_eq!(
            seen.len(),
            5 + 1 + 25 + 1 - 1,
            "seeded + akadmin + u00..u24 + late - u24"
        );
        // A cookie from another request is refused.
        let r = ldap
            .with_controls(ldap3::controls::PagedResults {
                size: 10,
                cookie: b"2:1:0:0:0".to_vec(),
            })
            .search(&base, Scope::OneLevel, "(objectClass=user)", vec!["cn"])
            .await
            .expect("search");
        assert_eq!(r.1.rc, 53);
    }
);

backend_test!(ldap_pushed_down_lookups_match_full_evaluation, |srv| {
    seed(srv).await;
    // `cn` matches case-insensitively: a lookup in any case must find a mixed-case username
    // (usernames are unique under ASCII folding, so there is one; group names may differ in
    // case only, and then a lookup finds both).
    create_user(
        srv,
        json!({"username": "Zed.Upper", "name": "Zed Upper", "email": "upper@example.com"}),
    )
    .await;
    create_user(srv, json!({"username": "Ærin", "name": "Ærin"})).await;
    create_group(srv, json!({"name": "Developers"})).await;
    let mut ldap = bound(srv, SVC, PW).await;
    let users_ou = format!("ou=users,{BASE}");
    let developers = group_dn("developers");
    let alice = user_dn("alice");
    // Each filter the planner pushes down beside a twin it never pushes down (an `|`), over
    // the whole tree and under ou=users: the same entries either way.
    let pairs = [
        ("(cn=alice)".to_string(), "(|(cn=alice))".to_string()),
        ("(cn=ALICE)".into(), "(|(cn=ALICE))".into()),
        ("(cn=zed.upper)".into(), "(|(cn=zed.upper))".into()),
        ("(cn=ZED.UPPER)".into(), "(|(cn=ZED.UPPER))".into()),
        ("(cn=developers)".into(), "(|(cn=developers))".into()),
        ("(cn=DEVELOPERS)".into(), "(|(cn=DEVELOPERS))".into()),
        (
            "(sAMAccountName=bob)".into(),
            "(|(sAMAccountName=bob))".into(),
        ),
        ("(cn=ærin)".into(), "(|(cn=ærin))".into()),
        ("(cn=nobody)".into(), "(|(cn=nobody))".into()),
        ("(cn=ali*)".into(), "(|(cn=ali*))".into()),
        (
            "(&(objectClass=user)(cn=bob))".into(),
            "(&(objectClass=user)(|(cn=bob)))".into(),
        ),
        (
            "(&(cn=carol)(mail=nobody@example.com))".into(),
            "(&(|(cn=carol))(|(mail=nobody@example.com)))".into(),
        ),
        (
            "(mail=alice@example.com)".into(),
            "(|(mail=alice@example.com))".into(),
        ),
        (
            format!("(memberOf={developers})"),
            format!("(|(memberOf={developers}))"),
        ),
        (format!("(member={alice})"), format!("(|(member={alice}))")),
    ];
    for (pushed, twin) in &pairs {
        for base in [BASE, users_ou.as_str()] {
            let a = dns(&mut ldap, base, Scope::Subtree, pushed).await;
            let b = dns(&mut ldap, base, Scope::Subtree, twin).await;
            assert_eq!(a, b, "{pushed} and {twin} under {base}");
        }
    }
    assert_eq!(
        dns(&mut ldap, &users_ou, Scope::Subtree, "(cn=zed.UPPER)").await,
        set(&[&user_dn("Zed.Upper")]),
        "a username is found in any case"
    );
    assert_eq!(
        dns(
            &mut ldap,
            &format!("ou=groups,{BASE}"),
            Scope::Subtree,
            "(cn=developers)"
        )
        .await,
        set(&[&developers, &group_dn("Developers")]),
        "and of a group name"
    );
    assert_eq!(
        dns(&mut ldap, &users_ou, Scope::Subtree, "(cn=ÆRIN)").await,
        set(&[&user_dn("Ærin")]),
        "a non-ASCII value is folded too (evaluated, not pushed down)"
    );
});

backend_test!(ldap_lookup_by_cn_reads_one_row_and_its_relations, |srv| {
    // The statements a lookup by `cn` runs (issue 19: on PostgreSQL each is a round trip): one
    // when nothing is cached — the user's row found with its relations (groups and roles beside
    // it; superuser status from the epoch's superuser groups); none when the same lookup was
    // answered in this write epoch.
    let seeded = seed(srv).await;
    let mut ldap = bound(srv, SVC, PW).await;
    let users_ou = format!("ou=users,{BASE}");
    let attrs = ["cn", "mail", "memberOf"];
    let store = &srv.state().store;
    // A write empties every cache; a first lookup reads what every lookup of the epoch shares
    // (the bound principal, the superuser groups).
    let r = srv
        .patch(
            &format!("/api/v3/core/users/{}/", seeded.alice),
            &json!({"name": "Alice S."}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    settle(srv).await;
    search(&mut ldap, &users_ou, Scope::Subtree, "(cn=carol)", &attrs).await;
    store.start_trace();
    let (rc, entries) = search(&mut ldap, &users_ou, Scope::Subtree, "(cn=bob)", &attrs).await;
    let uncached = store.take_trace();
    assert_eq!(rc, 0);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[&user_dn("bob")]["memberOf"],
        vec![group_dn("developers")]
    );
    let texts: Vec<&str> = uncached.iter().map(|s| s.text()).collect();
    assert_eq!(uncached.len(), 1, "row and relations at once: {texts:#?}");
    store.start_trace();
    let (rc, again) = search(&mut ldap, &users_ou, Scope::Subtree, "(cn=BOB)", &attrs).await;
    let first_again = store.take_trace();
    store.start_trace();
    let (_, cached) = search(&mut ldap, &users_ou, Scope::Subtree, "(cn=BOB)", &attrs).await;
    let repeated = store.take_trace();
    assert_eq!(rc, 0);
    assert_eq!(again, entries);
    assert_eq!(cached, entries);
    assert_eq!(
        first_again.len(),
        1,
        "another spelling: one statement again"
    );
    assert!(
        repeated.is_empty(),
        "a repeated lookup reads nothing: {repeated:?}"
    );
    // A write is seen by the very next lookup.
    let r = srv
        .patch(
            &format!("/api/v3/core/users/{}/", user_pk(srv, "bob").await),
            &json!({"email": "robert@example.com"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let (_, changed) = search(&mut ldap, &users_ou, Scope::Subtree, "(cn=BOB)", &attrs).await;
    assert_eq!(
        changed[&user_dn("bob")]["mail"],
        vec!["robert@example.com".to_string()]
    );
    // Connect, bind with an app password, read one's own entry, unbind: once warm, only the
    // token is read (its owner's principal and entry come from the caches).
    let bob = user_pk(srv, "bob").await;
    let r = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({"identifier": "bob-app", "intent": "app_password", "user": bob}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let key = srv.get("/api/v3/core/tokens/bob-app/view_key/").await.body["key"]
        .as_str()
        .expect("key")
        .to_string();
    // The first round warms the caches; a later one must read the token only. On PostgreSQL
    // the echo of a change notification can still empty the caches in the middle of a round
    // (seen under load), so a few rounds are allowed to find a warm one.
    let mut statements = Vec::new();
    for _ in 0..6 {
        if statements.len() > 1 && statements.last().map(Vec::len) == Some(1) {
            break;
        }
        settle(srv).await;
        store.start_trace();
        let mut conn = bound(srv, &user_dn("bob"), &key).await;
        let (rc, own) = search(
            &mut conn,
            &user_dn("bob"),
            Scope::Base,
            "(objectClass=*)",
            &attrs,
        )
        .await;
        conn.unbind().await.expect("unbind");
        statements.push(store.take_trace());
        assert_eq!((rc, own.len()), (0, 1));
    }
    let last = statements.last().expect("rounds");
    let texts: Vec<&str> = last.iter().map(|s| s.text()).collect();
    assert_eq!(last.len(), 1, "the token only: {texts:#?}");
});

backend_test!(ldap_lookup_by_cn_answers_what_the_listing_answers, |srv| {
    // A lookup by `cn` reads a user's row and relations in one statement of its own; the
    // listing reads them the general way: both must build the same entries (groups,
    // superuser status, custom attributes), groups in the same order.
    let seeded = seed(srv).await;
    for name in ["zeta", "Alpha", "alpha", "Zeta-2"] {
        create_group(srv, json!({ "name": name, "users": [seeded.alice] })).await;
    }
    let mut ldap = bound(srv, SVC, PW).await;
    let users_ou = format!("ou=users,{BASE}");
    let attrs = ["*", "+"];
    // A write elsewhere empties the caches without changing the entries compared.
    let touch = |name: &'static str| async move {
        create_user(srv, json!({ "username": name, "name": name })).await;
        settle(srv).await;
    };
    touch("unrelated-1").await;
    let mut looked_up = Entries::new();
    for name in ["alice", "bob", "carol", "dave", "svc"] {
        let filter = format!("(cn={name})");
        let (rc, entries) = search(&mut ldap, &users_ou, Scope::Subtree, &filter, &attrs).await;
        assert_eq!((rc, entries.len()), (0, 1), "{filter}");
        looked_up.extend(entries);
    }
    touch("unrelated-2").await;
    let (rc, listed) = search(
        &mut ldap,
        &users_ou,
        Scope::Subtree,
        "(objectClass=user)",
        &attrs,
    )
    .await;
    assert_eq!(rc, 0);
    for (dn, entry) in &looked_up {
        assert_eq!(Some(entry), listed.get(dn), "{dn}");
    }
    assert_eq!(looked_up[&user_dn("svc")]["ak-superuser"], vec!["TRUE"]);
    assert_eq!(looked_up[&user_dn("alice")]["memberOf"].len(), 5);
});

/// Waits until the write epochs stand still: PostgreSQL's change feed brings a server's own
/// writes back moments later, and each empties its caches once more.
async fn settle(srv: &TestServer) {
    use gatehouse::store::Touched;
    let changes = srv.state().store.changes();
    // Both topics: a token write moves AUTH (the principal cache), and on PostgreSQL the echo
    // of the server's own change notification may move either a little later.
    let epochs = || {
        (
            changes.epoch(Touched::AUTH),
            changes.epoch(Touched::DIRECTORY),
        )
    };
    let mut last = epochs();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let now = epochs();
        if now == last {
            return;
        }
        last = now;
    }
}

async fn user_pk(srv: &TestServer, username: &str) -> i64 {
    let r = srv
        .get(&format!("/api/v3/core/users/?username={username}"))
        .await;
    r.body["results"][0]["pk"].as_i64().expect("user exists")
}

backend_test!(ldap_password_modify, |srv| {
    seed(srv).await;
    let mut alice = bound(srv, &user_dn("alice"), PW).await;
    let change =
        |old: Option<&'static str>, new: &'static str, user: Option<String>| (old, new, user);
    let (old, new, user) = change(Some("wrong"), "a-new-password-1", None);
    let r = alice
        .extended(PasswordModify {
            user_id: user.as_deref(),
            old_pass: old,
            new_pass: Some(new),
        })
        .await
        .expect("answered");
    assert_eq!(r.1.rc, 49, "the old password must be right");
    let r = alice
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some(PW),
            new_pass: Some("a-new-password-1"),
        })
        .await
        .expect("answered");
    assert_eq!(r.1.rc, 0, "{:?}", r.1);
    bound(srv, &user_dn("alice"), "a-new-password-1").await;
    let bob = user_dn("bob");
    let r = alice
        .extended(PasswordModify {
            user_id: Some(&bob),
            old_pass: None,
            new_pass: Some("taken-over-1"),
        })
        .await
        .expect("answered");
    assert_eq!(r.1.rc, 50, "alice may not set bob's password");
    let mut svc = bound(srv, SVC, PW).await;
    let r = svc
        .extended(PasswordModify {
            user_id: Some(&bob),
            old_pass: None,
            new_pass: Some("reset-by-admin-1"),
        })
        .await
        .expect("answered");
    assert_eq!(r.1.rc, 0);
    bound(srv, &bob, "reset-by-admin-1").await;
    let events = srv
        .get("/api/v3/events/events/?actions=password_set&page_size=50")
        .await;
    assert!(events.body["results"].as_array().expect("results").len() >= 2);
});

/// Sends raw bytes on a fresh connection and reads until the server closes it (or 5 s).
async fn raw(srv: &TestServer, bytes: &[u8]) -> Vec<u8> {
    let what = format!("{:02x?}", &bytes[..bytes.len().min(8)]);
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = srv.ldap.trim_start_matches("ldap://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(bytes).await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut out),
    )
    .await;
    assert!(
        read.is_ok(),
        "the server closes a connection that sent {what}…"
    );
    out
}

/// A BER element with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

backend_test!(ldap_hostile_input_closes_only_that_connection, |srv| {
    seed(srv).await;
    let mut keeper = bound(srv, SVC, PW).await;
    // Not BER at all.
    raw(srv, b"GET / HTTP/1.1\r\n\r\n").await;
    // A SEQUENCE announcing 100 MiB.
    raw(srv, &[0x30, 0x84, 0x06, 0x40, 0x00, 0x00, 0x02, 0x01, 0x01]).await;
    // A 2 MiB message (over the 1 MiB limit), sent for real.
    let mut big = vec![0x30, 0x83, 0x20, 0x00, 0x00];
    big.extend(std::iter::repeat_n(0u8, 0x20_0000));
    raw(srv, &big).await;
    // A search whose filter nests 10 000 NOTs: too deep.
    let mut filter = vec![0x87, 0x02, b'c', b'n'];
    for _ in 0..10_000 {
        filter = tlv(0xa2, &filter);
    }
    let mut search = vec![
        0x04, 0x00, 0x0a, 0x01, 0x02, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01,
        0x01, 0x00,
    ];
    search.extend(filter);
    search.extend([0x30, 0x00]);
    let mut msg = vec![0x02, 0x01, 0x02];
    msg.extend(tlv(0x63, &search));
    raw(srv, &tlv(0x30, &msg)).await;
    // Truncated: a valid start, then the client goes away.
    {
        use tokio::io::AsyncWriteExt;
        let addr = srv.ldap.trim_start_matches("ldap://");
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let _ = s.write_all(&[0x30, 0x0c, 0x02, 0x01, 0x01, 0x60]).await;
    }
    // The first connection and new ones are served as before.
    assert_eq!(
        dns(
            &mut keeper,
            &user_dn("alice"),
            Scope::Base,
            "(objectClass=*)"
        )
        .await,
        set(&[&user_dn("alice")])
    );
    let mut fresh = bound(srv, SVC, PW).await;
    assert_eq!(
        dns(&mut fresh, &user_dn("bob"), Scope::Base, "(objectClass=*)").await,
        set(&[&user_dn("bob")])
    );
});

/// Connection cap and idle timeout, on a server configured with small ones.
async fn connection_limits(backend: crate::common::Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.ldap_max_connections = 2;
        c.ldap_idle_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let mut first = connect(&srv).await;
    let mut second = connect(&srv).await;
    // Both are served (an operation each proves they hold their slots).
    for ldap in [&mut first, &mut second] {
        assert_eq!(ldap.simple_bind("", "").await.expect("bind").rc, 0);
    }
    // The third gets a Notice of Disconnection and is closed.
    let over = raw(&srv, &[]).await;
    assert!(
        over.windows(NOTICE.len()).any(|w| w == NOTICE),
        "a Notice of Disconnection: {over:02x?}"
    );
    // Silent connections are closed after the idle timeout, freeing their slots.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        first.simple_bind("", "").await.is_err(),
        "idle connection closed"
    );
    let mut later = connect(&srv).await;
    assert_eq!(later.simple_bind("", "").await.expect("bind").rc, 0);
    srv.finish().await;
}

/// The Notice of Disconnection's OID as it appears on the wire.
const NOTICE: &[u8] = b"1.3.6.1.4.1.1466.20036";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_connection_cap_and_idle_timeout_sqlite() {
    connection_limits(crate::common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_connection_cap_and_idle_timeout_postgres() {
    if crate::common::postgres_url().is_none() {
        eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: PostgreSQL variant not run");
        return;
    }
    connection_limits(crate::common::Backend::Postgres).await;
}

backend_test!(
    ldap_concurrent_cn_lookups_each_find_their_own_entry,
    |srv| {
        // Many connections resolving users by `cn` at once, nothing cached (a write just emptied
        // the caches): the lookups are read together (domain::users::batch), and each search must
        // still answer exactly its own entry, whatever the case it was asked in, or none.
        seed(srv).await;
        let r = srv
            .post(
                "/api/v3/core/users/",
                &json!({"username": "Erin", "name": "Erin"}),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.text);
        let asks = [
            ("alice", Some("alice")),
            ("BOB", Some("bob")),
            ("Carol", Some("carol")),
            ("dave", Some("dave")),
            ("erin", Some("Erin")),
            ("ERIN", Some("Erin")),
            ("nobody", None),
            ("svc", Some("svc")),
        ];
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (ask, expected)) in asks.iter().enumerate() {
            let mut ldap = bound(srv, SVC, PW).await;
            let (ask, expected) = (ask.to_string(), expected.map(str::to_string));
            tasks.spawn(async move {
                let users_ou = format!("ou=users,{BASE}");
                let filter = format!("(cn={ask})");
                let mut answers = Vec::new();
                for _ in 0..4 {
                    answers
                        .push(search(&mut ldap, &users_ou, Scope::Subtree, &filter, &["cn"]).await);
                }
                (i, ask, expected, answers)
            });
        }
        let mut answered = 0;
        while let Some(done) = tasks.join_next().await {
            let (i, ask, expected, answers) = done.expect("task");
            for (rc, entries) in answers {
                assert_eq!(rc, 0, "ask {i}: {ask}");
                let cns: Vec<Vec<String>> = entries.values().map(|e| e["cn"].clone()).collect();
                match &expected {
                    Some(name) => assert_eq!(cns, vec![vec![name.clone()]], "{ask}: {entries:?}"),
                    None => assert!(entries.is_empty(), "{ask}: {entries:?}"),
                }
                answered += 1;
            }
        }
        assert_eq!(answered, 4 * asks.len());
    }
);
