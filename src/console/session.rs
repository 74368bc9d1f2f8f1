//! Signing in and out, and who is asking: a server-side session (`auth::session`, 30 minutes
//! sliding, ended by password changes, deactivation and demotion as every session is) in an
//! HttpOnly cookie of its own. Before sign-in the form carries a server-made CSRF token that
//! must match the one in its cookie; after it, every form carries the session's token
//! (`auth::csrf`, rotated at every sign-in), checked before any handler runs.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::error::ConsoleError;
use super::form::Fields;
use super::layout;
use crate::api::awx::caller::cookie_in;
use crate::api::meta::RequestMeta;
use crate::app::AppState;
use crate::auth::keys::lookup_hash;
use crate::auth::login::{password_login, LoginOutcome};
use crate::auth::session;
use crate::domain::authz::{authorize_request, Principal, RequestKind};
use crate::domain::DomainError;

/// The session cookie.
pub const SESSION_COOKIE: &str = "gatehouse_console";
/// The pre-login CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "gatehouse_console_csrf";
/// The form field every console form carries its CSRF token in.
pub const CSRF_FIELD: &str = "csrf";
/// Largest form body read, bytes.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A signed-in caller, and the CSRF token its forms carry (masked afresh for this page).
#[derive(Debug, Clone)]
pub struct Signed {
    /// Who.
    pub principal: Principal,
    /// The session's CSRF token.
    pub csrf: String,
}

/// The path (and query) to come back to after signing in.
fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| super::ADMIN.to_string(), |p| p.as_str().to_string())
}

impl FromRequestParts<Arc<AppState>> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(key) = cookie_in(&parts.headers, SESSION_COOKIE).filter(|k| !k.is_empty()) else {
            return Err(ConsoleError::SignIn(here(parts)));
        };
        let principal = match session::resume(&state.directory, &key).await {
            Ok(p) => p,
            Err(DomainError::InvalidCredentials) => return Err(ConsoleError::SignIn(here(parts))),
            Err(e) => return Err(e.into()),
        };
        authorize_request(&principal, crate::api::request_kind(&parts.method))?;
        let csrf = state.csrf.session_token(&lookup_hash(&key));
        Ok(Signed { principal, csrf })
    }
}

/// A form sent by a signed-in caller, its CSRF token checked; with the request's audit facts.
pub struct Posted {
    /// Who sent it.
    pub signed: Signed,
    /// The form's fields.
    pub fields: Fields,
    /// What the audit log records of the request.
    pub meta: RequestMeta,
}

impl Posted {
    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.signed.principal
    }
}

impl FromRequest<Arc<AppState>> for Posted {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let Ok(meta) = RequestMeta::from_request_parts(&mut parts, state).await;
        authorize_request(&signed.principal, RequestKind::Unsafe)?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| ConsoleError::BadRequest("The form is too large.".into()))?;
        let fields = Fields::parse(&bytes);
        let session_hash = signed.principal.session.as_deref().unwrap_or_default();
        match fields.get(CSRF_FIELD) {
            Some(sent) if state.csrf.check_session(session_hash, sent) => {}
            _ => return Err(ConsoleError::Csrf),
        }
        Ok(Posted {
            signed,
            fields,
            meta,
        })
    }
}

/// The hidden CSRF field of a signed-in caller's form.
pub fn csrf_field(signed: &Signed) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(signed.csrf); }
}

/// Where a caller lands after signing in: the directory if it may see any of it, else
/// self-service.
pub fn landing(principal: &Principal) -> &'static str {
    if layout::is_admin(principal) {
        super::ADMIN
    } else {
        super::USER
    }
}

/// Where a signed-in caller goes: `next`, unless it leads into the directory's pages and the
/// caller may see none of them (then self-service, rather than a 403).
fn destination(next: Option<String>, principal: &Principal) -> String {
    next.filter(|n| !n.starts_with(super::ADMIN) || layout::is_admin(principal))
        .unwrap_or_else(|| landing(principal).to_string())
}

/// `next` when it is a path of this console, else nothing.
fn console_next(next: Option<&str>) -> Option<String> {
    let next = next?;
    let safe = crate::api::awx::redirect::safe_next(Some(next));
    (safe == next && next.starts_with("/if/")).then_some(safe)
}

