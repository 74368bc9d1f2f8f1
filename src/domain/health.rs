//! Whether the directory can serve: its database answers and, where a write can fail while
//! reads work (SQLite), takes a write.

use crate::store::health as store_health;
use crate::store::Store;

/// Why the directory cannot serve now; each holds the storage layer's account of it.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// Queries fail: the database is down or out of reach.
    #[error("the database does not answer: {0}")]
    Unreachable(String),
    /// Reads work but a write does not commit (disk full, read-only or failing storage).
    #[error("the database cannot store changes: {0}")]
    Unwritable(String),
}

/// Checks that the directory's database answers and takes writes.
pub async fn ready(store: &Store) -> Result<(), NotReady> {
    store_health::ready(store).await.map_err(|err| match err {
        store_health::NotReady::Unreachable(cause) => NotReady::Unreachable(cause.to_string()),
        store_health::NotReady::Unwritable(cause) => NotReady::Unwritable(cause.to_string()),
    })
}
