//! Issue 17, the session half: sessions end when their user's credentials or privileges
//! change, the login throttle holds under concurrency, unauthenticated input is bounded before
//! it is stored, `next` redirects stay on this origin, and CSRF tokens are tied to the session.

use reqwest::header;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::backend_test;
use crate::common::TestServer;

/// A cookie-keeping client that does not follow redirects.
fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

fn csrf_in(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("csrftoken="))
        .and_then(|c| c.split(';').next())
        .map(String::from)
}

/// A pre-login CSRF token held by `client`'s cookie jar.
async fn login_form(srv: &TestServer, client: &Client) -> String {
    let r = client
        .get(format!("{}/api/login/", srv.base))
        .send()
        .await
        .expect("sent");
    csrf_in(&r).expect("csrf cookie")
}

/// A logged-in session: the client (holding the cookies) and its CSRF token.
async fn session(srv: &TestServer, username: &str, password: &str) -> (Client, String) {
    let client = browser();
    let csrf = login_form(srv, &client).await;
    let r = client
        .post(format!("{}/api/login/", srv.base))
        .header("X-CSRFToken", &csrf)
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FOUND, "login of {username}");
    let csrf = csrf_in(&r).expect("session csrf");
    (client, csrf)
}

async fn me_status(srv: &TestServer, client: &Client) -> StatusCode {
    client
        .get(format!("{}/api/v2/me/", srv.base))
        .send()
        .await
        .expect("sent")
        .status()
}

