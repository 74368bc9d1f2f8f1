//! Reading the audit log: events as the directory shows them, a page or one at a time, and the
//! two tallies the events API serves (per action per six hours, per authorized application).
//! Writing events is `audit`'s job, inside the transaction of the change each describes.

use serde_json::{json, Value};

use super::error::ObjectKind;
use super::filter::Direction;
use super::{DomainError, Timestamp};
use crate::store::events::{self as store_events, EventRow};
use crate::store::Store;

pub use crate::query::events::{EventQuery, EventSort};

/// One audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// UUID.
    pub uuid: String,
    /// The acting user (`{}` when unreadable).
    pub user: Value,
    /// Action (`model_created`, …).
    pub action: String,
    /// Component that recorded it.
    pub app: String,
    /// Context (`{}` when unreadable).
    pub context: Value,
    /// Client address.
    pub client_ip: Option<String>,
    /// When it happened.
    pub created: Timestamp,
    /// When it expires.
    pub expires: Timestamp,
}

/// How many events of one action fell in one six-hour bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionVolume {
    /// Start of the bucket (00/06/12/18 UTC).
    pub bucket: Timestamp,
    /// Action.
    pub action: String,
    /// Events of that action in that bucket.
    pub count: i64,
}

/// Events of one action that name one authorized application.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationCount {
    /// `context.authorized_application` (`{}` when unreadable).
    pub application: Value,
    /// Events naming it.
    pub counted_events: i64,
    /// Distinct acting users among them.
    pub unique_users: i64,
}

/// Stored JSON text as a value (anything unreadable reads as `{}`).
fn parse(text: &str) -> Value {
    serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!({}))
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Event {
            user: parse(&row.user_json),
            context: parse(&row.context),
            uuid: row.uuid,
            action: row.action,
            app: row.app,
            client_ip: row.client_ip,
            created: Timestamp(row.created),
            expires: Timestamp(row.expires),
        }
    }
}

/// How many events match.
pub async fn count(store: &Store, q: &EventQuery) -> Result<i64, DomainError> {
    Ok(store_events::count(store, q).await?)
}

/// One page of matching events in `order` order, ties by id (newest first without keys).
pub async fn page(
    store: &Store,
    q: &EventQuery,
    order: &[(EventSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<Event>, DomainError> {
    let rows = store_events::page(store, q, order, limit, offset).await?;
    Ok(rows.into_iter().map(Event::from).collect())
}

/// The event with this uuid (canonical hyphenated form).
pub async fn get(store: &Store, uuid: String) -> Result<Event, DomainError> {
    let q = EventQuery {
        uuid: Some(uuid),
        ..EventQuery::default()
    };
    store_events::page(store, &q, &[], 1, 0)
        .await?
        .pop()
        .map(Event::from)
        .ok_or(DomainError::NotFound(ObjectKind::Event))
}

/// Matching events created at or after `since`, counted per action per six-hour bucket,
/// ordered by bucket then action.
pub async fn volume(
    store: &Store,
    q: &EventQuery,
    since: Timestamp,
) -> Result<Vec<ActionVolume>, DomainError> {
    let rows = store_events::volume(store, q, since.0).await?;
    Ok(rows
        .into_iter()
        .map(|r| ActionVolume {
            bucket: Timestamp(r.bucket),
            action: r.action,
            count: r.count,
        })
        .collect())
}

/// Events of exactly `action` that name an authorized application, counted per application:
/// the `limit` largest, ties by the application's pk.
pub async fn top_per_application(
    store: &Store,
    action: &str,
    limit: i64,
) -> Result<Vec<ApplicationCount>, DomainError> {
    let rows = store_events::top_per_application(store, action, limit).await?;
    Ok(rows
        .into_iter()
        .map(|r| ApplicationCount {
            application: parse(&r.application),
            counted_events: r.counted_events,
            unique_users: r.unique_users,
        })
        .collect())
}
