//! No silent stalls: a proposal unanswered for 3 days is chased once (with a
//! fresh link); at 7 days it lapses, the request goes back to MATCHING and
//! staff are told (the message is in `match_notifications`). Runs every few
//! seconds to a minute from every worker; conditional updates and idempotency
//! keys make the runs safe to overlap.

use chrono::{Duration, Utc};
use entity::{
    emails::EmailCategory,
    engagements::{self, EngagementStatus},
    organisations, providers,
    support_requests::{self, SupportRequestStatus},
    users,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    sea_query::Expr,
};
use tracing::info;

use crate::{jobs::match_notifications, notify, tokens::SecretToken};

/// A proposal is chased when unanswered this long…
pub const CHASE_AFTER: Duration = Duration::days(3);
/// …and lapses when unanswered this long.
pub const EXPIRE_AFTER: Duration = Duration::days(7);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FollowUps {
    pub chased: usize,
    pub expired: usize,
}

pub async fn run(db: &DatabaseConnection, public_url: &str) -> anyhow::Result<FollowUps> {
    let now = Utc::now();
    let mut done = FollowUps::default();

    let lapsed = engagements::Entity::find()
        .filter(engagements::Column::Status.eq(EngagementStatus::Proposed))
        .filter(engagements::Column::ProposedAt.lte(now - EXPIRE_AFTER))
        .all(db)
        .await?;
    for engagement in lapsed {
        if expire(db, public_url, &engagement).await? {
            done.expired += 1;
        }
    }

    // A deactivated provider is not chased (deactivation withdraws their
    // proposals; this covers any left from before it did).
    let waiting = engagements::Entity::find()
        .inner_join(providers::Entity)
        .filter(providers::Column::Active.eq(true))
        .filter(engagements::Column::Status.eq(EngagementStatus::Proposed))
        .filter(engagements::Column::ProposedAt.lte(now - CHASE_AFTER))
        .filter(engagements::Column::LastChasedAt.is_null())
        .all(db)
        .await?;
    for engagement in waiting {
        if chase(db, public_url, &engagement).await? {
            done.chased += 1;
        }
    }
    if done != FollowUps::default() {
        info!(
            chased = done.chased,
            expired = done.expired,
            "proposal follow-ups"
        );
    }
    Ok(done)
}

/// Names for the messages: the provider's user and the co-op.
async fn parties(
    conn: &impl ConnectionTrait,
    engagement: &engagements::Model,
) -> anyhow::Result<(users::Model, support_requests::Model, organisations::Model)> {
    let provider = providers::Entity::find_by_id(engagement.provider_id)
        .one(conn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("engagement {} without provider", engagement.id))?;
    let user = users::Entity::find_by_id(provider.user_id)
        .one(conn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("provider {} without user", provider.id))?;
    let (request, organisation) =
        support_requests::Entity::find_by_id(engagement.support_request_id)
            .find_also_related(organisations::Entity)
            .one(conn)
            .await?
            .ok_or_else(|| anyhow::anyhow!("engagement {} without request", engagement.id))?;
    let organisation = organisation
        .ok_or_else(|| anyhow::anyhow!("request {} without organisation", request.id))?;
    Ok((user, request, organisation))
}

async fn chase(
    db: &DatabaseConnection,
    public_url: &str,
    engagement: &engagements::Model,
) -> anyhow::Result<bool> {
    let txn = crate::db::begin_write(db).await?;
    let token = SecretToken::generate();
    let now = Utc::now();
    // Only one worker wins the chase; the others see no row to update.
    let claimed = engagements::Entity::update_many()
        .col_expr(engagements::Column::LastChasedAt, Expr::value(now))
        .col_expr(
            engagements::Column::ResponseTokenHash,
            Expr::value(token.hash()),
        )
        .filter(engagements::Column::Id.eq(engagement.id))
        .filter(engagements::Column::Status.eq(EngagementStatus::Proposed))
        .filter(engagements::Column::LastChasedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(false);
    }
    let (user, request, organisation) = parties(&txn, engagement).await?;
    // Key `match-chased:{engagement}:{recipient}`: a proposal is chased once (its chase is
    // claimed in this transaction). Nothing withdraws it: once written it goes, or is
    // suppressed at sending (opt-out, bounce).
    notify::send(
        &txn,
        &format!("match-chased:{}", engagement.id),
        EmailCategory::Match,
        "match_chaser",
        &[user.into()],
        serde_json::json!({
            "organisation": organisation.name,
            "kind": format!("{:?}", request.kind).to_uppercase(),
            "days": engagement.days_allocated,
            "link": format!("{public_url}/m/{}", token.expose()),
            "expires_on": (engagement.proposed_at + EXPIRE_AFTER).format("%-d %B %Y").to_string(),
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Lapses the PROPOSED engagements the caller's filter picks (EXPIRED, the
/// emailed link no longer working), at `now`: one statement, which only
/// touches proposals still unanswered. Used when a proposal's week runs out
/// and when its request is withdrawn.
pub fn lapse_proposals(now: chrono::DateTime<Utc>) -> sea_orm::UpdateMany<engagements::Entity> {
    engagements::Entity::update_many()
        .col_expr(
            engagements::Column::Status,
            Expr::value(EngagementStatus::Expired),
        )
        .col_expr(
            engagements::Column::ResponseTokenHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(engagements::Column::UpdatedAt, Expr::value(now))
        .filter(engagements::Column::Status.eq(EngagementStatus::Proposed))
}

async fn expire(
    db: &DatabaseConnection,
    public_url: &str,
    engagement: &engagements::Model,
) -> anyhow::Result<bool> {
    let txn = crate::db::begin_write(db).await?;
    // The API's lock order, request before engagement (`programme::change`),
    // so an expiry and an answer or a withdrawal at the same moment wait for
    // each other instead of deadlocking.
    let mut request = support_requests::Entity::find_by_id(engagement.support_request_id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        request = request.lock_exclusive();
    }
    request.one(&txn).await?;
    let now = Utc::now();
    let claimed = lapse_proposals(now)
        .filter(engagements::Column::Id.eq(engagement.id))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(false);
    }
    back_to_matching(&txn, engagement.support_request_id, now).await?;
    match_notifications::expired(&txn, public_url, engagement).await?;
    txn.commit().await?;
    Ok(true)
}

/// Puts a request whose proposal lapsed back into MATCHING, if it is still
/// open (SUBMITTED or MATCHING; a withdrawn or declined one stays as it is).
/// Used when a proposal's week runs out and when its provider leaves.
pub async fn back_to_matching(
    conn: &impl ConnectionTrait,
    request_id: i64,
    now: chrono::DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    support_requests::Entity::update_many()
        .col_expr(
            support_requests::Column::Status,
            Expr::value(SupportRequestStatus::Matching),
        )
        .col_expr(support_requests::Column::UpdatedAt, Expr::value(now))
        .filter(support_requests::Column::Id.eq(request_id))
        .filter(support_requests::Column::Status.is_in([
            SupportRequestStatus::Submitted,
            SupportRequestStatus::Matching,
        ]))
        .exec(conn)
        .await?;
    Ok(())
}
