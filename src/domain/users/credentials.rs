//! A user's stored password hash as such: putting one in as it is (what an import brings from
//! another directory), reading it back, and replacing a verified legacy hash by argon2id.
//!
//! Passwords a person chooses go through `writes::set_password` (and user create/update); this
//! module handles the hash text itself, never a password.

use serde_json::{json, Map};

use crate::auth::password;
use crate::domain::audit::{self, AuditContext, Diff, ModelRef, MASK};
use crate::domain::error::{FieldErrors, ObjectKind};
use crate::domain::sessions;
use crate::domain::DomainError;
use crate::store::{users as store_users, Store, Touched};

/// Longest stored hash accepted, characters (the longest recognised format is far shorter).
pub const MAX_HASH_CHARS: usize = 1024;

/// Stores `hash` as user `id`'s password hash exactly as given (`None`: no usable password).
/// Any text is kept, recognised or not (`auth::password::is_recognised` tells which; an
/// unrecognised one never matches a password). The user's sessions end, as with any change of
/// credential; `password_change_date` is left as it is (the password itself did not change).
/// Audited as `model_updated` with the hash masked.
pub async fn set_password_hash(
    store: &Store,
    id: i64,
    hash: Option<String>,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    if let Some(h) = &hash {
        // PostgreSQL text holds no NUL; nothing legitimate is this long.
        if h.contains('\0') || h.chars().count() > MAX_HASH_CHARS {
            return Err(DomainError::Invalid(FieldErrors::single(
                "password",
                "Not a storable password hash.",
            )));
        }
    }
    let mut tx = store.begin().await?;
    let Some(target) = store_users::by_id(&mut tx, id).await? else {
        return Err(DomainError::NotFound(ObjectKind::User));
    };
    let now = crate::domain::Timestamp::now().0;
    let update = store_users::UserUpdate {
        password_hash: Some(hash),
        ..store_users::UserUpdate::default()
    };
    store_users::update(&mut tx, id, &update, now).await?;
    sessions::end_for(&mut tx, id, audit).await?;
    let mut diff = Diff::default();
    diff.field("password", json!(MASK), json!(MASK));
    audit::record(
        &mut tx,
        audit,
        "model_updated",
        "model",
        Some(&ModelRef::user(id, &target.name)),
        Some(diff),
        Map::new(),
    )
    .await?;
    // Whether the user has a usable password is shown; no principal derives from it.
    tx.touches(Touched::DIRECTORY);
    tx.commit().await?;
    Ok(())
}

/// User `id`'s stored password hash as it is (for export, and for tests to see what a login
/// left behind); `None` when the user has no usable password.
pub async fn stored_password_hash(store: &Store, id: i64) -> Result<Option<String>, DomainError> {
    let mut db = store;
    let row = store_users::by_id(&mut db, id)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::User))?;
    Ok(row.password_hash)
}

/// After a successful login against `verified` (a hash `password::needs_rehash` flags),
/// stores `argon2id`, a fresh argon2id hash of the same password, if the user's hash is still
/// `verified` (whether it was replaced). Only the stored form of the same password changes:
/// no audit event, no session ends, `password_change_date` and `last_updated` stay
/// (SECURITY.md, "Password hashes").
pub async fn upgrade_password_hash(
    store: &Store,
    id: i64,
    verified: &str,
    argon2id: &str,
) -> Result<bool, DomainError> {
    // Never downgrade or replace with anything but what `password::hash` makes.
    if !argon2id.starts_with("$argon2id$") || password::needs_rehash(argon2id) {
        return Err(DomainError::Internal(
            "a password hash upgrade must store today's argon2id".into(),
        ));
    }
    let mut tx = store.begin().await?;
    let replaced = store_users::replace_password_hash(&mut tx, id, verified, argon2id).await?;
    // The hash's text feeds no cache: whether the user has a password is unchanged.
    tx.touches(Touched::NONE);
    tx.commit().await?;
    Ok(replaced)
}
