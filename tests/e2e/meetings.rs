//! Ground rules, the timetable and days, and who reads the private fields.

use chrono::{Duration, Utc};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, ok},
};

const SCHEDULE: &str =
    "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id status sequence } }";
const RECORD: &str =
    "mutation($i: RecordMeetingInput!) { recordMeeting(input: $i) { status daysCounted } }";
const ENGAGEMENT: &str = "query($id: ID!) { engagement(id: $id) { groundRules daysUsed meetings { status notes learning } } }";

fn slot(engagement: &str, hours_ahead: i64, minutes: i32) -> Value {
    json!({"engagementId": engagement, "startsAt": (Utc::now() + Duration::hours(hours_ahead)).to_rfc3339(), "durationMinutes": minutes, "format": "VIDEO", "location": "https://meet.example/abc"})
}

async fn into_the_past(app: &TestApp, meeting: &str) {
    crate::support::programme::move_meeting(app, meeting, Utc::now() - Duration::days(1)).await;
}

on_both_databases!(the_timetable_and_its_days, |app: TestApp| async move {
    let p = Programme::new(&app).await;
    let (coop, member) = p.coop(&app, "Pennine Makers").await;
    let (_, stranger) = p.coop(&app, "Other Co-op").await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Tom Walsh", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let engagement = p.proposed(&app, &request, &mentor, 3).await;

    // Nothing can be scheduled before the proposal is accepted.
    let (_, body) = app
        .graphql(
            SCHEDULE,
            json!({"i": slot(&engagement, 24, 60)}),
            Some(&member),
        )
        .await;
    assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
    p.accept(&app, &engagement, &mentor_token).await;

    ok(app
        .graphql("mutation($e: ID!) { agreeGroundRules(engagementId: $e, text: \"Fortnightly, on video.\") { groundRules } }", json!({"e": engagement}), Some(&member))
        .await);

    // Bad slots: the past, no duration; a clash with the provider's diary.
    let (_, body) = app
        .graphql(
            SCHEDULE,
            json!({"i": slot(&engagement, -2, 60)}),
            Some(&member),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "startsAt",
        "{body}"
    );
    let (_, body) = app
        .graphql(
            SCHEDULE,
            json!({"i": slot(&engagement, 24, 0)}),
            Some(&member),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "durationMinutes",
        "{body}"
    );
    let body = ok(app
        .graphql(
            SCHEDULE,
            json!({"i": slot(&engagement, 24, 90)}),
            Some(&mentor_token),
        )
        .await);
    let first = body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = app
        .graphql(
            SCHEDULE,
            json!({"i": slot(&engagement, 25, 60)}),
            Some(&member),
        )
        .await;
    assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
    // A stranger cannot schedule on it.
    let (_, body) = app
        .graphql(
            SCHEDULE,
            json!({"i": slot(&engagement, 48, 60)}),
            Some(&stranger),
        )
        .await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");

    // Moving raises the sequence; a future meeting cannot be recorded as held.
    let moved = ok(app
        .graphql(
            "mutation($m: ID!, $at: DateTime!) { rescheduleMeeting(meetingId: $m, startsAt: $at) { sequence } }",
            json!({"m": first, "at": (Utc::now() + Duration::hours(30)).to_rfc3339()}),
            Some(&member),
        )
        .await);
    assert_eq!(moved["data"]["rescheduleMeeting"]["sequence"], 1);
    let (_, body) = app
        .graphql(
            RECORD,
            json!({"i": {"meetingId": first, "held": true, "daysCounted": 1.0}}),
            Some(&mentor_token),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "held", "{body}");

    // Held meetings count days, never past the allocation of 3.
    into_the_past(&app, &first).await;
    let body = ok(app
        .graphql(RECORD, json!({"i": {"meetingId": first, "held": true, "daysCounted": 2.0, "notes": "Talked about the share offer.", "learning": "Co-ops need templates for offers."}}), Some(&mentor_token))
        .await);
    assert_eq!(body["data"]["recordMeeting"]["status"], "HELD");
    let body = ok(app
        .graphql(
            SCHEDULE,
            json!({"i": slot(&engagement, 72, 60)}),
            Some(&member),
        )
        .await);
    let second = body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    into_the_past(&app, &second).await;
    let (_, body) = app
        .graphql(
            RECORD,
            json!({"i": {"meetingId": second, "held": true, "daysCounted": 1.5}}),
            Some(&member),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "daysCounted",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("pass the allocation")
    );
    let (_, body) = app
        .graphql(
            RECORD,
            json!({"i": {"meetingId": first, "held": true, "daysCounted": 0.5}}),
            Some(&member),
        )
        .await;
    assert_eq!(
        first_error_code(&body),
        Some("CONFLICT"),
        "recording twice: {body}"
    );

    // Who reads what: notes for the two parties, learning for provider and staff.
    let (_, body) = app
        .graphql(ENGAGEMENT, json!({"id": engagement}), Some(&mentor_token))
        .await;
    let held = &body["data"]["engagement"]["meetings"][0];
    assert_eq!(body["data"]["engagement"]["daysUsed"], 2.0, "{body}");
    assert_eq!(
        body["data"]["engagement"]["groundRules"],
        "Fortnightly, on video."
    );
    assert_eq!(held["notes"], "Talked about the share offer.");
    assert_eq!(held["learning"], "Co-ops need templates for offers.");
    let (_, body) = app
        .graphql(ENGAGEMENT, json!({"id": engagement}), Some(&member))
        .await;
    assert_eq!(
        body["data"]["engagement"]["meetings"][0]["notes"],
        "Talked about the share offer."
    );
    assert_eq!(
        body["data"]["engagement"]["meetings"][0]["learning"],
        Value::Null
    );
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"));
    let (_, body) = app
        .graphql(ENGAGEMENT, json!({"id": engagement}), Some(&p.staff))
        .await;
    assert_eq!(
        body["data"]["engagement"]["meetings"][0]["notes"],
        Value::Null
    );
    assert_eq!(
        body["data"]["engagement"]["meetings"][0]["learning"],
        "Co-ops need templates for offers."
    );
    let (_, body) = app
        .graphql(ENGAGEMENT, json!({"id": engagement}), Some(&stranger))
        .await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"));
    // Planned against delivered, for the provider.
    let days = "query($p: ID!) { provider(id: $p) { days { planned delivered } } }";
    let body = ok(app
        .graphql(days, json!({"p": mentor}), Some(&p.staff))
        .await);
    assert_eq!(
        body["data"]["provider"]["days"],
        json!({"planned": 3, "delivered": 2.0})
    );

    // Staff raise the allocation within the kind's range; never lower it.
    let raise = "mutation($e: ID!, $d: Int!) { raiseAllocation(engagementId: $e, daysAllocated: $d) { daysAllocated } }";
    let (_, body) = app
        .graphql(raise, json!({"e": engagement, "d": 4}), Some(&member))
        .await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"));
    let (_, body) = app
        .graphql(raise, json!({"e": engagement, "d": 5}), Some(&p.staff))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "daysAllocated",
        "{body}"
    );
    let (_, body) = app
        .graphql(raise, json!({"e": engagement, "d": 2}), Some(&p.staff))
        .await;
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = ok(app
        .graphql(raise, json!({"e": engagement, "d": 4}), Some(&p.staff))
        .await);
    assert_eq!(body["data"]["raiseAllocation"]["daysAllocated"], 4);
    // The day and a half that did not fit now does.
    let body = ok(app
        .graphql(
            RECORD,
            json!({"i": {"meetingId": second, "held": true, "daysCounted": 1.5}}),
            Some(&member),
        )
        .await);
    assert_eq!(body["data"]["recordMeeting"]["daysCounted"], 1.5);
    let body = ok(app
        .graphql(days, json!({"p": mentor}), Some(&p.staff))
        .await);
    assert_eq!(
        body["data"]["provider"]["days"],
        json!({"planned": 4, "delivered": 3.5})
    );

    // The audit trail names the change, never the notes.
    let entries = entity::audit_log::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert!(entries.iter().any(|e| e.action == "recordMeeting"));
    assert!(
        entries
            .iter()
            .all(|e| !e.detail.clone().unwrap_or_default().contains("share offer"))
    );
    app.stop().await;
});

