//! Audit events in authentik's `Event` shape: who did what to which object, from where, in
//! which request, with what changed (`context.diff`) — never secret values. Recorded inside the
//! transaction of the change, so one never exists without the other.

use serde_json::{json, Map, Value};

use super::authz::Scope;
use super::{DomainError, Timestamp};
use crate::store::events::{self as store_events, NewEvent};
use crate::store::Tx;

/// How long events are kept unless configured otherwise (authentik's default retention), seconds.
pub const RETENTION_SECONDS: i64 = 365 * 86_400;

/// What the request tells the audit log: the caller and where the request came from.
#[derive(Debug, Clone)]
pub struct AuditContext {
    /// The acting user (id, username), if authenticated.
    pub actor: Option<(i64, String)>,
    /// The acting user's e-mail, when the caller already knows it (else it is read).
    pub actor_email: Option<String>,
    /// Scope of the actor's credential. Every change and every secret handed out is recorded
    /// here, so `record` refusing a `Read` actor backs up `authz` for any path that forgot it.
    pub actor_scope: Scope,
    /// Client address.
    pub client_ip: Option<String>,
    /// The request's id (`X-authentik-id`).
    pub request_id: Option<String>,
    /// Path of the request.
    pub path: String,
    /// Method of the request.
    pub method: String,
    /// User agent.
    pub user_agent: String,
    /// Query arguments, already cleansed of secrets.
    pub args: Map<String, Value>,
    /// How long the events of this request are kept, seconds (the configured retention).
    pub retention_seconds: i64,
    /// The lookup hash of the login session the actor used, if any: kept when the actor
    /// changes its own password (Django's `update_session_auth_hash`).
    pub actor_session: Option<String>,
    /// A named system actor for changes no user made through a door (the administration
    /// commands, imports): recorded instead of `AnonymousUser` when `actor` is `None`.
    pub system_actor: Option<String>,
}

/// The actor the command line's changes are recorded as (README, "Administration CLI").
pub const COMMAND_LINE_ACTOR: &str = "gatehouse-cli";

impl Default for AuditContext {
    fn default() -> Self {
        AuditContext {
            actor: None,
            actor_email: None,
            actor_scope: Scope::Write,
            client_ip: None,
            request_id: None,
            path: String::new(),
            method: String::new(),
            user_agent: String::new(),
            args: Map::new(),
            retention_seconds: RETENTION_SECONDS,
            actor_session: None,
            system_actor: None,
        }
    }
}

impl AuditContext {
    /// A change made by a command on the server's machine (`command` such as
    /// `gatehouse users create`), recorded as [`COMMAND_LINE_ACTOR`]; `operator` says who ran
    /// it (the operating-system account), in the event's user agent.
    pub fn command_line(command: &str, operator: &str) -> AuditContext {
        AuditContext {
            system_actor: Some(COMMAND_LINE_ACTOR.into()),
            path: command.into(),
            method: "CLI".into(),
            user_agent: format!(
                "gatehouse/{} (command line; {operator})",
                env!("CARGO_PKG_VERSION")
            ),
            ..AuditContext::default()
        }
    }

    /// The same request, acting as someone else (e.g. the user whose password changed).
    pub fn as_user(&self, id: i64, username: &str) -> AuditContext {
        AuditContext {
            actor: Some((id, username.to_string())),
            actor_email: None,
            actor_session: None,
            ..self.clone()
        }
    }

    fn http_request(&self) -> Value {
        json!({
            "path": self.path,
            "method": self.method,
            "args": self.args,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
        })
    }
}

/// An object as `context.model` names it.
#[derive(Debug, Clone)]
pub struct ModelRef {
    /// Django app (`authentik_core`, `authentik_rbac`).
    pub app: &'static str,
    /// Model name (`user`, `group`, `token`, `role`).
    pub model_name: &'static str,
    /// pk: an integer for users, dashless uuid hex otherwise.
    pub pk: Value,
    /// The object's name.
    pub name: String,
}

impl ModelRef {
    /// A user (`pk` integer, `name` the display name).
    pub fn user(id: i64, name: &str) -> ModelRef {
        ModelRef {
            app: "authentik_core",
            model_name: "user",
            pk: json!(id),
            name: name.to_string(),
        }
    }

    /// A group.
    pub fn group(uuid: &str, name: &str) -> ModelRef {
        ModelRef {
            app: "authentik_core",
            model_name: "group",
            pk: json!(hex(uuid)),
            name: name.to_string(),
        }
    }

    /// A token (named by its identifier).
    pub fn token(uuid: &str, identifier: &str) -> ModelRef {
        ModelRef {
            app: "authentik_core",
            model_name: "token",
            pk: json!(hex(uuid)),
            name: identifier.to_string(),
        }
    }

    /// A role.
    pub fn role(uuid: &str, name: &str) -> ModelRef {
        ModelRef {
            app: "authentik_rbac",
            model_name: "role",
            pk: json!(hex(uuid)),
            name: name.to_string(),
        }
    }

