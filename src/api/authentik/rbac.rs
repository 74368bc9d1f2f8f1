//! `/api/v3/rbac/`: roles (CRUD, members, used_by) and permissions (catalogue, assignment to
//! roles globally or on one object, what roles hold). Deviation 10: unknown permissions and
//! missing or malformed objects are 400s naming the problem, never a crash or a global grant.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};

use super::caller::Caller;
use super::empty_autocomplete;
use super::pagination::{Envelope, PageRequest};
use super::parse_uuid;
use super::query::{choice_error, search_terms, Params};
use super::{denied, options, require_sight, require_visibility, Lookup};
use crate::api::body::JsonBody;
use crate::api::error::{json_response, ApiError};
use crate::api::extract::WriteMode;
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::routing::Route;
use crate::app::AppState;
use crate::domain::authz::{authorize, Action, Principal, Visibility};
use crate::domain::error::Kind;
use crate::domain::existence;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::permissions::{self, Permission};
use crate::domain::roles::{self, Role, RoleField, RoleFilter, RoleRel, RoleSort};
use crate::domain::{groups, tokens, users, DomainError, FieldErrors};

const VIEW_ROLE: &str = "authentik_rbac.view_role";

/// The RBAC routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/rbac/roles/",
            Route::new()
                .get(list_roles)
                .post(create_role)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/roles/{uuid}/",
            Route::new()
                .get(retrieve_role)
                .put(write_role)
                .patch(write_role)
                .delete(destroy_role)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/roles/{uuid}/used_by/",
            Route::new()
                .get(role_used_by)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/roles/{uuid}/add_user/",
            Route::new()
                .post(role_add_user)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/roles/{uuid}/remove_user/",
            Route::new()
                .post(role_remove_user)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/permissions/",
            Route::new()
                .get(list_permissions)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/permissions/roles/",
            Route::new()
                .get(role_object_grants)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/permissions/assigned_by_roles/",
            Route::new()
                .get(assigned_by_roles)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/permissions/assigned_by_roles/{uuid}/assign/",
            Route::new()
                .post(assign)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/permissions/assigned_by_roles/{uuid}/unassign/",
            Route::new()
                .patch(unassign)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/rbac/permissions/{id}/",
            Route::new()
                .get(retrieve_permission)
                .options(options)
                .allow_on_every_answer(),
        )
}

#[derive(Serialize)]
struct RoleOut<'a> {
    pk: &'a str,
    name: &'a str,
}

fn role_out(role: &Role) -> RoleOut<'_> {
    RoleOut {
        pk: &role.uuid,
        name: &role.name,
    }
}

// ---------------------------------------------------------------- roles

