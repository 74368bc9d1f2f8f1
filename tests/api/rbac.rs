//! `/api/v3/rbac/`: roles and permissions (samples numbered as in
//! docs/compatibility.md#authentik-rbac-and-events-samples), and the authorization
//! matrix: anonymous / plain user / token owner / role holder (global and per object) /
//! superuser across the core routes.

use crate::backend_test;
use crate::common::{Resp, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn created(srv: &TestServer, path: &str, body: Value) -> Value {
    let r = srv.post(path, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text);
    r.body
}

/// A user with an api token; returns (user, key).
async fn user_with_key(srv: &TestServer, username: &str) -> (Value, String) {
    let user = created(
        srv,
        "/api/v3/core/users/",
        json!({"username": username, "name": username, "path": "rbacsample"}),
    )
    .await;
    let identifier = format!("{username}-api");
    created(
        srv,
        "/api/v3/core/tokens/",
        json!({"identifier": identifier, "user": user["pk"], "expiring": false}),
    )
    .await;
    let key = srv
        .get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
        .await
        .body["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (user, key)
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

fn assign_url(role: &Value) -> String {
    format!(
        "/api/v3/rbac/permissions/assigned_by_roles/{}/assign/",
        role["pk"].as_str().unwrap_or_default()
    )
}

// Samples 01–11, 42, 43.
backend_test!(role_crud_samples, |srv| {
    let r = srv
        .post(
            "/api/v3/rbac/roles/",
            &json!({"name": "rbacsample-viewers", "managed": "x", "users": [1]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let keys: Vec<&str> = r
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec!["pk", "name"],
        "unknown keys are ignored (sample 06)"
    );
    let role = r.body.clone();
    let url = format!(
        "/api/v3/rbac/roles/{}/",
        role["pk"].as_str().unwrap_or_default()
    );
    let r = srv
        .post(
            "/api/v3/rbac/roles/",
            &json!({"name": "rbacsample-viewers"}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"name": ["Role with this name already exists."]})
    );
    let r = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "  "}))
        .await;
    assert_eq!(r.body, json!({"name": ["This field may not be blank."]}));
    let r = srv.post("/api/v3/rbac/roles/", &json!({})).await;
    assert_eq!(r.body, json!({"name": ["This field is required."]}));
    let r = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "x".repeat(151)}))
        .await;
    assert_eq!(
        r.body,
        json!({"name": ["Ensure this field has no more than 150 characters."]})
    );
    created(
        srv,
        "/api/v3/rbac/roles/",
        json!({"name": "rbacsample-editors"}),
    )
    .await;

    let r = srv.get("/api/v3/rbac/roles/?name=rbacsample-viewers").await;
    assert_eq!(r.body["pagination"]["count"], 1);
    assert_eq!(r.body["results"][0], role);
    let r = srv
        .get("/api/v3/rbac/roles/?search=rbacsample&managed__isnull=true")
        .await;
    let names: Vec<&str> = r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, vec!["rbacsample-editors", "rbacsample-viewers"]);
    assert_eq!(srv.get(&url).await.body, role);
    let r = srv
        .patch(&url, &json!({"name": "rbacsample-viewers-renamed"}))
        .await;
    assert_eq!(r.body["name"], "rbacsample-viewers-renamed");
    let missing = format!("/api/v3/rbac/roles/{}/", uuid::Uuid::new_v4());
    assert_eq!(
        srv.get(&missing).await.body,
        json!({"detail": "No Role matches the given query."})
    );
    assert_eq!(
        srv.get("/api/v3/rbac/roles/not-a-uuid/").await.body,
        json!({"detail": "Not found."})
    );
    let r = srv.get("/api/v3/rbac/roles/?ak_groups=notauuid").await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "sample 44 crashes; gatehouse answers 400"
    );
    assert_eq!(r.body, json!({"ak_groups": ["Enter a valid UUID."]}));
    assert_eq!(srv.delete(&url).await.status, StatusCode::NO_CONTENT);
    assert_eq!(srv.get(&url).await.status, StatusCode::NOT_FOUND);
});

