//! `/metrics`: the Prometheus text format (checked line by line), request counts by route
//! template (never a raw path), build info, failed and throttled logins, token protection, its own listener,
//! and switching it off.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use reqwest::StatusCode;

use crate::common::{Backend, TestServer};

/// Runs `run` on a server started with `adjust`, on SQLite and (when configured) PostgreSQL.
macro_rules! with_config {
    ($name:ident, $adjust:expr, |$srv:ident| $body:block) => {
        mod $name {
            use super::*;

            async fn run($srv: &TestServer) $body

            async fn on(backend: Backend) {
                let srv = TestServer::start_with(backend, $adjust).await;
                run(&srv).await;
                srv.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                on(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if crate::common::postgres_url().is_none() {
                    eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: PostgreSQL variant not run");
                    return;
                }
                on(Backend::Postgres).await;
            }
        }
    };
}

const TOKEN: &str = "scrape-token-0123456789";

/// One sample: metric name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

/// Parses the Prometheus text format strictly enough to catch a malformed line: every
/// non-comment line is `name{labels} value` (labels optional), every sample belongs to a
/// family announced by `# TYPE` before it (histograms through `_bucket`, `_sum`, `_count`).
fn parse(text: &str) -> Vec<Sample> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.into(), kind.into()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, labels(rest.strip_suffix('}').expect("closing brace"))),
            None => (series, HashMap::new()),
        };
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name: {line}"
        );
        let family = [
            (name, None),
            (
                name.strip_suffix("_bucket").unwrap_or(""),
                Some("histogram"),
            ),
            (name.strip_suffix("_sum").unwrap_or(""), Some("histogram")),
            (name.strip_suffix("_count").unwrap_or(""), Some("histogram")),
        ]
        .into_iter()
        .find(|(family, kind)| {
            types
                .get(*family)
                .is_some_and(|t| kind.is_none_or(|k| k == t))
        });
        assert!(family.is_some(), "sample without # TYPE: {line}");
        samples.push((name.to_string(), labels, value));
    }
    samples
}

/// `a="x",b="y"` (values without escapes, which is all ours have).
fn labels(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label=\"");
        let (value, after) = after.split_once('"').expect("closing quote");
        assert!(!value.contains('\\'), "unexpected escape in {text}");
        assert!(out.insert(key.to_string(), value.to_string()).is_none());
        rest = after.strip_prefix(',').unwrap_or(after);
    }
    out
}

/// The value of the sample `name` whose labels include `want`, or 0 when there is none.
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .sum()
}

async fn scrape_text(base: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.expect("scrape");
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, r.text().await.expect("body"))
}

async fn scrape(base: &str, token: Option<&str>) -> Vec<Sample> {
    let (status, content_type, text) = scrape_text(base, token).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    parse(&text)
}

const USER_ROUTE: &str = "/api/v3/core/users/{id}/";

