//! Matching a source's groups, roles, links and tokens against what exists: which rows to
//! insert, overwrite, replace or skip, decided before any of them is written (a dry run stops
//! here). New groups and roles get negative stand-in ids until they are inserted. Users are
//! planned batch by batch before this (`users`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::links;
use super::{InstallId, Report, Skip, Source, Tally};
use crate::domain::bootstrap::{ADMIN_GROUP, BOOTSTRAP_TOKEN_IDENTIFIER};
use crate::domain::tokens::Intent;
use crate::store::import::{Edge, GroupRow, ImportedToken, RoleRow, TokenRow};

/// What exists now.
pub(super) struct Existing {
    pub groups: Vec<GroupRow>,
    pub roles: Vec<RoleRow>,
    pub tokens: Vec<TokenRow>,
    pub parents: Vec<Edge>,
    pub members: Vec<Edge>,
    pub group_roles: Vec<Edge>,
    pub user_roles: Vec<Edge>,
    pub grants: Vec<Edge>,
    pub install_id: Option<String>,
}

/// A group or role write.
pub(super) enum Step<T> {
    /// A new row (its id is a stand-in).
    Insert(T),
    /// Overwrite the row with this id.
    Update(T),
}

/// Everything to write, and the report it makes.
pub(super) struct Plan {
    pub groups: Vec<Step<GroupRow>>,
    pub roles: Vec<Step<RoleRow>>,
    pub delete_tokens: Vec<i64>,
    /// Tokens to write, with the key to seal when it is new or changed.
    pub tokens: Vec<(ImportedToken, Option<String>)>,
    pub parents: Vec<(i64, i64)>,
    pub members: Vec<(i64, i64)>,
    pub group_roles: Vec<(i64, i64)>,
    pub user_roles: Vec<(i64, i64)>,
    pub grants: Vec<(i64, i64)>,
    pub adopt_install_id: Option<String>,
    pub report: Report,
}

impl Plan {
    /// Rows to write, for progress.
    pub fn size(&self) -> u64 {
        (self.groups.len()
            + self.roles.len()
            + self.tokens.len()
            + self.parents.len()
            + self.members.len()
            + self.group_roles.len()
            + self.user_roles.len()
            + self.grants.len()) as u64
    }
}

fn attributes_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

fn same_json(stored: &str, wanted: &Value) -> bool {
    serde_json::from_str::<Value>(stored).is_ok_and(|v| &v == wanted)
}

/// The report before anything is planned: the install id, and the rows the reader left out.
pub(super) fn report(source: &Source, existing: &Existing, dry_run: bool) -> Report {
    let mut report = Report {
        dry_run,
        users: Tally::default(),
        groups: Tally::default(),
        parents: Tally::default(),
        memberships: Tally::default(),
        roles: Tally::default(),
        permissions: Tally::default(),
        group_roles: Tally::default(),
        user_roles: Tally::default(),
        tokens: Tally::default(),
        replaced: Vec::new(),
        hash_schemes: BTreeMap::new(),
        install_id: match &existing.install_id {
            Some(id) => InstallId::Kept(id.clone()),
            None => match &source.install_id {
                Some(id) => InstallId::Adopted(id.clone()),
                None => InstallId::Pending,
            },
        },
        skipped: Vec::new(),
    };
    for skip in &source.skipped {
        if let Some(tally) = tally_of(&mut report, &skip.kind) {
            tally.skipped += 1;
        }
    }
    report
}

