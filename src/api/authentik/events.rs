//! `/api/v3/events/events/`: the audit log in authentik's `Event` shape — list (filters,
//! search, ordering, pagination), retrieve, the action catalogue, `volume` (events per action
//! per six hours) and `top_per_user` (events per authorized application). Read-only through the
//! API (deviation 11): no route writes an event.

use crate::api::authentik::error::finish as authentik_finish;
use std::sync::{Arc, OnceLock};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use serde_json::{json, Value};

use super::caller::Caller;
use super::openapi::schemas::{
    boolean, date_time, free_object, integer, named, nullable_string, object_of, string,
};
use super::openapi::{Answer, QueryType, Spec};
use super::pagination::{Envelope, PageRequest};
use super::{options, require_visibility, Lookup};
use crate::api::error::{json_response, ApiError};
use crate::api::query::{choice_error, search_terms, Params};
use crate::api::routing::{Route, Routes};
use crate::app::AppState;
use crate::domain::authz::Visibility;
use crate::domain::events::{self, Event, EventQuery, EventSort};
use crate::domain::filter::Direction;
use crate::domain::{DomainError, FieldErrors, Timestamp};

const VIEW_EVENT: &str = "authentik_events.view_event";

/// The name of the one brand every event carries.
const BRAND_NAME: &str = "Default brand";

/// `volume`'s default and largest `history_days` (authentik 2025.12 caps silently at 60).
const HISTORY_DAYS_DEFAULT: i64 = 7;
const HISTORY_DAYS_MAX: i64 = 60;

/// `top_per_user`'s default `top_n`.
const TOP_N_DEFAULT: i64 = 15;

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
pub fn routes() -> Routes<Arc<AppState>> {
    Routes::new(authentik_finish)
        .route("/events/events/", Route::new().get(list).options(options))
        .route(
            "/events/events/actions/",
            Route::new().get(actions).options(options),
        )
        .route(
            "/events/events/volume/",
            Route::new().get(volume).options(options),
        )
        .route(
            "/events/events/top_per_user/",
            Route::new().get(top_per_user).options(options),
        )
        .route(
            "/events/events/{event_uuid}/",
            Route::new().get(retrieve).options(options),
        )
}

fn brand(state: &AppState) -> Value {
    json!({"app": "authentik_brands", "model_name": "brand", "pk": state.install_id.replace('-', ""), "name": BRAND_NAME})
}

