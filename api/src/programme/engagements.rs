//! Proposals and engagements: staff propose a provider for a request, the
//! provider accepts or declines (signed in, or from the emailed link), staff
//! raise the day allocation, and either party or staff end it early.
//!
//! Each runs as one [`Change`] that locks the request first, then the
//! engagement and the provider, so concurrent proposals and acceptances can
//! never overfill a provider or match a request twice.

use chrono::Utc;
use entity::{
    engagements::{self, EngagementStatus},
    providers,
    support_requests::{self, EngagementKind, SupportRequestStatus},
};
use hive_worker::{
    jobs::match_notifications::{self, Answer, EndedBy},
    tokens::{SecretToken, hash_token, looks_like_token},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};

use super::{change::Change, rules};
use crate::{
    access::{self, Party},
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Highest nominal fee accepted, in pence (£10,000): a typo guard.
pub const MAX_FEE_PENCE: i64 = 1_000_000;

/// A mentoring request takes a mentor; an advice request an adviser.
fn kind_matches(request: EngagementKind, provider: providers::ProviderKind) -> bool {
    matches!(
        (request, provider),
        (EngagementKind::Mentoring, providers::ProviderKind::Mentor)
            | (EngagementKind::Advice, providers::ProviderKind::Adviser)
    )
}

/// How many engagements hold one of the provider's places, for `statuses`.
async fn places_taken(
    change: &Change<'_>,
    provider_id: i64,
    statuses: &[EngagementStatus],
) -> ApiResult<u64> {
    Ok(engagements::Entity::find()
        .filter(engagements::Column::ProviderId.eq(provider_id))
        .filter(engagements::Column::Status.is_in(statuses.iter().copied()))
        .count(change.db())
        .await?)
}

/// Proposes `provider_id` for `request_id` (staff) with `days` allocated and
/// a nominal fee in pence; the provider is emailed a link to answer. Every
/// check runs after the request's and the provider's rows are locked.
pub async fn propose(
    db: &DatabaseConnection,
    public_url: &str,
    viewer: &Viewer,
    request_id: i64,
    provider_id: i64,
    days: i32,
    fee_pence: i64,
) -> ApiResult<engagements::Model> {
    access::require_staff(viewer)?;
    if !(0..=MAX_FEE_PENCE).contains(&fee_pence) {
        return Err(ApiError::bad_input(
            "feePence",
            "Give a fee from 0 to 1,000,000 pence.",
        ));
    }
    let change = Change::begin(db, viewer).await?;
    let request = change.lock_request(request_id).await?;
    if let Some(reason) = rules::request_closed_reason(request.status) {
        return Err(ApiError::conflict(reason));
    }
    let provider = change.lock_provider(provider_id).await?;
    if !kind_matches(request.kind, provider.kind) {
        return Err(ApiError::bad_input(
            "providerId",
            match request.kind {
                EngagementKind::Mentoring => "A mentoring request needs a mentor, not an adviser.",
                EngagementKind::Advice => "An advice request needs an adviser, not a mentor.",
            },
        ));
    }
    if !provider.active {
        return Err(ApiError::conflict("This provider is deactivated."));
    }
    if provider.home_organisation_id == Some(request.organisation_id) {
        return Err(ApiError::bad_input(
            "providerId",
            "A mentor is never matched with their own co-op.",
        ));
    }
    rules::check_days(request.kind, days)
        .map_err(|message| ApiError::bad_input("daysAllocated", message))?;
    let history = engagements::Entity::find()
        .filter(engagements::Column::SupportRequestId.eq(request.id))
        .order_by_desc(engagements::Column::Id)
        .all(change.db())
        .await?;
    if history
        .iter()
        .any(|e| rules::engagement_is_current(e.status))
    {
        return Err(ApiError::conflict(
            "This request already has a proposal or an active engagement.",
        ));
    }
    if history
        .iter()
        .any(|e| e.provider_id == provider.id && rules::engagement_excludes_provider(e.status))
    {
        return Err(ApiError::conflict(
            "This provider declined or ended an earlier engagement on this request.",
        ));
    }
    let load = places_taken(
        &change,
        provider.id,
        &[EngagementStatus::Active, EngagementStatus::Proposed],
    )
    .await?;
    if load >= provider.capacity.max(0) as u64 {
        return Err(ApiError::conflict("This provider has no place free."));
    }
    let rematch_of = history.first().map(|previous| previous.id);

    let token = SecretToken::generate();
    let now = Utc::now();
    let engagement = engagements::ActiveModel {
        support_request_id: Set(request.id),
        provider_id: Set(provider.id),
        status: Set(EngagementStatus::Proposed),
        days_allocated: Set(days),
        fee_pence: Set(fee_pence),
        rematch_of_id: Set(rematch_of),
        response_token_hash: Set(Some(token.hash())),
        proposed_by_user_id: Set(viewer.user.as_ref().map(|u| u.id)),
        proposed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(change.db())
    .await?;
    let mut request_row: support_requests::ActiveModel = request.clone().into();
    request_row.status = Set(SupportRequestStatus::Matching);
    request_row.updated_at = Set(now);
    request_row.update(change.db()).await?;

    match_notifications::proposed(change.db(), public_url, &engagement, &request, &token).await?;
    change
        .audit(
            "proposeMatch",
            Some(("Engagement", engagement.id)),
            Some(serde_json::json!({"supportRequestId": request.id, "providerId": provider.id, "days": days})),
        )
        .await?;
    change.commit().await?;
    Ok(engagement)
}

/// Who is answering a proposal.
pub enum Responder<'a> {
    /// The signed-in provider, by engagement id.
    SignedIn(&'a Viewer, i64),
    /// Whoever holds the emailed link.
    Link(&'a str),
}

/// Accepts or declines a proposal. Accepting makes the engagement ACTIVE and
/// the request MATCHED; declining sends the request back to MATCHING. Either
/// way the emailed link stops working. `reason`: optional, up to 2,000
/// characters, kept on a decline.
pub async fn respond(
    db: &DatabaseConnection,
    public_url: &str,
    responder: Responder<'_>,
    accept: bool,
    reason: Option<String>,
) -> ApiResult<engagements::Model> {
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 2000) {
        return Err(ApiError::bad_input(
            "reason",
            "Keep the reason under 2,000 characters.",
        ));
    }
    let anonymous = Viewer::anonymous();
    let (actor, by_link) = match &responder {
        Responder::SignedIn(viewer, _) => (*viewer, false),
        Responder::Link(_) => (&anonymous, true),
    };
    // Find the engagement before the write transaction (an unknown link
    // takes no write lock), then lock it (its request first) and read it
    // again inside.
    let found = match &responder {
        Responder::SignedIn(_, id) => engagements::Entity::find_by_id(*id).one(db).await?,
        Responder::Link(token) if looks_like_token(token) => {
            engagements::Entity::find()
                .filter(engagements::Column::ResponseTokenHash.eq(hash_token(token)))
                .one(db)
                .await?
        }
        Responder::Link(_) => None,
    };
    let Some(found) = found else {
        return Err(if by_link {
            ApiError::not_found("This link is not valid, or the proposal was already answered.")
        } else {
            ApiError::not_found("No engagement has that id.")
        });
    };
    if !by_link && access::party(db, actor, &found).await? != Party::Provider {
        return Err(ApiError::forbidden(
            "Only the proposed provider answers a proposal.",
        ));
    }
    let change = Change::begin(db, actor).await?;
    let engagement = change.lock_engagement(found.id).await?;
    let request = change.lock_request(engagement.support_request_id).await?;
    let provider = change.lock_provider(engagement.provider_id).await?;
    if engagement.status != EngagementStatus::Proposed {
        return Err(ApiError::conflict(
            "This proposal has already been answered or has lapsed.",
        ));
    }
    let now = Utc::now();
    let mut row: engagements::ActiveModel = engagement.clone().into();
    row.responded_at = Set(Some(now));
    row.response_token_hash = Set(None);
    row.updated_at = Set(now);
    let mut request_row: support_requests::ActiveModel = request.clone().into();
    request_row.updated_at = Set(now);
    let updated = if accept {
        if let Some(why) = rules::request_closed_reason(request.status) {
            return Err(ApiError::conflict(why));
        }
        // Deactivation withdraws open proposals; this also refuses any left
        // from before it did.
        if !provider.active {
            return Err(ApiError::conflict(
                "You are no longer taking part in the programme, so this proposal cannot be accepted.",
            ));
        }
        let active = places_taken(&change, provider.id, &[EngagementStatus::Active]).await?;
        if active >= provider.capacity.max(0) as u64 {
            return Err(ApiError::conflict(
                "You have no place free: your capacity is full.",
            ));
        }
        row.status = Set(EngagementStatus::Active);
        let updated = row
            .update(change.db())
            .await
            .map_err(|error| match error.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                    ApiError::conflict("This request is already matched.")
                }
                _ => error.into(),
            })?;
        request_row.status = Set(SupportRequestStatus::Matched);
        request_row.update(change.db()).await?;
        updated
    } else {
        row.status = Set(EngagementStatus::Declined);
        row.decline_reason = Set(reason.clone());
        let updated = row.update(change.db()).await?;
        if rules::request_is_open(request.status) {
            request_row.status = Set(SupportRequestStatus::Matching);
            request_row.update(change.db()).await?;
        }
        updated
    };
    let answer = if accept {
        Answer::Accepted
    } else {
        Answer::Declined
    };
    match_notifications::answered(
        change.db(),
        public_url,
        &updated,
        &request,
        answer,
        reason.as_deref(),
    )
    .await?;
    change
        .audit(
            if accept {
                "acceptMatch"
            } else {
                "declineMatch"
            },
            Some(("Engagement", updated.id)),
            Some(serde_json::json!({ "byLink": by_link })),
        )
        .await?;
    change.commit().await?;
    Ok(updated)
}

