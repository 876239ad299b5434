//! Prometheus metrics: request counts and latency, and emails by state.

use std::time::Instant;

use crate::state::AppState;
use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

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

/// The scrape: `hive_worker::ops::render_metrics` (process figures, the
/// outbox by state, queue lag and retries, the queue's depth) with this
/// process's counters, the request metrics above among them.
pub async fn render(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        hive_worker::ops::render_metrics(&state.db, &state.metrics).await,
    )
        .into_response()
}
