//! Liveness and readiness at authentik's paths. No authentication; a bad bearer header makes
//! no difference.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::error::json_response;
use crate::app::AppState;
use crate::domain::health::{self, NotReady};

/// `/-/health/live/` and `/-/health/ready/`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/-/health/live/", get(live))
        .route("/-/health/ready/", get(ready))
}

async fn live() -> StatusCode {
    StatusCode::OK
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    match health::ready(&state.store).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            let detail = match err {
                NotReady::Unreachable(_) => "The database is unavailable.",
                NotReady::Unwritable(_) => "The database cannot store changes.",
            };
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "detail": detail }),
            )
        }
    }
}
