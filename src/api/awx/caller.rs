//! Who is calling the AWX dialect: `Bearer` (a gatehouse API token), `Basic` (username and
//! password), or the `awx_sessionid` cookie of an `/api/login/` session — which must also carry
//! a CSRF token on unsafe methods. Failed credentials read as anonymous, as in AWX. A
//! read-scoped token is refused every unsafe method here, before any handler runs.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use base64::Engine;

use super::{detail, AwxError};
use crate::api::request_kind;
use crate::app::AppState;
use crate::auth::login::{self, LoginOutcome};
use crate::auth::{bearer, session};
use crate::domain::authz::{authorize_request, Principal};
use crate::domain::DomainError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "awx_sessionid";
/// Name of the CSRF cookie.
pub const CSRF_COOKIE: &str = "csrftoken";

/// An authenticated AWX caller.
#[derive(Debug, Clone)]
pub struct AwxCaller(pub Principal);

/// A caller that may be anonymous (AllowAny views).
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Principal>);

/// The value of a cookie in the request.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    cookie_in(&parts.headers, name)
}

/// The value of a cookie in these headers.
pub fn cookie_in(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The client's address, when the server knows it.
pub fn client_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// DRF's throttled answer.
pub fn throttled(seconds: i64) -> AwxError {
    AwxError(crate::api::error::ApiError::Throttled(seconds))
}

/// A password login (Basic or the login form), through the one throttled and audited check
/// every door shares (`auth::login`).
pub async fn password_login(
    state: &AppState,
    username: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
    meta: &crate::api::meta::RequestMeta,
) -> Result<Option<session::Verified>, AwxError> {
    match login::password_login(state, username, password, ip, &meta.audit(None)).await? {
        LoginOutcome::Verified(v) => Ok(Some(v)),
        LoginOutcome::Refused => Ok(None),
        LoginOutcome::Throttled(wait) => Err(throttled(wait)),
    }
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Principal>, AwxError> {
    if let Some(value) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some((scheme, credentials)) = value.trim().split_once(' ') {
            let credentials = credentials.trim();
            if scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty() {
                return match bearer::authenticate(&state.directory, credentials).await {
                    Ok(p) => Ok(Some(p)),
                    Err(DomainError::InvalidCredentials) => Ok(None),
                    Err(e) => Err(e.into()),
                };
            }
            if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(credentials)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                let Some((username, password)) = decoded.as_deref().and_then(|d| d.split_once(':'))
                else {
                    return Ok(None);
                };
                let Ok(meta) =
                    crate::api::meta::RequestMeta::from_request_parts(&mut parts.clone(), state)
                        .await;
                return Ok(
                    password_login(state, username, password, client_ip(parts), &meta)
                        .await?
                        .map(|v| v.principal),
                );
            }
        }
    }
    if let Some(key) = cookie(parts, SESSION_COOKIE).filter(|k| !k.is_empty()) {
        let principal = match session::resume(&state.directory, &key).await {
            Ok(p) => p,
            Err(DomainError::InvalidCredentials) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // Django's CSRF check: unsafe methods must send, in X-CSRFToken, a token of this
        // session (the cookie set at login holds one; any masking of it is accepted).
        let safe = matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        if !safe {
            let expected = cookie(parts, CSRF_COOKIE).filter(|c| !c.is_empty());
            let sent = parts
                .headers
                .get("x-csrftoken")
                .and_then(|v| v.to_str().ok());
            let session_hash = principal.session.as_deref().unwrap_or_default();
            match (expected, sent) {
                (Some(_), Some(s)) if state.csrf.check_session(session_hash, s) => {}
                (None, _) => {
                    return Err(detail(
                        StatusCode::FORBIDDEN,
                        "CSRF Failed: CSRF cookie not set.",
                    ))
                }
                (Some(_), None) => {
                    return Err(detail(
                        StatusCode::FORBIDDEN,
                        "CSRF Failed: CSRF token missing.",
                    ))
                }
                (Some(_), Some(_)) => {
                    return Err(detail(
                        StatusCode::FORBIDDEN,
                        "CSRF Failed: CSRF token incorrect.",
                    ))
                }
            }
        }
        return Ok(Some(principal));
    }
    Ok(None)
}

/// The caller, refused when its credential's scope does not allow this request's method.
async fn resolve_scoped(parts: &Parts, state: &AppState) -> Result<Option<Principal>, AwxError> {
    let principal = resolve(parts, state).await?;
    if let Some(p) = &principal {
        authorize_request(p, request_kind(&parts.method)).map_err(|_| super::forbidden())?;
    }
    Ok(principal)
}

impl FromRequestParts<Arc<AppState>> for AwxCaller {
    type Rejection = AwxError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        match resolve_scoped(parts, state).await? {
            Some(p) => Ok(AwxCaller(p)),
            None => Err(AwxError(DomainError::Unauthenticated.into())),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for MaybeCaller {
    type Rejection = AwxError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(resolve_scoped(parts, state).await?))
    }
}
