//! Liveness and readiness for orchestrators (the same answers as
//! `hive-worker`'s, from `hive_worker::ops`).

use axum::{Json, extract::State, http::StatusCode};
use serde_json::Value;

use crate::state::AppState;

pub use hive_worker::ops::healthz;

/// Ready for traffic: the database answers and every migration is applied;
/// answered within a second even when the database is gone.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (ready, body) = hive_worker::ops::readiness(&state.db).await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
