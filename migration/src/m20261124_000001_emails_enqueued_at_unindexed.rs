//! `emails.enqueued_at` loses its index. Nothing looks rows up by it: the
//! relay and the watchdog reach queued rows through (status,
//! next_attempt_at). The index only cost writes: the relay sets the column on
//! every email it queues, and an update that changes an indexed column must
//! add an entry to every index of the table (on PostgreSQL; one that changes
//! none can stay on its page and touch no index at all).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Emails {
    Table,
    EnqueuedAt,
}

const INDEX: &str = "emails_enqueued_at_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Emails::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Emails::Table)
                    .col(Emails::EnqueuedAt)
                    .to_owned(),
            )
            .await
    }
}
