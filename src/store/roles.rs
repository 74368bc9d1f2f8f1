//! Roles, their members and their grants, and the effective grants of a user (direct roles ∪
//! roles of every group and ancestor group).

use super::filter::{self, Schema};
use super::{Reader, Sql, Store, StoreError, Tx};
use crate::query::filter::Direction;
use crate::query::roles::{RoleField, RoleFilter, RoleRel, RoleSort};

/// One row of `roles`.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct RoleRow {
    /// Internal id.
    pub id: i64,
    /// UUID (the API's pk).
    pub uuid: String,
    /// Unique name.
    pub name: String,
    /// Managed marker (`ak-managed-role--…`) or NULL.
    pub managed: Option<String>,
}

const ROLE_COLUMNS: &str = "r.id, r.uuid, r.name, r.managed";

/// Every group a user is in, directly or through ancestors (binds `$1` = user id).
const USER_GROUPS: &str = "WITH RECURSIVE anc(id) AS (\
    SELECT group_id FROM group_members WHERE user_id = $1 \
    UNION SELECT gp.parent_id FROM group_parents gp JOIN anc a ON gp.child_id = a.id) ";

struct RoleSchema;

impl Schema for RoleSchema {
    type Field = RoleField;
    type Rel = RoleRel;

    fn column(field: &RoleField) -> &'static str {
        match field {
            RoleField::Id => "r.id",
            RoleField::Uuid => "r.uuid",
            RoleField::Name => "r.name",
            RoleField::Managed => "r.managed",
        }
    }

    type Context = ();

    fn relation(rel: &RoleRel, _dialect: super::Dialect, _context: &(), out: &mut Sql) {
        match rel {
            RoleRel::HeldByUser { user_id, inherited } => {
                out.push("(r.id IN (SELECT role_id FROM user_roles WHERE user_id = ")
                    .bind(*user_id)
                    .push(")");
                if *inherited {
                    out.push(
                        " OR r.id IN (SELECT gr.role_id FROM group_roles gr WHERE gr.group_id IN (",
                    );
                    out.push("WITH RECURSIVE anc(id) AS (SELECT group_id FROM group_members WHERE user_id = ").bind(*user_id);
                    out.push(" UNION SELECT gp.parent_id FROM group_parents gp JOIN anc a ON gp.child_id = a.id) SELECT id FROM anc))");
                }
                out.push(")");
            }
            RoleRel::HeldByGroup {
                group_uuid,
                inherited,
            } => {
                out.push("r.id IN (SELECT gr.role_id FROM group_roles gr WHERE gr.group_id IN (");
                if *inherited {
                    out.push("WITH RECURSIVE anc(id) AS (SELECT id FROM groups WHERE uuid = ")
                        .bind(group_uuid.clone());
                    out.push(" UNION SELECT gp.parent_id FROM group_parents gp JOIN anc a ON gp.child_id = a.id) SELECT id FROM anc))");
                } else {
                    out.push("SELECT id FROM groups WHERE uuid = ")
                        .bind(group_uuid.clone())
                        .push("))");
                }
            }
            RoleRel::Uuids(uuids) => {
                out.push("r.uuid IN ").bind_list(uuids.iter());
            }
        }
    }
}

/// Number of roles matching `filter`.
pub async fn count(store: &Store, filter: &RoleFilter) -> Result<i64, StoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM roles r WHERE ");
    filter::compile::<RoleSchema>(filter, store.dialect(), &(), &mut sql);
    store.fetch_scalar_i64(&sql).await
}

