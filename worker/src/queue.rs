//! The job queue: apalis storage in the same database as the data, so one
//! backup holds both and no broker needs running.

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use sea_orm::{DatabaseConnection, DbBackend};

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
