//! Bulk statements for importing a directory: what exists (to match against), and batched
//! upserts that keep the ids, uuids, hashes and sealed keys they are given. Multi-row
//! statements bind SQLite's parameters anonymously, as `bulk` does (see `bulk::statement`).

use super::{Arg, Dialect, Reader, Sql, StoreError, Tx};

pub use super::groups::GroupRow;
pub use super::roles::RoleRow;
pub use super::users::UserRow;

/// Rows of one multi-row statement (at most 17 parameters a row: under both backends' limits).
pub const ROWS_PER_STATEMENT: usize = 1_000;

/// A group → parent edge, by internal ids.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct Edge {
    /// The child (or user, or role holder).
    pub a: i64,
    /// The parent (or group, or role).
    pub b: i64,
}

/// The parts of an existing token an import compares with.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct TokenRow {
    /// Internal id.
    pub id: i64,
    /// UUID.
    pub uuid: String,
    /// Unique slug.
    pub identifier: String,
    /// sha256 hex of the key.
    pub key_hash: String,
    /// The sealed key.
    pub key_sealed: String,
    /// Intent.
    pub intent: String,
    /// Owner.
    pub user_id: i64,
    /// Description.
    pub description: String,
    /// Expiry (µs).
    pub expires: Option<i64>,
    /// Whether the expiry applies.
    pub expiring: bool,
    /// Managed marker.
    pub managed: Option<String>,
    /// Creation time (µs).
    pub created: i64,
}

const USER_COLUMNS: &str = "u.id, u.uuid, u.username, u.name, u.first_name, u.last_name, \
     u.email, u.password_hash, u.is_active, u.type, u.path, u.attributes, u.last_login, \
     u.date_joined, u.password_change_date, u.last_updated";

/// Up to `limit` user rows with ids above `after`, by id (one batch of a read in id order).
pub async fn users_after<R: Reader>(
    db: &mut R,
    after: i64,
    limit: i64,
) -> Result<Vec<UserRow>, StoreError> {
    let mut sql = Sql::new(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id > "));
    sql.bind(after).push(" ORDER BY u.id LIMIT ").bind(limit);
    db.fetch_all(&sql).await
}

/// `(…)` of one placeholder per value: anonymous `?` on SQLite, where binding a long list of
/// numbered ones is quadratic (see `bulk::statement`; a 15,000-parameter lookup spent 60 % of an
/// import there), `$n` on PostgreSQL; an empty list is `(NULL)`, which matches nothing.
fn push_list(dialect: Dialect, text: &mut String, args: &mut Vec<Arg>, values: Vec<Arg>) {
    text.push('(');
    if values.is_empty() {
        text.push_str("NULL");
    }
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        args.push(value);
        match dialect {
            Dialect::Sqlite => text.push('?'),
            Dialect::Postgres => {
                text.push('$');
                text.push_str(&args.len().to_string());
            }
        }
    }
    text.push(')');
}

/// The user rows holding any of these ids, uuids or usernames — a username also under ASCII
/// case folding, as usernames are unique (each row at most once).
pub async fn users_matching<R: Reader>(
    db: &mut R,
    ids: &[i64],
    uuids: &[&str],
    usernames: &[&str],
) -> Result<Vec<UserRow>, StoreError> {
    let dialect = db.dialect();
    let mut text = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id IN ");
    let mut args = Vec::with_capacity(ids.len() + uuids.len() + 2 * usernames.len());
    push_list(
        dialect,
        &mut text,
        &mut args,
        ids.iter().map(|i| Arg::from(*i)).collect(),
    );
    text.push_str(&format!(
        " UNION SELECT {USER_COLUMNS} FROM users u WHERE u.uuid IN "
    ));
    push_list(
        dialect,
        &mut text,
        &mut args,
        uuids.iter().map(|u| Arg::from(*u)).collect(),
    );
    text.push_str(&format!(
        " UNION SELECT {USER_COLUMNS} FROM users u WHERE u.username IN "
    ));
    push_list(
        dialect,
        &mut text,
        &mut args,
        usernames.iter().map(|u| Arg::from(*u)).collect(),
    );
    // The folded unique index (`users__username_folded__key`) answers this arm.
    text.push_str(&format!(
        " UNION SELECT {USER_COLUMNS} FROM users u WHERE LOWER(u.username) IN "
    ));
    push_list(
        dialect,
        &mut text,
        &mut args,
        usernames
            .iter()
            .map(|u| Arg::from(u.to_ascii_lowercase()))
            .collect(),
    );
    db.fetch_all(&Sql::raw(&text, args)).await
}

