//! SQLite's write connection, driven synchronously. Every write transaction holds the single
//! writer for all of its statements, so a round trip to a driver thread per statement (what
//! sqlx-sqlite does) is paid while every other writer waits. Here the member's own task runs
//! each statement on the calling thread: microseconds of SQLite work, no thread switch. Only
//! what may block on the disk or on another process (`BEGIN IMMEDIATE` under contention,
//! `COMMIT`'s fsync, opening the file) goes to the blocking pool; see `gate`.
//!
//! Statements are the same `Sql` text (`$n` placeholders) every backend runs; rows decode into
//! the same `Record` types, through serde.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, Visitor};

use super::{Arg, Sql, StoreError};

/// How long a write waits for a lock another connection holds (the same as the pools').
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection (every distinct statement text the write paths use,
/// with room to spare).
const STATEMENT_CACHE: usize = 512;

/// Where the write connection opens, and how.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// The database file.
    pub path: PathBuf,
}

impl WriterConfig {
    /// The database's write-ahead log (SQLite names it after the database file).
    pub fn wal_path(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push("-wal");
        PathBuf::from(name)
    }
}

/// Turns on SQLite's query planner stability guarantee for a connection of the sqlx pools.
///
/// Without it SQLite re-plans (re-parses and re-optimises) a cached statement every time it is
/// run with new arguments whenever the plan could depend on them: an equality on a column with
/// `sqlite_stat4` samples (which `ANALYZE` writes), or a `LIKE` with a bound pattern. That was
/// a fifth of the server's CPU under a token PATCH load. With it, a statement keeps the plan it
/// was prepared with (chosen from the table statistics, not from one set of values).
#[allow(unsafe_code)]
pub fn enable_stable_plans(
    db: std::ptr::NonNull<rusqlite::ffi::sqlite3>,
) -> Result<(), StoreError> {
    // SAFETY: `db` is an open connection handle its caller holds exclusively for the duration
    // of the call (sqlx's locked handle); SQLITE_DBCONFIG_ENABLE_QPSG takes an int (the new
    // setting) and an int pointer for the old one, which may be null.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_db_config(
            db.as_ptr(),
            rusqlite::ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::os::raw::c_int,
            std::ptr::null_mut::<std::os::raw::c_int>(),
        )
    };
    if rc == rusqlite::ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(StoreError::Other(format!(
            "enabling the query planner stability guarantee failed ({rc})"
        )))
    }
}

/// The write connection, and the length of its write-ahead log after its last commit.
pub struct WriteConnection {
    // Declared first so it is dropped first: the connection's log hook points at the counter.
    conn: Connection,
    log_frames: Box<AtomicU64>,
}

impl std::ops::Deref for WriteConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl WriteConnection {
    /// Pages in the write-ahead log after the last commit (0 after the log restarted).
    pub fn log_frames(&self) -> u64 {
        self.log_frames.load(Ordering::Relaxed)
    }
}

/// Pages appended to the log after which a checkpoint runs beside the writer (SQLite's own
/// automatic threshold).
pub const CHECKPOINT_FRAMES: u64 = 1000;

/// Pages in the log at which a commit is followed by a checkpoint while the writer is still
/// held. Checkpoints beside the writer copy the log while new commits append to it, so under a
/// steady write load the log never gets copied entirely and cannot start over; this one can.
/// Most of the log has been copied by then, so it is short.
pub const RESTART_FRAMES: u64 = 8000;

/// Copies the log into the database file as far as readers allow (`PASSIVE`; if another
/// checkpoint is running it does nothing): syncs the log, writes its pages into the database,
/// syncs the database. Blocks on the disk.
pub fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .map_err(map_error)
}

/// Opens a connection for checkpoints beside the writer (it never writes rows).
pub fn open_checkpointer(config: &WriterConfig) -> Result<Connection, StoreError> {
    connect(config, OpenFlags::empty(), "PRAGMA synchronous = FULL;", 0)
}

/// Opens a synchronous connection to the database file with what every such connection shares:
/// no per-connection mutex (one thread uses it at a time), the busy timeout, stable query plans
/// (see `enable_stable_plans`) and a cache of `statements` prepared statements; then runs
/// `pragmas`. `flags` adds to read-write (e.g. `SQLITE_OPEN_CREATE`).
pub fn connect(
    config: &WriterConfig,
    flags: OpenFlags,
    pragmas: &str,
    statements: usize,
) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        Path::new(&config.path),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | flags,
    )
    .map_err(map_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_error)?;
    conn.execute_batch(pragmas).map_err(map_error)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(map_error)?;
    conn.set_prepared_statement_cache_capacity(statements);
    Ok(conn)
}

