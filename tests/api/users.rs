//! `/api/v3/core/users/`: the recorded authentik samples (numbered as in
//! docs/compatibility.md#authentik-core-samples) and the rules of docs/compatibility.md#users.

use crate::backend_test;
use crate::common::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Keys of authentik's `User` representation, in order.
const USER_KEYS: [&str; 20] = [
    "pk",
    "username",
    "name",
    "is_active",
    "last_login",
    "date_joined",
    "is_superuser",
    "groups",
    "groups_obj",
    "roles",
    "roles_obj",
    "email",
    "avatar",
    "attributes",
    "uid",
    "path",
    "type",
    "uuid",
    "password_change_date",
    "last_updated",
];

fn assert_user_shape(user: &Value) {
    let keys: Vec<&str> = user
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, USER_KEYS.to_vec());
    assert!(user["pk"].is_i64());
    assert!(user["avatar"]
        .as_str()
        .unwrap_or("")
        .starts_with("data:image/svg+xml;base64,"));
    assert_eq!(user["uid"].as_str().unwrap_or("").len(), 64);
    assert!(user["date_joined"].as_str().unwrap_or("").ends_with('Z'));
    assert!(user["last_login"].is_null() || user["last_login"].is_string());
}

async fn create(srv: &TestServer, body: Value) -> Value {
    let r = srv.post("/api/v3/core/users/", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

// Sample 01.
backend_test!(create_full_user, |srv| {
    let body = json!({"username": "sample-alice-s1", "name": "Alice Sample", "email": "alice@example.com",
        "is_active": true, "path": "users", "attributes": {"team": "blue", "n": 1}});
    let r = srv.post("/api/v3/core/users/", &body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        r.header("allow").as_deref(),
        Some("GET, POST, HEAD, OPTIONS")
    );
    assert_user_shape(&r.body);
    let u = &r.body;
    assert_eq!(u["username"], "sample-alice-s1");
    assert_eq!(u["name"], "Alice Sample");
    assert_eq!(u["email"], "alice@example.com");
    assert_eq!(u["attributes"], json!({"team": "blue", "n": 1}));
    assert_eq!(u["is_superuser"], false);
    assert_eq!(u["groups"], json!([]));
    assert_eq!(u["groups_obj"], json!([]));
    assert_eq!(u["roles_obj"], json!([]));
    assert_eq!(u["type"], "internal");
    assert_eq!(u["path"], "users");
    // Byte-identical avatar to the recorded one for "Alice Sample".
    assert_eq!(u["avatar"], "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSI2NHB4IiBoZWlnaHQ9IjY0cHgiIHZpZXdCb3g9IjAgMCA2NCA2NCIgdmVyc2lvbj0iMS4xIj48cmVjdCBmaWxsPSIjYzI4ZGIwIiBjeD0iMzIiIGN5PSIzMiIgd2lkdGg9IjY0IiBoZWlnaHQ9IjY0IiByPSIzMiIvPjx0ZXh0IHg9IjUwJSIgeT0iNTAlIiBzdHlsZT0iY29sb3I6ICNmZmY7IGxpbmUtaGVpZ2h0OiAxOyBmb250LWZhbWlseTogJ1JlZEhhdFRleHQnLCdPdmVycGFzcycsb3ZlcnBhc3MsaGVsdmV0aWNhLGFyaWFsLHNhbnMtc2VyaWY7ICIgZmlsbD0iI2ZmZiIgYWxpZ25tZW50LWJhc2VsaW5lPSJtaWRkbGUiIGRvbWluYW50LWJhc2VsaW5lPSJtaWRkbGUiIHRleHQtYW5jaG9yPSJtaWRkbGUiIGZvbnQtc2l6ZT0iMjgiIGZvbnQtd2VpZ2h0PSI0MDAiIGR5PSIuMWVtIj5BUzwvdGV4dD48L3N2Zz4=");
    // Retrieve (sample 12) shows the same object.
    let again = srv.get(&format!("/api/v3/core/users/{}/", u["pk"])).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.header("allow").as_deref(),
        Some("GET, PUT, PATCH, DELETE, HEAD, OPTIONS")
    );
    assert_eq!(&again.body, u);
});

// Samples 02, 03, 04, 05, 06.
backend_test!(create_validation, |srv| {
    let bob = create(srv, json!({"username": "sample-bob-s1", "name": "Bob"})).await;
    assert_eq!(bob["email"], "");
    assert_eq!(bob["attributes"], json!({}));
    assert_eq!(bob["is_active"], true);

    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "sample-bob-s1", "name": "Dup"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"username": ["This field must be unique."]}));

    let r = srv.post("/api/v3/core/users/", &json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.text,
        r#"{"username":["This field is required."],"name":["This field is required."]}"#
    );

    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "sample-carol-s1", "name": "Carol", "path": "/bad/"}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"path": ["No leading or trailing slashes allowed."]})
    );
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "c2", "name": "Carol", "path": "a//b"}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"path": ["No empty segments in user path allowed."]})
    );

    let r = srv.post("/api/v3/core/users/", &json!({"username": "sample-dave-s1", "name": "Dave", "type": "internal_service_account"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"type": ["Setting a user to internal service account is not allowed."]})
    );
});

