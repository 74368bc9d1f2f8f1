//! Groups: a multi-parent hierarchy (a DAG — cycles and self-parenting are refused, deviation 5),
//! members, roles, and the operations both dialects call.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::audit::{self, AuditContext, Diff, ModelRef};
use super::error::{FieldErrors, ObjectKind};
use super::filter::Direction;
use super::sessions;
use super::users::{num_pk, parse_attributes, resolve_uuids, RoleSummary};
use super::{DomainError, Timestamp};
use crate::store::{groups as store_groups, Store};

/// A related group (parent or child) as `parents_obj` / `children_obj` show it.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedGroup {
    /// UUID.
    pub uuid: String,
    /// Name.
    pub name: String,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Attributes.
    pub attributes: Value,
}

/// A member as `users_obj` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
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
    /// Last login.
    pub last_login: Option<Timestamp>,
    /// E-mail.
    pub email: String,
    /// Attributes.
    pub attributes: Value,
}

/// A group with its relations.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Internal integer id.
    pub id: i64,
    /// UUID (the API's pk).
    pub uuid: String,
    /// Unique name.
    pub name: String,
    /// Grants superuser status.
    pub is_superuser: bool,
    /// Attributes object.
    pub attributes: Value,
    /// Direct parents.
    pub parents: Vec<RelatedGroup>,
    /// Direct children.
    pub children: Vec<RelatedGroup>,
    /// Direct members.
    pub members: Vec<Member>,
    /// Direct roles.
    pub roles: Vec<RoleSummary>,
    /// Roles from ancestors that are not direct roles.
    pub inherited_roles: Vec<RoleSummary>,
}

impl Group {
    /// authentik's `num_pk`.
    pub fn num_pk(&self) -> i64 {
        num_pk(&self.uuid)
    }
}

// What a group query can name lives below the domain, where the store can see it.
pub use crate::query::groups::{GroupField, GroupFilter, GroupRel, GroupSort};

/// Requested changes to a group; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupChanges {
    /// Name.
    pub name: Option<String>,
    /// Superuser flag.
    pub is_superuser: Option<bool>,
    /// Parents by uuid (replaces the set).
    pub parents: Option<Vec<String>>,
    /// Members by user id (replaces the set).
    pub users: Option<Vec<i64>>,
    /// Attributes (replaces them).
    pub attributes: Option<Map<String, Value>>,
    /// Roles by uuid (replaces the set).
    pub roles: Option<Vec<String>>,
}

/// Field order of authentik's group serializer, for error bodies.
pub const FIELD_ORDER: [&str; 6] = [
    "name",
    "is_superuser",
    "parents",
    "users",
    "attributes",
    "roles",
];

/// Message for a taken group name.
pub const NAME_TAKEN: &str = "Group with this name already exists.";

struct References {
    parent_ids: Vec<i64>,
    user_ids: Vec<i64>,
    role_ids: Vec<i64>,
}

/// Checks names, referenced objects and the hierarchy inside the writing transaction.
async fn check_references(
    tx: &mut crate::store::Tx,
    changes: &GroupChanges,
    this: Option<i64>,
    errors: &mut FieldErrors,
) -> Result<References, DomainError> {
    if let (Some(name), false) = (&changes.name, errors.has("name")) {
        if store_groups::name_taken(tx, name, this).await? {
            errors.add_code("name", "unique", NAME_TAKEN);
        }
    }
    let mut parent_ids = Vec::new();
    if let (Some(uuids), false) = (&changes.parents, errors.has("parents")) {
        let found = store_groups::groups_by_uuid(tx, uuids).await?;
        parent_ids = resolve_uuids(&found, uuids, "parents", errors);
        if let (Some(this), false) = (this, errors.has("parents")) {
            if parent_ids.contains(&this) {
                errors.add("parents", "A group cannot be its own parent.");
            } else {
                let below = store_groups::descendants(tx, this).await?;
                if let Some(pos) = parent_ids.iter().position(|p| below.contains(p)) {
                    errors.add("parents", format!("Group \"{}\" is a descendant of this group; making it a parent would create a cycle.", uuids[pos]));
                }
            }
        }
    }
    let mut user_ids = Vec::new();
    if let (Some(ids), false) = (&changes.users, errors.has("users")) {
        let found = store_groups::existing_user_ids(tx, ids).await?;
        if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
            errors.add_code(
                "users",
                "does_not_exist",
                format!("Invalid pk \"{missing}\" - object does not exist."),
            );
        } else {
            user_ids = ids.clone();
        }
    }
    let mut role_ids = Vec::new();
    if let (Some(uuids), false) = (&changes.roles, errors.has("roles")) {
        let found = store_groups::roles_by_uuid(tx, uuids).await?;
        role_ids = resolve_uuids(&found, uuids, "roles", errors);
    }
    Ok(References {
        parent_ids,
        user_ids,
        role_ids,
    })
}

