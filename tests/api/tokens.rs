//! `/api/v3/core/tokens/`: samples 29–39 (docs/compatibility.md#authentik-core-samples),
//! deviations 1, 2 and 6, keys, expiry and ownership (docs/compatibility.md#tokens).

use crate::backend_test;
use crate::common::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn create_user(srv: &TestServer, username: &str) -> Value {
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": username, "name": username}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

/// Creates an api token for `user` as the admin and returns its key.
async fn token_for(srv: &TestServer, user: &Value, identifier: &str) -> String {
    let r = srv.post("/api/v3/core/tokens/", &json!({"identifier": identifier, "intent": "api", "user": user["pk"], "expiring": false})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = srv
        .get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.body["key"].as_str().expect("key").to_string()
}

const TOKEN_KEYS: [&str; 9] = [
    "pk",
    "managed",
    "identifier",
    "intent",
    "user",
    "user_obj",
    "description",
    "expires",
    "expiring",
];

// Samples 29, 30, 31, 33, 38.
backend_test!(token_create_and_retrieve, |srv| {
    let alice = create_user(srv, "sample-alice-s1").await;
    let r = srv.post("/api/v3/core/tokens/", &json!({"identifier": "sample-token-s1", "intent": "api", "user": alice["pk"], "description": "sample token", "expiring": true, "expires": "2099-01-01T00:00:00Z"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let t = r.body.clone();
    let keys: Vec<&str> = t
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, TOKEN_KEYS.to_vec());
    assert!(
        t.get("key").is_none(),
        "the key is never in the representation"
    );
    assert_eq!(t["user"], alice["pk"]);
    assert_eq!(t["user_obj"]["username"], "sample-alice-s1");
    assert!(t["managed"].is_null());
    assert!(
        !t["expires"].as_str().unwrap_or("2099").starts_with("2099"),
        "an api token's expiry is not the client's"
    );

    let r = srv.post("/api/v3/core/tokens/", &json!({"identifier": "sample-token-s1-x", "intent": "verification", "user": alice["pk"]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"intent": ["Invalid intent verification"]}));
    let r = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({"identifier": "x", "intent": "bogus"}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"intent": ["\"bogus\" is not a valid choice."]})
    );
    let r = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({"identifier": "sample-token-s1"}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"identifier": ["Token with this identifier already exists."]})
    );
    let r = srv
        .post("/api/v3/core/tokens/", &json!({"identifier": "has space"}))
        .await;
    assert_eq!(
        r.body,
        json!({"identifier": ["Enter a valid \"slug\" consisting of letters, numbers, underscores or hyphens."]})
    );
    let r = srv.post("/api/v3/core/tokens/", &json!({})).await;
    assert_eq!(r.body, json!({"identifier": ["This field is required."]}));

    let r = srv.post("/api/v3/core/tokens/", &json!({"identifier": "sample-token-s1-app", "intent": "app_password", "user": alice["pk"], "description": "app pw"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["intent"], "app_password");
    assert_eq!(r.body["expiring"], true);
    let r = srv.post("/api/v3/core/tokens/", &json!({"identifier": "too-long", "intent": "app_password", "expires": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["expires"][0]
        .as_str()
        .unwrap_or("")
        .starts_with("Token expires exceeds maximum lifetime ("));

    let r = srv.get("/api/v3/core/tokens/sample-token-s1/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, t);
    let r = srv
        .patch(
            "/api/v3/core/tokens/does-not-exist/",
            &json!({"description": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No Token matches the given query."})
    );

    let r = srv.get("/api/v3/core/tokens/?page_size=20").await;
    assert_eq!(r.body["pagination"]["count"], 3);
    assert_eq!(r.body["autocomplete"], json!({}));
    let r = srv.get("/api/v3/core/tokens/?intent=app_password").await;
    assert_eq!(r.body["pagination"]["count"], 1);
    let r = srv
        .get("/api/v3/core/tokens/?user__username=sample-alice-s1")
        .await;
    assert_eq!(r.body["pagination"]["count"], 2);
    let r = srv.get("/api/v3/core/tokens/?search=bootstrap").await;
    assert_eq!(r.body["pagination"]["count"], 1);
});

// Samples 34–37 and 39, with deviations 1 and 2 (samples 34/35 show authentik re-assigning the
// token to the caller and resetting `expires`; gatehouse keeps both).
backend_test!(token_patch_rules, |srv| {
    let alice = create_user(srv, "sample-alice-s1").await;
    let bob = create_user(srv, "sample-bob-s1").await;
    let created = srv.post("/api/v3/core/tokens/", &json!({"identifier": "sample-token-s1", "user": alice["pk"], "description": "sample token"})).await.body;
    let url = "/api/v3/core/tokens/sample-token-s1/";
    let r = srv
        .patch(url, &json!({"description": "changed by PATCH"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["description"], "changed by PATCH");
    assert_eq!(r.body["user"], alice["pk"], "deviation 1: owner kept");
    assert_eq!(
        r.body["expires"], created["expires"],
        "deviation 2: expiry kept"
    );
    let r = srv.patch(url, &json!({"expiring": false})).await;
    assert_eq!(r.body["expiring"], false);
    let r = srv.patch(url, &json!({"user": bob["pk"]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"user": ["User cannot be changed"]}));
    let r = srv.patch(url, &json!({"intent": "recovery"})).await;
    assert_eq!(r.body, json!({"intent": ["Invalid intent recovery"]}));
    let r = srv
        .patch(
            "/api/v3/core/tokens/authentik-bootstrap-token/",
            &json!({"description": "bootstrap token"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["expiring"], false);
    assert_eq!(r.body["user_obj"]["username"], "akadmin");
    let r = srv
        .patch(url, &json!({"identifier": "renamed-token"}))
        .await;
    assert_eq!(r.body["identifier"], "renamed-token");
    assert_eq!(
        srv.get(url).await.status,
        StatusCode::NOT_FOUND,
        "the identifier is the URL"
    );
    let r = srv.delete("/api/v3/core/tokens/renamed-token/").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
});

// Deviation 2: an `expires` the body sends is kept as sent, api tokens included (authentik renews
// it on every write; gatehouse used to renew it when sent, so a client could not expire a token).
// By PATCH with or without `expiring`, and by PUT: the key is then refused, the token still reads.
backend_test!(token_write_keeps_sent_expiry, |srv| {
    let alice = create_user(srv, "alice").await;
    let past = "2020-01-02T03:04:05Z";
    for (identifier, method, body) in [
        (
            "by-patch",
            Method::PATCH,
            json!({"expires": past, "expiring": true}),
        ),
        (
            "by-patch-expires-only",
            Method::PATCH,
            json!({"expires": past}),
        ),
        (
            "by-put",
            Method::PUT,
            json!({"identifier": "by-put", "expires": past, "expiring": true}),
        ),
    ] {
        let r = srv.post("/api/v3/core/tokens/", &json!({"identifier": identifier, "intent": "api", "user": alice["pk"], "expiring": true})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let key = srv
            .get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
            .await
            .body["key"]
            .as_str()
            .expect("key")
            .to_string();
        let me = "/api/v3/core/users/me/";
        let r = srv.send(Method::GET, me, Some(&key), None).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{identifier}: the fresh key works"
        );

        let url = format!("/api/v3/core/tokens/{identifier}/");
        let r = srv.send(method, &url, Some(&srv.token), Some(&body)).await;
        assert_eq!(r.status, StatusCode::OK, "{identifier}: {}", r.text);
        assert_eq!(
            r.body["expires"], past,
            "{identifier}: the sent expiry is kept"
        );
        assert_eq!(r.body["expiring"], true, "{identifier}");
        let r = srv.send(Method::GET, me, Some(&key), None).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{identifier}: the expired key is refused"
        );
        let r = srv.get(&url).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{identifier}: the token stays readable"
        );
        assert_eq!(r.body["expires"], past, "{identifier}");
    }

    // A later expiry is the client's too, and brings the key back.
    let later = "2099-03-04T05:06:07Z";
    let r = srv
        .patch("/api/v3/core/tokens/by-patch/", &json!({"expires": later}))
        .await;
    assert_eq!(r.body["expires"], later);
    let key = srv.get("/api/v3/core/tokens/by-patch/view_key/").await.body["key"]
        .as_str()
        .expect("key")
        .to_string();
    let r = srv
        .send(Method::GET, "/api/v3/core/users/me/", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
});

// Keys: view_key unseals, set_key replaces (deviation 6), old keys stop working at once.
backend_test!(token_keys_authenticate, |srv| {
    let alice = create_user(srv, "alice").await;
    let key = token_for(srv, &alice, "alice-api").await;
    assert_eq!(key.len(), 60);
    let r = srv
        .send(Method::GET, "/api/v3/core/users/me/", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["user"]["username"], "alice");

    let r = srv
        .post(
            "/api/v3/core/tokens/alice-api/set_key/",
            &json!({"key": srv.token}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "deviation 6: a key in use elsewhere is refused"
    );
    assert!(r.body["key"].is_array());
    let r = srv
        .post(
            "/api/v3/core/tokens/alice-api/set_key/",
            &json!({"key": ""}),
        )
        .await;
    assert_eq!(r.body, json!({"key": ["This field may not be blank."]}));
    let r = srv
        .post(
            "/api/v3/core/tokens/alice-api/set_key/",
            &json!({"key": "a-brand-new-key-for-alice-0123456789"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = srv
        .send(Method::GET, "/api/v3/core/users/me/", Some(&key), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the old key stopped working"
    );
    assert_eq!(r.body, json!({"detail": "Token invalid/expired"}));
    let r = srv
        .send(
            Method::GET,
            "/api/v3/core/users/me/",
            Some("a-brand-new-key-for-alice-0123456789"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = srv.get("/api/v3/core/tokens/alice-api/view_key/").await;
    assert_eq!(
        r.body,
        json!({"key": "a-brand-new-key-for-alice-0123456789"})
    );

    // app_password tokens never authenticate as Bearer.
    srv.post(
        "/api/v3/core/tokens/",
        &json!({"identifier": "alice-app", "intent": "app_password", "user": alice["pk"]}),
    )
    .await;
    let app_key = srv
        .get("/api/v3/core/tokens/alice-app/view_key/")
        .await
        .body["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = srv
        .send(Method::GET, "/api/v3/core/users/me/", Some(&app_key), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A deactivated user's token stops working; deleting the user deletes its tokens.
    let url = format!("/api/v3/core/users/{}/", alice["pk"]);
    srv.patch(&url, &json!({"is_active": false})).await;
    let r = srv
        .send(
            Method::GET,
            "/api/v3/core/users/me/",
            Some("a-brand-new-key-for-alice-0123456789"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    srv.delete(&url).await;
    assert_eq!(
        srv.get("/api/v3/core/tokens/alice-api/").await.status,
        StatusCode::NOT_FOUND
    );
});

// A plain user manages exactly their own tokens and nothing else.
backend_test!(plain_user_owns_only_their_tokens, |srv| {
    let bob = create_user(srv, "bob").await;
    let bob_key = token_for(srv, &bob, "bob-api").await;
    let as_bob = |m: Method, path: &str, body: Option<Value>| {
        let key = bob_key.clone();
        let path = path.to_string();
        async move { srv.send(m, &path, Some(&key), body.as_ref()).await }
    };
    // Users and groups: 403 on lists and details.
    assert_eq!(
        as_bob(Method::GET, "/api/v3/core/users/", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_bob(
            Method::GET,
            &format!("/api/v3/core/users/{}/", bob["pk"]),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_bob(Method::GET, "/api/v3/core/groups/", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_bob(
            Method::POST,
            "/api/v3/core/users/",
            Some(json!({"username": "x", "name": "x"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // Tokens: own list only; creating one is forced onto bob, whatever `user` says.
    let r = as_bob(Method::GET, "/api/v3/core/tokens/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["pagination"]["count"], 1);
    let r = as_bob(
        Method::POST,
        "/api/v3/core/tokens/",
        Some(json!({"identifier": "bob-second", "user": 1, "expiring": false})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["user"], bob["pk"]);
    assert_eq!(
        r.body["expiring"], true,
        "forced to the token-expires attribute"
    );
    let r = as_bob(
        Method::GET,
        "/api/v3/core/tokens/bob-second/view_key/",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = as_bob(
        Method::PATCH,
        "/api/v3/core/tokens/bob-second/",
        Some(json!({"description": "mine"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        as_bob(
            Method::POST,
            "/api/v3/core/tokens/bob-second/set_key/",
            Some(json!({"key": "k-0123456789"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // Someone else's token is invisible: 404, not 403.
    for (m, path) in [
        (
            Method::GET,
            "/api/v3/core/tokens/authentik-bootstrap-token/",
        ),
        (
            Method::GET,
            "/api/v3/core/tokens/authentik-bootstrap-token/view_key/",
        ),
        (
            Method::DELETE,
            "/api/v3/core/tokens/authentik-bootstrap-token/",
        ),
    ] {
        let r = as_bob(m, path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = as_bob(Method::DELETE, "/api/v3/core/tokens/bob-second/", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // The admin still sees every token.
    assert_eq!(
        srv.get("/api/v3/core/tokens/").await.body["pagination"]["count"],
        2
    );
    // `me` works for bob, without superuser permissions.
    let r = as_bob(Method::GET, "/api/v3/core/users/me/", None).await;
    assert_eq!(r.body["user"]["is_superuser"], false);
    assert_eq!(r.body["user"]["system_permissions"], json!([]));
});
