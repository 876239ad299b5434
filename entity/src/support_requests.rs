//! A co-op's request for help: what it wants to achieve, on which topics, in
//! which formats. Staff match it to a provider through an engagement; after a
//! decline or early end it goes back to MATCHING for a re-match.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Mentoring (3–4 days with a peer mentor) or advice (2–7 days with an adviser).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EngagementKind {
    #[sea_orm(string_value = "MENTORING")]
    Mentoring,
    #[sea_orm(string_value = "ADVICE")]
    Advice,
}

/// SUBMITTED → MATCHING → MATCHED → CLOSED (when its engagement completes), or
/// DECLINED by staff / WITHDRAWN by the co-op.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SupportRequestStatus {
    #[sea_orm(string_value = "SUBMITTED")]
    Submitted,
    #[sea_orm(string_value = "MATCHING")]
    Matching,
    #[sea_orm(string_value = "MATCHED")]
    Matched,
    #[sea_orm(string_value = "CLOSED")]
    Closed,
    #[sea_orm(string_value = "DECLINED")]
    Declined,
    #[sea_orm(string_value = "WITHDRAWN")]
    Withdrawn,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "support_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organisation_id: i64,
    pub kind: EngagementKind,
    /// What the co-op wants to achieve.
    #[sea_orm(column_type = "Text")]
    pub goals: String,
    pub status: SupportRequestStatus,
    pub submitted_by_user_id: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub decline_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    /// The needs-survey response this request was drafted from, if it was.
    pub survey_response_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::organisations::Entity",
        from = "Column::OrganisationId",
        to = "super::organisations::Column::Id"
    )]
    Organisation,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::SubmittedByUserId",
        to = "super::users::Column::Id"
    )]
    SubmittedBy,
    #[sea_orm(has_many = "super::engagements::Entity")]
    Engagements,
    #[sea_orm(has_many = "super::support_request_topics::Entity")]
    SupportRequestTopics,
    #[sea_orm(has_many = "super::support_request_formats::Entity")]
    SupportRequestFormats,
}

impl Related<super::organisations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Organisation.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SubmittedBy.def()
    }
}

impl Related<super::engagements::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Engagements.def()
    }
}

impl Related<super::support_request_topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SupportRequestTopics.def()
    }
}

impl Related<super::support_request_formats::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SupportRequestFormats.def()
    }
}

/// The topics this request asks for.
impl Related<super::topics::Entity> for Entity {
    fn to() -> RelationDef {
        super::support_request_topics::Relation::Topic.def()
    }

    fn via() -> Option<RelationDef> {
        Some(
            super::support_request_topics::Relation::SupportRequest
                .def()
                .rev(),
        )
    }
}

impl ActiveModelBehavior for ActiveModel {}
