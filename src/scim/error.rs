//! SCIM's error answers (RFC 7644 §3.12): every failure of a `/scim/v2` route, whatever raised
//! it (a handler, an extractor, the router's 405, a domain outcome), is rendered here, in the
//! `urn:ietf:params:scim:api:messages:2.0:Error` shape with `status` as a string.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::api::error::{render_pending, ApiError};
use crate::domain::DomainError;

/// The SCIM error message schema.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// SCIM's media type, of every answer.
pub const SCIM_JSON: &str = "application/scim+json";

/// A failure with SCIM's status and `scimType`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {scim_type:?}: {detail}")]
pub struct ScimError {
    /// HTTP status.
    pub status: StatusCode,
    /// `scimType` (`invalidFilter`, `invalidPath`, `noTarget`, …), if any.
    pub scim_type: Option<&'static str>,
    /// Human-readable detail.
    pub detail: String,
}

impl ScimError {
    /// A 400 with this `scimType`.
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        ScimError {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// A 400 `invalidFilter`.
    pub fn filter(detail: impl Into<String>) -> ScimError {
        ScimError::bad("invalidFilter", detail)
    }

    /// A 400 `invalidValue`.
    pub fn value(detail: impl Into<String>) -> ScimError {
        ScimError::bad("invalidValue", detail)
    }

    /// A 400 `invalidPath`.
    pub fn path(detail: impl Into<String>) -> ScimError {
        ScimError::bad("invalidPath", detail)
    }

    /// A 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> ScimError {
        ScimError::bad("noTarget", detail)
    }

    /// A 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> ScimError {
        ScimError::bad("mutability", detail)
    }

    /// A status without `scimType`.
    pub fn status(status: StatusCode, detail: impl Into<String>) -> ScimError {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// The Error document.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), json!(t));
        }
        body
    }
}

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        ApiError::Json(e.status, e.body())
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// A JSON body as `application/scim+json`.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

/// A SCIM answer whose JSON body is already rendered.
pub fn scim_bytes(status: StatusCode, body: bytes::Bytes) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

/// The SCIM error of a domain outcome.
fn domain_error(err: DomainError) -> ScimError {
    match err {
        DomainError::Unauthenticated => {
            ScimError::status(StatusCode::UNAUTHORIZED, "Authentication required.")
        }
        DomainError::InvalidCredentials => ScimError::status(
            StatusCode::UNAUTHORIZED,
            "The bearer token is invalid or expired.",
        ),
        DomainError::Forbidden => ScimError::status(
            StatusCode::FORBIDDEN,
            "The caller may not perform this operation.",
        ),
        DomainError::NotFound(kind) => ScimError::status(
            StatusCode::NOT_FOUND,
            format!("{} not found.", kind.model_name()),
        ),
        DomainError::Invalid(errors) => {
            let unique = errors
                .0
                .iter()
                .any(|(_, list)| list.iter().any(|e| e.code == "unique"));
            let detail = errors
                .0
                .iter()
                .map(|(field, list)| {
                    let messages: Vec<&str> = list.iter().map(|e| e.message.as_str()).collect();
                    format!("{}: {}", scim_name(field), messages.join(" "))
                })
                .collect::<Vec<_>>()
                .join("; ");
            if unique {
                ScimError {
                    status: StatusCode::CONFLICT,
                    scim_type: Some("uniqueness"),
                    detail,
                }
            } else {
                ScimError::value(detail)
            }
        }
        DomainError::Conflict(target) => ScimError {
            status: StatusCode::CONFLICT,
            scim_type: Some("uniqueness"),
            detail: format!("{} is already taken.", scim_name(&target)),
        },
        DomainError::Unavailable(reason) => {
            tracing::warn!(%reason, "database unavailable");
            ScimError::status(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable; try again shortly.",
            )
        }
        DomainError::Internal(reason) => {
            tracing::error!(%reason, "internal error");
            ScimError::status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "A server error occurred.",
            )
        }
    }
}

/// SCIM's name of a directory field named in a domain error.
fn scim_name(field: &str) -> &str {
    match field.rsplit('.').next().unwrap_or(field) {
        "username" => "userName",
        "name" => "displayName",
        "email" => "emails",
        "is_active" => "active",
        "first_name" => "name.givenName",
        "last_name" => "name.familyName",
        other => other,
    }
}

/// SCIM's answer to an error.
pub fn render(error: ApiError) -> Response {
    let scim = match error {
        ApiError::Json(status, body) => return scim_json(status, &body),
        ApiError::Domain(err) => domain_error(err),
        ApiError::MalformedJson(msg) => {
            ScimError::bad("invalidSyntax", format!("JSON parse error: {msg}"))
        }
        ApiError::UnsupportedMediaType(ct) => ScimError::status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported media type \"{ct}\"; send application/scim+json."),
        ),
        ApiError::PayloadTooLarge => {
            let mut r = scim_json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &ScimError::status(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.").body(),
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        ApiError::MethodNotAllowed(method) => ScimError::status(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method {method} is not allowed here."),
        ),
        ApiError::RouteNotFound | ApiError::BadLookup | ApiError::InvalidPage => {
            ScimError::status(StatusCode::NOT_FOUND, "Resource not found.")
        }
        ApiError::Throttled(seconds) => ScimError::status(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many requests; retry in {seconds} seconds."),
        ),
        ApiError::FilterMessages(messages) => ScimError::filter(messages.join(" ")),
        ApiError::EmptyBadRequest => ScimError::status(StatusCode::BAD_REQUEST, "Bad request."),
    };
    let mut response = scim_json(scim.status, &scim.body());
    if scim.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"gatehouse\""),
        );
    }
    response
}

/// Finishes a `/scim/v2` answer (the one layer of every SCIM route): renders its pending error,
/// and turns the router's bare 405 into a SCIM Error (keeping `Allow`).
pub fn finish(response: Response) -> Response {
    let response = render_pending(response, render);
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        let mut rendered = render(ApiError::MethodNotAllowed(String::new()));
        if let Some(allow) = allow {
            rendered.headers_mut().insert(header::ALLOW, allow);
        }
        return rendered;
    }
    response
}