/// Records the log's length after every commit in `frames`. Registering a log hook turns
/// SQLite's automatic checkpoint off: the gate checkpoints (`checkpoint`) where it chooses.
#[allow(unsafe_code)]
fn count_log_frames(conn: &Connection, frames: &AtomicU64) {
    unsafe extern "C" fn hook(
        counter: *mut std::os::raw::c_void,
        _db: *mut rusqlite::ffi::sqlite3,
        _name: *const std::os::raw::c_char,
        frames: std::os::raw::c_int,
    ) -> std::os::raw::c_int {
        // SAFETY: `counter` is the `AtomicU64` registered below, which outlives the connection
        // (`WriteConnection` drops the connection first).
        let counter = unsafe { &*(counter as *const AtomicU64) };
        counter.store(u64::try_from(frames).unwrap_or(0), Ordering::Relaxed);
        rusqlite::ffi::SQLITE_OK
    }
    // SAFETY: the handle is this open connection's; the hook only stores into `frames`, whose
    // address stays valid for the connection's life (see `WriteConnection`).
    unsafe {
        rusqlite::ffi::sqlite3_wal_hook(
            conn.handle(),
            Some(hook),
            frames as *const AtomicU64 as *mut std::os::raw::c_void,
        );
    }
}

/// Turns off SQLite's process-wide memory statistics, which take one global mutex around every
/// allocation SQLite makes: with several threads reading at once that lock was ≈ 8 % of the
/// server's CPU. Call it before the first connection opens; afterwards SQLite refuses it
/// (`SQLITE_MISUSE`) and nothing changes. Nothing in gatehouse reads those statistics.
#[allow(unsafe_code)]
pub fn disable_memory_statistics() {
    // SAFETY: `SQLITE_CONFIG_MEMSTATUS` takes exactly one int argument. Before SQLite is
    // initialised no other thread uses it (the caller runs first in `main`); after, SQLite
    // rejects the call without touching its state.
    unsafe {
        rusqlite::ffi::sqlite3_config(
            rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
            0 as std::os::raw::c_int,
        );
    }
}

/// Opens the write connection: WAL (already the file's mode), foreign keys on, the busy
/// timeout, temp data in memory, and stable query plans (see `enable_stable_plans`).
///
/// `synchronous=NORMAL`: a `COMMIT` writes its frames to the log without waiting for the disk,
/// and the gate makes them durable with `sync_wal` before it answers anyone (so the fsync does
/// not hold the writer). Checkpoints still sync the log before copying it into the database and
/// the database after, so frames never leave the log before they are on disk.
pub fn open(config: &WriterConfig) -> Result<WriteConnection, StoreError> {
    let conn = connect(
        config,
        OpenFlags::SQLITE_OPEN_CREATE,
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA temp_store = MEMORY;",
        STATEMENT_CACHE,
    )?;
    let log_frames = Box::new(AtomicU64::new(0));
    count_log_frames(&conn, &log_frames);
    Ok(WriteConnection { conn, log_frames })
}

/// Applies the search-index changes the group's writes queued (migration 0007) and empties
/// the queue: one FTS5 flush per group commit instead of one per write. Runs inside the group's
/// transaction, right before its `COMMIT`.
///
/// Only the net change per user is applied: the text indexed before the group (its first queued
/// change, if that is a removal) comes out, the text after it (its last, if that is an
/// addition) goes in, in ascending user order. FTS5 flushes its pending changes to a new
/// segment whenever a write goes to a lower row id than the one before, so this order keeps
/// the whole group in one segment.
pub fn apply_search_queue(conn: &Connection) -> Result<(), StoreError> {
    for index in SEARCH_INDEXES {
        conn.prepare_cached(&format!(
            "INSERT INTO {index} ({index}, rowid, search_text) \
             SELECT command, user_id, search_text FROM ( \
               SELECT 'delete' AS command, q.user_id, q.search_text, 0 AS step \
                 FROM users_search_queue q \
                WHERE q.command = 'delete' AND q.seq = \
                      (SELECT MIN(f.seq) FROM users_search_queue f WHERE f.user_id = q.user_id) \
               UNION ALL \
               SELECT NULL, q.user_id, q.search_text, 1 \
                 FROM users_search_queue q \
                WHERE q.command IS NULL AND q.seq = \
                      (SELECT MAX(l.seq) FROM users_search_queue l WHERE l.user_id = q.user_id) \
             ) ORDER BY user_id, step"
        ))
        .and_then(|mut stmt| stmt.execute([]))
        .map_err(map_error)?;
    }
    let queued = conn
        .prepare_cached("DELETE FROM users_search_queue")
        .and_then(|mut stmt| stmt.execute([]))
        .map_err(map_error)?;
    if queued > 0 {
        // FTS5's own merging (off since migration 0014) did its work in bursts: every 64 pages
        // written, 64 pages per level of merging in one commit — 20–75 ms at 1M users, once
        // every few dozen writes, the whole p99 of single writes. Here each group merges a few
        // pages in step with what it wrote. A step still finishes the term it is in (a list of
        // up to 2,500 pages in a bulk-loaded segment of 1M users), so levels are merged 16
        // segments at a time (migration 0015): such a segment is merged again only after ~1M
        // groups, not after a few thousand.
        let pages = (queued * MERGE_PAGES_PER_CHANGE).clamp(MERGE_PAGES_MIN, MERGE_PAGES_MAX);
        for index in SEARCH_INDEXES {
            conn.prepare_cached(&format!(
                "INSERT INTO {index} ({index}, rank) VALUES ('merge', ?1)"
            ))
            .and_then(|mut stmt| stmt.execute([pages as i64]))
            .map_err(map_error)?;
        }
    }
    Ok(())
}

