//! `programmeStats`: the programme in figures, for staff.

use std::collections::{BTreeMap, HashMap};

use async_graphql::{Context, Object, SimpleObject};
use chrono::Utc;
use entity::{
    engagements::{self, EngagementStatus},
    providers,
    reviews::{self, ReviewParty},
    support_request_topics,
    support_requests::{self, SupportRequestStatus},
    topics, users,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};

use super::providers::{DaysSummary, days_summary};
use crate::{auth::RoleGuard, error::ApiResult, state::AppState};

/// A count under a label.
#[derive(SimpleObject)]
pub struct Count {
    pub label: String,
    pub count: i64,
}

/// Requests not yet matched.
#[derive(SimpleObject)]
pub struct Waiting {
    pub requests: i64,
    /// How long the longest has waited, in days.
    pub longest_days: f64,
    pub average_days: f64,
}

/// A provider's mean client rating.
#[derive(SimpleObject)]
pub struct ProviderScore {
    pub provider_name: String,
    pub kind: String,
    pub average: f64,
    pub reviews: i64,
}

/// The programme in figures.
#[derive(SimpleObject)]
pub struct ProgrammeStats {
    /// Engagements by status and kind, e.g. "ACTIVE / MENTORING".
    pub engagements: Vec<Count>,
    /// Days allocated vs delivered over engagements that went ahead.
    pub days: DaysSummary,
    pub waiting: Waiting,
    /// Requests per topic, most asked first.
    pub demand_by_topic: Vec<Count>,
    /// Per topic, the organisations whose latest survey response picked a
    /// choice mapped to it, most first: the census's view of demand, which
    /// includes co-ops that have not asked for support yet.
    pub survey_needs_by_topic: Vec<Count>,
    /// Mean client rating per provider, best first.
    pub review_scores: Vec<ProviderScore>,
    /// Mean client rating by kind of support.
    pub review_scores_by_kind: Vec<ProviderScore>,
    /// Mean days from a request to its accepted match.
    pub average_days_to_match: Option<f64>,
}

/// Counts per topic id as labelled counts, most first, ties by name.
fn most_first(
    counts: impl IntoIterator<Item = (i64, i64)>,
    topic_names: &HashMap<i64, String>,
) -> Vec<Count> {
    let mut labelled: Vec<Count> = counts
        .into_iter()
        .map(|(id, count)| Count {
            label: topic_names.get(&id).cloned().unwrap_or_default(),
            count,
        })
        .collect();
    labelled.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    labelled
}

/// Topic id → organisations whose latest response (to any survey) picked a
/// choice mapped to the topic. A co-op's needs are what it said last: an
/// earlier wave's answer it has since changed no longer counts. One
/// statement; the latest response is the one no other of the same
/// organisation follows (by submission time, then id).
async fn survey_needs(db: &impl ConnectionTrait) -> ApiResult<Vec<(i64, i64)>> {
    const LATEST_NEEDS: &str = "\
        SELECT t.topic_id AS topic_id, COUNT(DISTINCT i.organisation_id) AS organisations \
        FROM survey_answers a \
        JOIN survey_choice_topics t ON t.choice_id = a.choice_id \
        JOIN survey_responses r ON r.id = a.response_id \
        JOIN survey_invitations i ON i.id = r.invitation_id \
        WHERE NOT EXISTS ( \
            SELECT 1 FROM survey_responses later \
            JOIN survey_invitations li ON li.id = later.invitation_id \
            WHERE li.organisation_id = i.organisation_id \
            AND (later.submitted_at > r.submitted_at \
                 OR (later.submitted_at = r.submitted_at AND later.id > r.id))) \
        GROUP BY t.topic_id";
    let backend = db.get_database_backend();
    let mut needs = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(backend, LATEST_NEEDS))
        .await?
    {
        needs.push((
            row.try_get::<i64>("", "topic_id")?,
            row.try_get::<i64>("", "organisations")?,
        ));
    }
    Ok(needs)
}

