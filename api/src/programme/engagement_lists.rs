//! Lists of engagements as people's home screens show them: which ones a
//! viewer sees (`access::visible_engagements`), narrowed by what they ask
//! for, in the order that puts what needs them first.
//!
//! **The home order.** ACTIVE engagements first, the one with the soonest
//! next meeting first, then ACTIVE ones with no meeting booked (the longest
//! matched first: they need a meeting); then PROPOSED ones, the longest
//! waiting for an answer first; then the rest (COMPLETED, ENDED_EARLY,
//! DECLINED, EXPIRED), the most recently finished first. Ties go by id, so
//! the order is total and a cursor always finds its place.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    engagements::{self, EngagementStatus},
    meetings::{self, MeetingStatus},
    support_requests::{self, EngagementKind},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, RelationTrait,
};

use crate::{access, auth::Viewer, error::ApiResult};

/// What a list of engagements is narrowed to: every condition given holds
/// (an empty `statuses` is any status).
#[derive(Debug, Clone, Default)]
pub struct EngagementFilter {
    pub statuses: Vec<EngagementStatus>,
    /// The kind of help its request asked for.
    pub kind: Option<EngagementKind>,
    pub provider_id: Option<i64>,
    /// The co-op whose request it serves.
    pub organisation_id: Option<i64>,
    pub request_id: Option<i64>,
}

impl EngagementFilter {
    /// Whether `engagement` (of a request from `organisation_id` of `kind`)
    /// passes the filter: the same conditions as [`list`] puts in SQL, for
    /// lists already loaded.
    pub fn admits(
        &self,
        engagement: &engagements::Model,
        organisation_id: i64,
        kind: EngagementKind,
    ) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&engagement.status))
            && self.kind.is_none_or(|k| k == kind)
            && self
                .provider_id
                .is_none_or(|id| id == engagement.provider_id)
            && self.organisation_id.is_none_or(|id| id == organisation_id)
            && self
                .request_id
                .is_none_or(|id| id == engagement.support_request_id)
    }
}

