//! Hive's background side: configuration and database set-up shared with the
//! API, the email outbox, the job queue and the jobs, and the worker loop that
//! runs them (inside `hive-api` by default, or alone as `hive-worker`).

pub mod cli;
pub mod clock;
pub mod db;
pub mod erased;
pub mod ids;
pub mod jobs;
pub mod links;
pub mod mail;
pub mod matching;
pub mod notify;
pub mod ops;
pub mod outbox;
pub mod preferences;
pub mod queue;
pub mod reviews;
pub mod runner;
pub mod settings;
pub mod surveys;
pub mod telemetry;
pub mod tokens;

use std::sync::{Arc, atomic::AtomicI64};

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

pub use settings::Settings;

/// Everything a job needs, shared by all jobs of one worker process.
#[derive(Clone, Debug)]
pub struct WorkerContext {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub mailer: mail::Mailer,
    pub templates: Arc<mail::Templates>,
    pub queue: queue::JobQueue,
    /// Woken when an email is written in this process, so the embedded worker
    /// sends sign-in links at once instead of at the next poll.
    pub outbox_signal: Arc<Notify>,
    /// Woken when tasks were queued (by this process's relay, or on
    /// PostgreSQL by any process: `queue::listen`), so the queue worker
    /// fetches them at once instead of at its next poll.
    pub queue_signal: Arc<Notify>,
    /// When this process last started a job (Unix milliseconds); the runner's
    /// watchdog uses it to tell a busy queue from a stalled one.
    pub last_job_started: Arc<AtomicI64>,
    /// Writes the SENT marks of all this process's send tasks together.
    pub sent_marks: jobs::sent_marks::SentMarks,
}

impl WorkerContext {
    pub fn new(db: DatabaseConnection, settings: Arc<Settings>) -> anyhow::Result<Self> {
        Ok(Self {
            mailer: mail::Mailer::new(&settings)?,
            templates: Arc::new(mail::Templates::load()?),
            queue: queue::JobQueue::new(&db)?,
            outbox_signal: Arc::new(Notify::new()),
            queue_signal: Arc::new(Notify::new()),
            last_job_started: Arc::new(AtomicI64::new(chrono::Utc::now().timestamp_millis())),
            sent_marks: jobs::sent_marks::SentMarks::new(db.clone()),
            db,
            settings,
        })
    }
}
