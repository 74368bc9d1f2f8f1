//! What popular applications send over LDAP (ldap.md §4, §6.4), replayed with the `ldap3`
//! client against the seeded directory of `ldap.rs`: Grafana, SSSD, Authelia, Gitea, Keycloak,
//! Nextcloud, Jellyfin and ldap-auth-sh (Home Assistant), each as one conversation.

use ldap3::controls::{ControlType, PagedResults, RawControl};
use ldap3::{Scope, SearchOptions};

use crate::backend_test;
use crate::ldap::{bound, connect, group_dn, search, seed, user_dn, BASE, PW, SVC};

backend_test!(ldap_grafana_and_gitea_log_alice_in, |srv| {
    seed(srv).await;
    // Grafana: `(|(cn=%s))` as the bind account, then the user's bind on the same connection.
    let mut ldap = bound(srv, SVC, PW).await;
    let (rc, found) = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        "(|(cn=alice))",
        &["cn", "sn", "givenName", "email", "memberOf"],
    )
    .await;
    assert_eq!(rc, 0);
    let alice = &found[&user_dn("alice")];
    assert_eq!(alice["memberOf"], vec![group_dn("developers")]);
    assert!(
        !alice.contains_key("givenName"),
        "the outpost emits no givenName"
    );
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), PW)
            .await
            .expect("bind")
            .rc,
        0
    );
    // Gitea: re-search on the user's own DN as the user, then the admin filter.
    let filter = "(&(objectClass=user)(cn=alice))";
    let (rc, found) = search(
        &mut ldap,
        &user_dn("alice"),
        Scope::Subtree,
        filter,
        &["cn", "sn", "mail"],
    )
    .await;
    assert_eq!((rc, found.len()), (0, 1));
    let (rc, found) = search(
        &mut ldap,
        &user_dn("alice"),
        Scope::Subtree,
        &format!("(memberOf={})", group_dn("admins")),
        &["cn"],
    )
    .await;
    assert_eq!((rc, found.len()), (0, 0), "alice is no admin");
});

backend_test!(ldap_sssd_resolves_users_and_groups, |srv| {
    let seed = seed(srv).await;
    // The rootDSE before binding.
    let mut anon = connect(srv).await;
    let (rc, root) = search(
        &mut anon,
        "",
        Scope::Base,
        "(objectclass=*)",
        &[
            "*",
            "altServer",
            "namingContexts",
            "supportedControl",
            "supportedExtension",
            "supportedFeatures",
            "supportedLDAPVersion",
            "supportedSASLMechanisms",
            "defaultNamingContext",
        ],
    )
    .await;
    assert_eq!(rc, 0);
    assert_eq!(root[""]["defaultNamingContext"], vec![BASE]);
    let mut ldap = bound(srv, SVC, PW).await;
    let users = format!("ou=users,{BASE}");
    let paged = || PagedResults {
        size: 1000,
        cookie: Vec::new(),
    };
    let r = ldap
        .with_controls(paged())
        .search(
            &users,
            Scope::Subtree,
            "(&(cn=alice)(objectclass=user)(cn=*)(&(uidNumber=*)(!(uidNumber=0))))",
            vec![
                "cn",
                "uidNumber",
                "gidNumber",
                "homeDirectory",
                "loginShell",
                "memberOf",
            ],
        )
        .await
        .expect("getpwnam");
    assert_eq!((r.1.rc, r.0.len()), (0, 1));
    let uid_number = (2000 + seed.alice).to_string();
    let r = ldap
        .search(&users, Scope::Subtree, &format!("(&(uidNumber={uid_number})(objectclass=user)(cn=*)(&(uidNumber=*)(!(uidNumber=0))))"), vec!["cn"])
        .await
        .expect("getpwuid");
    assert_eq!(r.0.len(), 1);
    let r = ldap
        .search(
            BASE,
            Scope::Subtree,
            "(&(cn=developers)(objectclass=group)(cn=*)(&(gidNumber=*)(!(gidNumber=0))))",
            vec!["cn", "gidNumber", "member"],
        )
        .await
        .expect("getgrnam");
    assert_eq!(r.0.len(), 1);
    let (rc, groups) = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        &format!(
            "(&(member={})(objectclass=group)(cn=*)(&(gidNumber=*)(!(gidNumber=0))))",
            user_dn("alice")
        ),
        &["cn", "gidNumber"],
    )
    .await;
    assert_eq!(rc, 0);
    let names: Vec<&String> = groups.keys().collect();
    let virtual_group = format!("cn=alice,ou=virtual-groups,{BASE}");
    assert_eq!(
        names,
        vec![&virtual_group, &group_dn("developers")],
        "developers and alice's private group"
    );
    assert_eq!(
        groups[&format!("cn=alice,ou=virtual-groups,{BASE}")]["gidNumber"],
        vec![uid_number]
    );
    let r = ldap
        .search(
            &users,
            Scope::Subtree,
            "(&(cn=alice)(objectclass=user)(ak-active=true))",
            vec!["1.1"],
        )
        .await
        .expect("access");
    assert_eq!(r.0.len(), 1);
    let r = ldap
        .search(
            &users,
            Scope::Subtree,
            "(&(cn=dave)(objectclass=user)(ak-active=true))",
            vec!["1.1"],
        )
        .await
        .expect("access");
    assert_eq!(r.0.len(), 0, "an inactive user fails the access filter");
});

