//! `/Users` and `/Me`: parse, authorize (the `ScimCaller` extractor), call `domain::scim`,
//! render. POST answers 201 with `Location`, PUT and PATCH 200 with the whole resource,
//! DELETE 204 without a body; an id that is not a visible user's uuid is a 404.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value};

use super::auth::ScimCaller;
use super::error::{scim_bytes, scim_json, ScimError};
use super::filter::{self, Expr, Op};
use super::list::{self, ListParams};
use super::patch::{self, ResourceSchema};
use super::projection::Projection;
use super::schema::{ENTERPRISE, ENTERPRISE_ATTRS, USER, USER_ATTRS};
use super::{user, Base};
use crate::api::body::JsonBody;
use crate::api::error::ApiError;
use crate::api::meta::RequestMeta;
use crate::app::AppState;
use crate::domain::directory::Renderings;
use crate::domain::error::ObjectKind;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::scim as domain_scim;
use crate::domain::users::{User, UserField, UserSort};
use crate::domain::DomainError;

/// The User resource type's schemas, for PATCH.
pub const USER_SCHEMA: ResourceSchema = ResourceSchema {
    urn: USER,
    attrs: USER_ATTRS,
    extension: Some((ENTERPRISE, ENTERPRISE_ATTRS)),
};

/// A resource id from the URL: a uuid, else nothing can match (404).
pub fn resource_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ScimError::status(StatusCode::NOT_FOUND, "Resource not found.").into())
}

/// The projection named in a query string.
pub fn projection(query: Option<&str>, core: &str, extension: Option<&str>) -> Projection {
    let pairs: Vec<(String, String)> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let get = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    Projection::parse(
        get("attributes"),
        get("excludedAttributes"),
        core,
        extension,
    )
}

/// A body that must be a JSON object.
pub fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ScimError::bad("invalidSyntax", "The body must be a JSON object.").into()),
    }
}

/// A 201 with `Location` = `meta.location`.
pub fn created(resource: Value) -> Response {
    let location = resource
        .get("meta")
        .and_then(|m| m.get("location"))
        .and_then(Value::as_str)
        .and_then(|l| HeaderValue::from_str(l).ok());
    let mut response = scim_json(StatusCode::CREATED, &resource);
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn find(state: &AppState, id: &str) -> Result<User, ApiError> {
    let uuid = resource_id(id)?;
    let filter = Filter::and(vec![
        list::visible_users(),
        Filter::Compare(UserField::Uuid, Cmp::Eq, Literal::Text(uuid)),
    ]);
    let sort = [(UserSort::Field(UserField::Id), Direction::Asc)];
    state
        .directory
        .list_users(&filter, &sort, 1, 0)
        .await?
        .pop()
        .ok_or(ApiError::Domain(DomainError::NotFound(ObjectKind::User)))
}

async fn render(
    state: &AppState,
    caller: &ScimCaller,
    base: &Base,
    user: &User,
) -> Result<Value, ApiError> {
    list::render_users(state, caller.0.user_id, &base.0, std::slice::from_ref(user))
        .await?
        .pop()
        .ok_or(ApiError::Domain(DomainError::NotFound(ObjectKind::User)))
}

/// `GET /Users`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caches: Arc<UserCaches>,
    caller: ScimCaller,
    base: Base,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = ListParams::from_query(query.as_deref())?;
    query_users(&state, &caches, &caller, &base, params).await
}

/// `POST /Users/.search`.
pub async fn search(
    State(state): State<Arc<AppState>>,
    caches: Arc<UserCaches>,
    caller: ScimCaller,
    base: Base,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let params = ListParams::from_body(&body)?;
    query_users(&state, &caches, &caller, &base, params).await
}

/// The caches of the `/Users` routes.
pub struct UserCaches {
    /// Rendered documents (`GET /Users/{id}`, and the answer to a `userName eq` query).
    pub rendered: RenderedScimUsers,
    /// Which visible user's uuid a folded `userName` names (`None`: nobody), per write epoch.
    pub by_name: Renderings<String, Option<String>>,
}

