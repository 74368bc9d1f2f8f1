//! Simple binds: DN → user (the first `cn` RDN under the base, matched as a username, then
//! case-insensitively, then as an e-mail, as the outpost's identification stage does), then the
//! password or an `app_password` token key, through the same throttle, password check and
//! `login_failed` audit event as HTTP logins. Unknown DNs, inactive users and wrong secrets all
//! answer 49 after the same argon2id work.

use std::net::IpAddr;

use super::dn::Dn;
use super::entry::{Node, Tree};
use crate::app::AppState;
use crate::auth::login::{self, SecretOutcome};
use crate::auth::session;
use crate::domain::audit::AuditContext;
use crate::domain::authz::Principal;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::users::{User, UserField, UserFilter, UserSort};
use crate::domain::DomainError;

/// What a bind attempt came to.
#[derive(Debug)]
pub enum BindOutcome {
    /// Authenticated as this user.
    Bound {
        /// The user's principal.
        principal: Principal,
        /// The user's DN as this tree spells it.
        dn: String,
    },
    /// Wrong, unknown or inactive: 49.
    Invalid,
    /// Too many failures for this account or client: retry after this many seconds.
    Throttled(i64),
}

/// The user a bind DN names (`None`: no such user, or not a DN under the base).
pub async fn user_of_dn(
    state: &AppState,
    tree: &Tree,
    dn: &str,
) -> Result<Option<User>, DomainError> {
    let Some(login) = login_of(tree, dn) else {
        return Ok(None);
    };
    find_login(state, &login).await
}

/// The login named by a bind DN: the value of its first `cn` RDN, when under the base.
pub fn login_of(tree: &Tree, dn: &str) -> Option<String> {
    let parsed = Dn::parse(dn).ok()?;
    if matches!(tree.locate(&parsed), Node::Outside) {
        return None;
    }
    parsed
        .rdns
        .iter()
        .find(|a| a.kind == "cn" || a.kind == "commonname")
        .map(|a| a.value.clone())
}

/// A user by login: exact username, else case-insensitive username, else e-mail.
pub async fn find_login(state: &AppState, login: &str) -> Result<Option<User>, DomainError> {
    if login.contains('\0') || login.chars().count() > session::USERNAME_MAX_CHARS * 2 {
        return Ok(None);
    }
    let tries: Vec<UserFilter> = vec![
        Filter::Compare(
            UserField::Username,
            Cmp::Eq,
            Literal::Text(login.to_string()),
        ),
        Filter::IExact(UserField::Username, login.to_string()),
        Filter::IExact(UserField::Email, login.to_string()),
    ];
    for (i, filter) in tries.iter().enumerate() {
        if i == 2 && !login.contains('@') {
            break;
        }
        let found = state
            .directory
            .list_users(
                filter,
                &[(UserSort::Field(UserField::Id), Direction::Asc)],
                2,
                0,
            )
            .await?;
        // An ambiguous e-mail or case-variant names nobody.
        if found.len() == 1 {
            return Ok(found.into_iter().next());
        }
        if i == 0 && !found.is_empty() {
            return Ok(found.into_iter().next());
        }
    }
    Ok(None)
}

/// Checks a simple bind's DN and secret.
pub async fn simple_bind(
    state: &AppState,
    tree: &Tree,
    dn: &str,
    secret: &str,
    client: Option<IpAddr>,
    audit: &AuditContext,
) -> Result<BindOutcome, DomainError> {
    let login = login_of(tree, dn).unwrap_or_default();
    let user = if login.is_empty() {
        None
    } else {
        find_login(state, &login).await?
    };
    let username = user.as_ref().map_or(login.clone(), |u| u.username.clone());
    let app_password_of = user.as_ref().map(|u| u.id);
    let outcome =
        login::secret_login(state, &username, secret, app_password_of, client, audit).await?;
    Ok(match outcome {
        SecretOutcome::AppPassword(principal) => BindOutcome::Bound {
            dn: tree.user_dn(&principal.username),
            principal,
        },
        SecretOutcome::Password(v) => BindOutcome::Bound {
            dn: tree.user_dn(&v.principal.username),
            principal: v.principal,
        },
        SecretOutcome::Refused => BindOutcome::Invalid,
        SecretOutcome::Throttled(wait) => BindOutcome::Throttled(wait),
    })
}
