//! The answers in a response: one row per question, or one per chosen choice
//! for MULTI_CHOICE. Which value column is set depends on the question kind.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_answers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub response_id: i64,
    pub question_id: i64,
    /// SINGLE_CHOICE and MULTI_CHOICE.
    pub choice_id: Option<i64>,
    /// SCALE and NUMBER.
    pub number_value: Option<f64>,
    /// TEXT.
    #[sea_orm(column_type = "Text", nullable)]
    pub text_value: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::survey_responses::Entity",
        from = "Column::ResponseId",
        to = "super::survey_responses::Column::Id",
        on_delete = "Cascade"
    )]
    Response,
    #[sea_orm(
        belongs_to = "super::survey_questions::Entity",
        from = "Column::QuestionId",
        to = "super::survey_questions::Column::Id"
    )]
    Question,
    #[sea_orm(
        belongs_to = "super::survey_choices::Entity",
        from = "Column::ChoiceId",
        to = "super::survey_choices::Column::Id"
    )]
    Choice,
}

impl Related<super::survey_responses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Response.def()
    }
}

impl Related<super::survey_questions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Question.def()
    }
}

impl Related<super::survey_choices::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Choice.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
