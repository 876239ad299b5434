//! Email delivery, as staff manage it: a dead or failed message sent again,
//! and an address let receive mail again after it bounced; and each
//! person's own choices about the email Hive sends them.

use chrono::{DateTime, Utc};
use entity::{
    email_preferences::{self, DigestFrequency},
    emails::{self, EmailStatus},
    users,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};

use super::change::Change;
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Sends a DEAD or FAILED message again, from its first attempt (staff). The
/// message is locked first, so a retry and the worker's own marking never
/// both apply. CONFLICT for any other status, and for an address that
/// bounces (clear the bounce first).
pub async fn retry(db: &DatabaseConnection, viewer: &Viewer, id: i64) -> ApiResult<emails::Model> {
    access::require_staff(viewer)?;
    let change = Change::begin(db, viewer).await?;
    let email = change
        .lock_by_id::<emails::Entity>(id, "No email has that id.")
        .await?;
    if !matches!(email.status, EmailStatus::Dead | EmailStatus::Failed) {
        return Err(ApiError::conflict(
            "Only a dead or failed email can be retried.",
        ));
    }
    if email.context == hive_worker::jobs::retention::CLEARED_BODY {
        return Err(ApiError::conflict(
            "This email's content was removed under the retention policy (HIVE_RETENTION_EMAIL_DAYS); it cannot be sent again.",
        ));
    }
    let bouncing = email_preferences::Entity::find()
        .filter(email_preferences::Column::Email.eq(&email.recipient))
        .filter(email_preferences::Column::BouncedAt.is_not_null())
        .one(change.db())
        .await?;
    if bouncing.is_some() {
        return Err(ApiError::conflict(
            "The address bounces: clear the bounce (clearBounce) before retrying.",
        ));
    }
    let now = Utc::now();
    let mut row: emails::ActiveModel = email.into();
    row.status = Set(EmailStatus::Pending);
    row.attempts = Set(0);
    row.next_attempt_at = Set(now);
    row.enqueued_at = Set(None);
    row.updated_at = Set(now);
    let row = row.update(change.db()).await?;
    change
        .audit("retryEmail", Some(("EmailDelivery", row.id)), None)
        .await?;
    change.commit().await?;
    Ok(row)
}

/// Lets mail go to an address again after its owner fixed it (staff).
/// NOT_FOUND when the address is not bouncing.
pub async fn clear_bounce(
    db: &DatabaseConnection,
    viewer: &Viewer,
    address: &str,
) -> ApiResult<()> {
    access::require_staff(viewer)?;
    let address = address.trim().to_lowercase();
    let change = Change::begin(db, viewer).await?;
    let cleared = email_preferences::Entity::update_many()
        .col_expr(
            email_preferences::Column::BouncedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            email_preferences::Column::BounceReason,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            email_preferences::Column::UpdatedAt,
            Expr::value(Utc::now()),
        )
        .filter(email_preferences::Column::Email.eq(&address))
        .filter(email_preferences::Column::BouncedAt.is_not_null())
        .exec(change.db())
        .await?;
    if cleared.rows_affected == 0 {
        return Err(ApiError::not_found("That address is not bouncing."));
    }
    change.audit("clearBounce", None, None).await?;
    change.commit().await?;
    Ok(())
}

/// The stored choices for `user`'s address, if any (none: every email on).
pub async fn preferences_of(
    conn: &impl ConnectionTrait,
    user: &users::Model,
) -> ApiResult<Option<email_preferences::Model>> {
    Ok(email_preferences::Entity::find()
        .filter(email_preferences::Column::Email.eq(user.email.to_lowercase()))
        .one(conn)
        .await?)
}

/// Sets how often the signed-in staff member gets the digest. DAILY or
/// WEEKLY also undoes an earlier unsubscribe from digests: it is the
/// clearer, later wish. One statement (an upsert on the address), so two at
/// once leave one of the two choices whole. Returns the stored choices.
pub async fn set_digest_frequency(
    db: &DatabaseConnection,
    viewer: &Viewer,
    frequency: DigestFrequency,
) -> ApiResult<Option<email_preferences::Model>> {
    access::require_staff(viewer)?;
    let user = viewer.require_user()?;
    let wanted = frequency != DigestFrequency::Never;
    let mut row = email_preferences::ActiveModel {
        email: Set(user.email.to_lowercase()),
        user_id: Set(Some(user.id)),
        digest_frequency: Set(frequency),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    let mut columns = vec![
        email_preferences::Column::DigestFrequency,
        email_preferences::Column::UserId,
        email_preferences::Column::UpdatedAt,
    ];
    if wanted {
        row.digests = Set(true);
        columns.push(email_preferences::Column::Digests);
    }
    let change = Change::begin(db, viewer).await?;
    email_preferences::Entity::insert(row)
        .on_conflict(
            OnConflict::column(email_preferences::Column::Email)
                .update_columns(columns)
                .to_owned(),
        )
        .exec_without_returning(change.db())
        .await?;
    change
        .audit(
            "setDigestFrequency",
            Some(("User", user.id)),
            Some(serde_json::json!({ "frequency": frequency })),
        )
        .await?;
    let stored = preferences_of(change.db(), user).await?;
    change.commit().await?;
    Ok(stored)
}
