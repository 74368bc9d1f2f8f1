//! The directory side of SCIM provisioning (`src/scim` is the door): a SCIM write is the same
//! user or group operation every door uses (`users::create_in`, `groups::update_in`, … with
//! their audit events), plus, in the same transaction, the object's shadow document (what SCIM
//! sent that the columns do not hold) and the externalId the calling client gave it. The rules
//! that are SCIM's own live here: membership of superuser or role-bearing groups is not SCIM's
//! to change unless configured. (`userName` is unique under ASCII case folding in every door: the
//! users' own rules check it, and a unique index on the folded username settles races.)

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::audit::AuditContext;
use super::error::{FieldErrors, ObjectKind};
use super::groups::{self, GroupChanges};
use super::users::{self, User, UserChanges, UserType};
use super::{DomainError, Timestamp};
use crate::store::scim as store_scim;
pub use crate::store::scim::ScimKind;
use crate::store::{Store, Touched, Tx};

/// What SCIM keeps of an object beyond the directory's columns, as the calling client sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScimExtras {
    /// The shadow document (never holds mapped attributes, `id`, `meta` or passwords).
    pub doc: Map<String, Value>,
    /// The client's externalId of the object.
    pub external_id: Option<String>,
    /// Creation time (groups; users use `date_joined`).
    pub created: Option<Timestamp>,
    /// Last change through SCIM (users), or through any door (groups).
    pub last_modified: Option<Timestamp>,
}

/// A user as SCIM writes it: mapped columns, the shadow document (replacing the stored one)
/// and the client's externalId (`None` clears it).
#[derive(Debug, Clone, Default)]
pub struct UserWrite {
    /// Changes to the mapped columns.
    pub changes: UserChanges,
    /// The new shadow document.
    pub doc: Map<String, Value>,
    /// The client's externalId.
    pub external_id: Option<String>,
}

/// A group as SCIM writes it.
#[derive(Debug, Clone, Default)]
pub struct GroupWrite {
    /// The group's name (`displayName`).
    pub name: String,
    /// Direct member users by uuid, replacing the set (`None` keeps it). Unknown uuids and
    /// internal service accounts are skipped.
    pub members: Option<Vec<String>>,
    /// The new shadow document.
    pub doc: Map<String, Value>,
    /// The client's externalId.
    pub external_id: Option<String>,
}

/// One of a user's groups as SCIM's read-only `groups` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserGroup {
    /// Group uuid.
    pub uuid: String,
    /// Group name.
    pub name: String,
    /// Direct membership (else through a parent).
    pub direct: bool,
}

fn uniqueness(field: &str) -> DomainError {
    let mut errors = FieldErrors::new();
    errors.add_code(field, "unique", format!("{field} is already taken"));
    DomainError::Invalid(errors)
}

fn doc_text(doc: &Map<String, Value>) -> String {
    Value::Object(doc.clone()).to_string()
}

