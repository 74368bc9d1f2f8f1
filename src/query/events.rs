//! What an audit-log query can name: the list's filters and the keys it sorts by.

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
    /// `context.authorized_application.pk`.
    pub authorized_app: Option<String>,
    /// One event by uuid.
    pub uuid: Option<String>,
    /// Created at or after this time (µs since the epoch).
    pub created_from: Option<i64>,
    /// Created before this time (µs since the epoch).
    pub created_before: Option<i64>,
    /// No event can match (a filter value no event carries, e.g. another brand's name).
    pub nothing: bool,
}

/// Sort keys for events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSort {
    /// UUID.
    Uuid,
    /// The acting user's username.
    Username,
    /// Action.
    Action,
    /// App.
    App,
    /// Context (as stored text).
    Context,
    /// Client address.
    ClientIp,
    /// Time.
    Created,
    /// Expiry.
    Expires,
}
