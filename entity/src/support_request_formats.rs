//! The meeting formats a co-op prefers for a request; matching prefers
//! providers offering them.

use sea_orm::entity::prelude::*;

pub use super::meetings::MeetingFormat;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "support_request_formats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub support_request_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub format: MeetingFormat,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::support_requests::Entity",
        from = "Column::SupportRequestId",
        to = "super::support_requests::Column::Id",
        on_delete = "Cascade"
    )]
    SupportRequest,
}

impl Related<super::support_requests::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SupportRequest.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
