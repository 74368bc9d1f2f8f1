//! Builds the running server: configuration → store (migrated) → secret → bootstrap → state →
//! router → listener with graceful shutdown. The only place that knows every module.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rand::RngCore;
use tokio::net::TcpListener;

use crate::auth::keys::Sealer;
use crate::config::Config;
use crate::domain::bootstrap::{self, BootstrapValues, Outcome};
use crate::store::Store;

/// What every request handler can reach.
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Seals and opens token keys.
    pub sealer: Sealer,
    /// This directory's install id.
    pub install_id: String,
    /// The configuration it runs with.
    pub config: Config,
    /// The directory's reads and their caches (users, counts, principals), exact under writes.
    pub directory: crate::domain::Directory,
    /// Derives and checks the AWX dialect's CSRF tokens.
    pub csrf: crate::auth::csrf::CsrfKey,
    /// Failed password logins, for throttling.
    pub logins: crate::auth::throttle::LoginThrottle,
    /// Requests counted for `/metrics` (left empty when metrics are off).
    pub http_metrics: crate::metrics::HttpMetrics,
    /// LDAP counters (`/metrics`).
    pub ldap_metrics: crate::metrics::LdapMetrics,
}

/// Start-up failures, each with a message an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The instance secret is missing or unreadable.
    #[error("secret key: {0}")]
    Secret(String),
    /// Bootstrap failed.
    #[error("bootstrap: {0}")]
    Bootstrap(#[from] crate::domain::DomainError),
    /// The listen address is unusable.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS certificate or key is unusable.
    #[error("TLS: {0}")]
    Tls(#[from] crate::ldap::tls::TlsError),
}

/// A prepared directory: migrated, bootstrapped, ready to serve.
pub struct Prepared {
    /// Shared state for the router.
    pub state: Arc<AppState>,
    /// The bootstrap key generated on this start, if any (to show the operator once).
    pub generated_token: Option<String>,
}

/// A directory opened for a command (migrated, not bootstrapped: an import may take
/// bootstrap's place).
pub struct Opened {
    /// The database.
    pub store: Store,
    /// Seals token keys as the server does.
    pub sealer: Sealer,
}

/// Opens and migrates the database and resolves the secret, without bootstrap.
pub async fn open(config: &Config) -> Result<Opened, StartError> {
    let store = Store::connect(&config.database_url, config.max_connections.max(2)).await?;
    store.migrate().await?;
    let secret = resolve_secret(config)?;
    Ok(Opened {
        store,
        sealer: Sealer::new(&secret),
    })
}

/// Opens and migrates the database, resolves the secret and runs first-start bootstrap.
pub async fn prepare(config: Config) -> Result<Prepared, StartError> {
    let store = Store::connect(&config.database_url, config.max_connections).await?;
    store.migrate().await?;
    let secret = resolve_secret(&config)?;
    let sealer = Sealer::new(&secret);
    let csrf = crate::auth::csrf::CsrfKey::new(&secret);
    let values = BootstrapValues {
        email: config.bootstrap_email.clone(),
        password: config.bootstrap_password.clone(),
        token: config.bootstrap_token.clone(),
        token_duration_seconds: config.token_duration_seconds,
    };
    let (install_id, generated_token) = match bootstrap::run(&store, &sealer, &values).await? {
        Outcome::AlreadyDone { install_id } => (install_id, None),
        Outcome::Created {
            install_id,
            generated_token,
        } => (install_id, generated_token),
    };
    match store.pools() {
        crate::store::Pools::Postgres(pool) => {
            spawn_change_listener(pool.clone(), store.changes().clone());
        }
        crate::store::Pools::Sqlite { .. } => {
            // The baseline: what other processes committed before this start is no news to
            // caches that are still empty.
            store.foreign_commits().await?;
            spawn_foreign_write_watch(store.clone());
        }
    }
    Ok(Prepared {
        state: Arc::new(AppState {
            directory: crate::domain::Directory::new(store.clone(), config.cache_users),
            store,
            sealer,
            install_id,
            config,
            csrf,
            logins: Default::default(),
            http_metrics: Default::default(),
            ldap_metrics: Default::default(),
        }),
        generated_token,
    })
}

/// Follows other instances' writes (PostgreSQL LISTEN/NOTIFY) so this instance's caches drop
/// what they changed. While the feed is down, caches are bypassed rather than trusted; it
/// subscribes again every half second, and logs only when it goes down and when it is back.
fn spawn_change_listener(pool: sqlx::PgPool, changes: Arc<crate::store::Changes>) {
    tokio::spawn(async move {
        let mut lost = false;
        loop {
            changes.set_feed_down(true);
            let error = match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => match listener.listen(crate::store::CHANGES_CHANNEL).await {
                    Ok(()) => {
                        changes.set_feed_down(false);
                        if std::mem::take(&mut lost) {
                            tracing::info!("change feed back; caches serve again");
                        }
                        // `try_recv` answers None when the connection dropped: notifications
                        // may have been missed, so the feed goes down until it is back.
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(notification)) => changes.bump(
                                    crate::store::Touched::from_payload(notification.payload()),
                                ),
                                Ok(None) => break "connection lost".to_string(),
                                Err(e) => break e.to_string(),
                            }
                        }
                    }
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            if pool.is_closed() {
                return;
            }
            if !lost {
                lost = true;
                tracing::warn!(%error, "change feed down; caches bypassed until it is back");
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    });
}

/// How often a SQLite server looks for commits made by other processes.
pub const FOREIGN_WRITES_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Follows other processes' writes to a SQLite file (an administration command, an import):
/// no notification crosses processes there, so every `FOREIGN_WRITES_INTERVAL` the write
/// connection is asked whether anyone else committed, and if so every cache drops what it
/// holds. A token revoked by `gatehouse tokens revoke` thus stops working within that interval.
/// While the question cannot be answered, caches are bypassed rather than trusted.
fn spawn_foreign_write_watch(store: Store) {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            tokio::time::sleep(FOREIGN_WRITES_INTERVAL).await;
            if store.is_closed() {
                return;
            }
            match store.foreign_commits().await {
                Ok(foreign) => {
                    if std::mem::take(&mut failing) {
                        store.changes().set_feed_down(false);
                        tracing::info!(
                            "watching other processes' writes again; caches serve again"
                        );
                    } else if foreign {
                        store.changes().bump(crate::store::Touched::ALL);
                    }
                }
                Err(error) => {
                    if !failing {
                        failing = true;
                        store.changes().set_feed_down(true);
                        tracing::warn!(%error, "cannot tell whether other processes wrote; caches bypassed");
                    }
                }
            }
        }
    });
}

