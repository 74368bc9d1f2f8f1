//! Search: resolves the base, walks the tree in a fixed order (base entry, `ou=users`, users by
//! pk, `ou=groups`, groups by pk, `ou=virtual-groups`, user-private groups by user pk),
//! evaluates the filter on each entry the caller may see, selects attributes, and honours size
//! and time limits and RFC 2696 paging. Users and groups are read from the domain in pk order,
//! a chunk at a time (keyset), never all at once; simple equalities on well-known attributes are
//! pushed down to the domain's filter so a lookup by `cn` reads one user. A paging cookie is the
//! keyset position (phase, last pk) and stays exact while the directory changes.
//!
//! `cookie` holds positions and cookies, `sight` what the caller may see, `select` attribute
//! selection, `plan` push-down, `lookup` single entries and in-chain sets.

use std::time::{Duration, Instant};

use ldap3_proto::proto::{LdapFilter, LdapResultCode, LdapSearchRequest, LdapSearchScope};

use super::dn::Dn;
use super::entry::{Entry, Node, Tree};
use super::filter::{self, InChain, Truth};
use super::root;
use crate::app::AppState;
use crate::domain::authz::{visibility, Principal};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::groups::{self, GroupField, GroupFilter, GroupSort};
use crate::domain::users::{UserField, UserFilter, UserSort};
use crate::domain::DomainError;

/// Users or groups read per round trip to the domain.
const CHUNK: i64 = 200;

/// Where entries go as they are found (the connection's writer).
pub trait Sink {
    /// Sends one entry, with the attributes `selection` keeps.
    fn entry(
        &mut self,
        entry: &Entry,
        selection: &Selection,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + Send;
}

/// How a search ended.
#[derive(Debug)]
pub struct Done {
    /// Result code.
    pub code: LdapResultCode,
    /// `matchedDN` (for noSuchObject).
    pub matched: String,
    /// Diagnostic message.
    pub message: String,
    /// The paged-results cookie to send back (`Some(empty)` on the last page).
    pub cookie: Option<Vec<u8>>,
}

impl Done {
    fn code(code: LdapResultCode, message: &str) -> Done {
        Done {
            code,
            matched: String::new(),
            message: message.to_string(),
            cookie: None,
        }
    }
}

/// Why a search stopped early with an error to the client.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The domain failed.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Writing to the client failed: the connection is gone.
    #[error("client connection: {0}")]
    Io(#[from] std::io::Error),
}

/// A paged-results request: page size and the cookie sent.
#[derive(Debug, Clone)]
pub struct Paging {
    /// Entries per page (0 abandons the search).
    pub size: usize,
    /// The cookie (empty on the first page).
    pub cookie: Vec<u8>,
}

mod cookie;
mod lookup;
mod plan;
mod select;
mod sight;

use cookie::{decode_cookie, encode_cookie, request_hash, Phase, Position, PHASES};
use plan::Pushdown;
pub use select::Selection;
use sight::Sight;

/// What one connection's searches share: the tree, the caller and the connection's nonce
/// (cookies from other connections are refused).
pub struct Searcher<'a> {
    /// Application state.
    pub state: &'a AppState,
    /// The tree.
    pub tree: &'a Tree,
    /// The bound caller (`None`: anonymous).
    pub principal: Option<&'a Principal>,
    /// This connection's cookie nonce.
    pub nonce: u64,
}

/// Mutable state of one walk: counts, limits, the position reached.
struct Walk<'s, S: Sink> {
    sink: &'s mut S,
    selection: Selection,
    filter: LdapFilter,
    chains: InChain,
    sent: usize,
    size_limit: usize,
    page: Option<usize>,
    deadline: Option<Instant>,
}

/// What offering one entry to the walk decided.
enum Step {
    Go,
    /// The size limit was reached with a further match: 4.
    SizeLimit,
    /// The page is full: stop here, the next page resumes after this entry.
    PageFull,
    /// The time limit passed: 3.
    TimeLimit,
}

