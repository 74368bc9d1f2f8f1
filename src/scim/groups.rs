//! `/Groups`: parse, authorize (the `ScimCaller` extractor), call `domain::scim`, render.
//! Membership writes into superuser or role-bearing groups are refused (403) unless the
//! `scim_privileged_groups` setting allows them; unknown member ids are skipped.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::auth::ScimCaller;
use super::error::scim_json;
use super::list::{self, ListParams};
use super::patch::{self, ResourceSchema};
use super::schema::{GROUP, GROUP_ATTRS};
use super::users::{created, object, projection, resource_id};
use super::{group, Base};
use crate::api::body::JsonBody;
use crate::api::error::ApiError;
use crate::api::meta::RequestMeta;
use crate::app::AppState;
use crate::domain::error::ObjectKind;
use crate::domain::groups::{self, Group};
use crate::domain::scim::{self as domain_scim, GroupWrite};
use crate::domain::DomainError;

/// The Group resource type's schema, for PATCH.
pub const GROUP_SCHEMA: ResourceSchema = ResourceSchema {
    urn: GROUP,
    attrs: GROUP_ATTRS,
    extension: None,
};

async fn find(state: &AppState, id: &str) -> Result<Group, ApiError> {
    let uuid = resource_id(id)?;
    Ok(groups::get(&state.store, &uuid).await?)
}

async fn render(
    state: &AppState,
    caller: &ScimCaller,
    base: &Base,
    group: &Group,
) -> Result<Value, ApiError> {
    list::render_groups(
        state,
        caller.0.user_id,
        &base.0,
        std::slice::from_ref(group),
    )
    .await?
    .pop()
    .ok_or(ApiError::Domain(DomainError::NotFound(ObjectKind::Group)))
}

/// `GET /Groups`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    base: Base,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = ListParams::from_query(query.as_deref())?;
    list::groups(&state, &caller, &base, params).await
}

/// `POST /Groups/.search`.
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    base: Base,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let params = ListParams::from_body(&body)?;
    list::groups(&state, &caller, &base, params).await
}

/// `GET /Groups/{id}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    base: Base,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let group = find(&state, &id).await?;
    let resource = render(&state, &caller, &base, &group).await?;
    let projection = projection(query.as_deref(), GROUP, None);
    Ok(scim_json(StatusCode::OK, &projection.apply(resource)))
}

/// `POST /Groups`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    base: Base,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let write = group::to_write(group::canonical(&object(body)?))?;
    let audit = meta.audit(Some(&caller.0));
    let uuid = domain_scim::create_group(&state.store, caller.0.user_id, write, &audit).await?;
    let group = groups::get(&state.store, &uuid).await?;
    let resource = render(&state, &caller, &base, &group).await?;
    let projection = projection(query.as_deref(), GROUP, None);
    Ok(created(projection.apply(resource)))
}

async fn write_and_render(
    state: &AppState,
    caller: &ScimCaller,
    base: &Base,
    meta: &RequestMeta,
    current: &Group,
    write: GroupWrite,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let audit = meta.audit(Some(&caller.0));
    domain_scim::replace_group(
        &state.store,
        caller.0.user_id,
        &current.uuid,
        write,
        state.config.scim_privileged_groups,
        &audit,
    )
    .await?;
    let group = groups::get(&state.store, &current.uuid).await?;
    let resource = render(state, caller, base, &group).await?;
    let projection = projection(query, GROUP, None);
    Ok(scim_json(StatusCode::OK, &projection.apply(resource)))
}

/// `PUT /Groups/{id}`. Without `members` the members stay as they are.
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
    let write = group::to_write(group::canonical(&object(body)?))?;
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

/// `PATCH /Groups/{id}`.
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
    let mut doc = group::canonical(&object(rendered)?);
    patch::apply(&GROUP_SCHEMA, &current.uuid, &mut doc, &body)?;
    let mut write = group::to_write(doc)?;
    // Members removed entirely (`remove members`) leave the group empty.
    if write.members.is_none() {
        write.members = Some(Vec::new());
    }
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

/// `DELETE /Groups/{id}`.
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let current = find(&state, &id).await?;
    domain_scim::delete_group(&state.store, &current.uuid, &meta.audit(Some(&caller.0))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
