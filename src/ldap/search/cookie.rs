//! Search positions and paging cookies: the walk's phases in order, a keyset position
//! (phase, last pk, pushdown variant), and the cookie that carries it, bound to the request
//! (a hash of base, scope and filter) and to the connection (its nonce).

use ldap3_proto::proto::LdapSearchRequest;

/// The parts of a search position, in walk order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Phase {
    Base = 0,
    UsersOu = 1,
    Users = 2,
    GroupsOu = 3,
    Groups = 4,
    VirtualOu = 5,
    Virtual = 6,
}

pub(super) const PHASES: [Phase; 7] = [
    Phase::Base,
    Phase::UsersOu,
    Phase::Users,
    Phase::GroupsOu,
    Phase::Groups,
    Phase::VirtualOu,
    Phase::Virtual,
];

/// A keyset position: resume at `phase` after pk `after`, with pushdown variant `variant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) phase: Phase,
    pub(super) after: i64,
    pub(super) variant: u8,
}

/// A short hash of what defines a search, so a cookie is refused for another request.
pub(super) fn request_hash(req: &LdapSearchRequest) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    req.base.to_ascii_lowercase().hash(&mut h);
    (req.scope.clone() as i64).hash(&mut h);
    format!("{:?}", req.filter).hash(&mut h);
    h.finish()
}

pub(super) fn encode_cookie(position: Position, hash: u64, nonce: u64) -> Vec<u8> {
    format!(
        "{}:{}:{}:{hash:x}:{nonce:x}",
        position.phase as u8, position.after, position.variant
    )
    .into_bytes()
}

pub(super) fn decode_cookie(cookie: &[u8], hash: u64, nonce: u64) -> Option<Position> {
    let text = std::str::from_utf8(cookie).ok()?;
    let parts: Vec<&str> = text.split(':').collect();
    let [phase, after, variant, h, n] = parts.as_slice() else {
        return None;
    };
    if u64::from_str_radix(h, 16).ok()? != hash || u64::from_str_radix(n, 16).ok()? != nonce {
        return None;
    }
    let phase: u8 = phase.parse().ok()?;
    Some(Position {
        phase: *PHASES.get(phase as usize)?,
        after: after.parse().ok()?,
        variant: variant.parse().ok()?,
    })
}
