//! Retention: meeting notes and learning, the details of resolved concerns
//! and the bodies of emails that have gone are kept only as long as the
//! `HIVE_RETENTION_*` settings say (DESIGN.md, "People and their data").
//!
//! Each kind is cleared by one conditional update that only matches what has
//! passed its time and is not cleared yet, so a pass clears each thing once
//! however many workers run it together: on PostgreSQL a second update of the
//! same rows waits for the first and then finds nothing left to match.
//! What is kept: the meeting (its time, status, days counted), the concern
//! (its category, status and dates), the email's delivery record (recipient,
//! template, status, attempts, dates) — everything the programme's statistics
//! and the staff's delivery list count.

use chrono::{DateTime, Months, Utc};
use entity::{
    concerns::{self, ConcernStatus},
    emails::{self, EmailStatus},
    meetings,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter, sea_query::Expr,
};
use tracing::info;

use crate::settings::Retention;

/// What a cleared concern's details and outcome read.
pub const CLEARED: &str = "[Removed: past the retention period]";

/// What a cleared email's context (its template's values) holds.
pub const CLEARED_BODY: &str = "{}";

/// What one pass cleared, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleared {
    /// Meetings whose notes and learning were cleared.
    pub meeting_notes: u64,
    /// Resolved concerns whose details (and outcome) were cleared.
    pub concern_details: u64,
    /// Emails whose body was cleared.
    pub email_bodies: u64,
}

impl Cleared {
    /// The kinds, as the `kind` label of `hive_retention_cleared_total`.
    pub const KINDS: [&'static str; 3] = ["meeting_notes", "concern_details", "email_bodies"];
}

/// Clears everything past its time at `now`; counts it in `/metrics`.
pub async fn run(
    conn: &impl ConnectionTrait,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<Cleared, DbErr> {
    // A cut-off before anything Hive holds clears nothing. Any positive
    // number is a valid setting, so the arithmetic is checked and the result
    // kept at or after 1970: one past the calendar's range must not panic the
    // worker's periodic loop, nor one before PostgreSQL's (4713 BC) fail the
    // pass (issue 17's red team).
    let not_before = |at: Option<DateTime<Utc>>| {
        Ord::max(
            at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            DateTime::<Utc>::UNIX_EPOCH,
        )
    };
    let months_before = |months: u32| not_before(now.checked_sub_months(Months::new(months)));
    let notes_before = months_before(retention.notes_months);
    let meeting_notes = meetings::Entity::update_many()
        .col_expr(meetings::Column::Notes, Expr::value(Option::<String>::None))
        .col_expr(
            meetings::Column::Learning,
            Expr::value(Option::<String>::None),
        )
        .filter(meetings::Column::StartsAt.lt(notes_before))
        .filter(
            meetings::Column::Notes
                .is_not_null()
                .or(meetings::Column::Learning.is_not_null()),
        )
        .exec(conn)
        .await?
        .rows_affected;

    let concerns_before = months_before(retention.concerns_months);
    let concern_details = concerns::Entity::update_many()
        .col_expr(concerns::Column::Details, Expr::value(CLEARED))
        .col_expr(
            concerns::Column::Outcome,
            Expr::case(
                concerns::Column::Outcome.is_null(),
                Expr::value(Option::<String>::None),
            )
            .finally(Expr::value(CLEARED))
            .into(),
        )
        .filter(concerns::Column::Status.eq(ConcernStatus::Resolved))
        .filter(concerns::Column::ResolvedAt.lt(concerns_before))
        .filter(concerns::Column::Details.ne(CLEARED))
        .exec(conn)
        .await?
        .rows_affected;

    let bodies_before = not_before(
        chrono::Duration::try_days(i64::from(retention.email_days))
            .and_then(|days| now.checked_sub_signed(days)),
    );
    let email_bodies = emails::Entity::update_many()
        .col_expr(emails::Column::Context, Expr::value(CLEARED_BODY))
        .filter(emails::Column::Status.is_in([
            EmailStatus::Sent,
            EmailStatus::Suppressed,
            EmailStatus::Dead,
        ]))
        .filter(emails::Column::UpdatedAt.lt(bodies_before))
        .filter(emails::Column::Context.ne(CLEARED_BODY))
        .exec(conn)
        .await?
        .rows_affected;

    let cleared = Cleared {
        meeting_notes,
        concern_details,
        email_bodies,
    };
    for (kind, count) in
        Cleared::KINDS
            .into_iter()
            .zip([meeting_notes, concern_details, email_bodies])
    {
        metrics::counter!("hive_retention_cleared_total", "kind" => kind).increment(count);
    }
    if cleared != Cleared::default() {
        info!(
            meeting_notes,
            concern_details, email_bodies, "retention: cleared what passed its time"
        );
    }
    Ok(cleared)
}
