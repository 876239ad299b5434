//! The worker loop: the outbox relay and the apalis workers, until shutdown.

use std::time::Duration;

use apalis::prelude::{BackendExt, Data, WorkerBuilder, WorkerBuilderExt};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{
    WorkerContext,
    jobs::send_email::{self, SendEmail},
    outbox,
    queue::JobQueue,
};

/// Rows handed to the queue per relay pass.
const RELAY_BATCH: u64 = 200;
/// Emails sent at once by one worker process.
const SEND_CONCURRENCY: usize = 16;

/// Runs until `shutdown` is cancelled. A failure of the queue backend (the
/// database went away, say) restarts the apalis worker after a pause instead of
/// ending the process.
pub async fn run(ctx: WorkerContext, shutdown: CancellationToken) -> anyhow::Result<()> {
    let worker_name = format!("hive-{}-{}", hostname(), std::process::id());
    info!(worker = %worker_name, "worker started");
    let relay = tokio::spawn(relay_loop(ctx.clone(), shutdown.clone()));
    while !shutdown.is_cancelled() {
        let stop = shutdown.clone();
        let signal = async move {
            stop.cancelled().await;
            Ok::<(), std::io::Error>(())
        };
        let result = match ctx.queue.clone() {
            JobQueue::Sqlite(storage) => {
                WorkerBuilder::new(worker_name.clone())
                    .backend(storage.poll_with_interval(ctx.settings.queue_poll))
                    .data(ctx.clone())
                    .concurrency(SEND_CONCURRENCY)
                    .build(handle_send_email)
                    .run_until(signal)
                    .await
            }
            JobQueue::Postgres(storage) => {
                WorkerBuilder::new(worker_name.clone())
                    .backend(storage.poll_with_interval(ctx.settings.queue_poll))
                    .data(ctx.clone())
                    .concurrency(SEND_CONCURRENCY)
                    .build(handle_send_email)
                    .run_until(signal)
                    .await
            }
        };
        if let Err(error) = result {
            if shutdown.is_cancelled() {
                break;
            }
            error!(%error, "queue worker stopped; restarting in 2 s");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }
    relay.abort();
    info!("worker stopped");
    Ok(())
}

async fn handle_send_email(
    job: SendEmail,
    ctx: Data<WorkerContext>,
) -> Result<(), apalis::prelude::BoxDynError> {
    match send_email::run(job, &ctx).await {
        Ok(_) => Ok(()),
        Err(error) => {
            warn!(email_id = job.email_id, %error, "send_email failed");
            let boxed: apalis::prelude::BoxDynError = error.into();
            Err(boxed)
        }
    }
}

/// Moves due outbox rows into the queue, every poll interval or at once when
/// this process wrote an email.
async fn relay_loop(ctx: WorkerContext, shutdown: CancellationToken) {
    loop {
        match outbox::relay_due(&ctx.db, &ctx.queue, RELAY_BATCH).await {
            // A full batch means more may be waiting: go again straight away.
            Ok(count) if count as u64 == RELAY_BATCH => continue,
            Ok(_) => {}
            Err(error) => warn!(%error, "outbox relay failed; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ctx.outbox_signal.notified() => {}
            _ = tokio::time::sleep(ctx.settings.queue_poll) => {}
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into())
}

/// Ctrl-C or SIGTERM (what `docker stop` sends) ends the worker cleanly.
pub async fn shutdown_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    token.cancel();
}
