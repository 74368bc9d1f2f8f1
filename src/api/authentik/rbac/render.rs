//! JSON shapes of the RBAC answers (role and permission bodies) and paging of in-memory lists.

use serde::Serialize;
use utoipa::ToSchema;

use crate::api::authentik::pagination::PageRequest;
use crate::api::error::ApiError;
use crate::api::query::Params;
use crate::domain::permissions::Permission;
use crate::domain::roles::Role;

#[derive(Serialize, ToSchema)]
#[schema(as = Role)]
pub(super) struct RoleOut<'a> {
    #[schema(format = Uuid)]
    pk: &'a str,
    name: &'a str,
}

pub(super) fn role_out(role: &Role) -> RoleOut<'_> {
    RoleOut {
        pk: &role.uuid,
        name: &role.name,
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = Permission)]
pub(super) struct PermissionOut {
    id: i64,
    name: &'static str,
    codename: &'static str,
    model: &'static str,
    app_label: &'static str,
    app_label_verbose: &'static str,
    model_verbose: &'static str,
}

pub(super) fn permission_out(p: &Permission) -> PermissionOut {
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

/// Pages an in-memory list (the catalogue is small).
pub(super) fn page_of<T>(
    params: &Params,
    mut items: Vec<T>,
) -> Result<(crate::api::authentik::pagination::Pagination, Vec<T>), ApiError> {
    let pagination = PageRequest::from_params(params).resolve(items.len() as i64)?;
    let start = (pagination.offset as usize).min(items.len());
    let end = (start + pagination.limit as usize).min(items.len());
    Ok((pagination, items.drain(start..end).collect()))
}
