//! authentik's `/api/v3/` dialect: DRF shapes, page-number pagination, 403 for every
//! authentication failure.

pub mod caller;
pub mod groups;
pub mod pagination;
pub mod query;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use axum::Router;

use crate::app::AppState;

/// A refused authorization, as authentik answers it (403).
pub fn denied(_: crate::domain::authz::Denied) -> crate::api::error::ApiError {
    crate::api::error::ApiError::Domain(crate::domain::DomainError::Forbidden)
}

/// The lookup segment of a detail URL (`{id}`, `{uuid}`, `{identifier}`). A segment that is not
/// valid UTF-8 cannot name anything: a JSON 404 like any other unknown lookup.
pub struct Lookup(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lookup {
    type Rejection = crate::api::error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(s)| Lookup(s))
            .map_err(|_| crate::api::error::ApiError::BadLookup)
    }
}

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

/// Every `/api/v3/` route.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .merge(users::routes())
        .merge(groups::routes())
        .merge(tokens::routes())
}
