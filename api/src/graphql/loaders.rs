//! DataLoaders: each batches the lookups of one request into a single query
//! per kind, so a page of 50 items costs the same few statements as a page of
//! one. Built per request (their cache must not outlive it).

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{
    audit_log,
    engagements::{self, EngagementStatus},
    meetings::{self, MeetingFormat},
    organisations, provider_formats, provider_regions, provider_sectors, provider_topics,
    reviews::{self, ReviewParty},
    sectors, support_request_formats, support_request_topics, support_requests, topics, users,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, Iterable, JoinType,
    PrimaryKeyToColumn, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};

use chrono::{DateTime, Utc};

use super::vocabulary::{Term, Vocabulary};
use crate::error::{ApiError, ApiResult};

mod provider_cards;

pub use provider_cards::{CardParts, ProviderCard, ProviderCardKey};

/// The request's loaders, in the GraphQL context.
pub type Loaders = DataLoader<HiveLoader>;

/// The loaders for one request; `window` is `Settings::loader_batch_window`.
pub fn loaders(
    db: DatabaseConnection,
    candidates: std::sync::Arc<super::matching::CandidateCache>,
    window: std::time::Duration,
) -> Loaders {
    DataLoader::new(HiveLoader { db, candidates }, tokio::spawn).delay(window)
}

pub struct HiveLoader {
    db: DatabaseConnection,
    candidates: std::sync::Arc<super::matching::CandidateCache>,
}

/// A request's suggestions, at most `.1` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SuggestionsKey(pub i64, pub usize);

impl Loader<SuggestionsKey> for HiveLoader {
    type Value = Vec<super::matching::MatchSuggestion>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[SuggestionsKey],
    ) -> Result<HashMap<SuggestionsKey, Self::Value>, ApiError> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let most = keys.iter().map(|k| k.1).max().unwrap_or(0);
        let ranked = super::matching::suggest(&self.db, &self.candidates, &ids, most).await?;
        Ok(keys
            .iter()
            .map(|key| {
                let mut list = ranked.get(&key.0).cloned().unwrap_or_default();
                list.truncate(key.1);
                (*key, list)
            })
            .collect())
    }
}

/// A topic or sector by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TermKey(pub Vocabulary, pub i64);

impl Loader<TermKey> for HiveLoader {
    type Value = Term;
    type Error = ApiError;

    async fn load(&self, keys: &[TermKey]) -> Result<HashMap<TermKey, Term>, ApiError> {
        let ids = |kind: Vocabulary| -> Vec<i64> {
            keys.iter().filter(|k| k.0 == kind).map(|k| k.1).collect()
        };
        let mut found = HashMap::new();
        let topic_ids = ids(Vocabulary::Topic);
        if !topic_ids.is_empty() {
            for row in topics::Entity::find()
                .filter(topics::Column::Id.is_in(topic_ids))
                .all(&self.db)
                .await?
            {
                found.insert(TermKey(Vocabulary::Topic, row.id), row.into());
            }
        }
        let sector_ids = ids(Vocabulary::Sector);
        if !sector_ids.is_empty() {
            for row in sectors::Entity::find()
                .filter(sectors::Column::Id.is_in(sector_ids))
                .all(&self.db)
                .await?
            {
                found.insert(TermKey(Vocabulary::Sector, row.id), row.into());
            }
        }
        Ok(found)
    }
}

/// A user by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserKey(pub i64);

impl Loader<UserKey> for HiveLoader {
    type Value = users::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[UserKey]) -> Result<HashMap<UserKey, users::Model>, ApiError> {
        let rows = users::Entity::find()
            .filter(users::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| (UserKey(row.id), row)).collect())
    }
}

/// An organisation by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrganisationKey(pub i64);

impl Loader<OrganisationKey> for HiveLoader {
    type Value = organisations::Model;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[OrganisationKey],
    ) -> Result<HashMap<OrganisationKey, organisations::Model>, ApiError> {
        let rows = organisations::Entity::find()
            .filter(organisations::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (OrganisationKey(row.id), row))
            .collect())
    }
}

