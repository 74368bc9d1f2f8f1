//! The AWX dialect's cache of rendered users follows every change: a user changed through the
//! authentik dialect, a user made superuser by a group change, a caller whose own rights change,
//! and two callers reading the same cached user each see their own capabilities.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_test;
use crate::common::TestServer;

/// GET through the AWX dialect as `key` (the server's superuser token when `None`).
async fn awx_get(srv: &TestServer, path: &str, key: Option<&str>) -> Value {
    let key = key.unwrap_or(&srv.token);
    let r = srv.send(Method::GET, path, Some(key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    r.body
}

/// A user without permissions and an API key of theirs.
async fn plain_user(srv: &TestServer, username: &str) -> (i64, String) {
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({ "username": username, "name": "Plain" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let pk = r.body["pk"].as_i64().expect("pk");
    let identifier = format!("{username}-key");
    let r = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({ "identifier": identifier, "user": pk, "intent": "api" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = srv
        .get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
        .await;
    (pk, r.body["key"].as_str().expect("key").to_string())
}

fn capabilities(user: &Value) -> Value {
    user["summary_fields"]["user_capabilities"].clone()
}

fn awx_cache_hits(srv: &TestServer) -> u64 {
    srv.state()
        .directory
        .stats()
        .caches
        .iter()
        .find(|(name, _, _)| *name == "awx_rendered_users")
        .map(|(_, hits, _)| *hits)
        .expect("awx_rendered_users is counted")
}

backend_test!(awx_rendered_users_follow_changes_and_callers, |srv| {
    let (target, _) = plain_user(srv, "cached-target").await;
    let (viewer, viewer_key) = plain_user(srv, "cached-viewer").await;
    let detail = format!("/api/v2/users/{target}/");
    let list = "/api/v2/users/?username__startswith=cached-&page_size=100";

    // Read until answered from the cache (a rendering is kept from a user's second read on).
    let hits = awx_cache_hits(srv);
    for _ in 0..3 {
        let user = awx_get(srv, &detail, None).await;
        assert_eq!(user["email"], "");
        assert_eq!(capabilities(&user), json!({"edit": true, "delete": true}));
        awx_get(srv, list, None).await;
    }
    assert!(
        awx_cache_hits(srv) > hits,
        "the AWX reads were served from the cache"
    );

    // A change through the authentik dialect shows at once, in the detail, the list and `me`.
    let r = srv
        .patch(
            &format!("/api/v3/core/users/{target}/"),
            &json!({ "email": "new@example.org" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        awx_get(srv, &detail, None).await["email"],
        "new@example.org"
    );
    let rows = awx_get(srv, list, None).await;
    let row = rows["results"]
        .as_array()
        .and_then(|rows| rows.iter().find(|u| u["id"] == target))
        .cloned()
        .expect("target listed");
    assert_eq!(row["email"], "new@example.org");
    awx_get(srv, "/api/v2/me/", Some(&viewer_key)).await;
    srv.patch(
        &format!("/api/v3/core/users/{viewer}/"),
        &json!({ "email": "viewer@example.org" }),
    )
    .await;
    let me = awx_get(srv, "/api/v2/me/", Some(&viewer_key)).await;
    assert_eq!(me["results"][0]["email"], "viewer@example.org");
    assert_eq!(
        capabilities(&me["results"][0]),
        json!({"edit": true, "delete": false})
    );

    // The viewer sees neither the plain target nor its own rights on it.
    let r = srv
        .send(Method::GET, &detail, Some(&viewer_key), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // A group change makes the target a superuser: every caller sees it now, each with its own
    // capabilities on the same cached user, whichever asks first.
    let admins = srv
        .get("/api/v3/core/groups/?name=authentik%20Admins")
        .await
        .body["results"][0]["pk"]
        .as_str()
        .expect("admins group")
        .to_string();
    let r = srv
        .post(
            &format!("/api/v3/core/groups/{admins}/add_user/"),
            &json!({ "pk": target }),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    for _ in 0..3 {
        let seen = awx_get(srv, &detail, Some(&viewer_key)).await;
        assert_eq!(seen["is_superuser"], true);
        assert_eq!(capabilities(&seen), json!({"edit": false, "delete": false}));
        let seen = awx_get(srv, &detail, None).await;
        assert_eq!(seen["is_superuser"], true);
        assert_eq!(capabilities(&seen), json!({"edit": true, "delete": true}));
    }
    let rows = awx_get(srv, list, Some(&viewer_key)).await;
    let row = rows["results"]
        .as_array()
        .and_then(|rows| rows.iter().find(|u| u["id"] == target))
        .cloned()
        .expect("a superuser is listed for everyone");
    assert_eq!(capabilities(&row), json!({"edit": false, "delete": false}));

    // The viewer's own rights change (made superuser through its groups): its capabilities on
    // the cached target follow.
    let r = srv
        .patch(
            &format!("/api/v3/core/users/{viewer}/"),
            &json!({ "groups": [admins] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let seen = awx_get(srv, &detail, Some(&viewer_key)).await;
    assert_eq!(capabilities(&seen), json!({"edit": true, "delete": true}));

    // Back to a plain user through the authentik dialect: hidden again from a plain caller.
    let r = srv
        .post(
            &format!("/api/v3/core/groups/{admins}/remove_user/"),
            &json!({ "pk": viewer }),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = srv
        .post(
            &format!("/api/v3/core/groups/{admins}/remove_user/"),
            &json!({ "pk": target }),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = srv
        .send(Method::GET, &detail, Some(&viewer_key), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let seen = awx_get(srv, &detail, None).await;
    assert_eq!(seen["is_superuser"], false);
});
