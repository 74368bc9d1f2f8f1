//! User writes: create, update, delete and password changes, each in one transaction with
//! its audit record, session ends and AWX flags.

use serde_json::{json, Map, Value};

use super::model::{User, UserChanges, UserType};
use super::reads::{hydrate, parse_attributes};
use super::rules::{check_fields, check_references, FIELD_ORDER};
use crate::auth::password;
use crate::domain::audit::{self, AuditContext, Diff, ModelRef};
use crate::domain::error::{FieldErrors, ObjectKind};
use crate::domain::sessions;
use crate::domain::{DomainError, Timestamp};
use crate::store::users::SuperuserGroups;
use crate::store::{groups, users as store_users, Store, Touched, Tx};

fn attributes_text(attributes: &Map<String, Value>) -> String {
    Value::Object(attributes.clone()).to_string()
}

async fn hash_password(
    password: &Option<Option<String>>,
) -> Result<Option<Option<String>>, DomainError> {
    match password {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(plain)) => Ok(Some(Some(password::hash(plain.clone()).await?))),
    }
}

/// Applies AWX's `is_superuser` / `is_system_auditor` inside the writing transaction.
async fn apply_awx_flags(
    tx: &mut crate::store::Tx,
    id: i64,
    changes: &UserChanges,
) -> Result<(), DomainError> {
    match changes.superuser {
        Some(true) => {
            let group = match groups::primary_superuser_group(tx).await? {
                Some(g) => g,
                None => {
                    groups::insert_group(
                        tx,
                        &uuid::Uuid::new_v4().to_string(),
                        crate::domain::bootstrap::ADMIN_GROUP,
                        true,
                    )
                    .await?
                }
            };
            groups::add_member(tx, group, id).await?;
        }
        Some(false) => {
            groups::leave_superuser_groups(tx, id).await?;
            if !store_users::superusers(tx, &[id]).await?.is_empty() {
                return Err(DomainError::Invalid(FieldErrors::single(
                    "is_superuser",
                    "This user is a superuser through a group whose ancestor is a superuser group; remove that membership instead.",
                )));
            }
        }
        None => {}
    }
    if let Some(auditor) = changes.system_auditor {
        let role = crate::domain::roles::ensure_auditor_role(tx).await?;
        if auditor {
            crate::store::roles::add_user(tx, role, id).await?;
        } else {
            crate::store::roles::remove_user(tx, role, id).await?;
        }
    }
    Ok(())
}

/// Creates a user. `errors` holds what type coercion already found; every rule is checked and
/// all failures are reported together.
pub async fn create(
    store: &Store,
    changes: UserChanges,
    errors: FieldErrors,
    audit: &AuditContext,
) -> Result<User, DomainError> {
    let password_hash = hash_password(&changes.password).await?.flatten();
    let mut tx = store.begin().await?;
    let user = create_in(&mut tx, changes, errors, password_hash, audit).await?;
    tx.commit().await?;
    Ok(user)
}

