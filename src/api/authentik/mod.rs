//! authentik's `/api/v3/` dialect: DRF shapes, page-number pagination, 403 for every
//! authentication failure.

pub mod caller;
pub mod error;
pub mod events;
pub mod groups;
pub mod openapi;
pub mod pagination;
pub mod ql;
pub mod rbac;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use axum::extract::RawQuery;
use axum::Router;

use crate::api::routing::{Route, Routes};

use crate::app::AppState;

/// A UUID lookup from the URL; anything else is a plain 404 (`Not found.`).
pub fn parse_uuid(raw: &str) -> Result<String, crate::api::error::ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| crate::api::error::ApiError::BadLookup)
}

/// The `autocomplete` of lists without DjangoQL fields (tokens, RBAC).
pub fn empty_autocomplete() -> &'static serde_json::Value {
    static EMPTY: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| serde_json::json!({}))
}

/// A refused authorization, as authentik answers it (403).
pub fn denied(_: crate::domain::authz::Denied) -> crate::api::error::ApiError {
    crate::api::error::ApiError::Domain(crate::domain::DomainError::Forbidden)
}

/// What the caller may list of a kind; seeing nothing at all is a 403 (authentik's ObjectFilter).
pub fn require_visibility(
    caller: &crate::domain::authz::Principal,
    view_permission: &str,
) -> Result<crate::domain::authz::Visibility, crate::api::error::ApiError> {
    match crate::domain::authz::visibility(caller, view_permission) {
        crate::domain::authz::Visibility::Nothing => {
            Err(denied(crate::domain::authz::Denied::Forbidden))
        }
        v => Ok(v),
    }
}

/// Whether the caller may see one object: 403 when it sees nothing of the kind, else a 404
/// naming the kind when this object is not among what it sees.
pub fn require_sight(
    caller: &crate::domain::authz::Principal,
    view_permission: &str,
    object: &str,
    kind: crate::domain::error::ObjectKind,
) -> Result<(), crate::api::error::ApiError> {
    crate::domain::authz::may_see(caller, view_permission, object).map_err(|d| match d {
        crate::domain::authz::Denied::Forbidden | crate::domain::authz::Denied::Protected => {
            denied(d)
        }
        crate::domain::authz::Denied::Hidden => {
            crate::api::error::ApiError::Domain(crate::domain::DomainError::NotFound(kind))
        }
    })
}

pub use crate::api::extract::Lookup;

/// DRF's `OPTIONS` metadata, for every `/api/v3/` route (authenticated, like the rest).
pub async fn options(caller::Caller(_caller): caller::Caller) -> axum::response::Response {
    crate::api::error::json_response(
        axum::http::StatusCode::OK,
        &serde_json::json!({
            "name": "",
            "description": "",
            "renders": ["application/json"],
            "parses": ["application/json"]
        }),
    )
}

/// Every `/api/v3/` route: the API's and its OpenAPI document (built here from their table).
///
/// # Panics
/// When the route table and the operations the modules declare disagree (a route without an
/// operation in the document, or an operation for no route): caught when the router is built,
/// at start-up and by every test.
pub fn routes(directory: &crate::domain::Directory) -> Router<Arc<AppState>> {
    let document: Arc<openapi::Document> = Arc::default();
    let api = Routes::new(error::finish)
        .merge(users::routes(directory))
        .merge(groups::routes())
        .merge(tokens::routes())
        .merge(rbac::routes())
        .merge(events::routes())
        .route(
            openapi::SCHEMA_PATH,
            Route::new().get({
                let document = document.clone();
                move |query: RawQuery| openapi::serve(document.clone(), query)
            }),
        );
    if let Err(e) = document.prepare(api.table()) {
        panic!("the OpenAPI document of /api/v3 cannot be built: {e}");
    }
    api.into_router()
}
