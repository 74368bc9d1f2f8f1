//! SCIM's own rows (migration 0011 / 0007): the shadow document of a user or group (what a SCIM
//! client sent that the directory's columns do not hold), group timestamps, and the externalId
//! each SCIM client gave an object. No decisions here: the domain (`domain::scim`) decides
//! what goes into a document.

use super::reader::Reader;
use super::{Sql, StoreError, Tx};

/// Which kind of object a SCIM row belongs to; picks the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimKind {
    /// A user (`scim_users`, `scim_user_external_ids`).
    User,
    /// A group (`scim_groups`, `scim_group_external_ids`).
    Group,
}

impl ScimKind {
    fn doc_table(self) -> (&'static str, &'static str) {
        match self {
            ScimKind::User => ("scim_users", "user_id"),
            ScimKind::Group => ("scim_groups", "group_id"),
        }
    }

    fn external_table(self) -> (&'static str, &'static str) {
        match self {
            ScimKind::User => ("scim_user_external_ids", "user_id"),
            ScimKind::Group => ("scim_group_external_ids", "group_id"),
        }
    }
}

/// The SCIM row of one object.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct ScimDocRow {
    /// The user's or group's internal id.
    pub object_id: i64,
    /// The shadow document (JSON object text).
    pub doc: String,
    /// Creation time (µs; groups only, users use `date_joined`).
    pub created: i64,
    /// Last modification through SCIM or (groups) any door (µs).
    pub last_modified: i64,
}

/// An externalId of one object for one client.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct ExternalIdRow {
    /// The object's internal id.
    pub object_id: i64,
    /// The client's externalId.
    pub external_id: String,
}

/// The SCIM rows of these objects.
pub async fn docs<R: Reader>(
    db: &mut R,
    kind: ScimKind,
    ids: &[i64],
) -> Result<Vec<ScimDocRow>, StoreError> {
    let (table, key) = kind.doc_table();
    let created = match kind {
        ScimKind::User => "last_modified",
        ScimKind::Group => "created",
    };
    let mut sql = Sql::new(&format!(
        "SELECT {key} AS object_id, doc, {created} AS created, last_modified FROM {table} WHERE {key} IN "
    ));
    sql.bind_list(ids.iter().copied());
    db.fetch_all(&sql).await
}

/// Stores the shadow document of an object and bumps its modification time.
pub async fn put_doc(
    tx: &mut Tx,
    kind: ScimKind,
    id: i64,
    doc: &str,
    now: i64,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(match kind {
        ScimKind::User => "INSERT INTO scim_users (user_id, doc, last_modified) VALUES (",
        ScimKind::Group => {
            "INSERT INTO scim_groups (group_id, doc, last_modified, created) VALUES ("
        }
    });
    sql.bind(id).push(", ").bind(doc).push(", ").bind(now);
    if kind == ScimKind::Group {
        sql.push(", ").bind(now);
    }
    let (_, key) = kind.doc_table();
    sql.push(&format!(
        ") ON CONFLICT ({key}) DO UPDATE SET doc = excluded.doc, last_modified = excluded.last_modified"
    ));
    tx.execute(&sql).await?;
    Ok(())
}

/// The externalIds `client` gave these objects.
pub async fn external_ids<R: Reader>(
    db: &mut R,
    kind: ScimKind,
    client: i64,
    ids: &[i64],
) -> Result<Vec<ExternalIdRow>, StoreError> {
    let (table, key) = kind.external_table();
    let mut sql = Sql::new(&format!(
        "SELECT {key} AS object_id, external_id FROM {table} WHERE client_id = "
    ));
    sql.bind(client).push(&format!(" AND {key} IN "));
    sql.bind_list(ids.iter().copied());
    db.fetch_all(&sql).await
}

