//! An organisation's response to a survey: at most one per invitation, updated
//! in place if the co-op answers again while the survey is open.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_responses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub invitation_id: i64,
    pub submitted_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::survey_invitations::Entity",
        from = "Column::InvitationId",
        to = "super::survey_invitations::Column::Id"
    )]
    Invitation,
    #[sea_orm(has_many = "super::survey_answers::Entity")]
    Answers,
}

impl Related<super::survey_invitations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Invitation.def()
    }
}

impl Related<super::survey_answers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Answers.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
