//! gatehouse's own OpenAPI document (`/api/v3/schema/`) against the server it describes: every
//! documented path answers with exactly the documented methods in its `Allow` header, and real
//! answers (users, groups, tokens, roles, permissions, events, pages of them) carry exactly the
//! properties their response schema declares, of the declared types.
//!
//! The other direction — a served route missing from the document — cannot reach a test: the
//! document is built from the router's own route table, and a route without a declared
//! operation stops the router from being built (every test's server would fail to start).

use reqwest::Method;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backend_test;
use crate::common::TestServer;

/// The document's `#/components/schemas/…` reference resolved.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// Checks `value` against `schema` (types, required and declared properties, items, uuid and
/// date-time formats); each mismatch is pushed with its JSON path.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(kinds) = schema.get("type") {
        let kinds: Vec<&str> = match kinds {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !kinds.iter().any(|k| type_matches(k, value)) {
            errors.push(format!("{at}: {value} is not {kinds:?}"));
            return;
        }
    }
    if let (Some(format), Some(s)) = (schema.get("format").and_then(Value::as_str), value.as_str())
    {
        let ok = match format {
            "uuid" => uuid::Uuid::parse_str(s).is_ok(),
            "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: {s:?} is not a {format}"));
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"), errors);
        }
    }
    if let (Some(props), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for name in schema["required"].as_array().into_iter().flatten() {
            if let Some(name) = name.as_str() {
                if !object.contains_key(name) {
                    errors.push(format!("{at}: required {name} missing"));
                }
            }
        }
        for (name, v) in object {
            match props.get(name) {
                Some(p) => check(doc, p, v, &format!("{at}.{name}"), errors),
                None => errors.push(format!("{at}: {name} is sent but not declared")),
            }
        }
    }
}

/// Fetches `url` and checks the answer against the document's `method path` success schema.
async fn conforms(srv: &TestServer, doc: &Value, path: &str, url: &str) {
    let r = srv.get(url).await;
    assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.text);
    let schema =
        &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(!schema.is_null(), "{path}: no 200 schema");
    let mut errors = Vec::new();
    check(doc, schema, &r.body, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{url} against {path}:\n{}",
        errors.join("\n")
    );
}

/// A URL for a documented path (the lookups need not exist: only the `Allow` header is read).
fn concrete(path: &str) -> String {
    let url: Vec<String> = path
        .split('/')
        .map(|s| match s {
            "{id}" => "1".to_string(),
            "{identifier}" => "some-token".to_string(),
            s if s.starts_with('{') => "00000000-0000-0000-0000-000000000000".to_string(),
            s => s.to_string(),
        })
        .collect();
    format!("/api/v3{}", url.join("/"))
}

backend_test!(openapi_document_lists_what_is_served, |srv| {
    let r = srv
        .send(Method::GET, "/api/v3/schema/?format=json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/vnd.oai.openapi+json")
    );
    let doc = r.body;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    // authentik's names for the lookups.
    for path in [
        "/core/users/{id}/",
        "/core/groups/{group_uuid}/",
        "/core/tokens/{identifier}/",
        "/rbac/roles/{uuid}/",
        "/rbac/permissions/{id}/",
        "/events/events/{event_uuid}/",
        "/schema/",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not documented");
    }
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 30, "{} paths", paths.len());
    for (path, item) in paths {
        let mut documented: Vec<String> = item
            .as_object()
            .expect("path item")
            .keys()
            .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
            .map(|k| k.to_uppercase())
            .collect();
        documented.sort();
        let r = srv
            .send(
                Method::OPTIONS,
                &concrete(path),
                Some(srv.token.as_str()),
                None,
            )
            .await;
        let mut allowed: Vec<String> = r
            .header("allow")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty() && *m != "HEAD" && *m != "OPTIONS")
            .map(str::to_string)
            .collect();
        allowed.sort();
        assert_eq!(documented, allowed, "{path}: documented vs Allow");
    }

    // YAML by default, the same document.
    let r = srv.send(Method::GET, "/api/v3/schema/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/vnd.oai.openapi")
    );
    assert!(r.text.starts_with("openapi: "), "{}", &r.text[..40]);
    assert!(r.text.contains("\n  \"/core/users/{id}/\":\n"));
});