/// Decides every write but the users' (planned batch by batch before this, see `users`):
/// `source` is everything else, its user ids already real, `present` the ids of the users
/// there will be, `skipped` what was left out so far.
pub(super) fn plan(
    source: &Source,
    existing: &Existing,
    present: &HashSet<i64>,
    mut report: Report,
    mut skipped: Vec<Skip>,
) -> Plan {
    let skipped = &mut skipped;
    let (groups, group_ids) = plan_groups(source, existing, &mut report, skipped);
    let (roles, role_ids) = plan_roles(source, existing, &mut report, skipped);
    let (delete_tokens, tokens) = plan_tokens(source, existing, present, &mut report, skipped);

    let parents = links::parents(source, existing, &group_ids, &mut report, skipped);
    let members = links::pairs(
        "membership",
        source
            .memberships
            .iter()
            .map(|(u, g)| (u.to_string(), g.clone())),
        |u| u.parse().ok().filter(|id| present.contains(id)),
        |g| group_ids.get(g).copied(),
        &existing.members,
        &mut report.memberships,
        skipped,
    );
    let group_roles = links::pairs(
        "group role",
        source.group_roles.iter().cloned(),
        |g| group_ids.get(g).copied(),
        |r| role_ids.get(r).copied(),
        &existing.group_roles,
        &mut report.group_roles,
        skipped,
    );
    let user_roles = links::pairs(
        "user role",
        source
            .user_roles
            .iter()
            .map(|(u, r)| (u.to_string(), r.clone())),
        |u| u.parse().ok().filter(|id| present.contains(id)),
        |r| role_ids.get(r).copied(),
        &existing.user_roles,
        &mut report.user_roles,
        skipped,
    );
    let grants = links::grants(source, existing, &role_ids, &mut report, skipped);
    let adopt_install_id = match &report.install_id {
        InstallId::Adopted(id) => Some(id.clone()),
        InstallId::Kept(_) | InstallId::Pending => None,
    };
    report.skipped = std::mem::take(skipped);
    Plan {
        groups,
        roles,
        delete_tokens,
        tokens,
        parents,
        members,
        group_roles,
        user_roles,
        grants,
        adopt_install_id,
        report,
    }
}

/// The tally a reader's skip counts in: none for whole source entries that are neither kind
/// (`entry`) and for passwords left unusable (`password`: the user itself is imported).
fn tally_of<'a>(report: &'a mut Report, kind: &str) -> Option<&'a mut Tally> {
    Some(match kind {
        "user" => &mut report.users,
        "group" => &mut report.groups,
        "parent" => &mut report.parents,
        "membership" => &mut report.memberships,
        "role" => &mut report.roles,
        "group role" => &mut report.group_roles,
        "user role" => &mut report.user_roles,
        "token" => &mut report.tokens,
        "entry" | "password" => return None,
        _ => &mut report.permissions,
    })
}

/// Groups: (writes, uuid → id for every imported group).
fn plan_groups(
    source: &Source,
    existing: &Existing,
    report: &mut Report,
    skipped: &mut Vec<Skip>,
) -> (Vec<Step<GroupRow>>, HashMap<String, i64>) {
    let by_uuid: HashMap<&str, &GroupRow> = existing
        .groups
        .iter()
        .map(|g| (g.uuid.as_str(), g))
        .collect();
    let by_name: HashMap<&str, &GroupRow> = existing
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g))
        .collect();
    let mut ids = HashMap::new();
    let mut steps = Vec::new();
    let mut seen_names = HashSet::new();
    let mut next_new = -1;
    for group in &source.groups {
        let mut skip = |reason: String| {
            skipped.push(Skip::new("group", &group.name, reason));
            report.groups.skipped += 1;
        };
        if group.name.is_empty() || uuid::Uuid::parse_str(&group.uuid).is_err() {
            skip("empty name or malformed uuid".into());
            continue;
        }
        if !group.attributes.is_object() {
            skip("attributes are not a JSON object".into());
            continue;
        }
        if !seen_names.insert(group.name.as_str()) || ids.contains_key(&group.uuid) {
            skip("the source holds this name or uuid twice".into());
            continue;
        }
        let mut row = GroupRow {
            id: 0,
            uuid: group.uuid.clone(),
            name: group.name.clone(),
            is_superuser: group.is_superuser,
            attributes: attributes_text(&group.attributes),
        };
        let named = by_name.get(group.name.as_str());
        match by_uuid.get(group.uuid.as_str()) {
            Some(current) => {
                if named.is_some_and(|n| n.id != current.id) {
                    skip("another group here has this name".into());
                    continue;
                }
                row.id = current.id;
                if current.name == row.name
                    && current.is_superuser == row.is_superuser
                    && same_json(&current.attributes, &group.attributes)
                {
                    report.groups.unchanged += 1;
                } else {
                    report.groups.updated += 1;
                    steps.push(Step::Update(row));
                }
                ids.insert(group.uuid.clone(), current.id);
            }
            None => match named {
                Some(current) if group.name == ADMIN_GROUP => {
                    // Gatehouse's own admin group takes the imported one's uuid and values.
                    row.id = current.id;
                    report.replaced.push(format!("group {ADMIN_GROUP}"));
                    report.groups.updated += 1;
                    ids.insert(group.uuid.clone(), current.id);
                    steps.push(Step::Update(row));
                }
                Some(current) => {
                    skip(format!(
                        "another group here (uuid {}) has this name",
                        current.uuid
                    ));
                }
                None => {
                    row.id = next_new;
                    next_new -= 1;
                    report.groups.created += 1;
                    ids.insert(group.uuid.clone(), row.id);
                    steps.push(Step::Insert(row));
                }
            },
        }
    }
    (steps, ids)
}

