//! `/api/v3/rbac/`: roles (CRUD, members, used_by) and permissions (catalogue, assignment to
//! roles globally or on one object, what roles hold). Deviation 10: unknown permissions and
//! missing or malformed objects are 400s naming the problem, never a crash or a global grant.

mod grants;
mod permissions;
mod render;
mod roles;

use crate::api::authentik::error::finish as authentik_finish;
use std::sync::Arc;

use axum::Router;

use super::options;
use crate::api::routing::Route;
use crate::app::AppState;

use grants::{assign, assigned_by_roles, role_object_grants, unassign};
use permissions::{list_permissions, retrieve_permission};
use roles::{
    create_role, destroy_role, list_roles, retrieve_role, role_add_user, role_remove_user,
    role_used_by, write_role,
};

pub(crate) use grants::read_grant_body;
pub(crate) use roles::read_role_name;

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
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/roles/{uuid}/",
            Route::new()
                .get(retrieve_role)
                .put(write_role)
                .patch(write_role)
                .delete(destroy_role)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/roles/{uuid}/used_by/",
            Route::new()
                .get(role_used_by)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/roles/{uuid}/add_user/",
            Route::new()
                .post(role_add_user)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/roles/{uuid}/remove_user/",
            Route::new()
                .post(role_remove_user)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/permissions/",
            Route::new()
                .get(list_permissions)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/permissions/roles/",
            Route::new()
                .get(role_object_grants)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/permissions/assigned_by_roles/",
            Route::new()
                .get(assigned_by_roles)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/permissions/assigned_by_roles/{uuid}/assign/",
            Route::new()
                .post(assign)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/permissions/assigned_by_roles/{uuid}/unassign/",
            Route::new()
                .patch(unassign)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
        .route(
            "/rbac/permissions/{id}/",
            Route::new()
                .get(retrieve_permission)
                .options(options)
                .allow_on_every_answer(authentik_finish),
        )
}
