//! Hostile input (proptest): JSON bodies with wrong types, huge strings, deep nesting, NUL
//! bytes, lone surrogates, numbers out of range, unknown fields, duplicate keys and invalid
//! UTF-8; hostile query strings for every list; ids in paths that overflow or are not ids.
//! The property everywhere: never a 5xx, every non-empty body is JSON, whatever a write
//! accepted reads back, and afterwards the objects no request aimed at read back exactly as they
//! were and every list (the audit log's JSON views included) still answers. Offline properties
//! drive the parsers themselves through `gatehouse::fuzzing`; `hostile_input_regressions` pins
//! what the properties found.
//!
//! Each backend test starts one server and runs many cases against it. The number of cases is
//! fixed for CI (well under a minute per property and backend on 2 cores); `PROPTEST_CASES=N`
//! runs N per property instead, and `--nocapture` prints which answers the cases got. Failures
//! are shrunk and printed, not persisted.

use std::fmt;

use crate::backend_test;
use crate::common::TestServer;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

// ------------------------------------------------------------------------------- harness

/// Cases per property: `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `property` over `strategy` on this (multi-threaded) runtime's thread; panics with the
/// shrunk counterexample on failure.
fn check<S>(
    name: &str,
    default_cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), String>,
) where
    S: Strategy,
    S::Value: fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases: cases(default_cases),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    });
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&strategy, |value| {
            property(value).map_err(TestCaseError::fail)
        })
    });
    if let Err(e) = outcome {
        panic!("property {name} failed: {e}");
    }
}

/// Bytes shown shortened in failure reports (a 1 MiB counterexample helps nobody).
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = String::from_utf8_lossy(&self.0[..self.0.len().min(400)]).into_owned();
        if self.0.len() > 400 {
            write!(f, "{shown:?}… ({} bytes)", self.0.len())
        } else {
            write!(f, "{shown:?}")
        }
    }
}

/// Text shown shortened in failure reports.
#[derive(Clone)]
struct Text(String);

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Bytes(self.0.clone().into_bytes()).fmt(f)
    }
}

/// One request a property sends.
#[derive(Debug, Clone)]
struct Probe {
    method: Method,
    path: Text,
    content_type: Option<&'static str>,
    body: Option<Bytes>,
}

/// What came back.
struct Answer {
    status: StatusCode,
    text: String,
}

/// Sends a probe as the bootstrap admin; `None` when the client itself refuses the URL.
fn send(
    srv: &TestServer,
    client: &reqwest::Client,
    handle: &tokio::runtime::Handle,
    probe: &Probe,
) -> Option<Result<Answer, String>> {
    handle.block_on(async {
        let mut req = client
            .request(
                probe.method.clone(),
                format!("{}{}", srv.base, probe.path.0),
            )
            .bearer_auth(&srv.token);
        if let Some(ct) = probe.content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(body) = &probe.body {
            req = req.body(body.0.clone());
        }
        let req = req.build().ok()?;
        Some(match client.execute(req).await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                Ok(Answer { status, text })
            }
            // The client refusing the URL (longer than HTTP allows, say) is no server answer.
            Err(e) if e.is_builder() => return None,
            Err(e) => Err(e.without_url().to_string()),
        })
    })
}

/// Bodies above this are refused before they are read; the client may then see the connection
/// close while it is still writing, instead of the 413.
const BODY_LIMIT: usize = 1024 * 1024;

/// The property of every answer: no 5xx; a body, when there is one, is JSON (an empty body
/// only for 204 and the few answers authentik sends empty).
fn sound(probe: &Probe, answer: &Answer) -> Result<(), String> {
    if answer.status.is_server_error() {
        return Err(format!(
            "{} for {probe:?}: {:?}",
            answer.status,
            Text(answer.text.clone())
        ));
    }
    if answer.text.is_empty() {
        let empty_allowed = answer.status == StatusCode::NO_CONTENT
            || (answer.status == StatusCode::BAD_REQUEST
                && probe.path.0.ends_with("/set_password/"));
        if !empty_allowed {
            return Err(format!(
                "{} with an empty body for {probe:?}",
                answer.status
            ));
        }
    } else if serde_json::from_str::<Value>(&answer.text).is_err() {
        return Err(format!(
            "{} with a body that is not JSON for {probe:?}: {:?}",
            answer.status,
            Text(answer.text.clone())
        ));
    }
    Ok(())
}

