//! `/if/admin/`: counts of what the caller may see (from the Directory's cached counts and the
//! lists' count queries), the database's health, and the latest audit events.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use maud::html;

use super::error::ConsoleError;
use super::events::events_table;
use super::layout::{self, is_admin, Section, VIEW_EVENT, VIEW_GROUP, VIEW_ROLE, VIEW_USER};
use super::session::Signed;
use crate::api::authentik::users::visible_users;
use crate::app::AppState;
use crate::domain::authz::{authorize, visibility, Action, Visibility};
use crate::domain::events::{self, EventQuery};
use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::groups::{self, GroupField};
use crate::domain::roles::{self, RoleField};
use crate::domain::tokens;
use crate::domain::users::UserField;

/// Pks a caller may see as text literals, for an `In` filter.
fn only<F, R>(field: F, v: Visibility) -> Filter<F, R> {
    match v {
        Visibility::All => Filter::All,
        Visibility::Only(pks) => Filter::In(field, pks.into_iter().map(Literal::Text).collect()),
        Visibility::Nothing => Filter::Nothing,
    }
}

/// `GET /if/admin/`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    signed: Signed,
) -> Result<Response, ConsoleError> {
    let p = &signed.principal;
    if !is_admin(p) {
        return Err(ConsoleError::Forbidden);
    }
    let mut cards: Vec<(&str, i64, &str)> = Vec::new();
    let users_seen = visibility(p, VIEW_USER);
    if users_seen != Visibility::Nothing {
        let all = visible_users(users_seen);
        let active = Filter::and(vec![
            all.clone(),
            Filter::Compare(UserField::IsActive, Cmp::Eq, Literal::Bool(true)),
        ]);
        cards.push((
            "Users",
            state.directory.count_users(&all).await?,
            "/if/admin/users/",
        ));
        cards.push((
            "Active users",
            state.directory.count_users(&active).await?,
            "/if/admin/users/?active=yes",
        ));
    }
    let groups_seen = visibility(p, VIEW_GROUP);
    if groups_seen != Visibility::Nothing {
        let n = groups::count(&state.store, &only(GroupField::Uuid, groups_seen)).await?;
        cards.push(("Groups", n, "/if/admin/groups/"));
    }
    let roles_seen = visibility(p, VIEW_ROLE);
    if roles_seen != Visibility::Nothing {
        let n = roles::count(&state.store, &only(RoleField::Uuid, roles_seen)).await?;
        cards.push(("Roles", n, "/if/admin/roles/"));
    }
    if authorize(p, Action::ViewAllTokens).is_ok() {
        cards.push((
            "Tokens",
            tokens::count(&state.store, &Filter::All).await?,
            "/if/admin/tokens/",
        ));
    }
    let health = crate::domain::health::ready(&state.store).await;
    let recent = if visibility(p, VIEW_EVENT) == Visibility::All {
        Some(events::page(&state.store, &EventQuery::default(), &[], 10, 0).await?)
    } else {
        None
    };
    let body = html! {
        h1 { "Dashboard" }
        div.cards {
            @for (label, n, href) in &cards {
                a.card href=(href) { div.n { (n) } div { (label) } }
            }
        }
        h2 { "Health" }
        @match &health {
            Ok(()) => p { span.badge { "Ready" } " The database answers and takes writes." },
            Err(e) => div.notice.err role="alert" { "Not ready: " (e) },
        }
        @if let Some(list) = &recent {
            h2 { "Recent events" }
            (events_table(list))
            p { a href="/if/admin/events/" { "The whole audit log" } }
        }
    };
    Ok(layout::page(
        &signed,
        Section::Dashboard,
        "Dashboard",
        None,
        body,
    ))
}
