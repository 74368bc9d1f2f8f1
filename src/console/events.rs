//! `/if/admin/events/`: the audit log, newest first, filtered by action, acting user, time and
//! object (`model`, `model_pk`); each event's `context.diff` is shown as "field: before → after" lines.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

use super::error::ConsoleError;
use super::form::{errors_of, Fields};
use super::layout::{self, pager, pages_of, Section, VIEW_EVENT};
use super::session::Signed;
use crate::app::AppState;
use crate::domain::authz::{visibility, Visibility};
use crate::domain::events::{self, Event, EventQuery};
use crate::domain::{FieldErrors, Timestamp};

/// Rows per page of the audit log.
const PAGE_SIZE: i64 = 50;

/// A value as one short line (strings without quotes).
fn short(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `context.diff` as readable lines: `field: before → after`, `field: + added, − removed`.
pub fn diff_lines(context: &Value) -> Vec<String> {
    let Some(diff) = context.get("diff").and_then(Value::as_object) else {
        return Vec::new();
    };
    diff.iter()
        .map(|(field, change)| {
            if let (Some(prev), Some(new)) = (change.get("previous_value"), change.get("new_value"))
            {
                return format!("{field}: {} → {}", short(prev), short(new));
            }
            let list = |key: &str| {
                change
                    .get(key)
                    .and_then(Value::as_array)
                    .map(|items| items.iter().map(short).collect::<Vec<_>>().join(", "))
            };
            let mut parts = Vec::new();
            if let Some(a) = list("add") {
                parts.push(format!("+ {a}"));
            }
            if let Some(r) = list("remove") {
                parts.push(format!("− {r}"));
            }
            if parts.is_empty() {
                format!("{field}: {}", short(change))
            } else {
                format!("{field}: {}", parts.join("; "))
            }
        })
        .collect()
}

/// The events as a table (time, action, user, object, changes, client).
pub fn events_table(list: &[Event]) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { "Time" } th scope="col" { "Action" } th scope="col" { "User" }
                th scope="col" { "Object" } th scope="col" { "Changes" } th scope="col" { "Client" }
            } }
            tbody {
                @for e in list {
                    tr {
                        td { (layout::when(e.created)) }
                        td { (e.action) }
                        td { (e.user.get("username").map(short).unwrap_or_default()) }
                        td {
                            @if let Some(m) = e.context.get("model") {
                                (m.get("model_name").map(short).unwrap_or_default()) " "
                                (m.get("name").map(short).unwrap_or_default())
                            } @else if let Some(u) = e.context.get("username") {
                                (short(u))
                            }
                        }
                        td { pre.diff { (diff_lines(&e.context).join("\n")) } }
                        td { (e.client_ip.clone().unwrap_or_default()) }
                    }
                }
                @if list.is_empty() { tr { td colspan="6" { "No events match." } } }
            }
        }
    }
}

/// `GET /if/admin/events/?action=&username=&from=&to=&model_pk=&page=`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    // Events carry no per-object grants: the log is for holders of the global permission.
    if visibility(&signed.principal, VIEW_EVENT) != Visibility::All {
        return Err(ConsoleError::Forbidden);
    }
    let q = Fields::query(query.as_deref());
    let action = q.text("action").unwrap_or_default();
    let username = q.text("username").unwrap_or_default();
    let from = q.text("from").unwrap_or_default();
    let to = q.text("to").unwrap_or_default();
    let model_pk = q.text("model_pk").unwrap_or_default();
    let model = q.text("model").unwrap_or_default();
    let mut errors = FieldErrors::new();
    let mut time = |name: &str, raw: &str| -> Option<i64> {
        if raw.is_empty() {
            return None;
        }
        match Timestamp::parse(raw) {
            Some(t) => Some(t.0),
            None => {
                errors.add(name, "Enter a valid date/time.");
                None
            }
        }
    };
    let query = EventQuery {
        action_contains: (!action.is_empty()).then(|| action.to_string()),
        username: (!username.is_empty()).then(|| username.to_string()),
        model_pk: (!model_pk.is_empty()).then(|| model_pk.to_string()),
        model_name: (!model.is_empty()).then(|| model.to_string()),
        created_from: time("from", from),
        created_before: time("to", to),
        ..EventQuery::default()
    };
    let (count, rows, pages, page) = if errors.is_empty() {
        let count = events::count(&state.store, &query).await?;
        let pages = pages_of(count, PAGE_SIZE);
        let page = q.page().min(pages);
        let rows =
            events::page(&state.store, &query, &[], PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
        (count, rows, pages, page)
    } else {
        (0, Vec::new(), 1, 1)
    };
    let filters = [
        ("action", action),
        ("username", username),
        ("from", from),
        ("to", to),
        ("model_pk", model_pk),
        ("model", model),
    ];
    let body = html! {
        h1 { "Audit log" }
        form.filters method="get" action="/if/admin/events/" role="search" {
            div { label for="f-action" { "Action" } input id="f-action" type="search" name="action" value=(action) placeholder="model_updated"; }
            div { label for="f-username" { "User" } input id="f-username" type="text" name="username" value=(username); }
            div { label for="f-from" { "From (UTC)" } input id="f-from" type="datetime-local" name="from" value=(from); (errors_of(&errors, "from")) }
            div { label for="f-to" { "Until (UTC)" } input id="f-to" type="datetime-local" name="to" value=(to); (errors_of(&errors, "to")) }
            @if !model_pk.is_empty() { input type="hidden" name="model_pk" value=(model_pk); }
            @if !model.is_empty() { input type="hidden" name="model" value=(model); }
            div { button type="submit" { "Filter" } }
        }
        (events_table(&rows))
        (pager("/if/admin/events/", &filters, page, pages, count))
    };
    Ok(layout::page(
        &signed,
        Section::Events,
        "Audit log",
        None,
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::diff_lines;
    use serde_json::json;

    #[test]
    fn diffs_read_as_before_and_after() {
        let context = json!({"diff": {
            "name": {"previous_value": "Al", "new_value": "Alice"},
            "email": {"previous_value": null, "new_value": "a@example.com"},
            "users": {"add": [3, 4], "remove": [7]},
        }});
        assert_eq!(
            diff_lines(&context),
            vec![
                "name: Al → Alice",
                "email: — → a@example.com",
                "users: + 3, 4; − 7",
            ]
        );
        assert!(diff_lines(&json!({"model": {}})).is_empty());
    }
}
