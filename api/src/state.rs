//! What every request handler shares.

use std::sync::Arc;

use hive_worker::Settings;
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::graphql::HiveSchema;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub schema: HiveSchema,
    /// Wakes an in-process worker when a request wrote an email.
    pub outbox_signal: Arc<Notify>,
    pub metrics: PrometheusHandle,
    /// Providers as matching sees them, kept between requests.
    pub candidates: Arc<crate::graphql::matching::CandidateCache>,
    /// What each client address may still ask without an account.
    pub anonymous_requests: Arc<crate::rate_limit::ClientAllowance>,
    /// What each client address may still write without an account.
    pub anonymous_writes: Arc<crate::rate_limit::ClientAllowance>,
    /// Documents registered for automatic persisted queries, bounded in
    /// bytes (`HIVE_PERSISTED_QUERY_CACHE_BYTES`).
    pub persisted_queries: Arc<crate::http::persisted_queries::PersistedQueries>,
    /// Where `requestSignIn` leaves addresses to be looked up.
    pub sign_in_queue: crate::sign_in_queue::SignInQueue,
    /// Live sessions looked up lately (`HIVE_SESSION_CACHE_SECS`).
    pub sessions: crate::sessions::SessionCache,
}