/// `create` inside the caller's transaction (another door adds its own rows to it), with the
/// password already hashed.
pub(crate) async fn create_in(
    tx: &mut Tx,
    changes: UserChanges,
    mut errors: FieldErrors,
    password_hash: Option<String>,
    audit: &AuditContext,
) -> Result<User, DomainError> {
    check_fields(&changes, &mut errors);
    if changes.user_type == Some(UserType::InternalServiceAccount) && !errors.has("type") {
        errors.add(
            "type",
            "Setting a user to internal service account is not allowed.",
        );
    }
    let (group_ids, role_ids) = check_references(tx, &changes, None, &mut errors).await?;
    errors.sort_by_order(&FIELD_ORDER);
    errors.into_result()?;
    let now = Timestamp::now().0;
    let new = store_users::NewUser {
        uuid: uuid::Uuid::new_v4().to_string(),
        username: changes.username.clone().unwrap_or_default(),
        name: changes.name.clone().unwrap_or_default(),
        first_name: changes.first_name.clone().unwrap_or_default(),
        last_name: changes.last_name.clone().unwrap_or_default(),
        email: changes.email.clone().unwrap_or_default(),
        password_hash,
        is_active: changes.is_active.unwrap_or(true),
        user_type: changes
            .user_type
            .unwrap_or(UserType::Internal)
            .as_str()
            .to_string(),
        path: changes.path.clone().unwrap_or_else(|| "users".to_string()),
        attributes: changes
            .attributes
            .as_ref()
            .map(attributes_text)
            .unwrap_or_else(|| "{}".into()),
        last_login: changes.last_login.flatten().map(|t| t.0),
        now,
    };
    let id = store_users::insert(tx, &new).await?;
    if !group_ids.is_empty() {
        store_users::replace_groups(tx, id, &group_ids).await?;
    }
    if !role_ids.is_empty() {
        store_users::replace_roles(tx, id, &role_ids).await?;
    }
    apply_awx_flags(tx, id, &changes).await?;
    let diff = Diff::created(&[
        ("username", json!(new.username)),
        ("name", json!(new.name)),
        ("email", json!(new.email)),
        ("is_active", json!(new.is_active)),
        ("type", json!(new.user_type)),
        ("path", json!(new.path)),
    ]);
    let model = ModelRef::user(id, &new.name);
    audit::record(
        tx,
        audit,
        "model_created",
        "model",
        Some(&model),
        Some(diff),
        Map::new(),
    )
    .await?;
    // A new user holds no token yet, so no cached principal can depend on it.
    tx.touches(Touched::DIRECTORY);
    // The answer is read inside the transaction: the same rows, without another round trip
    // after the commit.
    let row = store_users::by_id(tx, id)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::User))?;
    let user = hydrate(tx, vec![row], SuperuserGroups::Read)
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::User))?;
    Ok(user)
}

/// Applies `changes` to user `id` (a PUT sends every writable field, a PATCH only some).
pub async fn update(
    store: &Store,
    id: i64,
    changes: UserChanges,
    errors: FieldErrors,
    audit: &AuditContext,
) -> Result<User, DomainError> {
    let password_hash = hash_password(&changes.password).await?;
    let mut tx = store.begin().await?;
    let user = update_in(&mut tx, id, changes, errors, password_hash, audit).await?;
    tx.commit().await?;
    Ok(user)
}

/// The names a user has before an `update_checked`, for its check to compare with.
#[derive(Debug, Clone, Copy)]
pub struct CurrentNames<'a> {
    /// Username.
    pub username: &'a str,
    /// AWX first name.
    pub first_name: &'a str,
    /// AWX last name.
    pub last_name: &'a str,
}

/// `update`, with `check` deciding on the user's current row inside the same transaction
/// before anything is written: it may refuse (its error is returned as is) or adjust the
/// changes. A dialect whose rules compare with current values (AWX) reads the row once.
pub async fn update_checked<E: From<DomainError>>(
    store: &Store,
    id: i64,
    mut changes: UserChanges,
    errors: FieldErrors,
    audit: &AuditContext,
    check: impl FnOnce(CurrentNames<'_>, &mut UserChanges) -> Result<(), E>,
) -> Result<User, E> {
    // Hashed before the transaction (never while holding the writer), so a refused request
    // may have hashed for nothing; only callers already allowed to edit the user get here.
    let password_hash = hash_password(&changes.password).await?;
    let mut tx = store.begin().await.map_err(DomainError::from)?;
    let current = current_row(&mut tx, id).await?;
    check(
        CurrentNames {
            username: &current.username,
            first_name: &current.first_name,
            last_name: &current.last_name,
        },
        &mut changes,
    )?;
    let user = apply_update(&mut tx, current, changes, errors, password_hash, audit).await?;
    tx.commit().await.map_err(DomainError::from)?;
    Ok(user)
}

/// The row of user `id`, or `NotFound`.
async fn current_row(tx: &mut Tx, id: i64) -> Result<store_users::UserRow, DomainError> {
    store_users::by_id(tx, id)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::User))
}

