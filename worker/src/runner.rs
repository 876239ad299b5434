//! The worker loop: the outbox relay and the apalis workers, until shutdown.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use apalis::prelude::{BackendExt, Data, WorkerBuilder, WorkerBuilderExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{
    WorkerContext,
    jobs::{
        inactivity_nudges, proposal_followups, retention, review_reminders,
        send_email::{self, SENDS_PER_TASK, SendEmails},
        staff_digest, survey_invitations,
    },
    outbox,
    queue::{self, JobQueue, Wakeups},
};

/// Rows handed to the queue per relay pass.
const RELAY_BATCH: u64 = 500;
/// Send tasks (batches of emails) one worker process runs at once. Each holds
/// a database connection only for its claim (SENT marks go through the
/// process's one writer, `jobs::sent_marks`). SQLite has one writer at a time
/// and a small pool: with a send per pool connection, tests saw minutes of
/// "database is locked"; two batches leave the API room. On PostgreSQL six
/// tasks (48 sends at once) measured 61 % of the mail bench's limit against
/// 55 % with four, and eight tasks of four sends 58 %: messages in flight
/// count more than tasks (README, "Performance"). The price is the SIGKILL
/// bound below.
pub const SEND_TASKS_POSTGRES: usize = 6;
pub const SEND_TASKS_SQLITE: usize = 2;
/// Send tasks of the urgent lane (sign-in links and concern alerts,
/// `outbox::URGENT`) one worker process runs at once, beside the queue's, so
/// that a fan-out occupying every queue task cannot hold them up. Two, so that
/// one batch stuck on a slow server does not stop the next.
pub const URGENT_SEND_TASKS: usize = 2;
/// The most messages one worker process can have on the wire or accepted by
/// the SMTP server and not yet marked SENT: all a SIGKILL can cause to be sent
/// twice (README, "Architecture": what "exactly once" can mean across SIGKILL).
pub const SENDS_IN_FLIGHT_POSTGRES: usize =
    (SEND_TASKS_POSTGRES + URGENT_SEND_TASKS) * SENDS_PER_TASK;
pub const SENDS_IN_FLIGHT_SQLITE: usize = (SEND_TASKS_SQLITE + URGENT_SEND_TASKS) * SENDS_PER_TASK;

