//! Password hashing with argon2id (the crate's recommended parameters). Hashing costs tens of
//! milliseconds of CPU, so it runs on the blocking pool behind a concurrency limit.

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

/// Checks a password against a stored hash; an unusable (absent) hash never matches.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, DomainError> {
    let Some(stored) = stored else {
        return Ok(false);
    };
    let _permit = limiter()
        .acquire()
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| DomainError::Internal(e.to_string()))
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
}
