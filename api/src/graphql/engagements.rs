//! Proposals and engagements: staff propose a provider for a request, the
//! provider accepts or declines (signed in, or from the emailed link). The
//! capacity and request checks and the change happen in one transaction that
//! holds the request's row (and the provider's) locked, so concurrent
//! proposals and acceptances can never overfill a provider or match a request
//! twice.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
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
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{
    loaders::{EngagementMeetingsKey, EngagementReviewsKey, Loaders, ProviderKey},
    providers::Provider,
    relay::{NodeType, decode_id_of, global_id},
    support_requests::{SupportRequest, lock_request},
};
use crate::{
    audit,
    auth::{RoleGuard, Viewer, viewer},
    error::{ApiError, ApiResult},
    rules,
    state::AppState,
};

/// Where an engagement stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "EngagementStatus",
    remote = "entity::engagements::EngagementStatus"
)]
pub enum Status {
    Proposed,
    Active,
    Completed,
    Declined,
    Expired,
    EndedEarly,
}

/// Highest nominal fee accepted, in pence (£10,000): a typo guard.
const MAX_FEE_PENCE: i64 = 1_000_000;

/// A provider working with a co-op on one request, from proposal onwards.
pub struct Engagement(pub engagements::Model);

impl Engagement {
    /// Its meetings in time order, through the request's loader: a list of
    /// engagements costs one query for all their meetings.
    async fn meeting_rows(&self, ctx: &Context<'_>) -> ApiResult<Vec<entity::meetings::Model>> {
        Ok(ctx
            .data_unchecked::<Loaders>()
            .load_one(EngagementMeetingsKey(self.0.id))
            .await?
            .unwrap_or_default())
    }
}

