//! Calendar feeds (issue 20, item 4): each person's secret iCalendar address,
//! read back with an iCalendar parser as a calendar application would, after
//! a meeting is booked, moved and cancelled — with the UID and SEQUENCE of
//! the emailed invitation each time — and who sees which meetings, the
//! 30-day window, the bound on its size, no private notes, and the address
//! replaced, revoked and refused.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::calendar::{CANCEL, SCHEDULE};
use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, decode, move_meeting, ok},
};

const WAIT: StdDuration = StdDuration::from_secs(20);
const RESET: &str = "mutation { resetCalendarFeed }";
const REVOKE: &str = "mutation { revokeCalendarFeed }";
const MY_FEED: &str = "{ me { calendarFeedUrl } }";
const MOVE: &str = "mutation($m: ID!, $at: DateTime!) { rescheduleMeeting(meetingId: $m, startsAt: $at) { sequence } }";

/// One VEVENT as a calendar reads it.
#[derive(Debug, Clone)]
struct Event {
    uid: String,
    sequence: u32,
    start: String,
    status: String,
    summary: String,
    description: String,
}

/// The calendar's own properties and its events, parsed by the `icalendar`
/// crate's parser (lines unfolded, text unescaped).
fn parse(ics: &str) -> (Calendar, Vec<Event>) {
    let calendar: Calendar = ics
        .parse()
        .unwrap_or_else(|error| panic!("not iCalendar ({error}): {ics}"));
    let events = calendar
        .events()
        .map(|event| Event {
            uid: event.get_uid().expect("a UID").to_string(),
            sequence: event.get_sequence().expect("a SEQUENCE"),
            start: event
                .property_value("DTSTART")
                .expect("a DTSTART")
                .to_string(),
            status: event.property_value("STATUS").unwrap_or("").to_string(),
            summary: event.get_summary().unwrap_or("").to_string(),
            description: event.get_description().unwrap_or("").to_string(),
        })
        .collect();
    (calendar, events)
}

