//! When login sessions end because of what happened to their user: a password change or reset
//! (any door), deactivation, or the loss of superuser status end every session of the user at
//! once, inside the transaction making the change; the rows are gone from the shared database,
//! so every instance refuses them on their next request. The session the user changed its
//! own password with stays valid, as Django's `update_session_auth_hash` keeps it.
//!
//! Also the operations a login session is made of — the account a login names, starting,
//! resuming and ending a session — by the lookup hash of its key (`auth::session` holds keys).

use super::audit::AuditContext;
use super::authz::Principal;
use super::principals::principal_for;
use super::{DomainError, Timestamp};
use crate::store::{sessions, users as store_users, Store, Touched, Tx};

/// Ends every session of `user_id`, except the acting session when the actor is that user.
pub async fn end_for(tx: &mut Tx, user_id: i64, audit: &AuditContext) -> Result<(), DomainError> {
    let keep = match &audit.actor {
        Some((actor, _)) if *actor == user_id => audit.actor_session.as_deref(),
        _ => None,
    };
    sessions::delete_for_user(tx, user_id, keep).await?;
    Ok(())
}

/// The superusers holding sessions now: taken before a change that may demote someone.
pub async fn superusers_with_sessions(tx: &mut Tx) -> Result<Vec<i64>, DomainError> {
    let holders = sessions::users_with_sessions(tx).await?;
    Ok(store_users::superusers(tx, &holders).await?)
}

/// Ends the sessions of those in `before` who are no longer superusers.
pub async fn end_for_demoted(
    tx: &mut Tx,
    before: &[i64],
    audit: &AuditContext,
) -> Result<(), DomainError> {
    if before.is_empty() {
        return Ok(());
    }
    let still = store_users::superusers(tx, before).await?;
    for id in before.iter().filter(|id| !still.contains(id)) {
        end_for(tx, *id, audit).await?;
    }
    Ok(())
}

/// What a password login needs to know about the account it names.
#[derive(Debug, Clone)]
pub struct LoginAccount {
    /// The user's id.
    pub id: i64,
    /// Its username.
    pub username: String,
    /// Its e-mail address.
    pub email: String,
    /// Whether it may log in.
    pub is_active: bool,
    /// The stored password hash; `None` = unusable.
    pub password_hash: Option<String>,
}

/// The account a login names, if any.
pub async fn login_account(
    store: &Store,
    username: &str,
) -> Result<Option<LoginAccount>, DomainError> {
    let mut db = store;
    Ok(store_users::by_username(&mut db, username)
        .await?
        .map(|u| LoginAccount {
            id: u.id,
            username: u.username,
            email: u.email,
            is_active: u.is_active,
            password_hash: u.password_hash,
        }))
}

/// Records a login and starts a session whose key has `key_hash`, living until `expires` (µs).
/// `InvalidCredentials` if the user's password hash is no longer `password_hash` or the user
/// is no longer active (the password check raced with a change).
pub async fn start(
    store: &Store,
    user_id: i64,
    password_hash: &str,
    key_hash: &str,
    expires: Timestamp,
) -> Result<(), DomainError> {
    let now = Timestamp::now();
    let mut tx = store.begin().await?;
    // First, so that on PostgreSQL the user's row is locked: a concurrent password change
    // either committed before (and this matches nothing) or waits for this commit and then
    // deletes the new session with the others.
    if !store_users::record_login(&mut tx, user_id, password_hash, now.0).await? {
        return Err(DomainError::InvalidCredentials);
    }
    sessions::insert(&mut tx, key_hash, user_id, expires.0, now.0).await?;
    // `last_login` is shown; nothing a principal derives from changed.
    tx.touches(Touched::DIRECTORY);
    tx.commit().await?;
    Ok(())
}

/// The principal of the live session whose key has `key_hash`; its expiry slides to
/// `lifetime_seconds` from now (at most once a minute: a write per request would serialise
/// readers on SQLite).
pub async fn resume(
    store: &Store,
    key_hash: &str,
    lifetime_seconds: i64,
) -> Result<Principal, DomainError> {
    let now = Timestamp::now();
    let session = sessions::find(store, key_hash, now.0)
        .await?
        .ok_or(DomainError::InvalidCredentials)?;
    if session.expires - now.0 < (lifetime_seconds - 60) * 1_000_000 {
        let mut tx = store.begin().await?;
        sessions::extend(&mut tx, key_hash, now.plus_seconds(lifetime_seconds).0).await?;
        // Sessions are looked up afresh on every request; no cache derives from them.
        tx.touches(Touched::NONE);
        tx.commit().await?;
    }
    let mut db = store;
    let user = store_users::by_id(&mut db, session.user_id)
        .await?
        .ok_or(DomainError::InvalidCredentials)?;
    if !user.is_active {
        return Err(DomainError::InvalidCredentials);
    }
    let mut principal = principal_for(store, user.id, user.username, user.email).await?;
    principal.session = Some(key_hash.to_string());
    Ok(principal)
}

/// Ends the session whose key has `key_hash` (and sweeps expired ones).
pub async fn end(store: &Store, key_hash: &str) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    sessions::delete(&mut tx, key_hash, Timestamp::now().0).await?;
    tx.commit().await?;
    Ok(())
}
