//! A small cache of derived values that is exact under writes: an entry is only served in the
//! write epoch it was filled in (`Changes`), and never while another instance's writes could be
//! missed. Bounded: when full, a sixteenth of its entries (arbitrary ones) make room.
//! Optionally a value is only kept the second time its key is offered (a doorkeeper, as in
//! TinyLFU), so keys read once, as when a client walks a million users, never displace the
//! ones read again and again.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Mutex, RwLock};

use super::{Changes, Touched};

/// Values by key, each valid for one write epoch of the topic they derive from.
pub struct EpochCache<K, V> {
    entries: RwLock<HashMap<K, (u64, V)>>,
    /// Keys offered once and not kept yet (only for a cache that admits on a second offer).
    doorkeeper: Option<Mutex<HashSet<K>>>,
    capacity: usize,
    topic: Touched,
}

impl<K: Eq + Hash + Clone, V: Clone> EpochCache<K, V> {
    /// An empty cache of values derived from `topic`, holding at most `capacity` entries.
    pub fn new(topic: Touched, capacity: usize) -> Self {
        EpochCache {
            entries: RwLock::new(HashMap::new()),
            doorkeeper: None,
            capacity,
            topic,
        }
    }

    /// Like `new`, but a value is only kept when its key is offered a second time while the
    /// doorkeeper remembers the first (it forgets all it holds once it holds `capacity` keys).
    pub fn admitting_on_second_offer(topic: Touched, capacity: usize) -> Self {
        EpochCache {
            doorkeeper: Some(Mutex::new(HashSet::new())),
            ..Self::new(topic, capacity)
        }
    }

    /// The current epoch of this cache's topic (read it *before* the database).
    pub fn epoch(&self, changes: &Changes) -> u64 {
        changes.epoch(self.topic)
    }

    /// The value for `key` if it was filled in the current epoch.
    pub fn get(&self, changes: &Changes, key: &K) -> Option<V> {
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
        if !changes.trustworthy() || !self.admits(&key) {
            return;
        }
        let mut evicted = Vec::new();
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= self.capacity {
                // A sixteenth at a time: emptying the whole cache at once meant freeing 10,000
                // users (~15 allocations each), ≈ 7 ms on the request that filled it, once a
                // second when every read misses (a client walking a million users).
                let room = (self.capacity / 16).max(1);
                let victims: Vec<K> = entries.keys().take(room).cloned().collect();
                evicted.extend(victims.iter().filter_map(|key| entries.remove(key)));
            }
            entries.insert(key, (epoch, value));
        }
        // Freed after the lock is released, so other readers do not wait for it.
        drop(evicted);
    }

    /// Whether a value for `key` may be kept now: always without a doorkeeper; with one, when
    /// it remembers `key` from an earlier offer (otherwise it remembers it now).
    fn admits(&self, key: &K) -> bool {
        let Some(doorkeeper) = &self.doorkeeper else {
            return true;
        };
        let Ok(mut seen) = doorkeeper.lock() else {
            return false;
        };
        if seen.remove(key) {
            return true;
        }
        if seen.len() >= self.capacity {
            seen.clear();
        }
        seen.insert(key.clone());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_makes_room_for_the_new_entry_and_keeps_most_others() {
        let changes = Changes::default();
        let cache = EpochCache::new(Touched::DIRECTORY, 64);
        let epoch = cache.epoch(&changes);
        for key in 0..64 {
            cache.put(&changes, epoch, key, key * 10);
        }
        cache.put(&changes, epoch, 64, 640);
        let kept = (0..=64)
            .filter(|k| cache.get(&changes, k).is_some())
            .count();
        assert_eq!(cache.get(&changes, &64), Some(640));
        assert_eq!(kept, 64 - 4 + 1, "a sixteenth of 64 entries made room");
    }

    #[test]
    fn a_doorkeeper_keeps_a_value_from_its_second_offer_on() {
        let changes = Changes::default();
        let cache = EpochCache::admitting_on_second_offer(Touched::DIRECTORY, 4);
        let epoch = cache.epoch(&changes);
        cache.put(&changes, epoch, 1, "first");
        assert_eq!(cache.get(&changes, &1), None, "offered once: not kept");
        cache.put(&changes, epoch, 1, "second");
        assert_eq!(cache.get(&changes, &1), Some("second"));
        // Keys offered once each fill the doorkeeper, which then forgets them.
        for key in 10..15 {
            cache.put(&changes, epoch, key, "once");
        }
        cache.put(&changes, epoch, 10, "again");
        assert_eq!(
            cache.get(&changes, &10),
            None,
            "forgotten when the doorkeeper filled"
        );
        cache.put(&changes, epoch, 14, "again");
        assert_eq!(cache.get(&changes, &14), Some("again"));
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
    }
}
