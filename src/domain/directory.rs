//! The directory as front doors read it: one handle owning the store and every cache of
//! domain values (users by id, the ids of lookups by query, the superuser groups, user counts,
//! principals by key hash), each exact under writes
//! (`domain::cache`). A front door asks it for "user 42" and gets the cached value when nothing
//! was written since, the database otherwise: there is no uncached or stale path to pick by
//! mistake. Writes still go through the domain operations, which take `store()`.
//!
//! Dialect renderings are not kept here: a door that caches what it renders keeps a
//! `Renderings` of its own, on the same epochs.

use std::hash::Hash;
use std::sync::{Arc, Mutex};

use super::authz::Principal;
use super::cache::{CacheCounters, EpochCache};
use super::principals::{self, PrincipalCache};
use super::tokens::{self, Token};
use super::users::{self, CountCache, User, UserCache, UserFilter, UserSort};
use super::DomainError;
use crate::query::filter::Direction;
use crate::store::{Store, Touched};

pub use crate::store::stats::{PoolStats, WriterStats, BATCH_BOUNDS};

/// Most user counts kept by filter.
const COUNT_CAPACITY: usize = 1_000;

/// The store and the caches of what is read from it.
pub struct Directory {
    store: Store,
    users: UserCache,
    user_counts: CountCache,
    principals: PrincipalCache,
    /// The hit and miss counters of the doors' `Renderings`, by cache name.
    renderings: Mutex<Vec<(&'static str, Arc<CacheCounters>)>>,
}

/// The directory's load as metrics report it: connection pools, SQLite's writer, caches.
#[derive(Debug, Clone)]
pub struct DirectoryStats {
    /// Each connection pool's use.
    pub pools: Vec<PoolStats>,
    /// SQLite's write gate (`None` on PostgreSQL).
    pub writer: Option<WriterStats>,
    /// Each cache's (name, hits, misses).
    pub caches: Vec<(&'static str, u64, u64)>,
}

impl Directory {
    /// A directory over `store` with empty caches, keeping at most `user_capacity` users by id
    /// (and as many lookups by query; the operator's `cache_users`).
    pub fn new(store: Store, user_capacity: usize) -> Self {
        Directory {
            store,
            users: UserCache::new(user_capacity),
            user_counts: CountCache::new(Touched::DIRECTORY, COUNT_CAPACITY),
            principals: PrincipalCache::default(),
            renderings: Mutex::default(),
        }
    }

    /// A door's cache of renderings, counted in `stats` under `name`.
    pub fn renderings<K: Eq + Hash + Clone, V: Clone>(
        &self,
        name: &'static str,
        capacity: usize,
    ) -> Renderings<K, V> {
        let renderings = Renderings::new(capacity);
        if let Ok(mut named) = self.renderings.lock() {
            named.push((name, renderings.0.counters().clone()));
        }
        renderings
    }

    /// Pool use, the writer's queue and commit sizes, and cache hits and misses, now.
    pub fn stats(&self) -> DirectoryStats {
        let count = |name, c: &CacheCounters| (name, c.hits(), c.misses());
        let mut caches = vec![
            count("users", self.users.counters()),
            count("user_lookups", self.users.page_counters()),
            count("user_counts", self.user_counts.counters()),
            count("principals", self.principals.counters()),
        ];
        if let Ok(named) = self.renderings.lock() {
            caches.extend(named.iter().map(|(name, c)| count(*name, c)));
        }
        DirectoryStats {
            pools: self.store.pool_stats(),
            writer: self.store.writer_stats(),
            caches,
        }
    }

    /// The store, for the domain's write operations and uncached reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The user with this id.
    pub async fn user(&self, id: i64) -> Result<User, DomainError> {
        users::get_cached(&self.store, &self.users, id).await
    }

    /// The user with this id if it is cached for the current epoch (no database read).
    pub fn cached_user(&self, id: i64) -> Option<User> {
        self.users.get(self.store.changes(), &id)
    }

    /// How many users match.
    pub async fn count_users(&self, filter: &UserFilter) -> Result<i64, DomainError> {
        users::count_cached(&self.store, &self.user_counts, filter).await
    }

