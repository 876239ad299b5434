//! The working relationship in GraphQL: the `Meeting` type and the mutations
//! of ground rules and the timetable, which translate to and from the
//! operations of `programme::meetings` (where the rules and locks are).

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::{
    engagements::Engagement,
    loaders::{OrganisationKey, ProviderKey, RowKey, UserKey, row},
    providers::Format,
    relay::{NodeType, decode_id_of, global_id},
    siblings::Siblings,
};
use crate::{
    access::Party,
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme::meetings::{self, MeetingRecord, NewMeeting},
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

/// A meeting of an engagement, resolved with its siblings (the list it is
/// on), so that what a query follows from it costs one statement for the
/// list.
pub struct Meeting {
    pub row: entity::meetings::Model,
    /// The viewer's part in the meeting's engagement, for the private fields.
    pub party: Party,
    siblings: Siblings<entity::meetings::Model>,
}

impl Meeting {
    /// A meeting on its own (one object, a mutation's result).
    pub fn alone(row: entity::meetings::Model, party: Party) -> Self {
        let siblings = Siblings::alone(&row);
        Meeting {
            row,
            party,
            siblings,
        }
    }

    /// A meeting joining `siblings`: a page gathered as it is made.
    pub fn joining(
        row: entity::meetings::Model,
        party: Party,
        siblings: &Siblings<entity::meetings::Model>,
    ) -> Self {
        let siblings = siblings.join(&row);
        Meeting {
            row,
            party,
            siblings,
        }
    }

    /// A meeting that is one of `siblings`.
    pub fn among(
        row: entity::meetings::Model,
        party: Party,
        siblings: &Siblings<entity::meetings::Model>,
    ) -> Self {
        let siblings = siblings.clone();
        Meeting {
            row,
            party,
            siblings,
        }
    }

    /// Its engagement, with the engagements of all its siblings.
    async fn engagement_row(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<(
        entity::engagements::Model,
        Siblings<entity::engagements::Model>,
    )> {
        let engagement = |row: &entity::meetings::Model| Some(RowKey::new(row.engagement_id));
        self.siblings
            .load_related::<RowKey<entity::engagements::Entity>, _>(ctx, engagement, &self.row)
            .await?
            .ok_or_else(|| ApiError::internal("meeting without its engagement"))
    }
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
        if self.party.may_read_notes() {
            Ok(self.row.notes.as_deref())
        } else {
            Err(ApiError::forbidden(
                "Meeting notes are between the two parties.",
            ))
        }
    }
    /// Learning for the programme: the provider and staff.
    async fn learning(&self) -> ApiResult<Option<&str>> {
        if self.party.may_read_learning() {
            Ok(self.row.learning.as_deref())
        } else {
            Err(ApiError::forbidden(
                "Only the provider and staff see the learning.",
            ))
        }
    }
    /// Raised by one each time the meeting moves (iCalendar SEQUENCE).
    async fn sequence(&self) -> i32 {
        self.row.sequence
    }
    /// Who the viewer meets: the co-op's name for the engagement's provider,
    /// the provider's name for the co-op's members; null for staff, who
    /// read both through `engagement`.
    async fn other_party(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        let missing = || ApiError::internal("meeting without its engagement's parties");
        if !matches!(self.party, Party::Provider | Party::ClientMember) {
            return Ok(None);
        }
        let (engagement, engagements) = self.engagement_row(ctx).await?;
        if self.party == Party::Provider {
            let request = |row: &entity::engagements::Model| {
                Some(RowKey::<entity::support_requests::Entity>::new(
                    row.support_request_id,
                ))
            };
            let (request, requests) = engagements
                .load_related(ctx, request, &engagement)
                .await?
                .ok_or_else(missing)?;
            let organisation =
                |row: &entity::support_requests::Model| Some(OrganisationKey(row.organisation_id));
            let organisation = requests.load(ctx, organisation, &request).await?;
            return Ok(Some(organisation.ok_or_else(missing)?.name));
        }
        let provider = |row: &entity::engagements::Model| Some(ProviderKey(row.provider_id));
        let (provider, providers) = engagements
            .load_related(ctx, provider, &engagement)
            .await?
            .ok_or_else(missing)?;
        let person = providers
            .load(ctx, |row| Some(UserKey(row.user_id)), &provider)
            .await?;
        Ok(Some(person.ok_or_else(missing)?.name))
    }
    /// The engagement it belongs to (whoever reads a meeting reads that).
    async fn engagement(&self, ctx: &Context<'_>) -> ApiResult<Engagement> {
        let (engagement, engagements) = self.engagement_row(ctx).await?;
        super::engagements::visible_among(ctx, engagement, &engagements).await
    }
}

/// Loads a meeting for whoever may see its engagement
/// (`access::Party::may_see_engagement`: staff and its two parties), with
/// the viewer's part for its private fields; FORBIDDEN for anyone else.
pub async fn load_meeting(ctx: &Context<'_>, id: i64) -> ApiResult<Meeting> {
    let missing = "No meeting has that id.";
    let meeting = row::<entity::meetings::Entity>(ctx, id, missing).await?;
    let engagement =
        row::<entity::engagements::Entity>(ctx, meeting.engagement_id, missing).await?;
    let party = super::engagements::engagement_party(ctx, &engagement).await?;
    if !party.may_see_engagement() {
        return Err(ApiError::forbidden("You may not see this meeting."));
    }
    Ok(Meeting::alone(meeting, party))
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

/// Reads a meeting id.
fn meeting_id(id: &ID) -> ApiResult<i64> {
    decode_id_of(NodeType::Meeting, id)
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
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        meetings::agree_ground_rules(&state.db, viewer(ctx), id, &text)
            .await
            .map(Engagement::alone)
    }

    /// Puts a meeting in the timetable (either party).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn schedule_meeting(
        &self,
        ctx: &Context<'_>,
        input: ScheduleMeetingInput,
    ) -> ApiResult<Meeting> {
        let state = ctx.data_unchecked::<AppState>();
        let new = NewMeeting {
            engagement_id: decode_id_of(NodeType::Engagement, &input.engagement_id)?,
            starts_at: input.starts_at,
            duration_minutes: input.duration_minutes,
            format: input.format.into(),
            location: input.location,
            is_final: input.is_final,
        };
        let (row, party) = meetings::schedule(&state.db, &state.settings, viewer(ctx), new).await?;
        state.outbox_signal.notify_one();
        Ok(Meeting::alone(row, party))
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
        let (row, party) = meetings::reschedule(
            &state.db,
            &state.settings,
            viewer(ctx),
            self::meeting_id(&meeting_id)?,
            starts_at,
            duration_minutes,
        )
        .await?;
        state.outbox_signal.notify_one();
        Ok(Meeting::alone(row, party))
    }

    /// Takes a scheduled meeting out of the timetable (either party).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn cancel_meeting(&self, ctx: &Context<'_>, meeting_id: ID) -> ApiResult<Meeting> {
        let state = ctx.data_unchecked::<AppState>();
        let (row, party) = meetings::cancel(
            &state.db,
            &state.settings,
            viewer(ctx),
            self::meeting_id(&meeting_id)?,
        )
        .await?;
        state.outbox_signal.notify_one();
        Ok(Meeting::alone(row, party))
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
        let record = MeetingRecord {
            meeting_id: meeting_id(&input.meeting_id)?,
            held: input.held,
            days_counted: input.days_counted,
            notes: input.notes,
            learning: input.learning,
        };
        let recorded =
            meetings::record(&state.db, &state.settings.public_url, viewer(ctx), record).await?;
        if recorded.completed {
            state.outbox_signal.notify_one();
        }
        Ok(Meeting::alone(recorded.meeting, recorded.party))
    }
}
