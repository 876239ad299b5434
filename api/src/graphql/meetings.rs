//! The working relationship: ground rules and the timetable of meetings, with
//! the days they use against the allocation. Either party may schedule.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{
    engagements::{self, EngagementStatus},
    meetings::{self, MeetingFormat, MeetingStatus},
    providers,
    support_requests::{self, SupportRequestStatus},
    users::Role,
};
use hive_worker::jobs::meeting_reminders::{self, Change};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, sea_query::Expr,
};

use super::{
    engagements::Engagement,
    providers::Format,
    relay::{NodeType, decode_id_of, global_id},
    support_requests::lock_request,
};
use crate::{
    audit,
    auth::{RoleGuard, Viewer, viewer},
    error::{ApiError, ApiResult},
    rules,
    state::AppState,
};

/// Where a meeting stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MeetingStatus", remote = "entity::meetings::MeetingStatus")]
pub enum Status {
    Scheduled,
    Held,
    Cancelled,
}

/// How the viewer stands towards an engagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Provider,
    ClientMember,
    Staff,
    Outsider,
}

/// Works out the viewer's part in an engagement (one query at most).
pub async fn party(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    engagement: &engagements::Model,
) -> ApiResult<Party> {
    let Some(user) = viewer.user.as_ref() else {
        return Ok(Party::Outsider);
    };
    Ok(match user.role {
        Role::Staff => Party::Staff,
        Role::Member => {
            let organisation: Option<i64> =
                support_requests::Entity::find_by_id(engagement.support_request_id)
                    .select_only()
                    .column(support_requests::Column::OrganisationId)
                    .into_tuple()
                    .one(conn)
                    .await?;
            if organisation.is_some() && organisation == user.organisation_id {
                Party::ClientMember
            } else {
                Party::Outsider
            }
        }
        Role::Mentor | Role::Adviser => {
            let owner: Option<i64> = providers::Entity::find_by_id(engagement.provider_id)
                .select_only()
                .column(providers::Column::UserId)
                .into_tuple()
                .one(conn)
                .await?;
            if owner == Some(user.id) {
                Party::Provider
            } else {
                Party::Outsider
            }
        }
    })
}

/// A meeting of an engagement.
pub struct Meeting {
    pub row: meetings::Model,
    /// The viewer's part in the meeting's engagement, for the private fields.
    pub party: Party,
}

#[Object]
impl Meeting {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Meeting, self.row.id)
    }
    async fn starts_at(&self) -> DateTime<Utc> {
        self.row.starts_at
    }
    async fn duration_minutes(&self) -> i32 {
        self.row.duration_minutes
    }
    async fn format(&self) -> Format {
        self.row.format.into()
    }
    /// A place or a dial-in.
    async fn location(&self) -> Option<&str> {
        self.row.location.as_deref()
    }
    /// The last session of the engagement.
    async fn is_final(&self) -> bool {
        self.row.is_final
    }
    async fn status(&self) -> Status {
        self.row.status.into()
    }
    async fn days_counted(&self) -> Option<f64> {
        self.row.days_counted
    }
    /// Private notes: the provider and the client co-op's members only — not staff.
    async fn notes(&self) -> ApiResult<Option<&str>> {
        match self.party {
            Party::Provider | Party::ClientMember => Ok(self.row.notes.as_deref()),
            _ => Err(ApiError::forbidden(
                "Meeting notes are between the two parties.",
            )),
        }
    }
    /// Learning for the programme: the provider and staff.
    async fn learning(&self) -> ApiResult<Option<&str>> {
        match self.party {
            Party::Provider | Party::Staff => Ok(self.row.learning.as_deref()),
            _ => Err(ApiError::forbidden(
                "Only the provider and staff see the learning.",
            )),
        }
    }
    /// Raised by one each time the meeting moves (iCalendar SEQUENCE).
    async fn sequence(&self) -> i32 {
        self.row.sequence
    }
}

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
    Ok(counted.into_iter().flatten().sum())
}

/// Days used, from an engagement's meetings: the sum of the held ones' days
/// (as [`days_used`] counts them in the database, for a check under lock).
pub fn held_days(meetings: &[meetings::Model]) -> f64 {
    meetings
        .iter()
        .filter(|meeting| meeting.status == MeetingStatus::Held)
        .filter_map(|meeting| meeting.days_counted)
        .sum()
}