/// Ends an ACTIVE engagement early (either party or staff), saying why (up
/// to 2,000 characters): the request goes back to MATCHING, that provider is
/// not suggested for it again, its scheduled meetings are cancelled (with
/// their calendar cancellations), and both parties and staff are told.
pub async fn end_early(
    db: &DatabaseConnection,
    settings: &hive_worker::Settings,
    viewer: &Viewer,
    engagement_id: i64,
    reason: &str,
) -> ApiResult<engagements::Model> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(ApiError::bad_input(
            "reason",
            "Say why, in up to 2,000 characters.",
        ));
    }
    let user = viewer.require_user()?;
    let change = Change::begin(db, viewer).await?;
    let engagement = change.lock_engagement(engagement_id).await?;
    let party = access::party(change.db(), viewer, &engagement).await?;
    if party == Party::Outsider {
        return Err(ApiError::forbidden(
            "Only the two parties and staff end an engagement.",
        ));
    }
    if engagement.status != EngagementStatus::Active {
        return Err(ApiError::conflict(
            "Only an active engagement can be ended early.",
        ));
    }
    let request = change.lock_request(engagement.support_request_id).await?;
    let now = Utc::now();
    let mut row: engagements::ActiveModel = engagement.into();
    row.status = Set(EngagementStatus::EndedEarly);
    row.ended_at = Set(Some(now));
    row.ended_by_user_id = Set(Some(user.id));
    row.end_reason = Set(Some(reason.to_string()));
    row.updated_at = Set(now);
    let updated = row.update(change.db()).await?;
    super::meetings::cancel_all_scheduled(change.db(), settings, &updated).await?;
    let mut request_row: support_requests::ActiveModel = request.clone().into();
    request_row.status = Set(SupportRequestStatus::Matching);
    request_row.updated_at = Set(now);
    request_row.update(change.db()).await?;

    let ended_by = match party {
        Party::Provider => EndedBy::Provider,
        Party::ClientMember => EndedBy::Client,
        _ => EndedBy::Staff,
    };
    match_notifications::ended_early(change.db(), &updated, &request, ended_by).await?;
    // Who and why are on the engagement; the trail keeps only that it happened.
    change
        .audit("endEngagement", Some(("Engagement", updated.id)), None)
        .await?;
    change.commit().await?;
    Ok(updated)
}

