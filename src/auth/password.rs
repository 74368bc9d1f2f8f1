//! Password hashing with argon2id (the crate's recommended parameters). Hashing costs tens of
//! milliseconds of CPU, so it runs on the blocking pool behind a concurrency limit. A login for
//! an unknown user, or one without a usable password, is verified against a dummy hash all the
//! same, so the answer takes as long whether or not the account exists.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;
use tokio::sync::Semaphore;

use crate::domain::DomainError;

fn limiter() -> &'static Semaphore {
    static LIMIT: OnceLock<Semaphore> = OnceLock::new();
    LIMIT.get_or_init(|| {
        Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    })
}

/// Hashes a password to an argon2id PHC string.
pub async fn hash(password: String) -> Result<String, DomainError> {
    let _permit = limiter()
        .acquire()
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?
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

/// The hash a password is verified against: the stored one, or the dummy.
fn verification_target(stored: Option<String>) -> (String, bool) {
    match stored {
        Some(s) => (s, true),
        None => (dummy_hash().to_string(), false),
    }
}

/// Checks a password against a stored hash; an unusable (absent) hash never matches, after the
/// same argon2id work against the dummy hash.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, DomainError> {
    let (target, real) = verification_target(stored);
    let _permit = limiter()
        .acquire()
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    let matched = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&target)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| DomainError::Internal(e.to_string()))?;
    Ok(matched && real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_salted() {
        let a = hash_blocking("correct horse").expect("hash");
        let b = hash_blocking("correct horse").expect("hash");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn verify_matches_only_the_right_password() {
        let h = hash_blocking("s3cret").expect("hash");
        assert!(verify("s3cret".into(), Some(h.clone()))
            .await
            .expect("verify"));
        assert!(!verify("wrong".into(), Some(h)).await.expect("verify"));
        assert!(!verify("s3cret".into(), None).await.expect("verify"));
    }

    #[test]
    fn an_absent_hash_is_verified_against_a_dummy_of_the_same_cost() {
        let (target, real) = verification_target(None);
        assert!(!real);
        let dummy = PasswordHash::new(&target).expect("a PHC string");
        let genuine_text = hash_blocking("x").expect("hash");
        let genuine = PasswordHash::new(&genuine_text).expect("a PHC string");
        assert_eq!(dummy.algorithm, genuine.algorithm, "argon2id");
        assert_eq!(dummy.params, genuine.params, "same memory, time and lanes");
        assert_eq!(verification_target(None).0, target, "computed once");
        assert!(PasswordHash::new(DUMMY_FALLBACK).is_ok());
    }

    #[tokio::test]
    async fn the_dummy_never_matches_even_its_own_password() {
        // Whatever is typed, a user without a hash is refused.
        assert!(!verify(String::new(), None).await.expect("verify"));
    }
}
