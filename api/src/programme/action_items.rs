//! What needs a mentor, an adviser or a co-op's member now — the personal
//! half of the home screen's "needs me now" (staff's half is the digest's,
//! `hive_worker::jobs::staff_digest::action_items`):
//!
//! - a provider's proposals awaiting their answer (oldest first);
//! - a provider's meetings to record: SCHEDULED meetings of their ACTIVE
//!   engagements whose time has passed, not yet recorded as held or
//!   cancelled (earliest first);
//! - reviews to give, for a provider or a member: the party's review of a
//!   COMPLETED engagement, asked for and not yet answered (oldest first);
//! - a member's surveys open to answer: their co-op's invitations to OPEN
//!   surveys not yet answered (the soonest closing first).
//!
//! Each item is what it concerns (a GraphQL type and row id), since when it
//! has waited (UTC) and one line saying it. Staff have none of these (they
//! give no reviews and answer no surveys); the other role's sections are
//! empty for each.

use chrono::{DateTime, Duration, Utc};
use entity::{
    engagements::{self, EngagementStatus},
    meetings::{self, MeetingStatus},
    organisations, providers,
    reviews::{self, ReviewParty},
    support_requests, survey_invitations,
    surveys::{self, SurveyStatus},
    users::{self, Role},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use crate::{access, auth::Viewer, error::ApiResult};

/// What a personal action item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concerning {
    Engagement(i64),
    Meeting(i64),
    /// A survey the co-op is invited to answer: the survey's id. A member
    /// answers from the emailed link, not signed in.
    Survey(i64),
}

/// One thing that needs the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalItem {
    pub concerning: Concerning,
    pub since: DateTime<Utc>,
    pub text: String,
}

/// The co-op's name and the provider's name of each engagement, by id.
async fn names(
    db: &impl ConnectionTrait,
    rows: &[engagements::Model],
) -> ApiResult<std::collections::HashMap<i64, (String, String)>> {
    let requests = support_requests::Entity::find()
        .filter(support_requests::Column::Id.is_in(rows.iter().map(|e| e.support_request_id)))
        .find_also_related(organisations::Entity)
        .all(db)
        .await?;
    let people = providers::Entity::find()
        .filter(providers::Column::Id.is_in(rows.iter().map(|e| e.provider_id)))
        .find_also_related(users::Entity)
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .map(|e| {
            let coop = requests
                .iter()
                .find(|(r, _)| r.id == e.support_request_id)
                .and_then(|(_, o)| o.as_ref().map(|o| o.name.clone()))
                .unwrap_or_default();
            let provider = people
                .iter()
                .find(|(p, _)| p.id == e.provider_id)
                .and_then(|(_, u)| u.as_ref().map(|u| u.name.clone()))
                .unwrap_or_default();
            (e.id, (coop, provider))
        })
        .collect())
}

/// A provider's proposals awaiting their answer, oldest first.
pub async fn proposals_awaiting_answer(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
) -> ApiResult<Vec<PersonalItem>> {
    if !is_provider(viewer) {
        return Ok(Vec::new());
    }
    let rows = access::visible_engagements(viewer, engagements::Entity::find())?
        .filter(engagements::Column::Status.eq(EngagementStatus::Proposed))
        .order_by_asc(engagements::Column::ProposedAt)
        .order_by_asc(engagements::Column::Id)
        .all(db)
        .await?;
    let names = names(db, &rows).await?;
    Ok(rows
        .iter()
        .map(|e| PersonalItem {
            concerning: Concerning::Engagement(e.id),
            since: e.proposed_at,
            text: format!(
                "{} asks for your help: accept or decline the proposal",
                names[&e.id].0
            ),
        })
        .collect())
}

