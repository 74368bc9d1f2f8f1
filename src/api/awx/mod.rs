//! AWX's `/api/` and `/api/v2/` dialect over the same directory: AWX's user shape, its
//! pagination with relative links, field-lookup filters, OPTIONS metadata the `awx` CLI reads,
//! and its authentication (Bearer tokens, Basic, and `/api/login/` sessions with CSRF).

pub mod caller;
pub mod login;
pub mod redirect;
pub mod root;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};

use super::error::{field_errors_json, json_response, ApiError};
use crate::app::AppState;
use crate::domain::DomainError;

/// The version gatehouse answers as, so clients that compare major versions stay quiet.
pub const PRODUCT_VERSION: &str = "24.6.1";

/// Every AWX route.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .merge(root::routes())
        .merge(login::routes())
        .merge(users::routes())
        .merge(tokens::routes())
        .layer(axum::middleware::map_response(product_headers))
}

async fn product_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-api-product-name", HeaderValue::from_static("AWX"));
    if response.status() != StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            "x-api-product-version",
            HeaderValue::from_static(PRODUCT_VERSION),
        );
    }
    response
}

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
    detail(StatusCode::FORBIDDEN, crate::api::error::PERMISSION_DENIED)
}

fn reword(field: &str, code: &str, _message: &str) -> Option<String> {
    (field == "username" && code == "unique")
        .then(|| "A user with that username already exists.".to_string())
}

impl IntoResponse for AwxError {
    fn into_response(self) -> Response {
        match self.0 {
            ApiError::Domain(DomainError::Unauthenticated | DomainError::InvalidCredentials) => {
                let mut r = json_response(
                    StatusCode::UNAUTHORIZED,
                    &json!({ "detail": NOT_AUTHENTICATED }),
                );
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=api authorization_url=/api/o/authorize/",
                    ),
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
            other => other.into_response(),
        }
    }
}

/// AWX's page-number pagination: `count, next, previous, results` with relative links.
pub struct AwxPage {
    /// Rows to skip.
    pub offset: i64,
    /// Rows to fetch.
    pub limit: i64,
    page: i64,
    pages: i64,
}

/// Default and largest page sizes.
pub const PAGE_SIZE: i64 = 25;
/// Largest page size.
pub const MAX_PAGE_SIZE: i64 = 200;

impl AwxPage {
    /// Resolves `page`/`page_size` against a count; a page out of range is 404 "Invalid page.".
    pub fn resolve(
        params: &crate::api::authentik::query::Params,
        count: i64,
    ) -> Result<AwxPage, AwxError> {
        use crate::api::authentik::pagination::parse_python_int;
        let size = params
            .last("page_size")
            .and_then(parse_python_int)
            .filter(|n| *n > 0)
            .map(|n| n.min(MAX_PAGE_SIZE))
            .unwrap_or(PAGE_SIZE);
        let pages = if count == 0 {
            1
        } else {
            (count + size - 1) / size
        };
        // A number too large for i64 reads as i64::MAX, which is past the last page: 404, as
        // DRF answers it (only the word `last` means the last page).
        let page = match params.last("page").filter(|s| !s.is_empty()) {
            None => 1,
            Some("last") => pages,
            Some(s) => {
                parse_python_int(s).ok_or_else(|| detail(StatusCode::NOT_FOUND, "Invalid page."))?
            }
        };
        if page < 1 || page > pages {
            return Err(detail(StatusCode::NOT_FOUND, "Invalid page."));
        }
        Ok(AwxPage {
            offset: (page - 1) * size,
            limit: size,
            page,
            pages,
        })
    }

    /// The envelope, with `next`/`previous` as relative links keeping every other parameter.
    pub fn envelope(
        &self,
        path: &str,
        query: Option<&str>,
        count: i64,
        results: Vec<Value>,
    ) -> Value {
        let link = |page: i64| {
            let mut pairs: Vec<(String, String)> = query
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default();
            pairs.retain(|(k, _)| k != "page");
            for (k, v) in pairs.iter_mut() {
                if k == "page_size" {
                    *v = self.limit.to_string();
                }
            }
            pairs.push(("page".into(), page.to_string()));
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let encoded: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            Value::String(format!("{path}?{encoded}"))
        };
        json!({
            "count": count,
            "next": if self.page < self.pages { link(self.page + 1) } else { Value::Null },
            "previous": if self.page > 1 { link(self.page - 1) } else { Value::Null },
            "results": results,
        })
    }
}

/// Adds a fixed `Allow` header (AWX sends the view's methods on every answer).
pub fn with_allow(mut response: Response, methods: &'static str) -> Response {
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(methods));
    response
}
