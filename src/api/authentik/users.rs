//! `/api/v3/core/users/`: list, create, retrieve, update, partial update, destroy, `me`,
//! `paths`, `set_password`, `used_by` — parse, authorize, call the domain, serialize — and the
//! actions without a backing feature here (`recovery`, `recovery_email`, `impersonate`,
//! `impersonate_end`, `export`), which answer as a fresh authentik does.

use std::sync::{Arc, OnceLock};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::caller::Caller;
use super::options;
use super::pagination::{Envelope, PageRequest};
use super::query::{search_terms, Params};
use super::Lookup;
use super::{denied, require_sight, require_visibility};
use crate::api::body::JsonBody;
use crate::api::error::{json_response, ApiError};
use crate::api::extract::WriteMode;
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::routing::Route;
use crate::app::AppState;
use crate::domain::authz::{authorize, may_see, Action, Principal, TokenRef, Visibility};
use crate::domain::cache::EpochCache;
use crate::domain::error::Kind;
use crate::domain::existence;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::service_accounts::{self, ServiceAccountRequest};
use crate::domain::tokens::{self, TokenField, TokenSort};
use crate::domain::users::{
    self, User, UserChanges, UserField, UserFilter, UserRel, UserSort, UserType,
};
use crate::domain::{DomainError, FieldErrors, Timestamp};

/// The users routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/core/users/",
            Route::new()
                .get(list)
                .post(create)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/me/",
            Route::new()
                .get(me)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/paths/",
            Route::new()
                .get(paths)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/impersonate_end/",
            Route::new()
                .get(impersonate_end)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/export/",
            Route::new()
                .post(export)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/service_account/",
            Route::new()
                .post(service_account)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/{id}/",
            Route::new()
                .get(retrieve)
                .put(write)
                .patch(write)
                .delete(destroy)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/{id}/set_password/",
            Route::new()
                .post(set_password)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/{id}/used_by/",
            Route::new()
                .get(used_by)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/{id}/recovery/",
            Route::new()
                .post(recovery)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/{id}/recovery_email/",
            Route::new()
                .post(recovery_email)
                .options(options)
                .allow_on_every_answer(),
        )
        .route(
            "/core/users/{id}/impersonate/",
            Route::new()
                .post(impersonate)
                .options(options)
                .allow_on_every_answer(),
        )
}

/// The users' view permission.
const VIEW_USER: &str = "authentik_core.view_user";

/// The users a visibility allows, as a filter.
fn visible_users(visible: Visibility) -> UserFilter {
    match visible {
        Visibility::All => Filter::All,
        Visibility::Only(pks) => Filter::In(
            UserField::Id,
            pks.iter()
                .filter_map(|p| p.parse().ok())
                .map(Literal::Int)
                .collect(),
        ),
        Visibility::Nothing => Filter::Nothing,
    }
}

fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| ApiError::BadLookup)
}

// ---------------------------------------------------------------- serialization

#[derive(Serialize)]
struct PartialGroupOut<'a> {
    pk: &'a str,
    num_pk: i64,
    name: &'a str,
    is_superuser: bool,
    attributes: &'a Value,
}

#[derive(Serialize)]
struct RoleOut<'a> {
    pk: &'a str,
    name: &'a str,
}

/// authentik's `User` representation.
#[derive(Serialize)]
struct UserOut<'a> {
    pk: i64,
    username: &'a str,
    name: &'a str,
    is_active: bool,
    last_login: Option<String>,
    date_joined: String,
    is_superuser: bool,
    groups: Vec<&'a str>,
    groups_obj: Option<Vec<PartialGroupOut<'a>>>,
    roles: Vec<&'a str>,
    roles_obj: Option<Vec<RoleOut<'a>>>,
    email: &'a str,
    avatar: &'a str,
    attributes: &'a Value,
    uid: String,
    path: &'a str,
    #[serde(rename = "type")]
    user_type: &'static str,
    uuid: &'a str,
    password_change_date: String,
    last_updated: String,
}

/// Which nested objects a users response includes (`include_groups`, `include_roles`).
#[derive(Debug, Clone, Copy)]
pub struct Include {
    groups: bool,
    roles: bool,
}

impl Include {
    /// Reads the flags (default: both true).
    pub fn from_params(params: &Params) -> Include {
        Include {
            groups: params.flag("include_groups", true),
            roles: params.flag("include_roles", true),
        }
    }
}

