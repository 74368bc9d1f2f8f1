//! A small cache of derived values that is exact under writes: an entry is only served in the
//! write epoch it was filled in (the store's `Changes`), and never while another instance's
//! writes could be missed. Bounded: when full, 1/256 of its entries (arbitrary ones) make room.
//! The domain's caches are of this kind, and so are a front end's caches of what it renders.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::store::{Changes, Touched};

/// Values by key, each valid for one write epoch of the topic they derive from.
pub struct EpochCache<K, V> {
    entries: RwLock<HashMap<K, (u64, V)>>,
    capacity: usize,
    topic: Touched,
    counters: Arc<CacheCounters>,
}

/// How often a cache answered, and how often it sent its caller to the database (a missing or
/// outdated entry, or a change feed that is down). Relaxed atomics: one add per lookup.
#[derive(Debug, Default)]
pub struct CacheCounters {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheCounters {
    /// Lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups the cache could not answer.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl<K: Eq + Hash + Clone, V: Clone> EpochCache<K, V> {
    /// An empty cache of values derived from `topic`, holding at most `capacity` entries.
    pub fn new(topic: Touched, capacity: usize) -> Self {
        EpochCache {
            entries: RwLock::new(HashMap::new()),
            capacity,
            topic,
            counters: Arc::default(),
        }
    }

    /// Its hit and miss counters.
    pub fn counters(&self) -> &Arc<CacheCounters> {
        &self.counters
    }

    /// The current epoch of this cache's topic (read it *before* the database).
    pub fn epoch(&self, changes: &Changes) -> u64 {
        changes.epoch(self.topic)
    }

    /// The value for `key` if it was filled in the current epoch.
    pub fn get(&self, changes: &Changes, key: &K) -> Option<V> {
        let found = self.lookup(changes, key);
        self.counters.count(found.is_some());
        found
    }

    fn lookup(&self, changes: &Changes, key: &K) -> Option<V> {
        if !changes.trustworthy() {
            return None;
        }
        let epoch = changes.epoch(self.topic);
        let entries = self.entries.read().ok()?;
        entries
            .get(key)
            .filter(|(e, _)| *e == epoch)
            .map(|(_, v)| v.clone())
    }

    /// Stores a value read at `epoch` (read the epoch *before* the database).
    pub fn put(&self, changes: &Changes, epoch: u64, key: K, value: V) {
        if !changes.trustworthy() {
            return;
        }
        let mut evicted = Vec::new();
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= self.capacity {
                // A few at a time: emptying the whole cache at once meant freeing 10,000 users
                // (~15 allocations each), ≈ 7 ms on the request that filled it, once a second
                // when every read misses (a client walking a million users); a sixteenth still
                // cost that request 0.5–0.9 ms, which at one request at a time set the p99.
                let room = (self.capacity / 256).max(1);
                let victims: Vec<K> = entries.keys().take(room).cloned().collect();
                evicted.extend(victims.iter().filter_map(|key| entries.remove(key)));
            }
            entries.insert(key, (epoch, value));
        }
        // Freed after the lock is released, so other readers do not wait for it.
        drop(evicted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_makes_room_for_the_new_entry_and_keeps_most_others() {
        let changes = Changes::default();
        let cache = EpochCache::new(Touched::DIRECTORY, 1024);
        let epoch = cache.epoch(&changes);
        for key in 0..1024 {
            cache.put(&changes, epoch, key, key * 10);
        }
        cache.put(&changes, epoch, 1024, 10240);
        let kept = (0..=1024)
            .filter(|k| cache.get(&changes, k).is_some())
            .count();
        assert_eq!(cache.get(&changes, &1024), Some(10240));
        assert_eq!(kept, 1024 - 4 + 1, "1/256 of 1,024 entries made room");
    }

    #[test]
    fn entries_of_an_earlier_epoch_are_not_served() {
        let changes = Changes::default();
        let cache = EpochCache::new(Touched::DIRECTORY, 8);
        cache.put(&changes, cache.epoch(&changes), 1, "old");
        changes.bump(Touched::DIRECTORY);
        assert_eq!(cache.get(&changes, &1), None);
        cache.put(&changes, cache.epoch(&changes), 1, "new");
        assert_eq!(cache.get(&changes, &1), Some("new"));
        assert_eq!(cache.counters().hits(), 1);
        assert_eq!(cache.counters().misses(), 1);
    }
}
