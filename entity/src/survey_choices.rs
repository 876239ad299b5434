//! The choices of a SINGLE_CHOICE or MULTI_CHOICE question, in order. A choice
//! may map to topics, which turns a co-op's answers into its support needs.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_choices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub question_id: i64,
    /// Order within the question; unique per question.
    pub position: i32,
    pub label: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::survey_questions::Entity",
        from = "Column::QuestionId",
        to = "super::survey_questions::Column::Id",
        on_delete = "Cascade"
    )]
    Question,
    #[sea_orm(has_many = "super::survey_choice_topics::Entity")]
    ChoiceTopics,
    #[sea_orm(has_many = "super::survey_answers::Entity")]
    Answers,
}

impl Related<super::survey_questions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Question.def()
    }
}

impl Related<super::survey_choice_topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChoiceTopics.def()
    }
}

impl Related<super::survey_answers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Answers.def()
    }
}

/// The topics this choice reveals a need for.
impl Related<super::topics::Entity> for Entity {
    fn to() -> RelationDef {
        super::survey_choice_topics::Relation::Topic.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::survey_choice_topics::Relation::Choice.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
