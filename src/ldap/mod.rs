//! The LDAP front door (LDAPv3 over TCP, authentik's outpost tree; docs/compatibility.md#ldap).
//! Like the HTTP dialects it parses the protocol (`ldap3_proto`'s codec), authenticates through
//! `auth/` (same password check, throttle and audit as HTTP logins), asks `domain::authz`, calls
//! domain operations and renders entries. It never names the store.
//!
//! `listener` accepts connections (cap, LDAPS handshakes, graceful shutdown), `session` runs
//! one connection's operations (rate limit, StartTLS, a log line and a metric per operation),
//! `bind`, `search`, `extended` answer them, `entry` and `root` build the tree's entries,
//! `filter` evaluates search filters, `dn` parses and escapes DNs, `tls` loads the certificate,
//! `stream` is a plain-or-TLS connection and `rate` the per-connection rate limit.

pub mod bind;
pub mod codec;
pub mod dn;
pub mod entry;
pub mod extended;
pub mod filter;
pub mod listener;
pub mod rate;
pub mod root;
pub mod search;
pub mod session;
pub mod stream;
pub mod tls;

pub use listener::{run, Limits, Listeners};
