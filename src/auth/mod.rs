//! Secrets and credentials: password hashing, token key generation, lookup hashes and the
//! sealed copy of each key, and turning a presented credential into a `Principal`.

pub mod bearer;
pub mod csrf;
pub mod keys;
pub mod login;
pub mod password;
pub mod session;
pub mod throttle;
