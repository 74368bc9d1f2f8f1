//! Read access shared by the store, a read snapshot and a write transaction (`Reader`), so a
//! check can run inside the transaction that acts on it.

use super::{lookup, Record, Sql, Store, StoreError, Tx};

/// Read access shared by the store (autocommit) and a transaction, so a check can run inside
/// the transaction that acts on it.
pub trait Reader {
    /// Which SQL dialect the reads run in.
    fn dialect(&self) -> super::Dialect;
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
    fn dialect(&self) -> super::Dialect {
        Store::dialect(self)
    }
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
/// store's own statements, or (`Store::consistent_snapshot`) one read-only transaction.
pub enum Snapshot<'a> {
    /// SQLite: a lookup connection holding a read transaction.
    Sqlite(lookup::ReadTx<'a>),
    /// PostgreSQL: the pool.
    Store(&'a Store),
    /// PostgreSQL: a read-only repeatable-read transaction (rolled back when dropped).
    Postgres(Box<sqlx::Transaction<'static, sqlx::Postgres>>),
    /// PostgreSQL: one pooled connection kept for a run of statements, each in autocommit (it
    /// sees every commit before it), so they pay for taking a connection from the pool once.
    Connection(&'a Store, sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl Store {
    /// Lookups that share one read (see `Snapshot`); hold it only for the reads of one answer.
    pub fn snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        match &self.lookups {
            Some(lookups) => Ok(Snapshot::Sqlite(lookups.snapshot()?)),
            None => Ok(Snapshot::Store(self)),
        }
    }

    /// Reads that each see every commit before them, on one connection kept for all of them
    /// where that saves work (PostgreSQL: sqlx checks a connection with a round trip whenever
    /// it goes back to the pool; a run of lookups takes it once). Hold it only while there are
    /// statements to run.
    pub async fn connection(&self) -> Result<Snapshot<'_>, StoreError> {
        match &self.pools {
            super::Pools::Postgres(pool) => Ok(Snapshot::Connection(self, pool.acquire().await?)),
            super::Pools::Sqlite { .. } => Ok(Snapshot::Store(self)),
        }
    }

    /// One consistent view for a long read made of many statements (an export read in
    /// batches): every statement sees the same commit on both backends. On SQLite a read
    /// transaction on a lookup connection; on PostgreSQL a `REPEATABLE READ, READ ONLY`
    /// transaction. Writers are not blocked by it on either.
    pub async fn consistent_snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        match (&self.lookups, &self.pools) {
            (Some(lookups), _) => Ok(Snapshot::Sqlite(lookups.snapshot()?)),
            (None, super::Pools::Postgres(pool)) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                Ok(Snapshot::Postgres(Box::new(tx)))
            }
            (None, super::Pools::Sqlite { .. }) => Err(StoreError::Other(
                "SQLite store without lookup connections".into(),
            )),
        }
    }
}

impl Reader for Snapshot<'_> {
    fn dialect(&self) -> super::Dialect {
        match self {
            Snapshot::Sqlite(_) => super::Dialect::Sqlite,
            Snapshot::Store(store) => store.dialect(),
            Snapshot::Postgres(_) | Snapshot::Connection(..) => super::Dialect::Postgres,
        }
    }
    async fn fetch_all<T: Record>(&mut self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        match self {
            Snapshot::Sqlite(held) => held.fetch_all(sql),
            Snapshot::Store(store) => Store::fetch_all(store, sql).await,
            Snapshot::Postgres(tx) => {
                Ok(sqlx::query_as_with::<_, T, _>(sql.text(), sql.pg_args()?)
                    .fetch_all(&mut ***tx)
                    .await?)
            }
            Snapshot::Connection(store, conn) => {
                store.trace.record(sql);
                Ok(sqlx::query_as_with::<_, T, _>(sql.text(), sql.pg_args()?)
                    .fetch_all(&mut **conn)
                    .await?)
            }
        }
    }
    async fn fetch_optional<T: Record>(&mut self, sql: &Sql) -> Result<Option<T>, StoreError> {
        match self {
            Snapshot::Sqlite(held) => held.fetch_optional(sql),
            Snapshot::Store(store) => Store::fetch_optional(store, sql).await,
            Snapshot::Postgres(tx) => {
                Ok(sqlx::query_as_with::<_, T, _>(sql.text(), sql.pg_args()?)
                    .fetch_optional(&mut ***tx)
                    .await?)
            }
            Snapshot::Connection(store, conn) => {
                store.trace.record(sql);
                Ok(sqlx::query_as_with::<_, T, _>(sql.text(), sql.pg_args()?)
                    .fetch_optional(&mut **conn)
                    .await?)
            }
        }
    }
    async fn fetch_scalar_i64(&mut self, sql: &Sql) -> Result<i64, StoreError> {
        match self {
            Snapshot::Sqlite(held) => held.fetch_scalar_i64(sql),
            Snapshot::Store(store) => Store::fetch_scalar_i64(store, sql).await,
            Snapshot::Postgres(tx) => Ok(sqlx::query_scalar_with::<_, i64, _>(
                sql.text(),
                sql.pg_args()?,
            )
            .fetch_one(&mut ***tx)
            .await?),
            Snapshot::Connection(store, conn) => {
                store.trace.record(sql);
                Ok(
                    sqlx::query_scalar_with::<_, i64, _>(sql.text(), sql.pg_args()?)
                        .fetch_one(&mut **conn)
                        .await?,
                )
            }
        }
    }
}

impl Reader for Tx {
    fn dialect(&self) -> super::Dialect {
        Tx::dialect(self)
    }
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
