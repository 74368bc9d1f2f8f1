//! The database going away and coming back. PostgreSQL: the server reaches it through a small
//! TCP proxy inside the test, which is cut (every connection dropped, new ones closed at once)
//! and restored. SQLite: the database lives on a small tmpfs that is filled up and emptied
//! again. Either way: API calls answer 503 with a JSON `detail`, readiness says not ready,
//! liveness stays up, nothing answers 500, and the server recovers by itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::common::{postgres_url, Backend, Resp, TestServer};

/// Generous bound for "eventually" (never a timing assertion: only a give-up point).
const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `probe` until it returns `Some`, or panics with `what` after `DEADLINE`.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The answer every request gets while the database is away.
fn assert_unavailable(r: &Resp, what: &str) {
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        r.text
    );
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: JSON detail expected, got {}",
        r.text
    );
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{what}: JSON content type"
    );
}

/// A TCP proxy in front of PostgreSQL that can be cut and restored.
struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (cut, state) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *state.borrow() {
                    drop(client); // refused: closed before a byte is exchanged
                    continue;
                }
                tokio::spawn(forward(client, target, state.clone()));
            }
        });
        Proxy { addr, cut, task }
    }

    /// Drops every connection and closes new ones at once.
    fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Lets connections through again.
    fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.task.abort();
    }
}

async fn forward(mut client: TcpStream, target: SocketAddr, mut cut: watch::Receiver<bool>) {
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        _ = cut.wait_for(|cut| *cut) => {}
    }
}

