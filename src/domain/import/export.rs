//! Reading the whole directory out (what `gatehouse export` writes), so that importing it
//! elsewhere reproduces it: ids, uuids, hashes, links, grants and — only when asked for, and then
//! recorded in the audit log — token keys.
//!
//! The directory is read from one consistent snapshot (`Store::consistent_snapshot`) in batches
//! of [`EXPORT_BATCH`] rows and handed to a sink as it is read, so memory stays bounded by a
//! batch plus the groups and roles (whose uuids the links name), however many users there are.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{ImportGroup, ImportRole, ImportToken, ImportUser};
use crate::auth::keys::Sealer;
use crate::domain::audit::{self, AuditContext};
use crate::domain::{permissions, DomainError};
use crate::store::import::{self as store_import, Edge, Link};
use crate::store::{install, Store};

/// Rows read per statement.
pub const EXPORT_BATCH: i64 = 10_000;

/// One piece of the directory, in the order an export hands them out: the install id first,
/// then users, groups (with their parents), memberships, roles (with their grants), group
/// roles, user roles, tokens.
#[derive(Debug)]
pub enum Exported<'a> {
    /// The directory's install id, if it has one (always first).
    Header(Option<&'a str>),
    /// A user.
    User(&'a ImportUser),
    /// A group.
    Group(&'a ImportGroup),
    /// (user pk, group uuid).
    Membership(i64, &'a str),
    /// A role.
    Role(&'a ImportRole),
    /// (group uuid, role uuid).
    GroupRole(&'a str, &'a str),
    /// (user pk, role uuid).
    UserRole(i64, &'a str),
    /// A token (its key empty unless keys were asked for).
    Token(&'a ImportToken),
}

/// How many of each kind an export handed out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportCounts {
    /// Users.
    pub users: u64,
    /// Groups.
    pub groups: u64,
    /// Memberships.
    pub memberships: u64,
    /// Roles.
    pub roles: u64,
    /// Group roles.
    pub group_roles: u64,
    /// User roles.
    pub user_roles: u64,
    /// Tokens.
    pub tokens: u64,
}

/// Why an export stopped: reading the directory, or the sink.
#[derive(Debug, thiserror::Error)]
pub enum ExportFailure<E: std::error::Error + 'static> {
    /// Reading the directory failed.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The sink refused a piece (e.g. the file could not be written).
    #[error(transparent)]
    Sink(E),
}

impl<E: std::error::Error + 'static> From<crate::store::StoreError> for ExportFailure<E> {
    fn from(err: crate::store::StoreError) -> Self {
        ExportFailure::Domain(err.into())
    }
}

/// Hands the whole directory to `sink`, piece by piece, from one consistent snapshot; token
/// keys are left empty unless `include_keys` (then the export is recorded in the audit log).
pub async fn export<E: std::error::Error + 'static>(
    store: &Store,
    sealer: &Sealer,
    include_keys: bool,
    sink: &mut dyn FnMut(Exported<'_>) -> Result<(), E>,
) -> Result<ExportCounts, ExportFailure<E>> {
    let mut counts = ExportCounts::default();
    let mut db = store.consistent_snapshot().await?;
    let install_id = install::install_id(&mut db).await?;
    sink(Exported::Header(install_id.as_deref())).map_err(ExportFailure::Sink)?;

    let mut after = 0;
    loop {
        let batch = store_import::users_after(&mut db, after, EXPORT_BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for u in batch {
            let user = ImportUser {
                pk: u.id,
                attributes: serde_json::from_str(&u.attributes).unwrap_or_else(|_| json!({})),
                uuid: u.uuid,
                username: u.username,
                name: u.name,
                first_name: u.first_name,
                last_name: u.last_name,
                email: u.email,
                password_hash: u.password_hash,
                is_active: u.is_active,
                user_type: u.user_type,
                path: u.path,
                last_login: u.last_login,
                date_joined: u.date_joined,
                password_change_date: u.password_change_date,
                last_updated: u.last_updated,
            };
            sink(Exported::User(&user)).map_err(ExportFailure::Sink)?;
            counts.users += 1;
        }
    }

    let groups = store_import::all_groups(&mut db).await?;
    let roles = store_import::all_roles(&mut db).await?;
    let parents = store_import::all_links(&mut db, Link::GroupParents).await?;
    let grants = store_import::all_links(&mut db, Link::RolePermissions).await?;
    let group_uuid: HashMap<i64, &str> = groups.iter().map(|g| (g.id, g.uuid.as_str())).collect();
    let role_uuid: HashMap<i64, &str> = roles.iter().map(|r| (r.id, r.uuid.as_str())).collect();
    let mut parents_of: HashMap<i64, Vec<String>> = HashMap::new();
    for e in &parents {
        if let Some(uuid) = group_uuid.get(&e.b) {
            parents_of.entry(e.a).or_default().push(uuid.to_string());
        }
    }
    for g in &groups {
        let group = ImportGroup {
            uuid: g.uuid.clone(),
            name: g.name.clone(),
            is_superuser: g.is_superuser,
            attributes: serde_json::from_str(&g.attributes).unwrap_or_else(|_| json!({})),
            parents: parents_of.remove(&g.id).unwrap_or_default(),
        };
        sink(Exported::Group(&group)).map_err(ExportFailure::Sink)?;
        counts.groups += 1;
    }
    each_link(&mut db, Link::GroupMembers, |e| {
        if let Some(group) = group_uuid.get(&e.b) {
            sink(Exported::Membership(e.a, group)).map_err(ExportFailure::Sink)?;
            counts.memberships += 1;
        }
        Ok(())
    })
    .await?;
    let mut grants_of: HashMap<i64, Vec<String>> = HashMap::new();
    for e in &grants {
        if let Some(p) = permissions::by_id(e.b) {
            grants_of.entry(e.a).or_default().push(p.dotted());
        }
    }
    for r in &roles {
        let role = ImportRole {
            uuid: r.uuid.clone(),
            name: r.name.clone(),
            managed: r.managed.clone(),
            permissions: grants_of.remove(&r.id).unwrap_or_default(),
        };
        sink(Exported::Role(&role)).map_err(ExportFailure::Sink)?;
        counts.roles += 1;
    }
    each_link(&mut db, Link::GroupRoles, |e| {
        if let (Some(group), Some(role)) = (group_uuid.get(&e.a), role_uuid.get(&e.b)) {
            sink(Exported::GroupRole(group, role)).map_err(ExportFailure::Sink)?;
            counts.group_roles += 1;
        }
        Ok(())
    })
    .await?;
    each_link(&mut db, Link::UserRoles, |e| {
        if let Some(role) = role_uuid.get(&e.b) {
            sink(Exported::UserRole(e.a, role)).map_err(ExportFailure::Sink)?;
            counts.user_roles += 1;
        }
        Ok(())
    })
    .await?;

    let mut after = 0;
    loop {
        let batch = store_import::tokens_after(&mut db, after, EXPORT_BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for t in batch {
            let key = if include_keys {
                sealer
                    .open(&t.key_sealed)
                    .map_err(|e| DomainError::Internal(format!("token {}: {e}", t.identifier)))?
            } else {
                String::new()
            };
            let token = ImportToken {
                id: Some(t.id),
                uuid: t.uuid,
                identifier: t.identifier,
                key,
                intent: t.intent,
                user_pk: t.user_id,
                description: t.description,
                expires: t.expires,
                expiring: t.expiring,
                managed: t.managed,
                created: Some(t.created),
            };
            sink(Exported::Token(&token)).map_err(ExportFailure::Sink)?;
            counts.tokens += 1;
        }
    }
    drop(db);

    if include_keys && counts.tokens > 0 {
        let mut context = Map::new();
        context.insert("name".into(), Value::from("gatehouse export"));
        context.insert("token_keys".into(), Value::from(counts.tokens));
        let ctx = AuditContext {
            path: "gatehouse export".into(),
            method: "CLI".into(),
            system_actor: Some(audit::COMMAND_LINE_ACTOR.into()),
            ..AuditContext::default()
        };
        audit::record_alone(store, &ctx, "secret_view", "model", None, context).await?;
    }
    Ok(counts)
}

/// Calls `each` with every link of one table, read in batches.
async fn each_link<R: crate::store::Reader, E: std::error::Error + 'static>(
    db: &mut R,
    link: Link,
    mut each: impl FnMut(&Edge) -> Result<(), ExportFailure<E>>,
) -> Result<(), ExportFailure<E>> {
    let mut after = None;
    loop {
        let batch = store_import::links_after(db, link, after, EXPORT_BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = Some((last.a, last.b));
        for e in &batch {
            each(e)?;
        }
    }
    Ok(())
}