// Samples 12–18, 38, 45, 47, 48 and group roles (sample 15).
backend_test!(role_membership_samples, |srv| {
    let role = created(srv, "/api/v3/rbac/roles/", json!({"name": "viewers"})).await;
    let via_group = created(srv, "/api/v3/rbac/roles/", json!({"name": "via-group"})).await;
    let rurl = format!(
        "/api/v3/rbac/roles/{}/",
        role["pk"].as_str().unwrap_or_default()
    );
    let alice = created(
        srv,
        "/api/v3/core/users/",
        json!({"username": "rbacsample-alice", "name": "Alice"}),
    )
    .await;
    let r = srv
        .post(&format!("{rurl}add_user/"), &json!({"pk": alice["pk"]}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        srv.post(&format!("{rurl}add_user/"), &json!({"pk": alice["pk"]}))
            .await
            .status,
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    let r = srv
        .post(&format!("{rurl}add_user/"), &json!({"pk": 99999999}))
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    let r = srv
        .post(&format!("{rurl}add_user/"), &json!({"pk": "abc"}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "sample 45 is a 405; gatehouse answers 400"
    );
    assert_eq!(r.body, json!({"pk": ["A valid integer is required."]}));
    let r = srv
        .get(&format!("/api/v3/rbac/roles/?users={}", alice["pk"]))
        .await;
    assert_eq!(r.body["results"][0]["name"], "viewers");
    let r = srv.get(&format!("{rurl}used_by/")).await;
    assert_eq!(
        r.body,
        json!([{"app": "authentik_core", "model_name": "user", "pk": alice["pk"].to_string(), "name": "rbacsample-alice", "action": "cascade_many"}])
    );
    let user = srv
        .get(&format!("/api/v3/core/users/{}/", alice["pk"]))
        .await
        .body;
    assert_eq!(user["roles"], json!([role["pk"]]));
    assert_eq!(
        user["roles_obj"],
        json!([{"pk": role["pk"], "name": "viewers"}])
    );

    // A role through a parent group: inherited on the roles list and the group, not on the user.
    let parent = created(
        srv,
        "/api/v3/core/groups/",
        json!({"name": "parent", "roles": [via_group["pk"]]}),
    )
    .await;
    let child = created(
        srv,
        "/api/v3/core/groups/",
        json!({"name": "child", "parents": [parent["pk"]], "users": [alice["pk"]]}),
    )
    .await;
    let g = srv
        .get(&format!(
            "/api/v3/core/groups/{}/?include_inherited_roles=true",
            child["pk"].as_str().unwrap_or_default()
        ))
        .await
        .body;
    assert_eq!(
        g["inherited_roles_obj"],
        json!([{"pk": via_group["pk"], "name": "via-group"}])
    );
    assert_eq!(g["roles_obj"], json!([]));
    let r = srv
        .get(&format!(
            "/api/v3/rbac/roles/?users={}&inherited=true",
            alice["pk"]
        ))
        .await;
    assert_eq!(r.body["pagination"]["count"], 2);
    let r = srv
        .get(&format!(
            "/api/v3/rbac/roles/?ak_groups={}",
            child["pk"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(r.body["pagination"]["count"], 0);
    let r = srv
        .get(&format!(
            "/api/v3/rbac/roles/?ak_groups={}&inherited=true",
            child["pk"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(r.body["pagination"]["count"], 1);
    let user = srv
        .get(&format!("/api/v3/core/users/{}/", alice["pk"]))
        .await
        .body;
    assert_eq!(
        user["roles"],
        json!([role["pk"]]),
        "a user's roles are its direct roles (sample 17)"
    );
    let r = srv.get("/api/v3/core/users/?roles_by_name=viewers").await;
    assert_eq!(r.body["pagination"]["count"], 1);
    let r = srv
        .patch(
            &format!("/api/v3/core/users/{}/", alice["pk"]),
            &json!({"roles": [via_group["pk"]]}),
        )
        .await;
    assert_eq!(
        r.body["roles_obj"],
        json!([{"pk": via_group["pk"], "name": "via-group"}])
    );
    assert_eq!(
        srv.post(
            &format!(
                "/api/v3/rbac/roles/{}/remove_user/",
                via_group["pk"].as_str().unwrap_or_default()
            ),
            &json!({"pk": alice["pk"]})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let user = srv
        .get(&format!("/api/v3/core/users/{}/", alice["pk"]))
        .await
        .body;
    assert_eq!(user["roles"], json!([]));
});

// Samples 19–31, 36, 46, 49, 50, with deviation 10 replacing samples 23, 26, 28 and 49.
backend_test!(permission_assignment_samples, |srv| {
    let viewers = created(srv, "/api/v3/rbac/roles/", json!({"name": "viewers"})).await;
    let object = created(srv, "/api/v3/rbac/roles/", json!({"name": "object"})).await;
    let alice = created(
        srv,
        "/api/v3/core/users/",
        json!({"username": "rbacsample-alice", "name": "Alice"}),
    )
    .await;

    let r = srv
        .get("/api/v3/rbac/permissions/?codename=view_user")
        .await;
    assert_eq!(
        r.body["results"],
        json!([{"id": 20, "name": "Can view User", "codename": "view_user", "model": "user", "app_label": "authentik_core", "app_label_verbose": "authentik Core", "model_verbose": "User"}])
    );
    assert_eq!(r.body["autocomplete"], json!({}));
    let r = srv
        .post(
            &assign_url(&viewers),
            &json!({"permissions": ["authentik_core.view_user"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let grant_id = r.body[0]["id"].as_str().expect("string id").to_string();
    let again = srv
        .post(
            &assign_url(&viewers),
            &json!({"permissions": ["authentik_core.view_user"]}),
        )
        .await;
    assert_eq!(again.body[0]["id"], grant_id.as_str(), "idempotent");
    let r = srv
        .get(&format!(
            "/api/v3/rbac/permissions/?role={}",
            viewers["pk"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(r.body["pagination"]["count"], 1);
    assert_eq!(r.body["results"][0]["codename"], "view_user");

    let r = srv
        .post(
            &assign_url(&viewers),
            &json!({"permissions": ["view_user"]}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"permissions": ["When assigning global permissions, codename must be given as app_label.codename"]})
    );
    let r = srv
        .post(
            &assign_url(&viewers),
            &json!({"permissions": ["authentik_core.view_nonexistent"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"permissions": ["Unknown permission: authentik_core.view_nonexistent"]})
    );
    let r = srv
        .post(
            &assign_url(&viewers),
            &json!({"permissions": ["view_user"], "model": "authentik_core.user"}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"non_field_errors": ["The fields model, object_pk must be used together."]})
    );
    let r = srv.post(&assign_url(&viewers), &json!({"permissions": ["authentik_core.delete_user"], "model": "authentik_core.user", "object_pk": "99999999"})).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "sample 26 silently grants globally; gatehouse refuses"
    );
    assert!(r.body["object_pk"][0]
        .as_str()
        .unwrap_or("")
        .contains("99999999"));
    let r = srv
        .get(&format!(
            "/api/v3/rbac/permissions/?role={}",
            viewers["pk"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(
        r.body["pagination"]["count"], 1,
        "nothing was granted by the refused request"
    );
    let r = srv.post(&assign_url(&viewers), &json!({"permissions": ["view_user"], "model": "authentik_core.user", "object_pk": "abc"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = srv
        .post(&assign_url(&viewers), &json!({"permissions": [""]}))
        .await;
    assert_eq!(
        r.body,
        json!({"permissions": {"0": ["This field may not be blank."]}})
    );

    let r = srv.post(&assign_url(&object), &json!({"permissions": ["view_user"], "model": "authentik_core.user", "object_pk": alice["pk"].to_string()})).await;
    assert_eq!(r.status, StatusCode::OK);
    let object_grant = r.body[0]["id"].as_str().expect("id").to_string();
    let r = srv
        .get(&format!(
            "/api/v3/rbac/permissions/assigned_by_roles/?model=authentik_core.user&object_pk={}",
            alice["pk"]
        ))
        .await;
    assert_eq!(r.body["pagination"]["count"], 2);
    assert_eq!(
        r.body["results"][0],
        json!({"role_pk": object["pk"], "name": "object", "object_permissions": [{"id": object_grant.parse::<i64>().unwrap_or(0), "codename": "view_user", "model": "user", "app_label": "authentik_core", "object_pk": alice["pk"].to_string(), "name": "Can view User"}], "model_permissions": []})
    );
    assert_eq!(
        r.body["results"][1]["model_permissions"][0]["id"],
        grant_id.parse::<i64>().unwrap_or(0)
    );
    let r = srv.get("/api/v3/rbac/permissions/assigned_by_roles/").await;
    assert_eq!(r.body, json!({"model": ["This field is required."]}));
    let r = srv
        .get(&format!(
            "/api/v3/rbac/permissions/roles/?uuid={}",
            object["pk"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(
        r.body["results"][0]["object_description"],
        "rbacsample-alice"
    );
    assert_eq!(r.body["results"][0]["model_verbose"], "User");
    assert_eq!(
        srv.get("/api/v3/rbac/permissions/assigned_by_users/")
            .await
            .body,
        json!({"detail": "Not found."})
    );
    assert_eq!(
        srv.get("/api/v3/rbac/permissions/99999/").await.body,
        json!({"detail": "No Permission matches the given query."})
    );
    assert_eq!(
        srv.get("/api/v3/rbac/permissions/20/").await.body["codename"],
        "view_user"
    );

    let unassign = format!(
        "/api/v3/rbac/permissions/assigned_by_roles/{}/unassign/",
        viewers["pk"].as_str().unwrap_or_default()
    );
    let r = srv
        .send(
            Method::PATCH,
            &unassign,
            Some(&srv.token),
            Some(&json!({"permissions": ["authentik_core.view_nonexistent"]})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "sample 49 is a 405; gatehouse answers 400"
    );
    let r = srv
        .send(
            Method::PATCH,
            &unassign,
            Some(&srv.token),
            Some(&json!({"permissions": ["authentik_core.view_user"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = srv
        .get(&format!(
            "/api/v3/rbac/permissions/?role={}",
            viewers["pk"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(r.body["pagination"]["count"], 0);
    assert_eq!(
        srv.post(&unassign, &json!({"permissions": []}))
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
});

// What authentik answers (docs/compatibility.md#rbac-and-permissions) for a `model` outside its ModelEnum and
// for an `object_pk` the model's pk field cannot hold, on assign and unassign alike; an object that
// does not exist stays deviation 10's `object_pk` error.
backend_test!(assign_rejects_bad_model_and_malformed_pk, |srv| {
    let role = created(srv, "/api/v3/rbac/roles/", json!({"name": "checked"})).await;
    let unassign_url = format!(
        "/api/v3/rbac/permissions/assigned_by_roles/{}/unassign/",
        role["pk"].as_str().unwrap_or_default()
    );
    let both = |body: Value| {
        let assign = assign_url(&role);
        let unassign = unassign_url.clone();
        async move {
            let a = srv.post(&assign, &body).await;
            let u = srv
                .send(Method::PATCH, &unassign, Some(&srv.token), Some(&body))
                .await;
            assert_eq!(
                a.status,
                StatusCode::BAD_REQUEST,
                "assign {body}: {}",
                a.text
            );
            assert_eq!(a.body, u.body, "unassign answers as assign: {body}");
            a.body
        }
    };

    let body = both(
        json!({"permissions": ["view_user"], "model": "authentik_core.nope", "object_pk": "1"}),
    )
    .await;
    assert_eq!(
        body,
        json!({"model": ["\"authentik_core.nope\" is not a valid choice."]})
    );
    let r = srv
        .get("/api/v3/rbac/permissions/assigned_by_roles/?model=authentik_core.nope")
        .await;
    assert_eq!(
        r.body,
        json!({"model": ["Select a valid choice. authentik_core.nope is not one of the available choices."]})
    );

    for (model, permission) in [
        ("authentik_core.group", "view_group"),
        ("authentik_rbac.role", "view_role"),
        ("authentik_core.token", "view_token"),
        ("authentik_events.event", "view_event"),
    ] {
        let body =
            both(json!({"permissions": [permission], "model": model, "object_pk": "abc"})).await;
        assert_eq!(
            body,
            json!({"non_field_errors": ["“abc” is not a valid UUID."]}),
            "{model}"
        );
    }
    let body = both(
        json!({"permissions": ["view_user"], "model": "authentik_core.user", "object_pk": "abc"}),
    )
    .await;
    assert_eq!(
        body,
        json!({"non_field_errors": ["“abc” value must be an integer."]})
    );

    let missing = "6f1c2a4e-0000-4000-8000-000000000000";
    let body = both(json!({"permissions": ["view_group"], "model": "authentik_core.group", "object_pk": missing})).await;
    assert_eq!(
        body,
        json!({"object_pk": [format!("No authentik_core.group with pk {missing} exists.")]}),
        "deviation 10"
    );
    let r = srv
        .get(&format!(
            "/api/v3/rbac/permissions/?role={}",
            role["pk"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(r.body["pagination"]["count"], 0, "nothing was granted");

    // authentik 2025.12.4 has no `assigned_by_users` (rbac sample 31), nor does gatehouse.
    let r = srv
        .post(
            "/api/v3/rbac/permissions/assigned_by_users/1/assign/",
            &json!({"permissions": ["view_user"], "model": "authentik_core.nope", "object_pk": "1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

// Samples 32–37 and the matrix: what each kind of caller gets on each route.
backend_test!(authorization_matrix, |srv| {
    let (alice, alice_key) = user_with_key(srv, "rbacsample-alice").await;
    let (bob, bob_key) = user_with_key(srv, "rbacsample-bob").await;
    let (dave, dave_key) = user_with_key(srv, "rbacsample-dave").await;
    let (carol, _) = user_with_key(srv, "rbacsample-carol").await;
    let group = created(srv, "/api/v3/core/groups/", json!({"name": "team"})).await;
    let guuid = group["pk"].as_str().unwrap_or_default().to_string();

    let global = created(
        srv,
        "/api/v3/rbac/roles/",
        json!({"name": "global-viewers"}),
    )
    .await;
    srv.post(&assign_url(&global), &json!({"permissions": ["authentik_core.view_user", "authentik_core.view_group", "authentik_core.change_group"]})).await;
    srv.post(
        &format!(
            "/api/v3/rbac/roles/{}/add_user/",
            global["pk"].as_str().unwrap_or_default()
        ),
        &json!({"pk": alice["pk"]}),
    )
    .await;
    let object = created(
        srv,
        "/api/v3/rbac/roles/",
        json!({"name": "object-viewers"}),
    )
    .await;
    srv.post(&assign_url(&object), &json!({"permissions": ["view_user", "change_user"], "model": "authentik_core.user", "object_pk": alice["pk"].to_string()})).await;
    srv.post(
        &format!(
            "/api/v3/rbac/roles/{}/add_user/",
            object["pk"].as_str().unwrap_or_default()
        ),
        &json!({"pk": dave["pk"]}),
    )
    .await;

    let users = "/api/v3/core/users/?path=rbacsample&include_groups=false";
    // Anonymous: 403 everywhere.
    for path in [
        users,
        "/api/v3/core/groups/",
        "/api/v3/core/tokens/",
        "/api/v3/rbac/roles/",
        "/api/v3/rbac/permissions/",
    ] {
        assert_eq!(
            srv.send(Method::GET, path, None, None).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // Plain user (bob): 403 on users/groups/roles, own tokens only (samples 33).
    let r = as_key(srv, &bob_key, Method::GET, users, None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "You do not have permission to perform this action."})
        )
    );
    assert_eq!(
        as_key(srv, &bob_key, Method::GET, "/api/v3/core/groups/", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_key(srv, &bob_key, Method::GET, "/api/v3/rbac/roles/", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_key(
            srv,
            &bob_key,
            Method::GET,
            "/api/v3/rbac/permissions/",
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        as_key(srv, &bob_key, Method::GET, "/api/v3/core/tokens/", None)
            .await
            .body["pagination"]["count"],
        1
    );
    // Global view_user (alice): every user (sample 32), but no writes.
    let r = as_key(srv, &alice_key, Method::GET, users, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["pagination"]["count"], 4);
    assert!(r.body["results"][0]["groups_obj"].is_null());
    let r = as_key(
        srv,
        &alice_key,
        Method::PATCH,
        &format!("/api/v3/core/users/{}/", carol["pk"]),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "visible but not changeable"
    );
    assert_eq!(
        as_key(
            srv,
            &alice_key,
            Method::POST,
            "/api/v3/core/users/",
            Some(json!({"username": "n", "name": "n"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // Global change_group: alice may rename the group, but not make it a superuser group.
    let r = as_key(
        srv,
        &alice_key,
        Method::PATCH,
        &format!("/api/v3/core/groups/{guuid}/"),
        Some(json!({"name": "team-renamed"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = as_key(
        srv,
        &alice_key,
        Method::PATCH,
        &format!("/api/v3/core/groups/{guuid}/"),
        Some(json!({"is_superuser": true})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"is_superuser": ["User does not have permission to set superuser status to True."]})
    );
    // Object view_user on alice (dave): only alice (sample 34); carol is invisible (sample 35).
    let r = as_key(srv, &dave_key, Method::GET, users, None).await;
    assert_eq!(r.body["pagination"]["count"], 1);
    assert_eq!(r.body["results"][0]["username"], "rbacsample-alice");
    let r = as_key(
        srv,
        &dave_key,
        Method::GET,
        &format!("/api/v3/core/users/{}/", carol["pk"]),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::NOT_FOUND,
            json!({"detail": "No User matches the given query."})
        )
    );
    let r = as_key(
        srv,
        &dave_key,
        Method::PATCH,
        &format!("/api/v3/core/users/{}/", alice["pk"]),
        Some(json!({"name": "Alice by Dave"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "object change_user");
    assert_eq!(
        as_key(
            srv,
            &dave_key,
            Method::DELETE,
            &format!("/api/v3/core/users/{}/", alice["pk"]),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // Token owner vs others.
    assert_eq!(
        as_key(
            srv,
            &dave_key,
            Method::GET,
            "/api/v3/core/tokens/rbacsample-bob-api/",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        as_key(
            srv,
            &bob_key,
            Method::GET,
            "/api/v3/core/tokens/rbacsample-bob-api/view_key/",
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // Unassigning takes effect on the very next request (samples 36, 37).
    let unassign = format!(
        "/api/v3/rbac/permissions/assigned_by_roles/{}/unassign/",
        global["pk"].as_str().unwrap_or_default()
    );
    assert_eq!(
        srv.send(
            Method::PATCH,
            &unassign,
            Some(&srv.token),
            Some(&json!({"permissions": ["authentik_core.view_user"]}))
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        as_key(srv, &alice_key, Method::GET, users, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // A role through a group works too, and removing the membership revokes it.
    srv.patch(
        &format!("/api/v3/core/groups/{guuid}/"),
        &json!({"roles": [object["pk"]], "users": [bob["pk"]]}),
    )
    .await;
    assert_eq!(
        as_key(srv, &bob_key, Method::GET, users, None).await.body["pagination"]["count"],
        1
    );
    srv.post(
        &format!("/api/v3/core/groups/{guuid}/remove_user/"),
        &json!({"pk": bob["pk"]}),
    )
    .await;
    assert_eq!(
        as_key(srv, &bob_key, Method::GET, users, None).await.status,
        StatusCode::FORBIDDEN
    );
    // me shows system permissions from roles.
    srv.post(
        &assign_url(&global),
        &json!({"permissions": ["authentik_rbac.access_admin_interface"]}),
    )
    .await;
    let r = as_key(srv, &alice_key, Method::GET, "/api/v3/core/users/me/", None).await;
    assert_eq!(
        r.body["user"]["system_permissions"],
        json!(["access_admin_interface"])
    );
    // Superuser: everything.
    assert_eq!(srv.get(users).await.body["pagination"]["count"], 4);
});

// The matrix over every `/api/v3/` route: anonymous callers get 403 everywhere; a plain user
// gets 403 on users, groups and roles, 200 on `me`, permissions and their own tokens, 404 on
// someone else's token; a superuser is never refused.
backend_test!(route_matrix, |srv| {
    let (plain, key) = user_with_key(srv, "matrix-plain").await;
    let group = created(srv, "/api/v3/core/groups/", json!({"name": "matrix-group"})).await["pk"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let role = created(srv, "/api/v3/rbac/roles/", json!({"name": "matrix-role"})).await["pk"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let uid = plain["pk"].to_string();
    let own = "matrix-plain-api";
    let other = "authentik-bootstrap-token";
    let routes: Vec<(Method, String, Option<Value>, u16)> = vec![
        // (method, path, body, what a plain user gets)
        (Method::GET, "/api/v3/core/users/".into(), None, 403),
        (
            Method::POST,
            "/api/v3/core/users/".into(),
            Some(json!({"username": "m", "name": "m"})),
            403,
        ),
        (Method::GET, format!("/api/v3/core/users/{uid}/"), None, 403),
        (
            Method::PATCH,
            format!("/api/v3/core/users/{uid}/"),
            Some(json!({"name": "x"})),
            403,
        ),
        (
            Method::PUT,
            format!("/api/v3/core/users/{uid}/"),
            Some(json!({"username": "matrix-plain", "name": "x"})),
            403,
        ),
        (
            Method::POST,
            format!("/api/v3/core/users/{uid}/set_password/"),
            Some(json!({"password": "p"})),
            403,
        ),
        (Method::GET, "/api/v3/core/users/me/".into(), None, 200),
        (Method::GET, "/api/v3/core/users/paths/".into(), None, 403),
        (
            Method::POST,
            "/api/v3/core/users/service_account/".into(),
            Some(json!({"name": "sa-matrix"})),
            403,
        ),
        (Method::GET, "/api/v3/core/groups/".into(), None, 403),
        (
            Method::POST,
            "/api/v3/core/groups/".into(),
            Some(json!({"name": "g2"})),
            403,
        ),
        (
            Method::GET,
            format!("/api/v3/core/groups/{group}/"),
            None,
            403,
        ),
        (
            Method::PATCH,
            format!("/api/v3/core/groups/{group}/"),
            Some(json!({"name": "g3"})),
            403,
        ),
        (
            Method::POST,
            format!("/api/v3/core/groups/{group}/add_user/"),
            Some(json!({"pk": plain["pk"]})),
            403,
        ),
        (
            Method::POST,
            format!("/api/v3/core/groups/{group}/remove_user/"),
            Some(json!({"pk": plain["pk"]})),
            403,
        ),
        (
            Method::GET,
            format!("/api/v3/core/groups/{group}/used_by/"),
            None,
            403,
        ),
        (Method::GET, "/api/v3/core/tokens/".into(), None, 200),
        (
            Method::GET,
            format!("/api/v3/core/tokens/{own}/"),
            None,
            200,
        ),
        (
            Method::GET,
            format!("/api/v3/core/tokens/{own}/view_key/"),
            None,
            200,
        ),
        (
            Method::GET,
            format!("/api/v3/core/tokens/{own}/used_by/"),
            None,
            200,
        ),
        (
            Method::POST,
            format!("/api/v3/core/tokens/{own}/set_key/"),
            Some(json!({"key": "k-matrix-0123456789"})),
            403,
        ),
        (
            Method::GET,
            format!("/api/v3/core/tokens/{other}/"),
            None,
            404,
        ),
        (
            Method::PATCH,
            format!("/api/v3/core/tokens/{other}/"),
            Some(json!({"description": "x"})),
            404,
        ),
        (Method::GET, "/api/v3/rbac/roles/".into(), None, 403),
        (
            Method::POST,
            "/api/v3/rbac/roles/".into(),
            Some(json!({"name": "r2"})),
            403,
        ),
        (
            Method::GET,
            format!("/api/v3/rbac/roles/{role}/"),
            None,
            403,
        ),
        (
            Method::PATCH,
            format!("/api/v3/rbac/roles/{role}/"),
            Some(json!({"name": "r3"})),
            403,
        ),
        (
            Method::POST,
            format!("/api/v3/rbac/roles/{role}/add_user/"),
            Some(json!({"pk": plain["pk"]})),
            403,
        ),
        (Method::GET, "/api/v3/rbac/permissions/".into(), None, 200),
        (
            Method::GET,
            "/api/v3/rbac/permissions/20/".into(),
            None,
            200,
        ),
        (
            Method::GET,
            "/api/v3/rbac/permissions/assigned_by_roles/?model=authentik_core.user".into(),
            None,
            403,
        ),
        (
            Method::POST,
            format!("/api/v3/rbac/permissions/assigned_by_roles/{role}/assign/"),
            Some(json!({"permissions": ["authentik_core.view_user"]})),
            403,
        ),
        (
            Method::GET,
            "/api/v3/rbac/permissions/roles/".into(),
            None,
            403,
        ),
        (Method::GET, "/api/v3/events/events/".into(), None, 403),
        (
            Method::GET,
            "/api/v3/events/events/volume/".into(),
            None,
            403,
        ),
        (
            Method::GET,
            "/api/v3/events/events/top_per_user/".into(),
            None,
            200,
        ),
    ];
    for (method, path, body, plain_status) in &routes {
        let anon = srv.send(method.clone(), path, None, body.as_ref()).await;
        assert_eq!(
            anon.status,
            StatusCode::FORBIDDEN,
            "anonymous {method} {path}"
        );
        assert_eq!(
            anon.body,
            json!({"detail": "Authentication credentials were not provided."}),
            "anonymous {method} {path}"
        );
        let r = srv
            .send(method.clone(), path, Some(&key), body.as_ref())
            .await;
        assert_eq!(
            r.status.as_u16(),
            *plain_status,
            "plain user {method} {path}: {}",
            r.text
        );
    }
    for (method, path, body, _) in &routes {
        if *method == Method::GET {
            let r = srv
                .send(method.clone(), path, Some(&srv.token), body.as_ref())
                .await;
            assert!(
                r.status.is_success(),
                "superuser {method} {path}: {}",
                r.text
            );
        }
    }
});
