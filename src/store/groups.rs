//! Groups and roles as far as users need them: resolving references, creating the bootstrap
//! group, and membership rows.

use super::{Reader, Sql, StoreError, Tx};

/// An id ↔ uuid pair of a group or role.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdUuid {
    /// Integer id.
    pub id: i64,
    /// UUID.
    pub uuid: String,
}

/// The groups among `uuids` that exist.
pub async fn groups_by_uuid<R: Reader>(
    db: &mut R,
    uuids: &[String],
) -> Result<Vec<IdUuid>, StoreError> {
    if uuids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT id, uuid FROM groups WHERE uuid IN ");
    sql.bind_list(uuids.iter());
    db.fetch_all(&sql).await
}

/// The roles among `uuids` that exist.
pub async fn roles_by_uuid<R: Reader>(
    db: &mut R,
    uuids: &[String],
) -> Result<Vec<IdUuid>, StoreError> {
    if uuids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT id, uuid FROM roles WHERE uuid IN ");
    sql.bind_list(uuids.iter());
    db.fetch_all(&sql).await
}

/// Which of `names` name existing groups.
pub async fn existing_group_names<R: Reader>(
    db: &mut R,
    names: &[String],
) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct NameRow {
        name: String,
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT name FROM groups WHERE name IN ");
    sql.bind_list(names.iter());
    Ok(db
        .fetch_all::<NameRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

/// Which of `names` name existing roles.
pub async fn existing_role_names<R: Reader>(
    db: &mut R,
    names: &[String],
) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct NameRow {
        name: String,
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT name FROM roles WHERE name IN ");
    sql.bind_list(names.iter());
    Ok(db
        .fetch_all::<NameRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

/// The group with this name.
pub async fn group_by_name<R: Reader>(
    db: &mut R,
    name: &str,
) -> Result<Option<IdUuid>, StoreError> {
    let mut sql = Sql::new("SELECT id, uuid FROM groups WHERE name = ");
    sql.bind(name);
    db.fetch_optional(&sql).await
}

/// Creates a group, returning its id.
pub async fn insert_group(
    tx: &mut Tx,
    uuid: &str,
    name: &str,
    is_superuser: bool,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new("INSERT INTO groups (uuid, name, is_superuser, attributes) VALUES (");
    sql.bind(uuid)
        .push(", ")
        .bind(name)
        .push(", ")
        .bind(is_superuser)
        .push(", '{}') RETURNING id");
    tx.fetch_scalar_i64(&sql).await
}

/// Adds a user to a group (no-op when already a member).
pub async fn add_member(tx: &mut Tx, group_id: i64, user_id: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new("INSERT INTO group_members (user_id, group_id) VALUES (");
    sql.bind(user_id)
        .push(", ")
        .bind(group_id)
        .push(") ON CONFLICT DO NOTHING");
    tx.execute(&sql).await?;
    Ok(())
}
