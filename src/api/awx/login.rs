//! `/api/login/` and `/api/logout/`: Django's form login as the `awx` CLI drives it. A CSRF
//! cookie must be echoed in the form or the `X-CSRFToken` header; success sets the session
//! cookie (server-side session, 30 minutes sliding) and rotates the CSRF token.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::caller::{cookie_in, CSRF_COOKIE, SESSION_COOKIE};
use super::root::{csrf_cookie, new_csrf_token};
use crate::app::AppState;
use crate::auth::session;

/// Login and logout routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/login/", get(form).post(login))
        .route("/api/logout/", get(logout))
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

async fn form(headers: HeaderMap) -> Response {
    let mut r = html(StatusCode::OK, FORM);
    if cookie_in(&headers, CSRF_COOKIE).is_none() {
        r.headers_mut()
            .append(header::SET_COOKIE, csrf_cookie(&new_csrf_token()));
    }
    r
}

/// Only local redirects: anything else goes to `/api/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/api/".to_string(),
    }
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
    let csrf_ok = matches!((&expected, sent), (Some(e), Some(s)) if crate::auth::keys::constant_time_eq(e.as_bytes(), s.as_bytes()));
    if !csrf_ok {
        return html(
            StatusCode::FORBIDDEN,
            "<h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p>",
        );
    }
    let (Some(username), Some(password)) = (get("username"), get("password")) else {
        return html(StatusCode::UNAUTHORIZED, FORM);
    };
    let principal =
        match super::caller::password_login(&state, username, password, Some(peer.ip()), &meta)
            .await
        {
            Ok(Some(p)) => p,
            Ok(None) => return html(StatusCode::UNAUTHORIZED, FORM),
            Err(e) => return e.into_response(),
        };

    let key = match session::start(&state.store, principal.user_id).await {
        Ok(k) => k,
        Err(e) => return crate::api::error::ApiError::Domain(e).into_response(),
    };
    let mut r = (StatusCode::FOUND, "").into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&safe_next(get("next"))) {
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
    h.append(header::SET_COOKIE, csrf_cookie(&new_csrf_token()));
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
        if let Err(e) = session::end(&state.store, &key).await {
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
