//! Users: the domain value, its validation rules, and the operations both dialects call.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::audit::{self, AuditContext, Diff, ModelRef};
use super::error::{FieldErrors, Kind};
use super::filter::Direction;
use super::sessions;
use super::{avatar, DomainError, Timestamp};
use crate::auth::password;
use crate::store::{groups, users as store_users, Store, Touched};

/// The kinds of account authentik distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserType {
    /// A person managed here.
    Internal,
    /// A person from an external source.
    External,
    /// A machine account created by an operator.
    ServiceAccount,
    /// A machine account managed by the system itself.
    InternalServiceAccount,
}

impl UserType {
    /// Every type, in authentik's order.
    pub const ALL: [UserType; 4] = [
        UserType::Internal,
        UserType::External,
        UserType::ServiceAccount,
        UserType::InternalServiceAccount,
    ];

    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Internal => "internal",
            UserType::External => "external",
            UserType::ServiceAccount => "service_account",
            UserType::InternalServiceAccount => "internal_service_account",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<UserType> {
        UserType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What a user's `groups_obj` shows of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSummary {
    /// Group uuid.
    pub uuid: String,
    /// Group name.
    pub name: String,
    /// Superuser flag of the group itself.
    pub is_superuser: bool,
    /// Group attributes.
    pub attributes: Value,
}

impl GroupSummary {
    /// authentik's `num_pk`: the first five decimal digits of the UUID's 128-bit value.
    pub fn num_pk(&self) -> i64 {
        num_pk(&self.uuid)
    }
}

/// authentik's `num_pk` of a group uuid.
pub fn num_pk(uuid: &str) -> i64 {
    let digits = uuid::Uuid::parse_str(uuid)
        .map(|u| u.as_u128().to_string())
        .unwrap_or_default();
    digits
        .get(..5.min(digits.len()))
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// What a user's `roles_obj` shows of a role.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSummary {
    /// Role uuid.
    pub uuid: String,
    /// Role name.
    pub name: String,
}

/// A user with everything derived that the dialects show.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Integer id (`pk` / `id`).
    pub id: i64,
    /// UUID.
    pub uuid: String,
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// AWX first name.
    pub first_name: String,
    /// AWX last name.
    pub last_name: String,
    /// E-mail.
    pub email: String,
    /// Whether a usable password is set.
    pub has_password: bool,
    /// Active flag.
    pub is_active: bool,
    /// Account type.
    pub user_type: UserType,
    /// Directory path.
    pub path: String,
    /// Free-form JSON object.
    pub attributes: Value,
    /// Last login.
    pub last_login: Option<Timestamp>,
    /// Creation time.
    pub date_joined: Timestamp,
    /// Last password change.
    pub password_change_date: Timestamp,
    /// Last modification.
    pub last_updated: Timestamp,
    /// Superuser through a group or its ancestors.
    pub is_superuser: bool,
    /// Holds the built-in system auditor role (AWX's `is_system_auditor`).
    pub is_system_auditor: bool,
    /// Direct groups, by name.
    pub groups: Vec<GroupSummary>,
    /// Direct roles, by name.
    pub roles: Vec<RoleSummary>,
    /// The initials avatar data URI, rendered once per load.
    pub avatar_uri: String,
}

/// authentik's `uid` of a user id: hex sha256 of `"<id>-<install id>"`.
pub fn uid_of(id: i64, install_id: &str) -> String {
    hex::encode(Sha256::digest(format!("{id}-{install_id}").as_bytes()))
}

impl User {
    /// authentik's `uid` of this user.
    pub fn uid(&self, install_id: &str) -> String {
        uid_of(self.id, install_id)
    }

    /// The initials avatar data URI.
    pub fn avatar(&self) -> &str {
        &self.avatar_uri
    }
}

// What a user query can name lives below the domain, where the store can see it.
pub use crate::query::users::{UserField, UserFilter, UserRel, UserSort};

/// Requested changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserChanges {
    /// Username (already trimmed).
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// AWX first name.
    pub first_name: Option<String>,
    /// AWX last name.
    pub last_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Active flag.
    pub is_active: Option<bool>,
    /// Last login (inner `None` clears it).
    pub last_login: Option<Option<Timestamp>>,
    /// Direct groups by uuid (replaces the set).
    pub groups: Option<Vec<String>>,
    /// Direct roles by uuid (replaces the set).
    pub roles: Option<Vec<String>>,
    /// Attributes object (replaces it).
    pub attributes: Option<Map<String, Value>>,
    /// Path.
    pub path: Option<String>,
    /// Account type.
    pub user_type: Option<UserType>,
    /// New plain-text password (inner `None` makes it unusable).
    pub password: Option<Option<String>>,
    /// AWX's `is_superuser`: direct membership of the superuser group.
    pub superuser: Option<bool>,
    /// AWX's `is_system_auditor`: the built-in auditor role.
    pub system_auditor: Option<bool>,
}

