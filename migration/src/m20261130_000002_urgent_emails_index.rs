//! An index for the relay's urgent pass (`hive_worker::outbox::Lane`): due
//! sign-in links and concern alerts, found without walking the rest of the
//! due range. While a fan-out of thousands is being handed to the queue, all
//! of it is due at once, and the urgent pass runs before every relay pass;
//! through (status, next_attempt_at) alone each of those passes read every
//! due row to find the one link among them.
//!
//! A plain index rather than a partial one: the relay's statement binds the
//! categories as parameters, and PostgreSQL cannot use a partial index whose
//! condition it can only check against the values of a parameter once it
//! switches to a generic plan. Writes pay little: `category` never changes,
//! and the updates that change `status` or `next_attempt_at` already write an
//! entry in the (status, next_attempt_at) index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Emails {
    Table,
    Status,
    Category,
    NextAttemptAt,
}

const INDEX: &str = "emails_status_category_due_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Emails::Table)
                    .col(Emails::Status)
                    .col(Emails::Category)
                    .col(Emails::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Emails::Table).to_owned())
            .await
    }
}
