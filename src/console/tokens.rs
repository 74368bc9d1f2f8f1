//! `/if/admin/tokens/`: the tokens the caller may see (all with `view_token`, else its own;
//! searched by identifier),
//! creating one (its key shown once, on the answer to the form, never again), and revoking.
//! The forms are read by the authentik dialect's token reader and created by the one domain
//! operation, which decides owner, scope and expiry for every door.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::error::ConsoleError;
use super::form::{errors_of, input, other_errors, Fields};
use super::layout::{self, is_admin, pager, pages_of, Section, VIEW_USER};
use super::session::{csrf_field, Posted, Signed};
use crate::api::authentik::tokens::read_token_changes;
use crate::api::authentik::users::visible_users;
use crate::api::body::JsonBody;
use crate::app::AppState;
use crate::domain::authz::{authorize, visibility, Action, TokenRef};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::tokens::{self, Token, TokenField, TokenSettings, TokenSort};
use crate::domain::users::UserField;
use crate::domain::{DomainError, FieldErrors};

/// Rows per page.
const PAGE_SIZE: i64 = 50;

fn token_ref(t: &Token) -> TokenRef {
    TokenRef {
        owner: t.user.id,
        uuid: t.uuid.clone(),
    }
}

/// The tokens as a table, each with a revoke button when the caller may delete it.
pub fn tokens_table(
    signed: &Signed,
    rows: &[Token],
    revoke_base: &str,
    show_owner: bool,
) -> Markup {
    let p = &signed.principal;
    html! {
        table {
            thead { tr {
                th scope="col" { "Identifier" }
                @if show_owner { th scope="col" { "Owner" } }
                th scope="col" { "Intent" } th scope="col" { "Description" } th scope="col" { "Expires" }
                th scope="col" { span.skip { "Actions" } }
            } }
            tbody {
                @for t in rows {
                    tr {
                        td { (t.identifier) }
                        @if show_owner { td { a href={ "/if/admin/users/" (t.user.id) "/" } { (t.user.username) } } }
                        td { (t.intent) }
                        td { (t.description) }
                        td {
                            @match (t.expiring, t.expires) { (true, Some(e)) => (layout::when(e)), _ => "Never" }
                            @if t.is_expired() { " " span.badge { "expired" } }
                        }
                        td { @if authorize(p, Action::DeleteToken(token_ref(t))).is_ok() {
                            form.inline method="post" action={ (revoke_base) (t.identifier) "/delete/" } {
                                (csrf_field(signed))
                                button.link type="submit" { "Revoke " (t.identifier) }
                            }
                        } }
                    }
                }
                @if rows.is_empty() { tr { td colspan=(if show_owner { 6 } else { 5 }) { "No tokens." } } }
            }
        }
    }
}

/// The create form (`owner` field only for callers who may create tokens for others).
pub fn create_form(
    signed: &Signed,
    action: &str,
    fields: &Fields,
    errors: &FieldErrors,
    owner: bool,
    app_passwords: bool,
) -> Markup {
    let intent = fields
        .get("intent")
        .unwrap_or(if app_passwords { "app_password" } else { "api" });
    html! {
        (other_errors(errors, &["identifier", "user", "intent", "description", "expires", "expiring"]))
        form method="post" action=(action) {
            (csrf_field(signed))
            (input("Identifier", "identifier", "text", fields.get("identifier").unwrap_or_default(), errors, true))
            @if owner {
                (input("Owner (username; empty: yourself)", "owner", "text", fields.get("owner").unwrap_or_default(), errors, false))
                (errors_of(errors, "user"))
            }
            div.field {
                label for="f-intent" { "Intent" }
                select id="f-intent" name="intent" {
                    option value="api" selected[intent == "api"] { "API token" }
                    option value="app_password" selected[intent == "app_password"] { "App password" }
                }
                (errors_of(errors, "intent"))
            }
            (input("Description", "description", "text", fields.get("description").unwrap_or_default(), errors, false))
            (input("Expires (UTC; app passwords only — API tokens get the configured lifetime)", "expires", "datetime-local", fields.get("expires").unwrap_or_default(), errors, false))
            p { button type="submit" { "Create token" } }
        }
    }
}

/// What a create form produced: the token and its key, or the field errors to show.
pub enum Created {
    /// Made: the token and its key (to show once).
    Made(Box<Token>, String),
    /// Refused with these messages.
    Refused(FieldErrors),
}

