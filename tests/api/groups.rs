//! `/api/v3/core/groups/`: samples 22–26 and 46 (docs/compatibility.md#authentik-core-samples),
//! the hierarchy rules (deviation 5), membership (docs/compatibility.md#groups).

use crate::backend_test;
use crate::common::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

const GROUP_KEYS: [&str; 14] = [
    "pk",
    "num_pk",
    "name",
    "is_superuser",
    "parents",
    "parents_obj",
    "users",
    "users_obj",
    "attributes",
    "roles",
    "roles_obj",
    "inherited_roles_obj",
    "children",
    "children_obj",
];

fn assert_group_shape(g: &Value) {
    let keys: Vec<&str> = g
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, GROUP_KEYS.to_vec());
    assert!(g["num_pk"].is_i64());
}

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

async fn create_group(srv: &TestServer, body: Value) -> Value {
    let r = srv.post("/api/v3/core/groups/", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

// Samples 22, 23, 25, 26, 46.
backend_test!(group_crud_samples, |srv| {
    let alice = create_user(srv, "sample-alice-s1").await;
    let r = srv.post("/api/v3/core/groups/", &json!({"name": "sample-group-s1", "is_superuser": false, "attributes": {"k": "v"}, "users": [alice["pk"]]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let g = r.body.clone();
    assert_group_shape(&g);
    assert_eq!(g["name"], "sample-group-s1");
    assert_eq!(g["parents"], json!([]));
    assert!(g["parents_obj"].is_null());
    assert_eq!(g["users"], json!([alice["pk"]]));
    assert_eq!(g["users_obj"][0]["username"], "sample-alice-s1");
    assert_eq!(g["users_obj"][0]["uid"], alice["uid"]);
    let partial_keys: Vec<&str> = g["users_obj"][0]
        .as_object()
        .expect("obj")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        partial_keys,
        vec![
            "pk",
            "username",
            "name",
            "is_active",
            "last_login",
            "email",
            "attributes",
            "uid"
        ]
    );
    assert_eq!(g["roles_obj"], json!([]));
    assert!(g["inherited_roles_obj"].is_null());
    assert_eq!(g["children"], json!([]));
    assert!(g["children_obj"].is_null());

    let r = srv
        .post("/api/v3/core/groups/", &json!({"name": "sample-group-s1"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"name": ["Group with this name already exists."]})
    );

    let url = format!("/api/v3/core/groups/{}/", g["pk"].as_str().expect("uuid"));
    let r = srv.get(&url).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, g);
    let r = srv.patch(&url, &json!({"attributes": {"k": "v2"}})).await;
    assert_eq!(r.body["attributes"], json!({"k": "v2"}));
    assert_eq!(r.body["users"], json!([alice["pk"]]), "PATCH keeps members");

    let r = srv.get("/api/v3/core/groups/").await;
    assert_eq!(r.body["pagination"]["count"], 2);
    assert_eq!(r.body["results"][0]["name"], "authentik Admins");
    assert_eq!(
        r.body["autocomplete"]["current_model"],
        "authentik_core.group"
    );

    let user = srv
        .get(&format!("/api/v3/core/users/{}/", alice["pk"]))
        .await
        .body;
    assert_eq!(user["groups"], json!([g["pk"]]));
    assert_eq!(user["groups_obj"][0]["num_pk"], g["num_pk"]);

    let r = srv.put(&url, &json!({"name": "renamed"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["users"], json!([]), "PUT resets omitted users");
    let r = srv.delete(&url).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = srv.get(&url).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No Group matches the given query."})
    );
    let r = srv.get("/api/v3/core/groups/not-a-uuid/").await;
    assert_eq!(r.body, json!({"detail": "Not found."}));
});

// Deviation 5 and superuser status through ancestors.
backend_test!(hierarchy_rules, |srv| {
    let admins = srv
        .get("/api/v3/core/groups/?name=authentik%20Admins")
        .await
        .body["results"][0]["pk"]
        .clone();
    let a = create_group(srv, json!({"name": "a", "parents": [admins]})).await;
    let b = create_group(srv, json!({"name": "b", "parents": [a["pk"]]})).await;
    let c = create_group(srv, json!({"name": "c"})).await;
    let d = create_group(srv, json!({"name": "d", "parents": [b["pk"], c["pk"]]})).await;
    assert_eq!(d["parents"].as_array().map(Vec::len), Some(2));

    let url = |g: &Value| {
        format!(
            "/api/v3/core/groups/{}/",
            g["pk"].as_str().unwrap_or_default()
        )
    };
    let r = srv.patch(&url(&a), &json!({"parents": [a["pk"]]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"parents": ["A group cannot be its own parent."]})
    );
    let r = srv.patch(&url(&a), &json!({"parents": [d["pk"]]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["parents"][0]
        .as_str()
        .unwrap_or("")
        .contains("cycle"));

    let r = srv
        .get(&format!(
            "{}?include_parents=true&include_children=true",
            url(&b)
        ))
        .await;
    assert_eq!(r.body["parents_obj"][0]["name"], "a");
    assert_eq!(r.body["parents_obj"][0]["group_uuid"], a["pk"]);
    assert_eq!(r.body["children_obj"][0]["name"], "d");
    assert_eq!(r.body["children"], json!([d["pk"]]));

    // A member of d is a superuser through d → b → a → authentik Admins.
    let user = create_user(srv, "deep").await;
    let r = srv
        .post(&format!("{}add_user/", url(&d)), &json!({"pk": user["pk"]}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let u = srv
        .get(&format!("/api/v3/core/users/{}/", user["pk"]))
        .await
        .body;
    assert_eq!(u["is_superuser"], true);
    // …but the users list filter is_superuser checks direct membership only
    // (docs/compatibility.md#filtering-search-and-ordering).
    let r = srv
        .get("/api/v3/core/users/?is_superuser=true&username=deep")
        .await;
    assert_eq!(r.body["pagination"]["count"], 0);
    // Its own token would now pass superuser checks; the `me` groups include every ancestor.
    let r = srv
        .post(
            &format!("{}remove_user/", url(&d)),
            &json!({"pk": user["pk"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let u = srv
        .get(&format!("/api/v3/core/users/{}/", user["pk"]))
        .await
        .body;
    assert_eq!(u["is_superuser"], false);

    let r = srv.post(&format!("{}add_user/", url(&d)), &json!({})).await;
    assert_eq!(r.body, json!({"pk": ["This field is required."]}));
    let r = srv
        .post(&format!("{}add_user/", url(&d)), &json!({"pk": 99999999}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not found."}));
    let r = srv.get(&format!("{}used_by/", url(&d))).await;
    assert_eq!(r.body, json!([]));
});

backend_test!(group_filters_and_validation, |srv| {
    let u = create_user(srv, "member").await;
    create_group(
        srv,
        json!({"name": "Blue Team", "users": [u["pk"]], "attributes": {"color": "blue"}}),
    )
    .await;
    create_group(srv, json!({"name": "red", "is_superuser": true})).await;
    let count = |r: &crate::common::Resp| r.body["pagination"]["count"].as_i64().unwrap_or(-1);
    assert_eq!(count(&srv.get("/api/v3/core/groups/?name=red").await), 1);
    assert_eq!(
        count(&srv.get("/api/v3/core/groups/?is_superuser=true").await),
        2
    );
    assert_eq!(
        count(
            &srv.get(&format!("/api/v3/core/groups/?members_by_pk={}", u["pk"]))
                .await
        ),
        1
    );
    assert_eq!(
        count(
            &srv.get("/api/v3/core/groups/?members_by_username=member")
                .await
        ),
        1
    );
    assert_eq!(count(&srv.get("/api/v3/core/groups/?search=team").await), 1);
    assert_eq!(
        count(
            &srv.get("/api/v3/core/groups/?attributes=%7B%22color%22%3A%22blue%22%7D")
                .await
        ),
        1
    );
    let r = srv
        .get("/api/v3/core/groups/?members_by_username=ghost")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"members_by_username": ["Select a valid choice. ghost is not one of the available choices."]})
    );
    let r = srv.get("/api/v3/core/groups/?ordering=-name").await;
    assert_eq!(r.body["results"][0]["name"], "red");
    for field in [
        "pk",
        "name",
        "is_superuser",
        "parents",
        "users",
        "attributes",
        "roles",
        "children",
    ] {
        let r = srv
            .get(&format!("/api/v3/core/groups/?ordering=-{field}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{field}");
    }
    let r = srv.get("/api/v3/core/groups/?include_users=false").await;
    assert!(r.body["results"][0]["users_obj"].is_null());

    let r = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "", "users": ["x"], "parents": ["nope"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({
            "name": ["This field may not be blank."],
            "parents": ["“nope” is not a valid UUID."],
            "users": ["Incorrect type. Expected pk value, received str."]
        })
    );
    let r = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "x", "users": [99999]}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"users": ["Invalid pk \"99999\" - object does not exist."]})
    );
});
