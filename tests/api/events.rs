//! Audit events: every change and key view is recorded with who, what, which object, what
//! changed (never secrets), from where and in which request — readable by superusers at
//! `/api/v3/events/events/`, and read-only (deviation 11).

use crate::backend_test;
use crate::common::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn events(srv: &TestServer, query: &str) -> Vec<Value> {
    let r = srv
        .get(&format!("/api/v3/events/events/?page_size=100&{query}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["results"].as_array().cloned().unwrap_or_default()
}

backend_test!(changes_and_key_views_are_recorded, |srv| {
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "audited", "name": "Audited", "email": "a@example.com"}),
        )
        .await;
    let request_id = r.header("x-authentik-id").expect("request id");
    let pk = r.body["pk"].clone();
    let created = events(srv, "actions=model_created&context_model_name=user").await;
    let e = created
        .iter()
        .find(|e| e["context"]["model"]["pk"] == pk)
        .expect("model_created for the user");
    let keys: Vec<&str> = e
        .as_object()
        .expect("event")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "pk",
            "user",
            "action",
            "app",
            "context",
            "client_ip",
            "created",
            "expires",
            "brand"
        ]
    );
    assert_eq!(e["user"]["username"], "akadmin");
    assert_eq!(
        e["context"]["model"],
        json!({"app": "authentik_core", "model_name": "user", "pk": pk, "name": "Audited"})
    );
    assert_eq!(
        e["context"]["http_request"]["request_id"],
        request_id.as_str(),
        "the event names the request"
    );
    assert_eq!(e["context"]["http_request"]["method"], "POST");
    assert_eq!(e["context"]["diff"]["username"]["new_value"], "audited");
    assert_eq!(e["client_ip"], "127.0.0.1");

    srv.patch(
        &format!("/api/v3/core/users/{pk}/"),
        &json!({"name": "Renamed", "email": "a@example.com"}),
    )
    .await;
    let updated = events(srv, &format!("actions=model_updated&context_model_pk={pk}")).await;
    assert_eq!(
        updated[0]["context"]["diff"],
        json!({"name": {"previous_value": "Audited", "new_value": "Renamed"}}),
        "only what changed"
    );

    let r = srv
        .post(
            &format!("/api/v3/core/users/{pk}/set_password/"),
            &json!({"password": "hunter2-hunter2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let set = events(srv, "actions=password_set").await;
    assert_eq!(
        set[0]["user"]["username"], "audited",
        "password_set names the user whose password changed"
    );

    srv.post(
        "/api/v3/core/tokens/",
        &json!({"identifier": "audited-token", "user": pk}),
    )
    .await;
    let key = srv
        .get("/api/v3/core/tokens/audited-token/view_key/")
        .await
        .body["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let views = events(srv, "actions=secret_view").await;
    assert_eq!(views[0]["context"]["secret"]["name"], "audited-token");
    srv.post(
        "/api/v3/core/tokens/audited-token/set_key/",
        &json!({"key": "a-replacement-key-0123456789abcdef"}),
    )
    .await;
    let group = srv
        .post("/api/v3/core/groups/", &json!({"name": "audited-group"}))
        .await
        .body;
    srv.post(
        &format!(
            "/api/v3/core/groups/{}/add_user/",
            group["pk"].as_str().unwrap_or_default()
        ),
        &json!({"pk": pk}),
    )
    .await;
    let role = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "audited-role"}))
        .await
        .body;
    srv.post(
        &format!(
            "/api/v3/rbac/permissions/assigned_by_roles/{}/assign/",
            role["pk"].as_str().unwrap_or_default()
        ),
        &json!({"permissions": ["authentik_core.view_user"]}),
    )
    .await;
    srv.delete(&format!("/api/v3/core/users/{pk}/")).await;

    let all = srv.get("/api/v3/events/events/?page_size=100").await;
    let text = all.text.clone();
    for secret in [
        key.as_str(),
        "hunter2-hunter2",
        "a-replacement-key-0123456789abcdef",
        srv.token.as_str(),
    ] {
        assert!(!text.contains(secret), "an event leaks a secret");
    }
    let actions: Vec<(String, String)> = all.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["context"]["model"]["model_name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    for expected in [
        ("model_deleted", "user"),
        ("model_created", "group"),
        ("model_updated", "group"),
        ("model_created", "role"),
        ("model_created", "rolemodelpermission"),
        ("model_updated", "token"),
        ("model_created", "token"),
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, m)| a == expected.0 && m == expected.1),
            "missing {expected:?} in {actions:?}"
        );
    }
    assert_eq!(
        all.body["results"][0]["action"], "model_deleted",
        "newest first"
    );
    let one = srv
        .get(&format!(
            "/api/v3/events/events/{}/",
            all.body["results"][0]["pk"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(
        srv.get(&format!("/api/v3/events/events/{}/", uuid::Uuid::new_v4()))
            .await
            .body,
        json!({"detail": "No Event matches the given query."})
    );
    let r = srv.get("/api/v3/events/events/?actions=nope").await;
    assert_eq!(
        r.body,
        json!({"actions": ["Select a valid choice. nope is not one of the available choices."]})
    );
    assert_eq!(
        srv.get("/api/v3/events/events/actions/").await.body[1]["name"],
        "Login Failed"
    );
});

// `context.http_request.path` is the whole request path, as authentik records it: `/api/v3/…`
// (the router nests the dialect under that prefix, which must not cut it off) and `/api/v2/…`.
backend_test!(events_record_the_full_request_path, |srv| {
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "pathed", "name": "Pathed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let pk = r.body["pk"].clone();
    srv.patch(
        &format!("/api/v3/core/users/{pk}/"),
        &json!({"name": "Pathed again"}),
    )
    .await;
    let r = srv
        .send(
            Method::POST,
            "/api/v2/users/",
            Some(&srv.token),
            Some(&json!({"username": "awx-pathed", "password": "s3cret-pw"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let awx_pk = r.body["id"].clone();
    let r = srv
        .send(
            Method::PATCH,
            &format!("/api/v2/users/{awx_pk}/"),
            Some(&srv.token),
            Some(&json!({"first_name": "Awx"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let r = reqwest::Client::new()
        .get(format!("{}/api/v2/me/", srv.base))
        .basic_auth("awx-pathed", Some("wrong"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    for (query, path) in [
        (
            "actions=login_failed&username=awx-pathed".to_string(),
            "/api/v2/me/".to_string(),
        ),
        (
            format!("actions=model_created&context_model_pk={pk}"),
            "/api/v3/core/users/".to_string(),
        ),
        (
            format!("actions=model_updated&context_model_pk={pk}"),
            format!("/api/v3/core/users/{pk}/"),
        ),
        (
            format!("actions=model_created&context_model_pk={awx_pk}"),
            "/api/v2/users/".to_string(),
        ),
        (
            format!("actions=model_updated&context_model_pk={awx_pk}"),
            format!("/api/v2/users/{awx_pk}/"),
        ),
    ] {
        let found = events(srv, &query).await;
        assert!(!found.is_empty(), "{query}");
        for e in found {
            assert_eq!(
                e["context"]["http_request"]["path"],
                path.as_str(),
                "{query}"
            );
        }
    }
});

backend_test!(events_are_read_only_and_private, |srv| {
    let r = srv
        .post(
            "/api/v3/events/events/",
            &json!({"action": "login", "app": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "deviation 11");
    let user = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "plain", "name": "P"}),
        )
        .await
        .body;
    srv.post(
        "/api/v3/core/tokens/",
        &json!({"identifier": "plain-api", "user": user["pk"], "expiring": false}),
    )
    .await;
    let key = srv
        .get("/api/v3/core/tokens/plain-api/view_key/")
        .await
        .body["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = srv
        .send(Method::GET, "/api/v3/events/events/", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
});

backend_test!(failed_password_logins_are_recorded, |srv| {
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/api/v2/me/", srv.base))
        .basic_auth("akadmin", Some("wrong"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let failed = events(srv, "actions=login_failed&username=akadmin").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["context"]["username"], "akadmin");
    assert_eq!(failed[0]["context"]["password"], "********************");
    assert!(failed[0]["user"]["is_anonymous"].as_bool().unwrap_or(false));
});

/// A user holding an api token, optionally through a role granting global `view_event`;
/// returns the token key.
async fn reader_key(srv: &TestServer, username: &str, view_event: bool) -> String {
    let user = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": username, "name": username}),
        )
        .await
        .body;
    let identifier = format!("{username}-api");
    srv.post(
        "/api/v3/core/tokens/",
        &json!({"identifier": identifier, "user": user["pk"], "expiring": false}),
    )
    .await;
    if view_event {
        let role = srv
            .post(
                "/api/v3/rbac/roles/",
                &json!({"name": format!("{username}-role")}),
            )
            .await
            .body;
        let role_pk = role["pk"].as_str().unwrap_or_default().to_string();
        let r = srv
            .post(
                &format!("/api/v3/rbac/permissions/assigned_by_roles/{role_pk}/assign/"),
                &json!({"permissions": ["authentik_events.view_event"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = srv
            .post(
                &format!("/api/v3/rbac/roles/{role_pk}/add_user/"),
                &json!({"pk": user["pk"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    }
    srv.get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
        .await
        .body["key"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// How many events the list shows for `query`.
async fn listed(srv: &TestServer, query: &str) -> i64 {
    let r = srv
        .get(&format!("/api/v3/events/events/?page_size=1&{query}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["pagination"]["count"].as_i64().unwrap_or(-1)
}

/// The volume rows for `query`, checked for shape and order.
async fn volume(srv: &TestServer, query: &str) -> Vec<Value> {
    let r = srv
        .get(&format!("/api/v3/events/events/volume/?{query}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    let rows = r.body.as_array().cloned().expect("an array, not a page");
    let bucket = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T(00|06|12|18):00:00$").expect("regex");
    let mut previous: Option<(String, String)> = None;
    for row in &rows {
        let keys: Vec<&str> = row
            .as_object()
            .expect("row")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, vec!["time", "action", "count"]);
        let time = row["time"].as_str().unwrap_or_default().to_string();
        assert!(
            bucket.is_match(&time),
            "six-hour bucket without offset: {time}"
        );
        assert!(row["count"].as_i64().unwrap_or(0) > 0);
        let key = (time, row["action"].as_str().unwrap_or_default().to_string());
        if let Some(p) = &previous {
            assert!(p < &key, "ordered by time, then action: {rows:?}");
        }
        previous = Some(key);
    }
    rows
}

fn total(rows: &[Value]) -> i64 {
    rows.iter().map(|r| r["count"].as_i64().unwrap_or(0)).sum()
}

backend_test!(volume_counts_what_the_list_shows, |srv| {
    for name in ["vol-a", "vol-b"] {
        srv.post(
            "/api/v3/core/users/",
            &json!({"username": name, "name": name}),
        )
        .await;
    }
    srv.post("/api/v3/core/groups/", &json!({"name": "vol-group"}))
        .await;
    let all = volume(srv, "").await;
    assert!(!all.is_empty());
    assert_eq!(
        total(&all),
        listed(srv, "").await,
        "every event of the last 7 days"
    );
    for action in ["model_created", "model_updated"] {
        let per_action: i64 = all
            .iter()
            .filter(|r| r["action"] == action)
            .map(|r| r["count"].as_i64().unwrap_or(0))
            .sum();
        assert_eq!(per_action, listed(srv, &format!("actions={action}")).await);
    }
    // Every list filter narrows the volume exactly as it narrows the list.
    for query in [
        "actions=model_created",
        "action=model",
        "context_model_name=group",
        "context_model_app=authentik_core",
        "username=akadmin",
        "search=vol-a",
        "client_ip=127.0.0.1",
        "brand_name=Default%20brand",
        "brand_name=Another%20brand",
        "context_authorized_app=0123456789abcdef0123456789abcdef",
        "ordering=-action",
    ] {
        let rows = volume(srv, query).await;
        assert_eq!(total(&rows), listed(srv, query).await, "{query}");
    }
    assert!(volume(srv, "brand_name=Another%20brand").await.is_empty());
    assert!(volume(srv, "actions=model_created")
        .await
        .iter()
        .all(|r| r["action"] == "model_created"));

    // history_days: an integer of days, capped at 60; anything else is a clear 400.
    assert!(volume(srv, "history_days=0").await.is_empty());
    for days in [
        "1",
        "7.0",
        "+3",
        "60",
        "1000000000",
        "99999999999999999999999",
        "",
    ] {
        assert_eq!(
            total(&volume(srv, &format!("history_days={days}")).await),
            total(&all),
            "{days}"
        );
    }
    for (days, message) in [
        ("abc", "A valid integer is required."),
        ("1.5", "A valid integer is required."),
        ("1e3", "A valid integer is required."),
        ("-1", "Ensure this value is greater than or equal to 0."),
    ] {
        let r = srv
            .get(&format!(
                "/api/v3/events/events/volume/?history_days={days}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{days}");
        assert_eq!(r.body, json!({"history_days": [message]}), "{days}");
    }
    let r = srv.get("/api/v3/events/events/volume/?actions=nope").await;
    assert_eq!(
        r.body,
        json!({"actions": ["Select a valid choice. nope is not one of the available choices."]})
    );

    // Permissions: as the list.
    let reader = reader_key(srv, "vol-reader", true).await;
    let plain = reader_key(srv, "vol-plain", false).await;
    let as_reader = srv
        .send(
            Method::GET,
            "/api/v3/events/events/volume/?actions=login_failed",
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(as_reader.status, StatusCode::OK, "{}", as_reader.text);
    assert_eq!(
        as_reader.body,
        json!(volume(srv, "actions=login_failed").await)
    );
    let as_plain = srv
        .send(
            Method::GET,
            "/api/v3/events/events/volume/",
            Some(&plain),
            None,
        )
        .await;
    assert_eq!(as_plain.status, StatusCode::FORBIDDEN);
    let anonymous = srv
        .send(Method::GET, "/api/v3/events/events/volume/", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
});

/// An event as authentik records an application authorization or a login through one:
/// gatehouse serves no applications, so such events only exist when written into the store.
fn app_event(
    action: &str,
    user_pk: Value,
    application: Option<Value>,
) -> gatehouse::store::events::NewEvent {
    let now = gatehouse::domain::Timestamp::now();
    let mut context = json!({"http_request": {"path": "/", "method": "GET"}});
    if let Some(application) = application {
        context["authorized_application"] = application;
    }
    gatehouse::store::events::NewEvent {
        uuid: uuid::Uuid::new_v4().to_string(),
        action: action.into(),
        app: "authentik.events.signals".into(),
        user_json: json!({"username": format!("u{user_pk}"), "pk": user_pk, "email": ""})
            .to_string(),
        username: None,
        context: context.to_string(),
        client_ip: None,
        created: now.0,
        expires: now.plus_seconds(3_600).0,
        model_app: None,
        model_name: None,
        model_pk: None,
        request_id: None,
    }
}

backend_test!(top_per_user_counts_events_per_application, |srv| {
    assert_eq!(
        srv.get("/api/v3/events/events/top_per_user/").await.body,
        json!([]),
        "gatehouse itself records no authorized applications"
    );
    let wiki = json!({"app": "authentik_core", "model_name": "application", "pk": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "name": "Wiki"});
    let mail = json!({"app": "authentik_core", "model_name": "application", "pk": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "name": "Mail"});
    let store = gatehouse::store::Store::connect(&srv.config().database_url, 2)
        .await
        .expect("store");
    let mut tx = store.begin().await.expect("tx");
    for event in [
        app_event("login", json!(1), Some(wiki.clone())),
        app_event("login", json!(1), Some(wiki.clone())),
        app_event("login", json!(2), Some(wiki.clone())),
        app_event("login", json!(null), Some(wiki.clone())),
        app_event("login", json!(3), Some(mail.clone())),
        app_event("login", json!(3), Some(Value::Null)),
        app_event("login", json!(4), Some(json!("not an object"))),
        app_event("login", json!(6), None),
        app_event("login_failed", json!(5), Some(wiki.clone())),
        app_event("authorize_application", json!(2), Some(mail.clone())),
    ] {
        gatehouse::store::events::insert(&mut tx, &event)
            .await
            .expect("insert");
    }
    tx.commit().await.expect("commit");
    store.close().await;

    let top = srv.get("/api/v3/events/events/top_per_user/").await;
    assert_eq!(top.status, StatusCode::OK);
    assert_eq!(
        top.body,
        json!([
            {"application": wiki, "counted_events": 4, "unique_users": 2},
            {"application": mail, "counted_events": 1, "unique_users": 1},
        ]),
        "exact action (not login_failed), largest first, anonymous not a user"
    );
    assert_eq!(
        srv.get("/api/v3/events/events/top_per_user/?action=authorize_application&top_n=5")
            .await
            .body,
        json!([{"application": mail, "counted_events": 1, "unique_users": 1}])
    );
    assert_eq!(
        srv.get("/api/v3/events/events/top_per_user/?top_n=1")
            .await
            .body,
        json!([{"application": wiki, "counted_events": 4, "unique_users": 2}])
    );
    assert_eq!(
        srv.get("/api/v3/events/events/top_per_user/?top_n=0")
            .await
            .body,
        json!([])
    );
    assert_eq!(
        srv.get("/api/v3/events/events/top_per_user/?action=")
            .await
            .body,
        json!([])
    );
    for (top_n, message) in [
        ("x", "A valid integer is required."),
        ("-2", "Ensure this value is greater than or equal to 0."),
    ] {
        let r = srv
            .get(&format!(
                "/api/v3/events/events/top_per_user/?top_n={top_n}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.body, json!({"top_n": [message]}));
    }
    // The list's `context_authorized_app` filter finds the same events.
    assert_eq!(
        listed(
            srv,
            "context_authorized_app=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&actions=login"
        )
        .await,
        4
    );

    // A role holder sees what a superuser sees; others get an empty list, not a 403.
    let reader = reader_key(srv, "top-reader", true).await;
    let plain = reader_key(srv, "top-plain", false).await;
    let as_reader = srv
        .send(
            Method::GET,
            "/api/v3/events/events/top_per_user/",
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(as_reader.body, top.body);
    let as_plain = srv
        .send(
            Method::GET,
            "/api/v3/events/events/top_per_user/",
            Some(&plain),
            None,
        )
        .await;
    assert_eq!(as_plain.status, StatusCode::OK);
    assert_eq!(as_plain.body, json!([]));
    let anonymous = srv
        .send(
            Method::GET,
            "/api/v3/events/events/top_per_user/",
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
});

/// Events in the list as (`context.model.name`, created, expires).
async fn lifetimes(base: &str, token: &str) -> Vec<(String, String, String)> {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v3/events/events/?page_size=100"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    body["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&e["context"]["model"]["name"]),
                text(&e["created"]),
                text(&e["expires"]),
            )
        })
        .collect()
}

async fn create_user(base: &str, token: &str, name: &str) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v3/core/users/"))
        .bearer_auth(token)
        .json(&json!({"username": name, "name": name}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// One instance keeps events for no time at all, a second one on the same database for the
/// default year: one purge pass (in batches of two) removes exactly the expired events.
async fn purge_pass_removes_only_expired(backend: crate::common::Backend) {
    let hour = std::time::Duration::from_secs(3_600);
    let srv = TestServer::start_with(backend, |c| {
        c.event_retention_seconds = 0;
        c.event_purge_interval = hour;
    })
    .await;
    let mut config = srv.config();
    config.event_retention_seconds = 365 * 86_400;
    let kept = gatehouse::app::RunningServer::start(config.clone())
        .await
        .expect("second instance");
    let kept_base = format!("http://{}", kept.addr);
    for name in ["brief-1", "brief-2", "brief-3"] {
        create_user(&srv.base, &srv.token, name).await;
    }
    create_user(&kept_base, &srv.token, "kept").await;

    let before = lifetimes(&srv.base, &srv.token).await;
    let expired = before.iter().filter(|(_, c, e)| c == e).count();
    assert!(
        before
            .iter()
            .filter(|(name, _, _)| name.starts_with("brief-"))
            .all(|(_, c, e)| c == e),
        "zero retention: expires = created"
    );
    assert!(expired >= 3);

    let store = gatehouse::store::Store::connect(&config.database_url, 2)
        .await
        .expect("store");
    let deleted =
        gatehouse::domain::audit::purge_expired(&store, gatehouse::domain::Timestamp::now(), 2)
            .await
            .expect("purge");
    assert_eq!(deleted, expired as u64, "one pass, several batches");
    let after = lifetimes(&srv.base, &srv.token).await;
    assert_eq!(after.len(), before.len() - expired);
    assert!(
        after.iter().all(|(_, c, e)| c != e),
        "no expired event left"
    );
    assert!(
        after.iter().any(|(name, _, _)| name == "kept"),
        "fresh events stay"
    );
    assert_eq!(
        gatehouse::domain::audit::purge_expired(&store, gatehouse::domain::Timestamp::now(), 2)
            .await
            .expect("purge"),
        0
    );
    store.close().await;
    kept.stop().await;
    srv.finish().await;
}

/// The server's own background task purges expired events while two instances run it on one
/// database, and leaves unexpired ones alone.
async fn background_purge(backend: crate::common::Backend) {
    let often = std::time::Duration::from_millis(50);
    let srv = TestServer::start_with(backend, |c| {
        c.event_retention_seconds = 0;
        c.event_purge_interval = often;
    })
    .await;
    let mut config = srv.config();
    config.event_retention_seconds = 365 * 86_400;
    let kept = gatehouse::app::RunningServer::start(config)
        .await
        .expect("second instance");
    let kept_base = format!("http://{}", kept.addr);
    create_user(&kept_base, &srv.token, "kept").await;
    create_user(&srv.base, &srv.token, "brief").await;
    let mut gone = false;
    for _ in 0..600 {
        let events = lifetimes(&srv.base, &srv.token).await;
        if !events.iter().any(|(name, _, _)| name == "brief") {
            assert!(
                events.iter().any(|(name, _, _)| name == "kept"),
                "unexpired events stay"
            );
            gone = true;
            break;
        }
        tokio::time::sleep(often).await;
    }
    assert!(gone, "the background task purged the expired events");
    kept.stop().await;
    srv.finish().await;
}

/// One test per backend for a body that needs its own server configuration.
macro_rules! on_both_backends {
    ($name:ident, $run:path) => {
        mod $name {
            use crate::common::{postgres_url, Backend};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $run(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if postgres_url().is_none() {
                    eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: PostgreSQL variant not run");
                    return;
                }
                $run(Backend::Postgres).await;
            }
        }
    };
}

on_both_backends!(
    expired_events_go_in_one_purge_pass,
    super::purge_pass_removes_only_expired
);
on_both_backends!(expired_events_go_in_the_background, super::background_purge);