/// Which of these user ids exist.
pub async fn existing_user_ids<R: Reader>(db: &mut R, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct Row {
        id: i64,
    }
    let mut text = String::from("SELECT id FROM users WHERE id IN ");
    let mut args = Vec::with_capacity(ids.len());
    let values = ids.iter().map(|i| Arg::from(*i)).collect();
    push_list(db.dialect(), &mut text, &mut args, values);
    let rows: Vec<Row> = db.fetch_all(&Sql::raw(&text, args)).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The largest user id (0 without users).
pub async fn max_user_id<R: Reader>(db: &mut R) -> Result<i64, StoreError> {
    db.fetch_scalar_i64(&Sql::new(
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM users",
    ))
    .await
}

/// Every group row.
pub async fn all_groups<R: Reader>(db: &mut R) -> Result<Vec<GroupRow>, StoreError> {
    db.fetch_all(&Sql::new(
        "SELECT id, uuid, name, is_superuser, attributes FROM groups ORDER BY name",
    ))
    .await
}

/// Every role row.
pub async fn all_roles<R: Reader>(db: &mut R) -> Result<Vec<RoleRow>, StoreError> {
    db.fetch_all(&Sql::new(
        "SELECT id, uuid, name, managed FROM roles ORDER BY name",
    ))
    .await
}

const TOKEN_COLUMNS: &str = "id, uuid, identifier, key_hash, key_sealed, intent, user_id, \
     description, expires, expiring, managed, created";

/// Every token.
pub async fn all_tokens<R: Reader>(db: &mut R) -> Result<Vec<TokenRow>, StoreError> {
    db.fetch_all(&Sql::new(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY id"
    )))
    .await
}

/// Up to `limit` tokens with ids above `after`, by id.
pub async fn tokens_after<R: Reader>(
    db: &mut R,
    after: i64,
    limit: i64,
) -> Result<Vec<TokenRow>, StoreError> {
    let mut sql = Sql::new(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id > "));
    sql.bind(after).push(" ORDER BY id LIMIT ").bind(limit);
    db.fetch_all(&sql).await
}

/// The links of one link table (`group_parents`, `group_members`, `group_roles`,
/// `user_roles`, `role_model_permissions`) as (first, second) column pairs.
pub async fn all_links<R: Reader>(db: &mut R, link: Link) -> Result<Vec<Edge>, StoreError> {
    let (table, a, b) = link.columns();
    db.fetch_all(&Sql::new(&format!(
        "SELECT {a} AS a, {b} AS b FROM {table} ORDER BY {a}, {b}"
    )))
    .await
}

/// Up to `limit` links of one table after the pair `after` (`None`: from the first), in
/// (first, second) order: one batch of a read through the table's unique (first, second) index.
pub async fn links_after<R: Reader>(
    db: &mut R,
    link: Link,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<Edge>, StoreError> {
    let (table, a, b) = link.columns();
    let mut sql = Sql::new(&format!("SELECT {a} AS a, {b} AS b FROM {table}"));
    if let Some((x, y)) = after {
        sql.push(&format!(" WHERE {a} >= "))
            .bind(x)
            .push(&format!(" AND ({a} > "))
            .bind(x)
            .push(&format!(" OR {b} > "))
            .bind(y)
            .push(")");
    }
    sql.push(&format!(" ORDER BY {a}, {b} LIMIT ")).bind(limit);
    db.fetch_all(&sql).await
}

/// A link table an import adds rows to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// child group → parent group.
    GroupParents,
    /// user → group.
    GroupMembers,
    /// group → role.
    GroupRoles,
    /// user → role.
    UserRoles,
    /// role → permission id (global grants).
    RolePermissions,
}

impl Link {
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Link::GroupParents => ("group_parents", "child_id", "parent_id"),
            Link::GroupMembers => ("group_members", "user_id", "group_id"),
            Link::GroupRoles => ("group_roles", "group_id", "role_id"),
            Link::UserRoles => ("user_roles", "user_id", "role_id"),
            Link::RolePermissions => ("role_model_permissions", "role_id", "permission_id"),
        }
    }
}

