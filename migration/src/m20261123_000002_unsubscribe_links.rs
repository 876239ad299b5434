//! One-click unsubscribe links, one per message: the hash of the secret in a
//! message's `List-Unsubscribe` link, kept on its `emails` row so that every
//! message ever sent keeps a working link (a per-address secret could not be
//! put in later messages without storing it in the clear).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Emails {
    Table,
    UnsubscribeTokenHash,
}

const INDEX: &str = "emails_unsubscribe_token_hash_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Emails::Table)
                    .add_column(string_null(Emails::UnsubscribeTokenHash))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Emails::Table)
                    .col(Emails::UnsubscribeTokenHash)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Emails::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Emails::Table)
                    .drop_column(Emails::UnsubscribeTokenHash)
                    .to_owned(),
            )
            .await
    }
}
