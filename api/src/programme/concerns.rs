//! Safeguarding concerns: either party raises one on an engagement (criminal
//! conduct, harassment, bullying, other), staff are emailed at once without
//! the details, and staff resolve it with an outcome, once.

use chrono::Utc;
use entity::concerns::{self, ConcernCategory, ConcernStatus};
use hive_worker::jobs::concern_alerts;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};

use super::change::Change;
use crate::{
    access::{self, Party, party},
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Details and outcomes: trimmed, 1 to 10,000 characters.
fn account(field: &str, text: &str, asking: &str) -> ApiResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(ApiError::bad_input(
            field,
            format!("{asking}, in up to 10,000 characters."),
        ));
    }
    Ok(text.to_string())
}

/// Raises a concern on an engagement (either party); staff are told at once.
pub async fn raise(
    db: &DatabaseConnection,
    public_url: &str,
    viewer: &Viewer,
    engagement_id: i64,
    category: ConcernCategory,
    details: &str,
) -> ApiResult<concerns::Model> {
    let user = viewer.require_user()?;
    let details = account("details", details, "Say what happened")?;
    let change = Change::begin(db, viewer).await?;
    let engagement = change.lock_engagement(engagement_id).await?;
    if !matches!(
        party(change.db(), viewer, &engagement).await?,
        Party::Provider | Party::ClientMember
    ) {
        return Err(ApiError::forbidden(
            "Only the two parties raise a concern on an engagement.",
        ));
    }
    let row = concerns::ActiveModel {
        engagement_id: Set(engagement.id),
        raised_by_user_id: Set(user.id),
        category: Set(category),
        details: Set(details),
        status: Set(ConcernStatus::Open),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(change.db())
    .await?;
    concern_alerts::raised(change.db(), public_url, &row, &engagement).await?;
    change
        .audit("raiseConcern", Some(("Concern", row.id)), None)
        .await?;
    change.commit().await?;
    Ok(row)
}

/// Closes a concern with its outcome (staff), once: the concern is locked
/// before its state is read, so of two resolutions at once one wins and the
/// other is a CONFLICT.
pub async fn resolve(
    db: &DatabaseConnection,
    viewer: &Viewer,
    concern_id: i64,
    outcome: &str,
) -> ApiResult<concerns::Model> {
    access::require_staff(viewer)?;
    let outcome = account("outcome", outcome, "Say how it was resolved")?;
    let change = Change::begin(db, viewer).await?;
    let concern = change
        .lock(
            concerns::Entity::find_by_id(concern_id),
            "No concern has that id.",
        )
        .await?;
    if concern.status == ConcernStatus::Resolved {
        return Err(ApiError::conflict("This concern is already resolved."));
    }
    let mut row: concerns::ActiveModel = concern.into();
    row.status = Set(ConcernStatus::Resolved);
    row.outcome = Set(Some(outcome));
    row.resolved_by_user_id = Set(viewer.user.as_ref().map(|u| u.id));
    row.resolved_at = Set(Some(Utc::now()));
    let row = row.update(change.db()).await?;
    change
        .audit("resolveConcern", Some(("Concern", row.id)), None)
        .await?;
    change.commit().await?;
    Ok(row)
}
