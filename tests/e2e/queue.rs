//! The job queue recovers by itself when a task is lost or the queue worker
//! stops picking work up (apalis-sqlite #58 is one known way to get there).

use std::time::Duration;

use chrono::Utc;
use entity::emails::{self, EmailCategory};
use hive_worker::outbox::{self, NewEmail};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr};
use serde_json::json;

use crate::on_both_databases;
use crate::support::TestApp;

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
