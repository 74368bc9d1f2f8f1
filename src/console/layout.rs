//! The page frame every console page shares: head (the stylesheet, nothing inline), the
//! navigation the caller's permissions allow, the sign-out form, a success notice, and the
//! pager that keeps a list's filters.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::form::query_string;
use super::session::{csrf_field, Signed};
use crate::domain::authz::{authorize, visibility, Action, Principal, Visibility};

/// View permissions of the directory's kinds.
pub const VIEW_USER: &str = "authentik_core.view_user";
/// Groups.
pub const VIEW_GROUP: &str = "authentik_core.view_group";
/// Roles.
pub const VIEW_ROLE: &str = "authentik_rbac.view_role";
/// Audit events.
pub const VIEW_EVENT: &str = "authentik_events.view_event";

/// The console's sections, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `/if/admin/`.
    Dashboard,
    /// Users.
    Users,
    /// Groups.
    Groups,
    /// Roles and permissions.
    Roles,
    /// Tokens.
    Tokens,
    /// The audit log.
    Events,
    /// Self-service.
    Account,
}

/// Whether the caller sees some of a kind (a view permission, global or on objects).
pub fn sees(principal: &Principal, view_permission: &str) -> bool {
    visibility(principal, view_permission) != Visibility::Nothing
}

/// Whether the caller may see any part of the directory (else it has only self-service).
pub fn is_admin(principal: &Principal) -> bool {
    [VIEW_USER, VIEW_GROUP, VIEW_ROLE, VIEW_EVENT]
        .iter()
        .any(|p| sees(principal, p))
        || authorize(principal, Action::ViewAllTokens).is_ok()
}

fn nav(principal: &Principal, current: Section) -> Markup {
    let mut items: Vec<(Section, &str, &str)> = Vec::new();
    if is_admin(principal) {
        items.push((Section::Dashboard, "Dashboard", super::ADMIN));
    }
    if sees(principal, VIEW_USER) {
        items.push((Section::Users, "Users", "/if/admin/users/"));
    }
    if sees(principal, VIEW_GROUP) {
        items.push((Section::Groups, "Groups", "/if/admin/groups/"));
    }
    if sees(principal, VIEW_ROLE) {
        items.push((Section::Roles, "Roles", "/if/admin/roles/"));
    }
    if is_admin(principal) {
        items.push((Section::Tokens, "Tokens", "/if/admin/tokens/"));
    }
    if visibility(principal, VIEW_EVENT) == Visibility::All {
        items.push((Section::Events, "Audit log", "/if/admin/events/"));
    }
    items.push((Section::Account, "My account", super::USER));
    html! {
        nav aria-label="Console" {
            ul {
                @for (section, label, href) in &items {
                    li { a href=(href) aria-current=[(*section == current).then_some("page")] { (label) } }
                }
            }
        }
    }
}

/// A notice after a change (`?done=<what>`), from a fixed list: no client text is echoed.
pub fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Created.",
        "saved" => "Saved.",
        "activated" => "The user was activated.",
        "deactivated" => "The user was deactivated.",
        "deleted" => "Deleted.",
        "password" => "The password was set.",
        "member-added" => "The member was added.",
        "member-removed" => "The member was removed.",
        "parent-added" => "The parent was added.",
        "parent-removed" => "The parent was removed.",
        "group-added" => "Added to the group.",
        "group-removed" => "Removed from the group.",
        "role-added" => "The role was given.",
        "role-removed" => "The role was taken away.",
        "assigned" => "The permission was assigned.",
        "unassigned" => "The permission was unassigned.",
        "revoked" => "The token was revoked.",
        _ => return None,
    })
}

/// A page for a signed-in caller.
pub fn page(
    signed: &Signed,
    section: Section,
    title: &str,
    done: Option<&str>,
    body: Markup,
) -> Response {
    let p = &signed.principal;
    let content = html! {
        a.skip href="#main" { "Skip to content" }
        header.top {
            a.brand href=(super::landing_of(p)) { "gatehouse" }
            (nav(p, section))
            span.who { "Signed in as " strong { (p.username) } }
            form method="post" action="/if/logout/" {
                (csrf_field(signed))
                button.secondary type="submit" { "Sign out" }
            }
        }
        main id="main" {
            @if let Some(n) = notice(done) { div.notice.ok role="status" { (n) } }
            (body)
        }
    };
    bare(StatusCode::OK, title, content)
}

/// A whole HTML document around `body`.
pub fn bare(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · gatehouse" }
                // No favicon to fetch (a request the console would answer with a 404).
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(super::assets::stylesheet());
            }
            body { (body) }
        }
    };
    let mut r = (status, markup.into_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Previous/next links for page `page` of `pages`, keeping `filters` in the links.
pub fn pager(path: &str, filters: &[(&str, &str)], page: i64, pages: i64, count: i64) -> Markup {
    pager_of(
        &Paging {
            path,
            filters,
            param: "page",
            anchor: "",
            label: "Pages",
        },
        page,
        pages,
        &count.to_string(),
    )
}

/// Where a pager's links lead: the page, the filters (and other lists' pages) they keep, the
/// query parameter holding this list's page number, and the section to scroll to (`#…`).
pub struct Paging<'a> {
    /// The page's path.
    pub path: &'a str,
    /// Parameters every link keeps.
    pub filters: &'a [(&'a str, &'a str)],
    /// This list's page parameter.
    pub param: &'a str,
    /// A fragment (with its `#`), or empty.
    pub anchor: &'a str,
    /// The pager's accessible name (several lists on a page need different ones).
    pub label: &'a str,
}

/// Previous/next links of one list on a page with several (`total` as shown: "12", "10000+").
pub fn pager_of(paging: &Paging, page: i64, pages: i64, total: &str) -> Markup {
    let link = |n: i64| {
        let mut pairs: Vec<(&str, &str)> = paging.filters.to_vec();
        let n_text = n.to_string();
        pairs.push((paging.param, if n > 1 { n_text.as_str() } else { "" }));
        let q = query_string(&pairs);
        let anchor = paging.anchor;
        if q.is_empty() {
            format!("{}{anchor}", paging.path)
        } else {
            format!("{}?{q}{anchor}", paging.path)
        }
    };
    html! {
        nav.pager aria-label=(paging.label) {
            @if page > 1 { a rel="prev" href=(link(page - 1)) { "← Previous" } }
            span { "Page " (page) " of " (pages.max(1)) " · " (total) " in all" }
            @if page < pages { a rel="next" href=(link(page + 1)) { "Next →" } }
        }
    }
}

/// Pages needed for `count` rows of `size`.
pub fn pages_of(count: i64, size: i64) -> i64 {
    ((count + size - 1) / size).max(1)
}

/// A time as the console shows it (UTC, to the second).
pub fn when(t: crate::domain::Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
