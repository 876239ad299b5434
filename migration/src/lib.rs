//! Schema migrations: `Migrator` lists them in order; each runs unchanged on
//! SQLite and PostgreSQL, but for storage settings that only PostgreSQL has
//! (`m20261124_000002_emails_fill_factor`).

pub use sea_orm_migration::prelude::*;

pub mod m20261122_000001_data_model;
pub mod m20261123_000001_inactivity;
pub mod m20261123_000002_unsubscribe_links;
pub mod m20261123_000003_digest_periods;
pub mod m20261123_000004_requests_from_surveys;
pub mod m20261124_000001_emails_enqueued_at_unindexed;
pub mod m20261124_000002_emails_fill_factor;
pub mod m20261129_000001_outbox_notify;
pub mod m20261130_000001_calendar_feeds;
pub mod m20261130_000002_urgent_emails_index;
pub mod m20261201_000002_erasure;
pub mod m20261201_000003_organisations_archived_at;

/// Hive's migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_data_model::Migration),
            Box::new(m20261123_000001_inactivity::Migration),
            Box::new(m20261123_000002_unsubscribe_links::Migration),
            Box::new(m20261123_000003_digest_periods::Migration),
            Box::new(m20261123_000004_requests_from_surveys::Migration),
            Box::new(m20261124_000001_emails_enqueued_at_unindexed::Migration),
            Box::new(m20261124_000002_emails_fill_factor::Migration),
            Box::new(m20261129_000001_outbox_notify::Migration),
            Box::new(m20261130_000001_calendar_feeds::Migration),
            Box::new(m20261130_000002_urgent_emails_index::Migration),
            Box::new(m20261201_000002_erasure::Migration),
            Box::new(m20261201_000003_organisations_archived_at::Migration),
        ]
    }
}
