//! `/if/admin/roles/`: the roles (search by name, a new-role form), and one role's page: who
//! holds it (its users paged from the `(role_id, user_id)` index, the groups bounded), its global
//! and per-object permissions, forms to assign and unassign permissions (globally or on one
//! object, named as the RBAC API names them), to give the role to a user or take it away, and to
//! delete the role after a confirmation. Each action asks `authz` with the RBAC API's action and
//! calls the same domain operation.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::{Map, Value};

use super::error::ConsoleError;
use super::form::{errors_of, input, other_errors, Fields};
use super::layout::{self, pager, pager_of, pages_of, Paging, Section, VIEW_ROLE, VIEW_USER};
use super::members::{page_of, users_by_id, users_table, RemoveButton, COUNT_CAP};
use super::session::{csrf_field, Posted, Signed};
use crate::api::authentik::rbac::read_role_name;
use crate::api::authentik::users::visible_users;
use crate::api::body::JsonBody;
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::domain::authz::{authorize, may_see, visibility, Action, Visibility};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::permissions::CATALOGUE;
use crate::domain::roles::{self, Role, RoleField, RoleSort};
use crate::domain::users::UserField;
use crate::domain::{DomainError, FieldErrors};

/// Rows per page (the users table's size).
const PAGE_SIZE: i64 = super::users::PAGE_SIZE;
/// Most groups holding a role listed on its page.
const MAX_GROUPS: i64 = 100;

