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

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use serde::de::DeserializeOwned;

use super::trace::StatementTrace;
use super::writer::{self, WriterConfig};
use super::{Sql, StoreError};

/// Idle connections kept for reuse; more are opened when more threads look up at once.
const IDLE_CONNECTIONS: usize = 8;

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;

/// The pool of synchronous read connections to one database file.
pub struct Lookups {
    config: WriterConfig,
    trace: Arc<StatementTrace>,
    idle: Mutex<Vec<Connection>>,
}

impl Lookups {
    /// A pool over the database file `config` names; connections open on first use.
    pub fn new(config: WriterConfig, trace: Arc<StatementTrace>) -> Lookups {
        Lookups {
            config,
            trace,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs a lookup and decodes every row.
    pub fn fetch_all<T: DeserializeOwned>(&self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        self.trace.record(sql);
        self.with(|conn| writer::fetch(conn, sql, usize::MAX))
    }

    /// Runs a lookup and decodes the first row, if any.
    pub fn fetch_optional<T: DeserializeOwned>(&self, sql: &Sql) -> Result<Option<T>, StoreError> {
        self.trace.record(sql);
        self.with(|conn| writer::fetch_optional(conn, sql))
    }

    /// Runs a lookup returning one integer.
    pub fn fetch_scalar_i64(&self, sql: &Sql) -> Result<i64, StoreError> {
        self.trace.record(sql);
        self.with(|conn| writer::fetch_scalar_i64(conn, sql))
    }

    /// A connection holding one read transaction until the snapshot is dropped: every statement
    /// run through it sees the same commit (a row and its relations, say), and the transaction
    /// is begun and ended once instead of once per statement.
    pub fn snapshot(&self) -> Result<ReadTx<'_>, StoreError> {
        let conn = self.take()?;
        writer::execute(&conn, &Sql::new("BEGIN"))?;
        Ok(ReadTx {
            lookups: self,
            conn: Some(conn),
        })
    }

    /// Closes the idle connections.
    pub fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// Runs `work` on an idle connection (or a new one) and puts the connection back.
    pub(super) fn with_connection<R>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.with(work)
    }

    fn with<R>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let conn = self.take()?;
        let result = work(&conn);
        // A statement that failed ended its own (autocommit) read: the connection is reusable.
        self.give_back(conn);
        result
    }

    /// An idle connection, or a new one.
    fn take(&self) -> Result<Connection, StoreError> {
        match self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            Some(conn) => Ok(conn),
            None => open(&self.config),
        }
    }

    /// Keeps `conn` for reuse if no transaction is open on it and the pool has room.
    fn give_back(&self, conn: Connection) {
        if conn.is_autocommit() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < IDLE_CONNECTIONS {
                    idle.push(conn);
                }
            }
        }
    }
}

/// One read transaction on a lookup connection (see `Lookups::snapshot`); ended when dropped.
pub struct ReadTx<'a> {
    lookups: &'a Lookups,
    /// Taken back on drop.
    conn: Option<Connection>,
}

impl ReadTx<'_> {
    /// Runs a lookup and decodes every row.
    pub fn fetch_all<T: DeserializeOwned>(&self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        self.lookups.trace.record(sql);
        writer::fetch(self.conn()?, sql, usize::MAX)
    }

    /// Runs a lookup and decodes the first row, if any.
    pub fn fetch_optional<T: DeserializeOwned>(&self, sql: &Sql) -> Result<Option<T>, StoreError> {
        self.lookups.trace.record(sql);
        writer::fetch_optional(self.conn()?, sql)
    }

    /// Runs a lookup returning one integer.
    pub fn fetch_scalar_i64(&self, sql: &Sql) -> Result<i64, StoreError> {
        self.lookups.trace.record(sql);
        writer::fetch_scalar_i64(self.conn()?, sql)
    }

    fn conn(&self) -> Result<&Connection, StoreError> {
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("lookup snapshot already ended".into()))
    }
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection whose transaction did not end is closed rather than reused.
            if writer::execute(&conn, &Sql::new("COMMIT")).is_ok() {
                self.lookups.give_back(conn);
            }
        }
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