/// Runs until `shutdown` is cancelled. A failure of the queue backend (the
/// database went away, say) restarts the apalis worker after a pause instead of
/// ending the process; so does a stall noticed by the watchdog.
pub async fn run(ctx: WorkerContext, shutdown: CancellationToken) -> anyhow::Result<()> {
    let process_name = format!("hive-{}-{}", hostname(), std::process::id());
    info!(worker = %process_name, "worker started");
    let urgent_slots = Arc::new(Semaphore::new(URGENT_SEND_TASKS));
    let relay = tokio::spawn(relay_loop(
        ctx.clone(),
        urgent_slots.clone(),
        shutdown.clone(),
    ));
    let periodic = tokio::spawn(periodic_loop(ctx.clone(), shutdown.clone()));
    let launches = tokio::spawn(launch_loop(ctx.clone(), shutdown.clone()));
    let listener = matches!(ctx.queue, JobQueue::Postgres(_)).then(|| {
        tokio::spawn(queue::listen(
            ctx.db.clone(),
            ctx.outbox_signal.clone(),
            ctx.queue_signal.clone(),
            shutdown.clone(),
        ))
    });
    let mut runs = 0u32;
    while !shutdown.is_cancelled() {
        // apalis refuses a name whose last heartbeat is recent, so each
        // restart registers under a new one.
        runs += 1;
        let worker_name = format!("{process_name}-{runs}");
        let this_run = shutdown.child_token();
        let watchdog = tokio::spawn(watchdog(ctx.clone(), this_run.clone()));
        let stop = this_run.clone();
        let signal = async move {
            stop.cancelled().await;
            Ok::<(), std::io::Error>(())
        };
        let wakeups = || Wakeups::new(ctx.settings.queue_poll, ctx.queue_signal.clone());
        let queue_worker = async {
            match ctx.queue.clone() {
                JobQueue::Sqlite(storage) => {
                    WorkerBuilder::new(worker_name.clone())
                        .backend(storage.poll_with_strategy(wakeups()))
                        .data(ctx.clone())
                        .concurrency(SEND_TASKS_SQLITE)
                        .build(handle_send_emails)
                        .run_until(signal)
                        .await
                }
                JobQueue::Postgres(storage) => {
                    WorkerBuilder::new(worker_name.clone())
                        .backend(storage.poll_with_strategy(wakeups()))
                        .data(ctx.clone())
                        .concurrency(SEND_TASKS_POSTGRES)
                        .build(handle_send_emails)
                        .run_until(signal)
                        .await
                }
            }
        };
        // Asked to stop, the apalis run gets the shutdown grace to finish
        // its tasks; past it, it is left (its unfinished tasks' emails are
        // still queued, and their leases run out), so that stopping a worker
        // is bounded whatever a task or the queue backend is waiting on.
        let gave_up = async {
            this_run.cancelled().await;
            tokio::time::sleep(ctx.settings.limits.shutdown_grace).await;
        };
        let result = tokio::select! {
            result = queue_worker => result,
            () = gave_up => {
                error!(
                    worker = %worker_name,
                    grace_seconds = ctx.settings.limits.shutdown_grace.as_secs(),
                    "the queue worker did not stop within the shutdown grace; leaving it"
                );
                Ok(())
            }
        };
        watchdog.abort();
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
    periodic.abort();
    launches.abort();
    if let Some(listener) = listener {
        listener.abort();
    }
    // The urgent lane's sends are tasks of their own, which the apalis run
    // does not wait for: each holds its slot until its SENT marks are
    // committed, so holding every slot means none is under way. They get the
    // same grace as the queue's tasks; one left past it keeps its lease, and
    // its emails go again when the lease runs out. Without this, a sign-in
    // link accepted by the server as the process stopped stayed PENDING and
    // was sent twice.
    let all_slots = urgent_slots.acquire_many(URGENT_SEND_TASKS as u32);
    if tokio::time::timeout(ctx.settings.limits.shutdown_grace, all_slots)
        .await
        .is_err()
    {
        error!(
            grace_seconds = ctx.settings.limits.shutdown_grace.as_secs(),
            "an urgent send did not finish within the shutdown grace; leaving it"
        );
    }
    info!("worker stopped");
    Ok(())
}

/// A safety net, no longer the way tasks get fetched: apalis's interval
/// strategy lost wake-ups (PostgreSQL's 10–28 s stalls, and probably
/// apalis-sqlite #58; `queue`'s module doc), which [`Wakeups`] fixes. Should a
/// queue worker still stop picking up tasks, the symptom is the same: emails
/// sit queued and due while this process starts no job. The watchdog checks for
/// exactly that, hands those emails back to the relay (in case their tasks were
/// lost rather than stuck) and ends the current apalis run, which [`run`]
/// restarts.
async fn watchdog(ctx: WorkerContext, this_run: CancellationToken) {
    let stall_after = ctx.settings.queue_stall_after;
    loop {
        tokio::select! {
            _ = this_run.cancelled() => return,
            _ = tokio::time::sleep(stall_after / 2) => {}
        }
        let idle_ms =
            chrono::Utc::now().timestamp_millis() - ctx.last_job_started.load(Ordering::Relaxed);
        if idle_ms < stall_after.as_millis() as i64 {
            continue;
        }
        match outbox::requeue_untouched(&ctx.db, stall_after).await {
            Ok(0) => {}
            Ok(waiting) => {
                warn!(
                    waiting,
                    idle_ms, "job queue stalled; restarting the queue worker"
                );
                ctx.outbox_signal.notify_one();
                metrics::counter!("hive_queue_worker_restarts_total").increment(1);
                this_run.cancel();
                return;
            }
            Err(error) => warn!(%error, "watchdog could not read the outbox"),
        }
    }
}

async fn handle_send_emails(
    job: SendEmails,
    ctx: Data<WorkerContext>,
) -> Result<(), apalis::prelude::BoxDynError> {
    ctx.last_job_started
        .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
    let first = job.email_ids.first().copied();
    let count = job.email_ids.len();
    match send_email::run(job, &ctx).await {
        Ok(()) => Ok(()),
        Err(error) => {
            warn!(first_email_id = first, count, %error, "send_emails failed");
            let boxed: apalis::prelude::BoxDynError = error.into();
            Err(boxed)
        }
    }
}

/// Runs the periodic jobs. Every worker process runs them; each job's
/// conditional updates and email idempotency keys keep overlapping runs from
/// doing anything twice.
async fn periodic_loop(ctx: WorkerContext, shutdown: CancellationToken) {
    let mut retention_due = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(ctx.settings.periodic_interval) => {}
        }
        // Hourly rather than every pass: its updates read every email row.
        if let Some(interval) = ctx.settings.retention_interval
            && tokio::time::Instant::now() >= retention_due
        {
            match retention::run(&ctx.db, &ctx.settings.retention, ctx.settings.clock.now()).await {
                Ok(_) => retention_due += interval,
                Err(error) => warn!(%error, "retention pass failed; will retry"),
            }
        }
        match proposal_followups::run(&ctx.db, &ctx.settings.public_url).await {
            Ok(done) if done.chased + done.expired > 0 => ctx.outbox_signal.notify_one(),
            Ok(_) => {}
            Err(error) => warn!(%error, "proposal follow-ups failed; will retry"),
        }
        match inactivity_nudges::run(&ctx.db, &ctx.settings.public_url).await {
            Ok(done) if done.providers + done.staff > 0 => ctx.outbox_signal.notify_one(),
            Ok(_) => {}
            Err(error) => warn!(%error, "inactivity follow-ups failed; will retry"),
        }
        match staff_digest::run(&ctx.db, &ctx.settings).await {
            Ok(done) if done.sent > 0 => ctx.outbox_signal.notify_one(),
            Ok(_) => {}
            Err(error) => warn!(%error, "staff digests failed; will retry"),
        }
        match survey_invitations::run(&ctx.db, &ctx.settings.public_url).await {
            Ok(done) if done.invited + done.reminded > 0 => ctx.outbox_signal.notify_one(),
            Ok(_) => {}
            Err(error) => warn!(%error, "survey invitations failed; will retry"),
        }
        match review_reminders::run(&ctx.db, &ctx.settings.public_url).await {
            Ok(reminded) if reminded > 0 => ctx.outbox_signal.notify_one(),
            Ok(_) => {}
            Err(error) => warn!(%error, "review reminders failed; will retry"),
        }
    }
}