/// `update` inside the caller's transaction, with the password already hashed.
pub(crate) async fn update_in(
    tx: &mut Tx,
    id: i64,
    changes: UserChanges,
    errors: FieldErrors,
    password_hash: Option<Option<String>>,
    audit: &AuditContext,
) -> Result<User, DomainError> {
    let current = current_row(tx, id).await?;
    apply_update(tx, current, changes, errors, password_hash, audit).await
}

/// Writes `changes` over `current` (read in this transaction): validation, the row, its
/// audit record, memberships, AWX flags and session ends.
async fn apply_update(
    tx: &mut Tx,
    current: store_users::UserRow,
    changes: UserChanges,
    mut errors: FieldErrors,
    password_hash: Option<Option<String>>,
    audit: &AuditContext,
) -> Result<User, DomainError> {
    let id = current.id;
    check_fields(&changes, &mut errors);
    let current_type = UserType::parse(&current.user_type).unwrap_or(UserType::Internal);
    if current_type == UserType::InternalServiceAccount {
        if let (Some(t), false) = (changes.user_type, errors.has("type")) {
            if t != UserType::InternalServiceAccount {
                errors.add(
                    "type",
                    "Can't change internal service account to other user type.",
                );
            }
        }
    }
    let (group_ids, role_ids) = check_references(tx, &changes, Some(id), &mut errors).await?;
    errors.sort_by_order(&FIELD_ORDER);
    errors.into_result()?;
    if current_type == UserType::InternalServiceAccount {
        return Err(DomainError::Invalid(FieldErrors::single(
            "non_field_errors",
            "Can't modify internal service account users",
        )));
    }
    let now = Timestamp::now().0;
    let update = store_users::UserUpdate {
        username: changes.username.clone(),
        name: changes.name.clone(),
        first_name: changes.first_name.clone(),
        last_name: changes.last_name.clone(),
        email: changes.email.clone(),
        password_change_date: password_hash.as_ref().map(|_| now),
        password_hash,
        is_active: changes.is_active,
        user_type: changes.user_type.map(|t| t.as_str().to_string()),
        path: changes.path.clone(),
        attributes: changes.attributes.as_ref().map(attributes_text),
        last_login: changes.last_login.map(|t| t.map(|t| t.0)),
        search_text: (changes.username.is_some()
            || changes.name.is_some()
            || changes.email.is_some())
        .then(|| {
            store_users::search_text(
                changes.username.as_deref().unwrap_or(&current.username),
                changes.name.as_deref().unwrap_or(&current.name),
                changes.email.as_deref().unwrap_or(&current.email),
                &current.uuid,
            )
        }),
    };
    let superusers_before = if changes.groups.is_some() || changes.superuser == Some(false) {
        sessions::superusers_with_sessions(tx).await?
    } else {
        Vec::new()
    };
    let Some(row) = store_users::update(tx, id, &update, now).await? else {
        return Err(DomainError::NotFound(ObjectKind::User));
    };
    if update.password_hash.is_some() || update.is_active == Some(false) {
        sessions::end_for(tx, id, audit).await?;
    }
    let mut diff = Diff::default();
    let pairs: [(&str, Value, Option<Value>); 9] = [
        (
            "username",
            json!(current.username),
            update.username.as_ref().map(|v| json!(v)),
        ),
        (
            "name",
            json!(current.name),
            update.name.as_ref().map(|v| json!(v)),
        ),
        (
            "first_name",
            json!(current.first_name),
            update.first_name.as_ref().map(|v| json!(v)),
        ),
        (
            "last_name",
            json!(current.last_name),
            update.last_name.as_ref().map(|v| json!(v)),
        ),
        (
            "email",
            json!(current.email),
            update.email.as_ref().map(|v| json!(v)),
        ),
        (
            "is_active",
            json!(current.is_active),
            update.is_active.map(|v| json!(v)),
        ),
        (
            "type",
            json!(current.user_type),
            update.user_type.as_ref().map(|v| json!(v)),
        ),
        (
            "path",
            json!(current.path),
            update.path.as_ref().map(|v| json!(v)),
        ),
        (
            "attributes",
            parse_attributes(&current.attributes),
            changes
                .attributes
                .as_ref()
                .map(|a| Value::Object(a.clone())),
        ),
    ];
    for (name, previous, new) in pairs {
        if let Some(new) = new {
            diff.field(name, previous, new);
        }
    }
    if update.password_change_date.is_some() {
        diff.field(
            "password_change_date",
            json!(Timestamp(current.password_change_date).to_drf()),
            json!(Timestamp(now).to_drf()),
        );
    }
    let model = ModelRef::user(id, update.name.as_deref().unwrap_or(&current.name));
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
    if changes.groups.is_some() {
        store_users::replace_groups(tx, id, &group_ids).await?;
    }
    if changes.roles.is_some() {
        store_users::replace_roles(tx, id, &role_ids).await?;
    }
    apply_awx_flags(tx, id, &changes).await?;
    sessions::end_for_demoted(tx, &superusers_before, audit).await?;
    // Principals derive from names, e-mail, activity, type and memberships; the rest is only
    // shown.
    let changes_principals = changes.username.is_some()
        || changes.email.is_some()
        || changes.is_active.is_some()
        || changes.user_type.is_some()
        || changes.groups.is_some()
        || changes.roles.is_some()
        || changes.superuser.is_some()
        || changes.system_auditor.is_some();
    tx.touches(if changes_principals {
        Touched::ALL
    } else {
        Touched::DIRECTORY
    });
    // The answer is read inside the transaction: the same rows, without another round trip
    // after the commit.
    let user = hydrate(tx, vec![row], SuperuserGroups::Read)
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::User))?;
    Ok(user)
}