backend_test!(ldap_authelia_and_keycloak, |srv| {
    seed(srv).await;
    let mut ldap = bound(srv, SVC, PW).await;
    // Authelia's start-up check: the rootDSE with sizeLimit 1.
    let r = ldap
        .with_search_options(SearchOptions::new().sizelimit(1))
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["supportedExtension", "supportedControl"],
        )
        .await
        .expect("rootDSE");
    assert_eq!((r.1.rc, r.0.len()), (0, 1));
    // The user profile with sizeLimit 1; names come back exactly as Authelia's switch expects.
    let r = ldap
        .with_search_options(SearchOptions::new().sizelimit(1))
        .search(
            &format!("ou=users,{BASE}"),
            Scope::Subtree,
            "(&(|(cn=alice)(mail=alice))(objectClass=person))",
            vec!["cn", "displayname", "MAIL", "memberof"],
        )
        .await
        .expect("profile");
    assert_eq!((r.1.rc, r.0.len()), (0, 1));
    let entry = ldap3::SearchEntry::construct(r.0[0].clone());
    let mut names: Vec<&String> = entry.attrs.keys().collect();
    names.sort();
    assert_eq!(names, vec!["cn", "displayName", "mail", "memberOf"]);
    // An ambiguous filter with sizeLimit 1: 4, as slapd answers.
    let r = ldap
        .with_search_options(SearchOptions::new().sizelimit(1))
        .search(BASE, Scope::Subtree, "(objectClass=person)", vec!["1.1"])
        .await
        .expect("ambiguous");
    assert_eq!(r.1.rc, 4);
    let mut user = bound(srv, &user_dn("alice"), PW).await;
    let (rc, groups) = search(
        &mut user,
        &format!("ou=groups,{BASE}"),
        Scope::Subtree,
        &format!("(member={})", user_dn("alice")),
        &["cn"],
    )
    .await;
    assert_eq!(rc, 0);
    assert!(groups.contains_key(&group_dn("developers")));
    // Keycloak: the paged control sent critical, and entryUUID asked for by name.
    let critical = || {
        let mut raw: RawControl = PagedResults {
            size: 2,
            cookie: Vec::new(),
        }
        .into();
        raw.crit = true;
        raw
    };
    let r = ldap
        .with_controls(critical())
        .search(
            &format!("ou=users,{BASE}"),
            Scope::OneLevel,
            "(&(objectclass=inetOrgPerson)(objectclass=organizationalPerson))",
            vec!["cn", "entryUUID", "createTimestamp", "modifyTimestamp"],
        )
        .await
        .expect("sync");
    assert_eq!((r.1.rc, r.0.len()), (0, 2));
    assert!(
        r.1.ctrls
            .iter()
            .any(|c| matches!(c.0, Some(ControlType::PagedResults))),
        "response control"
    );
    let entry = ldap3::SearchEntry::construct(r.0[0].clone());
    assert_eq!(entry.attrs["entryUUID"][0].len(), 36);
    // An unknown critical control: 12.
    let unknown = RawControl {
        ctype: "1.2.3.4.5".into(),
        crit: true,
        val: None,
    };
    let r = ldap
        .with_controls(unknown)
        .search(BASE, Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await
        .expect("search");
    assert_eq!(r.1.rc, 12);
});

backend_test!(ldap_nextcloud_wizard_and_uuid, |srv| {
    seed(srv).await;
    let mut ldap = bound(srv, SVC, PW).await;
    let r = ldap
        .with_search_options(SearchOptions::new().sizelimit(1))
        .search(BASE, Scope::Subtree, "(objectClass=*)", vec!["dn"])
        .await
        .expect("base test");
    assert_eq!(r.0.len(), 1);
    let (rc, with_groups) = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        "(memberOf=*)",
        &["memberOf"],
    )
    .await;
    assert_eq!(rc, 0);
    assert!(
        with_groups.contains_key(&user_dn("alice")) && !with_groups.contains_key(&user_dn("dave")),
        "only entries with groups"
    );
    let (rc, uuid) = search(
        &mut ldap,
        &user_dn("alice"),
        Scope::Base,
        "(objectClass=*)",
        &[
            "entryuuid",
            "nsuniqueid",
            "objectguid",
            "guid",
            "ipauniqueid",
        ],
    )
    .await;
    assert_eq!(rc, 0);
    assert!(uuid[&user_dn("alice")].contains_key("entryUUID"));
    // Paged user list, 500 a page, wrapped in a group condition.
    let r = ldap
        .with_controls(PagedResults {
            size: 500,
            cookie: Vec::new(),
        })
        .search(
            BASE,
            Scope::Subtree,
            &format!(
                "(&(|(objectclass=inetOrgPerson))(|(memberof={})))",
                group_dn("developers")
            ),
            vec!["dn", "uid", "samaccountname", "memberof", "entryuuid"],
        )
        .await
        .expect("user list");
    assert_eq!((r.1.rc, r.0.len()), (0, 2));
});

