//! The test fixture: a real gatehouse server on 127.0.0.1 with an ephemeral port, on SQLite (a
//! fresh temp file) or PostgreSQL (a fresh schema in `GATEHOUSE_TEST_DATABASE_URL`), and a
//! small HTTP client that talks to it.

use std::path::PathBuf;

use gatehouse::app::RunningServer;
use gatehouse::config::Config;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

/// Which storage backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL from `GATEHOUSE_TEST_DATABASE_URL`.
    Postgres,
}

/// The PostgreSQL URL tests use, if the run is configured for it.
pub fn postgres_url() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

enum Cleanup {
    Dir(PathBuf),
    Schema { admin_url: String, schema: String },
    Nothing,
}

/// The instance secret every test server (and a command run against its database) uses.
pub const TEST_SECRET: &str = "test-secret-key-test-secret-key-0123456789";

/// A fresh, empty database of one backend: a temp SQLite file or a PostgreSQL schema.
pub struct FreshDatabase {
    /// Its URL.
    pub url: String,
    cleanup: Cleanup,
}

impl FreshDatabase {
    /// Creates one.
    pub async fn new(backend: Backend) -> FreshDatabase {
        let (url, cleanup) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("gatehouse-test-{}", random_suffix()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                (
                    format!("sqlite://{}/gatehouse.db", dir.display()),
                    Cleanup::Dir(dir),
                )
            }
            Backend::Postgres => {
                let admin_url = postgres_url().expect("GATEHOUSE_TEST_DATABASE_URL");
                let schema = format!("t_{}", random_suffix());
                let pool = sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("GATEHOUSE_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
                });
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&pool)
                    .await
                    .expect("create schema");
                pool.close().await;
                let sep = if admin_url.contains('?') { '&' } else { '?' };
                (
                    format!("{admin_url}{sep}options=-c%20search_path%3D{schema}"),
                    Cleanup::Schema { admin_url, schema },
                )
            }
        };
        FreshDatabase { url, cleanup }
    }

    /// Removes it.
    #[allow(dead_code)]
    pub async fn remove(self) {
        self.cleanup.run().await;
    }
}

impl Cleanup {
    async fn run(&self) {
        match self {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { admin_url, schema } => {
                if let Ok(pool) = sqlx::PgPool::connect(admin_url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            }
            Cleanup::Nothing => {}
        }
    }
}

/// A running server plus a client holding the bootstrap token.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bootstrap (superuser) API key.
    pub token: String,
    /// `ldap://127.0.0.1:PORT` (LDAP listens on an ephemeral port too).
    #[allow(dead_code)]
    pub ldap: String,
    /// `ldaps://127.0.0.1:PORT` when the test turned LDAPS on, else empty.
    #[allow(dead_code)]
    pub ldaps: String,
    /// Which backend.
    #[allow(dead_code)]
    pub backend: Backend,
    client: Client,
    server: Option<RunningServer>,
    cleanup: Cleanup,
}

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Resp {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Raw body text.
    pub text: String,
    /// JSON body (Null when empty or not JSON).
    pub body: Value,
}

impl Resp {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }
}

fn random_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}

impl TestServer {
    /// Starts a server on a fresh database of `backend`.
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server after letting the test adjust the configuration.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestServer {
        let token = format!("test-{}{}", random_suffix(), random_suffix());
        let db = FreshDatabase::new(backend).await;
        let (url, cleanup) = (db.url.clone(), db.cleanup);
        let mut srv = Self::start_on(backend, &url, &token, adjust).await;
        srv.cleanup = cleanup;
        srv
    }

