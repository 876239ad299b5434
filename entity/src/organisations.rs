//! Client co-operatives: the organisations that ask for support, answer needs
//! surveys, and whose members sign in. Contact and financial details are
//! confidential; the API, not this table, decides who may read them.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where an organisation is on its journey; matching and survey audiences use it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrganisationStage {
    #[sea_orm(string_value = "IDEA")]
    Idea,
    #[sea_orm(string_value = "START_UP")]
    StartUp,
    #[sea_orm(string_value = "TRADING")]
    Trading,
    /// An existing business converting to community or employee ownership.
    #[sea_orm(string_value = "CONVERTING")]
    Converting,
    /// Public-service staff spinning out into a mutual.
    #[sea_orm(string_value = "SPINNING_OUT")]
    SpinningOut,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub legal_form: Option<String>,
    pub stage: OrganisationStage,
    pub sector_id: Option<i64>,
    pub region: String,
    pub members_count: Option<i32>,
    pub founded_year: Option<i32>,
    /// Confidential, as the phone: staff, members, and a provider with an ACTIVE engagement.
    pub contact_email: Option<String>,
    /// Confidential: staff, members, and a provider with an ACTIVE engagement.
    pub contact_phone: Option<String>,
    /// Restricted: staff and the co-op's members, never a provider.
    #[sea_orm(column_type = "Text", nullable)]
    pub financial_details: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When staff erased the co-op (`eraseOrganisation`): its name, contact
    /// details, financial details and the free text of its records were
    /// replaced by the marker. Erased once only; it asks for nothing more.
    pub erased_at: Option<DateTimeUtc>,
    /// When the co-op left the programme (`archiveOrganisation`): its open
    /// requests were withdrawn, its members' accounts closed, and no survey
    /// goes to it from then on. Its history stays, and counts.
    pub archived_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::sectors::Entity",
        from = "Column::SectorId",
        to = "super::sectors::Column::Id"
    )]
    Sector,
    #[sea_orm(has_many = "super::users::Entity")]
    Users,
    #[sea_orm(has_many = "super::support_requests::Entity")]
    SupportRequests,
    #[sea_orm(has_many = "super::survey_invitations::Entity")]
    SurveyInvitations,
    /// Mentors whose own co-op this is: never matched to it.
    #[sea_orm(has_many = "super::providers::Entity")]
    HomeOfProviders,
}

impl Related<super::sectors::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sector.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::support_requests::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SupportRequests.def()
    }
}

impl Related<super::survey_invitations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SurveyInvitations.def()
    }
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::HomeOfProviders.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
