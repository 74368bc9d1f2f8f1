//! `/api/`, `/api/v2/`, `ping`, `config`, `me`, and the OPTIONS probes the `awx` CLI sends to
//! resources gatehouse does not serve (answered with their real top-level shape, no fields).

use crate::api::awx::finish as awx_finish;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::{Extension, Router};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::caller::{AwxCaller, CSRF_COOKIE};
use super::users::{is_last_superuser, rendered, users_metadata_fields, RenderedAwxUsers};
use super::{with_allow, AwxError, AwxPage, PRODUCT_VERSION};
use crate::api::error::json_response;
use crate::api::query::Params;
use crate::api::routing::{Methods, Route};
use crate::app::AppState;

/// The methods of AWX's read-only views (roots, ping, config, me). AWX answers their OPTIONS;
/// gatehouse serves it on `me` only.
const READ_ONLY: Methods = Methods::GET.and(Methods::OPTIONS);
/// The methods of a probed resource gatehouse does not serve.
const PROBE: Methods = Methods::OPTIONS;

/// Root, discovery and probe routes; `me` renders from `cache` (shared with the users routes).
pub fn routes(cache: Arc<RenderedAwxUsers>) -> Router<Arc<AppState>> {
    let mut router = Router::new()
        .route(
            "/api/",
            Route::new().get(api_root).within(READ_ONLY, awx_finish),
        )
        .route(
            "/api/v2/",
            Route::new().get(v2_root).within(READ_ONLY, awx_finish),
        )
        .route(
            "/api/v2/ping/",
            Route::new().get(ping).within(READ_ONLY, awx_finish),
        )
        .route(
            "/api/v2/config/",
            Route::new().get(config).within(READ_ONLY, awx_finish),
        )
        .route(
            "/api/v2/me/",
            Route::new()
                .get(me)
                .options(me_options)
                .within(READ_ONLY, awx_finish),
        );
    for (path, _, _, _, _) in PROBES {
        router = router.route(path, Route::new().options(probe).within(PROBE, awx_finish));
    }
    router.layer(Extension(cache))
}

/// A fresh pre-login CSRF cookie for a client that holds none, or one that is not a token at
/// all (a session's token is kept: the client needs it for its writes).
pub fn csrf_cookie_if_missing(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Option<HeaderValue> {
    match super::caller::cookie_in(headers, CSRF_COOKIE) {
        Some(c) if crate::auth::csrf::well_formed(&c) => None,
        _ => Some(csrf_cookie(&state.csrf.anonymous_token())),
    }
}

/// The `Set-Cookie` value for a CSRF token.
pub fn csrf_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{CSRF_COOKIE}={token}; Path=/; SameSite=Lax"))
        .unwrap_or(HeaderValue::from_static("csrftoken=; Path=/"))
}

