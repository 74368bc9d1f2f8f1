//! Groups and roles as far as users need them: resolving references, creating the bootstrap
//! group, and membership rows.

use super::{Reader, Sql, StoreError, Tx};

/// An id ↔ uuid pair of a group or role.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
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
    existing_texts(db, "SELECT name AS value FROM groups WHERE name IN ", names).await
}

/// Which of `names` name existing roles.
pub async fn existing_role_names<R: Reader>(
    db: &mut R,
    names: &[String],
) -> Result<Vec<String>, StoreError> {
    existing_texts(db, "SELECT name AS value FROM roles WHERE name IN ", names).await
}

/// The values among `values` that a fixed `SELECT … AS value … IN ` query finds.
async fn existing_texts<R: Reader>(
    db: &mut R,
    select_in: &'static str,
    values: &[String],
) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct ValueRow {
        value: String,
    }
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(select_in);
    sql.bind_list(values.iter());
    Ok(db
        .fetch_all::<ValueRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.value)
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

// ------------------------------------------------------------------ the groups resource

use super::filter::{self, Schema};
use super::Store;
use crate::query::filter::Direction;
use crate::query::groups::{GroupField, GroupFilter, GroupRel, GroupSort};

/// One row of `groups`.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct GroupRow {
    /// Integer id (internal).
    pub id: i64,
    /// UUID (the API's pk).
    pub uuid: String,
    /// Unique name.
    pub name: String,
    /// Grants superuser status to members and descendants' members.
    pub is_superuser: bool,
    /// JSON object text.
    pub attributes: String,
}

const GROUP_COLUMNS: &str = "g.id, g.uuid, g.name, g.is_superuser, g.attributes";

pub(crate) struct GroupSchema;

impl Schema for GroupSchema {
    type Field = GroupField;
    type Rel = GroupRel;

    fn column(field: &GroupField) -> &'static str {
        match field {
            GroupField::Id => "g.id",
            GroupField::Uuid => "g.uuid",
            GroupField::Name => "g.name",
            GroupField::IsSuperuser => "g.is_superuser",
            GroupField::Attributes => "g.attributes",
        }
    }

    type Context = ();

    fn relation(rel: &GroupRel, _dialect: super::Dialect, _context: &(), out: &mut Sql) {
        match rel {
            GroupRel::MemberIds(ids) => {
                out.push("EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id IN ");
                out.bind_list(ids.iter().copied()).push(")");
            }
            GroupRel::MemberUsernames(names) => {
                out.push("EXISTS (SELECT 1 FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = g.id AND u.username IN ");
                out.bind_list(names.iter()).push(")");
            }
            GroupRel::Ids(ids) => {
                out.push("g.id IN ").bind_list(ids.iter().copied());
            }
            GroupRel::MemberUuids(uuids) => {
                out.push("EXISTS (SELECT 1 FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = g.id AND u.uuid IN ");
                out.bind_list(uuids.iter()).push(")");
            }
            GroupRel::ScimExternalId { client, value } => {
                out.push("g.id IN (SELECT x.group_id FROM scim_group_external_ids x WHERE x.client_id = ");
                out.bind(*client)
                    .push(" AND x.external_id = ")
                    .bind(value.clone())
                    .push(")");
            }
        }
    }
}

fn group_sort_expression(sort: &GroupSort) -> String {
    match sort {
        GroupSort::Field(f) => GroupSchema::column(f).to_string(),
        GroupSort::Parents => "(SELECT MIN(p.uuid) FROM group_parents gp JOIN groups p ON p.id = gp.parent_id WHERE gp.child_id = g.id)".into(),
        GroupSort::Children => "(SELECT MIN(c.uuid) FROM group_parents gp JOIN groups c ON c.id = gp.child_id WHERE gp.parent_id = g.id)".into(),
        GroupSort::Users => "(SELECT MIN(m.user_id) FROM group_members m WHERE m.group_id = g.id)".into(),
        GroupSort::Roles => "(SELECT MIN(r.uuid) FROM group_roles gr JOIN roles r ON r.id = gr.role_id WHERE gr.group_id = g.id)".into(),
    }
}

/// Number of groups matching `filter`.
pub async fn count(store: &Store, filter: &GroupFilter) -> Result<i64, StoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM groups g WHERE ");
    filter::compile::<GroupSchema>(filter, store.dialect(), &(), &mut sql);
    store.fetch_scalar_i64(&sql).await
}

