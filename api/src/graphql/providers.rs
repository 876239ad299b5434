//! Peer mentors and specialist advisers: registration by staff, profiles kept
//! by the providers themselves, and the lists staff match from.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{
    meetings::MeetingFormat,
    provider_formats, provider_regions, provider_sectors, provider_topics,
    providers::{self, ProviderKind},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    sea_query::{Expr, Query},
};

use super::{
    loaders::{Loaders, OrganisationKey, ProviderDetails, ProviderDetailsKey, TermKey, UserKey},
    relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate},
    users::User,
    vocabulary::{Sector, Topic, Vocabulary, term_ids},
};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme::providers as programme,
    regions::canonical_region,
    state::AppState,
};

/// How a meeting is held.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MeetingFormat", remote = "entity::meetings::MeetingFormat")]
pub enum Format {
    InPerson,
    InPersonGroup,
    Phone,
    Video,
    Email,
}

/// Mentor (a peer from an established co-op) or adviser (a specialist).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProviderKind", remote = "entity::providers::ProviderKind")]
pub enum Kind {
    Mentor,
    Adviser,
}

/// A mentor or adviser.
#[derive(Clone)]
pub struct Provider(pub providers::Model);

impl Provider {
    async fn details(&self, ctx: &Context<'_>) -> ApiResult<ProviderDetails> {
        Ok(ctx
            .data_unchecked::<Loaders>()
            .load_one(ProviderDetailsKey(self.0.id))
            .await?
            .unwrap_or_default())
    }

    async fn terms(
        &self,
        ctx: &Context<'_>,
        kind: Vocabulary,
        ids: &[i64],
    ) -> ApiResult<Vec<super::vocabulary::Term>> {
        let loaded = ctx
            .data_unchecked::<Loaders>()
            .load_many(ids.iter().map(|id| TermKey(kind, *id)))
            .await?;
        Ok(ids
            .iter()
            .filter_map(|id| loaded.get(&TermKey(kind, *id)).cloned())
            .collect())
    }
}