/// Everything about a provider beyond its own row that matching ranks by:
/// what it covers, its load and its reviews.
#[derive(Debug, Clone, Default)]
pub struct ProviderDetails {
    pub topic_ids: Vec<i64>,
    pub sector_ids: Vec<i64>,
    pub regions: Vec<String>,
    pub formats: Vec<MeetingFormat>,
    /// ACTIVE + PROPOSED engagements.
    pub load: u32,
    pub reviews: ReviewSummary,
}

/// A provider's client reviews, as far as matching and the directory show
/// them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReviewSummary {
    /// Mean of the client reviews' three ratings (1–5), over submitted
    /// reviews; None before the first.
    pub average: Option<f64>,
    pub count: u32,
}

/// Loads [`ProviderDetails`] for many providers in six statements (per
/// 5,000 providers): matching needs them for every candidate at once. The
/// API's `Provider` loads only the relations a query selects: its card
/// ([`ProviderCardKey`]) in one statement, the rest each on its own (the
/// keys below).
pub async fn provider_details(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, ProviderDetails>, ApiError> {
    let mut topics = provider_topic_ids(db, ids).await?;
    let mut sectors = provider_sector_ids(db, ids).await?;
    let mut regions = provider_regions(db, ids).await?;
    let mut formats = provider_formats(db, ids).await?;
    let loads = provider_loads(db, ids).await?;
    let reviews = provider_reviews(db, ids).await?;
    Ok(ids
        .iter()
        .map(|id| {
            let details = ProviderDetails {
                topic_ids: topics.remove(id).unwrap_or_default(),
                sector_ids: sectors.remove(id).unwrap_or_default(),
                regions: regions.remove(id).unwrap_or_default(),
                formats: formats.remove(id).unwrap_or_default(),
                load: loads.get(id).copied().unwrap_or_default(),
                reviews: reviews.get(id).copied().unwrap_or_default(),
            };
            (*id, details)
        })
        .collect())
}

/// Runs `query` over `ids` in chunks of 5,000 (SQLite caps bound
/// parameters) and gathers the (parent id, item) rows it returns per
/// parent, in the query's order. Parents without rows are absent.
async fn gather<T, Fut>(
    ids: &[i64],
    query: impl Fn(Vec<i64>) -> Fut,
) -> Result<HashMap<i64, Vec<T>>, ApiError>
where
    Fut: std::future::Future<Output = Result<Vec<(i64, T)>, sea_orm::DbErr>>,
{
    let mut found: HashMap<i64, Vec<T>> = HashMap::new();
    for chunk in ids.chunks(5_000) {
        for (parent, item) in query(chunk.to_vec()).await? {
            found.entry(parent).or_default().push(item);
        }
    }
    Ok(found)
}

/// Each provider's topic ids, in id order.
async fn provider_topic_ids(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<i64>>, ApiError> {
    gather(ids, |chunk| {
        provider_topics::Entity::find()
            .select_only()
            .column(provider_topics::Column::ProviderId)
            .column(provider_topics::Column::TopicId)
            .filter(provider_topics::Column::ProviderId.is_in(chunk))
            .order_by_asc(provider_topics::Column::TopicId)
            .into_tuple()
            .all(db)
    })
    .await
}

/// Each provider's sector ids, in id order.
async fn provider_sector_ids(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<i64>>, ApiError> {
    gather(ids, |chunk| {
        provider_sectors::Entity::find()
            .select_only()
            .column(provider_sectors::Column::ProviderId)
            .column(provider_sectors::Column::SectorId)
            .filter(provider_sectors::Column::ProviderId.is_in(chunk))
            .order_by_asc(provider_sectors::Column::SectorId)
            .into_tuple()
            .all(db)
    })
    .await
}

/// Each provider's regions, in byte order of their names (sorted here, not
/// by the database, whose collation may order "Northern Ireland" before
/// "North West").
async fn provider_regions(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<String>>, ApiError> {
    let mut regions = gather(ids, |chunk| {
        provider_regions::Entity::find()
            .select_only()
            .column(provider_regions::Column::ProviderId)
            .column(provider_regions::Column::Region)
            .filter(provider_regions::Column::ProviderId.is_in(chunk))
            .into_tuple()
            .all(db)
    })
    .await?;
    for list in regions.values_mut() {
        list.sort();
    }
    Ok(regions)
}

/// Each provider's meeting formats, in the order they were given.
async fn provider_formats(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<MeetingFormat>>, ApiError> {
    gather(ids, |chunk| async move {
        Ok(provider_formats::Entity::find()
            .filter(provider_formats::Column::ProviderId.is_in(chunk))
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.provider_id, row.format))
            .collect())
    })
    .await
}

/// Each provider's load: its ACTIVE and PROPOSED engagements.
async fn provider_loads(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, u32>, ApiError> {
    let counts = gather(ids, |chunk| {
        engagements::Entity::find()
            .select_only()
            .column(engagements::Column::ProviderId)
            .column_as(engagements::Column::Id.count(), "load")
            .filter(engagements::Column::ProviderId.is_in(chunk))
            .filter(
                engagements::Column::Status
                    .is_in([EngagementStatus::Active, EngagementStatus::Proposed]),
            )
            .group_by(engagements::Column::ProviderId)
            .into_tuple::<(i64, i64)>()
            .all(db)
    })
    .await?;
    Ok(counts
        .into_iter()
        .map(|(id, load)| (id, load.iter().sum::<i64>().max(0) as u32))
        .collect())
}

/// One client review's three ratings.
type ClientRatings = (Option<i32>, Option<i32>, Option<i32>);

/// Each provider's submitted client reviews, summarised.
async fn provider_reviews(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, ReviewSummary>, ApiError> {
    let ratings = gather(ids, |chunk| async move {
        Ok(reviews::Entity::find()
            .select_only()
            .column(engagements::Column::ProviderId)
            .column(reviews::Column::Usefulness)
            .column(reviews::Column::Relationship)
            .column(reviews::Column::WouldRecommend)
            .join(JoinType::InnerJoin, reviews::Relation::Engagement.def())
            .filter(engagements::Column::ProviderId.is_in(chunk))
            .filter(reviews::Column::Party.eq(ReviewParty::Client))
            .filter(reviews::Column::SubmittedAt.is_not_null())
            .into_tuple::<(i64, Option<i32>, Option<i32>, Option<i32>)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(provider, a, b, c)| (provider, (a, b, c)))
            .collect())
    })
    .await?;
    Ok(ratings
        .into_iter()
        .map(|(id, reviews)| (id, summarise(&reviews)))
        .collect())
}

/// The mean over reviews of each review's mean rating; a review with no
/// rating at all does not count.
fn summarise(reviews: &[ClientRatings]) -> ReviewSummary {
    let means: Vec<f64> = reviews
        .iter()
        .filter_map(|(a, b, c)| {
            let scores: Vec<i32> = [*a, *b, *c].into_iter().flatten().collect();
            (!scores.is_empty()).then(|| scores.iter().sum::<i32>() as f64 / scores.len() as f64)
        })
        .collect();
    ReviewSummary {
        average: (!means.is_empty()).then(|| means.iter().sum::<f64>() / means.len() as f64),
        count: means.len() as u32,
    }
}

/// Declares a loader key for one relation of a row (a provider's topics, a
/// request's formats), loaded for many rows by `$load` (an
/// `async fn(&DatabaseConnection, &[i64]) -> Result<HashMap<i64, $value>,
/// ApiError>`); a row without any gets the value's default (an empty list,
/// a zero load).
macro_rules! relation_loader {
    ($(#[$doc:meta])* $key:ident => $value:ty, $load:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub i64);

        impl Loader<$key> for HiveLoader {
            type Value = $value;
            type Error = ApiError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, ApiError> {
                let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
                let mut found = $load(&self.db, &ids).await?;
                Ok(keys
                    .iter()
                    .map(|key| (*key, found.remove(&key.0).unwrap_or_default()))
                    .collect())
            }
        }
    };
}

relation_loader!(
    /// A provider's meeting formats.
    ProviderFormatsKey => Vec<MeetingFormat>, provider_formats
);
relation_loader!(
    /// A provider's load (ACTIVE and PROPOSED engagements).
    ProviderLoadKey => u32, provider_loads
);
relation_loader!(
    /// A provider's submitted client reviews, summarised.
    ProviderReviewsKey => ReviewSummary, provider_reviews
);

relation_loader!(
    /// A provider's days planned and delivered.
    ProviderDaysKey => super::providers::DaysSummary,
    super::providers::days_by_provider
);

/// The columns of `topics` that make a [`Term`], in [`linked_terms`]'s order.
const TOPIC_TERM: [topics::Column; 4] = [
    topics::Column::Id,
    topics::Column::Name,
    topics::Column::CreatedAt,
    topics::Column::RetiredAt,
];

/// A [`Term`] as [`linked_terms`] reads it: the parent's id, then the
/// term's id, name, creation and retirement.
type LinkedTermRow = (i64, i64, String, DateTime<Utc>, Option<DateTime<Utc>>);

/// Each parent's terms through link table `L` (its `(parent, term)` id
/// columns), joined to the vocabulary table by `join`, in term id order:
/// one statement, read by position (`into_tuple`). Not `find_also_related`:
/// that reads every column of both tables by a prefixed name, a string
/// built per column per row, which was a twelfth of a mentors page's CPU
/// (issue 19, perf on the bench's data).
async fn linked_terms<L, C>(
    db: &DatabaseConnection,
    ids: &[i64],
    (parent, term): (L::Column, L::Column),
    join: sea_orm::RelationDef,
    [id, name, created_at, retired_at]: [C; 4],
) -> Result<HashMap<i64, Vec<Term>>, ApiError>
where
    L: EntityTrait,
    C: ColumnTrait,
{
    gather(ids, |chunk| {
        let query = L::find()
            .select_only()
            .column(parent)
            .columns([id, name, created_at, retired_at])
            .join(JoinType::InnerJoin, join.clone())
            .filter(parent.is_in(chunk))
            .order_by_asc(term)
            .into_tuple::<LinkedTermRow>();
        async move {
            Ok(query
                .all(db)
                .await?
                .into_iter()
                .map(|(parent, id, name, created_at, retired_at)| {
                    let term = Term {
                        id,
                        name,
                        created_at,
                        retired_at,
                    };
                    (parent, term)
                })
                .collect())
        }
    })
    .await
}

relation_loader!(
    /// A support request's topics, in id order.
    RequestTopicsKey => Vec<Term>, request_topic_terms
);
relation_loader!(
    /// A support request's preferred meeting formats.
    RequestFormatsKey => Vec<MeetingFormat>, request_formats
);

/// Each request's topics with their names, in id order: one join.
async fn request_topic_terms(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<Term>>, ApiError> {
    linked_terms::<support_request_topics::Entity, topics::Column>(
        db,
        ids,
        (
            support_request_topics::Column::SupportRequestId,
            support_request_topics::Column::TopicId,
        ),
        support_request_topics::Relation::Topic.def(),
        TOPIC_TERM,
    )
    .await
}

/// Each request's preferred formats, in the order they were given.
async fn request_formats(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<MeetingFormat>>, ApiError> {
    gather(ids, |chunk| async move {
        Ok(support_request_formats::Entity::find()
            .filter(support_request_formats::Column::SupportRequestId.is_in(chunk))
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.support_request_id, row.format))
            .collect())
    })
    .await
}

/// Each key's rows, in the rows' order; a key without rows gets an empty list
/// (an answer, not a miss). `parent` names the key a row belongs to.
fn grouped<K, M>(keys: &[K], rows: Vec<M>, parent: impl Fn(&M) -> K) -> HashMap<K, Vec<M>>
where
    K: Copy + Eq + std::hash::Hash,
{
    let mut found: HashMap<K, Vec<M>> = keys.iter().map(|key| (*key, Vec::new())).collect();
    for row in rows {
        if let Some(list) = found.get_mut(&parent(&row)) {
            list.push(row);
        }
    }
    found
}

/// The engagements of a support request, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestEngagementsKey(pub i64);

impl Loader<RequestEngagementsKey> for HiveLoader {
    type Value = Vec<engagements::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[RequestEngagementsKey],
    ) -> Result<HashMap<RequestEngagementsKey, Vec<engagements::Model>>, ApiError> {
        let rows = engagements::Entity::find()
            .filter(engagements::Column::SupportRequestId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(engagements::Column::Id)
            .all(&self.db)
            .await?;
        Ok(grouped(keys, rows, |row| {
            RequestEngagementsKey(row.support_request_id)
        }))
    }
}

/// The footprint of the provider signed in as this user
/// (`access::provider_footprint`): a provider's reads of requests and co-ops
/// are checked against it, once per request rather than once per object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProviderFootprintKey(pub i64);

impl Loader<ProviderFootprintKey> for HiveLoader {
    type Value = crate::access::ProviderFootprint;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[ProviderFootprintKey],
    ) -> Result<HashMap<ProviderFootprintKey, crate::access::ProviderFootprint>, ApiError> {
        let mut found = HashMap::new();
        // One key in practice: the viewer.
        for key in keys {
            found.insert(
                *key,
                crate::access::provider_footprint(&self.db, key.0).await?,
            );
        }
        Ok(found)
    }
}

/// The viewer's footprint when they are a mentor or adviser; None for
/// anyone else (the rules need none). A query reads it once
/// ([`ViewerFootprint`]): every co-op and request on a page is checked
/// against it. A mutation reads it afresh at each use, as the mutation may
/// have just changed it (a proposal accepted, an engagement ended).
pub async fn viewer_footprint(
    ctx: &async_graphql::Context<'_>,
) -> ApiResult<Option<crate::access::ProviderFootprint>> {
    let viewer = crate::auth::viewer(ctx);
    let Some(user) = viewer
        .user
        .as_ref()
        .filter(|user| matches!(user.role, users::Role::Mentor | users::Role::Adviser))
    else {
        return Ok(None);
    };
    let read = || async {
        ctx.data_unchecked::<Loaders>()
            .load_one(ProviderFootprintKey(user.id))
            .await
    };
    let is_query =
        ctx.query_env.operation.node.ty == async_graphql::parser::types::OperationType::Query;
    match ctx.data_opt::<ViewerFootprint>() {
        Some(once) if is_query => Ok(once.0.get_or_try_init(read).await?.clone()),
        _ => read().await,
    }
}

/// The viewer's footprint as a query read it, kept for the rest of the
/// request; put in each request's data by `http::graphql`.
#[derive(Default)]
pub struct ViewerFootprint(tokio::sync::OnceCell<Option<crate::access::ProviderFootprint>>);

/// The engagements of a provider, oldest first (the list orders them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProviderEngagementsKey(pub i64);

impl Loader<ProviderEngagementsKey> for HiveLoader {
    type Value = Vec<engagements::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[ProviderEngagementsKey],
    ) -> Result<HashMap<ProviderEngagementsKey, Vec<engagements::Model>>, ApiError> {
        let rows = engagements::Entity::find()
            .filter(engagements::Column::ProviderId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(engagements::Column::Id)
            .all(&self.db)
            .await?;
        Ok(grouped(keys, rows, |row| {
            ProviderEngagementsKey(row.provider_id)
        }))
    }
}

/// The engagements on a co-op's requests, oldest first (the list orders
/// them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrganisationEngagementsKey(pub i64);

impl Loader<OrganisationEngagementsKey> for HiveLoader {
    type Value = Vec<engagements::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[OrganisationEngagementsKey],
    ) -> Result<HashMap<OrganisationEngagementsKey, Vec<engagements::Model>>, ApiError> {
        let rows = engagements::Entity::find()
            .find_also_related(support_requests::Entity)
            .filter(support_requests::Column::OrganisationId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(engagements::Column::Id)
            .all(&self.db)
            .await?;
        let mut found: HashMap<OrganisationEngagementsKey, Vec<engagements::Model>> =
            keys.iter().map(|key| (*key, Vec::new())).collect();
        for (engagement, request) in rows {
            if let Some(list) =
                request.and_then(|r| found.get_mut(&OrganisationEngagementsKey(r.organisation_id)))
            {
                list.push(engagement);
            }
        }
        Ok(found)
    }
}

/// The meetings of an engagement, in time order: its timetable and, summed
/// over the held ones, its days used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EngagementMeetingsKey(pub i64);

impl Loader<EngagementMeetingsKey> for HiveLoader {
    type Value = Vec<meetings::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[EngagementMeetingsKey],
    ) -> Result<HashMap<EngagementMeetingsKey, Vec<meetings::Model>>, ApiError> {
        let rows = meetings::Entity::find()
            .filter(meetings::Column::EngagementId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(meetings::Column::StartsAt)
            .order_by_asc(meetings::Column::Id)
            .all(&self.db)
            .await?;
        Ok(grouped(keys, rows, |row| {
            EngagementMeetingsKey(row.engagement_id)
        }))
    }
}

/// The final reviews of an engagement, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EngagementReviewsKey(pub i64);

impl Loader<EngagementReviewsKey> for HiveLoader {
    type Value = Vec<reviews::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[EngagementReviewsKey],
    ) -> Result<HashMap<EngagementReviewsKey, Vec<reviews::Model>>, ApiError> {
        let rows = reviews::Entity::find()
            .filter(reviews::Column::EngagementId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(reviews::Column::Id)
            .all(&self.db)
            .await?;
        Ok(grouped(keys, rows, |row| {
            EngagementReviewsKey(row.engagement_id)
        }))
    }
}

/// A provider row by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProviderKey(pub i64);

impl Loader<ProviderKey> for HiveLoader {
    type Value = entity::providers::Model;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[ProviderKey],
    ) -> Result<HashMap<ProviderKey, entity::providers::Model>, ApiError> {
        let rows = entity::providers::Entity::find()
            .filter(entity::providers::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (ProviderKey(row.id), row))
            .collect())
    }
}

/// Any row of table `E` by its id: `node(id:)` and the references between
/// objects (`rematchOf`, `endedBy`, an audit entry's subject, …) read
/// through it, so a page of objects following a reference costs one query
/// per table, not one per object.
pub struct RowKey<E>(pub i64, std::marker::PhantomData<fn() -> E>);

impl<E> RowKey<E> {
    pub fn new(id: i64) -> Self {
        RowKey(id, std::marker::PhantomData)
    }
}

// By hand: derived impls would ask `E` for them too.
impl<E> Clone for RowKey<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for RowKey<E> {}
impl<E> PartialEq for RowKey<E> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<E> Eq for RowKey<E> {}
impl<E> std::hash::Hash for RowKey<E> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<E> Loader<RowKey<E>> for HiveLoader
where
    E: EntityTrait + Sync,
    E::Model: Clone + Send + Sync + 'static,
{
    type Value = E::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[RowKey<E>]) -> Result<HashMap<RowKey<E>, E::Model>, ApiError> {
        let Some(id_column) = E::PrimaryKey::iter().next().map(|key| key.into_column()) else {
            return Ok(HashMap::new());
        };
        let rows = E::find()
            .filter(id_column.is_in(keys.iter().map(|key| key.0)))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (RowKey::new(super::relay::row_id(&row, id_column)), row))
            .collect())
    }
}