fn user_out<'a>(user: &'a User, install_id: &str, include: Include) -> UserOut<'a> {
    UserOut {
        pk: user.id,
        username: &user.username,
        name: &user.name,
        is_active: user.is_active,
        last_login: user.last_login.map(Timestamp::to_drf),
        date_joined: user.date_joined.to_drf(),
        is_superuser: user.is_superuser,
        groups: user.groups.iter().map(|g| g.uuid.as_str()).collect(),
        groups_obj: include.groups.then(|| {
            user.groups
                .iter()
                .map(|g| PartialGroupOut {
                    pk: &g.uuid,
                    num_pk: g.num_pk(),
                    name: &g.name,
                    is_superuser: g.is_superuser,
                    attributes: &g.attributes,
                })
                .collect()
        }),
        roles: user.roles.iter().map(|r| r.uuid.as_str()).collect(),
        roles_obj: include.roles.then(|| {
            user.roles
                .iter()
                .map(|r| RoleOut {
                    pk: &r.uuid,
                    name: &r.name,
                })
                .collect()
        }),
        email: &user.email,
        avatar: user.avatar(),
        attributes: &user.attributes,
        uid: user.uid(install_id),
        path: &user.path,
        user_type: user.user_type.as_str(),
        uuid: &user.uuid,
        password_change_date: user.password_change_date.to_drf(),
        last_updated: user.last_updated.to_drf(),
    }
}

/// A user as authentik renders it, for other resources that nest users (`user_obj`).
pub fn user_json(user: &User, install_id: &str, include: Include) -> Value {
    serde_json::to_value(user_out(user, install_id, include)).unwrap_or(Value::Null)
}

fn autocomplete() -> &'static Value {
    static AUTOCOMPLETE: OnceLock<Value> = OnceLock::new();
    AUTOCOMPLETE.get_or_init(|| {
        let s = |nullable: bool| json!({"type": "str", "nullable": nullable, "options": null});
        json!({
            "current_model": "authentik_core.user",
            "models": {
                "authentik_core.user": {
                    "username": s(false),
                    "name": s(false),
                    "email": s(false),
                    "path": s(false),
                    "is_active": {"type": "bool", "nullable": true, "options": null},
                    "type": {"type": "str", "nullable": false, "options": UserType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>()},
                    "attributes": {"type": "relation", "nullable": false, "options": null, "relation": "authentik_core.user_attributes"}
                }
            }
        })
    })
}

// ---------------------------------------------------------------- list filters

const ORDERABLE: [(&str, UserSort); 16] = [
    ("pk", UserSort::Field(UserField::Id)),
    ("username", UserSort::Field(UserField::Username)),
    ("name", UserSort::Field(UserField::Name)),
    ("is_active", UserSort::Field(UserField::IsActive)),
    ("last_login", UserSort::Field(UserField::LastLogin)),
    ("date_joined", UserSort::Field(UserField::DateJoined)),
    ("is_superuser", UserSort::IsSuperuser),
    ("groups", UserSort::Groups),
    ("roles", UserSort::Roles),
    ("email", UserSort::Field(UserField::Email)),
    ("attributes", UserSort::Field(UserField::Attributes)),
    ("path", UserSort::Field(UserField::Path)),
    ("type", UserSort::Field(UserField::Type)),
    ("uuid", UserSort::Field(UserField::Uuid)),
    (
        "password_change_date",
        UserSort::Field(UserField::PasswordChangeDate),
    ),
    ("last_updated", UserSort::Field(UserField::LastUpdated)),
];

/// `?ordering=a,-b`: known names only; default `username`.
fn ordering(params: &Params) -> Vec<(UserSort, Direction)> {
    params.ordering(&ORDERABLE, UserSort::Field(UserField::Username))
}

use super::query::choice_error;

