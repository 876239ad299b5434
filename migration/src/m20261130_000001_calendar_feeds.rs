//! Calendar feeds: one secret iCalendar subscription address per person
//! (`/calendar/{token}.ics`), made by `resetCalendarFeed` and taken away by
//! `revokeCalendarFeed`. The token is stored as it is (see the entity's doc
//! for why), unique so that one token opens one person's feed; the row goes
//! with its user.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CalendarFeeds {
    Table,
    UserId,
    Token,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CalendarFeeds::Table)
                    .col(big_integer(CalendarFeeds::UserId).primary_key())
                    .col(string_uniq(CalendarFeeds::Token))
                    .col(timestamp_with_time_zone(CalendarFeeds::CreatedAt))
                    // Named as PostgreSQL would, like every other key.
                    .foreign_key(
                        ForeignKey::create()
                            .name("calendar_feeds_user_id_fkey")
                            .from(CalendarFeeds::Table, CalendarFeeds::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CalendarFeeds::Table).to_owned())
            .await
    }
}
