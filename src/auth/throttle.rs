//! Slows down password guessing: at most 10 failed password logins for one account and from
//! one client address within 60 seconds; further attempts are refused (429) until the window
//! moves on. Each attempt is counted *before* its password is verified (a reservation) and
//! released only when it succeeds, so concurrent guesses cannot all slip in before the first
//! failure is recorded. Kept per instance, in memory: with several instances each one counts
//! its own attempts. Bearer keys are 60 random characters and are not throttled.

use std::collections::HashMap;
use std::sync::Mutex;

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
/// attempts and of those still being verified.
#[derive(Default)]
pub struct LoginThrottle {
    attempts: Mutex<HashMap<String, Vec<i64>>>,
}

/// An attempt counted against its keys; dropped, it stays counted (a failure, or an attempt
/// abandoned mid-way); `release` takes it back after a success.
#[must_use = "an attempt stays counted as a failure unless released"]
pub struct Reservation<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<String>,
    at: i64,
}

impl Reservation<'_> {
    /// The attempt succeeded: it no longer counts.
    pub fn release(self) {
        let Ok(mut map) = self.throttle.attempts.lock() else {
            return;
        };
        for key in &self.keys {
            if let Some(times) = map.get_mut(key) {
                if let Some(i) = times.iter().position(|t| *t == self.at) {
                    times.swap_remove(i);
                }
                if times.is_empty() {
                    map.remove(key);
                }
            }
        }
    }
}

impl LoginThrottle {
    /// Counts an attempt against every key, or `Err(seconds)` when any key is already at the
    /// limit: how long until its oldest attempt leaves the window. Check and count are one
    /// step under one lock, so at most `LIMIT` attempts per key are ever in flight or failed.
    pub fn reserve(&self, keys: Vec<String>) -> Result<Reservation<'_>, i64> {
        let now = Timestamp::now().0;
        let window = WINDOW_SECONDS * 1_000_000;
        let Ok(mut map) = self.attempts.lock() else {
            // A poisoned lock (a panic elsewhere) must not lock everyone out.
            return Ok(Reservation {
                throttle: self,
                keys: Vec::new(),
                at: now,
            });
        };
        let mut wait = 0;
        for key in &keys {
            if let Some(times) = map.get_mut(key) {
                times.retain(|t| now - t < window);
                if times.len() >= LIMIT {
                    let oldest = times.iter().min().copied().unwrap_or(now);
                    wait = wait.max(((oldest + window - now) / 1_000_000).max(1));
                }
            }
        }
        if wait > 0 {
            return Err(wait);
        }
        if map.len() >= CAPACITY {
            map.retain(|_, times| times.iter().any(|t| now - t < window));
        }
        for key in &keys {
            map.entry(key.clone()).or_default().push(now);
        }
        Ok(Reservation {
            throttle: self,
            keys,
            at: now,
        })
    }
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

    #[test]
    fn ten_failures_then_refused() {
        let t = LoginThrottle::default();
        for _ in 0..LIMIT {
            drop(t.reserve(keys("bob", None)).expect("under the limit"));
        }
        let wait = t.reserve(keys("bob", None)).err().expect("throttled");
        assert!((1..=WINDOW_SECONDS).contains(&wait));
        assert!(
            t.reserve(keys("alice", None)).is_ok(),
            "other accounts are unaffected"
        );
    }

    #[test]
    fn attempts_in_flight_count_and_successes_are_released() {
        let t = LoginThrottle::default();
        let held: Vec<_> = (0..LIMIT)
            .map(|_| t.reserve(keys("bob", None)).expect("under the limit"))
            .collect();
        assert!(
            t.reserve(keys("bob", None)).is_err(),
            "in-flight attempts count"
        );
        for r in held {
            r.release();
        }
        assert!(
            t.reserve(keys("bob", None)).is_ok(),
            "successes are taken back"
        );
    }

    #[test]
    fn long_usernames_are_cut_in_keys() {
        let k = keys(&"a".repeat(1_000_000), None);
        assert!(k[0].len() <= "account:".len() + KEY_USERNAME_CHARS);
    }
}
