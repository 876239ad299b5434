//! No silent stalls after the match: staff hear when a final meeting is
//! booked; a quiet engagement nudges its provider, then staff.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use entity::engagements;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;

use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, decode, ok},
};

const SCHEDULE: &str = "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }";
const STAFF: &str = "staff@hive.test";
const WAIT: StdDuration = StdDuration::from_secs(20);

/// Moves an engagement's acceptance (and any follow-up) `days` into the past.
async fn accepted_days_ago(app: &TestApp, engagement: &str, days: i64) {
    engagements::Entity::update_many()
        .col_expr(
            engagements::Column::RespondedAt,
            Expr::value(Utc::now() - Duration::days(days)),
        )
        .filter(engagements::Column::Id.eq(decode(engagement)))
        .exec(&app.db)
        .await
        .unwrap();
}

on_both_databases!(staff_hear_of_a_final_meeting, |app: TestApp| async move {
    let p = Programme::new(&app).await;
    let (coop, member) = p.coop(&app, "Calder Bakers").await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Ruth Ellis", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let engagement = p.proposed(&app, &request, &mentor, 3).await;
    p.accept(&app, &engagement, &mentor_token).await;

    // An ordinary meeting tells staff nothing; the final one does, with the
    // time as it reads in London (1 December 2026 14:00 UTC is 14:00 GMT).
    let mut input = json!({"engagementId": engagement, "startsAt": (Utc::now() + Duration::days(2)).to_rfc3339(), "durationMinutes": 60, "format": "PHONE"});
    ok(app
        .graphql(SCHEDULE, json!({"i": input}), Some(&member))
        .await);
    let starts = Utc::now() + Duration::days(20);
    input["startsAt"] = json!(starts.to_rfc3339());
    input["isFinal"] = json!(true);
    input["location"] = json!("Calder Bakers, Hebden Bridge");
    ok(app
        .graphql(SCHEDULE, json!({"i": input}), Some(&mentor_token))
        .await);
    let mail = app
        .smtp
        .wait_for_subject(STAFF, "final meeting booked", WAIT)
        .await;
    assert!(mail.subject().contains("Ruth Ellis"), "{}", mail.subject());
    assert!(
        mail.subject().contains("Calder Bakers"),
        "{}",
        mail.subject()
    );
    let london = hive_worker::notify::london_time(starts);
    assert!(mail.text().contains(&london), "{london} in {}", mail.text());
    assert!(mail.html().contains(&london));
    assert!(mail.text().contains("Hebden Bridge"));
    assert_eq!(
        app.smtp.received_by(STAFF).len(),
        1,
        "the ordinary meeting told staff nothing"
    );

    // A second final meeting while one is booked is refused.
    input["startsAt"] = json!((Utc::now() + Duration::days(25)).to_rfc3339());
    let (_, body) = app
        .graphql(SCHEDULE, json!({"i": input}), Some(&mentor_token))
        .await;
    assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
    app.stop().await;
});

on_both_databases!(
    a_quiet_engagement_nudges_provider_then_staff,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Quiet Looms").await;
        let (mentor, mentor_token, mentor_email) =
            p.provider(&app, "MENTOR", "Sam Okafor", 2, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &mentor, 3).await;
        p.accept(&app, &engagement, &mentor_token).await;
        // Welcome, proposal, acceptance.
        let before = app.smtp.wait_for(&mentor_email, 3, WAIT).await.len();

        // 29 quiet days: nothing yet.
        accepted_days_ago(&app, &engagement, 29).await;
        tokio::time::sleep(StdDuration::from_millis(1500)).await;
        assert_eq!(app.smtp.received_by(&mentor_email).len(), before);

        // 31: the provider is nudged, once; staff not yet.
        accepted_days_ago(&app, &engagement, 31).await;
        let nudge = app
            .smtp
            .wait_for_subject(&mentor_email, "book your next meeting", WAIT)
            .await;
        assert!(nudge.text().contains("Quiet Looms"), "{}", nudge.text());
        assert!(nudge.text().contains("31 days"), "{}", nudge.text());
        tokio::time::sleep(StdDuration::from_millis(1500)).await;
        assert_eq!(app.smtp.received_by(&mentor_email).len(), before + 1);
        assert!(
            app.smtp
                .received_by(STAFF)
                .iter()
                .all(|m| !m.subject().contains("no meeting"))
        );

        // Two weeks after the nudge, still nothing booked: staff are told, once.
        engagements::Entity::update_many()
            .col_expr(
                engagements::Column::InactivityNudgedAt,
                Expr::value(Utc::now() - Duration::days(14)),
            )
            .filter(engagements::Column::Id.eq(decode(&engagement)))
            .exec(&app.db)
            .await
            .unwrap();
        let alert = app
            .smtp
            .wait_for_subject(STAFF, "no meeting for 31 days", WAIT)
            .await;
        assert!(alert.text().contains("Sam Okafor"), "{}", alert.text());
        tokio::time::sleep(StdDuration::from_millis(1500)).await;
        let alerts = |app: &TestApp| {
            app.smtp
                .received_by(STAFF)
                .iter()
                .filter(|m| m.subject().contains("no meeting"))
                .count()
        };
        assert_eq!(alerts(&app), 1);
        assert_eq!(app.smtp.received_by(&mentor_email).len(), before + 1);
        app.stop().await;
    }
);

on_both_databases!(a_booked_meeting_ends_the_lull, |app: TestApp| async move {
    let p = Programme::new(&app).await;
    let (coop, member) = p.coop(&app, "Busy Bees").await;
    let (mentor, mentor_token, mentor_email) =
        p.provider(&app, "MENTOR", "Ann Pryce", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let engagement = p.proposed(&app, &request, &mentor, 3).await;
    p.accept(&app, &engagement, &mentor_token).await;
    // Accepted 60 days ago, but a meeting is in the diary for next week.
    ok(app
        .graphql(SCHEDULE, json!({"i": {"engagementId": engagement, "startsAt": (Utc::now() + Duration::days(7)).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO"}}), Some(&member))
        .await);
    // Welcome, proposal, acceptance, the meeting's invitation.
    app.smtp
        .wait_for_subject(&mentor_email, "meeting booked", WAIT)
        .await;
    let before = app.smtp.wait_for(&mentor_email, 4, WAIT).await.len();
    accepted_days_ago(&app, &engagement, 60).await;
    // A nudged engagement (from before the meeting was booked) is not escalated either.
    engagements::Entity::update_many()
        .col_expr(
            engagements::Column::InactivityNudgedAt,
            Expr::value(Utc::now() - Duration::days(20)),
        )
        .filter(engagements::Column::Id.eq(decode(&engagement)))
        .exec(&app.db)
        .await
        .unwrap();
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert_eq!(app.smtp.received_by(&mentor_email).len(), before);
    assert!(
        app.smtp
            .received_by(STAFF)
            .iter()
            .all(|m| !m.subject().contains("no meeting"))
    );
    app.stop().await;
});
