//! Bearer authentication: a presented key → the `Principal` it stands for, or why not. Only the
//! key's lookup hash leaves this module; the directory resolves it (and caches the answer for
//! one write epoch, see `domain::principals`).

use super::keys::lookup_hash;
use crate::domain::authz::Principal;
use crate::domain::{Directory, DomainError};

/// Resolves an API token key. Only `api` tokens that are not expired and whose owner is active
/// authenticate; anything else is `InvalidCredentials`.
pub async fn authenticate(directory: &Directory, key: &str) -> Result<Principal, DomainError> {
    directory.principal_by_key_hash(&lookup_hash(key)).await
}
