//! Delivers email rows a batch at a time: claims the batch in one statement,
//! renders and sends its messages several at once over the SMTP pool, and
//! hands those the server accepted to the process's SENT mark writer
//! ([`SentMarks`](super::sent_marks::SentMarks)). Every email Hive sends
//! passes through here.
//!
//! One task per email cost seven database round trips per message and held
//! the mail bench to 1–4 % of the SMTP sink's limit (README, "Performance");
//! the batch shares the claim, the preferences lookup and the SENT marks.

use std::{
    collections::{HashMap, HashSet},
    time::Duration as StdDuration,
};

use chrono::{Duration, Utc};
use entity::{
    email_preferences,
    emails::{self, EmailCategory, EmailStatus},
};
use futures::{StreamExt, stream::FuturesUnordered};
use lettre::Message;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::{
    WorkerContext,
    mail::{Outgoing, SendError, calendar::Invitation},
    outbox::{self, UNSUBSCRIBE_TOKEN},
    preferences::OptOut,
};

/// The queued task: only the rows' ids (those the relay marked for it), so the
/// payload in the queue never holds a secret link and the rows stay the one
/// source of truth.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SendEmails {
    pub email_ids: Vec<i64>,
}

/// Messages one task has on the wire, or accepted and not yet marked SENT.
/// A worker killed mid-batch can send at most this many (per running task)
/// again: see `runner::SENDS_IN_FLIGHT_POSTGRES`.
pub const SENDS_PER_TASK: usize = 8;

/// The context key of a meeting email's calendar invitation.
pub const INVITATION: &str = "invitation";

/// What became of one email in a run of the job, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Sent already, not yet due, or claimed by another worker.
    Skipped,
    RetryLater,
    Dead,
    Bounced,
    Suppressed,
}

impl Outcome {
    /// Every outcome's label in `hive_email_outcomes_total`.
    pub const LABELS: [&'static str; 6] =
        ["sent", "skipped", "retry", "dead", "bounced", "suppressed"];

    fn label(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Skipped => "skipped",
            Outcome::RetryLater => "retry",
            Outcome::Dead => "dead",
            Outcome::Bounced => "bounced",
            Outcome::Suppressed => "suppressed",
        }
    }
}

/// Delay before the next try after `attempts` failures: 30 s, 1 min, 2 min, …
/// capped at an hour.
pub fn backoff(attempts: i32, base: StdDuration) -> Duration {
    let exponent = attempts.clamp(1, 12) as u32 - 1;
    let delay = base.saturating_mul(2u32.saturating_pow(exponent));
    Duration::from_std(delay.min(StdDuration::from_secs(3600))).unwrap_or(Duration::hours(1))
}

