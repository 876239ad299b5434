//! The audit trail: who changed what, when. `detail` never holds confidential
//! values (contact details, financial details, notes, tokens).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Null for the system (worker jobs) or an anonymous link holder.
    pub actor_user_id: Option<i64>,
    /// The operation, e.g. `requestSignIn`.
    pub action: String,
    /// The table or GraphQL type acted on, e.g. `Engagement`.
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    /// JSON.
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ActorUserId",
        to = "super::users::Column::Id"
    )]
    Actor,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
