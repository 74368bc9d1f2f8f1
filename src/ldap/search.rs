//! Search: resolves the base, walks the tree in a fixed order (base entry, `ou=users`, users by
//! pk, `ou=groups`, groups by pk, `ou=virtual-groups`, user-private groups by user pk),
//! evaluates the filter on each entry the caller may see, selects attributes, and honours size
//! and time limits and RFC 2696 paging. Users and groups are read from the domain in pk order,
//! a chunk at a time (keyset), never all at once; simple equalities on well-known attributes are
//! pushed down to the domain's filter so a lookup by `cn` reads one user. A paging cookie is the
//! keyset position (phase, last pk) and stays exact while the directory changes.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ldap3_proto::proto::{
    LdapFilter, LdapPartialAttribute, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry,
    LdapSearchScope,
};

use super::dn::{self, Dn};
use super::entry::{Entry, Node, Tree};
use super::filter::{self, InChain, Truth};
use super::root;
use crate::app::AppState;
use crate::domain::authz::{visibility, Principal, Visibility};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::groups::{self, Group, GroupField, GroupFilter, GroupRel, GroupSort};
use crate::domain::users::{self, User, UserField, UserFilter, UserRel, UserSort};
use crate::domain::DomainError;

/// Users or groups read per round trip to the domain.
const CHUNK: i64 = 200;

/// Where entries go as they are found (the connection's writer).
pub trait Sink {
    /// Sends one entry.
    fn entry(
        &mut self,
        entry: LdapSearchResultEntry,
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

/// The parts of a search position, in walk order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Base = 0,
    UsersOu = 1,
    Users = 2,
    GroupsOu = 3,
    Groups = 4,
    VirtualOu = 5,
    Virtual = 6,
}

const PHASES: [Phase; 7] = [
    Phase::Base,
    Phase::UsersOu,
    Phase::Users,
    Phase::GroupsOu,
    Phase::Groups,
    Phase::VirtualOu,
    Phase::Virtual,
];

/// A keyset position: resume at `phase` after pk `after`, with pushdown variant `variant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    phase: Phase,
    after: i64,
    variant: u8,
}

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

/// What the caller may see.
struct Sight {
    me: i64,
    my_dn: String,
    users: Visibility,
    groups: Visibility,
}

impl Sight {
    fn user_visible(&self, id: i64) -> bool {
        id == self.me
            || match &self.users {
                Visibility::All => true,
                Visibility::Only(pks) => pks.iter().any(|p| p == &id.to_string()),
                Visibility::Nothing => false,
            }
    }

    fn user_filter(&self) -> UserFilter {
        match &self.users {
            Visibility::All => Filter::All,
            Visibility::Only(pks) => {
                let mut ids: Vec<Literal> = pks
                    .iter()
                    .filter_map(|p| p.parse::<i64>().ok())
                    .map(Literal::Int)
                    .collect();
                ids.push(Literal::Int(self.me));
                Filter::In(UserField::Id, ids)
            }
            Visibility::Nothing => Filter::Compare(UserField::Id, Cmp::Eq, Literal::Int(self.me)),
        }
    }

    fn group_filter(&self) -> GroupFilter {
        let mine = Filter::Rel(GroupRel::MemberIds(vec![self.me]));
        match &self.groups {
            Visibility::All => Filter::All,
            Visibility::Only(uuids) => Filter::Or(vec![
                mine,
                Filter::In(
                    GroupField::Uuid,
                    uuids.iter().map(|u| Literal::Text(u.clone())).collect(),
                ),
            ]),
            Visibility::Nothing => mine,
        }
    }

    /// Whom a group's `member` may show: everyone, or only the caller.
    fn member_restriction(&self) -> Option<&str> {
        (!matches!(self.users, Visibility::All)).then_some(self.my_dn.as_str())
    }
}

/// Attribute selection of a request.
struct Selection {
    all_user: bool,
    all_operational: bool,
    named: HashSet<String>,
    types_only: bool,
}

impl Selection {
    fn of(req: &LdapSearchRequest) -> Selection {
        let attrs: Vec<String> = req
            .attrs
            .iter()
            .flat_map(|a| a.split(','))
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
            .collect();
        let only_none = !attrs.is_empty() && attrs.iter().all(|a| a == "1.1");
        Selection {
            all_user: !only_none && (attrs.is_empty() || attrs.iter().any(|a| a == "*")),
            all_operational: attrs.iter().any(|a| a == "+"),
            named: attrs.into_iter().collect(),
            types_only: req.typesonly,
        }
    }

