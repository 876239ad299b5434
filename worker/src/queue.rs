//! The job queue: apalis storage in the same database as the data, so one
//! backup holds both and no broker needs running; and what wakes it.
//!
//! Why pushed tasks used to sit unfetched for up to 30 s (issue 16): apalis
//! 1.0's `poll_with_interval` (`IntervalStrategy` in apalis-core) replaces
//! its timer when it fires but does not poll the new one, so no waker is
//! registered with it. The worker's stream only polls the strategy again when
//! something else wakes it. When the timer fired in the same wake-up as a
//! fetch that came back empty (the fetch is three round trips on PostgreSQL,
//! so a few milliseconds in every poll interval; microseconds on SQLite), the
//! worker went to sleep with no timer armed, until apalis's 30-second
//! heartbeat or our stall watchdog woke it. [`Wakeups`] re-arms its timer
//! every time, and also wakes the worker at once when told to.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use apalis::prelude::{PollSnapshot, PollStrategy, TaskBuilder, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Notify, futures::OwnedNotified};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::jobs::send_email::SendEmails;

/// Named explicitly: apalis would otherwise use the Rust type path, and a
/// renamed module would strand queued tasks under the old name. (Tasks of
/// one email each went to `hive.send_email`; rows left there are relayed
/// again once their lease runs out.)
pub const SEND_EMAILS_QUEUE: &str = "hive.send_emails";

/// How many times apalis itself runs one task. Email delivery keeps its own
/// attempts and backoff in the `emails` table, so apalis only has to cover a
/// database hiccup in the handler; the relay re-queues anything left behind.
const TASK_ATTEMPTS: usize = 3;

/// Tasks fetched per poll: apalis's default of 10 would cap a worker at 10
/// batches per poll interval.
const FETCH_BATCH: usize = 100;

/// The storage behind the queue, by database.
#[derive(Clone)]
pub enum JobQueue {
    Sqlite(SqliteStorage<SendEmails>),
    Postgres(PostgresStorage<SendEmails>),
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobQueue::Sqlite(_) => f.write_str("JobQueue::Sqlite"),
            JobQueue::Postgres(_) => f.write_str("JobQueue::Postgres"),
        }
    }
}

impl JobQueue {
    /// Shares sea-orm's pool: one sqlx pool per process.
    pub fn new(db: &DatabaseConnection) -> anyhow::Result<Self> {
        match db.get_database_backend() {
            DbBackend::Sqlite => Ok(JobQueue::Sqlite(
                SqliteStorage::new(db.get_sqlite_connection_pool()).with_config(
                    apalis_sqlite::Config::default()
                        .queue(SEND_EMAILS_QUEUE)
                        .batch_size(FETCH_BATCH),
                ),
            )),
            DbBackend::Postgres => Ok(JobQueue::Postgres(
                PostgresStorage::new(db.get_postgres_connection_pool()).with_config(
                    apalis_postgres::Config::default()
                        .queue(SEND_EMAILS_QUEUE)
                        .batch_size(FETCH_BATCH),
                ),
            )),
            other => anyhow::bail!("unsupported database backend {other:?}"),
        }
    }

    /// Queues the delivery of batches of email rows, in one write.
    pub async fn push_send_emails(&self, batches: Vec<SendEmails>) -> anyhow::Result<()> {
        let tasks = futures::stream::iter(
            batches
                .into_iter()
                .map(|batch| TaskBuilder::new(batch).max_attempts(TASK_ATTEMPTS).build()),
        );
        match self {
            JobQueue::Sqlite(storage) => storage.clone().push_all(tasks).await?,
            JobQueue::Postgres(storage) => storage.clone().push_all(tasks).await?,
        }
        Ok(())
    }
}

/// The channel apalis-postgres's insert trigger notifies for every new task
/// (`apalis.notify_new_jobs`, in its migrations).
const APALIS_CHANNEL: &str = "apalis::job::insert";

/// When the queue worker looks for tasks: every `interval`, and at once after
/// `signal` is notified (by this process's relay after it queues tasks, and on
/// PostgreSQL by [`listen`] when any process queues some).
///
/// Unlike apalis's `IntervalStrategy`, the timer is armed (polled, so its
/// waker registered) every time this is polled, so no wake-up is ever lost
/// (see the module's doc). `Notify` keeps one permit when nobody waits, so a
/// signal given while the worker is busy is not lost either.
pub struct Wakeups {
    interval: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    signal: Arc<Notify>,
    notified: Pin<Box<OwnedNotified>>,
}

impl Wakeups {
    /// `interval`: the longest the worker waits without a signal
    /// (`HIVE_QUEUE_POLL_MS`).
    pub fn new(interval: Duration, signal: Arc<Notify>) -> Self {
        Self {
            interval,
            timer: Box::pin(tokio::time::sleep(interval)),
            notified: Box::pin(signal.clone().notified_owned()),
            signal,
        }
    }
}

impl PollStrategy for Wakeups {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut woken = false;
        // Each loop ends with its future polled and pending: armed.
        while self.notified.as_mut().poll(cx).is_ready() {
            self.notified = Box::pin(self.signal.clone().notified_owned());
            woken = true;
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            let next = tokio::time::Instant::now() + self.interval;
            self.timer.as_mut().reset(next);
            woken = true;
        }
        if woken {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

/// PostgreSQL: `LISTEN`s for new emails (the `hive_outbox` trigger, see the
/// `m20261129_000001_outbox_notify` migration) and new queue tasks (apalis's
/// trigger), and wakes this process's relay or queue worker at once, so an
/// email committed by any process is sent within moments with any number of
/// workers. The polls stay as the fallback: a notification missed while the
/// connection was down is made up for by waking both on every (re)connection.
/// Runs until `shutdown`; a lost connection is retried every second. On any
/// other database it returns at once (SQLite has no notifications).
pub async fn listen(
    db: DatabaseConnection,
    outbox: Arc<Notify>,
    queue: Arc<Notify>,
    shutdown: CancellationToken,
) {
    use sea_orm::sqlx::postgres::PgListener;

    let channels = [
        migration::m20261129_000001_outbox_notify::CHANNEL,
        APALIS_CHANNEL,
    ];
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let pool = db.get_postgres_connection_pool().clone();
    while !shutdown.is_cancelled() {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen_all(channels).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            _ = shutdown.cancelled() => return,
            connected = connected => match connected {
                Ok(listener) => listener,
                Err(error) => {
                    warn!(%error, "cannot LISTEN for new email; polling meanwhile");
                    pause(&shutdown).await;
                    continue;
                }
            },
        };
        // Whatever was committed while nobody listened is looked for now.
        outbox.notify_one();
        queue.notify_one();
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) if notification.channel() == channels[0] => {
                    outbox.notify_one()
                }
                Ok(Some(_)) => queue.notify_one(),
                // The connection dropped (the next call reconnects): look for
                // anything that came meanwhile.
                Ok(None) => {
                    outbox.notify_one();
                    queue.notify_one();
                }
                Err(error) => {
                    warn!(%error, "lost the LISTEN connection; polling meanwhile");
                    break;
                }
            }
        }
        pause(&shutdown).await;
    }
}

async fn pause(shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}
