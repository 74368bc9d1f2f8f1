//! `/if/admin/groups/`: the groups table (search by name, each group's number of direct
//! members from the membership index, counted up to `COUNT_CAP`, never the members
//! themselves), the new-group form, and
//! (in `detail`) one group's page and its actions. Forms are read by the authentik dialect's
//! group reader and written by the same domain operations as the REST API, so every message is
//! the API's.

mod detail;

pub use detail::{confirm_delete, delete, detail, edit, members, parents};

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::{Map, Value};

use super::error::ConsoleError;
use super::form::{errors_of, input, other_errors, Fields};
use super::layout::{self, pager, pages_of, Section, VIEW_GROUP};
use super::members::COUNT_CAP;
use super::session::{csrf_field, Posted, Signed};
use crate::api::authentik::groups::{check_superuser_flag, read_group_changes};
use crate::api::body::JsonBody;
use crate::app::AppState;
use crate::domain::authz::{authorize, visibility, Action, Visibility};
use crate::domain::filter::{Direction, Filter, Literal};
use crate::domain::groups::{self, GroupChanges, GroupField, GroupSort};
use crate::domain::{DomainError, FieldErrors};

/// Rows per page (the users table's size).
const PAGE_SIZE: i64 = super::users::PAGE_SIZE;

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
    let rows = groups::list_outlines(
        &state.store,
        &filter,
        &sort,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
        COUNT_CAP,
    )
    .await?;
    let may_add = authorize(&signed.principal, Action::AddGroup).is_ok();
    let body = html! {
        h1 { "Groups" }
        @if may_add { p { a.button href="/if/admin/groups/new/" { "New group" } } }
        form.filters method="get" action="/if/admin/groups/" role="search" {
            div { label for="f-q" { "Search" } input id="f-q" type="search" name="q" value=(search) placeholder="Group name"; }
            div { button type="submit" { "Filter" } }
        }
        table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Superuser" } th scope="col" { "Parents" } th scope="col" class="num" { "Direct members" } } }
            tbody {
                @for (g, members) in &rows {
                    tr {
                        td { a href={ "/if/admin/groups/" (g.uuid) "/" } { (g.name) } }
                        td { @if g.is_superuser { "Yes" } @else { "No" } }
                        td { (g.parents.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")) }
                        td.num { (members) @if *members >= COUNT_CAP { "+" } }
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

/// The new-group page: name, an optional parent, the superuser flag.
fn new_page(
    signed: &Signed,
    fields: &Fields,
    errors: &FieldErrors,
    status: StatusCode,
) -> Response {
    let body = html! {
        h1 { "New group" }
        (other_errors(errors, &["name", "parents", "is_superuser"]))
        form method="post" action="/if/admin/groups/" {
            (csrf_field(signed))
            (input("Name", "name", "text", fields.get("name").unwrap_or_default(), errors, true))
            (input("Parent group (name or UUID; optional)", "parents", "text", fields.get("parents").unwrap_or_default(), errors, false))
            div.field {
                label.inline {
                    input type="checkbox" name="is_superuser" value="on" checked[fields.get("is_superuser").is_some()];
                    "Superuser group (its members, and the members of every group below it, are superusers)"
                }
                (errors_of(errors, "is_superuser"))
            }
            p { button type="submit" { "Create group" } " " a href="/if/admin/groups/" { "Cancel" } }
        }
    };
    let mut r = layout::page(signed, Section::Groups, "New group", None, body);
    *r.status_mut() = status;
    r
}

/// `GET /if/admin/groups/new/`.
pub async fn new_form(signed: Signed) -> Result<Response, ConsoleError> {
    authorize(&signed.principal, Action::AddGroup)?;
    Ok(new_page(
        &signed,
        &Fields::default(),
        &FieldErrors::new(),
        StatusCode::OK,
    ))
}

/// A group named in a form field (by name, else by UUID) as the UUID the API's `parents`
/// takes: an unknown name is a field error; a UUID goes to the domain as it is, which answers
/// an unknown one with the API's own message.
pub(super) async fn parent_uuid(
    state: &AppState,
    raw: &str,
    errors: &mut FieldErrors,
) -> Result<Option<String>, ConsoleError> {
    match groups::uuid_by_name(&state.store, raw).await {
        Ok(uuid) => Ok(Some(uuid)),
        Err(DomainError::NotFound(_)) => match uuid::Uuid::parse_str(raw) {
            Ok(uuid) => Ok(Some(uuid.to_string())),
            Err(_) => {
                errors.add("parents", format!("No group is named “{raw}”."));
                Ok(None)
            }
        },
        Err(e) => Err(e.into()),
    }
}

/// A group form's `name` and `is_superuser` (an unticked box is `false`) read as the API reads
/// a body (`full` for a create), so its validation and messages are the API's.
pub(super) fn group_form(
    fields: &Fields,
    full: bool,
) -> Result<(GroupChanges, FieldErrors), ConsoleError> {
    let mut obj = Map::new();
    obj.insert(
        "name".into(),
        Value::String(fields.get("name").unwrap_or_default().to_string()),
    );
    obj.insert(
        "is_superuser".into(),
        Value::Bool(fields.get("is_superuser").is_some()),
    );
    read_group_changes(JsonBody(Value::Object(obj)), full)
        .map_err(|_| ConsoleError::BadRequest("The form could not be read.".into()))
}

/// `POST /if/admin/groups/`: creates a group (with its parent, when one is named).
pub async fn create(
    State(state): State<Arc<AppState>>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let caller = posted.principal();
    authorize(caller, Action::AddGroup)?;
    let f = &posted.fields;
    let (mut changes, mut errors) = group_form(f, true)?;
    if let Some(raw) = f.text("parents") {
        if let Some(uuid) = parent_uuid(&state, raw, &mut errors).await? {
            changes.parents = Some(vec![uuid]);
        }
    }
    check_superuser_flag(caller, &changes, None, &mut errors);
    let audit = posted.meta.audit(Some(caller));
    match groups::create(&state.store, changes, errors, &audit).await {
        Ok(group) => Ok(
            Redirect::to(&format!("/if/admin/groups/{}/?done=created", group.uuid)).into_response(),
        ),
        Err(DomainError::Invalid(errors)) => Ok(new_page(
            &posted.signed,
            f,
            &errors,
            StatusCode::BAD_REQUEST,
        )),
        Err(e) => Err(e.into()),
    }
}