fn attributes_text(attributes: &Map<String, Value>) -> String {
    Value::Object(attributes.clone()).to_string()
}

/// Creates a group.
pub async fn create(
    store: &Store,
    changes: GroupChanges,
    errors: FieldErrors,
    audit: &AuditContext,
) -> Result<Group, DomainError> {
    let mut tx = store.begin().await?;
    let uuid = create_in(&mut tx, changes, errors, audit).await?;
    tx.commit().await?;
    get(store, &uuid).await
}

/// `create` inside the caller's transaction; the new group's uuid.
pub(crate) async fn create_in(
    tx: &mut crate::store::Tx,
    changes: GroupChanges,
    mut errors: FieldErrors,
    audit: &AuditContext,
) -> Result<String, DomainError> {
    store_groups::lock_hierarchy(tx).await?;
    let refs = check_references(tx, &changes, None, &mut errors).await?;
    errors.sort_by_order(&FIELD_ORDER);
    errors.into_result()?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let attributes = changes
        .attributes
        .as_ref()
        .map(attributes_text)
        .unwrap_or_else(|| "{}".into());
    let id = store_groups::insert(
        tx,
        &uuid,
        changes.name.as_deref().unwrap_or_default(),
        changes.is_superuser.unwrap_or(false),
        &attributes,
    )
    .await?;
    store_groups::replace_parents(tx, id, &refs.parent_ids).await?;
    store_groups::replace_members(tx, id, &refs.user_ids).await?;
    store_groups::replace_roles(tx, id, &refs.role_ids).await?;
    let name = changes.name.clone().unwrap_or_default();
    let diff = Diff::created(&[
        ("name", json!(name)),
        ("is_superuser", json!(changes.is_superuser.unwrap_or(false))),
        (
            "attributes",
            json!(changes.attributes.clone().unwrap_or_default()),
        ),
    ]);
    audit::record(
        tx,
        audit,
        "model_created",
        "model",
        Some(&ModelRef::group(&uuid, &name)),
        Some(diff),
        Map::new(),
    )
    .await?;
    Ok(uuid)
}

/// Applies changes to the group with this uuid.
pub async fn update(
    store: &Store,
    uuid: &str,
    changes: GroupChanges,
    errors: FieldErrors,
    audit: &AuditContext,
) -> Result<Group, DomainError> {
    apply(store, uuid, changes, errors, audit).await?;
    get(store, uuid).await
}

/// `update` without reading the group back (its members may be many; a page that pages them
/// needs none).
pub async fn apply(
    store: &Store,
    uuid: &str,
    changes: GroupChanges,
    errors: FieldErrors,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    update_in(&mut tx, uuid, changes, errors, audit).await?;
    tx.commit().await?;
    Ok(())
}

