//! Issue 21: the admin console over HTTP, as a browser without JavaScript drives it — sign-in
//! (CSRF, throttle, audit), every page for an admin, self-service only for others, the user
//! forms, group membership seen through the hierarchy, a token's key shown once, the audit
//! log's filters, and the headers every answer carries.

use reqwest::header;
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::backend_test;
use crate::common::TestServer;

/// A cookie-keeping client that does not follow redirects.
pub(crate) fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

/// The value of the first hidden `csrf` field of a page.
pub(crate) fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..].split('"').next().expect("value").to_string()
}

pub(crate) struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

pub(crate) async fn get(srv: &TestServer, client: &Client, path: &str) -> Page {
    let r = client
        .get(format!("{}{}", srv.base, path))
        .send()
        .await
        .expect("sent");
    read(r).await
}

pub(crate) async fn post(
    srv: &TestServer,
    client: &Client,
    path: &str,
    form: &[(&str, &str)],
) -> Page {
    let r = client
        .post(format!("{}{}", srv.base, path))
        .form(form)
        .send()
        .await
        .expect("sent");
    read(r).await
}

async fn read(r: reqwest::Response) -> Page {
    let status = r.status();
    let headers = r.headers().clone();
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = r.text().await.unwrap_or_default();
    Page {
        status,
        location,
        headers,
        text,
    }
}

/// Signs in; returns the client, where the sign-in led, and a CSRF token of the session.
pub(crate) async fn sign_in(
    srv: &TestServer,
    username: &str,
    password: &str,
) -> (Client, String, String) {
    let client = browser();
    let form = get(srv, &client, "/if/login/").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains("Username") && form.text.contains("Password"));
    let r = post(
        srv,
        &client,
        "/if/login/",
        &[
            ("csrf", &csrf_of(&form.text)),
            ("username", username),
            ("password", password),
        ],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "sign-in of {username}: {}",
        r.text
    );
    let landing = r.location.expect("a location");
    let page = get(srv, &client, &landing).await;
    assert_eq!(page.status, StatusCode::OK, "{landing}");
    let csrf = csrf_of(&page.text);
    (client, landing, csrf)
}

/// Creates a user with a password through AWX; returns its id.
pub(crate) async fn user(srv: &TestServer, username: &str, password: &str, superuser: bool) -> i64 {
    let r = srv
        .post(
            "/api/v2/users/",
            &json!({"username": username, "password": password, "is_superuser": superuser}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().expect("id")
}

pub(crate) async fn group(srv: &TestServer, name: &str, parents: &[&str]) -> String {
    let r = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": name, "parents": parents}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["pk"].as_str().expect("pk").to_string()
}

backend_test!(
    console_root_leads_to_sign_in_and_pages_carry_strict_headers,
    |srv| {
        let client = browser();
        let root = get(srv, &client, "/").await;
        assert_eq!(root.status, StatusCode::SEE_OTHER);
        assert_eq!(root.location.as_deref(), Some("/if/admin/"));
        let admin = get(srv, &client, "/if/admin/users/?q=x").await;
        assert_eq!(admin.status, StatusCode::SEE_OTHER, "not signed in");
        assert_eq!(
            admin.location.as_deref(),
            Some("/if/login/?next=%2Fif%2Fadmin%2Fusers%2F%3Fq%3Dx")
        );
        let form = get(srv, &client, "/if/login/").await;
        let csp = form.headers.get("content-security-policy").expect("csp");
        let csp = csp.to_str().expect("text");
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(
            form.headers.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..])
        );
        assert!(!form.text.contains("<script"), "no scripts");
        assert!(!form.text.contains("style="), "no inline styles");
        // The stylesheet is compiled in, under a hashed name cached for a year.
        let href_start = form
            .text
            .find("/if/static/console-")
            .expect("stylesheet link");
        let href = form.text[href_start..]
            .split('"')
            .next()
            .expect("href")
            .to_string();
        let css = get(srv, &client, &href).await;
        assert_eq!(css.status, StatusCode::OK);
        assert!(css.text.contains("prefers-color-scheme: dark"));
        let cache = css.headers.get("cache-control").expect("cache-control");
        assert!(cache.to_str().expect("text").contains("immutable"));
        assert_eq!(
            get(srv, &client, "/if/static/other.css").await.status,
            StatusCode::NOT_FOUND
        );
    }
);

