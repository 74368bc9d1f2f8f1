//! `/api/v3/core/users/`: the routes, and what every users handler shares (visibility,
//! id parsing, the target of a per-user action). Handlers in `handlers.rs`, the JSON shapes in
//! `render.rs`, the list's query parameters in `filters.rs`, and the actions without a backing
//! feature here (`recovery`, `recovery_email`, `impersonate`, `impersonate_end`, `export`) in
//! `actions.rs`, which answer as a fresh authentik does.

mod actions;
mod filters;
mod handlers;
mod render;

use crate::api::authentik::error::finish as authentik_finish;
use actions::*;
use filters::*;
pub(crate) use handlers::read_user_changes;
use handlers::*;
use render::*;
pub use render::{user_json, Include, RenderedUsers};

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
use super::Lookup;
use super::{denied, require_sight, require_visibility};
use crate::api::body::JsonBody;
use crate::api::error::{json_response, ApiError};
use crate::api::extract::WriteMode;
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::query::{search_terms, Params};
use crate::api::routing::Route;
use crate::app::AppState;
use crate::domain::authz::{authorize, may_see, Action, Principal, TokenRef, Visibility};
use crate::domain::directory::{RenderEpoch, Renderings};
use crate::domain::error::ObjectKind;
use crate::domain::existence;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::service_accounts::{self, ServiceAccountRequest};
use crate::domain::tokens::{self, TokenField, TokenSort};
use crate::domain::users::{
    self, User, UserChanges, UserField, UserFilter, UserRel, UserSort, UserType,
};
use crate::domain::{DomainError, FieldErrors, Timestamp};

/// The users routes.
pub fn routes(directory: &crate::domain::Directory) -> Router<Arc<AppState>> {
    let rendered_users: Arc<RenderedUsers> =
        Arc::new(directory.renderings("rendered_users", RENDERED_USERS_CAPACITY));
    Router::new()
        .route(
            "/core/users/",
            Route::new()
                .get({
                    let cache = rendered_users.clone();
                    move |State(state): State<Arc<AppState>>,
                          Caller(caller): Caller,
                          RawQuery(query): RawQuery| {
                        list(state, cache.clone(), caller, query)
                    }
                })
                .post(create)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/me/",
            Route::new()
                .get(me)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/paths/",
            Route::new()
                .get(paths)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/impersonate_end/",
            Route::new()
                .get(impersonate_end)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/export/",
            Route::new()
                .post(export)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/service_account/",
            Route::new()
                .post(service_account)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/{id}/",
            Route::new()
                .get({
                    let cache = rendered_users.clone();
                    move |State(state): State<Arc<AppState>>,
                          Caller(caller): Caller,
                          Lookup(id): Lookup,
                          RawQuery(query): RawQuery| {
                        retrieve(state, cache.clone(), caller, id, query)
                    }
                })
                .put(write)
                .patch(write)
                .delete(destroy)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/{id}/set_password/",
            Route::new()
                .post(set_password)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/{id}/used_by/",
            Route::new()
                .get(used_by)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/{id}/recovery/",
            Route::new()
                .post(recovery)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/{id}/recovery_email/",
            Route::new()
                .post(recovery_email)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/core/users/{id}/impersonate/",
            Route::new()
                .post(impersonate)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
}

/// The users' view permission.
const VIEW_USER: &str = "authentik_core.view_user";

/// The users a visibility allows, as a filter.
pub(crate) fn visible_users(visible: Visibility) -> UserFilter {
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

/// The user a per-user action addresses: visible to the caller (403 when it sees no users, 404
/// when not this one) and existing, as authentik's `get_object`.
async fn action_target(state: &AppState, caller: &Principal, raw: &str) -> Result<User, ApiError> {
    require_visibility(caller, VIEW_USER)?;
    let id = parse_id(raw)?;
    require_sight(caller, VIEW_USER, &id.to_string(), ObjectKind::User)?;
    Ok(state.directory.user(id).await?)
}

/// A 400 raised inside an authentik view: `non_field_errors` is a bare string there
/// (docs/compatibility.md#error-shapes).
fn view_error(message: &str) -> ApiError {
    ApiError::Json(
        StatusCode::BAD_REQUEST,
        json!({ "non_field_errors": message }),
    )
}
