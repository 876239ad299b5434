//! What an operator sees of either binary: liveness, readiness and the
//! Prometheus scrape. `hive-api` serves them on its own address among its
//! routes; `hive-worker` serves them alone on `HIVE_WORKER_ADDR` ([`serve`]),
//! so a worker of the production layout can be health-checked and scraped
//! too. Both read the outbox the same way ([`render_metrics`]).

use std::{net::SocketAddr, sync::OnceLock, time::Duration};

use axum::{Json, Router, extract::State, http::StatusCode, http::header, response::IntoResponse};
use chrono::Utc;
use entity::emails::{self, EmailStatus};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Iterable,
    PaginatorTrait, QueryFilter, QuerySelect, Statement,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long `/readyz` waits for the database before answering "unreachable".
/// The pool's own wait for a connection is 10 s (`db::connect`); an
/// orchestrator's probe usually times out well before that, and a probe that
/// hangs says less than a quick 503.
/// 800 ms, so that the answer (503 included) comes within a probe's usual
/// one-second timeout rather than just after it.
pub const READINESS_WAIT: Duration = Duration::from_millis(800);

/// HTTP request latency buckets, in seconds: from a quick answer from memory
/// (1 ms) to the request deadline's neighbourhood (30 s), so a histogram's
/// quantiles can be computed over any window by the scraper (a summary's
/// quantiles read 0 once idle, and cannot be added up across processes).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide metrics recorder (installed on first use): every server
/// in the process (the tests start many) shares it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            // Only an empty bucket list is refused, and ours is not empty.
            let builder = builder
                .set_buckets_for_metric(
                    Matcher::Full("hive_http_request_duration_seconds".into()),
                    &LATENCY_BUCKETS,
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is set; then ours simply sees nothing.
            let _ = metrics::set_global_recorder(recorder);
            register_counters_at_zero();
            handle
        })
        .clone()
}

/// Readiness: the database answers and every migration is applied, found out
/// within [`READINESS_WAIT`]. Returns whether ready, and the JSON body
/// (`status`, `database`: ok / unreachable, `migrations`: applied / pending /
/// unknown).
pub async fn readiness(db: &DatabaseConnection) -> (bool, Value) {
    let check = async {
        match crate::db::ping(db).await {
            Ok(()) => (true, crate::db::migrations_applied(db).await.ok()),
            Err(_) => (false, None),
        }
    };
    let (database, migrations) = tokio::time::timeout(READINESS_WAIT, check)
        .await
        .unwrap_or((false, None));
    let ready = database && migrations == Some(true);
    let body = json!({
        "status": if ready { "ready" } else { "unready" },
        "database": if database { "ok" } else { "unreachable" },
        "migrations": match migrations {
            Some(true) => "applied",
            Some(false) => "pending",
            None => "unknown",
        },
    });
    (ready, body)
}

/// The process's own figures (CPU seconds, resident and virtual memory, open
/// and maximum file descriptors, threads, start time), under the names the
/// Prometheus client libraries use (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, `process_open_fds`, …), read from
/// `/proc` at each scrape by the `metrics-process` crate.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector = metrics_process::Collector::default();
        collector.describe();
        collector
    })
}

/// The scrape, in Prometheus's text format: this process's counters (the
/// worker's `hive_email_outcomes_total`, `hive_emails_relayed_total`,
/// `hive_queue_worker_restarts_total`, …) and figures read from the database
/// at the moment of the scrape, the same whichever process is asked:
///
/// - `hive_emails{status}`: outbox rows by state;
/// - `hive_email_queue_lag_seconds`: the age of the oldest email that is due
///   and not yet on its way (see [`queue_lag`]); 0 when none waits;
/// - `hive_emails_awaiting_retry`: pending emails that failed at least once
///   and wait for their next attempt;
/// - `hive_queue_jobs{queue,status}`: apalis's own tasks by state.
///
/// A figure the database cannot give within [`READINESS_WAIT`] is left at
/// its last value (and the failure logged), so a scrape during an outage
/// still answers.
pub async fn render_metrics(db: &DatabaseConnection, handle: &PrometheusHandle) -> String {
    process_collector().collect();
    match tokio::time::timeout(READINESS_WAIT, record_outbox(db)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "could not read the outbox for /metrics"),
        Err(_) => tracing::warn!("the outbox did not answer /metrics within a second"),
    }
    handle.render()
}

async fn record_outbox(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    for status in EmailStatus::iter() {
        let count = emails::Entity::find()
            .filter(emails::Column::Status.eq(status))
            .count(db)
            .await?;
        let label = format!("{status:?}").to_uppercase();
        metrics::gauge!("hive_emails", "status" => label).set(count as f64);
    }
    let lag = queue_lag(db).await?;
    metrics::gauge!("hive_email_queue_lag_seconds").set(lag.as_secs_f64());
    let retrying = emails::Entity::find()
        .filter(emails::Column::Status.eq(EmailStatus::Pending))
        .filter(emails::Column::Attempts.gt(0))
        .filter(emails::Column::LastError.is_not_null())
        .count(db)
        .await?;
    metrics::gauge!("hive_emails_awaiting_retry").set(retrying as f64);
    record_queue_depth(db).await
}