/// Roles: (writes, uuid → id for every imported role).
fn plan_roles(
    source: &Source,
    existing: &Existing,
    report: &mut Report,
    skipped: &mut Vec<Skip>,
) -> (Vec<Step<RoleRow>>, HashMap<String, i64>) {
    let by_uuid: HashMap<&str, &RoleRow> = existing
        .roles
        .iter()
        .map(|r| (r.uuid.as_str(), r))
        .collect();
    let by_name: HashMap<&str, &RoleRow> = existing
        .roles
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect();
    let by_managed: HashMap<&str, &RoleRow> = existing
        .roles
        .iter()
        .filter_map(|r| r.managed.as_deref().map(|m| (m, r)))
        .collect();
    let mut ids = HashMap::new();
    let mut steps = Vec::new();
    let mut next_new = -1;
    for role in &source.roles {
        let mut skip = |reason: String| {
            skipped.push(Skip::new("role", &role.name, reason));
            report.roles.skipped += 1;
        };
        if role.name.is_empty() || uuid::Uuid::parse_str(&role.uuid).is_err() {
            skip("empty name or malformed uuid".into());
            continue;
        }
        if ids.contains_key(&role.uuid) {
            skip("the source holds this uuid twice".into());
            continue;
        }
        let current = by_uuid.get(role.uuid.as_str());
        let current_id = current.map(|c| c.id);
        let clash = by_name
            .get(role.name.as_str())
            .filter(|r| Some(r.id) != current_id)
            .or_else(|| {
                role.managed
                    .as_deref()
                    .and_then(|m| by_managed.get(m))
                    .filter(|r| Some(r.id) != current_id)
            });
        if let Some(other) = clash {
            skip(format!(
                "another role here (uuid {}) has this name or managed marker",
                other.uuid
            ));
            continue;
        }
        let mut row = RoleRow {
            id: 0,
            uuid: role.uuid.clone(),
            name: role.name.clone(),
            managed: role.managed.clone(),
        };
        let id = match current {
            Some(current) => {
                row.id = current.id;
                if current.name == row.name && current.managed == row.managed {
                    report.roles.unchanged += 1;
                } else {
                    report.roles.updated += 1;
                    steps.push(Step::Update(row));
                }
                current.id
            }
            None => {
                row.id = next_new;
                next_new -= 1;
                report.roles.created += 1;
                steps.push(Step::Insert(row));
                next_new + 1
            }
        };
        ids.insert(role.uuid.clone(), id);
    }
    (steps, ids)
}

