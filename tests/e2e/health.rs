//! `/healthz`, `/readyz` and `/metrics`.

use serde_json::Value;

use crate::on_both_databases;
use crate::support::TestApp;

on_both_databases!(readyz_follows_the_database, |app: TestApp| async move {
    let get = |path: &'static str| {
        let client = app.http.clone();
        let url = format!("{}{path}", app.base_url);
        async move { client.get(url).send().await.unwrap() }
    };
    let ready = get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["migrations"], "applied");

    // One email through the queue, then the scrape shows it by state.
    app.user(entity::users::Role::Staff, "metrics@example.coop")
        .await;
    app.graphql(
        "mutation { requestSignIn(email: \"metrics@example.coop\") { message } }",
        serde_json::json!({}),
        None,
    )
    .await;
    app.smtp
        .wait_for(
            "metrics@example.coop",
            1,
            std::time::Duration::from_secs(20),
        )
        .await;
    let metrics = get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("hive_http_requests_total"), "{text:.500}");
    // Latency as a histogram (buckets a scraper can aggregate), not a
    // summary whose quantiles read 0 when idle.
    assert!(
        text.contains("hive_http_request_duration_seconds_bucket{")
            && text.contains("le=\"0.005\"")
            && text.contains("le=\"+Inf\""),
        "latency buckets: {text:.2000}"
    );
    assert!(
        !text.contains("hive_http_request_duration_seconds{") || !text.contains("quantile="),
        "no summary quantiles: {text:.2000}"
    );
    // The process's own figures, as Prometheus client libraries name them.
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
    ] {
        let value = text
            .lines()
            .find(|line| line.starts_with(name) && !line.starts_with('#'))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok());
        assert!(value.is_some_and(|v| v > 0.0), "{name}: {value:?}");
    }
    assert!(
        text.contains("hive_emails{status=\"SENT\"} 1"),
        "emails by state: {text}"
    );
    // A process-wide counter (the tests share one process): at least this
    // test's message is in it.
    assert!(
        text.contains("hive_email_outcomes_total{outcome=\"sent\"}"),
        "outcomes of sends: {text}"
    );
    assert!(
        text.contains("hive_queue_jobs{queue=\"hive.send_emails\",status="),
        "jobs by state: {text}"
    );
    // The queue's lag and the emails waiting for a retry, as the worker's own
    // scrape gives them: nothing waits now.
    assert!(
        text.contains("\nhive_email_queue_lag_seconds 0\n"),
        "lag: {text}"
    );
    assert!(
        text.contains("\nhive_emails_awaiting_retry 0\n"),
        "retries: {text}"
    );

    // The database goes away under the running server.
    app.db.clone().close().await.unwrap();
    let asked = std::time::Instant::now();
    let gone = get("/readyz").await;
    assert!(asked.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(gone.status(), 503);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    assert_eq!(get("/healthz").await.status(), 200, "alive, just not ready");
    app.stop().await;
});

/// `HIVE_DATABASE_CONNECTIONS` sizes the PostgreSQL pool a process opens,
/// and Hive answers on the smallest pool: eight requests at once share two
/// connections (each waits its turn rather than failing).
#[tokio::test]
async fn the_postgres_pool_is_as_large_as_configured() {
    let Some(app) = TestApp::start_without_worker_tuned(crate::support::Backend::Postgres, |s| {
        s.limits.database_connections = 2;
    })
    .await
    else {
        return;
    };
    let pool = app.db.get_postgres_connection_pool();
    assert_eq!(pool.options().get_max_connections(), 2);
    let (_, staff) = app
        .user(entity::users::Role::Staff, "pool@example.coop")
        .await;
    let requests = (0..8).map(|_| {
        app.graphql(
            "{ topics(first: 5) { totalCount } }",
            serde_json::json!({}),
            Some(&staff),
        )
    });
    for (status, body) in futures::future::join_all(requests).await {
        assert_eq!(status, 200, "{body}");
        assert!(body["errors"].is_null(), "{body}");
    }
    assert!(
        pool.size() <= 2,
        "the pool opened {} connections",
        pool.size()
    );
    app.stop().await;
}