impl UserCaches {
    /// Empty caches, counted in the directory's stats.
    pub fn new(directory: &crate::domain::Directory) -> UserCaches {
        UserCaches {
            rendered: directory.renderings("scim_rendered_users", RENDERED_USERS_CAPACITY),
            by_name: directory.renderings("scim_usernames", RENDERED_USERS_CAPACITY),
        }
    }
}

/// The username a filter asks for when it is exactly `userName eq "…"` (how every identity
/// provider looks a user up before creating it), folded as the unique index folds it.
fn sought_username(params: &ListParams) -> Result<Option<String>, ScimError> {
    let Some(text) = &params.filter else {
        return Ok(None);
    };
    Ok(match filter::parse(text)? {
        Expr::Compare(path, Op::Eq, Value::String(name))
            if path.sub.is_none()
                && path.attr.eq_ignore_ascii_case("userName")
                && path
                    .urn
                    .as_deref()
                    .is_none_or(|u| u.eq_ignore_ascii_case(USER)) =>
        {
            Some(name.to_ascii_lowercase())
        }
        _ => None,
    })
}

/// A user query. `userName eq "…"` from the first result on is answered from the caches (at
/// most one user matches, usernames being unique under ASCII folding): the name's uuid and the
/// user's document, both of one write epoch — if a write lands meanwhile, the general path
/// answers instead.
async fn query_users(
    state: &AppState,
    caches: &UserCaches,
    caller: &ScimCaller,
    base: &Base,
    params: ListParams,
) -> Result<Response, ApiError> {
    let sought = match sought_username(&params)? {
        Some(name) if params.start_index == 1 && params.count > 0 => name,
        _ => return list::users(state, caller, base, params).await,
    };
    let epoch = caches.by_name.epoch(&state.directory);
    let uuid = match caches.by_name.get(&state.directory, &sought) {
        Some(uuid) => uuid,
        None => {
            let filter = list::user_filter(&params, caller.0.user_id)?;
            let sort = [(UserSort::Field(UserField::Id), Direction::Asc)];
            let found = state.directory.list_users(&filter, &sort, 1, 0).await?;
            let uuid = found.into_iter().next().map(|u| u.uuid.to_string());
            caches
                .by_name
                .put(&state.directory, epoch, sought, uuid.clone());
            uuid
        }
    };
    let document = match &uuid {
        Some(uuid) => Some(document(state, &caches.rendered, caller, base, uuid.clone()).await),
        None => None,
    };
    if caches.by_name.epoch(&state.directory) != epoch {
        return list::users(state, caller, base, params).await;
    }
    let Some(document) = document.transpose()? else {
        return Ok(list::list_response(0, 1, Vec::new()));
    };
    let projection = Projection::parse(
        params.attributes.as_deref(),
        params.excluded.as_deref(),
        USER,
        Some(ENTERPRISE),
    );
    if projection.is_identity() {
        return Ok(list::single_response(&document));
    }
    let resource: Value = serde_json::from_slice(&document)
        .map_err(|e| ApiError::Domain(DomainError::Internal(e.to_string())))?;
    Ok(list::list_response(1, 1, vec![projection.apply(resource)]))
}

/// Whole User documents as bytes by (uuid, SCIM client, base URL): what a document shows
/// depends on the user, its groups, its SCIM rows, the client (its externalId) and the base
/// (`meta.location`, `$ref`s). Valid in one write epoch of the directory (SCIM writes, the other
/// doors' writes and other instances' writes on PostgreSQL all move it); `attributes` and
/// `excludedAttributes` are applied after. Kept by the `/Users/{id}` route.
pub type RenderedScimUsers = Renderings<(String, i64, String), Bytes>;

/// How many rendered User documents `GET /Users/{id}` keeps.
pub const RENDERED_USERS_CAPACITY: usize = 20_000;