impl<S: Sink> Walk<'_, S> {
    async fn offer(&mut self, entry: &Entry) -> Result<Step, SearchError> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Step::TimeLimit);
        }
        if filter::eval(&self.filter, entry, &self.chains) != Truth::True {
            return Ok(Step::Go);
        }
        if self.size_limit > 0 && self.sent >= self.size_limit {
            return Ok(Step::SizeLimit);
        }
        self.sink.entry(entry, &self.selection).await?;
        self.sent += 1;
        if self.page.is_some_and(|p| self.sent >= p) {
            return Ok(Step::PageFull);
        }
        Ok(Step::Go)
    }
}

/// Which of a node's subtree the scope covers: the phases to walk and, for a single entry,
/// which one.
fn phases_for(node: &Node, scope: &LdapSearchScope) -> Vec<Phase> {
    use LdapSearchScope as S;
    let (own, children): (Vec<Phase>, Vec<Phase>) = match node {
        Node::Base => (
            vec![Phase::Base],
            vec![Phase::UsersOu, Phase::GroupsOu, Phase::VirtualOu],
        ),
        Node::Users => (vec![Phase::UsersOu], vec![Phase::Users]),
        Node::Groups => (vec![Phase::GroupsOu], vec![Phase::Groups]),
        Node::VirtualGroups => (vec![Phase::VirtualOu], vec![Phase::Virtual]),
        Node::User(_) => (vec![Phase::Users], vec![]),
        Node::Group(_) => (vec![Phase::Groups], vec![]),
        Node::VirtualGroup(_) => (vec![Phase::Virtual], vec![]),
        Node::Missing { .. } | Node::Outside => (vec![], vec![]),
    };
    match scope {
        S::Base => own,
        S::OneLevel => children,
        _ => {
            if matches!(node, Node::Base) {
                PHASES.to_vec()
            } else {
                let mut all = own;
                all.extend(children);
                all.dedup();
                all
            }
        }
    }
}