backend_test!(openapi_answers_match_their_schemas, |srv| {
    let doc = srv
        .send(Method::GET, "/api/v3/schema/?format=json", None, None)
        .await
        .body;
    let role = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "documented-role"}))
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.text);
    let parent = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "documented-parent"}),
        )
        .await;
    assert_eq!(parent.status, StatusCode::CREATED, "{}", parent.text);
    let group = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "documented", "parents": [parent.body["pk"]], "roles": [role.body["pk"]], "attributes": {"a": 1}}),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.text);
    let user = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "documented", "name": "Doc U", "groups": [group.body["pk"]], "roles": [role.body["pk"]], "email": "d@example.com"}),
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.text);
    let token = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({"identifier": "documented-token", "intent": "api", "user": user.body["pk"], "expiring": true, "expires": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.text);
    let r = srv
        .post(
            &format!(
                "/api/v3/rbac/permissions/assigned_by_roles/{}/assign/",
                role.body["pk"].as_str().expect("role pk")
            ),
            &json!({"permissions": ["authentik_core.view_user"], "model": "authentik_core.user", "object_pk": user.body["pk"].to_string()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let id = user.body["pk"].as_i64().expect("user pk");
    let group_uuid = group.body["pk"].as_str().expect("group pk");
    let role_uuid = role.body["pk"].as_str().expect("role pk");
    conforms(srv, &doc, "/core/users/", "/api/v3/core/users/").await;
    conforms(
        srv,
        &doc,
        "/core/users/{id}/",
        &format!("/api/v3/core/users/{id}/"),
    )
    .await;
    conforms(
        srv,
        &doc,
        "/core/users/{id}/",
        &format!("/api/v3/core/users/{id}/?include_groups=false&include_roles=false"),
    )
    .await;
    conforms(srv, &doc, "/core/users/me/", "/api/v3/core/users/me/").await;
    conforms(srv, &doc, "/core/users/paths/", "/api/v3/core/users/paths/").await;
    conforms(
        srv,
        &doc,
        "/core/users/{id}/used_by/",
        &format!("/api/v3/core/users/{id}/used_by/"),
    )
    .await;
    conforms(srv, &doc, "/core/groups/", "/api/v3/core/groups/?include_users=true&include_children=true&include_parents=true&include_inherited_roles=true").await;
    conforms(
        srv,
        &doc,
        "/core/groups/{group_uuid}/",
        &format!("/api/v3/core/groups/{group_uuid}/?include_users=true&include_children=true&include_parents=true&include_inherited_roles=true"),
    )
    .await;
    conforms(srv, &doc, "/core/tokens/", "/api/v3/core/tokens/").await;
    conforms(
        srv,
        &doc,
        "/core/tokens/{identifier}/",
        "/api/v3/core/tokens/documented-token/",
    )
    .await;
    conforms(
        srv,
        &doc,
        "/core/tokens/{identifier}/view_key/",
        "/api/v3/core/tokens/documented-token/view_key/",
    )
    .await;
    conforms(srv, &doc, "/rbac/roles/", "/api/v3/rbac/roles/").await;
    conforms(
        srv,
        &doc,
        "/rbac/roles/{uuid}/",
        &format!("/api/v3/rbac/roles/{role_uuid}/"),
    )
    .await;
    conforms(
        srv,
        &doc,
        "/rbac/roles/{uuid}/used_by/",
        &format!("/api/v3/rbac/roles/{role_uuid}/used_by/"),
    )
    .await;
    conforms(srv, &doc, "/rbac/permissions/", "/api/v3/rbac/permissions/").await;
    let permissions = srv.get("/api/v3/rbac/permissions/?page_size=1").await;
    let permission = permissions.body["results"][0]["id"]
        .as_i64()
        .expect("a permission");
    conforms(
        srv,
        &doc,
        "/rbac/permissions/{id}/",
        &format!("/api/v3/rbac/permissions/{permission}/"),
    )
    .await;
    conforms(
        srv,
        &doc,
        "/rbac/permissions/roles/",
        &format!("/api/v3/rbac/permissions/roles/?uuid={role_uuid}"),
    )
    .await;
    conforms(
        srv,
        &doc,
        "/rbac/permissions/assigned_by_roles/",
        "/api/v3/rbac/permissions/assigned_by_roles/?model=authentik_core.user",
    )
    .await;
    conforms(srv, &doc, "/events/events/", "/api/v3/events/events/").await;
    let events = srv.get("/api/v3/events/events/").await;
    let event = events.body["results"][0]["pk"].as_str().expect("an event");
    conforms(
        srv,
        &doc,
        "/events/events/{event_uuid}/",
        &format!("/api/v3/events/events/{event}/"),
    )
    .await;
    conforms(
        srv,
        &doc,
        "/events/events/actions/",
        "/api/v3/events/events/actions/",
    )
    .await;
    conforms(
        srv,
        &doc,
        "/events/events/volume/",
        "/api/v3/events/events/volume/",
    )
    .await;
    conforms(
        srv,
        &doc,
        "/events/events/top_per_user/",
        "/api/v3/events/events/top_per_user/?action=login",
    )
    .await;
});

backend_test!(openapi_reference_page_is_offline, |srv| {
    let r = srv.send(Method::GET, "/api/v3/", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let csp = r.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!r.text.contains("http://") && !r.text.contains("https://"));
    assert!(!r.text.contains("<script>"), "no inline script");
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "init.js"] {
        let url = format!("/static/api-reference/5.31.0/{asset}");
        assert!(r.text.contains(&url), "{url} not on the page");
        let a = srv.send(Method::GET, &url, None, None).await;
        assert_eq!(a.status, StatusCode::OK, "{url}");
        assert!(!a.text.is_empty());
    }
    let a = srv
        .send(
            Method::GET,
            "/static/api-reference/5.31.0/swagger-ui-bundle.js",
            None,
            None,
        )
        .await;
    assert!(a
        .header("cache-control")
        .is_some_and(|c| c.contains("immutable")));
    let missing = srv
        .send(
            Method::GET,
            "/static/api-reference/5.31.0/nope.js",
            None,
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
});