    fn render(&self, entry: &Entry) -> LdapSearchResultEntry {
        let attributes = entry
            .attrs
            .iter()
            .filter(|a| {
                (if a.operational {
                    self.all_operational
                } else {
                    self.all_user
                }) || self.named.contains(&a.name.to_ascii_lowercase())
            })
            .map(|a| LdapPartialAttribute {
                atype: a.name.clone(),
                vals: if self.types_only {
                    Vec::new()
                } else {
                    a.values.iter().map(|v| v.as_bytes().to_vec()).collect()
                },
            })
            .collect();
        LdapSearchResultEntry {
            dn: entry.dn.clone(),
            attributes,
        }
    }
}

/// Equalities pushed down to the domain, each a list of variants tried in order (exact first,
/// then case-insensitive) until one finds something.
#[derive(Default)]
struct Pushdown {
    users: Vec<UserFilter>,
    groups: Vec<GroupFilter>,
    /// `memberOf=<group DN>`: the group's name as sent (resolved before the walk).
    member_of: Option<String>,
    /// `member=<user DN>`: the username as sent (resolved before the walk).
    member: Option<String>,
}

fn equalities(filter: &LdapFilter) -> Vec<(String, String)> {
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
    fn plan(tree: &Tree, filter: &LdapFilter) -> Pushdown {
        let mut plan = Pushdown::default();
        for (attribute, value) in equalities(filter) {
            match attribute.as_str() {
                "cn" | "samaccountname" if plan.users.is_empty() => {
                    plan.users = vec![
                        Filter::Compare(UserField::Username, Cmp::Eq, Literal::Text(value.clone())),
                        Filter::IExact(UserField::Username, value.clone()),
                    ];
                    plan.groups = vec![
                        Filter::Compare(GroupField::Name, Cmp::Eq, Literal::Text(value.clone())),
                        Filter::IExact(GroupField::Name, value),
                    ];
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

/// A short hash of what defines a search, so a cookie is refused for another request.
fn request_hash(req: &LdapSearchRequest) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    req.base.to_ascii_lowercase().hash(&mut h);
    (req.scope.clone() as i64).hash(&mut h);
    format!("{:?}", req.filter).hash(&mut h);
    h.finish()
}

fn encode_cookie(position: Position, hash: u64, nonce: u64) -> Vec<u8> {
    format!(
        "{}:{}:{}:{hash:x}:{nonce:x}",
        position.phase as u8, position.after, position.variant
    )
    .into_bytes()
}

fn decode_cookie(cookie: &[u8], hash: u64, nonce: u64) -> Option<Position> {
    let text = std::str::from_utf8(cookie).ok()?;
    let parts: Vec<&str> = text.split(':').collect();
    let [phase, after, variant, h, n] = parts.as_slice() else {
        return None;
    };
    if u64::from_str_radix(h, 16).ok()? != hash || u64::from_str_radix(n, 16).ok()? != nonce {
        return None;
    }
    let phase: u8 = phase.parse().ok()?;
    Some(Position {
        phase: *PHASES.get(phase as usize)?,
        after: after.parse().ok()?,
        variant: variant.parse().ok()?,
    })
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
        self.sink.entry(self.selection.render(entry)).await?;
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
                let chunk = users::list_cached(
                    &self.state.store,
                    &self.state.users,
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

    /// Turns `memberOf`/`member` DNs into membership filters on the names as stored (DN values
    /// match case-insensitively); a group or user that does not exist has no members or groups.
    async fn resolve_memberships(&self, plan: &mut Pushdown) -> Result<(), DomainError> {
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
            let user = super::bind::find_login(self.state, &sent).await?;
            plan.groups = vec![match user {
                Some(u) if dn::fold(&u.username) == dn::fold(&sent) => {
                    Filter::Rel(GroupRel::MemberUsernames(vec![u.username]))
                }
                _ => Filter::Nothing,
            }];
        }
        Ok(())
    }

    /// The user with this exact username, if the caller may see it.
    async fn visible_user(&self, name: &str, sight: &Sight) -> Result<Option<User>, DomainError> {
        let filter = Filter::and(vec![
            sight.user_filter(),
            Filter::Compare(
                UserField::Username,
                Cmp::Eq,
                Literal::Text(name.to_string()),
            ),
        ]);
        let found = users::list_cached(
            &self.state.store,
            &self.state.users,
            &filter,
            &[(UserSort::Field(UserField::Id), Direction::Asc)],
            1,
            0,
        )
        .await?;
        Ok(found.into_iter().next())
    }

    /// The group with this exact name, if the caller may see it.
    async fn visible_group(&self, name: &str, sight: &Sight) -> Result<Option<Group>, DomainError> {
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

    async fn entry_at(&self, node: &Node, sight: &Sight) -> Result<Option<Entry>, DomainError> {
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
    async fn resolve_chains(
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
