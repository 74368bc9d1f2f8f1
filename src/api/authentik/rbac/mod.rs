//! `/api/v3/rbac/`: roles (CRUD, members, used_by) and permissions (catalogue, assignment to
//! roles globally or on one object, what roles hold). Deviation 10: unknown permissions and
//! missing or malformed objects are 400s naming the problem, never a crash or a global grant.

mod grants;
mod permissions;
mod render;
mod roles;

use crate::api::authentik::error::finish as authentik_finish;
use std::sync::Arc;

use super::openapi::schemas::{
    free_object, integer, list_of, named, nullable_string, object_of, string, used_by_schema,
};
use super::openapi::{requests, Answer, QueryType, Spec, LIST_QUERY};
use super::options;
use crate::api::routing::{Route, Routes};
use crate::app::AppState;
use crate::domain::permissions::MODEL_CHOICES;

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
pub fn routes() -> Routes<Arc<AppState>> {
    Routes::new(authentik_finish)
        .route(
            "/rbac/roles/",
            Route::new()
                .get(list_roles)
                .post(create_role)
                .options(options),
        )
        .route(
            "/rbac/roles/{uuid}/",
            Route::new()
                .get(retrieve_role)
                .put(write_role)
                .patch(write_role)
                .delete(destroy_role)
                .options(options),
        )
        .route(
            "/rbac/roles/{uuid}/used_by/",
            Route::new().get(role_used_by).options(options),
        )
        .route(
            "/rbac/roles/{uuid}/add_user/",
            Route::new().post(role_add_user).options(options),
        )
        .route(
            "/rbac/roles/{uuid}/remove_user/",
            Route::new().post(role_remove_user).options(options),
        )
        .route(
            "/rbac/permissions/",
            Route::new().get(list_permissions).options(options),
        )
        .route(
            "/rbac/permissions/roles/",
            Route::new().get(role_object_grants).options(options),
        )
        .route(
            "/rbac/permissions/assigned_by_roles/",
            Route::new().get(assigned_by_roles).options(options),
        )
        .route(
            "/rbac/permissions/assigned_by_roles/{uuid}/assign/",
            Route::new().post(assign).options(options),
        )
        .route(
            "/rbac/permissions/assigned_by_roles/{uuid}/unassign/",
            Route::new().patch(unassign).options(options),
        )
        .route(
            "/rbac/permissions/{id}/",
            Route::new().get(retrieve_permission).options(options),
        )
}

/// The RBAC routes' operations, for the OpenAPI document (`api::authentik::openapi`).
pub(crate) fn operations(spec: &mut Spec) {
    let role = spec.schema::<render::RoleOut>();
    let body = spec.schema::<requests::RoleRequest>();
    let patched = spec.patched::<requests::RoleRequest>();
    spec.get(
        "/rbac/roles/",
        Answer::Page(role.clone()),
        LIST_QUERY,
        "Roles",
    );
    spec.post(
        "/rbac/roles/",
        Some(body.clone()),
        201,
        Answer::One(role.clone()),
        "Create a role",
    );
    spec.get(
        "/rbac/roles/{uuid}/",
        Answer::One(role.clone()),
        &[],
        "A role",
    );
    spec.put_patch("/rbac/roles/{uuid}/", body, patched, role, "Change a role");
    spec.delete("/rbac/roles/{uuid}/", "Delete a role");
    let used_by = used_by_schema(spec);
    spec.get(
        "/rbac/roles/{uuid}/used_by/",
        Answer::List(used_by),
        &[],
        "What would be deleted with the role",
    );
    let account = spec.schema::<requests::UserAccountRequest>();
    spec.post(
        "/rbac/roles/{uuid}/add_user/",
        Some(account.clone()),
        204,
        Answer::Empty,
        "Give a user a role",
    );
    spec.post(
        "/rbac/roles/{uuid}/remove_user/",
        Some(account),
        204,
        Answer::Empty,
        "Take a role from a user",
    );
    let permission = spec.schema::<render::PermissionOut>();
    spec.get(
        "/rbac/permissions/",
        Answer::Page(permission.clone()),
        LIST_QUERY,
        "The permission catalogue",
    );
    spec.get(
        "/rbac/permissions/{id}/",
        Answer::One(permission),
        &[],
        "A permission",
    );
    let grant = object_of(&[
        ("id", integer()),
        ("codename", string()),
        ("model", string()),
        ("app_label", string()),
        ("object_pk", string()),
        ("name", string()),
        ("app_label_verbose", string()),
        ("model_verbose", string()),
        ("object_description", nullable_string()),
    ]);
    let grant = named(spec, "ExtraRoleObjectPermission", grant);
    spec.get(
        "/rbac/permissions/roles/",
        Answer::Page(grant),
        &[
            ("page", QueryType::Str),
            ("page_size", QueryType::Str),
            ("ordering", QueryType::Str),
            ("uuid", QueryType::Str),
        ],
        "A role's per-object grants",
    );
    let assigned = object_of(&[
        ("role_pk", string()),
        ("name", string()),
        ("object_permissions", list_of(free_object())),
        ("model_permissions", list_of(free_object())),
    ]);
    let assigned = named(spec, "RoleAssignedObjectPermission", assigned);
    spec.get(
        "/rbac/permissions/assigned_by_roles/",
        Answer::Page(assigned),
        &[
            ("page", QueryType::Str),
            ("page_size", QueryType::Str),
            ("ordering", QueryType::Str),
            ("model", QueryType::Choice(&MODEL_CHOICES)),
            ("object_pk", QueryType::Str),
        ],
        "The roles holding permissions on a model or object",
    );
    let assign = spec.schema::<requests::PermissionAssignRequest>();
    spec.post(
        "/rbac/permissions/assigned_by_roles/{uuid}/assign/",
        Some(assign.clone()),
        200,
        Answer::List(object_of(&[("id", string())])),
        "Grant permissions to a role",
    );
    spec.patch(
        "/rbac/permissions/assigned_by_roles/{uuid}/unassign/",
        assign,
        204,
        Answer::Empty,
        "Take permissions from a role",
    );
}