/// Pages of search index segments merged after a group, per user whose indexed text changed
/// (a change writes well under a page to each index; merging keeps ahead of it at every level).
const MERGE_PAGES_PER_CHANGE: usize = 4;
/// The least and most pages merged after a group that changed the search indexes.
const MERGE_PAGES_MIN: usize = 16;
const MERGE_PAGES_MAX: usize = 256;

/// The FTS5 indexes over `users.search_text`: trigrams (migration 0006) and words (0010).
pub const SEARCH_INDEXES: [&str; 2] = ["users_search", "users_words"];

/// Makes everything written to the write-ahead log so far durable (`fdatasync`, as SQLite's
/// own sync on Linux): every commit that returned before this call started is then on disk.
/// Blocks on the disk; run it on the blocking pool.
pub fn sync_wal(config: &WriterConfig) -> Result<(), StoreError> {
    let path = config.wal_path();
    std::fs::File::open(&path)
        .and_then(|file| file.sync_data())
        .map_err(|e| StoreError::Unavailable(format!("syncing {}: {e}", path.display())))
}

/// Runs statements without arguments (transaction control).
pub fn batch(conn: &Connection, text: &str) -> Result<(), StoreError> {
    conn.execute_batch(text).map_err(map_error)
}

/// Runs a statement, returning the number of rows it changed.
pub fn execute(conn: &Connection, sql: &Sql) -> Result<u64, StoreError> {
    let mut stmt = prepare(conn, sql)?;
    let changed = stmt.raw_execute().map_err(map_error)?;
    Ok(changed as u64)
}

/// Runs a query and decodes up to `limit` rows.
pub fn fetch<T: DeserializeOwned>(
    conn: &Connection,
    sql: &Sql,
    limit: usize,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = prepare(conn, sql)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while out.len() < limit {
        match rows.next().map_err(map_error)? {
            Some(row) => out.push(T::deserialize(RowDeserializer { row })?),
            None => break,
        }
    }
    Ok(out)
}

/// Runs a query and decodes its first row, if any.
pub fn fetch_optional<T: DeserializeOwned>(
    conn: &Connection,
    sql: &Sql,
) -> Result<Option<T>, StoreError> {
    Ok(fetch(conn, sql, 1)?.pop())
}

/// Runs a query returning one integer (its first column of its first row).
pub fn fetch_scalar_i64(conn: &Connection, sql: &Sql) -> Result<i64, StoreError> {
    let mut stmt = prepare(conn, sql)?;
    let mut rows = stmt.raw_query();
    match rows.next().map_err(map_error)? {
        Some(row) => row.get::<_, i64>(0).map_err(map_error),
        None => Err(StoreError::Other("query returned no rows".into())),
    }
}

/// How many virtual-machine steps SQLite takes to run a read statement to its end, on a
/// statement prepared afresh (the measure `Store::cost` reports).
pub fn vm_steps(conn: &Connection, sql: &Sql) -> Result<u64, StoreError> {
    let mut stmt = prepare(conn, sql)?;
    stmt.reset_status(rusqlite::StatementStatus::VmStep);
    let mut rows = stmt.raw_query();
    while rows.next().map_err(map_error)?.is_some() {}
    drop(rows);
    Ok(stmt.get_status(rusqlite::StatementStatus::VmStep).max(0) as u64)
}

