//! Support requests: a co-op asks for help (a member for their own co-op,
//! staff on a co-op's behalf), staff decline one they will not match, and the
//! co-op or staff withdraw one not yet matched. Matching itself is in
//! `engagements`.

use chrono::Utc;
use entity::{
    engagements::{self, EngagementStatus},
    meetings::MeetingFormat,
    support_request_formats, support_request_topics,
    support_requests::{self, EngagementKind, SupportRequestStatus},
    users::Role,
};
use hive_worker::jobs::proposal_followups::lapse_proposals;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};

use super::{
    change::Change,
    rules,
    vocabulary::{Vocabulary, current_terms},
};
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// A request as asked for.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// The co-op asking; a member may leave it out (their own co-op).
    pub organisation_id: Option<i64>,
    pub kind: EngagementKind,
    pub topic_ids: Vec<i64>,
    /// What the co-op wants to achieve (1 to 4,000 characters once trimmed).
    pub goals: String,
    /// How they would like to meet, if they mind; repeats are dropped.
    pub preferred_formats: Vec<MeetingFormat>,
}

/// Submits a request (a member for their own co-op, or staff for any):
/// SUBMITTED, waiting for staff to match it.
pub async fn submit(
    db: &DatabaseConnection,
    viewer: &Viewer,
    input: NewRequest,
) -> ApiResult<support_requests::Model> {
    let user = viewer.require_user()?;
    let organisation_id = match (input.organisation_id, user.role) {
        (Some(id), _) => id,
        (None, Role::Member) => user
            .organisation_id
            .ok_or_else(|| ApiError::forbidden("You belong to no co-op."))?,
        (None, _) => {
            return Err(ApiError::bad_input(
                "organisationId",
                "Say which co-op is asking.",
            ));
        }
    };
    if !access::may_ask_for(viewer, organisation_id) {
        return Err(ApiError::forbidden(
            "Members ask for help for their own co-op only.",
        ));
    }
    let goals = input.goals.trim();
    if goals.is_empty() || goals.chars().count() > 4000 {
        return Err(ApiError::bad_input(
            "goals",
            "Say what the co-op wants to achieve, in up to 4,000 characters.",
        ));
    }
    if input.topic_ids.is_empty() {
        return Err(ApiError::bad_input("topicIds", "Name at least one topic."));
    }
    let mut formats: Vec<MeetingFormat> = Vec::new();
    for format in input.preferred_formats {
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    let change = Change::begin(db, viewer).await?;
    // Held from changing until the request is in, so an erasure of the co-op
    // (which locks it) either came first and refuses this, or waits.
    let organisation = change
        .lock_shared(
            entity::organisations::Entity::find_by_id(organisation_id),
            "No organisation has that id.",
        )
        .await?;
    super::organisations::still_taking_part(&organisation)?;
    let topic_ids =
        current_terms(change.db(), Vocabulary::Topic, "topicIds", &input.topic_ids).await?;
    let now = Utc::now();
    let request = support_requests::ActiveModel {
        organisation_id: Set(organisation_id),
        kind: Set(input.kind),
        goals: Set(goals.to_string()),
        status: Set(SupportRequestStatus::Submitted),
        submitted_by_user_id: Set(Some(user.id)),
        decline_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        closed_at: Set(None),
        ..Default::default()
    }
    .insert(change.db())
    .await?;
    add_topics(&change, request.id, &topic_ids).await?;
    if !formats.is_empty() {
        support_request_formats::Entity::insert_many(formats.iter().map(|format| {
            support_request_formats::ActiveModel {
                support_request_id: Set(request.id),
                format: Set(*format),
            }
        }))
        .exec_without_returning(change.db())
        .await?;
    }
    change
        .audit(
            "submitSupportRequest",
            Some(("SupportRequest", request.id)),
            None,
        )
        .await?;
    change.commit().await?;
    Ok(request)
}

/// Records what a new request is about (at least one topic, already
/// checked to be current).
pub(super) async fn add_topics(
    change: &Change<'_>,
    request_id: i64,
    topic_ids: &[i64],
) -> ApiResult<()> {
    support_request_topics::Entity::insert_many(topic_ids.iter().map(|id| {
        support_request_topics::ActiveModel {
            support_request_id: Set(request_id),
            topic_id: Set(*id),
        }
    }))
    .exec_without_returning(change.db())
    .await?;
    Ok(())
}

/// Locks a request the viewer may see and may still change: NOT_FOUND,
/// FORBIDDEN or CONFLICT (closed) otherwise.
async fn open_request(change: &Change<'_>, id: i64) -> ApiResult<support_requests::Model> {
    let request = change.lock_request(id).await?;
    if !access::may_see_request(change.db(), change.viewer(), &request).await? {
        return Err(ApiError::forbidden("You may not see this support request."));
    }
    if let Some(reason) = rules::request_closed_reason(request.status) {
        return Err(ApiError::conflict(reason));
    }
    Ok(request)
}

/// The co-op (or staff) withdraws a request that is not yet matched. Any
/// proposal still awaiting an answer lapses (EXPIRED) and its link stops
/// working.
pub async fn withdraw(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i64,
) -> ApiResult<support_requests::Model> {
    access::require_role(viewer, &[Role::Staff, Role::Member])?;
    let change = Change::begin(db, viewer).await?;
    let request = open_request(&change, id).await?;
    let now = Utc::now();
    lapse_proposals(now)
        .filter(engagements::Column::SupportRequestId.eq(request.id))
        .exec(change.db())
        .await?;
    let mut row: support_requests::ActiveModel = request.into();
    row.status = Set(SupportRequestStatus::Withdrawn);
    row.closed_at = Set(Some(now));
    row.updated_at = Set(now);
    let updated = row.update(change.db()).await?;
    change
        .audit(
            "withdrawSupportRequest",
            Some(("SupportRequest", updated.id)),
            None,
        )
        .await?;
    change.commit().await?;
    Ok(updated)
}

/// Staff decline a request they will not match, saying why (1 to 2,000
/// characters). CONFLICT while a proposal on it awaits an answer.
pub async fn decline(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i64,
    reason: &str,
) -> ApiResult<support_requests::Model> {
    access::require_staff(viewer)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(ApiError::bad_input(
            "reason",
            "Say why, in up to 2,000 characters.",
        ));
    }
    let change = Change::begin(db, viewer).await?;
    let request = open_request(&change, id).await?;
    let outstanding = engagements::Entity::find()
        .filter(engagements::Column::SupportRequestId.eq(request.id))
        .filter(engagements::Column::Status.eq(EngagementStatus::Proposed))
        .count(change.db())
        .await?;
    if outstanding > 0 {
        return Err(ApiError::conflict(
            "A proposal on this request awaits an answer.",
        ));
    }
    let now = Utc::now();
    let mut row: support_requests::ActiveModel = request.into();
    row.status = Set(SupportRequestStatus::Declined);
    row.decline_reason = Set(Some(reason.to_string()));
    row.closed_at = Set(Some(now));
    row.updated_at = Set(now);
    let updated = row.update(change.db()).await?;
    change
        .audit(
            "declineSupportRequest",
            Some(("SupportRequest", updated.id)),
            None,
        )
        .await?;
    change.commit().await?;
    Ok(updated)
}
