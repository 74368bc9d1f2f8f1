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

use super::bearer::principal_for;
use super::keys::{generate_key, lookup_hash};
use super::password;
use crate::domain::authz::Principal;
use crate::domain::users as domain_users;
use crate::domain::{DomainError, Timestamp};
use crate::store::{sessions, users, Store, Touched};

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
    store: &Store,
    username: &str,
    password_text: &str,
) -> Result<Verified, DomainError> {
    let mut db = store;
    // No username holds a NUL (PostgreSQL text cannot) or is longer than the field allows:
    // such a login fails like any unknown name, still paying for one password verification.
    let row = if username.contains('\0') || username.chars().count() > USERNAME_MAX_CHARS {
        None
    } else {
        users::by_username(&mut db, username).await?
    };
    let (stored, user) = match row {
        Some(u) => (u.password_hash.clone(), Some(u)),
        None => (None, None),
    };
    let ok = password::verify(password_text.to_string(), stored).await?;
    match user {
        Some(u) if ok && u.is_active => {
            let verified = u.password_hash.unwrap_or_default();
            let password_hash = upgrade(store, u.id, verified, password_text).await;
            let principal = principal_for(store, u.id, u.username, u.email).await?;
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
async fn upgrade(store: &Store, user_id: i64, verified: String, password_text: &str) -> String {
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
    match domain_users::upgrade_password_hash(store, user_id, &verified, &fresh).await {
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
pub async fn start(store: &Store, login: &Verified) -> Result<String, DomainError> {
    let key = generate_key();
    let now = Timestamp::now();
    let user_id = login.principal.user_id;
    let mut tx = store.begin().await?;
    // First, so that on PostgreSQL the user's row is locked: a concurrent password change
    // either committed before (and this matches nothing) or waits for this commit and then
    // deletes the new session with the others.
    if !users::record_login(&mut tx, user_id, &login.password_hash, now.0).await? {
        return Err(DomainError::InvalidCredentials);
    }
    sessions::insert(
        &mut tx,
        &lookup_hash(&key),
        user_id,
        now.plus_seconds(SESSION_SECONDS).0,
        now.0,
    )
    .await?;
    // `last_login` is shown; nothing a principal derives from changed.
    tx.touches(Touched::DIRECTORY);
    tx.commit().await?;
    Ok(key)
}

/// The principal of a live session, sliding its expiry forward.
pub async fn resume(store: &Store, key: &str) -> Result<Principal, DomainError> {
    let hash = lookup_hash(key);
    let now = Timestamp::now();
    let session = sessions::find(store, &hash, now.0)
        .await?
        .ok_or(DomainError::InvalidCredentials)?;
    // Extend at most once a minute: a write per request would serialise readers on SQLite.
    if session.expires - now.0 < (SESSION_SECONDS - 60) * 1_000_000 {
        let mut tx = store.begin().await?;
        sessions::extend(&mut tx, &hash, now.plus_seconds(SESSION_SECONDS).0).await?;
        // Sessions are looked up afresh on every request; no cache derives from them.
        tx.touches(Touched::NONE);
        tx.commit().await?;
    }
    let mut db = store;
    let user = users::by_id(&mut db, session.user_id)
        .await?
        .ok_or(DomainError::InvalidCredentials)?;
    if !user.is_active {
        return Err(DomainError::InvalidCredentials);
    }
    let mut principal = principal_for(store, user.id, user.username, user.email).await?;
    principal.session = Some(hash);
    Ok(principal)
}

/// Ends a session (and sweeps expired ones).
pub async fn end(store: &Store, key: &str) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    sessions::delete(&mut tx, &lookup_hash(key), Timestamp::now().0).await?;
    tx.commit().await?;
    Ok(())
}
