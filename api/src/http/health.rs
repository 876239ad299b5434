//! Liveness and readiness for orchestrators.

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use crate::state::AppState;

/// The process is up and serving; says nothing about the database.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready for traffic: the database answers and every migration is applied.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = hive_worker::db::ping(&state.db).await;
    let migrations = match &database {
        Ok(()) => hive_worker::db::migrations_applied(&state.db).await.ok(),
        Err(_) => None,
    };
    let ready = database.is_ok() && migrations == Some(true);
    let body = json!({
        "status": if ready { "ready" } else { "unready" },
        "database": if database.is_ok() { "ok" } else { "unreachable" },
        "migrations": match migrations {
            Some(true) => "applied",
            Some(false) => "pending",
            None => "unknown",
        },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
