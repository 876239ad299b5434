//! Serving HTTP/1.1 with the limits `axum::serve` does not offer: a time limit
//! on each request's headers (which, as hyper starts it whenever it waits for
//! the next request, is also the idle time of a keep-alive connection), a cap
//! on open connections, and a shutdown that lets running requests finish for
//! a bounded grace and then drops them.
//!
//! Only HTTP/1.1: browsers reach Hive through a reverse proxy or directly over
//! HTTP/1.1 (none speaks HTTP/2 without TLS), and hyper's HTTP/2 server has no
//! header or idle timeout, so a client could hold a connection open forever.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, extract::ConnectInfo};
use hive_worker::settings::Limits;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;
use tracing::{debug, info, warn};

/// How long a stopping server waits for dropped connections to wind down
/// after the grace has run out.
const AFTER_GRACE: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets open
/// requests finish for `limits.shutdown_grace` and drops the rest.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let abandon = CancellationToken::new();
    loop {
        // A slot first: at the cap, new connections wait in the kernel's
        // backlog rather than taking a file descriptor each.
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a moment rather than spin.
                    warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                request
            });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let shutdown = shutdown.clone();
        let abandon = abandon.clone();
        connections.spawn(async move {
            let _slot = slot;
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        debug!(%error, %peer, "connection ended with an error");
                    }
                }
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        _ = abandon.cancelled() => {}
                    }
                }
            }
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(limits.shutdown_grace, connections.wait())
        .await
        .is_err()
    {
        warn!(
            open = connections.len(),
            grace_seconds = limits.shutdown_grace.as_secs(),
            "requests still running after the shutdown grace; dropping them"
        );
        abandon.cancel();
        let _ = tokio::time::timeout(AFTER_GRACE, connections.wait()).await;
    }
    info!("HTTP server stopped");
    Ok(())
}
