//! Carrying out an import: the users batch by batch (planned and written, in transactions of
//! [`USERS_PER_TRANSACTION`]), then the plan of everything else with the run's audit event in
//! one more transaction.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::plan::{self, Existing, Plan, Step};
use super::users::{Survey, UserPhase};
use super::{
    ImportSource, ImportUser, Progress, Report, Source, USERS_PER_STEP, USERS_PER_TRANSACTION,
};

/// From this many users written on, the database is settled afterwards (statistics, index).
const SETTLE_AFTER_USERS: u64 = 10_000;
use crate::auth::keys::Sealer;
use crate::domain::audit::{self, AuditContext};
use crate::domain::bootstrap::ADMIN_USERNAME;
use crate::domain::{DomainError, Timestamp};
use crate::store::import::{self as store_import, Link};
use crate::store::{install, Store, Tx};

/// Why an import stopped: the source could not be read, or the directory not written.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailure<E: std::error::Error + 'static> {
    /// Reading the source failed.
    #[error(transparent)]
    Source(E),
    /// Reading or writing the directory failed.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl<E: std::error::Error + 'static> From<crate::store::StoreError> for ImportFailure<E> {
    fn from(err: crate::store::StoreError) -> Self {
        ImportFailure::Domain(err.into())
    }
}

/// Imports `source` (see the module documentation); with `dry_run` only reports what it would
/// do. `progress` is called as rows are written. Returns the report and where the source came
/// from.
pub async fn run<S: ImportSource>(
    store: &Store,
    sealer: &Sealer,
    source: &mut S,
    dry_run: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Report, String), ImportFailure<S::Error>> {
    let mut db = store;
    let existing = read_existing(store).await?;
    let admin = store_import::users_matching(&mut db, &[], &[], &[ADMIN_USERNAME]).await?;
    let admin = admin.into_iter().find(|u| u.username == ADMIN_USERNAME);
    let mut survey = Survey::new(admin.as_ref().map(|a| a.uuid.clone()));
    let mut rest = source
        .read(&mut |user: &ImportUser| survey.see(user))
        .map_err(ImportFailure::Source)?;
    let mut report = plan::report(&rest, &existing, dry_run);
    let mut skipped = rest.skipped.clone();
    let max_id = store_import::max_user_id(&mut db).await?;
    let mut phase = UserPhase::new(&survey, admin.map(|a| a.id), max_id, &mut report);

    // Users, batch by batch; written in transactions of USERS_PER_TRANSACTION (the first also
    // removes the akadmin they replace).
    let mut done = 0u64;
    let mut total = survey.count;
    progress(Progress { done, total });
    source.rewind_users().map_err(ImportFailure::Source)?;
    let mut tx: Option<Tx> = None;
    let mut in_tx = 0;
    let mut written = 0u64;
    // Many users into a (nearly) empty directory, as a move to gatehouse is: one transaction,
    // with the user search index rebuilt at its end instead of maintained row by row (see
    // `store::import::suspend_search_index`); a failure leaves the directory as it was.
    let mut suspended = None;
    if !dry_run {
        let mut first = store.begin().await?;
        store_import::delete_users(&mut first, phase.deleted.as_slice()).await?;
        let here = store_import::count_users(&mut first).await?;
        let load = survey.count >= SETTLE_AFTER_USERS
            && u64::try_from(here).unwrap_or(u64::MAX).saturating_mul(10) <= survey.count;
        if load {
            suspended = store_import::suspend_search_index(&mut first).await?;
        }
        tx = Some(first);
    }
    loop {
        let users = source
            .next_users(USERS_PER_STEP)
            .map_err(ImportFailure::Source)?;
        if users.is_empty() {
            break;
        }
        done += users.len() as u64;
        let Some(open) = tx.as_mut() else {
            phase
                .plan(&mut db, users, &mut report, &mut skipped)
                .await?;
            continue;
        };
        let batch = phase.plan(open, users, &mut report, &mut skipped).await?;
        in_tx += batch.writes.len();
        written += batch.writes.len() as u64;
        store_import::upsert_users(open, batch.writes).await?;
        if in_tx >= USERS_PER_TRANSACTION && suspended.is_none() {
            if let Some(full) = tx.take() {
                full.commit().await?;
            }
            tx = Some(store.begin().await?);
            in_tx = 0;
        }
        progress(Progress { done, total });
    }
    if let Some(mut last) = tx.take() {
        if let Some(definition) = &suspended {
            store_import::rebuild_search_index(&mut last, definition).await?;
        }
        last.commit().await?;
    }

    // Everything else names users by their real ids, which exist here or were taken now.
    for (user, _) in &mut rest.memberships {
        *user = phase.real_id(*user);
    }
    for (user, _) in &mut rest.user_roles {
        *user = phase.real_id(*user);
    }
    for token in &mut rest.tokens {
        token.user_pk = phase.real_id(token.user_pk);
    }
    let present = present_users(store, &rest, &phase).await?;
    let plan = plan::plan(&rest, &existing, &present, report, skipped);
    if dry_run {
        return Ok((plan.report, rest.origin));
    }
    total += plan.size();
    let report = write(store, sealer, &rest, plan, done, total, written, progress).await?;
    Ok((report, rest.origin))
}

/// The ids of the users there are once the users are in: those the import took, and those
/// the rest of the source names that exist here (but not a replaced akadmin).
async fn present_users(
    store: &Store,
    rest: &Source,
    phase: &UserPhase,
) -> Result<HashSet<i64>, DomainError> {
    let named: HashSet<i64> = rest
        .memberships
        .iter()
        .map(|(u, _)| *u)
        .chain(rest.user_roles.iter().map(|(u, _)| *u))
        .chain(rest.tokens.iter().map(|t| t.user_pk))
        .filter(|id| !phase.taken.contains(id) && Some(*id) != phase.deleted)
        .collect();
    let named: Vec<i64> = named.into_iter().collect();
    let mut present = phase.taken.clone();
    let mut db = store;
    for chunk in named.chunks(USERS_PER_STEP) {
        present.extend(store_import::existing_user_ids(&mut db, chunk).await?);
    }
    Ok(present)
}

async fn read_existing(store: &Store) -> Result<Existing, DomainError> {
    let mut db = store;
    Ok(Existing {
        groups: store_import::all_groups(&mut db).await?,
        roles: store_import::all_roles(&mut db).await?,
        tokens: store_import::all_tokens(&mut db).await?,
        parents: store_import::all_links(&mut db, Link::GroupParents).await?,
        members: store_import::all_links(&mut db, Link::GroupMembers).await?,
        group_roles: store_import::all_links(&mut db, Link::GroupRoles).await?,
        user_roles: store_import::all_links(&mut db, Link::UserRoles).await?,
        grants: store_import::all_links(&mut db, Link::RolePermissions).await?,
        install_id: install::install_id(&mut db).await?,
    })
}

#[allow(clippy::too_many_arguments)]
async fn write(
    store: &Store,
    sealer: &Sealer,
    source: &Source,
    plan: Plan,
    mut done: u64,
    total: u64,
    users_written: u64,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, DomainError> {
    progress(Progress { done, total });
    let Plan {
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
    if users_written >= SETTLE_AFTER_USERS {
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
