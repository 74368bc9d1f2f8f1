//! The per-connection operation rate limit (`ldap_operations_per_second`): a token bucket
//! holding one second's worth of operations, refilled continuously. An operation beyond it is
//! answered `busy` (51, RFC 4511 "the server is too busy to service the operation") without
//! being run; the connection stays open and may retry.

use std::time::Instant;

/// One connection's bucket.
#[derive(Debug)]
pub struct RateLimit {
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    /// A full bucket for `per_second` operations a second; `None` when 0 (no limit).
    pub fn new(per_second: u32) -> Option<RateLimit> {
        (per_second > 0).then(|| RateLimit {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second),
            last: Instant::now(),
        })
    }

    /// Takes one operation's token, if the bucket holds one.
    pub fn allow(&mut self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.per_second);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_of_one_second_then_the_rate() {
        assert!(RateLimit::new(0).is_none(), "0 is no limit");
        let mut limit = RateLimit::new(3).expect("limited");
        let start = limit.last;
        assert!((0..3).all(|_| limit.allow_at(start)), "a full bucket");
        assert!(!limit.allow_at(start), "empty");
        let later = start + Duration::from_millis(340);
        assert!(
            limit.allow_at(later),
            "one token back after a third of a second"
        );
        assert!(!limit.allow_at(later));
        let much_later = later + Duration::from_secs(60);
        assert!(
            (0..3).all(|_| limit.allow_at(much_later)),
            "refilled up to one second's worth"
        );
        assert!(!limit.allow_at(much_later));
    }
}
