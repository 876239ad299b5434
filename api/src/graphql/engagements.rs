//! The `Engagement` type and the engagement mutations, which translate to
//! and from `programme::engagements` (propose, respond, raise the allocation,
//! end early) and do nothing else.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{engagements, support_requests};

use super::{
    loaders::{EngagementMeetingsKey, EngagementReviewsKey, ProviderKey, RowKey, row},
    meetings::Meeting,
    providers::Provider,
    relay::{
        HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate_loaded,
        paginate_ranked,
    },
    siblings::Siblings,
    support_requests::{Kind, SupportRequest},
    users::{User, visible_person},
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

/// A provider working with a co-op on one request, from proposal onwards,
/// resolved with its siblings (the list it is on), so that each relation a
/// query selects costs one statement for the list.
pub struct Engagement {
    pub row: engagements::Model,
    siblings: Siblings<engagements::Model>,
}

impl Engagement {
    /// An engagement on its own (one object, a mutation's result).
    pub fn alone(row: engagements::Model) -> Self {
        let siblings = Siblings::alone(&row);
        Engagement { row, siblings }
    }

    /// An engagement joining `siblings`: a page gathered as it is made.
    pub fn joining(row: engagements::Model, siblings: &Siblings<engagements::Model>) -> Self {
        let siblings = siblings.join(&row);
        Engagement { row, siblings }
    }

    /// An engagement that is one of `siblings`.
    pub fn among(row: engagements::Model, siblings: &Siblings<engagements::Model>) -> Self {
        let siblings = siblings.clone();
        Engagement { row, siblings }
    }

    /// The person an engagement names in `person_of` (who proposed or
    /// ended it), loaded for all its siblings at once; FORBIDDEN when the
    /// viewer may not see them (`access::may_see_person`).
    async fn person(
        &self,
        ctx: &Context<'_>,
        person_of: impl Fn(&engagements::Model) -> Option<i64> + 'static,
    ) -> ApiResult<Option<User>> {
        let person = move |row: &engagements::Model| person_of(row).map(RowKey::new);
        let found = self
            .siblings
            .load::<RowKey<entity::users::Entity>, _>(ctx, person, &self.row)
            .await?;
        found.map(|user| visible_person(ctx, user)).transpose()
    }

    /// The viewer's part in it.
    async fn party(&self, ctx: &Context<'_>) -> ApiResult<Party> {
        party_among(ctx, &self.siblings, &self.row).await
    }

    /// Its reviews, oldest first, if the viewer may read them (FORBIDDEN
    /// otherwise, see `reviews::may_read_reviews`).
    async fn review_rows(&self, ctx: &Context<'_>) -> ApiResult<Vec<entity::reviews::Model>> {
        let state = ctx.data_unchecked::<AppState>();
        super::reviews::may_read_reviews(&state.db, viewer(ctx), &self.row).await?;
        let reviews = self
            .siblings
            .load(ctx, |row| Some(EngagementReviewsKey(row.id)), &self.row);
        Ok(reviews.await?.unwrap_or_default())
    }

    /// Its meetings in time order, with the meetings of all its siblings
    /// as theirs.
    async fn meeting_list(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<(
        Vec<entity::meetings::Model>,
        Siblings<entity::meetings::Model>,
    )> {
        let meetings = |row: &engagements::Model| Some(EngagementMeetingsKey(row.id));
        self.siblings.load_list(ctx, meetings, &self.row).await
    }

    /// Its meetings in time order, for all its siblings at once.
    async fn meeting_rows(&self, ctx: &Context<'_>) -> ApiResult<Vec<entity::meetings::Model>> {
        meetings_among(ctx, &self.siblings, &self.row).await
    }
}

/// The meetings of `engagement`, one of `siblings`, in time order.
async fn meetings_among(
    ctx: &Context<'_>,
    siblings: &Siblings<engagements::Model>,
    engagement: &engagements::Model,
) -> ApiResult<Vec<entity::meetings::Model>> {
    let meetings = siblings.load(ctx, |row| Some(EngagementMeetingsKey(row.id)), engagement);
    Ok(meetings.await?.unwrap_or_default())
}

#[Object]
impl Engagement {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Engagement, self.row.id)
    }
    async fn status(&self) -> Status {
        self.row.status.into()
    }
    async fn support_request(&self, ctx: &Context<'_>) -> ApiResult<SupportRequest> {
        let request = |row: &engagements::Model| Some(RowKey::new(row.support_request_id));
        let (request, siblings) = self
            .siblings
            .load_related::<RowKey<support_requests::Entity>, _>(ctx, request, &self.row)
            .await?
            .ok_or_else(|| ApiError::internal("engagement without request"))?;
        Ok(SupportRequest::among(request, &siblings))
    }
    async fn provider(&self, ctx: &Context<'_>) -> ApiResult<Provider> {
        let provider = |row: &engagements::Model| Some(ProviderKey(row.provider_id));
        let (provider, siblings) = self
            .siblings
            .load_related(ctx, provider, &self.row)
            .await?
            .ok_or_else(|| ApiError::internal("engagement without provider"))?;
        Ok(Provider::among(provider, &siblings))
    }
    async fn days_allocated(&self) -> i32 {
        self.row.days_allocated
    }
    /// The nominal fee, in pence.
    async fn fee_pence(&self) -> i64 {
        self.row.fee_pence
    }
    async fn proposed_at(&self) -> DateTime<Utc> {
        self.row.proposed_at
    }
    async fn responded_at(&self) -> Option<DateTime<Utc>> {
        self.row.responded_at
    }
    /// Why it was ended early, and when.
    async fn end_reason(&self) -> Option<&str> {
        self.row.end_reason.as_deref()
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.row.ended_at
    }
    /// The provider's reason, when they declined.
    async fn decline_reason(&self) -> Option<&str> {
        self.row.decline_reason.as_deref()
    }
    /// What the two parties agreed about how they work together.
    async fn ground_rules(&self) -> Option<&str> {
        self.row.ground_rules.as_deref()
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
        let party = self.party(ctx).await?;
        let (rows, siblings) = self.meeting_list(ctx).await?;
        Ok(rows
            .into_iter()
            .map(|row| Meeting::among(row, party, &siblings))
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
        let party = self.party(ctx).await?;
        let (rows, siblings) = self.meeting_list(ctx).await?;
        paginate_loaded(
            "meetings",
            rows,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| row.id,
            |row| Meeting::among(row, party, &siblings),
        )
    }
    /// When the final meeting was recorded as held.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.row.completed_at
    }
    /// The next SCHEDULED meeting that has not started yet; null when none
    /// is booked.
    async fn next_meeting(&self, ctx: &Context<'_>) -> ApiResult<Option<Meeting>> {
        let (meetings, siblings) = self.meeting_list(ctx).await?;
        let Some(row) = engagement_lists::next_meeting(&meetings, Utc::now()).cloned() else {
            return Ok(None);
        };
        let party = self.party(ctx).await?;
        Ok(Some(Meeting::among(row, party, &siblings)))
    }
    /// The latest meeting recorded as HELD; null before the first.
    async fn last_meeting(&self, ctx: &Context<'_>) -> ApiResult<Option<Meeting>> {
        let (meetings, siblings) = self.meeting_list(ctx).await?;
        let Some(row) = engagement_lists::last_meeting(&meetings).cloned() else {
            return Ok(None);
        };
        let party = self.party(ctx).await?;
        Ok(Some(Meeting::among(row, party, &siblings)))
    }
    /// Days of the allocation not yet used by held meetings
    /// (`daysAllocated - daysUsed`, in quarter days; never below zero).
    async fn days_remaining(&self, ctx: &Context<'_>) -> ApiResult<f64> {
        let used = crate::programme::meetings::held_days(&self.meeting_rows(ctx).await?);
        Ok((f64::from(self.row.days_allocated) - used).max(0.0))
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
        let earlier = |row: &engagements::Model| row.rematch_of_id.map(RowKey::new);
        let Some((earlier, siblings)) = self
            .siblings
            .load_related::<RowKey<engagements::Entity>, _>(ctx, earlier, &self.row)
            .await?
        else {
            return Ok(None);
        };
        visible_among(ctx, earlier, &siblings).await.map(Some)
    }
    /// Who ended it early (either party or staff); null unless ENDED_EARLY,
    /// and null with FORBIDDEN when the viewer may not see that person (a
    /// co-op's member is named to staff and their co-op only).
    async fn ended_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        self.person(ctx, |row| row.ended_by_user_id).await
    }
    /// The staff member who proposed it; null when unknown (made before
    /// this was recorded).
    async fn proposed_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        self.person(ctx, |row| row.proposed_by_user_id).await
    }
}

