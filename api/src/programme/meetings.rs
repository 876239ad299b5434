//! The working relationship of an ACTIVE engagement: its ground rules and its
//! timetable of meetings, with the days they use against the allocation.
//! Either party acts; staff read.
//!
//! Every operation locks the engagement (after its request, see
//! [`Change`]'s lock order) before it checks anything, so two parties acting
//! at once are served one after the other: two recordings cannot both pass
//! the day budget, and a meeting cannot be recorded while the engagement is
//! ended. Booking and moving a meeting also lock the provider, whose diary
//! spans all their engagements, so two bookings cannot take one hour.

use chrono::{DateTime, Utc};
use entity::{
    engagements::{self, EngagementStatus},
    meetings::{self, MeetingFormat, MeetingStatus},
    support_requests::{self, SupportRequestStatus},
};
use hive_worker::{
    Settings,
    jobs::meeting_reminders::{self, Change as Reminder},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, sea_query::Expr,
};

use super::{change::Change, rules};
use crate::{
    access::{Party, party},
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Days used by an engagement: the sum of its held meetings' days.
pub async fn days_used(conn: &impl ConnectionTrait, engagement_id: i64) -> ApiResult<f64> {
    let counted: Vec<Option<f64>> = meetings::Entity::find()
        .select_only()
        .column(meetings::Column::DaysCounted)
        .filter(meetings::Column::EngagementId.eq(engagement_id))
        .filter(meetings::Column::Status.eq(MeetingStatus::Held))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(total_days(counted.into_iter().flatten()))
}

/// Days used, from an engagement's meetings: the sum of the held ones' days
/// (as [`days_used`] counts them in the database, for a check under lock).
pub fn held_days(meetings: &[meetings::Model]) -> f64 {
    total_days(
        meetings
            .iter()
            .filter(|meeting| meeting.status == MeetingStatus::Held)
            .filter_map(|meeting| meeting.days_counted),
    )
}

/// A sum of days that starts from a true zero: an empty `f64` sum is `-0.0`,
/// which clients show as "-0".
fn total_days(days: impl Iterator<Item = f64>) -> f64 {
    days.fold(0.0, |total, day| total + day)
}

/// The engagement a party acts on, locked: it must be ACTIVE and the viewer
/// one of its parties (or staff, when `staff_may`).
async fn engagement_for_action(
    change: &Change<'_>,
    id: i64,
    staff_may: bool,
) -> ApiResult<(engagements::Model, Party)> {
    let engagement = change.lock_engagement(id).await?;
    let party = party(change.db(), change.viewer(), &engagement).await?;
    match party {
        Party::Provider | Party::ClientMember => {}
        Party::Staff if staff_may => {}
        _ => return Err(ApiError::forbidden("Only the two parties do this.")),
    }
    if engagement.status != EngagementStatus::Active {
        return Err(ApiError::conflict(match engagement.status {
            EngagementStatus::Proposed => {
                "This engagement has not started: the proposal awaits an answer."
            }
            EngagementStatus::Completed => "This engagement is completed.",
            EngagementStatus::EndedEarly => "This engagement has ended.",
            _ => "This engagement is not active.",
        }));
    }
    Ok((engagement, party))
}

/// A meeting of an engagement the change has locked, read again inside it.
async fn meeting_in(change: &Change<'_>, meeting_id: i64) -> ApiResult<meetings::Model> {
    let missing = "No meeting has that id.";
    let engagement_id: Option<i64> = meetings::Entity::find_by_id(meeting_id)
        .select_only()
        .column(meetings::Column::EngagementId)
        .into_tuple()
        .one(change.db())
        .await?;
    let engagement_id = engagement_id.ok_or_else(|| ApiError::not_found(missing))?;
    change.lock_engagement(engagement_id).await?;
    meetings::Entity::find_by_id(meeting_id)
        .one(change.db())
        .await?
        .ok_or_else(|| ApiError::not_found(missing))
}

/// Refuses a time in the past or too far ahead, a bad duration, or an
/// overlap with another scheduled meeting of the same provider, whose row
/// it locks first (their diary spans all their engagements).
async fn check_slot(
    change: &Change<'_>,
    engagement: &engagements::Model,
    starts_at: DateTime<Utc>,
    duration_minutes: i32,
    moving: Option<i64>,
) -> ApiResult<()> {
    if starts_at <= Utc::now() {
        return Err(ApiError::bad_input(
            "startsAt",
            "Schedule meetings in the future.",
        ));
    }
    if starts_at > Utc::now() + rules::farthest_ahead() {
        return Err(ApiError::bad_input(
            "startsAt",
            "Schedule meetings within the next two years.",
        ));
    }
    if !(15..=480).contains(&duration_minutes) {
        return Err(ApiError::bad_input(
            "durationMinutes",
            "A meeting lasts 15 minutes to 8 hours.",
        ));
    }
    change.lock_provider(engagement.provider_id).await?;
    let others = meetings::Entity::find()
        .inner_join(engagements::Entity)
        .filter(engagements::Column::ProviderId.eq(engagement.provider_id))
        .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
        .filter(
            meetings::Column::StartsAt
                .lt(starts_at + chrono::Duration::minutes(duration_minutes as i64)),
        )
        .filter(meetings::Column::StartsAt.gt(starts_at - chrono::Duration::hours(9)))
        .all(change.db())
        .await?;
    if others.iter().any(|other| {
        Some(other.id) != moving
            && rules::meetings_overlap(
                other.starts_at,
                other.duration_minutes,
                starts_at,
                duration_minutes,
            )
    }) {
        return Err(ApiError::conflict(
            "The provider has another meeting at that time.",
        ));
    }
    Ok(())
}

/// Notes and learning: trimmed, empty as none, at most 20,000 characters.
fn long_text(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    match value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        Some(v) if v.chars().count() > 20_000 => Err(ApiError::bad_input(
            field,
            "Keep it under 20,000 characters.",
        )),
        other => Ok(other),
    }
}

