//! The staff-managed vocabulary of trade sectors (digital communications,
//! retail, housing, energy, ...). An organisation is in one; a provider knows
//! several; matching and survey audiences use them. Retired, not deleted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sectors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    pub created_at: DateTimeUtc,
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::organisations::Entity")]
    Organisations,
    #[sea_orm(has_many = "super::provider_sectors::Entity")]
    ProviderSectors,
}

impl Related<super::organisations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Organisations.def()
    }
}

impl Related<super::provider_sectors::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderSectors.def()
    }
}

/// The providers who know this sector.
impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        super::provider_sectors::Relation::Provider.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::provider_sectors::Relation::Sector.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
