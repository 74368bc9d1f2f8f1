//! The admin console: server-rendered HTML pages at `/if/admin/` (the directory) and
//! `/if/user/` (self-service), signed in with a username and password.
//!
//! A front door like the others (ARCHITECTURE.md, "Adding a front door"): it parses forms and
//! query strings, asks `domain::authz` for every decision, calls one domain operation and renders
//! HTML. It never names the store and keeps no cache. Sign-in goes through `auth::login` (the
//! throttle and audit every password door shares) and `auth::session` (server-side sessions);
//! every form carries the session's CSRF token (`auth::csrf`). Pages work without JavaScript:
//! there is none. Assets are compiled into the binary (`assets`).

mod account;
mod assets;
mod dashboard;
mod error;
mod events;
mod form;
mod groups;
mod layout;
mod members;
mod roles;
mod session;
mod tokens;
mod users;

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Redirect, Response};
use axum::routing::{any, get, post, MethodRouter};
use axum::Router;

use crate::api::routing::finished;
use crate::app::AppState;

pub use error::ConsoleError;

/// Where the directory's pages live (authentik's path).
pub const ADMIN: &str = "/if/admin/";
/// Where the self-service page lives.
pub const USER: &str = "/if/user/";

/// The console's routes: `/` leads to `/if/admin/`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", page(get(|| async { Redirect::to(ADMIN) })))
        .route("/if/", page(get(|| async { Redirect::to(ADMIN) })))
        .route("/if/login/", page(get(session::form).post(session::login)))
        .route("/if/logout/", page(post(session::logout)))
        .route("/if/static/{file}", page(get(assets::serve)))
        .route(ADMIN, page(get(dashboard::page)))
        .route(
            "/if/admin/users/",
            page(get(users::list).post(users::create)),
        )
        .route("/if/admin/users/new/", page(get(users::new_form)))
        .route(
            "/if/admin/users/{id}/",
            page(get(users::detail).post(users::save)),
        )
        .route(
            "/if/admin/users/{id}/active/",
            page(post(users::set_active)),
        )
        .route(
            "/if/admin/users/{id}/delete/",
            page(get(users::confirm_delete).post(users::delete)),
        )
        .route(
            "/if/admin/users/{id}/password/",
            page(post(users::set_password)),
        )
        .route("/if/admin/users/{id}/groups/", page(post(users::groups)))
        .route("/if/admin/users/{id}/roles/", page(post(users::roles)))
        .route(
            "/if/admin/groups/",
            page(get(groups::list).post(groups::create)),
        )
        .route("/if/admin/groups/new/", page(get(groups::new_form)))
        .route("/if/admin/groups/{uuid}/", page(get(groups::detail)))
        .route(
            "/if/admin/groups/{uuid}/members/",
            page(post(groups::members)),
        )
        .route(
            "/if/admin/groups/{uuid}/parents/",
            page(post(groups::parents)),
        )
        .route("/if/admin/groups/{uuid}/edit/", page(post(groups::edit)))
        .route(
            "/if/admin/groups/{uuid}/delete/",
            page(get(groups::confirm_delete).post(groups::delete)),
        )
        .route(
            "/if/admin/roles/",
            page(get(roles::list).post(roles::create)),
        )
        .route("/if/admin/roles/{uuid}/", page(get(roles::detail)))
        .route(
            "/if/admin/roles/{uuid}/delete/",
            page(get(roles::confirm_delete).post(roles::delete)),
        )
        .route(
            "/if/admin/roles/{uuid}/permissions/",
            page(post(roles::permissions)),
        )
        .route("/if/admin/roles/{uuid}/users/", page(post(roles::users)))
        .route(
            "/if/admin/tokens/",
            page(get(tokens::list).post(tokens::create)),
        )
        .route(
            "/if/admin/tokens/{identifier}/delete/",
            page(post(tokens::revoke)),
        )
        .route("/if/admin/events/", page(get(events::list)))
        .route(USER, page(get(account::page)))
        .route("/if/user/password/", page(post(account::password)))
        .route("/if/user/tokens/", page(post(account::create_token)))
        .route(
            "/if/user/tokens/{identifier}/delete/",
            page(post(account::revoke_token)),
        )
        // Any other path under /if/ is a console page that does not exist: the console's 404,
        // with its headers (the API's JSON 404 is for the API's paths).
        .route("/if/{*rest}", page(any(not_found)))
}

/// The console's answer to a path under `/if/` that names no page.
async fn not_found() -> Response {
    error::plain(
        StatusCode::NOT_FOUND,
        "There is no console page at this address.",
    )
}

/// A console route: its answers finished with the console's headers, in its one layer.
fn page(router: MethodRouter<Arc<AppState>>) -> MethodRouter<Arc<AppState>> {
    finished(router, finish)
}

/// The strict policy every console answer carries: no script at all, styles only from the
/// console's own stylesheet, images only from it or `data:` (avatars), forms only to itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the console's security headers to every answer (pages, redirects, assets, errors), and
/// makes the router's bare 405 a console page (keeping its `Allow`).
fn finish(mut response: Response) -> Response {
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = error::plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "This address does not answer that method: use the console's links and forms.",
        );
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Where the brand link leads a caller.
fn landing_of(principal: &crate::domain::authz::Principal) -> &'static str {
    session::landing(principal)
}
