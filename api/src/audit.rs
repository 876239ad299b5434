//! The audit trail: who changed what, and when. Written in the same
//! transaction as the change, and never with a confidential value in it.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};

use crate::auth::Viewer;

/// Records one action. `detail` is for ids and non-confidential facts (a
/// status, a count), never notes, phone numbers or financial details.
pub async fn record(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    action: &str,
    subject: Option<(&str, i64)>,
    detail: Option<serde_json::Value>,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        actor_user_id: Set(viewer.user.as_ref().map(|user| user.id)),
        action: Set(action.to_string()),
        subject_type: Set(subject.map(|(kind, _)| kind.to_string())),
        subject_id: Set(subject.map(|(_, id)| id)),
        detail: Set(detail.map(|value| value.to_string())),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}
