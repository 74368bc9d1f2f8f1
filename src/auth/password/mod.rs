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
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

use crate::domain::DomainError;

/// Hashes a password to an argon2id PHC string.
pub async fn hash(password: String) -> Result<String, DomainError> {
    workers::run(move || hash_blocking(&password)).await?
}

/// Hashes once at start-up (bootstrap): off the password threads, in memory freed afterwards,
/// so a server that has checked no password yet keeps no argon2 block resident.
pub async fn hash_at_start(password: String) -> Result<String, DomainError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| DomainError::Internal(format!("password work: {e}")))?
}

/// Hashes synchronously (bootstrap and CLI): argon2id v19 with the crate's default
/// parameters, the PHC string `Argon2::default().hash_password` makes, computed in the
/// password thread's kept memory (`workers::with_memory`).
pub fn hash_blocking(password: &str) -> Result<String, DomainError> {
    let failed =
        |e: &dyn std::fmt::Display| DomainError::Internal(format!("password hashing failed: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        &Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
        password,
        salt_bytes,
        &mut out,
    )
    .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// `hasher`'s argon2 hash of `password` with `salt` into `out` (its length is the output
/// length), in the password thread's kept memory.
fn argon2_into(
    hasher: &Argon2<'_>,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = hasher.params().block_count();
    workers::with_memory(blocks, |memory| {
        hasher.hash_password_into_with_memory(password.as_bytes(), salt, out, memory)
    })
}

/// Whether `password` matches a parsed argon2 PHC string (argon2id, argon2i or argon2d, any
/// version, parameters and output length it names), as `PasswordVerifier::verify_password`
/// decides it — the outputs compared in constant time — but in the kept memory.
fn argon2_matches(parsed: &PasswordHash<'_>, password: &str) -> bool {
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let hasher = Argon2::new(algorithm, version, params);
    if argon2_into(&hasher, password, salt, out).is_err() {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(out).is_ok_and(|computed| computed == expected)
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
