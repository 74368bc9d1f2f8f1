//! Server-wide behaviour: health, authentication answers, errors and limits, bootstrap.

use crate::backend_test;
use crate::common::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::json;

backend_test!(health_live_and_ready, |srv| {
    let live = srv.send(Method::GET, "/-/health/live/", None, None).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.text, "");
    let ready = srv
        .send(Method::GET, "/-/health/ready/", Some("garbage"), None)
        .await;
    assert_eq!(ready.status, StatusCode::OK);
    let id = ready.header("x-authentik-id").expect("request id header");
    assert_eq!(id.len(), 32);
    assert!(id
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
});

backend_test!(bootstrap_creates_admin_group_and_token, |srv| {
    let r = srv.get("/api/v3/core/users/?username=akadmin").await;
    assert_eq!(r.status, StatusCode::OK);
    let admin = &r.body["results"][0];
    assert_eq!(admin["name"], "authentik Default Admin");
    assert_eq!(admin["email"], "root@example.com");
    assert_eq!(admin["is_superuser"], true);
    assert_eq!(admin["groups_obj"][0]["name"], "authentik Admins");
    assert_eq!(admin["groups_obj"][0]["is_superuser"], true);
    assert_eq!(r.body["pagination"]["count"], 1);
});

backend_test!(anonymous_and_bad_tokens_get_403_everywhere, |srv| {
    for path in [
        "/api/v3/core/users/",
        "/api/v3/core/users/1/",
        "/api/v3/core/users/me/",
        "/api/v3/core/users/paths/",
    ] {
        let r = srv.send(Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        // Deviation 3 (authentik core sample 14 answers "You do not have permission…" on detail
        // routes; docs/compatibility.md#authentication-answers).
        assert_eq!(
            r.body,
            json!({"detail": "Authentication credentials were not provided."}),
            "{path}"
        );
        let r = srv
            .send(Method::GET, path, Some("not-a-valid-token"), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(r.body, json!({"detail": "Token invalid/expired"}), "{path}");
    }
    let r = srv
        .send(
            Method::POST,
            "/api/v3/core/users/",
            None,
            Some(&json!({"username": "x", "name": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = srv
        .send(Method::DELETE, "/api/v3/core/users/1/", None, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Basic credentials are "no credentials" for the authentik dialect.
    let r = reqwest::Client::new()
        .get(format!("{}/api/v3/core/users/", srv.base))
        .header("Authorization", "Basic YWthZG1pbjp4")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
});

backend_test!(malformed_bodies_get_drf_errors, |srv| {
    let r = srv
        .send_raw(
            Method::POST,
            "/api/v3/core/users/",
            Some("application/json"),
            b"{\"username\": ".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or("")
            .starts_with("JSON parse error - "),
        "{}",
        r.text
    );

    let r = srv
        .send_raw(
            Method::POST,
            "/api/v3/core/users/",
            Some("application/x-www-form-urlencoded"),
            b"username=x".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.body,
        json!({"detail": "Unsupported media type \"application/x-www-form-urlencoded\" in request."})
    );

    let r = srv
        .send_raw(
            Method::POST,
            "/api/v3/core/users/",
            Some("application/json"),
            b"[1,2]".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );

    // Announced as 2 MiB: refused from the headers alone, before any of the body is read (a
    // client still writing the body may see the connection close, so speak raw HTTP here).
    let head = format!(
        "POST /api/v3/core/users/ HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        srv.token,
        2 * 1024 * 1024
    );
    let raw = crate::common::raw_exchange(&srv.base, head.as_bytes()).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("\"detail\""), "{raw}");
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let r = srv
        .send_raw(
            Method::POST,
            "/api/v3/core/users/",
            Some("application/json"),
            deep.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = srv
        .send_raw(
            Method::POST,
            "/api/v3/core/users/",
            Some("application/json"),
            vec![0xff, 0xfe, b'{'],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
});

backend_test!(unknown_routes_and_methods_answer_json, |srv| {
    let r = srv.get("/api/v3/core/users").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not found."}));
    let r = srv.get("/api/v3/nothing/here/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not found."}));
    let r = srv
        .send(
            Method::PATCH,
            "/api/v3/core/users/",
            Some(&srv.token),
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body, json!({"detail": "Method \"PATCH\" not allowed."}));
    assert!(r.header("allow").unwrap_or_default().contains("GET"));
    for path in [
        "/api/v3/core/users/",
        "/api/v3/core/groups/",
        "/api/v3/core/tokens/",
        "/api/v3/core/users/1/",
    ] {
        let r = srv
            .send(Method::OPTIONS, path, Some(&srv.token), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.body["renders"], json!(["application/json"]));
        let r = srv.send(Method::OPTIONS, path, None, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    let r = srv.get("/api/v3/core/users/abc/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not found."}));
    let r = srv.get("/api/v3/core/users/99999999999999999999999/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

#[tokio::test]
async fn second_start_changes_nothing() {
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-restart-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}/g.db", dir.display());
    let config = |token: &str| gatehouse::config::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: url.clone(),
        bootstrap_token: Some(token.to_string()),
        ldap_listen: None,
        ..gatehouse::config::Config::default()
    };
    let first = gatehouse::app::RunningServer::start(config("first-token-aaaaaaaaaaaaaaaaaaaa"))
        .await
        .expect("start");
    let install_id = first.state.install_id.clone();
    first.stop().await;
    assert!(
        dir.join("secret.key").exists(),
        "secret.key is created beside the database"
    );
    let second = gatehouse::app::RunningServer::start(config("second-token-bbbbbbbbbbbbbbbbbbb"))
        .await
        .expect("restart");
    assert_eq!(second.state.install_id, install_id);
    assert!(second.generated_token.is_none());
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("http://{}/api/v3/core/users/", second.addr))
        .bearer_auth("first-token-aaaaaaaaaaaaaaaaaaaa")
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), StatusCode::OK, "the first token still works");
    let changed = client
        .get(format!("http://{}/api/v3/core/users/", second.addr))
        .bearer_auth("second-token-bbbbbbbbbbbbbbbbbbb")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        changed.status(),
        StatusCode::FORBIDDEN,
        "a changed bootstrap value has no effect"
    );
    let body: serde_json::Value = ok.json().await.expect("json");
    assert_eq!(body["pagination"]["count"], 1, "no second akadmin");
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[allow(dead_code)]
fn _uses(_: &TestServer) {}

/// Two instances on one PostgreSQL database: a change made through one is seen by the other's
/// token cache within a second (LISTEN/NOTIFY), and bootstrap ran once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_instance_sees_revocations() {
    let Some(admin_url) = crate::common::postgres_url() else {
        eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: multi-instance test not run");
        return;
    };
    let first = TestServer::start(crate::common::Backend::Postgres).await;
    let config = first.config();
    let second = gatehouse::app::RunningServer::start(config)
        .await
        .expect("second instance starts");
    assert_eq!(
        second.state.install_id,
        first.install_id(),
        "one directory, one install id"
    );
    let base2 = format!("http://{}", second.addr);
    let client = reqwest::Client::new();

    // A user with a token, used through the second instance (filling its cache).
    let user = first
        .post(
            "/api/v3/core/users/",
            &json!({"username": "roamer", "name": "Roamer"}),
        )
        .await
        .body;
    first
        .post(
            "/api/v3/core/tokens/",
            &json!({"identifier": "roamer-api", "user": user["pk"], "expiring": false}),
        )
        .await;
    let key = first
        .get("/api/v3/core/tokens/roamer-api/view_key/")
        .await
        .body["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let me = |k: String| {
        let client = client.clone();
        let url = format!("{base2}/api/v3/core/users/me/");
        async move {
            client
                .get(url)
                .bearer_auth(k)
                .send()
                .await
                .map(|r| r.status())
                .ok()
        }
    };
    assert_eq!(me(key.clone()).await, Some(StatusCode::OK));
    assert_eq!(me(key.clone()).await, Some(StatusCode::OK));

    // Deactivate through the first instance; the second refuses within a second.
    first
        .patch(
            &format!("/api/v3/core/users/{}/", user["pk"]),
            &json!({"is_active": false}),
        )
        .await;
    let mut refused = false;
    for _ in 0..20 {
        if me(key.clone()).await == Some(StatusCode::FORBIDDEN) {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        refused,
        "the second instance kept accepting a deactivated user's token"
    );
    let admins = first.get("/api/v3/core/users/?username=akadmin").await;
    assert_eq!(admins.body["pagination"]["count"], 1);
    let _ = admin_url;
    second.stop().await;
    first.finish().await;
}

// Inputs that once broke a backend (found by probing): each must get a clear 2xx/4xx answer.
backend_test!(hostile_inputs_get_clear_answers, |srv| {
    let long = "x".repeat(5000);
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "longname", "name": long, "path": long}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "long names and paths are stored: {}",
        r.text
    );
    let r = srv
        .get(&format!("/api/v3/core/users/?name={long}&path={long}"))
        .await;
    assert_eq!(r.body["pagination"]["count"], 1);
    let r = srv
        .post("/api/v3/core/groups/", &json!({"name": "g".repeat(513)}))
        .await;
    assert_eq!(
        r.body,
        json!({"name": ["Ensure this field has no more than 512 characters."]})
    );

    let many = vec!["a"; 3_000].join(",");
    let r = srv.get(&format!("/api/v3/core/users/?search={many}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .get(&format!("/api/v3/core/users/paths/?search={many}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ordering = vec!["pk,-is_superuser"; 900].join(",");
    let r = srv
        .get(&format!("/api/v3/core/users/?ordering={ordering}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Past 16 KiB the request target itself is refused.
    let ordering = vec!["pk,-is_superuser"; 2_500].join(",");
    let r = srv
        .get(&format!("/api/v3/core/users/?ordering={ordering}"))
        .await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG);
    assert_eq!(
        r.body,
        json!({"detail": "The request URI is longer than 16384 bytes."})
    );
    let keys: Vec<String> = (0..100).map(|i| format!("%22k{i}%22%3A1")).collect();
    let r = srv
        .get(&format!(
            "/api/v3/core/users/?attributes=%7B{}%7D",
            keys.join("%2C")
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    for path in [
        "/api/v3/core/users/%FF/",
        "/api/v3/core/groups/%ED%A0%80/",
        "/api/v3/core/tokens/%C0%AF/",
    ] {
        let r = srv.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body, json!({"detail": "Not found."}));
    }

    let u = srv.post("/api/v3/core/users/", &json!({"username": "typed", "name": "T", "attributes": {"big": 18446744073709551616u128, "t": true, "one": 1, "n": null}})).await.body;
    assert_eq!(
        u["attributes"]["big"].to_string(),
        "18446744073709551616",
        "big integers stay exact"
    );
    let count = |q: &'static str| async move {
        srv.get(&format!("/api/v3/core/users/?attributes={q}"))
            .await
            .body["pagination"]["count"]
            .clone()
    };
    assert_eq!(count("%7B%22t%22%3A1%7D").await, 0, "true is not 1");
    assert_eq!(count("%7B%22t%22%3Atrue%7D").await, 1);
    assert_eq!(count("%7B%22one%22%3A1%7D").await, 1);
    assert_eq!(
        count("%7B%22n%22%3Anull%7D").await,
        1,
        "a stored null matches null"
    );

    let url = format!("/api/v3/core/users/{}/", u["pk"]);
    for bad in [
        "0000-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59.999999-23:59",
    ] {
        let r = srv.patch(&url, &json!({"last_login": bad})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = srv.get("/api/v3/core/users/?path_startswith=users").await;
    assert_eq!(r.status, StatusCode::OK);
});