backend_test!(console_admin_sees_every_page, |srv| {
    let id = user(srv, "root2", "pw-root2", true).await;
    let parent = group(srv, "staff", &[]).await;
    let role = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "auditors"}))
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.text);
    let role = role.body["pk"].as_str().expect("pk").to_string();
    let (client, landing, _) = sign_in(srv, "root2", "pw-root2").await;
    assert_eq!(landing, "/if/admin/");
    for path in [
        "/if/admin/".to_string(),
        "/if/admin/users/".to_string(),
        "/if/admin/users/?q=root&active=yes&type=internal&path=users&page=1".to_string(),
        "/if/admin/users/new/".to_string(),
        format!("/if/admin/users/{id}/"),
        format!("/if/admin/users/{id}/delete/"),
        "/if/admin/groups/".to_string(),
        format!("/if/admin/groups/{parent}/"),
        "/if/admin/roles/".to_string(),
        format!("/if/admin/roles/{role}/"),
        "/if/admin/tokens/".to_string(),
        "/if/admin/events/".to_string(),
        "/if/user/".to_string(),
    ] {
        let page = get(srv, &client, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.text);
        assert!(
            page.text.len() < 100 * 1024,
            "{path} is {} bytes",
            page.text.len()
        );
        assert!(page.text.contains("<nav"), "{path} has the navigation");
    }
    let users = get(srv, &client, "/if/admin/users/").await;
    assert!(
        users.text.contains("<table") && users.text.contains("<th scope=\"col\">Username</th>")
    );
    assert!(users.text.contains("akadmin") && users.text.contains("New user"));
    let dashboard = get(srv, &client, "/if/admin/").await;
    assert!(dashboard.text.contains("Ready"), "health shown");
    assert_eq!(
        get(srv, &client, "/if/admin/users/999999/").await.status,
        StatusCode::NOT_FOUND
    );
});

