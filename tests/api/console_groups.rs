//! Issue 21, the console's groups and roles beyond membership: member lists paged from the
//! membership index (direct and effective, each pager keeping the other's page), creating and
//! deleting groups and roles (deletes confirmed first), editing a group's parents with the
//! API's messages next to the field, and the console's own 404 for unknown `/if/` paths.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_test;
use crate::common::TestServer;
use crate::console::{browser, get, group, post, sign_in, user};

/// The uuid in a `/if/admin/<kind>/<uuid>/?done=…` location.
fn uuid_in(location: &str, kind: &str) -> String {
    location
        .trim_start_matches(&format!("/if/admin/{kind}/"))
        .split('/')
        .next()
        .expect("uuid")
        .to_string()
}

/// How many rows of the table after `heading` link to a user.
fn user_rows_after(html: &str, heading: &str) -> usize {
    let section = html.split(heading).nth(1).expect("section");
    let table = section.split("</table>").next().expect("table");
    table.matches("href=\"/if/admin/users/").count()
}

/// Creates `n` users through the API; returns their ids.
async fn users(srv: &TestServer, prefix: &str, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let r = srv
            .post(
                "/api/v3/core/users/",
                &json!({"username": format!("{prefix}{i:03}"), "name": format!("Member {i}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.body["pk"].as_i64().expect("pk"));
    }
    ids
}

backend_test!(
    console_group_members_are_paged_and_pagers_keep_each_other,
    |srv| {
        user(srv, "root8", "pw-root8", true).await;
        let parent = group(srv, "org", &[]).await;
        let child = group(srv, "team", &[parent.as_str()]).await;
        let ids = users(srv, "m", 120).await;
        let r = srv
            .patch(
                &format!("/api/v3/core/groups/{child}/"),
                &json!({"users": ids}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let (client, _, _) = sign_in(srv, "root8", "pw-root8").await;

        let page = get(srv, &client, &format!("/if/admin/groups/{child}/")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text.len() < 100 * 1024, "{} bytes", page.text.len());
        assert_eq!(user_rows_after(&page.text, "Direct members</h2>"), 50);
        assert!(
            page.text.contains("Page 1 of 3 · 120 in all"),
            "{}",
            page.text
        );
        assert!(page
            .text
            .contains(&format!("href=\"/if/admin/groups/{child}/?page=2#direct\"")));

        // Each pager keeps the other list's page.
        let page = get(
            srv,
            &client,
            &format!("/if/admin/groups/{child}/?page=3&epage=2"),
        )
        .await;
        assert_eq!(user_rows_after(&page.text, "Direct members</h2>"), 20);
        assert_eq!(user_rows_after(&page.text, "Effective members</h2>"), 50);
        assert!(page.text.contains(&format!(
            "href=\"/if/admin/groups/{child}/?epage=2&amp;page=2#direct\""
        )));
        assert!(page.text.contains(&format!(
            "href=\"/if/admin/groups/{child}/?page=3&amp;epage=3#effective\""
        )));
        // A page past the end shows the last one.
        let past = get(srv, &client, &format!("/if/admin/groups/{child}/?page=99")).await;
        assert!(past.text.contains("Page 3 of 3"), "{}", past.text);

        // The parent has no direct members; all 120 are effective members through the child.
        let page = get(srv, &client, &format!("/if/admin/groups/{parent}/")).await;
        assert!(page.text.contains("No direct members."));
        assert_eq!(user_rows_after(&page.text, "Effective members</h2>"), 50);
        assert!(page.text.contains("120 in all"));

        // The groups table counts direct members without listing them.
        let list = get(srv, &client, "/if/admin/groups/?q=team").await;
        assert!(
            list.text.contains("<td class=\"num\">120</td>"),
            "{}",
            list.text
        );
    }
);

backend_test!(
    console_creates_and_deletes_groups_and_edits_parents,
    |srv| {
        user(srv, "root9", "pw-root9", true).await;
        let (client, _, csrf) = sign_in(srv, "root9", "pw-root9").await;
        let c = csrf.as_str();
        let form = get(srv, &client, "/if/admin/groups/new/").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.text.contains("<label for=\"f-name\">Name</label>"));

        // The API's messages, next to their fields.
        let bad = post(
            srv,
            &client,
            "/if/admin/groups/",
            &[("csrf", c), ("name", "")],
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.text.contains("id=\"err-name\""), "{}", bad.text);
        assert!(bad.text.contains("This field may not be blank."));
        let made = post(
            srv,
            &client,
            "/if/admin/groups/",
            &[("csrf", c), ("name", "eng")],
        )
        .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
        let location = made.location.expect("location");
        assert!(location.ends_with("/?done=created"), "{location}");
        let eng = uuid_in(&location, "groups");
        let shown = get(srv, &client, &location).await;
        assert!(shown.text.contains("Created.") && shown.text.contains("Group eng"));
        let dup = post(
            srv,
            &client,
            "/if/admin/groups/",
            &[("csrf", c), ("name", "eng")],
        )
        .await;
        assert_eq!(dup.status, StatusCode::BAD_REQUEST);
        assert!(dup.text.contains("Group with this name already exists."));
        let orphan = post(
            srv,
            &client,
            "/if/admin/groups/",
            &[
                ("csrf", c),
                ("name", "orphan"),
                ("parents", "no-such-group"),
            ],
        )
        .await;
        assert_eq!(orphan.status, StatusCode::BAD_REQUEST);
        assert!(orphan.text.contains("id=\"err-parents\""));
        assert!(orphan.text.contains("No group is named “no-such-group”."));

        // Created with a parent, named by name.
        let made = post(
            srv,
            &client,
            "/if/admin/groups/",
            &[("csrf", c), ("name", "backend"), ("parents", "eng")],
        )
        .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
        let backend = uuid_in(&made.location.expect("location"), "groups");
        let api = srv.get(&format!("/api/v3/core/groups/{backend}/")).await;
        assert_eq!(api.body["parents"], json!([eng]));

        // Parent edits go through the API's rules: a cycle, itself, an unknown group.
        let parents = format!("/if/admin/groups/{eng}/parents/");
        let cycle = post(
            srv,
            &client,
            &parents,
            &[("csrf", c), ("op", "add"), ("parents", "backend")],
        )
        .await;
        assert_eq!(cycle.status, StatusCode::BAD_REQUEST);
        assert!(
            cycle.text.contains("would create a cycle"),
            "{}",
            cycle.text
        );
        assert!(cycle.text.contains("id=\"err-parents\""));
        let itself = post(
            srv,
            &client,
            &parents,
            &[("csrf", c), ("op", "add"), ("parents", "eng")],
        )
        .await;
        assert!(itself.text.contains("A group cannot be its own parent."));
        let unknown = uuid::Uuid::new_v4().to_string();
        let missing = post(
            srv,
            &client,
            &parents,
            &[("csrf", c), ("op", "add"), ("parents", unknown.as_str())],
        )
        .await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert!(
            missing.text.contains("object does not exist."),
            "{}",
            missing.text
        );

        // Add a second parent, then remove the first.
        let ops = group(srv, "ops", &[]).await;
        let added = post(
            srv,
            &client,
            &format!("/if/admin/groups/{backend}/parents/"),
            &[("csrf", c), ("op", "add"), ("parents", "ops")],
        )
        .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
        let page = get(srv, &client, &added.location.expect("location")).await;
        assert!(page.text.contains("The parent was added."));
        assert!(page.text.contains("Remove parent ops") && page.text.contains("Remove parent eng"));
        let removed = post(
            srv,
            &client,
            &format!("/if/admin/groups/{backend}/parents/"),
            &[("csrf", c), ("op", "remove"), ("parents", eng.as_str())],
        )
        .await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.text);
        let api = srv.get(&format!("/api/v3/core/groups/{backend}/")).await;
        assert_eq!(api.body["parents"], json!([ops]));
        // Audited like the API's writes; the group's page links to its events.
        let page = get(srv, &client, &format!("/if/admin/groups/{backend}/")).await;
        let hex = backend.replace('-', "");
        let link = format!("/if/admin/events/?model=group&amp;model_pk={hex}");
        assert!(page.text.contains(&link), "{}", page.text);
        let audited = get(
            srv,
            &client,
            &format!("/if/admin/events/?action=model_updated&model=group&model_pk={hex}"),
        )
        .await;
        assert!(audited.text.contains("group backend"), "{}", audited.text);
        // The diff names the parents added and removed.
        assert!(
            audited.text.contains(&format!("parents: + {ops}")),
            "{}",
            audited.text
        );
        assert!(audited.text.contains(&format!("parents: − {eng}")));

        // Delete, after a confirmation.
        let confirm = get(srv, &client, &format!("/if/admin/groups/{eng}/delete/")).await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(confirm.text.contains("cannot be undone"));
        let gone = post(
            srv,
            &client,
            &format!("/if/admin/groups/{eng}/delete/"),
            &[("csrf", c)],
        )
        .await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        assert_eq!(
            gone.location.as_deref(),
            Some("/if/admin/groups/?done=deleted")
        );
        assert_eq!(
            srv.get(&format!("/api/v3/core/groups/{eng}/")).await.status,
            StatusCode::NOT_FOUND
        );
        let deleted = get(srv, &client, "/if/admin/events/?action=model_deleted").await;
        assert!(deleted.text.contains("group eng"), "{}", deleted.text);

        // Without the permissions, none of it.
        user(srv, "plain9", "pw-plain9", false).await;
        let (plain, _, pcsrf) = sign_in(srv, "plain9", "pw-plain9").await;
        let p = pcsrf.as_str();
        for (path, form) in [
            (
                "/if/admin/groups/".to_string(),
                vec![("csrf", p), ("name", "x")],
            ),
            (
                format!("/if/admin/groups/{backend}/parents/"),
                vec![("csrf", p), ("op", "add"), ("parents", "ops")],
            ),
            (
                format!("/if/admin/groups/{backend}/delete/"),
                vec![("csrf", p)],
            ),
        ] {
            let r = post(srv, &plain, &path, &form).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        }
        assert_eq!(
            get(srv, &plain, "/if/admin/groups/new/").await.status,
            StatusCode::FORBIDDEN
        );
    }
);

backend_test!(console_creates_gives_and_deletes_roles, |srv| {
    user(srv, "root10", "pw-root10", true).await;
    let ids = users(srv, "h", 55).await;
    let (client, _, csrf) = sign_in(srv, "root10", "pw-root10").await;
    let c = csrf.as_str();
    let blank = post(
        srv,
        &client,
        "/if/admin/roles/",
        &[("csrf", c), ("name", " ")],
    )
    .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank.text.contains("id=\"err-name\""), "{}", blank.text);
    let made = post(
        srv,
        &client,
        "/if/admin/roles/",
        &[("csrf", c), ("name", "helpdesk")],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
    let location = made.location.expect("location");
    let role = uuid_in(&location, "roles");
    assert!(get(srv, &client, &location).await.text.contains("Created."));
    let dup = post(
        srv,
        &client,
        "/if/admin/roles/",
        &[("csrf", c), ("name", "helpdesk")],
    )
    .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert!(dup.text.contains("Role with this name already exists."));
    let found = get(srv, &client, "/if/admin/roles/?q=help").await;
    assert!(found.text.contains(">helpdesk<"));

    // Its users are paged like a group's members.
    for id in &ids {
        let r = srv
            .patch(
                &format!("/api/v3/core/users/{id}/"),
                &json!({"roles": [role]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let page = get(srv, &client, &format!("/if/admin/roles/{role}/")).await;
    assert_eq!(
        user_rows_after(&page.text, "Users holding this role</h2>"),
        50
    );
    assert!(
        page.text.contains("Page 1 of 2 · 55 in all"),
        "{}",
        page.text
    );
    let page = get(srv, &client, &format!("/if/admin/roles/{role}/?page=2")).await;
    assert_eq!(
        user_rows_after(&page.text, "Users holding this role</h2>"),
        5
    );
    let taken = post(
        srv,
        &client,
        &format!("/if/admin/roles/{role}/users/"),
        &[("csrf", c), ("op", "remove"), ("username", "h054")],
    )
    .await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER, "{}", taken.text);
    let page = get(srv, &client, &format!("/if/admin/roles/{role}/?page=2")).await;
    assert!(page.text.contains("54 in all") && !page.text.contains(">h054<"));

    let confirm = get(srv, &client, &format!("/if/admin/roles/{role}/delete/")).await;
    assert!(confirm.text.contains("cannot be undone"));
    let gone = post(
        srv,
        &client,
        &format!("/if/admin/roles/{role}/delete/"),
        &[("csrf", c)],
    )
    .await;
    assert_eq!(
        gone.location.as_deref(),
        Some("/if/admin/roles/?done=deleted")
    );
    assert_eq!(
        srv.get(&format!("/api/v3/rbac/roles/{role}/")).await.status,
        StatusCode::NOT_FOUND
    );
});

backend_test!(console_unknown_paths_and_methods_get_console_pages, |srv| {
    user(srv, "root11", "pw-root11", true).await;
    let anonymous = browser();
    let (client, _, _) = sign_in(srv, "root11", "pw-root11").await;
    for c in [&anonymous, &client] {
        for path in [
            "/if/nothing/",
            "/if/admin/nothing/",
            "/if/admin/users/1/extra/",
            "/if/admin/groups",
        ] {
            let page = get(srv, c, path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
            let h = &page.headers;
            assert_eq!(
                h.get("content-type").map(|v| v.as_bytes()),
                Some(&b"text/html; charset=utf-8"[..]),
                "{path}"
            );
            assert!(h.get("content-security-policy").is_some(), "{path}");
            assert_eq!(
                h.get("x-frame-options").map(|v| v.as_bytes()),
                Some(&b"DENY"[..])
            );
            assert!(page
                .text
                .contains("There is no console page at this address."));
        }
    }
    // A console path asked with a method it does not answer: a console page too, with `Allow`.
    let wrong = get(srv, &client, "/if/logout/").await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong.headers.get("content-security-policy").is_some());
    assert_eq!(
        wrong.headers.get("allow").map(|v| v.as_bytes()),
        Some(&b"POST"[..])
    );
    assert!(
        wrong.text.contains("does not answer that method"),
        "{}",
        wrong.text
    );
    // The API's paths keep the API's JSON 404.
    let api = get(srv, &anonymous, "/api/v3/nothing/").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(
        !api.text.contains("There is no console page"),
        "{}",
        api.text
    );
});

backend_test!(
    console_renames_groups_and_sets_their_superuser_flag,
    |srv| {
        user(srv, "root10", "pw-root10", true).await;
        let (client, _, csrf) = sign_in(srv, "root10", "pw-root10").await;
        let c = csrf.as_str();
        let ops = group(srv, "ops", &[]).await;
        group(srv, "taken", &[]).await;
        let page = get(srv, &client, &format!("/if/admin/groups/{ops}/")).await;
        assert!(page.text.contains("Save changes"), "{}", page.text);
        let edit = format!("/if/admin/groups/{ops}/edit/");

        // Renamed, and made a superuser group, through the API's update.
        let saved = post(
            srv,
            &client,
            &edit,
            &[
                ("csrf", c),
                ("op", "edit"),
                ("name", "operations"),
                ("is_superuser", "on"),
            ],
        )
        .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
        let location = saved.location.expect("location");
        assert!(location.ends_with("/?done=saved"), "{location}");
        assert!(get(srv, &client, &location).await.text.contains("Saved."));
        let api = srv.get(&format!("/api/v3/core/groups/{ops}/")).await;
        assert_eq!(api.body["name"], "operations", "{}", api.text);
        assert_eq!(api.body["is_superuser"], true, "{}", api.text);

        // A taken or blank name: the API's message next to the field, what was sent kept.
        let dup = post(
            srv,
            &client,
            &edit,
            &[("csrf", c), ("op", "edit"), ("name", "taken")],
        )
        .await;
        assert_eq!(dup.status, StatusCode::BAD_REQUEST);
        assert!(dup.text.contains("id=\"err-name\""), "{}", dup.text);
        assert!(dup.text.contains("Group with this name already exists."));
        assert!(dup.text.contains("value=\"taken\""));
        let api = srv.get(&format!("/api/v3/core/groups/{ops}/")).await;
        assert_eq!(api.body["name"], "operations");
        // An unticked box takes the flag off again.
        let off = post(
            srv,
            &client,
            &edit,
            &[("csrf", c), ("op", "edit"), ("name", "operations")],
        )
        .await;
        assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.text);
        let api = srv.get(&format!("/api/v3/core/groups/{ops}/")).await;
        assert_eq!(api.body["is_superuser"], false, "{}", api.text);
    }
);