/// After a successful write, the detail URL of what it wrote (the object itself, or the one
/// an action changed).
fn read_back(probe: &Probe, answer: &Answer) -> Option<String> {
    if !answer.status.is_success()
        || !matches!(probe.method, Method::POST | Method::PUT | Method::PATCH)
    {
        return None;
    }
    let path = probe.path.0.split('?').next().unwrap_or("");
    if path.contains("/assigned_by_roles/") {
        return Some(format!("/api/v3/rbac/roles/{}/", path.split('/').nth(6)?));
    }
    if matches!(probe.method, Method::PUT | Method::PATCH) {
        // A token's detail URL is its identifier, which the write may have changed.
        if path.starts_with("/api/v3/core/tokens/") {
            let written: Value = serde_json::from_str(&answer.text).ok()?;
            let identifier = written["identifier"].as_str()?;
            return Some(format!("/api/v3/core/tokens/{identifier}/"));
        }
        return Some(path.to_string());
    }
    for action in [
        "set_password/",
        "add_user/",
        "remove_user/",
        "set_key/",
        "tokens/",
    ] {
        if let Some(object) = path.strip_suffix(action) {
            if object.matches('/').count() > 4 {
                return Some(object.to_string());
            }
        }
    }
    let created: Value = serde_json::from_str(&answer.text).ok()?;
    let key = match path {
        "/api/v3/core/tokens/" => created["identifier"].as_str()?.to_string(),
        "/api/v3/core/users/service_account/" => {
            return Some(format!("/api/v3/core/users/{}/", created["user_pk"]));
        }
        "/api/v2/tokens/" | "/api/v2/users/" => created["id"].to_string(),
        p if p.starts_with("/api/v2/users/") => {
            return Some(format!("/api/v2/tokens/{}/", created["id"]));
        }
        _ => match &created["pk"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    };
    Some(format!("{path}{key}/"))
}

/// A write that renamed the victim token (its identifier is its URL) is renamed back, so later
/// cases still reach it.
fn restore_renamed(
    srv: &TestServer,
    client: &reqwest::Client,
    handle: &tokio::runtime::Handle,
    probe: &Probe,
    read_path: &str,
) -> Result<(), String> {
    let aimed = probe.path.0.split('?').next().unwrap_or("");
    if !matches!(probe.method, Method::PUT | Method::PATCH)
        || aimed == read_path
        || !aimed.starts_with("/api/v3/core/tokens/")
    {
        return Ok(());
    }
    let Some(original) = aimed.trim_end_matches('/').rsplit('/').next() else {
        return Ok(());
    };
    let rename = Probe {
        method: Method::PATCH,
        path: Text(read_path.to_string()),
        content_type: Some("application/json"),
        body: Some(Bytes(
            json!({ "identifier": original }).to_string().into_bytes(),
        )),
    };
    match send(srv, client, handle, &rename) {
        Some(Ok(answer)) if answer.status == StatusCode::OK => Ok(()),
        Some(Ok(answer)) => Err(format!(
            "{} renaming the token back after {probe:?}: {:?}",
            answer.status,
            Text(answer.text)
        )),
        other => Err(format!(
            "no answer renaming the token back after {probe:?}: {:?}",
            other.map(|r| r.err())
        )),
    }
}

fn run_probes(
    name: &str,
    srv: &TestServer,
    default_cases: u32,
    strategy: impl Strategy<Value = Probe>,
) {
    let client = reqwest::Client::new();
    let handle = tokio::runtime::Handle::current();
    // Which answers the cases got, per method and route (printed with `--nocapture`), to see
    // that the strategies reach past the first validation.
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    check(name, default_cases, strategy, |probe| {
        let answer = send(srv, &client, &handle, &probe);
        let route: String = probe
            .path
            .0
            .split('?')
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        let outcome = match &answer {
            Some(Ok(a)) => a.status.as_u16().to_string(),
            Some(Err(_)) => "no answer".into(),
            None => "not sent".into(),
        };
        if let Ok(mut seen) = seen.lock() {
            *seen
                .entry(format!("{} {route} {outcome}", probe.method))
                .or_default() += 1;
        }
        match answer {
            Some(Ok(answer)) => {
                sound(&probe, &answer)?;
                // What a write accepted must read back.
                match read_back(&probe, &answer) {
                    Some(path) => {
                        let read = Probe {
                            method: Method::GET,
                            path: Text(path.clone()),
                            content_type: None,
                            body: None,
                        };
                        if let Ok(mut seen) = seen.lock() {
                            *seen.entry("GET (read back)".to_string()).or_default() += 1;
                        }
                        let outcome = match send(srv, &client, &handle, &read) {
                            Some(Ok(again)) if again.status == StatusCode::OK => {
                                sound(&read, &again)
                            }
                            Some(Ok(again)) => Err(format!(
                                "{} reading back after {probe:?}: {:?}",
                                again.status,
                                Text(again.text)
                            )),
                            other => Err(format!(
                                "no answer reading back after {probe:?}: {:?}",
                                other.map(|r| r.err())
                            )),
                        };
                        restore_renamed(srv, &client, &handle, &probe, &path)?;
                        outcome
                    }
                    None => Ok(()),
                }
            }
            Some(Err(_)) if probe.body.as_ref().is_some_and(|b| b.0.len() > BODY_LIMIT) => Ok(()),
            Some(Err(e)) => Err(format!("no answer to {probe:?}: {e}")),
            None => Ok(()),
        }
    });
    for (what, n) in seen.into_inner().unwrap_or_default() {
        println!("{name}: {n:>5} × {what}");
    }
}

// ------------------------------------------------------------------------------- fixtures

/// Objects created before the hostile requests: `victims` are what bodies are aimed at,
/// `sentinels` must read back unchanged at the end.
struct World {
    user: i64,
    group: String,
    token: String,
    role: String,
    awx_user: i64,
    sentinels: Vec<(String, Value)>,
}

async fn created(srv: &TestServer, path: &str, body: Value) -> Value {
    let r = srv.post(path, &body).await;
    assert!(r.status.is_success(), "{path}: {} {}", r.status, r.text);
    r.body
}

/// The fields of an answer that only a request aimed at that object could change.
fn own_fields(value: &Value, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .map(|k| ((*k).to_string(), value[*k].clone()))
            .collect(),
    )
}

const USER_KEYS: [&str; 9] = [
    "pk",
    "uuid",
    "username",
    "name",
    "email",
    "is_active",
    "path",
    "type",
    "attributes",
];
const GROUP_KEYS: [&str; 4] = ["pk", "name", "is_superuser", "attributes"];
const TOKEN_KEYS: [&str; 6] = [
    "identifier",
    "intent",
    "description",
    "expiring",
    "managed",
    "user",
];
const ROLE_KEYS: [&str; 2] = ["pk", "name"];
const AWX_USER_KEYS: [&str; 5] = ["id", "username", "first_name", "last_name", "email"];

