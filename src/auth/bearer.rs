//! Bearer authentication: a presented key → the `Principal` it stands for, or why not.

use super::keys::lookup_hash;
use crate::domain::authz::Principal;
use crate::domain::{DomainError, Timestamp};
use crate::store::{tokens, users, Store};

/// Resolves an API token key. Only `api` tokens that are not expired and whose owner is active
/// authenticate; anything else is `InvalidCredentials`.
pub async fn authenticate(store: &Store, key: &str) -> Result<Principal, DomainError> {
    let Some(row) = tokens::principal_by_key_hash(store, &lookup_hash(key)).await? else {
        return Err(DomainError::InvalidCredentials);
    };
    let expired = row.expiring && row.expires.is_some_and(|e| e < Timestamp::now().0);
    if row.intent != "api" || expired || !row.is_active {
        return Err(DomainError::InvalidCredentials);
    }
    let mut db = store;
    let is_superuser = !users::superusers(&mut db, &[row.user_id]).await?.is_empty();
    Ok(Principal {
        user_id: row.user_id,
        username: row.username,
        is_superuser,
    })
}
