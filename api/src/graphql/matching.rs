//! `matchSuggestions`: loads a request and the candidate providers, hands
//! them to the ranking in `hive_worker::matching` (plain code, no SQL), and
//! returns the ranked providers with the reasons staff read.

use std::collections::HashMap;

use async_graphql::{Context, ID, Object, SimpleObject};
use entity::{
    engagements, organisations, providers,
    providers::ProviderKind,
    sectors, support_request_formats, support_request_topics,
    support_requests::{self, EngagementKind},
    topics, users,
};
use hive_worker::matching::{self, Candidate, RequestProfile, Topic as RankTopic};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    loaders::{CardParts, provider_details},
    providers::Provider,
    relay::{HiveConnection, NodeType, PageArgs, decode_id_of, paginate_loaded},
};
use crate::{
    auth::RoleGuard,
    error::{ApiError, ApiResult},
    programme::rules,
    state::AppState,
};

/// Suggestions the old lists return when `first` is not given.
const DEFAULT_SUGGESTIONS: i32 = 10;
/// The most suggestions ranked for a request: the connections page through
/// these, and `totalCount` counts them.
pub const MAX_SUGGESTIONS: i32 = 50;

/// One suggested provider, with why it ranks where it does.
#[derive(SimpleObject, Clone)]
pub struct MatchSuggestion {
    /// 1 for the best.
    pub rank: i32,
    /// Higher is better; only the order means anything.
    pub score: f64,
    /// Each reason as a phrase, e.g. "same region: North West".
    pub reasons: Vec<String>,
    /// The reasons in one line, joined with " · ".
    pub summary: String,
    pub provider: Provider,
}

/// The kind of provider a request wants.
fn kind_of(request: EngagementKind) -> matching::ProviderKind {
    match request {
        EngagementKind::Mentoring => matching::ProviderKind::Mentor,
        EngagementKind::Advice => matching::ProviderKind::Adviser,
    }
}

fn format_of(format: entity::meetings::MeetingFormat) -> matching::MeetingFormat {
    use entity::meetings::MeetingFormat as F;
    match format {
        F::InPerson => matching::MeetingFormat::InPerson,
        F::InPersonGroup => matching::MeetingFormat::InPersonGroup,
        F::Phone => matching::MeetingFormat::Phone,
        F::Video => matching::MeetingFormat::Video,
        F::Email => matching::MeetingFormat::Email,
    }
}

/// Everything ranking needs about the providers of the programme, loaded
/// once for however many requests are being ranked.
pub struct CandidatePool {
    mentors: Vec<Candidate>,
    advisers: Vec<Candidate>,
    rows: HashMap<i64, providers::Model>,
    topic_names: HashMap<i64, String>,
    sector_names: HashMap<i64, String>,
}

impl CandidatePool {
    fn named(names: &HashMap<i64, String>, id: i64) -> RankTopic {
        RankTopic {
            id,
            name: names.get(&id).cloned().unwrap_or_default(),
        }
    }

    fn of_kind(&self, kind: matching::ProviderKind) -> &[Candidate] {
        match kind {
            matching::ProviderKind::Mentor => &self.mentors,
            matching::ProviderKind::Adviser => &self.advisers,
        }
    }
}