/// Field order of authentik's user serializer, for error bodies.
pub const FIELD_ORDER: [&str; 13] = [
    "username",
    "name",
    "first_name",
    "last_name",
    "is_active",
    "last_login",
    "groups",
    "roles",
    "email",
    "attributes",
    "path",
    "type",
    "password",
];

/// Username rule (deviation 9): 1–150 characters of letters, digits and `@.+-_`.
pub fn check_username(username: &str) -> Result<(), String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^[\w.@+-]+$").expect("static regex"));
    if username.chars().count() > 150 {
        return Err("Ensure this field has no more than 150 characters.".into());
    }
    if !re.is_match(username) {
        return Err("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".into());
    }
    Ok(())
}

/// Path rule: no leading/trailing slash, no empty segment.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.starts_with('/') || path.ends_with('/') {
        return Err("No leading or trailing slashes allowed.".into());
    }
    if path.contains("//") {
        return Err("No empty segments in user path allowed.".into());
    }
    Ok(())
}

/// E-mail rule: Django's validator in spirit (local@domain with a dotted domain), ≤254 chars.
pub fn check_email(email: &str) -> Result<(), String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r#"^(?i)[-!#$%&'*+/=?^_`{}|~0-9a-z]+(\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}|\[[0-9a-f:.]+\]|localhost)$"#,
        )
        .expect("static regex")
    });
    if email.chars().count() > 254 {
        return Err("Ensure this field has no more than 254 characters.".into());
    }
    if email.is_empty() || re.is_match(email) {
        Ok(())
    } else {
        Err("Enter a valid email address.".into())
    }
}

/// The message for a unique value that is taken, in authentik's words.
pub const UNIQUE_MESSAGE: &str = "This field must be unique.";

/// Rules that need no database: applied to fields that passed type coercion.
fn check_fields(changes: &UserChanges, errors: &mut FieldErrors) {
    if let (Some(username), false) = (&changes.username, errors.has("username")) {
        if let Err(m) = check_username(username) {
            errors.add("username", m);
        }
    }
    if let (Some(email), false) = (&changes.email, errors.has("email")) {
        if let Err(m) = check_email(email) {
            errors.add("email", m);
        }
    }
    if let (Some(path), false) = (&changes.path, errors.has("path")) {
        if let Err(m) = check_path(path) {
            errors.add("path", m);
        }
    }
}

/// Rules that need the database, checked inside the transaction that writes.
async fn check_references<R: crate::store::Reader>(
    db: &mut R,
    changes: &UserChanges,
    except: Option<i64>,
    errors: &mut FieldErrors,
) -> Result<(Vec<i64>, Vec<i64>), DomainError> {
    if let (Some(username), false) = (&changes.username, errors.has("username")) {
        if store_users::username_taken(db, username, except).await? {
            errors.add_code("username", "unique", UNIQUE_MESSAGE);
        }
    }
    let mut group_ids = Vec::new();
    if let (Some(uuids), false) = (&changes.groups, errors.has("groups")) {
        let found = groups::groups_by_uuid(db, uuids).await?;
        group_ids = resolve_uuids(&found, uuids, "groups", errors);
    }
    let mut role_ids = Vec::new();
    if let (Some(uuids), false) = (&changes.roles, errors.has("roles")) {
        let found = groups::roles_by_uuid(db, uuids).await?;
        role_ids = resolve_uuids(&found, uuids, "roles", errors);
    }
    Ok((group_ids, role_ids))
}