/// Translates the list's query parameters into a user filter
/// (docs/compatibility.md#filtering-search-and-ordering).
async fn list_filter(state: &AppState, params: &Params) -> Result<UserFilter, ApiError> {
    let mut parts: Vec<UserFilter> = Vec::new();
    let mut errors = FieldErrors::new();
    for (param, field) in [
        ("username", UserField::Username),
        ("email", UserField::Email),
        ("name", UserField::Name),
        ("path", UserField::Path),
    ] {
        if let Some(v) = params.last(param).filter(|v| !v.is_empty()) {
            parts.push(Filter::Compare(
                field,
                Cmp::Eq,
                Literal::Text(v.to_string()),
            ));
        }
    }
    if let Some(v) = params.last("path_startswith").filter(|v| !v.is_empty()) {
        parts.push(Filter::StartsWith(UserField::Path, v.to_string()));
    }
    if let Some(b) = params.boolean("is_active") {
        parts.push(Filter::Compare(
            UserField::IsActive,
            Cmp::Eq,
            Literal::Bool(b),
        ));
    }
    if let Some(b) = params.boolean("is_superuser") {
        parts.push(Filter::Rel(UserRel::DirectSuperuser(b)));
    }
    if let Some(v) = params.last("uuid").filter(|v| !v.is_empty()) {
        match uuid::Uuid::parse_str(v.trim()) {
            Ok(u) => parts.push(Filter::Compare(
                UserField::Uuid,
                Cmp::Eq,
                Literal::Text(u.to_string()),
            )),
            Err(_) => errors.add("uuid", "Enter a valid UUID."),
        }
    }
    let types: Vec<&str> = params
        .all("type")
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    if !types.is_empty() {
        let mut literals = Vec::new();
        for t in &types {
            match UserType::parse(t) {
                Some(ut) => literals.push(Literal::Text(ut.as_str().to_string())),
                None => {
                    errors.add("type", choice_error(t));
                    break;
                }
            }
        }
        parts.push(Filter::In(UserField::Type, literals));
    }
    for (base, field) in [
        ("date_joined", UserField::DateJoined),
        ("last_updated", UserField::LastUpdated),
        ("last_login", UserField::LastLogin),
    ] {
        for (suffix, cmp) in [("", Cmp::Eq), ("__lt", Cmp::Lt), ("__gt", Cmp::Gt)] {
            let param = format!("{base}{suffix}");
            if let Some(v) = params.last(&param).filter(|v| !v.is_empty()) {
                match Timestamp::parse(v) {
                    Some(t) => parts.push(Filter::Compare(field, cmp, Literal::Time(t))),
                    None => errors.add(&param, "Enter a valid date/time."),
                }
            }
        }
    }
    if let Some(b) = params.boolean("last_login__isnull") {
        let f = Filter::IsNull(UserField::LastLogin);
        parts.push(if b { f } else { Filter::Not(Box::new(f)) });
    }
    // groups_by_name / roles_by_name: every value must name an existing object.
    for (param, is_group) in [("groups_by_name", true), ("roles_by_name", false)] {
        let names: Vec<String> = params
            .all(param)
            .into_iter()
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect();
        if names.is_empty() {
            continue;
        }
        let existing = if is_group {
            existence::group_names(&state.store, &names).await?
        } else {
            existence::role_names(&state.store, &names).await?
        };
        if let Some(missing) = names.iter().find(|n| !existing.contains(n)) {
            errors.add(param, choice_error(missing));
            continue;
        }
        parts.push(Filter::Rel(if is_group {
            UserRel::GroupNames(names)
        } else {
            UserRel::RoleNames(names)
        }));
    }
    for (param, is_group) in [("groups_by_pk", true), ("roles_by_pk", false)] {
        let raw: Vec<&str> = params
            .all(param)
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect();
        if raw.is_empty() {
            continue;
        }
        let mut uuids = Vec::new();
        let mut bad = None;
        for v in &raw {
            match uuid::Uuid::parse_str(v.trim()) {
                Ok(u) => uuids.push(u.to_string()),
                Err(_) => {
                    bad = Some(format!("“{v}” is not a valid value."));
                    break;
                }
            }
        }
        if let Some(message) = bad {
            errors.add(param, message);
            continue;
        }
        let existing = if is_group {
            existence::group_uuids(&state.store, &uuids).await?
        } else {
            existence::role_uuids(&state.store, &uuids).await?
        };
        if let Some(missing) = uuids.iter().find(|u| !existing.contains(u)) {
            errors.add(param, choice_error(missing));
            continue;
        }
        parts.push(Filter::Rel(if is_group {
            UserRel::GroupUuids(uuids)
        } else {
            UserRel::RoleUuids(uuids)
        }));
    }
    errors.into_result()?;
    if let Some(raw) = params.last("attributes").filter(|v| !v.is_empty()) {
        parts.push(super::query::attributes_filter(raw, UserField::Attributes)?);
    }
    if let Some(search) = params.last("search") {
        // A DjangoQL expression first (`username = "x" and is_active = True`); anything that
        // does not parse for this model is a plain search.
        let search = search.replace('\0', "");
        match super::ql::parse_user_query(&search) {
            Some(query) => parts.push(query),
            None => {
                for term in search_terms(&search) {
                    parts.push(Filter::Rel(UserRel::SearchTerm(term)));
                }
            }
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
    let visible = require_visibility(&caller, VIEW_USER)?;
    let params = Params::parse(query.as_deref());
    let filter = Filter::and(vec![
        visible_users(visible),
        list_filter(&state, &params).await?,
    ]);
    let sort = ordering(&params);
    let request = PageRequest::from_params(&params);
    let count = users::count_cached(&state.store, &state.user_counts, &filter).await?;
    let pagination = request.resolve(count)?;
    // Read before the users: a write landing meanwhile makes what is rendered now stale.
    let epoch = state.rendered_users.epoch(state.store.changes());
    let rows = users::list_cached(
        &state.store,
        &state.users,
        &filter,
        &sort,
        pagination.limit,
        pagination.offset,
    )
    .await?;
    let include = Include::from_params(&params);
    let mut results: Vec<Arc<RawValue>> = Vec::with_capacity(rows.len());
    for user in &rows {
        results.push(rendered(state.as_ref(), user, include, epoch)?);
    }
    let envelope = Envelope {
        pagination,
        results: results
            .iter()
            .map(|r| r.as_ref())
            .collect::<Vec<&RawValue>>(),
        autocomplete: autocomplete(),
    };
    Ok(json_response(StatusCode::OK, &envelope))
}

/// Rendered users by (id, include_groups, include_roles), valid in one write epoch.
pub type RenderedUsers = EpochCache<(i64, bool, bool), Arc<RawValue>>;

/// A user as the list renders it, from `state.rendered_users` when nothing was written since
/// `epoch` (read before the user was loaded); rendering 100 users is most of a list's work.
fn rendered(
    state: &AppState,
    user: &User,
    include: Include,
    epoch: u64,
) -> Result<Arc<RawValue>, ApiError> {
    let changes = state.store.changes();
    let key = (user.id, include.groups, include.roles);
    if let Some(raw) = state.rendered_users.get(changes, &key) {
        return Ok(raw);
    }
    let raw = render(state, user, include)?;
    state.rendered_users.put(changes, epoch, key, raw.clone());
    Ok(raw)
}

/// A user rendered as its JSON object (the bytes `rendered` caches).
fn render(state: &AppState, user: &User, include: Include) -> Result<Arc<RawValue>, ApiError> {
    Ok(
        serde_json::value::to_raw_value(&user_out(user, &state.install_id, include))
            .map_err(|e| ApiError::Domain(DomainError::Internal(e.to_string())))?
            .into(),
    )
}

/// Reads the writable user fields of a request (docs/compatibility.md#users). `full` = POST/PUT:
/// `username` and `name` are required and omitted `groups`/`roles` reset to `[]`.
pub(crate) fn read_user_changes(
    body: JsonBody,
    full: bool,
) -> Result<(UserChanges, FieldErrors), ApiError> {
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let mut changes = UserChanges::default();
    if !full || input.require("username") {
        changes.username = input.string("username", Str::REQUIRED_TEXT.max(150));
    }
    if !full || input.require("name") {
        changes.name = input.string("name", Str::TEXT);
    }
    changes.is_active = input.boolean("is_active");
    changes.last_login = input.datetime_or_null("last_login");
    changes.groups = input.uuid_list("groups");
    changes.roles = input.uuid_list("roles");
    changes.email = input.string("email", Str::TEXT.max(254));
    changes.attributes = input.object(
        "attributes",
        "Value must be a dictionary, and not have any duplicate keys.",
    );
    changes.path = input.string("path", Str::REQUIRED_TEXT);
    changes.user_type = input.choice("type", UserType::parse);
    if full {
        if !input.present("groups") {
            changes.groups = Some(Vec::new());
        }
        if !input.present("roles") {
            changes.roles = Some(Vec::new());
        }
    }
    Ok((changes, input.errors))
}

async fn create(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::AddUser).map_err(denied)?;
    let (changes, errors) = read_user_changes(body, true)?;
    let user = users::create(&state.store, changes, errors, &meta.audit(Some(&caller))).await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::CREATED,
        &user_out(&user, &state.install_id, include),
    ))
}

