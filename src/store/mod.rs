//! Persistence. SQLite and PostgreSQL differ here and only here: connection set-up, DDL
//! (the migrations), a few SQL fragments (`Dialect`) and the mapping of database errors.
//! Every query is written once as text with `$n` placeholders and runs on either backend.
//! This module never sees HTTP types and makes no business decisions. It sits below the domain:
//! it takes queries in `crate::query`'s words and never names `domain`, `api` or `auth`
//! (tests/layering.rs checks).

pub mod bulk;
pub mod events;
pub mod filter;
pub mod gate;
pub mod groups;
pub mod health;
pub mod import;
pub mod install;
pub mod lookup;
pub mod roles;
pub mod scim;
pub mod search;
pub mod sessions;
pub mod stats;
pub mod tokens;
pub mod trace;
pub mod users;
pub mod writer;

mod backup;
pub use backup::users_in_sqlite_file;
mod changes;
mod connection;
mod reader;
mod sql;
mod tx;

pub use changes::{Changes, Touched, CHANGES_CHANNEL};
pub use connection::{Pools, Store};
pub use reader::{Reader, Snapshot};
pub use sql::{Arg, Dialect, Record, Sql};
pub use tx::Tx;

/// Failures of the storage layer, named by what the caller can do about them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint rejected the write; holds `table.column`.
    #[error("unique constraint violated on {0}")]
    Unique(String),
    /// The database cannot be reached or is too busy to answer now.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database URL or options are unusable.
    #[error("invalid database configuration: {0}")]
    Config(String),
    /// Anything else: a bug or a corrupted database.
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() {
                    return StoreError::Unique(unique_target(db.as_ref()));
                }
                // SQLITE_BUSY (5) / SQLITE_LOCKED (6) and their extended codes, disk full (13),
                // read-only (8), I/O errors (10); PostgreSQL connection / resource classes.
                // Each test only for its own backend: PostgreSQL's SQLSTATEs are often numeric
                // too (22021, a NUL in text, has 5 as its low byte, like SQLITE_BUSY).
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                let is_sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
                let transient_sqlite = is_sqlite
                    && code
                        .parse::<i64>()
                        .map(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
                        .unwrap_or(false);
                let transient_pg = !is_sqlite
                    && (code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57")
                        || code == "40001"
                        || code == "40P01");
                if transient_sqlite || transient_pg {
                    StoreError::Unavailable(db.message().to_string())
                } else {
                    StoreError::Other(err.to_string())
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => StoreError::Unavailable(err.to_string()),
            sqlx::Error::Configuration(_) => StoreError::Config(err.to_string()),
            _ => StoreError::Other(err.to_string()),
        }
    }
}

/// Normalises a unique violation to `table.column` on both backends.
fn unique_target(db: &dyn sqlx::error::DatabaseError) -> String {
    match db.constraint() {
        Some(constraint) => unique_target_of_name(constraint),
        None => unique_target_of_sqlite_message(db.message()),
    }
}

/// A constraint or unique index named `<table>__<column>__key` in our migrations →
/// `table.column`. The folded-username index guards the username itself, so it is reported as
/// `users.username` (every door already words that conflict).
fn unique_target_of_name(name: &str) -> String {
    match name.strip_suffix("__key") {
        Some("users__username_folded") => "users.username".to_string(),
        Some(stripped) => stripped.replacen("__", ".", 1),
        None => name.to_string(),
    }
}

/// SQLite's "UNIQUE constraint failed: users.username" → `users.username`; a unique expression
/// index ("UNIQUE constraint failed: index 'users__username_folded__key'") by its name.
fn unique_target_of_sqlite_message(message: &str) -> String {
    let target = message
        .rsplit(": ")
        .next()
        .map(|s| s.split(',').next().unwrap_or(s).trim().to_string())
        .unwrap_or_else(|| message.to_string());
    match target
        .strip_prefix("index '")
        .and_then(|t| t.strip_suffix('\''))
    {
        Some(index) => unique_target_of_name(index),
        None => target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_name_the_column_on_both_backends() {
        assert_eq!(
            unique_target_of_sqlite_message("UNIQUE constraint failed: users.username"),
            "users.username"
        );
        assert_eq!(
            unique_target_of_sqlite_message(
                "UNIQUE constraint failed: index 'users__username_folded__key'"
            ),
            "users.username"
        );
        assert_eq!(
            unique_target_of_name("users__username_folded__key"),
            "users.username"
        );
        assert_eq!(unique_target_of_name("groups__name__key"), "groups.name");
    }
}
