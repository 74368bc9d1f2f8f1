//! Prometheus metrics. The HTTP counters are kept here (`http`, fed by the `api::metrics`
//! middleware), and so are the LDAP door's (`ldap`, fed by its sessions); everything else is read when `/metrics` is scraped: the directory's pool,
//! writer and cache numbers (`Directory::stats`), the login throttle's counters and the
//! process's memory; `exposition` encodes them. Like a front door, this module reaches the
//! store only through the domain (tests/layering.rs).

pub mod exposition;
pub mod http;
pub mod ldap;

pub use http::HttpMetrics;
pub use ldap::LdapMetrics;

use crate::app::AppState;
use exposition::Scrape;

/// Gathers everything one scrape reports.
pub fn scrape(state: &AppState) -> Scrape {
    Scrape {
        version: env!("CARGO_PKG_VERSION"),
        http: state.http_metrics.snapshot(),
        ldap: state.ldap_metrics.snapshot(),
        directory: state.directory.stats(),
        logins_failed: state.logins.failed(),
        logins_throttled: state.logins.refused(),
        resident_bytes: resident_bytes(),
    }
}

/// The process's resident memory, from `/proc/self/status` (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}
