//! The browsable API reference: `GET /api/v3/` is a page running Swagger UI (vendored in
//! `assets/`, compiled into the binary; nothing is fetched from elsewhere) on `/api/v3/schema/`.
//! The scripts and stylesheet are served under `/static/api-reference/<version>/` with a year's
//! cache (the version is in the URL); the page's CSP allows only them.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The vendored swagger-ui-dist version (its directory under `assets/`).
pub const VERSION: &str = "5.31.0";

/// Where the assets are served.
pub const ASSETS_PATH: &str = "/static/api-reference/5.31.0/";

const BUNDLE: &[u8] = include_bytes!("assets/swagger-ui-5.31.0/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("assets/swagger-ui-5.31.0/swagger-ui.css");
const INIT: &[u8] = include_bytes!("assets/init.js");

/// The page's policy: its own scripts and stylesheet only (Swagger UI sets style attributes and
/// draws data: images), requests to this origin only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self' data:; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page() -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>gatehouse API reference</title>\n\
         <link rel=\"stylesheet\" href=\"{ASSETS_PATH}swagger-ui.css\">\n</head>\n<body>\n\
         <div id=\"swagger-ui\"></div>\n\
         <script src=\"{ASSETS_PATH}swagger-ui-bundle.js\"></script>\n\
         <script src=\"{ASSETS_PATH}init.js\"></script>\n</body>\n</html>\n"
    )
}

/// `GET /api/v3/`: the reference page (no credential: it shows the public document).
pub async fn serve_page() -> Response {
    let mut r = page().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /static/api-reference/<version>/{file}`: a vendored asset; anything else is 404.
async fn serve_asset(Path(file): Path<String>) -> Response {
    // The vendored files change only with the version in the URL; `init.js` is ours and may
    // change with any build.
    const YEAR: &str = "public, max-age=31536000, immutable";
    let (body, kind, cache) = match file.as_str() {
        "swagger-ui-bundle.js" => (BUNDLE, "text/javascript; charset=utf-8", YEAR),
        "init.js" => (INIT, "text/javascript; charset=utf-8", "no-cache"),
        "swagger-ui.css" => (CSS, "text/css; charset=utf-8", YEAR),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The page (`/api/v3/`, beside the nested API router, whose own `/` would be `/api/v3`) and
/// its assets (outside `/api/v3`: they are not API operations).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/api/v3/", get(serve_page))
        .route(&format!("{ASSETS_PATH}{{file}}"), get(serve_asset))
}