/// `update` inside the caller's transaction; the group's internal id.
pub(crate) async fn update_in(
    tx: &mut crate::store::Tx,
    uuid: &str,
    changes: GroupChanges,
    mut errors: FieldErrors,
    audit: &AuditContext,
) -> Result<i64, DomainError> {
    store_groups::lock_hierarchy(tx).await?;
    let current = store_groups::by_uuid(tx, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Group))?;
    let refs = check_references(tx, &changes, Some(current.id), &mut errors).await?;
    errors.sort_by_order(&FIELD_ORDER);
    errors.into_result()?;
    // Superuser status flows through the flag, the hierarchy and the members.
    let superusers_before =
        if changes.is_superuser.is_some() || changes.parents.is_some() || changes.users.is_some() {
            sessions::superusers_with_sessions(tx).await?
        } else {
            Vec::new()
        };
    let attributes = changes.attributes.as_ref().map(attributes_text);
    store_groups::update(
        tx,
        current.id,
        changes.name.as_deref(),
        changes.is_superuser,
        attributes.as_deref(),
    )
    .await?;
    // What the parents were, for the audit diff (a relation: added and removed uuids).
    let parents_before = match &changes.parents {
        Some(_) => Some(store_groups::parent_uuids(tx, current.id).await?),
        None => None,
    };
    if changes.parents.is_some() {
        store_groups::replace_parents(tx, current.id, &refs.parent_ids).await?;
    }
    if changes.users.is_some() {
        store_groups::replace_members(tx, current.id, &refs.user_ids).await?;
    }
    if changes.roles.is_some() {
        store_groups::replace_roles(tx, current.id, &refs.role_ids).await?;
    }
    sessions::end_for_demoted(tx, &superusers_before, audit).await?;
    let mut diff = Diff::default();
    if let Some(name) = &changes.name {
        diff.field("name", json!(current.name), json!(name));
    }
    if let Some(flag) = changes.is_superuser {
        diff.field("is_superuser", json!(current.is_superuser), json!(flag));
    }
    if let Some(attributes) = &changes.attributes {
        diff.field(
            "attributes",
            parse_attributes(&current.attributes),
            Value::Object(attributes.clone()),
        );
    }
    if let (Some(before), Some(after)) = (&parents_before, &changes.parents) {
        let added = after
            .iter()
            .filter(|u| !before.contains(u))
            .map(|u| json!(u));
        let removed = before
            .iter()
            .filter(|u| !after.contains(u))
            .map(|u| json!(u));
        diff.relation("parents", added.collect(), removed.collect());
    }
    let model = ModelRef::group(uuid, changes.name.as_deref().unwrap_or(&current.name));
    audit::record(
        tx,
        audit,
        "model_updated",
        "model",
        Some(&model),
        Some(diff),
        Map::new(),
    )
    .await?;
    Ok(current.id)
}

/// Deletes the group with this uuid.
pub async fn delete(store: &Store, uuid: &str, audit: &AuditContext) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    delete_in(&mut tx, uuid, audit).await?;
    tx.commit().await?;
    Ok(())
}

/// `delete` inside the caller's transaction.
pub(crate) async fn delete_in(
    tx: &mut crate::store::Tx,
    uuid: &str,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let current = store_groups::by_uuid(tx, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Group))?;
    audit::record(
        tx,
        audit,
        "model_deleted",
        "model",
        Some(&ModelRef::group(uuid, &current.name)),
        None,
        Map::new(),
    )
    .await?;
    let superusers_before = sessions::superusers_with_sessions(tx).await?;
    store_groups::delete(tx, current.id).await?;
    sessions::end_for_demoted(tx, &superusers_before, audit).await?;
    let ids = super::roles::model_permission_ids("authentik_core.group");
    crate::store::roles::forget_object(tx, &ids, &current.uuid).await?;
    Ok(())
}

