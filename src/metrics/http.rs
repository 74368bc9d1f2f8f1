//! The HTTP counters: requests by route template, method and status, and their durations by
//! route and method. The hot path takes a read lock on the route table (written once per route
//! template, the first time it is seen), allocates nothing, and adds to relaxed atomics; the
//! status codes of a route and method live in a few lock-free slots.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use axum::http::Method;

/// The `route` label of requests no route matched (their raw path is never a label).
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the duration buckets, seconds.
pub const DURATION_BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The same bounds in microseconds, for comparing without floating point.
const BOUNDS_MICROS: [u64; 12] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000,
];

/// The `method` label values; any other method counts as `other`.
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "other",
];

/// Status codes kept in lock-free slots per route and method; more go to a locked map.
const STATUS_SLOTS: usize = 12;

/// The position of `method` in `METHODS`.
pub fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        Method::TRACE => 7,
        _ => 8,
    }
}

/// Every route's counters.
#[derive(Default)]
pub struct HttpMetrics {
    routes: RwLock<HashMap<Box<str>, Box<RouteSeries>>>,
    unmatched: RouteSeries,
}

#[derive(Default)]
struct RouteSeries {
    methods: [MethodSeries; METHODS.len()],
}

#[derive(Default)]
struct MethodSeries {
    statuses: [StatusSlot; STATUS_SLOTS],
    more_statuses: Mutex<HashMap<u16, u64>>,
    /// One per bound in `DURATION_BOUNDS`, then one for slower requests.
    buckets: [AtomicU64; DURATION_BOUNDS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// A status code (0 while free) and its count.
#[derive(Default)]
struct StatusSlot {
    code: AtomicU16,
    count: AtomicU64,
}

/// One request counter: route template, method, status, count.
pub type RequestCount = (String, &'static str, u16, u64);

/// One duration histogram: route template, method and its numbers.
pub type DurationHistogram = (String, &'static str, Histogram);

/// A histogram's numbers: per-bucket counts (not cumulative, the last bound infinite), sum
/// in seconds, count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// (upper bound, observations in that bucket).
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations, seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

/// The HTTP counters at one moment, sorted by route, method and status.
#[derive(Debug, Default, Clone)]
pub struct HttpSnapshot {
    /// Request counts.
    pub requests: Vec<RequestCount>,
    /// Duration histograms.
    pub durations: Vec<DurationHistogram>,
}

impl HttpMetrics {
    /// Counts one answered request: `route` is the matched route template (`None` when no
    /// route matched), `method` an index into `METHODS`.
    pub fn record(&self, route: Option<&str>, method: usize, status: u16, elapsed: Duration) {
        let method = method.min(METHODS.len() - 1);
        let Some(route) = route else {
            return self.unmatched.methods[method].record(status, elapsed);
        };
        if let Ok(routes) = self.routes.read() {
            if let Some(series) = routes.get(route) {
                return series.methods[method].record(status, elapsed);
            }
        }
        // The first request of this route template: the only write to the table.
        if let Ok(mut routes) = self.routes.write() {
            routes.entry(Box::from(route)).or_default().methods[method].record(status, elapsed);
        }
    }

    /// Everything counted so far.
    pub fn snapshot(&self) -> HttpSnapshot {
        let mut snapshot = HttpSnapshot::default();
        let mut add = |route: &str, series: &RouteSeries| {
            for (method, counters) in METHODS.iter().zip(&series.methods) {
                let count = counters.count.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                let mut statuses = counters.statuses();
                statuses.sort_unstable();
                for (status, n) in statuses {
                    snapshot
                        .requests
                        .push((route.to_string(), *method, status, n));
                }
                snapshot
                    .durations
                    .push((route.to_string(), *method, counters.histogram()));
            }
        };
        if let Ok(routes) = self.routes.read() {
            let mut names: Vec<&str> = routes.keys().map(|k| &**k).collect();
            names.sort_unstable();
            for name in names {
                if let Some(series) = routes.get(name) {
                    add(name, series);
                }
            }
        }
        add(UNMATCHED, &self.unmatched);
        snapshot
    }
}

impl MethodSeries {
    fn record(&self, status: u16, elapsed: Duration) {
        self.count_status(status);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_MICROS
            .iter()
            .position(|bound| micros <= *bound)
            .unwrap_or(BOUNDS_MICROS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn count_status(&self, status: u16) {
        for slot in &self.statuses {
            let mut code = slot.code.load(Ordering::Relaxed);
            if code == 0 {
                // Claim the free slot, unless another request just claimed it.
                code = match slot.code.compare_exchange(
                    0,
                    status,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => status,
                    Err(taken) => taken,
                };
            }
            if code == status {
                slot.count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        if let Ok(mut more) = self.more_statuses.lock() {
            *more.entry(status).or_default() += 1;
        }
    }

    fn statuses(&self) -> Vec<(u16, u64)> {
        let mut statuses: Vec<(u16, u64)> = self
            .statuses
            .iter()
            .map(|s| {
                (
                    s.code.load(Ordering::Relaxed),
                    s.count.load(Ordering::Relaxed),
                )
            })
            .filter(|(code, n)| *code != 0 && *n != 0)
            .collect();
        if let Ok(more) = self.more_statuses.lock() {
            statuses.extend(more.iter().map(|(code, n)| (*code, *n)));
        }
        statuses
    }

    fn histogram(&self) -> Histogram {
        let bounds = DURATION_BOUNDS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY));
        let buckets: Vec<(f64, u64)> = bounds
            .zip(self.buckets.iter().map(|b| b.load(Ordering::Relaxed)))
            .collect();
        Histogram {
            // The count is the buckets' sum, so the `+Inf` bucket always equals `_count`.
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
            sum: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_template_method_and_status() {
        let metrics = HttpMetrics::default();
        let get = method_index(&Method::GET);
        for _ in 0..3 {
            metrics.record(Some("/users/{id}/"), get, 200, Duration::from_micros(700));
        }
        metrics.record(Some("/users/{id}/"), get, 404, Duration::from_secs(9));
        metrics.record(
            None,
            method_index(&Method::from_bytes(b"BREW").unwrap()),
            404,
            Duration::ZERO,
        );
        // More distinct statuses than slots still count.
        for status in 400..(400 + STATUS_SLOTS as u16 + 3) {
            metrics.record(Some("/many/"), get, status, Duration::ZERO);
        }
        let snapshot = metrics.snapshot();
        let count = |route: &str, method: &str, status: u16| {
            snapshot
                .requests
                .iter()
                .find(|(r, m, s, _)| r == route && *m == method && *s == status)
                .map(|(_, _, _, n)| *n)
        };
        assert_eq!(count("/users/{id}/", "GET", 200), Some(3));
        assert_eq!(count("/users/{id}/", "GET", 404), Some(1));
        assert_eq!(count(UNMATCHED, "other", 404), Some(1));
        assert_eq!(
            count("/many/", "GET", 400 + STATUS_SLOTS as u16 + 2),
            Some(1)
        );
        let (_, _, histogram) = snapshot
            .durations
            .iter()
            .find(|(r, m, _)| r == "/users/{id}/" && *m == "GET")
            .expect("histogram");
        assert_eq!(histogram.count, 4);
        assert_eq!(histogram.buckets[1], (0.001, 3));
        assert_eq!(histogram.buckets[12], (f64::INFINITY, 1));
        assert!((histogram.sum - 9.0021).abs() < 1e-9);
    }
}
