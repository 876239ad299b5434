//! The outbox: every email is first a row in `emails`, written in the same
//! transaction as the change that causes it, so a crash can never keep the
//! change and lose the message (or the other way round). The relay then hands
//! due rows to the job queue; the send job does the delivery.

use chrono::{Duration, Utc};
use entity::emails::{self, EmailCategory, EmailStatus};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
    sea_query::{Expr, LockBehavior, LockType, OnConflict},
};

use crate::{
    jobs::send_email::SendEmails, preferences::OptOut, queue::JobQueue, tokens::SecretToken,
};

/// The context key holding a message's unsubscribe secret until it is sent.
pub const UNSUBSCRIBE_TOKEN: &str = "_unsubscribe_token";

/// A message to send, as the code that causes it describes it.
#[derive(Debug, Clone)]
pub struct NewEmail {
    /// Unique per message meaning (e.g. `sign-in:<token id>`): the database
    /// refuses a second row with the same key, so a retried request or job
    /// cannot send the same message twice.
    pub idempotency_key: String,
    pub category: EmailCategory,
    /// A folder under `worker/templates/`.
    pub template: &'static str,
    pub recipient: String,
    pub context: serde_json::Value,
    /// Not to be sent before this (now, but for reminders).
    pub due: chrono::DateTime<Utc>,
}

/// Records `email` in the caller's transaction. Returns false when this very
/// message is already recorded (a retried request or job, another worker's
/// pass): nothing is written then.
///
/// # Errors
/// A database error; or [`DbErr::Custom`] when the key already belongs to a
/// *different* message, which the insert would otherwise drop without a word:
/// another template or recipient, or a row withdrawn before it was ever tried
/// (SUPPRESSED with no attempt: withdrawals must give their key up, as
/// `meeting_reminders::withdraw_reminders` does; the sender's own
/// suppressions come after a claim, which counts an attempt).
/// That is a bug in the key, so it is logged as an error and the caller's
/// transaction fails: the change and its email stand or fall together.
pub async fn enqueue(conn: &impl ConnectionTrait, email: NewEmail) -> Result<bool, DbErr> {
    let key = email.idempotency_key.clone();
    let recipient = email.recipient.trim().to_lowercase();
    let template = email.template;
    if insert(conn, email).await? {
        return Ok(true);
    }
    let Some(existing) = emails::Entity::find()
        .filter(emails::Column::IdempotencyKey.eq(&key))
        .one(conn)
        .await?
    else {
        return Ok(false);
    };
    let withdrawn = existing.status == EmailStatus::Suppressed && existing.attempts == 0;
    if existing.template != template || existing.recipient != recipient || withdrawn {
        metrics::counter!("hive_outbox_refused_keys_total").increment(1);
        tracing::error!(
            idempotency_key = %key,
            existing_email_id = existing.id,
            existing_status = ?existing.status,
            withdrawn,
            "an email's idempotency key is taken by a different message; the message would be lost"
        );
        return Err(DbErr::Custom(format!(
            "idempotency key {key} is taken by a different message (email {})",
            existing.id
        )));
    }
    Ok(false)
}

