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
pub mod install;
pub mod lookup;
pub mod roles;
pub mod search;
pub mod sessions;
pub mod tokens;
pub mod users;
pub mod writer;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Arguments, FromRow};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

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
    if let Some(constraint) = db.constraint() {
        // PostgreSQL: constraints are named `<table>__<column>__key` in our migrations.
        if let Some(stripped) = constraint.strip_suffix("__key") {
            return stripped.replacen("__", ".", 1);
        }
        return constraint.to_string();
    }
    unique_target_of_sqlite_message(db.message())
}

/// SQLite's "UNIQUE constraint failed: users.username" → `users.username`.
fn unique_target_of_sqlite_message(message: &str) -> String {
    message
        .rsplit(": ")
        .next()
        .map(|s| s.split(',').next().unwrap_or(s).trim().to_string())
        .unwrap_or_else(|| message.to_string())
}

/// One bind value. Nulls are typed so PostgreSQL can infer parameter types.
#[derive(Debug, Clone)]
pub enum Arg {
    /// A 64-bit integer or NULL.
    Int(Option<i64>),
    /// A text value or NULL.
    Text(Option<String>),
    /// A boolean.
    Bool(bool),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// SQL text with `$n` placeholders and the values bound to them, built up piece by piece.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Starts a statement with fixed text.
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends fixed SQL text (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `($a, $b, …)` bound to `values`; an empty list becomes `(NULL)`, which matches nothing.
    pub fn bind_list<A: Into<Arg>>(&mut self, values: impl IntoIterator<Item = A>) -> &mut Self {
        self.text.push('(');
        let mut first = true;
        for v in values {
            if !first {
                self.text.push_str(", ");
            }
            first = false;
            self.bind(v);
        }
        if first {
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }

    /// Appends another fragment, renumbering its placeholders.
    pub fn append(&mut self, other: Sql) -> &mut Self {
        let offset = self.args.len();
        let mut out = String::with_capacity(other.text.len());
        let bytes = other.text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if end > start {
                    let n: usize = other.text[start..end].parse().unwrap_or(0);
                    out.push('$');
                    out.push_str(&(n + offset).to_string());
                    i = end;
                    continue;
                }
            }
            let ch_len = other.text[i..]
                .chars()
                .next()
                .map(|c| c.len_utf8())
                .unwrap_or(1);
            out.push_str(&other.text[i..i + ch_len]);
            i += ch_len;
        }
        self.text.push_str(&out);
        self.args.extend(other.args);
        self
    }

    /// Fixed text whose placeholders (`$1` …, possibly used more than once) take `args`.
    pub fn raw(text: &str, args: Vec<Arg>) -> Self {
        Sql {
            text: text.to_string(),
            args,
        }
    }

    /// The SQL text.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn sqlite_args(&self) -> Result<SqliteArguments<'static>, StoreError> {
        let mut out = SqliteArguments::default();
        for arg in &self.args {
            let res = match arg.clone() {
                Arg::Int(v) => out.add(v),
                Arg::Text(v) => out.add(v),
                Arg::Bool(v) => out.add(v),
            };
            res.map_err(|e| StoreError::Other(e.to_string()))?;
        }
        Ok(out)
    }

    fn pg_args(&self) -> Result<PgArguments, StoreError> {
        let mut out = PgArguments::default();
        for arg in &self.args {
            let res = match arg.clone() {
                Arg::Int(v) => out.add(v),
                Arg::Text(v) => out.add(v),
                Arg::Bool(v) => out.add(v),
            };
            res.map_err(|e| StoreError::Other(e.to_string()))?;
        }
        Ok(out)
    }
}

/// A row type that decodes from both backends (and, through serde, from SQLite's write
/// connection; see `writer`).
pub trait Record:
    for<'r> FromRow<'r, SqliteRow>
    + for<'r> FromRow<'r, PgRow>
    + serde::de::DeserializeOwned
    + Send
    + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow>
        + for<'r> FromRow<'r, PgRow>
        + serde::de::DeserializeOwned
        + Send
        + Unpin
{
}

