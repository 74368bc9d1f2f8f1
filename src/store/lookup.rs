//! SQLite point lookups on synchronous read connections. A lookup reads a few rows through an
//! index (a user by id, a token by identifier, one page's memberships); through sqlx-sqlite each
//! such statement is a round trip to its connection's worker thread, a hand-off each way that
//! costs more than the lookup. Here the calling task runs the statement on its own thread, on a
//! connection from a small pool of rusqlite connections (same library, same settings as the
//! read pool, and `query_only`). Lists, counts and searches, which may read many pages, stay on
//! the sqlx pool, off the async threads.
//!
//! A connection is only held for the duration of one synchronous call, never across an await,
//! so the pool holds about as many connections as threads that look up at once.

use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};
use serde::de::DeserializeOwned;

use super::writer::{self, WriterConfig};
use super::{Sql, StoreError};

/// Idle connections kept for reuse; more are opened when more threads look up at once.
const IDLE_CONNECTIONS: usize = 8;

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;

/// The pool of synchronous read connections to one database file.
pub struct Lookups {
    config: WriterConfig,
    idle: Mutex<Vec<Connection>>,
}

impl Lookups {
    /// A pool over the database file `config` names; connections open on first use.
    pub fn new(config: WriterConfig) -> Lookups {
        Lookups {
            config,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs a lookup and decodes every row.
    pub fn fetch_all<T: DeserializeOwned>(&self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        self.with(|conn| writer::fetch(conn, sql, usize::MAX))
    }

    /// Runs a lookup and decodes the first row, if any.
    pub fn fetch_optional<T: DeserializeOwned>(&self, sql: &Sql) -> Result<Option<T>, StoreError> {
        self.with(|conn| writer::fetch_optional(conn, sql))
    }

    /// Runs a lookup returning one integer.
    pub fn fetch_scalar_i64(&self, sql: &Sql) -> Result<i64, StoreError> {
        self.with(|conn| writer::fetch_scalar_i64(conn, sql))
    }

    /// Closes the idle connections.
    pub fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// Runs `work` on an idle connection (or a new one) and puts the connection back.
    fn with<R>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(conn) => conn,
            None => open(&self.config)?,
        };
        let result = work(&conn);
        // A statement that failed ended its own (autocommit) read: the connection is reusable.
        if conn.is_autocommit() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < IDLE_CONNECTIONS {
                    idle.push(conn);
                }
            }
        }
        result
    }
}

/// Opens a read connection with the read pool's settings: the busy timeout, temp data in
/// memory, stable query plans, and `query_only` (a lookup can never write).
fn open(config: &WriterConfig) -> Result<Connection, StoreError> {
    writer::connect(
        config,
        OpenFlags::empty(),
        "PRAGMA temp_store = MEMORY; PRAGMA query_only = 1;",
        STATEMENT_CACHE,
    )
}