const ROLE_ORDERABLE: [(&str, RoleSort); 2] = [
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

async fn list_roles(
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

async fn create_role(
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
    require_sight(caller, VIEW_ROLE, &uuid, Kind::Role)?;
    Ok(roles::get(&state.store, &uuid).await?)
}

async fn retrieve_role(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(uuid): Lookup,
) -> Result<Response, ApiError> {
    let role = visible_role(&state, &caller, &uuid).await?;
    Ok(json_response(StatusCode::OK, &role_out(&role)))
}

/// PUT and PATCH of one role.
async fn write_role(
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

async fn destroy_role(
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

async fn role_used_by(
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
        Err(DomainError::NotFound(Kind::User)) => Err(ApiError::BadLookup),
        Err(e) => Err(e.into()),
    }
}

async fn role_add_user(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(uuid): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    role_membership(&state, &caller, &uuid, body, true).await
}

async fn role_remove_user(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(uuid): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    role_membership(&state, &caller, &uuid, body, false).await
}

// ---------------------------------------------------------------- permissions

#[derive(Serialize)]
struct PermissionOut {
    id: i64,
    name: &'static str,
    codename: &'static str,
    model: &'static str,
    app_label: &'static str,
    app_label_verbose: &'static str,
    model_verbose: &'static str,
}

fn permission_out(p: &Permission) -> PermissionOut {
    PermissionOut {
        id: p.id,
        name: p.name,
        codename: p.codename,
        model: p.model,
        app_label: p.app_label,
        app_label_verbose: p.app_label_verbose(),
        model_verbose: p.model_verbose(),
    }
}

/// A sort key of the permission catalogue.
type PermissionKey = fn(&Permission) -> String;

/// What an assign/unassign body names: permissions, model, object pk.
type GrantBody = (Vec<String>, Option<String>, Option<String>);

/// Pages an in-memory list (the catalogue is small).
fn page_of<T>(
    params: &Params,
    mut items: Vec<T>,
) -> Result<(super::pagination::Pagination, Vec<T>), ApiError> {
    let pagination = PageRequest::from_params(params).resolve(items.len() as i64)?;
    let start = (pagination.offset as usize).min(items.len());
    let end = (start + pagination.limit as usize).min(items.len());
    Ok((pagination, items.drain(start..end).collect()))
}

async fn list_permissions(
    State(state): State<Arc<AppState>>,
    Caller(_caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let mut list: Vec<&'static Permission> = permissions::CATALOGUE.iter().collect();
    for (param, get) in [
        (
            "codename",
            (|p: &Permission| p.codename) as fn(&Permission) -> &'static str,
        ),
        ("content_type__model", |p: &Permission| p.model),
        ("content_type__app_label", |p: &Permission| p.app_label),
    ] {
        if let Some(v) = params.last(param).filter(|v| !v.is_empty()) {
            list.retain(|p| get(p) == v);
        }
    }
    if let Some(raw) = params.last("role").filter(|v| !v.is_empty()) {
        let uuid = uuid::Uuid::parse_str(raw.trim()).map_err(|_| {
            ApiError::Domain(DomainError::Invalid(FieldErrors::single(
                "role",
                format!("“{raw}” is not a valid UUID."),
            )))
        })?;
        let role = roles::get(&state.store, &uuid.to_string())
            .await
            .map_err(|e| match e {
                DomainError::NotFound(_) => {
                    ApiError::Domain(DomainError::Invalid(FieldErrors::single(
                        "role",
                        "Select a valid choice. That choice is not one of the available choices.",
                    )))
                }
                other => other.into(),
            })?;
        let held: Vec<i64> = roles::model_grants(&state.store, &[role.id])
            .await?
            .into_iter()
            .map(|(_, _, p)| p.id)
            .collect();
        list.retain(|p| held.contains(&p.id));
    }
    if let Some(raw) = params.last("user").filter(|v| !v.is_empty()) {
        let invalid =
            |m: String| ApiError::Domain(DomainError::Invalid(FieldErrors::single("user", m)));
        let id: i64 = raw
            .trim()
            .parse()
            .map_err(|_| invalid(format!("“{raw}” value must be an integer.")))?;
        if existence::user_ids(&state.store, &[id]).await?.is_empty() {
            return Err(invalid(
                "Select a valid choice. That choice is not one of the available choices.".into(),
            ));
        }
        // Permissions are held by roles only, never by users directly.
        list.clear();
    }
    if let Some(search) = params.last("search") {
        for term in search_terms(search) {
            let t = term.to_lowercase();
            list.retain(|p| {
                [p.name, p.codename, p.model, p.app_label]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&t))
            });
        }
    }
    let orderable: [(&str, PermissionKey); 5] = [
        ("id", |p| format!("{:020}", p.id)),
        ("name", |p| p.name.to_string()),
        ("codename", |p| p.codename.to_string()),
        ("content_type__model", |p| p.model.to_string()),
        ("content_type__app_label", |p| p.app_label.to_string()),
    ];
    let keys = params.ordering(
        &orderable
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (*n, i))
            .collect::<Vec<_>>(),
        1,
    );
    list.sort_by(|a, b| {
        for (i, dir) in &keys {
            let ord = (orderable[*i].1)(a).cmp(&(orderable[*i].1)(b));
            let ord = if *dir == Direction::Desc {
                ord.reverse()
            } else {
                ord
            };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.id.cmp(&b.id)
    });
    let (pagination, results) = page_of(&params, list)?;
    let envelope = Envelope {
        pagination,
        results: results.into_iter().map(permission_out).collect(),
        autocomplete: empty_autocomplete(),
    };
    Ok(json_response(StatusCode::OK, &envelope))
}

async fn retrieve_permission(
    Caller(_caller): Caller,
    Lookup(id): Lookup,
) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::BadLookup)?;
    let p = permissions::by_id(id).ok_or_else(not_found_permission)?;
    Ok(json_response(StatusCode::OK, &permission_out(p)))
}

fn not_found_permission() -> ApiError {
    ApiError::Domain(DomainError::NotFound(Kind::Permission))
}

/// One of authentik's `ModelEnum` values, as the `model` parameter must be.
fn valid_model(model: &str) -> bool {
    permissions::is_model_choice(model)
}

async fn assigned_by_roles(
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

async fn assign(
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

async fn unassign(
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
async fn role_object_grants(
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
            Ok(id) => users::get(&state.store, id).await.map(|u| u.username),
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
