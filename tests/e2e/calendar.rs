//! Meeting emails: a calendar invitation to both parties when a meeting is
//! booked, an update when it moves, a cancellation when it is called off; a
//! reminder before the start, at the new time only after a move, never after
//! a cancellation.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use entity::emails::{self, EmailStatus};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::on_both_databases;
use crate::support::{
    TestApp,
    programme::{Programme, decode, ok},
    smtp::ReceivedMail,
};

pub(crate) const SCHEDULE: &str =
    "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }";
const MOVE: &str = "mutation($m: ID!, $at: DateTime!) { rescheduleMeeting(meetingId: $m, startsAt: $at) { sequence } }";
pub(crate) const CANCEL: &str = "mutation($m: ID!) { cancelMeeting(meetingId: $m) { status } }";
const WAIT: StdDuration = StdDuration::from_secs(20);

/// An accepted engagement with a mentor of its own: (engagement, mentor's address).
async fn engagement(app: &TestApp, p: &Programme, coop: &str, mentor: &str) -> (String, String) {
    let (provider, token, email) = p.provider(app, "MENTOR", mentor, 2, None).await;
    let request = p.request(app, coop, "MENTORING").await;
    let engagement = p.proposed(app, &request, &provider, 3).await;
    p.accept(app, &engagement, &token).await;
    (engagement, email)
}

/// Messages to `address` whose subject contains `needle`.
fn with_subject(app: &TestApp, address: &str, needle: &str) -> Vec<ReceivedMail> {
    app.smtp
        .received_by(address)
        .into_iter()
        .filter(|m| m.subject().contains(needle))
        .collect()
}

/// A start the reminder (24 h ahead) falls due `seconds` from now.
pub(crate) fn reminder_in(seconds: i64) -> chrono::DateTime<Utc> {
    Utc::now() + Duration::hours(24) + Duration::seconds(seconds)
}

on_both_databases!(
    meetings_invite_remind_and_cancel,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Calder Bakers").await;
        const MEMBER: &str = "member@calderbakers.coop";

        // Booked: both parties get the invitation at once.
        let (first, ruth) = engagement(&app, &p, &coop, "Ruth Ellis").await;
        let starts = reminder_in(4);
        let body = ok(app
        .graphql(SCHEDULE, json!({"i": {"engagementId": first, "startsAt": starts.to_rfc3339(), "durationMinutes": 90, "format": "IN_PERSON", "location": "The bakery; upstairs"}}), Some(&member))
        .await);
        let meeting = body["data"]["scheduleMeeting"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        for address in [ruth.as_str(), MEMBER] {
            let mail = app
                .smtp
                .wait_for_subject(address, "meeting booked", WAIT)
                .await;
            assert!(
                mail.text()
                    .contains(&hive_worker::notify::london_time(starts)),
                "{}",
                mail.text()
            );
            let (method, ics) = mail.calendar().expect("an invitation");
            assert_eq!(method, "REQUEST");
            assert!(ics.contains("METHOD:REQUEST"), "{ics}");
            assert!(
                ics.contains(&format!("UID:meeting-{}@127.0.0.1", decode(&meeting))),
                "{ics}"
            );
            assert!(ics.contains("SEQUENCE:0"), "{ics}");
            assert!(
                ics.contains(&format!("DTSTART:{}", starts.format("%Y%m%dT%H%M%SZ"))),
                "{ics}"
            );
            assert!(
                ics.contains(&format!("mailto:{ruth}"))
                    && ics.contains(&format!("mailto:{MEMBER}")),
                "{ics}"
            );
            assert!(ics.contains("LOCATION:The bakery\\; upstairs"), "{ics}");
        }

        // The reminder comes 24 hours before, to both, once, with the invitation
        // and an unsubscribe link.
        for address in [ruth.as_str(), MEMBER] {
            let reminder = app.smtp.wait_for_subject(address, "Reminder", WAIT).await;
            assert!(reminder.calendar().is_some());
            assert!(reminder.header("List-Unsubscribe").is_some());
        }
        assert!(reminder_subject_names_the_other_side(
            &app,
            &ruth,
            "Calder Bakers"
        ));

        // Moved: the invitation is updated (same UID, higher SEQUENCE) and the
        // reminder follows the new time, not the old.
        let (second, sam) = engagement(&app, &p, &coop, "Sam Okafor").await;
        let body = ok(app
        .graphql(SCHEDULE, json!({"i": {"engagementId": second, "startsAt": reminder_in(3).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO"}}), Some(&member))
        .await);
        let moving = body["data"]["scheduleMeeting"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let new_start = reminder_in(9);
        ok(app
            .graphql(
                MOVE,
                json!({"m": moving, "at": new_start.to_rfc3339()}),
                Some(&member),
            )
            .await);
        let moved = app.smtp.wait_for_subject(&sam, "meeting moved", WAIT).await;
        let (method, ics) = moved.calendar().unwrap();
        assert_eq!(method, "REQUEST");
        assert!(ics.contains(&format!("UID:meeting-{}@127.0.0.1", decode(&moving))));
        assert!(ics.contains("SEQUENCE:1"), "{ics}");
        tokio::time::sleep(StdDuration::from_secs(5)).await;
        assert!(
            with_subject(&app, &sam, "Reminder").is_empty(),
            "no reminder at the old time"
        );
        let reminder = app.smtp.wait_for_subject(&sam, "Reminder", WAIT).await;
        assert!(
            reminder
                .text()
                .contains(&hive_worker::notify::london_time(new_start))
        );

        // Cancelled: a cancellation, and never a reminder.
        let (third, ann) = engagement(&app, &p, &coop, "Ann Pryce").await;
        let body = ok(app
        .graphql(SCHEDULE, json!({"i": {"engagementId": third, "startsAt": reminder_in(3).to_rfc3339(), "durationMinutes": 60, "format": "PHONE"}}), Some(&member))
        .await);
        let doomed = body["data"]["scheduleMeeting"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(app
            .graphql(CANCEL, json!({"m": doomed}), Some(&member))
            .await);
        let cancelled = app
            .smtp
            .wait_for_subject(&ann, "meeting cancelled", WAIT)
            .await;
        let (method, ics) = cancelled.calendar().unwrap();
        assert_eq!(method, "CANCEL");
        assert!(
            ics.contains("STATUS:CANCELLED") && ics.contains("SEQUENCE:1"),
            "{ics}"
        );
        tokio::time::sleep(StdDuration::from_secs(6)).await;
        assert!(with_subject(&app, &ann, "Reminder").is_empty());
        let withdrawn = emails::Entity::find()
            .filter(emails::Column::Template.eq("meeting_reminder"))
            .filter(emails::Column::Status.eq(EmailStatus::Suppressed))
            .all(&app.db)
            .await
            .unwrap();
        // The moved meeting's first reminder and the cancelled one's, to each party.
        assert_eq!(withdrawn.len(), 4, "{withdrawn:?}");

        // Exactly one reminder per party per meeting that happened.
        for address in [ruth.as_str(), sam.as_str()] {
            assert_eq!(
                with_subject(&app, address, "Reminder").len(),
                1,
                "{address}"
            );
        }
        assert_eq!(with_subject(&app, MEMBER, "Reminder").len(), 2);
        app.stop().await;
    }
);

/// The provider's reminder names the co-op (and the co-op's the provider).
fn reminder_subject_names_the_other_side(app: &TestApp, provider: &str, coop: &str) -> bool {
    with_subject(app, provider, "Reminder")
        .iter()
        .all(|m| m.subject().contains(coop))
}