#[Object]
impl Engagement {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Engagement, self.0.id)
    }
    async fn status(&self) -> Status {
        self.0.status.into()
    }
    async fn support_request(&self, ctx: &Context<'_>) -> ApiResult<SupportRequest> {
        let state = ctx.data_unchecked::<AppState>();
        support_requests::Entity::find_by_id(self.0.support_request_id)
            .one(&state.db)
            .await?
            .map(SupportRequest)
            .ok_or_else(|| ApiError::internal("engagement without request"))
    }
    async fn provider(&self, ctx: &Context<'_>) -> ApiResult<Provider> {
        ctx.data_unchecked::<Loaders>()
            .load_one(ProviderKey(self.0.provider_id))
            .await?
            .map(Provider)
            .ok_or_else(|| ApiError::internal("engagement without provider"))
    }
    async fn days_allocated(&self) -> i32 {
        self.0.days_allocated
    }
    /// The nominal fee, in pence.
    async fn fee_pence(&self) -> i64 {
        self.0.fee_pence
    }
    async fn proposed_at(&self) -> DateTime<Utc> {
        self.0.proposed_at
    }
    async fn responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.responded_at
    }
    /// Why it was ended early, and when.
    async fn end_reason(&self) -> Option<&str> {
        self.0.end_reason.as_deref()
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// The provider's reason, when they declined.
    async fn decline_reason(&self) -> Option<&str> {
        self.0.decline_reason.as_deref()
    }
    /// What the two parties agreed about how they work together.
    async fn ground_rules(&self) -> Option<&str> {
        self.0.ground_rules.as_deref()
    }
    /// Days used so far: the sum of held meetings' days.
    async fn days_used(&self, ctx: &Context<'_>) -> ApiResult<f64> {
        Ok(crate::programme::meetings::held_days(
            &self.meeting_rows(ctx).await?,
        ))
    }
    /// The timetable, in time order; private fields answer to the viewer's part.
    async fn meetings(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::meetings::Meeting>> {
        let state = ctx.data_unchecked::<AppState>();
        let party = crate::access::party(&state.db, viewer(ctx), &self.0).await?;
        Ok(self
            .meeting_rows(ctx)
            .await?
            .into_iter()
            .map(|row| super::meetings::Meeting { row, party })
            .collect())
    }
    /// When the final meeting was recorded as held.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// The final reviews, one per party, once the engagement is completed:
    /// for staff and the engagement's two parties (FORBIDDEN to anyone else).
    async fn reviews(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::reviews::Review>> {
        let state = ctx.data_unchecked::<AppState>();
        super::reviews::may_read_reviews(&state.db, viewer(ctx), &self.0).await?;
        Ok(ctx
            .data_unchecked::<Loaders>()
            .load_one(EngagementReviewsKey(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(super::reviews::Review)
            .collect())
    }
    /// The earlier engagement on the same request that this one replaces.
    async fn rematch_of(&self) -> Option<ID> {
        self.0
            .rematch_of_id
            .map(|id| global_id(NodeType::Engagement, id))
    }
}

/// Loads an engagement the viewer is a party to (staff, the co-op's
/// members, its own provider: `access::party`).
pub async fn load_engagement(ctx: &Context<'_>, id: &ID) -> ApiResult<engagements::Model> {
    let state = ctx.data_unchecked::<AppState>();
    let id = decode_id_of(NodeType::Engagement, id)?;
    let engagement = engagements::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("No engagement has that id."))?;
    if crate::access::party(&state.db, viewer(ctx), &engagement).await?
        == crate::access::Party::Outsider
    {
        return Err(ApiError::forbidden("You may not see this engagement."));
    }
    Ok(engagement)
}

async fn lock_provider(conn: &impl ConnectionTrait, id: i64) -> ApiResult<providers::Model> {
    let mut select = providers::Entity::find_by_id(id);
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        select = select.lock_exclusive();
    }
    select
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("No provider has that id."))
}

fn kind_matches(request: EngagementKind, provider: providers::ProviderKind) -> bool {
    matches!(
        (request, provider),
        (EngagementKind::Mentoring, providers::ProviderKind::Mentor)
            | (EngagementKind::Advice, providers::ProviderKind::Adviser)
    )
}

/// Proposes `provider_id` for `request_id`. All checks run inside the
/// transaction, after the request's and provider's rows are locked.
pub async fn propose(
    db: &DatabaseConnection,
    public_url: &str,
    viewer: &Viewer,
    request_id: i64,
    provider_id: i64,
    days: i32,
    fee_pence: i64,
) -> ApiResult<engagements::Model> {
    if !(0..=MAX_FEE_PENCE).contains(&fee_pence) {
        return Err(ApiError::bad_input(
            "feePence",
            "Give a fee from 0 to 1,000,000 pence.",
        ));
    }
    let txn = hive_worker::db::begin_write(db).await?;
    let request = lock_request(&txn, request_id).await?;
    if let Some(reason) = rules::request_closed_reason(request.status) {
        return Err(ApiError::conflict(reason));
    }
    let provider = lock_provider(&txn, provider_id).await?;
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
        .all(&txn)
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
    let load = engagements::Entity::find()
        .filter(engagements::Column::ProviderId.eq(provider.id))
        .filter(
            engagements::Column::Status
                .is_in([EngagementStatus::Active, EngagementStatus::Proposed]),
        )
        .count(&txn)
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
    .insert(&txn)
    .await?;
    let mut request_row: support_requests::ActiveModel = request.clone().into();
    request_row.status = Set(SupportRequestStatus::Matching);
    request_row.updated_at = Set(now);
    request_row.update(&txn).await?;

    match_notifications::proposed(&txn, public_url, &engagement, &request, &token).await?;
    audit::record(
        &txn,
        viewer,
        "proposeMatch",
        Some(("Engagement", engagement.id)),
        Some(serde_json::json!({"supportRequestId": request.id, "providerId": provider.id, "days": days})),
    )
    .await?;
    txn.commit().await?;
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
/// way the emailed link stops working.
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
    // Find the engagement (outside the lock), then lock its request and re-read it.
    let found = match &responder {
        Responder::SignedIn(_, id) => engagements::Entity::find_by_id(*id).one(db).await?,
        Responder::Link(token) => {
            if !looks_like_token(token) {
                return Err(ApiError::not_found("This link is not valid."));
            }
            engagements::Entity::find()
                .filter(engagements::Column::ResponseTokenHash.eq(hash_token(token)))
                .one(db)
                .await?
        }
    };
    let Some(found) = found else {
        return Err(match responder {
            Responder::SignedIn(..) => ApiError::not_found("No engagement has that id."),
            Responder::Link(_) => {
                ApiError::not_found("This link is not valid, or the proposal was already answered.")
            }
        });
    };
    let actor = match &responder {
        Responder::SignedIn(viewer, _) => {
            let user = viewer.require_user()?;
            let provider = providers::Entity::find_by_id(found.provider_id)
                .one(db)
                .await?
                .ok_or_else(|| ApiError::internal("engagement without provider"))?;
            if provider.user_id != user.id {
                return Err(ApiError::forbidden(
                    "Only the proposed provider answers a proposal.",
                ));
            }
            (*viewer).clone()
        }
        Responder::Link(_) => Viewer::anonymous(),
    };

    let txn = hive_worker::db::begin_write(db).await?;
    let request = lock_request(&txn, found.support_request_id).await?;
    let provider = lock_provider(&txn, found.provider_id).await?;
    let engagement = engagements::Entity::find_by_id(found.id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("No engagement has that id."))?;
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
        let active = engagements::Entity::find()
            .filter(engagements::Column::ProviderId.eq(provider.id))
            .filter(engagements::Column::Status.eq(EngagementStatus::Active))
            .count(&txn)
            .await?;
        if active >= provider.capacity.max(0) as u64 {
            return Err(ApiError::conflict(
                "You have no place free: your capacity is full.",
            ));
        }
        row.status = Set(EngagementStatus::Active);
        let updated = row
            .update(&txn)
            .await
            .map_err(|error| match error.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                    ApiError::conflict("This request is already matched.")
                }
                _ => error.into(),
            })?;
        request_row.status = Set(SupportRequestStatus::Matched);
        request_row.update(&txn).await?;
        updated
    } else {
        row.status = Set(EngagementStatus::Declined);
        row.decline_reason = Set(reason.clone());
        let updated = row.update(&txn).await?;
        if rules::request_is_open(request.status) {
            request_row.status = Set(SupportRequestStatus::Matching);
            request_row.update(&txn).await?;
        }
        updated
    };
    let answer = if accept {
        Answer::Accepted
    } else {
        Answer::Declined
    };
    match_notifications::answered(
        &txn,
        public_url,
        &updated,
        &request,
        answer,
        reason.as_deref(),
    )
    .await?;
    audit::record(
        &txn,
        &actor,
        if accept {
            "acceptMatch"
        } else {
            "declineMatch"
        },
        Some(("Engagement", updated.id)),
        Some(serde_json::json!({ "byLink": matches!(responder, Responder::Link(_)) })),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Ends an ACTIVE engagement early (either party or staff): the request goes
/// back to MATCHING, that provider is not suggested for it again, its
/// scheduled meetings are cancelled (with their calendar cancellations), and
/// both parties and staff are told.
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
    let found = engagements::Entity::find_by_id(engagement_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("No engagement has that id."))?;
    let party = crate::access::party(db, viewer, &found).await?;
    if party == crate::access::Party::Outsider {
        return Err(ApiError::forbidden(
            "Only the two parties and staff end an engagement.",
        ));
    }
    let txn = hive_worker::db::begin_write(db).await?;
    let request = lock_request(&txn, found.support_request_id).await?;
    let engagement = engagements::Entity::find_by_id(found.id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("No engagement has that id."))?;
    if engagement.status != EngagementStatus::Active {
        return Err(ApiError::conflict(
            "Only an active engagement can be ended early.",
        ));
    }
    let now = Utc::now();
    let mut row: engagements::ActiveModel = engagement.clone().into();
    row.status = Set(EngagementStatus::EndedEarly);
    row.ended_at = Set(Some(now));
    row.ended_by_user_id = Set(Some(user.id));
    row.end_reason = Set(Some(reason.to_string()));
    row.updated_at = Set(now);
    let updated = row.update(&txn).await?;
    crate::programme::meetings::cancel_all_scheduled(&txn, settings, &updated).await?;
    let mut request_row: support_requests::ActiveModel = request.clone().into();
    request_row.status = Set(SupportRequestStatus::Matching);
    request_row.updated_at = Set(now);
    request_row.update(&txn).await?;

    let ended_by = match party {
        crate::access::Party::Provider => EndedBy::Provider,
        crate::access::Party::ClientMember => EndedBy::Client,
        _ => EndedBy::Staff,
    };
    match_notifications::ended_early(&txn, &updated, &request, ended_by).await?;
    // Who and why are on the engagement; the trail keeps only that it happened.
    audit::record(
        &txn,
        viewer,
        "endEngagement",
        Some(("Engagement", updated.id)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

#[derive(Default)]
pub struct EngagementQuery;

#[Object]
impl EngagementQuery {
    /// One engagement, if the viewer may see its request.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn engagement(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Engagement> {
        load_engagement(ctx, &id).await.map(Engagement)
    }
}

#[derive(Default)]
pub struct EngagementMutation;

#[Object]
impl EngagementMutation {
    /// Proposes a provider for a request (staff); the provider is emailed a
    /// link to accept or decline. `daysAllocated`: 3–4 for mentoring, 2–7 for
    /// advice; `feePence`: the nominal fee.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn propose_match(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
        provider_id: ID,
        days_allocated: i32,
        fee_pence: i64,
    ) -> ApiResult<Engagement> {
        let state = ctx.data_unchecked::<AppState>();
        let request_id = decode_id_of(NodeType::SupportRequest, &request_id)?;
        let provider_id = decode_id_of(NodeType::Provider, &provider_id)?;
        let engagement = propose(
            &state.db,
            &state.settings.public_url,
            viewer(ctx),
            request_id,
            provider_id,
            days_allocated,
            fee_pence,
        )
        .await?;
        state.outbox_signal.notify_one();
        Ok(Engagement(engagement))
    }

    /// Raises an engagement's day allocation (staff), within the kind's range
    /// (mentoring 3–4, advice 2–7). Lowering is refused: days may be planned on it.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn raise_allocation(
        &self,
        ctx: &Context<'_>,
        engagement_id: ID,
        days_allocated: i32,
    ) -> ApiResult<Engagement> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let engagement = engagements::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::not_found("No engagement has that id."))?;
        if !matches!(
            engagement.status,
            EngagementStatus::Proposed | EngagementStatus::Active
        ) {
            return Err(ApiError::conflict(
                "Only a proposed or active engagement's allocation can change.",
            ));
        }
        let request = lock_request(&txn, engagement.support_request_id).await?;
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
        let updated = row.update(&txn).await?;
        audit::record(
            &txn,
            viewer(ctx),
            "raiseAllocation",
            Some(("Engagement", updated.id)),
            Some(serde_json::json!({"from": before, "to": days_allocated})),
        )
        .await?;
        txn.commit().await?;
        Ok(Engagement(updated))
    }

    /// Ends an active engagement early, saying why (either party or staff).
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn end_engagement(
        &self,
        ctx: &Context<'_>,
        engagement_id: ID,
        reason: String,
    ) -> ApiResult<Engagement> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let engagement = end_early(&state.db, &state.settings, viewer(ctx), id, &reason).await?;
        state.outbox_signal.notify_one();
        Ok(Engagement(engagement))
    }

    /// The proposed provider accepts (ACTIVE) or declines a proposal.
    #[graphql(
        guard = "RoleGuard::any_of(&[entity::users::Role::Mentor, entity::users::Role::Adviser])"
    )]
    async fn respond_to_match(
        &self,
        ctx: &Context<'_>,
        engagement_id: ID,
        accept: bool,
        reason: Option<String>,
    ) -> ApiResult<Engagement> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let engagement = respond(
            &state.db,
            &state.settings.public_url,
            Responder::SignedIn(viewer(ctx), id),
            accept,
            reason,
        )
        .await?;
        state.outbox_signal.notify_one();
        Ok(Engagement(engagement))
    }
}
