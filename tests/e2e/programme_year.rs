//! A programme year in one story, through GraphQL and the emailed links only
//! (time moved on in the database where a real year would wait): a co-op asks
//! for help, is matched, meets, raises a concern, ends early, is matched
//! again, holds a final meeting, and both sides review it. Every email the
//! system writes arrives at the SMTP server, once.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use entity::emails::{self, EmailStatus};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp,
    programme::{Programme, ok},
};

const WAIT: StdDuration = StdDuration::from_secs(20);
const STAFF: &str = "staff@hive.test";
const MEMBER: &str = "ann@ouseburn.coop";

/// Signs in with the link in the welcome email to `address`; the session token.
async fn sign_in_from_welcome(app: &TestApp, address: &str) -> String {
    let mail = app
        .smtp
        .wait_for_subject(address, "Welcome to Hive", WAIT)
        .await;
    let link = mail
        .link_containing("/sign-in?token=")
        .expect("a sign-in link");
    let token = link.split("token=").nth(1).unwrap();
    let body = ok(app
        .graphql(
            "mutation($t: String!) { signIn(token: $t) { token } }",
            json!({"t": token}),
            None,
        )
        .await);
    body["data"]["signIn"]["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn register_mentor(app: &TestApp, p: &Programme, name: &str, email: &str) -> String {
    let input = json!({"email": email, "name": name, "offer": {"bio": "Twenty years in worker co-ops.", "topicIds": p.topics, "sectorIds": [], "regions": ["North East"], "formats": ["VIDEO", "IN_PERSON"], "capacity": 2}});
    let body = ok(app
        .graphql(
            "mutation($i: RegisterMentorInput!) { registerMentor(input: $i) { id } }",
            json!({"i": input}),
            Some(&p.staff),
        )
        .await);
    body["data"]["registerMentor"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Books a meeting two hours ahead (too soon for a reminder) and moves it
/// into the past, as the day of the meeting would; its id.
async fn meeting_held_yesterday(
    app: &TestApp,
    engagement: &str,
    token: &str,
    is_final: bool,
) -> String {
    let body = ok(app
        .graphql(
            "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
            json!({"i": {"engagementId": engagement, "startsAt": (Utc::now() + Duration::hours(2)).to_rfc3339(), "durationMinutes": 90, "format": "IN_PERSON", "location": "Ouseburn Workshop", "isFinal": is_final}}),
            Some(token),
        )
        .await);
    let meeting = body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    crate::support::programme::move_meeting(app, &meeting, Utc::now() - Duration::days(1)).await;
    meeting
}

async fn record_held(app: &TestApp, meeting: &str, days: f64, token: &str) -> Value {
    ok(app
        .graphql(
            "mutation($i: RecordMeetingInput!) { recordMeeting(input: $i) { status } }",
            json!({"i": {"meetingId": meeting, "held": true, "daysCounted": days, "notes": "Went through the share offer.", "learning": "Templates would help."}}),
            Some(token),
        )
        .await)
}

async fn suggested_names(app: &TestApp, p: &Programme, request: &str) -> Vec<String> {
    let body = ok(app
        .graphql(
            "query($r: ID!) { matchSuggestions(requestId: $r) { provider { name } summary } }",
            json!({"r": request}),
            Some(&p.staff),
        )
        .await);
    body["data"]["matchSuggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["provider"]["name"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases!(a_programme_year, |app: TestApp| async move {
    let p = Programme::new(&app).await;

    // Staff put the co-op on the register and invite its member; two mentors
    // join. Everyone signs in from their welcome email.
    let body = ok(app
        .graphql(
            "mutation($i: CreateOrganisationInput!) { createOrganisation(input: $i) { id } }",
            json!({"i": {"name": "Ouseburn Makers", "stage": "START_UP", "region": "North East", "contactEmail": "hello@ouseburn.coop"}}),
            Some(&p.staff),
        )
        .await);
    let coop = body["data"]["createOrganisation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(app
        .graphql(
            "mutation($o: ID!) { inviteMember(organisationId: $o, email: \"ann@ouseburn.coop\", name: \"Ann Lee\") { id } }",
            json!({"o": coop}),
            Some(&p.staff),
        )
        .await);
    let member = sign_in_from_welcome(&app, MEMBER).await;
    let first_mentor = register_mentor(&app, &p, "Tom Walsh", "tom@mentors.test").await;
    let tom = sign_in_from_welcome(&app, "tom@mentors.test").await;
    let second_mentor = register_mentor(&app, &p, "Rita Bell", "rita@mentors.test").await;
    let rita = sign_in_from_welcome(&app, "rita@mentors.test").await;

    // The member asks for mentoring.
    let body = ok(app
        .graphql(
            "mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id status } }",
            json!({"i": {"organisationId": coop, "kind": "MENTORING", "topicIds": [p.topics[0], p.topics[2]], "goals": "Launch a community share offer.", "preferredFormats": ["IN_PERSON"]}}),
            Some(&member),
        )
        .await);
    let request = body["data"]["submitSupportRequest"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Staff see both mentors suggested, propose Tom, and Tom accepts from the
    // link in his email.
    let names = suggested_names(&app, &p, &request).await;
    assert_eq!(names.len(), 2, "{names:?}");
    let body = ok(app
        .graphql(
            "mutation($r: ID!, $p: ID!) { proposeMatch(requestId: $r, providerId: $p, daysAllocated: 4, feePence: 5000) { id } }",
            json!({"r": request, "p": first_mentor}),
            Some(&p.staff),
        )
        .await);
    let first = body["data"]["proposeMatch"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let proposal = app
        .smtp
        .wait_for_subject("tom@mentors.test", "will you mentor Ouseburn Makers", WAIT)
        .await;
    let link = proposal.link_containing("/m/").unwrap();
    let accepted = app
        .http
        .post(&link)
        .form(&[("answer", "accept"), ("reason", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    for address in ["tom@mentors.test", MEMBER] {
        app.smtp
            .wait_for_subject(address, "are matched", WAIT)
            .await;
    }

    // Ground rules, a first meeting held, a concern raised and resolved.
    ok(app
        .graphql("mutation($e: ID!) { agreeGroundRules(engagementId: $e, text: \"Monthly, in person; notes shared.\") { groundRules } }", json!({"e": first}), Some(&tom))
        .await);
    let meeting = meeting_held_yesterday(&app, &first, &member, false).await;
    app.smtp
        .wait_for_subject("tom@mentors.test", "meeting booked", WAIT)
        .await;
    record_held(&app, &meeting, 1.0, &tom).await;
    let body = ok(app
        .graphql(
            "mutation($e: ID!) { raiseConcern(engagementId: $e, category: BULLYING, details: \"Dismissive about our plans.\") { id } }",
            json!({"e": first}),
            Some(&member),
        )
        .await);
    let concern = body["data"]["raiseConcern"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alert = app
        .smtp
        .wait_for_subject(STAFF, "a concern was raised", WAIT)
        .await;
    assert!(
        !alert.text().contains("Dismissive"),
        "the details stay out of email"
    );
    ok(app
        .graphql("mutation($c: ID!) { resolveConcern(concernId: $c, outcome: \"Spoke to both; a new mentor.\") { status } }", json!({"c": concern}), Some(&p.staff))
        .await);

    // The co-op ends it early; Tom and staff are told.
    let body = ok(app
        .graphql("mutation($e: ID!) { endEngagement(engagementId: $e, reason: \"Not the right fit.\") { status } }", json!({"e": first}), Some(&member))
        .await);
    assert_eq!(body["data"]["endEngagement"]["status"], "ENDED_EARLY");
    for address in ["tom@mentors.test", STAFF] {
        app.smtp.wait_for_subject(address, "has ended", WAIT).await;
    }

    // Re-match: Tom is no longer suggested; Rita is proposed and accepts in
    // the app; the new engagement links to the old.
    assert_eq!(suggested_names(&app, &p, &request).await, ["Rita Bell"]);
    let body = ok(app
        .graphql(
            "mutation($r: ID!, $p: ID!) { proposeMatch(requestId: $r, providerId: $p, daysAllocated: 3, feePence: 5000) { id rematchOf { id } } }",
            json!({"r": request, "p": second_mentor}),
            Some(&p.staff),
        )
        .await);
    let second = body["data"]["proposeMatch"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        body["data"]["proposeMatch"]["rematchOf"]["id"].as_str(),
        Some(first.as_str()),
        "{body}"
    );
    ok(app
        .graphql(
            "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: true) { status } }",
            json!({"e": second}),
            Some(&rita),
        )
        .await);

    // Two meetings, the second the final one: staff hear it is booked, and
    // recording it held completes the engagement.
    let meeting = meeting_held_yesterday(&app, &second, &rita, false).await;
    record_held(&app, &meeting, 1.5, &rita).await;
    let last = meeting_held_yesterday(&app, &second, &rita, true).await;
    app.smtp
        .wait_for_subject(STAFF, "final meeting booked", WAIT)
        .await;
    record_held(&app, &last, 1.5, &rita).await;
    let body = ok(app
        .graphql(
            "query($e: ID!, $r: ID!) { engagement(id: $e) { status daysUsed } supportRequest(id: $r) { status } }",
            json!({"e": second, "r": request}),
            Some(&p.staff),
        )
        .await);
    assert_eq!(body["data"]["engagement"]["status"], "COMPLETED", "{body}");
    assert_eq!(body["data"]["engagement"]["daysUsed"], 3.0);
    assert_eq!(body["data"]["supportRequest"]["status"], "CLOSED");

    // Both review: Rita on the page, the co-op through the SPA's GraphQL.
    let rita_mail = app
        .smtp
        .wait_for_subject("rita@mentors.test", "how did it go", WAIT)
        .await;
    let page = rita_mail.link_containing("/r/").unwrap();
    let form = app.http.get(&page).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let thanks = app
        .http
        .post(&page)
        .form(&[
            ("usefulness", "4"),
            ("relationship", "5"),
            ("wouldRecommend", "5"),
            ("comments", "A keen team."),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(thanks.status(), 200);
    let ann_mail = app
        .smtp
        .wait_for_subject(MEMBER, "how did it go", WAIT)
        .await;
    let token = ann_mail
        .link_containing("/r/")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let body = ok(app
        .graphql(
            "query($t: String!) { reviewInvitation(token: $t) { answered } }",
            json!({"t": token}),
            None,
        )
        .await);
    assert_eq!(body["data"]["reviewInvitation"]["answered"], false);
    ok(app
        .graphql(
            "mutation($t: String!, $i: ReviewInput!) { submitReviewByToken(token: $t, input: $i) { answered } }",
            json!({"t": token, "i": {"usefulness": 5, "relationship": 4, "wouldRecommend": 5, "comments": "Rita knew share offers inside out."}}),
            None,
        )
        .await);

    // What staff see at the end of the year.
    let body = ok(app
        .graphql(
            "{ programmeStats { engagements { label count } days { planned delivered } reviewScores { providerName average reviews } } auditLog(last: 100) { totalCount } }",
            json!({}),
            Some(&p.staff),
        )
        .await);
    let stats = &body["data"]["programmeStats"];
    let count_of = |label: &str| {
        stats["engagements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["label"].as_str().is_some_and(|l| l.contains(label)))
            .map(|c| c["count"].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(count_of("COMPLETED"), 1, "{stats}");
    assert_eq!(count_of("ENDED_EARLY"), 1, "{stats}");
    assert_eq!(stats["days"]["delivered"], 4.0, "{stats}");
    let rita_score = stats["reviewScores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["providerName"] == "Rita Bell")
        .expect("Rita's score");
    assert_eq!(rita_score["average"].as_f64().unwrap(), 14.0 / 3.0);
    assert!(body["data"]["auditLog"]["totalCount"].as_i64().unwrap() >= 20);

    // Every email written arrived, once: nothing waiting, failed or dead,
    // and the SMTP server holds exactly one message per SENT row.
    let deadline = std::time::Instant::now() + WAIT;
    let rows = loop {
        let rows = emails::Entity::find().all(&app.db).await.unwrap();
        if rows.iter().all(|r| r.status != EmailStatus::Pending) {
            break rows;
        }
        assert!(std::time::Instant::now() < deadline, "emails still pending");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    };
    assert!(
        rows.iter().all(|r| r.status == EmailStatus::Sent),
        "{rows:?}"
    );
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(app.smtp.received().len(), rows.len());
    for row in &rows {
        assert_eq!(
            app.smtp
                .received()
                .iter()
                .filter(|m| m
                    .header("Message-ID")
                    .is_some_and(|id| id.contains(&format!("email-{}.", row.id))))
                .count(),
            1,
            "{} to {}",
            row.template,
            row.recipient
        );
    }
    let templates: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.template.as_str()).collect();
    for expected in [
        "welcome",
        "match_proposed",
        "match_accepted",
        "meeting_scheduled",
        "concern_raised",
        "engagement_ended",
        "final_meeting_scheduled",
        "review_request",
    ] {
        assert!(
            templates.contains(expected),
            "{expected} missing from {templates:?}"
        );
    }
    app.stop().await;
});