/// One page of groups matching `filter`, in `sort` order (ties by id).
pub async fn page(
    store: &Store,
    filter: &GroupFilter,
    sort: &[(GroupSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<GroupRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(GROUP_COLUMNS).push(" FROM groups g WHERE ");
    filter::compile::<GroupSchema>(filter, store.dialect(), &(), &mut sql);
    let keys: Vec<(String, Direction)> = sort
        .iter()
        .map(|(s, d)| (group_sort_expression(s), *d))
        .collect();
    filter::order_by(&mut sql, &keys, "g.id ASC");
    sql.push(" LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    store.fetch_all(&sql).await
}

/// The group with this uuid.
pub async fn by_uuid<R: Reader>(db: &mut R, uuid: &str) -> Result<Option<GroupRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(GROUP_COLUMNS)
        .push(" FROM groups g WHERE g.uuid = ")
        .bind(uuid);
    db.fetch_optional(&sql).await
}

/// A group related to another one (parent or child), with the id it relates to.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct RelatedGroupRow {
    /// The group this row belongs to.
    pub owner_id: i64,
    /// Related group uuid.
    pub uuid: String,
    /// Related group name.
    pub name: String,
    /// Related group superuser flag.
    pub is_superuser: bool,
    /// Related group attributes.
    pub attributes: String,
}

/// Direct parents of the given groups, by name.
pub async fn parents_of(store: &Store, ids: &[i64]) -> Result<Vec<RelatedGroupRow>, StoreError> {
    let mut sql = Sql::new("SELECT gp.child_id AS owner_id, g.uuid, g.name, g.is_superuser, g.attributes FROM group_parents gp JOIN groups g ON g.id = gp.parent_id WHERE gp.child_id IN ");
    sql.bind_list(ids.iter().copied())
        .push(" ORDER BY g.name, g.uuid");
    store.fetch_all(&sql).await
}

/// Direct children of the given groups, by name.
pub async fn children_of(store: &Store, ids: &[i64]) -> Result<Vec<RelatedGroupRow>, StoreError> {
    let mut sql = Sql::new("SELECT gp.parent_id AS owner_id, g.uuid, g.name, g.is_superuser, g.attributes FROM group_parents gp JOIN groups g ON g.id = gp.child_id WHERE gp.parent_id IN ");
    sql.bind_list(ids.iter().copied())
        .push(" ORDER BY g.name, g.uuid");
    store.fetch_all(&sql).await
}

/// A member of a group, as `users_obj` shows it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct MemberRow {
    /// The group.
    pub group_id: i64,
    /// User id.
    pub id: i64,
    /// User uuid.
    pub uuid: String,
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Active flag.
    pub is_active: bool,
    /// Last login (µs).
    pub last_login: Option<i64>,
    /// E-mail.
    pub email: String,
    /// Attributes (JSON text).
    pub attributes: String,
}

/// Direct members of the given groups, by user id.
pub async fn members_of(store: &Store, ids: &[i64]) -> Result<Vec<MemberRow>, StoreError> {
    let mut sql = Sql::new("SELECT m.group_id, u.id, u.uuid, u.username, u.name, u.is_active, u.last_login, u.email, u.attributes FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id IN ");
    sql.bind_list(ids.iter().copied()).push(" ORDER BY u.id");
    store.fetch_all(&sql).await
}

/// A role attached to a group (directly or through an ancestor).
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct GroupRoleRow {
    /// The group.
    pub group_id: i64,
    /// Role uuid.
    pub uuid: String,
    /// Role name.
    pub name: String,
}

/// Direct roles of the given groups, by name.
pub async fn roles_of(store: &Store, ids: &[i64]) -> Result<Vec<GroupRoleRow>, StoreError> {
    let mut sql = Sql::new("SELECT gr.group_id, r.uuid, r.name FROM group_roles gr JOIN roles r ON r.id = gr.role_id WHERE gr.group_id IN ");
    sql.bind_list(ids.iter().copied())
        .push(" ORDER BY r.name, r.uuid");
    store.fetch_all(&sql).await
}

/// Roles the given groups hold through their ancestors (not themselves), by name.
pub async fn ancestor_roles_of(
    store: &Store,
    ids: &[i64],
) -> Result<Vec<GroupRoleRow>, StoreError> {
    let mut sql = Sql::new("WITH RECURSIVE anc(gid, aid) AS (SELECT child_id, parent_id FROM group_parents WHERE child_id IN ");
    sql.bind_list(ids.iter().copied());
    sql.push(" UNION SELECT a.gid, gp.parent_id FROM anc a JOIN group_parents gp ON gp.child_id = a.aid) \
        SELECT DISTINCT a.gid AS group_id, r.uuid, r.name FROM anc a JOIN group_roles gr ON gr.group_id = a.aid \
        JOIN roles r ON r.id = gr.role_id WHERE a.aid <> a.gid ORDER BY r.name, r.uuid");
    store.fetch_all(&sql).await
}