/// Sets (`Some`) or clears (`None`) the externalId `client` gives an object. A value another
/// object of the client holds fails as `StoreError::Unique`.
pub async fn set_external_id(
    tx: &mut Tx,
    kind: ScimKind,
    client: i64,
    id: i64,
    external_id: Option<&str>,
) -> Result<(), StoreError> {
    let (table, key) = kind.external_table();
    let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE client_id = "));
    sql.bind(client).push(&format!(" AND {key} = ")).bind(id);
    tx.execute(&sql).await?;
    if let Some(value) = external_id {
        let mut sql = Sql::new(&format!(
            "INSERT INTO {table} (client_id, {key}, external_id) VALUES ("
        ));
        sql.bind(client)
            .push(", ")
            .bind(id)
            .push(", ")
            .bind(value)
            .push(")");
        tx.execute(&sql).await?;
    }
    Ok(())
}

/// A group of a user, directly (`depth` 0) or through ancestors.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct UserGroupRow {
    /// The user.
    pub user_id: i64,
    /// The group's uuid.
    pub uuid: String,
    /// The group's name.
    pub name: String,
    /// 0: a direct membership; more: through a parent.
    pub depth: i64,
}

/// Every group of these users, direct or inherited through parents, one query for all.
pub async fn user_groups<R: Reader>(
    db: &mut R,
    user_ids: &[i64],
) -> Result<Vec<UserGroupRow>, StoreError> {
    let mut sql = Sql::new(
        "WITH RECURSIVE anc(user_id, group_id, depth) AS (\
         SELECT user_id, group_id, 0 FROM group_members WHERE user_id IN ",
    );
    sql.bind_list(user_ids.iter().copied());
    sql.push(
        " UNION SELECT a.user_id, gp.parent_id, 1 FROM group_parents gp JOIN anc a ON gp.child_id = a.group_id) \
         SELECT a.user_id AS user_id, g.uuid AS uuid, g.name AS name, CAST(MIN(a.depth) AS BIGINT) AS depth \
         FROM anc a JOIN groups g ON g.id = a.group_id \
         GROUP BY a.user_id, g.uuid, g.name ORDER BY a.user_id, g.name, g.uuid",
    );
    db.fetch_all(&sql).await
}

#[derive(sqlx::FromRow, serde::Deserialize)]
struct IdRow {
    id: i64,
}

/// A user's id and uuid.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct UserRefRow {
    /// Internal id.
    pub id: i64,
    /// UUID.
    pub uuid: String,
    /// Account type.
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub user_type: String,
}

/// The users with these uuids (unknown ones are left out).
pub async fn users_by_uuid<R: Reader>(
    db: &mut R,
    uuids: &[String],
) -> Result<Vec<UserRefRow>, StoreError> {
    let mut sql = Sql::new("SELECT id, uuid, type FROM users WHERE uuid IN ");
    sql.bind_list(uuids.iter());
    db.fetch_all(&sql).await
}

/// Whether the group grants superuser status or carries roles, itself or through ancestors.
pub async fn group_is_privileged<R: Reader>(db: &mut R, group_id: i64) -> Result<bool, StoreError> {
    let mut sql = Sql::new("WITH RECURSIVE anc(id) AS (SELECT ");
    sql.bind(group_id).push(
        " UNION SELECT gp.parent_id FROM group_parents gp JOIN anc a ON gp.child_id = a.id) \
         SELECT COUNT(*) FROM groups g WHERE g.id IN (SELECT id FROM anc) AND (g.is_superuser = TRUE \
         OR EXISTS (SELECT 1 FROM group_roles gr WHERE gr.group_id = g.id))",
    );
    Ok(db.fetch_scalar_i64(&sql).await? > 0)
}

/// The ids of a group's direct members.
pub async fn member_ids<R: Reader>(db: &mut R, group_id: i64) -> Result<Vec<i64>, StoreError> {
    let mut sql = Sql::new("SELECT user_id AS id FROM group_members WHERE group_id = ");
    sql.bind(group_id).push(" ORDER BY user_id");
    Ok(db
        .fetch_all::<IdRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}
