//! AWX's `/api/v2/` dialect: the recorded AWX 24.6.1 samples (numbered as in
//! docs/compatibility.md#awx-samples, `extra/N` as in #awx-extra-samples) and the
//! cross-dialect rules (one directory, two views).

use crate::backend_test;
use crate::common::TestServer;
use base64::Engine;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

const NOT_AUTH: &str = "Authentication credentials were not provided. To establish a login session, visit /api/login/.";

struct R {
    status: StatusCode,
    headers: header::HeaderMap,
    body: Value,
    text: String,
}

async fn call(
    srv: &TestServer,
    method: Method,
    path: &str,
    auth: Option<String>,
    body: Option<Value>,
) -> R {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut req = client.request(method, format!("{}{}", srv.base, path));
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("sent");
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    R {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn bearer(srv: &TestServer) -> Option<String> {
    Some(format!("Bearer {}", srv.token))
}

fn basic(user: &str, password: &str) -> Option<String> {
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    ))
}

/// Sets akadmin's password through the authentik dialect.
async fn admin_password(srv: &TestServer) -> String {
    let pk = srv.get("/api/v3/core/users/me/").await.body["user"]["pk"].clone();
    let r = srv
        .post(
            &format!("/api/v3/core/users/{pk}/set_password/"),
            &json!({"password": "admin-pw"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    "admin-pw".into()
}

fn header_value(r: &R, name: &str) -> String {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

const USER_KEYS: [&str; 18] = [
    "id",
    "type",
    "url",
    "related",
    "summary_fields",
    "created",
    "modified",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_superuser",
    "is_system_auditor",
    "password",
    "ldap_dn",
    "last_login",
    "external_account",
    "auth",
];

// Samples 01, 02, extra/05, 09, 06, 04, 01 (anonymous answers).
backend_test!(awx_roots_and_anonymous, |srv| {
    let r = call(srv, Method::GET, "/api/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["available_versions"], json!({"v2": "/api/v2/"}));
    assert_eq!(r.body["current_version"], "/api/v2/");
    assert!(header_value(&r, "set-cookie").starts_with("csrftoken="));
    let r = call(srv, Method::GET, "/api/v2/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    for (k, v) in r.body.as_object().expect("object") {
        assert!(v.as_str().unwrap_or("").starts_with("/api/v2/"), "{k}");
    }
    assert_eq!(r.body["users"], "/api/v2/users/");
    let r = call(srv, Method::GET, "/api/v2/ping/", None, None).await;
    assert_eq!(
        (r.status, r.body["version"].clone()),
        (StatusCode::OK, json!("24.6.1"))
    );
    for path in ["/api/v2/users/", "/api/v2/me/", "/api/v2/config/"] {
        let r = call(srv, Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(r.body, json!({"detail": NOT_AUTH}));
        assert_eq!(
            header_value(&r, "www-authenticate"),
            "Bearer realm=api authorization_url=/api/o/authorize/"
        );
        assert_eq!(header_value(&r, "x-api-product-name"), "AWX");
    }
    // Wrong password, malformed Basic, unknown bearer: the same 401 (extra/02, 60, 03).
    for auth in [
        basic("akadmin", "nope"),
        Some("Basic !!!notbase64".into()),
        Some("Bearer nope".into()),
    ] {
        let r = call(srv, Method::GET, "/api/v2/users/", auth, None).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (StatusCode::UNAUTHORIZED, json!({"detail": NOT_AUTH}))
        );
    }
    let r = call(srv, Method::GET, "/api/v2/config/", bearer(srv), None).await;
    let keys: Vec<&str> = r
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "time_zone",
            "license_info",
            "version",
            "eula",
            "analytics_status",
            "analytics_collectors",
            "become_methods",
            "ui_next",
            "project_base_dir",
            "project_local_paths",
            "custom_virtualenvs"
        ]
    );
    assert_eq!(header_value(&r, "x-api-product-version"), "24.6.1");
});

// Samples 04–13 and extra/10: the OPTIONS the CLI reads.
backend_test!(awx_options_metadata, |srv| {
    let r = call(srv, Method::OPTIONS, "/api/v2/users/", bearer(srv), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header_value(&r, "allow"), "GET, POST, HEAD, OPTIONS");
    let actions: Vec<&str> = r.body["actions"]
        .as_object()
        .expect("actions")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(actions, vec!["GET", "POST"]);
    assert_eq!(r.body["actions"]["POST"]["username"]["required"], true);
    assert_eq!(r.body["actions"]["GET"]["id"]["filterable"], true);
    assert_eq!(r.body["max_page_size"], 200);
    let r = call(srv, Method::OPTIONS, "/api/v2/users/1/", bearer(srv), None).await;
    assert_eq!(
        header_value(&r, "allow"),
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    );
    let r = call(
        srv,
        Method::OPTIONS,
        "/api/v2/users/987654/",
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(
        header_value(&r, "allow"),
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
        "Allow whatever the object"
    );
    for (path, role) in [
        ("organizations", "member_role"),
        ("projects", "use_role"),
        ("inventories", "adhoc_role"),
        ("teams", "member_role"),
        ("credentials", "use_role"),
        ("job_templates", "execute_role"),
        ("workflow_job_templates", "approval_role"),
        ("instance_groups", "use_role"),
    ] {
        let r = call(
            srv,
            Method::OPTIONS,
            &format!("/api/v2/{path}/"),
            bearer(srv),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.body["object_roles"]
                .as_array()
                .expect("roles")
                .iter()
                .any(|x| x == role),
            "{path}"
        );
        assert_eq!(r.body["actions"], json!({}));
    }
    let r = call(srv, Method::OPTIONS, "/api/v2/me/", bearer(srv), None).await;
    assert_eq!(r.body["name"], "Me");
    let r = call(srv, Method::OPTIONS, "/api/v2/tokens/", bearer(srv), None).await;
    assert_eq!(r.body["actions"]["POST"]["scope"]["default"], "write");
});

// Samples 14–18 and extra/30–47: CRUD, filters, pagination, errors.
backend_test!(awx_users_crud, |srv| {
    let r = call(srv, Method::GET, "/api/v2/users/", bearer(srv), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let keys: Vec<&str> = r
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, vec!["count", "next", "previous", "results"]);
    let admin = r.body["results"][0].clone();
    let keys: Vec<&str> = admin
        .as_object()
        .expect("user")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, USER_KEYS.to_vec());
    assert!(
        admin["related"].get("named_url").is_none(),
        "no named_url in list rows"
    );
    assert_eq!(
        admin["summary_fields"]["user_capabilities"],
        json!({"edit": true, "delete": false}),
        "a superuser cannot delete themselves"
    );
    assert_eq!(admin["is_superuser"], true);

    let r = call(srv, Method::POST, "/api/v2/users/", bearer(srv), Some(json!({"username": "x", "password": "y", "email": "x@example.com", "first_name": "Ann", "last_name": "Smith"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let x = r.body.clone();
    assert_eq!(
        header_value(&r, "location"),
        format!("/api/v2/users/{}/", x["id"])
    );
    assert_eq!(x["related"]["named_url"], "/api/v2/users/x/");
    assert_eq!(x["password"], "$encrypted$");
    assert!(x["modified"].is_null());
    let ak = srv
        .get(&format!("/api/v3/core/users/{}/", x["id"]))
        .await
        .body;
    assert_eq!(ak["name"], "Ann Smith", "AWX names become authentik's name");
    let url = format!("/api/v2/users/{}/", x["id"]);
    let r = call(
        srv,
        Method::PATCH,
        &url,
        bearer(srv),
        Some(json!({"first_name": "z", "password": "$encrypted$"})),
    )
    .await;
    assert_eq!(r.body["first_name"], "z");
    assert_eq!(
        srv.get(&format!("/api/v3/core/users/{}/", x["id"]))
            .await
            .body["name"],
        "z Smith"
    );
    srv.patch(
        &format!("/api/v3/core/users/{}/", x["id"]),
        &json!({"email": "patched@example.com"}),
    )
    .await;
    let r = call(srv, Method::GET, "/api/v2/users/x/", bearer(srv), None).await;
    assert_eq!(
        r.body["email"], "patched@example.com",
        "named URL; authentik's change shows up"
    );

    let r = call(
        srv,
        Method::POST,
        "/api/v2/users/",
        bearer(srv),
        Some(json!({"username": "x", "password": "y"})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"username": ["A user with that username already exists."]})
    );
    let r = call(
        srv,
        Method::POST,
        "/api/v2/users/",
        bearer(srv),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"username": ["This field is required."], "password": ["Password required for new User."]})
    );
    let r = call(
        srv,
        Method::PATCH,
        &url,
        bearer(srv),
        Some(json!({"email": "nope"})),
    )
    .await;
    assert_eq!(r.body, json!({"email": ["Enter a valid email address."]}));
    let r = call(
        srv,
        Method::PUT,
        &url,
        bearer(srv),
        Some(json!({"first_name": "only"})),
    )
    .await;
    assert_eq!(r.body, json!({"username": ["This field is required."]}));

    let r = call(
        srv,
        Method::GET,
        "/api/v2/users/?username=x",
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(r.body["count"], 1);
    let r = call(
        srv,
        Method::GET,
        &format!("/api/v2/users/?or__id={}&or__username=akadmin", x["id"]),
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(r.body["count"], 2);
    let r = call(
        srv,
        Method::GET,
        "/api/v2/users/?search=patched",
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(r.body["count"], 1);
    let r = call(
        srv,
        Method::GET,
        "/api/v2/users/?username__icontains=X&not__username=akadmin",
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(r.body["count"], 1);
    let r = call(srv, Method::GET, "/api/v2/users/?foo=1", bearer(srv), None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::BAD_REQUEST,
            json!({"detail": "User has no field named 'foo'"})
        )
    );
    let r = call(
        srv,
        Method::GET,
        "/api/v2/users/?password=x",
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "Filtering on password is not allowed."})
        )
    );
    let r = call(
        srv,
        Method::GET,
        "/api/v2/users/?order_by=-id&page_size=1",
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(r.body["results"][0]["username"], "x");
    assert_eq!(
        r.body["next"],
        "/api/v2/users/?order_by=-id&page=2&page_size=1"
    );
    assert!(r.body["previous"].is_null());
    let r = call(
        srv,
        Method::GET,
        "/api/v2/users/?page=2&page_size=1",
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(r.body["previous"], "/api/v2/users/?page=1&page_size=1");
    let r = call(
        srv,
        Method::GET,
        "/api/v2/users/?page_size=500",
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(srv, Method::GET, "/api/v2/users/?page=9", bearer(srv), None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::NOT_FOUND, json!({"detail": "Invalid page."}))
    );
    let r = call(srv, Method::GET, "/api/v2/users/987654/", bearer(srv), None).await;
    assert_eq!(
        r.body,
        json!({"detail": "No User matches the given query."})
    );
    let r = call(srv, Method::HEAD, "/api/v2/users/", bearer(srv), None).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, ""));
    let r = srv
        .send_raw(
            Method::POST,
            "/api/v2/users/",
            Some("application/x-www-form-urlencoded"),
            b"username=q".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let me = srv.get("/api/v3/core/users/me/").await.body["user"]["pk"].clone();
    let r = call(
        srv,
        Method::DELETE,
        &format!("/api/v2/users/{me}/"),
        bearer(srv),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "Cannot delete user."})
        )
    );
    let r = call(srv, Method::DELETE, &url, bearer(srv), None).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::NO_CONTENT, ""));
    assert_eq!(
        srv.get(&format!("/api/v3/core/users/{}/", x["id"]))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
});

// is_superuser / is_system_auditor map onto the directory (docs/compatibility.md#awx-mapping).
backend_test!(awx_superuser_and_auditor_mapping, |srv| {
    let r = call(
        srv,
        Method::POST,
        "/api/v2/users/",
        bearer(srv),
        Some(json!({"username": "boss", "password": "pw", "is_superuser": true})),
    )
    .await;
    assert_eq!(r.body["is_superuser"], true, "{}", r.text);
    let boss = srv
        .get(&format!("/api/v3/core/users/{}/", r.body["id"]))
        .await
        .body;
    assert_eq!(boss["is_superuser"], true);
    assert_eq!(boss["groups_obj"][0]["name"], "authentik Admins");
    let url = format!("/api/v2/users/{}/", boss["pk"]);
    let r = call(
        srv,
        Method::PATCH,
        &url,
        bearer(srv),
        Some(json!({"is_superuser": false})),
    )
    .await;
    assert_eq!(r.body["is_superuser"], false);
    assert_eq!(
        srv.get(&format!("/api/v3/core/users/{}/", boss["pk"]))
            .await
            .body["groups"],
        json!([])
    );

    // Superuser only through an ancestor group: AWX cannot remove it (clear 400).
    let admins = srv
        .get("/api/v3/core/groups/?name=authentik%20Admins")
        .await
        .body["results"][0]["pk"]
        .clone();
    let child = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "child-of-admins", "parents": [admins], "users": [boss["pk"]]}),
        )
        .await
        .body;
    assert_eq!(
        call(srv, Method::GET, &url, bearer(srv), None).await.body["is_superuser"],
        true
    );
    let r = call(
        srv,
        Method::PATCH,
        &url,
        bearer(srv),
        Some(json!({"is_superuser": false})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["is_superuser"][0]
        .as_str()
        .unwrap_or("")
        .contains("group"));
    srv.delete(&format!(
        "/api/v3/core/groups/{}/",
        child["pk"].as_str().unwrap_or_default()
    ))
    .await;

    // The system auditor role reads everything through both dialects, writes nothing.
    let r = call(
        srv,
        Method::POST,
        "/api/v2/users/",
        bearer(srv),
        Some(json!({"username": "auditor", "password": "audit-pw", "is_system_auditor": true})),
    )
    .await;
    assert_eq!(r.body["is_system_auditor"], true, "{}", r.text);
    let auditor = basic("auditor", "audit-pw");
    let r = call(srv, Method::GET, "/api/v2/users/", auditor.clone(), None).await;
    assert_eq!(r.body["count"], 3);
    let r = call(srv, Method::GET, "/api/v3/core/users/", None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        srv,
        Method::POST,
        "/api/v2/users/",
        auditor,
        Some(json!({"username": "n", "password": "p"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
});

// extra/11–22, 48–57: tokens and a normal user's rules.
backend_test!(awx_tokens_and_normal_user, |srv| {
    let pw = admin_password(srv).await;
    let r = call(srv, Method::POST, "/api/v2/tokens/", basic("akadmin", &pw), Some(json!({"description": "Automation Platform Controller Module Token", "application": null, "scope": "write"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let token = r.body["token"].as_str().expect("token").to_string();
    let id = r.body["id"].clone();
    assert_eq!(r.body["type"], "o_auth2_access_token");
    assert_eq!(
        header_value(&r, "location"),
        format!("/api/v2/tokens/{id}/")
    );
    let r = call(
        srv,
        Method::GET,
        &format!("/api/v2/tokens/{id}/"),
        Some(format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(r.body["token"], "************");
    let listed = srv.get("/api/v3/core/tokens/?search=awx-token").await.body;
    assert_eq!(
        listed["pagination"]["count"], 1,
        "an AWX token is a gatehouse token"
    );
    let r = call(
        srv,
        Method::POST,
        "/api/v2/users/akadmin/personal_tokens/",
        basic("akadmin", &pw),
        Some(json!({"description": "AWX CLI", "application": null, "scope": "read"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let read_token = r.body["token"].as_str().unwrap_or_default().to_string();
    let r = call(
        srv,
        Method::POST,
        "/api/v2/users/",
        Some(format!("Bearer {read_token}")),
        Some(json!({"username": "n", "password": "p"})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a read-scoped token cannot write"
    );
    let r = call(
        srv,
        Method::DELETE,
        &format!("/api/v2/tokens/{id}/"),
        basic("akadmin", &pw),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(
        srv,
        Method::GET,
        "/api/v2/me/",
        Some(format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::UNAUTHORIZED, json!({"detail": NOT_AUTH}))
    );

    // A normal user: self + superusers visible; limited self-edit.
    let n = call(
        srv,
        Method::POST,
        "/api/v2/users/",
        bearer(srv),
        Some(json!({"username": "normal", "password": "npw"})),
    )
    .await
    .body;
    call(
        srv,
        Method::POST,
        "/api/v2/users/",
        bearer(srv),
        Some(json!({"username": "other", "password": "opw"})),
    )
    .await;
    let normal = basic("normal", "npw");
    let r = call(srv, Method::GET, "/api/v2/users/", normal.clone(), None).await;
    let names: Vec<&str> = r.body["results"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, vec!["akadmin", "normal"]);
    let mine = r.body["results"][1]["summary_fields"]["user_capabilities"].clone();
    assert_eq!(mine, json!({"edit": true, "delete": false}));
    let r = call(srv, Method::OPTIONS, "/api/v2/users/", normal.clone(), None).await;
    assert_eq!(
        r.body["actions"].as_object().map(|a| a.len()),
        Some(1),
        "only GET for a normal user"
    );
    let nurl = format!("/api/v2/users/{}/", n["id"]);
    assert_eq!(
        call(
            srv,
            Method::PATCH,
            &nurl,
            normal.clone(),
            Some(json!({"first_name": "Me"}))
        )
        .await
        .status,
        StatusCode::OK
    );
    let r = call(
        srv,
        Method::PATCH,
        &nurl,
        normal.clone(),
        Some(json!({"username": "renamed"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "Cannot change username."})
        )
    );
    let r = call(
        srv,
        Method::PATCH,
        &nurl,
        normal.clone(),
        Some(json!({"is_superuser": true})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"detail": "You do not have permission to perform this action."})
    );
    assert_eq!(
        call(
            srv,
            Method::PATCH,
            "/api/v2/users/akadmin/",
            normal.clone(),
            Some(json!({"first_name": "x"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            srv,
            Method::GET,
            "/api/v2/users/akadmin/",
            normal.clone(),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        call(
            srv,
            Method::GET,
            "/api/v2/users/other/",
            normal.clone(),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            srv,
            Method::DELETE,
            "/api/v2/users/akadmin/",
            normal.clone(),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            srv,
            Method::POST,
            "/api/v2/users/",
            normal,
            Some(json!({"username": "q", "password": "q"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
});

// extra/23–29: the form login the CLI uses, with CSRF.
backend_test!(awx_session_login, |srv| {
    let pw = admin_password(srv).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    let base = &srv.base;
    let r = client
        .get(format!("{base}/api/login/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let csrf = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix("csrftoken=")
                .map(|v| v.split(';').next().unwrap_or("").to_string())
        })
        .expect("csrf cookie");
    let r = client
        .post(format!("{base}/api/login/"))
        .form(&[
            ("username", "akadmin"),
            ("password", "wrong"),
            ("next", "/api/"),
        ])
        .header("X-CSRFToken", &csrf)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let fresh = reqwest::Client::new();
    let r = fresh
        .post(format!("{base}/api/login/"))
        .form(&[("username", "akadmin"), ("password", pw.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no CSRF cookie");
    let r = client
        .post(format!("{base}/api/login/"))
        .form(&[
            ("username", "akadmin"),
            ("password", pw.as_str()),
            ("next", "/api/"),
        ])
        .header("X-CSRFToken", &csrf)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        r.headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some("/api/")
    );
    let new_csrf = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix("csrftoken=")
                .map(|v| v.split(';').next().unwrap_or("").to_string())
        })
        .expect("rotated csrf");
    assert_ne!(new_csrf, csrf);
    let me: Value = client
        .get(format!("{base}/api/v2/me/"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(me["results"][0]["username"], "akadmin");
    assert!(
        me["results"][0]["last_login"].is_string(),
        "a session login records last_login"
    );
    let r = client
        .post(format!("{base}/api/v2/users/"))
        .json(&json!({"username": "s", "password": "p"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "CSRF token missing");
    let r = client
        .post(format!("{base}/api/v2/users/"))
        .header("X-CSRFToken", &new_csrf)
        .json(&json!({"username": "s", "password": "p"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .get(format!("{base}/api/logout/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = client
        .get(format!("{base}/api/v2/me/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "logout ends the session"
    );
});

// Failed password logins are throttled: 10 per account within 60 s, then 429 with Retry-After.
backend_test!(awx_password_guessing_is_throttled, |srv| {
    let pw = admin_password(srv).await;
    for _ in 0..10 {
        let r = call(
            srv,
            Method::GET,
            "/api/v2/me/",
            basic("akadmin", "wrong"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = call(srv, Method::GET, "/api/v2/me/", basic("akadmin", &pw), None).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(r.body["detail"]
        .as_str()
        .unwrap_or("")
        .starts_with("Request was throttled."));
    let retry: i64 = header_value(&r, "retry-after").parse().unwrap_or(0);
    assert!((1..=60).contains(&retry), "{retry}");
    // Bearer tokens are unaffected.
    let r = call(srv, Method::GET, "/api/v2/me/", bearer(srv), None).await;
    assert_eq!(r.status, StatusCode::OK);
});

// A PATCH decides on the user's row inside its own write (no read before it) whenever the
// caller sees every user: answers must stay those of read-then-write.
backend_test!(awx_patch_answers_as_if_read_first, |srv| {
    let r = call(
        srv,
        Method::POST,
        "/api/v2/users/",
        bearer(srv),
        Some(json!({"username": "pat", "password": "pat-pw", "first_name": "Pat", "last_name": "Lee"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let pat = r.body["id"].as_i64().expect("id");
    let r = call(
        srv,
        Method::POST,
        "/api/v2/users/",
        bearer(srv),
        Some(json!({"username": "aud", "password": "aud-pw", "is_system_auditor": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let unknown = pat + 1000;

    // `name` follows from the stored last name when only the first changes.
    let r = call(
        srv,
        Method::PATCH,
        &format!("/api/v2/users/{pat}/"),
        bearer(srv),
        Some(json!({"first_name": "Sam"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["last_name"], "Lee");
    let r = srv.get(&format!("/api/v3/core/users/{pat}/")).await;
    assert_eq!(r.body["name"], "Sam Lee", "{}", r.text);

    // An unknown user is a 404 before anything about the body or the caller's rights.
    let r = call(
        srv,
        Method::PATCH,
        &format!("/api/v2/users/{unknown}/"),
        bearer(srv),
        Some(json!(["not", "an", "object"])),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let auditor = basic("aud", "aud-pw");
    let r = call(
        srv,
        Method::PATCH,
        &format!("/api/v2/users/{unknown}/"),
        auditor.clone(),
        Some(json!({"first_name": "x"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // A user the auditor sees but may not edit: 403, and nothing changed.
    let r = call(
        srv,
        Method::PATCH,
        &format!("/api/v2/users/{pat}/"),
        auditor,
        Some(json!({"first_name": "x"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Renaming oneself needs change_user: the rule sees the stored username.
    let own = basic("pat", "pat-pw");
    let r = call(
        srv,
        Method::PATCH,
        &format!("/api/v2/users/{pat}/"),
        own.clone(),
        Some(json!({"username": "pat", "last_name": "Kim"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["first_name"], "Sam");
    let r = call(
        srv,
        Method::PATCH,
        &format!("/api/v2/users/{pat}/"),
        own,
        Some(json!({"username": "pat-renamed"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = srv.get(&format!("/api/v3/core/users/{pat}/")).await;
    assert_eq!(r.body["username"], "pat", "{}", r.text);
    assert_eq!(r.body["name"], "Sam Kim", "{}", r.text);
});
