//! Roles: list with filters, CRUD, `used_by`, and `add_user` / `remove_user` membership.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::api::authentik::caller::Caller;
use crate::api::authentik::empty_autocomplete;
use crate::api::authentik::pagination::{Envelope, PageRequest};
use crate::api::authentik::parse_uuid;
use crate::api::authentik::{denied, require_sight, require_visibility, Lookup};
use crate::api::body::JsonBody;
use crate::api::error::{json_response, ApiError};
use crate::api::extract::WriteMode;
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::query::{choice_error, search_terms, Params};
use crate::app::AppState;
use crate::domain::authz::{authorize, Action, Principal, Visibility};
use crate::domain::error::ObjectKind;
use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::roles::{self, Role, RoleField, RoleFilter, RoleRel, RoleSort};
use crate::domain::{DomainError, FieldErrors};

use super::render::role_out;
use super::VIEW_ROLE;

pub(super) const ROLE_ORDERABLE: [(&str, RoleSort); 2] = [
    ("pk", RoleSort::Field(RoleField::Uuid)),
    ("name", RoleSort::Field(RoleField::Name)),
];

async fn role_filter(
    state: &AppState,
    params: &Params,
    visible: Visibility,
) -> Result<RoleFilter, ApiError> {
    let mut parts: Vec<RoleFilter> = Vec::new();
    let mut errors = FieldErrors::new();
    if let Visibility::Only(uuids) = visible {
        parts.push(Filter::Rel(RoleRel::Uuids(uuids)));
    }
    if let Some(v) = params.last("name").filter(|v| !v.is_empty()) {
        parts.push(Filter::Compare(
            RoleField::Name,
            Cmp::Eq,
            Literal::Text(v.to_string()),
        ));
    }
    let managed: Vec<&str> = params
        .all("managed")
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    if !managed.is_empty() {
        let known = roles::list(
            &state.store,
            &Filter::In(
                RoleField::Managed,
                managed
                    .iter()
                    .map(|m| Literal::Text(m.to_string()))
                    .collect(),
            ),
            &[],
            1000,
            0,
        )
        .await?;
        match managed
            .iter()
            .find(|m| !known.iter().any(|r| r.managed.as_deref() == Some(**m)))
        {
            Some(missing) => errors.add("managed", choice_error(missing)),
            None => parts.push(Filter::In(
                RoleField::Managed,
                managed
                    .iter()
                    .map(|m| Literal::Text(m.to_string()))
                    .collect(),
            )),
        }
    }
    if let Some(b) = params.boolean("managed__isnull") {
        let is_null = Filter::IsNull(RoleField::Managed);
        parts.push(if b {
            is_null
        } else {
            Filter::Not(Box::new(is_null))
        });
    }
    let inherited = params.flag("inherited", false);
    if let Some(raw) = params.last("users").filter(|v| !v.is_empty()) {
        match raw.trim().parse::<i64>() {
            Ok(user_id) => parts.push(Filter::Rel(RoleRel::HeldByUser { user_id, inherited })),
            Err(_) => errors.add("users", "Enter a number."),
        }
    }
    for param in ["ak_groups", "groups"] {
        if let Some(raw) = params.last(param).filter(|v| !v.is_empty()) {
            match uuid::Uuid::parse_str(raw.trim()) {
                Ok(u) => parts.push(Filter::Rel(RoleRel::HeldByGroup {
                    group_uuid: u.to_string(),
                    inherited,
                })),
                Err(_) => errors.add(param, "Enter a valid UUID."),
            }
        }
    }
    errors.into_result()?;
    if let Some(search) = params.last("search") {
        for term in search_terms(search) {
            parts.push(Filter::IContains(RoleField::Name, term));
        }
    }
    Ok(Filter::and(parts))
}

pub(super) async fn list_roles(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let visible = require_visibility(&caller, VIEW_ROLE)?;
    let params = Params::parse(query.as_deref());
    let filter = role_filter(&state, &params, visible).await?;
    let sort = params.ordering(&ROLE_ORDERABLE, RoleSort::Field(RoleField::Name));
    let pagination =
        PageRequest::from_params(&params).resolve(roles::count(&state.store, &filter).await?)?;
    let rows = roles::list(
        &state.store,
        &filter,
        &sort,
        pagination.limit,
        pagination.offset,
    )
    .await?;
    let envelope = Envelope {
        pagination,
        results: rows.iter().map(role_out).collect(),
        autocomplete: empty_autocomplete(),
    };
    Ok(json_response(StatusCode::OK, &envelope))
}

