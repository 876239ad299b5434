//! The job queue: apalis storage in the same database as the data, so one
//! backup holds both and no broker needs running.

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use sea_orm::{DatabaseConnection, DbBackend};

use crate::jobs::send_email::SendEmail;

/// Named explicitly: apalis would otherwise use the Rust type path, and a
/// renamed module would strand queued tasks under the old name.
pub const SEND_EMAIL_QUEUE: &str = "hive.send_email";

/// How many times apalis itself runs one task. Email delivery keeps its own
/// attempts and backoff in the `emails` table, so apalis only has to cover a
/// database hiccup in the handler; the relay re-queues anything left behind.
const TASK_ATTEMPTS: usize = 3;

/// Tasks fetched per poll. apalis's default of 10 would cap a worker at 10
/// emails per poll interval (20/s at the default 500 ms) once sending gets
/// faster; today the mail bench (README) is bound by the per-email database
/// writes instead, and measured the same with either size.
const FETCH_BATCH: usize = 100;

/// The storage behind the queue, by database.
#[derive(Clone)]
pub enum JobQueue {
    Sqlite(SqliteStorage<SendEmail>),
    Postgres(PostgresStorage<SendEmail>),
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
                        .queue(SEND_EMAIL_QUEUE)
                        .batch_size(FETCH_BATCH),
                ),
            )),
            DbBackend::Postgres => Ok(JobQueue::Postgres(
                PostgresStorage::new(db.get_postgres_connection_pool()).with_config(
                    apalis_postgres::Config::default()
                        .queue(SEND_EMAIL_QUEUE)
                        .batch_size(FETCH_BATCH),
                ),
            )),
            other => anyhow::bail!("unsupported database backend {other:?}"),
        }
    }

    /// Queues the delivery of one email row.
    pub async fn push_send_email(&self, job: SendEmail) -> anyhow::Result<()> {
        let task = TaskBuilder::new(job).max_attempts(TASK_ATTEMPTS).build();
        match self {
            JobQueue::Sqlite(storage) => storage.clone().push_task(task).await?,
            JobQueue::Postgres(storage) => storage.clone().push_task(task).await?,
        }
        Ok(())
    }
}
