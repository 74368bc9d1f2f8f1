//! Who a credential stands for: a user's `Principal` (superuser status and the grants of every
//! role), and the principal of an API token by its key's lookup hash. Resolved principals are
//! cached by the `Directory` for one write epoch of what authentication reads, so a revoked
//! token, a deactivated user or a removed membership takes effect on the very next request.

use std::sync::Arc;

use super::authz::{Principal, Scope};
use super::cache::EpochCache;
use super::{roles, DomainError, Timestamp};
use crate::store::{tokens, users, Store, Touched};

/// Most principals kept at once.
const CAPACITY: usize = 10_000;

/// Key hash → (principal, when its token stops authenticating by itself in µs), valid for one
/// write epoch of `Touched::AUTH`.
pub struct PrincipalCache(EpochCache<String, (Principal, Option<i64>)>);

impl PrincipalCache {
    /// Its hit and miss counters.
    pub fn counters(&self) -> &Arc<super::cache::CacheCounters> {
        self.0.counters()
    }
}

impl Default for PrincipalCache {
    fn default() -> Self {
        PrincipalCache(EpochCache::new(Touched::AUTH, CAPACITY))
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

/// The principal of the API token whose key has this lookup hash. Only `api` tokens that are
/// not expired and whose owner is active authenticate; anything else is `InvalidCredentials`.
pub(super) async fn by_key_hash(
    store: &Store,
    cache: &PrincipalCache,
    hash: &str,
) -> Result<Principal, DomainError> {
    let now = Timestamp::now().0;
    let changes = store.changes();
    // Read the epoch before the database: a write that lands meanwhile makes this entry stale.
    let epoch = cache.0.epoch(changes);
    if let Some((principal, expires)) = cache.0.get(changes, &hash.to_string()) {
        if expires.is_none_or(|e| e >= now) {
            return Ok(principal);
        }
    }
    let Some(row) = tokens::principal_by_key_hash(store, hash).await? else {
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
    cache.0.put(
        changes,
        epoch,
        hash.to_string(),
        (principal.clone(), expires),
    );
    Ok(principal)
}

/// The principal of the `app_password` token of `user_id` whose key has this lookup hash (an
/// LDAP bind's password): not expired, its owner active; anything else is `InvalidCredentials`.
/// The token is read every time; its owner's principal comes from `of_user`'s cache (a client
/// binding once per connection would otherwise load the same grants at every bind).
pub(super) async fn by_app_password_hash(
    store: &Store,
    cache: &PrincipalCache,
    user_id: i64,
    hash: &str,
) -> Result<Principal, DomainError> {
    let now = Timestamp::now().0;
    let Some(row) = tokens::principal_by_key_hash(store, hash).await? else {
        return Err(DomainError::InvalidCredentials);
    };
    let expired = row.expiring && row.expires.is_some_and(|e| e < now);
    if row.intent != "app_password" || row.user_id != user_id || expired || !row.is_active {
        return Err(DomainError::InvalidCredentials);
    }
    let mut principal = of_user(store, cache, row.user_id).await?;
    principal.scope = Scope::parse(&row.scope).unwrap_or(Scope::Read);
    Ok(principal)
}

/// The principal of an active user by id, cached like token principals for one write epoch
/// (a long-lived LDAP connection asks again before every operation). `InvalidCredentials` once
/// the user is gone or inactive.
pub(super) async fn of_user(
    store: &Store,
    cache: &PrincipalCache,
    user_id: i64,
) -> Result<Principal, DomainError> {
    // Token lookup hashes are 64 hex digits, so this key never collides with one.
    let key = format!("user:{user_id}");
    let changes = store.changes();
    let epoch = cache.0.epoch(changes);
    if let Some((principal, _)) = cache.0.get(changes, &key) {
        return Ok(principal);
    }
    let mut db = store;
    let user = users::by_id(&mut db, user_id)
        .await?
        .filter(|u| u.is_active)
        .ok_or(DomainError::InvalidCredentials)?;
    let principal = principal_for(store, user.id, user.username, user.email).await?;
    cache.0.put(changes, epoch, key, (principal.clone(), None));
    Ok(principal)
}