async fn world(srv: &TestServer) -> World {
    let odd = json!({"ünï": "\u{1F600}\u{202e}", "nested": {"a": [1, -0.5, null, true, "x"]}, "big": 9007199254740993_i64});
    let sentinel_user = created(
        srv,
        "/api/v3/core/users/",
        json!({"username": "sentinel-ü", "name": "Sentinel \u{1F600}", "email": "s@example.com", "attributes": odd, "path": "sentinels"}),
    )
    .await;
    let sentinel_group = created(
        srv,
        "/api/v3/core/groups/",
        json!({"name": "sentinel-group", "attributes": odd}),
    )
    .await;
    let sentinel_token = created(
        srv,
        "/api/v3/core/tokens/",
        json!({"identifier": "sentinel-token", "description": "keep", "expiring": false}),
    )
    .await;
    let sentinel_role = created(srv, "/api/v3/rbac/roles/", json!({"name": "sentinel-role"})).await;
    let sentinel_awx = created(
        srv,
        "/api/v2/users/",
        json!({"username": "sentinel-awx", "password": "sentinel-pw", "first_name": "Ş", "last_name": "Ω"}),
    )
    .await;
    let user = created(
        srv,
        "/api/v3/core/users/",
        json!({"username": "victim", "name": "Victim"}),
    )
    .await;
    let group = created(srv, "/api/v3/core/groups/", json!({"name": "victim-group"})).await;
    created(
        srv,
        "/api/v3/core/tokens/",
        json!({"identifier": "victim-token"}),
    )
    .await;
    let role = created(srv, "/api/v3/rbac/roles/", json!({"name": "victim-role"})).await;
    let awx_user = created(
        srv,
        "/api/v2/users/",
        json!({"username": "victim-awx", "password": "victim-pw"}),
    )
    .await;
    let sentinels = vec![
        (
            format!("/api/v3/core/users/{}/", sentinel_user["pk"]),
            own_fields(&sentinel_user, &USER_KEYS),
        ),
        (
            format!(
                "/api/v3/core/groups/{}/",
                sentinel_group["pk"].as_str().unwrap_or("")
            ),
            own_fields(&sentinel_group, &GROUP_KEYS),
        ),
        (
            "/api/v3/core/tokens/sentinel-token/".to_string(),
            own_fields(&sentinel_token, &TOKEN_KEYS),
        ),
        (
            format!(
                "/api/v3/rbac/roles/{}/",
                sentinel_role["pk"].as_str().unwrap_or("")
            ),
            own_fields(&sentinel_role, &ROLE_KEYS),
        ),
        (
            format!("/api/v2/users/{}/", sentinel_awx["id"]),
            own_fields(&sentinel_awx, &AWX_USER_KEYS),
        ),
    ];
    World {
        user: user["pk"].as_i64().expect("user pk"),
        group: group["pk"].as_str().expect("group pk").to_string(),
        token: "victim-token".to_string(),
        role: role["pk"].as_str().expect("role pk").to_string(),
        awx_user: awx_user["id"].as_i64().expect("awx id"),
        sentinels,
    }
}

/// The server still answers, and every sentinel reads back as it was created.
async fn intact(srv: &TestServer, world: &World) {
    for (path, expected) in &world.sentinels {
        let r = srv.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        let keys: Vec<&str> = expected
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(&own_fields(&r.body, &keys), expected, "{path} changed");
    }
    // Lists, including the audit log's views that read every event's context as JSON.
    for list in [
        "/api/v3/core/users/?page_size=100",
        "/api/v3/core/groups/?page_size=100",
        "/api/v3/core/tokens/?page_size=100",
        "/api/v3/rbac/roles/?page_size=100",
        "/api/v2/users/?page_size=200",
        "/api/v2/tokens/?page_size=200",
        "/api/v3/events/events/?page_size=100",
        "/api/v3/events/events/?context_authorized_app=7f193d74-aedd-4850-865d-14793f8ddc14",
        "/api/v3/events/events/?context_model_pk=1&username=victim",
        "/api/v3/events/events/volume/",
        "/api/v3/events/events/top_per_user/?action=model_created",
        "/api/v3/events/events/top_per_user/?action=login_failed",
    ] {
        let r = srv.get(list).await;
        assert_eq!(r.status, StatusCode::OK, "{list}: {}", r.text);
    }
}

// ------------------------------------------------------------------------------- JSON text

/// Text that tends to break things, before JSON encoding.
fn nasty_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-z0-9_-]{0,12}",
        2 => any::<String>(),
        3 => select(vec![
            "", " ", "\0", "a\0b", "\u{feff}", "é", "\u{1F600}", "\u{202e}", "\u{10ffff}", "\u{7f}",
            "%", "_", "\\", "'", "\"", "' OR 1=1 --", "$1", "?", "../", "\n", "\t", "\r\n",
            "1", "-1", "0", "true", "True", "yes", "null", "None", "1e400", "NaN",
            "2024-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "0000-00-00T00:00:00Z",
            "2024-02-30T25:61:61+99:99", "7f193d74-aedd-4850-865d-14793f8ddc14",
            "00000000-0000-0000-0000-000000000000", "internal", "service_account",
            "internal_service_account", "api", "app_password", "recovery", "verification",
            "authentik_core.view_user", "authentik_core.user", "read", "write", "$encrypted$",
        ])
        .prop_map(String::from),
        1 => (1usize..4, select(vec!["x", "é", "\u{1F600}", "%_"]))
            .prop_map(|(scale, s)| s.repeat([151, 4097, 300_000][scale - 1])),
    ]
    .boxed()
}

/// Numbers as JSON text: edges, overflow, and arbitrary values.
fn number() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(vec![
            "0", "-0", "-0.0", "0.0", "1", "-1", "1.0", "1.5", "2e0", "1E2", "1e400", "-1e400",
            "1e-400", "18446744073709551615", "18446744073709551616", "9223372036854775807",
            "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
            "9007199254740993", "123456789012345678901234567890.5", "4294967296",
        ])
        .prop_map(String::from),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
        1 => (1usize..500).prop_map(|n| format!("-{}", "9".repeat(n))),
    ]
    .boxed()
}

/// A JSON string literal, mostly valid, sometimes not (lone surrogates, raw invalid UTF-8,
/// raw control characters, bad escapes, no closing quote).
fn string_literal() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(nasty_text(), 1..3)
            .prop_map(|parts| serde_json::to_vec(&parts.concat()).unwrap_or_default()),
        2 => select(BAD_STRINGS.to_vec())
        .prop_map(<[u8]>::to_vec),
    ]
    .boxed()
}

/// JSON string literals a strict parser must refuse or decode with care.
const BAD_STRINGS: [&[u8]; 14] = [
    br#""\ud800""#,
    br#""\udc00x""#,
    br#""a\ud800\u0041""#,
    br#""\ud83d\ude00""#,
    br#""\u0000""#,
    br#""\x41""#,
    br#""\u12""#,
    b"\"unterminated",
    b"\"\xff\xfe\"",
    b"\"\xc0\x80\"",
    b"\"\xed\xa0\x80\"",
    b"\"\x01\"",
    b"\"a\nb\"",
    b"\"\xf4\x90\x80\x80\"",
];