/// SQL fragments that differ between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// What a committed write may have changed, so each cache drops only what the write could
/// affect. A transaction touches everything unless the domain narrows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touched(u8);

impl Touched {
    /// Nothing any cache derives from (e.g. only a token's description or an event).
    pub const NONE: Touched = Touched(0);
    /// What a principal is derived from: token keys, owners, intents and expiry; users' activity
    /// and names; memberships, superuser flags, parents, roles and grants.
    pub const AUTH: Touched = Touched(1);
    /// What users are rendered and counted from: users, groups and roles as the API shows them.
    pub const DIRECTORY: Touched = Touched(2);
    /// Everything (the default).
    pub const ALL: Touched = Touched(3);

    /// Both sets.
    pub fn and(self, other: Touched) -> Touched {
        Touched(self.0 | other.0)
    }

    /// Whether this set includes `topic`.
    pub fn includes(self, topic: Touched) -> bool {
        self.0 & topic.0 == topic.0
    }

    /// The set as the change feed carries it (a decimal digit).
    pub fn to_payload(self) -> String {
        self.0.to_string()
    }

    /// The set a change-feed payload names; anything unreadable means everything.
    pub fn from_payload(payload: &str) -> Touched {
        match payload.parse::<u8>() {
            Ok(bits) if bits <= Touched::ALL.0 => Touched(bits),
            _ => Touched::ALL,
        }
    }
}

/// Counts committed writes per topic, so caches of derived data (token → principal, rendered
/// users) know when they may be stale. On PostgreSQL every instance's counters also move when
/// another instance writes (LISTEN/NOTIFY); while that feed is down, `trustworthy` is false and
/// caches must not serve.
#[derive(Debug, Default)]
pub struct Changes {
    auth: AtomicU64,
    directory: AtomicU64,
    feed_down: AtomicBool,
}

impl Changes {
    /// The current write epoch of one topic (`Touched::AUTH` or `Touched::DIRECTORY`).
    pub fn epoch(&self, topic: Touched) -> u64 {
        if topic == Touched::AUTH {
            self.auth.load(Ordering::Acquire)
        } else {
            self.directory.load(Ordering::Acquire)
        }
    }

