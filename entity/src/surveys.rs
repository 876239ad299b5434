//! Needs surveys (the sector census): run in waves, each wave linking to the
//! previous one so results can be compared; sent to an audience of co-ops.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// DRAFT (editable) → OPEN (invitations sent, answers accepted) → CLOSED
/// (no more answers, no more reminders).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SurveyStatus {
    #[sea_orm(string_value = "DRAFT")]
    Draft,
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "CLOSED")]
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "surveys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub status: SurveyStatus,
    /// The earlier wave of the same census, for wave-to-wave comparison.
    pub previous_wave_id: Option<i64>,
    /// JSON `{sectors, regions, stages}`; null means every organisation.
    #[sea_orm(column_type = "Text", nullable)]
    pub audience: Option<String>,
    pub closes_at: Option<DateTimeUtc>,
    /// Non-responders get one reminder this many days after their invitation.
    pub reminder_after_days: Option<i32>,
    /// Null while DRAFT.
    pub launched_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub created_by_user_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::PreviousWaveId",
        to = "Column::Id"
    )]
    PreviousWave,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::CreatedByUserId",
        to = "super::users::Column::Id"
    )]
    CreatedBy,
    #[sea_orm(has_many = "super::survey_questions::Entity")]
    Questions,
    #[sea_orm(has_many = "super::survey_invitations::Entity")]
    Invitations,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CreatedBy.def()
    }
}

impl Related<super::survey_questions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Questions.def()
    }
}

impl Related<super::survey_invitations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Invitations.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
