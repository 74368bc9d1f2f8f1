//! Every route's `Allow` against the methods it serves: authentik's `OPTIONS` lists exactly
//! those methods (DRF's order, `HEAD` with `GET`), every method a route does not serve is a
//! JSON 405 whose `Allow` lists what it does, and every method it serves is answered (not 405).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_test;

/// The methods one could send that a route might not serve.
const PROBED: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// authentik's routes (under `/api/v3`) and the methods each serves, in the order it declares
/// them (the 405 `Allow` keeps that order). Lookups name nothing, so served methods answer
/// 404/400 and change nothing.
const AUTHENTIK: &[(&str, &[&str])] = &[
    ("/core/users/", &["GET", "POST", "OPTIONS"]),
    ("/core/users/me/", &["GET", "OPTIONS"]),
    ("/core/users/paths/", &["GET", "OPTIONS"]),
    ("/core/users/impersonate_end/", &["GET", "OPTIONS"]),
    ("/core/users/export/", &["POST", "OPTIONS"]),
    ("/core/users/service_account/", &["POST", "OPTIONS"]),
    (
        "/core/users/987654/",
        &["GET", "PUT", "PATCH", "DELETE", "OPTIONS"],
    ),
    ("/core/users/987654/set_password/", &["POST", "OPTIONS"]),
    ("/core/users/987654/used_by/", &["GET", "OPTIONS"]),
    ("/core/users/987654/recovery/", &["POST", "OPTIONS"]),
    ("/core/users/987654/recovery_email/", &["POST", "OPTIONS"]),
    ("/core/users/987654/impersonate/", &["POST", "OPTIONS"]),
    ("/core/groups/", &["GET", "POST", "OPTIONS"]),
    (
        "/core/groups/00000000-0000-4000-8000-000000000001/",
        &["GET", "PUT", "PATCH", "DELETE", "OPTIONS"],
    ),
    (
        "/core/groups/00000000-0000-4000-8000-000000000001/add_user/",
        &["POST", "OPTIONS"],
    ),
    (
        "/core/groups/00000000-0000-4000-8000-000000000001/remove_user/",
        &["POST", "OPTIONS"],
    ),
    (
        "/core/groups/00000000-0000-4000-8000-000000000001/used_by/",
        &["GET", "OPTIONS"],
    ),
    ("/core/tokens/", &["GET", "POST", "OPTIONS"]),
    (
        "/core/tokens/no-such-token/",
        &["GET", "PUT", "PATCH", "DELETE", "OPTIONS"],
    ),
    ("/core/tokens/no-such-token/view_key/", &["GET", "OPTIONS"]),
    ("/core/tokens/no-such-token/set_key/", &["POST", "OPTIONS"]),
    ("/core/tokens/no-such-token/used_by/", &["GET", "OPTIONS"]),
    ("/rbac/roles/", &["GET", "POST", "OPTIONS"]),
    (
        "/rbac/roles/00000000-0000-4000-8000-000000000001/",
        &["GET", "PUT", "PATCH", "DELETE", "OPTIONS"],
    ),
    (
        "/rbac/roles/00000000-0000-4000-8000-000000000001/used_by/",
        &["GET", "OPTIONS"],
    ),
    (
        "/rbac/roles/00000000-0000-4000-8000-000000000001/add_user/",
        &["POST", "OPTIONS"],
    ),
    (
        "/rbac/roles/00000000-0000-4000-8000-000000000001/remove_user/",
        &["POST", "OPTIONS"],
    ),
    ("/rbac/permissions/", &["GET", "OPTIONS"]),
    ("/rbac/permissions/roles/", &["GET", "OPTIONS"]),
    ("/rbac/permissions/assigned_by_roles/", &["GET", "OPTIONS"]),
    (
        "/rbac/permissions/assigned_by_roles/00000000-0000-4000-8000-000000000001/assign/",
        &["POST", "OPTIONS"],
    ),
    (
        "/rbac/permissions/assigned_by_roles/00000000-0000-4000-8000-000000000001/unassign/",
        &["PATCH", "OPTIONS"],
    ),
    ("/rbac/permissions/987654/", &["GET", "OPTIONS"]),
    ("/events/events/", &["GET", "OPTIONS"]),
    ("/events/events/actions/", &["GET", "OPTIONS"]),
    ("/events/events/volume/", &["GET", "OPTIONS"]),
    ("/events/events/top_per_user/", &["GET", "OPTIONS"]),
    (
        "/events/events/00000000-0000-4000-8000-000000000001/",
        &["GET", "OPTIONS"],
    ),
];

