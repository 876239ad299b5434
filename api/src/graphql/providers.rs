//! Peer mentors and specialist advisers: registration by staff, profiles kept
//! by the providers themselves, and the lists staff match from.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, dataloader::Loader};
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
    loaders::{
        CardParts, HiveLoader, OrganisationKey, ProviderCard, ProviderCardKey, ProviderDaysKey,
        ProviderEngagementsKey, ProviderFormatsKey, ProviderLoadKey, ProviderReviewsKey, UserKey,
    },
    relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate},
    siblings::Siblings,
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

/// A mentor or adviser, resolved with its siblings (the page it is on), so
/// that each relation a query selects costs one statement for the page.
#[derive(Clone)]
pub struct Provider {
    pub row: providers::Model,
    siblings: Siblings<providers::Model>,
    /// The parts of its card its selection asks for, read together.
    card: CardParts,
}

impl Provider {
    /// A provider on its own (one object, a mutation's result).
    pub fn alone(row: providers::Model) -> Self {
        let siblings = Siblings::alone(&row);
        Provider {
            row,
            siblings,
            card: CardParts::ALL,
        }
    }

    /// A provider joining `siblings`: a page gathered as it is made, whose
    /// nodes ask for the parts `card` of their cards (all, when that is not
    /// known ahead).
    pub fn joining(
        row: providers::Model,
        siblings: &Siblings<providers::Model>,
        card: CardParts,
    ) -> Self {
        let siblings = siblings.join(&row);
        Provider {
            row,
            siblings,
            card,
        }
    }

    /// A provider that is one of `siblings`.
    pub fn among(row: providers::Model, siblings: &Siblings<providers::Model>) -> Self {
        let siblings = siblings.clone();
        Provider {
            row,
            siblings,
            card: CardParts::ALL,
        }
    }

    /// The provider's card with `part` among what is read (always so when
    /// the look-ahead saw the field that asks; else `part` is read for the
    /// page on its own). Each field passes its own `key_of` closure: the
    /// siblings load once per closure, so a field whose key differs (the
    /// look-ahead missed it) still loads for the whole page, not for each
    /// provider alone.
    async fn card(
        &self,
        ctx: &Context<'_>,
        key_of: impl Fn(&providers::Model) -> Option<ProviderCardKey> + 'static,
    ) -> ApiResult<Arc<ProviderCard>> {
        Ok(self.relation(ctx, key_of).await?.unwrap_or_default())
    }

    /// Relation `K` of this provider, loaded for all its siblings at once.
    async fn relation<K>(
        &self,
        ctx: &Context<'_>,
        key_of: impl Fn(&providers::Model) -> Option<K> + 'static,
    ) -> ApiResult<Option<<HiveLoader as Loader<K>>::Value>>
    where
        K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
        HiveLoader: Loader<K, Error = ApiError>,
    {
        self.siblings.load(ctx, key_of, &self.row).await
    }

    /// Engagements now ACTIVE or PROPOSED.
    async fn current_load(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        let load = self.relation(ctx, |row| Some(ProviderLoadKey(row.id)));
        Ok(load.await?.unwrap_or_default() as i32)
    }

    /// The provider's account.
    async fn account(&self, ctx: &Context<'_>) -> ApiResult<entity::users::Model> {
        self.relation(ctx, |row| Some(UserKey(row.user_id)))
            .await?
            .ok_or_else(|| ApiError::internal("provider without user"))
    }
}