/// One page of roles.
pub async fn page(
    store: &Store,
    filter: &RoleFilter,
    sort: &[(RoleSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<RoleRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(ROLE_COLUMNS).push(" FROM roles r WHERE ");
    filter::compile::<RoleSchema>(filter, store.dialect(), &(), &mut sql);
    let keys: Vec<(String, Direction)> = sort
        .iter()
        .map(|(RoleSort::Field(f), d)| (RoleSchema::column(f).to_string(), *d))
        .collect();
    filter::order_by(&mut sql, &keys, "r.id ASC");
    sql.push(" LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    store.fetch_all(&sql).await
}

/// The role with this uuid.
pub async fn by_uuid<R: Reader>(db: &mut R, uuid: &str) -> Result<Option<RoleRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(ROLE_COLUMNS)
        .push(" FROM roles r WHERE r.uuid = ")
        .bind(uuid);
    db.fetch_optional(&sql).await
}

/// Whether another role (not `except`) has this name.
pub async fn name_taken<R: Reader>(
    db: &mut R,
    name: &str,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM roles WHERE name = ");
    sql.bind(name);
    if let Some(id) = except {
        sql.push(" AND id <> ").bind(id);
    }
    Ok(db.fetch_scalar_i64(&sql).await? > 0)
}

/// Creates a role, returning its id.
pub async fn insert(
    tx: &mut Tx,
    uuid: &str,
    name: &str,
    managed: Option<&str>,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new("INSERT INTO roles (uuid, name, managed) VALUES (");
    sql.bind(uuid)
        .push(", ")
        .bind(name)
        .push(", ")
        .bind(managed.map(String::from))
        .push(") RETURNING id");
    tx.fetch_scalar_i64(&sql).await
}

/// Renames a role.
pub async fn rename(tx: &mut Tx, id: i64, name: &str) -> Result<u64, StoreError> {
    let mut sql = Sql::new("UPDATE roles SET name = ");
    sql.bind(name).push(" WHERE id = ").bind(id);
    tx.execute(&sql).await
}

/// Deletes a role (links and grants cascade).
pub async fn delete(tx: &mut Tx, id: i64) -> Result<u64, StoreError> {
    let mut sql = Sql::new("DELETE FROM roles WHERE id = ");
    sql.bind(id);
    tx.execute(&sql).await
}

/// Gives a user a role directly (no-op when held).
pub async fn add_user(tx: &mut Tx, role_id: i64, user_id: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new("INSERT INTO user_roles (user_id, role_id) VALUES (");
    sql.bind(user_id)
        .push(", ")
        .bind(role_id)
        .push(") ON CONFLICT DO NOTHING");
    tx.execute(&sql).await?;
    Ok(())
}

/// Takes a directly held role from a user (no-op when not held).
pub async fn remove_user(tx: &mut Tx, role_id: i64, user_id: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new("DELETE FROM user_roles WHERE user_id = ");
    sql.bind(user_id).push(" AND role_id = ").bind(role_id);
    tx.execute(&sql).await?;
    Ok(())
}

/// Who holds a role directly: users (id, username) and groups (uuid, name).
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct HolderRow {
    /// `user` or `group`.
    pub kind: String,
    /// User id or group uuid, as text.
    pub pk: String,
    /// Username or group name.
    pub name: String,
}

/// Users and groups holding the role directly.
pub async fn holders(store: &Store, role_id: i64) -> Result<Vec<HolderRow>, StoreError> {
    let sql = Sql::raw(
        "SELECT 'user' AS kind, CAST(u.id AS TEXT) AS pk, u.username AS name FROM user_roles ur JOIN users u ON u.id = ur.user_id WHERE ur.role_id = $1 \
         UNION ALL SELECT 'group' AS kind, g.uuid AS pk, g.name AS name FROM group_roles gr JOIN groups g ON g.id = gr.group_id WHERE gr.role_id = $1 \
         ORDER BY kind DESC, name",
        vec![role_id.into()],
    );
    store.fetch_all(&sql).await
}

/// A user id, as holder lists page them.
#[derive(Debug, Clone, Copy, sqlx::FromRow, serde::Deserialize)]
struct UserIdRow {
    user_id: i64,
}

/// One page of the users holding the role directly, by user id, through the
/// `(role_id, user_id)` index.
pub async fn holder_user_ids(
    store: &Store,
    role_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut sql = Sql::new("SELECT user_id FROM user_roles WHERE role_id = ");
    sql.bind(role_id)
        .push(" ORDER BY user_id LIMIT ")
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

/// How many users hold the role directly, counting no further than `cap`.
pub async fn holder_user_count(store: &Store, role_id: i64, cap: i64) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT user_id FROM user_roles WHERE role_id = ",
    );
    sql.bind(role_id)
        .push(" ORDER BY user_id LIMIT ")
        .bind(cap)
        .push(") capped");
    store.fetch_scalar_i64(&sql).await
}

/// The groups holding the role directly (uuid, name), by name, at most `limit` of them.
pub async fn holder_groups(
    store: &Store,
    role_id: i64,
    limit: i64,
) -> Result<Vec<HolderRow>, StoreError> {
    let mut sql = Sql::new("SELECT 'group' AS kind, g.uuid AS pk, g.name AS name FROM group_roles gr JOIN groups g ON g.id = gr.group_id WHERE gr.role_id = ");
    sql.bind(role_id)
        .push(" ORDER BY g.name LIMIT ")
        .bind(limit);
    store.fetch_all(&sql).await
}

/// A global grant of a role.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct ModelGrantRow {
    /// Grant row id.
    pub id: i64,
    /// The role.
    pub role_id: i64,
    /// Permission id.
    pub permission_id: i64,
}

