//! Retention (issue 17, item 4): notes, resolved concerns' details and sent
//! emails' bodies are cleared once past the `HIVE_RETENTION_*` periods, once
//! however many workers run, and `/metrics` says how much was cleared.

use std::time::{Duration, Instant};

use chrono::Utc;
use entity::{concerns, emails, meetings};
use hive_worker::jobs::retention::{CLEARED, CLEARED_BODY};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;

use crate::delivery_faults::{WorkerProcess, free_port};
use crate::support::{
    Backend, TestApp,
    programme::{Programme, decode, move_meeting, ok},
};
use crate::worker_ops::parse_scrape;

const RAISE: &str = "mutation($e: ID!, $d: String!) { raiseConcern(engagementId: $e, category: OTHER, details: $d) { id } }";
const RESOLVE: &str = "mutation($c: ID!) { resolveConcern(concernId: $c, outcome: \"Talked it through.\") { status } }";

/// What two workers' scrapes say was cleared, summed: `[notes, concerns,
/// email bodies]`.
async fn cleared_by(app: &TestApp, addresses: &[String]) -> [f64; 3] {
    let mut total = [0.0; 3];
    for address in addresses {
        let text = app
            .http
            .get(format!("http://{address}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let samples = parse_scrape(&text);
        for (slot, kind) in total
            .iter_mut()
            .zip(hive_worker::jobs::retention::Cleared::KINDS)
        {
            *slot += samples
                .get(&format!("hive_retention_cleared_total{{kind=\"{kind}\"}}"))
                .copied()
                .unwrap_or_else(|| panic!("{kind} exported from the start: {text}"));
        }
    }
    total
}

async fn past_their_time_cleared_once(backend: Backend) {
    // This process's own worker sends the mail but clears nothing: what is
    // cleared, and counted, is the two worker processes' doing.
    let Some(app) =
        TestApp::start_tuned(backend, |settings| settings.retention_interval = None).await
    else {
        return;
    };
    let p = Programme::new(&app).await;
    let (coop, member) = p.coop(&app, "Fell Farmers").await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Kept Mentor", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let engagement = p.proposed(&app, &request, &mentor, 3).await;
    p.accept(&app, &engagement, &mentor_token).await;
    // A meeting held, with notes and learning.
    let slot = json!({"engagementId": engagement, "startsAt": (Utc::now() + chrono::Duration::hours(5)).to_rfc3339(), "durationMinutes": 60, "format": "PHONE"});
    let body = ok(app
        .graphql(
            "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
            json!({"i": slot}),
            Some(&member),
        )
        .await);
    let meeting = body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    move_meeting(&app, &meeting, Utc::now() - chrono::Duration::hours(2)).await;
    ok(app
        .graphql(
            "mutation($m: ID!) { recordMeeting(input: {meetingId: $m, held: true, daysCounted: 1, notes: \"private notes\", learning: \"programme learning\"}) { status } }",
            json!({"m": meeting}),
            Some(&mentor_token),
        )
        .await);
    // Two resolved concerns: one long ago, one lately.
    let mut concern_ids = Vec::new();
    for details in ["an old matter", "a recent matter"] {
        let body = ok(app
            .graphql(RAISE, json!({"e": engagement, "d": details}), Some(&member))
            .await);
        let id = body["data"]["raiseConcern"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(app.graphql(RESOLVE, json!({"c": id}), Some(&p.staff)).await);
        concern_ids.push(id);
    }
    // Everything sent so far (the concern alerts among it).
    app.smtp
        .wait_for_subject("staff@hive.test", "concern", Duration::from_secs(20))
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let sent = loop {
        let rows = emails::Entity::find().all(&app.db).await.unwrap();
        if rows
            .iter()
            .all(|row| row.status == entity::emails::EmailStatus::Sent)
        {
            break rows;
        }
        assert!(Instant::now() < deadline, "mail still going out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (old_email, recent_email) = (sent[0].id, sent[sent.len() - 1].id);

    // Time passes, for some of it: the meeting was 25 months ago (notes kept
    // 24), the old concern resolved 73 months ago (kept 72), one email went
    // 91 days ago (kept 90).
    move_meeting(&app, &meeting, Utc::now() - chrono::Duration::days(25 * 31)).await;
    concerns::Entity::update_many()
        .col_expr(
            concerns::Column::ResolvedAt,
            Expr::value(Utc::now() - chrono::Duration::days(73 * 31)),
        )
        .filter(concerns::Column::Id.eq(decode(&concern_ids[0])))
        .exec(&app.db)
        .await
        .unwrap();
    emails::Entity::update_many()
        .col_expr(
            emails::Column::UpdatedAt,
            Expr::value(Utc::now() - chrono::Duration::days(91)),
        )
        .filter(emails::Column::Id.eq(old_email))
        .exec(&app.db)
        .await
        .unwrap();

    // Two workers, each running retention as it starts.
    let logs = tempfile::tempdir().unwrap();
    let addresses: Vec<String> = (0..2)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let _workers: Vec<WorkerProcess> = addresses
        .iter()
        .enumerate()
        .map(|(n, address)| {
            WorkerProcess::start_with(
                &app,
                logs.path(),
                &format!("retention{n}"),
                &[
                    ("HIVE_WORKER_ADDR", address.as_str()),
                    ("HIVE_TEST_PERIODIC_MS", "100"),
                ],
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = futures::future::join_all(
            addresses
                .iter()
                .map(|address| app.http.get(format!("http://{address}/metrics")).send()),
        )
        .await;
        if ready.iter().all(|answer| answer.is_ok()) && cleared_by(&app, &addresses).await[0] >= 1.0
        {
            break;
        }
        assert!(Instant::now() < deadline, "no retention pass within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each thing is cleared once between them: wait until every kind is
    // (a pass clears one kind after another, and on a busy machine the
    // first pass may still be under way), then give the slower process a
    // moment more to clear anything twice.
    while cleared_by(&app, &addresses)
        .await
        .iter()
        .any(|count| *count < 1.0)
    {
        assert!(
            Instant::now() < deadline,
            "not every kind cleared within 60 s: {:?}",
            cleared_by(&app, &addresses).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cleared_by(&app, &addresses).await, [1.0, 1.0, 1.0]);

    // What the mentor sees: the notes gone, the meeting kept.
    let body = ok(app
        .graphql(
            "query($id: ID!) { node(id: $id) { ... on Meeting { status daysCounted notes learning } } }",
            json!({"id": meeting}),
            Some(&mentor_token),
        )
        .await);
    assert_eq!(body["data"]["node"]["status"], "HELD", "{body}");
    assert_eq!(body["data"]["node"]["notes"], serde_json::Value::Null);
    assert_eq!(body["data"]["node"]["learning"], serde_json::Value::Null);
    let stored = meetings::Entity::find_by_id(decode(&meeting))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.notes, stored.learning), (None, None));
    // The old concern's details and outcome cleared, the recent one's kept.
    for (id, details) in concern_ids.iter().zip([CLEARED, "a recent matter"]) {
        let body = ok(app
            .graphql(
                "query($id: ID!) { node(id: $id) { ... on Concern { status details outcome } } }",
                json!({"id": id}),
                Some(&p.staff),
            )
            .await);
        assert_eq!(body["data"]["node"]["status"], "RESOLVED");
        assert_eq!(body["data"]["node"]["details"], details);
    }
    // The old email's body cleared, its delivery record kept; the rest kept.
    let old = emails::Entity::find_by_id(old_email)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.context, CLEARED_BODY);
    assert_eq!(old.status, entity::emails::EmailStatus::Sent);
    assert!(old.sent_at.is_some());
    let recent = emails::Entity::find_by_id(recent_email)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(recent.context, CLEARED_BODY);
    // A dead email whose body is gone cannot be retried: nothing to send.
    emails::Entity::update_many()
        .col_expr(
            emails::Column::Status,
            Expr::value(entity::emails::EmailStatus::Dead),
        )
        .filter(emails::Column::Id.eq(old_email))
        .exec(&app.db)
        .await
        .unwrap();
    let body = ok(app
        .graphql(
            "{ emailDeliveries(filter: {status: DEAD}, last: 5) { edges { node { id } } } }",
            json!({}),
            Some(&p.staff),
        )
        .await);
    let dead = body["data"]["emailDeliveries"]["edges"][0]["node"]["id"].clone();
    let (_, body) = app
        .graphql(
            "mutation($id: ID!) { retryEmail(id: $id) { status } }",
            json!({"id": dead}),
            Some(&p.staff),
        )
        .await;
    assert_eq!(
        crate::support::first_error_code(&body),
        Some("CONFLICT"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_their_time_cleared_once_sqlite() {
    past_their_time_cleared_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_their_time_cleared_once_postgres() {
    past_their_time_cleared_once(Backend::Postgres).await;
}
