//! The password login every form and Basic door shares: throttled per account and per client
//! address (the attempt is counted before the password is checked and taken back only when it
//! succeeds), and a failure is logged and audited as `login_failed` with the name bounded and
//! the password masked. The AWX dialect (Basic, `/api/login/`), the console and LDAP binds
//! (which may also present an `app_password` token key) sign in here.

use super::bearer;
use super::session::{self, Verified, USERNAME_MAX_CHARS};
use super::throttle::{self, Reservation};
use crate::app::AppState;
use crate::domain::audit::{self, AuditContext};
use crate::domain::authz::Principal;
use crate::domain::DomainError;

/// How a password login ended (errors aside).
#[derive(Debug)]
pub enum LoginOutcome {
    /// The password is right: who it is.
    Verified(Verified),
    /// Unknown user, wrong or unusable password, inactive account (audited).
    Refused,
    /// Too many failures for the account or the address: retry after this many seconds.
    Throttled(i64),
}

/// How a login with a password or an `app_password` key ended (errors aside).
#[derive(Debug)]
pub enum SecretOutcome {
    /// The account's password: who it is.
    Password(Verified),
    /// One of the account's `app_password` token keys: its principal.
    AppPassword(Principal),
    /// Neither (audited), or an unknown or inactive account.
    Refused,
    /// Too many failures for the account or the address: retry after this many seconds.
    Throttled(i64),
}

/// Checks `username` and `password` under the login throttle, auditing a failure in `audit`.
pub async fn password_login(
    state: &AppState,
    username: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
    audit: &AuditContext,
) -> Result<LoginOutcome, DomainError> {
    let attempt = match state.logins.reserve(throttle::keys(username, ip)).await {
        Ok(a) => a,
        Err(wait) => return Ok(LoginOutcome::Throttled(wait)),
    };
    Ok(
        match check_password(state, attempt, username, password, ip, audit).await? {
            Some(v) => LoginOutcome::Verified(v),
            None => LoginOutcome::Refused,
        },
    )
}

/// As [`password_login`], except that when `app_password_of` names the account (its user id)
/// the secret may also be one of its `app_password` token keys, tried first under the same
/// reservation (LDAP binds).
pub async fn secret_login(
    state: &AppState,
    username: &str,
    secret: &str,
    app_password_of: Option<i64>,
    ip: Option<std::net::IpAddr>,
    audit: &AuditContext,
) -> Result<SecretOutcome, DomainError> {
    let attempt = match state.logins.reserve(throttle::keys(username, ip)).await {
        Ok(a) => a,
        Err(wait) => return Ok(SecretOutcome::Throttled(wait)),
    };
    if let Some(user_id) = app_password_of {
        match bearer::authenticate_app_password(&state.directory, user_id, secret).await {
            Ok(principal) => {
                attempt.release();
                return Ok(SecretOutcome::AppPassword(principal));
            }
            Err(DomainError::InvalidCredentials) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(
        match check_password(state, attempt, username, secret, ip, audit).await? {
            Some(v) => SecretOutcome::Password(v),
            None => SecretOutcome::Refused,
        },
    )
}

/// The password check under a reservation: taken back on success; on failure kept, logged and
/// audited as `login_failed`. An empty name is checked against the dummy hash (the same work).
async fn check_password(
    state: &AppState,
    attempt: Reservation<'_>,
    username: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
    audit: &AuditContext,
) -> Result<Option<Verified>, DomainError> {
    let checked_name = if username.is_empty() { "\0" } else { username };
    match session::verify_password(&state.directory, checked_name, password).await {
        Ok(v) => {
            attempt.release();
            Ok(Some(v))
        }
        Err(DomainError::InvalidCredentials) => {
            drop(attempt);
            // The name is the client's text: no longer than any account's in logs and events.
            let shown = bounded_username(username);
            tracing::warn!(username = %shown, client = ?ip, "failed password authentication");
            let mut context = serde_json::Map::new();
            context.insert("username".into(), serde_json::Value::String(shown));
            context.insert(
                "password".into(),
                serde_json::Value::String(audit::MASK.into()),
            );
            audit::record_alone(&state.store, audit, "login_failed", "model", None, context)
                .await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A failed login's username as logs and events show it: cut to the field's limit, marked.
fn bounded_username(username: &str) -> String {
    if username.chars().count() <= USERNAME_MAX_CHARS {
        return username.to_string();
    }
    let mut shown: String = username.chars().take(USERNAME_MAX_CHARS).collect();
    shown.push('…');
    shown
}
