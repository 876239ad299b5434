//! Per-address email choices and bounce state, keyed by address (not user) so
//! people without an account (survey and review recipients) can unsubscribe
//! too, and a permanently bouncing address is no longer mailed.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// How often a staff member gets the digest.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DigestFrequency {
    #[sea_orm(string_value = "DAILY")]
    Daily,
    #[sea_orm(string_value = "WEEKLY")]
    Weekly,
    #[sea_orm(string_value = "NEVER")]
    Never,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_preferences")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Lower-case, as `emails.recipient`.
    #[sea_orm(unique)]
    pub email: String,
    pub user_id: Option<i64>,
    /// Meeting reminders (database default true).
    #[sea_orm(default_value = true)]
    pub reminders: bool,
    /// Staff digests (database default true).
    #[sea_orm(default_value = true)]
    pub digests: bool,
    /// Needs surveys (database default true).
    #[sea_orm(default_value = true)]
    pub surveys: bool,
    /// Database default DAILY.
    pub digest_frequency: DigestFrequency,
    /// Unused: unsubscribe links are per message (`emails.unsubscribe_token_hash`),
    /// since a per-address secret stored hashed could not be put in later
    /// messages. Kept because SQLite cannot drop a UNIQUE column.
    #[sea_orm(unique)]
    pub unsubscribe_token_hash: Option<String>,
    /// A permanent bounce: no more mail to this address.
    pub bounced_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub bounce_reason: Option<String>,
    /// The staff digest period (`2026-11-23` daily, `2026-W48` weekly) last
    /// decided for this address: sent, or found with nothing to say. The
    /// worker that moves it on is the one that writes that period's digest.
    pub last_digest_period: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
