//! `/if/admin/roles/`: the roles, and one role's page: who holds it (users and groups), its
//! global and per-object permissions, and forms to assign and unassign permissions (globally
//! or on one object, named as the RBAC API names them) and to give the role to a user.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::error::ConsoleError;
use super::form::{errors_of, input, other_errors, Fields};
use super::layout::{self, pager, pages_of, Section, VIEW_ROLE, VIEW_USER};
use super::session::{csrf_field, Posted, Signed};
use crate::api::authentik::users::visible_users;
use crate::app::AppState;
use crate::domain::authz::{authorize, may_see, visibility, Action, Visibility};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::permissions::CATALOGUE;
use crate::domain::roles::{self, Role, RoleField, RoleSort};
use crate::domain::users::UserField;
use crate::domain::{DomainError, FieldErrors};

/// Rows per page.
const PAGE_SIZE: i64 = 50;

/// `GET /if/admin/roles/?page=`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let filter = match visibility(&signed.principal, VIEW_ROLE) {
        Visibility::Nothing => return Err(ConsoleError::Forbidden),
        Visibility::All => Filter::All,
        Visibility::Only(pks) => Filter::In(
            RoleField::Uuid,
            pks.into_iter().map(Literal::Text).collect(),
        ),
    };
    let q = Fields::query(query.as_deref());
    let count = roles::count(&state.store, &filter).await?;
    let pages = pages_of(count, PAGE_SIZE);
    let page = q.page().min(pages);
    let sort = [(RoleSort::Field(RoleField::Name), Direction::Asc)];
    let rows = roles::list(
        &state.store,
        &filter,
        &sort,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
    .await?;
    let body = html! {
        h1 { "Roles" }
        table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Managed" } } }
            tbody {
                @for r in &rows {
                    tr {
                        td { a href={ "/if/admin/roles/" (r.uuid) "/" } { (r.name) } }
                        td { (r.managed.clone().unwrap_or_default()) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="2" { "No roles." } } }
            }
        }
        (pager("/if/admin/roles/", &[], page, pages, count))
    };
    Ok(layout::page(
        &signed,
        Section::Roles,
        "Roles",
        q.get("done"),
        body,
    ))
}

async fn visible_role(state: &AppState, signed: &Signed, uuid: &str) -> Result<Role, ConsoleError> {
    let uuid = uuid::Uuid::parse_str(uuid)
        .map_err(|_| ConsoleError::NotFound("Role"))?
        .to_string();
    may_see(&signed.principal, VIEW_ROLE, &uuid)?;
    Ok(roles::get(&state.store, &uuid).await?)
}

