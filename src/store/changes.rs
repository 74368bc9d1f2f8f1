//! Change tracking: what a committed write touched (`Touched`) and the per-topic write
//! epochs caches check (`Changes`), fed across PostgreSQL instances on `CHANGES_CHANNEL`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What a committed write may have changed, so each cache drops only what the write could
/// affect. A transaction touches everything unless the domain narrows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touched(u8);

impl Touched {
    /// Nothing any cache derives from (e.g. only a token's description or an event).
    pub const NONE: Touched = Touched(0);
    /// What a principal is derived from: token keys, owners, intents and expiry; users' activity
    /// and names; memberships, superuser flags, parents, roles and grants.
    pub const AUTH: Touched = Touched(1);
    /// What users are rendered and counted from: users, groups and roles as the API shows them.
    pub const DIRECTORY: Touched = Touched(2);
    /// Everything (the default).
    pub const ALL: Touched = Touched(3);

    /// Both sets.
    pub fn and(self, other: Touched) -> Touched {
        Touched(self.0 | other.0)
    }

    /// Whether this set includes `topic`.
    pub fn includes(self, topic: Touched) -> bool {
        self.0 & topic.0 == topic.0
    }

    /// The set as the change feed carries it (a decimal digit).
    pub fn to_payload(self) -> String {
        self.0.to_string()
    }

    /// The set a change-feed payload names; anything unreadable means everything.
    pub fn from_payload(payload: &str) -> Touched {
        match payload.parse::<u8>() {
            Ok(bits) if bits <= Touched::ALL.0 => Touched(bits),
            _ => Touched::ALL,
        }
    }
}

/// Counts committed writes per topic, so caches of derived data (token → principal, rendered
/// users) know when they may be stale. On PostgreSQL every instance's counters also move when
/// another instance writes (LISTEN/NOTIFY); while that feed is down, `trustworthy` is false and
/// caches must not serve.
#[derive(Debug, Default)]
pub struct Changes {
    auth: AtomicU64,
    directory: AtomicU64,
    feed_down: AtomicBool,
}

impl Changes {
    /// The current write epoch of one topic (`Touched::AUTH` or `Touched::DIRECTORY`).
    pub fn epoch(&self, topic: Touched) -> u64 {
        if topic == Touched::AUTH {
            self.auth.load(Ordering::Acquire)
        } else {
            self.directory.load(Ordering::Acquire)
        }
    }

    /// Records that the topics in `touched` changed.
    pub fn bump(&self, touched: Touched) {
        if touched.includes(Touched::AUTH) {
            self.auth.fetch_add(1, Ordering::AcqRel);
        }
        if touched.includes(Touched::DIRECTORY) {
            self.directory.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Whether cached data may be served (false while another instance's writes could be missed).
    pub fn trustworthy(&self) -> bool {
        !self.feed_down.load(Ordering::Acquire)
    }

    /// Marks the cross-instance feed as up or down.
    pub fn set_feed_down(&self, down: bool) {
        self.feed_down.store(down, Ordering::Release);
        self.bump(Touched::ALL);
    }
}

/// The channel PostgreSQL instances announce committed writes on.
pub const CHANGES_CHANNEL: &str = "gatehouse_changes";
