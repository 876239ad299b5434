//! `matchSuggestions`: loads a request and the candidate providers, hands
//! them to the ranking in `hive_worker::matching` (plain code, no SQL), and
//! returns the ranked providers with the reasons staff read.

use std::collections::HashMap;

use async_graphql::{Context, ID, Object, SimpleObject};
use entity::{
    engagements, organisations, providers, providers::ProviderKind, sectors,
    support_request_formats, support_request_topics, support_requests::EngagementKind, topics,
    users,
};
use hive_worker::matching::{self, Candidate, RequestProfile, Topic as RankTopic};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    loaders::provider_details,
    providers::Provider,
    relay::{NodeType, decode_id_of},
};
use crate::{
    auth::RoleGuard,
    error::{ApiError, ApiResult},
    rules,
    state::AppState,
};

/// Suggestions returned when `first` is not given, and at most.
const DEFAULT_SUGGESTIONS: i32 = 10;
const MAX_SUGGESTIONS: i32 = 50;

/// One suggested provider, with why it ranks where it does.
#[derive(SimpleObject)]
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

fn kind_of(request: EngagementKind) -> (ProviderKind, matching::ProviderKind) {
    match request {
        EngagementKind::Mentoring => (ProviderKind::Mentor, matching::ProviderKind::Mentor),
        EngagementKind::Advice => (ProviderKind::Adviser, matching::ProviderKind::Adviser),
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

#[derive(Default)]
pub struct MatchingQuery;

#[Object]
impl MatchingQuery {
    /// Providers to propose for a request, best first (staff). Leaves out the
    /// inactive, the wrong kind, a mentor from the requesting co-op, anyone
    /// with no place free, and anyone who declined or ended an engagement on
    /// this request.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn match_suggestions(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
        first: Option<i32>,
    ) -> ApiResult<Vec<MatchSuggestion>> {
        let state = ctx.data_unchecked::<AppState>();
        let db = &state.db;
        let limit = match first {
            Some(n) if n < 0 => {
                return Err(ApiError::bad_input("first", "`first` cannot be negative."));
            }
            Some(n) => n.min(MAX_SUGGESTIONS),
            None => DEFAULT_SUGGESTIONS,
        } as usize;
        let request_id = decode_id_of(NodeType::SupportRequest, &request_id)?;
        let request = entity::support_requests::Entity::find_by_id(request_id)
            .one(db)
            .await?
            .ok_or_else(|| ApiError::not_found("No support request has that id."))?;
        let organisation = organisations::Entity::find_by_id(request.organisation_id)
            .one(db)
            .await?
            .ok_or_else(|| ApiError::internal("request without organisation"))?;

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
        let named = |names: &HashMap<i64, String>, id: i64| RankTopic {
            id,
            name: names.get(&id).cloned().unwrap_or_default(),
        };

        let request_topics: Vec<i64> = support_request_topics::Entity::find()
            .select_only()
            .column(support_request_topics::Column::TopicId)
            .filter(support_request_topics::Column::SupportRequestId.eq(request.id))
            .order_by_asc(support_request_topics::Column::TopicId)
            .into_tuple()
            .all(db)
            .await?;
        let request_formats: Vec<entity::meetings::MeetingFormat> =
            support_request_formats::Entity::find()
                .select_only()
                .column(support_request_formats::Column::Format)
                .filter(support_request_formats::Column::SupportRequestId.eq(request.id))
                .into_tuple()
                .all(db)
                .await?;
        let history: Vec<(i64, entity::engagements::EngagementStatus)> =
            engagements::Entity::find()
                .select_only()
                .column(engagements::Column::ProviderId)
                .column(engagements::Column::Status)
                .filter(engagements::Column::SupportRequestId.eq(request.id))
                .into_tuple()
                .all(db)
                .await?;
        // Out: whoever said no or walked away, and whoever is already on it.
        let excluded: Vec<i64> = history
            .iter()
            .filter(|(_, status)| {
                rules::engagement_excludes_provider(*status)
                    || rules::engagement_is_current(*status)
            })
            .map(|(provider, _)| *provider)
            .collect();

        let (kind, rank_kind) = kind_of(request.kind);
        let rows = providers::Entity::find()
            .filter(providers::Column::Kind.eq(kind))
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
        let candidates: Vec<Candidate> = rows
            .iter()
            .map(|row| {
                let d = details.get(&row.id).cloned().unwrap_or_default();
                Candidate {
                    provider_id: row.id,
                    name: names.get(&row.user_id).cloned().unwrap_or_default(),
                    kind: rank_kind,
                    active: row.active,
                    home_organisation_id: row.home_organisation_id,
                    topics: d
                        .topic_ids
                        .iter()
                        .map(|id| named(&topic_names, *id))
                        .collect(),
                    sectors: d
                        .sector_ids
                        .iter()
                        .map(|id| named(&sector_names, *id))
                        .collect(),
                    regions: d.regions.clone(),
                    formats: d.formats.iter().map(|f| format_of(*f)).collect(),
                    capacity: row.capacity.max(0) as u32,
                    load: d.load,
                    review_average: d.review_average,
                    review_count: d.review_count,
                }
            })
            .collect();
        let profile = RequestProfile {
            kind: rank_kind,
            organisation_id: organisation.id,
            topics: request_topics
                .iter()
                .map(|id| named(&topic_names, *id))
                .collect(),
            sector: organisation.sector_id.map(|id| named(&sector_names, id)),
            region: organisation.region.clone(),
            formats: request_formats.iter().map(|f| format_of(*f)).collect(),
            excluded_provider_ids: excluded,
        };
        let ranked = matching::rank(&profile, &candidates, limit);
        let by_id: HashMap<i64, &providers::Model> = rows.iter().map(|row| (row.id, row)).collect();
        Ok(ranked
            .into_iter()
            .filter_map(|suggestion| {
                by_id
                    .get(&suggestion.provider_id)
                    .map(|row| MatchSuggestion {
                        rank: suggestion.rank as i32,
                        score: suggestion.score,
                        reasons: suggestion.reasons,
                        summary: suggestion.summary,
                        provider: Provider((*row).clone()),
                    })
            })
            .collect())
    }
}
