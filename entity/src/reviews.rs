//! The final review of an engagement: one per party (provider and client),
//! requested by a secret link when the final meeting is held, reminded once.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Which side of the engagement gives the review.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewParty {
    #[sea_orm(string_value = "PROVIDER")]
    Provider,
    #[sea_orm(string_value = "CLIENT")]
    Client,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub engagement_id: i64,
    pub party: ReviewParty,
    /// Who answered, when known (a link needs no account).
    pub reviewer_user_id: Option<i64>,
    /// Hex SHA-256 of the secret in the review link.
    #[sea_orm(unique)]
    pub token_hash: Option<String>,
    pub requested_at: DateTimeUtc,
    pub reminded_at: Option<DateTimeUtc>,
    pub submitted_at: Option<DateTimeUtc>,
    /// 1–5.
    pub usefulness: Option<i32>,
    /// 1–5.
    pub relationship: Option<i32>,
    /// 1–5.
    pub would_recommend: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub comments: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::engagements::Entity",
        from = "Column::EngagementId",
        to = "super::engagements::Column::Id"
    )]
    Engagement,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ReviewerUserId",
        to = "super::users::Column::Id"
    )]
    Reviewer,
}

impl Related<super::engagements::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Engagement.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Reviewer.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
