//! API tokens: creation rules (intents, expiry, ownership), changes, key viewing and setting.
//! Keys are generated here, stored as a lookup hash plus a sealed copy, never in plain text.

use serde_json::{json, Map};

use super::audit::{self, AuditContext, Diff, ModelRef};
use super::authz::{authorize, Action, Principal, Scope};
use super::error::{FieldErrors, ObjectKind};
use super::filter::{Direction, Filter};
use super::users::{self, User, UserField};
use super::{DomainError, Timestamp};
use crate::auth::keys::{self, Sealer};
use crate::store::tokens::{self as store_tokens, TokenRow, TokenUnique};
use crate::store::{groups as store_groups, Store, Touched};

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// E-mail verification links (system only).
    Verification,
    /// Bearer API access.
    Api,
    /// Recovery links (system only).
    Recovery,
    /// An application password (never a Bearer key).
    AppPassword,
}

impl Intent {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Verification => "verification",
            Intent::Api => "api",
            Intent::Recovery => "recovery",
            Intent::AppPassword => "app_password",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Intent> {
        [
            Intent::Verification,
            Intent::Api,
            Intent::Recovery,
            Intent::AppPassword,
        ]
        .into_iter()
        .find(|i| i.as_str() == s)
    }
}

/// A token as the dialects show it (with its owner).
#[derive(Debug, Clone)]
pub struct Token {
    /// Integer id (AWX).
    pub id: i64,
    /// UUID (authentik's pk).
    pub uuid: String,
    /// Unique slug.
    pub identifier: String,
    /// Intent (wire name).
    pub intent: String,
    /// Owner.
    pub user: User,
    /// Description.
    pub description: String,
    /// Expiry.
    pub expires: Option<Timestamp>,
    /// Whether the expiry applies.
    pub expiring: bool,
    /// Managed marker.
    pub managed: Option<String>,
    /// Creation time.
    pub created: Timestamp,
    /// OAuth2 scope (`read` or `write`).
    pub scope: String,
}

impl Token {
    /// Expired: expiring and past its expiry. Expired tokens stay listed but never authenticate.
    pub fn is_expired(&self) -> bool {
        self.expiring && self.expires.is_some_and(|e| e < Timestamp::now())
    }
}

// What a token query can name lives below the domain, where the store can see it.
pub use crate::query::tokens::{TokenField, TokenFilter, TokenRel, TokenSort};

/// Requested token changes; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct TokenChanges {
    /// Identifier.
    pub identifier: Option<String>,
    /// Intent.
    pub intent: Option<Intent>,
    /// Owner id.
    pub user: Option<i64>,
    /// Description.
    pub description: Option<String>,
    /// Expiry (inner `None` = none).
    pub expires: Option<Option<Timestamp>>,
    /// Expiring flag.
    pub expiring: Option<bool>,
    /// Managed marker (inner `None` = none).
    pub managed: Option<Option<String>>,
    /// OAuth2 scope for tokens made through AWX's dialect (`write` when absent).
    pub scope: Option<Scope>,
}

/// Settings that shape token expiry.
#[derive(Debug, Clone, Copy)]
pub struct TokenSettings {
    /// Lifetime of api tokens and the default cap of app passwords, seconds.
    pub default_duration_seconds: i64,
}

/// Field order of authentik's token serializer, for error bodies.
pub const FIELD_ORDER: [&str; 8] = [
    "managed",
    "identifier",
    "intent",
    "user",
    "description",
    "expires",
    "expiring",
    "key",
];

/// Attribute that forces `expiring` on tokens a non-superuser creates.
pub const TOKEN_EXPIRES_ATTRIBUTE: &str = "goauthentik.io/user/token-expires";
/// Attribute that caps app-password lifetimes.
pub const TOKEN_MAX_LIFETIME_ATTRIBUTE: &str = "goauthentik.io/user/token-maximum-lifetime";

async fn check_unique(
    tx: &mut crate::store::Tx,
    changes: &TokenChanges,
    except: Option<i64>,
    errors: &mut FieldErrors,
) -> Result<(), DomainError> {
    if let (Some(identifier), false) = (&changes.identifier, errors.has("identifier")) {
        if store_tokens::taken(tx, TokenUnique::Identifier, identifier, except).await? {
            errors.add_code(
                "identifier",
                "unique",
                "Token with this identifier already exists.",
            );
        }
    }
    if let (Some(Some(managed)), false) = (&changes.managed, errors.has("managed")) {
        if store_tokens::taken(tx, TokenUnique::Managed, managed, except).await? {
            errors.add_code(
                "managed",
                "unique",
                "Token with this Managed by authentik already exists.",
            );
        }
    }
    Ok(())
}

