//! `/api/v3/core/groups/`: list, create, retrieve, update, partial update, destroy, `add_user`,
//! `remove_user`, `used_by`.

use crate::api::authentik::error::finish as authentik_finish;
use std::sync::{Arc, OnceLock};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::caller::Caller;
use super::openapi::schemas::used_by_schema;
use super::openapi::{requests, Answer, QueryType, Spec};
use super::options;
use super::pagination::{Envelope, PageRequest};
use super::parse_uuid;
use super::Lookup;
use super::{denied, require_sight, require_visibility};
use crate::api::body::JsonBody;
use crate::api::error::{json_response, ApiError};
use crate::api::extract::WriteMode;
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::query::{choice_error, search_terms, Params};
use crate::api::routing::{Route, Routes};
use crate::app::AppState;
use crate::domain::authz::{authorize, Action, Principal, Visibility};
use crate::domain::error::ObjectKind;
use crate::domain::existence;
use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::groups::{
    self, Group, GroupChanges, GroupField, GroupFilter, GroupRel, GroupSort,
};
use crate::domain::{DomainError, FieldErrors, Timestamp};

/// The groups routes.
pub fn routes() -> Routes<Arc<AppState>> {
    Routes::new(authentik_finish)
        .route(
            "/core/groups/",
            Route::new().get(list).post(create).options(options),
        )
        .route(
            "/core/groups/{group_uuid}/",
            Route::new()
                .get(retrieve)
                .put(write)
                .patch(write)
                .delete(destroy)
                .options(options),
        )
        .route(
            "/core/groups/{group_uuid}/add_user/",
            Route::new().post(add_user).options(options),
        )
        .route(
            "/core/groups/{group_uuid}/remove_user/",
            Route::new().post(remove_user).options(options),
        )
        .route(
            "/core/groups/{group_uuid}/used_by/",
            Route::new().get(used_by).options(options),
        )
}

/// The groups' view permission.
const VIEW_GROUP: &str = "authentik_core.view_group";

/// Longest group name: unique names are indexed, and an index entry must stay under ~2.7 kB.
const MAX_NAME_LENGTH: usize = 512;

// ---------------------------------------------------------------- serialization

#[derive(Serialize, ToSchema)]
#[schema(as = RelatedGroup)]
struct RelatedGroupOut<'a> {
    #[schema(format = Uuid)]
    pk: &'a str,
    name: &'a str,
    is_superuser: bool,
    #[schema(value_type = Object)]
    attributes: &'a Value,
    #[schema(format = Uuid)]
    group_uuid: &'a str,
}

#[derive(Serialize, ToSchema)]
#[schema(as = PartialUser)]
struct PartialUserOut<'a> {
    pk: i64,
    username: &'a str,
    name: &'a str,
    is_active: bool,
    #[schema(format = DateTime)]
    last_login: Option<String>,
    email: &'a str,
    #[schema(value_type = Object)]
    attributes: &'a Value,
    uid: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Role)]
struct RoleOut<'a> {
    #[schema(format = Uuid)]
    pk: &'a str,
    name: &'a str,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Group)]
struct GroupOut<'a> {
    #[schema(format = Uuid)]
    pk: &'a str,
    num_pk: i64,
    name: &'a str,
    is_superuser: bool,
    #[schema(format = Uuid)]
    parents: Vec<&'a str>,
    parents_obj: Option<Vec<RelatedGroupOut<'a>>>,
    users: Vec<i64>,
    users_obj: Option<Vec<PartialUserOut<'a>>>,
    #[schema(value_type = Object)]
    attributes: &'a Value,
    #[schema(format = Uuid)]
    roles: Vec<&'a str>,
    roles_obj: Vec<RoleOut<'a>>,
    inherited_roles_obj: Option<Vec<RoleOut<'a>>>,
    #[schema(format = Uuid)]
    children: Vec<&'a str>,
    children_obj: Option<Vec<RelatedGroupOut<'a>>>,
}

