//! The audit log's rows: written inside the transaction of the change they describe, read by
//! the events API (pages, per-action volume, per-application counts), purged once expired.

use super::{Dialect, Reader, Sql, Store, StoreError, Tx};
use crate::query::events::{EventQuery, EventSort};
use crate::query::filter::Direction;

/// A new event row.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// UUID.
    pub uuid: String,
    /// Action (`model_created`, …).
    pub action: String,
    /// Component that recorded it.
    pub app: String,
    /// The acting user as JSON.
    pub user_json: String,
    /// The acting user's username (for filtering).
    pub username: Option<String>,
    /// Context as JSON.
    pub context: String,
    /// Client address.
    pub client_ip: Option<String>,
    /// Time (µs).
    pub created: i64,
    /// Expiry (µs).
    pub expires: i64,
    /// `context.model.app`.
    pub model_app: Option<String>,
    /// `context.model.model_name`.
    pub model_name: Option<String>,
    /// `context.model.pk` as text.
    pub model_pk: Option<String>,
    /// The request's id.
    pub request_id: Option<String>,
}

/// Writes an event.
pub async fn insert(tx: &mut Tx, e: &NewEvent) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        "INSERT INTO events (uuid, action, app, user_json, username, context, client_ip, created, expires, \
         model_app, model_name, model_pk, request_id) VALUES (",
    );
    sql.bind(&e.uuid)
        .push(", ")
        .bind(&e.action)
        .push(", ")
        .bind(&e.app)
        .push(", ")
        .bind(&e.user_json)
        .push(", ");
    sql.bind(e.username.clone())
        .push(", ")
        .bind(&e.context)
        .push(", ")
        .bind(e.client_ip.clone())
        .push(", ");
    sql.bind(e.created)
        .push(", ")
        .bind(e.expires)
        .push(", ")
        .bind(e.model_app.clone())
        .push(", ");
    sql.bind(e.model_name.clone())
        .push(", ")
        .bind(e.model_pk.clone())
        .push(", ")
        .bind(e.request_id.clone())
        .push(")");
    tx.execute(&sql).await?;
    Ok(())
}

/// One stored event.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct EventRow {
    /// UUID.
    pub uuid: String,
    /// Action.
    pub action: String,
    /// App.
    pub app: String,
    /// User JSON.
    pub user_json: String,
    /// Context JSON.
    pub context: String,
    /// Client address.
    pub client_ip: Option<String>,
    /// Time (µs).
    pub created: i64,
    /// Expiry (µs).
    pub expires: i64,
}