#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// The programme in figures (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn programme_stats(&self, ctx: &Context<'_>) -> ApiResult<Option<ProgrammeStats>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let now = Utc::now();
        let requests = support_requests::Entity::find().all(db).await?;
        let request_by_id: HashMap<i64, &support_requests::Model> =
            requests.iter().map(|r| (r.id, r)).collect();
        let all_engagements = engagements::Entity::find().all(db).await?;

        let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
        let mut to_match = Vec::new();
        for engagement in &all_engagements {
            let kind = request_by_id
                .get(&engagement.support_request_id)
                .map(|r| format!("{:?}", r.kind).to_uppercase())
                .unwrap_or_default();
            let status = serde_json::to_value(engagement.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            *by_status.entry(format!("{status} / {kind}")).or_default() += 1;
            if matches!(
                engagement.status,
                EngagementStatus::Active
                    | EngagementStatus::Completed
                    | EngagementStatus::EndedEarly
            ) && let (Some(answered), Some(request)) = (
                engagement.responded_at,
                request_by_id.get(&engagement.support_request_id),
            ) {
                to_match.push((answered - request.created_at).num_minutes() as f64 / 1440.0);
            }
        }

        let waits: Vec<f64> = requests
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    SupportRequestStatus::Submitted | SupportRequestStatus::Matching
                )
            })
            .map(|r| (now - r.created_at).num_minutes() as f64 / 1440.0)
            .collect();
        let waiting = Waiting {
            requests: waits.len() as i64,
            longest_days: waits.iter().copied().fold(0.0, f64::max),
            average_days: if waits.is_empty() {
                0.0
            } else {
                waits.iter().sum::<f64>() / waits.len() as f64
            },
        };

        let topic_names: HashMap<i64, String> = topics::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let mut demand: HashMap<i64, i64> = HashMap::new();
        for row in support_request_topics::Entity::find().all(db).await? {
            *demand.entry(row.topic_id).or_default() += 1;
        }
        let demand_by_topic = most_first(demand, &topic_names);
        let survey_needs_by_topic = most_first(survey_needs(db).await?, &topic_names);

        // Client reviews, per provider and per kind.
        let engagement_by_id: HashMap<i64, &engagements::Model> =
            all_engagements.iter().map(|e| (e.id, e)).collect();
        let provider_rows: HashMap<i64, providers::Model> = providers::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let names: HashMap<i64, String> = users::Entity::find()
            .filter(
                users::Column::Role
                    .is_in([entity::users::Role::Mentor, entity::users::Role::Adviser]),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        let mut per_provider: HashMap<i64, (f64, i64)> = HashMap::new();
        let mut per_kind: BTreeMap<String, (f64, i64)> = BTreeMap::new();
        for review in reviews::Entity::find()
            .filter(reviews::Column::Party.eq(ReviewParty::Client))
            .filter(reviews::Column::SubmittedAt.is_not_null())
            .all(db)
            .await?
        {
            let scores: Vec<i32> = [
                review.usefulness,
                review.relationship,
                review.would_recommend,
            ]
            .into_iter()
            .flatten()
            .collect();
            let Some(engagement) = engagement_by_id.get(&review.engagement_id) else {
                continue;
            };
            if scores.is_empty() {
                continue;
            }
            let mean = scores.iter().sum::<i32>() as f64 / scores.len() as f64;
            let entry = per_provider.entry(engagement.provider_id).or_default();
            entry.0 += mean;
            entry.1 += 1;
            if let Some(request) = request_by_id.get(&engagement.support_request_id) {
                let entry = per_kind
                    .entry(format!("{:?}", request.kind).to_uppercase())
                    .or_default();
                entry.0 += mean;
                entry.1 += 1;
            }
        }
        let mut review_scores: Vec<ProviderScore> = per_provider
            .into_iter()
            .filter_map(|(id, (sum, n))| {
                let provider = provider_rows.get(&id)?;
                Some(ProviderScore {
                    provider_name: names.get(&provider.user_id).cloned().unwrap_or_default(),
                    kind: format!("{:?}", provider.kind).to_uppercase(),
                    average: sum / n as f64,
                    reviews: n,
                })
            })
            .collect();
        review_scores.sort_by(|a, b| {
            b.average
                .partial_cmp(&a.average)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.provider_name.cmp(&b.provider_name))
        });
        let review_scores_by_kind = per_kind
            .into_iter()
            .map(|(kind, (sum, n))| ProviderScore {
                provider_name: String::new(),
                kind,
                average: sum / n as f64,
                reviews: n,
            })
            .collect();

        Ok(Some(ProgrammeStats {
            engagements: by_status
                .into_iter()
                .map(|(label, count)| Count { label, count })
                .collect(),
            days: days_summary(db).await?,
            waiting,
            demand_by_topic,
            survey_needs_by_topic,
            review_scores,
            review_scores_by_kind,
            average_days_to_match: (!to_match.is_empty())
                .then(|| to_match.iter().sum::<f64>() / to_match.len() as f64),
        }))
    }
}
