//! Push-down: simple equalities on well-known attributes become domain filters, so a lookup
//! by `cn`, `mail`, `entryUUID`, `memberOf` or `member` reads only the matching rows. A
//! push-down only narrows what is read; the filter is still evaluated on every entry, so a
//! push-down must read at least every row the filter can match (tests/api/ldap.rs compares
//! each with a twin filter that is never pushed down).

use ldap3_proto::proto::LdapFilter;

use super::Searcher;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::groups::{self, GroupField, GroupFilter, GroupRel, GroupSort};
use crate::domain::users::{UserField, UserFilter, UserRel};
use crate::domain::DomainError;
use crate::ldap::dn::{self, Dn};
use crate::ldap::entry::{Node, Tree};

/// Equalities pushed down to the domain, each a list of variants tried in order (exact first,
/// then case-insensitive) until one finds something.
#[derive(Default)]
pub(super) struct Pushdown {
    pub(super) users: Vec<UserFilter>,
    pub(super) groups: Vec<GroupFilter>,
    /// `memberOf=<group DN>`: the group's name as sent (resolved before the walk).
    pub(super) member_of: Option<String>,
    /// `member=<user DN>`: the username as sent (resolved before the walk).
    pub(super) member: Option<String>,
}

pub(super) fn equalities(filter: &LdapFilter) -> Vec<(String, String)> {
    match filter {
        LdapFilter::Equality(a, v) => vec![(a.to_ascii_lowercase(), v.clone())],
        LdapFilter::And(parts) => parts
            .iter()
            .filter_map(|p| match p {
                LdapFilter::Equality(a, v) => Some((a.to_ascii_lowercase(), v.clone())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl Pushdown {
    pub(super) fn plan(tree: &Tree, filter: &LdapFilter) -> Pushdown {
        let mut plan = Pushdown::default();
        for (attribute, value) in equalities(filter) {
            match attribute.as_str() {
                // `cn` matches case-insensitively, so an exact lookup first would miss `Alice`
                // beside `alice`. Usernames go through the `LOWER(username)` index; the store
                // folds ASCII only, so only an ASCII value is pushed down (a non-ASCII one is
                // evaluated on every entry). The one non-ASCII letter whose lower case is ASCII,
                // the Kelvin sign, is not folded by the store: such a username is not found by
                // a `cn` written with `k`.
                "cn" | "samaccountname" if plan.users.is_empty() && value.is_ascii() => {
                    plan.users = vec![Filter::Rel(UserRel::UsernameFolded(value.clone()))];
                    plan.groups = vec![Filter::IExact(GroupField::Name, value)];
                    continue;
                }
                "mail" if plan.users.is_empty() => {
                    plan.users = vec![
                        Filter::Compare(UserField::Email, Cmp::Eq, Literal::Text(value.clone())),
                        Filter::IExact(UserField::Email, value),
                    ];
                }
                "entryuuid" if plan.users.is_empty() => {
                    let v = value.to_ascii_lowercase();
                    plan.users = vec![Filter::Compare(
                        UserField::Uuid,
                        Cmp::Eq,
                        Literal::Text(v.clone()),
                    )];
                    plan.groups =
                        vec![Filter::Compare(GroupField::Uuid, Cmp::Eq, Literal::Text(v))];
                }
                "memberof" if plan.users.is_empty() => {
                    if let Some(Node::Group(name)) = Dn::parse(&value).ok().map(|d| tree.locate(&d))
                    {
                        plan.member_of = Some(name);
                    }
                }
                "member" if plan.groups.is_empty() => {
                    if let Some(Node::User(name)) = Dn::parse(&value).ok().map(|d| tree.locate(&d))
                    {
                        plan.member = Some(name);
                    }
                }
                _ => {}
            }
        }
        plan
    }
}

impl Searcher<'_> {
    /// Turns `memberOf`/`member` DNs into membership filters on the names as stored (DN values
    /// match case-insensitively); a group or user that does not exist has no members or groups.
    pub(super) async fn resolve_memberships(&self, plan: &mut Pushdown) -> Result<(), DomainError> {
        if let Some(sent) = plan.member_of.take() {
            let mut found = None;
            for f in [
                Filter::Compare(GroupField::Name, Cmp::Eq, Literal::Text(sent.clone())),
                Filter::IExact(GroupField::Name, sent.clone()),
            ] {
                let page = groups::list(
                    &self.state.store,
                    &f,
                    &[(GroupSort::Field(GroupField::Id), Direction::Asc)],
                    2,
                    0,
                )
                .await?;
                if !page.is_empty() {
                    found = Some(page.into_iter().map(|g| g.name).collect::<Vec<_>>());
                    break;
                }
            }
            plan.users = vec![match found {
                Some(names) => Filter::Rel(UserRel::GroupNames(names)),
                None => Filter::Nothing,
            }];
        }
        if let Some(sent) = plan.member.take() {
            let user = crate::ldap::bind::find_login(self.state, &sent).await?;
            plan.groups = vec![match user {
                Some(u) if dn::fold(&u.username) == dn::fold(&sent) => {
                    Filter::Rel(GroupRel::MemberUsernames(vec![u.username]))
                }
                _ => Filter::Nothing,
            }];
        }
        Ok(())
    }
}
