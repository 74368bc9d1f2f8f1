//! Permission assignment: which roles hold a permission (`assigned_by_roles`), assigning and
//! unassigning globally or on one object, and the object grants of a role with what each object is.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::api::authentik::caller::Caller;
use crate::api::authentik::empty_autocomplete;
use crate::api::authentik::pagination::{Envelope, PageRequest};
use crate::api::authentik::parse_uuid;
use crate::api::authentik::{denied, require_visibility, Lookup};
use crate::api::body::JsonBody;
use crate::api::error::{json_response, ApiError};
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::query::{choice_error, search_terms, Params};
use crate::app::AppState;
use crate::domain::authz::{authorize, Action, Visibility};
use crate::domain::filter::{Filter, Literal};
use crate::domain::roles::{self, RoleField, RoleRel, RoleSort};
use crate::domain::{groups, tokens, DomainError, FieldErrors};

use super::permissions::valid_model;
use super::render::page_of;
use super::roles::ROLE_ORDERABLE;
use super::VIEW_ROLE;

/// What an assign/unassign body names: permissions, model, object pk.
type GrantBody = (Vec<String>, Option<String>, Option<String>);

pub(super) async fn assigned_by_roles(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let visible = require_visibility(&caller, VIEW_ROLE)?;
    let params = Params::parse(query.as_deref());
    let model = match params.last("model").filter(|v| !v.is_empty()) {
        None => {
            return Err(ApiError::Domain(DomainError::Invalid(FieldErrors::single(
                "model",
                "This field is required.",
            ))))
        }
        Some(m) if !valid_model(m) => {
            return Err(ApiError::Domain(DomainError::Invalid(FieldErrors::single(
                "model",
                choice_error(m),
            ))))
        }
        Some(m) => m.to_string(),
    };
    let object_pk = params
        .last("object_pk")
        .filter(|v| !v.is_empty())
        .map(String::from);
    let role_ids = roles::roles_granting(&state.store, &model, object_pk.as_deref()).await?;
    let mut filter_parts = vec![Filter::In(
        RoleField::Id,
        role_ids.iter().map(|id| Literal::Int(*id)).collect(),
    )];
    if let Visibility::Only(uuids) = visible {
        filter_parts.push(Filter::Rel(RoleRel::Uuids(uuids)));
    }
    if let Some(search) = params.last("search") {
        for term in search_terms(search) {
            filter_parts.push(Filter::IContains(RoleField::Name, term));
        }
    }
    let filter = Filter::and(filter_parts);
    let sort = params.ordering(&ROLE_ORDERABLE, RoleSort::Field(RoleField::Name));
    let pagination =
        PageRequest::from_params(&params).resolve(roles::count(&state.store, &filter).await?)?;
    let page = roles::list(
        &state.store,
        &filter,
        &sort,
        pagination.limit,
        pagination.offset,
    )
    .await?;
    let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
    let model_grants = roles::model_grants(&state.store, &ids).await?;
    let object_grants = roles::object_grants(&state.store, Some(&ids)).await?;
    let results: Vec<Value> = page
        .iter()
        .map(|r| {
            let object_permissions: Vec<Value> = object_grants
                .iter()
                .filter(|g| g.1 == r.id)
                .map(|(id, _, p, pk)| json!({"id": id, "codename": p.codename, "model": p.model, "app_label": p.app_label, "object_pk": pk, "name": p.name}))
                .collect();
            let model_permissions: Vec<Value> = model_grants
                .iter()
                .filter(|g| g.1 == r.id)
                .map(|(id, _, p)| json!({"id": id, "codename": p.codename, "model": p.model, "app_label": p.app_label, "name": p.name}))
                .collect();
            json!({"role_pk": r.uuid, "name": r.name, "object_permissions": object_permissions, "model_permissions": model_permissions})
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &Envelope {
            pagination,
            results,
            autocomplete: empty_autocomplete(),
        },
    ))
}

/// Reads an assign/unassign body: `permissions` (required list of non-blank strings), `model`,
/// `object_pk`.
pub(crate) fn read_grant_body(body: JsonBody) -> Result<GrantBody, ApiError> {
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let mut names = Vec::new();
    if input.require("permissions") {
        match obj.get("permissions") {
            Some(Value::Array(items)) => {
                let mut item_errors = serde_json::Map::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if !s.trim().is_empty() => {
                            names.push(s.trim().to_string())
                        }
                        Value::String(_) => {
                            item_errors
                                .insert(i.to_string(), json!(["This field may not be blank."]));
                        }
                        _ => {
                            item_errors.insert(i.to_string(), json!(["Not a valid string."]));
                        }
                    }
                }
                if !item_errors.is_empty() {
                    return Err(ApiError::Json(
                        StatusCode::BAD_REQUEST,
                        json!({ "permissions": item_errors }),
                    ));
                }
            }
            Some(other) => input.errors.add(
                "permissions",
                format!(
                    "Expected a list of items but got type \"{}\".",
                    crate::api::body::python_type(other)
                ),
            ),
            None => {}
        }
    }
    let model = input.string("model", Str::REQUIRED_TEXT);
    if let Some(m) = &model {
        if !valid_model(m) {
            input
                .errors
                .add("model", format!("\"{m}\" is not a valid choice."));
        }
    }
    let object_pk = input.string("object_pk", Str::REQUIRED_TEXT);
    input.errors.into_result()?;
    Ok((names, model, object_pk))
}

