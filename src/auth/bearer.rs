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

/// Resolves an app-password token key presented by `user_id` (an LDAP bind's password):
/// only an `app_password` token of that very user, not expired, whose owner is active.
/// Anything else is `InvalidCredentials`.
pub async fn authenticate_app_password(
    directory: &Directory,
    user_id: i64,
    key: &str,
) -> Result<Principal, DomainError> {
    directory
        .principal_by_app_password_hash(user_id, &lookup_hash(key))
        .await
}

/// The principal of a user who authenticated earlier on a long-lived connection (an LDAP
/// bind), looked up again so that deactivation or a changed membership takes effect on its
/// next operation (see `Directory::principal_of_user`).
pub async fn principal_of_user(
    directory: &Directory,
    user_id: i64,
) -> Result<Principal, DomainError> {
    directory.principal_of_user(user_id).await
}
