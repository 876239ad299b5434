//! Review follow-ups: a review unanswered 7 days after it was requested is
//! reminded once, with a fresh link that replaces the first (only the link's
//! hash is stored, so the first cannot be sent again). An answered review is
//! never reminded. Runs from every worker; the claim is a conditional update,
//! so overlapping runs never remind twice.

use chrono::{Duration, Utc};
use entity::{emails::EmailCategory, engagements, reviews};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, sea_query::Expr};
use tracing::info;

use crate::{notify, reviews::ReviewParties, tokens::SecretToken};

/// An unanswered review is reminded this long after it was requested.
pub const REMIND_AFTER: Duration = Duration::days(7);

/// Reminds every review that is due; returns how many were reminded by this run.
pub async fn run(db: &DatabaseConnection, public_url: &str) -> anyhow::Result<usize> {
    let due = reviews::Entity::find()
        .filter(reviews::Column::SubmittedAt.is_null())
        .filter(reviews::Column::RemindedAt.is_null())
        .filter(reviews::Column::RequestedAt.lte(Utc::now() - REMIND_AFTER))
        .all(db)
        .await?;
    let mut reminded = 0;
    for review in due {
        if remind(db, public_url, &review).await? {
            reminded += 1;
        }
    }
    if reminded > 0 {
        info!(reminded, "review reminders");
    }
    Ok(reminded)
}

/// Claims one review for its reminder and queues the email, in one
/// transaction. False when another worker (or an answer) got there first.
async fn remind(
    db: &DatabaseConnection,
    public_url: &str,
    review: &reviews::Model,
) -> anyhow::Result<bool> {
    let txn = crate::db::begin_write(db).await?;
    let token = SecretToken::generate();
    let claimed = reviews::Entity::update_many()
        .col_expr(reviews::Column::RemindedAt, Expr::value(Utc::now()))
        .col_expr(reviews::Column::TokenHash, Expr::value(token.hash()))
        .filter(reviews::Column::Id.eq(review.id))
        .filter(reviews::Column::SubmittedAt.is_null())
        .filter(reviews::Column::RemindedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(false);
    }
    let engagement = engagements::Entity::find_by_id(review.engagement_id)
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("review {} without engagement", review.id))?;
    let parties = ReviewParties::load(&txn, &engagement).await?;
    let recipients = parties.recipients(&txn, review.party).await?;
    let mut context = parties.email_context(review.party, public_url, &token);
    if let Some(object) = context.as_object_mut() {
        object.insert(
            "requested_on".into(),
            review.requested_at.format("%-d %B %Y").to_string().into(),
        );
    }
    // Filed as a REMINDER, not a REVIEW: the request is part of the
    // programme, the reminder is the kind of mail the design lets people turn
    // off (per-category preferences are not applied at sending yet).
    // Key `review-reminder:{review}:{recipient}`: one reminder per review, ever (`reminded_at`
    // is claimed in this transaction). Nothing withdraws it: once written it goes, or is
    // suppressed at sending (opt-out, bounce).
    notify::send(
        &txn,
        &format!("review-reminder:{}", review.id),
        EmailCategory::Reminder,
        "review_reminder",
        &recipients,
        context,
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
