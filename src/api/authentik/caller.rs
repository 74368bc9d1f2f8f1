//! Who is calling: `Authorization: Bearer <key>` → `Principal`, with authentik's answers for
//! missing and bad credentials (both 403, on every route — deviation 3). A read-scoped token
//! is refused every unsafe method here, before any handler runs.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::api::error::ApiError;
use crate::api::request_kind;
use crate::app::AppState;
use crate::auth::bearer;
use crate::domain::authz::{authorize_request, Principal};
use crate::domain::DomainError;

/// The authenticated caller of an `/api/v3/` request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// The bearer key in an `Authorization` header, if the header carries one.
pub fn bearer_key(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let key = credentials.trim();
    (!key.is_empty()).then(|| key.to_string())
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer_key(parts).ok_or(ApiError::Domain(DomainError::Unauthenticated))?;
        let principal = bearer::authenticate(&state.directory, &key).await?;
        authorize_request(&principal, request_kind(&parts.method)).map_err(super::denied)?;
        Ok(Caller(principal))
    }
}
