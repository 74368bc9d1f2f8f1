//! Roles and permission grants (authentik's RBAC): role lifecycle, membership, assigning and
//! removing permissions globally or on one object, and a user's effective grants.

use std::sync::Arc;

use serde_json::{json, Map};

use super::audit::{self, AuditContext, Diff, ModelRef};
use super::authz::Grants;
use super::error::{FieldErrors, ObjectKind};
use super::filter::Direction;
use super::permissions::{self, Permission};
use super::DomainError;
use crate::store::roles::{self as store_roles, RoleRow};
use crate::store::{groups as store_groups, tokens as store_tokens, Store};

/// A role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Internal id.
    pub id: i64,
    /// UUID (the API's pk).
    pub uuid: String,
    /// Unique name.
    pub name: String,
    /// Managed marker.
    pub managed: Option<String>,
}

impl From<RoleRow> for Role {
    fn from(r: RoleRow) -> Self {
        Role {
            id: r.id,
            uuid: r.uuid,
            name: r.name,
            managed: r.managed,
        }
    }
}

// What a role query can name lives below the domain, where the store can see it.
pub use crate::query::roles::{RoleField, RoleFilter, RoleRel, RoleSort};

/// Managed marker of the built-in role behind AWX's `is_system_auditor`.
pub const AUDITOR_MANAGED: &str = "gatehouse:system-auditor";

/// Name given to that role when it is first needed.
pub const AUDITOR_NAME: &str = "System Auditor";

/// What the system auditor role grants globally: read access to everything.
pub const AUDITOR_PERMISSIONS: [&str; 5] = [
    "authentik_core.view_user",
    "authentik_core.view_group",
    "authentik_core.view_token",
    "authentik_rbac.view_role",
    "authentik_events.view_event",
];

/// The system auditor role's id, creating it (with its grants) on first use.
pub async fn ensure_auditor_role(tx: &mut crate::store::Tx) -> Result<i64, DomainError> {
    if let Some(id) = store_roles::id_by_managed(tx, AUDITOR_MANAGED).await? {
        return Ok(id);
    }
    let mut name = AUDITOR_NAME.to_string();
    if store_roles::name_taken(tx, &name, None).await? {
        name = format!("{AUDITOR_NAME} ({AUDITOR_MANAGED})");
    }
    let id = store_roles::insert(
        tx,
        &uuid::Uuid::new_v4().to_string(),
        &name,
        Some(AUDITOR_MANAGED),
    )
    .await?;
    for perm in AUDITOR_PERMISSIONS {
        store_roles::grant_model(tx, id, permissions::id_of(perm)).await?;
    }
    Ok(id)
}

/// Message for a taken role name.
pub const NAME_TAKEN: &str = "Role with this name already exists.";

/// The role with this uuid.
pub async fn get(store: &Store, uuid: &str) -> Result<Role, DomainError> {
    let mut db = store;
    Ok(store_roles::by_uuid(&mut db, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Role))?
        .into())
}

/// How many roles match.
pub async fn count(store: &Store, filter: &RoleFilter) -> Result<i64, DomainError> {
    Ok(store_roles::count(store, filter).await?)
}