/// Creates a token from a form through `tokens::create` (owner by username when given).
pub async fn create_from(state: &AppState, posted: &Posted) -> Result<Created, ConsoleError> {
    let caller = posted.principal();
    authorize(caller, Action::AddToken)?;
    let f = &posted.fields;
    let mut obj = Map::new();
    for name in ["identifier", "intent", "description", "expires"] {
        if let Some(v) = f.text(name) {
            obj.insert(name.into(), Value::String(v.to_string()));
        }
    }
    if let Some(owner) = f.text("owner") {
        let by_name = Filter::and(vec![
            visible_users(visibility(caller, VIEW_USER)),
            Filter::Compare(
                UserField::Username,
                Cmp::Eq,
                Literal::Text(owner.to_string()),
            ),
        ]);
        match state.directory.list_users(&by_name, &[], 1, 0).await?.pop() {
            Some(u) => {
                obj.insert("user".into(), Value::from(u.id));
            }
            None => {
                let mut errors = FieldErrors::new();
                errors.add("owner", format!("No user is named “{owner}”."));
                return Ok(Created::Refused(errors));
            }
        }
    }
    let (changes, errors) = read_token_changes(JsonBody(Value::Object(obj)), true)
        .map_err(|_| ConsoleError::BadRequest("The form could not be read.".into()))?;
    let settings = TokenSettings {
        default_duration_seconds: state.config.token_duration_seconds,
    };
    let audit = posted.meta.audit(Some(caller));
    match tokens::create(
        &state.store,
        &state.sealer,
        caller,
        changes,
        errors,
        settings,
        &audit,
    )
    .await
    {
        Ok((token, key)) => Ok(Created::Made(Box::new(token), key)),
        Err(DomainError::Invalid(errors)) => Ok(Created::Refused(errors)),
        Err(e) => Err(e.into()),
    }
}

/// The one answer that shows a new key.
pub fn key_shown(token: &Token, key: &str, back: &str) -> Markup {
    html! {
        div.notice.ok role="status" { "Token " strong { (token.identifier) } " created." }
        p { "Copy the key now: it is shown only this once." }
        p.key id="new-key" { (key) }
        p { a href=(back) { "Done" } }
    }
}

/// `GET /if/admin/tokens/?page=`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let p = &signed.principal;
    if !is_admin(p) {
        return Err(ConsoleError::Forbidden);
    }
    let q = Fields::query(query.as_deref());
    page(
        &state,
        &signed,
        &q,
        &Fields::default(),
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn page(
    state: &AppState,
    signed: &Signed,
    q: &Fields,
    sent: &Fields,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let p = &signed.principal;
    let mut parts = vec![if authorize(p, Action::ViewAllTokens).is_ok() {
        Filter::All
    } else {
        Filter::Compare(TokenField::UserId, Cmp::Eq, Literal::Int(p.user_id))
    }];
    let search = q.text("q").unwrap_or_default();
    if !search.is_empty() {
        parts.push(Filter::IContains(
            TokenField::Identifier,
            search.to_string(),
        ));
    }
    let filter = Filter::and(parts);
    let count = tokens::count(&state.store, &filter).await?;
    let pages = pages_of(count, PAGE_SIZE);
    let page = q.page().min(pages);
    let sort = [(TokenSort::Field(TokenField::Identifier), Direction::Asc)];
    let rows = tokens::list(
        &state.store,
        &filter,
        &sort,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
    .await?;
    let body = html! {
        h1 { "Tokens" }
        form.filters method="get" action="/if/admin/tokens/" role="search" {
            div { label for="f-q" { "Search" } input id="f-q" type="search" name="q" value=(search) placeholder="Identifier"; }
            div { button type="submit" { "Filter" } }
        }
        (tokens_table(signed, &rows, "/if/admin/tokens/", true))
        (pager("/if/admin/tokens/", &[("q", search)], page, pages, count))
        h2 { "New token" }
        (create_form(signed, "/if/admin/tokens/", sent, errors, p.is_superuser, false))
    };
    let mut r = layout::page(signed, Section::Tokens, "Tokens", q.get("done"), body);
    *r.status_mut() = status;
    Ok(r)
}

/// `POST /if/admin/tokens/`: creates a token and shows its key once.
pub async fn create(
    State(state): State<Arc<AppState>>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    if !is_admin(posted.principal()) {
        return Err(ConsoleError::Forbidden);
    }
    match create_from(&state, &posted).await? {
        Created::Made(token, key) => {
            let body = key_shown(&token, &key, "/if/admin/tokens/");
            Ok(layout::page(
                &posted.signed,
                Section::Tokens,
                "Token created",
                None,
                body,
            ))
        }
        Created::Refused(errors) => {
            page(
                &state,
                &posted.signed,
                &Fields::default(),
                &posted.fields,
                &errors,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// Deletes a token the caller may delete.
pub async fn revoke_one(
    state: &AppState,
    posted: &Posted,
    identifier: &str,
) -> Result<(), ConsoleError> {
    let token = tokens::get(&state.store, identifier).await?;
    let r = token_ref(&token);
    // Seeing it comes first: a token the caller cannot see is not found, as in the APIs.
    if authorize(posted.principal(), Action::ViewToken(r.clone())).is_err() {
        return Err(ConsoleError::NotFound("Token"));
    }
    authorize(posted.principal(), Action::DeleteToken(r))?;
    let audit = posted.meta.audit(Some(posted.principal()));
    tokens::delete(&state.store, identifier, &audit).await?;
    Ok(())
}

/// `POST /if/admin/tokens/{identifier}/delete/`.
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(identifier): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    revoke_one(&state, &posted, &identifier).await?;
    Ok(Redirect::to("/if/admin/tokens/?done=revoked").into_response())
}