#[Object]
impl Provider {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Provider, self.0.id)
    }
    async fn kind(&self) -> Kind {
        self.0.kind.into()
    }
    /// The person (their name and role; the address only for staff and themselves).
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<User> {
        ctx.data_unchecked::<Loaders>()
            .load_one(UserKey(self.0.user_id))
            .await?
            .map(User)
            .ok_or_else(|| ApiError::internal("provider without user"))
    }
    async fn name(&self, ctx: &Context<'_>) -> ApiResult<String> {
        Ok(ctx
            .data_unchecked::<Loaders>()
            .load_one(UserKey(self.0.user_id))
            .await?
            .map(|user| user.name)
            .unwrap_or_default())
    }
    async fn bio(&self) -> &str {
        &self.0.bio
    }
    /// A mentor's own co-op (never matched to them).
    async fn home_organisation_name(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        let Some(id) = self.0.home_organisation_id else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<Loaders>()
            .load_one(OrganisationKey(id))
            .await?
            .map(|organisation| organisation.name))
    }
    #[graphql(deprecation = "Use `homeOrganisation { id }` instead.")]
    async fn home_organisation_id(&self) -> Option<ID> {
        self.0
            .home_organisation_id
            .map(|id| global_id(NodeType::Organisation, id))
    }
    /// A mentor's own co-op, for whoever may see that co-op (staff, its
    /// members, a provider proposed to it: as `organisation(id:)`); null
    /// with FORBIDDEN for anyone else, who still reads
    /// `homeOrganisationName`. Null for an adviser.
    async fn home_organisation(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<super::organisations::Organisation>> {
        super::node::follow(self.0.home_organisation_id, |id| {
            super::organisations::load_organisation(ctx, id)
        })
        .await
    }
    /// An adviser's firm.
    async fn firm_name(&self) -> Option<&str> {
        self.0.firm_name.as_deref()
    }
    async fn topics(&self, ctx: &Context<'_>) -> ApiResult<Vec<Topic>> {
        let details = self.details(ctx).await?;
        Ok(self
            .terms(ctx, Vocabulary::Topic, &details.topic_ids)
            .await?
            .into_iter()
            .map(Topic)
            .collect())
    }
    async fn sectors(&self, ctx: &Context<'_>) -> ApiResult<Vec<Sector>> {
        let details = self.details(ctx).await?;
        Ok(self
            .terms(ctx, Vocabulary::Sector, &details.sector_ids)
            .await?
            .into_iter()
            .map(Sector)
            .collect())
    }
    async fn regions(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        Ok(self.details(ctx).await?.regions)
    }
    async fn formats(&self, ctx: &Context<'_>) -> ApiResult<Vec<Format>> {
        Ok(self
            .details(ctx)
            .await?
            .formats
            .into_iter()
            .map(Into::into)
            .collect())
    }
    /// Engagements carried at once, at most.
    async fn capacity(&self) -> i32 {
        self.0.capacity
    }
    /// Engagements now ACTIVE or PROPOSED.
    async fn load(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(self.details(ctx).await?.load as i32)
    }
    async fn places_free(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(Ord::max(
            self.0.capacity - self.details(ctx).await?.load as i32,
            0,
        ))
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Days planned and delivered over the provider's engagements that went
    /// ahead (active, completed or ended early).
    async fn days(&self, ctx: &Context<'_>) -> ApiResult<DaysSummary> {
        let state = ctx.data_unchecked::<AppState>();
        days_summary(&state.db, Some(self.0.id)).await
    }
    /// Mean client rating (1–5) over submitted reviews; null before the first.
    async fn review_average(&self, ctx: &Context<'_>) -> ApiResult<Option<f64>> {
        Ok(self.details(ctx).await?.review_average)
    }
    async fn review_count(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(self.details(ctx).await?.review_count as i32)
    }
    /// The provider's engagements that the viewer may see (staff and the
    /// provider all, a co-op's member those with their co-op), of any of
    /// `status` (all when absent), in the home order of the root
    /// `engagements` list, a page at a time.
    async fn engagements(
        &self,
        ctx: &Context<'_>,
        status: Option<Vec<super::engagements::Status>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<super::engagements::Engagement>> {
        let rows = ctx
            .data_unchecked::<Loaders>()
            .load_one(super::loaders::ProviderEngagementsKey(self.0.id))
            .await?
            .unwrap_or_default();
        super::engagements::home_connection(
            ctx,
            rows,
            status,
            PageArgs {
                after,
                before,
                first,
                last,
            },
        )
        .await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Planned against delivered days.
#[derive(async_graphql::SimpleObject)]
pub struct DaysSummary {
    /// Days allocated.
    pub planned: i64,
    /// Days counted by held meetings.
    pub delivered: f64,
}

/// Days over engagements that went ahead, for one provider or (None) the
/// whole programme: two aggregate statements.
pub async fn days_summary(
    conn: &impl ConnectionTrait,
    provider_id: Option<i64>,
) -> ApiResult<DaysSummary> {
    use entity::engagements::{self, EngagementStatus};
    use sea_orm::QuerySelect;

    let went_ahead = [
        EngagementStatus::Active,
        EngagementStatus::Completed,
        EngagementStatus::EndedEarly,
    ];
    let mut planned = engagements::Entity::find()
        .select_only()
        .column_as(engagements::Column::DaysAllocated.sum(), "planned")
        .filter(engagements::Column::Status.is_in(went_ahead));
    let mut delivered = entity::meetings::Entity::find()
        .select_only()
        .column_as(entity::meetings::Column::DaysCounted.sum(), "delivered")
        .inner_join(engagements::Entity)
        .filter(entity::meetings::Column::Status.eq(entity::meetings::MeetingStatus::Held))
        .filter(engagements::Column::Status.is_in(went_ahead));
    if let Some(id) = provider_id {
        planned = planned.filter(engagements::Column::ProviderId.eq(id));
        delivered = delivered.filter(engagements::Column::ProviderId.eq(id));
    }
    let planned: Option<Option<i64>> = planned.into_tuple().one(conn).await?;
    let delivered: Option<Option<f64>> = delivered.into_tuple().one(conn).await?;
    Ok(DaysSummary {
        planned: planned.flatten().unwrap_or(0),
        delivered: delivered.flatten().unwrap_or(0.0),
    })
}

/// What a provider offers: shared by registration and profile edits.
#[derive(InputObject)]
pub struct ProviderOfferInput {
    pub bio: Option<String>,
    pub topic_ids: Vec<ID>,
    pub sector_ids: Vec<ID>,
    pub regions: Vec<String>,
    pub formats: Vec<Format>,
    /// Engagements at once, 1 to 20.
    pub capacity: i32,
}

#[derive(InputObject)]
pub struct RegisterMentorInput {
    pub email: String,
    pub name: String,
    /// The mentor's own co-op, if it is on the register.
    pub home_organisation_id: Option<ID>,
    pub offer: ProviderOfferInput,
}

#[derive(InputObject)]
pub struct RegisterAdviserInput {
    pub email: String,
    pub name: String,
    pub firm_name: Option<String>,
    pub offer: ProviderOfferInput,
}

/// Filters for the mentor and adviser lists; all given conditions apply.
#[derive(InputObject, Default)]
pub struct ProviderFilter {
    /// Providers covering every one of these topics.
    pub topic_ids: Option<Vec<ID>>,
    /// Providers working in any of these sectors.
    pub sector_ids: Option<Vec<ID>>,
    /// Providers working in this region.
    pub region: Option<String>,
    /// Providers offering this format.
    pub format: Option<Format>,
    /// Only those with a place free (load below capacity).
    pub has_spare_capacity: Option<bool>,
    /// Also list deactivated providers (by default only active ones).
    pub include_inactive: Option<bool>,
}

impl ProviderOfferInput {
    /// The offer in the programme's terms; ids of the wrong type are
    /// BAD_USER_INPUT on their field.
    fn into_offer(self) -> ApiResult<programme::Offer> {
        Ok(programme::Offer {
            bio: self.bio.unwrap_or_default(),
            topic_ids: term_ids(Vocabulary::Topic, "topicIds", &self.topic_ids)?,
            sector_ids: term_ids(Vocabulary::Sector, "sectorIds", &self.sector_ids)?,
            regions: self.regions,
            formats: self.formats.into_iter().map(Into::into).collect(),
            capacity: self.capacity,
        })
    }
}

/// Registers a provider through `programme::providers::register` and wakes
/// the outbox for their welcome link.
async fn register(
    ctx: &Context<'_>,
    kind: ProviderKind,
    email: String,
    name: String,
    home_organisation_id: Option<i64>,
    firm_name: Option<String>,
    offer: ProviderOfferInput,
) -> ApiResult<Provider> {
    let state = ctx.data_unchecked::<AppState>();
    let provider = programme::register(
        &state.db,
        &state.settings.public_url,
        viewer(ctx),
        programme::NewProvider {
            kind,
            email,
            name,
            home_organisation_id,
            firm_name,
            offer: offer.into_offer()?,
        },
    )
    .await?;
    state.outbox_signal.notify_one();
    Ok(Provider(provider))
}

/// Loads a provider: a profile anyone signed in reads (the directory).
pub async fn load_provider(ctx: &Context<'_>, id: i64) -> ApiResult<providers::Model> {
    viewer(ctx).require_user()?;
    super::loaders::row::<providers::Entity>(ctx, id, "No provider has that id.").await
}

async fn list(
    ctx: &Context<'_>,
    kind: ProviderKind,
    filter: Option<ProviderFilter>,
    page: PageArgs,
) -> ApiResult<HiveConnection<Provider>> {
    let state = ctx.data_unchecked::<AppState>();
    let filter = filter.unwrap_or_default();
    let mut select = providers::Entity::find().filter(providers::Column::Kind.eq(kind));
    if filter.include_inactive != Some(true) {
        select = select.filter(providers::Column::Active.eq(true));
    }
    if let Some(ids) = &filter.topic_ids
        && !ids.is_empty()
    {
        let ids = filter_ids(ids, NodeType::Topic, "topicIds")?;
        let wanted = ids.len() as i64;
        select = select.filter(
            providers::Column::Id.in_subquery(
                Query::select()
                    .column(provider_topics::Column::ProviderId)
                    .from(provider_topics::Entity)
                    .and_where(provider_topics::Column::TopicId.is_in(ids))
                    .group_by_col(provider_topics::Column::ProviderId)
                    .and_having(
                        Expr::col(provider_topics::Column::TopicId)
                            .count_distinct()
                            .eq(wanted),
                    )
                    .to_owned(),
            ),
        );
    }
    if let Some(ids) = &filter.sector_ids
        && !ids.is_empty()
    {
        let ids = filter_ids(ids, NodeType::Sector, "sectorIds")?;
        select = select.filter(
            providers::Column::Id.in_subquery(
                Query::select()
                    .column(provider_sectors::Column::ProviderId)
                    .from(provider_sectors::Entity)
                    .and_where(provider_sectors::Column::SectorId.is_in(ids))
                    .to_owned(),
            ),
        );
    }
    if let Some(region) = &filter.region {
        let region = canonical_region(region).ok_or_else(|| {
            ApiError::bad_input(
                "region",
                format!("\"{region}\" is not one of the programme's regions."),
            )
        })?;
        select = select.filter(
            providers::Column::Id.in_subquery(
                Query::select()
                    .column(provider_regions::Column::ProviderId)
                    .from(provider_regions::Entity)
                    .and_where(provider_regions::Column::Region.eq(region))
                    .to_owned(),
            ),
        );
    }
    if let Some(format) = filter.format {
        select = select.filter(
            providers::Column::Id.in_subquery(
                Query::select()
                    .column(provider_formats::Column::ProviderId)
                    .from(provider_formats::Entity)
                    .and_where(provider_formats::Column::Format.eq(MeetingFormat::from(format)))
                    .to_owned(),
            ),
        );
    }
    if filter.has_spare_capacity == Some(true) {
        select = select.filter(Expr::cust(
            "providers.capacity > (SELECT COUNT(*) FROM engagements e WHERE e.provider_id = providers.id \
             AND e.status IN ('ACTIVE', 'PROPOSED'))",
        ));
    }
    paginate(&state.db, select, providers::Column::Id, page, Provider).await
}

/// Ids from a filter, of the right type; retired terms are allowed in filters.
fn filter_ids(ids: &[ID], kind: NodeType, field: &str) -> ApiResult<Vec<i64>> {
    ids.iter()
        .map(|id| {
            decode_id_of(kind, id).map_err(|_| {
                ApiError::bad_input(field, format!("Not a {} id.", kind.name().to_lowercase()))
            })
        })
        .collect()
}

#[derive(Default)]
pub struct ProviderQuery;

#[Object]
impl ProviderQuery {
    /// Peer mentors, filtered (anyone signed in).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn mentors(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProviderFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<Provider>> {
        list(
            ctx,
            ProviderKind::Mentor,
            filter,
            PageArgs {
                after,
                before,
                first,
                last,
            },
        )
        .await
    }

    /// Specialist advisers, filtered (anyone signed in).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn advisers(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProviderFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<Provider>> {
        list(
            ctx,
            ProviderKind::Adviser,
            filter,
            PageArgs {
                after,
                before,
                first,
                last,
            },
        )
        .await
    }

    /// One provider.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn provider(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Provider>> {
        load_provider(ctx, decode_id_of(NodeType::Provider, &id)?)
            .await
            .map(|row| Some(Provider(row)))
    }
}

#[derive(Default)]
pub struct ProviderMutation;

#[Object]
impl ProviderMutation {
    /// Registers a peer mentor (staff) and emails them a welcome sign-in link.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn register_mentor(
        &self,
        ctx: &Context<'_>,
        input: RegisterMentorInput,
    ) -> ApiResult<Provider> {
        let home = input
            .home_organisation_id
            .as_ref()
            .map(|id| {
                decode_id_of(NodeType::Organisation, id).map_err(|_| {
                    ApiError::bad_input("homeOrganisationId", "Not an organisation id.")
                })
            })
            .transpose()?;
        register(
            ctx,
            ProviderKind::Mentor,
            input.email,
            input.name,
            home,
            None,
            input.offer,
        )
        .await
    }

    /// Registers a specialist adviser (staff) and emails them a welcome sign-in link.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn register_adviser(
        &self,
        ctx: &Context<'_>,
        input: RegisterAdviserInput,
    ) -> ApiResult<Provider> {
        register(
            ctx,
            ProviderKind::Adviser,
            input.email,
            input.name,
            None,
            input.firm_name,
            input.offer,
        )
        .await
    }

    /// Changes what a provider offers: the provider themself, or staff.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn update_provider_profile(
        &self,
        ctx: &Context<'_>,
        id: ID,
        offer: ProviderOfferInput,
        firm_name: Option<String>,
    ) -> ApiResult<Provider> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Provider, &id)?;
        let updated =
            programme::update_profile(&state.db, viewer(ctx), id, offer.into_offer()?, firm_name)
                .await?;
        Ok(Provider(updated))
    }

    /// Takes a provider out of matching (staff); current engagements go on.
    /// Proposals awaiting their answer are withdrawn (EXPIRED, `endReason`
    /// says why, the request back in MATCHING, staff and the co-op told).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn deactivate_provider(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Provider> {
        set_active(ctx, &id, false).await
    }

    /// Puts a provider back into matching (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn reactivate_provider(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Provider> {
        set_active(ctx, &id, true).await
    }
}

async fn set_active(ctx: &Context<'_>, id: &ID, active: bool) -> ApiResult<Provider> {
    let state = ctx.data_unchecked::<AppState>();
    let id = decode_id_of(NodeType::Provider, id)?;
    programme::set_active(
        &state.db,
        &state.settings.public_url,
        viewer(ctx),
        id,
        active,
    )
    .await
    .map(Provider)
}
