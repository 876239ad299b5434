//! People who sign in: programme staff, mentors, advisers and members of client
//! co-ops. Co-ops answering surveys or reviews from a link need no row here.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What a user may do; see the role table in DESIGN.md.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    #[sea_orm(string_value = "STAFF")]
    Staff,
    #[sea_orm(string_value = "MENTOR")]
    Mentor,
    #[sea_orm(string_value = "ADVISER")]
    Adviser,
    #[sea_orm(string_value = "MEMBER")]
    Member,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Stored lower-case, so the unique constraint is case-insensitive in effect.
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The client co-op of a MEMBER.
    pub organisation_id: Option<i64>,
    pub created_at: DateTimeUtc,
    /// Set instead of deleting, so the audit trail keeps its actors.
    pub deactivated_at: Option<DateTimeUtc>,
    /// When staff erased the person (`erasePerson`): name, address and the
    /// free text they wrote were replaced by the marker. Erased once only.
    pub erased_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::organisations::Entity",
        from = "Column::OrganisationId",
        to = "super::organisations::Column::Id"
    )]
    Organisation,
    #[sea_orm(has_many = "super::sessions::Entity")]
    Sessions,
    #[sea_orm(has_many = "super::sign_in_tokens::Entity")]
    SignInTokens,
    #[sea_orm(has_one = "super::providers::Entity")]
    Provider,
    #[sea_orm(has_one = "super::email_preferences::Entity")]
    EmailPreferences,
}

impl Related<super::organisations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Organisation.def()
    }
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sessions.def()
    }
}

impl Related<super::sign_in_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SignInTokens.def()
    }
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl Related<super::email_preferences::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EmailPreferences.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
