//! `emails` pages keep room for updated rows (PostgreSQL only).
//!
//! Each email is updated three times on its way out (queued, claimed, sent).
//! PostgreSQL writes an updated row as a new version; when no indexed column
//! changed and the new version fits on the old one's page, it is a HOT
//! update that writes no index entry at all. The claim changes no indexed
//! column (see `send_email::claim`), but with full pages the new version has
//! to go elsewhere and all five indexes of `emails` get an entry. A fill
//! factor leaves part of each page free for those versions; the space of the
//! old ones is reclaimed when the page is next pruned.
//!
//! SQLite updates rows in place and has no such setting: nothing to do there.
//! The setting applies to pages filled from now on; existing pages keep their
//! rows until they are rewritten.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Percent of each page that inserts fill. Measured with the mail bench
/// (README, "Performance"), with the claim that keeps the relay's lease: at
/// 70 three claims in four were HOT, at 50 all of them; PostgreSQL's CPU for
/// 10,000 emails went from 1.5 s (full pages, a claim that moved the lease:
/// no HOT update at all) to 1.2 s and 1.1 s. The table takes twice the pages;
/// at a programme's volume of mail (thousands of rows a year) that is
/// nothing.
const FILL_FACTOR: u8 = 50;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_fill_factor(manager, FILL_FACTOR).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_fill_factor(manager, 100).await
    }
}

async fn set_fill_factor(manager: &SchemaManager<'_>, percent: u8) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!("ALTER TABLE emails SET (fillfactor = {percent})"))
        .await
        .map(|_| ())
}