/// Any JSON value, possibly invalid, up to a few levels deep.
fn value() -> BoxedStrategy<Vec<u8>> {
    let leaf = prop_oneof![
        9 => valid_leaf(),
        1 => select(vec![
            "NaN", "Infinity", "-Infinity", "01", "1.", ".5", "+1", "0x10", "tru", "nul", "None",
            "True", "undefined", "[1,]", "{\"a\":1,}", "{\"a\"}", "[", "{", "]", "}", "''",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        2 => select(BAD_STRINGS.to_vec()).prop_map(<[u8]>::to_vec),
    ];
    nest(leaf.boxed(), string_literal())
}

/// Valid JSON that is still hostile: wrong types, edge numbers, nasty text, nesting, and
/// objects with duplicate keys.
fn valid_value() -> BoxedStrategy<Vec<u8>> {
    nest(valid_leaf(), valid_string())
}

fn valid_leaf() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        2 => select(vec!["null", "true", "false"]).prop_map(|s| s.as_bytes().to_vec()),
        3 => number().prop_map(String::into_bytes),
        4 => valid_string(),
    ]
    .boxed()
}

fn valid_string() -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(nasty_text(), 1..3)
        .prop_map(|parts| serde_json::to_vec(&parts.concat()).unwrap_or_default())
        .boxed()
}

/// Arrays and objects of `leaf`, a few levels deep; object keys from `key` (so they repeat).
fn nest(leaf: BoxedStrategy<Vec<u8>>, key: BoxedStrategy<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|items| join(b"[", &items, b"]")),
            prop::collection::vec(
                (
                    prop_oneof![
                        2 => key.clone(),
                        1 => select(vec!["\"a\"", "\"a__b\"", "\"\""]).prop_map(|k| k.as_bytes().to_vec()),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| {
                let items: Vec<Vec<u8>> = pairs
                    .into_iter()
                    .map(|(mut k, v)| {
                        k.push(b':');
                        k.extend(v);
                        k
                    })
                    .collect();
                join(b"{", &items, b"}")
            }),
        ]
    })
    .boxed()
}

/// Nesting far past any parser's recursion limit, balanced or not.
fn deep() -> BoxedStrategy<Vec<u8>> {
    (1usize..20_000, any::<bool>(), any::<bool>())
        .prop_map(|(n, object, balanced)| {
            let (open, close): (&[u8], &[u8]) = if object {
                (b"{\"a\":", b"}")
            } else {
                (b"[", b"]")
            };
            let mut out = open.repeat(n);
            out.extend_from_slice(b"1");
            if balanced {
                out.extend(close.repeat(n));
            }
            out
        })
        .boxed()
}

fn join(open: &[u8], items: &[Vec<u8>], close: &[u8]) -> Vec<u8> {
    let mut out = open.to_vec();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(close);
    out
}

/// A body for an endpoint with these fields: valid `base` pairs first (so most bodies get past
/// "required"), then hostile pairs that may repeat or override them; sometimes not an object.
fn body(
    fields: &'static [&'static str],
    base: Vec<(&'static str, Value)>,
) -> BoxedStrategy<Vec<u8>> {
    let key = prop_oneof![
        6 => select(fields.to_vec()).prop_map(|k| serde_json::to_vec(k).unwrap_or_default()),
        1 => string_literal(),
    ];
    let suffix = "[a-z0-9]{10}";
    let values = prop_oneof![3 => valid_value(), 1 => value()];
    let object = (
        prop::collection::vec((key, values), 0..6),
        suffix,
        prop_oneof![4 => Just(true), 1 => Just(false)],
    )
        .prop_map(move |(pairs, suffix, with_base)| {
            let mut items: Vec<Vec<u8>> = Vec::new();
            if with_base {
                for (k, v) in &base {
                    let v = match v {
                        Value::String(s) if s.ends_with('-') => {
                            Value::String(format!("{s}{suffix}"))
                        }
                        other => other.clone(),
                    };
                    items.push(
                        [
                            serde_json::to_vec(k).unwrap_or_default(),
                            b":".to_vec(),
                            serde_json::to_vec(&v).unwrap_or_default(),
                        ]
                        .concat(),
                    );
                }
            }
            for (mut k, v) in pairs {
                k.push(b':');
                k.extend(v);
                items.push(k);
            }
            join(b"{", &items, b"}")
        });
    prop_oneof![
        10 => object,
        2 => value(),
        1 => deep(),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(Vec::new()),
    ]
    .boxed()
}

fn content_type() -> BoxedStrategy<Option<&'static str>> {
    prop_oneof![
        12 => Just(Some("application/json")),
        1 => select(vec![
            Some("application/json; charset=latin-1"),
            Some("application/vnd.api+json"),
            Some("APPLICATION/JSON"),
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some(""),
            Some(";"),
            None,
        ]),
    ]
    .boxed()
}

// ------------------------------------------------------------------------------- bodies

const AK_USER_FIELDS: &[&str] = &[
    "username",
    "name",
    "is_active",
    "last_login",
    "groups",
    "roles",
    "email",
    "attributes",
    "path",
    "type",
    "password",
    "pk",
    "uuid",
    "is_superuser",
    "groups_obj",
    "avatar",
];
const AK_GROUP_FIELDS: &[&str] = &[
    "name",
    "is_superuser",
    "parents",
    "users",
    "attributes",
    "roles",
    "pk",
];
const AK_TOKEN_FIELDS: &[&str] = &[
    "identifier",
    "intent",
    "user",
    "description",
    "expires",
    "expiring",
    "managed",
    "key",
    "pk",
];
const AK_ROLE_FIELDS: &[&str] = &["name", "pk", "managed", "users"];
const PK_FIELDS: &[&str] = &["pk", "user", "id"];
const PASSWORD_FIELDS: &[&str] = &["password", "password_repeat"];
const KEY_FIELDS: &[&str] = &["key"];
const SERVICE_ACCOUNT_FIELDS: &[&str] = &["name", "create_group", "expiring", "expires", "path"];
const ASSIGN_FIELDS: &[&str] = &["permissions", "model", "object_pk"];
const AWX_USER_FIELDS: &[&str] = &[
    "username",
    "first_name",
    "last_name",
    "email",
    "is_superuser",
    "is_system_auditor",
    "password",
    "id",
    "type",
];
const AWX_TOKEN_FIELDS: &[&str] = &["description", "application", "scope", "user"];