    /// Records that the topics in `touched` changed.
    pub fn bump(&self, touched: Touched) {
        if touched.includes(Touched::AUTH) {
            self.auth.fetch_add(1, Ordering::AcqRel);
        }
        if touched.includes(Touched::DIRECTORY) {
            self.directory.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Whether cached data may be served (false while another instance's writes could be missed).
    pub fn trustworthy(&self) -> bool {
        !self.feed_down.load(Ordering::Acquire)
    }

    /// Marks the cross-instance feed as up or down.
    pub fn set_feed_down(&self, down: bool) {
        self.feed_down.store(down, Ordering::Release);
        self.bump(Touched::ALL);
    }
}

/// The channel PostgreSQL instances announce committed writes on.
pub const CHANGES_CHANNEL: &str = "gatehouse_changes";

/// The database: the backend's pools plus the write-epoch every commit advances.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    changes: Arc<Changes>,
    /// SQLite: group commit over the single write connection.
    gate: Option<Arc<gate::WriteGate>>,
    /// SQLite: synchronous read connections for point lookups.
    lookups: Option<Arc<lookup::Lookups>>,
    /// SQLite: estimates that steer user search through the trigram index.
    search: Arc<search::TrigramStats>,
}

/// Which backend a database URL selects, and the pools to reach it.
#[derive(Clone)]
pub enum Pools {
    /// SQLite: many readers, one writer (SQLite serialises writes anyway; one connection avoids
    /// writers queueing on `busy_timeout`).
    Sqlite {
        /// Read-only work.
        read: SqlitePool,
        /// Every transaction that writes.
        write: SqlitePool,
    },
    /// PostgreSQL: one pool.
    Postgres(PgPool),
}

/// Runs `$body` with `$conn` bound to the right executor and `$args` to the right arguments.
macro_rules! on_backend {
    ($self:expr, $sql:expr, |$conn:ident, $args:ident| $body:expr, |$pconn:ident, $pargs:ident| $pbody:expr) => {
        match &$self.pools {
            Pools::Sqlite { read: $conn, .. } => {
                let $args = $sql.sqlite_args()?;
                $body
            }
            Pools::Postgres($pconn) => {
                let $pargs = $sql.pg_args()?;
                $pbody
            }
        }
    };
}

impl Store {
    /// Opens the database a URL names (`sqlite://PATH` or `postgres://…`) without migrating it.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(2))
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await?;
            Ok(Store {
                pools: Pools::Postgres(pool),
                changes: Arc::default(),
                gate: None,
                lookups: None,
                search: Arc::default(),
            })
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(StoreError::Config("sqlite URL without a path".into()));
            }
            let (file, _query) = path.split_once('?').unwrap_or((path, ""));
            if let Some(parent) = std::path::Path::new(file).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Config(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
            }
            let options = SqliteConnectOptions::new()
                .filename(file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk before the client hears 2xx, even across power loss.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .pragma("temp_store", "memory");
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                // No ping per acquire (a round trip per group commit); a failed connection is
                // discarded by the gate and by `before_acquire` below.
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                // A COMMIT that fails (disk full, I/O error) may leave sqlx's idea of the
                // transaction depth out of step with SQLite's: the next `BEGIN` would then be a
                // SAVEPOINT inside a transaction that never commits, and every later write would
                // be acknowledged and lost. Such a connection is closed, never reused; the pool
                // opens a fresh one.
                .before_acquire(|conn, _| {
                    Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
                })
                .connect_with(options.clone())
                .await?;
            // Before any read connection exists: each loads the statistics once, when it first
            // reads the schema.
            refresh_sqlite_statistics(&write).await?;
            let read = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        let mut handle = conn.lock_handle().await?;
                        writer::enable_stable_plans(handle.as_raw_handle())
                            .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))
                    })
                })
                // A ping per acquire would double the round trips of every read; a local file
                // connection does not go stale the way a network one does.
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options.read_only(false))
                .await?;
            let changes: Arc<Changes> = Arc::default();
            let config = writer::WriterConfig {
                path: std::path::PathBuf::from(file),
            };
            let lookups = lookup::Lookups::new(config.clone());
            let gate = gate::WriteGate::new(config, changes.clone());
            Ok(Store {
                pools: Pools::Sqlite { read, write },
                changes,
                gate: Some(Arc::new(gate)),
                lookups: Some(Arc::new(lookups)),
                search: Arc::default(),
            })
        } else {
            Err(StoreError::Config(format!(
                "database URL must start with sqlite:// or postgres:// (got {})",
                url.split("://").next().unwrap_or("")
            )))
        }
    }

    /// Settles the database after a bulk load: the query planner's statistics afresh (without
    /// them SQLite may read a 1M-user filter through an index that matches every row, then sort
    /// them all) and, on SQLite, the search index merged into one segment (a search reads each
    /// trigram's list once instead of once per segment) and the log checkpointed. On SQLite,
    /// connections opened before this keep the old statistics; the next start uses the new ones.
    pub async fn after_bulk_load(&self) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                sqlx::query("ANALYZE").execute(write).await?;
                for index in writer::SEARCH_INDEXES {
                    sqlx::query(&format!(
                        "INSERT INTO {index} ({index}) VALUES ('optimize')"
                    ))
                    .execute(write)
                    .await?;
                }
                // The rows sit in the write-ahead log, where every read has to look them up;
                // move them into the database file and empty the log.
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(write)
                    .await?;
            }
            Pools::Postgres(pool) => {
                sqlx::query("ANALYZE").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Sqlite { write, .. } => SQLITE_MIGRATOR
                .run(write)
                .await
                .map_err(|e| StoreError::Other(e.to_string())),
            Pools::Postgres(pool) => {
                // Several instances may start at once: the migrator takes an advisory lock.
                POSTGRES_MIGRATOR
                    .run(pool)
                    .await
                    .map_err(|e| StoreError::Other(e.to_string()))
            }
        }
    }

    /// The estimates that steer user search through SQLite's trigram index.
    pub fn search_stats(&self) -> &search::TrigramStats {
        &self.search
    }

    /// Which SQL dialect this store speaks.
    pub fn dialect(&self) -> Dialect {
        match self.pools {
            Pools::Sqlite { .. } => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The backend's pools.
    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// The write epoch shared with every transaction of this store.
    pub fn changes(&self) -> &Arc<Changes> {
        &self.changes
    }

    /// Answers whether the database responds.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.fetch_scalar_i64(&Sql::new("SELECT CAST(1 AS BIGINT)"))
            .await
            .map(|_| ())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { read, write } => {
                if let Some(lookups) = &self.lookups {
                    lookups.close();
                }
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }

    /// Runs a read query and decodes every row.
    pub async fn fetch_all<T: Record>(&self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        on_backend!(
            self,
            sql,
            |pool, args| Ok(sqlx::query_as_with::<_, T, _>(sql.text(), args)
                .fetch_all(pool)
                .await?),
            |pool, args| Ok(sqlx::query_as_with::<_, T, _>(sql.text(), args)
                .fetch_all(pool)
                .await?)
        )
    }

    /// Runs a read query and decodes the first row, if any.
    pub async fn fetch_optional<T: Record>(&self, sql: &Sql) -> Result<Option<T>, StoreError> {
        on_backend!(
            self,
            sql,
            |pool, args| Ok(sqlx::query_as_with::<_, T, _>(sql.text(), args)
                .fetch_optional(pool)
                .await?),
            |pool, args| Ok(sqlx::query_as_with::<_, T, _>(sql.text(), args)
                .fetch_optional(pool)
                .await?)
        )
    }

    /// Runs a read query returning one integer.
    pub async fn fetch_scalar_i64(&self, sql: &Sql) -> Result<i64, StoreError> {
        on_backend!(
            self,
            sql,
            |pool, args| Ok(sqlx::query_scalar_with::<_, i64, _>(sql.text(), args)
                .fetch_one(pool)
                .await?),
            |pool, args| Ok(sqlx::query_scalar_with::<_, i64, _>(sql.text(), args)
                .fetch_one(pool)
                .await?)
        )
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pools {
            // IMMEDIATE: take the write lock now, waiting up to the busy timeout for another
            // process holding it (a deferred transaction that read first is refused at once).
            // Group commit (see `gate`): the member waits for the single writer.
            Pools::Sqlite { .. } => match &self.gate {
                Some(gate) => TxInner::Sqlite(gate.begin().await?),
                None => {
                    return Err(StoreError::Other(
                        "SQLite store without a write gate".into(),
                    ))
                }
            },
            Pools::Postgres(pool) => TxInner::Postgres(pool.begin().await?),
        };
        Ok(Tx {
            inner,
            changes: self.changes.clone(),
            touched: Touched::ALL,
        })
    }
}

/// Runs `ANALYZE` when the users table has no statistics or has grown or shrunk more than
/// twofold since they were gathered (seconds at 1M users; nothing on a fresh database, which
/// has no users table yet). PostgreSQL's autovacuum does this by itself.
async fn refresh_sqlite_statistics(write: &SqlitePool) -> Result<(), StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'sqlite_stat1')",
    )
    .fetch_all(write)
    .await?;
    if !tables.iter().any(|t| t == "users") {
        return Ok(());
    }
    let analysed: Option<i64> = if tables.iter().any(|t| t == "sqlite_stat1") {
        let stat: Option<String> = sqlx::query_scalar(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'users' ORDER BY idx LIMIT 1",
        )
        .fetch_optional(write)
        .await?;
        stat.and_then(|s| s.split(' ').next().and_then(|n| n.parse().ok()))
    } else {
        None
    };
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(write)
        .await?;
    let stale = match analysed {
        None => true,
        Some(n) => rows > n.saturating_mul(2) || n > rows.saturating_mul(2),
    };
    if stale {
        sqlx::query("ANALYZE").execute(write).await?;
    }
    Ok(())
}

