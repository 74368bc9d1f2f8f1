//! Races that matter, with at least 200 requests in flight: unique names, one user patched from
//! many sides, hierarchy changes that together would form a cycle, membership churn. Never a
//! 500, never a duplicate, never a lost field.

use std::sync::Arc;

use crate::backend_test;
use crate::common::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinSet;

async fn fire(
    srv: &TestServer,
    requests: Vec<(Method, String, Value)>,
) -> Vec<(StatusCode, Value)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let base = Arc::new(srv.base.clone());
    let token = Arc::new(srv.token.clone());
    let mut set = JoinSet::new();
    for (method, path, body) in requests {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        set.spawn(async move {
            let r = client
                .request(method, format!("{base}{path}"))
                .bearer_auth(token.as_str())
                .json(&body)
                .send()
                .await
                .expect("sent");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("task"));
    }
    out
}

backend_test!(same_username_at_once, |srv| {
    let requests = (0..200)
        .map(|i| {
            (
                Method::POST,
                "/api/v3/core/users/".to_string(),
                json!({"username": "racer", "name": format!("r{i}")}),
            )
        })
        .collect();
    let results = fire(srv, requests).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "exactly one create wins");
    for (status, body) in &results {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(*body, json!({"username": ["This field must be unique."]}));
        }
    }
    let r = srv.get("/api/v3/core/users/?username=racer").await;
    assert_eq!(r.body["pagination"]["count"], 1);
});

backend_test!(same_token_identifier_at_once, |srv| {
    let requests = (0..200)
        .map(|_| {
            (
                Method::POST,
                "/api/v3/core/tokens/".to_string(),
                json!({"identifier": "racing-token"}),
            )
        })
        .collect();
    let results = fire(srv, requests).await;
    assert_eq!(
        results
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count(),
        1
    );
    assert!(results.iter().all(|(s, b)| *s == StatusCode::CREATED
        || *b == json!({"identifier": ["Token with this identifier already exists."]})));
});

backend_test!(concurrent_patches_lose_nothing, |srv| {
    let user = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "patched", "name": "P"}),
        )
        .await
        .body;
    let url = format!("/api/v3/core/users/{}/", user["pk"]);
    let mut requests = Vec::new();
    for i in 0..100 {
        requests.push((
            Method::PATCH,
            url.clone(),
            json!({"name": format!("name-{i}")}),
        ));
        requests.push((
            Method::PATCH,
            url.clone(),
            json!({"email": format!("e{i}@example.com")}),
        ));
    }
    requests.push((Method::PATCH, url.clone(), json!({"path": "final/path"})));
    let results = fire(srv, requests).await;
    assert!(
        results.iter().all(|(s, _)| *s == StatusCode::OK),
        "{:?}",
        results.iter().find(|(s, _)| *s != StatusCode::OK)
    );
    let after = srv.get(&url).await.body;
    assert!(after["name"].as_str().unwrap_or("").starts_with("name-"));
    assert!(after["email"]
        .as_str()
        .unwrap_or("")
        .ends_with("@example.com"));
    assert_eq!(
        after["path"], "final/path",
        "a field no other request touched survives"
    );
});

backend_test!(concurrent_parent_changes_never_form_a_cycle, |srv| {
    let mut groups = Vec::new();
    for i in 0..4 {
        groups.push(
            srv.post("/api/v3/core/groups/", &json!({"name": format!("g{i}")}))
                .await
                .body["pk"]
                .clone(),
        );
    }
    // Each request alone is fine; together g0→g1→g2→g3→g0 would be a cycle.
    let mut requests = Vec::new();
    for _ in 0..50 {
        for i in 0..4 {
            let parent = groups[(i + 1) % 4].clone();
            requests.push((
                Method::PATCH,
                format!(
                    "/api/v3/core/groups/{}/",
                    groups[i].as_str().unwrap_or_default()
                ),
                json!({"parents": [parent]}),
            ));
        }
    }
    let results = fire(srv, requests).await;
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST),
        "no 5xx"
    );
    let mut parents = std::collections::HashMap::new();
    for g in &groups {
        let body = srv
            .get(&format!(
                "/api/v3/core/groups/{}/",
                g.as_str().unwrap_or_default()
            ))
            .await
            .body;
        parents.insert(
            g.to_string(),
            body["parents"].as_array().cloned().unwrap_or_default(),
        );
    }
    let edges: usize = parents.values().map(Vec::len).sum();
    assert!(
        edges <= 3,
        "at most three of the four edges can exist: {parents:?}"
    );
});

