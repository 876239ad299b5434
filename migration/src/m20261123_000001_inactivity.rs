//! Inactivity follow-ups on engagements: when the provider was last nudged
//! about a lull with no meetings, and when staff were told it went on. Each
//! is compared with the engagement's last activity, so a new lull after a
//! meeting is followed up again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Engagements {
    Table,
    InactivityNudgedAt,
    InactivityEscalatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one change per ALTER TABLE.
        for column in [
            Engagements::InactivityNudgedAt,
            Engagements::InactivityEscalatedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Engagements::Table)
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Engagements::InactivityEscalatedAt,
            Engagements::InactivityNudgedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Engagements::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