/// A writing endpoint: method, path, the fields its body knows, and valid values to start from.
type Target = (
    Method,
    String,
    &'static [&'static str],
    Vec<(&'static str, Value)>,
);

/// Every writing endpoint, aimed at the world's victims, with a hostile body.
fn body_probes(w: &World) -> BoxedStrategy<Probe> {
    let user = format!("/api/v3/core/users/{}/", w.user);
    let group = format!("/api/v3/core/groups/{}/", w.group);
    let token = format!("/api/v3/core/tokens/{}/", w.token);
    let role = format!("/api/v3/rbac/roles/{}/", w.role);
    let awx_user = format!("/api/v2/users/{}/", w.awx_user);
    let targets: Vec<Target> = vec![
        (
            Method::POST,
            "/api/v3/core/users/".into(),
            AK_USER_FIELDS,
            vec![("username", json!("p-")), ("name", json!("P"))],
        ),
        (
            Method::PUT,
            user.clone(),
            AK_USER_FIELDS,
            vec![("username", json!("victim")), ("name", json!("Victim"))],
        ),
        (Method::PATCH, user.clone(), AK_USER_FIELDS, vec![]),
        (
            Method::POST,
            format!("{user}set_password/"),
            PASSWORD_FIELDS,
            vec![("password", json!("pw-"))],
        ),
        (
            Method::POST,
            "/api/v3/core/users/service_account/".into(),
            SERVICE_ACCOUNT_FIELDS,
            vec![("name", json!("sa-"))],
        ),
        (
            Method::POST,
            "/api/v3/core/groups/".into(),
            AK_GROUP_FIELDS,
            vec![("name", json!("g-"))],
        ),
        (
            Method::PUT,
            group.clone(),
            AK_GROUP_FIELDS,
            vec![("name", json!("victim-group"))],
        ),
        (Method::PATCH, group.clone(), AK_GROUP_FIELDS, vec![]),
        (
            Method::POST,
            format!("{group}add_user/"),
            PK_FIELDS,
            vec![("pk", json!(w.user))],
        ),
        (
            Method::POST,
            format!("{group}remove_user/"),
            PK_FIELDS,
            vec![("pk", json!(w.user))],
        ),
        (
            Method::POST,
            "/api/v3/core/tokens/".into(),
            AK_TOKEN_FIELDS,
            vec![("identifier", json!("t-"))],
        ),
        (
            Method::PUT,
            token.clone(),
            AK_TOKEN_FIELDS,
            vec![("identifier", json!("victim-token"))],
        ),
        (Method::PATCH, token.clone(), AK_TOKEN_FIELDS, vec![]),
        (
            Method::POST,
            format!("{token}set_key/"),
            KEY_FIELDS,
            vec![("key", json!("k-"))],
        ),
        (
            Method::POST,
            "/api/v3/rbac/roles/".into(),
            AK_ROLE_FIELDS,
            vec![("name", json!("r-"))],
        ),
        (
            Method::PUT,
            role.clone(),
            AK_ROLE_FIELDS,
            vec![("name", json!("victim-role"))],
        ),
        (Method::PATCH, role.clone(), AK_ROLE_FIELDS, vec![]),
        (
            Method::POST,
            format!("{role}add_user/"),
            PK_FIELDS,
            vec![("pk", json!(w.user))],
        ),
        (
            Method::POST,
            format!("{role}remove_user/"),
            PK_FIELDS,
            vec![("pk", json!(w.user))],
        ),
        (
            Method::POST,
            format!(
                "/api/v3/rbac/permissions/assigned_by_roles/{}/assign/",
                w.role
            ),
            ASSIGN_FIELDS,
            vec![("permissions", json!(["authentik_core.view_user"]))],
        ),
        (
            Method::PATCH,
            format!(
                "/api/v3/rbac/permissions/assigned_by_roles/{}/unassign/",
                w.role
            ),
            ASSIGN_FIELDS,
            vec![("permissions", json!(["authentik_core.view_user"]))],
        ),
        (
            Method::POST,
            "/api/v2/users/".into(),
            AWX_USER_FIELDS,
            vec![("username", json!("a-")), ("password", json!("pw"))],
        ),
        (
            Method::PUT,
            awx_user.clone(),
            AWX_USER_FIELDS,
            vec![("username", json!("victim-awx"))],
        ),
        (Method::PATCH, awx_user.clone(), AWX_USER_FIELDS, vec![]),
        (
            Method::POST,
            format!("{awx_user}tokens/"),
            AWX_TOKEN_FIELDS,
            vec![],
        ),
        (
            Method::POST,
            "/api/v2/tokens/".into(),
            AWX_TOKEN_FIELDS,
            vec![("description", json!("d"))],
        ),
    ];
    let strategies: Vec<BoxedStrategy<Probe>> = targets
        .into_iter()
        .map(|(method, path, fields, base)| {
            // Writes are audited with their query arguments: sometimes send hostile ones too.
            let query = prop_oneof![4 => Just(String::new()), 1 => query_string()];
            (body(fields, base), content_type(), query)
                .prop_map(move |(body, content_type, query)| Probe {
                    method: method.clone(),
                    path: Text(if query.is_empty() {
                        path.clone()
                    } else {
                        format!("{path}?{query}")
                    }),
                    content_type,
                    body: Some(Bytes(body)),
                })
                .boxed()
        })
        .collect();
    proptest::strategy::Union::new(strategies).boxed()
}

backend_test!(hostile_json_bodies, |srv| {
    let w = world(srv).await;
    run_probes("hostile_json_bodies", srv, 1000, body_probes(&w));
    intact(srv, &w).await;
});

// ------------------------------------------------------------------------------- queries

