//! Safeguarding reports raised on an engagement (criminal conduct, harassment,
//! bullying, other): the handbook says these must be reported, and staff are
//! told at once. Kept with their outcome.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConcernCategory {
    #[sea_orm(string_value = "CRIMINAL_CONDUCT")]
    CriminalConduct,
    #[sea_orm(string_value = "HARASSMENT")]
    Harassment,
    #[sea_orm(string_value = "BULLYING")]
    Bullying,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// OPEN concerns appear in every staff digest until RESOLVED.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConcernStatus {
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "RESOLVED")]
    Resolved,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "concerns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub engagement_id: i64,
    pub raised_by_user_id: i64,
    pub category: ConcernCategory,
    #[sea_orm(column_type = "Text")]
    pub details: String,
    pub status: ConcernStatus,
    #[sea_orm(column_type = "Text", nullable)]
    pub outcome: Option<String>,
    pub resolved_by_user_id: Option<i64>,
    pub resolved_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
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
        from = "Column::RaisedByUserId",
        to = "super::users::Column::Id"
    )]
    RaisedBy,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ResolvedByUserId",
        to = "super::users::Column::Id"
    )]
    ResolvedBy,
}

impl Related<super::engagements::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Engagement.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
