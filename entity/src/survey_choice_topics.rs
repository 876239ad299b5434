//! Which topics a survey choice maps to: "from census to support".

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_choice_topics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub choice_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub topic_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::survey_choices::Entity",
        from = "Column::ChoiceId",
        to = "super::survey_choices::Column::Id",
        on_delete = "Cascade"
    )]
    Choice,
    #[sea_orm(
        belongs_to = "super::topics::Entity",
        from = "Column::TopicId",
        to = "super::topics::Column::Id",
        on_delete = "Cascade"
    )]
    Topic,
}

impl Related<super::survey_choices::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Choice.def()
    }
}

impl Related<super::topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Topic.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