/// Builds one multi-row statement: `prefix (…), (…) suffix`, with anonymous placeholders on
/// SQLite and `$n` on PostgreSQL.
fn multi_row(dialect: Dialect, prefix: &str, rows: Vec<Vec<Arg>>, suffix: &str) -> Sql {
    let mut text = String::with_capacity(prefix.len() + rows.len() * 64 + suffix.len());
    text.push_str(prefix);
    let mut args: Vec<Arg> = Vec::new();
    for (r, row) in rows.into_iter().enumerate() {
        text.push_str(if r == 0 { "(" } else { ", (" });
        for i in 0..row.len() {
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
    text.push_str(suffix);
    Sql::raw(&text, args)
}

/// Runs `prefix (row), … suffix` over `rows` in statements of [`ROWS_PER_STATEMENT`],
/// returning the rows the database reports touched.
async fn run_batched(
    tx: &mut Tx,
    prefix: &str,
    rows: Vec<Vec<Arg>>,
    suffix: &str,
) -> Result<u64, StoreError> {
    let dialect = tx.dialect();
    let mut touched = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        touched += tx
            .execute(&multi_row(dialect, prefix, chunk, suffix))
            .await?;
    }
    Ok(touched)
}

/// A user row exactly as given (id, hash and times included).
#[derive(Debug, Clone)]
pub struct ImportedUser {
    /// The row.
    pub row: UserRow,
    /// Its `search_text` (see `users::search_text`).
    pub search_text: String,
}

/// Inserts users with the ids they carry, or overwrites every column of the row with that id.
pub async fn upsert_users(tx: &mut Tx, users: Vec<ImportedUser>) -> Result<u64, StoreError> {
    let rows = users
        .into_iter()
        .map(|u| {
            let r = u.row;
            vec![
                r.id.into(),
                r.uuid.into(),
                r.username.into(),
                r.name.into(),
                r.first_name.into(),
                r.last_name.into(),
                r.email.into(),
                r.password_hash.into(),
                r.is_active.into(),
                r.user_type.into(),
                r.path.into(),
                r.attributes.into(),
                r.last_login.into(),
                r.date_joined.into(),
                r.password_change_date.into(),
                r.last_updated.into(),
                u.search_text.into(),
            ]
        })
        .collect();
    run_batched(
        tx,
        "INSERT INTO users (id, uuid, username, name, first_name, last_name, email, \
         password_hash, is_active, type, path, attributes, last_login, date_joined, \
         password_change_date, last_updated, search_text) VALUES ",
        rows,
        " ON CONFLICT (id) DO UPDATE SET uuid = excluded.uuid, username = excluded.username, \
         name = excluded.name, first_name = excluded.first_name, last_name = excluded.last_name, \
         email = excluded.email, password_hash = excluded.password_hash, \
         is_active = excluded.is_active, type = excluded.type, path = excluded.path, \
         attributes = excluded.attributes, last_login = excluded.last_login, \
         date_joined = excluded.date_joined, password_change_date = excluded.password_change_date, \
         last_updated = excluded.last_updated, search_text = excluded.search_text",
    )
    .await
}

/// Deletes the users with these ids (their memberships, roles, sessions and tokens cascade).
pub async fn delete_users(tx: &mut Tx, ids: &[i64]) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new("DELETE FROM users WHERE id IN ");
    sql.bind_list(ids.iter().copied());
    tx.execute(&sql).await
}

/// Deletes the tokens with these ids.
pub async fn delete_tokens(tx: &mut Tx, ids: &[i64]) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new("DELETE FROM tokens WHERE id IN ");
    sql.bind_list(ids.iter().copied());
    tx.execute(&sql).await
}

