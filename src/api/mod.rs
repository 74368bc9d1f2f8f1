//! HTTP: router assembly and the middleware every route shares (request id, access log,
//! limits, JSON 404/405). Dialect modules parse, authorize, call the domain and serialize;
//! they never write SQL and never name `crate::store`: every read and write, existence checks
//! and audit-log reads included, is a domain operation, and errors arrive as `DomainError`.
//! Queries are built from `crate::query`'s words. tests/layering.rs fails the build otherwise.

pub mod authentik;
pub mod awx;
pub mod body;
pub mod error;
pub mod extract;
pub mod fields;
pub mod health;
pub mod limits;
pub mod meta;
pub mod metrics;
pub mod query;
pub mod routing;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tracing::Instrument;

use crate::app::AppState;
use error::ApiError;

/// Name of the response header carrying the request id (authentik's).
pub const REQUEST_ID_HEADER: &str = "x-authentik-id";

/// The whole HTTP surface.
pub fn router(state: Arc<AppState>) -> Router {
    let metrics_on = state.config.metrics_enabled;
    let mut routes = Router::new()
        .merge(health::routes())
        .nest("/api/v3", authentik::routes(&state.directory))
        .merge(authentik::openapi::reference::routes())
        .nest(
            crate::scim::BASE_PATH,
            crate::scim::routes(&state.directory),
        )
        .merge(awx::routes(&state.directory))
        .merge(crate::console::routes());
    if metrics_on && state.config.metrics_listen.is_none() {
        routes = routes.merge(metrics::routes());
    }
    let router = routes
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::enforce,
        ))
        // Outermost, so a request's duration includes every other layer's work. It also counts
        // the request for /metrics: a layer of its own would be one more service cloned on
        // every request.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ));
    router.with_state(state)
}

/// What a request method does in authorization's terms (HTTP's safe methods only read).
pub fn request_kind(method: &Method) -> crate::domain::authz::RequestKind {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        crate::domain::authz::RequestKind::Safe
    } else {
        crate::domain::authz::RequestKind::Unsafe
    }
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

/// Gives every request an id (response header, log span), logs its outcome, and turns the
/// router's bare 405s into DRF's JSON answer (keeping the `Allow` header).
async fn request_context(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let route = state.config.metrics_enabled.then(|| {
        req.extensions()
            .get::<axum::extract::MatchedPath>()
            .cloned()
    });
    // From the thread's generator: `Uuid::new_v4` asks the kernel (one `getrandom` per request).
    let id = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .simple()
        .to_string();
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %req.uri().path());
    req.extensions_mut().insert(meta::RequestId(id.clone()));
    let started = Instant::now();
    // What neither dialect rendered (routes outside both, limits) answers in DRF's stock shapes.
    let mut response = error::render_pending(
        next.run(req).instrument(span.clone()).await,
        error::stock_response,
    );
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = error::stock_response(ApiError::MethodNotAllowed(method.to_string()));
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(route) = route {
        state.http_metrics.record(
            route.as_ref().map(axum::extract::MatchedPath::as_str),
            crate::metrics::http::method_index(&method),
            status,
            elapsed,
        );
    }
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, elapsed_ms, "request finished");
        } else {
            tracing::info!(status, elapsed_ms, "request finished");
        }
    });
    response
}
