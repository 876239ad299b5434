//! The `Engagement` type and the engagement mutations, which translate to
//! and from `programme::engagements` (propose, respond, raise the allocation,
//! end early) and do nothing else.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{engagements, support_requests};

use super::{
    loaders::{EngagementMeetingsKey, EngagementReviewsKey, Loaders, ProviderKey, row},
    meetings::Meeting,
    node::follow,
    providers::Provider,
    relay::{
        HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate_loaded,
        paginate_ranked,
    },
    support_requests::{Kind, SupportRequest},
    users::{User, load_user},
};
use crate::{
    access::{self, Party},
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme::{
        self,
        engagement_lists::{self, EngagementFilter},
    },
    state::AppState,
};

/// Where an engagement stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "EngagementStatus",
    remote = "entity::engagements::EngagementStatus"
)]
pub enum Status {
    Proposed,
    Active,
    Completed,
    Declined,
    Expired,
    EndedEarly,
}

/// A provider working with a co-op on one request, from proposal onwards.
pub struct Engagement(pub engagements::Model);

impl Engagement {
    /// Its reviews, oldest first, if the viewer may read them (FORBIDDEN
    /// otherwise, see `reviews::may_read_reviews`).
    async fn review_rows(&self, ctx: &Context<'_>) -> ApiResult<Vec<entity::reviews::Model>> {
        let state = ctx.data_unchecked::<AppState>();
        super::reviews::may_read_reviews(&state.db, viewer(ctx), &self.0).await?;
        Ok(ctx
            .data_unchecked::<Loaders>()
            .load_one(EngagementReviewsKey(self.0.id))
            .await?
            .unwrap_or_default())
    }

    /// Its meetings in time order, through the request's loader: a list of
    /// engagements costs one query for all their meetings.
    async fn meeting_rows(&self, ctx: &Context<'_>) -> ApiResult<Vec<entity::meetings::Model>> {
        Ok(ctx
            .data_unchecked::<Loaders>()
            .load_one(EngagementMeetingsKey(self.0.id))
            .await?
            .unwrap_or_default())
    }
}

