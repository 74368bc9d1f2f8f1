//! The password login every form and Basic door shares: throttled per account and per client
//! address (the attempt is counted before the password is checked and taken back only when it
//! succeeds), and a failure is logged and audited as `login_failed` with the name bounded and
//! the password masked. The AWX dialect (Basic, `/api/login/`) and the console sign in here.

use super::session::{self, Verified, USERNAME_MAX_CHARS};
use super::throttle;
use crate::app::AppState;
use crate::domain::audit::{self, AuditContext};
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
    match session::verify_password(&state.directory, username, password).await {
        Ok(v) => {
            attempt.release();
            Ok(LoginOutcome::Verified(v))
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
            Ok(LoginOutcome::Refused)
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
