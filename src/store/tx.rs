//! Write transactions on either backend: statements inside one, and the commit that advances
//! (and on PostgreSQL announces) the write epochs of what it touched.

use std::sync::Arc;

use super::{
    gate, writer, Changes, Dialect, Pools, Record, Sql, Store, StoreError, Touched, CHANGES_CHANNEL,
};

impl Store {
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
            trace: self.trace.clone(),
            changes: self.changes.clone(),
            touched: Touched::ALL,
        })
    }
}

/// A write transaction on either backend. Dropped without `commit`, it rolls back; a commit
/// advances the store's write epochs of what it touched (and on PostgreSQL tells the other
/// instances).
pub struct Tx {
    inner: TxInner,
    trace: Arc<super::trace::StatementTrace>,
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
        self.trace.record(sql);
        on_tx!(self, sql, |w| writer::execute(w, sql), |conn, args| Ok(
            sqlx::query_with(sql.text(), args)
                .execute(conn)
                .await?
                .rows_affected()
        ))
    }

    /// Runs a query and decodes every row.
    pub async fn fetch_all<T: Record>(&mut self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        self.trace.record(sql);
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
        self.trace.record(sql);
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
        self.trace.record(sql);
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
