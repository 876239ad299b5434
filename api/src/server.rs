//! Starting Hive: the database, the HTTP server and (unless told otherwise)
//! the worker, all stopped together by one token.

use std::{net::SocketAddr, sync::Arc};

use hive_worker::{Settings, WorkerContext, db, runner};
use sea_orm::DatabaseConnection;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    graphql, http, rate_limit::ClientAllowance, sign_in_queue::SignInQueue, state::AppState,
};

/// Every minute, the rate limiters forget addresses with a full allowance, so
/// their tables hold only recent clients however many come.
async fn forget_idle_clients(allowances: [Arc<ClientAllowance>; 2], shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => allowances.iter().for_each(|a| a.forget_idle()),
        }
    }
}

/// A running Hive, as `hive-api` and the tests start it.
pub struct RunningHive {
    pub addr: SocketAddr,
    pub db: DatabaseConnection,
    pub shutdown: CancellationToken,
    pub server: JoinHandle<anyhow::Result<()>>,
    pub worker: Option<JoinHandle<anyhow::Result<()>>>,
}

impl RunningHive {
    /// Stops the server and worker and waits for them.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.server.await??;
        if let Some(worker) = self.worker {
            worker.await??;
        }
        Ok(())
    }
}

/// Connects, migrates, and serves on `listener`; with `with_worker`, the worker
/// runs in this process too.
pub async fn start(
    settings: Settings,
    listener: TcpListener,
    with_worker: bool,
) -> anyhow::Result<RunningHive> {
    let settings = Arc::new(settings);
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    start_with_db(settings, db, listener, with_worker).await
}

/// As [`start`], on an existing connection (already migrated).
pub async fn start_with_db(
    settings: Arc<Settings>,
    db: DatabaseConnection,
    listener: TcpListener,
    with_worker: bool,
) -> anyhow::Result<RunningHive> {
    let shutdown = CancellationToken::new();
    let worker_ctx = WorkerContext::new(db.clone(), settings.clone())?;
    let limits = &settings.limits;
    let anonymous_requests = Arc::new(ClientAllowance::new(
        limits.anonymous_requests_per_minute,
        (limits.anonymous_requests_per_minute / 10).max(1),
    ));
    let anonymous_writes = Arc::new(ClientAllowance::new(
        limits.anonymous_writes_per_minute,
        limits.anonymous_writes_per_minute,
    ));
    let state = AppState::new(crate::state::Shared {
        db: db.clone(),
        settings: settings.clone(),
        schema: graphql::HiveExecutor::new(&settings.limits).await,
        outbox_signal: worker_ctx.outbox_signal.clone(),
        metrics: hive_worker::ops::metrics_handle(),
        candidates: Arc::new(crate::graphql::matching::CandidateCache::new(
            settings.candidate_pool_ttl,
        )),
        anonymous_requests: anonymous_requests.clone(),
        anonymous_writes: anonymous_writes.clone(),
        persisted_queries: Arc::new(http::persisted_queries::PersistedQueries::new(
            settings.limits.persisted_query_cache_bytes,
        )),
        sessions: crate::sessions::SessionCache::new(settings.limits.session_cache),
        sign_in_queue: SignInQueue::start(
            db.clone(),
            settings.public_url.clone(),
            settings.limits.sign_in_links_per_quarter_hour,
            worker_ctx.outbox_signal.clone(),
            shutdown.clone(),
        ),
    });
    let addr = listener.local_addr()?;
    let app = http::router(state);
    tokio::spawn(forget_idle_clients(
        [anonymous_requests, anonymous_writes],
        shutdown.clone(),
    ));
    let limits = settings.limits.clone();
    let stop = shutdown.clone();
    let server = tokio::spawn(async move {
        http::serve::serve(listener, app, limits, stop).await?;
        Ok(())
    });
    let worker = with_worker.then(|| tokio::spawn(runner::run(worker_ctx, shutdown.clone())));
    info!(%addr, with_worker, "Hive is serving");
    Ok(RunningHive {
        addr,
        db,
        shutdown,
        server,
        worker,
    })
}
