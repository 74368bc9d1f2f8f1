//! Service accounts (docs/compatibility.md#user-actions): a `service_account` user, an
//! app-password token for it and, optionally, a group of the same name — created together in
//! one transaction.

use serde_json::json;

use super::audit::{self, AuditContext, ModelRef};
use super::error::FieldErrors;
use super::users::{self, UserType};
use super::{DomainError, Timestamp};
use crate::auth::keys::{self, Sealer};
use crate::store::tokens::{self as store_tokens, TokenUnique};
use crate::store::{groups as store_groups, users as store_users, Store, StoreError};

/// Path of service-account users.
pub const SERVICE_ACCOUNT_PATH: &str = "goauthentik.io/service-accounts";

/// What the caller asked for.
#[derive(Debug, Clone)]
pub struct ServiceAccountRequest {
    /// Username, display name and (optionally) group name.
    pub name: String,
    /// Also create a group of that name containing the user.
    pub create_group: bool,
    /// Whether the app password expires.
    pub expiring: bool,
    /// When the app password expires.
    pub expires: Timestamp,
}

/// What was created; `token` is the app password's key, shown once.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// Username.
    pub username: String,
    /// User id.
    pub user_id: i64,
    /// The app password.
    pub token: String,
    /// The group's uuid, when one was created.
    pub group_uuid: Option<String>,
}

/// Django's `slugify` for ASCII text: lowercase, keep letters, digits, `_` and `-`, collapse
/// runs of spaces and hyphens into one hyphen, trim `-` and `_` at the ends.
pub fn slugify(text: &str) -> String {
    let mut out = String::new();
    let mut pending_dash = false;
    for c in text.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c);
        } else if c == '-' || c.is_whitespace() {
            pending_dash = true;
        }
    }
    out.trim_matches(|c| c == '-' || c == '_').to_string()
}

/// Creates the service account. A name that is taken as a username is a field error; a clash
/// on the group name or token identifier is authentik's non-field error.
pub async fn create(
    store: &Store,
    sealer: &Sealer,
    request: ServiceAccountRequest,
    may_create_group: bool,
    audit: &AuditContext,
) -> Result<ServiceAccount, DomainError> {
    let clash = || {
        DomainError::Invalid(FieldErrors::single(
            "non_field_errors",
            "A user/group with these details already exists",
        ))
    };
    let key = keys::generate_key();
    let key_sealed = sealer
        .seal(&key)
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    let identifier = slugify(&format!("service-account-{}-password", request.name));
    let mut tx = store.begin().await?;
    if store_users::username_taken(&mut tx, &request.name, None).await? {
        return Err(DomainError::Invalid(FieldErrors::single(
            "name",
            users::UNIQUE_MESSAGE,
        )));
    }
    let create_group = request.create_group && may_create_group;
    if (create_group && store_groups::name_taken(&mut tx, &request.name, None).await?)
        || store_tokens::taken(&mut tx, TokenUnique::Identifier, &identifier, None).await?
    {
        return Err(clash());
    }
    let now = Timestamp::now();
    let user = store_users::NewUser {
        uuid: uuid::Uuid::new_v4().to_string(),
        username: request.name.clone(),
        name: request.name.clone(),
        first_name: String::new(),
        last_name: String::new(),
        email: String::new(),
        password_hash: None,
        is_active: true,
        user_type: UserType::ServiceAccount.as_str().to_string(),
        path: SERVICE_ACCOUNT_PATH.to_string(),
        attributes: json!({ super::tokens::TOKEN_EXPIRES_ATTRIBUTE: request.expiring }).to_string(),
        last_login: None,
        now: now.0,
    };
    let map_clash = |e: StoreError| match e {
        StoreError::Unique(_) => clash(),
        other => other.into(),
    };
    let user_id = store_users::insert(&mut tx, &user)
        .await
        .map_err(map_clash)?;
    let mut group_uuid = None;
    if create_group {
        let uuid = uuid::Uuid::new_v4().to_string();
        let group_id = store_groups::insert(&mut tx, &uuid, &request.name, false, "{}")
            .await
            .map_err(map_clash)?;
        store_groups::add_member(&mut tx, group_id, user_id).await?;
        group_uuid = Some(uuid);
    }
    let token = store_tokens::NewToken {
        uuid: uuid::Uuid::new_v4().to_string(),
        identifier,
        key_hash: keys::lookup_hash(&key),
        key_sealed,
        intent: "app_password".into(),
        user_id,
        description: String::new(),
        expires: Some(request.expires.0),
        expiring: request.expiring,
        managed: None,
        created: now.0,
        scope: "write".into(),
    };
    store_tokens::insert(&mut tx, &token)
        .await
        .map_err(map_clash)?;
    let none = serde_json::Map::new;
    let user_model = ModelRef::user(user_id, &request.name);
    audit::record(
        &mut tx,
        audit,
        "model_created",
        "model",
        Some(&user_model),
        None,
        none(),
    )
    .await?;
    if let Some(g) = &group_uuid {
        audit::record(
            &mut tx,
            audit,
            "model_created",
            "model",
            Some(&ModelRef::group(g, &request.name)),
            None,
            none(),
        )
        .await?;
    }
    let token_model = ModelRef::token(&token.uuid, &token.identifier);
    audit::record(
        &mut tx,
        audit,
        "model_created",
        "model",
        Some(&token_model),
        None,
        none(),
    )
    .await?;
    tx.commit().await?;
    Ok(ServiceAccount {
        username: request.name,
        user_id,
        token: key,
        group_uuid,
    })
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugify_like_django() {
        assert_eq!(
            slugify("service-account-CI Bot--1-password"),
            "service-account-ci-bot-1-password"
        );
        assert_eq!(slugify("  -a_b- "), "a_b");
    }
}