    /// A global grant row (authentik logs these as guardian's `rolemodelpermission`).
    pub fn grant(row_id: i64, role_uuid: &str, permission_id: i64) -> ModelRef {
        ModelRef {
            app: "guardian",
            model_name: "rolemodelpermission",
            pk: json!(row_id),
            name: format!(
                "RoleModelPermission with role {role_uuid} and permission {permission_id}"
            ),
        }
    }

    fn to_json(&self) -> Value {
        json!({"app": self.app, "model_name": self.model_name, "pk": self.pk, "name": self.name})
    }
}

fn hex(uuid: &str) -> String {
    uuid.replace('-', "")
}

/// Field → (previous, new) of what a change altered.
#[derive(Debug, Clone, Default)]
pub struct Diff(Map<String, Value>);

impl Diff {
    /// Records a field when its value changes.
    pub fn field(&mut self, name: &str, previous: Value, new: Value) {
        if previous != new {
            self.0.insert(
                name.into(),
                json!({"previous_value": previous, "new_value": new}),
            );
        }
    }

    /// Records a created object's fields (previous values null).
    pub fn created(fields: &[(&str, Value)]) -> Diff {
        let mut d = Diff::default();
        for (name, value) in fields {
            d.0.insert(
                (*name).into(),
                json!({"previous_value": null, "new_value": value}),
            );
        }
        d
    }

    /// Records an add/remove on a relation.
    pub fn relation(&mut self, name: &str, added: Vec<Value>, removed: Vec<Value>) {
        let mut m = Map::new();
        if !added.is_empty() {
            m.insert("add".into(), Value::Array(added));
        }
        if !removed.is_empty() {
            m.insert("remove".into(), Value::Array(removed));
        }
        if !m.is_empty() {
            self.0.insert(name.into(), Value::Object(m));
        }
    }
}

