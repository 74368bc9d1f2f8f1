//! Request limits every route shares, each answered with a JSON `detail` in the dialects' common
//! shape: the request target's length (414), the header section's size (431), the number of
//! query parameters (400), and the time one request may take (408 while its body is still
//! arriving, 503 once it is in). Body size is `body::MAX_BODY_BYTES`; page sizes, search terms
//! and filter lists are bounded where they are parsed.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as _, Frame, SizeHint};
use serde_json::json;

use super::error::ApiError;
use crate::app::AppState;
use crate::server::MAX_URI_BYTES;

/// Most query parameters one request may carry (Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS`).
pub const MAX_QUERY_PARAMS: usize = 1000;

/// Refuses what is over a limit before routing, and bounds the time the rest may take.
pub async fn enforce(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if let Some(refusal) = over_limit(&request, state.config.http_max_header_bytes) {
        let mut response = refusal.into_response();
        if !request.body().is_end_stream() {
            close(&mut response);
        }
        return response;
    }
    let timeout = state.config.http_request_timeout;
    let (parts, body) = request.into_parts();
    let received = Arc::new(AtomicBool::new(body.is_end_stream()));
    let body = Body::new(Watched {
        inner: body,
        received: received.clone(),
    });
    let mut response =
        match tokio::time::timeout(timeout, next.run(Request::from_parts(parts, body))).await {
            Ok(response) => response,
            Err(_) => timed_out(received.load(Ordering::Acquire), timeout.as_secs()),
        };
    if !received.load(Ordering::Acquire) {
        close(&mut response);
    }
    response
}

/// Marks an answer given before the request body was read: the server drops the rest of the
/// body with the connection, so the connection cannot carry another request. Saying so keeps a
/// pooling client from sending its next request on it (and failing).
fn close(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

fn over_limit(request: &Request, max_header_bytes: usize) -> Option<ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(detail(
            StatusCode::URI_TOO_LONG,
            format!("The request URI is longer than {MAX_URI_BYTES} bytes."),
        ));
    }
    // As sent: "name: value\r\n" per field.
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > max_header_bytes {
        return Some(detail(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("The request's header fields are larger than {max_header_bytes} bytes."),
        ));
    }
    let params = request
        .uri()
        .query()
        .map_or(0, |q| q.split('&').filter(|p| !p.is_empty()).count());
    if params > MAX_QUERY_PARAMS {
        return Some(detail(
            StatusCode::BAD_REQUEST,
            format!("Too many query parameters: at most {MAX_QUERY_PARAMS}."),
        ));
    }
    None
}

fn detail(status: StatusCode, message: String) -> ApiError {
    ApiError::Json(status, json!({ "detail": message }))
}

/// 408 when the client had not finished sending its body (its fault, and the connection closes
/// since the rest of the body is never read), 503 when the server took too long.
fn timed_out(body_received: bool, seconds: u64) -> Response {
    if body_received {
        tracing::warn!(seconds, "request timed out");
        let mut response = detail(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("The request took longer than {seconds} seconds; try again shortly."),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    } else {
        tracing::info!(seconds, "request body not received in time");
        let mut response = detail(
            StatusCode::REQUEST_TIMEOUT,
            format!("The request body did not arrive within {seconds} seconds."),
        )
        .into_response();
        close(&mut response);
        response
    }
}

/// A request body that records when it has been read to the end.
struct Watched {
    inner: Body,
    received: Arc<AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.received.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
