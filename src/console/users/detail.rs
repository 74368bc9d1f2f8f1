//! One user's page (`/if/admin/users/{id}/`): facts, the edit form, activation, password,
//! direct groups and roles, tokens and audit events; and the actions its forms post to. Each
//! action asks `authz` with the same action the APIs ask, then calls one domain operation.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::super::error::ConsoleError;
use super::super::events::events_table;
use super::super::form::{input, other_errors, Fields};
use super::super::layout::{self, sees, Section, VIEW_EVENT, VIEW_GROUP, VIEW_ROLE, VIEW_USER};
use super::super::session::{csrf_field, Posted, Signed};
use super::{read_form, user_fields, UserForm};
use crate::app::AppState;
use crate::domain::authz::{authorize, may_see, visibility, Action, TokenRef, Visibility};
use crate::domain::events::{self, EventQuery};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::groups;
use crate::domain::roles::{self, RoleField};
use crate::domain::tokens::{self, TokenField, TokenSort};
use crate::domain::users::{self, User, UserChanges};
use crate::domain::{DomainError, FieldErrors};

fn parse_id(raw: &str) -> Result<i64, ConsoleError> {
    raw.parse::<i64>()
        .map_err(|_| ConsoleError::NotFound("User"))
}

/// The user `raw` names, when the caller may see it.
async fn visible_user(state: &AppState, signed: &Signed, raw: &str) -> Result<User, ConsoleError> {
    let id = parse_id(raw)?;
    may_see(&signed.principal, VIEW_USER, &id.to_string())?;
    Ok(state.directory.user(id).await?)
}

fn back(id: i64, done: &str) -> Response {
    Redirect::to(&format!("/if/admin/users/{id}/?done={done}")).into_response()
}