/// `GET /Users/{id}`: from the cache of rendered documents when nothing was written since it
/// was filled, else one indexed lookup by uuid and a rendering (which is then kept).
pub async fn get(
    state: Arc<AppState>,
    caches: Arc<UserCaches>,
    caller: ScimCaller,
    base: Base,
    id: String,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let uuid = resource_id(&id)?;
    let projection = projection(query.as_deref(), USER, Some(ENTERPRISE));
    let bytes = document(&state, &caches.rendered, &caller, &base, uuid).await?;
    if projection.is_identity() {
        return Ok(scim_bytes(StatusCode::OK, bytes));
    }
    let resource: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::Domain(DomainError::Internal(e.to_string())))?;
    Ok(scim_json(StatusCode::OK, &projection.apply(resource)))
}

/// The whole document of the visible user `uuid` as the caller sees it: from the cache when
/// nothing was written since it was filled, else one indexed lookup and a rendering (kept).
async fn document(
    state: &AppState,
    cache: &RenderedScimUsers,
    caller: &ScimCaller,
    base: &Base,
    uuid: String,
) -> Result<Bytes, ApiError> {
    let key = (uuid, caller.0.user_id, base.0.clone());
    if let Some(bytes) = cache.get(&state.directory, &key) {
        return Ok(bytes);
    }
    // Read before the user: a write landing meanwhile makes this rendering stale.
    let epoch = cache.epoch(&state.directory);
    let user = find(state, &key.0).await?;
    let resource = render(state, caller, base, &user).await?;
    let bytes = Bytes::from(resource.to_string());
    cache.put(&state.directory, epoch, key, bytes.clone());
    Ok(bytes)
}

/// `GET /Me`: the caller's own user.
pub async fn me(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    base: Base,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let user = state.directory.user(caller.0.user_id).await?;
    let resource = render(&state, &caller, &base, &user).await?;
    let projection = projection(query.as_deref(), USER, Some(ENTERPRISE));
    Ok(scim_json(StatusCode::OK, &projection.apply(resource)))
}

/// `POST /Users`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    base: Base,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let write = user::to_write(user::canonical(&object(body)?), true)?;
    let audit = meta.audit(Some(&caller.0));
    let created_user =
        domain_scim::create_user(&state.store, caller.0.user_id, write, &audit).await?;
    let resource = render(&state, &caller, &base, &created_user).await?;
    let projection = projection(query.as_deref(), USER, Some(ENTERPRISE));
    Ok(created(projection.apply(resource)))
}

/// `PUT /Users/{id}`: replaces every writable attribute; read-only ones in the body are ignored.
pub async fn replace(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    base: Base,
    meta: RequestMeta,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let current = find(&state, &id).await?;
    let write = user::to_write(user::canonical(&object(body)?), false)?;
    write_and_render(
        &state,
        &caller,
        &base,
        &meta,
        &current,
        write,
        query.as_deref(),
    )
    .await
}

async fn write_and_render(
    state: &AppState,
    caller: &ScimCaller,
    base: &Base,
    meta: &RequestMeta,
    current: &User,
    write: domain_scim::UserWrite,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let audit = meta.audit(Some(&caller.0));
    let updated =
        domain_scim::replace_user(&state.store, caller.0.user_id, current.id, write, &audit)
            .await?;
    let resource = render(state, caller, base, &updated).await?;
    let projection = projection(query, USER, Some(ENTERPRISE));
    Ok(scim_json(StatusCode::OK, &projection.apply(resource)))
}

/// `PATCH /Users/{id}`: the operations applied to the current representation, written as a
/// whole in one transaction.
pub async fn modify(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    base: Base,
    meta: RequestMeta,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let current = find(&state, &id).await?;
    let rendered = render(&state, &caller, &base, &current).await?;
    let mut doc = user::canonical(&object(rendered)?);
    patch::apply(&USER_SCHEMA, &current.uuid, &mut doc, &body)?;
    let write = user::to_write(doc, false)?;
    write_and_render(
        &state,
        &caller,
        &base,
        &meta,
        &current,
        write,
        query.as_deref(),
    )
    .await
}

/// `DELETE /Users/{id}`.
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let current = find(&state, &id).await?;
    domain_scim::delete_user(&state.store, current.id, &meta.audit(Some(&caller.0))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
