//! `/if/admin/users/`: the paged users table (search, filters for active/type/path, links that
//! keep them), the new-user form, and (in `detail`) one user's page and its actions. Lists use
//! the Directory's indexed list and cached counts, as the REST lists do; forms are read by the
//! authentik dialect's own field reader, so every message is the API's.

mod detail;

pub use detail::{confirm_delete, delete, detail, groups, roles, save, set_active, set_password};

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::error::ConsoleError;
use super::form::{input, other_errors, Fields};
use super::layout::{self, pager, pages_of, Section, VIEW_USER};
use super::session::{csrf_field, Posted, Signed};
use crate::api::authentik::users::{read_user_changes, visible_users};
use crate::api::body::JsonBody;
use crate::app::AppState;
use crate::domain::authz::{authorize, visibility, Action, Visibility};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::users::{self, User, UserChanges, UserField, UserRel, UserSort, UserType};
use crate::domain::{DomainError, FieldErrors};

/// Rows per page of the users table.
pub const PAGE_SIZE: i64 = 50;

/// The account types a form offers (an internal service account is made only by the service
/// account action).
const TYPES: [(&str, &str); 3] = [
    ("internal", "Internal"),
    ("external", "External"),
    ("service_account", "Service account"),
];

/// The caller may list users at all (else 403).
fn require_users(signed: &Signed) -> Result<Visibility, ConsoleError> {
    match visibility(&signed.principal, VIEW_USER) {
        Visibility::Nothing => Err(ConsoleError::Forbidden),
        v => Ok(v),
    }
}

/// `GET /if/admin/users/?q=&active=&type=&path=&page=`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let visible = require_users(&signed)?;
    let q = Fields::query(query.as_deref());
    let search = q.text("q").unwrap_or_default();
    let active = q.text("active").unwrap_or_default();
    let kind = q.text("type").unwrap_or_default();
    let path = q.text("path").unwrap_or_default();
    let mut parts = vec![visible_users(visible)];
    for term in crate::api::query::search_terms(&search.replace('\0', "")) {
        parts.push(Filter::Rel(UserRel::SearchTerm(term)));
    }
    match active {
        "yes" => parts.push(Filter::Compare(
            UserField::IsActive,
            Cmp::Eq,
            Literal::Bool(true),
        )),
        "no" => parts.push(Filter::Compare(
            UserField::IsActive,
            Cmp::Eq,
            Literal::Bool(false),
        )),
        _ => {}
    }
    if let Some(t) = UserType::parse(kind) {
        parts.push(Filter::Compare(
            UserField::Type,
            Cmp::Eq,
            Literal::Text(t.as_str().to_string()),
        ));
    }
    if !path.is_empty() {
        parts.push(Filter::Compare(
            UserField::Path,
            Cmp::Eq,
            Literal::Text(path.to_string()),
        ));
    }
    let filter = Filter::and(parts);
    let count = state.directory.count_users(&filter).await?;
    let pages = pages_of(count, PAGE_SIZE);
    let page = q.page().min(pages);
    let sort = [(UserSort::Field(UserField::Username), Direction::Asc)];
    let rows = state
        .directory
        .list_users(&filter, &sort, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    let filters = [
        ("q", search),
        ("active", active),
        ("type", kind),
        ("path", path),
    ];
    let may_add = authorize(&signed.principal, Action::AddUser).is_ok();
    let body = html! {
        h1 { "Users" }
        @if may_add { p { a.button href="/if/admin/users/new/" { "New user" } } }
        form.filters method="get" action="/if/admin/users/" role="search" {
            div {
                label for="f-q" { "Search" }
                input id="f-q" type="search" name="q" value=(search) placeholder="Username, name, email";
            }
            div {
                label for="f-active" { "Active" }
                select id="f-active" name="active" {
                    option value="" selected[active.is_empty()] { "Any" }
                    option value="yes" selected[active == "yes"] { "Active" }
                    option value="no" selected[active == "no"] { "Inactive" }
                }
            }
            div {
                label for="f-type" { "Type" }
                select id="f-type" name="type" {
                    option value="" selected[kind.is_empty()] { "Any" }
                    @for (value, label) in TYPES.iter().chain([("internal_service_account", "Internal service account")].iter()) {
                        option value=(value) selected[kind == *value] { (label) }
                    }
                }
            }
            div {
                label for="f-path" { "Path" }
                input id="f-path" type="text" name="path" value=(path);
            }
            div { button type="submit" { "Filter" } }
        }
        (users_table(&rows))
        (pager("/if/admin/users/", &filters, page, pages, count))
    };
    Ok(layout::page(
        &signed,
        Section::Users,
        "Users",
        q.get("done"),
        body,
    ))
}

