//! AWX's `/api/` and `/api/v2/` dialect over the same directory: AWX's user shape, its
//! pagination with relative links, field-lookup filters, OPTIONS metadata the `awx` CLI reads,
//! and its authentication (Bearer tokens, Basic, and `/api/login/` sessions with CSRF).

pub mod caller;
pub mod error;
pub mod login;
pub mod redirect;
pub mod root;
pub mod tokens;
pub mod users;

pub use error::{detail, forbidden, AwxError, NOT_AUTHENTICATED};

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::Serialize;

use super::routing::Methods;
use crate::app::AppState;

/// The version gatehouse answers as, so clients that compare major versions stay quiet.
pub const PRODUCT_VERSION: &str = "24.6.1";

/// Every AWX route; the users routes and `me` share one cache of rendered users, counted in
/// the directory's cache metrics as `awx_rendered_users`.
pub fn routes(directory: &crate::domain::Directory) -> Router<Arc<AppState>> {
    let rendered_users: Arc<users::RenderedAwxUsers> =
        Arc::new(directory.renderings("awx_rendered_users", users::RENDERED_AWX_USERS_CAPACITY));
    Router::new()
        .merge(root::routes(rendered_users.clone()))
        .merge(login::routes())
        .merge(users::routes(rendered_users))
        .merge(tokens::routes())
}

/// Finishes every AWX answer (in the one layer of each AWX route): renders its pending error,
/// then adds AWX's product headers.
pub fn finish(response: Response) -> Response {
    product_headers(error::render_errors(response))
}

fn product_headers(mut response: Response) -> Response {
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
    pub fn resolve(params: &crate::api::query::Params, count: i64) -> Result<AwxPage, AwxError> {
        use crate::api::query::parse_python_int;
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
    pub fn envelope<T: Serialize>(
        &self,
        path: &str,
        query: Option<&str>,
        count: i64,
        results: Vec<T>,
    ) -> Envelope<T> {
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
            format!("{path}?{encoded}")
        };
        Envelope {
            count,
            next: (self.page < self.pages).then(|| link(self.page + 1)),
            previous: (self.page > 1).then(|| link(self.page - 1)),
            results,
        }
    }
}

/// A page of an AWX list: `count`, `next`, `previous`, `results`, in AWX's order.
#[derive(Serialize)]
pub struct Envelope<T> {
    count: i64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<T>,
}

/// Adds the `Allow` header of an AWX view: the methods the view declares, which its route is
/// built `within` (AWX sends them on its answers).
pub fn with_allow(mut response: Response, view: Methods) -> Response {
    response.headers_mut().insert(header::ALLOW, view.allow());
    response
}