fn where_clause(q: &EventQuery, dialect: Dialect, sql: &mut Sql) {
    sql.push(" WHERE 1 = 1");
    if q.nothing {
        sql.push(" AND 1 = 0");
    }
    if let Some(a) = &q.action_contains {
        sql.push(" AND action LIKE ")
            .bind(format!("%{}%", super::filter::escape_like(a)))
            .push(" ESCAPE '\\'");
    }
    if !q.actions.is_empty() {
        sql.push(" AND action IN ").bind_list(q.actions.iter());
    }
    for (column, value) in [
        ("client_ip", &q.client_ip),
        ("username", &q.username),
        ("model_pk", &q.model_pk),
        ("model_name", &q.model_name),
        ("model_app", &q.model_app),
        ("uuid", &q.uuid),
    ] {
        if let Some(v) = value {
            sql.push(" AND ").push(column).push(" = ").bind(v.clone());
        }
    }
    if let Some(t) = q.created_from {
        sql.push(" AND created >= ").bind(t);
    }
    if let Some(t) = q.created_before {
        sql.push(" AND created < ").bind(t);
    }
    if let Some(pk) = &q.authorized_app {
        sql.push(" AND ");
        super::filter::json_equals(
            sql,
            dialect,
            "context",
            &["authorized_application".into(), "pk".into()],
            &serde_json::Value::String(pk.clone()),
        );
    }
    for term in &q.search {
        let pattern = format!("%{}%", super::filter::escape_like(&term.to_lowercase()));
        sql.push(" AND (LOWER(action) LIKE ")
            .bind(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(app) LIKE ")
            .bind(pattern.clone());
        sql.push(" ESCAPE '\\' OR LOWER(user_json) LIKE ")
            .bind(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(context) LIKE ")
            .bind(pattern.clone());
        sql.push(" ESCAPE '\\' OR LOWER(client_ip) LIKE ")
            .bind(pattern.clone())
            .push(" ESCAPE '\\' OR uuid LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

/// How many events match.
pub async fn count(store: &Store, q: &EventQuery) -> Result<i64, StoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM events");
    where_clause(q, store.dialect(), &mut sql);
    store.fetch_scalar_i64(&sql).await
}

/// The column an event sort key orders by.
fn sort_column(key: EventSort) -> &'static str {
    match key {
        EventSort::Uuid => "uuid",
        EventSort::Username => "username",
        EventSort::Action => "action",
        EventSort::App => "app",
        EventSort::Context => "context",
        EventSort::ClientIp => "client_ip",
        EventSort::Created => "created",
        EventSort::Expires => "expires",
    }
}

/// One page of events in `order` order, ties by id.
pub async fn page(
    store: &Store,
    q: &EventQuery,
    order: &[(EventSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<EventRow>, StoreError> {
    let mut sql = Sql::new(
        "SELECT uuid, action, app, user_json, context, client_ip, created, expires FROM events",
    );
    where_clause(q, store.dialect(), &mut sql);
    let keys: Vec<(String, Direction)> = order
        .iter()
        .map(|(key, d)| (sort_column(*key).to_string(), *d))
        .collect();
    super::filter::order_by(&mut sql, &keys, "id DESC");
    sql.push(" LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    store.fetch_all(&sql).await
}

/// A user's e-mail, for the `user` object of events.
pub async fn email_of<R: Reader>(db: &mut R, user_id: i64) -> Result<Option<String>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct Row {
        email: String,
    }
    let mut sql = Sql::new("SELECT email FROM users WHERE id = ");
    sql.bind(user_id);
    Ok(db.fetch_optional::<Row>(&sql).await?.map(|r| r.email))
}

/// Width of a `volume` bucket: six hours, aligned to 00/06/12/18 UTC (µs).
pub const VOLUME_BUCKET_MICROS: i64 = 6 * 3_600 * 1_000_000;

/// How many events of one action fell in one bucket.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct VolumeRow {
    /// Start of the bucket (µs since the epoch, UTC).
    pub bucket: i64,
    /// Action.
    pub action: String,
    /// Events of that action in that bucket.
    pub count: i64,
}

/// Events matching `q` created at or after `since`, counted per action per six-hour bucket,
/// ordered by bucket then action.
pub async fn volume(
    store: &Store,
    q: &EventQuery,
    since: i64,
) -> Result<Vec<VolumeRow>, StoreError> {
    let mut sql = Sql::new("SELECT created - (created % ");
    sql.bind(VOLUME_BUCKET_MICROS)
        .push(") AS bucket, action, COUNT(*) AS count FROM events");
    where_clause(q, store.dialect(), &mut sql);
    sql.push(" AND created >= ")
        .bind(since)
        .push(" GROUP BY 1, 2 ORDER BY 1, 2");
    store.fetch_all(&sql).await
}

/// Events of one action counted per authorized application.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct AppCountRow {
    /// `context.authorized_application` as JSON text.
    pub application: String,
    /// Events naming it.
    pub counted_events: i64,
    /// Distinct `user.pk` among them.
    pub unique_users: i64,
}

/// Events whose action is exactly `action` and whose `context.authorized_application` is an
/// object, grouped by that object: the `limit` largest groups, ties by the application's pk.
pub async fn top_per_application(
    store: &Store,
    action: &str,
    limit: i64,
) -> Result<Vec<AppCountRow>, StoreError> {
    // The context is text on both backends; each reads it with its own JSON functions.
    let (source, app, app_pk, user_pk, is_object) = match store.dialect() {
        Dialect::Sqlite => (
            "SELECT context AS c, user_json AS u FROM events WHERE action = ",
            "json_extract(c, '$.authorized_application')",
            "json_extract(c, '$.authorized_application.pk')",
            "json_extract(u, '$.pk')",
            "json_type(c, '$.authorized_application') = 'object'",
        ),
        Dialect::Postgres => (
            "SELECT context::jsonb AS c, user_json::jsonb AS u FROM events WHERE action = ",
            "(c -> 'authorized_application')",
            "(c #>> '{authorized_application,pk}') COLLATE \"C\"",
            "(u ->> 'pk')",
            "jsonb_typeof(c -> 'authorized_application') = 'object'",
        ),
    };
    let mut sql = Sql::new("SELECT ");
    sql.push(app).push(if store.dialect() == Dialect::Postgres {
        "::text"
    } else {
        ""
    });
    sql.push(" AS application, COUNT(*) AS counted_events, COUNT(DISTINCT ")
        .push(user_pk)
        .push(") AS unique_users FROM (")
        .push(source)
        .bind(action.to_string())
        // A substring test first, so events without the key are never parsed as JSON.
        .push(" AND context LIKE '%\"authorized\\_application\"%' ESCAPE '\\') e WHERE ")
        .push(is_object)
        .push(" GROUP BY ")
        .push(app)
        .push(" ORDER BY counted_events DESC, MIN(")
        .push(app_pk)
        .push("), 1 LIMIT ")
        .bind(limit);
    store.fetch_all(&sql).await
}

/// Deletes at most `limit` events whose `expires` is before `now` (oldest expiry first), in
/// one short transaction; returns how many went. On PostgreSQL, rows another instance is
/// purging at the same moment are skipped, not waited for, so concurrent purges never block
/// or deadlock one another.
pub async fn purge_expired(store: &Store, now: i64, limit: i64) -> Result<u64, StoreError> {
    let mut tx = store.begin().await?;
    let mut sql =
        Sql::new("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE expires < ");
    sql.bind(now).push(" ORDER BY expires LIMIT ").bind(limit);
    if tx.dialect() == Dialect::Postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
    sql.push(")");
    let deleted = tx.execute(&sql).await?;
    if deleted > 0 {
        // No cache derives anything from events.
        tx.touches(super::Touched::NONE);
        tx.commit().await?;
    }
    // Nothing deleted: dropping the transaction rolls it back.
    Ok(deleted)
}
