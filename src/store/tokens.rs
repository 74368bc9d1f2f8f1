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
}

/// Inserts a token, returning its id.
pub async fn insert(tx: &mut Tx, token: &NewToken) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        "INSERT INTO tokens (uuid, identifier, key_hash, key_sealed, intent, user_id, description, \
         expires, expiring, managed, created) VALUES (",
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
#[derive(Debug, Clone, sqlx::FromRow)]
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
    /// Owner active flag.
    pub is_active: bool,
}

/// The token whose key hashes to `key_hash`, with its owner.
pub async fn principal_by_key_hash(
    store: &Store,
    key_hash: &str,
) -> Result<Option<TokenPrincipalRow>, StoreError> {
    let mut sql = Sql::new(
        "SELECT t.id AS token_id, t.intent, t.expires, t.expiring, u.id AS user_id, u.username, u.is_active \
         FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.key_hash = ",
    );
    sql.bind(key_hash);
    store.fetch_optional(&sql).await
}