fn users_table(rows: &[User]) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { "Username" } th scope="col" { "Name" } th scope="col" { "Email" }
                th scope="col" { "Active" } th scope="col" { "Type" } th scope="col" { "Path" }
                th scope="col" { "Last login" }
            } }
            tbody {
                @for u in rows {
                    tr {
                        td { a href={ "/if/admin/users/" (u.id) "/" } { (u.username) } }
                        td { (u.name) }
                        td { (u.email) }
                        td { @if u.is_active { "Yes" } @else { "No" } }
                        td { (u.user_type.as_str()) }
                        td { (u.path) }
                        td { @match u.last_login { Some(t) => (layout::when(t)), None => span.muted { "Never" } } }
                    }
                }
                @if rows.is_empty() { tr { td colspan="7" { "No users match." } } }
            }
        }
    }
}

/// The values a user form shows: what was sent, else the user's.
pub(super) struct UserForm<'a> {
    pub username: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub path: &'a str,
    pub kind: &'a str,
    pub active: bool,
}

/// The fields of a user form (without the form element).
pub(super) fn user_fields(v: &UserForm, errors: &FieldErrors, with_password: bool) -> Markup {
    html! {
        (input("Username", "username", "text", v.username, errors, true))
        (input("Name", "name", "text", v.name, errors, false))
        (input("Email", "email", "email", v.email, errors, false))
        (input("Path", "path", "text", v.path, errors, false))
        div.field {
            label for="f-type" { "Type" }
            select id="f-type" name="type" {
                @for (value, label) in &TYPES {
                    option value=(value) selected[v.kind == *value] { (label) }
                }
                @if v.kind == "internal_service_account" {
                    option value="internal_service_account" selected { "Internal service account" }
                }
            }
            (super::form::errors_of(errors, "type"))
        }
        div.field {
            label.inline { input type="checkbox" name="is_active" value="on" checked[v.active]; "Active" }
        }
        @if with_password {
            (input("Password", "password", "password", "", errors, false))
        }
    }
}

/// Reads a user form into changes, through the authentik dialect's reader (`full` = create).
pub(super) fn read_form(
    fields: &Fields,
    full: bool,
) -> Result<(UserChanges, FieldErrors), ConsoleError> {
    let mut obj = Map::new();
    for name in ["username", "name", "email", "path", "type"] {
        if let Some(v) = fields.get(name) {
            obj.insert(name.into(), Value::String(v.to_string()));
        }
    }
    obj.insert(
        "is_active".into(),
        Value::Bool(fields.get("is_active").is_some()),
    );
    read_user_changes(JsonBody(Value::Object(obj)), full)
        .map_err(|_| ConsoleError::BadRequest("The form could not be read.".into()))
}

fn new_page(
    signed: &Signed,
    fields: &Fields,
    errors: &FieldErrors,
    status: StatusCode,
) -> Response {
    let v = UserForm {
        username: fields.get("username").unwrap_or_default(),
        name: fields.get("name").unwrap_or_default(),
        email: fields.get("email").unwrap_or_default(),
        path: fields.get("path").unwrap_or("users"),
        kind: fields.get("type").unwrap_or("internal"),
        active: fields.get("is_active").is_some() || fields.get("username").is_none(),
    };
    let body = html! {
        h1 { "New user" }
        (other_errors(errors, &["username", "name", "email", "path", "type", "password"]))
        form method="post" action="/if/admin/users/" {
            (csrf_field(signed))
            (user_fields(&v, errors, true))
            p { button type="submit" { "Create user" } " " a href="/if/admin/users/" { "Cancel" } }
        }
    };
    let mut r = layout::page(signed, Section::Users, "New user", None, body);
    *r.status_mut() = status;
    r
}

/// `GET /if/admin/users/new/`.
pub async fn new_form(signed: Signed) -> Result<Response, ConsoleError> {
    authorize(&signed.principal, Action::AddUser)?;
    Ok(new_page(
        &signed,
        &Fields::default(),
        &FieldErrors::new(),
        StatusCode::OK,
    ))
}

/// `POST /if/admin/users/`: creates a user (and its password, when one is given).
pub async fn create(
    State(state): State<Arc<AppState>>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    authorize(posted.principal(), Action::AddUser)?;
    let (mut changes, errors) = read_form(&posted.fields, true)?;
    if let Some(p) = posted.fields.get("password").filter(|p| !p.is_empty()) {
        changes.password = Some(Some(p.to_string()));
    }
    let audit = posted.meta.audit(Some(posted.principal()));
    match users::create(&state.store, changes, errors, &audit).await {
        Ok(user) => {
            Ok(Redirect::to(&format!("/if/admin/users/{}/?done=created", user.id)).into_response())
        }
        Err(DomainError::Invalid(errors)) => Ok(new_page(
            &posted.signed,
            &posted.fields,
            &errors,
            StatusCode::BAD_REQUEST,
        )),
        Err(e) => Err(e.into()),
    }
}
