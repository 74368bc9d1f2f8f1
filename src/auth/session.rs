//! Password logins: HTTP Basic credentials and the AWX dialect's login sessions (a random key
//! in a cookie; only its hash is stored, server-side, so every instance honours it).
//!
//! A session ends when its user's password changes, the user is deactivated or stops being a
//! superuser: the transaction making that change deletes the user's session rows
//! (`domain::sessions`), so on every instance the next request with them fails. A login whose
//! password check raced with such a change is not turned into a session: `start` creates it
//! only if the password hash it verified is still the user's and the user is still active.
//!
//! `verify_password` is the one password check of every door (HTTP Basic and the login form
//! today); it also upgrades a stored hash in another format to argon2id at the first
//! successful login (`upgrade`).

use super::keys::{generate_key, lookup_hash};
use super::password;
use crate::domain::authz::Principal;
use crate::domain::principals::principal_for;
use crate::domain::sessions;
use crate::domain::users as domain_users;
use crate::domain::{Directory, DomainError, Timestamp};

/// How long a session lives without use, seconds (AWX's `SESSION_COOKIE_AGE`).
pub const SESSION_SECONDS: i64 = 1800;

/// Longest username that can exist (the field's limit); longer ones are not looked up.
pub const USERNAME_MAX_CHARS: usize = 150;

/// A successful password check: who, and the hash the password matched (a session is only
/// started while it is still the user's).
#[derive(Debug, Clone)]
pub struct Verified {
    /// The authenticated user.
    pub principal: Principal,
    /// The stored hash the password was verified against.
    pub password_hash: String,
}

/// Checks a username and password; `InvalidCredentials` for an unknown user, a wrong or
/// unusable password, or an inactive account (the same answer, and the same argon2id work, for
/// each). A match against a hash `password::needs_rehash` flags stores an argon2id hash first.
pub async fn verify_password(
    directory: &Directory,
    username: &str,
    password_text: &str,
) -> Result<Verified, DomainError> {
    // No username holds a NUL (PostgreSQL text cannot) or is longer than the field allows:
    // such a login fails like any unknown name, still paying for one password verification.
    let account = if username.contains('\0') || username.chars().count() > USERNAME_MAX_CHARS {
        None
    } else {
        sessions::login_account(directory.store(), username).await?
    };
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let ok = password::verify(password_text.to_string(), stored).await?;
    match account {
        Some(a) if ok && a.is_active => {
            let verified = a.password_hash.unwrap_or_default();
            let password_hash = upgrade(directory, a.id, verified, password_text).await;
            let principal = principal_for(directory.store(), a.id, a.username, a.email).await?;
            Ok(Verified {
                principal,
                password_hash,
            })
        }
        _ => Err(DomainError::InvalidCredentials),
    }
}

/// After a successful login: replaces a hash in another format (or a weaker argon2id) by a
/// fresh argon2id hash of the same password; the hash now stored (the verified one if nothing
/// changed). A failure to rehash does not fail the login: it is logged and retried at the next.
async fn upgrade(
    directory: &Directory,
    user_id: i64,
    verified: String,
    password_text: &str,
) -> String {
    if !password::needs_rehash(&verified) {
        return verified;
    }
    let fresh = match password::hash(password_text.to_string()).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(user_id, error = %e, "password rehash failed");
            return verified;
        }
    };
    match domain_users::upgrade_password_hash(directory.store(), user_id, &verified, &fresh).await {
        Ok(true) => {
            tracing::info!(user_id, "password hash upgraded to argon2id");
            fresh
        }
        // The hash changed meanwhile; the session check will see it.
        Ok(false) => verified,
        Err(e) => {
            tracing::warn!(user_id, error = %e, "password rehash failed");
            verified
        }
    }
}

/// Starts a session for a verified login, recording the login; returns the session key (for
/// the cookie). `InvalidCredentials` if the password or the account's activity changed since
/// the password was checked.
pub async fn start(directory: &Directory, login: &Verified) -> Result<String, DomainError> {
    let key = generate_key();
    let expires = Timestamp::now().plus_seconds(SESSION_SECONDS);
    sessions::start(
        directory.store(),
        login.principal.user_id,
        &login.password_hash,
        &lookup_hash(&key),
        expires,
    )
    .await?;
    Ok(key)
}

/// The principal of a live session, sliding its expiry forward.
pub async fn resume(directory: &Directory, key: &str) -> Result<Principal, DomainError> {
    sessions::resume(directory.store(), &lookup_hash(key), SESSION_SECONDS).await
}

/// Ends a session (and sweeps expired ones).
pub async fn end(directory: &Directory, key: &str) -> Result<(), DomainError> {
    sessions::end(directory.store(), &lookup_hash(key)).await
}