/// Reads one row of `E` through [`RowKey`]; NOT_FOUND with `missing` when
/// there is none.
pub async fn row<E>(ctx: &async_graphql::Context<'_>, id: i64, missing: &str) -> ApiResult<E::Model>
where
    E: EntityTrait + Sync,
    E::Model: Clone + Send + Sync + 'static,
{
    ctx.data_unchecked::<Loaders>()
        .load_one(RowKey::<E>::new(id))
        .await?
        .ok_or_else(|| ApiError::not_found(missing))
}

/// The members (accounts) of an organisation, in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrganisationMembersKey(pub i64);

impl Loader<OrganisationMembersKey> for HiveLoader {
    type Value = Vec<users::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[OrganisationMembersKey],
    ) -> Result<HashMap<OrganisationMembersKey, Vec<users::Model>>, ApiError> {
        let rows = users::Entity::find()
            .filter(users::Column::OrganisationId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(users::Column::Id)
            .all(&self.db)
            .await?;
        Ok(grouped(keys, rows, |row| {
            OrganisationMembersKey(row.organisation_id.unwrap_or_default())
        }))
    }
}

/// A confidential field a staff member read, for the audit trail: reading a
/// co-op's financial details or a concern's details leaves who read it and
/// when, never the value (issue 17: a programme must be able to say who saw
/// them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfidentialRead {
    /// `Organisation.financialDetails`; audit action `readFinancialDetails`.
    FinancialDetails,
    /// `Concern.details`; audit action `readConcernDetails`.
    ConcernDetails,
}

