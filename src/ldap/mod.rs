//! The LDAP front door (LDAPv3 over TCP, authentik's outpost tree; docs/compatibility.md#ldap).
//! Like the HTTP dialects it parses the protocol (`ldap3_proto`'s codec), authenticates through
//! `auth/` (same password check, throttle and audit as HTTP logins), asks `domain::authz`, calls
//! domain operations and renders entries. It never names the store.
//!
//! `listener` accepts connections (cap, graceful shutdown), `session` runs one connection's
//! operations, `bind`, `search`, `extended` answer them, `entry` and `root` build the tree's
//! entries, `filter` evaluates search filters and `dn` parses and escapes DNs.

pub mod bind;
pub mod codec;
pub mod dn;
pub mod entry;
pub mod extended;
pub mod filter;
pub mod listener;
pub mod root;
pub mod search;
pub mod session;

pub use listener::{run, Limits};
