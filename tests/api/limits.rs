//! Limits: header size, request-target length, query parameter count, concurrent connections,
//! slow clients (headers and bodies), slow requests, JSON nesting depth and page sizes. Each
//! over-the-limit request gets a clear 4xx (or a 503) with a JSON `detail`; the server keeps
//! serving everyone else.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend_test;
use crate::common::{Backend, TestServer};

/// Give-up point for anything awaited (never a timing assertion).
const DEADLINE: Duration = Duration::from_secs(60);

fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or("")
}

/// Reads from a raw connection until the server closes it (or `DEADLINE`).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_string()
}

fn addr(srv: &TestServer) -> String {
    srv.base.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_target_sizes_are_bounded() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    let get = |extra: Option<(&'static str, String)>, path: String| {
        let mut req = client
            .get(format!("{}{path}", srv.base))
            .bearer_auth(&srv.token);
        if let Some((name, value)) = extra {
            req = req.header(name, value);
        }
        async move {
            let r = req.send().await.expect("sent");
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }
    };
    let users = "/api/v3/core/users/".to_string();

    // Under the limit (32 KiB by default): served.
    let (status, _) = get(Some(("x-padding", "a".repeat(20_000))), users.clone()).await;
    assert_eq!(status, StatusCode::OK);
    // Over it: 431 with a JSON detail.
    let (status, body) = get(Some(("x-padding", "a".repeat(40_000))), users.clone()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(
        detail(&body),
        "The request's header fields are larger than 32768 bytes."
    );
    // Far over it, hyper refuses the head before it is parsed: still a 431, with no body.
    let (status, _) = get(Some(("x-padding", "a".repeat(200_000))), users.clone()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // More than 100 header fields: hyper's 431 as well.
    let mut head = String::from("GET /-/health/live/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..120 {
        head.push_str(&format!("x-h{i}: v\r\n"));
    }
    head.push_str("\r\n");
    let raw = crate::common::raw_exchange(&srv.base, head.as_bytes()).await;
    assert!(raw.starts_with("HTTP/1.1 431"), "{raw}");

    // Request target: 16 KiB.
    let long = format!("/api/v3/core/users/?search={}", "a".repeat(17_000));
    let (status, body) = get(None, long).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert_eq!(detail(&body), "The request URI is longer than 16384 bytes.");

    // Query parameters: 1,000.
    let params = |n: usize| {
        (0..n)
            .map(|i| format!("x{i}=1"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let (status, _) = get(None, format!("/api/v3/core/users/?{}", params(1000))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(None, format!("/api/v3/core/users/?{}", params(1001))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(detail(&body), "Too many query parameters: at most 1000.");
    let (status, body) = get(None, format!("/api/v2/users/?{}", params(1001))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(detail(&body), "Too many query parameters: at most 1000.");

    // And the server is fine.
    assert_eq!(get(None, users).await.0, StatusCode::OK);
    srv.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_get_a_503() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.http_max_connections = 2).await;
    // Two clients hold the two slots (connected, nothing sent yet).
    let mut first = TcpStream::connect(addr(&srv)).await.expect("connect");
    let second = TcpStream::connect(addr(&srv)).await.expect("connect");
    // Make sure both were accepted before the third arrives: a request on the first answers.
    first
        .write_all(b"GET /-/health/live/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(DEADLINE, first.read(&mut buf))
        .await
        .expect("answer")
        .expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    let third = crate::common::raw_exchange(
        &srv.base,
        b"GET /api/v3/core/users/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(third.starts_with("HTTP/1.1 503"), "{third}");
    let lower = third.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 1"), "{third}");
    assert!(lower.contains("content-type: application/json"), "{third}");
    assert!(
        third.contains(r#"{"detail":"The server is at its connection limit; try again shortly."}"#),
        "{third}"
    );

    // A slot frees when a client leaves; then new connections are served again.
    drop(second);
    let started = std::time::Instant::now();
    loop {
        let r = crate::common::raw_exchange(
            &srv.base,
            b"GET /-/health/live/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        if r.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(r.starts_with("HTTP/1.1 503"), "{r}");
        assert!(started.elapsed() < DEADLINE, "the slot never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(first);
    srv.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.http_header_timeout = Duration::from_secs(1);
    })
    .await;
    let mut slow = TcpStream::connect(addr(&srv)).await.expect("connect");
    slow.write_all(b"GET /-/health/live/ HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // One byte of a header every 100 ms: all of them would take ten minutes.
    let mut cut_off = false;
    for _ in 0..6000 {
        if slow.write_all(b"a").await.is_err() {
            cut_off = true;
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut_off = true;
                break;
            }
            Ok(Ok(n)) => panic!("unexpected answer: {}", String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    assert!(cut_off, "a client trickling its headers is disconnected");
    // Everyone else is served meanwhile and afterwards.
    let r = srv.get("/api/v3/core/users/").await;
    assert_eq!(r.status, StatusCode::OK);
    srv.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_get_408() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.http_request_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = TcpStream::connect(addr(&srv)).await.expect("connect");
    let head = format!(
        "POST /api/v3/core/users/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"username\"",
        srv.token
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#"{"detail":"The request body did not arrive within 1 seconds."}"#),
        "{answer}"
    );
    srv.finish().await;
}

/// Holds the database's write lock (SQLite) or an exclusive lock on `users` (PostgreSQL) from
/// outside the server, until dropped/released.
enum Blocker {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Blocker {
    async fn hold(srv: &TestServer) -> Blocker {
        use sqlx::Connection;
        let url = srv.config().database_url;
        if let Some(path) = url.strip_prefix("sqlite://") {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .busy_timeout(Duration::from_secs(10));
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("open");
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .expect("write lock");
            Blocker::Sqlite(conn)
        } else {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::query("BEGIN")
                .execute(&mut conn)
                .await
                .expect("begin");
            sqlx::query("LOCK TABLE users IN EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .expect("lock");
            Blocker::Postgres(conn)
        }
    }

    async fn release(self) {
        match self {
            Blocker::Sqlite(mut c) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut c)
                    .await
                    .expect("rollback");
            }
            Blocker::Postgres(mut c) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut c)
                    .await
                    .expect("rollback");
            }
        }
    }
}

async fn slow_request_gets_503(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.http_request_timeout = Duration::from_secs(1);
    })
    .await;
    let blocker = Blocker::hold(&srv).await;
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "waited", "name": "W"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(
        detail(&r.body),
        "The request took longer than 1 seconds; try again shortly."
    );
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    // Reads do not wait for the writer.
    assert_eq!(srv.get("/-/health/live/").await.status, StatusCode::OK);
    blocker.release().await;
    // The abandoned write did not land; the next one does.
    let started = std::time::Instant::now();
    loop {
        let r = srv
            .post(
                "/api/v3/core/users/",
                &json!({"username": "served", "name": "S"}),
            )
            .await;
        if r.status == StatusCode::CREATED {
            break;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
        assert!(started.elapsed() < DEADLINE, "writes never resumed");
    }
    let lost = srv.get("/api/v3/core/users/?username=waited").await;
    assert_eq!(lost.body["pagination"]["count"], 0, "{}", lost.text);
    srv.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_gets_503_sqlite() {
    slow_request_gets_503(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_gets_503_postgres() {
    if crate::common::postgres_url().is_none() {
        eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: PostgreSQL variant not run");
        return;
    }
    slow_request_gets_503(Backend::Postgres).await;
}

fn nested(depth: usize) -> String {
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str(r#"{"a":"#);
    }
    s.push('1');
    for _ in 0..depth {
        s.push('}');
    }
    s
}

backend_test!(json_nesting_is_bounded, |srv| {
    // Deep enough to overflow a recursive parser's stack: a clean 400 in both dialects.
    let deep = "[".repeat(100_000);
    for path in ["/api/v3/core/users/", "/api/v2/users/"] {
        let r = srv
            .send_raw(
                Method::POST,
                path,
                Some("application/json"),
                deep.clone().into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert!(
            detail(&r.body).contains("recursion limit exceeded"),
            "{path}: {}",
            r.text
        );
    }
    // 100 levels of attributes are stored and read back as sent.
    let body = format!(
        r#"{{"username": "deep", "name": "D", "attributes": {}}}"#,
        nested(100)
    );
    let r = srv
        .send_raw(
            Method::POST,
            "/api/v3/core/users/",
            Some("application/json"),
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let stored = srv
        .get(&format!("/api/v3/core/users/{}/", r.body["pk"]))
        .await;
    let expected: Value = serde_json::from_str(&nested(100)).expect("json");
    assert_eq!(stored.body["attributes"], expected);
    // Past serde_json's 128 levels: 400.
    let body = format!(
        r#"{{"username": "deeper", "name": "D", "attributes": {}}}"#,
        nested(200)
    );
    let r = srv
        .send_raw(
            Method::POST,
            "/api/v3/core/users/",
            Some("application/json"),
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // The attributes filter parses JSON too.
    let query: String = form_urlencoded::byte_serialize(nested(500).as_bytes()).collect();
    let r = srv
        .get(&format!("/api/v3/core/users/?attributes={query}"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

backend_test!(page_sizes_are_capped, |srv| {
    gatehouse::store::bulk::insert_users(&srv.state().store, 1, 250)
        .await
        .expect("seed");
    let r = srv.get("/api/v3/core/users/?page_size=1000000").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["results"].as_array().map(Vec::len), Some(100));
    assert_eq!(r.body["pagination"]["count"], 251);
    assert_eq!(r.body["pagination"]["total_pages"], 3);
    let r = srv.get("/api/v2/users/?page_size=1000000").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["results"].as_array().map(Vec::len), Some(200));
    assert_eq!(r.body["count"], 251);
});