/// One page of roles.
pub async fn list(
    store: &Store,
    filter: &RoleFilter,
    sort: &[(RoleSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<Role>, DomainError> {
    Ok(store_roles::page(store, filter, sort, limit, offset)
        .await?
        .into_iter()
        .map(Role::from)
        .collect())
}

/// Creates a role.
pub async fn create(store: &Store, name: &str, audit: &AuditContext) -> Result<Role, DomainError> {
    let mut tx = store.begin().await?;
    if store_roles::name_taken(&mut tx, name, None).await? {
        return Err(DomainError::Invalid(FieldErrors::single(
            "name", NAME_TAKEN,
        )));
    }
    let uuid = uuid::Uuid::new_v4().to_string();
    store_roles::insert(&mut tx, &uuid, name, None).await?;
    let diff = Diff::created(&[("name", json!(name))]);
    audit::record(
        &mut tx,
        audit,
        "model_created",
        "model",
        Some(&ModelRef::role(&uuid, name)),
        Some(diff),
        Map::new(),
    )
    .await?;
    tx.commit().await?;
    get(store, &uuid).await
}

/// Renames a role (`None` leaves it as it is).
pub async fn update(
    store: &Store,
    uuid: &str,
    name: Option<&str>,
    audit: &AuditContext,
) -> Result<Role, DomainError> {
    let mut tx = store.begin().await?;
    let role = store_roles::by_uuid(&mut tx, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Role))?;
    if let Some(name) = name {
        if store_roles::name_taken(&mut tx, name, Some(role.id)).await? {
            return Err(DomainError::Invalid(FieldErrors::single(
                "name", NAME_TAKEN,
            )));
        }
        store_roles::rename(&mut tx, role.id, name).await?;
    }
    let mut diff = Diff::default();
    if let Some(name) = name {
        diff.field("name", json!(role.name), json!(name));
    }
    let model = ModelRef::role(uuid, name.unwrap_or(&role.name));
    audit::record(
        &mut tx,
        audit,
        "model_updated",
        "model",
        Some(&model),
        Some(diff),
        Map::new(),
    )
    .await?;
    tx.commit().await?;
    get(store, uuid).await
}

/// Deletes a role, its links and grants, and the grants that point at it.
pub async fn delete(store: &Store, uuid: &str, audit: &AuditContext) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    let role = store_roles::by_uuid(&mut tx, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Role))?;
    audit::record(
        &mut tx,
        audit,
        "model_deleted",
        "model",
        Some(&ModelRef::role(uuid, &role.name)),
        None,
        Map::new(),
    )
    .await?;
    store_roles::delete(&mut tx, role.id).await?;
    store_roles::forget_object(&mut tx, &model_permission_ids("authentik_rbac.role"), uuid).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives (or takes) a role to (from) a user directly; idempotent.
pub async fn set_user(
    store: &Store,
    uuid: &str,
    user_id: i64,
    hold: bool,
) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    let role = store_roles::by_uuid(&mut tx, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Role))?;
    if store_groups::existing_user_ids(&mut tx, &[user_id])
        .await?
        .is_empty()
    {
        return Err(DomainError::NotFound(ObjectKind::User));
    }
    if hold {
        store_roles::add_user(&mut tx, role.id, user_id).await?;
    } else {
        store_roles::remove_user(&mut tx, role.id, user_id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Users and groups holding the role directly: (`user`|`group`, pk, name).
pub async fn holders(
    store: &Store,
    role: &Role,
) -> Result<Vec<(String, String, String)>, DomainError> {
    Ok(store_roles::holders(store, role.id)
        .await?
        .into_iter()
        .map(|h| (h.kind, h.pk, h.name))
        .collect())
}

/// One page of the users holding the role directly (user ids in id order), and how many do,
/// counted up to `cap`.
pub async fn user_holders_page(
    store: &Store,
    role: &Role,
    limit: i64,
    offset: i64,
    cap: i64,
) -> Result<super::groups::MemberPage, DomainError> {
    let total = store_roles::holder_user_count(store, role.id, cap).await?;
    let ids = store_roles::holder_user_ids(store, role.id, limit, offset).await?;
    Ok(super::groups::MemberPage {
        ids,
        total,
        capped: total >= cap,
    })
}

/// The groups holding the role directly, by name: (uuid, name), at most `limit` of them.
pub async fn group_holders(
    store: &Store,
    role: &Role,
    limit: i64,
) -> Result<Vec<(String, String)>, DomainError> {
    Ok(store_roles::holder_groups(store, role.id, limit)
        .await?
        .into_iter()
        .map(|h| (h.pk, h.name))
        .collect())
}

/// Ids of every permission on a model (`app_label.model`).
pub fn model_permission_ids(model_key: &str) -> Vec<i64> {
    permissions::CATALOGUE
        .iter()
        .filter(|p| p.model_key() == model_key)
        .map(|p| p.id)
        .collect()
}

/// What an assign/unassign request names, validated.
#[derive(Debug, Clone)]
pub struct GrantTarget {
    /// The permissions, in request order.
    pub permissions: Vec<&'static Permission>,
    /// The object, for per-object grants (normalised pk).
    pub object_pk: Option<String>,
}

/// Resolves `permissions` (+ optional `model`/`object_pk`) as authentik's assign does, but
/// refuses unknown permissions and missing or malformed objects with a 400 (deviation 10).
pub async fn resolve_target(
    store: &Store,
    names: &[String],
    model: Option<&str>,
    object_pk: Option<&str>,
) -> Result<GrantTarget, DomainError> {
    let invalid = |field: &str, msg: String| DomainError::Invalid(FieldErrors::single(field, msg));
    match (model, object_pk) {
        (None, None) => {
            let mut out = Vec::new();
            for name in names {
                if !name.contains('.') {
                    return Err(invalid("permissions", "When assigning global permissions, codename must be given as app_label.codename".into()));
                }
                out.push(permissions::by_dotted(name).ok_or_else(|| {
                    invalid("permissions", format!("Unknown permission: {name}"))
                })?);
            }
            Ok(GrantTarget {
                permissions: out,
                object_pk: None,
            })
        }
        (Some(model), Some(pk)) => {
            // authentik's serializer looks the object up before anything reads the permissions.
            let normalised = normalise_object(store, model, pk).await?;
            let mut out = Vec::new();
            for name in names {
                let found = match name.split_once('.') {
                    Some(_) => permissions::by_dotted(name).filter(|p| p.model_key() == model),
                    None => permissions::by_model_codename(model, name),
                };
                out.push(found.ok_or_else(|| {
                    invalid(
                        "permissions",
                        format!("Unknown permission for {model}: {name}"),
                    )
                })?);
            }
            Ok(GrantTarget {
                permissions: out,
                object_pk: Some(normalised),
            })
        }
        _ => Err(invalid(
            "non_field_errors",
            "The fields model, object_pk must be used together.".into(),
        )),
    }
}

/// Checks that the object exists and returns its pk as grants store it. A pk its model's key
/// cannot hold is Django's message under `non_field_errors`, as authentik's serializer raises it
/// (for integer keys authentik crashes instead); a missing object is deviation 10's `object_pk`.
async fn normalise_object(store: &Store, model: &str, pk: &str) -> Result<String, DomainError> {
    let malformed =
        |msg: String| DomainError::Invalid(FieldErrors::single("non_field_errors", msg));
    let missing = || {
        DomainError::Invalid(FieldErrors::single(
            "object_pk",
            format!("No {model} with pk {pk} exists."),
        ))
    };
    let mut db = store;
    match model {
        "authentik_core.user" => {
            let id: i64 = pk
                .trim()
                .parse()
                .map_err(|_| malformed(format!("“{pk}” value must be an integer.")))?;
            if store_groups::existing_user_ids(&mut db, &[id])
                .await?
                .is_empty()
            {
                return Err(missing());
            }
            Ok(id.to_string())
        }
        "authentik_core.group"
        | "authentik_rbac.role"
        | "authentik_core.token"
        | "authentik_events.event" => {
            let uuid = uuid::Uuid::parse_str(pk.trim())
                .map_err(|_| malformed(format!("“{pk}” is not a valid UUID.")))?
                .to_string();
            let exists = match model {
                "authentik_core.group" => {
                    !store_groups::groups_by_uuid(&mut db, std::slice::from_ref(&uuid))
                        .await?
                        .is_empty()
                }
                "authentik_rbac.role" => store_roles::by_uuid(&mut db, &uuid).await?.is_some(),
                "authentik_core.token" => store_tokens::uuid_exists(&mut db, &uuid).await?,
                // Events carry no per-object grants here.
                _ => false,
            };
            if exists {
                Ok(uuid)
            } else {
                Err(missing())
            }
        }
        _ => Err(missing()),
    }
}

/// Assigns the permissions to the role; returns the grant row ids in request order.
pub async fn assign(
    store: &Store,
    role: &Role,
    target: &GrantTarget,
    audit: &AuditContext,
) -> Result<Vec<i64>, DomainError> {
    let mut tx = store.begin().await?;
    let mut ids = Vec::with_capacity(target.permissions.len());
    for perm in &target.permissions {
        let id = match &target.object_pk {
            None => {
                let existed = store_roles::model_grant_id(&mut tx, role.id, perm.id).await?;
                let id = store_roles::grant_model(&mut tx, role.id, perm.id).await?;
                // Global grants are audited as authentik does; object grants are not.
                if existed.is_none() {
                    audit::record(
                        &mut tx,
                        audit,
                        "model_created",
                        "model",
                        Some(&ModelRef::grant(id, &role.uuid, perm.id)),
                        None,
                        Map::new(),
                    )
                    .await?;
                }
                id
            }
            Some(pk) => store_roles::grant_object(&mut tx, role.id, perm.id, pk).await?,
        };
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

/// Removes the permissions from the role (absent grants are ignored).
pub async fn unassign(
    store: &Store,
    role: &Role,
    target: &GrantTarget,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    for perm in &target.permissions {
        match &target.object_pk {
            None => {
                if let Some(id) = store_roles::model_grant_id(&mut tx, role.id, perm.id).await? {
                    audit::record(
                        &mut tx,
                        audit,
                        "model_deleted",
                        "model",
                        Some(&ModelRef::grant(id, &role.uuid, perm.id)),
                        None,
                        Map::new(),
                    )
                    .await?;
                }
                store_roles::revoke_model(&mut tx, role.id, perm.id).await?
            }
            Some(pk) => store_roles::revoke_object(&mut tx, role.id, perm.id, pk).await?,
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A role's global grants: (grant row id, permission).
pub async fn model_grants(
    store: &Store,
    role_ids: &[i64],
) -> Result<Vec<(i64, i64, &'static Permission)>, DomainError> {
    Ok(store_roles::model_grants(store, role_ids)
        .await?
        .into_iter()
        .filter_map(|g| permissions::by_id(g.permission_id).map(|p| (g.id, g.role_id, p)))
        .collect())
}

/// Object grants (of the given roles, or all): (grant row id, role id, permission, object pk).
pub async fn object_grants(
    store: &Store,
    role_ids: Option<&[i64]>,
) -> Result<Vec<(i64, i64, &'static Permission, String)>, DomainError> {
    Ok(store_roles::object_grants(store, role_ids)
        .await?
        .into_iter()
        .filter_map(|g| {
            permissions::by_id(g.permission_id).map(|p| (g.id, g.role_id, p, g.object_pk))
        })
        .collect())
}

/// Roles granting any permission of `model` globally, or on `object_pk`.
pub async fn roles_granting(
    store: &Store,
    model_key: &str,
    object_pk: Option<&str>,
) -> Result<Vec<i64>, DomainError> {
    Ok(store_roles::roles_granting(store, &model_permission_ids(model_key), object_pk).await?)
}

/// The grants a user holds through every effective role.
pub async fn effective_grants(store: &Store, user_id: i64) -> Result<Arc<Grants>, DomainError> {
    let mut grants = Grants::default();
    for row in store_roles::effective_grants(store, user_id).await? {
        match row.object_pk {
            None => {
                grants.global.insert(row.permission_id);
            }
            Some(pk) => {
                grants
                    .object
                    .entry(row.permission_id)
                    .or_default()
                    .insert(pk);
            }
        }
    }
    Ok(Arc::new(grants))
}