backend_test!(ldap_jellyfin_lists_then_binds_then_checks_admin, |srv| {
    seed(srv).await;
    // Jellyfin's LDAP plugin (ldap.md §4.4, authentik's guide): the configured filter alone,
    // the search attributes, then a walk over every value looking for the typed name.
    let attrs = ["uid", "cn", "mail", "displayName"];
    let mut ldap = bound(srv, SVC, PW).await;
    let (rc, found) = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        &format!("(memberOf={})", group_dn("developers")),
        &attrs,
    )
    .await;
    assert_eq!(rc, 0);
    let typed = "ALICE";
    let matches: Vec<&String> = found
        .iter()
        .filter(|(_, entry)| {
            entry
                .values()
                .flatten()
                .any(|v| v.eq_ignore_ascii_case(typed))
        })
        .map(|(dn, _)| dn)
        .collect();
    assert_eq!(
        matches,
        vec![&user_dn("alice")],
        "found by cn among {found:?}"
    );
    let alice = &found[&user_dn("alice")];
    assert_eq!(alice["displayName"], vec!["Alice Smith"]);
    assert_eq!(alice["mail"], vec!["alice@example.com"]);
    assert_eq!(alice["uid"][0].len(), 64, "the outpost's sha256 uid");
    // The password, on a new connection as the user.
    let mut user = bound(srv, &user_dn("alice"), PW).await;
    // The admin check: base scope on the user's own DN with the admin filter.
    let admin_filter = format!("(memberOf={})", group_dn("admins"));
    let (rc, found) = search(
        &mut user,
        &user_dn("alice"),
        Scope::Base,
        &admin_filter,
        &attrs,
    )
    .await;
    assert_eq!((rc, found.len()), (0, 0), "alice is no Jellyfin admin");
    let (rc, found) = search(&mut ldap, SVC, Scope::Base, &admin_filter, &attrs).await;
    assert_eq!((rc, found.len()), (0, 1), "svc is");
    // Newer plugin versions change the password with the Password Modify operation.
    let r = user
        .extended(ldap3::exop::PasswordModify {
            user_id: None,
            old_pass: Some(PW),
            new_pass: Some("jellyfin-new-password-1"),
        })
        .await
        .expect("password modify");
    assert_eq!(r.1.rc, 0);
    bound(srv, &user_dn("alice"), "jellyfin-new-password-1").await;
});

backend_test!(ldap_auth_sh_home_assistant, |srv| {
    seed(srv).await;
    // ldap-auth.sh (ldap.md §4.8) with the ldapsearch client: `ldapwhoami -D USERDN -w PW`,
    // i.e. a bind and Who am I?; success means the login succeeds.
    let mut ldap = connect(srv).await;
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), PW)
            .await
            .expect("bind")
            .rc,
        0
    );
    let (exop, _) = ldap
        .extended(ldap3::exop::WhoAmI)
        .await
        .expect("whoami")
        .success()
        .expect("whoami succeeds");
    let who: ldap3::exop::WhoAmIResp = exop.parse();
    assert_eq!(who.authzid, format!("dn:{}", user_dn("alice")));
    // The curl client: the same bind, then a base search of the rootDSE.
    let (rc, root) = search(&mut ldap, "", Scope::Base, "(objectClass=*)", &["dn"]).await;
    assert_eq!((rc, root.len()), (0, 1));
    // With BASEDN=USERDN SCOPE=base and a group filter: exactly one entry logs the user in,
    // and NAME_ATTR (displayName) names them.
    let filter = format!("(&(objectClass=user)(memberOf={}))", group_dn("developers"));
    let (rc, found) = search(
        &mut ldap,
        &user_dn("alice"),
        Scope::Base,
        &filter,
        &["displayName"],
    )
    .await;
    assert_eq!((rc, found.len()), (0, 1));
    assert_eq!(found[&user_dn("alice")]["displayName"], vec!["Alice Smith"]);
    // carol is only in `backend` (a child of developers): no entry, no login.
    let mut carol = bound(srv, &user_dn("carol"), PW).await;
    let (rc, found) = search(
        &mut carol,
        &user_dn("carol"),
        Scope::Base,
        &filter,
        &["displayName"],
    )
    .await;
    assert_eq!((rc, found.len()), (0, 0));
    // Wrong password and inactive user: the script sees a failed bind (49).
    let mut anon = connect(srv).await;
    for (dn, pw) in [(user_dn("alice"), "wrong"), (user_dn("dave"), PW)] {
        assert_eq!(anon.simple_bind(&dn, pw).await.expect("bind").rc, 49);
    }
});