/// Delivers the task's rows. Returns after every claimed row has its outcome
/// recorded; rows another worker holds, or already sent, are skipped.
pub async fn run(job: SendEmails, ctx: &WorkerContext) -> anyhow::Result<()> {
    let db = &ctx.db;
    let lease = ctx.settings.email_lease;
    let claimed = claim(db, &job.email_ids, lease).await?;
    let skipped = job.email_ids.len().saturating_sub(claimed.len());
    if skipped > 0 {
        record(Outcome::Skipped, skipped);
    }
    let Some(lease_ends) = claimed.iter().map(|email| email.next_attempt_at).min() else {
        return Ok(());
    };
    // The claim holds the rows until their lease ends; once less than half a
    // lease is left no new send starts, so every send (at most the SMTP
    // timeout, far shorter than the lease) ends while the rows are still
    // ours and no other worker can have taken them. Only a very slow server
    // gets this far; the rest of the batch is handed back below.
    let hand_out_until = lease_ends - lease / 2;
    let preferences = preferences_of(db, &claimed).await?;
    // Addresses the server refused for good during this batch: the rest of
    // the batch's messages to them are suppressed, as later batches' are.
    let mut bounced_here: HashSet<String> = HashSet::new();
    let mut waiting = claimed.into_iter();
    // Each send holds its slot until the server has answered and, when it
    // accepted the message, until the SENT mark is committed: no more than
    // SENDS_PER_TASK messages of this task are ever accepted and not yet
    // marked, the most a kill can send twice. Each send is a task of its own
    // that nothing aborts: should this task end early (an error, or apalis
    // dropping it while the database is away), a send already started still
    // finishes and hands its mark to the writer, so a message the server
    // accepted is never left unmarked to be sent again.
    let mut sending = FuturesUnordered::new();
    loop {
        while sending.len() < SENDS_PER_TASK
            && Utc::now() < hand_out_until
            && let Some(email) = waiting.next()
        {
            let bouncing = bounced_here.contains(&email.recipient);
            match prepare(&email, preferences.get(&email.recipient), bouncing, ctx) {
                Prepared::Send(message) => {
                    let mailer = ctx.mailer.clone();
                    let sent_marks = ctx.sent_marks.clone();
                    sending.push(tokio::spawn(async move {
                        let result = mailer.deliver(*message).await;
                        let marked = match &result {
                            Ok(provider_id) => sent_marks.mark(email.id, provider_id.clone()).await,
                            Err(_) => Ok(()),
                        };
                        (email, result, marked)
                    }));
                }
                Prepared::Settle(status, reason, outcome) => {
                    finish(db, &email, status, Some(reason)).await?;
                    record(outcome, 1);
                }
            }
        }
        // Nothing sending: the slots were free, so everything left has been
        // handed out, or the time to do so is over.
        let Some(done) = sending.next().await else {
            break;
        };
        let (email, result, marked) = done?;
        marked?;
        if matches!(result, Err(SendError::Permanent(_))) {
            bounced_here.insert(email.recipient.clone());
        }
        settle(ctx, email, result).await?;
    }
    let left: Vec<i64> = waiting.map(|email| email.id).collect();
    if !left.is_empty() {
        warn!(
            count = left.len(),
            "half the email lease went by before this batch was sent; handing the rest back"
        );
        hand_back(db, left).await?;
    }
    Ok(())
}

