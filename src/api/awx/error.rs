//! AWX's error answers: `AwxError`, the error AWX handlers return, and the one renderer that
//! turns it (and the neutral errors of the shared extractors) into AWX's shapes.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::api::error::{
    field_errors_json, json_response, render_pending, stock_response, ApiError, PERMISSION_DENIED,
};
use crate::domain::DomainError;

/// AWX's 401 text, the same for every cause.
pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided. To establish a login session, visit /api/login/.";

/// An error rendered in AWX's shapes.
#[derive(Debug)]
pub struct AwxError(pub ApiError);

impl<E: Into<ApiError>> From<E> for AwxError {
    fn from(e: E) -> Self {
        AwxError(e.into())
    }
}

/// A `{"detail": …}` answer.
pub fn detail(status: StatusCode, message: &str) -> AwxError {
    AwxError(ApiError::Json(status, json!({ "detail": message })))
}

/// AWX's generic 403.
pub fn forbidden() -> AwxError {
    detail(StatusCode::FORBIDDEN, PERMISSION_DENIED)
}

fn reword(field: &str, code: &str, _message: &str) -> Option<String> {
    (field == "username" && code == "unique")
        .then(|| "A user with that username already exists.".to_string())
}

impl IntoResponse for AwxError {
    fn into_response(self) -> Response {
        render(self.0)
    }
}

/// Renders the pending error of an AWX answer: errors of the extractors both dialects share,
/// and `ApiError`s AWX handlers answer with directly.
pub fn render_errors(response: Response) -> Response {
    render_pending(response, render)
}

/// AWX's answer to an error: DRF's stock shapes, with AWX's 401, its `__all__` key for errors
/// of no one field, its username message and its 415 text.
pub fn render(error: ApiError) -> Response {
    match error {
        ApiError::Domain(DomainError::Unauthenticated | DomainError::InvalidCredentials) => {
            let mut r = json_response(
                StatusCode::UNAUTHORIZED,
                &json!({ "detail": NOT_AUTHENTICATED }),
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=api authorization_url=/api/o/authorize/"),
            );
            r
        }
        ApiError::Domain(DomainError::Invalid(errors)) => {
            let mut body = field_errors_json(&errors, reword);
            if let Some(map) = body.as_object_mut() {
                if let Some(v) = map.remove("non_field_errors") {
                    let rest: Map<String, Value> = std::mem::take(map);
                    map.insert("__all__".into(), v);
                    map.extend(rest);
                }
            }
            json_response(StatusCode::BAD_REQUEST, &body)
        }
        ApiError::Domain(DomainError::Conflict(target)) if target == "users.username" => {
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"username": ["A user with that username already exists."]}),
            )
        }
        ApiError::UnsupportedMediaType(_) => json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &json!({"detail": "You did not use correct Content-Type in your HTTP request. If you are using our REST API, the Content-Type must be application/json"}),
        ),
        other => stock_response(other),
    }
}
