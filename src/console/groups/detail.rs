//! One group's page (`/if/admin/groups/{uuid}/`): its facts, its parents (add and remove, the
//! hierarchy's rules and messages being the API's), its children, its direct members and its
//! effective members (the direct members of it and of every group below it), each list paged
//! from the membership index so a group of any size renders one page of each; and the actions
//! its forms post to, each asking `authz` with the action the REST API asks.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::super::error::ConsoleError;
use super::super::form::{errors_of, input, other_errors, Fields};
use super::super::layout::{self, pager_of, Paging, Section, VIEW_EVENT, VIEW_GROUP, VIEW_USER};
use super::super::members::{page_of, users_by_id, users_table, RemoveButton, COUNT_CAP};
use super::super::session::{csrf_field, Posted, Signed};
use super::{group_form, parent_uuid, PAGE_SIZE};
use crate::api::authentik::groups::check_superuser_flag;
use crate::api::authentik::users::visible_users;
use crate::app::AppState;
use crate::domain::authz::{authorize, may_see, visibility, Action, Visibility};
use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::groups::{self, Group, GroupChanges, MemberScope, RelatedGroup};
use crate::domain::users::UserField;
use crate::domain::{DomainError, FieldErrors};

/// Most parents or children listed by name on the page.
const MAX_RELATED: usize = 100;

/// The group `raw` names, when the caller may see it (without its members).
async fn visible_group(
    state: &AppState,
    signed: &Signed,
    raw: &str,
) -> Result<Group, ConsoleError> {
    let uuid = uuid::Uuid::parse_str(raw)
        .map_err(|_| ConsoleError::NotFound("Group"))?
        .to_string();
    may_see(&signed.principal, VIEW_GROUP, &uuid)?;
    Ok(groups::get_outline(&state.store, &uuid).await?)
}

fn base(group: &Group) -> String {
    format!("/if/admin/groups/{}/", group.uuid)
}