pub(crate) fn read_role_name(body: JsonBody, required: bool) -> Result<Option<String>, ApiError> {
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let name = if !required || input.require("name") {
        input.string("name", Str::REQUIRED_TEXT.max(150))
    } else {
        None
    };
    input.errors.into_result()?;
    Ok(name)
}

pub(super) async fn create_role(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    body: JsonBody,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::AddRole).map_err(denied)?;
    let name = read_role_name(body, true)?.ok_or(ApiError::EmptyBadRequest)?;
    let role = roles::create(&state.store, &name, &meta.audit(Some(&caller))).await?;
    Ok(json_response(StatusCode::CREATED, &role_out(&role)))
}

async fn visible_role(state: &AppState, caller: &Principal, raw: &str) -> Result<Role, ApiError> {
    require_visibility(caller, VIEW_ROLE)?;
    let uuid = parse_uuid(raw)?;
    require_sight(caller, VIEW_ROLE, &uuid, ObjectKind::Role)?;
    Ok(roles::get(&state.store, &uuid).await?)
}

pub(super) async fn retrieve_role(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(uuid): Lookup,
) -> Result<Response, ApiError> {
    let role = visible_role(&state, &caller, &uuid).await?;
    Ok(json_response(StatusCode::OK, &role_out(&role)))
}

/// PUT and PATCH of one role.
pub(super) async fn write_role(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    mode: WriteMode,
    Lookup(uuid): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let role = visible_role(&state, &caller, &uuid).await?;
    authorize(&caller, Action::ChangeRole(role.uuid.clone())).map_err(denied)?;
    let name = read_role_name(body, mode.is_full())?;
    let role = roles::update(
        &state.store,
        &role.uuid,
        name.as_deref(),
        &meta.audit(Some(&caller)),
    )
    .await?;
    Ok(json_response(StatusCode::OK, &role_out(&role)))
}

pub(super) async fn destroy_role(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(uuid): Lookup,
) -> Result<Response, ApiError> {
    let role = visible_role(&state, &caller, &uuid).await?;
    authorize(&caller, Action::DeleteRole(role.uuid.clone())).map_err(denied)?;
    roles::delete(&state.store, &role.uuid, &meta.audit(Some(&caller))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn role_used_by(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(uuid): Lookup,
) -> Result<Response, ApiError> {
    let role = visible_role(&state, &caller, &uuid).await?;
    let holders = roles::holders(&state.store, &role).await?;
    let body: Vec<Value> = holders
        .into_iter()
        .map(|(kind, pk, name)| {
            let name = if kind == "group" { format!("Group {name}") } else { name };
            json!({"app": "authentik_core", "model_name": kind, "pk": pk, "name": name, "action": "cascade_many"})
        })
        .collect();
    Ok(json_response(StatusCode::OK, &body))
}

/// add_user / remove_user: role (404, visibility ignored) → change_role (403) → user among the
/// users the caller may see (404 "Not found.").
async fn role_membership(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    body: JsonBody,
    hold: bool,
) -> Result<Response, ApiError> {
    let uuid = parse_uuid(raw)?;
    let role = roles::get(&state.store, &uuid).await?;
    authorize(caller, Action::ChangeRole(role.uuid.clone())).map_err(denied)?;
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let pk = if input.present("pk") {
        input.int("pk")
    } else {
        None
    };
    input.errors.into_result()?;
    let user_id = pk.ok_or(ApiError::BadLookup)?;
    crate::domain::authz::may_see(caller, "authentik_core.view_user", &user_id.to_string())
        .map_err(|_| ApiError::BadLookup)?;
    match roles::set_user(&state.store, &role.uuid, user_id, hold).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(DomainError::NotFound(ObjectKind::User)) => Err(ApiError::BadLookup),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn role_add_user(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(uuid): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    role_membership(&state, &caller, &uuid, body, true).await
}

pub(super) async fn role_remove_user(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(uuid): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    role_membership(&state, &caller, &uuid, body, false).await
}
