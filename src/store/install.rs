//! The install id: a random UUID created once per directory; users' `uid` derives from it.

use super::{Reader, Sql, StoreError, Tx};

/// The install id, if the directory has one yet.
pub async fn install_id<R: Reader>(db: &mut R) -> Result<Option<String>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct Row {
        install_id: String,
    }
    let row: Option<Row> = db
        .fetch_optional(&Sql::new("SELECT install_id FROM install WHERE id = 1"))
        .await?;
    Ok(row.map(|r| r.install_id))
}

/// Records the install id unless one exists; returns whether this call created it.
pub async fn create_install_id(
    tx: &mut Tx,
    install_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new("INSERT INTO install (id, install_id, created_at) VALUES (1, ");
    sql.bind(install_id)
        .push(", ")
        .bind(now)
        .push(") ON CONFLICT (id) DO NOTHING");
    Ok(tx.execute(&sql).await? == 1)
}

/// Serialises bootstrap between instances starting at once (PostgreSQL); SQLite's single
/// writer already does.
pub async fn lock_bootstrap(tx: &mut Tx) -> Result<(), StoreError> {
    if tx.dialect() == super::Dialect::Postgres {
        tx.execute(&Sql::new("SELECT pg_advisory_xact_lock(7300417)"))
            .await?;
    }
    Ok(())
}