/// A per-object grant of a role.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct ObjectGrantRow {
    /// Grant row id.
    pub id: i64,
    /// The role.
    pub role_id: i64,
    /// Permission id.
    pub permission_id: i64,
    /// Object pk (user id, or group/role/token uuid).
    pub object_pk: String,
}

/// Global grants of the given roles.
pub async fn model_grants(
    store: &Store,
    role_ids: &[i64],
) -> Result<Vec<ModelGrantRow>, StoreError> {
    let mut sql =
        Sql::new("SELECT id, role_id, permission_id FROM role_model_permissions WHERE role_id IN ");
    sql.bind_list(role_ids.iter().copied()).push(" ORDER BY id");
    store.fetch_all(&sql).await
}

/// Object grants of the given roles (all roles when `role_ids` is `None`).
pub async fn object_grants(
    store: &Store,
    role_ids: Option<&[i64]>,
) -> Result<Vec<ObjectGrantRow>, StoreError> {
    let mut sql =
        Sql::new("SELECT id, role_id, permission_id, object_pk FROM role_object_permissions");
    if let Some(ids) = role_ids {
        sql.push(" WHERE role_id IN ")
            .bind_list(ids.iter().copied());
    }
    sql.push(" ORDER BY id");
    store.fetch_all(&sql).await
}

/// Roles with a global grant among `permission_ids`, or an object grant among them on
/// `object_pk`.
pub async fn roles_granting(
    store: &Store,
    permission_ids: &[i64],
    object_pk: Option<&str>,
) -> Result<Vec<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        role_id: i64,
    }
    let mut sql = Sql::new("SELECT role_id FROM role_model_permissions WHERE permission_id IN ");
    sql.bind_list(permission_ids.iter().copied());
    if let Some(pk) = object_pk {
        sql.push(" UNION SELECT role_id FROM role_object_permissions WHERE object_pk = ")
            .bind(pk);
        sql.push(" AND permission_id IN ")
            .bind_list(permission_ids.iter().copied());
    }
    Ok(store
        .fetch_all::<IdRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.role_id)
        .collect())
}

/// Grants a permission globally (idempotent); returns the grant row id.
pub async fn grant_model(tx: &mut Tx, role_id: i64, permission_id: i64) -> Result<i64, StoreError> {
    let mut sql = Sql::new("INSERT INTO role_model_permissions (role_id, permission_id) VALUES (");
    sql.bind(role_id)
        .push(", ")
        .bind(permission_id)
        .push(") ON CONFLICT DO NOTHING");
    tx.execute(&sql).await?;
    let mut sql = Sql::new("SELECT id FROM role_model_permissions WHERE role_id = ");
    sql.bind(role_id)
        .push(" AND permission_id = ")
        .bind(permission_id);
    tx.fetch_scalar_i64(&sql).await
}