/// Read access shared by the store (autocommit) and a transaction, so a check can run inside
/// the transaction that acts on it.
pub trait Reader {
    /// Runs a query and decodes every row.
    fn fetch_all<T: Record>(
        &mut self,
        sql: &Sql,
    ) -> impl std::future::Future<Output = Result<Vec<T>, StoreError>> + Send;
    /// Runs a query and decodes the first row, if any.
    fn fetch_optional<T: Record>(
        &mut self,
        sql: &Sql,
    ) -> impl std::future::Future<Output = Result<Option<T>, StoreError>> + Send;
    /// Runs a query returning one integer.
    fn fetch_scalar_i64(
        &mut self,
        sql: &Sql,
    ) -> impl std::future::Future<Output = Result<i64, StoreError>> + Send;
}

/// The store's `Reader` runs point lookups (what the `Reader` functions of `store` are: rows by
/// key, one page's relations); on SQLite synchronously, see `lookup`.
impl Reader for &Store {
    async fn fetch_all<T: Record>(&mut self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        match &self.lookups {
            Some(lookups) => lookups.fetch_all(sql),
            None => Store::fetch_all(self, sql).await,
        }
    }
    async fn fetch_optional<T: Record>(&mut self, sql: &Sql) -> Result<Option<T>, StoreError> {
        match &self.lookups {
            Some(lookups) => lookups.fetch_optional(sql),
            None => Store::fetch_optional(self, sql).await,
        }
    }
    async fn fetch_scalar_i64(&mut self, sql: &Sql) -> Result<i64, StoreError> {
        match &self.lookups {
            Some(lookups) => lookups.fetch_scalar_i64(sql),
            None => Store::fetch_scalar_i64(self, sql).await,
        }
    }
}

