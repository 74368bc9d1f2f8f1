//! `/if/admin/groups/`: the groups table (search by name), and one group's page: its parents
//! and children in the hierarchy, direct members (add and remove), and its effective members —
//! the direct members of it and of every group below it — paged through the users list.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::error::ConsoleError;
use super::form::{input, Fields};
use super::layout::{self, pager, pages_of, Section, VIEW_GROUP, VIEW_USER};
use super::session::{csrf_field, Posted, Signed};
use crate::api::authentik::users::visible_users;
use crate::app::AppState;
use crate::domain::authz::{authorize, may_see, visibility, Action, Visibility};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::groups::{self, Group, GroupField, GroupSort};
use crate::domain::users::{UserField, UserRel, UserSort};
use crate::domain::FieldErrors;

/// Rows per page.
const PAGE_SIZE: i64 = 50;

/// `GET /if/admin/groups/?q=&page=`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let seen = visibility(&signed.principal, VIEW_GROUP);
    let mut parts = vec![match seen {
        Visibility::Nothing => return Err(ConsoleError::Forbidden),
        Visibility::All => Filter::All,
        Visibility::Only(pks) => Filter::In(
            GroupField::Uuid,
            pks.into_iter().map(Literal::Text).collect(),
        ),
    }];
    let q = Fields::query(query.as_deref());
    let search = q.text("q").unwrap_or_default();
    if !search.is_empty() {
        parts.push(Filter::IContains(GroupField::Name, search.to_string()));
    }
    let filter = Filter::and(parts);
    let count = groups::count(&state.store, &filter).await?;
    let pages = pages_of(count, PAGE_SIZE);
    let page = q.page().min(pages);
    let sort = [(GroupSort::Field(GroupField::Name), Direction::Asc)];
    let rows = groups::list(
        &state.store,
        &filter,
        &sort,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
    .await?;
    let body = html! {
        h1 { "Groups" }
        form.filters method="get" action="/if/admin/groups/" role="search" {
            div { label for="f-q" { "Search" } input id="f-q" type="search" name="q" value=(search) placeholder="Group name"; }
            div { button type="submit" { "Filter" } }
        }
        table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Superuser" } th scope="col" { "Parents" } th scope="col" class="num" { "Direct members" } } }
            tbody {
                @for g in &rows {
                    tr {
                        td { a href={ "/if/admin/groups/" (g.uuid) "/" } { (g.name) } }
                        td { @if g.is_superuser { "Yes" } @else { "No" } }
                        td { (g.parents.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")) }
                        td.num { (g.members.len()) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="4" { "No groups match." } } }
            }
        }
        (pager("/if/admin/groups/", &[("q", search)], page, pages, count))
    };
    Ok(layout::page(
        &signed,
        Section::Groups,
        "Groups",
        q.get("done"),
        body,
    ))
}

async fn visible_group(
    state: &AppState,
    signed: &Signed,
    uuid: &str,
) -> Result<Group, ConsoleError> {
    let uuid = uuid::Uuid::parse_str(uuid)
        .map_err(|_| ConsoleError::NotFound("Group"))?
        .to_string();
    may_see(&signed.principal, VIEW_GROUP, &uuid)?;
    Ok(groups::get(&state.store, &uuid).await?)
}

/// `GET /if/admin/groups/{uuid}/?page=`.
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
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    group: &Group,
    q: &Fields,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let p = &signed.principal;
    let may_add = authorize(p, Action::AddUserToGroup(group.uuid.clone())).is_ok();
    let may_remove = authorize(p, Action::RemoveUserFromGroup(group.uuid.clone())).is_ok();
    let users_seen = visibility(p, VIEW_USER);
    let effective = if users_seen == Visibility::Nothing {
        None
    } else {
        let subtree = groups::subtree_uuids(&state.store, &group.uuid).await?;
        let filter = Filter::and(vec![
            visible_users(users_seen),
            Filter::Rel(UserRel::GroupUuids(subtree)),
        ]);
        let count = state.directory.count_users(&filter).await?;
        let pages = pages_of(count, PAGE_SIZE);
        let page = q.page().min(pages);
        let sort = [(UserSort::Field(UserField::Username), Direction::Asc)];
        let rows = state
            .directory
            .list_users(&filter, &sort, PAGE_SIZE, (page - 1) * PAGE_SIZE)
            .await?;
        Some((rows, count, pages, page))
    };
    let action = format!("/if/admin/groups/{}/members/", group.uuid);
    let related = |list: &[groups::RelatedGroup]| {
        html! {
            @if list.is_empty() { span.muted { "None" } }
            @for (i, r) in list.iter().enumerate() {
                @if i > 0 { ", " }
                a href={ "/if/admin/groups/" (r.uuid) "/" } { (r.name) }
            }
        }
    };
    let body = html! {
        h1 { "Group " (group.name) }
        dl.facts {
            dt { "UUID" } dd { (group.uuid) }
            dt { "Superuser" } dd { @if group.is_superuser { "Yes" } @else { "No" } }
            dt { "Parents" } dd { (related(&group.parents)) }
            dt { "Children" } dd { (related(&group.children)) }
            dt { "Roles" } dd { (group.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")) }
        }
        h2 { "Direct members" }
        table {
            thead { tr { th scope="col" { "Username" } th scope="col" { "Name" } th scope="col" { "Active" } th scope="col" { span.skip { "Actions" } } } }
            tbody {
                @for m in &group.members {
                    tr {
                        td { a href={ "/if/admin/users/" (m.id) "/" } { (m.username) } }
                        td { (m.name) }
                        td { @if m.is_active { "Yes" } @else { "No" } }
                        td { @if may_remove {
                            form.inline method="post" action=(action) {
                                (csrf_field(signed))
                                input type="hidden" name="op" value="remove";
                                input type="hidden" name="username" value=(m.username);
                                button.link type="submit" { "Remove " (m.username) }
                            }
                        } }
                    }
                }
                @if group.members.is_empty() { tr { td colspan="4" { "No direct members." } } }
            }
        }
        @if may_add {
            form.row method="post" action=(action) {
                (csrf_field(signed))
                input type="hidden" name="op" value="add";
                (input("Username", "username", "text", "", errors, true))
                div { button type="submit" { "Add member" } }
            }
        }
        @if let Some((rows, count, pages, page)) = &effective {
            h2 { "Effective members" }
            p.muted { "Members of this group and of every group below it." }
            table {
                thead { tr { th scope="col" { "Username" } th scope="col" { "Name" } th scope="col" { "Direct groups" } } }
                tbody {
                    @for u in rows {
                        tr {
                            td { a href={ "/if/admin/users/" (u.id) "/" } { (u.username) } }
                            td { (u.name) }
                            td { (u.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")) }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="3" { "No members." } } }
                }
            }
            (pager(&format!("/if/admin/groups/{}/", group.uuid), &[], *page, *pages, *count))
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
        return render(
            &state,
            &posted.signed,
            &group,
            &Fields::default(),
            &errors,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let audit = posted.meta.audit(Some(posted.principal()));
    groups::set_membership(&state.store, &group.uuid, user.id, add, &audit).await?;
    let done = if add {
        "member-added"
    } else {
        "member-removed"
    };
    Ok(Redirect::to(&format!("/if/admin/groups/{}/?done={done}", group.uuid)).into_response())
}