/// Records the ground rules the two parties agreed (either party).
pub async fn agree_ground_rules(
    db: &DatabaseConnection,
    viewer: &Viewer,
    engagement_id: i64,
    text: &str,
) -> ApiResult<engagements::Model> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(ApiError::bad_input(
            "text",
            "Write the ground rules, in up to 10,000 characters.",
        ));
    }
    let change = Change::begin(db, viewer).await?;
    let (engagement, _) = engagement_for_action(&change, engagement_id, false).await?;
    let mut row: engagements::ActiveModel = engagement.into();
    row.ground_rules = Set(Some(text.to_string()));
    row.updated_at = Set(Utc::now());
    let updated = row.update(change.db()).await?;
    change
        .audit("agreeGroundRules", Some(("Engagement", updated.id)), None)
        .await?;
    change.commit().await?;
    Ok(updated)
}

/// A meeting to put in the timetable.
pub struct NewMeeting {
    pub engagement_id: i64,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub format: MeetingFormat,
    /// A place or a dial-in (up to 500 characters).
    pub location: Option<String>,
    /// The last session of the engagement.
    pub is_final: bool,
}

/// Puts a meeting in the timetable (either party), with its reminders.
pub async fn schedule(
    db: &DatabaseConnection,
    settings: &Settings,
    viewer: &Viewer,
    new: NewMeeting,
) -> ApiResult<(meetings::Model, Party)> {
    let location = new
        .location
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());
    if location.as_ref().is_some_and(|l| l.chars().count() > 500) {
        return Err(ApiError::bad_input(
            "location",
            "Keep the place or dial-in under 500 characters.",
        ));
    }
    let change = Change::begin(db, viewer).await?;
    let (engagement, party) = engagement_for_action(&change, new.engagement_id, false).await?;
    check_slot(
        &change,
        &engagement,
        new.starts_at,
        new.duration_minutes,
        None,
    )
    .await?;
    if new.is_final {
        let booked = meetings::Entity::find()
            .filter(meetings::Column::EngagementId.eq(engagement.id))
            .filter(meetings::Column::IsFinal.eq(true))
            .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
            .count(change.db())
            .await?;
        if booked > 0 {
            return Err(ApiError::conflict(
                "A final meeting is already booked: move or cancel it instead.",
            ));
        }
    }
    let now = Utc::now();
    let row = meetings::ActiveModel {
        engagement_id: Set(engagement.id),
        starts_at: Set(new.starts_at),
        duration_minutes: Set(new.duration_minutes),
        format: Set(new.format),
        location: Set(location),
        is_final: Set(new.is_final),
        status: Set(MeetingStatus::Scheduled),
        sequence: Set(0),
        scheduled_by_user_id: Set(viewer.user.as_ref().map(|u| u.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(change.db())
    .await?;
    meeting_reminders::on_change(change.db(), settings, &engagement, &row, Reminder::Booked)
        .await?;
    change
        .audit(
            "scheduleMeeting",
            Some(("Meeting", row.id)),
            Some(serde_json::json!({ "isFinal": row.is_final })),
        )
        .await?;
    change.commit().await?;
    Ok((row, party))
}

/// Moves a scheduled meeting (either party); its reminders move with it.
/// A move to its own start and length changes nothing and sends nothing.
pub async fn reschedule(
    db: &DatabaseConnection,
    settings: &Settings,
    viewer: &Viewer,
    meeting_id: i64,
    starts_at: DateTime<Utc>,
    duration_minutes: Option<i32>,
) -> ApiResult<(meetings::Model, Party)> {
    let change = Change::begin(db, viewer).await?;
    let meeting = meeting_in(&change, meeting_id).await?;
    let (engagement, party) = engagement_for_action(&change, meeting.engagement_id, false).await?;
    if meeting.status != MeetingStatus::Scheduled {
        return Err(ApiError::conflict("Only a scheduled meeting can be moved."));
    }
    let duration = duration_minutes.unwrap_or(meeting.duration_minutes);
    // Compared to the microsecond, what PostgreSQL keeps of a time.
    if starts_at.timestamp_micros() == meeting.starts_at.timestamp_micros()
        && duration == meeting.duration_minutes
    {
        // A move to where it is already changes nothing: no new SEQUENCE,
        // no reminders rewritten, no "meeting moved" email (the transaction
        // is dropped, so rolled back).
        return Ok((meeting, party));
    }
    check_slot(&change, &engagement, starts_at, duration, Some(meeting.id)).await?;
    let sequence = meeting.sequence + 1;
    let mut row: meetings::ActiveModel = meeting.into();
    row.starts_at = Set(starts_at);
    row.duration_minutes = Set(duration);
    row.sequence = Set(sequence);
    row.updated_at = Set(Utc::now());
    let row = row.update(change.db()).await?;
    meeting_reminders::on_change(change.db(), settings, &engagement, &row, Reminder::Moved).await?;
    change
        .audit("rescheduleMeeting", Some(("Meeting", row.id)), None)
        .await?;
    change.commit().await?;
    Ok((row, party))
}

/// Takes a scheduled meeting out of the timetable (either party); its
/// reminders are withdrawn and a cancellation goes out.
pub async fn cancel(
    db: &DatabaseConnection,
    settings: &Settings,
    viewer: &Viewer,
    meeting_id: i64,
) -> ApiResult<(meetings::Model, Party)> {
    let change = Change::begin(db, viewer).await?;
    let meeting = meeting_in(&change, meeting_id).await?;
    let (engagement, party) = engagement_for_action(&change, meeting.engagement_id, false).await?;
    if meeting.status != MeetingStatus::Scheduled {
        return Err(ApiError::conflict(
            "Only a scheduled meeting can be cancelled.",
        ));
    }
    let sequence = meeting.sequence + 1;
    let mut row: meetings::ActiveModel = meeting.into();
    row.status = Set(MeetingStatus::Cancelled);
    row.sequence = Set(sequence);
    row.updated_at = Set(Utc::now());
    let row = row.update(change.db()).await?;
    meeting_reminders::on_change(
        change.db(),
        settings,
        &engagement,
        &row,
        Reminder::Cancelled,
    )
    .await?;
    change
        .audit("cancelMeeting", Some(("Meeting", row.id)), None)
        .await?;
    change.commit().await?;
    Ok((row, party))
}

/// Cancels every scheduled meeting of an engagement that has just ended
/// early, on the change that ends it: each sends its cancellation (the
/// calendar's CANCEL, so the meeting leaves the parties' calendars) and loses
/// its reminders. Without this they stayed in the diary, reminded, of an
/// engagement that no longer was.
pub async fn cancel_all_scheduled(
    conn: &impl ConnectionTrait,
    settings: &Settings,
    engagement: &engagements::Model,
) -> ApiResult<()> {
    let scheduled = meetings::Entity::find()
        .filter(meetings::Column::EngagementId.eq(engagement.id))
        .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
        .all(conn)
        .await?;
    for meeting in scheduled {
        let sequence = meeting.sequence + 1;
        let mut row: meetings::ActiveModel = meeting.into();
        row.status = Set(MeetingStatus::Cancelled);
        row.sequence = Set(sequence);
        row.updated_at = Set(Utc::now());
        let row = row.update(conn).await?;
        meeting_reminders::on_change(conn, settings, engagement, &row, Reminder::Cancelled).await?;
    }
    Ok(())
}

/// What happened at a meeting.
pub struct MeetingRecord {
    pub meeting_id: i64,
    /// False when the meeting did not take place (it is then CANCELLED).
    pub held: bool,
    /// Days of the allocation it used, in quarters; 0 if not held.
    pub days_counted: f64,
    /// Private to the two parties.
    pub notes: Option<String>,
    /// Issues or learning the programme can use.
    pub learning: Option<String>,
}

/// What recording a meeting did.
pub struct Recorded {
    pub meeting: meetings::Model,
    pub party: Party,
    /// The final meeting was held: the engagement is COMPLETED, its request
    /// CLOSED, and both parties were asked for a review.
    pub completed: bool,
}

/// Records whether a meeting was held, the days it used, and notes (either
/// party). Refused if the days would pass the allocation, counted under the
/// engagement's lock. Recording the final meeting held completes the
/// engagement in the same change; it is refused while another meeting of the
/// engagement is still scheduled (record or cancel that one first).
pub async fn record(
    db: &DatabaseConnection,
    public_url: &str,
    viewer: &Viewer,
    record: MeetingRecord,
) -> ApiResult<Recorded> {
    let notes = long_text("notes", record.notes)?;
    let learning = long_text("learning", record.learning)?;
    let change = Change::begin(db, viewer).await?;
    let meeting = meeting_in(&change, record.meeting_id).await?;
    let (engagement, party) = engagement_for_action(&change, meeting.engagement_id, false).await?;
    if meeting.status != MeetingStatus::Scheduled {
        return Err(ApiError::conflict(
            "This meeting is already recorded or cancelled.",
        ));
    }
    if record.held && meeting.starts_at > Utc::now() {
        return Err(ApiError::bad_input(
            "held",
            "A meeting can be recorded as held once it has started.",
        ));
    }
    let counted = if record.held {
        record.days_counted
    } else {
        0.0
    };
    if !record.held && record.days_counted != 0.0 {
        return Err(ApiError::bad_input(
            "daysCounted",
            "A meeting that was not held counts no days.",
        ));
    }
    let used = days_used(change.db(), engagement.id).await?;
    rules::check_days_counted(engagement.days_allocated, used, counted)
        .map_err(|message| ApiError::bad_input("daysCounted", message))?;
    let completes = record.held && meeting.is_final;
    if completes {
        refuse_completion_while_booked(&change, &engagement, meeting.id).await?;
    }
    let mut row: meetings::ActiveModel = meeting.into();
    row.status = Set(if record.held {
        MeetingStatus::Held
    } else {
        MeetingStatus::Cancelled
    });
    row.days_counted = Set(record.held.then_some(counted));
    row.notes = Set(notes);
    row.learning = Set(learning);
    row.updated_at = Set(Utc::now());
    let row = row.update(change.db()).await?;
    if !record.held {
        meeting_reminders::withdraw_reminders(
            change.db(),
            row.id,
            "the meeting did not take place",
        )
        .await?;
    }
    change
        .audit(
            "recordMeeting",
            Some(("Meeting", row.id)),
            Some(serde_json::json!({ "held": record.held, "daysCounted": counted })),
        )
        .await?;
    if completes {
        complete(&change, public_url, &engagement).await?;
    }
    change.commit().await?;
    Ok(Recorded {
        meeting: row,
        party,
        completed: completes,
    })
}

/// Before the final meeting is recorded held: refuses while another meeting
/// is still scheduled — its days would otherwise never be counted, and it
/// could never be recorded or cancelled once the engagement is completed.
async fn refuse_completion_while_booked(
    change: &Change<'_>,
    engagement: &engagements::Model,
    final_meeting_id: i64,
) -> ApiResult<()> {
    let open = meetings::Entity::find()
        .filter(meetings::Column::EngagementId.eq(engagement.id))
        .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
        .filter(meetings::Column::Id.ne(final_meeting_id))
        .count(change.db())
        .await?;
    if open > 0 {
        return Err(ApiError::conflict(
            "Another meeting of this engagement is still scheduled: record or cancel it \
             before recording the final meeting as held.",
        ));
    }
    Ok(())
}

/// Completes an engagement whose final meeting was just recorded held: the
/// engagement becomes COMPLETED, its request CLOSED, and both parties are
/// asked for a review.
async fn complete(
    change: &Change<'_>,
    public_url: &str,
    engagement: &engagements::Model,
) -> ApiResult<()> {
    let now = Utc::now();
    engagements::Entity::update_many()
        .col_expr(
            engagements::Column::Status,
            Expr::value(EngagementStatus::Completed),
        )
        .col_expr(engagements::Column::CompletedAt, Expr::value(now))
        .col_expr(engagements::Column::UpdatedAt, Expr::value(now))
        .filter(engagements::Column::Id.eq(engagement.id))
        .exec(change.db())
        .await?;
    support_requests::Entity::update_many()
        .col_expr(
            support_requests::Column::Status,
            Expr::value(SupportRequestStatus::Closed),
        )
        .col_expr(support_requests::Column::ClosedAt, Expr::value(now))
        .col_expr(support_requests::Column::UpdatedAt, Expr::value(now))
        .filter(support_requests::Column::Id.eq(engagement.support_request_id))
        .exec(change.db())
        .await?;
    super::reviews::request_reviews(change.db(), public_url, engagement).await?;
    change
        .audit(
            "completeEngagement",
            Some(("Engagement", engagement.id)),
            None,
        )
        .await?;
    Ok(())
}