/// Tokens: (ids to delete first, writes with the key to seal).
fn plan_tokens(
    source: &Source,
    existing: &Existing,
    present: &HashSet<i64>,
    report: &mut Report,
    skipped: &mut Vec<Skip>,
) -> (Vec<i64>, Vec<(ImportedToken, Option<String>)>) {
    let by_uuid: HashMap<&str, &TokenRow> = existing
        .tokens
        .iter()
        .map(|t| (t.uuid.as_str(), t))
        .collect();
    let by_identifier: HashMap<&str, &TokenRow> = existing
        .tokens
        .iter()
        .map(|t| (t.identifier.as_str(), t))
        .collect();
    let by_hash: HashMap<&str, &TokenRow> = existing
        .tokens
        .iter()
        .map(|t| (t.key_hash.as_str(), t))
        .collect();
    let by_managed: HashMap<&str, &TokenRow> = existing
        .tokens
        .iter()
        .filter_map(|t| t.managed.as_deref().map(|m| (m, t)))
        .collect();
    let now = crate::domain::Timestamp::now().0;
    let mut taken_ids: HashSet<i64> = existing.tokens.iter().map(|t| t.id).collect();
    let mut deletes = Vec::new();
    let mut writes = Vec::new();
    let mut seen = HashSet::new();
    for token in &source.tokens {
        let mut skip = |reason: String| {
            skipped.push(Skip::new("token", &token.identifier, reason));
            report.tokens.skipped += 1;
        };
        match Intent::parse(&token.intent) {
            Some(Intent::Api | Intent::AppPassword) => {}
            _ => {
                skip(format!(
                    "intent {:?} is not an API token or app password",
                    token.intent
                ));
                continue;
            }
        }
        if token.identifier.is_empty() {
            skip("empty identifier".into());
            continue;
        }
        if token.key.is_empty() {
            skip("no key (an export made without --include-token-keys)".into());
            continue;
        }
        if uuid::Uuid::parse_str(&token.uuid).is_err() || !seen.insert(token.uuid.as_str()) {
            skip("malformed or repeated uuid".into());
            continue;
        }
        if !present.contains(&token.user_pk) {
            skip(format!(
                "its owner (user id {}) is not imported",
                token.user_pk
            ));
            continue;
        }
        let key_hash = crate::auth::keys::lookup_hash(&token.key);
        let current = by_uuid.get(token.uuid.as_str()).copied();
        let mut replaced = None;
        let mut clash = None;
        if let Some(other) = by_identifier.get(token.identifier.as_str()) {
            if current.map(|c| c.id) != Some(other.id) {
                if token.identifier == BOOTSTRAP_TOKEN_IDENTIFIER && current.is_none() {
                    replaced = Some(other.id);
                } else {
                    clash = Some("identifier");
                }
            }
        }
        let held = |t: &&TokenRow| current.map(|c| c.id) != Some(t.id) && replaced != Some(t.id);
        if by_hash.get(key_hash.as_str()).is_some_and(held) {
            clash = Some("key");
        }
        if let Some(m) = token.managed.as_deref() {
            if by_managed.get(m).is_some_and(held) {
                clash = Some("managed marker");
            }
        }
        if let Some(what) = clash {
            skip(format!("another token here has this {what}"));
            continue;
        }
        let mut row = ImportedToken {
            id: current.map(|c| c.id),
            insert_id: None,
            uuid: token.uuid.clone(),
            identifier: token.identifier.clone(),
            key_hash: key_hash.clone(),
            key_sealed: None,
            intent: token.intent.clone(),
            user_id: token.user_pk,
            description: token.description.clone(),
            expires: token.expires,
            expiring: token.expiring,
            managed: token.managed.clone(),
            created: token.created.unwrap_or(now),
        };
        if let Some(id) = replaced {
            deletes.push(id);
            report
                .replaced
                .push(format!("token {BOOTSTRAP_TOKEN_IDENTIFIER}"));
        }
        match current {
            Some(c) => {
                let key_changed = c.key_hash != key_hash;
                let same = !key_changed
                    && c.identifier == row.identifier
                    && c.intent == row.intent
                    && c.user_id == row.user_id
                    && c.description == row.description
                    && c.expires == row.expires
                    && c.expiring == row.expiring
                    && c.managed == row.managed;
                if same {
                    report.tokens.unchanged += 1;
                } else {
                    report.tokens.updated += 1;
                    let key = key_changed.then(|| token.key.clone());
                    writes.push((row, key));
                }
            }
            None => {
                report.tokens.created += 1;
                row.id = None;
                // Keep the source's id when it is free (a replaced token's id is not: its row
                // goes only in the same transaction).
                row.insert_id = token.id.filter(|id| *id > 0 && taken_ids.insert(*id));
                writes.push((row, Some(token.key.clone())));
            }
        }
    }
    (deletes, writes)
}
