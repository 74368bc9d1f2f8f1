//! Password hashing with argon2id (the crate's recommended parameters), and verification of
//! the stored formats other directories use (`formats`). Hashing costs tens of milliseconds of
//! CPU, so it runs on a few threads of its own (`workers`) behind a concurrency limit. A login for an unknown
//! user, one without a usable password, or one whose stored hash is in no recognised format is
//! verified against a dummy argon2id hash all the same, so the answer takes as long whether or
//! not the account exists.
//!
//! A hash that verified but is not today's argon2id (`needs_rehash`) is replaced at that login
//! (`auth::session::verify_password`, SECURITY.md "Password hashes").

mod formats;
mod workers;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, Params};
use std::sync::OnceLock;

use crate::domain::DomainError;

/// Hashes a password to an argon2id PHC string.
pub async fn hash(password: String) -> Result<String, DomainError> {
    workers::run(move || hash_blocking(&password)).await?
}

/// Hashes synchronously (bootstrap and CLI).
pub fn hash_blocking(password: &str) -> Result<String, DomainError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::Internal(format!("password hashing failed: {e}")))
}

/// An argon2id hash of a random password with the same parameters as real ones, made once:
/// what a login without a real hash is verified against.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking(&crate::auth::keys::generate_key())
            .unwrap_or_else(|_| DUMMY_FALLBACK.to_string())
    })
}

/// Used only if hashing at start-up failed: a valid argon2id PHC string with the default
/// parameters (m=19456, t=2, p=1), so the work stays the same.
const DUMMY_FALLBACK: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Qc0S5Zc4SvlJu0HO7iG3SmZp5Yzqvl7A6iYbSSxD3yQ";

/// Whether a stored string is a password hash in a format gatehouse verifies (an import keeps
/// any other string as it is, but it never matches: the account has no usable password).
pub fn is_recognised(stored: &str) -> bool {
    formats::parse(stored).is_some()
}

/// Whether a stored hash that a password just matched should be replaced by a fresh argon2id
/// hash: every recognised format except a bare argon2id PHC string whose parameters are at
/// least today's defaults (an unrecognised string never matches, so it is never asked about).
pub fn needs_rehash(stored: &str) -> bool {
    formats::parse(stored)
        .map(|parsed| formats::needs_rehash(&parsed, &Params::default()))
        .unwrap_or(false)
}

/// The verification itself (blocking): the stored hash when it is recognised, else the dummy,
/// which never counts as a match.
fn check_blocking(password: &str, stored: Option<&str>) -> bool {
    if let Some(parsed) = stored.and_then(formats::parse) {
        return formats::matches(&parsed, password);
    }
    if let Some(dummy) = formats::parse(dummy_hash()) {
        // Same work as a real argon2id check; the answer is "no" whatever it says.
        let _ = formats::matches(&dummy, password);
    }
    false
}

/// Checks a password against a stored hash; an absent, unknown or malformed hash never
/// matches, after the same argon2id work against the dummy hash.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, DomainError> {
    workers::run(move || check_blocking(&password, stored.as_deref())).await
}

#[cfg(test)]
mod tests;
