//! Tokens: the sealed key material, and the lookup that turns a presented key into a caller.

use super::{Reader, Sql, Store, StoreError, Tx};

/// Values of a new token row.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// UUID.
    pub uuid: String,
    /// Unique slug.
    pub identifier: String,
    /// sha256 hex of the key.
    pub key_hash: String,
    /// AES-256-GCM sealed key.
    pub key_sealed: String,
    /// `api`, `app_password`, …
    pub intent: String,
    /// Owner.
    pub user_id: i64,
    /// Free text.
    pub description: String,
    /// Expiry (µs) or NULL.
    pub expires: Option<i64>,
    /// Whether `expires` applies.
    pub expiring: bool,
    /// Managed marker (unique) or NULL.
    pub managed: Option<String>,
    /// Creation time (µs).
    pub created: i64,
    /// OAuth2 scope (`read` or `write`).
    pub scope: String,
}

/// Inserts a token, returning its id.
pub async fn insert(tx: &mut Tx, token: &NewToken) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        "INSERT INTO tokens (uuid, identifier, key_hash, key_sealed, intent, user_id, description, \
         expires, expiring, managed, created, scope) VALUES (",
    );
    sql.bind(&token.uuid)
        .push(", ")
        .bind(&token.identifier)
        .push(", ")
        .bind(&token.key_hash)
        .push(", ");
    sql.bind(&token.key_sealed)
        .push(", ")
        .bind(&token.intent)
        .push(", ")
        .bind(token.user_id)
        .push(", ");
    sql.bind(&token.description)
        .push(", ")
        .bind(token.expires)
        .push(", ")
        .bind(token.expiring)
        .push(", ");
    sql.bind(token.managed.clone())
        .push(", ")
        .bind(token.created)
        .push(", ")
        .bind(&token.scope)
        .push(") RETURNING id");
    tx.fetch_scalar_i64(&sql).await
}

/// Whether a token with this identifier exists.
pub async fn identifier_exists<R: Reader>(
    db: &mut R,
    identifier: &str,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM tokens WHERE identifier = ");
    sql.bind(identifier);
    Ok(db.fetch_scalar_i64(&sql).await? > 0)
}

/// What authentication needs to know about a presented key.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct TokenPrincipalRow {
    /// Token id.
    pub token_id: i64,
    /// Token intent.
    pub intent: String,
    /// Expiry (µs).
    pub expires: Option<i64>,
    /// Whether the expiry applies.
    pub expiring: bool,
    /// Owner id.
    pub user_id: i64,
    /// Owner username.
    pub username: String,
    /// Owner e-mail.
    pub email: String,
    /// Owner active flag.
    pub is_active: bool,
    /// OAuth2 scope (`read` or `write`).
    pub scope: String,
}

/// The token whose key hashes to `key_hash`, with its owner.
pub async fn principal_by_key_hash(
    store: &Store,
    key_hash: &str,
) -> Result<Option<TokenPrincipalRow>, StoreError> {
    let mut sql = Sql::new(
        "SELECT t.id AS token_id, t.intent, t.expires, t.expiring, u.id AS user_id, u.username, u.email, u.is_active, t.scope \
         FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.key_hash = ",
    );
    sql.bind(key_hash);
    store.fetch_optional(&sql).await
}

// ------------------------------------------------------------------ the tokens resource

use super::filter::{self, Schema};
use crate::query::filter::Direction;
use crate::query::tokens::{TokenField, TokenFilter, TokenRel, TokenSort};

/// One row of `tokens` (the sealed key included; never the key itself).
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct TokenRow {
    /// Integer id (AWX's view).
    pub id: i64,
    /// UUID (authentik's pk).
    pub uuid: String,
    /// Unique slug.
    pub identifier: String,
    /// sha256 hex of the key.
    pub key_hash: String,
    /// Sealed key.
    pub key_sealed: String,
    /// Intent.
    pub intent: String,
    /// Owner id.
    pub user_id: i64,
    /// Description.
    pub description: String,
    /// Expiry (µs).
    pub expires: Option<i64>,
    /// Whether the expiry applies.
    pub expiring: bool,
    /// Managed marker.
    pub managed: Option<String>,
    /// Creation time (µs).
    pub created: i64,
    /// Owner username (joined).
    pub username: String,
    /// OAuth2 scope.
    pub scope: String,
}

const TOKEN_COLUMNS: &str =
    "t.id, t.uuid, t.identifier, t.key_hash, t.key_sealed, t.intent, t.user_id, t.description, \
    t.expires, t.expiring, t.managed, t.created, u.username, t.scope";

/// `TOKEN_COLUMNS` for a `RETURNING` clause (no join there: the owner's name by subquery;
/// SQLite lets it name the table but not an alias).
const TOKEN_RETURNING: &str = "tokens.id, tokens.uuid, tokens.identifier, tokens.key_hash, \
    tokens.key_sealed, tokens.intent, tokens.user_id, tokens.description, tokens.expires, \
    tokens.expiring, tokens.managed, tokens.created, \
    (SELECT u.username FROM users u WHERE u.id = tokens.user_id) AS username, tokens.scope";

struct TokenSchema;

impl Schema for TokenSchema {
    type Field = TokenField;
    type Rel = TokenRel;

