//! The one shape every change to the programme takes: a write transaction
//! that locks the rows its rules are about before it reads what it checks,
//! records the change in the audit trail, writes its emails to the outbox,
//! and commits, all or nothing.
//!
//! Why the locks: SQLite's `BEGIN IMMEDIATE` serialises every writer, so a
//! check-then-write there is safe on its own; PostgreSQL's READ COMMITTED is
//! not. Two parties recording meetings at once both read "3 of 4 days used"
//! and both write; two bookings of one hour both find it free. So an
//! operation locks the aggregate it changes (`SELECT … FOR UPDATE`), and a
//! second one waits, then reads what the first wrote.
//!
//! Lock order, always the same so that two changes never wait on each other:
//! request → engagement → provider → everything else (a survey before its
//! invitation, a review). [`Change::lock_engagement`] takes the engagement's
//! request first for that reason.

use entity::{engagements, providers, support_requests};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    PrimaryKeyTrait, QuerySelect, Select,
};

use crate::{
    audit,
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// A change in progress, for one acting viewer.
pub struct Change<'v> {
    txn: DatabaseTransaction,
    viewer: &'v Viewer,
}

impl<'v> Change<'v> {
    /// Opens the write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(db: &DatabaseConnection, viewer: &'v Viewer) -> ApiResult<Self> {
        Ok(Self {
            txn: hive_worker::db::begin_write(db).await?,
            viewer,
        })
    }

    /// The transaction, for the change's reads and writes.
    pub fn db(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Who is making the change.
    pub fn viewer(&self) -> &'v Viewer {
        self.viewer
    }

    /// Reads a row and locks it until the change ends (`FOR UPDATE` on
    /// PostgreSQL; on SQLite the transaction already holds the write lock).
    /// NOT_FOUND with `missing` when there is no such row.
    pub async fn lock<E>(&self, select: Select<E>, missing: &str) -> ApiResult<E::Model>
    where
        E: EntityTrait,
    {
        self.read_locked(select, QuerySelect::lock_exclusive, missing)
            .await
    }

    /// Reads a row and holds it from changing until the change ends (`FOR
    /// SHARE` on PostgreSQL): others may read it and hold it too, but not
    /// change it. For a row the change relies on without changing, such as a
    /// survey that must stay open while answers are stored.
    pub async fn lock_shared<E>(&self, select: Select<E>, missing: &str) -> ApiResult<E::Model>
    where
        E: EntityTrait,
    {
        self.read_locked(select, QuerySelect::lock_shared, missing)
            .await
    }

    /// Reads one row with `lock` applied on PostgreSQL; SQLite's write
    /// transaction already holds the database. NOT_FOUND with `missing`.
    async fn read_locked<E>(
        &self,
        select: Select<E>,
        lock: fn(Select<E>) -> Select<E>,
        missing: &str,
    ) -> ApiResult<E::Model>
    where
        E: EntityTrait,
    {
        let select = if self.txn.get_database_backend() == DbBackend::Postgres {
            lock(select)
        } else {
            select
        };
        select
            .one(&self.txn)
            .await?
            .ok_or_else(|| ApiError::not_found(missing))
    }

    /// Reads every row of `select` and locks them until the change ends, in
    /// the order the select gives (order by id, so that two changes taking
    /// the same rows take them in the same order). For a change whose rules
    /// are about all of a person's or a co-op's requests at once (erasure).
    pub async fn lock_all<E>(&self, select: Select<E>) -> ApiResult<Vec<E::Model>>
    where
        E: EntityTrait,
    {
        let select = if self.txn.get_database_backend() == DbBackend::Postgres {
            select.lock_exclusive()
        } else {
            select
        };
        Ok(select.all(&self.txn).await?)
    }

    /// Locks a row by its id.
    pub async fn lock_by_id<E>(&self, id: i64, missing: &str) -> ApiResult<E::Model>
    where
        E: EntityTrait,
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
    {
        self.lock(E::find_by_id(id), missing).await
    }

    /// Locks a support request (first in the lock order).
    pub async fn lock_request(&self, id: i64) -> ApiResult<support_requests::Model> {
        self.lock_by_id::<support_requests::Entity>(id, "No support request has that id.")
            .await
    }

    /// Locks an engagement, after its request (the lock order).
    pub async fn lock_engagement(&self, id: i64) -> ApiResult<engagements::Model> {
        let missing = "No engagement has that id.";
        let request_id: Option<i64> = engagements::Entity::find_by_id(id)
            .select_only()
            .column(engagements::Column::SupportRequestId)
            .into_tuple()
            .one(&self.txn)
            .await?;
        let request_id = request_id.ok_or_else(|| ApiError::not_found(missing))?;
        self.lock_request(request_id).await?;
        self.lock_by_id::<engagements::Entity>(id, missing).await
    }

    /// Locks a provider (after any request and engagement of the change):
    /// their bookings and capacity, across engagements.
    pub async fn lock_provider(&self, id: i64) -> ApiResult<providers::Model> {
        self.lock_by_id::<providers::Entity>(id, "No provider has that id.")
            .await
    }

    /// Records the change in the audit trail (ids and non-confidential facts
    /// only; see `audit::record`).
    pub async fn audit(
        &self,
        action: &str,
        subject: Option<(&str, i64)>,
        detail: Option<serde_json::Value>,
    ) -> ApiResult<()> {
        audit::record(&self.txn, self.viewer, action, subject, detail).await?;
        Ok(())
    }

    /// Commits the change. A unique key that another change took meanwhile
    /// is a CONFLICT (see `error::ApiError`'s mapping), never INTERNAL.
    pub async fn commit(self) -> ApiResult<()> {
        self.txn.commit().await?;
        Ok(())
    }
}