/// `GET /if/admin/users/{id}/`.
pub async fn detail(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let user = visible_user(&state, &signed, &id).await?;
    let q = Fields::query(query.as_deref());
    render(
        &state,
        &signed,
        &user,
        None,
        &FieldErrors::new(),
        q.get("done"),
        StatusCode::OK,
    )
    .await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    user: &User,
    sent: Option<&Fields>,
    errors: &FieldErrors,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let p = &signed.principal;
    let may_change = authorize(p, Action::ChangeUser(user.id)).is_ok();
    let may_delete = authorize(p, Action::DeleteUser(user.id)).is_ok();
    let may_password = authorize(p, Action::ResetUserPassword(user.id)).is_ok();
    let kind = user.user_type.as_str();
    let v = match sent {
        Some(f) => UserForm {
            username: f.get("username").unwrap_or_default(),
            name: f.get("name").unwrap_or_default(),
            email: f.get("email").unwrap_or_default(),
            path: f.get("path").unwrap_or_default(),
            kind: f.get("type").unwrap_or(kind),
            active: f.get("is_active").is_some(),
        },
        None => UserForm {
            username: &user.username,
            name: &user.name,
            email: &user.email,
            path: &user.path,
            kind,
            active: user.is_active,
        },
    };
    let owned = Filter::Compare(TokenField::UserId, Cmp::Eq, Literal::Int(user.id));
    let sort = [(TokenSort::Field(TokenField::Identifier), Direction::Asc)];
    let user_tokens: Vec<_> = tokens::list(&state.store, &owned, &sort, 100, 0)
        .await?
        .into_iter()
        .filter(|t| {
            let r = TokenRef {
                owner: user.id,
                uuid: t.uuid.clone(),
            };
            authorize(p, Action::ViewToken(r)).is_ok()
        })
        .collect();
    let user_events = if visibility(p, VIEW_EVENT) == Visibility::All {
        let q = EventQuery {
            model_name: Some("user".into()),
            model_pk: Some(user.id.to_string()),
            ..EventQuery::default()
        };
        Some(events::page(&state.store, &q, &[], 20, 0).await?)
    } else {
        None
    };
    let action = format!("/if/admin/users/{}/", user.id);
    let body = html! {
        h1 { "User " (user.username) }
        dl.facts {
            dt { "ID" } dd { (user.id) }
            dt { "UUID" } dd { (user.uuid) }
            dt { "Superuser" } dd { @if user.is_superuser { "Yes" } @else { "No" } }
            dt { "Active" } dd { @if user.is_active { "Yes" } @else { "No" } }
            dt { "Password" } dd { @if user.has_password { "Set" } @else { "Not usable" } }
            dt { "Joined" } dd { (layout::when(user.date_joined)) }
            dt { "Last login" } dd { @match user.last_login { Some(t) => (layout::when(t)), None => "Never" } }
        }
        @if may_change {
            h2 { "Edit" }
            (other_errors(errors, &["username", "name", "email", "path", "type", "password", "is_active"]))
            form method="post" action=(action) {
                (csrf_field(signed))
                (user_fields(&v, errors, false))
                p { button type="submit" { "Save changes" } }
            }
            form method="post" action={ (action) "active/" } {
                (csrf_field(signed))
                @if user.is_active {
                    input type="hidden" name="active" value="no";
                    button.danger type="submit" { "Deactivate user" }
                } @else {
                    input type="hidden" name="active" value="yes";
                    button type="submit" { "Activate user" }
                }
            }
        }
        @if may_password {
            h2 { "Set password" }
            form.row method="post" action={ (action) "password/" } {
                (csrf_field(signed))
                (input("Password", "password", "password", "", errors, true))
                div { button type="submit" { "Set password" } }
            }
        }
        h2 { "Groups" }
        table {
            thead { tr { th scope="col" { "Group" } th scope="col" { "Superuser" } th scope="col" { span.skip { "Actions" } } } }
            tbody {
                @for g in &user.groups {
                    tr {
                        td { @if sees(p, VIEW_GROUP) { a href={ "/if/admin/groups/" (g.uuid) "/" } { (g.name) } } @else { (g.name) } }
                        td { @if g.is_superuser { "Yes" } @else { "No" } }
                        td { @if authorize(p, Action::RemoveUserFromGroup(g.uuid.clone())).is_ok() {
                            form.inline method="post" action={ (action) "groups/" } {
                                (csrf_field(signed))
                                input type="hidden" name="group" value=(g.name);
                                input type="hidden" name="op" value="remove";
                                button.link type="submit" { "Remove from " (g.name) }
                            }
                        } }
                    }
                }
                @if user.groups.is_empty() { tr { td colspan="3" { "No direct groups." } } }
            }
        }
        @if sees(p, VIEW_GROUP) {
            form.row method="post" action={ (action) "groups/" } {
                (csrf_field(signed))
                input type="hidden" name="op" value="add";
                (input("Group name", "group", "text", "", errors, true))
                div { button type="submit" { "Add to group" } }
            }
        }
        h2 { "Roles" }
        table {
            thead { tr { th scope="col" { "Role" } th scope="col" { span.skip { "Actions" } } } }
            tbody {
                @for r in &user.roles {
                    tr {
                        td { @if sees(p, VIEW_ROLE) { a href={ "/if/admin/roles/" (r.uuid) "/" } { (r.name) } } @else { (r.name) } }
                        td { @if authorize(p, Action::ChangeRole(r.uuid.clone())).is_ok() {
                            form.inline method="post" action={ (action) "roles/" } {
                                (csrf_field(signed))
                                input type="hidden" name="role" value=(r.name);
                                input type="hidden" name="op" value="remove";
                                button.link type="submit" { "Take away " (r.name) }
                            }
                        } }
                    }
                }
                @if user.roles.is_empty() { tr { td colspan="2" { "No direct roles." } } }
            }
        }
        @if sees(p, VIEW_ROLE) {
            form.row method="post" action={ (action) "roles/" } {
                (csrf_field(signed))
                input type="hidden" name="op" value="add";
                (input("Role name", "role", "text", "", errors, true))
                div { button type="submit" { "Give role" } }
            }
        }
        h2 { "Tokens" }
        table {
            thead { tr { th scope="col" { "Identifier" } th scope="col" { "Intent" } th scope="col" { "Expires" } } }
            tbody {
                @for t in &user_tokens {
                    tr {
                        td { (t.identifier) }
                        td { (t.intent) }
                        td { @match (t.expiring, t.expires) { (true, Some(e)) => (layout::when(e)), _ => "Never" } }
                    }
                }
                @if user_tokens.is_empty() { tr { td colspan="3" { "No tokens." } } }
            }
        }
        @if let Some(list) = &user_events {
            h2 { "Audit events" }
            (events_table(list))
            p { a href={ "/if/admin/events/?model=user&model_pk=" (user.id) } { "All events of this user" } }
        }
        @if may_delete {
            h2 { "Delete" }
            p { a.button.secondary href={ (action) "delete/" } { "Delete user" } }
        }
    };
    let mut r = layout::page(signed, Section::Users, &user.username, done, body);
    *r.status_mut() = status;
    Ok(r)
}

