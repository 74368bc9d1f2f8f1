//! Persistence. SQLite and PostgreSQL differ here and only here: connection set-up, DDL
//! (the migrations), a few SQL fragments (`Dialect`) and the mapping of database errors.
//! Every query is written once as text with `$n` placeholders and runs on either backend.
//! This module never sees HTTP types and makes no business decisions.

pub mod bulk;
pub mod cache;
pub mod events;
pub mod filter;
pub mod groups;
pub mod install;
pub mod roles;
pub mod sessions;
pub mod tokens;
pub mod users;

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
#[derive(Debug, thiserror::Error)]
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
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                let transient_sqlite = code
                    .parse::<i64>()
                    .map(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
                    .unwrap_or(false);
                let transient_pg = code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57")
                    || code == "40001"
                    || code == "40P01";
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
    // SQLite: "UNIQUE constraint failed: users.username"
    let message = db.message();
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

/// A row type that decodes from both backends.
pub trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
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

/// Counts committed writes, so caches of derived data (token → principal) know when they may
/// be stale. On PostgreSQL every instance's counter also moves when another instance writes
/// (LISTEN/NOTIFY); while that feed is down, `trustworthy` is false and caches must not serve.
#[derive(Debug, Default)]
pub struct Changes {
    epoch: AtomicU64,
    feed_down: AtomicBool,
}

impl Changes {
    /// The current write epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Records that something changed.
    pub fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether cached data may be served (false while another instance's writes could be missed).
    pub fn trustworthy(&self) -> bool {
        !self.feed_down.load(Ordering::Acquire)
    }

    /// Marks the cross-instance feed as up or down.
    pub fn set_feed_down(&self, down: bool) {
        self.feed_down.store(down, Ordering::Release);
        self.bump();
    }
}

/// The channel PostgreSQL instances announce committed writes on.
pub const CHANGES_CHANNEL: &str = "gatehouse_changes";

/// The database: the backend's pools plus the write-epoch every commit advances.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    changes: Arc<Changes>,
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
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options.read_only(false))
                .await?;
            Ok(Store {
                pools: Pools::Sqlite { read, write },
                changes: Arc::default(),
            })
        } else {
            Err(StoreError::Config(format!(
                "database URL must start with sqlite:// or postgres:// (got {})",
                url.split("://").next().unwrap_or("")
            )))
        }
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
            Pools::Sqlite { write, .. } => TxInner::Sqlite(write.begin().await?),
            Pools::Postgres(pool) => TxInner::Postgres(pool.begin().await?),
        };
        Ok(Tx {
            inner,
            changes: self.changes.clone(),
        })
    }
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

impl Reader for &Store {
    async fn fetch_all<T: Record>(&mut self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        Store::fetch_all(self, sql).await
    }
    async fn fetch_optional<T: Record>(&mut self, sql: &Sql) -> Result<Option<T>, StoreError> {
        Store::fetch_optional(self, sql).await
    }
    async fn fetch_scalar_i64(&mut self, sql: &Sql) -> Result<i64, StoreError> {
        Store::fetch_scalar_i64(self, sql).await
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
/// advances the store's write epoch (and on PostgreSQL tells the other instances).
pub struct Tx {
    inner: TxInner,
    changes: Arc<Changes>,
}

enum TxInner {
    /// SQLite transaction on the single write connection.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL transaction.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

macro_rules! on_tx {
    ($self:expr, $sql:expr, |$conn:ident, $args:ident| $body:expr) => {
        match &mut $self.inner {
            TxInner::Sqlite(tx) => {
                let $args = $sql.sqlite_args()?;
                let $conn = &mut **tx;
                $body
            }
            TxInner::Postgres(tx) => {
                let $args = $sql.pg_args()?;
                let $conn = &mut **tx;
                $body
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
        on_tx!(self, sql, |conn, args| Ok(sqlx::query_with(
            sql.text(),
            args
        )
        .execute(conn)
        .await?
        .rows_affected()))
    }

    /// Runs a query and decodes every row.
    pub async fn fetch_all<T: Record>(&mut self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        on_tx!(self, sql, |conn, args| Ok(sqlx::query_as_with::<_, T, _>(
            sql.text(),
            args
        )
        .fetch_all(conn)
        .await?))
    }

    /// Runs a query and decodes the first row, if any.
    pub async fn fetch_optional<T: Record>(&mut self, sql: &Sql) -> Result<Option<T>, StoreError> {
        on_tx!(self, sql, |conn, args| Ok(sqlx::query_as_with::<_, T, _>(
            sql.text(),
            args
        )
        .fetch_optional(conn)
        .await?))
    }

    /// Runs a query returning one integer.
    pub async fn fetch_scalar_i64(&mut self, sql: &Sql) -> Result<i64, StoreError> {
        on_tx!(self, sql, |conn, args| Ok(sqlx::query_scalar_with::<
            _,
            i64,
            _,
        >(sql.text(), args)
        .fetch_one(conn)
        .await?))
    }

    /// Makes every change of the transaction durable.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.dialect() == Dialect::Postgres {
            // Delivered to every listening instance when (and only if) the commit succeeds.
            self.execute(&Sql::raw(
                "SELECT pg_notify($1, '')",
                vec![CHANGES_CHANNEL.into()],
            ))
            .await?;
        }
        let result = match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await,
            TxInner::Postgres(tx) => tx.commit().await,
        };
        // Bump even when the commit's outcome is unknown: a stale cache entry is the risk.
        self.changes.bump();
        result?;
        Ok(())
    }
}
