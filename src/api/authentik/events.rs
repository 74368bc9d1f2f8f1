//! `/api/v3/events/events/`: the audit log in authentik's `Event` shape — list (filters,
//! search, ordering, pagination), retrieve, and the action catalogue. Read-only through the API
//! (deviation 11): no route writes an event.

use std::sync::{Arc, OnceLock};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::middleware::map_response;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::caller::Caller;
use super::pagination::{Envelope, PageRequest};
use super::query::{choice_error, search_terms, Params};
use super::{options, require_visibility, Lookup};
use crate::api::allow;
use crate::api::error::{json_response, ApiError};
use crate::app::AppState;
use crate::domain::authz::Visibility;
use crate::domain::error::Kind;
use crate::domain::filter::Direction;
use crate::domain::{DomainError, FieldErrors, Timestamp};
use crate::store::events::{self as store_events, EventQuery, EventRow};

const VIEW_EVENT: &str = "authentik_events.view_event";

/// authentik's event actions, in declaration order.
pub const ACTIONS: [&str; 28] = [
    "login",
    "login_failed",
    "logout",
    "user_write",
    "suspicious_request",
    "password_set",
    "secret_view",
    "secret_rotate",
    "invitation_used",
    "authorize_application",
    "source_linked",
    "impersonation_started",
    "impersonation_ended",
    "flow_execution",
    "policy_execution",
    "policy_exception",
    "property_mapping_exception",
    "system_task_execution",
    "system_task_exception",
    "system_exception",
    "configuration_error",
    "model_created",
    "model_updated",
    "model_deleted",
    "email_sent",
    "update_available",
    "export_ready",
    "custom_",
];

/// The events routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/events/events/",
            get(list)
                .options(options)
                .layer(map_response(allow("GET, HEAD, OPTIONS"))),
        )
        .route(
            "/events/events/actions/",
            get(actions)
                .options(options)
                .layer(map_response(allow("GET, HEAD, OPTIONS"))),
        )
        .route(
            "/events/events/{uuid}/",
            get(retrieve)
                .options(options)
                .layer(map_response(allow("GET, HEAD, OPTIONS"))),
        )
}

fn brand(state: &AppState) -> Value {
    json!({"app": "authentik_brands", "model_name": "brand", "pk": state.install_id.replace('-', ""), "name": "Default brand"})
}

fn event_json(state: &AppState, row: &EventRow) -> Value {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!({}));
    json!({
        "pk": row.uuid,
        "user": parse(&row.user_json),
        "action": row.action,
        "app": row.app,
        "context": parse(&row.context),
        "client_ip": row.client_ip,
        "created": Timestamp(row.created).to_drf(),
        "expires": Timestamp(row.expires).to_drf(),
        "brand": brand(state),
    })
}

fn autocomplete() -> &'static Value {
    static A: OnceLock<Value> = OnceLock::new();
    A.get_or_init(|| {
        let s = json!({"type": "str", "nullable": false, "options": null});
        json!({"current_model": "authentik_events.event", "models": {"authentik_events.event": {
            "action": {"type": "str", "nullable": false, "options": ACTIONS},
            "event_uuid": s, "app": s, "client_ip": {"type": "str", "nullable": true, "options": null},
            "created": {"type": "datetime", "nullable": false, "options": null}
        }}})
    })
}

const ORDERABLE: [(&str, &str); 8] = [
    ("pk", "uuid"),
    ("user", "username"),
    ("action", "action"),
    ("app", "app"),
    ("context", "context"),
    ("client_ip", "client_ip"),
    ("created", "created"),
    ("expires", "expires"),
];

fn query(params: &Params) -> Result<EventQuery, ApiError> {
    let mut q = EventQuery::default();
    let nonempty = |name: &str| {
        params
            .last(name)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    q.action_contains = nonempty("action");
    for a in params.all("actions").into_iter().filter(|v| !v.is_empty()) {
        if !ACTIONS.contains(&a) {
            return Err(ApiError::Domain(DomainError::Invalid(FieldErrors::single(
                "actions",
                choice_error(a),
            ))));
        }
        q.actions.push(a.to_string());
    }
    q.client_ip = nonempty("client_ip");
    q.username = nonempty("username");
    q.model_pk = nonempty("context_model_pk").map(|v| v.replace('-', ""));
    q.model_name = nonempty("context_model_name");
    q.model_app = nonempty("context_model_app");
    if let Some(search) = params.last("search") {
        q.search = search_terms(search);
    }
    Ok(q)
}

async fn list(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let visible = require_visibility(&caller, VIEW_EVENT)?;
    let params = Params::parse(raw.as_deref());
    let q = query(&params)?;
    if let Visibility::Only(_) = visible {
        // Per-object grants on single events are not served: only global view_event lists.
        return Err(super::denied(crate::domain::authz::Denied::Forbidden));
    }
    let keys: Vec<(&'static str, Direction)> = params
        .ordering(&ORDERABLE, "created")
        .into_iter()
        .map(|(c, d)| {
            (
                c,
                if params.last("ordering").is_none() {
                    Direction::Desc
                } else {
                    d
                },
            )
        })
        .collect();
    let count = store_events::count(&state.store, &q).await?;
    let pagination = PageRequest::from_params(&params).resolve(count)?;
    let rows =
        store_events::page(&state.store, &q, &keys, pagination.limit, pagination.offset).await?;
    let results: Vec<Value> = rows.iter().map(|r| event_json(&state, r)).collect();
    Ok(json_response(
        StatusCode::OK,
        &Envelope {
            pagination,
            results,
            autocomplete: autocomplete(),
        },
    ))
}

async fn retrieve(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(raw): Lookup,
) -> Result<Response, ApiError> {
    if require_visibility(&caller, VIEW_EVENT)? != Visibility::All {
        return Err(super::denied(crate::domain::authz::Denied::Forbidden));
    }
    let uuid = uuid::Uuid::parse_str(&raw)
        .map_err(|_| ApiError::BadLookup)?
        .to_string();
    let q = EventQuery {
        uuid: Some(uuid),
        ..EventQuery::default()
    };
    let row = store_events::page(&state.store, &q, &[], 1, 0)
        .await?
        .pop()
        .ok_or(ApiError::Domain(DomainError::NotFound(Kind::Event)))?;
    Ok(json_response(StatusCode::OK, &event_json(&state, &row)))
}

fn label(action: &str) -> String {
    match action {
        "invitation_used" => "Invite Used".into(),
        "custom_" => "Custom Prefix".into(),
        other => other
            .split('_')
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

async fn actions(Caller(_caller): Caller) -> Response {
    let body: Vec<Value> = ACTIONS
        .iter()
        .map(|a| json!({"name": label(a), "description": "", "component": a, "model_name": "", "requires_enterprise": false, "deprecated": false}))
        .collect();
    json_response(StatusCode::OK, &body)
}
