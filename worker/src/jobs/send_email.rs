//! Delivers one email row: claims it, renders its template, sends it and
//! records the outcome. Every email Hive sends passes through here.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use entity::{
    email_preferences,
    emails::{self, EmailCategory, EmailStatus},
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{
    WorkerContext,
    mail::{Outgoing, SendError, calendar::Invitation},
    outbox::UNSUBSCRIBE_TOKEN,
    preferences::OptOut,
};

/// The queued task: only the row's id, so the payload in the queue never holds
/// a secret link and the row stays the one source of truth.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct SendEmail {
    pub email_id: i64,
}

/// The context key of a meeting email's calendar invitation.
pub const INVITATION: &str = "invitation";

/// What became of one run of the job, for logs, metrics and tests.
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

pub async fn run(job: SendEmail, ctx: &WorkerContext) -> anyhow::Result<Outcome> {
    let db = &ctx.db;
    let Some(email) = claim(db, job.email_id, ctx.settings.email_lease).await? else {
        return Ok(record(Outcome::Skipped));
    };

    let preferences = email_preferences::Entity::find()
        .filter(email_preferences::Column::Email.eq(&email.recipient))
        .one(db)
        .await?;
    let bouncing = preferences.as_ref().is_some_and(|p| p.bounced_at.is_some());
    if bouncing && email.category != EmailCategory::SignIn {
        finish(
            db,
            &email,
            EmailStatus::Suppressed,
            Some("address is bouncing".into()),
        )
        .await?;
        return Ok(record(Outcome::Suppressed));
    }
    let opt_out = OptOut::of(email.category);
    if let Some(opt_out) = opt_out
        && !opt_out.allowed_by(preferences.as_ref())
    {
        finish(
            db,
            &email,
            EmailStatus::Suppressed,
            Some(format!("recipient opted out of {}", opt_out.words())),
        )
        .await?;
        return Ok(record(Outcome::Suppressed));
    }

    let mut context: serde_json::Value = serde_json::from_str(&email.context)?;
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
        Err(error) => {
            warn!(email_id = email.id, %error, "email template failed");
            finish(db, &email, EmailStatus::Dead, Some(error.to_string())).await?;
            return Ok(record(Outcome::Dead));
        }
    };
    let invitation: Option<Invitation> = match context.get(INVITATION) {
        Some(value) => match serde_json::from_value(value.clone()) {
            Ok(invitation) => Some(invitation),
            Err(error) => {
                warn!(email_id = email.id, %error, "calendar invitation unreadable");
                finish(db, &email, EmailStatus::Dead, Some(error.to_string())).await?;
                return Ok(record(Outcome::Dead));
            }
        },
        None => None,
    };
    let outgoing = Outgoing {
        invitation: invitation.as_ref(),
        to: &email.recipient,
        rendered: &rendered,
        message_id: message_id(&email, &ctx.settings.public_url),
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
    match ctx.mailer.send(outgoing).await {
        Ok(provider_id) => {
            let mut row: emails::ActiveModel = email.clone().into();
            let now = Utc::now();
            row.status = Set(EmailStatus::Sent);
            row.sent_at = Set(Some(now));
            row.updated_at = Set(now);
            row.last_error = Set(None);
            row.provider_message_id = Set(Some(provider_id));
            // Contexts carry secret links (sign-in, accept/decline, review,
            // survey): once the message is in the mailbox the outbox need
            // not keep a copy of any of them.
            row.context = Set(serde_json::json!({"redacted": true}).to_string());
            row.update(db).await?;
            info!(email_id = email.id, template = %email.template, "email sent");
            Ok(record(Outcome::Sent))
        }
        Err(SendError::Permanent(reason)) => {
            warn!(email_id = email.id, %reason, "email permanently rejected");
            mark_bouncing(db, &email.recipient, &reason).await?;
            finish(db, &email, EmailStatus::Failed, Some(reason)).await?;
            Ok(record(Outcome::Bounced))
        }
        Err(SendError::Invalid(reason)) => {
            warn!(email_id = email.id, %reason, "email could not be built");
            finish(db, &email, EmailStatus::Dead, Some(reason)).await?;
            Ok(record(Outcome::Dead))
        }
        Err(SendError::Transient(reason)) => {
            if email.attempts >= ctx.settings.email_max_attempts {
                warn!(email_id = email.id, %reason, attempts = email.attempts, "email is dead");
                finish(db, &email, EmailStatus::Dead, Some(reason)).await?;
                return Ok(record(Outcome::Dead));
            }
            let mut row: emails::ActiveModel = email.clone().into();
            let now = Utc::now();
            row.next_attempt_at = Set(now + backoff(email.attempts, ctx.settings.email_retry_base));
            row.enqueued_at = Set(None);
            row.last_error = Set(Some(reason.clone()));
            row.updated_at = Set(now);
            row.update(db).await?;
            info!(email_id = email.id, %reason, attempts = email.attempts, "email will be retried");
            Ok(record(Outcome::RetryLater))
        }
    }
}

fn record(outcome: Outcome) -> Outcome {
    metrics::counter!("hive_email_outcomes_total", "outcome" => outcome.label()).increment(1);
    outcome
}

/// Takes the row for this worker: counts the attempt and pushes its next try
/// past the lease, in one conditional update. Only one worker can win it.
/// The row is left alone for `lease` (settings: far longer than the SMTP
/// timeout) before another worker may try it.
async fn claim(
    db: &DatabaseConnection,
    email_id: i64,
    lease: Duration,
) -> anyhow::Result<Option<emails::Model>> {
    let now = Utc::now();
    let claimed = emails::Entity::update_many()
        .col_expr(
            emails::Column::Attempts,
            Expr::col(emails::Column::Attempts).add(1),
        )
        .col_expr(emails::Column::NextAttemptAt, Expr::value(now + lease))
        .col_expr(emails::Column::UpdatedAt, Expr::value(now))
        .filter(emails::Column::Id.eq(email_id))
        .filter(emails::Column::Status.eq(EmailStatus::Pending))
        .filter(emails::Column::NextAttemptAt.lte(now))
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    Ok(emails::Entity::find_by_id(email_id).one(db).await?)
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
fn message_id(email: &emails::Model, public_url: &str) -> String {
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