/// Query keys: every filter any list knows, AWX lookups and prefixes, and nonsense.
fn query_key() -> BoxedStrategy<String> {
    let known = select(vec![
        "search",
        "ordering",
        "page",
        "page_size",
        "attributes",
        "username",
        "name",
        "email",
        "path",
        "path_startswith",
        "is_active",
        "is_superuser",
        "uuid",
        "type",
        "date_joined",
        "date_joined__lt",
        "last_updated__gt",
        "last_login",
        "last_login__isnull",
        "groups_by_name",
        "groups_by_pk",
        "roles_by_name",
        "roles_by_pk",
        "members_by_pk",
        "members_by_username",
        "include_users",
        "include_groups",
        "include_children",
        "include_parents",
        "include_inherited_roles",
        "include_roles",
        "identifier",
        "intent",
        "user__username",
        "description",
        "managed",
        "managed__isnull",
        "expires",
        "expiring",
        "user",
        "users",
        "inherited",
        "model",
        "object_pk",
        "role",
        "id",
        "action",
        "actions",
        "app",
        "context",
        "client_ip",
        "order_by",
        "order",
        "first_name",
        "last_name",
        "created",
        "password",
        "is_system_auditor",
        "format",
        "host_filter",
        "content_type__model",
        "codename",
    ]);
    let field = select(vec![
        "id",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "is_superuser",
        "last_login",
        "date_joined",
        "created",
        "password",
        "nope",
        "",
        "ü",
    ]);
    let lookup = select(vec![
        "",
        "__exact",
        "__iexact",
        "__contains",
        "__icontains",
        "__startswith",
        "__istartswith",
        "__endswith",
        "__iendswith",
        "__regex",
        "__iregex",
        "__gt",
        "__gte",
        "__lt",
        "__lte",
        "__in",
        "__isnull",
        "__search",
        "__bogus",
        "__",
        "__pk",
    ]);
    let prefix = prop::collection::vec(select(vec!["or__", "not__", "chain__"]), 0..4);
    prop_oneof![
        4 => known.prop_map(String::from),
        4 => (prefix, field, lookup).prop_map(|(p, f, l)| format!("{}{f}{l}", p.concat())),
        1 => url_text(),
    ]
    .boxed()
}

/// Nasty text short enough for a URL (HTTP caps a request target at 64 KiB).
fn url_text() -> BoxedStrategy<String> {
    nasty_text()
        .prop_map(|t| t.chars().take(2000).collect())
        .boxed()
}

/// Query values: nasty text, numbers, DjangoQL fragments and JSON.
fn query_value() -> BoxedStrategy<String> {
    let ql_atom = select(vec![
        "username",
        "name",
        "email",
        "path",
        "is_active",
        "type",
        "attributes",
        "attributes.a",
        "attributes.a.b",
        "is_superuser",
        "and",
        "or",
        "not",
        "in",
        "startswith",
        "endswith",
        "=",
        "!=",
        "~",
        "!~",
        ">",
        ">=",
        "<",
        "<=",
        "(",
        ")",
        ",",
        "\"x\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "1",
        "-1.5e3",
        "99999999999999999999",
        "1e999",
        "True",
        "None",
        "\"",
    ]);
    prop_oneof![
        4 => url_text(),
        2 => number(),
        3 => prop::collection::vec(ql_atom, 1..12).prop_map(|atoms| atoms.join(" ")),
        1 => value().prop_map(|v| String::from_utf8_lossy(&v).chars().take(4000).collect()),
        1 => select(vec![
            "last", "0", "-1", "1_000", "_1", "1__0", "+5", " 2 ", "9223372036854775807",
            "9223372036854775808", "-9223372036854775808", "1e3", "²",
        ])
        .prop_map(String::from),
        1 => (1usize..2000, select(vec!["1,", ",", "a,", "x"])).prop_map(|(n, s)| s.repeat(n)),
    ]
    .boxed()
}

/// Percent-encodes every byte outside a small safe set; sometimes leaves garbage escapes.
fn encode(text: &str, garbage: u8) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~,:()!*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    match garbage % 8 {
        0 => out.push('%'),
        1 => out.push_str("%zz"),
        2 => out.push_str("%ff%fe"),
        3 => out.push_str("%00"),
        4 => out.push_str("%ed%a0%80"),
        5 => out.push('+'),
        _ => {}
    }
    out
}

fn query_string() -> BoxedStrategy<String> {
    let pair = (query_key(), query_value(), any::<u8>(), any::<u8>()).prop_map(|(k, v, gk, gv)| {
        format!("{}={}", encode(&k, gk.wrapping_add(3)), encode(&v, gv))
    });
    prop_oneof![
        8 => prop::collection::vec(pair, 1..6).prop_map(|pairs| pairs.join("&")),
        1 => select(vec!["&&&", "=", "==", "&=&", "a", "%", "page", "search", ";"]).prop_map(String::from),
        1 => (1usize..3000).prop_map(|n| "username=a&".repeat(n)),
        1 => (1usize..3000).prop_map(|n| "or__username=a&".repeat(n)),
        1 => (1usize..3000).prop_map(|n| "not__id__in=1&".repeat(n)),
        1 => (1usize..30_000).prop_map(|n| format!("username__in={}", ",".repeat(n))),
        1 => (1usize..30_000).prop_map(|n| format!("id__in={}1", "1,".repeat(n))),
        1 => (1usize..3000).prop_map(|n| format!("search={}", "a%20".repeat(n))),
        1 => (1usize..1000).prop_map(|n| format!("search={}", "username%20%3D%20%22a%22%20or%20".repeat(n))),
        1 => (1usize..2000).prop_map(|n| "type=internal&groups_by_name=x&".repeat(n)),
        1 => (1usize..1000).prop_map(|n| format!("attributes={}", encode(&format!("{{{}\"a\":1}}", "\"k\":{\"k\":".repeat(n)), 9))),
    ]
    .boxed()
}

const LISTS: [&str; 13] = [
    "/api/v3/core/users/",
    "/api/v3/core/users/paths/",
    "/api/v3/core/groups/",
    "/api/v3/core/tokens/",
    "/api/v3/rbac/roles/",
    "/api/v3/rbac/permissions/",
    "/api/v3/rbac/permissions/roles/",
    "/api/v3/rbac/permissions/assigned_by_roles/",
    "/api/v3/events/events/",
    "/api/v3/events/events/actions/",
    "/api/v2/users/",
    "/api/v2/tokens/",
    "/api/v2/me/",
];

backend_test!(hostile_query_strings, |srv| {
    let w = world(srv).await;
    let strategy = (select(LISTS.to_vec()), query_string()).prop_map(|(list, query)| Probe {
        method: Method::GET,
        path: Text(format!("{list}?{query}")),
        content_type: None,
        body: None,
    });
    run_probes("hostile_query_strings", srv, 1500, strategy);
    intact(srv, &w).await;
});

