//! The LDAP counters: operations by kind and result code, connections open / accepted /
//! refused, failed binds and failed TLS handshakes. The hot path adds to relaxed atomics in
//! fixed arrays (no lock, no allocation, no label lookup); a scrape reads the non-zero ones.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The `op` label values, in `LdapOp` order.
pub const OPS: [&str; 8] = [
    "bind", "search", "compare", "extended", "modify", "add", "delete", "modrdn",
];

/// An operation kind: an index into `OPS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapOpKind {
    /// Bind.
    Bind = 0,
    /// Search.
    Search = 1,
    /// Compare.
    Compare = 2,
    /// Extended operation (StartTLS, whoami, password modify…).
    Extended = 3,
    /// Modify.
    Modify = 4,
    /// Add.
    Add = 5,
    /// Delete.
    Delete = 6,
    /// Modify DN.
    ModRdn = 7,
}

/// Result codes 0..=80 get a slot each; anything above shares the last.
const CODES: usize = 82;

/// RFC 4511's name of a result code (`other` for codes it does not name).
pub fn result_name(code: u16) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        5 => "compareFalse",
        6 => "compareTrue",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        _ => "other",
    }
}

/// Every LDAP counter.
pub struct LdapMetrics {
    operations: [[AtomicU64; CODES]; OPS.len()],
    open: AtomicI64,
    accepted: AtomicU64,
    refused: AtomicU64,
    bind_failures: AtomicU64,
    tls_failures: AtomicU64,
}

impl Default for LdapMetrics {
    fn default() -> Self {
        LdapMetrics {
            operations: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            open: AtomicI64::new(0),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            bind_failures: AtomicU64::new(0),
            tls_failures: AtomicU64::new(0),
        }
    }
}

/// The LDAP counters at one moment.
#[derive(Debug, Default, Clone)]
pub struct LdapSnapshot {
    /// (op, result name, count) for every non-zero pair, in `OPS` then code order; codes
    /// sharing the `other` name are summed.
    pub operations: Vec<(&'static str, &'static str, u64)>,
    /// Connections open now.
    pub open: i64,
    /// Connections accepted so far.
    pub accepted: u64,
    /// Connections refused at the cap so far.
    pub refused: u64,
    /// Binds answered with anything but success.
    pub bind_failures: u64,
    /// TLS handshakes (LDAPS or StartTLS) that failed.
    pub tls_failures: u64,
}

impl LdapMetrics {
    /// Counts one answered operation.
    pub fn operation(&self, op: LdapOpKind, code: u16) {
        let slot = usize::from(code).min(CODES - 1);
        self.operations[op as usize][slot].fetch_add(1, Ordering::Relaxed);
        if op == LdapOpKind::Bind && code != 0 {
            self.bind_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A connection was accepted (and is open until `closed`).
    pub fn opened(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    /// An accepted connection ended.
    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection was refused at the cap.
    pub fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A TLS handshake failed.
    pub fn tls_failed(&self) {
        self.tls_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> LdapSnapshot {
        let mut operations = Vec::new();
        for (op, codes) in OPS.iter().zip(&self.operations) {
            let mut other = 0;
            for (code, n) in codes.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                let name = result_name(u16::try_from(code).unwrap_or(u16::MAX));
                match (n, name) {
                    (0, _) => {}
                    (n, "other") => other += n,
                    (n, name) => operations.push((*op, name, n)),
                }
            }
            if other > 0 {
                operations.push((*op, "other", other));
            }
        }
        LdapSnapshot {
            operations,
            open: self.open.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            bind_failures: self.bind_failures.load(Ordering::Relaxed),
            tls_failures: self.tls_failures.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_counted_by_kind_and_result() {
        let m = LdapMetrics::default();
        m.operation(LdapOpKind::Bind, 0);
        m.operation(LdapOpKind::Bind, 49);
        m.operation(LdapOpKind::Bind, 49);
        m.operation(LdapOpKind::Search, 0);
        m.operation(LdapOpKind::Search, 4096);
        m.opened();
        m.opened();
        m.closed();
        let s = m.snapshot();
        assert_eq!(
            s.operations,
            vec![
                ("bind", "success", 1),
                ("bind", "invalidCredentials", 2),
                ("search", "success", 1),
                ("search", "other", 1),
            ]
        );
        assert_eq!((s.open, s.accepted, s.bind_failures), (1, 2, 2));
    }
}
