//! Carrying out an import plan: users in batches of transactions, then everything else with
//! the run's audit event in one more.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::plan::{self, Existing, Plan, Step};
use super::{Progress, Report, Source, USERS_PER_STEP, USERS_PER_TRANSACTION};

/// From this many users written on, the database is settled afterwards (statistics, index).
const SETTLE_AFTER_USERS: usize = 10_000;
use crate::auth::keys::Sealer;
use crate::domain::audit::{self, AuditContext};
use crate::domain::{DomainError, Timestamp};
use crate::store::import::{self as store_import, Link};
use crate::store::{install, Store};

/// Imports `source` (see the module documentation); with `dry_run` only reports what it would
/// do. `progress` is called as rows are written.
pub async fn run(
    store: &Store,
    sealer: &Sealer,
    source: &Source,
    dry_run: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, DomainError> {
    let existing = read_existing(store).await?;
    let plan = plan::plan(source, &existing, dry_run);
    if dry_run {
        return Ok(plan.report);
    }
    write(store, sealer, source, plan, progress).await
}

async fn read_existing(store: &Store) -> Result<Existing, DomainError> {
    let mut db = store;
    Ok(Existing {
        users: store_import::all_users(store).await?,
        groups: store_import::all_groups(store).await?,
        roles: store_import::all_roles(store).await?,
        tokens: store_import::all_tokens(store).await?,
        parents: store_import::all_links(store, Link::GroupParents).await?,
        members: store_import::all_links(store, Link::GroupMembers).await?,
        group_roles: store_import::all_links(store, Link::GroupRoles).await?,
        user_roles: store_import::all_links(store, Link::UserRoles).await?,
        grants: store_import::all_links(store, Link::RolePermissions).await?,
        install_id: install::install_id(&mut db).await?,
    })
}

async fn write(
    store: &Store,
    sealer: &Sealer,
    source: &Source,
    plan: Plan,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, DomainError> {
    let total = plan.size();
    let mut done = 0u64;
    progress(Progress { done, total });
    let Plan {
        delete_users,
        users,
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
    } = plan;

    // Users, in transactions of USERS_PER_TRANSACTION (the first also removes what they replace).
    let bulk = users.len() >= SETTLE_AFTER_USERS;
    let mut users = users.into_iter().peekable();
    let mut first = true;
    while first || users.peek().is_some() {
        let mut tx = store.begin().await?;
        if first {
            store_import::delete_users(&mut tx, &delete_users).await?;
            first = false;
        }
        let mut in_tx = 0;
        while in_tx < USERS_PER_TRANSACTION && users.peek().is_some() {
            let step: Vec<_> = users.by_ref().take(USERS_PER_STEP).collect();
            in_tx += step.len();
            done += step.len() as u64;
            store_import::upsert_users(&mut tx, step).await?;
        }
        tx.commit().await?;
        progress(Progress { done, total });
    }

    // Everything else, and the audit event, in one transaction.
    let mut tx = store.begin().await?;
    install::lock_bootstrap(&mut tx).await?;
    let mut real: HashMap<i64, i64> = HashMap::new();
    for step in &groups {
        match step {
            Step::Insert(row) => {
                real.insert(row.id, store_import::insert_group(&mut tx, row).await?);
            }
            Step::Update(row) => {
                store_import::update_group(&mut tx, row).await?;
            }
        }
    }
    let group_id = |id: i64| real.get(&id).copied().unwrap_or(id);
    let mut real_roles: HashMap<i64, i64> = HashMap::new();
    for step in &roles {
        match step {
            Step::Insert(row) => {
                real_roles.insert(row.id, store_import::insert_role(&mut tx, row).await?);
            }
            Step::Update(row) => {
                store_import::update_role(&mut tx, row).await?;
            }
        }
    }
    let role_id = |id: i64| real_roles.get(&id).copied().unwrap_or(id);
    done += (groups.len() + roles.len()) as u64;

    let remap = |pairs: &[(i64, i64)], a: &dyn Fn(i64) -> i64, b: &dyn Fn(i64) -> i64| {
        pairs
            .iter()
            .map(|(x, y)| (a(*x), b(*y)))
            .collect::<Vec<_>>()
    };
    let same = |id: i64| id;
    let links = [
        (Link::GroupParents, remap(&parents, &group_id, &group_id)),
        (Link::GroupMembers, remap(&members, &same, &group_id)),
        (Link::GroupRoles, remap(&group_roles, &group_id, &role_id)),
        (Link::UserRoles, remap(&user_roles, &same, &role_id)),
        (Link::RolePermissions, remap(&grants, &role_id, &same)),
    ];
    for (link, pairs) in &links {
        store_import::add_links(&mut tx, *link, pairs).await?;
        done += pairs.len() as u64;
    }

    store_import::delete_tokens(&mut tx, &delete_tokens).await?;
    for (mut token, key) in tokens {
        if let Some(key) = key {
            token.key_sealed = Some(
                sealer
                    .seal(&key)
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
            );
        }
        store_import::write_token(&mut tx, &token).await?;
        done += 1;
    }
    let now = Timestamp::now();
    if let Some(install_id) = &adopt_install_id {
        store_import::adopt_install_id(&mut tx, install_id, now.0).await?;
    }
    store_import::advance_ids(&mut tx).await?;
    let ctx = AuditContext {
        path: "gatehouse import".into(),
        method: "CLI".into(),
        system_actor: Some(audit::COMMAND_LINE_ACTOR.into()),
        ..AuditContext::default()
    };
    audit::record(
        &mut tx,
        &ctx,
        "system_task_execution",
        "model",
        None,
        None,
        event_context(source, &report),
    )
    .await?;
    tx.commit().await?;
    if bulk {
        // The planner's statistics and SQLite's search index must describe the tables as
        // they now are (as after `seed-users`).
        store.after_bulk_load().await?;
    }
    progress(Progress { done, total });
    Ok(report)
}

/// What the audit event says: where from, and the counts (never hashes or keys).
fn event_context(source: &Source, report: &Report) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert("name".into(), json!("gatehouse import"));
    context.insert(
        "message".into(),
        json!(format!("import from {}", source.origin)),
    );
    let counts = json!({
        "users": report.users,
        "groups": report.groups,
        "parents": report.parents,
        "memberships": report.memberships,
        "roles": report.roles,
        "permissions": report.permissions,
        "group_roles": report.group_roles,
        "user_roles": report.user_roles,
        "tokens": report.tokens,
        "replaced": report.replaced,
        "skipped": report.skipped.len(),
    });
    context.insert("import".into(), counts);
    context
}
