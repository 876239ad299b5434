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

    let metrics = get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("hive_http_requests_total"), "{text:.500}");
    assert!(
        text.contains("hive_emails{status=\"PENDING\"}") || text.contains("hive_emails{"),
        "{text:.500}"
    );

    // The database goes away under the running server.
    app.db.clone().close().await.unwrap();
    let gone = get("/readyz").await;
    assert_eq!(gone.status(), 503);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    assert_eq!(get("/healthz").await.status(), 200, "alive, just not ready");
    app.stop().await;
});