backend_test!(create_type_and_value_errors, |srv| {
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({
                "username": "john smith", "name": ["x"], "is_active": "maybe", "email": "nope",
                "attributes": [1], "type": "robot", "last_login": "yesterday", "groups": "abc"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({
            "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
            "name": ["Not a valid string."],
            "is_active": ["Must be a valid boolean."],
            "last_login": ["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."],
            "groups": ["Expected a list of items but got type \"str\"."],
            "email": ["Enter a valid email address."],
            "attributes": ["Value must be a dictionary, and not have any duplicate keys."],
            "type": ["\"robot\" is not a valid choice."]
        })
    );
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "x".repeat(151), "name": "x"}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"username": ["Ensure this field has no more than 150 characters."]})
    );
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "   ", "name": "x"}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"username": ["This field may not be blank."]})
    );
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "ok", "name": "x", "groups": ["abc"]}),
        )
        .await;
    assert_eq!(r.body, json!({"groups": ["“abc” is not a valid UUID."]}));
    let missing = uuid::Uuid::new_v4().to_string();
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "ok", "name": "x", "groups": [missing]}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"groups": [format!("Invalid pk \"{missing}\" - object does not exist.")]})
    );
    // Trimmed, numbers coerced to text, booleans in DRF spellings.
    let u = create(srv, json!({"username": "  trimmed  ", "name": 42, "is_active": "no", "last_login": "2026-01-02T03:04:05+01:00"})).await;
    assert_eq!(u["username"], "trimmed");
    assert_eq!(u["name"], "42");
    assert_eq!(u["is_active"], false);
    assert_eq!(u["last_login"], "2026-01-02T02:04:05Z");
    // Nothing was created by the failed attempts.
    let r = srv.get("/api/v3/core/users/?username=ok").await;
    assert_eq!(r.body["pagination"]["count"], 0);
});

// Samples 07, 09, 10, 11, 44.
backend_test!(list_pagination_and_filters, |srv| {
    for i in 0..5 {
        create(srv, json!({"username": format!("bulk-{i:02}"), "name": format!("Bulk {i}"), "path": if i % 2 == 0 { "users/even" } else { "users/odd" }})).await;
    }
    let r = srv.get("/api/v3/core/users/?page_size=20").await;
    assert_eq!(r.status, StatusCode::OK);
    let keys: Vec<&str> = r
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, vec!["pagination", "results", "autocomplete"]);
    assert_eq!(
        r.body["pagination"],
        json!({"next": 0, "previous": 0, "count": 6, "current": 1, "total_pages": 1, "start_index": 1, "end_index": 6})
    );
    assert_eq!(
        r.body["autocomplete"]["current_model"],
        "authentik_core.user"
    );
    assert_eq!(
        r.body["autocomplete"]["models"]["authentik_core.user"]["type"]["options"],
        json!([
            "internal",
            "external",
            "service_account",
            "internal_service_account"
        ])
    );
    for u in r.body["results"].as_array().expect("results") {
        assert_user_shape(u);
    }
    let names: Vec<&str> = r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(
        names,
        vec!["akadmin", "bulk-00", "bulk-01", "bulk-02", "bulk-03", "bulk-04"]
    );

    let r = srv
        .get("/api/v3/core/users/?ordering=-username&page=2&page_size=2")
        .await;
    assert_eq!(
        r.body["pagination"],
        json!({"next": 3, "previous": 1, "count": 6, "current": 2, "total_pages": 3, "start_index": 3, "end_index": 4})
    );
    let names: Vec<&str> = r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, vec!["bulk-02", "bulk-01"]);

    let r = srv
        .get("/api/v3/core/users/?page_size=2&include_groups=false&include_roles=false")
        .await;
    assert_eq!(r.body["pagination"]["next"], 2);
    assert!(r.body["results"][0]["groups_obj"].is_null());
    assert!(r.body["results"][0]["roles_obj"].is_null());
    assert!(r.body["results"][0]["groups"].is_array());
    let r = srv
        .get("/api/v3/core/users/?page_size=2&include_groups=1")
        .await;
    assert!(
        r.body["results"][0]["groups_obj"].is_null(),
        "only the string true enables"
    );

    let r = srv.get("/api/v3/core/users/?page_size=1000").await;
    assert_eq!(r.body["pagination"]["count"], 6);
    let r = srv.get("/api/v3/core/users/?page=9").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Invalid page."}));

    let r = srv.get("/api/v3/core/users/?username=bulk-03").await;
    assert_eq!(r.body["pagination"]["count"], 1);
    let r = srv.get("/api/v3/core/users/?path=users/even").await;
    assert_eq!(r.body["pagination"]["count"], 3);
    let r = srv.get("/api/v3/core/users/?path_startswith=users/").await;
    assert_eq!(r.body["pagination"]["count"], 5);
    let r = srv.get("/api/v3/core/users/?is_superuser=true").await;
    assert_eq!(r.body["pagination"]["count"], 1);
    let r = srv
        .get("/api/v3/core/users/?is_superuser=false&is_active=true")
        .await;
    assert_eq!(r.body["pagination"]["count"], 5);
    let r = srv
        .get("/api/v3/core/users/?type=internal&type=external")
        .await;
    assert_eq!(r.body["pagination"]["count"], 6);
    let r = srv.get("/api/v3/core/users/?type=robot").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"type": ["Select a valid choice. robot is not one of the available choices."]})
    );
    let r = srv.get("/api/v3/core/users/?uuid=zzz").await;
    assert_eq!(r.body, json!({"uuid": ["Enter a valid UUID."]}));
    let r = srv
        .get("/api/v3/core/users/?groups_by_name=authentik%20Admins")
        .await;
    assert_eq!(r.body["pagination"]["count"], 1);
    let r = srv.get("/api/v3/core/users/?groups_by_name=nope").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"groups_by_name": ["Select a valid choice. nope is not one of the available choices."]})
    );
    let r = srv.get("/api/v3/core/users/?last_login__isnull=true").await;
    assert_eq!(r.body["pagination"]["count"], 6);
    let r = srv
        .get("/api/v3/core/users/?date_joined__lt=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(r.body["pagination"]["count"], 0);
    let r = srv
        .get("/api/v3/core/users/?date_joined__gt=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(r.body["pagination"]["count"], 6);
    let r = srv.get("/api/v3/core/users/?date_joined__gt=soon").await;
    assert_eq!(
        r.body,
        json!({"date_joined__gt": ["Enter a valid date/time."]})
    );
});

