//! The job queue recovers by itself when a task is lost or the queue worker
//! stops picking work up (apalis-sqlite #58 is one known way to get there).

use std::time::Duration;

use chrono::Utc;
use entity::emails::{self, EmailCategory, EmailStatus};
use hive_worker::outbox::{self, NewEmail};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr};
use serde_json::json;

use crate::on_both_databases;
use crate::support::{Backend, TestApp};

on_both_databases!(
    an_email_whose_task_was_lost_is_still_sent,
    |app: TestApp| async move {
        // An email row the relay marked as queued a minute ago, with its lease
        // still running, but whose task never reached the queue (or sits
        // there unpicked): only the stalled-queue watchdog can get it sent
        // before the lease runs out.
        let txn = app.db.begin().await.unwrap();
        outbox::enqueue(
        &txn,
        NewEmail {
            idempotency_key: "test:lost-task".into(),
            category: EmailCategory::SignIn,
            template: "sign_in",
            recipient: "lost@example.coop".into(),
            context: json!({"name": "Lost", "link": "http://x/sign-in?token=t", "expires_minutes": 15}),
            due: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
        emails::Entity::update_many()
            .col_expr(
                emails::Column::EnqueuedAt,
                Expr::value(Utc::now() - chrono::Duration::minutes(1)),
            )
            .col_expr(
                emails::Column::NextAttemptAt,
                Expr::value(Utc::now() + chrono::Duration::minutes(1)),
            )
            .filter(emails::Column::IdempotencyKey.eq("test:lost-task"))
            .exec(&txn)
            .await
            .unwrap();
        txn.commit().await.unwrap();
        // The test's worker has a one-second stall threshold.
        let mails = app
            .smtp
            .wait_for("lost@example.coop", 1, Duration::from_secs(30))
            .await;
        assert_eq!(mails.len(), 1);
        app.stop().await;
    }
);

on_both_databases!(
    the_same_idempotency_key_is_one_email,
    |app: TestApp| async move {
        let email = || NewEmail {
            idempotency_key: "test:once".into(),
            category: EmailCategory::SignIn,
            template: "sign_in",
            recipient: "once@example.coop".into(),
            context: json!({"name": "Once", "link": "http://x/sign-in?token=t", "expires_minutes": 15}),
            due: chrono::Utc::now(),
        };
        assert!(outbox::enqueue(&app.db, email()).await.unwrap());
        assert!(
            !outbox::enqueue(&app.db, email()).await.unwrap(),
            "the second is refused"
        );
        app.smtp
            .wait_for("once@example.coop", 1, Duration::from_secs(20))
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.smtp.received_by("once@example.coop").len(), 1);
        app.stop().await;
    }
);

/// A key that already belongs to a different message is never a silent drop:
/// the insert fails (so the caller's change rolls back with it) — a row
/// withdrawn before it was tried that kept its key, another recipient, another
/// template. The same message again is the one quiet refusal.
async fn a_key_taken_by_another_message_is_an_error(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let email = |key: &str, template: &'static str, recipient: &str| NewEmail {
        idempotency_key: key.into(),
        category: EmailCategory::Reminder,
        template,
        recipient: recipient.into(),
        context: json!({"name": "Ann"}),
        due: Utc::now() + chrono::Duration::hours(1),
    };
    assert!(
        outbox::enqueue(&app.db, email("k:1", "welcome", "ann@example.coop"))
            .await
            .unwrap()
    );
    assert!(
        !outbox::enqueue(&app.db, email("k:1", "welcome", "ANN@example.coop "))
            .await
            .unwrap(),
        "the same message again is refused quietly"
    );
    for (template, recipient) in [
        ("sign_in", "ann@example.coop"),
        ("welcome", "bob@example.coop"),
    ] {
        let error = outbox::enqueue(&app.db, email("k:1", template, recipient))
            .await
            .expect_err("another message under a taken key");
        assert!(error.to_string().contains("k:1"), "{error}");
    }
    // Withdrawn without giving its key up (SUPPRESSED, never tried).
    emails::Entity::update_many()
        .col_expr(emails::Column::Status, Expr::value(EmailStatus::Suppressed))
        .filter(emails::Column::IdempotencyKey.eq("k:1"))
        .exec(&app.db)
        .await
        .unwrap();
    assert!(
        outbox::enqueue(&app.db, email("k:1", "welcome", "ann@example.coop"))
            .await
            .is_err()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_taken_by_another_message_is_an_error_sqlite() {
    a_key_taken_by_another_message_is_an_error(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_taken_by_another_message_is_an_error_postgres() {
    a_key_taken_by_another_message_is_an_error(Backend::Postgres).await;
}

/// A send task picked up long after the relay queued its rows (a backlog, a
/// worker that was down) finds little of their lease left: its claim starts
/// a new lease, so the batch is sent rather than handed straight back. A task
/// picked up at once keeps the lease the relay gave (the claim then changes
/// no indexed column: on PostgreSQL a HOT update, see `send_email::claim`).
async fn a_late_task_gets_a_fresh_lease(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let lease = app.settings.email_lease;
    let now = Utc::now();
    // Queued by the relay: `prompt` moments ago, `late` most of a lease ago.
    let prompt_lease_ends = now + lease - chrono::Duration::seconds(1);
    let late_lease_ends = now + chrono::Duration::seconds(5);
    let mut ids = Vec::new();
    for (name, lease_ends) in [("prompt", prompt_lease_ends), ("late", late_lease_ends)] {
        let recipient = format!("{name}@example.coop");
        let key = format!("test:{name}");
        ids.push(
            app.queued_email(&key, EmailCategory::SignIn, &recipient, lease_ends)
                .await,
        );
    }

    app.run_send_task(ids.clone()).await;

    for (name, id) in ["prompt", "late"].into_iter().zip(ids) {
        let mails = app
            .smtp
            .wait_for(&format!("{name}@example.coop"), 1, Duration::from_secs(10))
            .await;
        assert_eq!(mails.len(), 1, "the {name} task's email was sent once");
        let row = emails::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, EmailStatus::Sent, "{name}");
        assert_eq!(row.attempts, 1, "{name}");
        let lease_ends = row.next_attempt_at;
        if name == "prompt" {
            assert!(
                (lease_ends - prompt_lease_ends).num_milliseconds().abs() < 1000,
                "the prompt claim kept the relay's lease: {lease_ends} vs {prompt_lease_ends}"
            );
        } else {
            assert!(
                lease_ends > now + lease - chrono::Duration::seconds(10),
                "the late claim started a new lease: it ends {lease_ends}, {now} + {lease}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_task_gets_a_fresh_lease_sqlite() {
    a_late_task_gets_a_fresh_lease(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_task_gets_a_fresh_lease_postgres() {
    a_late_task_gets_a_fresh_lease(Backend::Postgres).await;
}
