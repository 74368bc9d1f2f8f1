//! User reads: one user, counts, pages and paths (with the caches that keep them exact under
//! writes), turning stored rows into `User`s, and the caller's own view (`me`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::batch::{LookupBatches, UserKey};
use super::model::{AvatarUri, GroupSummary, RoleSummary, User, UserFilter, UserSort, UserType};
use crate::domain::cache::{CacheCounters, EpochCache};
use crate::domain::error::ObjectKind;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::{DomainError, Timestamp};
use crate::query::users::UserField;
use crate::store::users::SuperuserGroups;
use crate::store::{users as store_users, Changes, Store, Touched};

/// The caches of user reads, exact under writes (see `domain::cache`): users by id, the ids of
/// small pages by query (a lookup by username, e-mail or LDAP `cn` reads no row when nothing
/// was written since) and the groups that make their members superusers (read once per write
/// epoch instead of with every uncached user); and the uncached lookups of single users waiting
/// to be read together (`batch`).
pub struct UserCache {
    by_id: EpochCache<i64, Arc<User>>,
    pages: EpochCache<String, Arc<[i64]>>,
    superuser_groups: EpochCache<(), Arc<[i64]>>,
    batches: Arc<LookupBatches>,
}

/// Most ids a page may hold to be kept by query: lookups, not listings (a listing's pages are
/// read once each and would only crowd the lookups out).
const CACHED_PAGE_IDS: usize = 16;

impl UserCache {
    /// Empty caches holding at most `capacity` users and as many lookups.
    pub fn new(capacity: usize) -> Self {
        UserCache {
            by_id: EpochCache::new(Touched::DIRECTORY, capacity),
            pages: EpochCache::new(Touched::DIRECTORY, capacity),
            superuser_groups: EpochCache::new(Touched::DIRECTORY, 1),
            batches: Arc::default(),
        }
    }

    /// The user with this id if it was cached in the current epoch.
    pub fn get(&self, changes: &Changes, id: &i64) -> Option<User> {
        self.by_id.get(changes, id).map(Arc::unwrap_or_clone)
    }

    /// Hit and miss counters of the users by id.
    pub fn counters(&self) -> &Arc<CacheCounters> {
        self.by_id.counters()
    }

    /// Hit and miss counters of the lookups by query.
    pub fn page_counters(&self) -> &Arc<CacheCounters> {
        self.pages.counters()
    }

    /// The groups that make their members superusers, as of the current epoch.
    async fn superuser_groups(&self, store: &Store) -> Result<Arc<[i64]>, DomainError> {
        let changes = store.changes();
        if let Some(ids) = self.superuser_groups.get(changes, &()) {
            return Ok(ids);
        }
        let epoch = self.superuser_groups.epoch(changes);
        let ids: Arc<[i64]> = store_users::superuser_group_ids(&mut &*store).await?.into();
        self.superuser_groups.put(changes, epoch, (), ids.clone());
        Ok(ids)
    }
}

/// The user with this id, from `cache` when nothing was written since it was read.
pub async fn get_cached(store: &Store, cache: &UserCache, id: i64) -> Result<User, DomainError> {
    let changes = store.changes();
    if let Some(user) = cache.by_id.get(changes, &id) {
        return Ok(Arc::unwrap_or_clone(user));
    }
    let epoch = cache.by_id.epoch(changes);
    // The row with its relations in one statement (one round trip on PostgreSQL, where a
    // snapshot of two reads was four: at 1M users nearly every rotating GET is a miss).
    let by_id = Filter::Compare(UserField::Id, Cmp::Eq, Literal::Int(id));
    let user = lookup(store, cache, &by_id, &[], 1, 0)
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::User))?;
    cache.by_id.put(changes, epoch, id, Arc::new(user.clone()));
    Ok(user)
}

