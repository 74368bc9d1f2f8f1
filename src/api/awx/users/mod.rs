//! `/api/v2/users/`: AWX's user shape and rules over the same directory rows authentik's
//! dialect shows. `first_name`/`last_name` are columns of their own (and set `name`),
//! `is_superuser` is direct membership of the superuser group, `is_system_auditor` a built-in
//! role; permissions go through the one authorization function.

mod filters;
mod handlers;
mod metadata;
mod render;

pub(crate) use filters::{list_filter, ordering};
pub use filters::{MAX_FILTER_TERMS, MAX_FILTER_VALUES};
pub(crate) use handlers::read_changes;
pub use metadata::users_metadata_fields;
pub(crate) use render::{is_last_superuser, rendered};
pub use render::{AwxRendering, RenderedAwxUsers, RENDERED_AWX_USERS_CAPACITY};

use crate::api::awx::finish as awx_finish;
use std::sync::Arc;

use axum::{Extension, Router};

use super::AwxError;
use crate::api::routing::{Methods, Route};
use crate::app::AppState;
use crate::domain::authz::Principal;
use crate::domain::error::ObjectKind;
use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::users::{User, UserField, UserRel};
use crate::domain::DomainError;
use handlers::{create, destroy, list, retrieve, write};
use metadata::{detail_options, list_options};

/// The users list view's methods.
const LIST: Methods = Methods::LIST_CREATE;
/// The user detail view's methods.
const DETAIL: Methods = Methods::RETRIEVE_UPDATE_DESTROY;

/// The users routes, rendering from `cache` (shared with `me`).
pub fn routes(cache: Arc<RenderedAwxUsers>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v2/users/",
            Route::new()
                .get(list)
                .post(create)
                .options(list_options)
                .within(LIST, awx_finish),
        )
        .route(
            "/api/v2/users/{key}/",
            Route::new()
                .get(retrieve)
                .put(write)
                .patch(write)
                .delete(destroy)
                .options(detail_options)
                .within(DETAIL, awx_finish),
        )
        .layer(Extension(cache))
}

/// The user a URL segment names: a numeric id, or a username (AWX's named URL).
pub async fn resolve_user(state: &AppState, key: &str) -> Result<User, AwxError> {
    if let Ok(id) = key.parse::<i64>() {
        return Ok(state.directory.user(id).await?);
    }
    let filter = Filter::Compare(UserField::Username, Cmp::Eq, Literal::Text(key.to_string()));
    state
        .directory
        .list_users(&filter, &[], 1, 0)
        .await?
        .pop()
        .ok_or(AwxError(DomainError::NotFound(ObjectKind::User).into()))
}

/// Whether the caller may see a user in AWX's terms: every user with view permission
/// (superusers, system auditors), otherwise oneself and the superusers.
pub(crate) fn may_see(caller: &Principal, user: &User) -> bool {
    may_see_user(caller, user.id, user.is_superuser)
}

/// `may_see` of user `id` with this superuser status.
fn may_see_user(caller: &Principal, id: i64, is_superuser: bool) -> bool {
    is_superuser || sees_whatever_status(caller, id)
}

/// Whether the caller sees user `id` whether or not it is a superuser (itself, or by a view
/// permission): then the user's row need not be read to decide.
pub(crate) fn sees_whatever_status(caller: &Principal, id: i64) -> bool {
    id == caller.user_id
        || crate::domain::authz::may_see(caller, "authentik_core.view_user", &id.to_string())
            .is_ok()
}

/// The answer for a user the caller may not see (or that does not exist).
fn not_found() -> AwxError {
    AwxError(DomainError::NotFound(ObjectKind::User).into())
}

async fn superuser_count(state: &AppState) -> Result<i64, AwxError> {
    Ok(state
        .directory
        .count_users(&Filter::Rel(UserRel::EffectiveSuperuser(true)))
        .await?)
}
