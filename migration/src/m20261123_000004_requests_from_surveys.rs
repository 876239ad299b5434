//! A support request drafted from a needs-survey response remembers which
//! one, so staff see where it came from and the same response cannot be
//! turned into a second request (the index is unique; requests made any
//! other way leave the column null, which the index does not count).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupportRequests {
    Table,
    SurveyResponseId,
}

/// The unique index's name, for error messages and `down`.
pub const ONE_REQUEST_PER_RESPONSE: &str = "support_requests_survey_response_id_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SupportRequests::Table)
                    .add_column(big_integer_null(SupportRequests::SurveyResponseId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ONE_REQUEST_PER_RESPONSE)
                    .table(SupportRequests::Table)
                    .col(SupportRequests::SurveyResponseId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(ONE_REQUEST_PER_RESPONSE)
                    .table(SupportRequests::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SupportRequests::Table)
                    .drop_column(SupportRequests::SurveyResponseId)
                    .to_owned(),
            )
            .await
    }
}