/// `GET /if/admin/groups/{uuid}/?page=&epage=`.
pub async fn detail(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(uuid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let group = visible_group(&state, &signed, &uuid).await?;
    let q = Fields::query(query.as_deref());
    render(
        &state,
        &signed,
        &group,
        &q,
        &Fields::default(),
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

/// One list of members: its page, rows and pager.
struct MemberList {
    rows: Vec<crate::domain::users::User>,
    pager: Markup,
}

async fn member_list(
    state: &AppState,
    signed: &Signed,
    group: &Group,
    scope: MemberScope,
    q: &Fields,
) -> Result<MemberList, ConsoleError> {
    let (param, other, anchor, label) = match scope {
        MemberScope::Direct => ("page", "epage", "#direct", "Pages of direct members"),
        MemberScope::Effective => ("epage", "page", "#effective", "Pages of effective members"),
    };
    let asked = q
        .text(param)
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let store = &state.store;
    let shown = page_of(asked, PAGE_SIZE, |offset| {
        groups::member_page(store, group, scope, PAGE_SIZE, offset, COUNT_CAP)
    })
    .await?;
    let rows = users_by_id(state, signed, &shown.ids).await?;
    let path = base(group);
    let kept = q.get(other).unwrap_or_default();
    let filters = [(other, kept)];
    let pager = pager_of(
        &Paging {
            path: &path,
            filters: &filters,
            param,
            anchor,
            label,
        },
        shown.page,
        shown.pages,
        &shown.total,
    );
    Ok(MemberList { rows, pager })
}

fn related_links(list: &[RelatedGroup]) -> Markup {
    html! {
        @if list.is_empty() { span.muted { "None" } }
        @for (i, r) in list.iter().take(MAX_RELATED).enumerate() {
            @if i > 0 { ", " }
            a href={ "/if/admin/groups/" (r.uuid) "/" } { (r.name) }
        }
        @if list.len() > MAX_RELATED { " … and " (list.len() - MAX_RELATED) " more" }
    }
}

async fn render(
    state: &AppState,
    signed: &Signed,
    group: &Group,
    q: &Fields,
    sent: &Fields,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let p = &signed.principal;
    let may_add = authorize(p, Action::AddUserToGroup(group.uuid.clone())).is_ok();
    let may_remove = authorize(p, Action::RemoveUserFromGroup(group.uuid.clone())).is_ok();
    let may_change = authorize(p, Action::ChangeGroup(group.uuid.clone())).is_ok();
    let may_delete = authorize(p, Action::DeleteGroup(group.uuid.clone())).is_ok();
    let users_seen = visibility(p, VIEW_USER) != Visibility::Nothing;
    let lists = if users_seen {
        Some((
            member_list(state, signed, group, MemberScope::Direct, q).await?,
            member_list(state, signed, group, MemberScope::Effective, q).await?,
        ))
    } else {
        None
    };
    let path = base(group);
    let members_action = format!("{path}members/");
    let parents_action = format!("{path}parents/");
    let edit_action = format!("{path}edit/");
    // The edit form shows what was sent when it was refused, else the group as it is.
    let edited = sent.get("op") == Some("edit");
    let name_value = if edited {
        sent.get("name").unwrap_or_default()
    } else {
        group.name.as_str()
    };
    let superuser_checked = if edited {
        sent.get("is_superuser").is_some()
    } else {
        group.is_superuser
    };
    let body = html! {
        h1 { "Group " (group.name) }
        dl.facts {
            dt { "UUID" } dd { (group.uuid) }
            dt { "Superuser" } dd { @if group.is_superuser { "Yes" } @else { "No" } }
            dt { "Children" } dd { (related_links(&group.children)) }
            dt { "Roles" } dd {
                @if group.roles.is_empty() { span.muted { "None" } }
                (group.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "))
            }
        }
        (other_errors(errors, &["name", "is_superuser", "parents", "username"]))
        @if may_change {
            h2 id="edit" { "Edit" }
            form method="post" action=(edit_action) {
                (csrf_field(signed))
                input type="hidden" name="op" value="edit";
                (input("Name", "name", "text", name_value, errors, true))
                div.field {
                    label.inline {
                        input type="checkbox" name="is_superuser" value="on" checked[superuser_checked];
                        "Superuser group (its members, and the members of every group below it, are superusers)"
                    }
                    (errors_of(errors, "is_superuser"))
                }
                p { button type="submit" { "Save changes" } }
            }
        }
        h2 id="parents" { "Parents" }
        table {
            thead { tr { th scope="col" { "Parent group" } th scope="col" { "Superuser" } th scope="col" { span.skip { "Actions" } } } }
            tbody {
                @for r in group.parents.iter().take(MAX_RELATED) {
                    tr {
                        td { a href={ "/if/admin/groups/" (r.uuid) "/" } { (r.name) } }
                        td { @if r.is_superuser { "Yes" } @else { "No" } }
                        td { @if may_change {
                            form.inline method="post" action=(parents_action) {
                                (csrf_field(signed))
                                input type="hidden" name="op" value="remove";
                                input type="hidden" name="parents" value=(r.uuid);
                                button.link type="submit" { "Remove parent " (r.name) }
                            }
                        } }
                    }
                }
                @if group.parents.is_empty() { tr { td colspan="3" { "No parents: this is a top-level group." } } }
            }
        }
        @if may_change {
            form.row method="post" action=(parents_action) {
                (csrf_field(signed))
                input type="hidden" name="op" value="add";
                (input("Parent group (name or UUID)", "parents", "text", sent.get("parents").unwrap_or_default(), errors, true))
                div { button type="submit" { "Add parent" } }
            }
        }
        @if let Some((direct, effective)) = &lists {
            h2 id="direct" { "Direct members" }
            (users_table(signed, &direct.rows, may_remove.then_some(RemoveButton { action: &members_action, words: "Remove" }), "No direct members."))
            (direct.pager)
            @if may_add {
                form.row method="post" action=(members_action) {
                    (csrf_field(signed))
                    input type="hidden" name="op" value="add";
                    (input("Username", "username", "text", sent.get("username").unwrap_or_default(), errors, true))
                    div { button type="submit" { "Add member" } }
                }
            }
            h2 id="effective" { "Effective members" }
            p.muted { "Members of this group and of every group below it." }
            (users_table(signed, &effective.rows, None, "No members."))
            (effective.pager)
        }
        @if visibility(p, VIEW_EVENT) == Visibility::All {
            p { a href={ "/if/admin/events/?model=group&model_pk=" (group.uuid.replace('-', "")) } { "Audit events of this group" } }
        }
        @if may_delete {
            h2 { "Delete" }
            p { a.button.secondary href={ (path) "delete/" } { "Delete group" } }
        }
    };
    let mut r = layout::page(signed, Section::Groups, &group.name, q.get("done"), body);
    *r.status_mut() = status;
    Ok(r)
}

/// `POST /if/admin/groups/{uuid}/members/` (`op` = add|remove, `username`).
pub async fn members(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let group = visible_group(&state, &posted.signed, &uuid).await?;
    let add = posted.fields.get("op") != Some("remove");
    let action = if add {
        Action::AddUserToGroup(group.uuid.clone())
    } else {
        Action::RemoveUserFromGroup(group.uuid.clone())
    };
    authorize(posted.principal(), action)?;
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
    let found = state.directory.list_users(&by_name, &[], 1, 0).await?.pop();
    let Some(user) = found else {
        let mut errors = FieldErrors::new();
        errors.add("username", format!("No user is named “{username}”."));
        return refused(&state, &posted, &group, &errors).await;
    };
    let audit = posted.meta.audit(Some(posted.principal()));
    groups::set_membership(&state.store, &group.uuid, user.id, add, &audit).await?;
    let done = if add {
        "member-added"
    } else {
        "member-removed"
    };
    Ok(Redirect::to(&format!("{}?done={done}", base(&group))).into_response())
}

/// `POST /if/admin/groups/{uuid}/parents/` (`op` = add|remove, `parents` = a group's name or
/// UUID): the REST API's update of `parents`, so a cycle, the group itself or an unknown group
/// get the API's message, next to the field.
pub async fn parents(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let group = visible_group(&state, &posted.signed, &uuid).await?;
    authorize(posted.principal(), Action::ChangeGroup(group.uuid.clone()))?;
    let add = posted.fields.get("op") != Some("remove");
    let raw = posted.fields.text("parents").unwrap_or_default();
    let mut errors = FieldErrors::new();
    let mut wanted: Vec<String> = group.parents.iter().map(|p| p.uuid.clone()).collect();
    if raw.is_empty() {
        errors.add_code("parents", "blank", "This field may not be blank.");
    } else if let Some(named) = parent_uuid(&state, raw, &mut errors).await? {
        if add {
            if !wanted.contains(&named) {
                wanted.push(named);
            }
        } else {
            wanted.retain(|p| *p != named);
        }
    }
    let changes = GroupChanges {
        parents: Some(wanted),
        ..GroupChanges::default()
    };
    let audit = posted.meta.audit(Some(posted.principal()));
    let outcome = if errors.is_empty() {
        groups::apply(&state.store, &group.uuid, changes, errors, &audit).await
    } else {
        Err(DomainError::Invalid(errors))
    };
    match outcome {
        Ok(()) => {
            let done = if add {
                "parent-added"
            } else {
                "parent-removed"
            };
            Ok(Redirect::to(&format!("{}?done={done}", base(&group))).into_response())
        }
        Err(DomainError::Invalid(errors)) => refused(&state, &posted, &group, &errors).await,
        Err(e) => Err(e.into()),
    }
}

/// `POST /if/admin/groups/{uuid}/edit/` (`name`, `is_superuser`): renames the group and sets its
/// superuser flag through the API's update, with its rules (the flag needs
/// `enable_group_superuser` / `disable_group_superuser`) and messages.
pub async fn edit(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let group = visible_group(&state, &posted.signed, &uuid).await?;
    let caller = posted.principal();
    authorize(caller, Action::ChangeGroup(group.uuid.clone()))?;
    let (changes, mut errors) = group_form(&posted.fields, false)?;
    check_superuser_flag(caller, &changes, Some(&group), &mut errors);
    let audit = posted.meta.audit(Some(caller));
    match groups::apply(&state.store, &group.uuid, changes, errors, &audit).await {
        Ok(()) => Ok(Redirect::to(&format!("{}?done=saved", base(&group))).into_response()),
        Err(DomainError::Invalid(errors)) => refused(&state, &posted, &group, &errors).await,
        Err(e) => Err(e.into()),
    }
}

/// The group's page again, with a refused form's fields and its errors next to them (400).
async fn refused(
    state: &AppState,
    posted: &Posted,
    group: &Group,
    errors: &FieldErrors,
) -> Result<Response, ConsoleError> {
    render(
        state,
        &posted.signed,
        group,
        &Fields::default(),
        &posted.fields,
        errors,
        StatusCode::BAD_REQUEST,
    )
    .await
}

/// `GET /if/admin/groups/{uuid}/delete/`: asks for confirmation.
pub async fn confirm_delete(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(uuid): Path<String>,
) -> Result<Response, ConsoleError> {
    let group = visible_group(&state, &signed, &uuid).await?;
    authorize(&signed.principal, Action::DeleteGroup(group.uuid.clone()))?;
    let path = base(&group);
    let body = html! {
        h1 { "Delete group " (group.name) "?" }
        p {
            "This deletes the group and its memberships; its members keep their accounts, and its "
            "child groups stay (without this parent). It cannot be undone."
        }
        form method="post" action={ (path) "delete/" } {
            (csrf_field(&signed))
            button.danger type="submit" { "Delete group " (group.name) }
            " "
            a href=(path) { "Cancel" }
        }
    };
    Ok(layout::page(
        &signed,
        Section::Groups,
        "Delete group",
        None,
        body,
    ))
}

/// `POST /if/admin/groups/{uuid}/delete/`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let group = visible_group(&state, &posted.signed, &uuid).await?;
    authorize(posted.principal(), Action::DeleteGroup(group.uuid.clone()))?;
    let audit = posted.meta.audit(Some(posted.principal()));
    groups::delete(&state.store, &group.uuid, &audit).await?;
    Ok(Redirect::to("/if/admin/groups/?done=deleted").into_response())
}