/// Point lookups for one answer: on SQLite one read transaction on one lookup connection, so
/// every statement sees the same commit and the read is begun and ended once; on PostgreSQL the
/// store's own statements.
pub enum Snapshot<'a> {
    /// SQLite: a lookup connection holding a read transaction.
    Sqlite(lookup::Snapshot<'a>),
    /// PostgreSQL: the pool.
    Store(&'a Store),
}

impl Store {
    /// Lookups that share one read (see `Snapshot`); hold it only for the reads of one answer.
    pub fn snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        match &self.lookups {
            Some(lookups) => Ok(Snapshot::Sqlite(lookups.snapshot()?)),
            None => Ok(Snapshot::Store(self)),
        }
    }
}

impl Reader for Snapshot<'_> {
    async fn fetch_all<T: Record>(&mut self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        match self {
            Snapshot::Sqlite(held) => held.fetch_all(sql),
            Snapshot::Store(store) => Store::fetch_all(store, sql).await,
        }
    }
    async fn fetch_optional<T: Record>(&mut self, sql: &Sql) -> Result<Option<T>, StoreError> {
        match self {
            Snapshot::Sqlite(held) => held.fetch_optional(sql),
            Snapshot::Store(store) => Store::fetch_optional(store, sql).await,
        }
    }
    async fn fetch_scalar_i64(&mut self, sql: &Sql) -> Result<i64, StoreError> {
        match self {
            Snapshot::Sqlite(held) => held.fetch_scalar_i64(sql),
            Snapshot::Store(store) => Store::fetch_scalar_i64(store, sql).await,
        }
    }
}

impl Reader for Tx {
    async fn fetch_all<T: Record>(&mut self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        Tx::fetch_all(self, sql).await
    }
    async fn fetch_optional<T: Record>(&mut self, sql: &Sql) -> Result<Option<T>, StoreError> {
        Tx::fetch_optional(self, sql).await
    }
    async fn fetch_scalar_i64(&mut self, sql: &Sql) -> Result<i64, StoreError> {
        Tx::fetch_scalar_i64(self, sql).await
    }
}