/// The viewer's part in an engagement (`access::party_of`), from the
/// request's and the provider's rows through the request's loaders: a page
/// of engagements costs one query per table for all of them, not one each.
pub async fn engagement_party(
    ctx: &Context<'_>,
    engagement: &engagements::Model,
) -> ApiResult<Party> {
    party_among(ctx, &Siblings::alone(engagement), engagement).await
}

/// The viewer's part in `engagement`, one of `siblings`: their requests and
/// providers load for all of them at once.
async fn party_among(
    ctx: &Context<'_>,
    siblings: &Siblings<engagements::Model>,
    engagement: &engagements::Model,
) -> ApiResult<Party> {
    let viewer = viewer(ctx);
    let Some(user) = viewer.user.as_ref() else {
        return Ok(Party::Outsider);
    };
    if user.role == entity::users::Role::Staff {
        return Ok(Party::Staff);
    }
    let missing = || ApiError::internal("engagement without its request or provider");
    let request = |row: &engagements::Model| Some(RowKey::new(row.support_request_id));
    let request = siblings
        .load::<RowKey<support_requests::Entity>, _>(ctx, request, engagement)
        .await?
        .ok_or_else(missing)?;
    let provider = siblings
        .load(ctx, |row| Some(ProviderKey(row.provider_id)), engagement)
        .await?
        .ok_or_else(missing)?;
    Ok(access::party_of(
        viewer,
        request.organisation_id,
        provider.user_id,
    ))
}