/// Maps referenced uuids to ids in request order; the first one that does not exist becomes
/// DRF's "Invalid pk" error on `field` (and an empty result).
pub(crate) fn resolve_uuids(
    found: &[crate::store::groups::IdUuid],
    uuids: &[String],
    field: &str,
    errors: &mut FieldErrors,
) -> Vec<i64> {
    let by_uuid: HashMap<&str, i64> = found.iter().map(|r| (r.uuid.as_str(), r.id)).collect();
    let mut ids = Vec::with_capacity(uuids.len());
    for uuid in uuids {
        match by_uuid.get(uuid.as_str()) {
            Some(id) => ids.push(*id),
            None => {
                errors.add_code(
                    field,
                    "does_not_exist",
                    format!("Invalid pk \"{uuid}\" - object does not exist."),
                );
                return Vec::new();
            }
        }
    }
    ids
}

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
                        super::bootstrap::ADMIN_GROUP,
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
        let role = super::roles::ensure_auditor_role(tx).await?;
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
    mut errors: FieldErrors,
    audit: &AuditContext,
) -> Result<User, DomainError> {
    check_fields(&changes, &mut errors);
    if changes.user_type == Some(UserType::InternalServiceAccount) && !errors.has("type") {
        errors.add(
            "type",
            "Setting a user to internal service account is not allowed.",
        );
    }
    let password_hash = hash_password(&changes.password).await?.flatten();
    let mut tx = store.begin().await?;
    let (group_ids, role_ids) = check_references(&mut tx, &changes, None, &mut errors).await?;
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
    let id = store_users::insert(&mut tx, &new).await?;
    if !group_ids.is_empty() {
        store_users::replace_groups(&mut tx, id, &group_ids).await?;
    }
    if !role_ids.is_empty() {
        store_users::replace_roles(&mut tx, id, &role_ids).await?;
    }
    apply_awx_flags(&mut tx, id, &changes).await?;
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
        &mut tx,
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
    let row = store_users::by_id(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound(Kind::User))?;
    let user = hydrate(&mut tx, vec![row])
        .await?
        .pop()
        .ok_or(DomainError::NotFound(Kind::User))?;
    tx.commit().await?;
    Ok(user)
}

/// Applies `changes` to user `id` (a PUT sends every writable field, a PATCH only some).
pub async fn update(
    store: &Store,
    id: i64,
    changes: UserChanges,
    mut errors: FieldErrors,
    audit: &AuditContext,
) -> Result<User, DomainError> {
    check_fields(&changes, &mut errors);
    let password_hash = hash_password(&changes.password).await?;
    let mut tx = store.begin().await?;
    let current = store_users::by_id(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound(Kind::User))?;
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
    let (group_ids, role_ids) = check_references(&mut tx, &changes, Some(id), &mut errors).await?;
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
        sessions::superusers_with_sessions(&mut tx).await?
    } else {
        Vec::new()
    };
    let Some(row) = store_users::update(&mut tx, id, &update, now).await? else {
        return Err(DomainError::NotFound(Kind::User));
    };
    if update.password_hash.is_some() || update.is_active == Some(false) {
        sessions::end_for(&mut tx, id, audit).await?;
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
        &mut tx,
        audit,
        "model_updated",
        "model",
        Some(&model),
        Some(diff),
        Map::new(),
    )
    .await?;
    if changes.groups.is_some() {
        store_users::replace_groups(&mut tx, id, &group_ids).await?;
    }
    if changes.roles.is_some() {
        store_users::replace_roles(&mut tx, id, &role_ids).await?;
    }
    apply_awx_flags(&mut tx, id, &changes).await?;
    sessions::end_for_demoted(&mut tx, &superusers_before, audit).await?;
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
    let user = hydrate(&mut tx, vec![row])
        .await?
        .pop()
        .ok_or(DomainError::NotFound(Kind::User))?;
    tx.commit().await?;
    Ok(user)
}

/// Deletes user `id` with its memberships and tokens.
pub async fn delete(store: &Store, id: i64, audit: &AuditContext) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    let current = store_users::by_id(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound(Kind::User))?;
    // Recorded first: the event names the acting user, who may be the one deleted.
    audit::record(
        &mut tx,
        audit,
        "model_deleted",
        "model",
        Some(&ModelRef::user(id, &current.name)),
        None,
        Map::new(),
    )
    .await?;
    if store_users::delete(&mut tx, id).await? == 0 {
        return Err(DomainError::NotFound(Kind::User));
    }
    // Grants on the user go with it (authentik leaves them dangling).
    let ids = super::roles::model_permission_ids("authentik_core.user");
    crate::store::roles::forget_object(&mut tx, &ids, &id.to_string()).await?;
    tx.commit().await?;
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
        return Err(DomainError::NotFound(Kind::User));
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

/// Users by id, exact under writes (see `domain::cache`).
pub type UserCache = super::cache::EpochCache<i64, User>;