#[derive(Debug, Clone, Copy)]
struct Include {
    users: bool,
    children: bool,
    parents: bool,
    inherited_roles: bool,
}

impl Include {
    fn from_params(params: &Params) -> Include {
        Include {
            users: params.flag("include_users", true),
            children: params.flag("include_children", false),
            parents: params.flag("include_parents", false),
            inherited_roles: params.flag("include_inherited_roles", false),
        }
    }
}

fn related_out(g: &groups::RelatedGroup) -> RelatedGroupOut<'_> {
    RelatedGroupOut {
        pk: &g.uuid,
        name: &g.name,
        is_superuser: g.is_superuser,
        attributes: &g.attributes,
        group_uuid: &g.uuid,
    }
}

fn group_out<'a>(group: &'a Group, install_id: &str, include: Include) -> GroupOut<'a> {
    let uid = |id: i64| crate::domain::users::uid_of(id, install_id);
    GroupOut {
        pk: &group.uuid,
        num_pk: group.num_pk(),
        name: &group.name,
        is_superuser: group.is_superuser,
        parents: group.parents.iter().map(|p| p.uuid.as_str()).collect(),
        parents_obj: include
            .parents
            .then(|| group.parents.iter().map(related_out).collect()),
        users: group.members.iter().map(|m| m.id).collect(),
        users_obj: include.users.then(|| {
            group
                .members
                .iter()
                .map(|m| PartialUserOut {
                    pk: m.id,
                    username: &m.username,
                    name: &m.name,
                    is_active: m.is_active,
                    last_login: m.last_login.map(Timestamp::to_drf),
                    email: &m.email,
                    attributes: &m.attributes,
                    uid: uid(m.id),
                })
                .collect()
        }),
        attributes: &group.attributes,
        roles: group.roles.iter().map(|r| r.uuid.as_str()).collect(),
        roles_obj: group
            .roles
            .iter()
            .map(|r| RoleOut {
                pk: &r.uuid,
                name: &r.name,
            })
            .collect(),
        inherited_roles_obj: include.inherited_roles.then(|| {
            group
                .inherited_roles
                .iter()
                .map(|r| RoleOut {
                    pk: &r.uuid,
                    name: &r.name,
                })
                .collect()
        }),
        children: group.children.iter().map(|c| c.uuid.as_str()).collect(),
        children_obj: include
            .children
            .then(|| group.children.iter().map(related_out).collect()),
    }
}

fn autocomplete() -> &'static Value {
    static AUTOCOMPLETE: OnceLock<Value> = OnceLock::new();
    AUTOCOMPLETE.get_or_init(|| {
        json!({
            "current_model": "authentik_core.group",
            "models": {
                "authentik_core.group": {
                    "name": {"type": "str", "nullable": false, "options": null},
                    "is_superuser": {"type": "bool", "nullable": true, "options": null},
                    "attributes": {"type": "relation", "nullable": false, "options": null, "relation": "authentik_core.group_attributes"}
                }
            }
        })
    })
}

// ---------------------------------------------------------------- list filters

const ORDERABLE: [(&str, GroupSort); 8] = [
    ("pk", GroupSort::Field(GroupField::Uuid)),
    ("name", GroupSort::Field(GroupField::Name)),
    ("is_superuser", GroupSort::Field(GroupField::IsSuperuser)),
    ("parents", GroupSort::Parents),
    ("users", GroupSort::Users),
    ("attributes", GroupSort::Field(GroupField::Attributes)),
    ("roles", GroupSort::Roles),
    ("children", GroupSort::Children),
];

