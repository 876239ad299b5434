//! Serving HTTP/1.1 with the limits `axum::serve` does not offer: a time limit
//! on each request's headers (which, as hyper starts it whenever it waits for
//! the next request, is also the idle time of a keep-alive connection), one on
//! a client that stops reading its answer, a cap on open connections overall
//! and per client address, and a shutdown that lets running requests finish
//! for a bounded grace and then drops them.
//!
//! Only HTTP/1.1: browsers reach Hive through a reverse proxy or directly over
//! HTTP/1.1 (none speaks HTTP/2 without TLS), and hyper's HTTP/2 server has no
//! header or idle timeout, so a client could hold a connection open forever.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hive_worker::settings::Limits;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_io_timeout::TimeoutStream;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;
use tracing::{debug, info, warn};

use crate::rate_limit::ClientKey;

/// How long a stopping server waits for dropped connections to wind down
/// after the grace has run out.
const AFTER_GRACE: Duration = Duration::from_secs(1);

/// Connections open per client address, so one client cannot hold every slot
/// of the overall cap (a "slowloris" reopening what the header limit closes).
struct PerClient {
    open: Mutex<HashMap<ClientKey, usize>>,
    limit: usize,
}

/// One admitted connection; its count is given back when it drops.
struct ClientSlot {
    owner: Arc<PerClient>,
    key: ClientKey,
}

impl PerClient {
    fn admit(owner: &Arc<Self>, address: IpAddr) -> Option<ClientSlot> {
        let key = ClientKey::from(address);
        let mut open = owner.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_default();
        if *count >= owner.limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            owner: owner.clone(),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets open
/// requests finish for `limits.shutdown_grace` and drops the rest.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Behind a trusted proxy every peer is the proxy: its limits apply.
    let per_client = Arc::new(PerClient {
        open: Mutex::new(HashMap::new()),
        limit: if limits.trust_forwarded_for {
            usize::MAX
        } else {
            limits.max_connections_per_client
        },
    });
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
        let Some(client_slot) = PerClient::admit(&per_client, peer.ip()) else {
            debug!(%peer, "connection refused: its client has its share open");
            continue;
        };
        let _ = stream.set_nodelay(true);
        // A client that stops reading an answer is dropped once no byte has
        // gone for the send limit: hyper has no write timeout of its own.
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.send_timeout));
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
            .serve_connection(
                TokioIo::new(Box::pin(stream)),
                TowerToHyperService::new(service),
            );
        let shutdown = shutdown.clone();
        let abandon = abandon.clone();
        connections.spawn(async move {
            let _slots = (slot, client_slot);
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