on_both_databases!(an_early_end_and_a_rematch, |app: TestApp| async move {
    let p = Programme::new(&app).await;
    let (coop, member) = p.coop(&app, "Eden Growers").await;
    let (_, stranger) = p.coop(&app, "Someone Else").await;
    let (first, first_token, first_email) =
        p.provider(&app, "MENTOR", "First Mentor", 2, None).await;
    let (second, _, _) = p.provider(&app, "MENTOR", "Second Mentor", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let engagement = p.proposed(&app, &request, &first, 3).await;
    p.accept(&app, &engagement, &first_token).await;

    // A meeting in the diary when it ends.
    let body = ok(app
        .graphql(
            SCHEDULE,
            json!({"i": slot(&engagement, 72, 60)}),
            Some(&member),
        )
        .await);
    let booked = body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let end = "mutation($e: ID!, $r: String!) { endEngagement(engagementId: $e, reason: $r) { status endReason meetings { id status } } }";
    let (_, body) = app
        .graphql(
            end,
            json!({"e": engagement, "r": "Not working out."}),
            Some(&stranger),
        )
        .await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
    let (_, body) = app
        .graphql(end, json!({"e": engagement, "r": "  "}), Some(&member))
        .await;
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = ok(app
        .graphql(
            end,
            json!({"e": engagement, "r": "Our priorities changed."}),
            Some(&member),
        )
        .await);
    assert_eq!(body["data"]["endEngagement"]["status"], "ENDED_EARLY");
    // Its scheduled meeting is cancelled, and leaves the parties' calendars.
    assert_eq!(
        body["data"]["endEngagement"]["meetings"],
        json!([{"id": booked, "status": "CANCELLED"}])
    );
    let cancelled = app
        .smtp
        .wait_for_subject(
            &first_email,
            "meeting cancelled",
            std::time::Duration::from_secs(20),
        )
        .await;
    let (method, _) = cancelled.calendar().expect("a calendar part");
    assert_eq!(method, "CANCEL");
    let (_, body) = app
        .graphql(end, json!({"e": engagement, "r": "Again."}), Some(&member))
        .await;
    assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");

    // Both parties and staff are told, with who and why.
    for address in [
        first_email.as_str(),
        "member@edengrowers.coop",
        "staff@hive.test",
    ] {
        let ended = app
            .smtp
            .wait_for_subject(address, "has ended", std::time::Duration::from_secs(20))
            .await;
        assert!(
            ended.text().contains("Our priorities changed.")
                && ended.text().contains("Eden Growers")
        );
    }
    // Nothing more can be scheduled on it.
    let (_, body) = app
        .graphql(
            SCHEDULE,
            json!({"i": slot(&engagement, 24, 60)}),
            Some(&member),
        )
        .await;
    assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");

    // Back in matching, without the first mentor; the re-match links to the old engagement.
    let body = ok(app
        .graphql(
            "query($r: ID!) { matchSuggestions(requestId: $r) { provider { name } } }",
            json!({"r": request}),
            Some(&p.staff),
        )
        .await);
    let names: Vec<&str> = body["data"]["matchSuggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["provider"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Second Mentor"]);
    let body = p.propose(&app, &request, &second, 4).await;
    assert_eq!(
        body["data"]["proposeMatch"]["rematchOf"]["id"], engagement,
        "{body}"
    );
    app.stop().await;
});