// ------------------------------------------------------------------------------- paths

/// Lookup segments that overflow, are not ids, or are ids of nothing.
fn lookup_segment() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(vec![
            "0", "-1", "1", "2", "+1", "01", "1.0", "1e3", " 1", "1 ", "0x1", "9223372036854775807",
            "9223372036854775808", "-9223372036854775809", "18446744073709551616",
            "99999999999999999999999999999999", "abc", "me", "last", "null", "true", "..", ".",
            "%00", "1%00", "%ff", "%ed%a0%80", "%2F", "%2e%2e", "%25", "%", "%zz", "%20",
            "7f193d74-aedd-4850-865d-14793f8ddc14", "7F193D74AEDD4850865D14793F8DDC14",
            "{7f193d74-aedd-4850-865d-14793f8ddc14}", "urn:uuid:7f193d74-aedd-4850-865d-14793f8ddc14",
            "00000000-0000-0000-0000-000000000000", "sentinel-token", "sentinel-awx", "victim-awx",
        ])
        .prop_map(String::from),
        2 => any::<i64>().prop_map(|n| n.to_string()),
        2 => url_text().prop_map(|t| encode(&t, 7)),
        1 => (1usize..20_000).prop_map(|n| "9".repeat(n)),
    ]
    .boxed()
}

const DETAIL_ROUTES: [&str; 16] = [
    "/api/v3/core/users/{}/",
    "/api/v3/core/users/{}/set_password/",
    "/api/v3/core/groups/{}/",
    "/api/v3/core/groups/{}/used_by/",
    "/api/v3/core/tokens/{}/",
    "/api/v3/core/tokens/{}/view_key/",
    "/api/v3/core/tokens/{}/used_by/",
    "/api/v3/rbac/roles/{}/",
    "/api/v3/rbac/permissions/{}/",
    "/api/v3/rbac/permissions/assigned_by_roles/{}/assign/",
    "/api/v3/events/events/{}/",
    "/api/v2/users/{}/",
    "/api/v2/users/{}/tokens/",
    "/api/v2/users/{}/personal_tokens/",
    "/api/v2/tokens/{}/",
    "/api/v3/core/users/{}/used_by/",
];

backend_test!(hostile_path_ids, |srv| {
    let w = world(srv).await;
    let strategy = (
        select(DETAIL_ROUTES.to_vec()),
        lookup_segment(),
        select(vec![
            Method::GET,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ]),
    )
        .prop_filter("DELETE only where nothing can match", |(_, id, m)| {
            *m != Method::DELETE || id.parse::<i64>().is_err() && !id.contains('-')
        })
        .prop_map(|(route, id, method)| {
            let body = matches!(method, Method::PATCH | Method::PUT).then(|| Bytes(b"{}".to_vec()));
            Probe {
                content_type: body.as_ref().map(|_| "application/json"),
                method,
                path: Text(route.replace("{}", &id)),
                body,
            }
        });
    run_probes("hostile_path_ids", srv, 800, strategy);
    intact(srv, &w).await;
});

// ------------------------------------------------------------------------------- findings