/// Loads an engagement for a party to act on: it must be ACTIVE and the
/// viewer one of its parties (or staff, when `staff_may` says so).
async fn engagement_for_action(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i64,
    staff_may: bool,
) -> ApiResult<(engagements::Model, Party)> {
    let engagement = engagements::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("No engagement has that id."))?;
    let party = party(conn, viewer, &engagement).await?;
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

/// Refuses a time in the past, a bad duration, or an overlap with another
/// scheduled meeting of the same provider.
async fn check_slot(
    conn: &impl ConnectionTrait,
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
    if starts_at > Utc::now() + crate::rules::farthest_ahead() {
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
    let others = meetings::Entity::find()
        .inner_join(engagements::Entity)
        .filter(engagements::Column::ProviderId.eq(engagement.provider_id))
        .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
        .filter(
            meetings::Column::StartsAt
                .lt(starts_at + chrono::Duration::minutes(duration_minutes as i64)),
        )
        .filter(meetings::Column::StartsAt.gt(starts_at - chrono::Duration::hours(9)))
        .all(conn)
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

/// A meeting to put in the timetable.
#[derive(InputObject)]
pub struct ScheduleMeetingInput {
    pub engagement_id: ID,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub format: Format,
    /// A place or a dial-in (up to 500 characters).
    pub location: Option<String>,
    /// The last session of the engagement.
    #[graphql(default = false)]
    pub is_final: bool,
}

/// What happened at a meeting.
#[derive(InputObject)]
pub struct RecordMeetingInput {
    pub meeting_id: ID,
    /// False when the meeting did not take place (it is then CANCELLED).
    pub held: bool,
    /// Days of the allocation it used, in quarters; 0 if not held.
    #[graphql(default = 0.0)]
    pub days_counted: f64,
    /// Private to the two parties.
    pub notes: Option<String>,
    /// Issues or learning the programme can use (the provider and staff read it).
    pub learning: Option<String>,
}

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

async fn load_meeting(conn: &impl ConnectionTrait, id: &ID) -> ApiResult<meetings::Model> {
    let id = decode_id_of(NodeType::Meeting, id)?;
    meetings::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("No meeting has that id."))
}

/// Before the final meeting is recorded held: takes the request's lock (so a
/// concurrent early end or second recording waits, then finds the engagement
/// no longer active) and refuses while another meeting is still scheduled —
/// its days would otherwise never be counted, and it could never be recorded
/// or cancelled once the engagement is completed.
async fn prepare_completion(
    conn: &impl ConnectionTrait,
    engagement: &engagements::Model,
    final_meeting_id: i64,
) -> ApiResult<()> {
    lock_request(conn, engagement.support_request_id).await?;
    let open = meetings::Entity::find()
        .filter(meetings::Column::EngagementId.eq(engagement.id))
        .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
        .filter(meetings::Column::Id.ne(final_meeting_id))
        .count(conn)
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
/// asked for a review. The status change is conditional on the engagement
/// still being ACTIVE, so it happens once whatever runs beside it.
async fn complete(
    conn: &impl ConnectionTrait,
    public_url: &str,
    viewer: &Viewer,
    engagement: &engagements::Model,
) -> ApiResult<()> {
    let now = Utc::now();
    let completed = engagements::Entity::update_many()
        .col_expr(
            engagements::Column::Status,
            Expr::value(EngagementStatus::Completed),
        )
        .col_expr(engagements::Column::CompletedAt, Expr::value(now))
        .col_expr(engagements::Column::UpdatedAt, Expr::value(now))
        .filter(engagements::Column::Id.eq(engagement.id))
        .filter(engagements::Column::Status.eq(EngagementStatus::Active))
        .exec(conn)
        .await?;
    if completed.rows_affected != 1 {
        return Err(ApiError::conflict("This engagement is no longer active."));
    }
    support_requests::Entity::update_many()
        .col_expr(
            support_requests::Column::Status,
            Expr::value(SupportRequestStatus::Closed),
        )
        .col_expr(support_requests::Column::ClosedAt, Expr::value(now))
        .col_expr(support_requests::Column::UpdatedAt, Expr::value(now))
        .filter(support_requests::Column::Id.eq(engagement.support_request_id))
        .exec(conn)
        .await?;
    super::reviews::request_reviews(conn, public_url, engagement).await?;
    audit::record(
        conn,
        viewer,
        "completeEngagement",
        Some(("Engagement", engagement.id)),
        None,
    )
    .await?;
    Ok(())
}

#[derive(Default)]
pub struct MeetingMutation;

#[Object]
impl MeetingMutation {
    /// Records the ground rules the two parties agreed (either party).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn agree_ground_rules(
        &self,
        ctx: &Context<'_>,
        engagement_id: ID,
        text: String,
    ) -> ApiResult<Engagement> {
        let state = ctx.data_unchecked::<AppState>();
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 10_000 {
            return Err(ApiError::bad_input(
                "text",
                "Write the ground rules, in up to 10,000 characters.",
            ));
        }
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let (engagement, _) = engagement_for_action(&txn, viewer(ctx), id, false).await?;
        let mut row: engagements::ActiveModel = engagement.into();
        row.ground_rules = Set(Some(text.to_string()));
        row.updated_at = Set(Utc::now());
        let updated = row.update(&txn).await?;
        audit::record(
            &txn,
            viewer(ctx),
            "agreeGroundRules",
            Some(("Engagement", updated.id)),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(Engagement(updated))
    }

    /// Puts a meeting in the timetable (either party).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn schedule_meeting(
        &self,
        ctx: &Context<'_>,
        input: ScheduleMeetingInput,
    ) -> ApiResult<Meeting> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Engagement, &input.engagement_id)?;
        let location = input
            .location
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty());
        if location.as_ref().is_some_and(|l| l.chars().count() > 500) {
            return Err(ApiError::bad_input(
                "location",
                "Keep the place or dial-in under 500 characters.",
            ));
        }
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let (engagement, party) = engagement_for_action(&txn, viewer(ctx), id, false).await?;
        check_slot(
            &txn,
            &engagement,
            input.starts_at,
            input.duration_minutes,
            None,
        )
        .await?;
        if input.is_final {
            let booked = meetings::Entity::find()
                .filter(meetings::Column::EngagementId.eq(engagement.id))
                .filter(meetings::Column::IsFinal.eq(true))
                .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
                .count(&txn)
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
            starts_at: Set(input.starts_at),
            duration_minutes: Set(input.duration_minutes),
            format: Set(MeetingFormat::from(input.format)),
            location: Set(location),
            is_final: Set(input.is_final),
            status: Set(MeetingStatus::Scheduled),
            sequence: Set(0),
            scheduled_by_user_id: Set(viewer(ctx).user.as_ref().map(|u| u.id)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        meeting_reminders::on_change(&txn, &state.settings, &engagement, &row, Change::Booked)
            .await?;
        audit::record(
            &txn,
            viewer(ctx),
            "scheduleMeeting",
            Some(("Meeting", row.id)),
            Some(serde_json::json!({ "isFinal": row.is_final })),
        )
        .await?;
        txn.commit().await?;
        state.outbox_signal.notify_one();
        Ok(Meeting { row, party })
    }

    /// Moves a scheduled meeting (either party).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn reschedule_meeting(
        &self,
        ctx: &Context<'_>,
        meeting_id: ID,
        starts_at: DateTime<Utc>,
        duration_minutes: Option<i32>,
    ) -> ApiResult<Meeting> {
        let state = ctx.data_unchecked::<AppState>();
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let meeting = load_meeting(&txn, &meeting_id).await?;
        let (engagement, party) =
            engagement_for_action(&txn, viewer(ctx), meeting.engagement_id, false).await?;
        if meeting.status != MeetingStatus::Scheduled {
            return Err(ApiError::conflict("Only a scheduled meeting can be moved."));
        }
        let duration = duration_minutes.unwrap_or(meeting.duration_minutes);
        check_slot(&txn, &engagement, starts_at, duration, Some(meeting.id)).await?;
        let sequence = meeting.sequence + 1;
        let mut row: meetings::ActiveModel = meeting.into();
        row.starts_at = Set(starts_at);
        row.duration_minutes = Set(duration);
        row.sequence = Set(sequence);
        row.updated_at = Set(Utc::now());
        let row = row.update(&txn).await?;
        meeting_reminders::on_change(&txn, &state.settings, &engagement, &row, Change::Moved)
            .await?;
        audit::record(
            &txn,
            viewer(ctx),
            "rescheduleMeeting",
            Some(("Meeting", row.id)),
            None,
        )
        .await?;
        txn.commit().await?;
        state.outbox_signal.notify_one();
        Ok(Meeting { row, party })
    }

    /// Takes a scheduled meeting out of the timetable (either party).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn cancel_meeting(&self, ctx: &Context<'_>, meeting_id: ID) -> ApiResult<Meeting> {
        let state = ctx.data_unchecked::<AppState>();
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let meeting = load_meeting(&txn, &meeting_id).await?;
        let (engagement, party) =
            engagement_for_action(&txn, viewer(ctx), meeting.engagement_id, false).await?;
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
        let row = row.update(&txn).await?;
        meeting_reminders::on_change(&txn, &state.settings, &engagement, &row, Change::Cancelled)
            .await?;
        audit::record(
            &txn,
            viewer(ctx),
            "cancelMeeting",
            Some(("Meeting", row.id)),
            None,
        )
        .await?;
        txn.commit().await?;
        state.outbox_signal.notify_one();
        Ok(Meeting { row, party })
    }

    /// Records whether a meeting was held, the days it used, and notes
    /// (either party). Refused if the days would pass the allocation.
    /// Recording the final meeting held completes the engagement, closes its
    /// request and asks both parties for a review, in the same transaction;
    /// it is refused while another meeting of the engagement is still
    /// scheduled (record or cancel that one first).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn record_meeting(
        &self,
        ctx: &Context<'_>,
        input: RecordMeetingInput,
    ) -> ApiResult<Meeting> {
        let state = ctx.data_unchecked::<AppState>();
        let notes = long_text("notes", input.notes)?;
        let learning = long_text("learning", input.learning)?;
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let meeting = load_meeting(&txn, &input.meeting_id).await?;
        let (engagement, party) =
            engagement_for_action(&txn, viewer(ctx), meeting.engagement_id, false).await?;
        if meeting.status != MeetingStatus::Scheduled {
            return Err(ApiError::conflict(
                "This meeting is already recorded or cancelled.",
            ));
        }
        if input.held && meeting.starts_at > Utc::now() {
            return Err(ApiError::bad_input(
                "held",
                "A meeting can be recorded as held once it has started.",
            ));
        }
        let counted = if input.held { input.days_counted } else { 0.0 };
        if !input.held && input.days_counted != 0.0 {
            return Err(ApiError::bad_input(
                "daysCounted",
                "A meeting that was not held counts no days.",
            ));
        }
        let used = days_used(&txn, engagement.id).await?;
        rules::check_days_counted(engagement.days_allocated, used, counted)
            .map_err(|message| ApiError::bad_input("daysCounted", message))?;
        let completes = input.held && meeting.is_final;
        if completes {
            prepare_completion(&txn, &engagement, meeting.id).await?;
        }
        let mut row: meetings::ActiveModel = meeting.into();
        row.status = Set(if input.held {
            MeetingStatus::Held
        } else {
            MeetingStatus::Cancelled
        });
        row.days_counted = Set(input.held.then_some(counted));
        row.notes = Set(notes);
        row.learning = Set(learning);
        row.updated_at = Set(Utc::now());
        let row = row.update(&txn).await?;
        if !input.held {
            meeting_reminders::withdraw_reminders(&txn, row.id, "the meeting did not take place")
                .await?;
        }
        audit::record(
            &txn,
            viewer(ctx),
            "recordMeeting",
            Some(("Meeting", row.id)),
            Some(serde_json::json!({ "held": input.held, "daysCounted": counted })),
        )
        .await?;
        if completes {
            complete(&txn, &state.settings.public_url, viewer(ctx), &engagement).await?;
        }
        txn.commit().await?;
        if completes {
            state.outbox_signal.notify_one();
        }
        Ok(Meeting { row, party })
    }
}