/// Object-level rules (docs/compatibility.md#tokens): intents, and app-password expiry under
/// the owner's cap.
fn check_intent_and_expiry(
    changes: &mut TokenChanges,
    intent: Intent,
    owner: &User,
    settings: TokenSettings,
    errors: &mut FieldErrors,
    now: Timestamp,
) {
    if !matches!(intent, Intent::Api | Intent::AppPassword) && !errors.has("intent") {
        errors.add("intent", format!("Invalid intent {}", intent.as_str()));
        return;
    }
    if intent == Intent::AppPassword {
        let cap_seconds = owner
            .attributes
            .get(TOKEN_MAX_LIFETIME_ATTRIBUTE)
            .and_then(|v| v.as_str())
            .and_then(crate::config::parse_duration)
            .unwrap_or(settings.default_duration_seconds);
        let cap = now.plus_seconds(cap_seconds);
        if let Some(Some(expires)) = changes.expires {
            if expires > cap && !errors.has("expires") {
                errors.add(
                    "expires",
                    format!(
                        "Token expires exceeds maximum lifetime ({} UTC).",
                        cap.to_python_str()
                    ),
                );
            }
        }
    }
}

/// Whether a non-superuser's tokens must expire: the owner's `token-expires` attribute, true
/// unless it says otherwise. Holds on creation and on every later change, so an owner cannot
/// lift the expiry of a token (an app password's cap included) by editing it.
fn forced_expiring(owner: &User) -> bool {
    owner
        .attributes
        .get(TOKEN_EXPIRES_ATTRIBUTE)
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

/// Creates a token for `caller` (non-superusers always own their tokens and follow their own
/// `token-expires` attribute). Returns the token and its new key.
pub async fn create(
    store: &Store,
    sealer: &Sealer,
    caller: &Principal,
    mut changes: TokenChanges,
    mut errors: FieldErrors,
    settings: TokenSettings,
    audit: &AuditContext,
) -> Result<(Token, String), DomainError> {
    let now = Timestamp::now();
    let caller_user = users::get(store, caller.user_id).await?;
    let owner_id = if caller.is_superuser {
        changes.user.unwrap_or(caller.user_id)
    } else {
        caller.user_id
    };
    let scope = changes.scope.unwrap_or(Scope::Write);
    // Every door that makes a token comes through here: it never carries more than its creator.
    authorize(
        caller,
        Action::GrantToken {
            owner: owner_id,
            scope,
        },
    )
    .map_err(|_| DomainError::Forbidden)?;
    if !caller.is_superuser {
        changes.expiring = Some(forced_expiring(&caller_user));
    }
    let owner = if owner_id == caller.user_id {
        Some(caller_user)
    } else {
        match users::get(store, owner_id).await {
            Ok(u) => Some(u),
            Err(DomainError::NotFound(_)) => {
                if !errors.has("user") {
                    errors.add_code(
                        "user",
                        "does_not_exist",
                        format!("Invalid pk \"{owner_id}\" - object does not exist."),
                    );
                }
                None
            }
            Err(e) => return Err(e),
        }
    };
    let intent = changes.intent.unwrap_or(Intent::Api);
    if let Some(owner) = &owner {
        check_intent_and_expiry(&mut changes, intent, owner, settings, &mut errors, now);
    }
    let key = keys::generate_key();
    let key_sealed = sealer
        .seal(&key)
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    let mut tx = store.begin().await?;
    check_unique(&mut tx, &changes, None, &mut errors).await?;
    errors.sort_by_order(&FIELD_ORDER);
    errors.into_result()?;
    let expiring = changes.expiring.unwrap_or(true);
    let default_expiry = now.plus_seconds(settings.default_duration_seconds);
    let expires = match intent {
        // The client's expiry is discarded for api tokens (docs/compatibility.md#tokens).
        Intent::Api => Some(default_expiry),
        _ => changes
            .expires
            .unwrap_or(None)
            .or(expiring.then_some(default_expiry)),
    };
    let row = store_tokens::NewToken {
        uuid: uuid::Uuid::new_v4().to_string(),
        identifier: changes.identifier.clone().unwrap_or_default(),
        key_hash: keys::lookup_hash(&key),
        key_sealed,
        intent: intent.as_str().to_string(),
        user_id: owner_id,
        description: changes.description.clone().unwrap_or_default(),
        expires: expires.map(|t| t.0),
        expiring,
        managed: changes.managed.clone().flatten(),
        created: now.0,
        scope: scope.as_str().to_string(),
    };
    let id = store_tokens::insert(&mut tx, &row).await?;
    let diff = Diff::created(&[
        ("identifier", json!(row.identifier)),
        ("intent", json!(row.intent)),
        ("user", json!(row.user_id)),
        ("description", json!(row.description)),
        ("expiring", json!(row.expiring)),
    ]);
    let model = ModelRef::token(&row.uuid, &row.identifier);
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
    // A new key: no cached principal can stand for it, and tokens are not rendered from caches.
    tx.touches(Touched::NONE);
    tx.commit().await?;
    Ok((get_by_id(store, id).await?, key))
}

/// Changes a token for `caller`. Deviations 1 and 2: without `user` the owner stays; without
/// `expires` the expiry stays, and a sent one is kept as sent; without `intent` the intent stays.
/// `current` is the token as the caller last read it; the answer is the row as updated.
pub async fn update(
    store: &Store,
    caller: &Principal,
    current: Token,
    mut changes: TokenChanges,
    mut errors: FieldErrors,
    settings: TokenSettings,
    audit: &AuditContext,
) -> Result<Token, DomainError> {
    let now = Timestamp::now();
    // As on creation (and unlike authentik: deviation 12, docs/compatibility.md#tokens): a non-superuser cannot make an expiring
    // token stop expiring against its owner's `token-expires` attribute; the flag stays.
    if !caller.is_superuser
        && changes.expiring == Some(false)
        && current.expiring
        && forced_expiring(&current.user)
    {
        changes.expiring = None;
    }
    if let Some(user) = changes.user {
        if user != current.user.id && !errors.has("user") {
            errors.add("user", "User cannot be changed");
        }
    }
    let intent = changes
        .intent
        .unwrap_or_else(|| Intent::parse(&current.intent).unwrap_or(Intent::Api));
    if changes.intent.is_some() || changes.expires.is_some() {
        check_intent_and_expiry(
            &mut changes,
            intent,
            &current.user,
            settings,
            &mut errors,
            now,
        );
    }
    let mut tx = store.begin().await?;
    check_unique(&mut tx, &changes, Some(current.id), &mut errors).await?;
    errors.sort_by_order(&FIELD_ORDER);
    errors.into_result()?;
    // Deviation 2: a sent expiry is kept as sent, an api token's included (authentik renews it).
    let expires = changes.expires.map(|e| e.map(|t| t.0));
    let update = store_tokens::TokenUpdate {
        identifier: changes.identifier.clone(),
        intent: changes.intent.map(|i| i.as_str().to_string()),
        description: changes.description.clone(),
        expires,
        expiring: changes.expiring,
        managed: changes.managed.clone(),
        key: None,
    };
    let row = store_tokens::update(&mut tx, current.id, &update)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Token))?;
    let mut diff = Diff::default();
    if let Some(v) = &update.identifier {
        diff.field("identifier", json!(current.identifier), json!(v));
    }
    if let Some(v) = &update.intent {
        diff.field("intent", json!(current.intent), json!(v));
    }
    if let Some(v) = &update.description {
        diff.field("description", json!(current.description), json!(v));
    }
    if let Some(v) = update.expiring {
        diff.field("expiring", json!(current.expiring), json!(v));
    }
    if let Some(v) = update.expires {
        diff.field(
            "expires",
            json!(current.expires.map(Timestamp::to_drf)),
            json!(v.map(|t| Timestamp(t).to_drf())),
        );
    }
    let model = ModelRef::token(
        &current.uuid,
        update.identifier.as_deref().unwrap_or(&current.identifier),
    );
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
    // Only intent and expiry decide whether a token authenticates; its owner cannot change.
    let authenticates_differently =
        update.intent.is_some() || update.expires.is_some() || update.expiring.is_some();
    tx.touches(if authenticates_differently {
        Touched::AUTH
    } else {
        Touched::NONE
    });
    tx.commit().await?;
    Ok(token_of(row, current.user))
}