/// Starts a just-launched survey's invitations within a poll interval: the
/// periodic pass would otherwise leave staff waiting up to a minute. Cheap:
/// one look at the newest open survey per poll.
async fn launch_loop(ctx: WorkerContext, shutdown: CancellationToken) {
    let mut seen = None;
    loop {
        match survey_invitations::newest_launch(&ctx.db).await {
            Ok(newest) if newest > seen => {
                seen = newest;
                match survey_invitations::run(&ctx.db, &ctx.settings.public_url).await {
                    Ok(done) if done.invited > 0 => ctx.outbox_signal.notify_one(),
                    Ok(_) => {}
                    Err(error) => warn!(%error, "survey invitations failed; will retry"),
                }
            }
            Ok(_) => {}
            Err(error) => warn!(%error, "could not look for launched surveys"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(ctx.settings.queue_poll) => {}
        }
    }
}

/// Moves due outbox rows into the queue, every poll interval or at once when
/// an email was written (this process's, or on PostgreSQL any process's:
/// `queue::listen`). Each pass first starts the urgent lane's sends.
async fn relay_loop(ctx: WorkerContext, urgent_slots: Arc<Semaphore>, shutdown: CancellationToken) {
    loop {
        let sent_awaiting_mark = ctx.sent_marks.awaiting();
        send_urgent(&ctx, &urgent_slots, &sent_awaiting_mark).await;
        let relayed = outbox::relay_due(
            &ctx.db,
            &ctx.queue,
            RELAY_BATCH,
            ctx.settings.email_lease,
            &sent_awaiting_mark,
        )
        .await;
        match relayed {
            // A full batch means more may be waiting: go again straight away.
            Ok(count) if count as u64 == RELAY_BATCH => {
                ctx.queue_signal.notify_one();
                continue;
            }
            Ok(0) => {}
            Ok(_) => ctx.queue_signal.notify_one(),
            Err(error) => warn!(%error, "outbox relay failed; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ctx.outbox_signal.notified() => {}
            _ = tokio::time::sleep(ctx.settings.queue_poll) => {}
        }
    }
}

/// Sends due sign-in links and concern alerts from this process, a task per
/// free slot, past everything the job queue holds: a fan-out queued before
/// them does not delay them (README, "Delivery"). Due rows that find no free
/// slot wait for the next pass, which a finishing task starts at once.
///
/// The tasks are the queue's send job run directly, so the claim, the
/// attempts, the backoff and the SENT marks are the same; a task lost with
/// its process leaves its rows to run out their lease and be taken again, as
/// a lost queue task does.
async fn send_urgent(ctx: &WorkerContext, slots: &Arc<Semaphore>, sent_awaiting_mark: &[i64]) {
    while let Ok(slot) = slots.clone().try_acquire_owned() {
        match outbox::take_urgent(&ctx.db, ctx.settings.email_lease, sent_awaiting_mark).await {
            Ok(Some(job)) => {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let first = job.email_ids.first().copied();
                    let count = job.email_ids.len();
                    if let Err(error) = send_email::run(job, &ctx).await {
                        warn!(first_email_id = first, count, %error, "urgent send failed; the rows go again when their lease runs out");
                    }
                    drop(slot);
                    ctx.outbox_signal.notify_one();
                });
            }
            Ok(None) => return,
            Err(error) => {
                warn!(%error, "urgent relay pass failed; will retry");
                return;
            }
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
