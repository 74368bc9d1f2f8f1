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
pub(crate) use render::UserOut;
use render::*;
pub use render::{user_json, Include, RenderedUsers};

use std::sync::{Arc, OnceLock};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::caller::Caller;
use super::openapi::schemas::{
    any_value, integer, list_of, object_of, string, string_list, used_by_schema,
};
use super::openapi::{requests, Answer, QueryType, Spec};
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
use crate::api::routing::{Route, Routes};
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
pub fn routes(directory: &crate::domain::Directory) -> Routes<Arc<AppState>> {
    let rendered_users: Arc<RenderedUsers> =
        Arc::new(directory.renderings("rendered_users", RENDERED_USERS_CAPACITY));
    Routes::new(authentik_finish)
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
                .options(options),
        )
        .route("/core/users/me/", Route::new().get(me).options(options))
        .route(
            "/core/users/paths/",
            Route::new().get(paths).options(options),
        )
        .route(
            "/core/users/impersonate_end/",
            Route::new().get(impersonate_end).options(options),
        )
        .route(
            "/core/users/export/",
            Route::new().post(export).options(options),
        )
        .route(
            "/core/users/service_account/",
            Route::new().post(service_account).options(options),
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
                .options(options),
        )
        .route(
            "/core/users/{id}/set_password/",
            Route::new().post(set_password).options(options),
        )
        .route(
            "/core/users/{id}/used_by/",
            Route::new().get(used_by).options(options),
        )
        .route(
            "/core/users/{id}/recovery/",
            Route::new().post(recovery).options(options),
        )
        .route(
            "/core/users/{id}/recovery_email/",
            Route::new().post(recovery_email).options(options),
        )
        .route(
            "/core/users/{id}/impersonate/",
            Route::new().post(impersonate).options(options),
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

/// The users routes' operations, for the OpenAPI document (`api::authentik::openapi`).
pub(crate) fn operations(spec: &mut Spec) {
    let user = spec.schema::<UserOut>();
    let body = spec.schema::<requests::UserRequest>();
    let patched = spec.patched::<requests::UserRequest>();
    spec.get(
        "/core/users/",
        Answer::Page(user.clone()),
        USERS_QUERY,
        "Users",
    );
    spec.post(
        "/core/users/",
        Some(body.clone()),
        201,
        Answer::One(user.clone()),
        "Create a user",
    );
    let self_view = spec.schema::<UserSelfOut>();
    spec.get(
        "/core/users/me/",
        Answer::One(object_of(&[
            ("user", self_view.clone()),
            ("users", list_of(self_view)),
        ])),
        &[],
        "The caller's own account",
    );
    spec.get(
        "/core/users/paths/",
        Answer::One(object_of(&[("paths", string_list())])),
        &[("search", QueryType::Str)],
        "The users' paths",
    );
    spec.get(
        "/core/users/impersonate_end/",
        Answer::Empty,
        &[],
        "End an impersonation (none here: 204)",
    );
    spec.post(
        "/core/users/export/",
        None,
        400,
        Answer::One(any_value()),
        "Export users (an enterprise feature: 400)",
    );
    let created = spec.schema::<requests::UserServiceAccountRequest>();
    spec.post(
        "/core/users/service_account/",
        Some(created),
        200,
        Answer::One(object_of(&[
            ("username", string()),
            ("user_uid", string()),
            ("user_pk", integer()),
            ("token", string()),
        ])),
        "Create a service account and its token",
    );
    spec.get(
        "/core/users/{id}/",
        Answer::One(user.clone()),
        &[
            ("include_groups", QueryType::Str),
            ("include_roles", QueryType::Str),
        ],
        "A user",
    );
    spec.put_patch("/core/users/{id}/", body, patched, user, "Change a user");
    spec.delete("/core/users/{id}/", "Delete a user");
    let password = spec.schema::<requests::UserPasswordSetRequest>();
    spec.post(
        "/core/users/{id}/set_password/",
        Some(password),
        204,
        Answer::Empty,
        "Set a user's password",
    );
    let used_by = used_by_schema(spec);
    spec.get(
        "/core/users/{id}/used_by/",
        Answer::List(used_by),
        &[],
        "What would be deleted with the user",
    );
    let recovery = spec.schema::<requests::UserRecoveryLinkRequest>();
    spec.post(
        "/core/users/{id}/recovery/",
        Some(recovery),
        400,
        Answer::One(any_value()),
        "A recovery link (no recovery flow here: 400)",
    );
    let recovery_email = spec.schema::<requests::UserRecoveryEmailRequest>();
    spec.post(
        "/core/users/{id}/recovery_email/",
        Some(recovery_email),
        400,
        Answer::One(any_value()),
        "Send a recovery email (no recovery flow here: 400)",
    );
    spec.post(
        "/core/users/{id}/impersonate/",
        None,
        401,
        Answer::Empty,
        "Impersonate a user (disabled here: 401)",
    );
}

/// The users list's query parameters beyond paging.
const USERS_QUERY: &[(&str, QueryType)] = &[
    ("page", QueryType::Str),
    ("page_size", QueryType::Str),
    ("ordering", QueryType::Str),
    ("search", QueryType::Str),
    ("username", QueryType::Str),
    ("name", QueryType::Str),
    ("email", QueryType::Str),
    ("is_active", QueryType::Str),
    ("is_superuser", QueryType::Str),
    ("path", QueryType::Str),
    ("include_groups", QueryType::Str),
    ("include_roles", QueryType::Str),
];