/// Makes claimed rows due again at once, for the relay to queue afresh, and
/// takes back the attempt their claim counted: they were never tried.
async fn hand_back(db: &DatabaseConnection, email_ids: Vec<i64>) -> anyhow::Result<()> {
    let now = Utc::now();
    emails::Entity::update_many()
        .col_expr(
            emails::Column::Attempts,
            Expr::col(emails::Column::Attempts).sub(1),
        )
        .col_expr(emails::Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            emails::Column::EnqueuedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(emails::Column::UpdatedAt, Expr::value(now))
        .filter(emails::Column::Id.is_in(email_ids))
        .filter(outbox::pending_and(Expr::value(true)))
        .exec(db)
        .await?;
    Ok(())
}

/// What to do with a claimed row before anything goes on the wire.
enum Prepared {
    Send(Box<Message>),
    /// No message after all: suppressed, or it cannot be built.
    Settle(EmailStatus, String, Outcome),
}

/// `bounced_here`: the server refused the address for good earlier in this
/// batch (its preferences, read before, do not say so yet).
fn prepare(
    email: &emails::Model,
    preferences: Option<&email_preferences::Model>,
    bounced_here: bool,
    ctx: &WorkerContext,
) -> Prepared {
    // An erased person's or co-op's address: nothing goes there, not even
    // a sign-in link (see `erased`).
    if crate::erased::is_erased_address(&email.recipient) {
        return Prepared::Settle(
            EmailStatus::Suppressed,
            "recipient erased".into(),
            Outcome::Suppressed,
        );
    }
    let bouncing = bounced_here || preferences.is_some_and(|p| p.bounced_at.is_some());
    if bouncing && email.category != EmailCategory::SignIn {
        return Prepared::Settle(
            EmailStatus::Suppressed,
            "address is bouncing".into(),
            Outcome::Suppressed,
        );
    }
    let opt_out = OptOut::of(email.category);
    if let Some(opt_out) = opt_out
        && !opt_out.allowed_by(preferences)
    {
        return Prepared::Settle(
            EmailStatus::Suppressed,
            format!("recipient opted out of {}", opt_out.words()),
            Outcome::Suppressed,
        );
    }
    let dead = |what: &str, error: String| {
        warn!(email_id = email.id, %error, "{what}");
        Prepared::Settle(EmailStatus::Dead, error, Outcome::Dead)
    };

    let mut context: serde_json::Value = match serde_json::from_str(&email.context) {
        Ok(context) => context,
        Err(error) => return dead("email context unreadable", error.to_string()),
    };
    let unsubscribe_url = match (opt_out, context.get(UNSUBSCRIBE_TOKEN)) {
        (Some(opt_out), Some(serde_json::Value::String(token))) => {
            Some((opt_out, format!("{}/u/{token}", ctx.settings.public_url)))
        }
        _ => None,
    };
    if let (Some((_, url)), Some(object)) = (&unsubscribe_url, context.as_object_mut()) {
        object.insert("unsubscribe_url".into(), url.clone().into());
    }
    let rendered = match ctx.templates.render(&email.template, &context) {
        Ok(mut rendered) => {
            if let Some((opt_out, url)) = &unsubscribe_url {
                rendered.text.push_str(&format!(
                    "\nTo stop receiving {} from Hive: {url}\n",
                    opt_out.words()
                ));
            }
            rendered
        }
        Err(error) => return dead("email template failed", error.to_string()),
    };
    let invitation: Option<Invitation> = match context.get(INVITATION) {
        Some(value) => match serde_json::from_value(value.clone()) {
            Ok(invitation) => Some(invitation),
            Err(error) => return dead("calendar invitation unreadable", error.to_string()),
        },
        None => None,
    };
    let outgoing = Outgoing {
        invitation: invitation.as_ref(),
        to: &email.recipient,
        rendered: &rendered,
        message_id: message_id(email, &ctx.settings.public_url),
        // RFC 8058 one-click unsubscribe: mail clients show their own button.
        headers: unsubscribe_url
            .map(|(_, url)| {
                vec![
                    ("List-Unsubscribe", format!("<{url}>")),
                    (
                        "List-Unsubscribe-Post",
                        "List-Unsubscribe=One-Click".to_string(),
                    ),
                ]
            })
            .unwrap_or_default(),
    };
    match ctx.mailer.compose(outgoing) {
        Ok(message) => Prepared::Send(Box::new(message)),
        Err(error) => dead("email could not be built", error.to_string()),
    }
}

/// Records what the server said about one message (a sent one is marked by
/// [`SentMarks`](super::sent_marks::SentMarks) already).
async fn settle(
    ctx: &WorkerContext,
    email: emails::Model,
    result: Result<String, SendError>,
) -> anyhow::Result<()> {
    let db = &ctx.db;
    match result {
        Ok(_) => debug!(email_id = email.id, template = %email.template, "email sent"),
        Err(SendError::Permanent(reason)) => {
            warn!(email_id = email.id, %reason, "email permanently rejected");
            mark_bouncing(db, &email.recipient, &reason).await?;
            finish(db, &email, EmailStatus::Failed, Some(reason)).await?;
            record(Outcome::Bounced, 1);
        }
        Err(SendError::Invalid(reason)) => {
            warn!(email_id = email.id, %reason, "email could not be built");
            finish(db, &email, EmailStatus::Dead, Some(reason)).await?;
            record(Outcome::Dead, 1);
        }
        Err(SendError::Transient(reason)) => {
            if email.attempts >= ctx.settings.email_max_attempts {
                warn!(email_id = email.id, %reason, attempts = email.attempts, "email is dead");
                finish(db, &email, EmailStatus::Dead, Some(reason)).await?;
                record(Outcome::Dead, 1);
                return Ok(());
            }
            let attempts = email.attempts;
            let mut row: emails::ActiveModel = email.into();
            let now = Utc::now();
            row.next_attempt_at = Set(now + backoff(attempts, ctx.settings.email_retry_base));
            row.enqueued_at = Set(None);
            row.last_error = Set(Some(reason.clone()));
            row.updated_at = Set(now);
            let row = row.update(db).await?;
            info!(email_id = row.id, %reason, attempts, "email will be retried");
            record(Outcome::RetryLater, 1);
        }
    }
    Ok(())
}

/// Everyone's preferences among the batch's recipients, in one query.
async fn preferences_of(
    db: &DatabaseConnection,
    emails: &[emails::Model],
) -> anyhow::Result<HashMap<String, email_preferences::Model>> {
    let mut recipients: Vec<&str> = emails.iter().map(|e| e.recipient.as_str()).collect();
    recipients.sort_unstable();
    recipients.dedup();
    Ok(email_preferences::Entity::find()
        .filter(email_preferences::Column::Email.is_in(recipients))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.email.clone(), p))
        .collect())
}