async fn retrieve(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(id): Lookup,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    require_visibility(&caller, VIEW_USER)?;
    let id = parse_id(&id)?;
    require_sight(&caller, VIEW_USER, &id.to_string(), Kind::User)?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    // Rendered as the list renders it, so both share one cache of rendered users.
    let changes = state.store.changes();
    if let Some(raw) = state
        .rendered_users
        .get(changes, &(id, include.groups, include.roles))
    {
        return Ok(json_response(StatusCode::OK, &*raw));
    }
    let epoch = state.rendered_users.epoch(changes);
    // A rendering is kept from a user's second read in an epoch on (its first fills the user
    // cache): ids read once, as when a client walks a million users, would otherwise churn both
    // caches, and freeing what they evict is most of an uncached read's tail.
    let raw = match state.users.get(changes, &id) {
        Some(user) => rendered(state.as_ref(), &user, include, epoch)?,
        None => {
            let user = users::get_cached(&state.store, &state.users, id).await?;
            render(state.as_ref(), &user, include)?
        }
    };
    Ok(json_response(StatusCode::OK, &*raw))
}

/// PUT and PATCH of one user.
async fn write(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    mode: WriteMode,
    Lookup(id): Lookup,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Response, ApiError> {
    require_visibility(&caller, VIEW_USER)?;
    let id = parse_id(&id)?;
    require_sight(&caller, VIEW_USER, &id.to_string(), Kind::User)?;
    authorize(&caller, Action::ChangeUser(id)).map_err(denied)?;
    let (changes, errors) = read_user_changes(body, mode.is_full())?;
    let user = users::update(
        &state.store,
        id,
        changes,
        errors,
        &meta.audit(Some(&caller)),
    )
    .await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::OK,
        &user_out(&user, &state.install_id, include),
    ))
}

