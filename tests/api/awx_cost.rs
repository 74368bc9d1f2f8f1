//! The AWX dialect's cost guard: how much the database reads to answer each AWX request (SQLite's
//! virtual-machine steps, PostgreSQL's rows visited by scans — the same count on every run, see
//! `Store::cost`), measured with the caches emptied, on a directory of 200 users and again after
//! it grew to 3,200. An answer may not read more because the directory grew, unless its authentik
//! twin (the same question through `/api/v3`) does too, and then no more than the twin.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_test;
use crate::common::TestServer;

/// One AWX request and, for questions whose answer itself grows (counts), its authentik twin.
struct Probe {
    name: &'static str,
    method: Method,
    awx: String,
    body: Option<Value>,
    twin: Option<String>,
    as_admin: bool,
}

impl Probe {
    fn get(name: &'static str, awx: String, twin: Option<String>) -> Probe {
        Probe {
            name,
            method: Method::GET,
            awx,
            body: None,
            twin,
            as_admin: true,
        }
    }
}

/// What a request cost: the statements it ran and what they read, replayed.
async fn cost(
    srv: &TestServer,
    method: Method,
    path: &str,
    body: Option<&Value>,
    key: &str,
) -> (u64, usize) {
    let store = &srv.state().store;
    // A write empties every cache of the directory, so the request below reads for real
    // (through authentik's dialect: its answer fills no cache an AWX answer uses).
    let r = srv
        .patch(
            "/api/v3/core/users/1/",
            &json!({ "name": format!("epoch {path}") }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    store.start_trace();
    let r = srv.send(method, path, Some(key), body).await;
    let statements = store.take_trace();
    assert!(r.status.is_success(), "{path}: {} {}", r.status, r.text);
    let mut total = 0;
    for sql in &statements {
        total += store.cost(sql).await.expect("replayed");
    }
    (total, statements.len())
}

async fn seed(srv: &TestServer, start: u64, count: u64) {
    gatehouse::store::bulk::insert_users(&srv.state().store, start, count)
        .await
        .expect("seed");
    srv.state().store.after_bulk_load().await.expect("analyze");
}

async fn user_id(srv: &TestServer, username: &str) -> i64 {
    let r = srv
        .get(&format!("/api/v2/users/?username={username}"))
        .await;
    r.body["results"][0]["id"].as_i64().expect("user exists")
}

/// A plain user's API key (no permissions: sees itself and the superusers).
async fn plain_key(srv: &TestServer) -> String {
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({ "username": "cost-plain", "name": "Plain" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let pk = r.body["pk"].clone();
    let r = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({ "identifier": "cost-plain-key", "user": pk, "intent": "api" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = srv
        .get("/api/v3/core/tokens/cost-plain-key/view_key/")
        .await;
    r.body["key"].as_str().expect("key").to_string()
}

fn probes(target: i64, created: &mut u32) -> Vec<Probe> {
    *created += 1;
    let detail = format!("/api/v2/users/{target}/");
    vec![
        Probe::get("GET user", detail.clone(), None),
        Probe::get(
            "list of 100",
            "/api/v2/users/?page_size=100".into(),
            Some("/api/v3/core/users/?page_size=100".into()),
        ),
        Probe::get(
            "username filter",
            "/api/v2/users/?username=bench-user-0000150".into(),
            Some("/api/v3/core/users/?username=bench-user-0000150".into()),
        ),
        Probe::get(
            "username__startswith",
            "/api/v2/users/?username__startswith=bench-user-00001&page_size=100".into(),
            None,
        ),
        Probe::get(
            "or__username",
            "/api/v2/users/?or__username=bench-user-0000001&or__username=bench-user-0000002".into(),
            None,
        ),
        Probe::get(
            "search",
            "/api/v2/users/?search=bench-user-0000150".into(),
            Some("/api/v3/core/users/?search=bench-user-0000150".into()),
        ),
        Probe::get(
            "order_by",
            "/api/v2/users/?order_by=-username&page_size=100".into(),
            Some("/api/v3/core/users/?ordering=-username&page_size=100".into()),
        ),
        Probe::get("me", "/api/v2/me/".into(), None),
        Probe::get(
            "tokens of a user",
            format!("/api/v2/users/{target}/tokens/"),
            None,
        ),
        Probe {
            method: Method::OPTIONS,
            ..Probe::get("OPTIONS list", "/api/v2/users/".into(), None)
        },
        Probe {
            method: Method::OPTIONS,
            ..Probe::get("OPTIONS detail", detail.clone(), None)
        },
        Probe {
            method: Method::PATCH,
            body: Some(json!({ "first_name": format!("patched {created}") })),
            ..Probe::get("PATCH user", detail, None)
        },
        Probe {
            method: Method::POST,
            body: Some(
                json!({ "username": format!("cost-new-{created}"), "password": "x-pass-1" }),
            ),
            ..Probe::get("POST user", "/api/v2/users/".into(), None)
        },
        Probe {
            as_admin: false,
            ..Probe::get("list as a plain user", "/api/v2/users/".into(), None)
        },
        Probe {
            as_admin: false,
            ..Probe::get("me as a plain user", "/api/v2/me/".into(), None)
        },
    ]
}

backend_test!(awx_answers_do_not_read_more_as_the_directory_grows, |srv| {
    seed(srv, 1, 200).await;
    let target = user_id(srv, "bench-user-0000150").await;
    let plain = plain_key(srv).await;
    let mut created = 0;
    let mut small = Vec::new();
    for probe in probes(target, &mut created) {
        let key = if probe.as_admin {
            srv.token.clone()
        } else {
            plain.clone()
        };
        small.push(
            cost(
                srv,
                probe.method.clone(),
                &probe.awx,
                probe.body.as_ref(),
                &key,
            )
            .await,
        );
    }
    seed(srv, 201, 3_000).await;
    let mut failures = Vec::new();
    for (probe, (before, _)) in probes(target, &mut created).into_iter().zip(small) {
        let key = if probe.as_admin {
            srv.token.clone()
        } else {
            plain.clone()
        };
        let (after, statements) = cost(
            srv,
            probe.method.clone(),
            &probe.awx,
            probe.body.as_ref(),
            &key,
        )
        .await;
        let mut allowed = 2 * before + 200;
        let mut twin_cost = None;
        if let Some(twin) = &probe.twin {
            let (t, _) = cost(srv, Method::GET, twin, None, &key).await;
            twin_cost = Some(t);
            allowed = allowed.max(t + t / 4 + 200);
        }
        eprintln!(
            "{}: {before} -> {after} ({statements} statements; twin {twin_cost:?})",
            probe.name
        );
        if after > allowed {
            failures.push(format!(
                "{}: {before} at 200 users, {after} at 3,200 ({statements} statements; twin {twin_cost:?})",
                probe.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "AWX answers grew with the directory:\n{}",
        failures.join("\n")
    );
});