fn ical_time(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The feed at `url`: status, headers and body.
async fn fetch(app: &TestApp, url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = app.http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// The feed's events, after checking it is a well-formed published calendar.
async fn feed(app: &TestApp, url: &str) -> Vec<Event> {
    let (status, headers, body) = fetch(app, url).await;
    assert_eq!(status, 200, "{url}: {body}");
    assert_eq!(
        headers["content-type"], "text/calendar; charset=utf-8",
        "{url}"
    );
    let (calendar, events) = parse(&body);
    assert_eq!(
        calendar.property_value("X-WR-CALNAME"),
        Some("Hive meetings")
    );
    assert_eq!(calendar.property_value("X-PUBLISHED-TTL"), Some("PT1H"));
    assert!(
        calendar.property_value("REFRESH-INTERVAL").is_some(),
        "{body}"
    );
    // A published calendar, not a scheduling message.
    assert_eq!(calendar.property_value("METHOD"), None, "{body}");
    for absent in ["ORGANIZER", "ATTENDEE", "mailto:"] {
        assert!(!body.contains(absent), "{absent} in the feed: {body}");
    }
    events
}

/// The one event with `uid`.
fn event(events: &[Event], uid: &str) -> Event {
    let found: Vec<&Event> = events.iter().filter(|e| e.uid == uid).collect();
    assert_eq!(found.len(), 1, "{uid} once in {events:#?}");
    found[0].clone()
}

/// The invitation of the newest email to `address` whose subject has
/// `subject`: its MIME method and its one event.
async fn emailed(app: &TestApp, address: &str, subject: &str, count: usize) -> (String, Event) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mails: Vec<_> = app
            .smtp
            .received_by(address)
            .into_iter()
            .filter(|m| m.subject().contains(subject))
            .collect();
        if mails.len() >= count {
            let (method, ics) = mails[count - 1].calendar().expect("an invitation");
            let (_, events) = parse(&ics);
            assert_eq!(events.len(), 1, "{ics}");
            return (method, events[0].clone());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {subject:?} email to {address}"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// Resets the feed of the person behind `token`; its address.
async fn reset(app: &TestApp, token: &str) -> String {
    let body = ok(app.graphql(RESET, json!({}), Some(token)).await);
    let url = body["data"]["resetCalendarFeed"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with(&format!("{}/calendar/", app.base_url)) && url.ends_with(".ics"),
        "{url}"
    );
    url
}

async fn my_feed(app: &TestApp, token: &str) -> Value {
    ok(app.graphql(MY_FEED, json!({}), Some(token)).await)["data"]["me"]["calendarFeedUrl"].clone()
}

/// Books a meeting as `token`; its id.
async fn schedule(
    app: &TestApp,
    token: &str,
    engagement: &str,
    starts: DateTime<Utc>,
    format: &str,
) -> String {
    let body = ok(app
        .graphql(
            SCHEDULE,
            json!({"i": {"engagementId": engagement, "startsAt": starts.to_rfc3339(), "durationMinutes": 60, "format": format, "location": "The bakery; upstairs"}}),
            Some(token),
        )
        .await);
    body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An accepted engagement between a new mentor and `coop`: (engagement,
/// the mentor's session, the mentor's address).
async fn engagement(
    app: &TestApp,
    p: &Programme,
    coop: &str,
    mentor: &str,
) -> (String, String, String) {
    let (provider, token, email) = p.provider(app, "MENTOR", mentor, 2, None).await;
    let request = p.request(app, coop, "MENTORING").await;
    let engagement = p.proposed(app, &request, &provider, 3).await;
    p.accept(app, &engagement, &token).await;
    (engagement, token, email)
}

/// A meeting's UID, as the emails and the feed write it.
fn uid_of(app: &TestApp, meeting: &str) -> String {
    let host = app.base_url.trim_start_matches("http://");
    let host = host.split(':').next().unwrap();
    format!("meeting-{}@{host}", decode(meeting))
}

on_both_databases!(
    the_feed_follows_a_meeting_booked_moved_and_cancelled,
    |app: TestApp| async move {
        const MEMBER: &str = "member@calderbakers.coop";
        let p = Programme::new(&app).await;
        let (calder, member) = p.coop(&app, "Calder Bakers").await;
        let (ouse, ouse_member) = p.coop(&app, "Ouse Bakers").await;
        let (engaged, ruth, ruth_email) = engagement(&app, &p, &calder, "Ruth Ellis").await;
        let (ouse_engaged, sam, _) = engagement(&app, &p, &ouse, "Sam Okafor").await;

        // No feed until one is asked for; reading the field makes none.
        assert_eq!(my_feed(&app, &member).await, Value::Null);
        assert_eq!(my_feed(&app, &member).await, Value::Null);
        let member_feed = reset(&app, &member).await;
        assert_eq!(my_feed(&app, &member).await, json!(member_feed));
        let ruth_feed = reset(&app, &ruth).await;
        let ouse_feed = reset(&app, &ouse_member).await;
        let staff_feed = reset(&app, &p.staff).await;
        assert!(feed(&app, &member_feed).await.is_empty());

        // Booked: the feed has the meeting with the invitation's UID and
        // SEQUENCE, on both sides, each naming the other by role.
        let starts = Utc::now() + Duration::days(3);
        let meeting = schedule(&app, &member, &engaged, starts, "IN_PERSON").await;
        let uid = uid_of(&app, &meeting);
        let (method, invited) = emailed(&app, MEMBER, "meeting booked", 1).await;
        assert_eq!(method, "REQUEST");
        let (_, ruth_invited) = emailed(&app, &ruth_email, "meeting booked", 1).await;
        let booked = event(&feed(&app, &member_feed).await, &uid);
        assert_eq!((invited.uid.as_str(), invited.sequence), (uid.as_str(), 0));
        assert_eq!(
            (&booked.uid, booked.sequence),
            (&invited.uid, invited.sequence)
        );
        assert_eq!(booked.start, ical_time(starts));
        assert_eq!(booked.status, "CONFIRMED");
        assert_eq!(booked.summary, "Hive: meeting with Ruth Ellis");
        assert_eq!(booked.summary, invited.summary, "the email says the same");
        assert!(booked.description.contains("face to face"), "{booked:?}");
        let ruths = event(&feed(&app, &ruth_feed).await, &uid);
        assert_eq!((ruths.sequence, &ruths.start), (0, &booked.start));
        assert_eq!(ruths.summary, "Hive: meeting with Calder Bakers");
        assert_eq!(ruths.summary, ruth_invited.summary);

        // Moved: the same UID, SEQUENCE raised, the new time; as the email.
        let new_start = starts + Duration::hours(26);
        let body = ok(app
            .graphql(
                MOVE,
                json!({"m": meeting, "at": new_start.to_rfc3339()}),
                Some(&ruth),
            )
            .await);
        assert_eq!(body["data"]["rescheduleMeeting"]["sequence"], 1);
        let (method, invited) = emailed(&app, MEMBER, "meeting moved", 1).await;
        assert_eq!(method, "REQUEST");
        let moved = event(&feed(&app, &member_feed).await, &uid);
        assert_eq!(
            (&moved.uid, moved.sequence, &moved.start),
            (&invited.uid, invited.sequence, &invited.start)
        );
        assert_eq!(
            (moved.sequence, moved.start.as_str()),
            (1, ical_time(new_start).as_str())
        );
        assert_eq!(moved.status, "CONFIRMED");

        // Cancelled: it stays, CANCELLED, with the cancellation's SEQUENCE.
        ok(app
            .graphql(CANCEL, json!({"m": meeting}), Some(&member))
            .await);
        let (method, invited) = emailed(&app, MEMBER, "meeting cancelled", 1).await;
        assert_eq!(method, "CANCEL");
        let cancelled = event(&feed(&app, &member_feed).await, &uid);
        assert_eq!(
            (
                &cancelled.uid,
                cancelled.sequence,
                cancelled.status.as_str()
            ),
            (&invited.uid, invited.sequence, "CANCELLED")
        );
        assert_eq!(invited.status, "CANCELLED");
        assert_eq!(cancelled.sequence, 2);
        let ruths = event(&feed(&app, &ruth_feed).await, &uid);
        assert_eq!((ruths.sequence, ruths.status.as_str()), (2, "CANCELLED"));

        // Held two days ago, with private notes: in the feed, the notes not.
        let held = schedule(&app, &member, &engaged, starts + Duration::days(5), "PHONE").await;
        move_meeting(&app, &held, Utc::now() - Duration::days(2)).await;
        ok(app
            .graphql(
                "mutation($m: ID!) { recordMeeting(input: {meetingId: $m, held: true, daysCounted: 1, notes: \"private notes\", learning: \"programme learning\"}) { status } }",
                json!({"m": held}),
                Some(&ruth),
            )
            .await);
        // Thirty-one days ago: out of the window.
        let old = schedule(&app, &member, &engaged, starts + Duration::days(6), "VIDEO").await;
        move_meeting(&app, &old, Utc::now() - Duration::days(31)).await;
        // Another co-op's meeting with another mentor.
        let elsewhere = schedule(&app, &sam, &ouse_engaged, starts, "VIDEO").await;

        for url in [&member_feed, &ruth_feed] {
            let (_, _, body) = fetch(&app, url).await;
            for secret in ["private notes", "programme learning"] {
                assert!(!body.contains(secret), "{secret} in the feed: {body}");
            }
            let events = feed(&app, url).await;
            let uids: Vec<&str> = events.iter().map(|e| e.uid.as_str()).collect();
            assert_eq!(
                uids,
                [uid_of(&app, &held), uid.clone()],
                "in time order, from 30 days back: {events:#?}"
            );
            assert_eq!(event(&events, &uid_of(&app, &held)).status, "CONFIRMED");
        }
        // The other co-op's member sees their own meeting, not Calder's.
        let ouse_events = feed(&app, &ouse_feed).await;
        assert_eq!(ouse_events.len(), 1, "{ouse_events:#?}");
        assert_eq!(ouse_events[0].uid, uid_of(&app, &elsewhere));
        assert_eq!(ouse_events[0].summary, "Hive: meeting with Sam Okafor");
        // Staff attend no meeting: a calendar with nothing in it.
        assert!(feed(&app, &staff_feed).await.is_empty());
        app.stop().await;
    }
);

/// A token of the right shape that opens nothing.
const UNKNOWN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

on_both_databases!(
    a_feed_address_is_replaced_revoked_and_refused,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Calder Bakers").await;
        let (engaged, ruth, _) = engagement(&app, &p, &coop, "Ruth Ellis").await;

        // Nobody signed in cannot make or take one.
        for mutation in [RESET, REVOKE] {
            let (_, body) = app.graphql(mutation, json!({}), None).await;
            assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        }
        // Nobody reads another person's address, staff included.
        let me = ok(app.graphql("{ me { id } }", json!({}), Some(&member)).await);
        let member_id = me["data"]["me"]["id"].clone();
        let first = reset(&app, &member).await;
        for token in [&p.staff, &ruth] {
            let (_, body) = app
                .graphql(
                    "query($id: ID!) { node(id: $id) { ... on User { calendarFeedUrl } } }",
                    json!({"id": member_id}),
                    Some(token),
                )
                .await;
            assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
            assert!(!body.to_string().contains("/calendar/"), "{body}");
        }

        // An unchanged feed is a 304 to a calendar that names its ETag.
        let (status, headers, _) = fetch(&app, &first).await;
        assert_eq!(status, 200);
        assert_eq!(headers["cache-control"], "private, no-cache");
        let etag = headers["etag"].to_str().unwrap().to_string();
        let response = app
            .http
            .get(&first)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 304);
        assert!(response.text().await.unwrap().is_empty());

        // Reset: a new address; the old one is gone at once.
        let second = reset(&app, &member).await;
        assert_ne!(first, second);
        assert_eq!(fetch(&app, &first).await.0, 404);
        assert_eq!(fetch(&app, &second).await.0, 200);
        assert_eq!(my_feed(&app, &member).await, json!(second));
        // Two resets at once leave one working address.
        let (a, b) = tokio::join!(reset(&app, &member), reset(&app, &member));
        let working = [fetch(&app, &a).await.0, fetch(&app, &b).await.0];
        assert!(
            working.contains(&200) && working.contains(&404),
            "{working:?}"
        );
        assert_eq!(fetch(&app, &second).await.0, 404);
        let current = my_feed(&app, &member).await;
        assert!(current == json!(a) || current == json!(b));

        // Revoked: no address, and it opens nothing.
        let body = ok(app.graphql(REVOKE, json!({}), Some(&member)).await);
        assert_eq!(body["data"]["revokeCalendarFeed"], true);
        assert_eq!(my_feed(&app, &member).await, Value::Null);
        assert_eq!(fetch(&app, current.as_str().unwrap()).await.0, 404);
        let body = ok(app.graphql(REVOKE, json!({}), Some(&member)).await);
        assert_eq!(body["data"]["revokeCalendarFeed"], false);
        // Changes of the feed are in the audit trail, never the token.
        let audit = ok(app
            .graphql(
                "{ auditLog(first: 100) { nodes { action detail } } }",
                json!({}),
                Some(&p.staff),
            )
            .await);
        let actions = audit["data"]["auditLog"]["nodes"].to_string();
        assert_eq!(actions.matches("resetCalendarFeed").count(), 4, "{actions}");
        assert_eq!(
            actions.matches("revokeCalendarFeed").count(),
            1,
            "{actions}"
        );
        assert!(!actions.contains(&a[a.len() - 47..a.len() - 4]));

        // Addresses that open nothing, all alike, and the malformed ones
        // without a look at the database.
        let ruth_feed = reset(&app, &ruth).await;
        let token = &ruth_feed[ruth_feed.len() - 47..ruth_feed.len() - 4];
        let base = format!("{}/calendar/", app.base_url);
        app.statement_log.lock().unwrap().clear();
        for (what, path, status) in [
            ("no .ics", token.to_string(), 404),
            ("another suffix", format!("{token}.ical"), 404),
            ("garbage", "garbage.ics".to_string(), 404),
            (
                "a character base64url has not",
                format!("{}+.ics", &token[1..]),
                404,
            ),
            ("one character short", format!("{}.ics", &token[1..]), 404),
            ("one character long", format!("{token}A.ics"), 404),
            ("a space after it", format!("{token}%20.ics"), 404),
            ("very long", format!("{}.ics", "A".repeat(5_000)), 404),
            ("empty", ".ics".to_string(), 404),
            ("longer than any address", "A".repeat(9_000), 414),
        ] {
            let (got, headers, body) = fetch(&app, &format!("{base}{path}")).await;
            assert_eq!(got, status, "{what}: {body}");
            assert!(
                headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "{what}"
            );
        }
        let asked: Vec<String> = app
            .statement_log
            .lock()
            .unwrap()
            .iter()
            .filter(|sql| sql.contains("calendar_feeds"))
            .cloned()
            .collect();
        assert!(
            asked.is_empty(),
            "malformed tokens reached the database: {asked:?}"
        );
        // A token of the right shape is looked up (so the log above would
        // have shown a look-up), and opens nothing.
        assert_eq!(fetch(&app, &format!("{base}{UNKNOWN}.ics")).await.0, 404);
        assert!(
            app.statement_log
                .lock()
                .unwrap()
                .iter()
                .any(|sql| sql.contains("calendar_feeds")),
            "the look-up is in the statement log"
        );
        assert_eq!(
            app.http
                .post(&ruth_feed)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            405
        );

        // Bounded: at most 500 meetings, the soonest (rows written behind the
        // API, which would take a while to book so many).
        let engagement_id = decode(&engaged);
        let now = Utc::now();
        let rows: Vec<entity::meetings::ActiveModel> = (0..510)
            .map(|i| entity::meetings::ActiveModel {
                engagement_id: Set(engagement_id),
                starts_at: Set(now + Duration::hours(i64::from(i) + 1)),
                duration_minutes: Set(30),
                format: Set(entity::meetings::MeetingFormat::Phone),
                location: Set(None),
                is_final: Set(false),
                status: Set(entity::meetings::MeetingStatus::Scheduled),
                days_counted: Set(None),
                notes: Set(None),
                learning: Set(None),
                sequence: Set(0),
                scheduled_by_user_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect();
        entity::meetings::Entity::insert_many(rows)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        let events = feed(&app, &ruth_feed).await;
        assert_eq!(events.len(), 500);
        assert_eq!(events[0].start, ical_time(now + Duration::hours(1)));
        assert_eq!(events[499].start, ical_time(now + Duration::hours(500)));

        // A deactivated account's feed stops, as its sessions do.
        entity::users::Entity::update_many()
            .col_expr(
                entity::users::Column::DeactivatedAt,
                Expr::value(Utc::now()),
            )
            .filter(entity::users::Column::Email.eq("ruthellis@providers.test"))
            .exec(&app.db)
            .await
            .unwrap();
        assert_eq!(fetch(&app, &ruth_feed).await.0, 404);
        app.stop().await;
    }
);