/// The instance secret: configured, or on SQLite the `secret.key` beside the database (created
/// once, mode 0600). PostgreSQL instances must share one, so there it must be configured.
fn resolve_secret(config: &Config) -> Result<Vec<u8>, StartError> {
    if let Some(secret) = &config.secret_key {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = config.sqlite_secret_path().ok_or_else(|| {
        StartError::Secret("GATEHOUSE_SECRET_KEY must be set (at least 32 bytes) when the database is PostgreSQL, so every instance seals token keys alike".into())
    })?;
    read_or_create_secret(&path)
}

fn read_or_create_secret(path: &Path) -> Result<Vec<u8>, StartError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let secret = text.trim().to_string();
            if secret.len() < 32 {
                return Err(StartError::Secret(format!(
                    "{} holds fewer than 32 bytes",
                    path.display()
                )));
            }
            Ok(secret.into_bytes())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let secret = hex::encode(bytes);
            write_private(path, &secret)
                .map_err(|e| StartError::Secret(format!("cannot write {}: {e}", path.display())))?;
            Ok(secret.into_bytes())
        }
        Err(e) => Err(StartError::Secret(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

/// Binds the listen address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Loads the TLS certificate (when set) and binds the LDAP listen addresses (plain and LDAPS),
/// when either is on.
pub async fn bind_ldap(config: &Config) -> Result<Option<crate::ldap::Listeners>, StartError> {
    let tls = crate::ldap::tls::from_settings(
        config.tls_cert_file.as_deref(),
        config.tls_key_file.as_deref(),
    )?;
    let plain = match config.ldap_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let ldaps = match config.ldaps_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    if plain.is_none() && ldaps.is_none() {
        return Ok(None);
    }
    Ok(Some(crate::ldap::Listeners { plain, ldaps, tls }))
}

/// Serves HTTP (and LDAP, given its listener) until `shutdown` resolves, then lets in-flight
/// requests and LDAP operations finish. Expired events are purged in the background meanwhile.
/// `/metrics` gets a listener of its own when `metrics_listen` says so.
pub async fn serve(
    listener: TcpListener,
    ldap: Option<crate::ldap::Listeners>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let metrics = bind_metrics(&state.config)
        .await
        .map_err(std::io::Error::other)?;
    let doors = Doors {
        http: listener,
        ldap,
        metrics,
    };
    serve_doors(doors, state, shutdown).await
}

/// Binds `metrics_listen` when metrics are on and served apart from the main listener.
pub async fn bind_metrics(config: &Config) -> Result<Option<TcpListener>, StartError> {
    match config.metrics_listen {
        Some(addr) if config.metrics_enabled => bind(addr).await.map(Some),
        _ => Ok(None),
    }
}

/// The bound listeners a server answers on.
pub struct Doors {
    /// HTTP (both dialects, health, `/metrics` unless it has its own).
    pub http: TcpListener,
    /// LDAP (plain and LDAPS), when on.
    pub ldap: Option<crate::ldap::Listeners>,
    /// `/metrics` alone, when `metrics_listen` is set.
    pub metrics: Option<TcpListener>,
}

/// `serve`, with every listener already bound.
pub async fn serve_doors(
    doors: Doors,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = crate::api::router(state.clone());
    let (stop_purge, purge_stopped) = tokio::sync::oneshot::channel::<()>();
    let purge = tokio::spawn(purge_expired_events(state.clone(), purge_stopped));
    let limits = crate::server::Limits {
        max_connections: state.config.http_max_connections,
        header_timeout: state.config.http_header_timeout,
        max_header_bytes: state.config.http_max_header_bytes,
    };
    // One shutdown signal for every door.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    let metrics_task = doors.metrics.map(|metrics| {
        let router = crate::api::metrics::listener_router(state.clone());
        tokio::spawn(crate::server::run(
            metrics,
            router,
            limits,
            until_stopped(stopping.clone()),
        ))
    });
    let ldap_task = match doors.ldap {
        Some(ldap_listeners) => {
            let mut tree =
                crate::ldap::entry::Tree::new(&state.config.ldap_base_dn, &state.install_id)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            tree.starttls = ldap_listeners.tls.is_some();
            Some(tokio::spawn(crate::ldap::run(
                ldap_listeners,
                state.clone(),
                Arc::new(tree),
                crate::ldap::Limits {
                    max_connections: state.config.ldap_max_connections,
                    idle_timeout: state.config.ldap_idle_timeout,
                    operations_per_second: state.config.ldap_operations_per_second,
                    ..crate::ldap::Limits::default()
                },
                until_stopped(stopping.clone()),
            )))
        }
        None => None,
    };
    crate::server::run(doors.http, router, limits, until_stopped(stopping)).await;
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    if let Some(task) = ldap_task {
        let _ = task.await;
    }
    let result = Ok(());
    let _ = stop_purge.send(());
    let _ = purge.await;
    state.store.close().await;
    result
}

