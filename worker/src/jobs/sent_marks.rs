//! SENT marks for the whole worker process, written by one writer in groups.
//!
//! Every send task used to write its own marks, each task one statement at a
//! time: with four tasks of eight sends each, most statements marked one or
//! two rows (2,800 statements for the mail bench's 10,000 emails on
//! PostgreSQL). One writer for the process takes everything accepted while
//! its previous statement ran, so marks group across tasks and each commit
//! covers more messages.
//!
//! A mark that cannot be written (the database is unreachable) is kept and
//! tried again until the database answers: the server has the message, so
//! the row must end SENT, never be sent again. Until then the ids are
//! [`awaiting`](SentMarks::awaiting) and this process's relay leaves them
//! alone even once their lease has run out (a 20-second PostgreSQL outage
//! used to send 41–48 messages twice). Only SIGKILL (or power loss) can still
//! lose a mark.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use chrono::Utc;
use entity::emails::{self, EmailStatus};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter, sea_query::Expr,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::send_email::{self, Outcome};

/// The most rows one statement marks: keeps the statement (a CASE arm and an
/// IN entry per row) well inside SQLite's and PostgreSQL's parameter limits.
const MOST_PER_STATEMENT: usize = 500;

/// A message the SMTP server accepted, waiting for its mark; `written` hears
/// once the mark is committed.
struct Accepted {
    email_id: i64,
    provider_id: String,
    written: oneshot::Sender<()>,
}

/// The handle send tasks share. The writer starts with the first mark, so a
/// context built outside a Tokio runtime (the CLI's) never needs one.
#[derive(Clone)]
pub struct SentMarks {
    db: DatabaseConnection,
    writer: Arc<OnceLock<mpsc::UnboundedSender<Accepted>>>,
    /// Accepted by the server, SENT mark not yet committed.
    awaiting: Arc<Mutex<HashSet<i64>>>,
}

/// The first pause before a failed mark is tried again; it doubles up to
/// [`MOST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MOST_PAUSE: Duration = Duration::from_secs(2);

impl std::fmt::Debug for SentMarks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SentMarks")
    }
}

impl SentMarks {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            writer: Arc::new(OnceLock::new()),
            awaiting: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Emails the SMTP server accepted whose SENT mark is not committed yet:
    /// the relay must not hand them out again (they are sent).
    pub fn awaiting(&self) -> Vec<i64> {
        self.awaiting
            .lock()
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Marks the email SENT with the server's id for it; returns once the mark
    /// is committed. A send keeps its slot until then, which is what bounds
    /// the messages a killed worker can send twice.
    pub async fn mark(&self, email_id: i64, provider_id: String) -> anyhow::Result<()> {
        let writer = self.writer.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(write_marks(
                self.db.clone(),
                receiver,
                self.awaiting.clone(),
            ));
            sender
        });
        if let Ok(mut awaiting) = self.awaiting.lock() {
            awaiting.insert(email_id);
        }
        let (written, result) = oneshot::channel();
        writer
            .send(Accepted {
                email_id,
                provider_id,
                written,
            })
            .map_err(|_| anyhow::anyhow!("the SENT mark writer has stopped"))?;
        result
            .await
            .map_err(|_| anyhow::anyhow!("the SENT mark writer has stopped"))
    }
}

/// The writer: one statement at a time, each taking every mark that arrived
/// while the previous one ran (group commit), and trying a failed one again
/// (after 0.1 s, doubling to 2 s) until it is written. Ends when every handle
/// is gone.
async fn write_marks(
    db: DatabaseConnection,
    mut receiver: mpsc::UnboundedReceiver<Accepted>,
    awaiting: Arc<Mutex<HashSet<i64>>>,
) {
    while let Some(first) = receiver.recv().await {
        let mut group = vec![first];
        while group.len() < MOST_PER_STATEMENT {
            match receiver.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let rows: Vec<(i64, &str)> = group
            .iter()
            .map(|accepted| (accepted.email_id, accepted.provider_id.as_str()))
            .collect();
        let mut pause = FIRST_PAUSE;
        let mut failures = 0u32;
        while let Err(error) = record_sent(&db, &rows).await {
            if failures == 0 {
                warn!(count = rows.len(), %error, "cannot mark accepted emails SENT; trying again until the database answers");
            }
            failures += 1;
            metrics::counter!("hive_sent_mark_retries_total").increment(1);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MOST_PAUSE);
        }
        if failures > 0 {
            info!(
                count = rows.len(),
                failures, "accepted emails marked SENT after all"
            );
        }
        send_email::record(Outcome::Sent, group.len());
        if let Ok(mut awaiting) = awaiting.lock() {
            for accepted in &group {
                awaiting.remove(&accepted.email_id);
            }
        }
        for accepted in group {
            // A task that gave up waiting has nothing left to tell.
            let _ = accepted.written.send(());
        }
    }
}

/// Marks every message in `sent` as SENT in one statement.
///
/// Contexts carry secret links (sign-in, accept/decline, review, survey):
/// once a message is in the mailbox the outbox need not keep a copy of any of
/// them, so the context is redacted in the same statement.
async fn record_sent(db: &DatabaseConnection, sent: &[(i64, &str)]) -> Result<(), sea_orm::DbErr> {
    let Some((first_id, first_provider_id)) = sent.first() else {
        return Ok(());
    };
    let provider_ids = sent.iter().skip(1).fold(
        Expr::case(
            Expr::col(emails::Column::Id).eq(*first_id),
            first_provider_id.to_string(),
        ),
        |case, (id, provider_id)| {
            case.case(
                Expr::col(emails::Column::Id).eq(*id),
                provider_id.to_string(),
            )
        },
    );
    let now = Utc::now();
    emails::Entity::update_many()
        .col_expr(emails::Column::Status, Expr::value(EmailStatus::Sent))
        .col_expr(emails::Column::SentAt, Expr::value(now))
        .col_expr(emails::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            emails::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(emails::Column::ProviderMessageId, provider_ids.into())
        .col_expr(
            emails::Column::Context,
            Expr::value(serde_json::json!({"redacted": true}).to_string()),
        )
        .filter(emails::Column::Id.is_in(sent.iter().map(|(id, _)| *id)))
        .exec(db)
        .await?;
    Ok(())
}
