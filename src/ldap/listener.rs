//! Accepts LDAP connections up to a cap (beyond it a Notice of Disconnection, `busy`, and the
//! connection is closed), runs each in its own task, and on shutdown stops accepting, lets each
//! connection finish the operation in progress, and waits for them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::entry::Tree;
use super::session;
use crate::app::AppState;

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections served at once.
    pub max_connections: usize,
    /// Largest LDAP message accepted, bytes; a larger one closes its connection.
    pub max_message_bytes: usize,
    /// How long a connection may stay silent between operations.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_message_bytes: 1024 * 1024,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Serves LDAP on `listener` until `shutdown` resolves, then waits for open connections to end.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    tree: Arc<Tree>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(());
    let (open, _) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an LDAP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let (state, tree, stopping, open) = (
                    state.clone(),
                    tree.clone(),
                    stopping.clone(),
                    open.subscribe(),
                );
                tokio::spawn(async move {
                    session::serve(stream, remote, state, tree, limits, stopping).await;
                    drop((slot, open));
                });
            }
            Err(_) => {
                tracing::warn!(
                    max = limits.max_connections,
                    "LDAP connection limit reached"
                );
                tokio::spawn(session::refuse(stream));
            }
        }
    }
    drop(listener);
    drop(stop);
    open.closed().await;
}
