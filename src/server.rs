//! The HTTP/1.1 connection loop: accepts connections up to a cap (the next ones get a 503 and
//! are closed), bounds how long a client may take to send its headers and how large they may
//! be, hands each request to the router with the client's address (`ConnectInfo`), and on
//! shutdown stops accepting and lets in-flight requests finish. (`axum::serve` offers none of
//! these limits.) It knows nothing of routes or dialects.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// Connections over the cap that are still answered (a 503 each); past these, further ones are
/// closed without an answer until some finish.
const REFUSALS_IN_FLIGHT: usize = 64;

/// Longest request target (path and query), bytes: 414 beyond. gunicorn, in front of
/// authentik, stops at 4094.
pub const MAX_URI_BYTES: usize = 16 * 1024;

/// The connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections served at once.
    pub max_connections: usize,
    /// Time to receive a request's headers; also the idle keep-alive time.
    pub header_timeout: Duration,
    /// Largest header section the router sees (it answers 431 beyond, with a JSON body).
    pub max_header_bytes: usize,
}

impl Limits {
    /// hyper's own ceiling for a request head: well above what the router refuses with a JSON
    /// body, so only a grossly oversized head gets hyper's bare 431.
    fn hard_head_bytes(&self) -> usize {
        self.max_header_bytes * 2 + MAX_URI_BYTES
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits for open requests.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.hard_head_bytes())
        .max_buf_size(limits.hard_head_bytes().max(400 * 1024));
    let mut refusing = builder.clone();
    refusing.keep_alive(false);

    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    // Closed when shutdown starts; every connection holds a receiver of `open` until it ends.
    let (stop, stopping) = watch::channel(());
    let (open, _) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    // Refusals are logged at most every ten seconds, with how many there were.
    let mut refused = 0u64;
    let mut last_warning: Option<std::time::Instant> = None;
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            let (builder, router, mut stopping, open) = (
                builder.clone(),
                router.clone(),
                stopping.clone(),
                open.subscribe(),
            );
            tokio::spawn(async move {
                serve_connection(builder, stream, remote, router, &mut stopping).await;
                drop((slot, open));
            });
        } else {
            refused += 1;
            if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                tracing::warn!(
                    max = limits.max_connections,
                    refused,
                    "connection limit reached; refusing connections with 503"
                );
                last_warning = Some(std::time::Instant::now());
                refused = 0;
            }
            if let Ok(permit) = refusals.clone().try_acquire_owned() {
                let (refusing, open) = (refusing.clone(), open.subscribe());
                tokio::spawn(async move {
                    refuse(refusing, stream).await;
                    drop((permit, open));
                });
            }
        }
    }
    drop(listener);
    drop(stop);
    open.closed().await;
}

/// One connection: the router behind hyper's HTTP/1 state machine, shut down gracefully (the
/// request in progress finishes, the connection then closes) when the server stops.
async fn serve_connection(
    builder: http1::Builder,
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    stopping: &mut watch::Receiver<()>,
) {
    let service = router.map_request(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(remote));
        request
    });
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut connection = std::pin::pin!(connection);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopping.changed(), if !shutting_down => {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers every request of an over-the-cap connection with a 503 and closes it.
async fn refuse(builder: http1::Builder, stream: TcpStream) {
    let service = hyper::service::service_fn(|_request: Request<Incoming>| async {
        Ok::<_, Infallible>(too_many_connections())
    });
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn too_many_connections() -> Response {
    let body = json!({"detail": "The server is at its connection limit; try again shortly."});
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Accept errors are mostly about one connection (reset before accept) and need nothing; when
/// the process is out of file descriptors, waiting lets open connections finish first.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; pausing accepts for 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
