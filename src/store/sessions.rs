//! Login sessions of the AWX dialect, stored server-side so every instance honours them.
//! Only a hash of the session key is stored.

use super::{Sql, Store, StoreError, Tx};

/// A live session.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct SessionRow {
    /// The user.
    pub user_id: i64,
    /// Expiry (µs).
    pub expires: i64,
}

/// Records a session.
pub async fn insert(
    tx: &mut Tx,
    key_hash: &str,
    user_id: i64,
    expires: i64,
    now: i64,
) -> Result<(), StoreError> {
    let mut sql = Sql::new("INSERT INTO sessions (key_hash, user_id, expires, created) VALUES (");
    sql.bind(key_hash)
        .push(", ")
        .bind(user_id)
        .push(", ")
        .bind(expires)
        .push(", ")
        .bind(now)
        .push(")");
    tx.execute(&sql).await?;
    Ok(())
}

/// The session with this key hash, if it has not expired.
pub async fn find(
    store: &Store,
    key_hash: &str,
    now: i64,
) -> Result<Option<SessionRow>, StoreError> {
    let mut sql = Sql::new("SELECT user_id, expires FROM sessions WHERE key_hash = ");
    sql.bind(key_hash).push(" AND expires > ").bind(now);
    store.fetch_optional(&sql).await
}

/// Moves a session's expiry (sliding expiry).
pub async fn extend(tx: &mut Tx, key_hash: &str, expires: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new("UPDATE sessions SET expires = ");
    sql.bind(expires).push(" WHERE key_hash = ").bind(key_hash);
    tx.execute(&sql).await?;
    Ok(())
}

/// Ends a session, and drops every expired one.
pub async fn delete(tx: &mut Tx, key_hash: &str, now: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new("DELETE FROM sessions WHERE key_hash = ");
    sql.bind(key_hash).push(" OR expires <= ").bind(now);
    tx.execute(&sql).await?;
    Ok(())
}

/// Ends every session of a user except the one with the `keep` hash; returns how many ended.
pub async fn delete_for_user(
    tx: &mut Tx,
    user_id: i64,
    keep: Option<&str>,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new("DELETE FROM sessions WHERE user_id = ");
    sql.bind(user_id);
    if let Some(keep) = keep {
        sql.push(" AND key_hash <> ").bind(keep);
    }
    tx.execute(&sql).await
}

/// The users holding at least one session, live or not yet swept.
pub async fn users_with_sessions(tx: &mut Tx) -> Result<Vec<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        user_id: i64,
    }
    let rows: Vec<IdRow> = tx
        .fetch_all(&Sql::new("SELECT DISTINCT user_id FROM sessions"))
        .await?;
    Ok(rows.into_iter().map(|r| r.user_id).collect())
}
