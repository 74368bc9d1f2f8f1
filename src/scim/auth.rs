//! Who provisions: `Authorization: Bearer <gatehouse API token>` of a superuser or of a user
//! holding the global permission `gatehouse_scim.provision` (through a role). No credentials or
//! a bad token → 401 with `WWW-Authenticate: Bearer`; a valid token without the permission →
//! 403; a read-scoped token may only read (GET, and POST `/.search`, which only reads).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;

use crate::api::authentik::caller::bearer_key;
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::auth::bearer;
use crate::domain::authz::{authorize, Action, Principal};
use crate::domain::DomainError;

/// The SCIM client calling: the principal of its token.
#[derive(Debug, Clone)]
pub struct ScimCaller(pub Principal);

/// Whether the request only reads (`POST …/.search` included).
fn reads_only(parts: &Parts) -> bool {
    matches!(parts.method, Method::GET | Method::HEAD)
        || (parts.method == Method::POST && parts.uri.path().ends_with("/.search"))
}

impl FromRequestParts<Arc<AppState>> for ScimCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer_key(parts).ok_or(ApiError::Domain(DomainError::Unauthenticated))?;
        let principal =
            bearer::authenticate(&state.directory, &key)
                .await
                .map_err(|e| match e {
                    DomainError::Unavailable(_) | DomainError::Internal(_) => e,
                    _ => DomainError::InvalidCredentials,
                })?;
        let action = if reads_only(parts) {
            Action::ScimRead
        } else {
            Action::ScimWrite
        };
        authorize(&principal, action).map_err(|_| ApiError::Domain(DomainError::Forbidden))?;
        Ok(ScimCaller(principal))
    }
}