backend_test!(membership_churn, |srv| {
    let group = srv
        .post("/api/v3/core/groups/", &json!({"name": "churn"}))
        .await
        .body["pk"]
        .clone();
    let gurl = format!(
        "/api/v3/core/groups/{}/",
        group.as_str().unwrap_or_default()
    );
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(
            srv.post(
                "/api/v3/core/users/",
                &json!({"username": format!("m{i}"), "name": "m"}),
            )
            .await
            .body["pk"]
                .clone(),
        );
    }
    let mut requests = Vec::new();
    for round in 0..20 {
        for u in &users {
            let action = if round % 2 == 0 {
                "add_user"
            } else {
                "remove_user"
            };
            requests.push((Method::POST, format!("{gurl}{action}/"), json!({"pk": u})));
        }
    }
    let results = fire(srv, requests).await;
    assert!(
        results.iter().all(|(s, _)| *s == StatusCode::NO_CONTENT),
        "{:?}",
        results.iter().find(|(s, _)| *s != StatusCode::NO_CONTENT)
    );
    let body = srv.get(&gurl).await.body;
    assert!(body["users"].as_array().map(Vec::len).unwrap_or(99) <= 10);
});

// Search finds exactly the current names after concurrent creates, renames (several of one
// user at once) and deletes, which commit together in groups on SQLite (the trigram index is
// brought up to date once per group: migration 0007).
backend_test!(search_follows_concurrent_renames_and_deletes, |srv| {
    let mut ids = Vec::new();
    for i in 0..40 {
        let r = srv
            .post(
                "/api/v3/core/users/",
                &json!({"username": format!("seeker-{i:02}"), "name": format!("Oldname_{i:02}_q")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.body["pk"].as_i64().expect("pk"));
    }
    let mut requests = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let path = format!("/api/v3/core/users/{id}/");
        match i % 4 {
            // Deleted.
            0 => requests.push((Method::DELETE, path, Value::Null)),
            // Renamed three times at once: one of the three names wins.
            1 => {
                for n in 0..3 {
                    requests.push((
                        Method::PATCH,
                        path.clone(),
                        json!({"name": format!("Multi{n}_{i:02}_q")}),
                    ));
                }
            }
            // Renamed once.
            2 => requests.push((
                Method::PATCH,
                path,
                json!({"name": format!("Newname_{i:02}_q")}),
            )),
            // Left alone.
            _ => {}
        }
    }
    for i in 40..60 {
        requests.push((
            Method::POST,
            "/api/v3/core/users/".to_string(),
            json!({"username": format!("seeker-{i:02}"), "name": format!("Fresh_{i:02}_q")}),
        ));
    }
    for (status, body) in fire(srv, requests).await {
        assert!(status.is_success(), "{status} {body}");
    }
    let names = |query: &str| {
        let query = query.to_string();
        async move {
            let r = srv
                .get(&format!("/api/v3/core/users/?search={query}&page_size=100"))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let mut names: Vec<String> = r.body["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|u| u["name"].as_str().unwrap_or_default().to_string())
                .collect();
            names.sort();
            names
        }
    };
    for i in 0..40 {
        let old = names(&format!("Oldname_{i:02}_q")).await;
        let expected_old = if i % 4 == 3 {
            vec![format!("Oldname_{i:02}_q")]
        } else {
            vec![]
        };
        assert_eq!(old, expected_old, "old name of user {i}");
    }
    for i in (2..40).step_by(4) {
        assert_eq!(
            names(&format!("Newname_{i:02}_q")).await,
            vec![format!("Newname_{i:02}_q")]
        );
    }
    for i in (1..40).step_by(4) {
        let found: Vec<String> = names("Multi")
            .await
            .into_iter()
            .filter(|n| n.ends_with(&format!("_{i:02}_q")))
            .collect();
        assert_eq!(found.len(), 1, "one final name for user {i}: {found:?}");
        // The name it kept is the one stored.
        let r = srv.get(&format!("/api/v3/core/users/{}/", ids[i])).await;
        assert_eq!(r.body["name"], found[0].as_str());
    }
    for i in 40..60 {
        assert_eq!(
            names(&format!("Fresh_{i:02}_q")).await,
            vec![format!("Fresh_{i:02}_q")]
        );
    }
    // The usernames of deleted users are gone from search too.
    for i in (0..40).step_by(4) {
        assert!(
            names(&format!("seeker-{i:02}")).await.is_empty(),
            "deleted user {i}"
        );
    }
});

backend_test!(concurrent_lookups_each_get_their_own_user, |srv| {
    // Uncached lookups of single users asked for at once are read together (domain::users::
    // batch): each answer must still be the user asked for, an unknown id a 404, a deleted
    // user gone, and a user's own write seen at once.
    let mut ids = Vec::new();
    for i in 0..40 {
        let r = srv
            .post(
                "/api/v3/core/users/",
                &json!({"username": format!("looked-{i:02}"), "name": format!("Looked {i}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.body["pk"].as_i64().expect("pk"));
    }
    let gone = ids[39];
    let r = srv.delete(&format!("/api/v3/core/users/{gone}/")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let mut requests = Vec::new();
    for round in 0..3 {
        for (i, id) in ids.iter().enumerate() {
            let path = if (i + round) % 2 == 0 {
                format!("/api/v3/core/users/{id}/")
            } else {
                format!("/api/v2/users/{id}/")
            };
            requests.push((Method::GET, path, Value::Null));
        }
        requests.push((
            Method::GET,
            "/api/v3/core/users/999999/".into(),
            Value::Null,
        ));
        requests.push((Method::GET, "/api/v2/users/999998/".into(), Value::Null));
    }
    let results = fire(srv, requests.clone()).await;
    assert_eq!(results.len(), requests.len());
    let mut by_status = std::collections::BTreeMap::new();
    for (status, body) in &results {
        *by_status.entry(status.as_u16()).or_insert(0) += 1;
        if *status == StatusCode::OK {
            let id = body["pk"].as_i64().or(body["id"].as_i64()).expect("an id");
            let index = ids.iter().position(|i| *i == id).expect("a seeded user");
            assert_eq!(body["username"], format!("looked-{index:02}"), "{body}");
            assert_ne!(id, gone, "a deleted user is not found");
        } else {
            assert_eq!(*status, StatusCode::NOT_FOUND, "{body}");
        }
    }
    // 39 users × 3 rounds found; the deleted one and the two unknown ids, 3 rounds each, not.
    assert_eq!(by_status.get(&200), Some(&117), "{by_status:?}");
    assert_eq!(by_status.get(&404), Some(&9), "{by_status:?}");
    // A write, then lookups at once: every one sees it.
    let renamed = ids[7];
    let r = srv
        .patch(
            &format!("/api/v3/core/users/{renamed}/"),
            &json!({"name": "Renamed Seven"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let requests = (0..60)
        .map(|i| {
            let id = if i % 3 == 0 { renamed } else { ids[i % 39] };
            (
                Method::GET,
                format!("/api/v3/core/users/{id}/"),
                Value::Null,
            )
        })
        .collect();
    for (status, body) in fire(srv, requests).await {
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["pk"] == renamed {
            assert_eq!(body["name"], "Renamed Seven");
        }
    }
});
