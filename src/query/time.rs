//! The point in time filters compare against, as the store keeps it. Clocks and DRF's
//! renderings of it are the domain's (`domain::time`).

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);
