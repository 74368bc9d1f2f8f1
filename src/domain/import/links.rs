//! Planning the links of an import (parents, memberships, role holders, grants): only the new
//! ones are written; existing ones are counted; parents that would close a cycle are skipped.

use std::collections::{HashMap, HashSet};

use super::plan::Existing;
use super::{Report, Skip, Source, Tally};
use crate::domain::permissions;
use crate::store::import::Edge;

/// Parent links that are new, leaving out any that would close a cycle.
pub(super) fn parents(
    source: &Source,
    existing: &Existing,
    group_ids: &HashMap<String, i64>,
    report: &mut Report,
    skipped: &mut Vec<Skip>,
) -> Vec<(i64, i64)> {
    let mut graph: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut have: HashSet<(i64, i64)> = HashSet::new();
    for e in &existing.parents {
        graph.entry(e.a).or_default().push(e.b);
        have.insert((e.a, e.b));
    }
    let mut out = Vec::new();
    for group in &source.groups {
        let Some(&child) = group_ids.get(&group.uuid) else {
            continue;
        };
        for parent_uuid in &group.parents {
            let name = format!("{} → {parent_uuid}", group.name);
            let Some(&parent) = group_ids.get(parent_uuid) else {
                skipped.push(Skip::new(
                    "parent",
                    name,
                    "the parent group is not imported",
                ));
                report.parents.skipped += 1;
                continue;
            };
            if have.contains(&(child, parent)) {
                report.parents.unchanged += 1;
                continue;
            }
            if child == parent || reaches(&graph, parent, child) {
                skipped.push(Skip::new("parent", name, "it would make a cycle"));
                report.parents.skipped += 1;
                continue;
            }
            graph.entry(child).or_default().push(parent);
            have.insert((child, parent));
            report.parents.created += 1;
            out.push((child, parent));
        }
    }
    out
}

/// Whether `to` is an ancestor of (or is) `from`.
fn reaches(graph: &HashMap<i64, Vec<i64>>, from: i64, to: i64) -> bool {
    let mut stack = vec![from];
    let mut seen = HashSet::new();
    while let Some(at) = stack.pop() {
        if at == to {
            return true;
        }
        if seen.insert(at) {
            stack.extend(graph.get(&at).into_iter().flatten().copied());
        }
    }
    false
}

/// Links between two kinds of imported objects: the new ones (existing ones counted).
pub(super) fn pairs(
    kind: &str,
    pairs: impl Iterator<Item = (String, String)>,
    first: impl Fn(&String) -> Option<i64>,
    second: impl Fn(&String) -> Option<i64>,
    existing: &[Edge],
    tally: &mut Tally,
    skipped: &mut Vec<Skip>,
) -> Vec<(i64, i64)> {
    let mut have: HashSet<(i64, i64)> = existing.iter().map(|e| (e.a, e.b)).collect();
    let mut out = Vec::new();
    for (a, b) in pairs {
        match (first(&a), second(&b)) {
            (Some(x), Some(y)) => {
                if have.insert((x, y)) {
                    tally.created += 1;
                    out.push((x, y));
                } else {
                    tally.unchanged += 1;
                }
            }
            _ => {
                skipped.push(Skip::new(
                    kind,
                    format!("{a} → {b}"),
                    "one side is not imported",
                ));
                tally.skipped += 1;
            }
        }
    }
    out
}

/// Global grants of imported roles, for the permissions gatehouse knows.
pub(super) fn grants(
    source: &Source,
    existing: &Existing,
    role_ids: &HashMap<String, i64>,
    report: &mut Report,
    skipped: &mut Vec<Skip>,
) -> Vec<(i64, i64)> {
    let mut have: HashSet<(i64, i64)> = existing.grants.iter().map(|e| (e.a, e.b)).collect();
    let mut out = Vec::new();
    for role in &source.roles {
        let Some(&role_id) = role_ids.get(&role.uuid) else {
            continue;
        };
        for dotted in &role.permissions {
            let Some(permission) = permissions::by_dotted(dotted) else {
                skipped.push(Skip::new(
                    "permission",
                    format!("{}: {dotted}", role.name),
                    "not a permission gatehouse knows",
                ));
                report.permissions.skipped += 1;
                continue;
            };
            if have.insert((role_id, permission.id)) {
                report.permissions.created += 1;
                out.push((role_id, permission.id));
            } else {
                report.permissions.unchanged += 1;
            }
        }
    }
    out
}