/// The cached prepared statement for `sql`, with its arguments bound by placeholder number.
fn prepare<'c>(
    conn: &'c Connection,
    sql: &Sql,
) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
    let mut stmt = conn.prepare_cached(sql.text()).map_err(map_error)?;
    // `$n` names its argument; an anonymous `?` (the bulk path) takes the next one.
    let mut anonymous = 0;
    for index in 1..=stmt.parameter_count() {
        let number: usize = match stmt.parameter_name(index) {
            None => {
                anonymous += 1;
                anonymous
            }
            Some(name) => name
                .strip_prefix('$')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| StoreError::Other(format!("unsupported placeholder {name}")))?,
        };
        // An argument past the end stays NULL, as sqlx leaves it.
        let Some(arg) = number.checked_sub(1).and_then(|i| sql.args.get(i)) else {
            continue;
        };
        let bound = match arg {
            Arg::Int(v) => stmt.raw_bind_parameter(index, v),
            Arg::Text(v) => stmt.raw_bind_parameter(index, v.as_deref()),
            Arg::Bool(v) => stmt.raw_bind_parameter(index, i64::from(*v)),
        };
        bound.map_err(map_error)?;
    }
    Ok(stmt)
}

/// SQLite's error codes mapped as `From<sqlx::Error>` maps them for the pools: unique
/// violations name `table.column`; busy, locked, read-only, I/O, full and can't-open are
/// transient (503); the rest are errors.
pub fn map_error(err: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &err {
        let message = message.clone().unwrap_or_else(|| failure.to_string());
        let extended = failure.extended_code;
        // SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555).
        if extended == 2067 || extended == 1555 {
            return StoreError::Unique(super::unique_target_of_sqlite_message(&message));
        }
        if matches!(extended & 0xff, 5 | 6 | 8 | 10 | 13 | 14) {
            return StoreError::Unavailable(message);
        }
        return StoreError::Other(format!("error returned from database: {message}"));
    }
    StoreError::Other(err.to_string())
}

impl de::Error for StoreError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        StoreError::Other(format!("decoding a row: {msg}"))
    }
}

/// A row as a map from column name to value, for a `Record`'s derived `Deserialize`.
struct RowDeserializer<'r, 's> {
    row: &'r rusqlite::Row<'s>,
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'_, '_> {
    type Error = StoreError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StoreError> {
        visitor.visit_map(Columns {
            row: self.row,
            count: self.row.as_ref().column_count(),
            next: 0,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The columns of one row, in order.
struct Columns<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    count: usize,
    next: usize,
}

impl<'de> MapAccess<'de> for Columns<'_, '_> {
    type Error = StoreError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, StoreError> {
        if self.next >= self.count {
            return Ok(None);
        }
        let name = self
            .row
            .as_ref()
            .column_name(self.next)
            .map_err(map_error)?;
        seed.deserialize(name.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, StoreError> {
        let value = self.row.get_ref(self.next).map_err(map_error)?;
        self.next += 1;
        seed.deserialize(Value(value))
    }
}

/// One column's value. Conversions follow SQLite's own (and sqlx's): integers read as booleans,
/// numbers as text where text is wanted.
struct Value<'v>(ValueRef<'v>);

impl<'de> de::Deserializer<'de> for Value<'_> {
    type Error = StoreError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StoreError> {
        match self.0 {
            ValueRef::Null => visitor.visit_unit(),
            ValueRef::Integer(i) => visitor.visit_i64(i),
            ValueRef::Real(f) => visitor.visit_f64(f),
            ValueRef::Text(t) => visitor.visit_str(text(t)?),
            ValueRef::Blob(b) => visitor.visit_bytes(b),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StoreError> {
        match self.0 {
            ValueRef::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StoreError> {
        match self.0 {
            ValueRef::Integer(i) => visitor.visit_bool(i != 0),
            ValueRef::Real(f) => visitor.visit_bool(f != 0.0),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StoreError> {
        match self.0 {
            ValueRef::Real(f) => visitor.visit_i64(f as i64),
            ValueRef::Text(t) => match text(t)?.trim().parse::<i64>() {
                Ok(i) => visitor.visit_i64(i),
                Err(_) => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StoreError> {
        match self.0 {
            ValueRef::Integer(i) => visitor.visit_string(i.to_string()),
            ValueRef::Real(f) => visitor.visit_string(f.to_string()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StoreError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, StoreError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

fn text(bytes: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(bytes).map_err(|e| StoreError::Other(format!("decoding a row: {e}")))
}
