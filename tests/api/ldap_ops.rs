//! Operating the LDAP door: the per-connection rate limit (`busy` beyond it), the LDAP
//! metrics on `/metrics`, and many connections at once against a small cap.

use ldap3::Scope;

use crate::common::{Backend, TestServer};
use crate::ldap::{bound, connect, search, seed, user_dn, BASE, PW, SVC};

/// Runs `run` on a server configured by `adjust`, on SQLite and (when configured) PostgreSQL.
macro_rules! ops_test {
    ($name:ident, $adjust:expr, |$srv:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
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

ops_test!(
    ldap_rate_limit_answers_busy,
    |c: &mut gatehouse::config::Config| c.ldap_operations_per_second = 1,
    |srv| {
        seed(srv).await;
        // One operation a second, a burst of one: 20 back-to-back binds cannot all pass.
        let mut ldap = connect(srv).await;
        let mut codes = Vec::new();
        for _ in 0..20 {
            codes.push(ldap.simple_bind("", "").await.expect("answered").rc);
        }
        assert_eq!(codes[0], 0, "the first is within the limit");
        assert!(codes.contains(&51), "busy beyond the limit: {codes:?}");
        assert!(codes.iter().all(|c| *c == 0 || *c == 51), "{codes:?}");
        // A search refused for the rate carries busy too, and the connection stays open.
        let mut results = Vec::new();
        for _ in 0..5 {
            let r = ldap
                .search(BASE, Scope::Base, "(objectClass=*)", vec!["1.1"])
                .await
                .expect("answered");
            results.push(r.1.rc);
        }
        assert!(results.contains(&51), "{results:?}");
        // Each connection has its own allowance.
        let mut other = connect(srv).await;
        assert_eq!(other.simple_bind(SVC, PW).await.expect("bind").rc, 0);
        // Refusals are counted under `busy`.
        let metrics = srv.get("/metrics").await.text;
        assert!(
            sample(
                &metrics,
                r#"gatehouse_ldap_operations_total{op="bind",result="busy"}"#
            )
            .is_some_and(|n| n >= 1.0),
            "{metrics}"
        );
    }
);

/// The value of the sample named exactly `series` (name and labels), if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

crate::backend_test!(ldap_metrics_count_operations_and_connections, |srv| {
    seed(srv).await;
    let mut held = bound(srv, SVC, PW).await;
    let (rc, found) = search(
        &mut held,
        &format!("ou=users,{BASE}"),
        Scope::Subtree,
        "(cn=alice)",
        &["cn"],
    )
    .await;
    assert_eq!((rc, found.len()), (0, 1));
    let mut other = connect(srv).await;
    for _ in 0..2 {
        let r = other
            .simple_bind(&user_dn("alice"), "not-the-password")
            .await
            .expect("answered");
        assert_eq!(r.rc, 49);
    }
    let r = other
        .compare(&user_dn("alice"), "mail", "alice@example.com")
        .await
        .expect("compare");
    assert_eq!(r.0.rc, 50, "anonymous compare on an entry");
    let metrics = srv.get("/metrics").await.text;
    let value = |series: &str| sample(&metrics, series).unwrap_or(-1.0);
    assert!(
        value(r#"gatehouse_ldap_operations_total{op="bind",result="success"}"#) >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        value(r#"gatehouse_ldap_operations_total{op="bind",result="invalidCredentials"}"#),
        2.0
    );
    assert!(value(r#"gatehouse_ldap_operations_total{op="search",result="success"}"#) >= 1.0);
    assert_eq!(
        value(r#"gatehouse_ldap_operations_total{op="compare",result="insufficientAccessRights"}"#),
        1.0
    );
    assert_eq!(value("gatehouse_ldap_bind_failures_total"), 2.0);
    assert!(value("gatehouse_ldap_connections_open") >= 2.0, "{metrics}");
    assert!(value("gatehouse_ldap_connections_accepted_total") >= 2.0);
    // The two open connections (and any others) are gone once closed.
    drop(held);
    other.unbind().await.expect("unbind");
    let mut open = f64::MAX;
    for _ in 0..100 {
        let metrics = srv.get("/metrics").await.text;
        open = sample(&metrics, "gatehouse_ldap_connections_open").unwrap_or(-1.0);
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0.0, "closed connections leave the gauge");
});

ops_test!(
    ldap_many_connections_against_a_small_cap,
    |c: &mut gatehouse::config::Config| c.ldap_max_connections = 40,
    |srv| {
        use tokio::io::AsyncReadExt;
        seed(srv).await;
        let addr = srv.ldap.trim_start_matches("ldap://").to_string();
        // 400 connections at once: 40 are held, the rest are refused with a Notice of
        // Disconnection and closed; none of it stops the server.
        let mut conns = Vec::new();
        for _ in 0..400 {
            conns.push(
                tokio::net::TcpStream::connect(&addr)
                    .await
                    .expect("connect"),
            );
        }
        let mut refused = 0;
        for conn in &mut conns {
            let mut buf = [0u8; 64];
            if let Ok(Ok(n)) =
                tokio::time::timeout(std::time::Duration::from_millis(50), conn.read(&mut buf))
                    .await
            {
                if n > 0 {
                    refused += 1;
                }
            }
        }
        assert!(refused >= 300, "{refused} of 400 refused at a cap of 40");
        drop(conns);
        // Once they are gone the server serves again, within the cap.
        let mut served = None;
        for _ in 0..100 {
            let (conn, mut ldap) = ldap3::LdapConnAsync::new(&srv.ldap)
                .await
                .expect("connects");
            ldap3::drive!(conn);
            if let Ok(r) = ldap.simple_bind(SVC, PW).await {
                served = Some(r.rc);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(served, Some(0), "served again after the flood");
        let metrics = srv.get("/metrics").await.text;
        assert!(
            sample(&metrics, "gatehouse_ldap_connections_refused_total")
                .is_some_and(|n| n >= 300.0),
            "{metrics}"
        );
    }
);
