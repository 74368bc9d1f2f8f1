//! Bearer authentication: a presented key → the `Principal` it stands for, or why not. The hot
//! path, so resolved principals are cached by key hash and dropped as soon as anything in the
//! directory changes (the store's write epoch), so a revoked token, a deactivated user or a
//! removed membership takes effect on the very next request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::keys::lookup_hash;
use crate::domain::authz::{Principal, Scope};
use crate::domain::{roles, DomainError, Timestamp};
use crate::store::{tokens, users, Store, Touched};

/// Most principals kept at once; the cache is emptied when full.
const CAPACITY: usize = 10_000;

#[derive(Clone)]
struct Entry {
    principal: Principal,
    epoch: u64,
    /// When the token stops authenticating by itself (µs), if it expires.
    expires: Option<i64>,
}

/// Cache of key hash → principal, valid for one write epoch.
#[derive(Default)]
pub struct PrincipalCache {
    entries: RwLock<HashMap<String, Entry>>,
}

impl PrincipalCache {
    fn get(&self, hash: &str, epoch: u64, now: i64) -> Option<Principal> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(hash)?;
        (entry.epoch == epoch && entry.expires.is_none_or(|e| e >= now))
            .then(|| entry.principal.clone())
    }

    fn put(&self, hash: String, entry: Entry) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(hash, entry);
        }
    }
}

/// The principal of a user: superuser status and, for others, the grants of every role.
pub async fn principal_for(
    store: &Store,
    user_id: i64,
    username: String,
    email: String,
) -> Result<Principal, DomainError> {
    let mut db = store;
    let is_superuser = !users::superusers(&mut db, &[user_id]).await?.is_empty();
    // Superusers pass every check, so their grants need not be loaded.
    let grants = if is_superuser {
        Arc::default()
    } else {
        roles::effective_grants(store, user_id).await?
    };
    Ok(Principal {
        user_id,
        username,
        email,
        is_superuser,
        grants,
        scope: Scope::Write,
        session: None,
    })
}

/// Resolves an API token key. Only `api` tokens that are not expired and whose owner is active
/// authenticate; anything else is `InvalidCredentials`.
pub async fn authenticate(
    store: &Store,
    cache: &PrincipalCache,
    key: &str,
) -> Result<Principal, DomainError> {
    let hash = lookup_hash(key);
    let now = Timestamp::now().0;
    let changes = store.changes();
    // Read the epoch before the database: a write that lands meanwhile makes this entry stale.
    let epoch = changes.epoch(Touched::AUTH);
    let trustworthy = changes.trustworthy();
    if trustworthy {
        if let Some(principal) = cache.get(&hash, epoch, now) {
            return Ok(principal);
        }
    }
    let Some(row) = tokens::principal_by_key_hash(store, &hash).await? else {
        return Err(DomainError::InvalidCredentials);
    };
    let expires = row.expires.filter(|_| row.expiring);
    let expired = expires.is_some_and(|e| e < now);
    if row.intent != "api" || expired || !row.is_active {
        return Err(DomainError::InvalidCredentials);
    }
    let mut principal = principal_for(store, row.user_id, row.username, row.email).await?;
    // An unknown scope in the row reads as the narrowest.
    principal.scope = Scope::parse(&row.scope).unwrap_or(Scope::Read);
    if trustworthy {
        cache.put(
            hash,
            Entry {
                principal: principal.clone(),
                epoch,
                expires,
            },
        );
    }
    Ok(principal)
}

/// Resolves an app-password token key presented by `user_id` (an LDAP bind's password):
/// only an `app_password` token of that very user, not expired, whose owner is active.
/// Anything else is `InvalidCredentials`.
pub async fn authenticate_app_password(
    store: &Store,
    user_id: i64,
    key: &str,
) -> Result<Principal, DomainError> {
    let hash = lookup_hash(key);
    let now = Timestamp::now().0;
    let Some(row) = tokens::principal_by_key_hash(store, &hash).await? else {
        return Err(DomainError::InvalidCredentials);
    };
    let expired = row.expiring && row.expires.is_some_and(|e| e < now);
    if row.intent != "app_password" || row.user_id != user_id || expired || !row.is_active {
        return Err(DomainError::InvalidCredentials);
    }
    let mut principal = principal_for(store, row.user_id, row.username, row.email).await?;
    principal.scope = Scope::parse(&row.scope).unwrap_or(Scope::Read);
    Ok(principal)
}

/// The principal of a user who authenticated earlier on a long-lived connection (an LDAP
/// bind), looked up again so that deactivation or a changed membership takes effect on its
/// next operation; cached like bearer principals, valid for one write epoch.
/// `InvalidCredentials` once the user is gone or inactive.
pub async fn principal_of_user(
    store: &Store,
    cache: &PrincipalCache,
    user_id: i64,
) -> Result<Principal, DomainError> {
    // Token lookup hashes are 64 hex digits, so this key never collides with one.
    let key = format!("user:{user_id}");
    let now = Timestamp::now().0;
    let changes = store.changes();
    let epoch = changes.epoch(Touched::AUTH);
    let trustworthy = changes.trustworthy();
    if trustworthy {
        if let Some(principal) = cache.get(&key, epoch, now) {
            return Ok(principal);
        }
    }
    let mut db = store;
    let user = users::by_id(&mut db, user_id)
        .await?
        .filter(|u| u.is_active)
        .ok_or(DomainError::InvalidCredentials)?;
    let principal = principal_for(store, user.id, user.username, user.email).await?;
    if trustworthy {
        cache.put(
            key,
            Entry {
                principal: principal.clone(),
                epoch,
                expires: None,
            },
        );
    }
    Ok(principal)
}
