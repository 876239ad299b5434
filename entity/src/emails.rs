//! The outbox and the delivery record of every message Hive sends. A row is
//! written in the same transaction as the change that causes it; its unique
//! idempotency key means a message is never recorded, so never sent, twice.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What a message is about; email preferences and unsubscribe links work per
/// category (SIGN_IN and MATCH messages cannot be turned off).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmailCategory {
    #[sea_orm(string_value = "SIGN_IN")]
    SignIn,
    #[sea_orm(string_value = "MATCH")]
    Match,
    #[sea_orm(string_value = "REMINDER")]
    Reminder,
    #[sea_orm(string_value = "REVIEW")]
    Review,
    #[sea_orm(string_value = "SURVEY")]
    Survey,
    #[sea_orm(string_value = "DIGEST")]
    Digest,
    #[sea_orm(string_value = "CONCERN")]
    Concern,
    #[sea_orm(string_value = "NUDGE")]
    Nudge,
}

/// PENDING until delivered (SENT); FAILED attempts are retried with backoff
/// until the message is DEAD (kept, visible to staff, retryable). SUPPRESSED:
/// not sent because the recipient opted out or bounces.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmailStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "SENT")]
    Sent,
    #[sea_orm(string_value = "FAILED")]
    Failed,
    #[sea_orm(string_value = "DEAD")]
    Dead,
    #[sea_orm(string_value = "SUPPRESSED")]
    Suppressed,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "emails")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// One per message meaning (e.g. `sign-in:<token id>`).
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub category: EmailCategory,
    /// A folder under `worker/templates/`.
    pub template: String,
    pub recipient: String,
    /// JSON handed to the template.
    #[sea_orm(column_type = "Text")]
    pub context: String,
    pub status: EmailStatus,
    pub attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// The id the SMTP server gave the message, to trace bounces.
    pub provider_message_id: Option<String>,
    /// When the relay handed the row to the job queue; null = not yet queued.
    pub enqueued_at: Option<DateTimeUtc>,
    /// Not before this time: the retry backoff.
    pub next_attempt_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// Hex SHA-256 of the secret in this message's one-click unsubscribe
    /// link; only for categories people may opt out of.
    #[sea_orm(unique)]
    pub unsubscribe_token_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