    fn column(field: &TokenField) -> &'static str {
        match field {
            TokenField::Id => "t.id",
            TokenField::Uuid => "t.uuid",
            TokenField::Identifier => "t.identifier",
            TokenField::Intent => "t.intent",
            TokenField::UserId => "t.user_id",
            TokenField::Username => "u.username",
            TokenField::Description => "t.description",
            TokenField::Expires => "t.expires",
            TokenField::Expiring => "t.expiring",
            TokenField::Managed => "t.managed",
        }
    }

    type Context = ();

    fn relation(rel: &TokenRel, _dialect: super::Dialect, _context: &(), _out: &mut Sql) {
        match *rel {}
    }
}

/// Number of tokens matching `filter`.
pub async fn count(store: &Store, filter: &TokenFilter) -> Result<i64, StoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM tokens t JOIN users u ON u.id = t.user_id WHERE ");
    filter::compile::<TokenSchema>(filter, store.dialect(), &(), &mut sql);
    store.fetch_scalar_i64(&sql).await
}

/// One page of tokens matching `filter`.
pub async fn page(
    store: &Store,
    filter: &TokenFilter,
    sort: &[(TokenSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<TokenRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(TOKEN_COLUMNS)
        .push(" FROM tokens t JOIN users u ON u.id = t.user_id WHERE ");
    filter::compile::<TokenSchema>(filter, store.dialect(), &(), &mut sql);
    let keys: Vec<(String, Direction)> = sort
        .iter()
        .map(|(TokenSort::Field(f), d)| (TokenSchema::column(f).to_string(), *d))
        .collect();
    filter::order_by(&mut sql, &keys, "t.id ASC");
    sql.push(" LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    store.fetch_all(&sql).await
}

/// The token with this identifier.
pub async fn by_identifier<R: Reader>(
    db: &mut R,
    identifier: &str,
) -> Result<Option<TokenRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(TOKEN_COLUMNS)
        .push(" FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.identifier = ")
        .bind(identifier);
    db.fetch_optional(&sql).await
}

/// The token with this integer id.
pub async fn by_id<R: Reader>(db: &mut R, id: i64) -> Result<Option<TokenRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(TOKEN_COLUMNS)
        .push(" FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ")
        .bind(id);
    db.fetch_optional(&sql).await
}

/// Whether another token (not `except`) uses this value in a unique column.
pub async fn taken<R: Reader>(
    db: &mut R,
    column: TokenUnique,
    value: &str,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(match column {
        TokenUnique::Identifier => "SELECT COUNT(*) FROM tokens WHERE identifier = ",
        TokenUnique::Managed => "SELECT COUNT(*) FROM tokens WHERE managed = ",
        TokenUnique::KeyHash => "SELECT COUNT(*) FROM tokens WHERE key_hash = ",
    });
    sql.bind(value);
    if let Some(id) = except {
        sql.push(" AND id <> ").bind(id);
    }
    Ok(db.fetch_scalar_i64(&sql).await? > 0)
}

/// The unique columns of `tokens`.
#[derive(Debug, Clone, Copy)]
pub enum TokenUnique {
    /// `identifier`.
    Identifier,
    /// `managed`.
    Managed,
    /// `key_hash`.
    KeyHash,
}

/// Column changes of a token; `None` leaves one alone.
#[derive(Debug, Clone, Default)]
pub struct TokenUpdate {
    /// New identifier.
    pub identifier: Option<String>,
    /// New intent.
    pub intent: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New expiry.
    pub expires: Option<Option<i64>>,
    /// New expiring flag.
    pub expiring: Option<bool>,
    /// New managed marker.
    pub managed: Option<Option<String>>,
    /// New key: (hash, sealed).
    pub key: Option<(String, String)>,
}

/// Applies `changes` to token `id`; the row as it now stands, or `None` when it is gone.
pub async fn update(
    tx: &mut Tx,
    id: i64,
    changes: &TokenUpdate,
) -> Result<Option<TokenRow>, StoreError> {
    let mut sql = Sql::new("UPDATE tokens SET id = id");
    if let Some(v) = &changes.identifier {
        sql.push(", identifier = ").bind(v);
    }
    if let Some(v) = &changes.intent {
        sql.push(", intent = ").bind(v);
    }
    if let Some(v) = &changes.description {
        sql.push(", description = ").bind(v);
    }
    if let Some(v) = changes.expires {
        sql.push(", expires = ").bind(v);
    }
    if let Some(v) = changes.expiring {
        sql.push(", expiring = ").bind(v);
    }
    if let Some(v) = &changes.managed {
        sql.push(", managed = ").bind(v.clone());
    }
    if let Some((hash, sealed)) = &changes.key {
        sql.push(", key_hash = ")
            .bind(hash)
            .push(", key_sealed = ")
            .bind(sealed);
    }
    sql.push(" WHERE id = ")
        .bind(id)
        .push(" RETURNING ")
        .push(TOKEN_RETURNING);
    tx.fetch_optional(&sql).await
}

/// Deletes token `id`.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<u64, StoreError> {
    let mut sql = Sql::new("DELETE FROM tokens WHERE id = ");
    sql.bind(id);
    tx.execute(&sql).await
}

/// Whether a token with this uuid exists.
pub async fn uuid_exists<R: Reader>(db: &mut R, uuid: &str) -> Result<bool, StoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM tokens WHERE uuid = ");
    sql.bind(uuid);
    Ok(db.fetch_scalar_i64(&sql).await? > 0)
}

/// The token with this uuid.
pub async fn by_uuid<R: Reader>(db: &mut R, uuid: &str) -> Result<Option<TokenRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(TOKEN_COLUMNS)
        .push(" FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.uuid = ")
        .bind(uuid);
    db.fetch_optional(&sql).await
}