on_both_databases!(a_concern_reaches_staff_at_once, |app: TestApp| async move {
    let p = Programme::new(&app).await;
    let (coop, member) = p.coop(&app, "Solway Care").await;
    let (_, stranger) = p.coop(&app, "Unrelated").await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Careful Mentor", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let engagement = p.proposed(&app, &request, &mentor, 3).await;
    p.accept(&app, &engagement, &mentor_token).await;

    let raise = "mutation($e: ID!, $d: String!) { raiseConcern(engagementId: $e, category: HARASSMENT, details: $d) { id status details } }";
    let (_, body) = app
        .graphql(
            raise,
            json!({"e": engagement, "d": "Something happened."}),
            Some(&stranger),
        )
        .await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = ok(app
        .graphql(
            raise,
            json!({"e": engagement, "d": "A member was shouted at."}),
            Some(&mentor_token),
        )
        .await);
    let concern = body["data"]["raiseConcern"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Staff hear at once; the details stay out of email.
    let mail = app
        .smtp
        .wait_for_subject(
            "staff@hive.test",
            "concern",
            std::time::Duration::from_secs(20),
        )
        .await;
    assert!(mail.text().contains("harassment") && mail.text().contains("Solway Care"));
    assert!(!mail.text().contains("shouted") && !mail.html().contains("shouted"));

    // Visible to staff and to the person who raised it, not the other party.
    let list = "{ concerns { status details } }";
    let body = ok(app.graphql(list, json!({}), Some(&p.staff)).await);
    assert_eq!(
        body["data"]["concerns"][0]["details"],
        "A member was shouted at."
    );
    let body = ok(app.graphql(list, json!({}), Some(&mentor_token)).await);
    assert_eq!(body["data"]["concerns"].as_array().unwrap().len(), 1);
    let body = ok(app.graphql(list, json!({}), Some(&member)).await);
    assert_eq!(body["data"]["concerns"].as_array().unwrap().len(), 0);

    let resolve = "mutation($c: ID!) { resolveConcern(concernId: $c, outcome: \"Spoke to both; resolved.\") { status outcome } }";
    let (_, body) = app
        .graphql(resolve, json!({"c": concern}), Some(&member))
        .await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"));
    let body = ok(app
        .graphql(resolve, json!({"c": concern}), Some(&p.staff))
        .await);
    assert_eq!(body["data"]["resolveConcern"]["status"], "RESOLVED");
    let (_, body) = app
        .graphql(resolve, json!({"c": concern}), Some(&p.staff))
        .await;
    assert_eq!(first_error_code(&body), Some("CONFLICT"));
    app.stop().await;
});

on_both_databases!(the_programme_in_figures, |app: TestApp| async move {
    let p = Programme::new(&app).await;
    let (coop, member) = p.coop(&app, "Figures Co-op").await;
    let (other, _) = p.coop(&app, "Waiting Co-op").await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Counted Mentor", 2, None).await;
    let matched = p.request(&app, &coop, "MENTORING").await;
    p.request(&app, &other, "ADVICE").await;
    let engagement = p.proposed(&app, &matched, &mentor, 4).await;
    p.accept(&app, &engagement, &mentor_token).await;

    let query = "{ programmeStats { engagements { label count } days { planned delivered } waiting { requests longestDays } demandByTopic { label count } reviewScores { providerName } averageDaysToMatch } }";
    let body = ok(app.graphql(query, json!({}), Some(&p.staff)).await);
    let stats = &body["data"]["programmeStats"];
    assert_eq!(
        stats["engagements"],
        json!([{"label": "ACTIVE / MENTORING", "count": 1}])
    );
    assert_eq!(stats["days"], json!({"planned": 4, "delivered": 0.0}));
    assert_eq!(stats["waiting"]["requests"], 1);
    assert_eq!(
        stats["demandByTopic"],
        json!([{"label": "finance", "count": 2}, {"label": "governance", "count": 2}])
    );
    assert_eq!(stats["reviewScores"], json!([]));
    assert!(
        stats["averageDaysToMatch"]
            .as_f64()
            .is_some_and(|d| (0.0..1.0).contains(&d))
    );
    let (_, body) = app.graphql(query, json!({}), Some(&member)).await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"));
    app.stop().await;
});
