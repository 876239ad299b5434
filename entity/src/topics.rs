//! The staff-managed vocabulary of support areas (governance, finance,
//! community shares, conversion, ...). Providers offer topics, requests ask for
//! them and survey choices map to them, which is what matching ranks on.
//! Retired rather than deleted, so old requests keep their meaning.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "topics")]
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
    #[sea_orm(has_many = "super::provider_topics::Entity")]
    ProviderTopics,
    #[sea_orm(has_many = "super::support_request_topics::Entity")]
    SupportRequestTopics,
    #[sea_orm(has_many = "super::survey_choice_topics::Entity")]
    SurveyChoiceTopics,
}

impl Related<super::provider_topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderTopics.def()
    }
}

impl Related<super::support_request_topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SupportRequestTopics.def()
    }
}

impl Related<super::survey_choice_topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SurveyChoiceTopics.def()
    }
}

/// The providers offering this topic.
impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        super::provider_topics::Relation::Provider.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::provider_topics::Relation::Topic.def().rev())
    }
}

/// The support requests asking for this topic.
impl Related<super::support_requests::Entity> for Entity {
    fn to() -> RelationDef {
        super::support_request_topics::Relation::SupportRequest.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::support_request_topics::Relation::Topic.def().rev())
    }
}

/// The survey choices that reveal a need for this topic.
impl Related<super::survey_choices::Entity> for Entity {
    fn to() -> RelationDef {
        super::survey_choice_topics::Relation::Choice.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::survey_choice_topics::Relation::Topic.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