/// The insert itself: true when the row was written, false when its key was
/// taken.
async fn insert(conn: &impl ConnectionTrait, email: NewEmail) -> Result<bool, DbErr> {
    let now = Utc::now();
    // A message people may opt out of carries its own unsubscribe secret;
    // like every secret link, its clear copy lives only in the context, which
    // is redacted once the message is sent.
    let mut context = email.context;
    let mut unsubscribe_token_hash = None;
    if OptOut::of(email.category).is_some()
        && let Some(object) = context.as_object_mut()
    {
        let token = SecretToken::generate();
        unsubscribe_token_hash = Some(token.hash());
        object.insert(UNSUBSCRIBE_TOKEN.into(), token.expose().into());
    }
    let row = emails::ActiveModel {
        idempotency_key: Set(email.idempotency_key),
        category: Set(email.category),
        template: Set(email.template.to_string()),
        recipient: Set(email.recipient.trim().to_lowercase()),
        context: Set(context.to_string()),
        unsubscribe_token_hash: Set(unsubscribe_token_hash),
        status: Set(EmailStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(email.due),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let inserted = emails::Entity::insert(row)
        .on_conflict(
            OnConflict::column(emails::Column::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(inserted > 0)
}

/// Takes back the messages whose idempotency key starts with `key_prefix`
/// and that have not gone: PENDING ones, and FAILED or DEAD ones too, which
/// staff could otherwise retry into a message that is no longer true (a
/// reminder of a moved meeting, a chaser of a withdrawn proposal). Returns
/// how many.
///
/// A withdrawn row stays (SUPPRESSED, with the reason, for staff to read) but
/// gives its idempotency key up: `:withdrawn:{row id}` is appended, so a later
/// message with the same key can never be refused by the key of one that was
/// taken back.
pub async fn withdraw_unsent(
    conn: &impl ConnectionTrait,
    key_prefix: &str,
    reason: &str,
) -> Result<u64, DbErr> {
    withdraw_where(
        conn,
        emails::Column::IdempotencyKey.starts_with(key_prefix),
        reason,
    )
    .await
}

/// Takes back every message to `recipient` that has not gone, as
/// [`withdraw_unsent`] does: for a person who has left (removed from their
/// co-op), to whom nothing more may go.
pub async fn withdraw_unsent_to(
    conn: &impl ConnectionTrait,
    recipient: &str,
    reason: &str,
) -> Result<u64, DbErr> {
    withdraw_where(conn, emails::Column::Recipient.eq(recipient), reason).await
}

async fn withdraw_where(
    conn: &impl ConnectionTrait,
    which: Expr,
    reason: &str,
) -> Result<u64, DbErr> {
    let withdrawn = emails::Entity::update_many()
        .col_expr(emails::Column::Status, Expr::value(EmailStatus::Suppressed))
        .col_expr(emails::Column::LastError, Expr::value(reason))
        .col_expr(emails::Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(
            emails::Column::IdempotencyKey,
            // The same text on SQLite and PostgreSQL.
            Expr::cust("idempotency_key || ':withdrawn:' || CAST(id AS TEXT)"),
        )
        .filter(which)
        .filter(emails::Column::Status.is_in([
            EmailStatus::Pending,
            EmailStatus::Failed,
            EmailStatus::Dead,
        ]))
        .exec(conn)
        .await?;
    Ok(withdrawn.rows_affected)
}

/// `status = PENDING AND also`, as a condition no index can answer.
///
/// An update of rows chosen by id must find them by the primary key. With
/// the plain conditions PostgreSQL may instead walk the (status,
/// next_attempt_at) index through every pending row: it does so whenever its
/// statistics say few rows are pending, which is exactly when a fan-out has
/// just queued thousands (each 50-row claim read all 10,000 rows of the mail
/// bench). Inside a CASE the conditions are only checked on the rows the id
/// list found.
pub fn pending_and(also: Expr) -> Expr {
    Expr::case(
        Expr::col(emails::Column::Status).eq(EmailStatus::Pending),
        also,
    )
    .finally(false)
    .into()
}

/// Emails per send task. Big enough that the claim, the preferences lookup
/// and the queue's own writes are shared by many messages; small enough that
/// several workers share a fan-out evenly.
pub const EMAILS_PER_TASK: usize = 50;

/// Categories that go past the job queue: DESIGN.md promises sign-in links
/// "at once" and staff told of a concern "at once". The queue is first in,
/// first out, so a link behind a survey launch of 20,000 invitations waited
/// for all of them (22 s, measured). The relay takes these rows in a pass of
/// their own, before the rest, and its process sends them itself
/// (`runner::relay_loop`) instead of queueing them behind the fan-out.
pub const URGENT: [EmailCategory; 2] = [EmailCategory::SignIn, EmailCategory::Concern];

/// Which due rows a relay pass takes; also the `lane` label of
/// `hive_emails_relayed_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// The [`URGENT`] categories, sent by the relaying process at once.
    Urgent,
    /// Everything else, handed to the job queue.
    Queued,
}

impl Lane {
    /// Both lanes, for counters that exist at 0 from the start.
    pub const ALL: [Lane; 2] = [Lane::Urgent, Lane::Queued];

    /// The lane's `lane` label in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Lane::Urgent => "urgent",
            Lane::Queued => "queued",
        }
    }
}

/// Hands up to `batch` due emails of the [`Lane::Queued`] lane to the job
/// queue, in tasks of [`EMAILS_PER_TASK`]; returns how many.
pub async fn relay_due(
    db: &sea_orm::DatabaseConnection,
    queue: &JobQueue,
    batch: u64,
    lease: Duration,
    sent_awaiting_mark: &[i64],
) -> anyhow::Result<usize> {
    let marked = mark_due(db, Lane::Queued, batch, lease, sent_awaiting_mark).await?;
    if marked.is_empty() {
        return Ok(0);
    }
    let relayed = marked.len();
    let batches = marked
        .chunks(EMAILS_PER_TASK)
        .map(|ids| SendEmails {
            email_ids: ids.to_vec(),
        })
        .collect();
    queue.push_send_emails(batches).await?;
    Ok(relayed)
}

/// Takes up to [`EMAILS_PER_TASK`] due emails of the [`Lane::Urgent`] lane
/// for this process to send itself; `None` when none is due.
pub async fn take_urgent(
    db: &sea_orm::DatabaseConnection,
    lease: Duration,
    sent_awaiting_mark: &[i64],
) -> Result<Option<SendEmails>, DbErr> {
    let marked = mark_due(
        db,
        Lane::Urgent,
        EMAILS_PER_TASK as u64,
        lease,
        sent_awaiting_mark,
    )
    .await?;
    Ok((!marked.is_empty()).then_some(SendEmails { email_ids: marked }))
}

/// Marks up to `batch` of the lane's oldest due rows queued and returns
/// their ids.
///
/// One statement picks the rows and marks them: it sets `enqueued_at`
/// (queued, not yet claimed) and moves `next_attempt_at` one `lease` ahead,
/// so the rows leave the due range of the (status, next_attempt_at) index
/// that the relay walks (left in it, every poll read all the queued rows
/// again before reaching new ones). On PostgreSQL the pick skips rows another
/// relay has locked, so two worker processes never queue the same row
/// together; SQLite has one writer at a time.
///
/// A queued row nobody claims within `lease` is due again and queued again:
/// that covers a relay that crashed between the mark and the push, and a
/// task lost with a killed worker. The send job's claim makes a second task
/// for the same row harmless.
///
/// `sent_awaiting_mark`: rows the SMTP server accepted from this process
/// whose SENT mark is not written yet (the database was unreachable; see
/// `jobs::sent_marks`). They are left out even once their lease has run out:
/// they are sent.
async fn mark_due(
    db: &sea_orm::DatabaseConnection,
    lane: Lane,
    batch: u64,
    lease: Duration,
    sent_awaiting_mark: &[i64],
) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now();
    let in_lane = match lane {
        Lane::Urgent => emails::Column::Category.is_in(URGENT),
        Lane::Queued => emails::Column::Category.is_not_in(URGENT),
    };
    let due = emails::Entity::find()
        .select_only()
        .column(emails::Column::Id)
        .filter(emails::Column::Status.eq(EmailStatus::Pending))
        .filter(emails::Column::NextAttemptAt.lte(now))
        .filter(in_lane)
        .apply_if(
            (!sent_awaiting_mark.is_empty()).then_some(sent_awaiting_mark),
            |query, ids| query.filter(emails::Column::Id.is_not_in(ids.iter().copied())),
        )
        .order_by_asc(emails::Column::NextAttemptAt)
        .order_by_asc(emails::Column::Id)
        .limit(batch)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_query();
    let marked: Vec<i64> = emails::Entity::update_many()
        .col_expr(emails::Column::EnqueuedAt, Expr::value(now))
        .col_expr(emails::Column::NextAttemptAt, Expr::value(now + lease))
        .filter(emails::Column::Id.in_subquery(due))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect();
    metrics::counter!("hive_emails_relayed_total", "lane" => lane.label())
        .increment(marked.len() as u64);
    Ok(marked)
}

/// Hands back to the relay every email queued more than `age` ago that no
/// worker has claimed yet (a claim clears `enqueued_at`), making it due at
/// once; returns how many. Used when the queue looks stalled.
pub async fn requeue_untouched(
    db: &sea_orm::DatabaseConnection,
    age: std::time::Duration,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    let before = now - Duration::from_std(age).unwrap_or(Duration::minutes(2));
    let result = emails::Entity::update_many()
        .col_expr(
            emails::Column::EnqueuedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(emails::Column::NextAttemptAt, Expr::value(now))
        .filter(emails::Column::Status.eq(EmailStatus::Pending))
        .filter(emails::Column::EnqueuedAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