// Sample 08 and the fallback search (docs/compatibility.md#filtering-search-and-ordering).
backend_test!(search_and_attribute_filters, |srv| {
    create(srv, json!({"username": "sample-alice-s1", "name": "Alice Sample", "email": "alice@example.com", "attributes": {"team": "blue", "n": 1, "nested": {"k": "v"}}})).await;
    create(
        srv,
        json!({"username": "bob", "name": "Bob Builder", "attributes": {"team": "green", "n": 2}}),
    )
    .await;
    let r = srv.get("/api/v3/core/users/?search=sample-alice-s1").await;
    assert_eq!(r.body["pagination"]["count"], 1);
    assert_eq!(r.body["results"][0]["username"], "sample-alice-s1");
    let r = srv.get("/api/v3/core/users/?search=ALICE%20example").await;
    assert_eq!(
        r.body["pagination"]["count"], 1,
        "terms AND, case-insensitive"
    );
    let r = srv
        .get("/api/v3/core/users/?search=%22Bob%20Builder%22")
        .await;
    assert_eq!(r.body["pagination"]["count"], 1, "quoted phrase");
    create(srv, json!({"username": "arger", "name": "Alice Ärger"})).await;
    for q in ["%C3%84rger", "%C3%A4RGER", "alice%20%C3%A4rger"] {
        let r = srv.get(&format!("/api/v3/core/users/?search={q}")).await;
        assert_eq!(
            r.body["pagination"]["count"], 1,
            "Unicode case-insensitive search: {q}"
        );
    }
    let r = srv
        .get("/api/v3/core/users/?search=sample-alice-s1%20Builder")
        .await;
    assert_eq!(r.body["pagination"]["count"], 0, "every term must match");
    let r = srv.get("/api/v3/core/users/?search=%25").await;
    assert_eq!(r.body["pagination"]["count"], 0, "wildcards are literal");
    let r = srv
        .get("/api/v3/core/users/?attributes=%7B%22team%22%3A%22green%22%7D")
        .await;
    assert_eq!(r.body["pagination"]["count"], 1);
    assert_eq!(r.body["results"][0]["username"], "bob");
    let r = srv
        .get("/api/v3/core/users/?attributes=%7B%22n%22%3A1%7D")
        .await;
    assert_eq!(r.body["pagination"]["count"], 1);
    let r = srv
        .get("/api/v3/core/users/?attributes=%7B%22nested__k%22%3A%22v%22%7D")
        .await;
    assert_eq!(r.body["pagination"]["count"], 1);
    let r = srv.get("/api/v3/core/users/?attributes=notjson").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!(["filter: failed to parse JSON"]));
    let r = srv.get("/api/v3/core/users/?attributes=%5B1%5D").await;
    assert_eq!(r.body, json!(["filter: value must be key:value mapping"]));
    let r = srv.get("/api/v3/core/users/paths/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"paths": ["users"]}));
});

// Every advertised ordering works in both directions (deviation 4: is_superuser too).
backend_test!(ordering_by_every_field, |srv| {
    create(srv, json!({"username": "zed", "name": "Zed"})).await;
    for field in [
        "pk",
        "username",
        "name",
        "is_active",
        "last_login",
        "date_joined",
        "is_superuser",
        "groups",
        "roles",
        "email",
        "attributes",
        "path",
        "type",
        "uuid",
        "password_change_date",
        "last_updated",
        "nonsense",
    ] {
        for prefix in ["", "-"] {
            let r = srv
                .get(&format!("/api/v3/core/users/?ordering={prefix}{field}"))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{prefix}{field}: {}", r.text);
            assert_eq!(r.body["pagination"]["count"], 2);
        }
    }
    let r = srv.get("/api/v3/core/users/?ordering=-is_superuser").await;
    assert_eq!(r.body["results"][0]["username"], "akadmin");
    let r = srv.get("/api/v3/core/users/?ordering=is_superuser").await;
    assert_eq!(r.body["results"][0]["username"], "zed");
});

