//! Encodes one scrape's numbers with `prometheus-client`: the Prometheus text format (0.0.4)
//! by default, OpenMetrics 1.0 when the scraper asks for it. Every family is built at scrape
//! time from plain numbers (a `Collector`), so the hot path never touches the crate's types.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::http::{Histogram, HttpSnapshot};
use super::ldap::LdapSnapshot;
use crate::domain::directory::DirectoryStats;

/// `Content-Type` of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of OpenMetrics text.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which text format to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the `Accept` header names it, else the Prometheus text format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => PROMETHEUS_TEXT,
            Format::OpenMetrics => OPENMETRICS_TEXT,
        }
    }
}

/// Everything one scrape reports.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// `gatehouse_build_info{version}`.
    pub version: &'static str,
    /// Requests and their durations.
    pub http: HttpSnapshot,
    /// LDAP operations and connections.
    pub ldap: LdapSnapshot,
    /// Pools, the SQLite writer, caches.
    pub directory: DirectoryStats,
    /// Failed password logins so far.
    pub logins_failed: u64,
    /// Password logins refused by the throttle so far.
    pub logins_throttled: u64,
    /// Resident memory, bytes (where the platform tells).
    pub resident_bytes: Option<u64>,
}

/// Encodes `scrape` in `format`.
pub fn encode(scrape: Scrape, format: Format) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    match format {
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?
        }
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

type Out<'a> = prometheus_client::encoding::MetricEncoder<'a>;

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "gatehouse_build_info",
            "Build information; the value is always 1.",
            None,
            MetricType::Gauge,
        )?;
        gauge(&mut family.encode_family(&[("version", self.version)])?, 1)?;

        let mut family = encoder.encode_descriptor(
            "gatehouse_http_requests",
            "HTTP requests answered, by route template (unmatched: no route), method and status.",
            None,
            MetricType::Counter,
        )?;
        for (route, method, status, n) in &self.http.requests {
            let status = status.to_string();
            let labels = [
                ("route", route.as_str()),
                ("method", method),
                ("status", &status),
            ];
            counter(&mut family.encode_family(&labels)?, *n)?;
        }

        let mut family = encoder.encode_descriptor(
            "gatehouse_http_request_duration_seconds",
            "Time from a request's routing to its answer's headers, by route template and method.",
            None,
            MetricType::Histogram,
        )?;
        for (route, method, h) in &self.http.durations {
            let labels = [("route", route.as_str()), ("method", method)];
            histogram(&mut family.encode_family(&labels)?, h)?;
        }

        self.encode_ldap(&mut encoder)?;

        let pools = &self.directory.pools;
        let mut family = encoder.encode_descriptor(
            "gatehouse_db_pool_connections",
            "Database connections open in each pool.",
            None,
            MetricType::Gauge,
        )?;
        for p in pools {
            gauge(
                &mut family.encode_family(&[("pool", p.name)])?,
                p.size.into(),
            )?;
        }
        let mut family = encoder.encode_descriptor(
            "gatehouse_db_pool_idle_connections",
            "Idle database connections in each pool.",
            None,
            MetricType::Gauge,
        )?;
        for p in pools {
            gauge(
                &mut family.encode_family(&[("pool", p.name)])?,
                p.idle.into(),
            )?;
        }
        let mut family = encoder.encode_descriptor(
            "gatehouse_db_pool_max_connections",
            "Most database connections each pool opens.",
            None,
            MetricType::Gauge,
        )?;
        for p in pools {
            gauge(
                &mut family.encode_family(&[("pool", p.name)])?,
                p.max.into(),
            )?;
        }

        if let Some(writer) = &self.directory.writer {
            let mut family = encoder.encode_descriptor(
                "gatehouse_sqlite_writer_queue",
                "Write transactions waiting for SQLite's single writer.",
                None,
                MetricType::Gauge,
            )?;
            gauge(
                &mut family,
                i64::try_from(writer.queued).unwrap_or(i64::MAX),
            )?;
            let mut family = encoder.encode_descriptor(
                "gatehouse_sqlite_commit_batch_size",
                "Write transactions carried by each group COMMIT of SQLite's writer.",
                None,
                MetricType::Histogram,
            )?;
            histogram(
                &mut family,
                &Histogram {
                    buckets: writer.buckets.clone(),
                    sum: writer.writes as f64,
                    count: writer.commits,
                },
            )?;
        }

        let caches = &self.directory.caches;
        let mut family = encoder.encode_descriptor(
            "gatehouse_cache_hits",
            "Lookups a cache answered, by cache.",
            None,
            MetricType::Counter,
        )?;
        for (name, hits, _) in caches {
            counter(&mut family.encode_family(&[("cache", *name)])?, *hits)?;
        }
        let mut family = encoder.encode_descriptor(
            "gatehouse_cache_misses",
            "Lookups a cache could not answer (read from the database), by cache.",
            None,
            MetricType::Counter,
        )?;
        for (name, _, misses) in caches {
            counter(&mut family.encode_family(&[("cache", *name)])?, *misses)?;
        }

        let mut family = encoder.encode_descriptor(
            "gatehouse_login_failures",
            "Password logins that failed (wrong password or unknown account).",
            None,
            MetricType::Counter,
        )?;
        counter(&mut family, self.logins_failed)?;
        let mut family = encoder.encode_descriptor(
            "gatehouse_login_throttled",
            "Password logins refused (429) after too many failures.",
            None,
            MetricType::Counter,
        )?;
        counter(&mut family, self.logins_throttled)?;

        if let Some(bytes) = self.resident_bytes {
            let mut family = encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                None,
                MetricType::Gauge,
            )?;
            gauge(&mut family, i64::try_from(bytes).unwrap_or(i64::MAX))?;
        }
        Ok(())
    }
}

impl Scrape {
    fn encode_ldap(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let ldap = &self.ldap;
        let mut family = encoder.encode_descriptor(
            "gatehouse_ldap_operations",
            "LDAP operations answered, by operation and result code (RFC 4511 name).",
            None,
            MetricType::Counter,
        )?;
        for (op, result, n) in &ldap.operations {
            counter(
                &mut family.encode_family(&[("op", *op), ("result", *result)])?,
                *n,
            )?;
        }
        let mut family = encoder.encode_descriptor(
            "gatehouse_ldap_connections_open",
            "LDAP connections open now (plain, StartTLS and LDAPS).",
            None,
            MetricType::Gauge,
        )?;
        gauge(&mut family, ldap.open)?;
        for (name, help, value) in [
            (
                "gatehouse_ldap_connections_accepted",
                "LDAP connections accepted.",
                ldap.accepted,
            ),
            (
                "gatehouse_ldap_connections_refused",
                "LDAP connections refused at ldap_max_connections (Notice of Disconnection, busy).",
                ldap.refused,
            ),
            (
                "gatehouse_ldap_bind_failures",
                "LDAP binds answered with anything but success (wrong credentials, throttled, refused).",
                ldap.bind_failures,
            ),
            (
                "gatehouse_ldap_tls_handshake_failures",
                "TLS handshakes (LDAPS or StartTLS) that failed.",
                ldap.tls_failures,
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            counter(&mut family, value)?;
        }
        Ok(())
    }
}

fn counter(encoder: &mut Out<'_>, value: u64) -> Result<(), std::fmt::Error> {
    encoder.encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn gauge(encoder: &mut Out<'_>, value: i64) -> Result<(), std::fmt::Error> {
    encoder.encode_gauge(&value)
}

fn histogram(encoder: &mut Out<'_>, h: &Histogram) -> Result<(), std::fmt::Error> {
    encoder.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)
}
