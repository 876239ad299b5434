//! Support requests: a co-op asks for help, staff match it or decline it, the
//! co-op may withdraw it.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{
    support_request_topics,
    support_requests::{self, EngagementKind, SupportRequestStatus},
    users::Role,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Query};

use super::{
    engagements::Engagement,
    loaders::{
        OrganisationKey, ProviderKey, RequestEngagementsKey, RequestFormatsKey, RequestTopicsKey,
        SuggestionsKey,
    },
    organisations::Organisation,
    providers::Format,
    relay::{
        HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate, paginate_loaded,
    },
    siblings::Siblings,
    vocabulary::{Topic, Vocabulary, term_ids},
};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme::{requests, rules},
    state::AppState,
};

/// Mentoring by a peer, or advice from a specialist.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "EngagementKind",
    remote = "entity::support_requests::EngagementKind"
)]
pub enum Kind {
    Mentoring,
    Advice,
}

/// Where a request stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "SupportRequestStatus",
    remote = "entity::support_requests::SupportRequestStatus"
)]
pub enum RequestStatus {
    Submitted,
    Matching,
    Matched,
    Closed,
    Declined,
    Withdrawn,
}

/// A co-op's request for help, resolved with its siblings (the list it is
/// on), so that each relation a query selects costs one statement for the
/// list.
pub struct SupportRequest {
    pub row: support_requests::Model,
    siblings: Siblings<support_requests::Model>,
}

impl SupportRequest {
    /// A request on its own (one object, a mutation's result).
    pub fn alone(row: support_requests::Model) -> Self {
        let siblings = Siblings::alone(&row);
        SupportRequest { row, siblings }
    }

    /// A request joining `siblings`: a page gathered as it is made.
    pub fn joining(
        row: support_requests::Model,
        siblings: &Siblings<support_requests::Model>,
    ) -> Self {
        let siblings = siblings.join(&row);
        SupportRequest { row, siblings }
    }

    /// A request that is one of `siblings`.
    pub fn among(
        row: support_requests::Model,
        siblings: &Siblings<support_requests::Model>,
    ) -> Self {
        let siblings = siblings.clone();
        SupportRequest { row, siblings }
    }