/// Moves the user and token id sequences past every id in use (PostgreSQL; SQLite's
/// AUTOINCREMENT follows explicit ids by itself). They never move backwards.
pub async fn advance_ids(tx: &mut Tx) -> Result<(), StoreError> {
    if tx.dialect() == Dialect::Postgres {
        for table in ["users", "tokens"] {
            tx.execute(&Sql::new(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 GREATEST((SELECT COALESCE(MAX(id), 1) FROM {table}), \
                 (SELECT last_value FROM {table}_id_seq)))"
            )))
            .await?;
        }
    }
    Ok(())
}

/// The user count (for deciding how to load users).
pub async fn count_users<R: Reader>(db: &mut R) -> Result<i64, StoreError> {
    db.fetch_scalar_i64(&Sql::new("SELECT CAST(COUNT(*) AS BIGINT) FROM users"))
        .await
}

/// PostgreSQL's trigram index over `users.search_text` (migration 0006), when it exists.
const SEARCH_INDEX: &str = "users_search_trgm";

/// Drops the user search index inside `tx` for a bulk load, returning its definition to
/// rebuild it with ([`rebuild_search_index`], in the same transaction, so a failure restores
/// it with everything else). Maintaining a GIN trigram index row by row is most of the cost of
/// inserting users on PostgreSQL (100,000 users: 12.6 s with it, 4.7 s inserting without it and
/// building it afterwards). The drop locks the users table until `tx` ends: only for loading a
/// directory that is (nearly) empty. SQLite (FTS5 indexes, merged after a bulk load anyway)
/// and a PostgreSQL without the index: `None`, nothing done.
pub async fn suspend_search_index(tx: &mut Tx) -> Result<Option<String>, StoreError> {
    if tx.dialect() != Dialect::Postgres {
        return Ok(None);
    }
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct Row {
        indexdef: String,
    }
    let mut sql = Sql::new(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ",
    );
    sql.bind(SEARCH_INDEX);
    let Some(row) = tx.fetch_optional::<Row>(&sql).await? else {
        return Ok(None);
    };
    tx.execute(&Sql::new(&format!("DROP INDEX {SEARCH_INDEX}")))
        .await?;
    Ok(Some(row.indexdef))
}

/// Builds the index [`suspend_search_index`] dropped, from its definition.
pub async fn rebuild_search_index(tx: &mut Tx, definition: &str) -> Result<(), StoreError> {
    // A GIN build collects its entries in maintenance memory (64 MB by default) before writing
    // them out; more of it means fewer, larger merges.
    tx.execute(&Sql::new("SET LOCAL maintenance_work_mem = '256MB'"))
        .await?;
    tx.execute(&Sql::new(definition)).await?;
    Ok(())
}

/// Inserts a group, returning its id.
pub async fn insert_group(tx: &mut Tx, row: &GroupRow) -> Result<i64, StoreError> {
    let mut sql = Sql::new("INSERT INTO groups (uuid, name, is_superuser, attributes) VALUES (");
    sql.bind(&row.uuid)
        .push(", ")
        .bind(&row.name)
        .push(", ")
        .bind(row.is_superuser)
        .push(", ")
        .bind(&row.attributes)
        .push(") RETURNING id");
    tx.fetch_scalar_i64(&sql).await
}

/// Overwrites group `row.id` (its uuid included).
pub async fn update_group(tx: &mut Tx, row: &GroupRow) -> Result<u64, StoreError> {
    let mut sql = Sql::new("UPDATE groups SET uuid = ");
    sql.bind(&row.uuid)
        .push(", name = ")
        .bind(&row.name)
        .push(", is_superuser = ")
        .bind(row.is_superuser)
        .push(", attributes = ")
        .bind(&row.attributes)
        .push(" WHERE id = ")
        .bind(row.id);
    tx.execute(&sql).await
}

/// Inserts a role, returning its id.
pub async fn insert_role(tx: &mut Tx, row: &RoleRow) -> Result<i64, StoreError> {
    let mut sql = Sql::new("INSERT INTO roles (uuid, name, managed) VALUES (");
    sql.bind(&row.uuid)
        .push(", ")
        .bind(&row.name)
        .push(", ")
        .bind(row.managed.clone())
        .push(") RETURNING id");
    tx.fetch_scalar_i64(&sql).await
}