/// The user with this id (its row and relations read in one snapshot).
pub async fn get(store: &Store, id: i64) -> Result<User, DomainError> {
    let mut db = store.snapshot()?;
    let row = store_users::by_id(&mut db, id)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::User))?;
    hydrate(&mut db, vec![row], SuperuserGroups::Read)
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::User))
}

/// The user with this username (exact), if there is one.
pub async fn get_by_username(store: &Store, username: &str) -> Result<User, DomainError> {
    let mut db = store.snapshot()?;
    let row = store_users::by_username(&mut db, username)
        .await?
        .ok_or(DomainError::NotFound(ObjectKind::User))?;
    hydrate(&mut db, vec![row], SuperuserGroups::Read)
        .await?
        .pop()
        .ok_or(DomainError::NotFound(ObjectKind::User))
}

/// Counts by filter, exact under writes (see `domain::cache`).
pub type CountCache = crate::domain::cache::EpochCache<String, i64>;

/// How many users match, from `cache` when nothing was written since it was counted
/// (a count scans every matching row).
pub async fn count_cached(
    store: &Store,
    cache: &CountCache,
    filter: &UserFilter,
) -> Result<i64, DomainError> {
    let changes = store.changes();
    let key = format!("{filter:?}");
    if let Some(n) = cache.get(changes, &key) {
        return Ok(n);
    }
    let epoch = cache.epoch(changes);
    let n = count(store, filter).await?;
    cache.put(changes, epoch, key, n);
    Ok(n)
}

/// How many users match.
pub async fn count(store: &Store, filter: &UserFilter) -> Result<i64, DomainError> {
    Ok(store_users::count(store, filter).await?)
}