/// Deletes a token.
pub async fn delete(
    store: &Store,
    identifier: &str,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    let row = store_tokens::by_identifier(&mut tx, identifier)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Token))?;
    audit::record(
        &mut tx,
        audit,
        "model_deleted",
        "model",
        Some(&ModelRef::token(&row.uuid, &row.identifier)),
        None,
        Map::new(),
    )
    .await?;
    store_tokens::delete(&mut tx, row.id).await?;
    let ids = super::roles::model_permission_ids("authentik_core.token");
    crate::store::roles::forget_object(&mut tx, &ids, &row.uuid).await?;
    tx.commit().await?;
    Ok(())
}

/// The plain key of a token (works for expired tokens too).
pub async fn view_key(
    store: &Store,
    sealer: &Sealer,
    identifier: &str,
    audit: &AuditContext,
) -> Result<String, DomainError> {
    let mut tx = store.begin().await?;
    let row = store_tokens::by_identifier(&mut tx, identifier)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Token))?;
    let key = sealer.open(&row.key_sealed).map_err(|_| {
        DomainError::Internal(format!(
            "token {} cannot be unsealed with this secret key",
            row.uuid
        ))
    })?;
    // The key is only handed out once its viewing is on record.
    audit::record(
        &mut tx,
        audit,
        "secret_view",
        "secret",
        Some(&ModelRef::token(&row.uuid, &row.identifier)),
        None,
        Map::new(),
    )
    .await?;
    // Only an event was written.
    tx.touches(Touched::NONE);
    tx.commit().await?;
    Ok(key)
}