async fn list_filter(state: &AppState, params: &Params) -> Result<GroupFilter, ApiError> {
    let mut parts: Vec<GroupFilter> = Vec::new();
    let mut errors = FieldErrors::new();
    if let Some(v) = params.last("name").filter(|v| !v.is_empty()) {
        parts.push(Filter::Compare(
            GroupField::Name,
            Cmp::Eq,
            Literal::Text(v.to_string()),
        ));
    }
    if let Some(b) = params.boolean("is_superuser") {
        parts.push(Filter::Compare(
            GroupField::IsSuperuser,
            Cmp::Eq,
            Literal::Bool(b),
        ));
    }
    let pks: Vec<&str> = params
        .all("members_by_pk")
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    if !pks.is_empty() {
        let mut ids = Vec::new();
        for raw in &pks {
            match raw.trim().parse::<i64>() {
                Ok(id) => ids.push(id),
                Err(_) => {
                    errors.add("members_by_pk", format!("“{raw}” is not a valid value."));
                    break;
                }
            }
        }
        if !errors.has("members_by_pk") {
            let found = existence::user_ids(&state.store, &ids).await?;
            match ids.iter().find(|id| !found.contains(id)) {
                Some(missing) => errors.add("members_by_pk", choice_error(&missing.to_string())),
                None => parts.push(Filter::Rel(GroupRel::MemberIds(ids))),
            }
        }
    }
    let names: Vec<String> = params
        .all("members_by_username")
        .into_iter()
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect();
    if !names.is_empty() {
        let found = existence::usernames(&state.store, &names).await?;
        match names.iter().find(|n| !found.contains(n)) {
            Some(missing) => errors.add("members_by_username", choice_error(missing)),
            None => parts.push(Filter::Rel(GroupRel::MemberUsernames(names))),
        }
    }
    errors.into_result()?;
    if let Some(raw) = params.last("attributes").filter(|v| !v.is_empty()) {
        parts.push(crate::api::query::attributes_filter(
            raw,
            GroupField::Attributes,
        )?);
    }
    let ql = params.last("search").and_then(super::ql::parse_group_query);
    if let Some(query) = ql {
        parts.push(query);
    } else if let Some(search) = params.last("search") {
        for term in search_terms(search) {
            let lower = term.to_lowercase();
            let mut any = vec![Filter::IContains(GroupField::Name, term.clone())];
            for (word, value) in [("true", true), ("false", false)] {
                if word.contains(&lower) {
                    any.push(Filter::Compare(
                        GroupField::IsSuperuser,
                        Cmp::Eq,
                        Literal::Bool(value),
                    ));
                }
            }
            parts.push(Filter::Or(any));
        }
    }
    Ok(Filter::and(parts))
}

// ---------------------------------------------------------------- handlers

async fn list(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let visible = require_visibility(&caller, VIEW_GROUP)?;
    let params = Params::parse(query.as_deref());
    let only = match visible {
        Visibility::Only(uuids) => Filter::In(
            GroupField::Uuid,
            uuids.into_iter().map(Literal::Text).collect(),
        ),
        _ => Filter::All,
    };
    let filter = Filter::and(vec![only, list_filter(&state, &params).await?]);
    let sort = params.ordering(&ORDERABLE, GroupSort::Field(GroupField::Name));
    let pagination =
        PageRequest::from_params(&params).resolve(groups::count(&state.store, &filter).await?)?;
    let rows = groups::list(
        &state.store,
        &filter,
        &sort,
        pagination.limit,
        pagination.offset,
    )
    .await?;
    let include = Include::from_params(&params);
    let envelope = Envelope {
        pagination,
        results: rows
            .iter()
            .map(|g| group_out(g, &state.install_id, include))
            .collect(),
        autocomplete: autocomplete(),
    };
    Ok(json_response(StatusCode::OK, &envelope))
}

