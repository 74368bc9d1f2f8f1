//! `/if/user/`: self-service for every signed-in user — its own facts and groups, a new
//! password, its own tokens and app passwords (a new key shown once) and revoking them.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::error::ConsoleError;
use super::form::{input, Fields};
use super::layout::{self, Section};
use super::session::{csrf_field, Posted, Signed};
use super::tokens::{create_form, create_from, key_shown, revoke_one, tokens_table, Created};
use crate::app::AppState;
use crate::domain::authz::{authorize, Action};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::tokens::{self, TokenField, TokenSort};
use crate::domain::users;
use crate::domain::FieldErrors;

/// Most own tokens listed.
const MAX_OWN_TOKENS: i64 = 200;

/// `GET /if/user/`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let q = Fields::query(query.as_deref());
    render(
        &state,
        &signed,
        q.get("done"),
        &Fields::default(),
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    done: Option<&str>,
    sent: &Fields,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let p = &signed.principal;
    authorize(p, Action::ViewSelf)?;
    let view = users::self_view(&state.store, p.user_id).await?;
    let me = &view.user;
    let own = Filter::Compare(TokenField::UserId, Cmp::Eq, Literal::Int(p.user_id));
    let sort = [(TokenSort::Field(TokenField::Identifier), Direction::Asc)];
    let mine = tokens::list(&state.store, &own, &sort, MAX_OWN_TOKENS, 0).await?;
    let may_password = authorize(p, Action::EditUserProfile(p.user_id)).is_ok();
    let body = html! {
        h1 { "My account" }
        dl.facts {
            dt { "Username" } dd { (me.username) }
            dt { "Name" } dd { (me.name) }
            dt { "Email" } dd { (me.email) }
            dt { "Superuser" } dd { @if me.is_superuser { "Yes" } @else { "No" } }
        }
        h2 { "My groups" }
        p.muted { "Including the groups above the ones you are a member of." }
        ul {
            @for (_, name) in &view.all_groups { li { (name) } }
            @if view.all_groups.is_empty() { li { "None." } }
        }
        @if may_password {
            h2 { "Change my password" }
            form.row method="post" action="/if/user/password/" {
                (csrf_field(signed))
                (input("New password", "password", "password", "", errors, true))
                div { button type="submit" { "Change password" } }
            }
        }
        h2 { "My tokens and app passwords" }
        (tokens_table(signed, &mine, "/if/user/tokens/", false))
        h2 { "New token or app password" }
        (create_form(signed, "/if/user/tokens/", sent, errors, false, true))
    };
    let mut r = layout::page(signed, Section::Account, "My account", done, body);
    *r.status_mut() = status;
    Ok(r)
}

/// `POST /if/user/password/`: sets the caller's own password (this session stays valid; the
/// others end, as with every password change).
pub async fn password(
    State(state): State<Arc<AppState>>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let id = posted.principal().user_id;
    authorize(posted.principal(), Action::EditUserProfile(id))?;
    let password = posted.fields.get("password").unwrap_or_default();
    if password.trim().is_empty() {
        let mut errors = FieldErrors::new();
        errors.add_code("password", "blank", "This field may not be blank.");
        return render(
            &state,
            &posted.signed,
            None,
            &Fields::default(),
            &errors,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let audit = posted.meta.audit(Some(posted.principal()));
    users::set_password(&state.store, id, password.to_string(), &audit).await?;
    Ok(Redirect::to("/if/user/?done=password").into_response())
}

/// `POST /if/user/tokens/`: creates an own token or app password; its key is shown once.
pub async fn create_token(
    State(state): State<Arc<AppState>>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    // Never for someone else from this page, whatever the form says.
    if posted.fields.get("owner").is_some() {
        return Err(ConsoleError::BadRequest(
            "Tokens made here belong to you.".into(),
        ));
    }
    match create_from(&state, &posted).await? {
        Created::Made(token, key) => {
            let body = key_shown(&token, &key, "/if/user/");
            Ok(layout::page(
                &posted.signed,
                Section::Account,
                "Token created",
                None,
                body,
            ))
        }
        Created::Refused(errors) => {
            render(
                &state,
                &posted.signed,
                None,
                &posted.fields,
                &errors,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// `POST /if/user/tokens/{identifier}/delete/`.
pub async fn revoke_token(
    State(state): State<Arc<AppState>>,
    Path(identifier): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let token = tokens::get(&state.store, &identifier).await?;
    if token.user.id != posted.principal().user_id {
        return Err(ConsoleError::NotFound("Token"));
    }
    revoke_one(&state, &posted, &identifier).await?;
    Ok(Redirect::to("/if/user/?done=revoked").into_response())
}
