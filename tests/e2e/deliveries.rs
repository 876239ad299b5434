//! Mail that behaves: staff see every delivery, retry dead ones and clear
//! bounces; people unsubscribe from reminders, digests and surveys with one
//! click, and that choice is honoured.

use std::time::Duration;

use entity::{
    emails::{self, EmailCategory, EmailStatus},
    users::Role,
};
use hive_worker::outbox::{self, NewEmail};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::delivery_faults::{fan_out, wait_for_distinct};
use crate::on_both_databases;
use crate::support::{
    Backend, TestApp, first_error_code,
    programme::{Programme, ok},
};

const REQUEST: &str = "mutation($email: String!) { requestSignIn(email: $email) { message } }";
const DELIVERIES: &str = "query($f: EmailDeliveryFilter) { emailDeliveries(filter: $f, last: 50) { totalCount edges { node { id recipient category template status attempts lastError sentAt } } } }";
const RETRY: &str = "mutation($id: ID!) { retryEmail(id: $id) { status attempts } }";
const WAIT: Duration = Duration::from_secs(20);

/// Polls the delivery list until a message to `address` has `status`.
async fn wait_for_delivery(app: &TestApp, staff: &str, address: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let body = ok(app
            .graphql(
                DELIVERIES,
                json!({"f": {"recipient": address.to_uppercase()}}),
                Some(staff),
            )
            .await);
        let edges = body["data"]["emailDeliveries"]["edges"].as_array().unwrap();
        if let Some(edge) = edges.iter().find(|e| e["node"]["status"] == status) {
            return edge["node"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {status} delivery to {address}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn staff_retry_dead_and_bounced_mail(backend: crate::support::Backend) {
    let Some(app) = TestApp::start_tuned(backend, |settings| {
        settings.email_max_attempts = 2;
    })
    .await
    else {
        return;
    };
    let p = Programme::new(&app).await;

    // A server that keeps saying "later": two tries, then DEAD.
    app.smtp.defer("late@example.coop");
    app.user(Role::Mentor, "late@example.coop").await;
    ok(app
        .graphql(REQUEST, json!({"email": "late@example.coop"}), None)
        .await);
    let dead = wait_for_delivery(&app, &p.staff, "late@example.coop", "DEAD").await;
    assert_eq!(dead["attempts"], 2, "{dead}");
    assert_eq!(dead["category"], "SIGN_IN");
    assert!(
        dead["lastError"].as_str().unwrap().contains("452"),
        "{dead}"
    );
    let listed = ok(app
        .graphql(DELIVERIES, json!({"f": {"status": "DEAD"}}), Some(&p.staff))
        .await);
    assert_eq!(listed["data"]["emailDeliveries"]["totalCount"], 1);

    // The server takes it again; staff retry and it arrives, once.
    app.smtp.welcome("late@example.coop");
    let retried = ok(app
        .graphql(RETRY, json!({"id": dead["id"]}), Some(&p.staff))
        .await);
    assert_eq!(retried["data"]["retryEmail"]["status"], "PENDING");
    let sent = wait_for_delivery(&app, &p.staff, "late@example.coop", "SENT").await;
    assert_eq!(sent["attempts"], 1);
    assert_eq!(app.smtp.received_by("late@example.coop").len(), 1);
    // A sent message cannot be "retried".
    let (_, body) = app
        .graphql(RETRY, json!({"id": sent["id"]}), Some(&p.staff))
        .await;
    assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");

    // A permanent refusal marks the address; retrying waits for the bounce
    // to be cleared.
    app.smtp.refuse("gone@example.coop");
    app.user(Role::Mentor, "gone@example.coop").await;
    ok(app
        .graphql(REQUEST, json!({"email": "gone@example.coop"}), None)
        .await);
    let failed = wait_for_delivery(&app, &p.staff, "gone@example.coop", "FAILED").await;
    let bouncing = ok(app
        .graphql(
            "{ bouncingAddresses { totalCount edges { node { email reason bouncedAt } } } }",
            json!({}),
            Some(&p.staff),
        )
        .await);
    let node = &bouncing["data"]["bouncingAddresses"]["edges"][0]["node"];
    assert_eq!(node["email"], "gone@example.coop");
    assert!(node["reason"].as_str().unwrap().contains("550"), "{node}");
    let (_, body) = app
        .graphql(RETRY, json!({"id": failed["id"]}), Some(&p.staff))
        .await;
    assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
    const CLEAR: &str = "mutation($e: String!) { clearBounce(email: $e) }";
    ok(app
        .graphql(CLEAR, json!({"e": "Gone@Example.coop"}), Some(&p.staff))
        .await);
    let (_, body) = app
        .graphql(CLEAR, json!({"e": "gone@example.coop"}), Some(&p.staff))
        .await;
    assert_eq!(first_error_code(&body), Some("NOT_FOUND"), "{body}");
    app.smtp.welcome("gone@example.coop");
    ok(app
        .graphql(RETRY, json!({"id": failed["id"]}), Some(&p.staff))
        .await);
    wait_for_delivery(&app, &p.staff, "gone@example.coop", "SENT").await;
    assert_eq!(app.smtp.received_by("gone@example.coop").len(), 1);

    // Only staff see or touch any of it; each retry is in the audit trail.
    let (_, member) = app.user(Role::Member, "nosy@example.coop").await;
    let (_, body) = app.graphql(DELIVERIES, json!({}), Some(&member)).await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
    let (_, body) = app
        .graphql(RETRY, json!({"id": dead["id"]}), Some(&member))
        .await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
    let audit = ok(app
        .graphql(
            "{ auditLog(filter: {action: \"retryEmail\"}) { totalCount } }",
            json!({}),
            Some(&p.staff),
        )
        .await);
    assert_eq!(audit["data"]["auditLog"]["totalCount"], 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_retry_dead_and_bounced_mail_sqlite() {
    staff_retry_dead_and_bounced_mail(crate::support::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_retry_dead_and_bounced_mail_postgres() {
    staff_retry_dead_and_bounced_mail(crate::support::Backend::Postgres).await;
}

/// Queues a message as any job does, in the outbox.
async fn queue(app: &TestApp, key: &str, category: EmailCategory) {
    outbox::enqueue(
        &app.db,
        NewEmail {
            idempotency_key: key.to_string(),
            category,
            template: "welcome",
            recipient: "ann@example.coop".into(),
            context: json!({"name": "Ann", "role": "member", "link": "http://hive.test/x", "expires_minutes": 15}),
            due: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
}

async fn status_of(app: &TestApp, key: &str) -> EmailStatus {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let row = emails::Entity::find()
            .filter(emails::Column::IdempotencyKey.eq(key))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if row.status != EmailStatus::Pending {
            return row.status;
        }
        assert!(std::time::Instant::now() < deadline, "{key} never went");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_databases!(one_click_unsubscribe, |app: TestApp| async move {
    const ANN: &str = "ann@example.coop";
    queue(&app, "reminder-1", EmailCategory::Reminder).await;
    let mail = app.smtp.wait_for(ANN, 1, WAIT).await.pop().unwrap();
    let header = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    let link = header.trim_matches(|c| c == '<' || c == '>').to_string();
    assert!(link.starts_with(&format!("{}/u/", app.base_url)), "{link}");
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(mail.text().contains(&format!(
        "To stop receiving meeting reminders from Hive: {link}"
    )));
    assert!(mail.html().contains("Unsubscribe from these emails"));

    // Opening the page changes nothing; it says what the button would do.
    let page = app.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("meeting reminders") && html.contains(ANN),
        "{html}"
    );
    queue(&app, "reminder-2", EmailCategory::Reminder).await;
    assert_eq!(status_of(&app, "reminder-2").await, EmailStatus::Sent);

    // A mail client's one-click POST (RFC 8058).
    let done = app
        .http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("no more meeting reminders")
    );
    queue(&app, "reminder-3", EmailCategory::Reminder).await;
    assert_eq!(status_of(&app, "reminder-3").await, EmailStatus::Suppressed);

    // Match messages cannot be switched off and carry no unsubscribe link.
    queue(&app, "match-1", EmailCategory::Match).await;
    assert_eq!(status_of(&app, "match-1").await, EmailStatus::Sent);
    let received = app.smtp.wait_for(ANN, 3, WAIT).await;
    assert_eq!(received.len(), 3, "two reminders and the match message");
    assert!(received[2].header("List-Unsubscribe").is_none());

    // Changing one's mind.
    let again = app
        .http
        .post(format!("{link}/resubscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    queue(&app, "reminder-4", EmailCategory::Reminder).await;
    assert_eq!(status_of(&app, "reminder-4").await, EmailStatus::Sent);

    // A made-up link says so.
    let unknown = app
        .http
        .get(format!("{}/u/not-a-real-token", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    app.stop().await;
});

/// A sign-in link requested while a survey launch is being sent goes out
/// before the launch has finished, not behind it (DESIGN.md: sign-in links
/// are sent at once). The production layout: the API without a worker, one
/// worker of its own; the SMTP server takes 200 ms a message, so the fan-out
/// lasts seconds. First in, first out, the link waited for every message
/// queued before it (22 s behind 20,000 on PostgreSQL, measured).
async fn a_sign_in_link_overtakes_a_fan_out(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let (member, _) = app.user(Role::Member, "in-a-hurry@coops.test").await;
    app.smtp.slow_down(Duration::from_millis(200));
    const FAN_OUT: usize = 1_000;
    fan_out(&app, "launch", FAN_OUT).await;
    let (stop, worker) = app.spawn_worker().await;
    // Under way: by the first deliveries the relay has queued all of it.
    wait_for_distinct(&app.smtp, 20, Duration::from_secs(60)).await;
    ok(app
        .graphql(REQUEST, json!({"email": member.email}), None)
        .await);
    app.smtp
        .wait_for(&member.email, 1, Duration::from_secs(60))
        .await;
    let launch_sent = app.smtp.distinct_messages() - 1;
    assert!(
        launch_sent < FAN_OUT / 2,
        "the link came after {launch_sent} of the launch's {FAN_OUT} messages"
    );
    stop.cancel();
    worker.await.unwrap().unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_overtakes_a_fan_out_sqlite() {
    a_sign_in_link_overtakes_a_fan_out(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_overtakes_a_fan_out_postgres() {
    a_sign_in_link_overtakes_a_fan_out(Backend::Postgres).await;
}