/// A write transaction on either backend. Dropped without `commit`, it rolls back; a commit
/// advances the store's write epochs of what it touched (and on PostgreSQL tells the other
/// instances).
pub struct Tx {
    inner: TxInner,
    changes: Arc<Changes>,
    touched: Touched,
}

enum TxInner {
    /// SQLite: a member of the write gate's group (a savepoint on the single write connection).
    Sqlite(gate::GateTx),
    /// PostgreSQL transaction.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$sqlite` with the SQLite write connection (synchronously, see `writer`) or `$pg`
/// with the PostgreSQL transaction's connection and the statement's arguments.
macro_rules! on_tx {
    ($self:expr, $sql:ident, |$wconn:ident| $sqlite:expr, |$conn:ident, $args:ident| $pg:expr) => {
        match &mut $self.inner {
            TxInner::Sqlite(tx) => {
                let $wconn = tx.conn()?;
                $sqlite
            }
            TxInner::Postgres(tx) => {
                let $args = $sql.pg_args()?;
                let $conn = &mut **tx;
                $pg
            }
        }
    };
}

impl Tx {
    /// Which SQL dialect this transaction speaks.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            TxInner::Sqlite(_) => Dialect::Sqlite,
            TxInner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement, returning the number of rows it touched.
    pub async fn execute(&mut self, sql: &Sql) -> Result<u64, StoreError> {
        on_tx!(self, sql, |w| writer::execute(w, sql), |conn, args| Ok(
            sqlx::query_with(sql.text(), args)
                .execute(conn)
                .await?
                .rows_affected()
        ))
    }

    /// Runs a query and decodes every row.
    pub async fn fetch_all<T: Record>(&mut self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        on_tx!(
            self,
            sql,
            |w| writer::fetch(w, sql, usize::MAX),
            |conn, args| Ok(sqlx::query_as_with::<_, T, _>(sql.text(), args)
                .fetch_all(conn)
                .await?)
        )
    }

    /// Runs a query and decodes the first row, if any.
    pub async fn fetch_optional<T: Record>(&mut self, sql: &Sql) -> Result<Option<T>, StoreError> {
        on_tx!(
            self,
            sql,
            |w| writer::fetch_optional(w, sql),
            |conn, args| Ok(sqlx::query_as_with::<_, T, _>(sql.text(), args)
                .fetch_optional(conn)
                .await?)
        )
    }

    /// Runs a query returning one integer.
    pub async fn fetch_scalar_i64(&mut self, sql: &Sql) -> Result<i64, StoreError> {
        on_tx!(
            self,
            sql,
            |w| writer::fetch_scalar_i64(w, sql),
            |conn, args| Ok(sqlx::query_scalar_with::<_, i64, _>(sql.text(), args)
                .fetch_one(conn)
                .await?)
        )
    }

    /// Narrows what this transaction's commit invalidates to `touched` (the domain knows
    /// when a write cannot affect a cache, e.g. a token's description). Defaults to everything.
    pub fn touches(&mut self, touched: Touched) {
        self.touched = touched;
    }

    /// Makes every change of the transaction durable.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.dialect() == Dialect::Postgres && self.touched != Touched::NONE {
            // Delivered to every listening instance when (and only if) the commit succeeds.
            self.execute(&Sql::raw(
                "SELECT pg_notify($1, $2)",
                vec![CHANGES_CHANNEL.into(), self.touched.to_payload().into()],
            ))
            .await?;
        }
        match self.inner {
            // The gate bumps the epochs when the group commits, before answering.
            TxInner::Sqlite(tx) => tx.commit(self.touched).await,
            TxInner::Postgres(tx) => {
                let result = tx.commit().await;
                // Bump even when the commit's outcome is unknown: a stale cache entry is the
                // risk.
                self.changes.bump(self.touched);
                result?;
                Ok(())
            }
        }
    }
}
