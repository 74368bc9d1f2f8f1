//! Which of some names, uuids or ids name an existing user, group or role: the checks a front
//! end makes before a filter may name an object (django-filter's "Select a valid choice").
//! Each answers with the subset that exists; what a missing one means is the caller's.

use super::DomainError;
use crate::store::groups as store_groups;
use crate::store::Store;

/// Which of `names` name existing groups.
pub async fn group_names(store: &Store, names: &[String]) -> Result<Vec<String>, DomainError> {
    let mut db = store;
    Ok(store_groups::existing_group_names(&mut db, names).await?)
}

/// Which of `names` name existing roles.
pub async fn role_names(store: &Store, names: &[String]) -> Result<Vec<String>, DomainError> {
    let mut db = store;
    Ok(store_groups::existing_role_names(&mut db, names).await?)
}

/// Which of `uuids` are existing groups' uuids.
pub async fn group_uuids(store: &Store, uuids: &[String]) -> Result<Vec<String>, DomainError> {
    let mut db = store;
    let found = store_groups::groups_by_uuid(&mut db, uuids).await?;
    Ok(found.into_iter().map(|g| g.uuid).collect())
}

/// Which of `uuids` are existing roles' uuids.
pub async fn role_uuids(store: &Store, uuids: &[String]) -> Result<Vec<String>, DomainError> {
    let mut db = store;
    let found = store_groups::roles_by_uuid(&mut db, uuids).await?;
    Ok(found.into_iter().map(|r| r.uuid).collect())
}

/// Which of `ids` are existing users' ids.
pub async fn user_ids(store: &Store, ids: &[i64]) -> Result<Vec<i64>, DomainError> {
    let mut db = store;
    Ok(store_groups::existing_user_ids(&mut db, ids).await?)
}

/// Which of `names` are existing users' usernames.
pub async fn usernames(store: &Store, names: &[String]) -> Result<Vec<String>, DomainError> {
    let mut db = store;
    Ok(store_groups::existing_usernames(&mut db, names).await?)
}