/// Adds (or removes) one user to (from) the group; a no-op when already so.
pub async fn set_membership(
    store: &Store,
    uuid: &str,
    user_id: i64,
    member: bool,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    let group = store_groups::by_uuid(&mut tx, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Group))?;
    if store_groups::existing_user_ids(&mut tx, &[user_id])
        .await?
        .is_empty()
    {
        return Err(DomainError::NotFound(ObjectKind::User));
    }
    if member {
        store_groups::add_member(&mut tx, group.id, user_id).await?;
    } else {
        let superusers_before = sessions::superusers_with_sessions(&mut tx).await?;
        store_groups::remove_member(&mut tx, group.id, user_id).await?;
        sessions::end_for_demoted(&mut tx, &superusers_before, audit).await?;
    }
    let mut diff = Diff::default();
    let (added, removed) = if member {
        (vec![json!(user_id)], vec![])
    } else {
        (vec![], vec![json!(user_id)])
    };
    diff.relation("users", added, removed);
    audit::record(
        &mut tx,
        audit,
        "model_updated",
        "model",
        Some(&ModelRef::group(uuid, &group.name)),
        Some(diff),
        Map::new(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The group with this uuid.
pub async fn get(store: &Store, uuid: &str) -> Result<Group, DomainError> {
    let mut db = store;
    let row = store_groups::by_uuid(&mut db, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Group))?;
    hydrate(store, vec![row], Members::Load)
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::Group))
}

/// The group with this uuid, its parents, children and roles but not its members (`members`
/// is empty): for pages that page the members themselves (`member_page`).
pub async fn get_outline(store: &Store, uuid: &str) -> Result<Group, DomainError> {
    let mut db = store;
    let row = store_groups::by_uuid(&mut db, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Group))?;
    hydrate(store, vec![row], Members::Skip)
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::Group))
}

/// Which members a member list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberScope {
    /// The group's direct members.
    Direct,
    /// The direct members of the group and of every group below it, each once.
    Effective,
}

/// One page of a group's members: user ids in id order, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPage {
    /// The page's user ids.
    pub ids: Vec<i64>,
    /// Members in all, counted no further than the cap asked for.
    pub total: i64,
    /// Whether the count stopped at the cap (there may be more).
    pub capped: bool,
}

/// One page of a group's direct or effective members, read from the membership index (a page
/// costs its offset, never the whole group); the total is counted up to `cap`.
pub async fn member_page(
    store: &Store,
    group: &Group,
    scope: MemberScope,
    limit: i64,
    offset: i64,
    cap: i64,
) -> Result<MemberPage, DomainError> {
    let mut ids = vec![group.id];
    if scope == MemberScope::Effective {
        let mut db = store;
        let below = store_groups::descendants(&mut db, group.id).await?;
        ids.extend(below.into_iter().filter(|id| *id != group.id));
    }
    let total = store_groups::member_total(store, &ids, cap).await?;
    let page = store_groups::member_ids_page(store, &ids, limit, offset).await?;
    Ok(MemberPage {
        ids: page,
        total,
        capped: total >= cap,
    })
}

/// One page of groups without their members, and each one's number of direct members counted
/// up to `cap`.
pub async fn list_outlines(
    store: &Store,
    filter: &GroupFilter,
    sort: &[(GroupSort, Direction)],
    limit: i64,
    offset: i64,
    cap: i64,
) -> Result<Vec<(Group, i64)>, DomainError> {
    let rows = store_groups::page(store, filter, sort, limit, offset).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let counts: HashMap<i64, i64> = store_groups::member_counts(store, &ids, cap)
        .await?
        .into_iter()
        .map(|c| (c.group_id, c.n))
        .collect();
    Ok(hydrate(store, rows, Members::Skip)
        .await?
        .into_iter()
        .map(|g| {
            let n = counts.get(&g.id).copied().unwrap_or(0);
            (g, n)
        })
        .collect())
}

/// The uuids of a group and of every group below it (children, their children, …): the
/// groups whose direct members are the group's effective members.
pub async fn subtree_uuids(store: &Store, uuid: &str) -> Result<Vec<String>, DomainError> {
    let mut db = store;
    let row = store_groups::by_uuid(&mut db, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Group))?;
    let mut ids = store_groups::descendants(&mut db, row.id).await?;
    ids.retain(|id| *id != row.id);
    let mut uuids = vec![row.uuid];
    if !ids.is_empty() {
        let filter = GroupFilter::Rel(GroupRel::Ids(ids));
        let below = store_groups::page(store, &filter, &[], i64::MAX, 0).await?;
        uuids.extend(below.into_iter().map(|g| g.uuid));
    }
    Ok(uuids)
}

