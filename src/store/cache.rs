//! A small cache of derived values that is exact under writes: an entry is only served in the
//! write epoch it was filled in (`Changes`), and never while another instance's writes could be
//! missed. Bounded; emptied when full.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

use super::{Changes, Touched};

/// Values by key, each valid for one write epoch of the topic they derive from.
pub struct EpochCache<K, V> {
    entries: RwLock<HashMap<K, (u64, V)>>,
    capacity: usize,
    topic: Touched,
}

impl<K: Eq + Hash + Clone, V: Clone> EpochCache<K, V> {
    /// An empty cache of values derived from `topic`, holding at most `capacity` entries.
    pub fn new(topic: Touched, capacity: usize) -> Self {
        EpochCache {
            entries: RwLock::new(HashMap::new()),
            capacity,
            topic,
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
        if !changes.trustworthy() {
            return;
        }
        let mut evicted = None;
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= self.capacity {
                evicted = Some(std::mem::replace(
                    &mut *entries,
                    HashMap::with_capacity(self.capacity / 4),
                ));
            }
            entries.insert(key, (epoch, value));
        }
        // Dropped after the lock is released: freeing thousands of values (a cache of users is
        // ~15 allocations each) held every other reader up for milliseconds.
        drop(evicted);
    }
}
