//! What a request tells the audit log: its id, client address, path, method, user agent and
//! (cleansed) query arguments.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri};
use axum::http::header;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::domain::audit::{is_secret_key, AuditContext, MASK};
use crate::domain::authz::{Principal, Scope};

/// Longest user agent an audit event keeps (real ones are a few hundred characters).
pub const USER_AGENT_MAX_CHARS: usize = 512;

/// The id the request-context middleware gave this request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request facts an audit event records.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    request_id: Option<String>,
    client_ip: Option<String>,
    path: String,
    method: String,
    user_agent: String,
    args: Map<String, Value>,
    retention_seconds: i64,
}

impl RequestMeta {
    /// The audit context of this request, acting as `who`.
    pub fn audit(&self, who: Option<&Principal>) -> AuditContext {
        AuditContext {
            actor: who.map(|p| (p.user_id, p.username.clone())),
            actor_email: who.map(|p| p.email.clone()),
            actor_scope: who.map_or(Scope::Write, |p| p.scope),
            client_ip: self.client_ip.clone(),
            request_id: self.request_id.clone(),
            path: self.path.clone(),
            method: self.method.clone(),
            user_agent: self.user_agent.clone(),
            args: self.args.clone(),
            retention_seconds: self.retention_seconds,
            actor_session: who.and_then(|p| p.session.clone()),
            system_actor: None,
        }
    }
}

impl FromRequestParts<Arc<AppState>> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta::read(parts, state))
    }
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta::read(parts, state))
    }
}

impl RequestMeta {
    /// Reads the request facts and the audit settings of this server.
    fn read(parts: &Parts, state: &AppState) -> RequestMeta {
        let mut args = Map::new();
        if let Some(q) = parts.uri.query() {
            for (k, v) in form_urlencoded::parse(q.as_bytes()).into_owned() {
                let value = if is_secret_key(&k) {
                    MASK.to_string()
                } else {
                    v
                };
                args.insert(k, Value::String(value));
            }
        }
        RequestMeta {
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            client_ip: parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
            // The whole path, as authentik records it: a nested router sees it without its
            // prefix (`/api/v3`).
            path: parts
                .extensions
                .get::<OriginalUri>()
                .map_or(parts.uri.path(), |original| original.0.path())
                .to_string(),
            method: parts.method.to_string(),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                // The client's text, stored with unauthenticated events too (failed logins).
                .chars()
                .take(USER_AGENT_MAX_CHARS)
                .collect(),
            args,
            retention_seconds: state.config.event_retention_seconds,
        }
    }
}