/// Creates a user with a password through AWX; returns its id.
async fn user(srv: &TestServer, username: &str, password: &str, superuser: bool) -> i64 {
    let r = srv
        .post(
            "/api/v2/users/",
            &json!({"username": username, "password": password, "is_superuser": superuser}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().expect("id")
}

backend_test!(sessions_end_when_an_admin_sets_the_password, |srv| {
    user(srv, "sam", "first-pw", false).await;
    let pk = srv.get("/api/v3/core/users/?username=sam").await.body["results"][0]["pk"].clone();
    let (a, _) = session(srv, "sam", "first-pw").await;
    let (b, _) = session(srv, "sam", "first-pw").await;
    assert_eq!(me_status(srv, &a).await, StatusCode::OK);
    let r = srv
        .post(
            &format!("/api/v3/core/users/{pk}/set_password/"),
            &json!({"password": "second-pw"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_ne!(me_status(srv, &a).await, StatusCode::OK, "old session a");
    assert_ne!(me_status(srv, &b).await, StatusCode::OK, "old session b");
    let (c, _) = session(srv, "sam", "second-pw").await;
    assert_eq!(
        me_status(srv, &c).await,
        StatusCode::OK,
        "a new login works"
    );
});

backend_test!(
    sessions_end_on_awx_password_patch_except_the_changing_one,
    |srv| {
        let id = user(srv, "pat", "first-pw", false).await;
        let (own, own_csrf) = session(srv, "pat", "first-pw").await;
        let (other, _) = session(srv, "pat", "first-pw").await;
        let r = own
            .patch(format!("{}/api/v2/users/{id}/", srv.base))
            .header("X-CSRFToken", &own_csrf)
            .json(&json!({"password": "second-pw"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            me_status(srv, &own).await,
            StatusCode::OK,
            "the session that changed its own password stays (update_session_auth_hash)"
        );
        assert_ne!(
            me_status(srv, &other).await,
            StatusCode::OK,
            "other session"
        );
        // An admin's PUT with a password ends the rest too.
        let r = srv
            .put(
                &format!("/api/v2/users/{id}/"),
                &json!({"username": "pat", "password": "third-pw"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_ne!(
            me_status(srv, &own).await,
            StatusCode::OK,
            "after the admin's PUT"
        );
    }
);

backend_test!(sessions_end_on_deactivation_and_superuser_removal, |srv| {
    user(srv, "sam2", "pw-sam2-1", false).await;
    let id = user(srv, "dee", "pw-dee-1", false).await;
    let (s, _) = session(srv, "dee", "pw-dee-1").await;
    // AWX does not write `is_active`; authentik does.
    assert_eq!(
        srv.patch(
            &format!("/api/v3/core/users/{id}/"),
            &json!({"is_active": false})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        srv.patch(
            &format!("/api/v3/core/users/{id}/"),
            &json!({"is_active": true})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_ne!(
        me_status(srv, &s).await,
        StatusCode::OK,
        "reactivation does not revive it"
    );

    let id = user(srv, "sue", "pw-sue-1", true).await;
    let (s, _) = session(srv, "sue", "pw-sue-1").await;
    assert_eq!(me_status(srv, &s).await, StatusCode::OK);
    let r = srv
        .patch(
            &format!("/api/v2/users/{id}/"),
            &json!({"is_superuser": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_ne!(
        me_status(srv, &s).await,
        StatusCode::OK,
        "demoted through AWX"
    );

    // authentik: leaving the superuser group through the user's `groups`.
    let id = user(srv, "sid", "pw-sid-1", true).await;
    let (s, _) = session(srv, "sid", "pw-sid-1").await;
    let r = srv
        .patch(&format!("/api/v3/core/users/{id}/"), &json!({"groups": []}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_ne!(
        me_status(srv, &s).await,
        StatusCode::OK,
        "demoted through authentik"
    );

    // authentik: a group stops granting superuser status.
    let id = user(srv, "gus", "pw-gus-1", false).await;
    let g = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "admins-2", "is_superuser": true, "users": [id]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.text);
    let (s, _) = session(srv, "gus", "pw-gus-1").await;
    let (kept, _) = session(srv, "sam2", "pw-sam2-1").await;
    let group = g.body["pk"].as_str().expect("pk").to_string();
    let r = srv
        .patch(
            &format!("/api/v3/core/groups/{group}/"),
            &json!({"is_superuser": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_ne!(me_status(srv, &s).await, StatusCode::OK, "the group's flag");
    assert_eq!(
        me_status(srv, &kept).await,
        StatusCode::OK,
        "others keep theirs"
    );
});

backend_test!(
    concurrent_wrong_passwords_are_throttled_before_verification,
    |srv| {
        user(srv, "tom", "right-pw", false).await;
        let client = Client::new();
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let sent = client
                .get(format!("{}/api/v2/me/", srv.base))
                .basic_auth("tom", Some("wrong"))
                .send();
            requests.spawn(sent);
        }
        let mut statuses = Vec::new();
        while let Some(r) = requests.join_next().await {
            statuses.push(r.expect("joined").expect("sent").status());
        }
        let unauthorized = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        let throttled = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert!(
            unauthorized <= 10,
            "{unauthorized} wrong passwords were checked"
        );
        assert_eq!(unauthorized + throttled, 40, "{statuses:?}");
    }
);

backend_test!(concurrent_right_passwords_are_not_throttled, |srv| {
    // The throttle counts attempts in flight; a burst of right passwords beyond its limit
    // (a client running many Basic requests at once) must queue, not be refused.
    user(srv, "una", "right-pw", false).await;
    let client = Client::new();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..24 {
        let sent = client
            .get(format!("{}/api/v2/me/", srv.base))
            .basic_auth("una", Some("right-pw"))
            .send();
        requests.spawn(sent);
    }
    let mut statuses = Vec::new();
    while let Some(r) = requests.join_next().await {
        statuses.push(r.expect("joined").expect("sent").status());
    }
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
});

backend_test!(a_failed_login_stores_a_bounded_username, |srv| {
    let client = browser();
    let csrf = login_form(srv, &client).await;
    let long = "x".repeat(1_000_000);
    let r = client
        .post(format!("{}/api/login/", srv.base))
        .header("X-CSRFToken", &csrf)
        .form(&[("username", long.as_str()), ("password", "p")])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let events = srv.get("/api/v3/events/events/?action=login_failed").await;
    assert_eq!(events.status, StatusCode::OK);
    let stored = events.body["results"][0]["context"]["username"]
        .as_str()
        .expect("username")
        .to_string();
    assert!(
        stored.chars().count() <= 151,
        "{} characters stored",
        stored.len()
    );
    assert!(stored.starts_with("xxxx"));
    assert!(events.text.len() < 64 * 1024, "the event is small");
});

backend_test!(login_redirects_stay_on_this_origin, |srv| {
    let pw = "redirect-pw";
    user(srv, "rex", pw, false).await;
    for next in [
        "/\t/evil.example/",
        "/\\evil.example/",
        "/%2F/evil.example/",
        " //evil.example/",
        "/\r\n/evil.example/",
    ] {
        let client = browser();
        let csrf = login_form(srv, &client).await;
        let r = client
            .post(format!("{}/api/login/", srv.base))
            .header("X-CSRFToken", &csrf)
            .form(&[("username", "rex"), ("password", pw), ("next", next)])
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(
            r.headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok()),
            Some("/api/"),
            "next={next:?}"
        );
    }
});

backend_test!(csrf_tokens_are_the_servers_and_tied_to_the_session, |srv| {
    user(srv, "cat", "cat-pw", false).await;
    // A login with a self-chosen token (cookie and header agree) is refused.
    let chosen = "a".repeat(64);
    let r = Client::new()
        .post(format!("{}/api/login/", srv.base))
        .header("Cookie", format!("csrftoken={chosen}"))
        .header("X-CSRFToken", &chosen)
        .form(&[("username", "cat"), ("password", "cat-pw")])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "self-chosen login token");
    // A session's writes need its own token, not any value echoed in cookie and header.
    let (client, csrf) = session(srv, "cat", "cat-pw").await;
    let (_other, other_csrf) = session(srv, "cat", "cat-pw").await;
    let id: Value = client
        .get(format!("{}/api/v2/me/", srv.base))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let id = id["results"][0]["id"].clone();
    let patch = |token: String| {
        client
            .patch(format!("{}/api/v2/users/{id}/", srv.base))
            .header("X-CSRFToken", token)
            .json(&json!({"first_name": "Cat"}))
            .send()
    };
    assert_eq!(
        patch(chosen.clone()).await.expect("sent").status(),
        StatusCode::FORBIDDEN,
        "made up"
    );
    assert_eq!(
        patch(other_csrf).await.expect("sent").status(),
        StatusCode::FORBIDDEN,
        "another session's"
    );
    assert_eq!(
        patch(csrf).await.expect("sent").status(),
        StatusCode::OK,
        "its own"
    );
});

/// How a password is changed in the property below.
#[derive(Debug, Clone, Copy)]
enum Door {
    AuthentikSetPassword,
    AwxAdminPatch,
    AwxAdminPut,
    AwxOwnPatch,
}

backend_test!(property_no_old_session_survives_a_password_change, |srv| {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    let strategy = (
        1usize..4,
        prop_oneof![
            Just(Door::AuthentikSetPassword),
            Just(Door::AwxAdminPatch),
            Just(Door::AwxAdminPut),
            Just(Door::AwxOwnPatch),
        ],
    );
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 20,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(sessions, door)| {
            handle.block_on(async {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = format!("prop{n}");
                let id = user(srv, &name, "old-pw-1", false).await;
                let mut held = Vec::new();
                for _ in 0..sessions {
                    held.push(session(srv, &name, "old-pw-1").await);
                }
                let path = format!("/api/v2/users/{id}/");
                let status = match door {
                    Door::AuthentikSetPassword => {
                        srv.post(
                            &format!("/api/v3/core/users/{id}/set_password/"),
                            &json!({"password": "new-pw-2"}),
                        )
                        .await
                        .status
                    }
                    Door::AwxAdminPatch => {
                        srv.patch(&path, &json!({"password": "new-pw-2"}))
                            .await
                            .status
                    }
                    Door::AwxAdminPut => {
                        srv.put(&path, &json!({"username": name, "password": "new-pw-2"}))
                            .await
                            .status
                    }
                    Door::AwxOwnPatch => {
                        let (client, csrf) = &held[0];
                        client
                            .patch(format!("{}{path}", srv.base))
                            .header("X-CSRFToken", csrf)
                            .json(&json!({"password": "new-pw-2"}))
                            .send()
                            .await
                            .expect("sent")
                            .status()
                    }
                };
                if !status.is_success() {
                    return Err(TestCaseError::fail(format!("change answered {status}")));
                }
                let own = matches!(door, Door::AwxOwnPatch);
                for (i, (client, _)) in held.iter().enumerate() {
                    let kept = own && i == 0;
                    let ok = me_status(srv, client).await == StatusCode::OK;
                    if ok != kept {
                        return Err(TestCaseError::fail(format!(
                            "session {i} of {sessions} after {door:?}: works={ok}"
                        )));
                    }
                }
                Ok(())
            })
        })
    });
    if let Err(e) = outcome {
        panic!("no old session survives a password change: {e}");
    }
});

backend_test!(a_failed_login_stores_a_bounded_user_agent, |srv| {
    let r = Client::new()
        .get(format!("{}/api/v2/me/", srv.base))
        .basic_auth("nobody", Some("wrong"))
        .header("User-Agent", "u".repeat(20_000))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let events = srv.get("/api/v3/events/events/?action=login_failed").await;
    let agent = events.body["results"][0]["context"]["http_request"]["user_agent"]
        .as_str()
        .expect("user agent")
        .to_string();
    assert!(agent.len() <= 512, "{} characters stored", agent.len());
});