// Samples 17, 18, 19, 20, 21, 40, 41.
backend_test!(update_patch_delete, |srv| {
    let alice = create(
        srv,
        json!({"username": "sample-alice-s1", "name": "Alice", "attributes": {"team": "blue"}}),
    )
    .await;
    create(srv, json!({"username": "sample-bob-s1", "name": "Bob"})).await;
    let url = format!("/api/v3/core/users/{}/", alice["pk"]);

    let r = srv.put(&url, &json!({"username": "sample-alice-s1", "name": "Alice Put", "email": "alice.put@example.com", "is_active": true, "path": "users/put", "attributes": {"team": "red"}, "groups": [], "roles": []})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "Alice Put");
    assert_eq!(r.body["path"], "users/put");
    assert_eq!(r.body["attributes"], json!({"team": "red"}));
    assert_eq!(r.body["date_joined"], alice["date_joined"]);
    assert_eq!(r.body["uid"], alice["uid"]);

    let r = srv.put(&url, &json!({"name": "Only name"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"username": ["This field is required."]}));

    let r = srv.patch(&url, &json!({"name": "Alice Patched"})).await;
    assert_eq!(r.body["name"], "Alice Patched");
    assert_eq!(r.body["email"], "alice.put@example.com");

    let r = srv
        .patch(
            &url,
            &json!({"attributes": {"team": "green", "level": 3}, "is_active": false}),
        )
        .await;
    assert_eq!(r.body["attributes"], json!({"team": "green", "level": 3}));
    assert_eq!(r.body["is_active"], false);

    let r = srv.patch(&url, &json!({"username": "sample-bob-s1"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"username": ["This field must be unique."]}));
    let r = srv
        .patch(&url, &json!({"username": "sample-alice-s1"}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "keeping one's own username is not a conflict"
    );

    let r = srv.delete(&url).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.text, "");
    let r = srv.get(&url).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No User matches the given query."})
    );
    let r = srv.delete(&url).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = srv
        .patch("/api/v3/core/users/99999999/", &json!({"name": "x"}))
        .await;
    assert_eq!(
        r.body,
        json!({"detail": "No User matches the given query."})
    );
});

