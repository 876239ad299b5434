//! A match of one support request with one provider, from proposal to
//! completion: the unit that days, meetings, concerns and reviews hang on. A
//! request has at most one ACTIVE engagement (a partial unique index).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// PROPOSED → ACTIVE → COMPLETED, or DECLINED (the provider said no), EXPIRED
/// (no answer in 7 days) or ENDED_EARLY (by either party or staff).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EngagementStatus {
    #[sea_orm(string_value = "PROPOSED")]
    Proposed,
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "DECLINED")]
    Declined,
    #[sea_orm(string_value = "EXPIRED")]
    Expired,
    #[sea_orm(string_value = "ENDED_EARLY")]
    EndedEarly,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "engagements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub support_request_id: i64,
    pub provider_id: i64,
    pub status: EngagementStatus,
    /// 2–7 in the database (the widest band); the narrower band per kind
    /// (MENTORING 3–4, ADVICE 2–7) is a domain rule checked in code.
    pub days_allocated: i32,
    /// The nominal fee, in pence.
    pub fee_pence: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub ground_rules: Option<String>,
    /// The engagement this one replaces after a decline or early end.
    pub rematch_of_id: Option<i64>,
    /// Hex SHA-256 of the secret in the accept/decline link emailed to the provider.
    #[sea_orm(unique)]
    pub response_token_hash: Option<String>,
    pub proposed_by_user_id: Option<i64>,
    pub proposed_at: DateTimeUtc,
    pub responded_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub decline_reason: Option<String>,
    pub ended_at: Option<DateTimeUtc>,
    pub ended_by_user_id: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub end_reason: Option<String>,
    pub completed_at: Option<DateTimeUtc>,
    /// When an unanswered proposal was last chased, so it is chased once.
    pub last_chased_at: Option<DateTimeUtc>,
    /// When the provider was last nudged about a lull with no meetings.
    pub inactivity_nudged_at: Option<DateTimeUtc>,
    /// When staff were last told that such a lull went on after the nudge.
    pub inactivity_escalated_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::support_requests::Entity",
        from = "Column::SupportRequestId",
        to = "super::support_requests::Column::Id"
    )]
    SupportRequest,
    #[sea_orm(
        belongs_to = "super::providers::Entity",
        from = "Column::ProviderId",
        to = "super::providers::Column::Id"
    )]
    Provider,
    #[sea_orm(belongs_to = "Entity", from = "Column::RematchOfId", to = "Column::Id")]
    RematchOf,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ProposedByUserId",
        to = "super::users::Column::Id"
    )]
    ProposedBy,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::EndedByUserId",
        to = "super::users::Column::Id"
    )]
    EndedBy,
    #[sea_orm(has_many = "super::meetings::Entity")]
    Meetings,
    #[sea_orm(has_many = "super::concerns::Entity")]
    Concerns,
    #[sea_orm(has_many = "super::reviews::Entity")]
    Reviews,
}

impl Related<super::support_requests::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SupportRequest.def()
    }
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl Related<super::meetings::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Meetings.def()
    }
}

impl Related<super::concerns::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Concerns.def()
    }
}

impl Related<super::reviews::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Reviews.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