/// Ids of every group below `id` (children, their children, …), `id` itself excluded unless a
/// cycle leads back to it.
pub async fn descendants<R: Reader>(db: &mut R, id: i64) -> Result<Vec<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        id: i64,
    }
    let sql = Sql::raw(
        "WITH RECURSIVE d(id) AS (SELECT child_id FROM group_parents WHERE parent_id = $1 \
         UNION SELECT gp.child_id FROM group_parents gp JOIN d ON gp.parent_id = d.id) SELECT id FROM d",
        vec![id.into()],
    );
    Ok(db
        .fetch_all::<IdRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Users among `ids` that exist.
pub async fn existing_user_ids<R: Reader>(db: &mut R, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        id: i64,
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT id FROM users WHERE id IN ");
    sql.bind_list(ids.iter().copied());
    Ok(db
        .fetch_all::<IdRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Usernames among `names` that exist.
pub async fn existing_usernames<R: Reader>(
    db: &mut R,
    names: &[String],
) -> Result<Vec<String>, StoreError> {
    existing_texts(
        db,
        "SELECT username AS value FROM users WHERE username IN ",
        names,
    )
    .await
}

/// Whether another group (not `except`) has this name.
pub async fn name_taken<R: Reader>(
    db: &mut R,
    name: &str,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM groups WHERE name = ");
    sql.bind(name);
    if let Some(id) = except {
        sql.push(" AND id <> ").bind(id);
    }
    Ok(db.fetch_scalar_i64(&sql).await? > 0)
}

/// Inserts a group with attributes, returning its id.
pub async fn insert(
    tx: &mut Tx,
    uuid: &str,
    name: &str,
    is_superuser: bool,
    attributes: &str,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new("INSERT INTO groups (uuid, name, is_superuser, attributes) VALUES (");
    sql.bind(uuid)
        .push(", ")
        .bind(name)
        .push(", ")
        .bind(is_superuser)
        .push(", ")
        .bind(attributes)
        .push(") RETURNING id");
    tx.fetch_scalar_i64(&sql).await
}

/// Changes a group's own columns; `None` leaves one alone.
pub async fn update(
    tx: &mut Tx,
    id: i64,
    name: Option<&str>,
    is_superuser: Option<bool>,
    attributes: Option<&str>,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new("UPDATE groups SET id = id");
    if let Some(v) = name {
        sql.push(", name = ").bind(v);
    }
    if let Some(v) = is_superuser {
        sql.push(", is_superuser = ").bind(v);
    }
    if let Some(v) = attributes {
        sql.push(", attributes = ").bind(v);
    }
    sql.push(" WHERE id = ").bind(id);
    tx.execute(&sql).await
}

/// Deletes a group (edges, memberships and role links cascade).
pub async fn delete(tx: &mut Tx, id: i64) -> Result<u64, StoreError> {
    let mut sql = Sql::new("DELETE FROM groups WHERE id = ");
    sql.bind(id);
    tx.execute(&sql).await
}

async fn replace_links(
    tx: &mut Tx,
    table: &str,
    owner_col: &str,
    other_col: &str,
    owner: i64,
    others: &[i64],
) -> Result<(), StoreError> {
    let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE {owner_col} = "));
    sql.bind(owner);
    tx.execute(&sql).await?;
    for other in others {
        let mut sql = Sql::new(&format!(
            "INSERT INTO {table} ({owner_col}, {other_col}) VALUES ("
        ));
        sql.bind(owner)
            .push(", ")
            .bind(*other)
            .push(") ON CONFLICT DO NOTHING");
        tx.execute(&sql).await?;
    }
    Ok(())
}

/// Makes `parent_ids` exactly the group's parents.
pub async fn replace_parents(tx: &mut Tx, id: i64, parent_ids: &[i64]) -> Result<(), StoreError> {
    replace_links(tx, "group_parents", "child_id", "parent_id", id, parent_ids).await
}

/// Makes `user_ids` exactly the group's direct members.
pub async fn replace_members(tx: &mut Tx, id: i64, user_ids: &[i64]) -> Result<(), StoreError> {
    replace_links(tx, "group_members", "group_id", "user_id", id, user_ids).await
}

/// Makes `role_ids` exactly the group's roles.
pub async fn replace_roles(tx: &mut Tx, id: i64, role_ids: &[i64]) -> Result<(), StoreError> {
    replace_links(tx, "group_roles", "group_id", "role_id", id, role_ids).await
}

/// Removes a user from a group (no-op when not a member).
pub async fn remove_member(tx: &mut Tx, group_id: i64, user_id: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new("DELETE FROM group_members WHERE group_id = ");
    sql.bind(group_id).push(" AND user_id = ").bind(user_id);
    tx.execute(&sql).await?;
    Ok(())
}

/// Serialises changes to the group hierarchy across PostgreSQL transactions, so two concurrent
/// parent changes cannot together form a cycle (SQLite's single writer already serialises).
pub async fn lock_hierarchy(tx: &mut Tx) -> Result<(), StoreError> {
    if tx.dialect() == super::Dialect::Postgres {
        tx.execute(&Sql::new("SELECT pg_advisory_xact_lock(7300418)"))
            .await?;
    }
    Ok(())
}

/// The group direct superuser status is granted through: the oldest superuser group.
pub async fn primary_superuser_group<R: Reader>(db: &mut R) -> Result<Option<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        id: i64,
    }
    let sql = Sql::new("SELECT id FROM groups WHERE is_superuser = TRUE ORDER BY id LIMIT 1");
    Ok(db.fetch_optional::<IdRow>(&sql).await?.map(|r| r.id))
}

/// Removes a user from every superuser group it is directly in.
pub async fn leave_superuser_groups(tx: &mut Tx, user_id: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new("DELETE FROM group_members WHERE user_id = ");
    sql.bind(user_id)
        .push(" AND group_id IN (SELECT id FROM groups WHERE is_superuser = TRUE)");
    tx.execute(&sql).await?;
    Ok(())
}

/// The uuids of a group's direct parents, in uuid order.
pub async fn parent_uuids<R: Reader>(db: &mut R, id: i64) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct UuidRow {
        uuid: String,
    }
    let mut sql = Sql::new("SELECT g.uuid FROM group_parents gp JOIN groups g ON g.id = gp.parent_id WHERE gp.child_id = ");
    sql.bind(id).push(" ORDER BY g.uuid");
    Ok(db
        .fetch_all::<UuidRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.uuid)
        .collect())
}

