//! Connections: the backend a database URL selects, its pools, migrations, statistics upkeep
//! and the store's autocommit reads.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{gate, lookup, search, trace, writer, Changes, Dialect, Record, Sql, StoreError};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// What `after_bulk_load` runs on PostgreSQL: the tables bulk loads write, vacuumed and analysed
/// (named, so that only this schema's tables are visited, not every schema of the database).
const POSTGRES_SETTLE: &str = "VACUUM (ANALYZE) users, groups, group_parents, group_members, \
     roles, user_roles, group_roles, tokens";

/// The database: the backend's pools plus the write-epoch every commit advances.
#[derive(Clone)]
pub struct Store {
    pub(super) pools: Pools,
    pub(super) changes: Arc<Changes>,
    /// SQLite: group commit over the single write connection.
    pub(super) gate: Option<Arc<gate::WriteGate>>,
    /// SQLite: synchronous read connections for point lookups.
    pub(super) lookups: Option<Arc<lookup::Lookups>>,
    /// SQLite: estimates that steer user search through the trigram index.
    search: Arc<search::TrigramStats>,
    /// The statements run while a test traces them.
    pub(super) trace: Arc<trace::StatementTrace>,
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

/// How long a PostgreSQL connection may sit idle in the pool and still be handed out unchecked.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

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
                // sqlx pings every connection it hands out (a round trip before each statement);
                // only one that sat idle a while is checked (a connection in use is known to be
                // alive, as HikariCP's bypass window judges).
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_AFTER_IDLE {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(options)
                .await?;
            Ok(Store {
                pools: Pools::Postgres(pool),
                changes: Arc::default(),
                gate: None,
                lookups: None,
                search: Arc::default(),
                trace: Arc::default(),
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
            let trace: Arc<trace::StatementTrace> = Arc::default();
            let lookups = lookup::Lookups::new(config.clone(), trace.clone());
            let gate = gate::WriteGate::new(config, changes.clone());
            Ok(Store {
                pools: Pools::Sqlite { read, write },
                changes,
                gate: Some(Arc::new(gate)),
                lookups: Some(Arc::new(lookups)),
                search: Arc::default(),
                trace,
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
                // VACUUM as well: until a vacuum has passed, each row's first reader sets its
                // hint bits (a write per page read) and index-only scans visit the table; with
                // autovacuum off, or not yet round, that cost falls on the first requests.
                sqlx::raw_sql(POSTGRES_SETTLE).execute(pool).await?;
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

    /// Whether each statement is a round trip to a database server (PostgreSQL), so that reading
    /// several point lookups in one statement saves real work; SQLite's lookups are calls into
    /// the process, which batching would only delay (measured: ~15 % more CPU per LDAP lookup).
    pub fn statements_are_round_trips(&self) -> bool {
        matches!(self.pools, Pools::Postgres(_))
    }

    /// The backend's pools.
    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// Each connection pool's use now.
    pub fn pool_stats(&self) -> Vec<super::stats::PoolStats> {
        fn of<DB: sqlx::Database>(
            name: &'static str,
            pool: &sqlx::Pool<DB>,
        ) -> super::stats::PoolStats {
            super::stats::PoolStats {
                name,
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        match &self.pools {
            Pools::Sqlite { read, write } => vec![of("read", read), of("write", write)],
            Pools::Postgres(pool) => vec![of("main", pool)],
        }
    }

    /// SQLite's write gate: writers waiting and group commit sizes (`None` on PostgreSQL).
    pub fn writer_stats(&self) -> Option<super::stats::WriterStats> {
        self.gate.as_ref().map(|gate| gate.stats())
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

    /// Whether another process committed to this SQLite database since the last call
    /// (`gate::WriteGate::foreign_commits`). Always false on PostgreSQL, whose instances hear
    /// each other's writes on the change feed.
    pub async fn foreign_commits(&self) -> Result<bool, StoreError> {
        match &self.gate {
            Some(gate) => gate.foreign_commits().await,
            None => Ok(false),
        }
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        match &self.pools {
            Pools::Sqlite { read, .. } => read.is_closed(),
            Pools::Postgres(pool) => pool.is_closed(),
        }
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
        self.trace.record(sql);
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
        self.trace.record(sql);
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
        self.trace.record(sql);
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
