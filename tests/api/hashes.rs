//! Issue 18, item 2: password hashes brought from other directories (Django's, LDAP's) log in
//! as they are, through Basic and the AWX login form, and are replaced by argon2id at the
//! first successful login. A hash in no recognised format is kept but never matches.
//!
//! Foreign hashes are put in with `domain::users::set_password_hash`, the operation the import
//! uses; the vectors are those of the unit tests in `src/auth/password/tests.rs`.

use gatehouse::auth::password;
use gatehouse::domain::audit::AuditContext;
use gatehouse::domain::users;
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::backend_test;
use crate::common::TestServer;

const PASSWORD: &str = "correct horse battery";

/// Creates a user (with a password of its own, replaced below); returns its id.
async fn user_with_hash(srv: &TestServer, username: &str, hash: &str) -> i64 {
    let r = srv
        .post(
            "/api/v2/users/",
            &json!({"username": username, "password": "placeholder-pw"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().expect("id");
    users::set_password_hash(
        &srv.state().store,
        id,
        Some(hash.to_string()),
        &AuditContext::default(),
    )
    .await
    .expect("hash set");
    assert_eq!(stored(srv, id).await.as_deref(), Some(hash));
    id
}

async fn stored(srv: &TestServer, id: i64) -> Option<String> {
    users::stored_password_hash(&srv.state().store, id)
        .await
        .expect("read back")
}

/// The AWX `me` answer's username with Basic credentials, or the status when refused.
async fn basic_me(srv: &TestServer, username: &str, password: &str) -> Result<String, StatusCode> {
    let r = Client::new()
        .get(format!("{}/api/v2/me/", srv.base))
        .basic_auth(username, Some(password))
        .send()
        .await
        .expect("sent");
    if r.status() != StatusCode::OK {
        return Err(r.status());
    }
    let body: serde_json::Value = r.json().await.expect("json");
    Ok(body["results"][0]["username"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// Logs in through `/api/login/`; the username `me` shows in the session, or the status.
async fn form_login(
    srv: &TestServer,
    username: &str,
    password: &str,
) -> Result<String, StatusCode> {
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    let form = client
        .get(format!("{}/api/login/", srv.base))
        .send()
        .await
        .expect("sent");
    let csrf = form
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("csrftoken="))
        .and_then(|c| c.split(';').next())
        .map(String::from)
        .expect("csrf cookie");
    let r = client
        .post(format!("{}/api/login/", srv.base))
        .header("X-CSRFToken", &csrf)
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("sent");
    if r.status() != StatusCode::FOUND {
        return Err(r.status());
    }
    let me: serde_json::Value = client
        .get(format!("{}/api/v2/me/", srv.base))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    Ok(me["results"][0]["username"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// For each (username, hash, password): a wrong password is refused and leaves the hash; the
/// right one logs in (first through Basic or the form, alternately), after which the stored
/// hash is today's argon2id and the password still works through the other door.
async fn each_logs_in_and_is_upgraded(srv: &TestServer, cases: &[(&str, &str, &str)]) {
    for (i, (username, hash, password)) in cases.iter().enumerate() {
        let id = user_with_hash(srv, username, hash).await;
        assert_eq!(
            basic_me(srv, username, "not the password").await,
            Err(StatusCode::UNAUTHORIZED),
            "{username}: wrong password"
        );
        assert_eq!(stored(srv, id).await.as_deref(), Some(*hash), "{username}");
        let (first, second) = if i % 2 == 0 {
            (basic_me(srv, username, password).await, None)
        } else {
            (form_login(srv, username, password).await, Some(()))
        };
        assert_eq!(first.as_deref(), Ok(*username), "{username}: first login");
        let now = stored(srv, id).await.expect("a hash");
        assert!(now.starts_with("$argon2id$v=19$"), "{username}: {now}");
        assert!(
            !password::needs_rehash(&now),
            "{username}: today's parameters"
        );
        let again = match second {
            None => form_login(srv, username, password).await,
            Some(()) => basic_me(srv, username, password).await,
        };
        assert_eq!(
            again.as_deref(),
            Ok(*username),
            "{username}: after the upgrade"
        );
        assert_eq!(
            stored(srv, id).await.as_deref(),
            Some(now.as_str()),
            "{username}: an argon2id hash is not replaced again"
        );
        assert_eq!(
            basic_me(srv, username, "not the password").await,
            Err(StatusCode::UNAUTHORIZED),
            "{username}: wrong password after the upgrade"
        );
    }
}

backend_test!(django_hashes_log_in_and_become_argon2id, |srv| {
    each_logs_in_and_is_upgraded(
        srv,
        &[
            // alice of the authentik 2025.12.4 fixture: her real hash and password.
            (
                "alice",
                "pbkdf2_sha256$1000000$JFncCjgkMF2VMA3Puj2O62$p/CGhGX+iAb7xcdv9bX7N9DmzXYbWboxdSO8WI+yZck=",
                "alice-Pw--2025!",
            ),
            (
                "dj-sha1",
                "pbkdf2_sha1$1000$anotherSalt42$tqcs2e4A/c2QtCP88yvSXEto41I=",
                PASSWORD,
            ),
            (
                "dj-argon2",
                "argon2$argon2id$v=19$m=512,t=2,p=2$+QsVLCtOwvO7wKJNjeV/2Q$70jeNiSLRH5Hu2kVys8HIyCgfQdvh4G4Y3VSfgP53pM",
                PASSWORD,
            ),
            (
                "dj-bcrypt-sha256",
                "bcrypt_sha256$$2b$04$VkUhkVZvoe.KxTzTKe2hU.0ds0mNyO1ecDNqAa50sl/oU9gdItE/K",
                PASSWORD,
            ),
        ],
    )
    .await;
});

backend_test!(ldap_and_weak_hashes_log_in_and_become_argon2id, |srv| {
    each_logs_in_and_is_upgraded(
        srv,
        &[
            (
                "ldap-ssha",
                "{SSHA}Ifzipuwt+XQz5Jf+rLuS0i7LxAkLAQBA",
                PASSWORD,
            ),
            (
                "ldap-bcrypt",
                "{CRYPT}$2y$04$utokOQq/vErj1.mm4aaLx.GjGSQxvFnXwrlvqaYY5dYYFwReJrcs2",
                PASSWORD,
            ),
            (
                "ldap-sha512crypt",
                "{CRYPT}$6$4xOlclAuHh6gBnm3$VAF3ru7r5SD91gdikOClQ7oaTpz/xlnM5MQxYkJ7afvYMVnDhFUEFoQp5TlxMFP3o4GZUAu448MJxEfBrBr4R/",
                PASSWORD,
            ),
            (
                "weak-argon2id",
                "$argon2id$v=19$m=512,t=2,p=1$D/qZnjano8nBzREOsAGgMg$Nk2jAWzoE+6dKCTq2IY444YTLxxxzmgJl0E01v3vM/E",
                PASSWORD,
            ),
        ],
    )
    .await;
});

backend_test!(an_unrecognised_hash_is_kept_and_never_matches, |srv| {
    // An MD5 crypt, and a Django hasher gatehouse does not implement: kept, unusable.
    for (username, hash) in [
        ("old-md5", "{CRYPT}$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"),
        ("dj-md5", "md5$salt$0b1c6b2ba7f8d6c5f1f0c3d0a9b8e7f6"),
    ] {
        assert!(!password::is_recognised(hash));
        let id = user_with_hash(srv, username, hash).await;
        for attempt in [PASSWORD, "", hash] {
            assert_eq!(
                basic_me(srv, username, attempt).await,
                Err(StatusCode::UNAUTHORIZED),
                "{username}"
            );
        }
        assert_eq!(
            stored(srv, id).await.as_deref(),
            Some(hash),
            "kept as it is"
        );
    }
});

backend_test!(
    setting_a_hash_is_audited_without_the_hash_and_checked,
    |srv| {
        let hash = "{SSHA}Ifzipuwt+XQz5Jf+rLuS0i7LxAkLAQBA";
        let id = user_with_hash(srv, "audited", hash).await;
        let events = srv
            .get("/api/v3/events/events/?action=model_updated&ordering=-created")
            .await;
        assert_eq!(events.status, StatusCode::OK, "{}", events.text);
        let event = events.body["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|e| e["context"]["model"]["pk"] == json!(id))
            .cloned()
            .expect("an event for the hash change");
        assert!(!event.to_string().contains("Ifzipuwt"), "{event}");
        // A NUL or an absurd length is refused, and the stored hash stays.
        for bad in [
            "{SSHA}\0".to_string(),
            "x".repeat(users::MAX_HASH_CHARS + 1),
        ] {
            let r = users::set_password_hash(
                &srv.state().store,
                id,
                Some(bad),
                &AuditContext::default(),
            )
            .await;
            assert!(r.is_err());
        }
        assert_eq!(stored(srv, id).await.as_deref(), Some(hash));
        // `None`: no usable password.
        users::set_password_hash(&srv.state().store, id, None, &AuditContext::default())
            .await
            .expect("cleared");
        assert_eq!(stored(srv, id).await, None);
        assert_eq!(
            basic_me(srv, "audited", PASSWORD).await,
            Err(StatusCode::UNAUTHORIZED)
        );
    }
);