/// `GET /if/admin/roles/{uuid}/`.
pub async fn detail(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(uuid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let role = visible_role(&state, &signed, &uuid).await?;
    let q = Fields::query(query.as_deref());
    render(
        &state,
        &signed,
        &role,
        q.get("done"),
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    role: &Role,
    done: Option<&str>,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let p = &signed.principal;
    let holders = roles::holders(&state.store, role).await?;
    let global = roles::model_grants(&state.store, &[role.id]).await?;
    let object = roles::object_grants(&state.store, Some(&[role.id])).await?;
    let may_assign = authorize(p, Action::AssignRolePermissions(role.uuid.clone())).is_ok();
    let may_unassign = authorize(p, Action::UnassignRolePermissions(role.uuid.clone())).is_ok();
    let may_change = authorize(p, Action::ChangeRole(role.uuid.clone())).is_ok();
    let perms = format!("/if/admin/roles/{}/permissions/", role.uuid);
    let unassign = |dotted: String, model: Option<String>, pk: Option<String>| {
        html! {
            @if may_unassign {
                form.inline method="post" action=(perms) {
                    (csrf_field(signed))
                    input type="hidden" name="op" value="unassign";
                    input type="hidden" name="permission" value=(dotted);
                    @if let Some(m) = model { input type="hidden" name="model" value=(m); }
                    @if let Some(o) = pk { input type="hidden" name="object_pk" value=(o); }
                    button.link type="submit" { "Unassign " (dotted) }
                }
            }
        }
    };
    let body = html! {
        h1 { "Role " (role.name) }
        h2 { "Held by" }
        table {
            thead { tr { th scope="col" { "Kind" } th scope="col" { "Name" } } }
            tbody {
                @for (kind, pk, name) in &holders {
                    tr {
                        td { (kind) }
                        td { @if kind == "user" { a href={ "/if/admin/users/" (pk) "/" } { (name) } } @else { a href={ "/if/admin/groups/" (pk) "/" } { (name) } } }
                    }
                }
                @if holders.is_empty() { tr { td colspan="2" { "Nobody holds this role directly." } } }
            }
        }
        @if may_change {
            form.row method="post" action={ "/if/admin/roles/" (role.uuid) "/users/" } {
                (csrf_field(signed))
                input type="hidden" name="op" value="add";
                (input("Username", "username", "text", "", errors, true))
                div { button type="submit" { "Give to user" } }
            }
        }
        h2 { "Global permissions" }
        table {
            thead { tr { th scope="col" { "Permission" } th scope="col" { "Name" } th scope="col" { span.skip { "Actions" } } } }
            tbody {
                @for (_, _, perm) in &global {
                    tr { td { (perm.dotted()) } td { (perm.name) } td { (unassign(perm.dotted(), None, None)) } }
                }
                @if global.is_empty() { tr { td colspan="3" { "None." } } }
            }
        }
        h2 { "Object permissions" }
        table {
            thead { tr { th scope="col" { "Permission" } th scope="col" { "Object" } th scope="col" { span.skip { "Actions" } } } }
            tbody {
                @for (_, _, perm, pk) in &object {
                    tr { td { (perm.dotted()) } td { (perm.model_key()) " " (pk) } td { (unassign(perm.dotted(), Some(perm.model_key()), Some(pk.clone()))) } }
                }
                @if object.is_empty() { tr { td colspan="3" { "None." } } }
            }
        }
        @if may_assign {
            h2 { "Assign a permission" }
            (other_errors(errors, &["permissions", "object_pk", "non_field_errors", "username"]))
            form method="post" action=(perms) {
                (csrf_field(signed))
                input type="hidden" name="op" value="assign";
                div.field {
                    label for="f-permission" { "Permission" }
                    select id="f-permission" name="permission" {
                        @for perm in CATALOGUE { option value=(perm.dotted()) { (perm.dotted()) " — " (perm.name) } }
                    }
                    (errors_of(errors, "permissions"))
                }
                div.field {
                    label for="f-object" { "Object (optional: its pk; a user's id, or a group's, role's or token's uuid)" }
                    input id="f-object" type="text" name="object_pk";
                    (errors_of(errors, "object_pk"))
                    (errors_of(errors, "non_field_errors"))
                }
                p { button type="submit" { "Assign" } }
            }
        }
    };
    let mut r = layout::page(signed, Section::Roles, &role.name, done, body);
    *r.status_mut() = status;
    Ok(r)
}

/// `POST /if/admin/roles/{uuid}/permissions/` (`op` = assign|unassign, `permission` dotted,
/// optional `object_pk`): the RBAC API's assign/unassign, through the same domain checks.
pub async fn permissions(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let role = visible_role(&state, &posted.signed, &uuid).await?;
    let assign = posted.fields.get("op") != Some("unassign");
    let action = if assign {
        Action::AssignRolePermissions(role.uuid.clone())
    } else {
        Action::UnassignRolePermissions(role.uuid.clone())
    };
    authorize(posted.principal(), action)?;
    let name = posted
        .fields
        .text("permission")
        .unwrap_or_default()
        .to_string();
    let object_pk = posted.fields.text("object_pk");
    // A per-object grant names the permission's model, as the RBAC API's `model` field does.
    let model =
        object_pk.and_then(|_| crate::domain::permissions::by_dotted(&name).map(|p| p.model_key()));
    let target =
        match roles::resolve_target(&state.store, &[name], model.as_deref(), object_pk).await {
            Ok(t) => t,
            Err(DomainError::Invalid(errors)) => {
                return render(
                    &state,
                    &posted.signed,
                    &role,
                    None,
                    &errors,
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            Err(e) => return Err(e.into()),
        };
    let audit = posted.meta.audit(Some(posted.principal()));
    if assign {
        roles::assign(&state.store, &role, &target, &audit).await?;
    } else {
        roles::unassign(&state.store, &role, &target, &audit).await?;
    }
    let done = if assign { "assigned" } else { "unassigned" };
    Ok(Redirect::to(&format!("/if/admin/roles/{}/?done={done}", role.uuid)).into_response())
}

/// `POST /if/admin/roles/{uuid}/users/` (`op` = add|remove, `username`).
pub async fn users(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let role = visible_role(&state, &posted.signed, &uuid).await?;
    authorize(posted.principal(), Action::ChangeRole(role.uuid.clone()))?;
    let username = posted
        .fields
        .text("username")
        .unwrap_or_default()
        .to_string();
    let by_name = Filter::and(vec![
        visible_users(visibility(posted.principal(), VIEW_USER)),
        Filter::Compare(
            UserField::Username,
            Cmp::Eq,
            Literal::Text(username.clone()),
        ),
    ]);
    let Some(user) = state.directory.list_users(&by_name, &[], 1, 0).await?.pop() else {
        let mut errors = FieldErrors::new();
        errors.add("username", format!("No user is named “{username}”."));
        return render(
            &state,
            &posted.signed,
            &role,
            None,
            &errors,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let add = posted.fields.get("op") != Some("remove");
    roles::set_user(&state.store, &role.uuid, user.id, add).await?;
    let done = if add { "role-added" } else { "role-removed" };
    Ok(Redirect::to(&format!("/if/admin/roles/{}/?done={done}", role.uuid)).into_response())
}
