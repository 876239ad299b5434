//! The topics a support request asks for; matching ranks providers by overlap.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "support_request_topics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub support_request_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub topic_id: i64,
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
    #[sea_orm(
        belongs_to = "super::topics::Entity",
        from = "Column::TopicId",
        to = "super::topics::Column::Id",
        on_delete = "Cascade"
    )]
    Topic,
}

impl Related<super::support_requests::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SupportRequest.def()
    }
}

impl Related<super::topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Topic.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