/// `host:port` of a postgres:// URL (IPv4 or a name that resolves).
fn pg_target(url: &str) -> SocketAddr {
    let rest = url.split("://").nth(1).expect("scheme");
    let host_port = rest
        .split(['/', '?'])
        .next()
        .expect("authority")
        .rsplit('@')
        .next()
        .expect("host");
    let host_port = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .expect("resolve")
        .next()
        .expect("an address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers() {
    let Some(admin_url) = postgres_url() else {
        eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: PostgreSQL outage test not run");
        return;
    };
    let target = pg_target(&admin_url);
    let proxy = Proxy::start(target).await;
    let proxied = proxy.addr;
    let srv = TestServer::start_with(Backend::Postgres, |c| {
        let authority = format!("{}:{}", target.ip(), target.port());
        let alt = format!("localhost:{}", target.port());
        c.database_url = c
            .database_url
            .replacen(&authority, &proxied.to_string(), 1)
            .replacen(&alt, &proxied.to_string(), 1);
    })
    .await;
    assert!(
        srv.config().database_url.contains(&proxied.to_string()),
        "the server must reach PostgreSQL through the proxy"
    );
    // A second instance on the same database, reached directly: "another path".
    let mut direct_config = srv.config();
    direct_config.database_url = direct_config.database_url.replacen(
        &proxied.to_string(),
        &format!("{}:{}", target.ip(), target.port()),
        1,
    );
    let other = gatehouse::app::RunningServer::start(direct_config)
        .await
        .expect("second instance");
    let other_base = format!("http://{}", other.addr);

    let created = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "steady", "name": "Before"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let pk = created.body["pk"].as_i64().expect("pk");
    let user_path = format!("/api/v3/core/users/{pk}/");
    // Warm the caches the outage must not let serve.
    assert_eq!(srv.get(&user_path).await.body["name"], "Before");
    assert_eq!(srv.get("/-/health/ready/").await.status, StatusCode::OK);

    proxy.cut();
    // Until the server notices, cached answers may still be 200; nothing else is acceptable.
    let first = eventually(
        "an API call answers 503 while PostgreSQL is cut off",
        || async {
            let r = srv.get(&user_path).await;
            assert!(
                r.status == StatusCode::OK || r.status == StatusCode::SERVICE_UNAVAILABLE,
                "during the outage: {} {}",
                r.status,
                r.text
            );
            (r.status == StatusCode::SERVICE_UNAVAILABLE).then_some(r)
        },
    )
    .await;
    assert_unavailable(&first, "GET user");
    assert!(first.header("retry-after").is_some(), "Retry-After");
    assert_unavailable(&srv.get("/api/v3/core/users/").await, "list");
    assert_unavailable(
        &srv.post(
            "/api/v3/core/users/",
            &json!({"username": "lost", "name": "x"}),
        )
        .await,
        "create",
    );
    assert_unavailable(
        &srv.patch(&user_path, &json!({"name": "also lost"})).await,
        "patch",
    );
    let awx = srv
        .send(
            Method::GET,
            "/api/v2/users/",
            Some(&srv.token.clone()),
            None,
        )
        .await;
    assert_unavailable(&awx, "AWX list");
    let ready = srv.send(Method::GET, "/-/health/ready/", None, None).await;
    assert_unavailable(&ready, "readiness");
    let live = srv.send(Method::GET, "/-/health/live/", None, None).await;
    assert_eq!(live.status, StatusCode::OK, "liveness stays up");

    // Meanwhile another instance, which still reaches the database, changes the user.
    let changed = reqwest::Client::new()
        .patch(format!("{other_base}{user_path}"))
        .bearer_auth(&srv.token)
        .json(&json!({"name": "Changed elsewhere"}))
        .send()
        .await
        .expect("patch through the other instance");
    assert_eq!(changed.status(), StatusCode::OK);

    proxy.restore();
    eventually("readiness after PostgreSQL returns", || async {
        let r = srv.send(Method::GET, "/-/health/ready/", None, None).await;
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::SERVICE_UNAVAILABLE,
            "readiness: {} {}",
            r.status,
            r.text
        );
        (r.status == StatusCode::OK).then_some(())
    })
    .await;
    // Dead connections were discarded: every call works, and none answers from a stale cache.
    for _ in 0..20 {
        let r = srv.get(&user_path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.body["name"], "Changed elsewhere",
            "no stale cache after the outage"
        );
    }
    let lost = srv.get("/api/v3/core/users/?username=lost").await;
    assert_eq!(lost.body["pagination"]["count"], 0, "{}", lost.text);
    // The change feed subscribes again, so caches serve (and stay exact) once more.
    let changes = srv.state().store.changes().clone();
    eventually("the change feed is back", || async {
        changes.trustworthy().then_some(())
    })
    .await;
    let again = reqwest::Client::new()
        .patch(format!("{other_base}{user_path}"))
        .bearer_auth(&srv.token)
        .json(&json!({"name": "After the outage"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(again.status(), StatusCode::OK);
    eventually("the other instance's write is seen", || async {
        let r = srv.get(&user_path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        (r.body["name"] == "After the outage").then_some(())
    })
    .await;
    let created = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "after", "name": "x"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    other.stop().await;
    srv.finish().await;
}

/// A tmpfs of a few MiB, unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts one, or `None` where mounting is not allowed (not root, no CAP_SYS_ADMIN).
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = std::env::temp_dir().join(format!(
            "gatehouse-tmpfs-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir_all(&dir).ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(Tmpfs { dir })
    }

    /// Writes a file until the filesystem has no space left.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        // The last pages one byte at a time, so not even a partial page is left.
        while file.write_all(&[0]).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_disk_answers_503_and_recovers() {
    let Some(fs) = Tmpfs::mount("8m") else {
        eprintln!("cannot mount a tmpfs here (needs root): SQLite full-disk test not run");
        return;
    };
    let db = fs.dir.join("gatehouse.db");
    let url = format!("sqlite://{}", db.display());
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.database_url = url.clone()).await;

    let kept = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "kept", "name": "Kept"}),
        )
        .await;
    assert_eq!(kept.status, StatusCode::CREATED, "{}", kept.text);
    let kept_path = format!("/api/v3/core/users/{}/", kept.body["pk"]);
    assert_eq!(srv.get("/-/health/ready/").await.status, StatusCode::OK);

    let filler = fs.fill();
    for i in 0..5 {
        let r = srv
            .post(
                "/api/v3/core/users/",
                &json!({"username": format!("lost{i}"), "name": "x"}),
            )
            .await;
        assert_unavailable(&r, "create on a full disk");
        assert!(r.header("retry-after").is_some(), "Retry-After");
        assert_unavailable(
            &srv.patch(&kept_path, &json!({"name": "lost"})).await,
            "patch on a full disk",
        );
    }
    // Reads still work.
    let read = srv.get(&kept_path).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.body["name"], "Kept");
    let list = srv.get("/api/v3/core/users/").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let ready = srv.send(Method::GET, "/-/health/ready/", None, None).await;
    assert_unavailable(&ready, "readiness on a full disk");
    assert_eq!(
        srv.send(Method::GET, "/-/health/live/", None, None)
            .await
            .status,
        StatusCode::OK
    );

    std::fs::remove_file(&filler).expect("free the space");
    eventually("readiness once space returns", || async {
        let r = srv.send(Method::GET, "/-/health/ready/", None, None).await;
        (r.status == StatusCode::OK).then_some(())
    })
    .await;
    let after = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": "after", "name": "After"}),
        )
        .await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.text);
    let patched = srv.patch(&kept_path, &json!({"name": "Kept too"})).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);

    srv.finish().await;
    // On disk, after the server is gone: intact, every acknowledged write there, none of the
    // refused ones, and each change with its audit event.
    let (integrity, users, events) = inspect(&db).await;
    assert_eq!(integrity, "ok");
    assert_eq!(
        users,
        vec![
            ("akadmin".to_string(), "authentik Default Admin".to_string()),
            ("kept".to_string(), "Kept too".to_string()),
            ("after".to_string(), "After".to_string()),
        ]
    );
    let lost_events: Vec<&Value> = events
        .iter()
        .filter(|e| e.to_string().contains("lost"))
        .collect();
    assert!(
        lost_events.is_empty(),
        "no event of a refused write: {lost_events:?}"
    );
    drop(fs);
}

/// `integrity_check`, `(username, name)` of every user in id order, and every event's context.
async fn inspect(db: &Path) -> (String, Vec<(String, String)>, Vec<Value>) {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(db))
        .await
        .expect("open the database");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("integrity_check");
    let users: Vec<(String, String)> =
        sqlx::query_as("SELECT username, name FROM users ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .expect("users");
    let contexts: Vec<String> = sqlx::query_scalar("SELECT context FROM events")
        .fetch_all(&mut conn)
        .await
        .expect("events");
    conn.close().await.expect("close");
    let events = contexts
        .iter()
        .map(|c| serde_json::from_str(c).unwrap_or(Value::String(c.clone())))
        .collect();
    (integrity, users, events)
}