/// Reads the writable group fields (docs/compatibility.md#groups). `full` = POST/PUT: `name` is
/// required and omitted `parents`/`users` reset to `[]`.
pub(crate) fn read_group_changes(
    body: JsonBody,
    full: bool,
) -> Result<(GroupChanges, FieldErrors), ApiError> {
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let mut changes = GroupChanges::default();
    if !full || input.require("name") {
        changes.name = input.string("name", Str::REQUIRED_TEXT.max(MAX_NAME_LENGTH));
    }
    changes.is_superuser = input.boolean("is_superuser");
    changes.parents = input.uuid_list("parents");
    changes.users = input.int_list("users");
    changes.attributes = input.object(
        "attributes",
        "Value must be a dictionary, and not have any duplicate keys.",
    );
    changes.roles = input.uuid_list("roles");
    if full {
        if !input.present("parents") {
            changes.parents = Some(Vec::new());
        }
        if !input.present("users") {
            changes.users = Some(Vec::new());
        }
    }
    Ok((changes, input.errors))
}

/// The `is_superuser` rule (docs/compatibility.md#groups): setting it (on create: to true; on
/// update: to a new value) needs `enable_group_superuser` / `disable_group_superuser`.
pub(crate) fn check_superuser_flag(
    caller: &Principal,
    changes: &GroupChanges,
    current: Option<&Group>,
    errors: &mut FieldErrors,
) {
    let Some(wanted) = changes.is_superuser else {
        return;
    };
    let needs_check = match current {
        None => wanted,
        Some(g) => g.is_superuser != wanted,
    };
    if !needs_check || errors.has("is_superuser") {
        return;
    }
    let id = current.map(|g| g.uuid.clone());
    let action = if wanted {
        Action::EnableGroupSuperuser(id)
    } else {
        Action::DisableGroupSuperuser(id)
    };
    if authorize(caller, action).is_err() {
        let word = if wanted { "True" } else { "False" };
        errors.add(
            "is_superuser",
            format!("User does not have permission to set superuser status to {word}."),
        );
    }
}

async fn create(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::AddGroup).map_err(denied)?;
    let (changes, mut errors) = read_group_changes(body, true)?;
    check_superuser_flag(&caller, &changes, None, &mut errors);
    let group = groups::create(&state.store, changes, errors, &meta.audit(Some(&caller))).await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::CREATED,
        &group_out(&group, &state.install_id, include),
    ))
}

async fn visible_group(state: &AppState, caller: &Principal, raw: &str) -> Result<Group, ApiError> {
    require_visibility(caller, VIEW_GROUP)?;
    let uuid = parse_uuid(raw)?;
    require_sight(caller, VIEW_GROUP, &uuid, ObjectKind::Group)?;
    Ok(groups::get(&state.store, &uuid).await?)
}

async fn retrieve(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(uuid): Lookup,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let group = visible_group(&state, &caller, &uuid).await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::OK,
        &group_out(&group, &state.install_id, include),
    ))
}

/// PUT and PATCH of one group.
async fn write(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    mode: WriteMode,
    Lookup(uuid): Lookup,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let current = visible_group(&state, &caller, &uuid).await?;
    authorize(&caller, Action::ChangeGroup(current.uuid.clone())).map_err(denied)?;
    let (changes, mut errors) = read_group_changes(body, mode.is_full())?;
    check_superuser_flag(&caller, &changes, Some(&current), &mut errors);
    let group = groups::update(
        &state.store,
        &current.uuid,
        changes,
        errors,
        &meta.audit(Some(&caller)),
    )
    .await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::OK,
        &group_out(&group, &state.install_id, include),
    ))
}

