//! The audit log's rows: written inside the transaction of the change they describe, read by
//! the events API.

use super::{Reader, Sql, Store, StoreError, Tx};
use crate::domain::filter::Direction;

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
#[derive(Debug, Clone, sqlx::FromRow)]
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

/// Filters of the events list, already validated.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Substring of the action.
    pub action_contains: Option<String>,
    /// Exact actions (any of).
    pub actions: Vec<String>,
    /// Exact client address.
    pub client_ip: Option<String>,
    /// Acting user's username.
    pub username: Option<String>,
    /// `context.model.pk`.
    pub model_pk: Option<String>,
    /// `context.model.model_name`.
    pub model_name: Option<String>,
    /// `context.model.app`.
    pub model_app: Option<String>,
    /// Plain search terms (each must match).
    pub search: Vec<String>,
    /// One event by uuid.
    pub uuid: Option<String>,
}

fn where_clause(q: &EventQuery, sql: &mut Sql) {
    sql.push(" WHERE 1 = 1");
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
        sql.push(" ESCAPE '\\' OR uuid LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

/// How many events match.
pub async fn count(store: &Store, q: &EventQuery) -> Result<i64, StoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM events");
    where_clause(q, &mut sql);
    store.fetch_scalar_i64(&sql).await
}

/// One page of events in `order` (column, direction) order, ties by id.
pub async fn page(
    store: &Store,
    q: &EventQuery,
    order: &[(&'static str, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<EventRow>, StoreError> {
    let mut sql = Sql::new(
        "SELECT uuid, action, app, user_json, context, client_ip, created, expires FROM events",
    );
    where_clause(q, &mut sql);
    let keys: Vec<(String, Direction)> = order.iter().map(|(c, d)| (c.to_string(), *d)).collect();
    super::filter::order_by(&mut sql, &keys, "id DESC");
    sql.push(" LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    store.fetch_all(&sql).await
}

/// A user's e-mail, for the `user` object of events.
pub async fn email_of<R: Reader>(db: &mut R, user_id: i64) -> Result<Option<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        email: String,
    }
    let mut sql = Sql::new("SELECT email FROM users WHERE id = ");
    sql.bind(user_id);
    Ok(db.fetch_optional::<Row>(&sql).await?.map(|r| r.email))
}
