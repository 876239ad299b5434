//! Prometheus metrics: request counts and latency, and emails by state.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use entity::emails::{self, EmailStatus};
use sea_orm::Iterable;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::state::AppState;

/// Counts and times every request by route and method. Every label takes a
/// value from a fixed set (the route pattern, not the raw path; a standard
/// method or `other`), so no client can grow the scrape or the recorder's
/// memory by inventing values.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("hive_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("hive_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// The process's own figures (CPU seconds, resident and virtual memory, open
/// and maximum file descriptors, threads, start time), under the names the
/// Prometheus client libraries use (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, `process_open_fds`, …), read from
/// `/proc` at each scrape by the `metrics-process` crate.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: std::sync::OnceLock<metrics_process::Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector = metrics_process::Collector::default();
        collector.describe();
        collector
    })
}

/// The scrape: process metrics plus the email outbox counted by state at the
/// moment of the scrape.
pub async fn render(State(state): State<AppState>) -> Response {
    process_collector().collect();
    for status in EmailStatus::iter() {
        if let Ok(count) = emails::Entity::find()
            .filter(emails::Column::Status.eq(status))
            .count(&state.db)
            .await
        {
            let label = format!("{status:?}").to_uppercase();
            metrics::gauge!("hive_emails", "status" => label).set(count as f64);
        }
    }
    if let Err(error) = record_queue_depth(&state.db).await {
        tracing::warn!(%error, "could not count queued jobs");
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Jobs in apalis's own table by queue and state (Pending, Running, Done,
/// Failed, Killed): the queue's depth as the job engine sees it.
async fn record_queue_depth(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let backend = db.get_database_backend();
    let table = match backend {
        DbBackend::Postgres => "apalis.jobs",
        _ => "Jobs",
    };
    let sql =
        format!("SELECT job_type, status, COUNT(*) AS jobs FROM {table} GROUP BY job_type, status");
    for row in db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?
    {
        let queue: String = row.try_get("", "job_type")?;
        let status: String = row.try_get("", "status")?;
        let jobs: i64 = row.try_get("", "jobs")?;
        metrics::gauge!("hive_queue_jobs", "queue" => queue, "status" => status).set(jobs as f64);
    }
    Ok(())
}