/// Grants a permission on one object (idempotent); returns the grant row id.
pub async fn grant_object(
    tx: &mut Tx,
    role_id: i64,
    permission_id: i64,
    object_pk: &str,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        "INSERT INTO role_object_permissions (role_id, permission_id, object_pk) VALUES (",
    );
    sql.bind(role_id)
        .push(", ")
        .bind(permission_id)
        .push(", ")
        .bind(object_pk)
        .push(") ON CONFLICT DO NOTHING");
    tx.execute(&sql).await?;
    let mut sql = Sql::new("SELECT id FROM role_object_permissions WHERE role_id = ");
    sql.bind(role_id)
        .push(" AND permission_id = ")
        .bind(permission_id)
        .push(" AND object_pk = ")
        .bind(object_pk);
    tx.fetch_scalar_i64(&sql).await
}

/// Removes a global grant (no-op when absent).
pub async fn revoke_model(tx: &mut Tx, role_id: i64, permission_id: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new("DELETE FROM role_model_permissions WHERE role_id = ");
    sql.bind(role_id)
        .push(" AND permission_id = ")
        .bind(permission_id);
    tx.execute(&sql).await?;
    Ok(())
}

/// Removes an object grant (no-op when absent).
pub async fn revoke_object(
    tx: &mut Tx,
    role_id: i64,
    permission_id: i64,
    object_pk: &str,
) -> Result<(), StoreError> {
    let mut sql = Sql::new("DELETE FROM role_object_permissions WHERE role_id = ");
    sql.bind(role_id)
        .push(" AND permission_id = ")
        .bind(permission_id)
        .push(" AND object_pk = ")
        .bind(object_pk);
    tx.execute(&sql).await?;
    Ok(())
}

/// Removes every object grant on an object that no longer exists.
pub async fn forget_object(
    tx: &mut Tx,
    permission_ids: &[i64],
    object_pk: &str,
) -> Result<(), StoreError> {
    let mut sql = Sql::new("DELETE FROM role_object_permissions WHERE object_pk = ");
    sql.bind(object_pk)
        .push(" AND permission_id IN ")
        .bind_list(permission_ids.iter().copied());
    tx.execute(&sql).await?;
    Ok(())
}

/// One effective grant of a user: permission id and, for object grants, the object.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct EffectiveGrantRow {
    /// Permission id.
    pub permission_id: i64,
    /// Object pk, or NULL for a global grant.
    pub object_pk: Option<String>,
}

/// Every grant a user holds through direct roles and the roles of its groups and ancestors.
pub async fn effective_grants(
    store: &Store,
    user_id: i64,
) -> Result<Vec<EffectiveGrantRow>, StoreError> {
    let text = format!(
        "{USER_GROUPS}, held(role_id) AS (SELECT role_id FROM user_roles WHERE user_id = $1 \
         UNION SELECT role_id FROM group_roles WHERE group_id IN (SELECT id FROM anc)) \
         SELECT permission_id, CAST(NULL AS TEXT) AS object_pk FROM role_model_permissions WHERE role_id IN (SELECT role_id FROM held) \
         UNION SELECT permission_id, object_pk FROM role_object_permissions WHERE role_id IN (SELECT role_id FROM held)"
    );
    store
        .fetch_all(&Sql::raw(&text, vec![user_id.into()]))
        .await
}

/// The id of the role with this managed marker.
pub async fn id_by_managed<R: Reader>(
    db: &mut R,
    managed: &str,
) -> Result<Option<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        id: i64,
    }
    let mut sql = Sql::new("SELECT id FROM roles WHERE managed = ");
    sql.bind(managed);
    Ok(db.fetch_optional::<IdRow>(&sql).await?.map(|r| r.id))
}

/// The row id of a global grant, if the role holds it.
pub async fn model_grant_id<R: Reader>(
    db: &mut R,
    role_id: i64,
    permission_id: i64,
) -> Result<Option<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        id: i64,
    }
    let mut sql = Sql::new("SELECT id FROM role_model_permissions WHERE role_id = ");
    sql.bind(role_id)
        .push(" AND permission_id = ")
        .bind(permission_id);
    Ok(db.fetch_optional::<IdRow>(&sql).await?.map(|r| r.id))
}