    /// The providers to propose, best first: all that are ranked
    /// (`matching::MAX_SUGGESTIONS`), for all its siblings at once; fields
    /// asking for fewer take the first of them.
    async fn ranked_suggestions(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<super::matching::MatchSuggestion>> {
        let most = super::matching::MAX_SUGGESTIONS as usize;
        // Only open requests are ranked: the fields answer an empty list for
        // the others without asking.
        let ranked = self.siblings.load(
            ctx,
            move |row| rules::request_is_open(row.status).then_some(SuggestionsKey(row.id, most)),
            &self.row,
        );
        Ok(ranked.await?.unwrap_or_default())
    }

    /// Its engagements the viewer may see, oldest first, with their
    /// siblings (the engagements of all the requests on the list): for a
    /// provider, only their own.
    async fn engagement_rows(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<(
        Vec<entity::engagements::Model>,
        Siblings<entity::engagements::Model>,
    )> {
        let engagements = |row: &support_requests::Model| Some(RequestEngagementsKey(row.id));
        let (mut rows, siblings) = self.siblings.load_list(ctx, engagements, &self.row).await?;
        let viewer = viewer(ctx);
        if matches!(viewer.role(), Some(Role::Mentor | Role::Adviser)) {
            let mut visible = Vec::new();
            for engagement in rows {
                let provider = siblings
                    .load(ctx, |row| Some(ProviderKey(row.provider_id)), &engagement)
                    .await?;
                if provider.is_some_and(|provider| {
                    crate::access::party_of(viewer, self.row.organisation_id, provider.user_id)
                        != crate::access::Party::Outsider
                }) {
                    visible.push(engagement);
                }
            }
            rows = visible;
        }
        Ok((rows, siblings))
    }
}

#[Object]
impl SupportRequest {
    pub async fn id(&self) -> ID {
        global_id(NodeType::SupportRequest, self.row.id)
    }
    async fn organisation(&self, ctx: &Context<'_>) -> ApiResult<Organisation> {
        let organisation =
            |row: &support_requests::Model| Some(OrganisationKey(row.organisation_id));
        let (organisation, siblings) = self
            .siblings
            .load_related(ctx, organisation, &self.row)
            .await?
            .ok_or_else(|| ApiError::internal("request without organisation"))?;
        Ok(Organisation::among(organisation, &siblings))
    }
    async fn kind(&self) -> Kind {
        self.row.kind.into()
    }
    async fn status(&self) -> RequestStatus {
        self.row.status.into()
    }
    /// What the co-op wants to achieve.
    async fn goals(&self) -> &str {
        &self.row.goals
    }
    async fn topics(&self, ctx: &Context<'_>) -> ApiResult<Vec<Topic>> {
        let topics = self
            .siblings
            .load(ctx, |row| Some(RequestTopicsKey(row.id)), &self.row);
        Ok(topics
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Topic)
            .collect())
    }
    async fn preferred_formats(&self, ctx: &Context<'_>) -> ApiResult<Vec<Format>> {
        let formats = self
            .siblings
            .load(ctx, |row| Some(RequestFormatsKey(row.id)), &self.row);
        Ok(formats
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect())
    }
    /// Why staff declined it.
    async fn decline_reason(&self) -> Option<&str> {
        self.row.decline_reason.as_deref()
    }
    /// Every proposal and engagement on this request, oldest first; for a
    /// provider, only their own (not the one another provider got after they
    /// declined).
    #[graphql(deprecation = "Use `engagementsConnection`, which pages.")]
    async fn engagements(&self, ctx: &Context<'_>) -> ApiResult<Vec<Engagement>> {
        let (rows, siblings) = self.engagement_rows(ctx).await?;
        Ok(rows
            .into_iter()
            .map(|row| Engagement::among(row, &siblings))
            .collect())
    }
    /// Every proposal and engagement on this request, oldest first, a page
    /// at a time; for a provider, only their own (not the one another
    /// provider got after they declined).
    async fn engagements_connection(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<Engagement>> {
        let (rows, siblings) = self.engagement_rows(ctx).await?;
        paginate_loaded(
            "engagements",
            rows,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| row.id,
            |row| Engagement::among(row, &siblings),
        )
    }
    /// Providers to propose, best first, with reasons (staff; empty once the
    /// request is no longer open), a page at a time: at most
    /// `matching::MAX_SUGGESTIONS` (50) are ranked, and `totalCount` counts
    /// those. As `matchSuggestionsConnection`, batched across a page. Null
    /// with FORBIDDEN for anyone but staff.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn suggestions_connection(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<super::matching::MatchSuggestion>>> {
        let ranked = if rules::request_is_open(self.row.status) {
            self.ranked_suggestions(ctx).await?
        } else {
            Vec::new()
        };
        super::matching::suggestions_page(
            ranked,
            PageArgs {
                after,
                before,
                first,
                last,
            },
        )
        .map(Some)
    }
    /// Providers to propose, best first, with reasons (staff; empty once the
    /// request is no longer open). As `matchSuggestions`, batched across a page.
    /// Null with FORBIDDEN for anyone but staff.
    #[graphql(
        guard = "RoleGuard::staff()",
        deprecation = "Use `suggestionsConnection`, which pages."
    )]
    async fn suggestions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> ApiResult<Option<Vec<super::matching::MatchSuggestion>>> {
        if !rules::request_is_open(self.row.status) {
            return Ok(Some(Vec::new()));
        }
        let limit = super::matching::suggestion_limit(first)?;
        let mut suggestions = self.ranked_suggestions(ctx).await?;
        suggestions.truncate(limit);
        Ok(Some(suggestions))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// Loads a request the viewer may see.
pub async fn load_request(ctx: &Context<'_>, id: i64) -> ApiResult<support_requests::Model> {
    let request =
        super::loaders::row::<support_requests::Entity>(ctx, id, "No support request has that id.")
            .await?;
    let footprint = super::loaders::viewer_footprint(ctx).await?;
    if !crate::access::may_see_request_from(viewer(ctx), footprint.as_ref(), &request)? {
        return Err(ApiError::forbidden("You may not see this support request."));
    }
    Ok(request)
}

/// A new request.
#[derive(InputObject)]
pub struct SubmitSupportRequestInput {
    /// The co-op asking; members may leave it out (their own co-op).
    pub organisation_id: Option<ID>,
    pub kind: Kind,
    pub topic_ids: Vec<ID>,
    /// What the co-op wants to achieve (up to 4,000 characters).
    pub goals: String,
    pub preferred_formats: Option<Vec<Format>>,
}

/// Filters for the request list.
#[derive(InputObject, Default)]
pub struct SupportRequestFilter {
    pub status: Option<RequestStatus>,
    pub kind: Option<Kind>,
    pub organisation_id: Option<ID>,
    pub topic_id: Option<ID>,
}

#[derive(Default)]
pub struct SupportRequestQuery;

#[Object]
impl SupportRequestQuery {
    /// Requests the viewer may see (staff: all; members: their co-op's;
    /// providers: those they were proposed for), filtered, oldest first.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn support_requests(
        &self,
        ctx: &Context<'_>,
        filter: Option<SupportRequestFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<SupportRequest>> {
        let state = ctx.data_unchecked::<AppState>();
        let filter = filter.unwrap_or_default();
        let mut select =
            crate::access::visible_requests(viewer(ctx), support_requests::Entity::find())?;
        if let Some(status) = filter.status {
            select = select
                .filter(support_requests::Column::Status.eq(SupportRequestStatus::from(status)));
        }
        if let Some(kind) = filter.kind {
            select = select.filter(support_requests::Column::Kind.eq(EngagementKind::from(kind)));
        }
        if let Some(id) = &filter.organisation_id {
            let id = decode_id_of(NodeType::Organisation, id)
                .map_err(|_| ApiError::bad_input("organisationId", "Not an organisation id."))?;
            select = select.filter(support_requests::Column::OrganisationId.eq(id));
        }
        if let Some(id) = &filter.topic_id {
            let id = decode_id_of(NodeType::Topic, id)
                .map_err(|_| ApiError::bad_input("topicId", "Not a topic id."))?;
            select = select.filter(
                support_requests::Column::Id.in_subquery(
                    Query::select()
                        .column(support_request_topics::Column::SupportRequestId)
                        .from(support_request_topics::Entity)
                        .and_where(support_request_topics::Column::TopicId.eq(id))
                        .to_owned(),
                ),
            );
        }
        let siblings = Siblings::default();
        paginate(
            &state.db,
            select,
            support_requests::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| SupportRequest::joining(row, &siblings),
        )
        .await
    }

    /// One request, if the viewer may see it.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn support_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<SupportRequest>> {
        load_request(ctx, decode_id_of(NodeType::SupportRequest, &id)?)
            .await
            .map(|row| Some(SupportRequest::alone(row)))
    }
}

