//! A small cache of derived values that is exact under writes: an entry is only served in the
//! write epoch it was filled in (the store's `Changes`), and never while another instance's
//! writes could be missed. Bounded: when full, 1/256 of its entries make room — outdated ones and
//! ones not read lately (in the current or previous generation; a generation ends every
//! `capacity / 2` insertions), so entries read on every request stay while a client walking
//! every user streams through.
//! The domain's caches are of this kind, and so are a front end's caches of what it renders.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::store::{Changes, Touched};

/// Values by key, each valid for one write epoch of the topic they derive from.
pub struct EpochCache<K, V> {
    entries: RwLock<Entries<K, V>>,
    capacity: usize,
    /// The current generation (see the module's documentation); starts at 2.
    generation: AtomicU64,
    topic: Touched,
    counters: Arc<CacheCounters>,
}

/// One entry: its value, the epoch it was filled in, and the generation it was last read in
/// (0: never).
struct Slot<V> {
    epoch: u64,
    value: V,
    read_in: AtomicU64,
}

/// The entries and how many were inserted in the current generation.
struct Entries<K, V> {
    map: HashMap<K, Slot<V>>,
    inserted: usize,
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
            entries: RwLock::new(Entries {
                map: HashMap::new(),
                inserted: 0,
            }),
            capacity,
            generation: AtomicU64::new(2),
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
        let slot = entries.map.get(key).filter(|slot| slot.epoch == epoch)?;
        // Written only when it changes: hot entries are read by every thread at once.
        let generation = self.generation.load(Ordering::Relaxed);
        if slot.read_in.load(Ordering::Relaxed) != generation {
            slot.read_in.store(generation, Ordering::Relaxed);
        }
        Some(slot.value.clone())
    }

    /// Stores a value read at `epoch` (read the epoch *before* the database).
    pub fn put(&self, changes: &Changes, epoch: u64, key: K, value: V) {
        if !changes.trustworthy() {
            return;
        }
        let current = changes.epoch(self.topic);
        let mut evicted = Vec::new();
        if let Ok(mut entries) = self.entries.write() {
            if entries.map.len() >= self.capacity && !entries.map.contains_key(&key) {
                // A few at a time: emptying the whole cache at once meant freeing 10,000 users
                // (~15 allocations each), ≈ 7 ms on the request that filled it, once a second
                // when every read misses (a client walking a million users); a sixteenth still
                // cost that request 0.5–0.9 ms, which at one request at a time set the p99.
                let room = (self.capacity / 256).max(1);
                let generation = self.generation.load(Ordering::Relaxed);
                let mut victims = victims(&entries.map, current, generation, room);
                if victims.is_empty() {
                    // Everything was read lately: age it all, and make room anyway.
                    self.generation.fetch_add(2, Ordering::Relaxed);
                    victims.extend(entries.map.keys().take(room).cloned());
                }
                evicted.extend(victims.iter().filter_map(|key| entries.map.remove(key)));
            }
            entries.inserted += 1;
            if entries.inserted >= (self.capacity / 2).max(1) {
                entries.inserted = 0;
                self.generation.fetch_add(1, Ordering::Relaxed);
            }
            entries.map.insert(
                key,
                Slot {
                    epoch,
                    value,
                    read_in: AtomicU64::new(0),
                },
            );
        }
        // Freed after the lock is released, so other readers do not wait for it.
        drop(evicted);
    }
}

/// Up to `room` keys to evict: outdated entries and entries not read in the current or the
/// previous generation (none if every entry was read lately). Always taking the first keys met
/// made a full cache evict the same hash-table region again and again — a page of 100 users
/// read on every request lost most of its entries to each other's re-insertion (78 of 100
/// missed per list request at 100k users).
fn victims<K: Clone, V>(
    map: &HashMap<K, Slot<V>>,
    current: u64,
    generation: u64,
    room: usize,
) -> Vec<K> {
    map.iter()
        .filter(|(_, slot)| {
            slot.epoch != current || slot.read_in.load(Ordering::Relaxed) + 1 < generation
        })
        .take(room)
        .map(|(key, _)| key.clone())
        .collect()
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
    fn entries_read_on_every_round_survive_a_stream_of_others() {
        let changes = Changes::default();
        let cache = EpochCache::new(Touched::DIRECTORY, 1024);
        let epoch = cache.epoch(&changes);
        // Full of entries read once (a client walking every user).
        for key in 0..1024 {
            cache.put(&changes, epoch, key, key);
        }
        // A page of 100 read on every round while 2,000 more keys stream through.
        let page: Vec<i64> = (0..100).map(|k| k * 7).collect();
        let mut stream = 10_000;
        for _round in 0..200 {
            for key in &page {
                if cache.get(&changes, key).is_none() {
                    cache.put(&changes, epoch, *key, *key);
                }
            }
            for _ in 0..10 {
                cache.put(&changes, epoch, stream, stream);
                stream += 1;
            }
        }
        let before = cache.counters().misses();
        for key in &page {
            assert_eq!(cache.get(&changes, key), Some(*key));
        }
        assert_eq!(cache.counters().misses(), before, "the page stayed cached");
    }

    #[test]
    fn outdated_entries_make_room_first() {
        let changes = Changes::default();
        let cache = EpochCache::new(Touched::DIRECTORY, 256);
        for key in 0..255 {
            cache.put(&changes, cache.epoch(&changes), key, key);
        }
        changes.bump(Touched::DIRECTORY);
        let epoch = cache.epoch(&changes);
        cache.put(&changes, epoch, 1000, 1000);
        // Full: the next entry evicts an outdated one, never the current one.
        cache.put(&changes, epoch, 1001, 1001);
        assert_eq!(cache.get(&changes, &1000), Some(1000));
        assert_eq!(cache.get(&changes, &1001), Some(1001));
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