async fn destroy(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(id): Lookup,
) -> Result<Response, ApiError> {
    require_visibility(&caller, VIEW_USER)?;
    let id = parse_id(&id)?;
    require_sight(&caller, VIEW_USER, &id.to_string(), Kind::User)?;
    authorize(&caller, Action::DeleteUser(id)).map_err(denied)?;
    users::delete(&state.store, id, &meta.audit(Some(&caller))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set_password(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(id): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    require_visibility(&caller, VIEW_USER)?;
    let id = parse_id(&id)?;
    require_sight(&caller, VIEW_USER, &id.to_string(), Kind::User)?;
    authorize(&caller, Action::ResetUserPassword(id)).map_err(denied)?;
    // The target must exist (and be visible) before the body is looked at.
    users::get(&state.store, id).await?;
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let password = if input.require("password") {
        input.string(
            "password",
            Str {
                allow_blank: false,
                max_len: None,
                trim: false,
            },
        )
    } else {
        None
    };
    if let Some(p) = &password {
        if p.trim().is_empty() {
            input
                .errors
                .add_code("password", "blank", "This field may not be blank.");
        }
    }
    input.errors.into_result()?;
    let Some(password) = password else {
        return Err(ApiError::EmptyBadRequest);
    };
    match users::set_password(&state.store, id, password, &meta.audit(Some(&caller))).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(DomainError::NotFound(Kind::User)) => {
            Err(ApiError::Domain(DomainError::NotFound(Kind::User)))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct UserSelfOut<'a> {
    pk: i64,
    username: &'a str,
    name: &'a str,
    is_active: bool,
    is_superuser: bool,
    is_current: bool,
    groups: Vec<NamePk<'a>>,
    roles: Vec<NamePk<'a>>,
    email: &'a str,
    avatar: &'a str,
    uid: String,
    settings: &'a Value,
    #[serde(rename = "type")]
    user_type: &'static str,
    system_permissions: &'a [String],
}

#[derive(Serialize)]
struct NamePk<'a> {
    name: &'a str,
    pk: &'a str,
}

async fn me(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ViewSelf).map_err(denied)?;
    let view = users::self_view(&state.store, caller.user_id).await?;
    let user = &view.user;
    let out = UserSelfOut {
        pk: user.id,
        username: &user.username,
        name: &user.name,
        is_active: user.is_active,
        is_superuser: user.is_superuser,
        is_current: true,
        groups: view
            .all_groups
            .iter()
            .map(|(pk, name)| NamePk { name, pk })
            .collect(),
        roles: view
            .effective_roles
            .iter()
            .map(|(pk, name)| NamePk { name, pk })
            .collect(),
        email: &user.email,
        avatar: user.avatar(),
        uid: user.uid(&state.install_id),
        settings: &view.settings,
        user_type: user.user_type.as_str(),
        system_permissions: &view.system_permissions,
    };
    let body = json!({ "user": &out, "users": [&out] });
    Ok(json_response(StatusCode::OK, &body))
}

async fn paths(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let visible = require_visibility(&caller, VIEW_USER)?;
    let params = Params::parse(query.as_deref());
    let filter = Filter::and(vec![
        visible_users(visible),
        list_filter(&state, &params).await?,
    ]);
    let paths = users::paths(&state.store, &filter).await?;
    Ok(json_response(StatusCode::OK, &json!({ "paths": paths })))
}

/// `POST /core/users/service_account/` (docs/compatibility.md#user-actions): answers 200, not 201.
async fn service_account(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    body: JsonBody,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::CreateServiceAccount).map_err(denied)?;
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let name = if input.require("name") {
        input.string("name", Str::REQUIRED_TEXT.max(150))
    } else {
        None
    };
    if let Some(n) = &name {
        if let Err(message) = users::check_username(n) {
            input.errors.add("name", message);
        }
    }
    let create_group = input.boolean("create_group").unwrap_or(false);
    let expiring = input.boolean("expiring").unwrap_or(true);
    let expires = match input.datetime_or_null("expires") {
        Some(Some(t)) => t,
        Some(None) if !input.errors.has("expires") => {
            input
                .errors
                .add_code("expires", "null", "This field may not be null.");
            Timestamp::now()
        }
        _ => Timestamp::now().plus_seconds(360 * 86_400),
    };
    input.errors.into_result()?;
    let Some(name) = name else {
        return Err(ApiError::EmptyBadRequest);
    };
    let request = ServiceAccountRequest {
        name,
        create_group,
        expiring,
        expires,
    };
    let may_create_group = authorize(&caller, Action::AddGroup).is_ok();
    let created = service_accounts::create(
        &state.store,
        &state.sealer,
        request,
        may_create_group,
        &meta.audit(Some(&caller)),
    )
    .await?;
    let uid = users::uid_of(created.user_id, &state.install_id);
    let mut body = json!({
        "username": created.username,
        "user_uid": uid,
        "user_pk": created.user_id,
        "token": created.token,
    });
    if let (Some(group), Some(map)) = (created.group_uuid, body.as_object_mut()) {
        map.insert("group_pk".into(), Value::String(group));
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// The user a per-user action addresses: visible to the caller (403 when it sees no users, 404
/// when not this one) and existing, as authentik's `get_object`.
async fn action_target(state: &AppState, caller: &Principal, raw: &str) -> Result<User, ApiError> {
    require_visibility(caller, VIEW_USER)?;
    let id = parse_id(raw)?;
    require_sight(caller, VIEW_USER, &id.to_string(), Kind::User)?;
    Ok(users::get_cached(&state.store, &state.users, id).await?)
}

/// A 400 raised inside an authentik view: `non_field_errors` is a bare string there
/// (docs/compatibility.md#error-shapes).
fn view_error(message: &str) -> ApiError {
    ApiError::Json(
        StatusCode::BAD_REQUEST,
        json!({ "non_field_errors": message }),
    )
}

/// gatehouse has no flows, so no brand has a recovery flow (docs/compatibility.md#user-actions).
const NO_RECOVERY_FLOW: &str = "No recovery flow set.";

/// The recovery actions' checks before their body: the target (404/403), then
/// `reset_user_password` on it (403); returns the user and the body object.
async fn recovery_request(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    body: JsonBody,
) -> Result<(User, serde_json::Map<String, Value>), ApiError> {
    let user = action_target(state, caller, raw).await?;
    authorize(caller, Action::ResetUserPassword(user.id)).map_err(denied)?;
    Ok((user, body.into_object()?))
}

/// `GET /core/users/{id}/used_by/`: what references the user and goes with it when it is
/// deleted — its direct groups and roles (memberships, `cascade_many`) and its tokens
/// (`cascade`), each only when the caller may view it.
async fn used_by(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(id): Lookup,
) -> Result<Response, ApiError> {
    let user = action_target(&state, &caller, &id).await?;
    let mut body: Vec<Value> = Vec::new();
    for group in &user.groups {
        if may_see(&caller, "authentik_core.view_group", &group.uuid).is_ok() {
            body.push(json!({
                "app": "authentik_core", "model_name": "group", "pk": group.uuid,
                "name": format!("Group {}", group.name), "action": "cascade_many",
            }));
        }
    }
    for role in &user.roles {
        if may_see(&caller, "authentik_rbac.view_role", &role.uuid).is_ok() {
            body.push(json!({
                "app": "authentik_rbac", "model_name": "role", "pk": role.uuid,
                "name": format!("Role {}", role.name), "action": "cascade_many",
            }));
        }
    }
    let owned = Filter::Compare(TokenField::UserId, Cmp::Eq, Literal::Int(user.id));
    let sort = [(TokenSort::Field(TokenField::Identifier), Direction::Asc)];
    for token in tokens::list(&state.store, &owned, &sort, i64::MAX, 0).await? {
        let visible = TokenRef {
            owner: user.id,
            uuid: token.uuid.clone(),
        };
        if authorize(&caller, Action::ViewToken(visible)).is_err() {
            continue;
        }
        // authentik's `str(token)`: the identifier, plus the expiry when it applies.
        let name = match (token.expiring, token.expires) {
            (true, Some(expires)) => {
                format!("{} (expires={})", token.identifier, expires.to_python_str())
            }
            (true, None) => format!("{} (expires=None)", token.identifier),
            (false, _) => token.identifier.clone(),
        };
        body.push(json!({
            "app": "authentik_core", "model_name": "token", "pk": token.uuid,
            "name": name, "action": "cascade",
        }));
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /core/users/{id}/recovery/`: the target (404/403), `reset_user_password` (403), the
/// body, then authentik's answer without a recovery flow (400, bare string).
async fn recovery(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(id): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (_, obj) = recovery_request(&state, &caller, &id, body).await?;
    let mut input = Input::new(&obj);
    input.string("token_duration", Str::REQUIRED_TEXT);
    input.errors.into_result()?;
    Err(view_error(NO_RECOVERY_FLOW))
}

/// `POST /core/users/{id}/recovery_email/`: as `recovery`, with a required `email_stage` uuid
/// and authentik's check that the user has an address before the missing flow.
async fn recovery_email(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(id): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (user, obj) = recovery_request(&state, &caller, &id, body).await?;
    let mut input = Input::new(&obj);
    input.string("token_duration", Str::REQUIRED_TEXT);
    if input.require("email_stage") {
        if let Some(stage) = input.string("email_stage", Str::REQUIRED_TEXT) {
            if uuid::Uuid::parse_str(&stage).is_err() {
                input.errors.add("email_stage", "Must be a valid UUID.");
            }
        }
    }
    input
        .errors
        .sort_by_order(&["token_duration", "email_stage"]);
    input.errors.into_result()?;
    if user.email.is_empty() {
        return Err(view_error("User does not have an email address set."));
    }
    Err(view_error(NO_RECOVERY_FLOW))
}

/// `POST /core/users/{id}/impersonate/`: the target (404/403), `impersonate` (403), then 401
/// with an empty body — authentik's answer when impersonation is disabled, which it always is
/// here (impersonation lives in browser sessions gatehouse does not have).
async fn impersonate(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(id): Lookup,
) -> Result<Response, ApiError> {
    let user = action_target(&state, &caller, &id).await?;
    authorize(&caller, Action::Impersonate(user.id)).map_err(denied)?;
    Ok(StatusCode::UNAUTHORIZED.into_response())
}

/// `GET /core/users/impersonate_end/`: 204 always (docs/compatibility.md#user-actions).
async fn impersonate_end(Caller(_caller): Caller) -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /core/users/export/`: `add_dataexport` (403), then what an authentik without an
/// enterprise licence answers (400): data exports are an enterprise feature.
async fn export(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ExportUsers).map_err(denied)?;
    Err(ApiError::Json(
        StatusCode::BAD_REQUEST,
        json!({ "non_field_errors": ["Enterprise is required to create/update this object."] }),
    ))
}
