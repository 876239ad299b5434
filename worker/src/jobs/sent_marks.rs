//! SENT marks for the whole worker process, written by one writer in groups.
//!
//! Every send task used to write its own marks, each task one statement at a
//! time: with four tasks of eight sends each, most statements marked one or
//! two rows (2,800 statements for the mail bench's 10,000 emails on
//! PostgreSQL). One writer for the process takes everything accepted while
//! its previous statement ran, so marks group across tasks and each commit
//! covers more messages.

use std::sync::{Arc, OnceLock};

use chrono::Utc;
use entity::emails::{self, EmailStatus};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter, sea_query::Expr,
};
use tokio::sync::{mpsc, oneshot};

use super::send_email::{self, Outcome};

/// The most rows one statement marks: keeps the statement (a CASE arm and an
/// IN entry per row) well inside SQLite's and PostgreSQL's parameter limits.
const MOST_PER_STATEMENT: usize = 500;

/// A message the SMTP server accepted, waiting for its mark; `written` hears
/// once the mark is committed (or why it was not).
struct Accepted {
    email_id: i64,
    provider_id: String,
    written: oneshot::Sender<Result<(), String>>,
}

/// The handle send tasks share. The writer starts with the first mark, so a
/// context built outside a Tokio runtime (the CLI's) never needs one.
#[derive(Clone)]
pub struct SentMarks {
    db: DatabaseConnection,
    writer: Arc<OnceLock<mpsc::UnboundedSender<Accepted>>>,
}

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
        }
    }

    /// Marks the email SENT with the server's id for it; returns once the mark
    /// is committed. A send keeps its slot until then, which is what bounds
    /// the messages a killed worker can send twice.
    pub async fn mark(&self, email_id: i64, provider_id: String) -> anyhow::Result<()> {
        let writer = self.writer.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(write_marks(self.db.clone(), receiver));
            sender
        });
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
            .map_err(|_| anyhow::anyhow!("the SENT mark writer has stopped"))?
            .map_err(|error| anyhow::anyhow!("could not mark email {email_id} sent: {error}"))
    }
}

/// The writer: one statement at a time, each taking every mark that arrived
/// while the previous one ran (group commit). Ends when every handle is gone.
async fn write_marks(db: DatabaseConnection, mut receiver: mpsc::UnboundedReceiver<Accepted>) {
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
        let result = record_sent(&db, &rows)
            .await
            .map_err(|error| error.to_string());
        if result.is_ok() {
            send_email::record(Outcome::Sent, group.len());
        }
        for accepted in group {
            // A task that gave up waiting has nothing left to tell.
            let _ = accepted.written.send(result.clone());
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