crate::backend_test!(counts_requests_by_route_template, |srv| {
    let me = srv.get("/api/v3/core/users/me/").await;
    let id = me.body["user"]["pk"].as_i64().expect("my pk");
    let before = scrape(&srv.base, None).await;
    let labels = [("route", USER_ROUTE), ("method", "GET"), ("status", "200")];
    let start = value(&before, "gatehouse_http_requests_total", &labels);
    for _ in 0..3 {
        let r = srv.get(&format!("/api/v3/core/users/{id}/")).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = srv.get("/no/such/path-x7q9z/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let (status, content_type, text) = scrape_text(&srv.base, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(
        !text.contains("x7q9z"),
        "a raw path became a label:\n{text}"
    );
    assert!(
        !text.contains(&format!("/users/{id}/")),
        "a raw id became a label"
    );
    let after = parse(&text);
    assert_eq!(
        value(&after, "gatehouse_http_requests_total", &labels) - start,
        3.0
    );
    assert!(
        value(
            &after,
            "gatehouse_http_requests_total",
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ) >= 1.0
    );
    let histogram = [("route", USER_ROUTE), ("method", "GET")];
    assert!(
        value(
            &after,
            "gatehouse_http_request_duration_seconds_count",
            &histogram
        ) >= 3.0
    );
    assert!(
        value(
            &after,
            "gatehouse_http_request_duration_seconds_bucket",
            &[("route", USER_ROUTE), ("method", "GET"), ("le", "+Inf")]
        ) >= 3.0
    );
    let build: Vec<&Sample> = after
        .iter()
        .filter(|(n, _, _)| n == "gatehouse_build_info")
        .collect();
    assert_eq!(build.len(), 1);
    assert_eq!(
        build[0].1.get("version").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(build[0].2, 1.0);
    // Pools, caches and logins are reported, whatever their values.
    let names: HashSet<&str> = after.iter().map(|(n, _, _)| n.as_str()).collect();
    for name in [
        "gatehouse_db_pool_connections",
        "gatehouse_db_pool_idle_connections",
        "gatehouse_cache_hits_total",
        "gatehouse_cache_misses_total",
        "gatehouse_login_failures_total",
        "gatehouse_login_throttled_total",
    ] {
        assert!(names.contains(name), "{name} missing:\n{text}");
    }
    for cache in [
        "users",
        "user_counts",
        "principals",
        "rendered_users",
        "awx_rendered_users",
    ] {
        assert!(
            after
                .iter()
                .any(|(n, l, _)| n == "gatehouse_cache_misses_total"
                    && l.get("cache").map(String::as_str) == Some(cache)),
            "cache {cache} missing"
        );
    }
    // The token lookups above went through the principals cache.
    let principals = [("cache", "principals")];
    assert!(
        value(&after, "gatehouse_cache_hits_total", &principals)
            + value(&after, "gatehouse_cache_misses_total", &principals)
            >= 4.0
    );
    if srv.backend == Backend::Sqlite {
        assert!(names.contains("gatehouse_sqlite_writer_queue"));
        assert!(names.contains("gatehouse_sqlite_commit_batch_size_count"));
    }
});

crate::backend_test!(counts_commit_batches_and_failed_logins, |srv| {
    let before = scrape(&srv.base, None).await;
    let r = srv
        .post(
            "/api/v3/core/users/",
            &serde_json::json!({"username": "metrics-user", "name": "M"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let wrong = base64::engine::general_purpose::STANDARD.encode("akadmin:not-the-password");
    let r = reqwest::Client::new()
        .get(format!("{}/api/v2/me/", srv.base))
        .header("Authorization", format!("Basic {wrong}"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let after = scrape(&srv.base, None).await;
    assert_eq!(
        value(&after, "gatehouse_login_failures_total", &[])
            - value(&before, "gatehouse_login_failures_total", &[]),
        1.0
    );
    if srv.backend == Backend::Sqlite {
        let commits = |s: &[Sample]| value(s, "gatehouse_sqlite_commit_batch_size_count", &[]);
        assert!(
            commits(&after) > commits(&before),
            "the create was committed"
        );
    }
    // Nine more failures reach the throttle's limit; the next attempt is refused, not failed.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v2/me/", srv.base))
            .header("Authorization", format!("Basic {wrong}"))
            .send()
            .await
            .expect("request");
        statuses.push(r.status());
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let throttled = scrape(&srv.base, None).await;
    let failures = |s: &[Sample]| value(s, "gatehouse_login_failures_total", &[]);
    assert_eq!(failures(&throttled) - failures(&before), 10.0);
    assert_eq!(
        value(&throttled, "gatehouse_login_throttled_total", &[])
            - value(&before, "gatehouse_login_throttled_total", &[]),
        1.0
    );
});

crate::backend_test!(openmetrics_when_asked, |srv| {
    let r = reqwest::Client::new()
        .get(format!("{}/metrics", srv.base))
        .header("Accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), StatusCode::OK);
    let content_type = r.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = r.text().await.expect("body");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE gatehouse_http_requests counter"));
});

with_config!(
    token_protects_metrics,
    |c: &mut gatehouse::config::Config| c.metrics_token = Some(TOKEN.into()),
    |srv| {
        for token in [None, Some("wrong"), Some(&format!("{TOKEN}x")[..])] {
            let (status, content_type, text) = scrape_text(&srv.base, token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
            assert!(content_type.starts_with("application/json"));
            let body: serde_json::Value = serde_json::from_str(&text).expect("json");
            assert!(body["detail"].is_string(), "{text}");
        }
        // An API token is not the metrics token.
        let (status, _, _) = scrape_text(&srv.base, Some(&srv.token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let samples = scrape(&srv.base, Some(TOKEN)).await;
        assert!(samples.iter().any(|(n, _, _)| n == "gatehouse_build_info"));
    }
);

with_config!(
    own_listener,
    |c: &mut gatehouse::config::Config| {
        c.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"))
    },
    |srv| {
        let (status, _, _) = scrape_text(&srv.base, None).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "the main listener no longer serves it"
        );
        let metrics = srv.metrics_base().expect("metrics listener");
        let samples = scrape(&metrics, None).await;
        // The main listener's 404 for /metrics was counted, as unmatched.
        assert!(
            value(
                &samples,
                "gatehouse_http_requests_total",
                &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
            ) >= 1.0
        );
        let (status, _, text) = scrape_text(&format!("{metrics}/api/v3"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    }
);

with_config!(
    switched_off,
    |c: &mut gatehouse::config::Config| c.metrics_enabled = false,
    |srv| {
        let (status, _, _) = scrape_text(&srv.base, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(srv.state().http_metrics.snapshot().requests.is_empty());
    }
);

#[test]
fn the_parser_rejects_what_prometheus_would() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
    assert_eq!(parse(ok).len(), 1);
    for bad in [
        "a_total 1\n",
        "# TYPE a counter\na{x=\"1\" 2\n",
        "# TYPE a counter\na{x=\"1\"}\n",
        "# TYPE a counter\na{x=\"1\"} two\n",
        "# TYPE h counter\nh_bucket{le=\"1\"} 1\n",
    ] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "{bad}");
    }
}
