//! `/api/login/` and `/api/logout/`: Django's form login as the `awx` CLI drives it. The CSRF
//! token this server set in the cookie must come back in the form or the `X-CSRFToken` header
//! (a self-made one is refused); success sets the session cookie (server-side session,
//! 30 minutes sliding) and a CSRF token of that session. `next` redirects only to paths of
//! this origin.

use crate::api::routing::finished;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::caller::{cookie_in, CSRF_COOKIE, SESSION_COOKIE};
use super::root::csrf_cookie;
use crate::app::AppState;
use crate::auth::keys::lookup_hash;
use crate::auth::session;

/// Login and logout routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/login/",
            finished(get(form).post(login), super::finish),
        )
        .route("/api/logout/", finished(get(logout), super::finish))
}

fn html(status: StatusCode, body: &str) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

const FORM: &str = "<!DOCTYPE html><html><head><title>Log in</title></head><body><form method=\"post\" action=\"/api/login/\"><input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"\"><label>Username <input name=\"username\"></label><label>Password <input name=\"password\" type=\"password\"></label><input type=\"hidden\" name=\"next\" value=\"/api/\"><button type=\"submit\">Log in</button></form></body></html>";

async fn form(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let mut r = html(StatusCode::OK, FORM);
    // A login needs a pre-login token of this server's; anything else is replaced.
    let usable =
        cookie_in(&headers, CSRF_COOKIE).is_some_and(|c| state.csrf.check_anonymous(&c, &c));
    if !usable {
        r.headers_mut().append(
            header::SET_COOKIE,
            csrf_cookie(&state.csrf.anonymous_token()),
        );
    }
    r
}

async fn login(
    State(state): State<Arc<AppState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    meta: crate::api::meta::RequestMeta,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |name: &str| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let expected = cookie_in(&headers, CSRF_COOKIE).filter(|c| !c.is_empty());
    let sent = headers
        .get("x-csrftoken")
        .and_then(|v| v.to_str().ok())
        .or_else(|| get("csrfmiddlewaretoken"));
    let csrf_ok =
        matches!((&expected, sent), (Some(e), Some(s)) if state.csrf.check_anonymous(e, s));
    if !csrf_ok {
        return html(
            StatusCode::FORBIDDEN,
            "<h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p>",
        );
    }
    let (Some(username), Some(password)) = (get("username"), get("password")) else {
        return html(StatusCode::UNAUTHORIZED, FORM);
    };
    let verified =
        match super::caller::password_login(&state, username, password, Some(peer.ip()), &meta)
            .await
        {
            Ok(Some(v)) => v,
            Ok(None) => return html(StatusCode::UNAUTHORIZED, FORM),
            Err(e) => return e.into_response(),
        };

    let key = match session::start(&state.directory, &verified).await {
        Ok(k) => k,
        // The password changed (or the account was deactivated) while it was being checked.
        Err(crate::domain::DomainError::InvalidCredentials) => {
            return html(StatusCode::UNAUTHORIZED, FORM)
        }
        Err(e) => return crate::api::error::ApiError::Domain(e).into_response(),
    };
    let mut r = (StatusCode::FOUND, "").into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&super::redirect::safe_next(get("next"))) {
        h.insert(header::LOCATION, v);
    }
    h.insert(
        "x-api-session-cookie-name",
        HeaderValue::from_static(SESSION_COOKIE),
    );
    h.insert("session-timeout", HeaderValue::from_static("1800"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, no-cache, no-store, must-revalidate, private"),
    );
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("userLoggedIn=true; Path=/; SameSite=Lax"),
    );
    h.append(
        header::SET_COOKIE,
        csrf_cookie(&state.csrf.session_token(&lookup_hash(&key))),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={key}; HttpOnly; Max-Age={}; Path=/; SameSite=Lax",
        session::SESSION_SECONDS
    )) {
        h.append(header::SET_COOKIE, v);
    }
    r
}

async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(key) = cookie_in(&headers, SESSION_COOKIE).filter(|k| !k.is_empty()) {
        if let Err(e) = session::end(&state.directory, &key).await {
            return crate::api::error::ApiError::Domain(e).into_response();
        }
    }
    let mut r = (StatusCode::FOUND, "").into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/api/"));
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("userLoggedIn=false; Path=/"),
    );
    h.append(header::SET_COOKIE, HeaderValue::from_static("awx_sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"));
    r
}