/// A user id, as member lists page them.
#[derive(Debug, Clone, Copy, sqlx::FromRow, serde::Deserialize)]
struct UserIdRow {
    user_id: i64,
}

/// Most groups whose members SQLite merges arm by arm (`UNION` of index ranges); a larger
/// subtree is read with one `IN` (SQLite allows 500 arms in a compound select).
const MERGED_GROUPS: usize = 64;

/// The user ids of the members of any of `groups`, each once, in user-id order (then `LIMIT`):
/// one group reads its `(group_id, user_id)` index range. For several, SQLite merges ordered
/// `UNION` arms as it streams (a page or a capped count reads only what it returns), while
/// PostgreSQL hashes a `UNION` whole but streams `DISTINCT … IN` down the `(user_id, group_id)`
/// primary key: each gets the shape it streams.
fn members_of_groups(groups: &[i64], dialect: super::Dialect, sql: &mut Sql) {
    match groups {
        [one] => {
            sql.push("SELECT user_id FROM group_members WHERE group_id = ")
                .bind(*one);
        }
        few if dialect == super::Dialect::Sqlite && few.len() <= MERGED_GROUPS => {
            for (i, id) in few.iter().enumerate() {
                if i > 0 {
                    sql.push(" UNION ");
                }
                sql.push("SELECT user_id FROM group_members WHERE group_id = ")
                    .bind(*id);
            }
        }
        many => {
            sql.push("SELECT DISTINCT user_id FROM group_members WHERE group_id IN ")
                .bind_list(many.iter().copied());
        }
    }
    sql.push(" ORDER BY user_id");
}

/// One page of the users who are members of any of `groups`, by user id, through the
/// `(group_id, user_id)` index: a page costs its offset, not the group's size.
pub async fn member_ids_page(
    store: &Store,
    groups: &[i64],
    limit: i64,
    offset: i64,
) -> Result<Vec<i64>, StoreError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("");
    members_of_groups(groups, store.dialect(), &mut sql);
    sql.push(" LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    Ok(store
        .fetch_all::<UserIdRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.user_id)
        .collect())
}

/// How many users are members of any of `groups`, counting no further than `cap`.
pub async fn member_total(store: &Store, groups: &[i64], cap: i64) -> Result<i64, StoreError> {
    if groups.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new("SELECT CAST(COUNT(*) AS BIGINT) FROM (");
    members_of_groups(groups, store.dialect(), &mut sql);
    sql.push(" LIMIT ").bind(cap).push(") capped");
    store.fetch_scalar_i64(&sql).await
}

/// A group's number of direct members.
#[derive(Debug, Clone, Copy, sqlx::FromRow, serde::Deserialize)]
pub struct MemberCountRow {
    /// The group.
    pub group_id: i64,
    /// Its direct members.
    pub n: i64,
}

/// The number of direct members of each of the given groups, each counted no further than
/// `cap` (one bounded index range per group, not every membership of the page's groups).
pub async fn member_counts(
    store: &Store,
    ids: &[i64],
    cap: i64,
) -> Result<Vec<MemberCountRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT g.id AS group_id, (SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS one FROM group_members m WHERE m.group_id = g.id LIMIT ");
    sql.bind(cap)
        .push(") capped) AS n FROM groups g WHERE g.id IN ")
        .bind_list(ids.iter().copied());
    store.fetch_all(&sql).await
}
