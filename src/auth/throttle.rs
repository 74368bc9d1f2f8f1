//! Slows down password guessing: after 10 failed password logins for one account or from one
//! client address within 60 seconds, further attempts are refused (429) until the window moves
//! on. Kept per instance, in memory; bearer keys are 60 random characters and are not throttled.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::Timestamp;

/// Failures allowed in one window.
pub const LIMIT: usize = 10;
/// The window, seconds.
pub const WINDOW_SECONDS: i64 = 60;
/// Most keys remembered; older entries are swept when full.
const CAPACITY: usize = 100_000;

/// Failed-login counters by key (`account:<username>`, `client:<address>`).
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

impl LoginThrottle {
    /// `Err(seconds)` when any key is over the limit: how long until the oldest failure leaves
    /// the window.
    pub fn check(&self, keys: &[String]) -> Result<(), i64> {
        let now = Timestamp::now().0;
        let window = WINDOW_SECONDS * 1_000_000;
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let mut wait = 0;
        for key in keys {
            if let Some(times) = map.get_mut(key) {
                times.retain(|t| now - t < window);
                if times.len() >= LIMIT {
                    let oldest = times.iter().min().copied().unwrap_or(now);
                    wait = wait.max(((oldest + window - now) / 1_000_000).max(1));
                }
            }
        }
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    /// Counts a failure against every key.
    pub fn fail(&self, keys: &[String]) {
        let now = Timestamp::now().0;
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= CAPACITY {
            let window = WINDOW_SECONDS * 1_000_000;
            map.retain(|_, times| times.iter().any(|t| now - t < window));
        }
        for key in keys {
            map.entry(key.clone()).or_default().push(now);
        }
    }
}

/// The throttle keys of a login attempt.
pub fn keys(username: &str, client: Option<std::net::IpAddr>) -> Vec<String> {
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
        let k = keys("bob", None);
        for _ in 0..LIMIT {
            assert!(t.check(&k).is_ok());
            t.fail(&k);
        }
        let wait = t.check(&k).expect_err("throttled");
        assert!((1..=WINDOW_SECONDS).contains(&wait));
        assert!(
            t.check(&keys("alice", None)).is_ok(),
            "other accounts are unaffected"
        );
    }
}