/// Raises an engagement's day allocation (staff), within the kind's range
/// (mentoring 3–4, advice 2–7). Lowering is refused: days may be planned on it.
pub async fn raise_allocation(
    db: &DatabaseConnection,
    viewer: &Viewer,
    engagement_id: i64,
    days_allocated: i32,
) -> ApiResult<engagements::Model> {
    access::require_staff(viewer)?;
    let change = Change::begin(db, viewer).await?;
    let engagement = change.lock_engagement(engagement_id).await?;
    if !matches!(
        engagement.status,
        EngagementStatus::Proposed | EngagementStatus::Active
    ) {
        return Err(ApiError::conflict(
            "Only a proposed or active engagement's allocation can change.",
        ));
    }
    let request = change.lock_request(engagement.support_request_id).await?;
    rules::check_days(request.kind, days_allocated)
        .map_err(|message| ApiError::bad_input("daysAllocated", message))?;
    if days_allocated < engagement.days_allocated {
        return Err(ApiError::bad_input(
            "daysAllocated",
            format!(
                "The allocation is {} days; it can be raised, not lowered.",
                engagement.days_allocated
            ),
        ));
    }
    let before = engagement.days_allocated;
    let mut row: engagements::ActiveModel = engagement.into();
    row.days_allocated = Set(days_allocated);
    row.updated_at = Set(Utc::now());
    let updated = row.update(change.db()).await?;
    change
        .audit(
            "raiseAllocation",
            Some(("Engagement", updated.id)),
            Some(serde_json::json!({"from": before, "to": days_allocated})),
        )
        .await?;
    change.commit().await?;
    Ok(updated)
}
