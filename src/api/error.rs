//! One error type for every HTTP-level failure, neutral between the dialects. A handler or
//! extractor that fails answers a pending error (`ApiError::into_response`); each dialect renders
//! the pending errors of its routes in its own shape (`api::authentik::error`, `api::awx::error`),
//! and the server renders what is left, from routes outside both dialects (health, unknown
//! routes, 405s, limits), in DRF's stock shapes (`stock_response`), which both dialects start from.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::domain::{DomainError, FieldErrors};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A domain outcome.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The body is not valid JSON.
    #[error("JSON parse error - {0}")]
    MalformedJson(String),
    /// The body has a content type other than JSON.
    #[error("unsupported media type {0}")]
    UnsupportedMediaType(String),
    /// The body is larger than the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The method is not served on this route.
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    /// No route matches.
    #[error("no route")]
    RouteNotFound,
    /// An unparseable lookup value in the URL (`/users/abc/`).
    #[error("malformed lookup")]
    BadLookup,
    /// Page number out of range or malformed.
    #[error("invalid page")]
    InvalidPage,
    /// A filter method rejected its value (rendered as a top-level JSON array).
    #[error("filter error: {0:?}")]
    FilterMessages(Vec<String>),
    /// A ready JSON answer in a shape no other variant has (e.g. DRF's per-item list errors).
    #[error("{0}: {1}")]
    Json(StatusCode, Value),
    /// Too many failed attempts; retry after this many seconds.
    #[error("throttled for {0} s")]
    Throttled(i64),
    /// A plain 400 with an empty body (authentik's `set_password` failure).
    #[error("bad request")]
    EmptyBadRequest,
}

/// Renders field errors as DRF does: `{"field": ["msg", …]}`.
pub fn field_errors_json(
    errors: &FieldErrors,
    reword: impl Fn(&str, &str, &str) -> Option<String>,
) -> Value {
    let mut map = Map::new();
    for (field, list) in &errors.0 {
        let messages: Vec<Value> = list
            .iter()
            .map(|e| {
                Value::String(
                    reword(field, e.code, &e.message).unwrap_or_else(|| e.message.clone()),
                )
            })
            .collect();
        map.insert(field.clone(), Value::Array(messages));
    }
    Value::Object(map)
}

/// A JSON response with DRF's content type.
pub fn json_response<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let bytes = match serde_json::to_vec(body) {
        Ok(bytes) => bytes,
        Err(e) => return ApiError::Domain(DomainError::Internal(e.to_string())).into_response(),
    };
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// A `{"detail": message}` answer.
pub fn detail(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "detail": message }))
}

/// DRF's message for a refused permission.
pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

/// An error a handler answered with, waiting in the response's extensions for the dialect's
/// renderer (taken out exactly once).
#[derive(Clone)]
struct Pending(Arc<ApiError>);

impl IntoResponse for ApiError {
    /// A pending error: a bare 500 carrying the error, which `render_pending` turns into the
    /// answer of the dialect whose route it came from.
    fn into_response(self) -> Response {
        let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        response.extensions_mut().insert(Pending(Arc::new(self)));
        response
    }
}

/// Renders a pending error with `render`, keeping the headers layers added to it on the way
/// (`Allow`, `Connection`, `Retry-After`) where the rendering does not set them; any other
/// response passes unchanged.
pub fn render_pending(
    mut response: Response,
    render: impl FnOnce(ApiError) -> Response,
) -> Response {
    let Some(Pending(error)) = response.extensions_mut().remove::<Pending>() else {
        return response;
    };
    let error = Arc::try_unwrap(error).unwrap_or_else(|shared| {
        ApiError::Domain(DomainError::Internal(format!(
            "error answered twice: {shared}"
        )))
    });
    let mut rendered = render(error);
    let own: Vec<header::HeaderName> = rendered.headers().keys().cloned().collect();
    for (name, value) in response.headers() {
        if !own.contains(name) {
            rendered.headers_mut().append(name.clone(), value.clone());
        }
    }
    rendered
}

/// DRF's stock answer to an error, the shape both dialects start from and the one routes
/// outside both dialects answer in.
pub fn stock_response(error: ApiError) -> Response {
    match error {
        ApiError::Domain(err) => match err {
            DomainError::Unauthenticated => detail(
                StatusCode::FORBIDDEN,
                "Authentication credentials were not provided.",
            ),
            DomainError::InvalidCredentials => detail(
                StatusCode::FORBIDDEN,
                "Incorrect authentication credentials.",
            ),
            DomainError::Forbidden => detail(StatusCode::FORBIDDEN, PERMISSION_DENIED),
            DomainError::NotFound(kind) => detail(
                StatusCode::NOT_FOUND,
                &format!("No {} matches the given query.", kind.model_name()),
            ),
            DomainError::Invalid(errors) => json_response(
                StatusCode::BAD_REQUEST,
                &field_errors_json(&errors, |_, _, _| None),
            ),
            DomainError::Conflict(target) => {
                let field = target.rsplit('.').next().unwrap_or(&target);
                json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({ field: [crate::domain::users::UNIQUE_MESSAGE] }),
                )
            }
            DomainError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                let mut r = detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database is unavailable; try again shortly.",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            DomainError::Internal(reason) => {
                tracing::error!(%reason, "internal error");
                detail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "A server error occurred.",
                )
            }
        },
        ApiError::MalformedJson(msg) => detail(
            StatusCode::BAD_REQUEST,
            &format!("JSON parse error - {msg}"),
        ),
        ApiError::UnsupportedMediaType(ct) => detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Unsupported media type \"{ct}\" in request."),
        ),
        ApiError::PayloadTooLarge => {
            let mut r = detail(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body exceeds the limit of 1048576 bytes.",
            );
            // The rest of the body is never read, so the connection cannot carry another
            // request: say so, or a pooling client reuses it and fails its next request.
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
        ApiError::MethodNotAllowed(method) => detail(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Method \"{method}\" not allowed."),
        ),
        ApiError::RouteNotFound | ApiError::BadLookup => {
            detail(StatusCode::NOT_FOUND, "Not found.")
        }
        ApiError::InvalidPage => detail(StatusCode::NOT_FOUND, "Invalid page."),
        ApiError::FilterMessages(messages) => {
            json_response(StatusCode::BAD_REQUEST, &json!(messages))
        }
        ApiError::Json(status, body) => json_response(status, &body),
        ApiError::Throttled(seconds) => {
            let mut r = detail(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Request was throttled. Expected available in {seconds} seconds."),
            );
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        ApiError::EmptyBadRequest => StatusCode::BAD_REQUEST.into_response(),
    }
}