// Counts by path, active flag and type follow every insert, change and delete (on SQLite they
// are summed from tallies the triggers keep; the listed rows are read from the table itself).
backend_test!(counts_follow_writes, |srv| {
    let filters = [
        "",
        "is_active=true",
        "is_active=false",
        "path=tally/a",
        "path=tally/b&is_active=true",
        "path_startswith=tally/",
        "type=service_account",
        "type=internal&is_active=false",
    ];
    async fn check(srv: &TestServer, filters: &[&str], step: &str) -> Vec<i64> {
        let mut counts = Vec::new();
        for filter in filters {
            let r = srv
                .get(&format!("/api/v3/core/users/?page_size=1000&{filter}"))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{step} {filter}: {}", r.text);
            let listed = r.body["results"].as_array().map_or(0, Vec::len) as i64;
            let count = r.body["pagination"]["count"].as_i64().unwrap_or(-1);
            assert_eq!(count, listed, "{step}: count of ?{filter}");
            counts.push(count);
        }
        counts
    }
    let before = check(srv, &filters, "before").await;
    let mut ids = Vec::new();
    for (i, path) in ["tally/a", "tally/a", "tally/b", "tally/b"]
        .iter()
        .enumerate()
    {
        let user = create(
            srv,
            json!({"username": format!("tally-{i}"), "name": "T", "path": path, "is_active": i % 2 == 0}),
        )
        .await;
        ids.push(user["pk"].clone());
    }
    let created = check(srv, &filters, "created").await;
    assert_eq!(created[0], before[0] + 4);
    assert_eq!(created[3], 2, "two users in tally/a");
    assert_eq!(created[5], 4, "four users under tally/");

    let url = |i: usize| format!("/api/v3/core/users/{}/", ids[i]);
    let r = srv
        .patch(&url(0), &json!({"path": "tally/b", "is_active": false}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .patch(&url(1), &json!({"type": "service_account"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .patch(&url(2), &json!({"name": "unchanged tallies"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let changed = check(srv, &filters, "changed").await;
    assert_eq!(changed[3], 1, "one user left in tally/a");
    assert_eq!(changed[6], before[6] + 1, "one more service account");

    for i in 0..ids.len() {
        let r = srv.delete(&url(i)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(check(srv, &filters, "deleted").await, before);
});

// Samples 27, 28: PUT resets omitted groups, PATCH leaves them (docs/compatibility.md#users).
backend_test!(group_membership_through_users, |srv| {
    let admin = srv.get("/api/v3/core/users/?username=akadmin").await.body["results"][0].clone();
    let admins_group = admin["groups"][0].as_str().expect("group uuid").to_string();
    let bob = create(srv, json!({"username": "sample-bob-s1", "name": "Bob"})).await;
    let url = format!("/api/v3/core/users/{}/", bob["pk"]);
    let r = srv.patch(&url, &json!({"groups": [admins_group]})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["groups"], json!([admins_group]));
    assert_eq!(r.body["groups_obj"][0]["name"], "authentik Admins");
    assert!(r.body["groups_obj"][0]["num_pk"].is_i64());
    assert_eq!(r.body["is_superuser"], true);
    let r = srv.get(&url).await;
    assert_eq!(r.body["groups"], json!([admins_group]));
    let r = srv.patch(&url, &json!({"name": "Bobby"})).await;
    assert_eq!(
        r.body["groups"],
        json!([admins_group]),
        "PATCH leaves groups alone"
    );
    let r = srv
        .put(&url, &json!({"username": "sample-bob-s1", "name": "Bob"}))
        .await;
    assert_eq!(r.body["groups"], json!([]), "PUT resets omitted groups");
    assert_eq!(r.body["is_superuser"], false);
});

// Sample 16 and docs/compatibility.md#newest-generated-clients: `me` for a token client.
backend_test!(me_for_the_caller, |srv| {
    let r = srv.get("/api/v3/core/users/me/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD, OPTIONS"));
    let user = &r.body["user"];
    let keys: Vec<&str> = user
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "pk",
            "username",
            "name",
            "is_active",
            "is_superuser",
            "is_current",
            "groups",
            "roles",
            "email",
            "avatar",
            "uid",
            "settings",
            "type",
            "system_permissions"
        ]
    );
    assert_eq!(user["username"], "akadmin");
    assert_eq!(user["is_superuser"], true);
    assert_eq!(user["is_current"], true);
    assert_eq!(user["groups"][0]["name"], "authentik Admins");
    assert!(user["groups"][0]["pk"].is_string());
    assert_eq!(user["settings"], json!({}));
    assert!(user["system_permissions"]
        .as_array()
        .expect("list")
        .iter()
        .any(|p| p == "access_admin_interface"));
    assert_eq!(r.body["users"], json!([user.clone()]));
    assert!(r.body.get("original").is_none());
});

backend_test!(set_password_rules, |srv| {
    let u = create(srv, json!({"username": "pw-user", "name": "PW"})).await;
    let url = format!("/api/v3/core/users/{}/set_password/", u["pk"]);
    let r = srv.post(&url, &json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"password": ["This field is required."]}));
    let r = srv.post(&url, &json!({"password": ""})).await;
    assert_eq!(
        r.body,
        json!({"password": ["This field may not be blank."]})
    );
    let r = srv
        .post(&url, &json!({"password": "correct horse battery staple"}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.text, "");
    let after = srv
        .get(&format!("/api/v3/core/users/{}/", u["pk"]))
        .await
        .body;
    assert_ne!(after["password_change_date"], u["password_change_date"]);
    let r = srv
        .post(
            "/api/v3/core/users/99999999/set_password/",
            &json!({"password": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = srv
        .send(Method::POST, &url, None, Some(&json!({"password": "x"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
});

#[allow(dead_code)]
fn _uses(_: &TestServer) {}

// Samples 42, 43 and 44 at a smaller scale: pages of 100 over a few hundred users.
backend_test!(pages_of_one_hundred, |srv| {
    for i in 0..204 {
        let r = srv
            .post(
                "/api/v3/core/users/",
                &json!({"username": format!("bulk-user-{i:05}"), "name": format!("Bulk {i}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = srv.get("/api/v3/core/users/?page_size=100").await;
    assert_eq!(
        r.body["pagination"],
        json!({"next": 2, "previous": 0, "count": 205, "current": 1, "total_pages": 3, "start_index": 1, "end_index": 100})
    );
    assert_eq!(r.body["results"].as_array().map(Vec::len), Some(100));
    assert_eq!(r.body["results"][0]["username"], "akadmin");
    let r = srv.get("/api/v3/core/users/?page_size=100&page=3").await;
    assert_eq!(
        r.body["pagination"],
        json!({"next": 0, "previous": 2, "count": 205, "current": 3, "total_pages": 3, "start_index": 201, "end_index": 205})
    );
    assert_eq!(r.body["results"][4]["username"], "bulk-user-00203");
    let r = srv.get("/api/v3/core/users/?page_size=1000&page=2").await;
    assert_eq!(
        r.body["pagination"]["start_index"], 101,
        "page_size is clamped to 100"
    );
    let r = srv.get("/api/v3/core/users/?page_size=100&page=4").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

// Service accounts answer 200 with the app password; it is no Bearer key
// (docs/compatibility.md#user-actions).
backend_test!(service_account_creation, |srv| {
    let r = srv
        .post(
            "/api/v3/core/users/service_account/",
            &json!({"name": "ci-bot", "create_group": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let keys: Vec<&str> = r
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec!["username", "user_uid", "user_pk", "token", "group_pk"]
    );
    assert_eq!(r.body["username"], "ci-bot");
    let key = r.body["token"].as_str().expect("token").to_string();
    assert_eq!(key.len(), 60);
    let user = srv
        .get(&format!("/api/v3/core/users/{}/", r.body["user_pk"]))
        .await
        .body;
    assert_eq!(user["type"], "service_account");
    assert_eq!(user["path"], "goauthentik.io/service-accounts");
    assert_eq!(
        user["attributes"],
        json!({"goauthentik.io/user/token-expires": true})
    );
    assert_eq!(user["uid"], r.body["user_uid"]);
    assert_eq!(user["groups"], json!([r.body["group_pk"]]));
    let token = srv
        .get("/api/v3/core/tokens/service-account-ci-bot-password/")
        .await
        .body;
    assert_eq!(token["intent"], "app_password");
    let r2 = srv
        .send(Method::GET, "/api/v3/core/users/me/", Some(&key), None)
        .await;
    assert_eq!(
        r2.status,
        StatusCode::FORBIDDEN,
        "app passwords never authenticate as Bearer"
    );

    let r = srv
        .post(
            "/api/v3/core/users/service_account/",
            &json!({"name": "ci-bot"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field must be unique."]}));
    let r = srv
        .post(
            "/api/v3/core/users/service_account/",
            &json!({"name": "other", "create_group": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Usernames are unique under ASCII case folding (deviation 13): `Other` is taken.
    let r = srv
        .post(
            "/api/v3/core/users/service_account/",
            &json!({"name": "Other", "create_group": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field must be unique."]}));
    // A free username whose token identifier slugifies to a taken one.
    let r = srv
        .post(
            "/api/v3/core/users/service_account/",
            &json!({"name": "other.", "create_group": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "token identifier clash");
    assert_eq!(
        r.body,
        json!({"non_field_errors": ["A user/group with these details already exists"]})
    );
    let r = srv
        .post("/api/v3/core/users/service_account/", &json!({}))
        .await;
    assert_eq!(r.body, json!({"name": ["This field is required."]}));
    let r = srv
        .post(
            "/api/v3/core/users/service_account/",
            &json!({"name": "no-group", "expiring": false}),
        )
        .await;
    assert!(r.body.get("group_pk").is_none());
});

// Plain search on SQLite asks the trigram index for the rarest few trigrams of a term only
// (`store::search`); the LIKE keeps the answer exact whichever were chosen.
backend_test!(search_index_lookups_stay_exact, |srv| {
    for (username, name) in [
        ("zq-omega-771", "Omega Seven"),
        ("zq-omega-772", "Omega Seven"),
        ("omega-zq", "Zq Reversed"),
        ("aaaa-repeat", "Aaaaaa"),
    ] {
        create(srv, json!({"username": username, "name": name})).await;
    }
    let usernames = |q: &str| {
        let url = format!(
            "/api/v3/core/users/?search={}&ordering=username",
            percent_encode(q)
        );
        async move {
            let r = srv.get(&url).await;
            assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
            r.body["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|u| u["username"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        usernames("zq-omega-77").await,
        ["zq-omega-771", "zq-omega-772"]
    );
    assert_eq!(usernames("ZQ-OMEGA-772").await, ["zq-omega-772"]);
    // Every trigram of "ega-zq" is in some user, but only one holds them in this order.
    assert_eq!(usernames("ega-zq").await, ["omega-zq"]);
    assert_eq!(
        usernames("aaaaa").await,
        ["aaaa-repeat"],
        "a repeated trigram counts once"
    );
    // A term spanning two fields matches nothing, though each half matches a field.
    assert!(usernames("zq-omega-771omega seven").await.is_empty());
    // A trigram counted absent is remembered for a while; a user created afterwards with it
    // must still be found.
    assert!(usernames("xjw-late").await.is_empty());
    create(srv, json!({"username": "xjw-late-user", "name": "Late"})).await;
    assert_eq!(usernames("xjw-late").await, ["xjw-late-user"]);

    // Terms holding a word start (letters or digits after a separator) may be looked up in the
    // word index: the word may go on past the term, and the term may begin inside a word.
    assert_eq!(
        usernames("-omega-77").await,
        ["zq-omega-771", "zq-omega-772"]
    );
    assert_eq!(usernames("a-rep").await, ["aaaa-repeat"]);
    assert_eq!(usernames("q-omega-771").await, ["zq-omega-771"]);
    assert!(usernames("q-omega-7710").await.is_empty());
    create(
        srv,
        json!({"username": "wq-mail", "name": "Mail", "email": "first.last@corp-x.example"}),
    )
    .await;
    assert_eq!(usernames("t.last@corp").await, ["wq-mail"]);
    assert_eq!(usernames("@CORP-X.EXA").await, ["wq-mail"]);
    // Every trigram of "x-kqzv" is in three users, the word start "kqzv" in two: the word
    // index is asked, and the LIKE still decides.
    for username in [
        "x-kq1",
        "x-kq2",
        "1kqzv",
        "2kqzv",
        "y-kqzvw",
        "x-kqzv-target",
    ] {
        create(srv, json!({"username": username, "name": "N"})).await;
    }
    assert_eq!(usernames("x-kqzv").await, ["x-kqzv-target"]);
    assert_eq!(usernames("-kqzv").await, ["x-kqzv-target", "y-kqzvw"]);
    // A word start counted absent is remembered for a while; the lookup itself is live.
    assert!(usernames("-latecomer9").await.is_empty());
    create(srv, json!({"username": "zz-latecomer9x", "name": "Later"})).await;
    assert_eq!(usernames("-latecomer9").await, ["zz-latecomer9x"]);
    let r = srv
        .patch(
            &format!(
                "/api/v3/core/users/{}/",
                user_id(srv, "zz-latecomer9x").await
            ),
            &json!({"username": "zz-renamed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        usernames("-latecomer9").await.is_empty(),
        "old words leave the index"
    );
    assert_eq!(usernames("z-renamed").await, ["zz-renamed"]);
});

async fn user_id(srv: &TestServer, username: &str) -> i64 {
    let r = srv
        .get(&format!("/api/v3/core/users/?username={username}"))
        .await;
    r.body["results"][0]["pk"].as_i64().unwrap_or(-1)
}

// `search` is parsed as a DjangoQL expression first, with plain search as the fallback
// (docs/compatibility.md#djangoql-search).
backend_test!(structured_search, |srv| {
    create(
        srv,
        json!({"username": "green-1", "name": "Green One", "attributes": {"team": "green"}}),
    )
    .await;
    create(srv, json!({"username": "green-2", "name": "Green Two", "is_active": false, "attributes": {"team": "green"}})).await;
    create(srv, json!({"username": "blue-1", "name": "Blue One", "email": "b@example.com", "attributes": {"team": "blue"}})).await;
    let count = |q: &str| {
        let url = format!("/api/v3/core/users/?search={}", percent_encode(q));
        async move { srv.get(&url).await.body["pagination"]["count"].clone() }
    };
    assert_eq!(
        count(r#"username = "green-1" and is_active = True"#).await,
        1
    );
    assert_eq!(count(r#"attributes.team = "green""#).await, 2);
    assert_eq!(
        count(r#"attributes.team = "green" and is_active = False"#).await,
        1
    );
    assert_eq!(
        count(r#"name ~ "one" or email ~ "example.com""#).await,
        3,
        "akadmin's e-mail is at example.com too"
    );
    assert_eq!(
        count(r#"(username = "blue-1" or username = "green-2") and is_active = True"#).await,
        1
    );
    assert_eq!(count(r#"username in ("blue-1", "green-1")"#).await, 2);
    assert_eq!(
        count(r#"type = "internal" and username not startswith "green""#).await,
        2
    );
    assert_eq!(count("green").await, 2, "a bare word is plain search");
    assert_eq!(
        count(r#"username = "#).await,
        0,
        "unparseable text falls back to plain search"
    );
    let r = srv.get("/api/v3/core/groups/?search=name%20%3D%20%22authentik%20Admins%22%20and%20is_superuser%20%3D%20True").await;
    assert_eq!(r.body["pagination"]["count"], 1);
});

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A user and an API key of theirs.
async fn user_with_key(srv: &TestServer, username: &str) -> (i64, String) {
    let user = create(srv, json!({"username": username, "name": username})).await;
    let identifier = format!("{username}-key");
    let r = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({"identifier": identifier, "user": user["pk"], "expiring": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let key = srv
        .get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
        .await
        .body["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (user["pk"].as_i64().unwrap_or_default(), key)
}

// The actions gatehouse has no feature behind answer as a fresh authentik (no recovery flow,
// impersonation disabled, no enterprise licence) — never a route 404
// (docs/compatibility.md#user-actions).
backend_test!(actions_without_a_feature_answer_as_fresh_authentik, |srv| {
    let nomail = create(srv, json!({"username": "nomail", "name": "No Mail"})).await;
    let nomail = nomail["pk"].as_i64().unwrap_or_default();
    let stage = json!({"email_stage": "7f193d74-aedd-4850-865d-14793f8ddc14"});
    let no_flow = json!({"non_field_errors": "No recovery flow set."});

    let r = srv.post("/api/v3/core/users/1/recovery/", &json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body, no_flow,
        "a bare string, as authentik's view raises it"
    );
    let r = srv
        .send(
            Method::POST,
            "/api/v3/core/users/1/recovery/",
            Some(&srv.token),
            None,
        )
        .await;
    assert_eq!((r.status, &r.body), (StatusCode::BAD_REQUEST, &no_flow));
    let r = srv
        .post(
            "/api/v3/core/users/1/recovery/",
            &json!({"token_duration": ""}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"token_duration": ["This field may not be blank."]})
    );
    let r = srv
        .post("/api/v3/core/users/999999/recovery/", &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No User matches the given query."})
    );
    let r = srv
        .post("/api/v3/core/users/abc/recovery/", &json!({}))
        .await;
    assert_eq!(r.body, json!({"detail": "Not found."}));

    let r = srv
        .post("/api/v3/core/users/1/recovery_email/", &json!({}))
        .await;
    assert_eq!(r.body, json!({"email_stage": ["This field is required."]}));
    let r = srv
        .post(
            "/api/v3/core/users/1/recovery_email/",
            &json!({"email_stage": "stage", "token_duration": []}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"token_duration": ["Not a valid string."], "email_stage": ["Must be a valid UUID."]})
    );
    let r = srv
        .post(
            &format!("/api/v3/core/users/{nomail}/recovery_email/"),
            &stage,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"non_field_errors": "User does not have an email address set."})
    );
    let r = srv
        .post("/api/v3/core/users/1/recovery_email/", &stage)
        .await;
    assert_eq!((r.status, &r.body), (StatusCode::BAD_REQUEST, &no_flow));

    // Impersonation disabled: 401 with an empty body, after the lookup and the permission.
    let r = srv
        .post(
            &format!("/api/v3/core/users/{nomail}/impersonate/"),
            &json!({"reason": "support"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.text, "");
    assert_eq!(r.header("www-authenticate"), None);
    let r = srv
        .post("/api/v3/core/users/999999/impersonate/", &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = srv.get("/api/v3/core/users/impersonate_end/").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.text, "");
    assert_eq!(r.header("content-type"), None);

    let r = srv.post("/api/v3/core/users/export/", &json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"non_field_errors": ["Enterprise is required to create/update this object."]})
    );
    let r = srv
        .send(
            Method::OPTIONS,
            "/api/v3/core/users/export/",
            Some(&srv.token),
            None,
        )
        .await;
    assert_eq!(r.header("allow").as_deref(), Some("POST, OPTIONS"));

    // A plain user: permissions first (403), impersonate_end for anyone signed in.
    let (_, key) = user_with_key(srv, "plain-actions").await;
    for (method, path) in [
        (Method::POST, "/api/v3/core/users/1/recovery/".to_string()),
        (Method::POST, "/api/v3/core/users/1/recovery_email/".into()),
        (
            Method::POST,
            format!("/api/v3/core/users/{nomail}/impersonate/"),
        ),
        (Method::POST, "/api/v3/core/users/export/".into()),
        (Method::GET, "/api/v3/core/users/1/used_by/".into()),
    ] {
        let r = srv
            .send(method.clone(), &path, Some(&key), Some(&stage))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        let r = srv.send(method, &path, None, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "anonymous {path}");
    }
    let r = srv
        .send(
            Method::GET,
            "/api/v3/core/users/impersonate_end/",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = srv
        .send(
            Method::GET,
            "/api/v3/core/users/impersonate_end/",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
});

// `used_by` of a user: its groups and roles (memberships) and its tokens (deleted with it), each
// only when the caller may view it; names as authentik's `str()` of each object.
backend_test!(user_used_by_lists_what_references_the_user, |srv| {
    let (pk, _) = user_with_key(srv, "used-by").await;
    let group = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "used-by-group", "users": [pk]}),
        )
        .await
        .body;
    let role = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "used-by-role"}))
        .await
        .body;
    let r = srv
        .post(
            &format!(
                "/api/v3/rbac/roles/{}/add_user/",
                role["pk"].as_str().unwrap_or_default()
            ),
            &json!({"pk": pk}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let expiring = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({"identifier": "used-by-expiring", "user": pk}),
        )
        .await
        .body;
    let key_token = srv.get("/api/v3/core/tokens/used-by-key/").await.body;

    let r = srv.get(&format!("/api/v3/core/users/{pk}/used_by/")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.body.as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 4, "{}", r.text);
    assert_eq!(
        items[0],
        json!({"app": "authentik_core", "model_name": "group", "pk": group["pk"],
               "name": "Group used-by-group", "action": "cascade_many"})
    );
    assert_eq!(
        items[1],
        json!({"app": "authentik_rbac", "model_name": "role", "pk": role["pk"],
               "name": "Role used-by-role", "action": "cascade_many"})
    );
    // Tokens by identifier; an expiring one shows Python's str() of its expiry.
    assert_eq!(items[2]["pk"], expiring["pk"]);
    let name = items[2]["name"].as_str().unwrap_or_default();
    assert!(
        name.starts_with("used-by-expiring (expires=") && name.ends_with("+00:00)"),
        "{name}"
    );
    assert_eq!(
        items[3],
        json!({"app": "authentik_core", "model_name": "token", "pk": key_token["pk"],
               "name": "used-by-key", "action": "cascade"})
    );

    // A caller who may view users but not groups, roles or tokens sees none of them.
    let (viewer, viewer_key) = user_with_key(srv, "used-by-viewer").await;
    let viewer_role = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "user-viewers"}))
        .await
        .body["pk"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = srv
        .post(
            &format!("/api/v3/rbac/permissions/assigned_by_roles/{viewer_role}/assign/"),
            &json!({"permissions": ["authentik_core.view_user"]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    srv.post(
        &format!("/api/v3/rbac/roles/{viewer_role}/add_user/"),
        &json!({"pk": viewer}),
    )
    .await;
    let r = srv
        .send(
            Method::GET,
            &format!("/api/v3/core/users/{pk}/used_by/"),
            Some(&viewer_key),
            None,
        )
        .await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!([])));

    let r = srv.get("/api/v3/core/users/999999/used_by/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

// A user read again and again (served from the caches of users and of their renderings) follows
// every change: its own, through either dialect, and its group's.
backend_test!(repeated_reads_follow_changes, |srv| {
    let group = srv
        .post("/api/v3/core/groups/", &json!({"name": "reread-team"}))
        .await
        .body;
    let user = create(
        srv,
        json!({"username": "reread", "name": "Before", "groups": [group["pk"]]}),
    )
    .await;
    let url = format!("/api/v3/core/users/{}/", user["pk"]);
    async fn read_thrice(srv: &TestServer, url: &str) -> Value {
        let first = srv.get(url).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        for _ in 0..2 {
            assert_eq!(
                srv.get(url).await.body,
                first.body,
                "same bytes from the caches"
            );
        }
        first.body
    }
    assert_eq!(read_thrice(srv, &url).await["name"], "Before");
    let r = srv.patch(&url, &json!({"name": "After"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(read_thrice(srv, &url).await, r.body);

    let awx = srv
        .patch(
            &format!("/api/v2/users/{}/", user["pk"]),
            &json!({"email": "reread@example.com"}),
        )
        .await;
    assert_eq!(awx.status, StatusCode::OK, "{}", awx.text);
    assert_eq!(read_thrice(srv, &url).await["email"], "reread@example.com");

    let group_url = format!(
        "/api/v3/core/groups/{}/",
        group["pk"].as_str().unwrap_or("")
    );
    let r = srv
        .patch(&group_url, &json!({"name": "reread-renamed"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        read_thrice(srv, &url).await["groups_obj"][0]["name"],
        "reread-renamed"
    );
    let plain = read_thrice(srv, &format!("{url}?include_groups=false")).await;
    assert!(
        plain.get("groups_obj").is_none_or(Value::is_null),
        "{plain}"
    );
    assert_eq!(plain["groups"], json!([group["pk"]]));

    assert_eq!(srv.delete(&url).await.status, StatusCode::NO_CONTENT);
    assert_eq!(srv.get(&url).await.status, StatusCode::NOT_FOUND);
});
