//! Single entries (a base or compare DN) as the caller may see them, and the in-chain sets of
//! the group DAG that `1.2.840.113556.1.4.1941` assertions test.

use std::collections::{HashMap, HashSet};

use super::sight::Sight;
use super::{Searcher, CHUNK};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::groups::{self, Group, GroupField, GroupSort};
use crate::domain::users::{User, UserField, UserSort};
use crate::domain::DomainError;
use crate::ldap::dn::{self, Dn};
use crate::ldap::entry::{Entry, Node};
use crate::ldap::filter::InChain;
use crate::ldap::root;

impl Searcher<'_> {
    /// The user with this exact username, if the caller may see it.
    pub(super) async fn visible_user(
        &self,
        name: &str,
        sight: &Sight,
    ) -> Result<Option<User>, DomainError> {
        let filter = Filter::and(vec![
            sight.user_filter(),
            Filter::Compare(
                UserField::Username,
                Cmp::Eq,
                Literal::Text(name.to_string()),
            ),
        ]);
        let found = self
            .state
            .directory
            .list_users(
                &filter,
                &[(UserSort::Field(UserField::Id), Direction::Asc)],
                1,
                0,
            )
            .await?;
        Ok(found.into_iter().next())
    }

    /// The group with this exact name, if the caller may see it.
    pub(super) async fn visible_group(
        &self,
        name: &str,
        sight: &Sight,
    ) -> Result<Option<Group>, DomainError> {
        let filter = Filter::and(vec![
            sight.group_filter(),
            Filter::Compare(GroupField::Name, Cmp::Eq, Literal::Text(name.to_string())),
        ]);
        let found = groups::list(
            &self.state.store,
            &filter,
            &[(GroupSort::Field(GroupField::Id), Direction::Asc)],
            1,
            0,
        )
        .await?;
        Ok(found.into_iter().next())
    }

    pub(super) async fn entry_at(
        &self,
        node: &Node,
        sight: &Sight,
    ) -> Result<Option<Entry>, DomainError> {
        Ok(match node {
            Node::Base => Some(self.tree.base_entry(root::root_attrs(self.tree))),
            Node::Users => Some(self.tree.container_entry("users")),
            Node::Groups => Some(self.tree.container_entry("groups")),
            Node::VirtualGroups => Some(self.tree.container_entry("virtual-groups")),
            Node::User(n) => self
                .visible_user(n, sight)
                .await?
                .map(|u| self.tree.user_entry(&u)),
            Node::VirtualGroup(n) => self
                .visible_user(n, sight)
                .await?
                .map(|u| self.tree.virtual_group_entry(&u)),
            Node::Group(n) => self
                .visible_group(n, sight)
                .await?
                .map(|g| self.tree.group_entry(&g, sight.member_restriction())),
            Node::Missing { .. } | Node::Outside => None,
        })
    }

    /// The entry a DN names, as this caller may see it (for Compare); `Err(matched)` when it
    /// does not exist.
    pub async fn lookup(&self, dn_text: &str) -> Result<Result<Entry, String>, DomainError> {
        let Ok(parsed) = Dn::parse(dn_text) else {
            return Ok(Err(String::new()));
        };
        if parsed.rdns.is_empty() {
            return Ok(Ok(root::root_dse(self.tree)));
        }
        let Some(principal) = self.principal else {
            return Ok(Err(String::new()));
        };
        let sight = self.sight(principal);
        let node = self.tree.locate(&parsed);
        match &node {
            Node::Missing { matched } => return Ok(Err(matched.clone())),
            Node::Outside => return Ok(Err(String::new())),
            _ => {}
        }
        Ok(self
            .entry_at(&node, &sight)
            .await?
            .ok_or_else(|| self.tree.base.clone()))
    }

    /// Resolves in-chain assertions over the group DAG: for `memberOf` the DNs of every user
    /// and group below the group, for `member` the DNs of every group above the member.
    pub(super) async fn resolve_chains(
        &self,
        assertions: &[(String, String)],
    ) -> Result<InChain, DomainError> {
        let mut all: Vec<Group> = Vec::new();
        let mut after = 0;
        loop {
            let chunk = groups::list(
                &self.state.store,
                &Filter::Compare(GroupField::Id, Cmp::Gt, Literal::Int(after)),
                &[(GroupSort::Field(GroupField::Id), Direction::Asc)],
                CHUNK,
                0,
            )
            .await?;
            let done = (chunk.len() as i64) < CHUNK;
            after = chunk.last().map_or(after, |g| g.id);
            all.extend(chunk);
            if done {
                break;
            }
        }
        let by_name: HashMap<String, &Group> = all.iter().map(|g| (dn::fold(&g.name), g)).collect();
        let norm = |s: String| dn::normalize(&s).unwrap_or(s);
        let mut chains = InChain::default();
        for (attribute, value) in assertions {
            let node = Dn::parse(value).ok().map(|d| self.tree.locate(&d));
            let mut set = HashSet::new();
            match (attribute.as_str(), node) {
                ("memberof", Some(Node::Group(name))) => {
                    let mut stack: Vec<&Group> =
                        by_name.get(&dn::fold(&name)).copied().into_iter().collect();
                    let mut visited = HashSet::new();
                    while let Some(g) = stack.pop() {
                        if !visited.insert(g.id) {
                            continue;
                        }
                        for m in &g.members {
                            set.insert(norm(self.tree.user_dn(&m.username)));
                        }
                        for c in &g.children {
                            set.insert(norm(self.tree.group_dn(&c.name)));
                            if let Some(child) = by_name.get(&dn::fold(&c.name)) {
                                stack.push(child);
                            }
                        }
                    }
                }
                ("member", Some(node @ (Node::User(_) | Node::Group(_)))) => {
                    let mut stack: Vec<&Group> = match &node {
                        Node::User(name) => {
                            set.insert(norm(self.tree.virtual_group_dn(name)));
                            all.iter()
                                .filter(|g| {
                                    g.members
                                        .iter()
                                        .any(|m| m.username.eq_ignore_ascii_case(name))
                                })
                                .collect()
                        }
                        Node::Group(name) => by_name
                            .get(&dn::fold(name))
                            .map(|g| {
                                g.parents
                                    .iter()
                                    .filter_map(|p| by_name.get(&dn::fold(&p.name)).copied())
                                    .collect()
                            })
                            .unwrap_or_default(),
                        _ => Vec::new(),
                    };
                    let mut visited = HashSet::new();
                    while let Some(g) = stack.pop() {
                        if !visited.insert(g.id) {
                            continue;
                        }
                        set.insert(norm(self.tree.group_dn(&g.name)));
                        for p in &g.parents {
                            if let Some(parent) = by_name.get(&dn::fold(&p.name)) {
                                stack.push(parent);
                            }
                        }
                    }
                }
                _ => {}
            }
            chains.sets.insert((attribute.clone(), value.clone()), set);
        }
        Ok(chains)
    }
}