/// `POST /if/admin/users/{id}/`: saves the edit form.
pub async fn save(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let user = visible_user(&state, &posted.signed, &id).await?;
    authorize(posted.principal(), Action::ChangeUser(user.id))?;
    let (changes, errors) = read_form(&posted.fields, false)?;
    let audit = posted.meta.audit(Some(posted.principal()));
    match users::update(&state.store, user.id, changes, errors, &audit).await {
        Ok(_) => Ok(back(user.id, "saved")),
        Err(DomainError::Invalid(errors)) => {
            render(
                &state,
                &posted.signed,
                &user,
                Some(&posted.fields),
                &errors,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /if/admin/users/{id}/active/`: activates or deactivates.
pub async fn set_active(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let user = visible_user(&state, &posted.signed, &id).await?;
    authorize(posted.principal(), Action::ChangeUser(user.id))?;
    let active = posted.fields.get("active") == Some("yes");
    let changes = UserChanges {
        is_active: Some(active),
        ..UserChanges::default()
    };
    let audit = posted.meta.audit(Some(posted.principal()));
    users::update(&state.store, user.id, changes, FieldErrors::new(), &audit).await?;
    Ok(back(
        user.id,
        if active { "activated" } else { "deactivated" },
    ))
}

/// `GET /if/admin/users/{id}/delete/`: asks for confirmation.
pub async fn confirm_delete(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let user = visible_user(&state, &signed, &id).await?;
    authorize(&signed.principal, Action::DeleteUser(user.id))?;
    let body = html! {
        h1 { "Delete user " (user.username) "?" }
        p { "This deletes the user, its tokens and its memberships. It cannot be undone." }
        form method="post" action={ "/if/admin/users/" (user.id) "/delete/" } {
            (csrf_field(&signed))
            button.danger type="submit" { "Delete user " (user.username) }
            " "
            a href={ "/if/admin/users/" (user.id) "/" } { "Cancel" }
        }
    };
    Ok(layout::page(
        &signed,
        Section::Users,
        "Delete user",
        None,
        body,
    ))
}

/// `POST /if/admin/users/{id}/delete/`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let user = visible_user(&state, &posted.signed, &id).await?;
    authorize(posted.principal(), Action::DeleteUser(user.id))?;
    let audit = posted.meta.audit(Some(posted.principal()));
    users::delete(&state.store, user.id, &audit).await?;
    Ok(Redirect::to("/if/admin/users/?done=deleted").into_response())
}

/// `POST /if/admin/users/{id}/password/`.
pub async fn set_password(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let user = visible_user(&state, &posted.signed, &id).await?;
    authorize(posted.principal(), Action::ResetUserPassword(user.id))?;
    let password = posted.fields.get("password").unwrap_or_default();
    if password.trim().is_empty() {
        let mut errors = FieldErrors::new();
        errors.add_code("password", "blank", "This field may not be blank.");
        return render(
            &state,
            &posted.signed,
            &user,
            None,
            &errors,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let audit = posted.meta.audit(Some(posted.principal()));
    users::set_password(&state.store, user.id, password.to_string(), &audit).await?;
    Ok(back(user.id, "password"))
}

/// `POST /if/admin/users/{id}/groups/` (`op` = add|remove, `group` = its name).
pub async fn groups(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let user = visible_user(&state, &posted.signed, &id).await?;
    let name = posted.fields.text("group").unwrap_or_default().to_string();
    // By name only: the group's members (maybe many) are not read.
    let group_uuid = match groups::uuid_by_name(&state.store, &name).await {
        Ok(uuid) => Some(uuid),
        Err(DomainError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let Some(group_uuid) = group_uuid else {
        let mut errors = FieldErrors::new();
        errors.add("group", format!("No group is named “{name}”."));
        return render(
            &state,
            &posted.signed,
            &user,
            None,
            &errors,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    may_see(posted.principal(), VIEW_GROUP, &group_uuid)?;
    let add = posted.fields.get("op") != Some("remove");
    let action = if add {
        Action::AddUserToGroup(group_uuid.clone())
    } else {
        Action::RemoveUserFromGroup(group_uuid.clone())
    };
    authorize(posted.principal(), action)?;
    let audit = posted.meta.audit(Some(posted.principal()));
    groups::set_membership(&state.store, &group_uuid, user.id, add, &audit).await?;
    Ok(back(
        user.id,
        if add { "group-added" } else { "group-removed" },
    ))
}

/// `POST /if/admin/users/{id}/roles/` (`op` = add|remove, `role` = its name).
pub async fn roles(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let user = visible_user(&state, &posted.signed, &id).await?;
    let name = posted.fields.text("role").unwrap_or_default().to_string();
    let by_name = Filter::Compare(RoleField::Name, Cmp::Eq, Literal::Text(name.clone()));
    let Some(role) = roles::list(&state.store, &by_name, &[], 1, 0).await?.pop() else {
        let mut errors = FieldErrors::new();
        errors.add("role", format!("No role is named “{name}”."));
        return render(
            &state,
            &posted.signed,
            &user,
            None,
            &errors,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    may_see(posted.principal(), VIEW_ROLE, &role.uuid)?;
    authorize(posted.principal(), Action::ChangeRole(role.uuid.clone()))?;
    let add = posted.fields.get("op") != Some("remove");
    roles::set_user(&state.store, &role.uuid, user.id, add).await?;
    Ok(back(
        user.id,
        if add { "role-added" } else { "role-removed" },
    ))
}