/// A list of engagements already loaded whole (a provider's, a co-op's),
/// one of `siblings` (the lists of a page of providers or co-ops, whose
/// parties, meetings and fields load together), as a connection: those the viewer may see (`Party::may_see_engagement`)
/// with one of `statuses` (any when empty), in the home order
/// (`engagement_lists`), a page at a time. The parties and the next
/// meetings come through the request's loaders, so a page of providers or
/// co-ops costs the same few queries for all their lists.
pub async fn home_connection(
    ctx: &Context<'_>,
    rows: Vec<engagements::Model>,
    siblings: &Siblings<engagements::Model>,
    statuses: Option<Vec<Status>>,
    args: PageArgs,
) -> ApiResult<HiveConnection<Engagement>> {
    let statuses: Vec<engagements::EngagementStatus> = statuses
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect();
    let parties =
        futures::future::try_join_all(rows.iter().map(|row| party_among(ctx, siblings, row)))
            .await?;
    let rows: Vec<engagements::Model> = rows
        .into_iter()
        .zip(parties)
        .filter(|(row, party)| {
            party.may_see_engagement() && (statuses.is_empty() || statuses.contains(&row.status))
        })
        .map(|(row, _)| row)
        .collect();
    let active = rows
        .iter()
        .filter(|row| row.status == engagements::EngagementStatus::Active);
    let meetings: std::collections::HashMap<i64, Vec<entity::meetings::Model>> =
        futures::future::try_join_all(active.map(|row| async {
            Ok::<_, ApiError>((row.id, meetings_among(ctx, siblings, row).await?))
        }))
        .await?
        .into_iter()
        .collect();
    let now = Utc::now();
    let ranked = engagement_lists::rank_for_home(rows, |id| {
        meetings
            .get(&id)
            .and_then(|list| engagement_lists::next_meeting(list, now))
            .map(|meeting| meeting.starts_at)
    });
    paginate_ranked(
        "engagements",
        ranked,
        args,
        |row| row.id,
        |row| Engagement::among(row, siblings),
    )
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

/// `engagement`, one of `siblings`, as the API gives it, if the viewer is a
/// party to it (as [`load_engagement`]); FORBIDDEN otherwise.
pub async fn visible_among(
    ctx: &Context<'_>,
    engagement: engagements::Model,
    siblings: &Siblings<engagements::Model>,
) -> ApiResult<Engagement> {
    if !party_among(ctx, siblings, &engagement)
        .await?
        .may_see_engagement()
    {
        return Err(ApiError::forbidden("You may not see this engagement."));
    }
    Ok(Engagement::among(engagement, siblings))
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
            .map(|row| Some(Engagement::alone(row)))
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
        let siblings = Siblings::default();
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
            |row| Engagement::joining(row, &siblings),
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
        Ok(Engagement::alone(engagement))
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
        Ok(Engagement::alone(updated))
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
        Ok(Engagement::alone(engagement))
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
        Ok(Engagement::alone(engagement))
    }
}