fn parse_doc(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// SCIM's extras of these objects for `client`.
pub async fn extras(
    store: &Store,
    kind: ScimKind,
    client: i64,
    ids: &[i64],
) -> Result<HashMap<i64, ScimExtras>, DomainError> {
    let mut db = store;
    let mut out: HashMap<i64, ScimExtras> = HashMap::new();
    for row in store_scim::docs(&mut db, kind, ids).await? {
        let entry = out.entry(row.object_id).or_default();
        entry.doc = parse_doc(&row.doc);
        entry.created = Some(Timestamp(row.created));
        entry.last_modified = Some(Timestamp(row.last_modified));
    }
    for row in store_scim::external_ids(&mut db, kind, client, ids).await? {
        out.entry(row.object_id).or_default().external_id = Some(row.external_id);
    }
    Ok(out)
}

/// The groups of these users, direct and inherited through parents, by user id.
pub async fn user_groups(
    store: &Store,
    user_ids: &[i64],
) -> Result<HashMap<i64, Vec<UserGroup>>, DomainError> {
    let mut db = store;
    let mut out: HashMap<i64, Vec<UserGroup>> = HashMap::new();
    for row in store_scim::user_groups(&mut db, user_ids).await? {
        out.entry(row.user_id).or_default().push(UserGroup {
            uuid: row.uuid,
            name: row.name,
            direct: row.depth == 0,
        });
    }
    Ok(out)
}

/// Creates a user for SCIM client `client`.
pub async fn create_user(
    store: &Store,
    client: i64,
    write: UserWrite,
    audit: &AuditContext,
) -> Result<User, DomainError> {
    let mut tx = store.begin().await?;
    let mut changes = write.changes;
    changes.user_type = Some(UserType::Internal);
    let user = users::create_in(&mut tx, changes, FieldErrors::new(), None, audit).await?;
    keep_shadow(
        &mut tx,
        ScimKind::User,
        client,
        user.id,
        &write.doc,
        write.external_id.as_deref(),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Stores what SCIM keeps beside the directory's columns for object `id`: the shadow document
/// and the client's `externalId` (a taken one is 409 `uniqueness`).
async fn keep_shadow(
    tx: &mut Tx,
    kind: ScimKind,
    client: i64,
    id: i64,
    doc: &Map<String, Value>,
    external_id: Option<&str>,
) -> Result<(), DomainError> {
    store_scim::put_doc(tx, kind, id, &doc_text(doc), Timestamp::now().0).await?;
    store_scim::set_external_id(tx, kind, client, id, external_id)
        .await
        .map_err(|e| external_id_conflict(e.into()))
}

fn external_id_conflict(e: DomainError) -> DomainError {
    match e {
        DomainError::Conflict(_) => uniqueness("externalId"),
        other => other,
    }
}

/// Replaces user `id`'s SCIM representation (PUT, and PATCH after applying its operations).
pub async fn replace_user(
    store: &Store,
    client: i64,
    id: i64,
    write: UserWrite,
    audit: &AuditContext,
) -> Result<User, DomainError> {
    let mut tx = store.begin().await?;
    let user =
        users::update_in(&mut tx, id, write.changes, FieldErrors::new(), None, audit).await?;
    keep_shadow(
        &mut tx,
        ScimKind::User,
        client,
        id,
        &write.doc,
        write.external_id.as_deref(),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Deletes user `id` (its SCIM rows go with it).
pub async fn delete_user(store: &Store, id: i64, audit: &AuditContext) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    users::delete_in(&mut tx, id, audit).await?;
    tx.commit().await?;
    Ok(())
}

/// The member ids of `uuids` a group may hold through SCIM: known users that are not internal
/// service accounts.
async fn member_ids(tx: &mut crate::store::Tx, uuids: &[String]) -> Result<Vec<i64>, DomainError> {
    let mut ids: Vec<i64> = store_scim::users_by_uuid(tx, uuids)
        .await?
        .into_iter()
        .filter(|r| r.user_type != UserType::InternalServiceAccount.as_str())
        .map(|r| r.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Creates a group for SCIM client `client`; its uuid.
pub async fn create_group(
    store: &Store,
    client: i64,
    write: GroupWrite,
    audit: &AuditContext,
) -> Result<String, DomainError> {
    let mut tx = store.begin().await?;
    let users = match &write.members {
        Some(uuids) => Some(member_ids(&mut tx, uuids).await?),
        None => None,
    };
    let changes = GroupChanges {
        name: Some(write.name),
        users,
        ..GroupChanges::default()
    };
    let uuid = groups::create_in(&mut tx, changes, FieldErrors::new(), audit).await?;
    let group = crate::store::groups::by_uuid(&mut tx, &uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Group))?;
    keep_shadow(
        &mut tx,
        ScimKind::Group,
        client,
        group.id,
        &write.doc,
        write.external_id.as_deref(),
    )
    .await?;
    tx.touches(Touched::ALL);
    tx.commit().await?;
    Ok(uuid)
}

/// Replaces group `uuid`'s SCIM representation. A change of members of a group that grants
/// superuser status or carries roles (itself or through a parent) is refused unless
/// `privileged` (the `scim_privileged_groups` setting).
pub async fn replace_group(
    store: &Store,
    client: i64,
    uuid: &str,
    write: GroupWrite,
    privileged: bool,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    let current = crate::store::groups::by_uuid(&mut tx, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Group))?;
    let users = match &write.members {
        Some(uuids) => {
            let wanted = member_ids(&mut tx, uuids).await?;
            let mut now: Vec<i64> = store_scim::member_ids(&mut tx, current.id).await?;
            now.sort_unstable();
            if now == wanted {
                None
            } else {
                if !privileged && store_scim::group_is_privileged(&mut tx, current.id).await? {
                    return Err(DomainError::Forbidden);
                }
                Some(wanted)
            }
        }
        None => None,
    };
    let changes = GroupChanges {
        name: (write.name != current.name).then_some(write.name),
        users,
        ..GroupChanges::default()
    };
    groups::update_in(&mut tx, uuid, changes, FieldErrors::new(), audit).await?;
    keep_shadow(
        &mut tx,
        ScimKind::Group,
        client,
        current.id,
        &write.doc,
        write.external_id.as_deref(),
    )
    .await?;
    tx.touches(Touched::ALL);
    tx.commit().await?;
    Ok(())
}

/// Deletes group `uuid` (its SCIM rows go with it).
pub async fn delete_group(
    store: &Store,
    uuid: &str,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    groups::delete_in(&mut tx, uuid, audit).await?;
    tx.commit().await?;
    Ok(())
}
