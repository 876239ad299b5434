//! No reminder dropped by its own key (issue 16, items 3 and 4): a meeting
//! moved away and back to its first time, moved twice, changed only in
//! length, or cancelled ends with exactly the reminders its final state needs
//! — one per party, `HIVE_MEETING_REMINDER_HOURS` before the start, with the
//! current calendar SEQUENCE — and each names the other party by role, even
//! for a member named like their mentor. Through GraphQL, with the real SMTP
//! server.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use entity::{
    emails::{self, EmailStatus},
    users::Role,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::calendar::{CANCEL, SCHEDULE, reminder_in};
use crate::on_both_databases;
use crate::support::{
    TestApp,
    programme::{Programme, decode, ok},
    smtp::ReceivedMail,
};

const MOVE: &str = "mutation($m: ID!, $at: DateTime!, $d: Int) { rescheduleMeeting(meetingId: $m, startsAt: $at, durationMinutes: $d) { sequence } }";
const WAIT: StdDuration = StdDuration::from_secs(30);

/// Reminders `address` received for a meeting with `other_party`.
fn reminders(app: &TestApp, address: &str, other_party: &str) -> Vec<ReceivedMail> {
    app.smtp
        .received_by(address)
        .into_iter()
        .filter(|m| {
            m.subject().starts_with("Reminder: meeting with ") && m.subject().contains(other_party)
        })
        .collect()
}