async fn api_root(State(state): State<Arc<AppState>>, headers: axum::http::HeaderMap) -> Response {
    let body = json!({
        "description": "AWX REST API",
        "current_version": "/api/v2/",
        "available_versions": {"v2": "/api/v2/"},
        "oauth2": "/api/o/",
        "custom_logo": "",
        "custom_login_info": "",
        "login_redirect_override": ""
    });
    let mut response = with_allow(json_response(StatusCode::OK, &body), READ_ONLY);
    if let Some(cookie) = csrf_cookie_if_missing(&state, &headers) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Only what gatehouse serves: the CLI turns every key into a sub-command.
const V2_RESOURCES: [(&str, &str); 5] = [
    ("ping", "/api/v2/ping/"),
    ("config", "/api/v2/config/"),
    ("me", "/api/v2/me/"),
    ("users", "/api/v2/users/"),
    ("tokens", "/api/v2/tokens/"),
];

async fn v2_root() -> Response {
    let mut map = serde_json::Map::new();
    for (name, path) in V2_RESOURCES {
        map.insert(name.into(), Value::String(path.into()));
    }
    with_allow(
        json_response(StatusCode::OK, &Value::Object(map)),
        READ_ONLY,
    )
}

async fn ping(State(state): State<Arc<AppState>>) -> Response {
    let body = json!({
        "ha": false,
        "version": PRODUCT_VERSION,
        "active_node": "gatehouse",
        "install_uuid": state.install_id,
        "instances": [{"node": "gatehouse", "node_type": "hybrid", "uuid": state.install_id, "heartbeat": null, "capacity": 0, "version": env!("CARGO_PKG_VERSION")}],
        "instance_groups": []
    });
    with_allow(json_response(StatusCode::OK, &body), READ_ONLY)
}

async fn config(AwxCaller(_caller): AwxCaller) -> Response {
    let body = json!({
        "time_zone": "UTC",
        "license_info": {},
        "version": PRODUCT_VERSION,
        "eula": "",
        "analytics_status": "off",
        "analytics_collectors": {},
        "become_methods": [],
        "ui_next": false,
        "project_base_dir": "",
        "project_local_paths": [],
        "custom_virtualenvs": []
    });
    with_allow(json_response(StatusCode::OK, &body), READ_ONLY)
}

async fn me(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    Extension(cache): Extension<Arc<RenderedAwxUsers>>,
    RawQuery(query): RawQuery,
) -> Result<Response, AwxError> {
    let params = Params::parse(query.as_deref());
    let page = AwxPage::resolve(&params, 1)?;
    // Read before the user: a write landing meanwhile makes what is rendered now stale.
    let epoch = cache.epoch(&state.directory);
    let user = state.directory.user(caller.user_id).await?;
    let last_superuser = is_last_superuser(&state, user.is_superuser).await?;
    let row = rendered(&state, &cache, &caller, &user, false, epoch, last_superuser)?;
    let body = page.envelope("/api/v2/me/", query.as_deref(), 1, vec![&*row as &RawValue]);
    Ok(with_allow(json_response(StatusCode::OK, &body), READ_ONLY))
}

async fn me_options(AwxCaller(_caller): AwxCaller) -> Response {
    let body = json!({
        "name": "Me",
        "description": "List the current user.",
        "renders": ["application/json", "text/html"],
        "parses": ["application/json"],
        "actions": {"GET": users_metadata_fields(false)},
        "types": ["user"],
        "search_fields": ["username", "first_name", "last_name", "email"],
        "related_search_fields": [],
        "max_page_size": 200
    });
    with_allow(json_response(StatusCode::OK, &body), READ_ONLY)
}

/// A resource the CLI probes: (path, name, type, search fields, object roles).
type Probe = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// The resources the CLI probes.
const PROBES: [Probe; 8] = [
    (
        "/api/v2/organizations/",
        "Organization List",
        "organization",
        &["description", "name"],
        &[
            "admin_role",
            "execute_role",
            "project_admin_role",
            "inventory_admin_role",
            "credential_admin_role",
            "workflow_admin_role",
            "notification_admin_role",
            "job_template_admin_role",
            "execution_environment_admin_role",
            "auditor_role",
            "member_role",
            "read_role",
            "approval_role",
        ],
    ),
    (
        "/api/v2/projects/",
        "Project List",
        "project",
        &["description", "name"],
        &["admin_role", "use_role", "update_role", "read_role"],
    ),
    (
        "/api/v2/inventories/",
        "Inventory List",
        "inventory",
        &["description", "name"],
        &[
            "admin_role",
            "update_role",
            "adhoc_role",
            "use_role",
            "read_role",
        ],
    ),
    (
        "/api/v2/teams/",
        "Team List",
        "team",
        &["description", "name"],
        &["admin_role", "member_role", "read_role"],
    ),
    (
        "/api/v2/credentials/",
        "Credential List",
        "credential",
        &["description", "name"],
        &["admin_role", "use_role", "read_role"],
    ),
    (
        "/api/v2/job_templates/",
        "Job Template List",
        "job_template",
        &["description", "name"],
        &["admin_role", "execute_role", "read_role"],
    ),
    (
        "/api/v2/workflow_job_templates/",
        "Workflow Job Template List",
        "workflow_job_template",
        &["description", "name"],
        &["admin_role", "execute_role", "read_role", "approval_role"],
    ),
    (
        "/api/v2/instance_groups/",
        "Instance Groups",
        "instance_group",
        &["name"],
        &["admin_role", "use_role", "read_role"],
    ),
];

/// A resource gatehouse does not serve: its real top-level metadata, no fields, no methods.
async fn probe(AwxCaller(_caller): AwxCaller, uri: axum::http::Uri) -> Response {
    let Some((_, name, kind, search, roles)) = PROBES.iter().find(|p| p.0 == uri.path()) else {
        return json_response(StatusCode::NOT_FOUND, &json!({"detail": "Not found."}));
    };
    let body = json!({
        "name": name,
        "description": "Not served by gatehouse: this resource exists only so AWX clients can discover role names.",
        "renders": ["application/json", "text/html"],
        "parses": ["application/json"],
        "actions": {},
        "types": [kind],
        "search_fields": search,
        "related_search_fields": [],
        "object_roles": roles,
        "max_page_size": 200
    });
    with_allow(json_response(StatusCode::OK, &body), PROBE)
}