/// The candidate pool, kept between requests: loading 10,000 providers with
/// everything they cover takes hundreds of milliseconds, ranking them a few.
///
/// Changes made through this process drop it at once ([`Self::invalidate`]).
/// Changes made by another process (the worker's expiries, a second API) are
/// noticed by a cheap check once the pool is older than its time to live: a
/// [`PoolFingerprint`] of the tables it is read from. Only when that differs,
/// or the pool is older than [`FULL_RELOAD_AFTER`], is it reloaded, in the
/// background. Staleness only affects the order of suggestions: capacity and
/// exclusions are checked again, under lock, when proposing.
#[derive(Default)]
pub struct CandidateCache {
    ttl: std::time::Duration,
    /// Bumped by every change that could alter the pool.
    generation: std::sync::atomic::AtomicU64,
    pool: std::sync::RwLock<Option<CachedPool>>,
    /// One load at a time: callers that must wait for a load wait for the same one.
    loading: tokio::sync::Mutex<()>,
    /// Set while a background refresh is running.
    refreshing: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
struct CachedPool {
    /// When the pool was last known to match the database (loaded, or its
    /// fingerprint found unchanged).
    checked: std::time::Instant,
    /// When it was last loaded in full.
    loaded: std::time::Instant,
    fingerprint: PoolFingerprint,
    generation: u64,
    pool: std::sync::Arc<CandidatePool>,
}

/// Mutations that cannot change the candidate pool (providers, their topics,
/// sectors, regions and formats, their load of proposed and active
/// engagements, review ratings, topic and sector names): a request answered
/// by only these leaves the cached pool alone. Every other mutation that
/// succeeds drops it, so one added later is safe by default.
pub const LEAVE_CANDIDATES_ALONE: &[&str] = &[
    "agreeGroundRules",
    "cancelMeeting",
    "clearBounce",
    "closeSurvey",
    "createOrganisation",
    "createSupportRequestFromResponse",
    "createSurvey",
    "createUser",
    "duplicateSurvey",
    "exportPersonalData",
    "inviteMember",
    "launchSurvey",
    "raiseAllocation",
    "raiseConcern",
    "requestSignIn",
    "rescheduleMeeting",
    "resetCalendarFeed",
    "resolveConcern",
    "retryEmail",
    "revokeCalendarFeed",
    "scheduleMeeting",
    "setDigestFrequency",
    "signIn",
    "signOut",
    "submitSupportRequest",
    "submitSurveyResponse",
    "updateOrganisation",
    "updateSurvey",
];

/// However well the fingerprint covers the pool's sources, a pool this old is
/// loaded again in full: it catches what the fingerprint cannot see (a topic
/// renamed by another process to a name of the same length).
pub const FULL_RELOAD_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// A summary of everything the pool is read from, in one statement that
/// costs a millisecond where a full load costs a second: row counts and the
/// newest change of providers (profile, capacity, active flag) and
/// engagements (load), submitted reviews, and the topic and sector names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolFingerprint(String);

impl PoolFingerprint {
    pub async fn read(db: &DatabaseConnection) -> ApiResult<Self> {
        use sea_orm::{ConnectionTrait, Statement};

        // Every part as text, so the one column reads the same on SQLite and
        // PostgreSQL.
        let parts = [
            "(SELECT COUNT(*) FROM providers)",
            "(SELECT MAX(updated_at) FROM providers)",
            "(SELECT COUNT(*) FROM engagements)",
            "(SELECT MAX(updated_at) FROM engagements)",
            "(SELECT COUNT(*) FROM reviews WHERE submitted_at IS NOT NULL)",
            "(SELECT MAX(submitted_at) FROM reviews)",
            "(SELECT COUNT(*) FROM topics)",
            "(SELECT SUM(LENGTH(name)) FROM topics)",
            "(SELECT COUNT(*) FROM sectors)",
            "(SELECT SUM(LENGTH(name)) FROM sectors)",
        ]
        .map(|part| format!("COALESCE(CAST({part} AS TEXT), '-')"))
        .join(" || '|' || ");
        let backend = db.get_database_backend();
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT {parts} AS fingerprint"),
            ))
            .await?
            .ok_or_else(|| ApiError::internal("the pool fingerprint query returned no row"))?;
        Ok(Self(row.try_get("", "fingerprint")?))
    }
}