fn login_page(
    status: StatusCode,
    token: &str,
    next: Option<&str>,
    username: &str,
    error: Option<&str>,
) -> Response {
    let body = html! {
        main.login {
            h1 { "Sign in to gatehouse" }
            @if let Some(e) = error { div.notice.err role="alert" { (e) } }
            form method="post" action="/if/login/" {
                input type="hidden" name=(CSRF_FIELD) value=(token);
                @if let Some(n) = next { input type="hidden" name="next" value=(n); }
                div.field {
                    label for="f-username" { "Username" }
                    input id="f-username" type="text" name="username" value=(username)
                        autocomplete="username" required autofocus;
                }
                div.field {
                    label for="f-password" { "Password" }
                    input id="f-password" type="password" name="password"
                        autocomplete="current-password" required;
                }
                p { button type="submit" { "Log in" } }
            }
        }
    };
    let mut r = layout::bare(status, "Sign in", body);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={token}; HttpOnly; Path=/if/; SameSite=Strict"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /if/login/`: the sign-in form (or, when signed in already, where it would lead).
pub async fn form(
    State(state): State<Arc<AppState>>,
    signed: Result<Signed, ConsoleError>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let q = Fields::query(query.as_deref());
    let next = console_next(q.get("next"));
    if let Ok(s) = signed {
        let to = destination(next, &s.principal);
        return Redirect::to(&to).into_response();
    }
    login_page(
        StatusCode::OK,
        &state.csrf.anonymous_token(),
        next.as_deref(),
        "",
        None,
    )
}

/// `POST /if/login/`: checks the password through the shared throttled, audited login and
/// starts a session.
pub async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(ConsoleError::BadRequest("The form is too large.".into()));
    }
    let fields = Fields::parse(&body);
    let expected = cookie_in(&headers, LOGIN_CSRF_COOKIE).filter(|c| !c.is_empty());
    let sent = fields.get(CSRF_FIELD);
    if !matches!((&expected, sent), (Some(e), Some(s)) if state.csrf.check_anonymous(e, s)) {
        return Err(ConsoleError::Csrf);
    }
    let next = console_next(fields.get("next"));
    let username = fields
        .get("username")
        .unwrap_or_default()
        .trim()
        .to_string();
    let password = fields.get("password").unwrap_or_default();
    let retry = |message: &str| {
        login_page(
            StatusCode::OK,
            &state.csrf.anonymous_token(),
            next.as_deref(),
            &username,
            Some(message),
        )
    };
    if username.is_empty() || password.is_empty() {
        return Ok(retry("Enter a username and a password."));
    }
    let verified =
        match password_login(&state, &username, password, Some(peer.ip()), &meta.audit(None))
            .await?
        {
            LoginOutcome::Verified(v) => v,
            LoginOutcome::Refused => {
                return Ok(retry(
                    "Please enter a correct username and password. Note that both fields may be case-sensitive.",
                ))
            }
            LoginOutcome::Throttled(wait) => return Err(ConsoleError::Throttled(wait)),
        };
    let key = match session::start(&state.directory, &verified).await {
        Ok(k) => k,
        // The password changed (or the account was deactivated) while it was being checked.
        Err(DomainError::InvalidCredentials) => {
            return Ok(retry("Please enter a correct username and password."))
        }
        Err(e) => return Err(e.into()),
    };
    let to = destination(next, &verified.principal);
    let mut r = Redirect::to(&to).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={key}; HttpOnly; Max-Age={}; Path=/if/; SameSite=Strict",
        session::SESSION_SECONDS
    )) {
        h.append(header::SET_COOKIE, v);
    }
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "gatehouse_console_csrf=; HttpOnly; Max-Age=0; Path=/if/; SameSite=Strict",
        ),
    );
    Ok(r)
}

/// `POST /if/logout/`: ends the session.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    _posted: Posted,
) -> Result<Response, ConsoleError> {
    if let Some(key) = cookie_in(&headers, SESSION_COOKIE).filter(|k| !k.is_empty()) {
        session::end(&state.directory, &key).await?;
    }
    let mut r = Redirect::to("/if/login/").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "gatehouse_console=; HttpOnly; Max-Age=0; Path=/if/; SameSite=Strict",
        ),
    );
    Ok(r)
}
