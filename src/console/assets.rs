//! The console's static assets, compiled into the binary: one stylesheet. Its URL carries a
//! hash of its content, so it can be cached for a year and a new build is fetched at once.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The stylesheet (light and dark, by `prefers-color-scheme`).
const CSS: &str = include_str!("assets/console.css");

/// The stylesheet's path, with its content hash (`/if/static/console-<hash>.css`).
pub fn stylesheet() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let digest = Sha256::digest(CSS.as_bytes());
        format!("/if/static/console-{}.css", &hex::encode(digest)[..12])
    })
}

/// `GET /if/static/{file}`: the stylesheet under its hashed name; anything else is 404.
pub async fn serve(Path(file): Path<String>) -> Response {
    if stylesheet().rsplit('/').next() != Some(file.as_str()) {
        return super::error::plain(StatusCode::NOT_FOUND, "Not found.");
    }
    let mut r = CSS.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    r
}