impl CandidateCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            ttl,
            ..Default::default()
        }
    }

    fn cached(&self) -> Option<CachedPool> {
        self.pool.read().ok().and_then(|slot| slot.clone())
    }

    /// The pool. After a change (or with none loaded) the caller waits for a
    /// fresh load; when it has merely aged past its time to live, the caller
    /// gets it as it is and one background task checks it (and reloads it if
    /// the database changed), so no request waits for a reload that no change
    /// asked for.
    async fn get(
        self: &std::sync::Arc<Self>,
        db: &DatabaseConnection,
    ) -> ApiResult<std::sync::Arc<CandidatePool>> {
        use std::sync::atomic::Ordering;

        // A zero time to live means no cache at all (the tests count the
        // statements of a full load every time).
        if self.ttl.is_zero() {
            return Ok(std::sync::Arc::new(load_pool(db).await?));
        }
        let current = self.generation.load(Ordering::SeqCst);
        if let Some(cached) = self.cached()
            && cached.generation == current
        {
            if cached.checked.elapsed() >= self.ttl && !self.refreshing.swap(true, Ordering::SeqCst)
            {
                let this = self.clone();
                let db = db.clone();
                let aged = cached.clone();
                tokio::spawn(async move {
                    if let Err(error) = this.refresh(&db, aged).await {
                        tracing::warn!(detail = ?error, "candidate pool refresh failed");
                    }
                    this.refreshing.store(false, Ordering::SeqCst);
                });
            }
            return Ok(cached.pool);
        }
        let _one_at_a_time = self.loading.lock().await;
        // Someone may have loaded while we waited.
        if let Some(cached) = self.cached()
            && cached.generation == self.generation.load(Ordering::SeqCst)
        {
            return Ok(cached.pool);
        }
        self.load(db).await
    }

    /// Reloads an aged pool when its sources changed (or it is very old);
    /// otherwise only notes that it was checked.
    async fn refresh(&self, db: &DatabaseConnection, cached: CachedPool) -> ApiResult<()> {
        let fingerprint = PoolFingerprint::read(db).await?;
        if fingerprint != cached.fingerprint || cached.loaded.elapsed() >= FULL_RELOAD_AFTER {
            self.load(db).await?;
            return Ok(());
        }
        if let Ok(mut slot) = self.pool.write()
            && let Some(current) = slot.as_mut()
            && current.generation == cached.generation
            && current.fingerprint == fingerprint
        {
            current.checked = std::time::Instant::now();
        }
        Ok(())
    }

    /// Loads and stores the pool. A change during the load bumps the
    /// generation past the one recorded here, so the next caller loads again;
    /// the fingerprint is read first for the same reason.
    async fn load(&self, db: &DatabaseConnection) -> ApiResult<std::sync::Arc<CandidatePool>> {
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let fingerprint = PoolFingerprint::read(db).await?;
        let pool = std::sync::Arc::new(load_pool(db).await?);
        metrics::counter!("hive_candidate_pool_loads_total").increment(1);
        if let Ok(mut slot) = self.pool.write() {
            let now = std::time::Instant::now();
            *slot = Some(CachedPool {
                checked: now,
                loaded: now,
                fingerprint,
                generation,
                pool: pool.clone(),
            });
        }
        Ok(pool)
    }

    /// Marks the pool out of date; the next ranking loads a fresh one.
    pub fn invalidate(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Active providers with what they cover, their load and reviews: a fixed
/// number of statements whatever their number.
async fn load_pool(db: &DatabaseConnection) -> ApiResult<CandidatePool> {
    let topic_names: HashMap<i64, String> = topics::Entity::find()
        .select_only()
        .column(topics::Column::Id)
        .column(topics::Column::Name)
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let sector_names: HashMap<i64, String> = sectors::Entity::find()
        .select_only()
        .column(sectors::Column::Id)
        .column(sectors::Column::Name)
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let rows = providers::Entity::find()
        .filter(providers::Column::Active.eq(true))
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let details = provider_details(db, &ids).await?;
    let mut names: HashMap<i64, String> = HashMap::new();
    for chunk in rows.chunks(5_000) {
        let user_ids: Vec<i64> = chunk.iter().map(|row| row.user_id).collect();
        for (id, name) in users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .column(users::Column::Name)
            .filter(users::Column::Id.is_in(user_ids))
            .into_tuple::<(i64, String)>()
            .all(db)
            .await?
        {
            names.insert(id, name);
        }
    }
    let mut mentors = Vec::new();
    let mut advisers = Vec::new();
    for row in &rows {
        let d = details.get(&row.id).cloned().unwrap_or_default();
        let rank_kind = match row.kind {
            ProviderKind::Mentor => matching::ProviderKind::Mentor,
            ProviderKind::Adviser => matching::ProviderKind::Adviser,
        };
        let candidate = Candidate {
            provider_id: row.id,
            name: names.get(&row.user_id).cloned().unwrap_or_default(),
            kind: rank_kind,
            active: row.active,
            home_organisation_id: row.home_organisation_id,
            topics: d
                .topic_ids
                .iter()
                .map(|id| CandidatePool::named(&topic_names, *id))
                .collect(),
            sectors: d
                .sector_ids
                .iter()
                .map(|id| CandidatePool::named(&sector_names, *id))
                .collect(),
            regions: d.regions.clone(),
            formats: d.formats.iter().map(|f| format_of(*f)).collect(),
            capacity: row.capacity.max(0) as u32,
            load: d.load,
            review_average: d.reviews.average,
            review_count: d.reviews.count,
        };
        match rank_kind {
            matching::ProviderKind::Mentor => mentors.push(candidate),
            matching::ProviderKind::Adviser => advisers.push(candidate),
        }
    }
    Ok(CandidatePool {
        mentors,
        advisers,
        rows: rows.into_iter().map(|row| (row.id, row)).collect(),
        topic_names,
        sector_names,
    })
}

/// Ranks providers for each request: the suggestions of many requests cost
/// the same few statements as those of one.
pub async fn suggest(
    db: &DatabaseConnection,
    cache: &std::sync::Arc<CandidateCache>,
    request_ids: &[i64],
    limit: usize,
) -> ApiResult<HashMap<i64, Vec<MatchSuggestion>>> {
    let requests = support_requests::Entity::find()
        .filter(support_requests::Column::Id.is_in(request_ids.to_vec()))
        .all(db)
        .await?;
    if requests.is_empty() {
        return Ok(HashMap::new());
    }
    let organisations: HashMap<i64, organisations::Model> = organisations::Entity::find()
        .filter(organisations::Column::Id.is_in(requests.iter().map(|r| r.organisation_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut topics_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in support_request_topics::Entity::find()
        .filter(support_request_topics::Column::SupportRequestId.is_in(request_ids.to_vec()))
        .order_by_asc(support_request_topics::Column::TopicId)
        .all(db)
        .await?
    {
        topics_of
            .entry(row.support_request_id)
            .or_default()
            .push(row.topic_id);
    }
    let mut formats_of: HashMap<i64, Vec<entity::meetings::MeetingFormat>> = HashMap::new();
    for row in support_request_formats::Entity::find()
        .filter(support_request_formats::Column::SupportRequestId.is_in(request_ids.to_vec()))
        .all(db)
        .await?
    {
        formats_of
            .entry(row.support_request_id)
            .or_default()
            .push(row.format);
    }
    // Out: whoever said no or walked away, and whoever is already on it.
    let mut excluded_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in engagements::Entity::find()
        .filter(engagements::Column::SupportRequestId.is_in(request_ids.to_vec()))
        .all(db)
        .await?
    {
        if rules::engagement_excludes_provider(row.status)
            || rules::engagement_is_current(row.status)
        {
            excluded_of
                .entry(row.support_request_id)
                .or_default()
                .push(row.provider_id);
        }
    }
    let pool = cache.get(db).await?;

    let mut suggestions = HashMap::new();
    // All the suggested providers of the batch, so that each relation a
    // query selects of them costs one statement.
    let siblings = super::siblings::Siblings::default();
    for request in &requests {
        let Some(organisation) = organisations.get(&request.organisation_id) else {
            continue;
        };
        let rank_kind = kind_of(request.kind);
        let profile = RequestProfile {
            kind: rank_kind,
            organisation_id: organisation.id,
            topics: topics_of
                .get(&request.id)
                .map(|ids| {
                    ids.iter()
                        .map(|id| CandidatePool::named(&pool.topic_names, *id))
                        .collect()
                })
                .unwrap_or_default(),
            sector: organisation
                .sector_id
                .map(|id| CandidatePool::named(&pool.sector_names, id)),
            region: organisation.region.clone(),
            formats: formats_of
                .get(&request.id)
                .map(|formats| formats.iter().map(|f| format_of(*f)).collect())
                .unwrap_or_default(),
            excluded_provider_ids: excluded_of.remove(&request.id).unwrap_or_default(),
        };
        let ranked = matching::rank(&profile, pool.of_kind(rank_kind), limit);
        suggestions.insert(
            request.id,
            ranked
                .into_iter()
                .filter_map(|suggestion| {
                    pool.rows
                        .get(&suggestion.provider_id)
                        .map(|row| MatchSuggestion {
                            rank: suggestion.rank as i32,
                            score: suggestion.score,
                            reasons: suggestion.reasons,
                            summary: suggestion.summary,
                            provider: Provider::joining(row.clone(), &siblings, CardParts::ALL),
                        })
                })
                .collect(),
        );
    }
    Ok(suggestions)
}

/// Checks `first` against the limits.
pub fn suggestion_limit(first: Option<i32>) -> ApiResult<usize> {
    match first {
        Some(n) if n < 0 => Err(ApiError::bad_input("first", "`first` cannot be negative.")),
        Some(n) => Ok(n.min(MAX_SUGGESTIONS) as usize),
        None => Ok(DEFAULT_SUGGESTIONS as usize),
    }
}

/// A page of a request's ranking, best first. The cursor is the suggested
/// provider's id (a suggestion has no id of its own).
pub fn suggestions_page(
    ranked: Vec<MatchSuggestion>,
    page: PageArgs,
) -> ApiResult<HiveConnection<MatchSuggestion>> {
    paginate_loaded(
        "suggestions",
        ranked,
        page,
        |suggestion| suggestion.provider.row.id,
        |suggestion| suggestion,
    )
}

#[derive(Default)]
pub struct MatchingQuery;

#[Object]
impl MatchingQuery {
    /// Providers to propose for a request, best first (staff). Leaves out the
    /// inactive, the wrong kind, a mentor from the requesting co-op, anyone
    /// with no place free, and anyone who declined or ended an engagement on
    /// this request.
    #[graphql(
        guard = "RoleGuard::staff()",
        deprecation = "Use `matchSuggestionsConnection`, which pages."
    )]
    async fn match_suggestions(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
        first: Option<i32>,
    ) -> ApiResult<Vec<MatchSuggestion>> {
        let state = ctx.data_unchecked::<AppState>();
        let limit = suggestion_limit(first)?;
        let request_id = decode_id_of(NodeType::SupportRequest, &request_id)?;
        let mut found = suggest(&state.db, &state.candidates, &[request_id], limit).await?;
        found
            .remove(&request_id)
            .ok_or_else(|| ApiError::not_found("No support request has that id."))
    }

    /// Providers to propose for a request, best first (staff), a page at a
    /// time; the rules of `matchSuggestions`. At most [`MAX_SUGGESTIONS`]
    /// (50) are ranked, and `totalCount` counts those. Null with FORBIDDEN
    /// for anyone but staff.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn match_suggestions_connection(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<MatchSuggestion>>> {
        let state = ctx.data_unchecked::<AppState>();
        let request_id = decode_id_of(NodeType::SupportRequest, &request_id)?;
        let mut found = suggest(
            &state.db,
            &state.candidates,
            &[request_id],
            MAX_SUGGESTIONS as usize,
        )
        .await?;
        let ranked = found
            .remove(&request_id)
            .ok_or_else(|| ApiError::not_found("No support request has that id."))?;
        suggestions_page(
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mutations_said_to_leave_candidates_alone_exist() {
        let sdl = crate::graphql::sdl();
        let mutation = sdl
            .split("type Mutation {")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .expect("the schema has mutations");
        for name in LEAVE_CANDIDATES_ALONE {
            assert!(
                mutation.contains(&format!("\t{name}("))
                    || mutation.contains(&format!("\t{name}:")),
                "{name} is not a mutation"
            );
        }
    }
}