/// `GET /if/admin/roles/?q=&page=`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let q = Fields::query(query.as_deref());
    list_page(
        &state,
        &signed,
        &q,
        &Fields::default(),
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn list_page(
    state: &AppState,
    signed: &Signed,
    q: &Fields,
    sent: &Fields,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let mut parts = vec![match visibility(&signed.principal, VIEW_ROLE) {
        Visibility::Nothing => return Err(ConsoleError::Forbidden),
        Visibility::All => Filter::All,
        Visibility::Only(pks) => Filter::In(
            RoleField::Uuid,
            pks.into_iter().map(Literal::Text).collect(),
        ),
    }];
    let search = q.text("q").unwrap_or_default();
    if !search.is_empty() {
        parts.push(Filter::IContains(RoleField::Name, search.to_string()));
    }
    let filter = Filter::and(parts);
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
    let may_add = authorize(&signed.principal, Action::AddRole).is_ok();
    let body = html! {
        h1 { "Roles" }
        form.filters method="get" action="/if/admin/roles/" role="search" {
            div { label for="f-q" { "Search" } input id="f-q" type="search" name="q" value=(search) placeholder="Role name"; }
            div { button type="submit" { "Filter" } }
        }
        table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Managed" } } }
            tbody {
                @for r in &rows {
                    tr {
                        td { a href={ "/if/admin/roles/" (r.uuid) "/" } { (r.name) } }
                        td { (r.managed.clone().unwrap_or_default()) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="2" { "No roles match." } } }
            }
        }
        (pager("/if/admin/roles/", &[("q", search)], page, pages, count))
        @if may_add {
            h2 { "New role" }
            (other_errors(errors, &["name"]))
            form.row method="post" action="/if/admin/roles/" {
                (csrf_field(signed))
                (input("Role name", "name", "text", sent.get("name").unwrap_or_default(), errors, true))
                div { button type="submit" { "Create role" } }
            }
        }
    };
    let mut r = layout::page(signed, Section::Roles, "Roles", q.get("done"), body);
    *r.status_mut() = status;
    Ok(r)
}

/// `POST /if/admin/roles/` (`name`): creates a role, read by the RBAC API's reader.
pub async fn create(
    State(state): State<Arc<AppState>>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    authorize(posted.principal(), Action::AddRole)?;
    let mut obj = Map::new();
    obj.insert(
        "name".into(),
        Value::String(posted.fields.get("name").unwrap_or_default().to_string()),
    );
    let audit = posted.meta.audit(Some(posted.principal()));
    let outcome = match read_role_name(JsonBody(Value::Object(obj)), true) {
        Ok(Some(name)) => roles::create(&state.store, &name, &audit).await,
        Ok(None) => Err(DomainError::Invalid(FieldErrors::single(
            "name",
            "This field is required.",
        ))),
        Err(ApiError::Domain(e)) => Err(e),
        Err(_) => {
            return Err(ConsoleError::BadRequest(
                "The form could not be read.".into(),
            ))
        }
    };
    match outcome {
        Ok(role) => Ok(
            Redirect::to(&format!("/if/admin/roles/{}/?done=created", role.uuid)).into_response(),
        ),
        Err(DomainError::Invalid(errors)) => {
            list_page(
                &state,
                &posted.signed,
                &Fields::default(),
                &posted.fields,
                &errors,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
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
        &q,
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    role: &Role,
    q: &Fields,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let p = &signed.principal;
    let users_seen = visibility(p, VIEW_USER) != Visibility::Nothing;
    let store = &state.store;
    let holders = page_of(q.page(), PAGE_SIZE, |offset| {
        roles::user_holders_page(store, role, PAGE_SIZE, offset, COUNT_CAP)
    })
    .await?;
    let holder_users = if users_seen {
        users_by_id(state, signed, &holders.ids).await?
    } else {
        Vec::new()
    };
    let holder_groups = roles::group_holders(&state.store, role, MAX_GROUPS).await?;
    let may_delete = authorize(p, Action::DeleteRole(role.uuid.clone())).is_ok();
    let path = format!("/if/admin/roles/{}/", role.uuid);
    let users_action = format!("{path}users/");
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
        h2 id="users" { "Users holding this role" }
        @if users_seen {
            (users_table(signed, &holder_users, may_change.then_some(RemoveButton { action: &users_action, words: "Take the role from" }), "No user holds this role directly."))
            (pager_of(&Paging { path: &path, filters: &[], param: "page", anchor: "#users", label: "Pages of users holding this role" }, holders.page, holders.pages, &holders.total))
        } @else {
            p.muted { (holders.total) " users hold this role directly." }
        }
        @if may_change {
            form.row method="post" action=(users_action) {
                (csrf_field(signed))
                input type="hidden" name="op" value="add";
                (input("Username", "username", "text", "", errors, true))
                div { button type="submit" { "Give the role to this user" } }
            }
        }
        h2 { "Groups holding this role" }
        ul {
            @for (uuid, name) in &holder_groups { li { a href={ "/if/admin/groups/" (uuid) "/" } { (name) } } }
            @if holder_groups.is_empty() { li { "No group holds this role." } }
        }
        @if i64::try_from(holder_groups.len()).unwrap_or(0) == MAX_GROUPS { p.muted { "The first " (MAX_GROUPS) " groups, by name." } }
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
                (input("Object (optional: its pk; a user's id, or a group's, role's or token's uuid)", "object_pk", "text", "", errors, false))
                (errors_of(errors, "non_field_errors"))
                p { button type="submit" { "Assign permission" } }
            }
        }
        @if may_delete {
            h2 { "Delete" }
            p { a.button.secondary href={ (path) "delete/" } { "Delete role" } }
        }
    };
    let mut r = layout::page(signed, Section::Roles, &role.name, q.get("done"), body);
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
                    &Fields::default(),
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
            &Fields::default(),
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

/// `GET /if/admin/roles/{uuid}/delete/`: asks for confirmation.
pub async fn confirm_delete(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(uuid): Path<String>,
) -> Result<Response, ConsoleError> {
    let role = visible_role(&state, &signed, &uuid).await?;
    authorize(&signed.principal, Action::DeleteRole(role.uuid.clone()))?;
    let path = format!("/if/admin/roles/{}/", role.uuid);
    let body = html! {
        h1 { "Delete role " (role.name) "?" }
        p {
            "This deletes the role and its permissions; the users and groups holding it lose what "
            "it granted. It cannot be undone."
        }
        form method="post" action={ (path) "delete/" } {
            (csrf_field(&signed))
            button.danger type="submit" { "Delete role " (role.name) }
            " "
            a href=(path) { "Cancel" }
        }
    };
    Ok(layout::page(
        &signed,
        Section::Roles,
        "Delete role",
        None,
        body,
    ))
}

/// `POST /if/admin/roles/{uuid}/delete/`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let role = visible_role(&state, &posted.signed, &uuid).await?;
    authorize(posted.principal(), Action::DeleteRole(role.uuid.clone()))?;
    let audit = posted.meta.audit(Some(posted.principal()));
    roles::delete(&state.store, &role.uuid, &audit).await?;
    Ok(Redirect::to("/if/admin/roles/?done=deleted").into_response())
}