async fn destroy(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(uuid): Lookup,
) -> Result<Response, ApiError> {
    let group = visible_group(&state, &caller, &uuid).await?;
    authorize(&caller, Action::DeleteGroup(group.uuid.clone())).map_err(denied)?;
    groups::delete(&state.store, &group.uuid, &meta.audit(Some(&caller))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// add_user / remove_user: permission (403) → body (400) → user lookup (404 "Not found.").
async fn membership(
    state: &AppState,
    caller: &Principal,
    meta: &RequestMeta,
    raw: &str,
    body: JsonBody,
    member: bool,
) -> Result<Response, ApiError> {
    let group = visible_group(state, caller, raw).await?;
    let action = if member {
        Action::AddUserToGroup(group.uuid.clone())
    } else {
        Action::RemoveUserFromGroup(group.uuid.clone())
    };
    authorize(caller, action).map_err(denied)?;
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let pk = if input.require("pk") {
        input.int("pk")
    } else {
        None
    };
    input.errors.into_result()?;
    let Some(user_id) = pk else {
        return Err(ApiError::EmptyBadRequest);
    };
    // The user is looked up among the users the caller may see.
    crate::domain::authz::may_see(caller, "authentik_core.view_user", &user_id.to_string())
        .map_err(|_| ApiError::BadLookup)?;
    match groups::set_membership(
        &state.store,
        &group.uuid,
        user_id,
        member,
        &meta.audit(Some(caller)),
    )
    .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(DomainError::NotFound(ObjectKind::User)) => Err(ApiError::BadLookup),
        Err(e) => Err(e.into()),
    }
}

async fn add_user(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(uuid): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    membership(&state, &caller, &meta, &uuid, body, true).await
}

async fn remove_user(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(uuid): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    membership(&state, &caller, &meta, &uuid, body, false).await
}

/// Nothing in gatehouse references a group by foreign key, so this is always empty.
async fn used_by(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(uuid): Lookup,
) -> Result<Response, ApiError> {
    visible_group(&state, &caller, &uuid).await?;
    Ok(json_response(StatusCode::OK, &Vec::<Value>::new()))
}

/// The groups routes' operations, for the OpenAPI document (`api::authentik::openapi`).
pub(crate) fn operations(spec: &mut Spec) {
    let group = spec.schema::<GroupOut>();
    let body = spec.schema::<requests::GroupRequest>();
    let patched = spec.patched::<requests::GroupRequest>();
    spec.get(
        "/core/groups/",
        Answer::Page(group.clone()),
        GROUPS_QUERY,
        "Groups",
    );
    spec.post(
        "/core/groups/",
        Some(body.clone()),
        201,
        Answer::One(group.clone()),
        "Create a group",
    );
    spec.get(
        "/core/groups/{group_uuid}/",
        Answer::One(group.clone()),
        INCLUDE_QUERY,
        "A group",
    );
    spec.put_patch(
        "/core/groups/{group_uuid}/",
        body,
        patched,
        group,
        "Change a group",
    );
    spec.delete("/core/groups/{group_uuid}/", "Delete a group");
    let account = spec.schema::<requests::UserAccountRequest>();
    spec.post(
        "/core/groups/{group_uuid}/add_user/",
        Some(account.clone()),
        204,
        Answer::Empty,
        "Add a user to a group",
    );
    spec.post(
        "/core/groups/{group_uuid}/remove_user/",
        Some(account),
        204,
        Answer::Empty,
        "Remove a user from a group",
    );
    let used_by = used_by_schema(spec);
    spec.get(
        "/core/groups/{group_uuid}/used_by/",
        Answer::List(used_by),
        &[],
        "What would be deleted with the group",
    );
}

/// The nested objects a group answer may include.
const INCLUDE_QUERY: &[(&str, QueryType)] = &[
    ("include_users", QueryType::Str),
    ("include_children", QueryType::Str),
    ("include_parents", QueryType::Str),
    ("include_inherited_roles", QueryType::Str),
];

/// The groups list's query parameters.
const GROUPS_QUERY: &[(&str, QueryType)] = &[
    ("page", QueryType::Str),
    ("page_size", QueryType::Str),
    ("ordering", QueryType::Str),
    ("search", QueryType::Str),
    ("name", QueryType::Str),
    ("is_superuser", QueryType::Str),
    ("include_users", QueryType::Str),
    ("include_children", QueryType::Str),
    ("include_parents", QueryType::Str),
    ("include_inherited_roles", QueryType::Str),
];
