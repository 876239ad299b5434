//! Staff digests: the period (e.g. `2026-11-23` or `2026-W48`) whose digest
//! was last decided for an address — sent, or found with nothing to say — so
//! each period is decided once, by one worker, and a digest found empty at
//! its time is not sent later in the period.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EmailPreferences {
    Table,
    LastDigestPeriod,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EmailPreferences::Table)
                    .add_column(string_len_null(EmailPreferences::LastDigestPeriod, 16))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EmailPreferences::Table)
                    .drop_column(EmailPreferences::LastDigestPeriod)
                    .to_owned(),
            )
            .await
    }
}