/// A provider's meetings whose time has passed at `now` and that are not
/// yet recorded (held or cancelled), earliest first.
pub async fn meetings_to_record(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> ApiResult<Vec<PersonalItem>> {
    if !is_provider(viewer) {
        return Ok(Vec::new());
    }
    let engagements = access::visible_engagements(viewer, engagements::Entity::find())?
        .filter(engagements::Column::Status.eq(EngagementStatus::Active))
        .all(db)
        .await?;
    let names = names(db, &engagements).await?;
    let rows = meetings::Entity::find()
        .filter(meetings::Column::EngagementId.is_in(engagements.iter().map(|e| e.id)))
        .filter(meetings::Column::Status.eq(MeetingStatus::Scheduled))
        .filter(meetings::Column::StartsAt.lt(now))
        .order_by_asc(meetings::Column::StartsAt)
        .order_by_asc(meetings::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| {
            (
                m.starts_at + Duration::minutes(i64::from(m.duration_minutes)),
                m,
            )
        })
        .filter(|(ends, _)| *ends <= now)
        .map(|(ends, m)| PersonalItem {
            concerning: Concerning::Meeting(m.id),
            since: ends,
            text: format!(
                "Record the meeting with {} on {}: held or not, and the days it used",
                names
                    .get(&m.engagement_id)
                    .map(|n| n.0.as_str())
                    .unwrap_or_default(),
                hive_worker::notify::london_date(m.starts_at)
            ),
        })
        .collect())
}

/// The reviews the viewer's side still owes: their party's review of each
/// COMPLETED engagement of theirs, asked for and not answered, oldest
/// request first.
pub async fn reviews_to_give(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
) -> ApiResult<Vec<PersonalItem>> {
    let party = match viewer.role() {
        Some(Role::Mentor | Role::Adviser) => ReviewParty::Provider,
        Some(Role::Member) => ReviewParty::Client,
        _ => return Ok(Vec::new()),
    };
    let completed = access::visible_engagements(viewer, engagements::Entity::find())?
        .filter(engagements::Column::Status.eq(EngagementStatus::Completed))
        .select_only()
        .column(engagements::Column::Id)
        .into_query();
    let rows = reviews::Entity::find()
        .filter(reviews::Column::EngagementId.in_subquery(completed))
        .filter(reviews::Column::Party.eq(party))
        .filter(reviews::Column::SubmittedAt.is_null())
        .order_by_asc(reviews::Column::RequestedAt)
        .order_by_asc(reviews::Column::Id)
        .all(db)
        .await?;
    let engagements = engagements::Entity::find()
        .filter(engagements::Column::Id.is_in(rows.iter().map(|r| r.engagement_id)))
        .all(db)
        .await?;
    let names = names(db, &engagements).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (coop, provider) = names.get(&r.engagement_id).cloned().unwrap_or_default();
            let other = match party {
                ReviewParty::Provider => coop,
                ReviewParty::Client => provider,
            };
            PersonalItem {
                concerning: Concerning::Engagement(r.engagement_id),
                since: r.requested_at,
                text: format!("Review your engagement with {other}"),
            }
        })
        .collect())
}

/// A member's co-op's invitations to OPEN surveys not yet answered, the
/// soonest closing first (those with no closing date last).
pub async fn surveys_to_answer(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
) -> ApiResult<Vec<PersonalItem>> {
    let Some(user) = viewer.user.as_ref() else {
        return Ok(Vec::new());
    };
    let (Role::Member, Some(organisation_id)) = (user.role, user.organisation_id) else {
        return Ok(Vec::new());
    };
    let mut rows = survey_invitations::Entity::find()
        .find_also_related(surveys::Entity)
        .filter(survey_invitations::Column::OrganisationId.eq(organisation_id))
        .filter(survey_invitations::Column::RespondedAt.is_null())
        .filter(surveys::Column::Status.eq(SurveyStatus::Open))
        .all(db)
        .await?;
    rows.sort_by_key(|(invitation, survey)| {
        let closes = survey.as_ref().and_then(|s| s.closes_at);
        (closes.is_none(), closes, invitation.id)
    });
    Ok(rows
        .into_iter()
        .filter_map(|(invitation, survey)| {
            let survey = survey?;
            let closes = survey
                .closes_at
                .map(|at| format!(" by {}", hive_worker::notify::london_date(at)))
                .unwrap_or_default();
            // Whose mailbox the link went to, without naming a colleague's
            // address (members do not see each other's: `User.email`).
            let mailbox = if invitation.email.eq_ignore_ascii_case(&user.email) {
                "you"
            } else {
                "your co-op"
            };
            Some(PersonalItem {
                concerning: Concerning::Survey(survey.id),
                since: invitation.sent_at.unwrap_or(invitation.created_at),
                text: format!(
                    "Answer \"{}\"{closes}, from the link emailed to {mailbox}",
                    survey.title
                ),
            })
        })
        .collect())
}

fn is_provider(viewer: &Viewer) -> bool {
    matches!(viewer.role(), Some(Role::Mentor | Role::Adviser))
}