on_both_databases!(
    every_reschedule_ends_with_the_reminders_it_needs,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Calder Bakers").await;
        const MEMBER: &str = "member@calderbakers.coop";
        // A second member of the co-op, named like one of its mentors.
        const NAMESAKE: &str = "sam@calderbakers.coop";
        hive_api::admin::create_user(
            &app.db,
            NAMESAKE,
            "Sam Okafor",
            Role::Member,
            Some(decode(&coop)),
            Duration::days(1),
        )
        .await
        .unwrap();
        let mut engagements = Vec::new();
        for mentor in ["Ruth Ellis", "Sam Okafor", "Ann Pryce", "Joe Kerr"] {
            let (provider, token, email) = p.provider(&app, "MENTOR", mentor, 2, None).await;
            let request = p.request(&app, &coop, "MENTORING").await;
            let engagement = p.proposed(&app, &request, &provider, 3).await;
            p.accept(&app, &engagement, &token).await;
            engagements.push((engagement, mentor, email));
        }
        let schedule = |engagement: &str, starts: chrono::DateTime<Utc>| {
            app.graphql(
                SCHEDULE,
                json!({"i": {"engagementId": engagement, "startsAt": starts.to_rfc3339(), "durationMinutes": 60, "format": "VIDEO"}}),
                Some(&member),
            )
        };
        let id = |body: serde_json::Value| {
            body["data"]["scheduleMeeting"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let reschedule = |meeting: &str, starts: chrono::DateTime<Utc>, minutes: Option<i32>| {
            app.graphql(
                MOVE,
                json!({"m": meeting, "at": starts.to_rfc3339(), "d": minutes}),
                Some(&member),
            )
        };

        // Away and back: the final time is the first one.
        let back_at = reminder_in(8);
        let away_and_back = id(ok(schedule(&engagements[0].0, back_at).await));
        ok(reschedule(&away_and_back, reminder_in(3_600), None).await);
        ok(reschedule(&away_and_back, back_at, None).await);
        // Moved twice.
        let twice = id(ok(schedule(&engagements[1].0, reminder_in(8)).await));
        ok(reschedule(&twice, reminder_in(3_600), None).await);
        let twice_at = reminder_in(9);
        ok(reschedule(&twice, twice_at, None).await);
        // Only its length changed.
        let length_at = reminder_in(8);
        let longer = id(ok(schedule(&engagements[2].0, length_at).await));
        ok(reschedule(&longer, length_at, Some(90)).await);
        // Cancelled.
        let cancelled = id(ok(schedule(&engagements[3].0, reminder_in(8)).await));
        ok(app
            .graphql(CANCEL, json!({"m": cancelled}), Some(&member))
            .await);

        let expected = [
            (&away_and_back, 0usize, back_at, 2, 60),
            (&twice, 1, twice_at, 2, 60),
            (&longer, 2, length_at, 1, 90),
        ];
        for (meeting, index, starts, sequence, minutes) in expected {
            let (_, mentor, mentor_email) = &engagements[index];
            // The provider's reminder names the co-op; the co-op's, the
            // provider — the namesake member included.
            let mentor_reminder = app
                .smtp
                .wait_for_subject(mentor_email, "Reminder: meeting with Calder Bakers", WAIT)
                .await;
            for address in [MEMBER, NAMESAKE] {
                app.smtp
                    .wait_for_subject(address, &format!("Reminder: meeting with {mentor}"), WAIT)
                    .await;
            }
            let (method, ics) = mentor_reminder.calendar().expect("the invitation again");
            assert_eq!(method, "REQUEST");
            assert!(
                ics.contains(&format!("UID:meeting-{}@127.0.0.1", decode(meeting))),
                "{ics}"
            );
            assert!(ics.contains(&format!("SEQUENCE:{sequence}")), "{ics}");
            assert!(
                ics.contains(&format!("DTSTART:{}", starts.format("%Y%m%dT%H%M%SZ"))),
                "{ics}"
            );
            let text = mentor_reminder.text();
            assert!(
                text.contains(&hive_worker::notify::london_time(starts)),
                "{text}"
            );
            assert!(text.contains(&format!("{minutes} minutes")), "{text}");
        }
        // Anything extra (a reminder at an old time, a second copy) would
        // have arrived by now: the last was due 9 s after booking.
        tokio::time::sleep(StdDuration::from_secs(3)).await;
        for (_, mentor, mentor_email) in &engagements[..3] {
            assert_eq!(
                reminders(&app, mentor_email, "Calder Bakers").len(),
                1,
                "{mentor}"
            );
            for address in [MEMBER, NAMESAKE] {
                assert_eq!(
                    reminders(&app, address, mentor).len(),
                    1,
                    "{address}, {mentor}"
                );
            }
        }
        let (_, _, joe) = &engagements[3];
        assert!(
            reminders(&app, joe, "").is_empty(),
            "a cancelled meeting is not reminded"
        );
        assert!(reminders(&app, MEMBER, "Joe Kerr").is_empty());
        // Nobody is told of a meeting with their own side.
        assert!(reminders(&app, NAMESAKE, "Calder Bakers").is_empty());
        assert!(reminders(&app, MEMBER, "Calder Bakers").is_empty());

        // The outbox agrees: per meeting, one SENT reminder per party (the
        // mentor, two members) and every earlier one withdrawn, none pending.
        let rows = emails::Entity::find()
            .filter(emails::Column::Template.eq("meeting_reminder"))
            .all(&app.db)
            .await
            .unwrap();
        assert!(
            rows.iter()
                .all(|row| matches!(row.status, EmailStatus::Sent | EmailStatus::Suppressed)),
            "{rows:?}"
        );
        for meeting in [&away_and_back, &twice, &longer, &cancelled] {
            let prefix = format!("meeting-reminder:{}:", decode(meeting));
            let sent = rows
                .iter()
                .filter(|row| {
                    row.idempotency_key.starts_with(&prefix) && row.status == EmailStatus::Sent
                })
                .count();
            let wanted = if meeting == &cancelled { 0 } else { 3 };
            assert_eq!(sent, wanted, "{prefix}");
        }
        app.stop().await;
    }
);

on_both_databases!(
    a_dead_reminder_of_a_cancelled_meeting_cannot_be_retried,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Dunlin Dairy").await;
        let (provider, token, _) = p.provider(&app, "MENTOR", "Rhys Dead", 2, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &provider, 3).await;
        p.accept(&app, &engagement, &token).await;
        // Far enough ahead that its reminders are not due yet.
        let body = ok(app
            .graphql(
                SCHEDULE,
                json!({"i": {"engagementId": engagement, "startsAt": reminder_in(3_600).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO"}}),
                Some(&member),
            )
            .await);
        let meeting = body["data"]["scheduleMeeting"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let key = format!("meeting-reminder:{}:", decode(&meeting));
        let reminders_of = || {
            emails::Entity::find()
                .filter(emails::Column::IdempotencyKey.starts_with(&key))
                .all(&app.db)
        };
        // One reminder given up on (as eight failed attempts would leave it).
        let dead = reminders_of()
            .await
            .unwrap()
            .into_iter()
            .next()
            .expect("a reminder");
        emails::Entity::update_many()
            .col_expr(
                emails::Column::Status,
                sea_orm::sea_query::Expr::value(EmailStatus::Dead),
            )
            .filter(emails::Column::Id.eq(dead.id))
            .exec(&app.db)
            .await
            .unwrap();
        ok(app
            .graphql(CANCEL, json!({"m": meeting}), Some(&member))
            .await);
        // Cancelling withdrew it with the others: nothing of it can go.
        let after = emails::Entity::find_by_id(dead.id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.status, EmailStatus::Suppressed, "{after:?}");
        assert!(after.idempotency_key.contains(":withdrawn:"), "{after:?}");
        let delivery = hive_api::graphql::relay::global_id(
            hive_api::graphql::relay::NodeType::EmailDelivery,
            dead.id,
        );
        let (_, body) = app
            .graphql(
                "mutation($id: ID!) { retryEmail(id: $id) { status } }",
                json!({"id": delivery.to_string()}),
                Some(&p.staff),
            )
            .await;
        assert!(
            body["errors"][0]["extensions"]["code"].is_string(),
            "{body}"
        );
        assert_ne!(body["data"]["retryEmail"]["status"], "PENDING", "{body}");
        app.stop().await;
    }
);

on_both_databases!(
    a_move_to_where_the_meeting_is_changes_nothing,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Eider Books").await;
        let (provider, token, _) = p.provider(&app, "MENTOR", "Ola Still", 2, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &provider, 3).await;
        p.accept(&app, &engagement, &token).await;
        let at = reminder_in(3_600);
        let body = ok(app
            .graphql(
                SCHEDULE,
                json!({"i": {"engagementId": engagement, "startsAt": at.to_rfc3339(), "durationMinutes": 60, "format": "VIDEO"}}),
                Some(&member),
            )
            .await);
        let meeting = body["data"]["scheduleMeeting"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let rows_before = emails::Entity::find().all(&app.db).await.unwrap().len();
        // The same start, with and without the same length named.
        for minutes in [None, Some(60)] {
            let body = ok(app
                .graphql(
                    MOVE,
                    json!({"m": meeting, "at": at.to_rfc3339(), "d": minutes}),
                    Some(&member),
                )
                .await);
            assert_eq!(body["data"]["rescheduleMeeting"]["sequence"], 0, "{body}");
        }
        assert_eq!(
            emails::Entity::find().all(&app.db).await.unwrap().len(),
            rows_before,
            "no email written, no reminder rewritten"
        );
        // A real move still moves.
        let body = ok(app
            .graphql(
                MOVE,
                json!({"m": meeting, "at": reminder_in(3_700).to_rfc3339(), "d": null}),
                Some(&member),
            )
            .await);
        assert_eq!(body["data"]["rescheduleMeeting"]["sequence"], 1, "{body}");
        app.stop().await;
    }
);