/// The engagements `viewer` may see that pass `filter`, in the home order
/// at `now`, each with its place in it. Two queries: the rows, and the next
/// meeting of the ACTIVE ones.
/// A programme holds some thousands of engagements at most, so staff's
/// whole list is read to order it; a provider's or a co-op's is their own.
pub async fn list(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    filter: &EngagementFilter,
    now: DateTime<Utc>,
) -> ApiResult<Vec<(engagements::Model, HomeKey)>> {
    let mut select = access::visible_engagements(viewer, engagements::Entity::find())?;
    if !filter.statuses.is_empty() {
        select = select.filter(engagements::Column::Status.is_in(filter.statuses.clone()));
    }
    if let Some(provider_id) = filter.provider_id {
        select = select.filter(engagements::Column::ProviderId.eq(provider_id));
    }
    if let Some(request_id) = filter.request_id {
        select = select.filter(engagements::Column::SupportRequestId.eq(request_id));
    }
    if filter.kind.is_some() || filter.organisation_id.is_some() {
        select = select.join(
            JoinType::InnerJoin,
            engagements::Relation::SupportRequest.def(),
        );
        if let Some(kind) = filter.kind {
            select = select.filter(support_requests::Column::Kind.eq(kind));
        }
        if let Some(organisation_id) = filter.organisation_id {
            select = select.filter(support_requests::Column::OrganisationId.eq(organisation_id));
        }
    }
    let active_ids = select
        .clone()
        .select_only()
        .column(engagements::Column::Id)
        .filter(engagements::Column::Status.eq(EngagementStatus::Active))
        .into_query();
    let rows = select.all(db).await?;
    let next: HashMap<i64, DateTime<Utc>> = if rows
        .iter()
        .any(|row| row.status == EngagementStatus::Active)
    {
        meetings::Entity::find()
            .select_only()
            .column(meetings::Column::EngagementId)
            .column_as(meetings::Column::StartsAt.min(), "next")
            .filter(meetings::Column::EngagementId.in_subquery(active_ids))
            .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
            .filter(meetings::Column::StartsAt.gte(now))
            .group_by(meetings::Column::EngagementId)
            .into_tuple::<(i64, DateTime<Utc>)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    Ok(rank_for_home(rows, |id| next.get(&id).copied()))
}

/// Puts `rows` in the home order (see the module comment), each with its
/// place in it (the key a cursor carries: `graphql::relay::paginate_ranked`);
/// `next_meeting` gives an engagement's next SCHEDULED meeting's start, by id.
pub fn rank_for_home(
    rows: Vec<engagements::Model>,
    next_meeting: impl Fn(i64) -> Option<DateTime<Utc>>,
) -> Vec<(engagements::Model, HomeKey)> {
    let mut ranked: Vec<(engagements::Model, HomeKey)> = rows
        .into_iter()
        .map(|row| {
            let key = home_order_key(&row, next_meeting(row.id));
            (row, key)
        })
        .collect();
    ranked.sort_by_key(|(_, key)| *key);
    ranked
}

/// An engagement's place in the home order: its group, then a time in
/// microseconds (negated where the newest goes first), then its id (negated
/// likewise): unique, so the order is total.
pub type HomeKey = [i64; 3];

fn home_order_key(row: &engagements::Model, next_meeting: Option<DateTime<Utc>>) -> HomeKey {
    let micros = |at: DateTime<Utc>| at.timestamp_micros();
    match row.status {
        EngagementStatus::Active => match next_meeting {
            Some(at) => [0, micros(at), row.id],
            None => [
                1,
                micros(row.responded_at.unwrap_or(row.proposed_at)),
                row.id,
            ],
        },
        EngagementStatus::Proposed => [2, micros(row.proposed_at), row.id],
        EngagementStatus::Completed
        | EngagementStatus::EndedEarly
        | EngagementStatus::Declined
        | EngagementStatus::Expired => {
            // A lapse writes no date of its own: the lapse is the row's last
            // change (`proposal_followups::lapse_proposals` sets updated_at),
            // and nothing changes an EXPIRED row after it.
            let finished = match row.status {
                EngagementStatus::Expired => row.updated_at,
                _ => row
                    .completed_at
                    .or(row.ended_at)
                    .or(row.responded_at)
                    .unwrap_or(row.proposed_at),
            };
            [3, -micros(finished), -row.id]
        }
    }
}

/// The meetings still to come across the viewer's own engagements — a
/// provider's, or their co-op's for a member — in time order (then by id):
/// SCHEDULED meetings of ACTIVE engagements that have not ended by `now`
/// (one under way is still listed). Empty for staff, who attend none.
pub async fn upcoming_meetings(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> ApiResult<Vec<meetings::Model>> {
    if viewer.is_staff() {
        return Ok(Vec::new());
    }
    let engagements = access::visible_engagements(viewer, engagements::Entity::find())?
        .select_only()
        .column(engagements::Column::Id)
        .filter(engagements::Column::Status.eq(EngagementStatus::Active))
        .into_query();
    let rows = meetings::Entity::find()
        .filter(meetings::Column::EngagementId.in_subquery(engagements))
        .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
        // No meeting lasts over 8 hours (`meetings::check_slot`), so one
        // that started a day ago has ended; the end is checked below.
        .filter(meetings::Column::StartsAt.gt(now - chrono::Duration::days(1)))
        .order_by_asc(meetings::Column::StartsAt)
        .order_by_asc(meetings::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|m| m.starts_at + chrono::Duration::minutes(i64::from(m.duration_minutes)) > now)
        .collect())
}

/// The next SCHEDULED meeting that has not started by `now`, of an
/// engagement's meetings in time order.
pub fn next_meeting(meetings: &[meetings::Model], now: DateTime<Utc>) -> Option<&meetings::Model> {
    meetings
        .iter()
        .find(|m| m.status == MeetingStatus::Scheduled && m.starts_at >= now)
}

/// The latest HELD meeting, of an engagement's meetings in time order.
pub fn last_meeting(meetings: &[meetings::Model]) -> Option<&meetings::Model> {
    meetings
        .iter()
        .rev()
        .find(|m| m.status == MeetingStatus::Held)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn engagement(id: i64, status: EngagementStatus, days_ago: i64) -> engagements::Model {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let at = now - Duration::days(days_ago);
        engagements::Model {
            id,
            support_request_id: id,
            provider_id: 1,
            status,
            days_allocated: 3,
            fee_pence: 0,
            ground_rules: None,
            rematch_of_id: None,
            response_token_hash: None,
            proposed_by_user_id: None,
            proposed_at: at,
            responded_at: (status != EngagementStatus::Proposed).then_some(at),
            decline_reason: None,
            ended_at: (status == EngagementStatus::EndedEarly).then_some(at),
            ended_by_user_id: None,
            end_reason: None,
            completed_at: (status == EngagementStatus::Completed).then_some(at),
            last_chased_at: None,
            inactivity_nudged_at: None,
            inactivity_escalated_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn what_needs_the_viewer_comes_first() {
        let soon = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let later = Utc.with_ymd_and_hms(2026, 12, 9, 9, 0, 0).unwrap();
        let rows = vec![
            engagement(1, EngagementStatus::Completed, 40),
            engagement(2, EngagementStatus::Proposed, 1),
            engagement(3, EngagementStatus::Active, 30),
            engagement(4, EngagementStatus::Active, 20),
            engagement(5, EngagementStatus::Proposed, 5),
            engagement(6, EngagementStatus::Completed, 2),
            engagement(7, EngagementStatus::Active, 10),
            engagement(8, EngagementStatus::Declined, 9),
        ];
        let next = |id| match id {
            3 => Some(later),
            7 => Some(soon),
            _ => None,
        };
        let order: Vec<i64> = rank_for_home(rows, next)
            .iter()
            .map(|(r, _)| r.id)
            .collect();
        // Active by next meeting (7 soon, 3 later), active without one (4),
        // proposed longest waiting first (5, 2), the rest newest first.
        assert_eq!(order, vec![7, 3, 4, 5, 2, 6, 8, 1]);
    }
}