// What the properties found, pinned.
backend_test!(hostile_input_regressions, |srv| {
    // Thousands of AWX lookups: SQLite refused the expression (depth > 1,000) with a 500.
    let many = "not__id__in=1&".repeat(1000);
    let r = srv.get(&format!("/api/v2/users/?{many}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["detail"]
        .as_str()
        .unwrap_or("")
        .starts_with("Too many filters"));
    let wide = format!("username__in={}", ",".repeat(10_000));
    let r = srv.get(&format!("/api/v2/users/?{wide}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // At the limits, still answered.
    let r = srv
        .get(&format!("/api/v2/users/?{}", "or__username=a&".repeat(200)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .get(&format!(
            "/api/v2/users/?username__in={}",
            ",".repeat(9_999)
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // A page number past i64 is past the last page (it read as `last`).
    for page in ["9223372036854775807", "99999999999999999999999"] {
        let r = srv.get(&format!("/api/v2/users/?page={page}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{page}: {}", r.text);
        assert_eq!(r.body, json!({"detail": "Invalid page."}));
    }
    let r = srv.get("/api/v2/users/?page=last").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // NUL characters in AWX lookups (PostgreSQL cannot hold them in text).
    for query in [
        "username=a%00b",
        "username__in=a%00,b",
        "first_name__icontains=%00",
        "email__startswith=x%00",
        "or__last_name__iexact=%00",
        "search=%00",
        "order_by=username%00",
        "username%00=a",
    ] {
        let r = srv.get(&format!("/api/v2/users/?{query}")).await;
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::BAD_REQUEST,
            "{query}: {} {}",
            r.status,
            r.text
        );
        assert!(r.body.is_object(), "{query}: {}", r.text);
    }
    let r = srv.get("/api/v2/users/?username=admin%00").await;
    assert_eq!(r.body["count"], 0, "{}", r.text);

    // A NUL in a Basic or login-form username: PostgreSQL refused the lookup (500), and the
    // failed-login event would have stored it in a text column.
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/api/v2/me/", srv.base))
        .basic_auth("ad\0min", Some("pw"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let form = client
        .get(format!("{}/api/login/", srv.base))
        .send()
        .await
        .expect("sent");
    let csrf = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("csrftoken="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_string();
    let r = client
        .post(format!("{}/api/login/", srv.base))
        .header("Cookie", format!("csrftoken={csrf}"))
        .header("X-CSRFToken", &csrf)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("username=a%00b&password=x")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A NUL in the query of a write went into the audit event's context as `\u0000`, which
    // PostgreSQL's jsonb refuses: every later query reading contexts as jsonb failed.
    let r = srv
        .post(
            "/api/v3/rbac/roles/?note=a%00b&%00=1",
            &json!({"name": "audited-nul"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for path in [
        "/api/v3/events/events/?context_authorized_app=7f193d74-aedd-4850-865d-14793f8ddc14",
        "/api/v3/events/events/top_per_user/?action=model_created",
        "/api/v3/events/events/top_per_user/?action=login_failed",
    ] {
        let r = srv.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
    let r = srv
        .get("/api/v3/events/events/?action=model_created&search=audited-nul")
        .await;
    assert_eq!(
        r.body["results"][0]["context"]["http_request"]["args"],
        json!({"note": "a\u{FFFD}b", "\u{FFFD}": "1"}),
        "{}",
        r.text
    );
    let r = srv.get("/api/v3/events/events/?action=login_failed").await;
    assert!(r.text.contains("ad\u{FFFD}min"), "{}", r.text);

    // NUL in a detail URL names nothing (PostgreSQL refused the lookup: 503).
    for path in [
        "/api/v3/core/tokens/a%00b/",
        "/api/v2/users/a%00b/",
        "/api/v2/users/a%00b/tokens/",
    ] {
        let r = srv.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
        assert_eq!(r.body, json!({"detail": "Not found."}), "{path}");
    }

    // Any answer given before the body was read (here: a bad key, a query over the limit)
    // says the connection closes: the server drops it with the unread rest of the body, and a
    // pooling client sent its next request on it and failed. Answers after the body was read
    // keep the connection.
    let body = serde_json::to_vec(&json!({"username": "x".repeat(200_000)})).unwrap_or_default();
    for (key, path) in [
        ("wrong-key", "/api/v3/core/users/".to_string()),
        (
            srv.token.as_str(),
            format!("/api/v3/core/users/?{}", "a&".repeat(1001)),
        ),
    ] {
        let r = client
            .post(format!("{}{path}", srv.base))
            .bearer_auth(key)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("sent");
        assert!(r.status().is_client_error(), "{}", r.status());
        assert_eq!(
            r.headers().get("connection").map(|v| v.as_bytes()),
            Some(&b"close"[..])
        );
    }
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "kept-alive", "name": "k"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.header("connection"), None);

    // A body over the limit is refused unread, and the answer says the connection closes.
    // (Only the headers are sent: the answer comes, and the connection ends, without a body.)
    let answer = crate::common::raw_exchange(
        &srv.base,
        format!(
            "POST /api/v3/core/users/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 2097152\r\n\r\n",
            srv.token
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{answer}"
    );
});

// ------------------------------------------------------------------------------- parsers

/// Runs a property without a server.
fn check_offline<S>(name: &str, default_cases: u32, strategy: S, property: impl Fn(S::Value))
where
    S: Strategy,
    S::Value: fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases: cases(default_cases),
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&strategy, |value| {
        property(value);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("property {name} failed: {e}");
    }
}

/// DjangoQL text: grammar tokens in any order, real expressions, and arbitrary text.
fn ql_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::collection::vec(
            select(vec![
                "username", "name", "email", "path", "is_active", "type", "attributes",
                "attributes.a", "attributes.a.b", "is_superuser", "and", "or", "not", "in",
                "startswith", "endswith", "=", "!=", "~", "!~", ">", ">=", "<", "<=", "(", ")",
                ",", "\"x\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\ud83d\\ude00\"", "\"\\q\"", "1",
                "-1.5e3", "99999999999999999999", "1e999", "-0", "007", "True", "False", "None",
                "\"", "\\", ".", "!", "é", "\u{1F600}", "\0",
            ]),
            0..40
        )
        .prop_map(|atoms| atoms.join(" ")),
        2 => valid_ql(),
        2 => any::<String>(),
        1 => (1usize..5000, select(vec!["(", ")", "((", "not ", "\"", "a.", "1e"]))
            .prop_map(|(n, s)| s.repeat(n)),
    ]
    .boxed()
}

/// Well-formed DjangoQL over the users schema.
fn valid_ql() -> BoxedStrategy<String> {
    let string = "[a-zA-Z0-9 _@.-]{0,8}".prop_map(|s| format!("{s:?}"));
    let comparison = prop_oneof![
        (
            select(vec!["username", "name", "email", "path"]),
            select(vec![
                "=",
                "!=",
                "~",
                "!~",
                ">",
                ">=",
                "<",
                "<=",
                "startswith",
                "not endswith"
            ]),
            string.clone(),
        )
            .prop_map(|(f, op, v)| format!("{f} {op} {v}")),
        (
            select(vec!["is_active"]),
            select(vec!["True", "False", "None"])
        )
            .prop_map(|(f, v)| format!("{f} = {v}")),
        (
            select(vec!["a", "team", "x_1"]),
            select(vec!["1", "-2.5", "\"v\"", "True", "None"])
        )
            .prop_map(|(k, v)| format!("attributes.{k} = {v}")),
        prop::collection::vec(string, 1..4)
            .prop_map(|vs| format!("username not in ({})", vs.join(", "))),
    ];
    comparison
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                (inner.clone(), select(vec!["and", "or"]), inner.clone())
                    .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
                inner.prop_map(|e| format!("({e})")),
            ]
        })
        .boxed()
}

#[test]
fn ql_parser_never_panics() {
    check_offline("ql_parser_never_panics", 3000, ql_text(), |text| {
        gatehouse::fuzzing::search(&text);
    });
}

#[test]
fn ql_parser_accepts_well_formed_expressions() {
    check_offline("ql_parser_accepts", 1000, valid_ql(), |text| {
        let (user, _) = gatehouse::fuzzing::search(&text);
        assert!(user, "valid DjangoQL refused: {text}");
    });
}

#[test]
fn list_query_parsers_never_panic() {
    let raw = prop_oneof![
        4 => query_string(),
        1 => any::<String>(),
        1 => prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    check_offline("list_query_parsers_never_panic", 2000, raw, |query| {
        gatehouse::fuzzing::list_query(&query);
    });
}

#[test]
fn body_readers_never_panic() {
    let bytes = prop_oneof![
        4 => body(AK_USER_FIELDS, vec![("username", json!("u-"))]),
        2 => body(AWX_USER_FIELDS, vec![("username", json!("a-")), ("password", json!("pw"))]),
        2 => body(AK_TOKEN_FIELDS, vec![("identifier", json!("t-"))]),
        2 => body(AK_GROUP_FIELDS, vec![("name", json!("g-"))]),
        1 => body(ASSIGN_FIELDS, vec![]),
    ];
    check_offline("body_readers_never_panic", 500, bytes, |bytes| {
        gatehouse::fuzzing::json_body(&bytes);
    });
}