#[Object]
impl Engagement {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Engagement, self.0.id)
    }
    async fn status(&self) -> Status {
        self.0.status.into()
    }
    async fn support_request(&self, ctx: &Context<'_>) -> ApiResult<SupportRequest> {
        super::loaders::row::<support_requests::Entity>(
            ctx,
            self.0.support_request_id,
            "engagement without request",
        )
        .await
        .map(SupportRequest)
    }
    async fn provider(&self, ctx: &Context<'_>) -> ApiResult<Provider> {
        ctx.data_unchecked::<Loaders>()
            .load_one(ProviderKey(self.0.provider_id))
            .await?
            .map(Provider::alone)
            .ok_or_else(|| ApiError::internal("engagement without provider"))
    }
    async fn days_allocated(&self) -> i32 {
        self.0.days_allocated
    }
    /// The nominal fee, in pence.
    async fn fee_pence(&self) -> i64 {
        self.0.fee_pence
    }
    async fn proposed_at(&self) -> DateTime<Utc> {
        self.0.proposed_at
    }
    async fn responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.responded_at
    }
    /// Why it was ended early, and when.
    async fn end_reason(&self) -> Option<&str> {
        self.0.end_reason.as_deref()
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// The provider's reason, when they declined.
    async fn decline_reason(&self) -> Option<&str> {
        self.0.decline_reason.as_deref()
    }
    /// What the two parties agreed about how they work together.
    async fn ground_rules(&self) -> Option<&str> {
        self.0.ground_rules.as_deref()
    }
    /// Days used so far: the sum of held meetings' days.
    async fn days_used(&self, ctx: &Context<'_>) -> ApiResult<f64> {
        Ok(crate::programme::meetings::held_days(
            &self.meeting_rows(ctx).await?,
        ))
    }
    /// The timetable, in time order; private fields answer to the viewer's part.
    #[graphql(deprecation = "Use `meetingsConnection`, which pages.")]
    async fn meetings(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::meetings::Meeting>> {
        let party = engagement_party(ctx, &self.0).await?;
        Ok(self
            .meeting_rows(ctx)
            .await?
            .into_iter()
            .map(|row| super::meetings::Meeting { row, party })
            .collect())
    }
    /// The timetable, in time order (earliest start first), a page at a
    /// time; private fields answer to the viewer's part.
    async fn meetings_connection(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<super::meetings::Meeting>> {
        let party = engagement_party(ctx, &self.0).await?;
        paginate_loaded(
            "meetings",
            self.meeting_rows(ctx).await?,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| row.id,
            |row| super::meetings::Meeting { row, party },
        )
    }
    /// When the final meeting was recorded as held.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// The next SCHEDULED meeting that has not started yet; null when none
    /// is booked.
    async fn next_meeting(&self, ctx: &Context<'_>) -> ApiResult<Option<Meeting>> {
        let meetings = self.meeting_rows(ctx).await?;
        let Some(row) = engagement_lists::next_meeting(&meetings, Utc::now()).cloned() else {
            return Ok(None);
        };
        let party = engagement_party(ctx, &self.0).await?;
        Ok(Some(Meeting { row, party }))
    }
    /// The latest meeting recorded as HELD; null before the first.
    async fn last_meeting(&self, ctx: &Context<'_>) -> ApiResult<Option<Meeting>> {
        let meetings = self.meeting_rows(ctx).await?;
        let Some(row) = engagement_lists::last_meeting(&meetings).cloned() else {
            return Ok(None);
        };
        let party = engagement_party(ctx, &self.0).await?;
        Ok(Some(Meeting { row, party }))
    }
    /// Days of the allocation not yet used by held meetings
    /// (`daysAllocated - daysUsed`, in quarter days; never below zero).
    async fn days_remaining(&self, ctx: &Context<'_>) -> ApiResult<f64> {
        let used = crate::programme::meetings::held_days(&self.meeting_rows(ctx).await?);
        Ok((f64::from(self.0.days_allocated) - used).max(0.0))
    }
    /// The final reviews, one per party, once the engagement is completed:
    /// for staff and the engagement's two parties (FORBIDDEN to anyone else).
    #[graphql(deprecation = "Use `reviewsConnection`, which pages.")]
    async fn reviews(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::reviews::Review>> {
        Ok(self
            .review_rows(ctx)
            .await?
            .into_iter()
            .map(super::reviews::Review)
            .collect())
    }
    /// The final reviews (at most one per party), oldest first, once the
    /// engagement is completed: for staff and the engagement's two parties;
    /// null with FORBIDDEN for anyone else.
    async fn reviews_connection(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<super::reviews::Review>>> {
        paginate_loaded(
            "reviews",
            self.review_rows(ctx).await?,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| row.id,
            super::reviews::Review,
        )
        .map(Some)
    }
    /// The earlier engagement on the same request that this one replaces
    /// (after a decline, a lapse or an early end); null when there is none,
    /// and null with FORBIDDEN for a provider, who sees their own
    /// engagements only.
    async fn rematch_of(&self, ctx: &Context<'_>) -> ApiResult<Option<Engagement>> {
        let row = follow(self.0.rematch_of_id, |id| load_engagement(ctx, id)).await?;
        Ok(row.map(Engagement))
    }
    /// Who ended it early (either party or staff); null unless ENDED_EARLY,
    /// and null with FORBIDDEN when the viewer may not see that person (a
    /// co-op's member is named to staff and their co-op only).
    async fn ended_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        follow(self.0.ended_by_user_id, |id| load_user(ctx, id)).await
    }
    /// The staff member who proposed it; null when unknown (made before
    /// this was recorded).
    async fn proposed_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        follow(self.0.proposed_by_user_id, |id| load_user(ctx, id)).await
    }
}

/// The viewer's part in an engagement (`access::party_of`), from the
/// request's and the provider's rows through the request's loaders: a page
/// of engagements costs one query per table for all of them, not one each.
pub async fn engagement_party(
    ctx: &Context<'_>,
    engagement: &engagements::Model,
) -> ApiResult<Party> {
    let viewer = viewer(ctx);
    let Some(user) = viewer.user.as_ref() else {
        return Ok(Party::Outsider);
    };
    if user.role == entity::users::Role::Staff {
        return Ok(Party::Staff);
    }
    let missing = "engagement without its request or provider";
    let request =
        row::<support_requests::Entity>(ctx, engagement.support_request_id, missing).await?;
    let provider = ctx
        .data_unchecked::<Loaders>()
        .load_one(ProviderKey(engagement.provider_id))
        .await?
        .ok_or_else(|| ApiError::internal(missing))?;
    Ok(access::party_of(
        viewer,
        request.organisation_id,
        provider.user_id,
    ))
}

/// A list of engagements already loaded whole (a provider's, a co-op's)
/// as a connection: those the viewer may see (`Party::may_see_engagement`)
/// with one of `statuses` (any when empty), in the home order
/// (`engagement_lists`), a page at a time. The parties and the next
/// meetings come through the request's loaders, so a page of providers or
/// co-ops costs the same few queries for all their lists.
pub async fn home_connection(
    ctx: &Context<'_>,
    rows: Vec<engagements::Model>,
    statuses: Option<Vec<Status>>,
    args: PageArgs,
) -> ApiResult<HiveConnection<Engagement>> {
    let statuses: Vec<engagements::EngagementStatus> = statuses
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect();
    let parties =
        futures::future::try_join_all(rows.iter().map(|row| engagement_party(ctx, row))).await?;
    let rows: Vec<engagements::Model> = rows
        .into_iter()
        .zip(parties)
        .filter(|(row, party)| {
            party.may_see_engagement() && (statuses.is_empty() || statuses.contains(&row.status))
        })
        .map(|(row, _)| row)
        .collect();
    let meetings = ctx
        .data_unchecked::<Loaders>()
        .load_many(
            rows.iter()
                .filter(|row| row.status == engagements::EngagementStatus::Active)
                .map(|row| EngagementMeetingsKey(row.id)),
        )
        .await?;
    let now = Utc::now();
    let ranked = engagement_lists::rank_for_home(rows, |id| {
        meetings
            .get(&EngagementMeetingsKey(id))
            .and_then(|list| engagement_lists::next_meeting(list, now))
            .map(|meeting| meeting.starts_at)
    });
    paginate_ranked("engagements", ranked, args, |row| row.id, Engagement)
}

/// What an engagement list is narrowed to; every condition given holds.
#[derive(InputObject, Default)]
pub struct EngagementFilterInput {
    /// Any of these statuses (all when absent or empty).
    pub status: Option<Vec<Status>>,
    /// The kind of help its request asked for.
    pub kind: Option<Kind>,
    pub provider_id: Option<ID>,
    /// The co-op whose request it serves.
    pub organisation_id: Option<ID>,
    pub request_id: Option<ID>,
}

impl EngagementFilterInput {
    /// The programme's filter; BAD_USER_INPUT for an id of another type.
    pub fn read(self) -> ApiResult<EngagementFilter> {
        let id = |kind: NodeType, field: &str, id: Option<ID>| {
            id.map(|id| {
                decode_id_of(kind, &id).map_err(|_| {
                    ApiError::bad_input(
                        &format!("filter.{field}"),
                        format!("`{field}` is not the id of a {}.", kind.name()),
                    )
                })
            })
            .transpose()
        };
        Ok(EngagementFilter {
            statuses: self
                .status
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            kind: self.kind.map(Into::into),
            provider_id: id(NodeType::Provider, "providerId", self.provider_id)?,
            organisation_id: id(
                NodeType::Organisation,
                "organisationId",
                self.organisation_id,
            )?,
            request_id: id(NodeType::SupportRequest, "requestId", self.request_id)?,
        })
    }
}

/// Loads an engagement the viewer is a party to (staff, the co-op's
/// members, its own provider: `access::party`).
pub async fn load_engagement(ctx: &Context<'_>, id: i64) -> ApiResult<engagements::Model> {
    let engagement = row::<engagements::Entity>(ctx, id, "No engagement has that id.").await?;
    if !engagement_party(ctx, &engagement)
        .await?
        .may_see_engagement()
    {
        return Err(ApiError::forbidden("You may not see this engagement."));
    }
    Ok(engagement)
}

#[derive(Default)]
pub struct EngagementQuery;

#[Object]
impl EngagementQuery {
    /// One engagement, if the viewer may see its request.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn engagement(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Engagement>> {
        load_engagement(ctx, decode_id_of(NodeType::Engagement, &id)?)
            .await
            .map(|row| Some(Engagement(row)))
    }
    /// The engagements the viewer may see — all for staff, their own for a
    /// mentor or adviser, their co-op's for a member — narrowed by `filter`,
    /// in the home order: ACTIVE ones by their next meeting (soonest first,
    /// then those with none booked), then PROPOSED ones (longest waiting
    /// first), then the rest (most recently finished first). A cursor holds
    /// its engagement's place in that order, so the next page goes on from
    /// there even when engagements move between pages (a meeting booked or
    /// called off): none that kept its place is skipped.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn engagements(
        &self,
        ctx: &Context<'_>,
        filter: Option<EngagementFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<Engagement>> {
        let state = ctx.data_unchecked::<AppState>();
        let filter = filter.unwrap_or_default().read()?;
        let ranked = engagement_lists::list(&state.db, viewer(ctx), &filter, Utc::now()).await?;
        paginate_ranked(
            "engagements",
            ranked,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| row.id,
            Engagement,
        )
    }
}

#[derive(Default)]
pub struct EngagementMutation;

#[Object]
impl EngagementMutation {
    /// Proposes a provider for a request (staff); the provider is emailed a
    /// link to accept or decline. `daysAllocated`: 3–4 for mentoring, 2–7 for
    /// advice; `feePence`: the nominal fee.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn propose_match(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
        provider_id: ID,
        days_allocated: i32,
        fee_pence: i64,
    ) -> ApiResult<Engagement> {
        let state = ctx.data_unchecked::<AppState>();
        let request_id = decode_id_of(NodeType::SupportRequest, &request_id)?;
        let provider_id = decode_id_of(NodeType::Provider, &provider_id)?;
        let engagement = programme::engagements::propose(
            &state.db,
            &state.settings.public_url,
            viewer(ctx),
            request_id,
            provider_id,
            days_allocated,
            fee_pence,
        )
        .await?;
        state.outbox_signal.notify_one();
        Ok(Engagement(engagement))
    }

    /// Raises an engagement's day allocation (staff), within the kind's range
    /// (mentoring 3–4, advice 2–7). Lowering is refused: days may be planned on it.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn raise_allocation(
        &self,
        ctx: &Context<'_>,
        engagement_id: ID,
        days_allocated: i32,
    ) -> ApiResult<Engagement> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let updated =
            programme::engagements::raise_allocation(&state.db, viewer(ctx), id, days_allocated)
                .await?;
        Ok(Engagement(updated))
    }

    /// Ends an active engagement early, saying why (either party or staff).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn end_engagement(
        &self,
        ctx: &Context<'_>,
        engagement_id: ID,
        reason: String,
    ) -> ApiResult<Engagement> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let engagement =
            programme::engagements::end_early(&state.db, &state.settings, viewer(ctx), id, &reason)
                .await?;
        state.outbox_signal.notify_one();
        Ok(Engagement(engagement))
    }

    /// The proposed provider accepts (ACTIVE) or declines a proposal.
    #[graphql(
        guard = "RoleGuard::any_of(&[entity::users::Role::Mentor, entity::users::Role::Adviser])"
    )]
    async fn respond_to_match(
        &self,
        ctx: &Context<'_>,
        engagement_id: ID,
        accept: bool,
        reason: Option<String>,
    ) -> ApiResult<Engagement> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let engagement = programme::engagements::respond(
            &state.db,
            &state.settings.public_url,
            programme::engagements::Responder::SignedIn(viewer(ctx), id),
            accept,
            reason,
        )
        .await?;
        state.outbox_signal.notify_one();
        Ok(Engagement(engagement))
    }
}
