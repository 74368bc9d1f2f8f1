//! Slows down password guessing: at most 10 failed password logins for one account and from
//! one client address within 60 seconds; further attempts are refused (429) until the window
//! moves on. Each attempt is counted *before* its password is verified (a reservation) and
//! released only when it succeeds, so concurrent guesses cannot all slip in before the first
//! failure is recorded. Kept per instance, in memory: with several instances each one counts
//! its own attempts. Bearer keys are 60 random characters and are not throttled.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::domain::Timestamp;

/// Failures allowed in one window.
pub const LIMIT: usize = 10;
/// The window, seconds.
pub const WINDOW_SECONDS: i64 = 60;
/// Most keys remembered; older entries are swept when full.
const CAPACITY: usize = 100_000;
/// Longest username kept in a key: no account has a longer one (the field's limit).
const KEY_USERNAME_CHARS: usize = 150;

/// Attempt counters by key (`account:<username>`, `client:<address>`): the times of failed
/// attempts, and how many attempts are being verified right now.
#[derive(Default)]
pub struct LoginThrottle {
    counts: Mutex<Counts>,
    /// Woken whenever an attempt ends, for attempts waiting on a key held by ones in flight.
    ended: Notify,
    /// Attempts refused for too many failures, and attempts that failed (metrics).
    refused: AtomicU64,
    failed: AtomicU64,
}

#[derive(Default)]
struct Counts {
    failures: HashMap<String, Vec<i64>>,
    in_flight: HashMap<String, usize>,
}

/// An attempt counted against its keys while its password is verified. `release` takes it
/// back after a success; dropped without it, it becomes a failure (a wrong password, or an
/// attempt abandoned mid-way).
#[must_use = "an attempt becomes a failure unless released"]
pub struct Reservation<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<String>,
    succeeded: bool,
}

impl Reservation<'_> {
    /// The attempt succeeded: it no longer counts.
    pub fn release(mut self) {
        self.succeeded = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.succeeded {
            self.throttle.failed.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut counts) = self.throttle.counts.lock() {
            let now = Timestamp::now().0;
            for key in &self.keys {
                if let Some(n) = counts.in_flight.get_mut(key) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        counts.in_flight.remove(key);
                    }
                }
                if !self.succeeded {
                    counts.failures.entry(key.clone()).or_default().push(now);
                }
            }
        }
        self.throttle.ended.notify_waiters();
    }
}

impl LoginThrottle {
    /// Counts an attempt against every key, or `Err(seconds)` when any key already has `LIMIT`
    /// failures: how long until its oldest one leaves the window. Check and count are one step
    /// under one lock, so failures plus attempts in flight never exceed `LIMIT` for a key: an
    /// attempt that would exceed it waits for one in flight to end (a burst of right passwords
    /// queues; a burst of wrong ones turns into 429s once `LIMIT` of them have failed).
    pub async fn reserve(&self, keys: Vec<String>) -> Result<Reservation<'_>, i64> {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            match self.try_reserve(&keys) {
                Attempt::Counted => {
                    return Ok(Reservation {
                        throttle: self,
                        keys,
                        succeeded: false,
                    })
                }
                Attempt::Refused(wait) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(wait);
                }
                Attempt::Busy => ended.await,
            }
        }
    }

    /// Password logins refused (429) because a key had too many failures, so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Password logins that failed (wrong password, unknown account, abandoned), so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    fn try_reserve(&self, keys: &[String]) -> Attempt {
        let now = Timestamp::now().0;
        let window = WINDOW_SECONDS * 1_000_000;
        let Ok(mut guard) = self.counts.lock() else {
            // A poisoned lock (a panic elsewhere) must not lock everyone out.
            return Attempt::Counted;
        };
        let counts = &mut *guard;
        let mut wait = 0;
        let mut busy = false;
        for key in keys {
            let failed = match counts.failures.get_mut(key) {
                Some(times) => {
                    times.retain(|t| now - t < window);
                    if times.len() >= LIMIT {
                        let oldest = times.iter().min().copied().unwrap_or(now);
                        wait = wait.max(((oldest + window - now) / 1_000_000).max(1));
                    }
                    times.len()
                }
                None => 0,
            };
            let pending = counts.in_flight.get(key).copied().unwrap_or(0);
            busy |= failed + pending >= LIMIT;
        }
        if wait > 0 {
            return Attempt::Refused(wait);
        }
        if busy {
            return Attempt::Busy;
        }
        if counts.failures.len() >= CAPACITY {
            counts
                .failures
                .retain(|_, times| times.iter().any(|t| now - t < window));
        }
        for key in keys {
            *counts.in_flight.entry(key.clone()).or_default() += 1;
        }
        Attempt::Counted
    }
}

/// What one look at the counters decided.
enum Attempt {
    /// Counted as in flight.
    Counted,
    /// A key is at the limit of failures: retry after this many seconds.
    Refused(i64),
    /// A key is at the limit only through attempts in flight: wait for one to end.
    Busy,
}

/// The throttle keys of a login attempt (an over-long username is cut: no account has one).
pub fn keys(username: &str, client: Option<std::net::IpAddr>) -> Vec<String> {
    let username: String = username.chars().take(KEY_USERNAME_CHARS).collect();
    let mut keys = vec![format!("account:{username}")];
    if let Some(ip) = client {
        keys.push(format!("client:{ip}"));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn ten_failures_then_refused() {
        let t = LoginThrottle::default();
        for _ in 0..LIMIT {
            drop(t.reserve(keys("bob", None)).await.expect("under the limit"));
        }
        let wait = t.reserve(keys("bob", None)).await.err().expect("throttled");
        assert!((1..=WINDOW_SECONDS).contains(&wait));
        assert!(
            t.reserve(keys("alice", None)).await.is_ok(),
            "other accounts are unaffected"
        );
    }

    #[tokio::test]
    async fn attempts_in_flight_count_and_successes_are_released() {
        let t = LoginThrottle::default();
        let mut held = Vec::new();
        for _ in 0..LIMIT {
            held.push(t.reserve(keys("bob", None)).await.expect("under the limit"));
        }
        let waiting = tokio::time::timeout(Duration::from_millis(50), t.reserve(keys("bob", None)));
        assert!(
            waiting.await.is_err(),
            "an attempt beyond those in flight waits instead of being verified"
        );
        for r in held {
            r.release();
        }
        let after = t.reserve(keys("bob", None)).await;
        assert!(after.is_ok(), "successes are taken back");
    }

    #[tokio::test]
    async fn a_waiting_attempt_is_refused_once_those_in_flight_fail() {
        let t = std::sync::Arc::new(LoginThrottle::default());
        let mut held = Vec::new();
        for _ in 0..LIMIT {
            held.push(t.reserve(keys("bob", None)).await.expect("under the limit"));
        }
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { t.reserve(keys("bob", None)).await.map(|r| r.release()) })
        };
        tokio::task::yield_now().await;
        drop(held);
        let outcome = waiter.await.expect("the waiter finishes");
        assert!(outcome.is_err(), "ten failures refuse the waiting attempt");
    }

    #[test]
    fn long_usernames_are_cut_in_keys() {
        let k = keys(&"a".repeat(1_000_000), None);
        assert!(k[0].len() <= "account:".len() + KEY_USERNAME_CHARS);
    }
}