#[Object]
impl Provider {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Provider, self.row.id)
    }
    async fn kind(&self) -> Kind {
        self.row.kind.into()
    }
    /// The person (their name and role; the address only for staff and themselves).
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<User> {
        self.account(ctx).await.map(User::alone)
    }
    async fn name(&self, ctx: &Context<'_>) -> ApiResult<String> {
        if !self.card.has(CardParts::NAME) {
            // The page reads the whole account for `user` anyway.
            return Ok(self.account(ctx).await?.name);
        }
        let parts = self.card;
        let card = self.card(ctx, move |row| Some(ProviderCardKey(row.id, parts)));
        card.await?
            .name
            .clone()
            .ok_or_else(|| ApiError::internal("provider without user"))
    }
    async fn bio(&self) -> &str {
        &self.row.bio
    }
    /// A mentor's own co-op (never matched to them).
    async fn home_organisation_name(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(self
            .relation(ctx, |row| row.home_organisation_id.map(OrganisationKey))
            .await?
            .map(|organisation| organisation.name))
    }
    #[graphql(deprecation = "Use `homeOrganisation { id }` instead.")]
    async fn home_organisation_id(&self) -> Option<ID> {
        self.row
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
        viewer(ctx).require_user()?;
        let home = |row: &providers::Model| row.home_organisation_id.map(OrganisationKey);
        let Some((home, siblings)) = self.siblings.load_related(ctx, home, &self.row).await? else {
            return Ok(None);
        };
        let home = super::organisations::Organisation::among(home, &siblings);
        Box::pin(super::organisations::visible(ctx, home))
            .await
            .map(Some)
    }
    /// An adviser's firm.
    async fn firm_name(&self) -> Option<&str> {
        self.row.firm_name.as_deref()
    }
    /// In id order (retired ones too: they stay on old records).
    async fn topics(&self, ctx: &Context<'_>) -> ApiResult<Arc<[Topic]>> {
        let parts = self.card.with(CardParts::TOPICS).with(term_dates(ctx));
        let card = self.card(ctx, move |row| Some(ProviderCardKey(row.id, parts)));
        Ok(card.await?.topics.clone())
    }
    /// In id order.
    async fn sectors(&self, ctx: &Context<'_>) -> ApiResult<Arc<[Sector]>> {
        let parts = self.card.with(CardParts::SECTORS).with(term_dates(ctx));
        let card = self.card(ctx, move |row| Some(ProviderCardKey(row.id, parts)));
        Ok(card.await?.sectors.clone())
    }
    /// In name order.
    async fn regions(&self, ctx: &Context<'_>) -> ApiResult<Arc<[String]>> {
        let parts = self.card.with(CardParts::REGIONS);
        let card = self.card(ctx, move |row| Some(ProviderCardKey(row.id, parts)));
        Ok(card.await?.regions.clone())
    }
    async fn formats(&self, ctx: &Context<'_>) -> ApiResult<Vec<Format>> {
        let formats = self.relation(ctx, |row| Some(ProviderFormatsKey(row.id)));
        Ok(formats
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect())
    }
    /// Engagements carried at once, at most.
    async fn capacity(&self) -> i32 {
        self.row.capacity
    }
    /// Engagements now ACTIVE or PROPOSED.
    async fn load(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        self.current_load(ctx).await
    }
    async fn places_free(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(Ord::max(
            self.row.capacity - self.current_load(ctx).await?,
            0,
        ))
    }
    async fn active(&self) -> bool {
        self.row.active
    }
    /// Days planned and delivered over the provider's engagements that went
    /// ahead (active, completed or ended early).
    async fn days(&self, ctx: &Context<'_>) -> ApiResult<DaysSummary> {
        let days = self.relation(ctx, |row| Some(ProviderDaysKey(row.id)));
        Ok(days.await?.unwrap_or_default())
    }
    /// Mean client rating (1–5) over submitted reviews; null before the first.
    async fn review_average(&self, ctx: &Context<'_>) -> ApiResult<Option<f64>> {
        let reviews = self.relation(ctx, |row| Some(ProviderReviewsKey(row.id)));
        Ok(reviews.await?.unwrap_or_default().average)
    }
    async fn review_count(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        let reviews = self.relation(ctx, |row| Some(ProviderReviewsKey(row.id)));
        Ok(reviews.await?.unwrap_or_default().count as i32)
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
        let engagements = |row: &providers::Model| Some(ProviderEngagementsKey(row.id));
        let (rows, siblings) = self.siblings.load_list(ctx, engagements, &self.row).await?;
        // Boxed: a page's future is large, and unboxed it would be the size
        // of every field of every provider (see `graphql::siblings`).
        Box::pin(super::engagements::home_connection(
            ctx,
            rows,
            &siblings,
            status,
            PageArgs {
                after,
                before,
                first,
                last,
            },
        ))
        .await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// Planned against delivered days.
#[derive(async_graphql::SimpleObject, Clone, Copy, Default)]
pub struct DaysSummary {
    /// Days allocated.
    pub planned: i64,
    /// Days counted by held meetings.
    pub delivered: f64,
}

/// Engagements that went ahead (their days count as planned).
const WENT_AHEAD: [entity::engagements::EngagementStatus; 3] = [
    entity::engagements::EngagementStatus::Active,
    entity::engagements::EngagementStatus::Completed,
    entity::engagements::EngagementStatus::EndedEarly,
];

/// Days allocated over engagements that went ahead (`SUM` as `planned`).
fn planned_days() -> sea_orm::Select<entity::engagements::Entity> {
    use entity::engagements;
    use sea_orm::QuerySelect;
    engagements::Entity::find()
        .select_only()
        .column_as(engagements::Column::DaysAllocated.sum(), "planned")
        .filter(engagements::Column::Status.is_in(WENT_AHEAD))
}

/// Days counted by held meetings of engagements that went ahead (`SUM` as
/// `delivered`).
fn delivered_days() -> sea_orm::Select<entity::meetings::Entity> {
    use entity::{engagements, meetings};
    use sea_orm::QuerySelect;
    meetings::Entity::find()
        .select_only()
        .column_as(meetings::Column::DaysCounted.sum(), "delivered")
        .inner_join(engagements::Entity)
        .filter(meetings::Column::Status.eq(meetings::MeetingStatus::Held))
        .filter(engagements::Column::Status.is_in(WENT_AHEAD))
}

/// Days over the whole programme's engagements that went ahead: two
/// aggregate statements.
pub async fn days_summary(conn: &impl ConnectionTrait) -> ApiResult<DaysSummary> {
    let planned: Option<Option<i64>> = planned_days().into_tuple().one(conn).await?;
    let delivered: Option<Option<f64>> = delivered_days().into_tuple().one(conn).await?;
    Ok(DaysSummary {
        planned: planned.flatten().unwrap_or(0),
        delivered: delivered.flatten().unwrap_or(0.0),
    })
}

/// Days per provider over their engagements that went ahead, for many
/// providers in two aggregate statements; a provider with none is absent.
pub async fn days_by_provider(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, DaysSummary>, ApiError> {
    use entity::engagements::Column;
    use sea_orm::QuerySelect;
    // Each row is (the sum, the provider): the sum is the select's first column.
    let planned: Vec<(Option<i64>, i64)> = planned_days()
        .column(Column::ProviderId)
        .filter(Column::ProviderId.is_in(ids.iter().copied()))
        .group_by(Column::ProviderId)
        .into_tuple()
        .all(conn)
        .await?;
    let delivered: Vec<(Option<f64>, i64)> = delivered_days()
        .column(Column::ProviderId)
        .filter(Column::ProviderId.is_in(ids.iter().copied()))
        .group_by(Column::ProviderId)
        .into_tuple()
        .all(conn)
        .await?;
    let mut days: std::collections::HashMap<i64, DaysSummary> = planned
        .into_iter()
        .map(|(planned, id)| {
            let summary = DaysSummary {
                planned: planned.unwrap_or(0),
                delivered: 0.0,
            };
            (id, summary)
        })
        .collect();
    for (delivered, id) in delivered {
        days.entry(id).or_default().delivered = delivered.unwrap_or(0.0);
    }
    Ok(days)
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
    Ok(Provider::alone(provider))
}

/// [`CardParts::TERM_DATES`] when the topics or sectors being resolved
/// (`ctx`'s field) ask for a term's times, so that a card read without
/// them is never what answers (the page's look-ahead asks for them already
/// whenever it sees them).
fn term_dates(ctx: &Context<'_>) -> CardParts {
    if CardParts::term_dates_asked(&ctx.look_ahead()) {
        CardParts::TERM_DATES
    } else {
        CardParts::NONE
    }
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
    let siblings = Siblings::default();
    let look_ahead = ctx.look_ahead();
    let card = CardParts::asked_of_page(&look_ahead);
    let connection = paginate(&state.db, select, providers::Column::Id, page, |row| {
        Provider::joining(row, &siblings, card)
    })
    .await?;
    // A directory page (names, topics, sectors, regions) loads nothing but
    // the card: read it with the page, so that no field waits for it.
    if card != CardParts::NONE && CardParts::only_card_asked_of_page(&look_ahead) {
        let key_of = move |row: &providers::Model| Some(ProviderCardKey(row.id, card));
        siblings.preload(ctx, key_of).await?;
    }
    Ok(connection)
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
            .map(|row| Some(Provider::alone(row)))
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
        Ok(Provider::alone(updated))
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
    .map(Provider::alone)
}
