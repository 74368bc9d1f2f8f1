//! Readiness of the database: it answers a query and, on SQLite, takes a write. A full disk or
//! an unwritable file leaves reads working, so a read alone would call such a server ready.

use std::time::Duration;

use super::{Pools, Store, StoreError};

/// How long the write probe waits for the single SQLite writer. A writer busy for longer is
/// serving writes, which answer for themselves.
const WRITER_WAIT: Duration = Duration::from_millis(500);

/// Why the database is not ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// Queries fail: the database is down or out of reach.
    #[error("the database does not answer: {0}")]
    Unreachable(StoreError),
    /// Reads work but a write does not commit (disk full, read-only or failing storage).
    #[error("the database cannot store changes: {0}")]
    Unwritable(StoreError),
}

/// Checks that the database answers and (SQLite) that a write commits.
pub async fn ready(store: &Store) -> Result<(), NotReady> {
    if let Err(error) = store.ping().await {
        return Err(NotReady::Unreachable(why_unreachable(store, error).await));
    }
    if let Pools::Sqlite { .. } = store.pools() {
        // Through the write gate, as every write: a group commit like any other.
        let Ok(begun) = tokio::time::timeout(WRITER_WAIT, store.begin()).await else {
            return Ok(());
        };
        probe_write(begun.map_err(NotReady::Unwritable)?)
            .await
            .map_err(NotReady::Unwritable)?;
    }
    Ok(())
}

/// A pool that gave up waiting only says "timed out"; one direct connection attempt says why
/// (connection refused, authentication failed, the database is shutting down, …).
async fn why_unreachable(store: &Store, error: StoreError) -> StoreError {
    let Pools::Postgres(pool) = store.pools() else {
        return error;
    };
    let options = pool.connect_options();
    let attempt = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::Connection::connect_with(options.as_ref()),
    )
    .await;
    let first = match &error {
        StoreError::Unavailable(message) => message.clone(),
        other => other.to_string(),
    };
    match attempt {
        Ok(Err(cause)) => StoreError::Unavailable(format!("{first}; connecting: {cause}")),
        Ok(Ok(conn)) => {
            let _: sqlx::PgConnection = conn;
            error
        }
        Err(_) => StoreError::Unavailable(format!("{first}; connecting: no answer within 2 s")),
    }
}

/// A real page write committed with the same durability as every other write: flips the low
/// bit of the header's `user_version`, which nothing else uses. (Rewriting a row with its own
/// value would not do: SQLite skips writing identical bytes.)
async fn probe_write(mut tx: super::Tx) -> Result<(), StoreError> {
    let version = tx
        .fetch_scalar_i64(&super::Sql::new("PRAGMA user_version"))
        .await?;
    tx.execute(&super::Sql::new(&format!(
        "PRAGMA user_version = {}",
        version ^ 1
    )))
    .await?;
    // Nothing cached depends on it.
    tx.touches(super::Touched::NONE);
    tx.commit().await
}
