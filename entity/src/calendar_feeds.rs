//! Each person's calendar feed: the secret in the address of their iCalendar
//! subscription (`/calendar/{token}.ics`), at most one per person. Resetting
//! the feed replaces the token; revoking it deletes the row.
//!
//! The token is stored as it is, not hashed like sessions and emailed links:
//! the person can read their feed's address again (`User.calendarFeedUrl`),
//! which a hash could not give back, and the address opens only a read-only
//! copy of meetings that are in the same database, so whoever could read
//! this column could read the meetings themselves.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_feeds")]
pub struct Model {
    /// One feed per person.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// 256 random bits, base64url without padding (43 characters).
    #[sea_orm(unique)]
    pub token: String,
    /// When this token was issued.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