fn event_json(state: &AppState, event: &Event) -> Value {
    json!({
        "pk": event.uuid,
        "user": event.user,
        "action": event.action,
        "app": event.app,
        "context": event.context,
        "client_ip": event.client_ip,
        "created": event.created.to_drf(),
        "expires": event.expires.to_drf(),
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

const ORDERABLE: [(&str, EventSort); 8] = [
    ("pk", EventSort::Uuid),
    ("user", EventSort::Username),
    ("action", EventSort::Action),
    ("app", EventSort::App),
    ("context", EventSort::Context),
    ("client_ip", EventSort::ClientIp),
    ("created", EventSort::Created),
    ("expires", EventSort::Expires),
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
    q.authorized_app = nonempty("context_authorized_app");
    q.nothing = nonempty("brand_name").is_some_and(|b| b != BRAND_NAME);
    if let Some(search) = params.last("search") {
        q.search = search_terms(search);
    }
    Ok(q)
}

/// The list's parameters and filters, for a caller who may list events: 403 for anyone
/// without global `view_event` (per-object grants on single events are not served).
fn listing(
    caller: &crate::domain::authz::Principal,
    raw: Option<&str>,
) -> Result<(Params, EventQuery), ApiError> {
    let visible = require_visibility(caller, VIEW_EVENT)?;
    let params = Params::parse(raw);
    let q = query(&params)?;
    if let Visibility::Only(_) = visible {
        return Err(super::denied(crate::domain::authz::Denied::Forbidden));
    }
    Ok((params, q))
}

async fn list(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (params, q) = listing(&caller, raw.as_deref())?;
    let keys: Vec<(EventSort, Direction)> = params
        .ordering(&ORDERABLE, EventSort::Created)
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
    let count = events::count(&state.store, &q).await?;
    let pagination = PageRequest::from_params(&params).resolve(count)?;
    let rows = events::page(&state.store, &q, &keys, pagination.limit, pagination.offset).await?;
    let results: Vec<Value> = rows.iter().map(|e| event_json(&state, e)).collect();
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
    let event = events::get(&state.store, uuid).await?;
    Ok(json_response(StatusCode::OK, &event_json(&state, &event)))
}

/// A non-negative integer query parameter read as DRF's IntegerField reads it (`"7"`, `" 7 "`,
/// `"7.0"`); absent or empty means `default`. Values too large for 64 bits saturate (callers
/// cap them anyway).
fn count_param(params: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    let invalid = |message: &str| {
        ApiError::Domain(DomainError::Invalid(FieldErrors::single(
            name,
            message.to_string(),
        )))
    };
    let Some(raw) = params.last(name).map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let integral = match raw.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole,
        Some(_) => return Err(invalid("A valid integer is required.")),
        None => raw,
    };
    let (negative, digits) = match integral.as_bytes().first() {
        Some(b'-') => (true, &integral[1..]),
        Some(b'+') => (false, &integral[1..]),
        _ => (false, integral),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("A valid integer is required."));
    }
    if negative && digits.bytes().any(|b| b != b'0') {
        return Err(invalid("Ensure this value is greater than or equal to 0."));
    }
    Ok(digits.parse::<i64>().unwrap_or(i64::MAX))
}

/// `GET /events/events/volume/`: events matching the list's filters over the last
/// `history_days` days, counted per action per six-hour bucket (00/06/12/18 UTC).
async fn volume(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (params, q) = listing(&caller, raw.as_deref())?;
    let days = count_param(&params, "history_days", HISTORY_DAYS_DEFAULT)?.min(HISTORY_DAYS_MAX);
    let since = Timestamp::now().plus_seconds(-days * 86_400);
    let rows = events::volume(&state.store, &q, since).await?;
    let body: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                // authentik renders the bucket without an offset.
                "time": r.bucket.to_datetime().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "action": r.action,
                "count": r.count,
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /events/events/top_per_user/`: events of exactly `action` (default `login`) that name
/// an authorized application, counted per application, the `top_n` (default 15) largest.
/// Callers who may see no events get `[]`, not a 403.
async fn top_per_user(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref());
    let action = params.last("action").unwrap_or("login");
    let top_n = count_param(&params, "top_n", TOP_N_DEFAULT)?;
    let sees_all = crate::domain::authz::visibility(&caller, VIEW_EVENT) == Visibility::All;
    if !sees_all || top_n == 0 {
        return Ok(json_response(StatusCode::OK, &Vec::<Value>::new()));
    }
    let rows = events::top_per_application(&state.store, action, top_n).await?;
    let body: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "application": r.application,
                "counted_events": r.counted_events,
                "unique_users": r.unique_users,
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &body))
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

/// The events routes' operations, for the OpenAPI document (`api::authentik::openapi`).
pub(crate) fn operations(spec: &mut Spec) {
    let event = object_of(&[
        ("pk", string()),
        ("user", free_object()),
        ("action", string()),
        ("app", string()),
        ("context", free_object()),
        ("client_ip", nullable_string()),
        ("created", date_time()),
        ("expires", date_time()),
        ("brand", free_object()),
    ]);
    let event = named(spec, "Event", event);
    spec.get(
        "/events/events/",
        Answer::Page(event.clone()),
        EVENTS_QUERY,
        "Events",
    );
    spec.get(
        "/events/events/{event_uuid}/",
        Answer::One(event),
        &[],
        "An event",
    );
    let action = object_of(&[
        ("name", string()),
        ("description", string()),
        ("component", string()),
        ("model_name", string()),
        ("requires_enterprise", boolean()),
        ("deprecated", boolean()),
    ]);
    let action = named(spec, "TypeCreate", action);
    spec.get(
        "/events/events/actions/",
        Answer::List(action),
        &[],
        "The event actions",
    );
    let volume = object_of(&[
        ("time", string()),
        ("action", string()),
        ("count", integer()),
    ]);
    let volume = named(spec, "EventVolume", volume);
    spec.get(
        "/events/events/volume/",
        Answer::List(volume),
        EVENTS_QUERY,
        "Events per hour and action",
    );
    spec.get(
        "/events/events/top_per_user/",
        Answer::List(object_of(&[
            ("application", free_object()),
            ("counted_events", integer()),
            ("unique_users", integer()),
        ])),
        &[("action", QueryType::Str), ("top_n", QueryType::Str)],
        "The applications most used, per user",
    );
}

/// The events list's query parameters.
const EVENTS_QUERY: &[(&str, QueryType)] = &[
    ("page", QueryType::Str),
    ("page_size", QueryType::Str),
    ("ordering", QueryType::Str),
    ("search", QueryType::Str),
    ("action", QueryType::Str),
    ("username", QueryType::Str),
    ("client_ip", QueryType::Str),
];