    /// Starts a server on an existing database (left in place by `finish`), configured with
    /// bootstrap key `token` (used only if the directory is new).
    pub async fn start_on(
        backend: Backend,
        database_url: &str,
        token: &str,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            database_url: database_url.to_string(),
            secret_key: Some(TEST_SECRET.into()),
            bootstrap_token: Some(token.to_string()),
            max_connections: 4,
            ldap_listen: Some("127.0.0.1:0".parse().expect("addr")),
            // Password checks queue behind one another on the two password threads, and a debug
            // build on a loaded 2-core host verifies authentik's pbkdf2 (1,000,000 rounds) slowly:
            // the production 30 s would turn a slow login into a 503 (tests of the timeout set
            // their own).
            http_request_timeout: std::time::Duration::from_secs(180),
            ..Config::default()
        };
        adjust(&mut config);
        let server = RunningServer::start(config).await.expect("server starts");
        TestServer {
            base: format!("http://{}", server.addr),
            ldap: server
                .ldap_addr
                .map(|a| format!("ldap://{a}"))
                .unwrap_or_default(),
            ldaps: server
                .ldaps_addr
                .map(|a| format!("ldaps://{a}"))
                .unwrap_or_default(),
            token: token.to_string(),
            backend,
            client: Client::new(),
            server: Some(server),
            cleanup: Cleanup::Nothing,
        }
    }

    /// The configuration a second instance on the same database would use.
    pub fn config(&self) -> Config {
        let mut config = self.server.as_ref().expect("running").state.config.clone();
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config
    }

    /// The running server's shared state (for what only the process can tell, e.g. whether
    /// its change feed is up).
    #[allow(dead_code)]
    pub fn state(&self) -> &std::sync::Arc<gatehouse::app::AppState> {
        &self.server.as_ref().expect("running").state
    }

    /// `http://ADDR` of the separate metrics listener, when `metrics_listen` is set.
    #[allow(dead_code)]
    pub fn metrics_base(&self) -> Option<String> {
        let server = self.server.as_ref().expect("running");
        server.metrics_addr.map(|addr| format!("http://{addr}"))
    }

    /// The directory's install id.
    pub fn install_id(&self) -> String {
        self.server
            .as_ref()
            .expect("running")
            .state
            .install_id
            .clone()
    }

    /// Stops the server and removes its database.
    pub async fn finish(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.cleanup.run().await;
    }

    /// Sends a request with an optional bearer key and JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(key) = auth {
            req = req.header("Authorization", format!("Bearer {key}"));
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    /// Sends raw bytes with an explicit content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .header("Authorization", format!("Bearer {}", self.token))
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    async fn read(response: reqwest::Response) -> Resp {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    /// GET as the bootstrap admin.
    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, Some(&self.token.clone()), None)
            .await
    }

    /// POST as the bootstrap admin.
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(&self.token.clone()), Some(body))
            .await
    }

    /// PUT as the bootstrap admin.
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PUT, path, Some(&self.token.clone()), Some(body))
            .await
    }

    /// PATCH as the bootstrap admin.
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PATCH, path, Some(&self.token.clone()), Some(body))
            .await
    }

    /// DELETE as the bootstrap admin.
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, Some(&self.token.clone()), None)
            .await
    }
}

/// Defines one test per backend: `name::sqlite` always runs; `name::postgres` runs on the
/// database in `GATEHOUSE_TEST_DATABASE_URL` (and only reports a skip when it is unset).
#[macro_export]
macro_rules! backend_test {
    ($name:ident, |$srv:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($srv: &$crate::common::TestServer) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let srv = $crate::common::TestServer::start($crate::common::Backend::Sqlite).await;
                run(&srv).await;
                srv.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::common::postgres_url().is_none() {
                    eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: PostgreSQL variant not run");
                    return;
                }
                let srv = $crate::common::TestServer::start($crate::common::Backend::Postgres).await;
                run(&srv).await;
                srv.finish().await;
            }
        }
    };
}

/// Writes raw bytes to the server and reads the whole answer (the request must ask for
/// `Connection: close`).
pub async fn raw_exchange(base: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut out),
    )
    .await;
    String::from_utf8_lossy(&out).to_string()
}
