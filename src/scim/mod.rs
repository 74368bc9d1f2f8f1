//! The SCIM 2.0 door (RFC 7643 / 7644) at `/scim/v2`: identity providers (Entra ID, Okta,
//! authentik's SCIM provider) create, change and delete users and groups here. It parses SCIM,
//! asks `domain::authz`, calls the same domain operations as every other door (through
//! `domain::scim`, which adds SCIM's own rows in the same transaction) and renders SCIM. It
//! never names `crate::store`; its filters compile to `crate::query` (see `compile`).

pub mod auth;
pub mod compile;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod group;
pub mod groups;
pub mod list;
pub mod patch;
pub mod projection;
pub mod schema;
pub mod user;
pub mod users;

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::{header, request::Parts};
use axum::routing::MethodRouter;
use axum::Router;

use crate::api::error::ApiError;
use crate::api::routing::Route;
use crate::app::AppState;
use crate::domain::Timestamp;

/// Where the door is mounted.
pub const BASE_PATH: &str = "/scim/v2";

/// Most resources one list answer carries (`filter.maxResults`).
pub const MAX_RESULTS: i64 = 200;

/// Resources per page when the client names no `count`.
pub const DEFAULT_COUNT: i64 = 100;

/// The absolute base URL of this door as the client reached it (`meta.location`, `Location`).
#[derive(Debug, Clone)]
pub struct Base(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Base {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']')
                    })
            })
            .unwrap_or("localhost");
        let scheme = match parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
        {
            Some("https") => "https",
            _ => "http",
        };
        Ok(Base(format!("{scheme}://{host}{BASE_PATH}")))
    }
}

/// An RFC 3339 UTC date-time of a time in microseconds.
pub fn time(micros: i64) -> String {
    Timestamp(micros)
        .to_datetime()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn route(r: Route<Arc<AppState>>) -> MethodRouter<Arc<AppState>> {
    r.allow_on_every_answer(error::finish)
}

/// `POST /Bulk`: not supported (`bulk.supported: false`), 501 as RFC 7644 §3.7 asks.
async fn bulk(_caller: auth::ScimCaller) -> error::ScimError {
    error::ScimError::status(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        "Bulk operations are not supported.",
    )
}

async fn not_found() -> axum::response::Response {
    error::render(ApiError::RouteNotFound)
}

/// The SCIM routes, to be nested at `BASE_PATH`.
pub fn routes(directory: &crate::domain::Directory) -> Router<Arc<AppState>> {
    let caches = Arc::new(users::UserCaches::new(directory));
    let get_caches = caches.clone();
    let get_user = move |State(state): State<Arc<AppState>>,
                         caller: auth::ScimCaller,
                         base: Base,
                         Path(id): Path<String>,
                         RawQuery(query): RawQuery| {
        users::get(state, get_caches.clone(), caller, base, id, query)
    };
    let list_caches = caches.clone();
    let list_users = move |state: State<Arc<AppState>>,
                           caller: auth::ScimCaller,
                           base: Base,
                           query: RawQuery| {
        users::list(state, list_caches.clone(), caller, base, query)
    };
    let search_users = move |state: State<Arc<AppState>>,
                             caller: auth::ScimCaller,
                             base: Base,
                             body: crate::api::body::JsonBody| {
        users::search(state, caches.clone(), caller, base, body)
    };
    Router::new()
        .route(
            "/ServiceProviderConfig",
            route(Route::new().get(discovery::service_provider_config)),
        )
        .route(
            "/ResourceTypes",
            route(Route::new().get(discovery::resource_types)),
        )
        .route(
            "/ResourceTypes/{id}",
            route(Route::new().get(discovery::resource_type_by_id)),
        )
        .route("/Schemas", route(Route::new().get(discovery::schemas)))
        .route(
            "/Schemas/{id}",
            route(Route::new().get(discovery::schema_by_id)),
        )
        .route(
            "/Users",
            route(Route::new().get(list_users).post(users::create)),
        )
        .route("/Users/.search", route(Route::new().post(search_users)))
        .route(
            "/Users/{id}",
            route(
                Route::new()
                    .get(get_user)
                    .put(users::replace)
                    .patch(users::modify)
                    .delete(users::remove),
            ),
        )
        .route("/Me", route(Route::new().get(users::me)))
        .route(
            "/Groups",
            route(Route::new().get(groups::list).post(groups::create)),
        )
        .route("/Groups/.search", route(Route::new().post(groups::search)))
        .route(
            "/Groups/{id}",
            route(
                Route::new()
                    .get(groups::get)
                    .put(groups::replace)
                    .patch(groups::modify)
                    .delete(groups::remove),
            ),
        )
        .route("/.search", route(Route::new().post(list::root_search)))
        .route("/Bulk", route(Route::new().post(bulk)))
        .fallback(not_found)
}