/// How long the oldest email that should be on its way has waited: a pending
/// row that is due and not queued (waiting for the relay) counts from its due
/// time; one queued and not yet claimed by a send task counts from when it
/// was queued (the relay moves its due time a lease ahead, so the minutes
/// before the relay took it, at most a poll, are not seen). Rows being sent
/// (claimed) and rows due later are not waiting. Zero when nothing waits.
pub async fn queue_lag(db: &DatabaseConnection) -> Result<Duration, sea_orm::DbErr> {
    let now = Utc::now();
    let oldest_due: Option<chrono::DateTime<Utc>> = emails::Entity::find()
        .select_only()
        .column_as(emails::Column::NextAttemptAt.min(), "oldest")
        .filter(emails::Column::Status.eq(EmailStatus::Pending))
        .filter(emails::Column::NextAttemptAt.lte(now))
        .into_tuple::<Option<chrono::DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten();
    let oldest_queued: Option<chrono::DateTime<Utc>> = emails::Entity::find()
        .select_only()
        .column_as(emails::Column::EnqueuedAt.min(), "oldest")
        .filter(emails::Column::Status.eq(EmailStatus::Pending))
        .filter(emails::Column::EnqueuedAt.is_not_null())
        .into_tuple::<Option<chrono::DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten();
    let oldest = match (oldest_due, oldest_queued) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(oldest
        .and_then(|at| (now - at).to_std().ok())
        .unwrap_or_default())
}

/// Jobs in apalis's own table by queue and state (Pending, Running, Done,
/// Failed, Killed): the queue's depth as the job engine sees it.
/// The worker's counters, made to exist at 0 from the start: a series born
/// mid-window makes `rate()` miss its first event, and an alert on
/// `hive_queue_worker_restarts_total > 0` could not tell "never" from "not
/// scraped".
fn register_counters_at_zero() {
    for name in [
        "hive_queue_worker_restarts_total",
        "hive_sent_mark_retries_total",
        "hive_outbox_refused_keys_total",
    ] {
        metrics::counter!(name).increment(0);
    }
    for kind in crate::jobs::retention::Cleared::KINDS {
        metrics::counter!("hive_retention_cleared_total", "kind" => kind).increment(0);
    }
    for lane in crate::outbox::Lane::ALL {
        metrics::counter!("hive_emails_relayed_total", "lane" => lane.label()).increment(0);
    }
    for outcome in crate::jobs::send_email::Outcome::LABELS {
        metrics::counter!("hive_email_outcomes_total", "outcome" => outcome).increment(0);
    }
}

/// The queue statuses apalis writes (its `State`); each is set on every
/// scrape, 0 when no task has it, so a drained queue reads 0 rather than its
/// last count.
const QUEUE_STATUSES: [&str; 6] = ["Pending", "Queued", "Running", "Done", "Failed", "Killed"];

/// The job types Hive queues.
const QUEUE_NAMES: [&str; 1] = [crate::queue::SEND_EMAILS_QUEUE];

async fn record_queue_depth(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let table = match backend {
        DbBackend::Postgres => "apalis.jobs",
        _ => "Jobs",
    };
    let sql =
        format!("SELECT job_type, status, COUNT(*) AS jobs FROM {table} GROUP BY job_type, status");
    let mut counts: std::collections::HashMap<(String, String), i64> = QUEUE_NAMES
        .iter()
        .flat_map(|queue| {
            QUEUE_STATUSES
                .iter()
                .map(move |status| ((queue.to_string(), status.to_string()), 0))
        })
        .collect();
    for row in db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?
    {
        let queue: String = row.try_get("", "job_type")?;
        let status: String = row.try_get("", "status")?;
        let jobs: i64 = row.try_get("", "jobs")?;
        counts.insert((queue, status), jobs);
    }
    for ((queue, status), jobs) in counts {
        metrics::gauge!("hive_queue_jobs", "queue" => queue, "status" => status).set(jobs as f64);
    }
    Ok(())
}

/// `hive-worker`'s own little server: `/healthz` (the process is up),
/// `/readyz` (see [`readiness`]) and `/metrics` (see [`render_metrics`]) on
/// `listener`, until `shutdown`. Serve it only inside the network, like the
/// API's `/metrics`.
pub async fn serve(
    listener: TcpListener,
    db: DatabaseConnection,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(readyz))
        .route("/metrics", axum::routing::get(metrics_text))
        .with_state((db, metrics_handle()));
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// Binds `addr` for [`serve`]; returns the listener and the address it got
/// (port 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

type OpsState = (DatabaseConnection, PrometheusHandle);

/// The process is up; says nothing about the database.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State((db, _)): State<OpsState>) -> (StatusCode, Json<Value>) {
    let (ready, body) = readiness(&db).await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn metrics_text(State((db, handle)): State<OpsState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render_metrics(&db, &handle).await,
    )
}
