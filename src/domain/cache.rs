//! A small cache of derived values that is exact under writes: an entry is only served in the
//! write epoch it was filled in (the store's `Changes`), and never while another instance's
//! writes could be missed. Bounded: when full, 1/256 of its entries make room, looked for from a
//! random position — outdated ones first, then ones never read since they were filled, then
//! ones not read lately (in the current or previous generation; a generation ends every
//! `capacity / 2` insertions) — so entries read on every request stay while a client walking
//! every user streams through, and a client cycling over a few more keys than the cache holds
//! still finds almost all of them.
//! The domain's caches are of this kind, and so are a front end's caches of what it renders.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use indexmap::IndexMap;

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

/// The entries (in a table with positions, so that room is looked for from a random one), how
/// many were inserted in the current generation, and the state of the generator that picks
/// where the next search for room starts.
struct Entries<K, V> {
    map: IndexMap<K, Slot<V>>,
    inserted: usize,
    random: u64,
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
                map: IndexMap::new(),
                inserted: 0,
                random: 0x9E37_79B9_7F4A_7C15,
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
            let full = entries.map.len() >= self.capacity && !entries.map.is_empty();
            if full && !entries.map.contains_key(&key) {
                // A few at a time: emptying the whole cache at once meant freeing 10,000 users
                // (~15 allocations each), ≈ 7 ms on the request that filled it, once a second
                // when every read misses (a client walking a million users); a sixteenth still
                // cost that request 0.5–0.9 ms, which at one request at a time set the p99.
                let room = (self.capacity / 256).max(1);
                let generation = self.generation.load(Ordering::Relaxed);
                let len = entries.map.len();
                let start =
                    usize::try_from(next_random(&mut entries.random) % len as u64).unwrap_or(0);
                let mut positions = victims(&entries.map, start, current, generation, room);
                if positions.is_empty() {
                    // Everything met was read lately: age it all, and make room anyway.
                    self.generation.fetch_add(2, Ordering::Relaxed);
                    positions = (0..room.min(len))
                        .map(|step| (start + step) % len)
                        .collect();
                }
                // From the highest position down: a removal moves the last entry into the
                // hole, which is never a position still to remove.
                positions.sort_unstable_by(|a, b| b.cmp(a));
                for position in positions {
                    if let Some((_, slot)) = entries.map.swap_remove_index(position) {
                        evicted.push(slot);
                    }
                }
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

/// Most entries one search for room looks at, per entry it makes room for: a cache of
/// 100,000 entries all read lately is not walked whole on every miss.
const SCAN_PER_VICTIM: usize = 16;

/// xorshift64: where a search for room starts (a spread, not a secret).
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Up to `room` table positions to evict, looked for from `start` on among at most
/// `room * SCAN_PER_VICTIM` entries: outdated entries first, then entries never read since
/// they were filled, then entries not read in the current or the previous generation (none if
/// every entry met was read lately).
///
/// Evicting by age alone (least recently read first) evicted, on a cycle over a directory
/// slightly larger than the cache, exactly the entry read next, so almost every read missed
/// (issue 19: 10,002 users rotated over a 10,000-entry cache missed 99 %). Two things stop that:
/// entries never read since they were filled (a client walking every user, the entries a cycle
/// just re-filled) make room before entries read again, and the search starts at a random
/// position, so what is evicted is not the next in any order of reading (a table position is an
/// insertion order). Always taking the first entries of the table made a full cache evict the
/// same region again and again — a page of 100 users read on every request lost most of its
/// entries to each other's re-insertion — which a random start avoids too.
fn victims<K, V>(
    map: &IndexMap<K, Slot<V>>,
    start: usize,
    current: u64,
    generation: u64,
    room: usize,
) -> Vec<usize> {
    let len = map.len();
    let window = room.saturating_mul(SCAN_PER_VICTIM).min(len);
    let mut outdated = Vec::new();
    let mut unread = Vec::new();
    let mut cold = Vec::new();
    for step in 0..window {
        let position = (start + step) % len;
        let Some((_, slot)) = map.get_index(position) else {
            break;
        };
        let read_in = slot.read_in.load(Ordering::Relaxed);
        if slot.epoch != current {
            outdated.push(position);
            if outdated.len() >= room {
                break;
            }
        } else if read_in == 0 {
            if unread.len() < room {
                unread.push(position);
            }
        } else if read_in + 1 < generation && cold.len() < room {
            cold.push(position);
        }
        if outdated.len() + unread.len() >= room {
            break;
        }
    }
    let mut positions = outdated;
    for more in [unread, cold] {
        let missing = room.saturating_sub(positions.len());
        positions.extend(more.into_iter().take(missing));
    }
    positions
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

    /// Hits per lookup over the last of `rounds` cycles over `keys` keys (a miss fills the key).
    fn cyclic_hit_rate(capacity: usize, keys: i64, rounds: usize) -> f64 {
        let changes = Changes::default();
        let cache = EpochCache::new(Touched::DIRECTORY, capacity);
        let epoch = cache.epoch(&changes);
        let (mut hits, mut misses) = (0, 0);
        for _round in 0..rounds {
            (hits, misses) = (cache.counters().hits(), cache.counters().misses());
            for key in 0..keys {
                if cache.get(&changes, &key).is_none() {
                    cache.put(&changes, epoch, key, key);
                }
            }
        }
        let hits = cache.counters().hits() - hits;
        let misses = cache.counters().misses() - misses;
        hits as f64 / (hits + misses) as f64
    }

    #[test]
    fn a_cycle_over_two_keys_more_than_the_capacity_keeps_most_hits() {
        // Issue 19: 10,002 users rotated over a 10,000-entry cache missed nearly every time.
        let rate = cyclic_hit_rate(10_000, 10_002, 6);
        assert!(rate > 0.95, "hit rate {rate:.3}");
    }

    #[test]
    fn a_cycle_over_a_third_more_keys_than_the_capacity_keeps_half_the_hits() {
        let rate = cyclic_hit_rate(2_000, 2_600, 12);
        assert!(rate > 0.5, "hit rate {rate:.3}");
    }

    #[test]
    fn a_cycle_within_the_capacity_always_hits() {
        assert_eq!(cyclic_hit_rate(2_000, 2_000, 3), 1.0);
    }

    #[test]
    fn entries_read_again_survive_a_stream_of_entries_read_once() {
        let changes = Changes::default();
        let cache = EpochCache::new(Touched::DIRECTORY, 1024);
        let epoch = cache.epoch(&changes);
        // 500 entries read twice, then 10,000 others filled once (a client walking the users):
        // 20 generations without a read age them too, but the fills make room first.
        for key in 0..500 {
            cache.put(&changes, epoch, key, key);
            assert_eq!(cache.get(&changes, &key), Some(key));
        }
        for key in 10_000..20_000 {
            cache.put(&changes, epoch, key, key);
        }
        let kept = (0..500)
            .filter(|k| cache.get(&changes, k).is_some())
            .count();
        assert!(kept >= 400, "{kept} of 500 kept");
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