/// The user with this id, from `cache` when nothing was written since it was read.
pub async fn get_cached(store: &Store, cache: &UserCache, id: i64) -> Result<User, DomainError> {
    let changes = store.changes();
    if let Some(user) = cache.get(changes, &id) {
        return Ok(user);
    }
    let epoch = cache.epoch(changes);
    let user = get(store, id).await?;
    cache.put(changes, epoch, id, user.clone());
    Ok(user)
}

/// The user with this id (its row and relations read in one snapshot).
pub async fn get(store: &Store, id: i64) -> Result<User, DomainError> {
    let mut db = store.snapshot()?;
    let row = store_users::by_id(&mut db, id)
        .await?
        .ok_or(DomainError::NotFound(Kind::User))?;
    hydrate(&mut db, vec![row])
        .await?
        .pop()
        .ok_or(DomainError::NotFound(Kind::User))
}

/// Counts by filter, exact under writes (see `domain::cache`).
pub type CountCache = super::cache::EpochCache<String, i64>;

/// How many users match, from `cache` when nothing was written since it was counted
/// (a count scans every matching row).
pub async fn count_cached(
    store: &Store,
    cache: &CountCache,
    filter: &UserFilter,
) -> Result<i64, DomainError> {
    let changes = store.changes();
    let key = format!("{filter:?}");
    if let Some(n) = cache.get(changes, &key) {
        return Ok(n);
    }
    let epoch = cache.epoch(changes);
    let n = count(store, filter).await?;
    cache.put(changes, epoch, key, n);
    Ok(n)
}

/// How many users match.
pub async fn count(store: &Store, filter: &UserFilter) -> Result<i64, DomainError> {
    Ok(store_users::count(store, filter).await?)
}

