//! What the store can tell about its own load, read when metrics are scraped: each connection
//! pool's use and, on SQLite, the write gate's queue and the size of its group commits. Plain
//! numbers from atomics and the pools' own counts; nothing here is on a lock anyone waits for.

use std::sync::atomic::{AtomicU64, Ordering};

/// One connection pool's use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// `main` (PostgreSQL), `read` and `write` (SQLite).
    pub name: &'static str,
    /// Connections open now.
    pub size: u32,
    /// Of those, the idle ones.
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

/// SQLite's write gate: writers waiting for it and how many writes each `COMMIT` carried.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriterStats {
    /// Writers waiting for the gate now.
    pub queued: u64,
    /// Group commits so far.
    pub commits: u64,
    /// Writes those commits carried.
    pub writes: u64,
    /// Group commits by size: (upper bound, commits in that bucket, not cumulative); the last
    /// bound is infinite.
    pub buckets: Vec<(f64, u64)>,
}

/// Upper bounds of the commit-size buckets (writes per `COMMIT`).
pub const BATCH_BOUNDS: [u64; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

/// The gate's counters, updated with relaxed atomics.
#[derive(Default)]
pub(super) struct GateCounters {
    queued: AtomicU64,
    commits: AtomicU64,
    writes: AtomicU64,
    /// One per bound in `BATCH_BOUNDS`, then one for larger groups.
    buckets: [AtomicU64; BATCH_BOUNDS.len() + 1],
}

/// A writer waiting for the gate; it leaves the queue when dropped (also when cancelled).
pub(super) struct Queued<'a>(&'a GateCounters);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::Relaxed);
    }
}

impl GateCounters {
    /// Counts a writer into the queue until the guard is dropped.
    pub(super) fn queue(&self) -> Queued<'_> {
        self.queued.fetch_add(1, Ordering::Relaxed);
        Queued(self)
    }

    /// Counts a group commit of `writes` writes.
    pub(super) fn committed(&self, writes: usize) {
        let writes = writes as u64;
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(writes, Ordering::Relaxed);
        let bucket = BATCH_BOUNDS
            .iter()
            .position(|bound| writes <= *bound)
            .unwrap_or(BATCH_BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub(super) fn snapshot(&self) -> WriterStats {
        let bounds = BATCH_BOUNDS
            .iter()
            .map(|b| *b as f64)
            .chain(std::iter::once(f64::INFINITY));
        WriterStats {
            queued: self.queued.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            buckets: bounds
                .zip(self.buckets.iter().map(|b| b.load(Ordering::Relaxed)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_land_in_their_size_bucket_and_the_queue_empties() {
        let counters = GateCounters::default();
        counters.committed(1);
        counters.committed(3);
        counters.committed(500);
        {
            let _a = counters.queue();
            let _b = counters.queue();
            assert_eq!(counters.snapshot().queued, 2);
        }
        let stats = counters.snapshot();
        assert_eq!(stats.queued, 0);
        assert_eq!((stats.commits, stats.writes), (3, 504));
        assert_eq!(stats.buckets[0], (1.0, 1));
        assert_eq!(stats.buckets[2], (4.0, 1));
        assert_eq!(stats.buckets[8], (f64::INFINITY, 1));
    }
}