    /// One page of matching users.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        sort: &[(UserSort, Direction)],
        limit: i64,
        offset: i64,
    ) -> Result<Vec<User>, DomainError> {
        users::list_cached(&self.store, &self.users, filter, sort, limit, offset).await
    }

    /// One page of matching users like `list_users`, shared with the cache rather than copied.
    pub async fn list_users_shared(
        &self,
        filter: &UserFilter,
        sort: &[(UserSort, Direction)],
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Arc<User>>, DomainError> {
        users::list_cached_shared(&self.store, &self.users, filter, sort, limit, offset).await
    }

    /// The token with this identifier, with its owner.
    pub async fn token(&self, identifier: &str) -> Result<Token, DomainError> {
        tokens::get_cached(&self.store, &self.users, identifier).await
    }

    /// The principal of the API token whose key has this lookup hash (see `domain::principals`).
    pub async fn principal_by_key_hash(&self, hash: &str) -> Result<Principal, DomainError> {
        principals::by_key_hash(&self.store, &self.principals, hash).await
    }

    /// The principal of `user_id`'s `app_password` token whose key has this lookup hash.
    pub async fn principal_by_app_password_hash(
        &self,
        user_id: i64,
        hash: &str,
    ) -> Result<Principal, DomainError> {
        principals::by_app_password_hash(&self.store, &self.principals, user_id, hash).await
    }

    /// The principal of an active user by id, cached for the write epoch.
    pub async fn principal_of_user(&self, user_id: i64) -> Result<Principal, DomainError> {
        principals::of_user(&self.store, &self.principals, user_id).await
    }
}

/// A front door's cache of what it renders from directory values, exact like the directory's
/// own: an entry is served only in the write epoch it was rendered in.
pub struct Renderings<K, V>(EpochCache<K, V>);

/// A rendering's epoch, read before the values it renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderEpoch(u64);

/// A user to render by id (`Renderings::user`): the epoch read before it, and whether its
/// rendering may be kept.
pub struct UserToRender {
    /// The epoch read before the user.
    pub epoch: RenderEpoch,
    /// The user.
    pub user: User,
    /// Whether the user was already cached (its rendering is worth keeping).
    pub keep: bool,
}

impl<K: Eq + Hash + Clone, V: Clone> Renderings<K, V> {
    /// An empty cache of at most `capacity` renderings of users, groups, roles or tokens.
    pub fn new(capacity: usize) -> Self {
        Renderings(EpochCache::new(Touched::DIRECTORY, capacity))
    }

    /// The current epoch (read it *before* loading what will be rendered).
    pub fn epoch(&self, directory: &Directory) -> RenderEpoch {
        RenderEpoch(self.0.epoch(directory.store.changes()))
    }

    /// The rendering of `key` if it was made in the current epoch.
    pub fn get(&self, directory: &Directory, key: &K) -> Option<V> {
        self.0.get(directory.store.changes(), key)
    }

    /// Keeps a rendering made from values read at `epoch`.
    pub fn put(&self, directory: &Directory, epoch: RenderEpoch, key: K, value: V) {
        self.0.put(directory.store.changes(), epoch.0, key, value)
    }

    /// The rendering of `key` made in the current epoch, or `render`'s (of values read at
    /// `epoch`), then kept: a list's rows, rendering them is most of a list's work.
    pub fn get_or_render<E>(
        &self,
        directory: &Directory,
        epoch: RenderEpoch,
        key: K,
        render: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(value) = self.get(directory, &key) {
            return Ok(value);
        }
        let value = render()?;
        self.put(directory, epoch, key, value.clone());
        Ok(value)
    }

    /// User `id`, to render when its rendering was not found, with the epoch read before it.
    /// Its rendering is worth keeping from the user's second read in an epoch on (its first
    /// fills the user cache): ids read once, as when a client walks a million users, would
    /// otherwise churn both caches, and freeing what they evict is most of an uncached read's
    /// tail.
    pub async fn user(&self, directory: &Directory, id: i64) -> Result<UserToRender, DomainError> {
        let epoch = self.epoch(directory);
        Ok(match directory.cached_user(id) {
            Some(user) => UserToRender {
                epoch,
                user,
                keep: true,
            },
            None => UserToRender {
                epoch,
                user: directory.user(id).await?,
                keep: false,
            },
        })
    }
}