/// AWX's routes, the methods each serves (in declaration order), and the `Allow` its answers
/// carry: the AWX view's methods, which may name more than gatehouse serves.
const AWX: &[(&str, &[&str], &str)] = &[
    ("/api/", &["GET"], "GET, HEAD, OPTIONS"),
    ("/api/v2/", &["GET"], "GET, HEAD, OPTIONS"),
    ("/api/v2/ping/", &["GET"], "GET, HEAD, OPTIONS"),
    ("/api/v2/config/", &["GET"], "GET, HEAD, OPTIONS"),
    ("/api/v2/me/", &["GET", "OPTIONS"], "GET, HEAD, OPTIONS"),
    (
        "/api/v2/users/",
        &["GET", "POST", "OPTIONS"],
        "GET, POST, HEAD, OPTIONS",
    ),
    (
        "/api/v2/users/987654/",
        &["GET", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
    ),
    (
        "/api/v2/tokens/",
        &["GET", "POST", "OPTIONS"],
        "GET, POST, HEAD, OPTIONS",
    ),
    (
        "/api/v2/tokens/987654/",
        &["GET", "DELETE"],
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
    ),
    (
        "/api/v2/users/987654/tokens/",
        &["GET", "POST"],
        "GET, POST, HEAD, OPTIONS",
    ),
    (
        "/api/v2/users/987654/personal_tokens/",
        &["GET", "POST"],
        "GET, POST, HEAD, OPTIONS",
    ),
    ("/api/v2/organizations/", &["OPTIONS"], "OPTIONS"),
    ("/api/login/", &["GET", "POST"], ""),
    ("/api/logout/", &["GET"], ""),
];

/// DRF's `Allow`: the served methods in DRF's order, `HEAD` wherever `GET` is.
fn drf_allow(served: &[&str]) -> String {
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        .into_iter()
        .filter(|m| served.contains(m) || (*m == "HEAD" && served.contains(&"GET")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The router's 405 `Allow`: the served methods as declared, `HEAD` right after `GET`.
fn router_allow(served: &[&str]) -> String {
    served
        .iter()
        .flat_map(|m| {
            if *m == "GET" {
                vec!["GET", "HEAD"]
            } else {
                vec![*m]
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Sends every probed method to `path`: the unserved ones must be DRF's JSON 405 with the
/// router's `Allow`, the served ones must reach their handler.
async fn check_405s(srv: &crate::common::TestServer, path: &str, served: &[&str]) {
    for name in PROBED {
        let method = Method::from_bytes(name.as_bytes()).expect("method");
        let r = srv
            .send(method, path, Some(&srv.token), Some(&json!({})))
            .await;
        if served.contains(&name) {
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{name} {path}");
        } else {
            assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{name} {path}");
            assert_eq!(
                r.body,
                json!({"detail": format!("Method \"{name}\" not allowed.")}),
                "{name} {path}"
            );
            assert_eq!(
                r.header("allow").as_deref(),
                Some(router_allow(served).as_str()),
                "{name} {path}"
            );
        }
    }
}

backend_test!(authentik_allow_matches_served_methods, |srv| {
    for (path, served) in AUTHENTIK {
        let path = format!("/api/v3{path}");
        let r = srv
            .send(Method::OPTIONS, &path, Some(&srv.token), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "OPTIONS {path}");
        assert_eq!(
            r.header("allow").as_deref(),
            Some(drf_allow(served).as_str()),
            "OPTIONS {path}"
        );
        check_405s(srv, &path, served).await;
    }
    // A served method's error answer carries the same `Allow` (DRF sets it on every answer).
    let r = srv.get("/api/v3/core/users/987654/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.header("allow").as_deref(),
        Some("GET, PUT, PATCH, DELETE, HEAD, OPTIONS")
    );
});

backend_test!(awx_allow_matches_served_methods, |srv| {
    for (path, served, view) in AWX {
        check_405s(srv, path, served).await;
        // An answer that names the view's methods lists at least those gatehouse serves.
        for name in *served {
            assert!(
                view.is_empty() || drf_allow(&[*name]).split(", ").all(|m| view.contains(m)),
                "{name} {path}: {view}"
            );
        }
    }
    for (path, view) in [
        ("/api/v2/users/", "GET, POST, HEAD, OPTIONS"),
        ("/api/v2/users/1/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"),
        ("/api/v2/me/", "GET, HEAD, OPTIONS"),
        ("/api/v2/tokens/", "GET, POST, HEAD, OPTIONS"),
        ("/api/v2/organizations/", "OPTIONS"),
    ] {
        let r = srv
            .send(Method::OPTIONS, path, Some(&srv.token), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "OPTIONS {path}");
        assert_eq!(r.header("allow").as_deref(), Some(view), "OPTIONS {path}");
    }
    for (path, view) in [
        ("/api/v2/ping/", "GET, HEAD, OPTIONS"),
        ("/api/v2/users/", "GET, POST, HEAD, OPTIONS"),
        ("/api/v2/users/1/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"),
    ] {
        let r = srv.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}");
        assert_eq!(r.header("allow").as_deref(), Some(view), "GET {path}");
    }
});

// Each dialect renders the errors of the extractors both share: a form body is AWX's own 415
// on its routes (awx-samples/extra/33) and DRF's on authentik's (foundation tests).
backend_test!(shared_extractor_errors_render_per_dialect, |srv| {
    let r = srv
        .send_raw(
            Method::POST,
            "/api/v2/users/",
            Some("application/x-www-form-urlencoded"),
            b"username=alice".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.body,
        json!({"detail": "You did not use correct Content-Type in your HTTP request. If you are using our REST API, the Content-Type must be application/json"})
    );
    assert_eq!(r.header("x-api-product-name").as_deref(), Some("AWX"));
    let r = srv
        .send_raw(
            Method::POST,
            "/api/v3/core/users/",
            Some("application/x-www-form-urlencoded"),
            b"username=alice".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.body,
        json!({"detail": "Unsupported media type \"application/x-www-form-urlencoded\" in request."})
    );
    // A bad token keeps authentik's wording there, and AWX's 401 on its routes.
    let r = srv
        .send(Method::GET, "/api/v3/core/users/", Some("not-a-key"), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": "Token invalid/expired"}));
    let r = srv
        .send(Method::GET, "/api/v2/users/", Some("not-a-key"), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
});