#[derive(Default)]
pub struct SupportRequestMutation;

#[Object]
impl SupportRequestMutation {
    /// A member asks for help for their own co-op, or staff on a co-op's behalf.
    #[graphql(guard = "RoleGuard::any_of(&[Role::Staff, Role::Member])")]
    async fn submit_support_request(
        &self,
        ctx: &Context<'_>,
        input: SubmitSupportRequestInput,
    ) -> ApiResult<SupportRequest> {
        let state = ctx.data_unchecked::<AppState>();
        let organisation_id = input
            .organisation_id
            .as_ref()
            .map(|id| {
                decode_id_of(NodeType::Organisation, id)
                    .map_err(|_| ApiError::bad_input("organisationId", "Not an organisation id."))
            })
            .transpose()?;
        let request = requests::submit(
            &state.db,
            viewer(ctx),
            requests::NewRequest {
                organisation_id,
                kind: input.kind.into(),
                topic_ids: term_ids(Vocabulary::Topic, "topicIds", &input.topic_ids)?,
                goals: input.goals,
                preferred_formats: input
                    .preferred_formats
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            },
        )
        .await?;
        Ok(SupportRequest::alone(request))
    }

    /// The co-op (or staff) withdraws a request that is not yet matched.
    /// Any proposal still awaiting an answer lapses (EXPIRED).
    #[graphql(guard = "RoleGuard::any_of(&[Role::Staff, Role::Member])")]
    async fn withdraw_support_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<SupportRequest> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::SupportRequest, &id)?;
        let updated = requests::withdraw(&state.db, viewer(ctx), id).await?;
        Ok(SupportRequest::alone(updated))
    }

    /// Staff decline a request they will not match, saying why.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn decline_support_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> ApiResult<SupportRequest> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::SupportRequest, &id)?;
        let updated = requests::decline(&state.db, viewer(ctx), id, &reason).await?;
        Ok(SupportRequest::alone(updated))
    }
}
