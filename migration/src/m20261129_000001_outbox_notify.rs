//! A new email wakes the workers at its commit (PostgreSQL only).
//!
//! A statement-level trigger on `emails` sends `NOTIFY hive_outbox` for every
//! statement that inserts rows. PostgreSQL delivers a notification only when
//! the transaction commits, and folds identical ones in one transaction into
//! one, so a fan-out of 500 rows is one wake-up and a rolled-back change none.
//! Every worker `LISTEN`s (`hive_worker::queue::listen`) and runs its relay at
//! once, so an email written by another process (`hive-api --no-worker`, the
//! production layout) leaves within moments of its commit instead of at the
//! next poll. Every writer of outbox rows is covered, whatever code path it
//! takes. SQLite has no notifications: the worker in the API process is
//! woken in-process, a separate one polls (`HIVE_QUEUE_POLL_MS`).

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The channel the trigger notifies; `hive_worker::queue` listens on it.
pub const CHANNEL: &str = "hive_outbox";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE OR REPLACE FUNCTION hive_outbox_notify() RETURNS trigger AS $$
             BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END;
             $$ LANGUAGE plpgsql"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE TRIGGER emails_notify AFTER INSERT ON emails
             FOR EACH STATEMENT EXECUTE FUNCTION hive_outbox_notify()",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP TRIGGER IF EXISTS emails_notify ON emails")
            .await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS hive_outbox_notify()")
            .await?;
        Ok(())
    }
}
