//! What every request handler shares.

use std::sync::Arc;

use hive_worker::Settings;
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::graphql::HiveExecutor;

/// What every request handler shares, behind one `Arc`: handlers, layers
/// and each GraphQL request take their own handle, and cloning a dozen
/// reference counts (a moka cache's among them) per handle showed as 5 % of
/// a signed-in request's CPU in the side-by-side bench (issue 19).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state itself.
pub struct Shared {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub schema: HiveExecutor,
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