/// Deletes expired events every `event_purge_interval` (the first pass one interval after
/// start, away from start-up work) until `stop` fires. A pass cut short by `stop` loses
/// nothing: each batch is its own transaction.
async fn purge_expired_events(state: Arc<AppState>, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let period = state.config.event_purge_interval;
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = every.tick() => {}
        }
        let pass = crate::domain::audit::purge_expired(
            &state.store,
            crate::domain::Timestamp::now(),
            crate::domain::audit::PURGE_BATCH,
        );
        tokio::select! {
            _ = &mut stop => return,
            outcome = pass => match outcome {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "purged expired events"),
                Err(e) => tracing::warn!(error = %e, "purging expired events failed; retrying next interval"),
            },
        }
    }
}

/// A server running in this process (tests and embedding).
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its LDAP door listens, when LDAP is on.
    pub ldap_addr: Option<SocketAddr>,
    /// Where LDAPS listens, when on.
    pub ldaps_addr: Option<SocketAddr>,
    /// The shared state.
    pub state: Arc<AppState>,
    /// The generated bootstrap key, if one was generated.
    pub generated_token: Option<String>,
    /// Where `/metrics` is served apart from the main listener (`metrics_listen`), if it is.
    pub metrics_addr: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Prepares and starts a server on `config.listen` (port 0 picks a free port).
    pub async fn start(config: Config) -> Result<RunningServer, StartError> {
        let listen = config.listen;
        let prepared = prepare(config).await?;
        let listener = bind(listen).await?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: listen,
            source,
        })?;
        let local = |l: &Option<TcpListener>| -> Result<Option<SocketAddr>, StartError> {
            match l {
                Some(l) => Ok(Some(l.local_addr().map_err(|source| {
                    StartError::Listen {
                        addr: listen,
                        source,
                    }
                })?)),
                None => Ok(None),
            }
        };
        let metrics = bind_metrics(&prepared.state.config).await?;
        let metrics_addr = local(&metrics)?;
        let ldap = bind_ldap(&prepared.state.config).await?;
        let (ldap_addr, ldaps_addr) = match &ldap {
            Some(l) => (local(&l.plain)?, local(&l.ldaps)?),
            None => (None, None),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = prepared.state.clone();
        let doors = Doors {
            http: listener,
            ldap,
            metrics,
        };
        let task = tokio::spawn(serve_doors(doors, state, async move {
            let _ = stopped.await;
        }));
        Ok(RunningServer {
            addr,
            ldap_addr,
            ldaps_addr,
            state: prepared.state,
            generated_token: prepared.generated_token,
            metrics_addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