impl ConfidentialRead {
    /// The `auditLog` action and subject type of such a read.
    fn action_and_subject(self) -> (&'static str, &'static str) {
        match self {
            ConfidentialRead::FinancialDetails => ("readFinancialDetails", "Organisation"),
            ConfidentialRead::ConcernDetails => ("readConcernDetails", "Concern"),
        }
    }
}

/// One read to record: who (`actor`, a user id), what, of which object. The
/// reads resolved together (a page, aliases side by side) are written in one
/// statement, each object once; the loaders keep no cache, so a request that
/// reads the same object's field again at another depth records it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfidentialReadKey {
    pub actor: i64,
    pub read: ConfidentialRead,
    pub subject_id: i64,
}

impl Loader<ConfidentialReadKey> for HiveLoader {
    type Value = ();
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[ConfidentialReadKey],
    ) -> Result<HashMap<ConfidentialReadKey, ()>, ApiError> {
        let now = chrono::Utc::now();
        audit_log::Entity::insert_many(keys.iter().map(|key| {
            let (action, subject_type) = key.read.action_and_subject();
            audit_log::ActiveModel {
                actor_user_id: Set(Some(key.actor)),
                action: Set(action.to_string()),
                subject_type: Set(Some(subject_type.to_string())),
                subject_id: Set(Some(key.subject_id)),
                detail: Set(None),
                created_at: Set(now),
                ..Default::default()
            }
        }))
        .exec(&self.db)
        .await?;
        Ok(keys.iter().map(|key| (*key, ())).collect())
    }
}

/// Records that the viewer read `read` of object `subject_id`, when the
/// viewer is staff (whose reads are the ones a programme answers for; a
/// member reading their own co-op's figures is not traced). The value is
/// only given once the trace is written: a read that cannot be recorded
/// fails.
pub async fn trace_confidential_read(
    ctx: &async_graphql::Context<'_>,
    read: ConfidentialRead,
    subject_id: i64,
) -> ApiResult<()> {
    let Some(actor) = traced_reader(ctx) else {
        return Ok(());
    };
    ctx.data_unchecked::<Loaders>()
        .load_one(ConfidentialReadKey {
            actor,
            read,
            subject_id,
        })
        .await?;
    Ok(())
}

/// The user whose confidential reads are traced: the viewer when they are
/// staff, else None.
fn traced_reader(ctx: &async_graphql::Context<'_>) -> Option<i64> {
    crate::auth::viewer(ctx)
        .user
        .as_ref()
        .filter(|user| user.role == users::Role::Staff)
        .map(|user| user.id)
}
