//! Bulk seeding for benchmarks and imports: many users through large multi-row INSERTs inside
//! few transactions, instead of one request (and one commit) per user. Rows carry exactly the
//! columns `users::insert` fills, so a seeded user is indistinguishable from a created one.

use crate::store::users::search_text;
use crate::store::{Arg, Dialect, Sql, Store, StoreError};

/// Columns of one row, in statement order (16 bind parameters per row).
const COLUMNS: &str = "INSERT INTO users (uuid, username, name, first_name, last_name, email, \
     password_hash, is_active, type, path, attributes, last_login, date_joined, \
     password_change_date, last_updated, search_text) VALUES ";
const PARAMS_PER_ROW: usize = 16;

/// Rows per statement: 16,000 parameters, under SQLite's 32,766 and PostgreSQL's 65,535.
pub const ROWS_PER_STATEMENT: u64 = 1_000;
/// Rows per transaction (one durable commit per this many rows).
pub const ROWS_PER_TRANSACTION: u64 = 50_000;

const _: () = assert!(ROWS_PER_STATEMENT as usize * PARAMS_PER_ROW <= 32_766);

/// The username of benchmark user `index`: `bench-user-NNNNNNN` (7 digits, zero-padded).
pub fn username(index: u64) -> String {
    format!("bench-user-{index:07}")
}

/// Inserts users `start_index .. start_index + count` (named by [`username`]), returning how many
/// were inserted. Usernames must not exist yet (a unique violation aborts the current batch of
/// [`ROWS_PER_TRANSACTION`]; earlier batches stay committed).
pub async fn insert_users(store: &Store, start_index: u64, count: u64) -> Result<u64, StoreError> {
    if store.dialect() != Dialect::Postgres {
        return insert_batches(store, start_index, count).await;
    }
    // The trigram index takes changes through GIN's pending list while the rows stream in
    // (one merge per 4 MB instead of one index update per row: without it, 1M users took
    // ~10 minutes instead of ~1.5), and goes back to direct updates after (migration 0010).
    run(store, TRIGRAM_PENDING_LIST_ON).await?;
    let inserted = insert_batches(store, start_index, count).await;
    let restored = run(store, TRIGRAM_PENDING_LIST_OFF).await;
    let inserted = inserted?;
    restored?;
    Ok(inserted)
}

/// PostgreSQL: the trigram index (where pg_trgm made one) collects changes in its pending list.
const TRIGRAM_PENDING_LIST_ON: &str = "DO $$ BEGIN \
     IF to_regclass('users_search_trgm') IS NOT NULL THEN \
     ALTER INDEX users_search_trgm SET (fastupdate = on); END IF; END $$";
/// PostgreSQL: the pending list merged into the trigram index, and direct updates again.
const TRIGRAM_PENDING_LIST_OFF: &str = "DO $$ BEGIN \
     IF to_regclass('users_search_trgm') IS NOT NULL THEN \
     ALTER INDEX users_search_trgm SET (fastupdate = off); \
     PERFORM gin_clean_pending_list('users_search_trgm'); END IF; END $$";

/// Runs one statement in a transaction of its own.
async fn run(store: &Store, text: &str) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    tx.execute(&Sql::new(text)).await?;
    tx.commit().await
}

/// `insert_users`' rows, [`ROWS_PER_TRANSACTION`] a transaction.
async fn insert_batches(store: &Store, start_index: u64, count: u64) -> Result<u64, StoreError> {
    let end = start_index.saturating_add(count);
    let mut next = start_index;
    while next < end {
        let tx_end = end.min(next.saturating_add(ROWS_PER_TRANSACTION));
        let mut tx = store.begin().await?;
        while next < tx_end {
            let stmt_end = tx_end.min(next + ROWS_PER_STATEMENT);
            let sql = statement(store.dialect(), next, stmt_end);
            tx.execute(&sql).await?;
            next = stmt_end;
        }
        tx.commit().await?;
    }
    Ok(end - start_index)
}

/// One multi-row INSERT for users `from .. to`.
///
/// SQLite gets anonymous `?` placeholders: sqlx resolves each `$n` through
/// `sqlite3_bind_parameter_name`, a linear scan of the statement's parameter names, which makes
/// binding a 16,000-parameter `$n` statement quadratic (≈ 90 % of the seed time). Anonymous
/// parameters bind positionally in constant time. PostgreSQL takes `$n` as usual.
fn statement(dialect: Dialect, from: u64, to: u64) -> Sql {
    let now = chrono::Utc::now().timestamp_micros();
    let rows = (to - from) as usize;
    let mut text = String::with_capacity(COLUMNS.len() + rows * PARAMS_PER_ROW * 8);
    text.push_str(COLUMNS);
    let mut args: Vec<Arg> = Vec::with_capacity(rows * PARAMS_PER_ROW);
    for index in from..to {
        let username = username(index);
        let uuid = uuid::Uuid::new_v4().to_string();
        let first_name = "Bench".to_string();
        let last_name = format!("User {index:07}");
        let name = format!("{first_name} {last_name}");
        let email = format!("{username}@example.com");
        let search = search_text(&username, &name, &email, &uuid);
        let row: [Arg; PARAMS_PER_ROW] = [
            uuid.into(),
            username.into(),
            name.into(),
            first_name.into(),
            last_name.into(),
            email.into(),
            Arg::Text(None), // password_hash: unusable, as for users created without one
            true.into(),
            "internal".into(),
            "users".into(),
            "{}".into(),
            Arg::Int(None), // last_login
            now.into(),     // date_joined
            now.into(),     // password_change_date
            now.into(),     // last_updated
            search.into(),
        ];
        text.push_str(if index == from { "(" } else { ", (" });
        for i in 0..PARAMS_PER_ROW {
            if i > 0 {
                text.push_str(", ");
            }
            match dialect {
                Dialect::Sqlite => text.push('?'),
                Dialect::Postgres => {
                    text.push('$');
                    text.push_str(&(args.len() + i + 1).to_string());
                }
            }
        }
        text.push(')');
        args.extend(row);
    }
    Sql::raw(&text, args)
}

/// The smallest and largest id of the benchmark users (`bench-user-…`), if there are any.
pub async fn id_range(store: &Store) -> Result<Option<(i64, i64)>, StoreError> {
    let filter = "FROM users WHERE username LIKE 'bench-user-%'";
    let count = store
        .fetch_scalar_i64(&Sql::new(&format!("SELECT COUNT(*) {filter}")))
        .await?;
    if count == 0 {
        return Ok(None);
    }
    let min = store
        .fetch_scalar_i64(&Sql::new(&format!("SELECT MIN(id) {filter}")))
        .await?;
    let max = store
        .fetch_scalar_i64(&Sql::new(&format!("SELECT MAX(id) {filter}")))
        .await?;
    Ok(Some((min, max)))
}