/// Writes one event inside `tx`.
pub async fn record(
    tx: &mut Tx,
    ctx: &AuditContext,
    action: &str,
    key: &str,
    model: Option<&ModelRef>,
    diff: Option<Diff>,
    extra: Map<String, Value>,
) -> Result<(), DomainError> {
    // A read-scoped credential changes nothing and sees no secret (authz refuses it first).
    if ctx.actor_scope != Scope::Write {
        return Err(DomainError::Forbidden);
    }
    let user = match &ctx.actor {
        Some((id, username)) => {
            let email = match &ctx.actor_email {
                Some(email) => email.clone(),
                None => store_events::email_of(tx, *id).await?.unwrap_or_default(),
            };
            json!({"username": username, "pk": id, "email": email})
        }
        None => match &ctx.system_actor {
            Some(name) => json!({"username": name, "pk": null, "email": "", "is_system": true}),
            None => {
                json!({"username": "AnonymousUser", "pk": null, "email": "", "is_anonymous": true})
            }
        },
    };
    let mut context = Map::new();
    if let Some(m) = model {
        context.insert(key.into(), m.to_json());
    }
    context.extend(extra);
    if let Some(d) = diff.filter(|d| !d.0.is_empty()) {
        context.insert("diff".into(), Value::Object(d.0));
    }
    context.insert("http_request".into(), ctx.http_request());
    // Query arguments and failed-login names are the client's text; a NUL in them would be
    // stored as `\u0000`, which PostgreSQL's jsonb refuses, and every later query reading the
    // context as jsonb would fail.
    replace_nul_in(&mut context);
    cap_context(&mut context);
    let now = Timestamp::now();
    let event = NewEvent {
        // Time-ordered (UUIDv7): each new event's key lands at the end of the uuid index
        // instead of on a random page, one page fewer written per write (a valid UUID for
        // every client, like authentik's v4 ones).
        uuid: uuid::Uuid::now_v7().to_string(),
        action: action.to_string(),
        app: "authentik.events.middleware".into(),
        user_json: user.to_string(),
        // authentik's `username` filter also matches `context.username` (failed logins).
        username: ctx
            .actor
            .as_ref()
            .map(|a| a.1.clone())
            .or_else(|| ctx.system_actor.clone())
            .or_else(|| {
                context
                    .get("username")
                    .and_then(|v| v.as_str())
                    .map(String::from)
            }),
        context: Value::Object(context.clone()).to_string(),
        client_ip: ctx.client_ip.clone(),
        created: now.0,
        expires: now.plus_seconds(ctx.retention_seconds).0,
        model_app: model.map(|m| m.app.to_string()),
        model_name: model.map(|m| m.model_name.to_string()),
        model_pk: model.map(|m| match &m.pk {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        request_id: ctx.request_id.clone(),
    };
    store_events::insert(tx, &event).await?;
    Ok(())
}

/// Replaces every NUL in the keys and strings of `map`, however deep, with U+FFFD.
fn replace_nul_in(map: &mut Map<String, Value>) {
    if map.keys().any(|k| k.contains('\0')) {
        *map = std::mem::take(map)
            .into_iter()
            .map(|(k, v)| (k.replace('\0', "\u{FFFD}"), v))
            .collect();
    }
    map.values_mut().for_each(replace_nul);
}

fn replace_nul(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => replace_nul_in(map),
        _ => {}
    }
}

/// Records an event in a transaction of its own (failed logins, key views).
pub async fn record_alone(
    store: &crate::store::Store,
    ctx: &AuditContext,
    action: &str,
    key: &str,
    model: Option<&ModelRef>,
    extra: Map<String, Value>,
) -> Result<(), DomainError> {
    let mut tx = store.begin().await?;
    record(&mut tx, ctx, action, key, model, None, extra).await?;
    // Events feed no cache.
    tx.touches(crate::store::Touched::NONE);
    tx.commit().await?;
    Ok(())
}

/// Largest context an event stores, bytes of JSON: every door's events pass through `record`,
/// and some carry the client's text (failed-login names, query arguments, attribute diffs).
pub const CONTEXT_CAP_BYTES: usize = 64 * 1024;
/// Longest string kept whole in a context over the cap.
const CAPPED_STRING_CHARS: usize = 1024;

/// Keeps a context within `CONTEXT_CAP_BYTES`: first every long string is cut (marked `…`);
/// if that is not enough, only the model and request keys stay, with `"truncated": true`.
fn cap_context(context: &mut Map<String, Value>) {
    let size = |c: &Map<String, Value>| Value::Object(c.clone()).to_string().len();
    if size(context) <= CONTEXT_CAP_BYTES {
        return;
    }
    for value in context.values_mut() {
        cut_strings(value);
    }
    context.insert("truncated".into(), Value::Bool(true));
    if size(context) > CONTEXT_CAP_BYTES {
        context.retain(|k, _| matches!(k.as_str(), "model" | "http_request" | "truncated"));
        if size(context) > CONTEXT_CAP_BYTES {
            context.retain(|k, _| k == "truncated");
        }
    }
}

fn cut_strings(value: &mut Value) {
    match value {
        Value::String(s) if s.chars().count() > CAPPED_STRING_CHARS => {
            let mut cut: String = s.chars().take(CAPPED_STRING_CHARS).collect();
            cut.push('…');
            *s = cut;
        }
        Value::Array(items) => items.iter_mut().for_each(cut_strings),
        Value::Object(map) => map.values_mut().for_each(cut_strings),
        _ => {}
    }
}

/// Events deleted per purge transaction: small enough that the SQLite writer is never held for
/// long, large enough that a backlog clears quickly.
pub const PURGE_BATCH: i64 = 1_000;

/// Deletes every event that expired before `now`, `batch` rows per transaction, pausing
/// between full batches so queued writers go first. Safe to run on several instances at once.
/// Returns how many events this call deleted.
pub async fn purge_expired(
    store: &crate::store::Store,
    now: Timestamp,
    batch: i64,
) -> Result<u64, DomainError> {
    let batch = batch.max(1);
    let mut total = 0;
    loop {
        let deleted = store_events::purge_expired(store, now.0, batch).await?;
        total += deleted;
        if deleted < batch.unsigned_abs() {
            return Ok(total);
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Whether a query/context key names a secret (Django's SafeExceptionReporterFilter pattern).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    let secret = [
        "API",
        "AUTH",
        "TOKEN",
        "KEY",
        "SECRET",
        "PASS",
        "SIGNATURE",
        "HTTP_COOKIE",
    ]
    .iter()
    .any(|s| k.contains(s));
    let allowed = k.contains("PASSING") || k.contains("PASSWORD_CHANGE_DATE");
    secret && !allowed
}

/// The mask secret values get.
pub const MASK: &str = "********************";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_over_the_cap_are_cut() {
        let mut small = Map::new();
        small.insert("username".into(), json!("bob"));
        let before = small.clone();
        cap_context(&mut small);
        assert_eq!(small, before, "small contexts are kept whole");

        let mut long_name = Map::new();
        long_name.insert("username".into(), json!("a".repeat(1_000_000)));
        cap_context(&mut long_name);
        assert!(Value::Object(long_name.clone()).to_string().len() <= CONTEXT_CAP_BYTES);
        assert_eq!(long_name["truncated"], json!(true));

        let mut many = Map::new();
        many.insert("http_request".into(), json!({"path": "/x"}));
        let items: Vec<Value> = (0..100_000).map(|i| json!(i)).collect();
        many.insert("diff".into(), Value::Array(items));
        cap_context(&mut many);
        assert!(Value::Object(many.clone()).to_string().len() <= CONTEXT_CAP_BYTES);
        assert!(many.contains_key("http_request") && !many.contains_key("diff"));
    }
}