/// Counts outcomes in `/metrics`; the SENT mark writer counts the sent ones.
pub(crate) fn record(outcome: Outcome, count: usize) {
    metrics::counter!("hive_email_outcomes_total", "outcome" => outcome.label())
        .increment(count as u64);
}

/// Takes the rows for this worker: counts the attempt and clears
/// `enqueued_at` (queued, not yet claimed), in one conditional update. Only
/// one worker can win a row; the rows this one won come back. A claimed row
/// is left alone until its lease, `next_attempt_at`, ends (settings: far
/// longer than the SMTP timeout); then the relay queues it again.
///
/// The relay already gave the row a lease when it queued it. The claim keeps
/// that lease while three quarters of it are left (the usual case: tasks are
/// claimed within moments of being queued) and only otherwise starts a new
/// one. An update that leaves every indexed column as it was can be a HOT
/// update on PostgreSQL (no index entries written, the new row version on
/// the same page); `next_attempt_at` is indexed, so moving it every time
/// would make every claim write to every index of `emails`.
async fn claim(
    db: &DatabaseConnection,
    email_ids: &[i64],
    lease: Duration,
) -> anyhow::Result<Vec<emails::Model>> {
    let now = Utc::now();
    Ok(emails::Entity::update_many()
        .col_expr(
            emails::Column::Attempts,
            Expr::col(emails::Column::Attempts).add(1),
        )
        .col_expr(
            emails::Column::NextAttemptAt,
            Expr::case(
                Expr::col(emails::Column::NextAttemptAt).lt(now + lease * 3 / 4),
                Expr::value(now + lease),
            )
            .finally(Expr::col(emails::Column::NextAttemptAt))
            .into(),
        )
        .col_expr(
            emails::Column::EnqueuedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(emails::Column::UpdatedAt, Expr::value(now))
        .filter(emails::Column::Id.is_in(email_ids.iter().copied()))
        .filter(outbox::pending_and(
            Expr::col(emails::Column::EnqueuedAt).is_not_null(),
        ))
        .exec_with_returning(db)
        .await?)
}

async fn finish(
    db: &DatabaseConnection,
    email: &emails::Model,
    status: EmailStatus,
    error: Option<String>,
) -> anyhow::Result<()> {
    let mut row: emails::ActiveModel = email.clone().into();
    row.status = Set(status);
    row.last_error = Set(error);
    row.updated_at = Set(Utc::now());
    row.update(db).await?;
    Ok(())
}

async fn mark_bouncing(db: &DatabaseConnection, address: &str, reason: &str) -> anyhow::Result<()> {
    let now = Utc::now();
    let row = email_preferences::ActiveModel {
        email: Set(address.to_string()),
        bounced_at: Set(Some(now)),
        bounce_reason: Set(Some(reason.to_string())),
        updated_at: Set(now),
        ..Default::default()
    };
    email_preferences::Entity::insert(row)
        .on_conflict(
            OnConflict::column(email_preferences::Column::Email)
                .update_columns([
                    email_preferences::Column::BouncedAt,
                    email_preferences::Column::BounceReason,
                    email_preferences::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The same Message-ID for every attempt of one email, so the receiving side
/// can tell a re-sent copy (after a crash mid-send) from a new message.
pub fn message_id(email: &emails::Model, public_url: &str) -> String {
    let host = url::Url::parse(public_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_else(|| "hive.localhost".into());
    format!(
        "<email-{}.{}@{}>",
        email.id,
        email.created_at.timestamp(),
        host
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = StdDuration::from_secs(30);
        assert_eq!(backoff(1, base), Duration::seconds(30));
        assert_eq!(backoff(2, base), Duration::seconds(60));
        assert_eq!(backoff(4, base), Duration::seconds(240));
        assert_eq!(backoff(20, base), Duration::hours(1));
    }
}