/// Replaces a token's key. Deviation 6: a key another token uses is refused.
pub async fn set_key(
    store: &Store,
    sealer: &Sealer,
    identifier: &str,
    key: &str,
    audit: &AuditContext,
) -> Result<(), DomainError> {
    let hash = keys::lookup_hash(key);
    let sealed = sealer
        .seal(key)
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    let mut tx = store.begin().await?;
    let row = store_tokens::by_identifier(&mut tx, identifier)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Token))?;
    if store_tokens::taken(&mut tx, TokenUnique::KeyHash, &hash, Some(row.id)).await? {
        return Err(DomainError::Invalid(FieldErrors::single(
            "key",
            "This key is already used by another token.",
        )));
    }
    let update = store_tokens::TokenUpdate {
        key: Some((hash, sealed)),
        ..Default::default()
    };
    store_tokens::update(&mut tx, row.id, &update)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Token))?;
    audit::record(
        &mut tx,
        audit,
        "model_updated",
        "model",
        Some(&ModelRef::token(&row.uuid, &row.identifier)),
        None,
        Map::new(),
    )
    .await?;
    tx.touches(Touched::AUTH);
    tx.commit().await?;
    Ok(())
}

/// The token with this identifier.
pub async fn get(store: &Store, identifier: &str) -> Result<Token, DomainError> {
    let mut db = store;
    let row = store_tokens::by_identifier(&mut db, identifier)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Token))?;
    hydrate(store, vec![row])
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::Token))
}

/// The token with this uuid.
pub async fn get_by_uuid(store: &Store, uuid: &str) -> Result<Token, DomainError> {
    let mut db = store;
    let row = store_tokens::by_uuid(&mut db, uuid)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Token))?;
    hydrate(store, vec![row])
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::Token))
}

/// The token with this integer id.
pub async fn get_by_id(store: &Store, id: i64) -> Result<Token, DomainError> {
    let mut db = store;
    let row = store_tokens::by_id(&mut db, id)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Token))?;
    hydrate(store, vec![row])
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::Token))
}

/// How many tokens match.
pub async fn count(store: &Store, filter: &TokenFilter) -> Result<i64, DomainError> {
    Ok(store_tokens::count(store, filter).await?)
}

/// One page of matching tokens with their owners.
pub async fn list(
    store: &Store,
    filter: &TokenFilter,
    sort: &[(TokenSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<Token>, DomainError> {
    let rows = store_tokens::page(store, filter, sort, limit, offset).await?;
    hydrate(store, rows).await
}

/// Whether a user id exists (for the `user` field of a token).
pub async fn user_exists(store: &Store, id: i64) -> Result<bool, DomainError> {
    let mut db = store;
    Ok(!store_groups::existing_user_ids(&mut db, &[id])
        .await?
        .is_empty())
}

async fn hydrate(store: &Store, rows: Vec<TokenRow>) -> Result<Vec<Token>, DomainError> {
    let mut owner_ids: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    owner_ids.sort_unstable();
    owner_ids.dedup();
    let filter = Filter::In(
        UserField::Id,
        owner_ids
            .iter()
            .map(|id| super::filter::Literal::Int(*id))
            .collect(),
    );
    let owners = users::list(store, &filter, &[], owner_ids.len().max(1) as i64, 0).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let user = owners.iter().find(|u| u.id == row.user_id)?.clone();
            Some(token_of(row, user))
        })
        .collect())
}

/// A token from its row and its (already loaded) owner.
fn token_of(row: TokenRow, user: User) -> Token {
    Token {
        id: row.id,
        uuid: row.uuid,
        identifier: row.identifier,
        intent: row.intent,
        user,
        description: row.description,
        expires: row.expires.map(Timestamp),
        expiring: row.expiring,
        managed: row.managed,
        created: Timestamp(row.created),
        scope: row.scope,
    }
}

/// The token with this identifier, its owner from `users` when nothing was written since.
pub(super) async fn get_cached(
    store: &Store,
    users: &super::users::UserCache,
    identifier: &str,
) -> Result<Token, DomainError> {
    let mut db = store;
    let row = store_tokens::by_identifier(&mut db, identifier)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::Token))?;
    let owner = super::users::get_cached(store, users, row.user_id).await?;
    Ok(token_of(row, owner))
}