impl Searcher<'_> {
    fn sight(&self, principal: &Principal) -> Sight {
        Sight {
            me: principal.user_id,
            my_dn: self.tree.user_dn(&principal.username),
            users: visibility(principal, "authentik_core.view_user"),
            groups: visibility(principal, "authentik_core.view_group"),
        }
    }

    /// Answers a search request, sending entries to `sink` as they are found.
    pub async fn search<S: Sink>(
        &self,
        req: &LdapSearchRequest,
        paging: Option<Paging>,
        sink: &mut S,
    ) -> Result<Done, SearchError> {
        let Ok(base) = Dn::parse(&req.base) else {
            return Ok(Done::code(
                LdapResultCode::InvalidDNSyntax,
                "invalid DN syntax",
            ));
        };
        let selection = Selection::of(req);
        let mut walk = Walk {
            sink,
            selection,
            filter: req.filter.clone(),
            chains: InChain::default(),
            sent: 0,
            size_limit: usize::try_from(req.sizelimit).unwrap_or(0),
            page: None,
            deadline: (req.timelimit > 0)
                .then(|| Instant::now() + Duration::from_secs(req.timelimit.unsigned_abs().into())),
        };
        // The rootDSE and the subschema are anyone's to read.
        if base.rdns.is_empty() {
            if req.scope != LdapSearchScope::Base {
                return Ok(Done::code(LdapResultCode::NoSuchObject, "no such object"));
            }
            return Ok(finish(walk.offer(&root::root_dse(self.tree)).await?));
        }
        if base.normalized() == "cn=subschema" {
            if req.scope == LdapSearchScope::OneLevel {
                return Ok(Done::code(LdapResultCode::Success, ""));
            }
            return Ok(finish(walk.offer(&root::subschema()).await?));
        }
        let Some(principal) = self.principal else {
            return Ok(Done::code(
                LdapResultCode::InsufficentAccessRights,
                "anonymous callers may read the rootDSE and the subschema only",
            ));
        };
        let sight = self.sight(principal);
        let node = self.tree.locate(&base);
        let leaf = matches!(node, Node::User(_) | Node::Group(_) | Node::VirtualGroup(_));
        if leaf && self.entry_at(&node, &sight).await?.is_none() {
            let matched = match node {
                Node::User(_) => self.tree.container_dn("users"),
                Node::Group(_) => self.tree.container_dn("groups"),
                _ => self.tree.container_dn("virtual-groups"),
            };
            return Ok(Done {
                matched,
                ..Done::code(LdapResultCode::NoSuchObject, "no such object")
            });
        }
        match &node {
            Node::Outside => {
                return Ok(Done::code(LdapResultCode::NoSuchObject, "no such object"));
            }
            Node::Missing { matched } => {
                return Ok(Done {
                    matched: matched.clone(),
                    ..Done::code(LdapResultCode::NoSuchObject, "no such object")
                })
            }
            _ => {}
        }
        let hash = request_hash(req);
        let mut start = Position {
            phase: Phase::Base,
            after: 0,
            variant: 0,
        };
        if let Some(p) = &paging {
            if !p.cookie.is_empty() {
                match decode_cookie(&p.cookie, hash, self.nonce) {
                    Some(pos) => start = pos,
                    None => {
                        return Ok(Done::code(
                            LdapResultCode::UnwillingToPerform,
                            "paged results cookie is invalid",
                        ))
                    }
                }
            }
            if p.size == 0 {
                return Ok(Done {
                    cookie: Some(Vec::new()),
                    ..Done::code(LdapResultCode::Success, "")
                });
            }
            walk.page = Some(p.size);
        }
        let mut assertions = Vec::new();
        filter::in_chain_assertions(&req.filter, &mut assertions);
        if !assertions.is_empty() {
            walk.chains = self.resolve_chains(&assertions).await?;
        }
        let mut plan = Pushdown::plan(self.tree, &req.filter);
        self.resolve_memberships(&mut plan).await?;
        let phases = phases_for(&node, &req.scope);
        let single = match &node {
            Node::User(n) | Node::Group(n) | Node::VirtualGroup(n) => Some(n.clone()),
            _ => None,
        };
        for phase in phases.into_iter().filter(|p| *p >= start.phase) {
            let from = if phase == start.phase {
                start
            } else {
                Position {
                    phase,
                    after: 0,
                    variant: 0,
                }
            };
            let stopped = match phase {
                Phase::Base | Phase::UsersOu | Phase::GroupsOu | Phase::VirtualOu => {
                    let entry = match phase {
                        Phase::Base => self.tree.base_entry(root::root_attrs(self.tree)),
                        Phase::UsersOu => self.tree.container_entry("users"),
                        Phase::GroupsOu => self.tree.container_entry("groups"),
                        _ => self.tree.container_entry("virtual-groups"),
                    };
                    let step = walk.offer(&entry).await?;
                    let next = PHASES
                        .iter()
                        .copied()
                        .find(|p| *p > phase)
                        .unwrap_or(Phase::Virtual);
                    stop_at(
                        step,
                        Position {
                            phase: next,
                            after: 0,
                            variant: 0,
                        },
                    )
                }
                Phase::Users | Phase::Virtual => {
                    self.walk_users(&mut walk, &sight, &plan, from, single.as_deref())
                        .await?
                }
                Phase::Groups => {
                    self.walk_groups(&mut walk, &sight, &plan, from, single.as_deref())
                        .await?
                }
            };
            if let Some((step, position)) = stopped {
                return Ok(match step {
                    Step::PageFull => {
                        // Another page only if something may follow.
                        Done {
                            cookie: Some(encode_cookie(position, hash, self.nonce)),
                            ..Done::code(LdapResultCode::Success, "")
                        }
                    }
                    other => finish(other),
                });
            }
        }
        Ok(Done {
            cookie: paging.map(|_| Vec::new()),
            ..Done::code(LdapResultCode::Success, "")
        })
    }

    /// Walks users (or their private groups) in pk order from `from`.
    async fn walk_users<S: Sink>(
        &self,
        walk: &mut Walk<'_, S>,
        sight: &Sight,
        plan: &Pushdown,
        from: Position,
        single: Option<&str>,
    ) -> Result<Option<(Step, Position)>, SearchError> {
        let virtual_groups = from.phase == Phase::Virtual;
        let variants: Vec<UserFilter> = match single {
            Some(name) => vec![Filter::Compare(
                UserField::Username,
                Cmp::Eq,
                Literal::Text(name.to_string()),
            )],
            None if plan.users.is_empty() => vec![Filter::All],
            None => plan.users.clone(),
        };
        let mut variant = usize::from(from.variant);
        let mut after = from.after;
        let mut seen_any = after > 0;
        while let Some(pushed) = variants.get(variant) {
            loop {
                let filter = Filter::and(vec![
                    sight.user_filter(),
                    pushed.clone(),
                    Filter::Compare(UserField::Id, Cmp::Gt, Literal::Int(after)),
                ]);
                let chunk = self
                    .state
                    .directory
                    .list_users_shared(
                        &filter,
                        &[(UserSort::Field(UserField::Id), Direction::Asc)],
                        CHUNK,
                        0,
                    )
                    .await?;
                let done = (chunk.len() as i64) < CHUNK;
                for user in chunk {
                    seen_any = true;
                    after = user.id;
                    if !sight.user_visible(user.id) {
                        continue;
                    }
                    let entry = if virtual_groups {
                        self.tree.virtual_group_entry(&user)
                    } else {
                        self.tree.user_entry(&user)
                    };
                    let step = walk.offer(&entry).await?;
                    if !matches!(step, Step::Go) {
                        let position = Position {
                            phase: from.phase,
                            after,
                            variant: u8::try_from(variant).unwrap_or(0),
                        };
                        return Ok(Some((step, position)));
                    }
                }
                if done {
                    break;
                }
            }
            if seen_any {
                break;
            }
            variant += 1;
        }
        Ok(None)
    }

    /// Walks groups in pk order from `from`.
    async fn walk_groups<S: Sink>(
        &self,
        walk: &mut Walk<'_, S>,
        sight: &Sight,
        plan: &Pushdown,
        from: Position,
        single: Option<&str>,
    ) -> Result<Option<(Step, Position)>, SearchError> {
        let variants: Vec<GroupFilter> = match single {
            Some(name) => vec![Filter::Compare(
                GroupField::Name,
                Cmp::Eq,
                Literal::Text(name.to_string()),
            )],
            None if plan.groups.is_empty() => vec![Filter::All],
            None => plan.groups.clone(),
        };
        let restriction = sight.member_restriction();
        let mut variant = usize::from(from.variant);
        let mut after = from.after;
        let mut seen_any = after > 0;
        while let Some(pushed) = variants.get(variant) {
            loop {
                let filter = Filter::and(vec![
                    sight.group_filter(),
                    pushed.clone(),
                    Filter::Compare(GroupField::Id, Cmp::Gt, Literal::Int(after)),
                ]);
                let chunk = groups::list(
                    &self.state.store,
                    &filter,
                    &[(GroupSort::Field(GroupField::Id), Direction::Asc)],
                    CHUNK,
                    0,
                )
                .await?;
                let done = (chunk.len() as i64) < CHUNK;
                for group in chunk {
                    seen_any = true;
                    after = group.id;
                    let step = walk
                        .offer(&self.tree.group_entry(&group, restriction))
                        .await?;
                    if !matches!(step, Step::Go) {
                        let position = Position {
                            phase: Phase::Groups,
                            after,
                            variant: u8::try_from(variant).unwrap_or(0),
                        };
                        return Ok(Some((step, position)));
                    }
                }
                if done {
                    break;
                }
            }
            if seen_any {
                break;
            }
            variant += 1;
        }
        Ok(None)
    }
}

fn stop_at(step: Step, position: Position) -> Option<(Step, Position)> {
    match step {
        Step::Go => None,
        other => Some((other, position)),
    }
}

fn finish(step: Step) -> Done {
    match step {
        Step::SizeLimit => Done::code(LdapResultCode::SizeLimitExceeded, "size limit exceeded"),
        Step::TimeLimit => Done::code(LdapResultCode::TimeLimitExceeded, "time limit exceeded"),
        Step::Go | Step::PageFull => Done::code(LdapResultCode::Success, ""),
    }
}
