//! Token scope and token privileges (issue 17): a `read` token reads and nothing else — no
//! write through either dialect, no token minted, no key revealed; a token never carries more
//! than the credential that created it; an owner cannot lift a token's expiry; and the token
//! routes tell a plain user nothing about accounts it cannot see.

use crate::backend_test;
use crate::common::{Resp, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn created(srv: &TestServer, path: &str, body: Value) -> Value {
    let r = srv.post(path, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text);
    r.body
}

/// A plain user with a non-expiring write token (made by the admin); returns (user, key).
async fn user_with_key(srv: &TestServer, username: &str) -> (Value, String) {
    let user = created(
        srv,
        "/api/v3/core/users/",
        json!({"username": username, "name": username}),
    )
    .await;
    let identifier = format!("{username}-api");
    created(
        srv,
        "/api/v3/core/tokens/",
        json!({"identifier": identifier, "user": user["pk"], "expiring": false}),
    )
    .await;
    let r = srv
        .get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (user, r.body["key"].as_str().expect("key").to_string())
}

async fn as_key(
    srv: &TestServer,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Resp {
    srv.send(method, path, Some(key), body.as_ref()).await
}

/// Makes a token through AWX's `/api/v2/tokens/` with `key`; returns (key, AWX id).
async fn awx_token(srv: &TestServer, key: &str, scope: &str) -> (String, i64) {
    let r = as_key(
        srv,
        key,
        Method::POST,
        "/api/v2/tokens/",
        Some(json!({"scope": scope})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["scope"], scope);
    (
        r.body["token"].as_str().expect("token").to_string(),
        r.body["id"].as_i64().expect("id"),
    )
}

/// How many tokens exist (as the admin).
async fn token_count(srv: &TestServer) -> i64 {
    let r = srv.get("/api/v3/core/tokens/?page_size=1").await;
    r.body["pagination"]["count"].as_i64().expect("count")
}

/// The authentik identifier of the token with this (unique) description, as the admin.
async fn identifier_by_description(srv: &TestServer, description: &str) -> String {
    let r = srv
        .get(&format!("/api/v3/core/tokens/?description={description}"))
        .await;
    assert_eq!(r.body["pagination"]["count"], 1, "{}", r.text);
    r.body["results"][0]["identifier"]
        .as_str()
        .expect("identifier")
        .to_string()
}

// Finding (high): a read token minted write tokens, made personal tokens and read keys.
backend_test!(read_token_mints_nothing_and_reveals_no_key, |srv| {
    let (alice, write_key) = user_with_key(srv, "scope-alice").await;
    let alice_id = alice["pk"].as_i64().expect("pk");
    let r = as_key(
        srv,
        &write_key,
        Method::POST,
        "/api/v2/tokens/",
        Some(json!({"scope": "read", "description": "alice-read"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let read_key = r.body["token"].as_str().expect("token").to_string();
    let read_identifier = identifier_by_description(srv, "alice-read").await;
    let before = token_count(srv).await;

    for (path, body) in [
        ("/api/v2/tokens/".to_string(), json!({"scope": "write"})),
        ("/api/v2/tokens/".to_string(), json!({"scope": "read"})),
        (
            format!("/api/v2/users/{alice_id}/personal_tokens/"),
            json!({"scope": "read"}),
        ),
        (
            format!("/api/v2/users/{alice_id}/tokens/"),
            json!({"scope": "write"}),
        ),
        (
            "/api/v3/core/tokens/".to_string(),
            json!({"identifier": "scope-alice-minted"}),
        ),
    ] {
        let r = as_key(srv, &read_key, Method::POST, &path, Some(body.clone())).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "read token POST {path} {body}: {}",
            r.text
        );
        assert!(
            r.body.get("token").is_none(),
            "no key handed out: {}",
            r.text
        );
    }
    let r = as_key(
        srv,
        &read_key,
        Method::GET,
        &format!("/api/v3/core/tokens/{read_identifier}/view_key/"),
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a read token reveals no key: {}",
        r.text
    );
    assert!(r.body.get("key").is_none());
    assert_eq!(token_count(srv).await, before, "no token was created");
    // It still reads.
    let r = as_key(srv, &read_key, Method::GET, "/api/v2/me/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = as_key(
        srv,
        &read_key,
        Method::GET,
        &format!("/api/v3/core/tokens/{read_identifier}/"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    // A write token may create read and write tokens for itself, and read keys it owns.
    let (minted_write, _) = awx_token(srv, &write_key, "write").await;
    awx_token(srv, &write_key, "read").await;
    let r = as_key(srv, &minted_write, Method::GET, "/api/v2/me/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = as_key(
        srv,
        &write_key,
        Method::GET,
        &format!("/api/v3/core/tokens/{read_identifier}/view_key/"),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body["key"].as_str()),
        (StatusCode::OK, Some(read_key.as_str()))
    );

    // A superuser's read token: no write token for anyone, itself included.
    let (admin_read, _) = awx_token(srv, &srv.token, "read").await;
    let before = token_count(srv).await;
    for (path, body) in [
        ("/api/v2/tokens/".to_string(), json!({"scope": "write"})),
        (
            format!("/api/v2/users/{alice_id}/personal_tokens/"),
            json!({"scope": "write"}),
        ),
        (
            "/api/v3/core/tokens/".to_string(),
            json!({"identifier": "admin-read-minted", "user": alice_id}),
        ),
        (
            "/api/v3/core/users/service_account/".to_string(),
            json!({"name": "scope-sa", "create_group": false}),
        ),
    ] {
        let r = as_key(srv, &admin_read, Method::POST, &path, Some(body.clone())).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "superuser read token POST {path}: {}",
            r.text
        );
    }
    let r = as_key(
        srv,
        &admin_read,
        Method::GET,
        &format!("/api/v3/core/tokens/{read_identifier}/view_key/"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(token_count(srv).await, before);
});

// A write token cannot make a token for someone else (only a superuser's can), through any door.
backend_test!(token_for_someone_else_needs_a_superuser, |srv| {
    let (_alice, alice_key) = user_with_key(srv, "scope-owner-a").await;
    let (bob, _bob_key) = user_with_key(srv, "scope-owner-b").await;
    let bob_id = bob["pk"].as_i64().expect("pk");
    let before = token_count(srv).await;
    for path in [
        format!("/api/v2/users/{bob_id}/personal_tokens/"),
        format!("/api/v2/users/{bob_id}/tokens/"),
    ] {
        let r = as_key(
            srv,
            &alice_key,
            Method::POST,
            &path,
            Some(json!({"scope": "read"})),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{path}: bob is invisible to alice: {}",
            r.text
        );
    }
    assert_eq!(token_count(srv).await, before);
    // authentik's dialect quietly makes the token the caller's own (docs/compatibility.md#tokens).
    let r = as_key(
        srv,
        &alice_key,
        Method::POST,
        "/api/v3/core/tokens/",
        Some(json!({"identifier": "scope-owner-a-for-b", "user": bob_id})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_ne!(r.body["user"], json!(bob_id));
    // A superuser's write token may.
    let r = srv
        .post(
            &format!("/api/v2/users/{bob_id}/personal_tokens/"),
            &json!({"scope": "write"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["user"], json!(bob_id));
});

// Sibling finder: every write route of both dialects, and every secret-revealing read, refuses
// a read token — even a superuser's — and nothing changes.
backend_test!(read_token_is_refused_every_write_route, |srv| {
    let (alice, _) = user_with_key(srv, "scope-walk").await;
    let uid = alice["pk"].as_i64().expect("pk");
    let group = created(
        srv,
        "/api/v3/core/groups/",
        json!({"name": "scope-walk-group"}),
    )
    .await;
    let gid = group["pk"].as_str().expect("pk").to_string();
    let role = created(
        srv,
        "/api/v3/rbac/roles/",
        json!({"name": "scope-walk-role"}),
    )
    .await;
    let rid = role["pk"].as_str().expect("pk").to_string();
    let (read_key, read_awx_id) = awx_token(srv, &srv.token, "read").await;
    let tid = "scope-walk-api";
    let events_before =
        srv.get("/api/v3/events/events/?page_size=1").await.body["pagination"]["count"].clone();

    let write_routes: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/api/v3/core/users/".into(),
            json!({"username": "scope-new", "name": "n"}),
        ),
        (
            Method::PUT,
            format!("/api/v3/core/users/{uid}/"),
            json!({"username": "scope-walk", "name": "x"}),
        ),
        (
            Method::PATCH,
            format!("/api/v3/core/users/{uid}/"),
            json!({"name": "x"}),
        ),
        (
            Method::DELETE,
            format!("/api/v3/core/users/{uid}/"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v3/core/users/{uid}/set_password/"),
            json!({"password": "p4ssword-x"}),
        ),
        (
            Method::POST,
            format!("/api/v3/core/users/{uid}/recovery/"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v3/core/users/{uid}/recovery_email/"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v3/core/users/{uid}/impersonate/"),
            json!({"reason": "x"}),
        ),
        (Method::POST, "/api/v3/core/users/export/".into(), json!({})),
        (
            Method::POST,
            "/api/v3/core/users/service_account/".into(),
            json!({"name": "scope-sa"}),
        ),
        (
            Method::POST,
            "/api/v3/core/groups/".into(),
            json!({"name": "scope-new-group"}),
        ),
        (
            Method::PUT,
            format!("/api/v3/core/groups/{gid}/"),
            json!({"name": "g2"}),
        ),
        (
            Method::PATCH,
            format!("/api/v3/core/groups/{gid}/"),
            json!({"name": "g2"}),
        ),
        (
            Method::DELETE,
            format!("/api/v3/core/groups/{gid}/"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v3/core/groups/{gid}/add_user/"),
            json!({"pk": uid}),
        ),
        (
            Method::POST,
            format!("/api/v3/core/groups/{gid}/remove_user/"),
            json!({"pk": uid}),
        ),
        (
            Method::POST,
            "/api/v3/core/tokens/".into(),
            json!({"identifier": "scope-new-token"}),
        ),
        (
            Method::PUT,
            format!("/api/v3/core/tokens/{tid}/"),
            json!({"identifier": tid, "description": "x"}),
        ),
        (
            Method::PATCH,
            format!("/api/v3/core/tokens/{tid}/"),
            json!({"description": "x"}),
        ),
        (
            Method::DELETE,
            format!("/api/v3/core/tokens/{tid}/"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v3/core/tokens/{tid}/set_key/"),
            json!({"key": "scope-walk-new-key"}),
        ),
        (
            Method::POST,
            "/api/v3/rbac/roles/".into(),
            json!({"name": "scope-new-role"}),
        ),
        (
            Method::PUT,
            format!("/api/v3/rbac/roles/{rid}/"),
            json!({"name": "r2"}),
        ),
        (
            Method::PATCH,
            format!("/api/v3/rbac/roles/{rid}/"),
            json!({"name": "r2"}),
        ),
        (
            Method::DELETE,
            format!("/api/v3/rbac/roles/{rid}/"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v3/rbac/roles/{rid}/add_user/"),
            json!({"pk": uid}),
        ),
        (
            Method::POST,
            format!("/api/v3/rbac/roles/{rid}/remove_user/"),
            json!({"pk": uid}),
        ),
        (
            Method::POST,
            format!("/api/v3/rbac/permissions/assigned_by_roles/{rid}/assign/"),
            json!({"permissions": ["authentik_core.view_user"]}),
        ),
        (
            Method::PATCH,
            format!("/api/v3/rbac/permissions/assigned_by_roles/{rid}/unassign/"),
            json!({"permissions": ["authentik_core.view_user"]}),
        ),
        (
            Method::POST,
            "/api/v2/users/".into(),
            json!({"username": "scope-awx-new", "password": "p"}),
        ),
        (
            Method::PUT,
            format!("/api/v2/users/{uid}/"),
            json!({"username": "scope-walk", "first_name": "x"}),
        ),
        (
            Method::PATCH,
            format!("/api/v2/users/{uid}/"),
            json!({"first_name": "x"}),
        ),
        (Method::DELETE, format!("/api/v2/users/{uid}/"), Value::Null),
        (
            Method::POST,
            "/api/v2/tokens/".into(),
            json!({"scope": "read"}),
        ),
        (
            Method::DELETE,
            format!("/api/v2/tokens/{read_awx_id}/"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v2/users/{uid}/tokens/"),
            json!({"scope": "read"}),
        ),
        (
            Method::POST,
            format!("/api/v2/users/{uid}/personal_tokens/"),
            json!({"scope": "read"}),
        ),
    ];
    for (method, path, body) in &write_routes {
        let body = (!body.is_null()).then(|| body.clone());
        let r = as_key(srv, &read_key, method.clone(), path, body).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "read token {method} {path}: {}",
            r.text
        );
    }
    let r = as_key(
        srv,
        &read_key,
        Method::GET,
        &format!("/api/v3/core/tokens/{tid}/view_key/"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "view_key: {}", r.text);
    // Nothing happened: no event, the objects are as they were, and reads still work.
    let events_after =
        srv.get("/api/v3/events/events/?page_size=1").await.body["pagination"]["count"].clone();
    assert_eq!(
        events_before, events_after,
        "a refused request records nothing"
    );
    for path in [
        format!("/api/v3/core/users/{uid}/"),
        format!("/api/v3/core/groups/{gid}/"),
        format!("/api/v3/rbac/roles/{rid}/"),
        format!("/api/v3/core/tokens/{tid}/"),
    ] {
        let r = as_key(srv, &read_key, Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
    assert_eq!(
        srv.get(&format!("/api/v3/core/users/{uid}/")).await.body["name"],
        "scope-walk"
    );
});

// Finding (low): an owner lifted the expiry of an (expired) app password by making it an api
// token and then non-expiring.
backend_test!(owner_cannot_lift_a_token_expiry, |srv| {
    let (alice, alice_key) = user_with_key(srv, "scope-expiry").await;
    let past = "2000-01-01T00:00:00Z";
    let r = srv.post("/api/v3/core/tokens/", &json!({"identifier": "scope-expiry-app", "intent": "app_password", "user": alice["pk"], "expiring": true, "expires": past})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let app_key = srv
        .get("/api/v3/core/tokens/scope-expiry-app/view_key/")
        .await
        .body["key"]
        .as_str()
        .expect("key")
        .to_string();
    let path = "/api/v3/core/tokens/scope-expiry-app/";
    let r = as_key(
        srv,
        &alice_key,
        Method::PATCH,
        path,
        Some(json!({"intent": "api"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = as_key(
        srv,
        &alice_key,
        Method::PATCH,
        path,
        Some(json!({"expiring": false})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["expiring"], true,
        "the owner's token-expires attribute holds on change"
    );
    let r = as_key(srv, &app_key, Method::GET, "/api/v3/core/users/me/", None).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the expired token stays expired: {}",
        r.text
    );
    // PUT is the same door.
    let r = as_key(
        srv,
        &alice_key,
        Method::PUT,
        path,
        Some(
            json!({"identifier": "scope-expiry-app", "intent": "app_password", "expiring": false}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["expiring"], true);
    // A superuser still may.
    let r = srv.patch(path, &json!({"expiring": false})).await;
    assert_eq!(
        (r.status, r.body["expiring"].clone()),
        (StatusCode::OK, json!(false))
    );
});

// Finding (low): the token routes told a plain user which usernames exist.
backend_test!(token_routes_hide_invisible_users, |srv| {
    let (_alice, alice_key) = user_with_key(srv, "scope-enum-a").await;
    let (bob, _) = user_with_key(srv, "scope-enum-b").await;
    let bob_id = bob["pk"].as_i64().expect("pk");
    for suffix in ["tokens", "personal_tokens"] {
        for method in [Method::GET, Method::POST] {
            let body = (method == Method::POST).then(|| json!({"scope": "read"}));
            let existing = as_key(
                srv,
                &alice_key,
                method.clone(),
                &format!("/api/v2/users/scope-enum-b/{suffix}/"),
                body.clone(),
            )
            .await;
            let by_id = as_key(
                srv,
                &alice_key,
                method.clone(),
                &format!("/api/v2/users/{bob_id}/{suffix}/"),
                body.clone(),
            )
            .await;
            let nobody = as_key(
                srv,
                &alice_key,
                method.clone(),
                &format!("/api/v2/users/scope-nobody/{suffix}/"),
                body.clone(),
            )
            .await;
            assert_eq!(nobody.status, StatusCode::NOT_FOUND);
            for r in [&existing, &by_id] {
                assert_eq!(
                    (r.status, &r.body),
                    (nobody.status, &nobody.body),
                    "{method} …/{suffix}/: an invisible user reads as absent"
                );
            }
        }
        // Oneself and the superusers stay visible (AWX shows them to everyone).
        let r = as_key(
            srv,
            &alice_key,
            Method::GET,
            &format!("/api/v2/users/scope-enum-a/{suffix}/"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = as_key(
            srv,
            &alice_key,
            Method::GET,
            &format!("/api/v2/users/akadmin/{suffix}/"),
            None,
        )
        .await;
        assert_eq!(
            (r.status, r.body["count"].clone()),
            (StatusCode::OK, json!(0)),
            "another user's tokens are never listed"
        );
    }
    // Token identifiers are one namespace: a taken one says so (as authentik), whoever owns it.
    let r = as_key(
        srv,
        &alice_key,
        Method::POST,
        "/api/v3/core/tokens/",
        Some(json!({"identifier": "scope-enum-b-api"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"identifier": ["Token with this identifier already exists."]})
    );
    // …but the token itself stays invisible.
    let r = as_key(
        srv,
        &alice_key,
        Method::GET,
        "/api/v3/core/tokens/scope-enum-b-api/",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

// ------------------------------------------------------------------- property: no escalation

/// A door that makes tokens.
#[derive(Debug, Clone, Copy)]
enum Door {
    /// `POST /api/v2/tokens/`.
    AwxTokens,
    /// `POST /api/v2/users/{creator}/personal_tokens/`.
    AwxPersonalSelf,
    /// `POST /api/v2/users/{other}/personal_tokens/`.
    AwxPersonalOther,
    /// `POST /api/v2/users/{other}/tokens/`.
    AwxUserTokensOther,
    /// `POST /api/v3/core/tokens/` (no `user`).
    CoreSelf,
    /// `POST /api/v3/core/tokens/` with `user` = the other user.
    CoreOther,
}

/// One creation attempt: which known credential tries (an index modulo the pool), through
/// which door, asking for which scope.
#[derive(Debug, Clone)]
struct Attempt {
    creator: usize,
    door: Door,
    scope: &'static str,
}

/// What a credential may do, measured from outside.
#[derive(Debug, Clone, PartialEq)]
struct Rights {
    /// Whose account it acts as.
    owner: i64,
    /// It lists every user (a superuser's, here).
    sees_all_users: bool,
    /// It may change something (an empty PATCH of its own AWX profile).
    may_write: bool,
}

impl Rights {
    /// Whether these rights are within `creator`'s: never another owner unless the creator
    /// could act for everyone, never wider visibility, never a write a reader could not do.
    fn within(&self, creator: &Rights) -> bool {
        let owner_within = self.owner == creator.owner || creator.sees_all_users;
        let visibility_within = creator.sees_all_users || !self.sees_all_users;
        let write_within = creator.may_write || !self.may_write;
        owner_within && visibility_within && write_within
    }
}

async fn rights(srv: &TestServer, key: &str) -> Result<Rights, String> {
    let me = as_key(srv, key, Method::GET, "/api/v3/core/users/me/", None).await;
    let owner = me.body["user"]["pk"]
        .as_i64()
        .ok_or_else(|| format!("me: {} {}", me.status, me.text))?;
    let list = as_key(
        srv,
        key,
        Method::GET,
        "/api/v3/core/users/?page_size=1",
        None,
    )
    .await;
    let edit = as_key(
        srv,
        key,
        Method::PATCH,
        &format!("/api/v2/users/{owner}/"),
        Some(json!({})),
    )
    .await;
    for r in [&list, &edit] {
        if r.status.is_server_error() {
            return Err(format!("{}: {}", r.status, r.text));
        }
    }
    Ok(Rights {
        owner,
        sees_all_users: list.status == StatusCode::OK,
        may_write: edit.status == StatusCode::OK,
    })
}

/// Tries one creation; the new key when a token was made.
async fn attempt(
    srv: &TestServer,
    creator_key: &str,
    creator_owner: i64,
    other: i64,
    step: &Attempt,
    serial: usize,
) -> Result<Option<String>, String> {
    let identifier = format!("prop-token-{serial}-{}", uuid::Uuid::new_v4().simple());
    let awx_body = json!({"scope": step.scope, "description": identifier});
    let (path, body, core) = match step.door {
        Door::AwxTokens => ("/api/v2/tokens/".to_string(), awx_body, false),
        Door::AwxPersonalSelf => (
            format!("/api/v2/users/{creator_owner}/personal_tokens/"),
            awx_body,
            false,
        ),
        Door::AwxPersonalOther => (
            format!("/api/v2/users/{other}/personal_tokens/"),
            awx_body,
            false,
        ),
        Door::AwxUserTokensOther => (format!("/api/v2/users/{other}/tokens/"), awx_body, false),
        Door::CoreSelf => (
            "/api/v3/core/tokens/".to_string(),
            json!({"identifier": identifier, "expiring": false}),
            true,
        ),
        Door::CoreOther => (
            "/api/v3/core/tokens/".to_string(),
            json!({"identifier": identifier, "user": other, "expiring": false}),
            true,
        ),
    };
    let r = as_key(srv, creator_key, Method::POST, &path, Some(body)).await;
    if r.status.is_server_error() {
        return Err(format!("POST {path}: {} {}", r.status, r.text));
    }
    if r.status != StatusCode::CREATED {
        return Ok(None);
    }
    if !core {
        return Ok(r.body["token"].as_str().map(str::to_string));
    }
    // The authentik dialect never returns the key: read it as the admin (a measuring tool).
    let k = srv
        .get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
        .await;
    Ok(k.body["key"].as_str().map(str::to_string))
}

// Property: whatever sequence of creations, through whichever door, from whichever credential
// (superuser or plain, read or write, including tokens made earlier in the sequence), every
// token made has rights within its creator's, and only a credential that may write makes one.
backend_test!(a_token_never_gains_a_privilege_its_creator_lacked, |srv| {
    use proptest::prelude::*;
    use proptest::sample::select;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    let (alice, alice_key) = user_with_key(srv, "prop-alice").await;
    let (bob, _) = user_with_key(srv, "prop-bob").await;
    let alice_id = alice["pk"].as_i64().expect("pk");
    let bob_id = bob["pk"].as_i64().expect("pk");
    let admin_id = srv.get("/api/v3/core/users/me/").await.body["user"]["pk"]
        .as_i64()
        .expect("pk");
    // Read tokens made the legitimate way, by write credentials.
    let (alice_read, _) = awx_token(srv, &alice_key, "read").await;
    let (admin_read, _) = awx_token(srv, &srv.token, "read").await;
    let mut seeds = Vec::new();
    for key in [srv.token.clone(), alice_key, alice_read, admin_read] {
        let r = rights(srv, &key).await.expect("rights");
        seeds.push((key, r));
    }
    assert!(seeds[0].1.may_write && seeds[0].1.sees_all_users);
    assert!(
        !seeds[2].1.may_write && !seeds[3].1.may_write,
        "read tokens measure as readers"
    );

    let door = select(vec![
        Door::AwxTokens,
        Door::AwxPersonalSelf,
        Door::AwxPersonalOther,
        Door::AwxUserTokensOther,
        Door::CoreSelf,
        Door::CoreOther,
    ]);
    let step =
        (0usize..64, door, select(vec!["read", "write"])).prop_map(|(creator, door, scope)| {
            Attempt {
                creator,
                door,
                scope,
            }
        });
    let strategy = proptest::collection::vec(step, 1..6);
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 100,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let serial = std::sync::atomic::AtomicUsize::new(0);
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&strategy, |steps| {
            handle
                .block_on(async {
                    let mut pool = seeds.clone();
                    for step in &steps {
                        let (creator_key, creator) = pool[step.creator % pool.len()].clone();
                        let other = if creator.owner == bob_id {
                            alice_id
                        } else {
                            bob_id
                        };
                        let n = serial.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(key) =
                            attempt(srv, &creator_key, creator.owner, other, step, n).await?
                        else {
                            continue;
                        };
                        if !creator.may_write {
                            return Err(format!("{step:?}: a reader ({creator:?}) made a token"));
                        }
                        let made = rights(srv, &key).await?;
                        if !made.within(&creator) {
                            return Err(format!(
                                "{step:?}: made {made:?} from a creator with {creator:?}"
                            ));
                        }
                        if made.owner == admin_id && creator.owner != admin_id {
                            return Err(format!("{step:?}: a token for the superuser"));
                        }
                        pool.push((key, made));
                    }
                    Ok(())
                })
                .map_err(TestCaseError::fail)
        })
    });
    if let Err(e) = outcome {
        panic!("property failed: {e}");
    }
});
