//! `GET /metrics` (Prometheus text format; OpenMetrics when asked). Every request is counted by
//! its route *template* (axum's `MatchedPath`; `unmatched` when no route matched, never the raw
//! path) in `api::request_context`. Served on the main listener, or on `metrics_listen`
//! alone; with `metrics_token` set, only to `Authorization: Bearer <token>` (compared in
//! constant time). With `metrics_enabled` off there is neither the route nor the counting.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use super::error::{detail, ApiError};
use crate::app::AppState;
use crate::metrics::exposition::{self, Format};

/// Where metrics are served.
pub const PATH: &str = "/metrics";

/// The `/metrics` route.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route(PATH, get(metrics))
}

/// The router of the separate metrics listener: `/metrics` and JSON 404s, nothing else.
pub fn listener_router(state: Arc<AppState>) -> Router {
    routes()
        .fallback(|| async { ApiError::RouteNotFound })
        .layer(axum::middleware::map_response(|response: Response| async {
            super::error::render_pending(response, super::error::stock_response)
        }))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token {
        if !bearer_matches(&headers, token) {
            let mut response = detail(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided or are incorrect.",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"metrics\""),
            );
            return response;
        }
    }
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    match exposition::encode(crate::metrics::scrape(&state), format) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            )],
            body,
        )
            .into_response(),
        Err(_) => ApiError::Domain(crate::domain::DomainError::Internal(
            "encoding metrics failed".into(),
        ))
        .into_response(),
    }
}

/// Whether the request carries `Bearer <token>`; compared as SHA-256 digests in constant time,
/// so neither the token's content nor its length shows in the timing.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (sent, expected) = (
        Sha256::digest(sent.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    crate::auth::keys::constant_time_eq(&sent, &expected)
}
