//! Online copies of a SQLite database (`VACUUM INTO`), taken while the server runs.

use super::{Pools, Sql, Store, StoreError};

impl Store {
    /// SQLite: writes a consistent snapshot of the whole database to a new file at `path`
    /// (`VACUUM INTO` on a read connection: it sees one committed state, and writers go on
    /// meanwhile). `path` must not exist. PostgreSQL has no such copy: `Config` error.
    pub async fn vacuum_into(&self, path: &str) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Sqlite { read, .. } => {
                sqlx::query("VACUUM INTO ?1")
                    .bind(path)
                    .execute(read)
                    .await?;
                Ok(())
            }
            Pools::Postgres(_) => Err(StoreError::Config(
                "a PostgreSQL database is copied with pg_dump".into(),
            )),
        }
    }

    /// How many users the database holds (every type).
    pub async fn user_rows(&self) -> Result<i64, StoreError> {
        self.fetch_scalar_i64(&Sql::new("SELECT CAST(COUNT(*) AS BIGINT) FROM users"))
            .await
    }
}

/// How many users a SQLite file (a copy `vacuum_into` wrote) holds, read through a read-only
/// connection of its own: the copy is in rollback-journal mode, so nothing is created beside
/// it.
pub fn users_in_sqlite_file(path: &str) -> Result<i64, StoreError> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Other(e.to_string()))?;
    conn.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))
        .map_err(|e| StoreError::Other(e.to_string()))
}