/// Overwrites role `row.id`'s name and managed marker.
pub async fn update_role(tx: &mut Tx, row: &RoleRow) -> Result<u64, StoreError> {
    let mut sql = Sql::new("UPDATE roles SET name = ");
    sql.bind(&row.name)
        .push(", managed = ")
        .bind(row.managed.clone())
        .push(" WHERE id = ")
        .bind(row.id);
    tx.execute(&sql).await
}

/// Adds links (existing ones are left as they are); returns how many were new.
pub async fn add_links(tx: &mut Tx, link: Link, pairs: &[(i64, i64)]) -> Result<u64, StoreError> {
    let (table, a, b) = link.columns();
    let rows = pairs
        .iter()
        .map(|(x, y)| vec![Arg::from(*x), Arg::from(*y)])
        .collect();
    run_batched(
        tx,
        &format!("INSERT INTO {table} ({a}, {b}) VALUES "),
        rows,
        " ON CONFLICT DO NOTHING",
    )
    .await
}

/// A token row as an import writes it (the key only as hash and sealed copy).
#[derive(Debug, Clone)]
pub struct ImportedToken {
    /// Existing row to overwrite, or `None` to insert.
    pub id: Option<i64>,
    /// For an insert: the id to give the new row (`None`: the next one).
    pub insert_id: Option<i64>,
    /// UUID.
    pub uuid: String,
    /// Unique slug.
    pub identifier: String,
    /// sha256 hex of the key.
    pub key_hash: String,
    /// Sealed key; `None` keeps the stored one (update only).
    pub key_sealed: Option<String>,
    /// Intent.
    pub intent: String,
    /// Owner.
    pub user_id: i64,
    /// Description.
    pub description: String,
    /// Expiry (µs).
    pub expires: Option<i64>,
    /// Whether the expiry applies.
    pub expiring: bool,
    /// Managed marker.
    pub managed: Option<String>,
    /// Creation time for an insert (µs).
    pub created: i64,
}

/// Inserts or overwrites one token.
pub async fn write_token(tx: &mut Tx, t: &ImportedToken) -> Result<(), StoreError> {
    let mut sql;
    match t.id {
        None => {
            sql = Sql::new(
                "INSERT INTO tokens (id, uuid, identifier, key_hash, key_sealed, intent, user_id, \
                 description, expires, expiring, managed, created, scope) VALUES (",
            );
            match t.insert_id {
                Some(id) => sql.bind(id),
                // SQLite has no DEFAULT in VALUES; NULL asks its INTEGER PRIMARY KEY for one.
                None => sql.push(match tx.dialect() {
                    Dialect::Sqlite => "NULL",
                    Dialect::Postgres => "DEFAULT",
                }),
            };
            sql.push(", ")
                .bind(&t.uuid)
                .push(", ")
                .bind(&t.identifier)
                .push(", ");
            sql.bind(&t.key_hash).push(", ");
            sql.bind(t.key_sealed.clone().unwrap_or_default())
                .push(", ");
            sql.bind(&t.intent).push(", ").bind(t.user_id).push(", ");
            sql.bind(&t.description)
                .push(", ")
                .bind(t.expires)
                .push(", ");
            sql.bind(t.expiring).push(", ").bind(t.managed.clone());
            sql.push(", ").bind(t.created).push(", 'write')");
        }
        Some(id) => {
            sql = Sql::new("UPDATE tokens SET uuid = ");
            sql.bind(&t.uuid)
                .push(", identifier = ")
                .bind(&t.identifier);
            if let Some(sealed) = &t.key_sealed {
                sql.push(", key_hash = ").bind(&t.key_hash);
                sql.push(", key_sealed = ").bind(sealed);
            }
            sql.push(", intent = ").bind(&t.intent);
            sql.push(", user_id = ").bind(t.user_id);
            sql.push(", description = ").bind(&t.description);
            sql.push(", expires = ").bind(t.expires);
            sql.push(", expiring = ").bind(t.expiring);
            sql.push(", managed = ").bind(t.managed.clone());
            sql.push(" WHERE id = ").bind(id);
        }
    }
    tx.execute(&sql).await?;
    Ok(())
}

/// Records the install id given (unless the directory has one); whether it was recorded.
pub async fn adopt_install_id(tx: &mut Tx, install_id: &str, now: i64) -> Result<bool, StoreError> {
    super::install::create_install_id(tx, install_id, now).await
}
