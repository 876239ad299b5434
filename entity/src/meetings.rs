//! The meetings of an engagement: its timetable, the days it uses, the
//! provider's private notes and the learning captured for the programme. The
//! final meeting being held triggers the reviews.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// How a meeting happens; also what providers offer and requests prefer.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MeetingFormat {
    /// Face to face, one to one.
    #[sea_orm(string_value = "IN_PERSON")]
    InPerson,
    /// Face to face with a group from the co-op.
    #[sea_orm(string_value = "IN_PERSON_GROUP")]
    InPersonGroup,
    #[sea_orm(string_value = "PHONE")]
    Phone,
    #[sea_orm(string_value = "VIDEO")]
    Video,
    #[sea_orm(string_value = "EMAIL")]
    Email,
}

/// SCHEDULED, then HELD or CANCELLED. Only a HELD meeting counts days.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MeetingStatus {
    #[sea_orm(string_value = "SCHEDULED")]
    Scheduled,
    #[sea_orm(string_value = "HELD")]
    Held,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "meetings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub engagement_id: i64,
    pub starts_at: DateTimeUtc,
    pub duration_minutes: i32,
    pub format: MeetingFormat,
    /// A place or a dial-in.
    pub location: Option<String>,
    /// The last session: holding it triggers the final reviews.
    pub is_final: bool,
    pub status: MeetingStatus,
    /// Days of the allocation this meeting used (e.g. 0.5).
    pub days_counted: Option<f64>,
    /// Private: the provider and the client co-op's members only, not staff.
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    /// Issues or learning for the programme: the provider and staff.
    #[sea_orm(column_type = "Text", nullable)]
    pub learning: Option<String>,
    /// iCalendar SEQUENCE: raised on each reschedule so calendars update the
    /// invitation instead of adding a second one.
    pub sequence: i32,
    pub scheduled_by_user_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::engagements::Entity",
        from = "Column::EngagementId",
        to = "super::engagements::Column::Id",
        on_delete = "Cascade"
    )]
    Engagement,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ScheduledByUserId",
        to = "super::users::Column::Id"
    )]
    ScheduledBy,
}

impl Related<super::engagements::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Engagement.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ScheduledBy.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
