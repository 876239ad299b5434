//! The questions of a survey, in order.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What kind of answer a question takes; choice questions have `survey_choices`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuestionKind {
    #[sea_orm(string_value = "SINGLE_CHOICE")]
    SingleChoice,
    #[sea_orm(string_value = "MULTI_CHOICE")]
    MultiChoice,
    /// A number between `scale_min` and `scale_max`.
    #[sea_orm(string_value = "SCALE")]
    Scale,
    #[sea_orm(string_value = "NUMBER")]
    Number,
    #[sea_orm(string_value = "TEXT")]
    Text,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_questions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub survey_id: i64,
    /// Order within the survey; unique per survey.
    pub position: i32,
    pub kind: QuestionKind,
    #[sea_orm(column_type = "Text")]
    pub prompt: String,
    pub required: bool,
    pub scale_min: Option<i32>,
    pub scale_max: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::surveys::Entity",
        from = "Column::SurveyId",
        to = "super::surveys::Column::Id",
        on_delete = "Cascade"
    )]
    Survey,
    #[sea_orm(has_many = "super::survey_choices::Entity")]
    Choices,
    #[sea_orm(has_many = "super::survey_answers::Entity")]
    Answers,
}

impl Related<super::surveys::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Survey.def()
    }
}

impl Related<super::survey_choices::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Choices.def()
    }
}

impl Related<super::survey_answers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Answers.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
