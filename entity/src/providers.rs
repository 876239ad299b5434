//! Mentors and advisers in one table: both are matched to requests the same
//! way and hold engagements the same way; `kind` says which they are. Topics,
//! sectors, regions and formats offered live in the `provider_*` join tables.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A peer mentor (from an established co-op) or a specialist adviser (from a
/// provider firm). A MENTORING request is matched to mentors, ADVICE to advisers.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProviderKind {
    #[sea_orm(string_value = "MENTOR")]
    Mentor,
    #[sea_orm(string_value = "ADVISER")]
    Adviser,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "providers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// One provider profile per user.
    #[sea_orm(unique)]
    pub user_id: i64,
    pub kind: ProviderKind,
    /// A mentor's own co-op: matching never proposes a mentor to it.
    pub home_organisation_id: Option<i64>,
    /// An adviser's firm.
    pub firm_name: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub bio: String,
    /// How many engagements (ACTIVE + PROPOSED) the provider takes at once.
    pub capacity: i32,
    /// Inactive providers are never suggested.
    pub active: bool,
    pub created_at: DateTimeUtc,
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
    #[sea_orm(
        belongs_to = "super::organisations::Entity",
        from = "Column::HomeOrganisationId",
        to = "super::organisations::Column::Id"
    )]
    HomeOrganisation,
    #[sea_orm(has_many = "super::provider_topics::Entity")]
    ProviderTopics,
    #[sea_orm(has_many = "super::provider_sectors::Entity")]
    ProviderSectors,
    #[sea_orm(has_many = "super::provider_regions::Entity")]
    ProviderRegions,
    #[sea_orm(has_many = "super::provider_formats::Entity")]
    ProviderFormats,
    #[sea_orm(has_many = "super::engagements::Entity")]
    Engagements,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::organisations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::HomeOrganisation.def()
    }
}

impl Related<super::provider_topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderTopics.def()
    }
}

impl Related<super::provider_sectors::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderSectors.def()
    }
}

impl Related<super::provider_regions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderRegions.def()
    }
}

impl Related<super::provider_formats::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderFormats.def()
    }
}

impl Related<super::engagements::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Engagements.def()
    }
}

/// The topics this provider offers.
impl Related<super::topics::Entity> for Entity {
    fn to() -> RelationDef {
        super::provider_topics::Relation::Topic.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::provider_topics::Relation::Provider.def().rev())
    }
}

/// The sectors this provider knows.
impl Related<super::sectors::Entity> for Entity {
    fn to() -> RelationDef {
        super::provider_sectors::Relation::Sector.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::provider_sectors::Relation::Provider.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