/// The uuid of the group with this name (exact).
pub async fn uuid_by_name(store: &Store, name: &str) -> Result<String, DomainError> {
    let mut db = store;
    store_groups::group_by_name(&mut db, name)
        .await?
        .map(|g| g.uuid)
        .ok_or(DomainError::NotFound(ObjectKind::Group))
}

/// How many groups match.
pub async fn count(store: &Store, filter: &GroupFilter) -> Result<i64, DomainError> {
    Ok(store_groups::count(store, filter).await?)
}

/// One page of matching groups with their relations (a fixed number of queries per page).
pub async fn list(
    store: &Store,
    filter: &GroupFilter,
    sort: &[(GroupSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<Group>, DomainError> {
    let rows = store_groups::page(store, filter, sort, limit, offset).await?;
    hydrate(store, rows, Members::Load).await
}

/// Whether `hydrate` reads the groups' members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Members {
    Load,
    Skip,
}

fn related(row: store_groups::RelatedGroupRow) -> (i64, RelatedGroup) {
    (
        row.owner_id,
        RelatedGroup {
            uuid: row.uuid,
            name: row.name,
            is_superuser: row.is_superuser,
            attributes: parse_attributes(&row.attributes),
        },
    )
}

fn group_by<T>(pairs: impl IntoIterator<Item = (i64, T)>) -> HashMap<i64, Vec<T>> {
    let mut map: HashMap<i64, Vec<T>> = HashMap::new();
    for (k, v) in pairs {
        map.entry(k).or_default().push(v);
    }
    map
}

async fn hydrate(
    store: &Store,
    rows: Vec<store_groups::GroupRow>,
    members: Members,
) -> Result<Vec<Group>, DomainError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut parents = group_by(
        store_groups::parents_of(store, &ids)
            .await?
            .into_iter()
            .map(related),
    );
    let mut children = group_by(
        store_groups::children_of(store, &ids)
            .await?
            .into_iter()
            .map(related),
    );
    let member_rows = match members {
        Members::Load => store_groups::members_of(store, &ids).await?,
        Members::Skip => Vec::new(),
    };
    let mut members = group_by(member_rows.into_iter().map(|m| {
        (
            m.group_id,
            Member {
                id: m.id,
                uuid: m.uuid,
                username: m.username,
                name: m.name,
                is_active: m.is_active,
                last_login: m.last_login.map(Timestamp),
                email: m.email,
                attributes: parse_attributes(&m.attributes),
            },
        )
    }));
    let mut roles = group_by(
        store_groups::roles_of(store, &ids)
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.group_id,
                    RoleSummary {
                        uuid: r.uuid,
                        name: r.name,
                    },
                )
            }),
    );
    let mut inherited = group_by(
        store_groups::ancestor_roles_of(store, &ids)
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.group_id,
                    RoleSummary {
                        uuid: r.uuid,
                        name: r.name,
                    },
                )
            }),
    );
    Ok(rows
        .into_iter()
        .map(|row| {
            let direct = roles.remove(&row.id).unwrap_or_default();
            let mut inherited_roles = inherited.remove(&row.id).unwrap_or_default();
            inherited_roles.retain(|r| !direct.iter().any(|d| d.uuid == r.uuid));
            inherited_roles.dedup_by(|a, b| a.uuid == b.uuid);
            Group {
                parents: parents.remove(&row.id).unwrap_or_default(),
                children: children.remove(&row.id).unwrap_or_default(),
                members: members.remove(&row.id).unwrap_or_default(),
                roles: direct,
                inherited_roles,
                attributes: parse_attributes(&row.attributes),
                id: row.id,
                uuid: row.uuid,
                name: row.name,
                is_superuser: row.is_superuser,
            }
        })
        .collect())
}