/// One page of matching users, with groups, roles and superuser status (three queries for
/// the whole page, whatever its size).
pub async fn list(
    store: &Store,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<User>, DomainError> {
    let rows = store_users::page(store, filter, sort, limit, offset).await?;
    hydrate(&mut &*store, rows).await
}

/// One page of matching users like `list`, taking every user already loaded in this write
/// epoch from `cache` (only the page's ids are read; the rest is loaded in one batch).
pub async fn list_cached(
    store: &Store,
    cache: &UserCache,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<User>, DomainError> {
    let changes = store.changes();
    let epoch = cache.epoch(changes);
    let ids = store_users::page_ids(store, filter, sort, limit, offset).await?;
    let mut found: HashMap<i64, User> = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    for id in &ids {
        match cache.get(changes, id) {
            Some(user) => {
                found.insert(*id, user);
            }
            None => missing.push(*id),
        }
    }
    if !missing.is_empty() {
        let rows = store_users::by_ids(store, &missing).await?;
        for user in hydrate(&mut &*store, rows).await? {
            cache.put(changes, epoch, user.id, user.clone());
            found.insert(user.id, user);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// Distinct paths of matching users, sorted.
pub async fn paths(store: &Store, filter: &UserFilter) -> Result<Vec<String>, DomainError> {
    Ok(store_users::distinct_paths(store, filter).await?)
}

/// Stored attributes text as a JSON object (anything unreadable reads as `{}`).
pub fn parse_attributes(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Map::new()))
}

async fn hydrate<R: crate::store::Reader>(
    db: &mut R,
    rows: Vec<store_users::UserRow>,
) -> Result<Vec<User>, DomainError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let relations = store_users::relations(db, &ids).await?;
    let mut groups_of: HashMap<i64, Vec<GroupSummary>> = HashMap::new();
    let mut roles_of: HashMap<i64, Vec<RoleSummary>> = HashMap::new();
    let mut auditors: Vec<i64> = Vec::new();
    let mut superusers: Vec<i64> = Vec::new();
    for r in relations {
        match r.kind {
            store_users::RELATION_GROUP => {
                groups_of.entry(r.user_id).or_default().push(GroupSummary {
                    uuid: r.uuid,
                    name: r.name,
                    is_superuser: r.is_superuser,
                    attributes: parse_attributes(&r.attributes),
                });
            }
            store_users::RELATION_ROLE => {
                if r.managed.as_deref() == Some(super::roles::AUDITOR_MANAGED) {
                    auditors.push(r.user_id);
                }
                roles_of.entry(r.user_id).or_default().push(RoleSummary {
                    uuid: r.uuid,
                    name: r.name,
                });
            }
            _ => superusers.push(r.user_id),
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| User {
            avatar_uri: avatar::initials_data_uri(&row.name, &row.username),
            is_superuser: superusers.contains(&row.id),
            is_system_auditor: auditors.contains(&row.id),
            groups: groups_of.remove(&row.id).unwrap_or_default(),
            roles: roles_of.remove(&row.id).unwrap_or_default(),
            id: row.id,
            uuid: row.uuid,
            username: row.username,
            name: row.name,
            first_name: row.first_name,
            last_name: row.last_name,
            email: row.email,
            has_password: row.password_hash.is_some(),
            is_active: row.is_active,
            user_type: UserType::parse(&row.user_type).unwrap_or(UserType::Internal),
            path: row.path,
            attributes: parse_attributes(&row.attributes),
            last_login: row.last_login.map(Timestamp),
            date_joined: Timestamp(row.date_joined),
            password_change_date: Timestamp(row.password_change_date),
            last_updated: Timestamp(row.last_updated),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rule() {
        assert!(check_username("alice.b+c@d-e_f").is_ok());
        assert!(check_username("Zoë").is_ok());
        assert!(check_username("john smith").is_err());
        assert!(check_username(&"a".repeat(151)).is_err());
    }

    #[test]
    fn path_rule() {
        assert_eq!(
            check_path("/bad/").unwrap_err(),
            "No leading or trailing slashes allowed."
        );
        assert_eq!(
            check_path("a//b").unwrap_err(),
            "No empty segments in user path allowed."
        );
        assert!(check_path("users/put").is_ok());
    }

    #[test]
    fn email_rule() {
        assert!(check_email("alice@example.com").is_ok());
        assert!(check_email("").is_ok());
        assert!(check_email("nope").is_err());
        assert!(check_email("a@b").is_err());
    }

    #[test]
    fn num_pk_matches_samples() {
        assert_eq!(num_pk("7f193d74-aedd-4850-865d-14793f8ddc14"), 16894);
        assert_eq!(num_pk("9bca0260-b528-4474-89cf-43402ab1e7dc"), 20707);
    }
}

/// The system permissions a superuser holds (authentik's `authentik_rbac` codenames).
pub const SUPERUSER_SYSTEM_PERMISSIONS: [&str; 16] = [
    "access_admin_interface",
    "add_initialpermissions",
    "add_role",
    "assign_role_permissions",
    "change_initialpermissions",
    "change_role",
    "delete_initialpermissions",
    "delete_role",
    "edit_system_settings",
    "manage_media_files",
    "unassign_role_permissions",
    "view_initialpermissions",
    "view_media_files",
    "view_role",
    "view_system_info",
    "view_system_settings",
];

/// What `me` shows: the user plus everything reached through groups and ancestors.
#[derive(Debug, Clone)]
pub struct SelfView {
    /// The user.
    pub user: User,
    /// Every group, direct or ancestor, by name: (uuid, name).
    pub all_groups: Vec<(String, String)>,
    /// Effective roles by name: (uuid, name).
    pub effective_roles: Vec<(String, String)>,
    /// `settings` merged from groups (by name) then the user's attributes.
    pub settings: Value,
    /// System permission codenames.
    pub system_permissions: Vec<String>,
}

/// Deep-merges `overlay` into `base` (objects merge key by key; anything else replaces).
fn merge_into(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge_into(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The caller's own view (`me`).
pub async fn self_view(store: &Store, user_id: i64) -> Result<SelfView, DomainError> {
    let user = get(store, user_id).await?;
    let groups = store_users::ancestor_groups(store, user_id).await?;
    let roles = store_users::effective_roles(store, user_id).await?;
    let mut settings = Value::Object(Map::new());
    for g in &groups {
        if let Some(s) = parse_attributes(&g.attributes)
            .get("settings")
            .filter(|s| s.is_object())
        {
            merge_into(&mut settings, s);
        }
    }
    if let Some(s) = user.attributes.get("settings").filter(|s| s.is_object()) {
        merge_into(&mut settings, s);
    }
    let system_permissions = if user.is_superuser {
        SUPERUSER_SYSTEM_PERMISSIONS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        // The caller's global `authentik_rbac` permissions, by codename.
        let grants = super::roles::effective_grants(store, user_id).await?;
        let mut names: Vec<String> = super::permissions::CATALOGUE
            .iter()
            .filter(|p| p.app_label == "authentik_rbac" && grants.global.contains(&p.id))
            .map(|p| p.codename.to_string())
            .collect();
        names.sort();
        names
    };
    Ok(SelfView {
        all_groups: groups.into_iter().map(|g| (g.uuid, g.name)).collect(),
        effective_roles: roles.into_iter().map(|r| (r.uuid, r.name)).collect(),
        settings,
        system_permissions,
        user,
    })
}
