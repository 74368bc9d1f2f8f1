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