pub(super) async fn assign(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(uuid): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let role = roles::get(&state.store, &parse_uuid(&uuid)?).await?;
    authorize(&caller, Action::AssignRolePermissions(role.uuid.clone())).map_err(denied)?;
    authorize(&caller, Action::AddRole)
        .or_else(|_| authorize(&caller, Action::ChangeRole(role.uuid.clone())))
        .map_err(denied)?;
    let (names, model, object_pk) = read_grant_body(body)?;
    let target =
        roles::resolve_target(&state.store, &names, model.as_deref(), object_pk.as_deref()).await?;
    let ids = roles::assign(&state.store, &role, &target, &meta.audit(Some(&caller))).await?;
    let body: Vec<Value> = ids
        .into_iter()
        .map(|id| json!({"id": id.to_string()}))
        .collect();
    Ok(json_response(StatusCode::OK, &body))
}

pub(super) async fn unassign(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(uuid): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let role = roles::get(&state.store, &parse_uuid(&uuid)?).await?;
    authorize(&caller, Action::UnassignRolePermissions(role.uuid.clone())).map_err(denied)?;
    authorize(&caller, Action::ChangeRole(role.uuid.clone())).map_err(denied)?;
    let (names, model, object_pk) = read_grant_body(body)?;
    let target =
        roles::resolve_target(&state.store, &names, model.as_deref(), object_pk.as_deref()).await?;
    roles::unassign(&state.store, &role, &target, &meta.audit(Some(&caller))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /rbac/permissions/roles/?uuid=`: object grants of one role (or all), with what each
/// object is called. Superusers only in practice (it needs global view_role).
pub(super) async fn role_object_grants(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    if require_visibility(&caller, VIEW_ROLE)? != Visibility::All {
        return Err(denied(crate::domain::authz::Denied::Forbidden));
    }
    let params = Params::parse(query.as_deref());
    let role_ids = match params.last("uuid").filter(|v| !v.is_empty()) {
        None => None,
        Some(raw) => {
            let uuid = uuid::Uuid::parse_str(raw.trim()).map_err(|_| {
                ApiError::Domain(DomainError::Invalid(FieldErrors::single(
                    "uuid",
                    "Enter a valid UUID.",
                )))
            })?;
            match roles::get(&state.store, &uuid.to_string()).await {
                Ok(role) => Some(vec![role.id]),
                Err(DomainError::NotFound(_)) => Some(Vec::new()),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let grants = roles::object_grants(&state.store, role_ids.as_deref()).await?;
    let (pagination, page) = page_of(&params, grants)?;
    let mut names: HashMap<(String, String), Option<String>> = HashMap::new();
    for (_, _, p, pk) in &page {
        let key = (p.model_key(), pk.clone());
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(key) {
            let description = object_description(&state, &slot.key().0, pk).await?;
            slot.insert(description);
        }
    }
    let results: Vec<Value> = page
        .iter()
        .map(|(id, _, p, pk)| {
            json!({
                "id": id, "codename": p.codename, "model": p.model, "app_label": p.app_label, "object_pk": pk,
                "name": p.name, "app_label_verbose": p.app_label_verbose(), "model_verbose": p.model_verbose(),
                "object_description": names.get(&(p.model_key(), pk.clone())).cloned().flatten(),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &Envelope {
            pagination,
            results,
            autocomplete: empty_autocomplete(),
        },
    ))
}

/// `str(object)` as authentik shows it, or `None` when the object is gone.
async fn object_description(
    state: &AppState,
    model: &str,
    pk: &str,
) -> Result<Option<String>, ApiError> {
    let found = match model {
        "authentik_core.user" => match pk.parse::<i64>() {
            Ok(id) => state.directory.user(id).await.map(|u| u.username),
            Err(_) => return Ok(None),
        },
        "authentik_core.group" => groups::get(&state.store, pk)
            .await
            .map(|g| format!("Group {}", g.name)),
        "authentik_rbac.role" => roles::get(&state.store, pk)
            .await
            .map(|r| format!("Role {}", r.name)),
        "authentik_core.token" => tokens::get_by_uuid(&state.store, pk)
            .await
            .map(|t| t.identifier),
        _ => return Ok(None),
    };
    match found {
        Ok(name) => Ok(Some(name)),
        Err(DomainError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
