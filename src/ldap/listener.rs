//! Accepts LDAP connections on the plain port and the LDAPS port (either may be off) up to one
//! shared cap (beyond it a Notice of Disconnection, `busy`, and the connection is closed), runs
//! each in its own task (an LDAPS connection first completes its TLS handshake within the idle
//! timeout), and on shutdown stops accepting, lets each connection finish the operation in
//! progress, and waits for them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::entry::Tree;
use super::session;
use super::stream::Stream;
use crate::app::AppState;

/// The LDAP door's bound listeners and its TLS configuration.
pub struct Listeners {
    /// Plain LDAP (StartTLS offered when `tls` is set).
    pub plain: Option<TcpListener>,
    /// LDAPS (needs `tls`).
    pub ldaps: Option<TcpListener>,
    /// The certificate and key, when configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections served at once.
    pub max_connections: usize,
    /// Largest LDAP message accepted, bytes; a larger one closes its connection.
    pub max_message_bytes: usize,
    /// How long a connection may stay silent between operations (and the longest a TLS
    /// handshake may take).
    pub idle_timeout: Duration,
    /// Operations a connection may send a second (0: no limit).
    pub operations_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_message_bytes: 1024 * 1024,
            idle_timeout: Duration::from_secs(300),
            operations_per_second: 0,
        }
    }
}

/// The next connection on `listener`, or never when it is off.
async fn accept(
    listener: &Option<TcpListener>,
) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Serves LDAP on `listeners` until `shutdown` resolves, then waits for open connections to end.
pub async fn run(
    listeners: Listeners,
    state: Arc<AppState>,
    tree: Arc<Tree>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let acceptor = listeners.tls.clone().map(TlsAcceptor::from);
    let (stop, stopping) = watch::channel(());
    let (open, _) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (accepted, implicit_tls) = tokio::select! {
            accepted = accept(&listeners.plain) => (accepted, false),
            accepted = accept(&listeners.ldaps) => (accepted, true),
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accepting an LDAP connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let (state, tree, stopping, open, acceptor) = (
                    state.clone(),
                    tree.clone(),
                    stopping.clone(),
                    open.subscribe(),
                    acceptor.clone(),
                );
                tokio::spawn(async move {
                    state.ldap_metrics.opened();
                    let stream = if implicit_tls {
                        handshake(&state, acceptor.as_ref(), stream, limits).await
                    } else {
                        let _ = stream.set_nodelay(true);
                        Some(Stream::Plain(stream))
                    };
                    if let Some(stream) = stream {
                        let door = session::Door {
                            state: state.clone(),
                            tree,
                            limits,
                            starttls: acceptor,
                        };
                        session::serve(stream, remote, door, stopping).await;
                    }
                    state.ldap_metrics.closed();
                    drop((slot, open));
                });
            }
            Err(_) => {
                tracing::warn!(
                    max = limits.max_connections,
                    "LDAP connection limit reached"
                );
                state.ldap_metrics.refused();
                tokio::spawn(session::refuse(Stream::Plain(stream)));
            }
        }
    }
    drop(listeners);
    drop(stop);
    open.closed().await;
}

/// Completes the TLS handshake of a new connection (LDAPS) or of one upgraded by StartTLS,
/// within the idle timeout; `None` (logged, counted) when it fails.
pub async fn handshake(
    state: &AppState,
    acceptor: Option<&TlsAcceptor>,
    stream: TcpStream,
    limits: Limits,
) -> Option<Stream> {
    let acceptor = acceptor?;
    let _ = stream.set_nodelay(true);
    let remote = stream.peer_addr().ok();
    match tokio::time::timeout(limits.idle_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(Stream::Tls(Box::new(tls))),
        Ok(Err(e)) => {
            state.ldap_metrics.tls_failed();
            tracing::info!(client = ?remote, error = %e, "LDAP TLS handshake failed");
            None
        }
        Err(_) => {
            state.ldap_metrics.tls_failed();
            tracing::info!(client = ?remote, "LDAP TLS handshake timed out");
            None
        }
    }
}