/// Deletes user `id` with its memberships and tokens.
pub async fn delete(store: &Store, id: i64, audit: &AuditContext) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    delete_in(&mut tx, id, audit).await?;
    tx.commit().await?;
    Ok(())
}

/// `delete` inside the caller's transaction.
pub(crate) async fn delete_in(
    tx: &mut Tx,
    id: i64,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let current = store_users::by_id(tx, id)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::User))?;
    // Recorded first: the event names the acting user, who may be the one deleted.
    audit::record(
        tx,
        audit,
        "model_deleted",
        "model",
        Some(&ModelRef::user(id, &current.name)),
        None,
        Map::new(),
    )
    .await?;
    if store_users::delete(tx, id).await? == 0 {
        return Err(DomainError::NotFound(ObjectKind::User));
    }
    // Grants on the user go with it (authentik leaves them dangling).
    let ids = crate::domain::roles::model_permission_ids("authentik_core.user");
    crate::store::roles::forget_object(tx, &ids, &id.to_string()).await?;
    Ok(())
}

/// Sets a user's password (argon2id) and bumps `password_change_date`.
pub async fn set_password(
    store: &Store,
    id: i64,
    password: String,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let changes = UserChanges {
        password: Some(Some(password)),
        ..UserChanges::default()
    };
    let hash = hash_password(&changes.password).await?;
    let mut tx = store.begin().await?;
    let now = Timestamp::now().0;
    let update = store_users::UserUpdate {
        password_hash: hash,
        password_change_date: Some(now),
        ..store_users::UserUpdate::default()
    };
    let Some(target) = store_users::by_id(&mut tx, id).await? else {
        return Err(DomainError::NotFound(ObjectKind::User));
    };
    store_users::update(&mut tx, id, &update, now).await?;
    sessions::end_for(&mut tx, id, audit).await?;
    let mut diff = Diff::default();
    diff.field(
        "password_change_date",
        json!(Timestamp(target.password_change_date).to_drf()),
        json!(Timestamp(now).to_drf()),
    );
    let model = ModelRef::user(id, &target.name);
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
    // authentik records `password_set` as the user whose password changed.
    audit::record(
        &mut tx,
        &audit.as_user(id, &target.username),
        "password_set",
        "model",
        None,
        None,
        Map::new(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