/// One page of matching users, with groups, roles and superuser status (three queries for
/// the whole page, whatever its size).
pub async fn list(
    store: &Store,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<User>, DomainError> {
    let rows = store_users::page(store, filter, sort, limit, offset).await?;
    hydrate(&mut &*store, rows, SuperuserGroups::Read).await
}

/// One page of matching users like `list`, taking every user already loaded in this write
/// epoch from `cache` (only the page's ids are read, and not even those for a lookup repeated
/// in the epoch; the rest is loaded in one batch).
pub async fn list_cached(
    store: &Store,
    cache: &UserCache,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<User>, DomainError> {
    let shared = list_cached_shared(store, cache, filter, sort, limit, offset).await?;
    Ok(shared.into_iter().map(Arc::unwrap_or_clone).collect())
}

/// `list_cached`, the users shared with the cache rather than copied (for a door that only
/// reads them, a page at a time, such as LDAP listing a directory).
pub async fn list_cached_shared(
    store: &Store,
    cache: &UserCache,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<Arc<User>>, DomainError> {
    let changes = store.changes();
    let epoch = cache.by_id.epoch(changes);
    let key = format!("{filter:?} {sort:?} {limit} {offset}");
    let ids = match cache.pages.get(changes, &key) {
        Some(ids) => ids,
        None if finds_at_most_one(filter) => {
            // A lookup (a user by name, as LDAP's `cn=` asks): its row and relations come with
            // the statement that finds it, whether or not the user is cached by id.
            let users: Vec<Arc<User>> = lookup(store, cache, filter, sort, limit, offset)
                .await?
                .into_iter()
                .map(Arc::new)
                .collect();
            let ids: Arc<[i64]> = users.iter().map(|user| user.id).collect();
            cache.pages.put(changes, epoch, key, ids);
            for user in &users {
                cache.by_id.put(changes, epoch, user.id, user.clone());
            }
            return Ok(users);
        }
        None => {
            let ids: Arc<[i64]> = store_users::page_ids(store, filter, sort, limit, offset)
                .await?
                .into();
            if ids.len() <= CACHED_PAGE_IDS {
                cache.pages.put(changes, epoch, key, ids.clone());
            }
            ids
        }
    };
    let mut found: HashMap<i64, Arc<User>> = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    for id in ids.iter() {
        match cache.by_id.get(changes, id) {
            Some(user) => {
                found.insert(*id, user);
            }
            None => missing.push(*id),
        }
    }
    if !missing.is_empty() {
        let granting = cache.superuser_groups(store).await?;
        let rows = store_users::by_ids(store, &missing).await?;
        for user in hydrate(&mut &*store, rows, SuperuserGroups::Known(&granting)).await? {
            let user = Arc::new(user);
            cache.by_id.put(changes, epoch, user.id, user.clone());
            found.insert(user.id, user);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// The users of one page with their relations, read in one statement (superuser status from
/// the cached superuser groups): for lookups that find at most one user.
async fn lookup(
    store: &Store,
    cache: &UserCache,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<User>, DomainError> {
    let granting = cache.superuser_groups(store).await?;
    // One user by a unique key, where a statement is a round trip: read together with the
    // others asked for meanwhile (the filter is taken apart only then).
    let batched = store.statements_are_round_trips() && limit >= 1 && offset == 0;
    if let Some((key, rest)) = batched.then(|| UserKey::split(filter)).flatten() {
        let found = cache.batches.lookup(store, granting, key, rest).await?;
        return Ok(found.into_iter().collect());
    }
    let (rows, relations) =
        store_users::lookup_with_relations(store, filter, sort, limit, offset, &granting).await?;
    Ok(assemble(rows, relations))
}

/// Whether `filter` finds at most one user whatever the directory holds: one of its conjuncts
/// is an equality on a unique key (the id, the uuid, the username — unique under ASCII case
/// folding, so also its folded form).
fn finds_at_most_one(filter: &UserFilter) -> bool {
    use crate::query::filter::{Cmp, Filter};
    use crate::query::users::{UserField, UserRel};
    match filter {
        Filter::And(parts) => parts.iter().any(finds_at_most_one),
        Filter::Compare(UserField::Id | UserField::Uuid | UserField::Username, Cmp::Eq, _)
        | Filter::Rel(UserRel::UsernameFolded(_))
        | Filter::Nothing => true,
        _ => false,
    }
}

/// Distinct paths of matching users, sorted.
pub async fn paths(store: &Store, filter: &UserFilter) -> Result<Vec<String>, DomainError> {
    Ok(store_users::distinct_paths(store, filter).await?)
}

/// Stored attributes text as a JSON object (anything unreadable reads as `{}`).
pub fn parse_attributes(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Map::new()))
}

pub(super) async fn hydrate<R: crate::store::Reader>(
    db: &mut R,
    rows: Vec<store_users::UserRow>,
    superuser_groups: SuperuserGroups<'_>,
) -> Result<Vec<User>, DomainError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let relations = store_users::relations(db, &ids, superuser_groups).await?;
    Ok(assemble(rows, relations))
}

/// Users from their rows and relations (as `store::users::relations` gives them).
pub(super) fn assemble(
    rows: Vec<store_users::UserRow>,
    relations: Vec<store_users::RelationRow>,
) -> Vec<User> {
    let mut groups_of: HashMap<i64, Vec<GroupSummary>> = HashMap::new();
    let mut roles_of: HashMap<i64, Vec<RoleSummary>> = HashMap::new();
    let mut auditors: Vec<i64> = Vec::new();
    let mut superusers: Vec<i64> = Vec::new();
    for r in relations {
        match r.kind {
            store_users::RELATION_GROUP => {
                groups_of.entry(r.user_id).or_default().push(GroupSummary {
                    uuid: r.uuid,
                    name: r.name,
                    is_superuser: r.is_superuser,
                    attributes: parse_attributes(&r.attributes),
                });
            }
            store_users::RELATION_ROLE => {
                if r.managed.as_deref() == Some(crate::domain::roles::AUDITOR_MANAGED) {
                    auditors.push(r.user_id);
                }
                roles_of.entry(r.user_id).or_default().push(RoleSummary {
                    uuid: r.uuid,
                    name: r.name,
                });
            }
            _ => superusers.push(r.user_id),
        }
    }
    rows.into_iter()
        .map(|row| User {
            avatar_uri: AvatarUri::default(),
            is_superuser: superusers.contains(&row.id),
            is_system_auditor: auditors.contains(&row.id),
            groups: groups_of.remove(&row.id).unwrap_or_default(),
            roles: roles_of.remove(&row.id).unwrap_or_default(),
            id: row.id,
            uuid: row.uuid,
            username: row.username,
            name: row.name,
            first_name: row.first_name,
            last_name: row.last_name,
            email: row.email,
            has_password: row.password_hash.is_some(),
            is_active: row.is_active,
            user_type: UserType::parse(&row.user_type).unwrap_or(UserType::Internal),
            path: row.path,
            attributes: parse_attributes(&row.attributes),
            last_login: row.last_login.map(Timestamp),
            date_joined: Timestamp(row.date_joined),
            password_change_date: Timestamp(row.password_change_date),
            last_updated: Timestamp(row.last_updated),
        })
        .collect()
}

/// The system permissions a superuser holds (authentik's `authentik_rbac` codenames).
pub const SUPERUSER_SYSTEM_PERMISSIONS: [&str; 16] = [
    "access_admin_interface",
    "add_initialpermissions",
    "add_role",
    "assign_role_permissions",
    "change_initialpermissions",
    "change_role",
    "delete_initialpermissions",
    "delete_role",
    "edit_system_settings",
    "manage_media_files",
    "unassign_role_permissions",
    "view_initialpermissions",
    "view_media_files",
    "view_role",
    "view_system_info",
    "view_system_settings",
];

/// What `me` shows: the user plus everything reached through groups and ancestors.
#[derive(Debug, Clone)]
pub struct SelfView {
    /// The user.
    pub user: User,
    /// Every group, direct or ancestor, by name: (uuid, name).
    pub all_groups: Vec<(String, String)>,
    /// Effective roles by name: (uuid, name).
    pub effective_roles: Vec<(String, String)>,
    /// `settings` merged from groups (by name) then the user's attributes.
    pub settings: Value,
    /// System permission codenames.
    pub system_permissions: Vec<String>,
}

/// Deep-merges `overlay` into `base` (objects merge key by key; anything else replaces).
fn merge_into(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge_into(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The caller's own view (`me`).
pub async fn self_view(store: &Store, user_id: i64) -> Result<SelfView, DomainError> {
    let user = get(store, user_id).await?;
    let groups = store_users::ancestor_groups(store, user_id).await?;
    let roles = store_users::effective_roles(store, user_id).await?;
    let mut settings = Value::Object(Map::new());
    for g in &groups {
        if let Some(s) = parse_attributes(&g.attributes)
            .get("settings")
            .filter(|s| s.is_object())
        {
            merge_into(&mut settings, s);
        }
    }
    if let Some(s) = user.attributes.get("settings").filter(|s| s.is_object()) {
        merge_into(&mut settings, s);
    }
    let system_permissions = if user.is_superuser {
        SUPERUSER_SYSTEM_PERMISSIONS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        // The caller's global `authentik_rbac` permissions, by codename.
        let grants = crate::domain::roles::effective_grants(store, user_id).await?;
        let mut names: Vec<String> = crate::domain::permissions::CATALOGUE
            .iter()
            .filter(|p| p.app_label == "authentik_rbac" && grants.global.contains(&p.id))
            .map(|p| p.codename.to_string())
            .collect();
        names.sort();
        names
    };
    Ok(SelfView {
        all_groups: groups.into_iter().map(|g| (g.uuid, g.name)).collect(),
        effective_roles: roles.into_iter().map(|r| (r.uuid, r.name)).collect(),
        settings,
        system_permissions,
        user,
    })
}