backend_test!(
    console_refuses_forms_without_the_session_csrf_token,
    |srv| {
        user(srv, "root3", "pw-root3", true).await;
        let client = browser();
        // Sign-in itself needs the form's token.
        let r = post(
            srv,
            &client,
            "/if/login/",
            &[("username", "root3"), ("password", "pw-root3")],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let (client, _, csrf) = sign_in(srv, "root3", "pw-root3").await;
        let fields = [("username", "mallory"), ("name", "Mallory")];
        let r = post(srv, &client, "/if/admin/users/", &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "no token");
        let other = browser();
        let form = get(srv, &other, "/if/login/").await;
        let forged = csrf_of(&form.text);
        let r = post(
            srv,
            &client,
            "/if/admin/users/",
            &[
                ("csrf", forged.as_str()),
                ("username", "mallory"),
                ("name", "M"),
            ],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "a pre-login token is not the session's"
        );
        let gone = srv.get("/api/v3/core/users/?username=mallory").await;
        assert_eq!(gone.body["pagination"]["count"], 0, "nothing was created");
        let r = post(
            srv,
            &client,
            "/if/admin/users/",
            &[
                ("csrf", csrf.as_str()),
                ("username", "mallory"),
                ("name", "M"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    }
);

backend_test!(console_non_admins_get_self_service_only, |srv| {
    user(srv, "plain", "pw-plain", false).await;
    let (client, landing, csrf) = sign_in(srv, "plain", "pw-plain").await;
    assert_eq!(landing, "/if/user/");
    for path in [
        "/if/admin/",
        "/if/admin/users/",
        "/if/admin/groups/",
        "/if/admin/roles/",
        "/if/admin/tokens/",
        "/if/admin/events/",
        "/if/admin/users/1/",
    ] {
        let page = get(srv, &client, path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    let me = get(srv, &client, "/if/user/").await;
    assert!(me.text.contains("My account") && !me.text.contains("href=\"/if/admin/users/\""));
    let r = post(
        srv,
        &client,
        "/if/admin/users/",
        &[("csrf", csrf.as_str()), ("username", "x"), ("name", "x")],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "creating users needs add_user"
    );
    // Own password: the session that changed it stays valid.
    let r = post(
        srv,
        &client,
        "/if/user/password/",
        &[("csrf", csrf.as_str()), ("password", "pw-new")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(get(srv, &client, "/if/user/").await.status, StatusCode::OK);
    let (_, landing, _) = sign_in(srv, "plain", "pw-new").await;
    assert_eq!(landing, "/if/user/");
    // Sign-out ends the session.
    let r = post(srv, &client, "/if/logout/", &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let after = get(srv, &client, "/if/user/").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location.unwrap_or_default().starts_with("/if/login/"));
});

backend_test!(
    console_creates_edits_deactivates_and_deletes_a_user,
    |srv| {
        user(srv, "root4", "pw-root4", true).await;
        let (client, _, csrf) = sign_in(srv, "root4", "pw-root4").await;
        let c = csrf.as_str();
        // The API's messages, next to their fields.
        let bad = post(
            srv,
            &client,
            "/if/admin/users/",
            &[("csrf", c), ("username", ""), ("name", "No Name")],
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(
            bad.text.contains("This field may not be blank."),
            "{}",
            bad.text
        );
        assert!(bad.text.contains("id=\"err-username\""));
        let bad = post(
            srv,
            &client,
            "/if/admin/users/",
            &[("csrf", c), ("username", "a b"), ("name", "x")],
        )
        .await;
        assert!(bad.text.contains("Enter a valid username."), "{}", bad.text);
        let made = post(
            srv,
            &client,
            "/if/admin/users/",
            &[
                ("csrf", c),
                ("username", "carol"),
                ("name", "Carol"),
                ("email", "carol@example.com"),
                ("path", "users"),
                ("type", "internal"),
                ("is_active", "on"),
                ("password", "pw-carol"),
            ],
        )
        .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
        let location = made.location.expect("location");
        assert!(location.ends_with("/?done=created"), "{location}");
        let page = get(srv, &client, &location).await;
        assert!(page.text.contains("Created.") && page.text.contains("carol@example.com"));
        let id: i64 = location
            .trim_start_matches("/if/admin/users/")
            .split('/')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("id");
        let api = srv.get(&format!("/api/v3/core/users/{id}/")).await;
        assert_eq!(api.body["username"], "carol");
        // The new password works.
        let (_, landing, _) = sign_in(srv, "carol", "pw-carol").await;
        assert_eq!(landing, "/if/user/");
        let saved = post(
            srv,
            &client,
            &format!("/if/admin/users/{id}/"),
            &[
                ("csrf", c),
                ("username", "carol"),
                ("name", "Carol King"),
                ("email", "carol@example.com"),
                ("path", "users"),
                ("type", "internal"),
                ("is_active", "on"),
            ],
        )
        .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
        assert_eq!(
            srv.get(&format!("/api/v3/core/users/{id}/")).await.body["name"],
            "Carol King"
        );
        let bad = post(
            srv,
            &client,
            &format!("/if/admin/users/{id}/"),
            &[
                ("csrf", c),
                ("username", "carol"),
                ("name", "C"),
                ("email", "not-an-email"),
                ("path", "users"),
                ("type", "internal"),
                ("is_active", "on"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.text.contains("id=\"err-email\""), "{}", bad.text);
        let off = post(
            srv,
            &client,
            &format!("/if/admin/users/{id}/active/"),
            &[("csrf", c), ("active", "no")],
        )
        .await;
        assert_eq!(off.status, StatusCode::SEE_OTHER);
        assert_eq!(
            srv.get(&format!("/api/v3/core/users/{id}/")).await.body["is_active"],
            false
        );
        let confirm = get(srv, &client, &format!("/if/admin/users/{id}/delete/")).await;
        assert!(confirm.text.contains("cannot be undone"));
        let gone = post(
            srv,
            &client,
            &format!("/if/admin/users/{id}/delete/"),
            &[("csrf", c)],
        )
        .await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        assert_eq!(
            srv.get(&format!("/api/v3/core/users/{id}/")).await.status,
            StatusCode::NOT_FOUND
        );
    }
);

backend_test!(
    console_member_of_a_child_is_an_effective_member_of_the_parent,
    |srv| {
        user(srv, "root5", "pw-root5", true).await;
        user(srv, "dave", "pw-dave", false).await;
        let parent = group(srv, "engineering", &[]).await;
        let child = group(srv, "backend", &[parent.as_str()]).await;
        let (client, _, csrf) = sign_in(srv, "root5", "pw-root5").await;
        let before = get(srv, &client, &format!("/if/admin/groups/{parent}/")).await;
        assert!(!before.text.contains(">dave<"));
        let r = post(
            srv,
            &client,
            &format!("/if/admin/groups/{child}/members/"),
            &[("csrf", csrf.as_str()), ("op", "add"), ("username", "dave")],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let after = get(srv, &client, &format!("/if/admin/groups/{parent}/")).await;
        let effective = after
            .text
            .split("Effective members")
            .nth(1)
            .expect("section");
        assert!(effective.contains(">dave<"), "{}", after.text);
        let direct = after
            .text
            .split("Effective members")
            .next()
            .expect("section");
        assert!(
            !direct.contains(">dave<"),
            "not a direct member of the parent"
        );
        let missing = post(
            srv,
            &client,
            &format!("/if/admin/groups/{child}/members/"),
            &[
                ("csrf", csrf.as_str()),
                ("op", "add"),
                ("username", "nobody"),
            ],
        )
        .await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert!(missing.text.contains("No user is named"));
    }
);

backend_test!(console_shows_a_new_token_key_once, |srv| {
    user(srv, "root6", "pw-root6", true).await;
    let (client, _, csrf) = sign_in(srv, "root6", "pw-root6").await;
    let made = post(
        srv,
        &client,
        "/if/admin/tokens/",
        &[
            ("csrf", csrf.as_str()),
            ("identifier", "console-made"),
            ("intent", "api"),
            ("description", "from the console"),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let start = made.text.find("id=\"new-key\">").expect("the key") + "id=\"new-key\">".len();
    let key = made.text[start..]
        .split('<')
        .next()
        .expect("key")
        .to_string();
    assert_eq!(key.len(), 60, "{key}");
    let me = srv
        .send(
            reqwest::Method::GET,
            "/api/v3/core/users/me/",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "the key authenticates");
    assert_eq!(me.body["user"]["username"], "root6");
    let list = get(srv, &client, "/if/admin/tokens/").await;
    assert!(
        list.text.contains("console-made") && !list.text.contains(&key),
        "never again"
    );
    let found = get(srv, &client, "/if/admin/tokens/?q=MADE").await;
    assert!(
        found.text.contains("console-made"),
        "searched by identifier"
    );
    let none = get(srv, &client, "/if/admin/tokens/?q=nothing-like-it").await;
    assert!(none.text.contains("No tokens.") && none.text.contains("value=\"nothing-like-it\""));
    let dup = post(
        srv,
        &client,
        "/if/admin/tokens/",
        &[("csrf", csrf.as_str()), ("identifier", "console-made")],
    )
    .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert!(dup
        .text
        .contains("Token with this identifier already exists."));
    let revoked = post(
        srv,
        &client,
        "/if/admin/tokens/console-made/delete/",
        &[("csrf", csrf.as_str())],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let me = srv
        .send(
            reqwest::Method::GET,
            "/api/v3/core/users/me/",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::FORBIDDEN, "revoked");
    // Self-service: an own app password, its key shown once.
    user(srv, "erin", "pw-erin", false).await;
    let (erin, _, ecsrf) = sign_in(srv, "erin", "pw-erin").await;
    let own = post(
        srv,
        &erin,
        "/if/user/tokens/",
        &[
            ("csrf", ecsrf.as_str()),
            ("identifier", "erin-app"),
            ("intent", "app_password"),
        ],
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert!(own.text.contains("id=\"new-key\""));
    let page = get(srv, &erin, "/if/user/").await;
    assert!(page.text.contains("erin-app"));
    let theirs = post(
        srv,
        &erin,
        "/if/user/tokens/",
        &[
            ("csrf", ecsrf.as_str()),
            ("identifier", "x"),
            ("owner", "root6"),
        ],
    )
    .await;
    assert_eq!(
        theirs.status,
        StatusCode::BAD_REQUEST,
        "never for someone else"
    );
});

backend_test!(
    console_sign_in_is_throttled_audited_and_the_log_filters,
    |srv| {
        user(srv, "root7", "pw-root7", true).await;
        let client = browser();
        let form = get(srv, &client, "/if/login/").await;
        let token = csrf_of(&form.text);
        let wrong = post(
            srv,
            &client,
            "/if/login/",
            &[
                ("csrf", token.as_str()),
                ("username", "root7"),
                ("password", "nope"),
            ],
        )
        .await;
        assert_eq!(wrong.status, StatusCode::OK);
        assert!(wrong
            .text
            .contains("Please enter a correct username and password."));
        let (admin, _, _) = sign_in(srv, "root7", "pw-root7").await;
        let failed = get(srv, &admin, "/if/admin/events/?action=login_failed").await;
        assert_eq!(failed.status, StatusCode::OK);
        assert!(failed.text.contains("login_failed") && failed.text.contains("root7"));
        assert!(!failed.text.contains("model_created"), "filtered by action");
        let created = get(
            srv,
            &admin,
            "/if/admin/events/?action=model_created&username=akadmin",
        )
        .await;
        assert!(
            created.text.contains("username: — → root7"),
            "the diff, readably: {}",
            created.text
        );
        let future = get(srv, &admin, "/if/admin/events/?from=2999-01-01T00:00").await;
        assert!(future.text.contains("No events match."));
        let bad = get(srv, &admin, "/if/admin/events/?from=yesterday").await;
        assert!(bad.text.contains("Enter a valid date/time."));
        // The same throttle as every password door: ten failures, then 429.
        let mut last = StatusCode::OK;
        for _ in 0..11 {
            let form = get(srv, &client, "/if/login/").await;
            let token = csrf_of(&form.text);
            last = post(
                srv,
                &client,
                "/if/login/",
                &[
                    ("csrf", token.as_str()),
                    ("username", "victim"),
                    ("password", "guess"),
                ],
            )
            .await
            .status;
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    }
);

backend_test!(console_in_a_real_browser, |srv| {
    // Playwright driving Debian's chromium (tests/clients/console_browser.py); .ci/run installs
    // both and sets the variable.
    let Some(python) = std::env::var("GATEHOUSE_PLAYWRIGHT_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!("GATEHOUSE_PLAYWRIGHT_PYTHON unset: console_browser.py not run");
        return;
    };
    user(srv, "browser-admin", "pw-browser-admin", true).await;
    user(srv, "browser-member", "pw-browser-member", false).await;
    let parent = group(srv, "browser-parent", &[]).await;
    let child = group(srv, "browser-child", &[parent.as_str()]).await;
    let mut command = tokio::process::Command::new(python);
    command
        .arg(format!(
            "{}/tests/clients/console_browser.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .env("GATEHOUSE_URL", &srv.base)
        .env("GATEHOUSE_ADMIN", "browser-admin")
        .env("GATEHOUSE_ADMIN_PASSWORD", "pw-browser-admin")
        .env("GATEHOUSE_MEMBER", "browser-member")
        .env("GATEHOUSE_MEMBER_PASSWORD", "pw-browser-member")
        .env("GATEHOUSE_PARENT_GROUP", &parent)
        .env("GATEHOUSE_CHILD_GROUP", &child)
        .env_remove("GATEHOUSE_SCREENSHOTS");
    let output = command.output().await.expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "console_browser.py failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ok no console errors"), "{stdout}");
    // The browser's own measurement of the users page, for the report (not asserted).
    for line in stdout.lines().filter(|l| l.starts_with("users page:")) {
        eprintln!("{:?}: {line}", srv.backend);
    }
});
