//! What each person sees first (issue 20): engagement lists under the access
//! rules and in the home order, `me { upcomingMeetings }`, and `actionItems`
//! for staff (the digest's sections, from the same function as the email),
//! providers and members.

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{
    on_both_databases,
    support::{
        TestApp, first_error_code,
        programme::{Programme, decode, move_meeting, ok},
    },
};

const SCHEDULE: &str = "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }";
const RECORD: &str = "mutation($i: RecordMeetingInput!) { recordMeeting(input: $i) { status } }";

const LIST: &str = "query($f: EngagementFilterInput, $first: Int, $after: String) {
  engagements(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id status daysRemaining nextMeeting { id startsAt } lastMeeting { id } } } } }";

/// A meeting of `engagement`, `hours` from now, an hour long: its id.
async fn schedule(app: &TestApp, token: &str, engagement: &str, hours: i64, last: bool) -> String {
    let input = json!({"engagementId": engagement, "startsAt": (Utc::now() + Duration::hours(hours)).to_rfc3339(),
        "durationMinutes": 60, "format": "VIDEO", "isFinal": last});
    let body = ok(app
        .graphql(SCHEDULE, json!({"i": input}), Some(token))
        .await);
    body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The ids of a connection's nodes, in order.
fn ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_string())
        .collect()
}

async fn list(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let body = ok(app.graphql(LIST, json!({"f": filter}), Some(token)).await);
    ids(&body["data"]["engagements"])
}

/// Two co-ops, two mentors, four engagements:
/// e1 (A, mentor 1, ACTIVE, next meeting in 3 days), e2 (A, mentor 1,
/// ACTIVE, next meeting tomorrow), e3 (B, mentor 1, PROPOSED), e4 (A,
/// mentor 2, ACTIVE, nothing booked).
struct Home {
    p: Programme,
    coop_a: String,
    member_a: String,
    member_b: String,
    mentor_1: String,
    mentor_1_token: String,
    mentor_2_token: String,
    e: [String; 4],
    meeting_e1: String,
    meeting_e2: String,
}

impl Home {
    async fn new(app: &TestApp) -> Self {
        let p = Programme::new(app).await;
        let (coop_a, member_a) = p.coop(app, "Anvil Bakers").await;
        let (coop_b, member_b) = p.coop(app, "Birch Housing").await;
        let (mentor_1, mentor_1_token, _) = p.provider(app, "MENTOR", "Morag First", 5, None).await;
        let (mentor_2, mentor_2_token, _) =
            p.provider(app, "MENTOR", "Niall Second", 5, None).await;
        let r1 = p.request(app, &coop_a, "MENTORING").await;
        let r2 = p.request(app, &coop_a, "MENTORING").await;
        let r3 = p.request(app, &coop_b, "MENTORING").await;
        let r4 = p.request(app, &coop_a, "MENTORING").await;
        let e1 = p.proposed(app, &r1, &mentor_1, 3).await;
        p.accept(app, &e1, &mentor_1_token).await;
        let e2 = p.proposed(app, &r2, &mentor_1, 3).await;
        p.accept(app, &e2, &mentor_1_token).await;
        let e3 = p.proposed(app, &r3, &mentor_1, 3).await;
        let e4 = p.proposed(app, &r4, &mentor_2, 4).await;
        p.accept(app, &e4, &mentor_2_token).await;
        let meeting_e1 = schedule(app, &mentor_1_token, &e1, 72, false).await;
        let meeting_e2 = schedule(app, &member_a, &e2, 24, false).await;
        Home {
            p,
            coop_a,
            member_a,
            member_b,
            mentor_1,
            mentor_1_token,
            mentor_2_token,
            e: [e1, e2, e3, e4],
            meeting_e1,
            meeting_e2,
        }
    }
}

on_both_databases!(
    each_role_lists_its_own_engagements_in_the_home_order,
    |app: TestApp| async move {
        let h = Home::new(&app).await;
        let [e1, e2, e3, e4] = h.e.clone();

        // Staff: all; active by next meeting (e2 tomorrow, e1 in three
        // days), then active with nothing booked (e4), then proposed (e3).
        assert_eq!(
            list(&app, &h.p.staff, Value::Null).await,
            vec![e2.clone(), e1.clone(), e4.clone(), e3.clone()]
        );
        // A mentor: their own only; a member: their co-op's only.
        assert_eq!(
            list(&app, &h.mentor_1_token, Value::Null).await,
            vec![e2.clone(), e1.clone(), e3.clone()]
        );
        assert_eq!(
            list(&app, &h.mentor_2_token, Value::Null).await,
            vec![e4.clone()]
        );
        assert_eq!(
            list(&app, &h.member_a, Value::Null).await,
            vec![e2.clone(), e1.clone(), e4.clone()]
        );
        assert_eq!(list(&app, &h.member_b, Value::Null).await, vec![e3.clone()]);

        // Filters, each on its own and under the viewer's rules.
        assert_eq!(
            list(&app, &h.p.staff, json!({"status": ["PROPOSED"]})).await,
            vec![e3.clone()]
        );
        assert_eq!(
            list(
                &app,
                &h.p.staff,
                json!({"status": ["ACTIVE", "PROPOSED"], "organisationId": h.coop_a})
            )
            .await,
            vec![e2.clone(), e1.clone(), e4.clone()]
        );
        assert_eq!(
            list(&app, &h.member_b, json!({"organisationId": h.coop_a})).await,
            Vec::<String>::new(),
            "a filter never widens what the viewer sees"
        );
        assert_eq!(
            list(&app, &h.member_a, json!({"providerId": h.mentor_1})).await,
            vec![e2.clone(), e1.clone()]
        );
        assert!(
            list(&app, &h.p.staff, json!({"kind": "ADVICE"}))
                .await
                .is_empty()
        );
        assert_eq!(
            list(&app, &h.p.staff, json!({"kind": "MENTORING"}))
                .await
                .len(),
            4
        );

        // Pages: two, then the rest after the cursor.
        let body = ok(app
            .graphql(LIST, json!({"first": 2}), Some(&h.p.staff))
            .await);
        let page = &body["data"]["engagements"];
        assert_eq!(ids(page), vec![e2.clone(), e1.clone()]);
        assert_eq!(page["totalCount"], 4);
        assert_eq!(page["pageInfo"]["hasNextPage"], true);
        let after = page["pageInfo"]["endCursor"].clone();
        let body = ok(app
            .graphql(LIST, json!({"first": 2, "after": after}), Some(&h.p.staff))
            .await);
        assert_eq!(
            ids(&body["data"]["engagements"]),
            vec![e4.clone(), e3.clone()]
        );
        assert_eq!(
            body["data"]["engagements"]["pageInfo"]["hasNextPage"],
            false
        );

        // Next and last meetings, and the days left.
        let body = ok(app.graphql(LIST, Value::Null, Some(&h.member_a)).await);
        let first = &body["data"]["engagements"]["edges"][0]["node"];
        assert_eq!(first["nextMeeting"]["id"], h.meeting_e2.as_str());
        assert_eq!(first["lastMeeting"], Value::Null);
        assert_eq!(first["daysRemaining"], 3.0);
        assert_eq!(
            body["data"]["engagements"]["edges"][2]["node"]["nextMeeting"],
            Value::Null
        );

        // The same lists hang off the provider and the co-op, under the
        // same rules: a member sees mentor 1's engagements with their co-op
        // only, mentor 2 sees only their own of co-op A's.
        let body = ok(app
            .graphql(
                "query($p: ID!, $o: ID!) {
                   provider(id: $p) { engagements { totalCount edges { node { id } } } }
                   organisation(id: $o) { engagements(status: [ACTIVE]) { edges { node { id } } } } }",
                json!({"p": h.mentor_1, "o": h.coop_a}),
                Some(&h.member_a),
            )
            .await);
        assert_eq!(
            ids(&body["data"]["provider"]["engagements"]),
            vec![e2.clone(), e1.clone()]
        );
        assert_eq!(
            ids(&body["data"]["organisation"]["engagements"]),
            vec![e2.clone(), e1.clone(), e4.clone()]
        );
        let body = ok(app
            .graphql(
                "query($o: ID!) { organisation(id: $o) { engagements { edges { node { id } } } } }",
                json!({"o": h.coop_a}),
                Some(&h.mentor_2_token),
            )
            .await);
        assert_eq!(
            ids(&body["data"]["organisation"]["engagements"]),
            vec![e4.clone()]
        );

        // Bad input and nobody signed in. An id of another type in the
        // filter is bad input, naming the field (the red team's finding 6).
        let (_, body) = app
            .graphql(
                LIST,
                json!({"f": {"providerId": h.coop_a}}),
                Some(&h.p.staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"],
            "filter.providerId"
        );
        let (_, body) = app
            .graphql(
                LIST,
                json!({"first": 2, "after": "bm90IGEgY3Vyc29y"}),
                Some(&h.p.staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        let (_, body) = app.graphql(LIST, Value::Null, None).await;
        assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        app.stop().await;
    }
);

const UPCOMING: &str =
    "{ me { upcomingMeetings { totalCount edges { node { id startsAt otherParty } } } } }";

on_both_databases!(
    upcoming_meetings_run_across_the_viewers_engagements,
    |app: TestApp| async move {
        let h = Home::new(&app).await;
        // Mentor 1: e2's tomorrow, then e1's, each naming the co-op.
        let body = ok(app
            .graphql(UPCOMING, Value::Null, Some(&h.mentor_1_token))
            .await);
        let upcoming = &body["data"]["me"]["upcomingMeetings"];
        assert_eq!(
            ids(upcoming),
            vec![h.meeting_e2.clone(), h.meeting_e1.clone()]
        );
        assert_eq!(upcoming["edges"][0]["node"]["otherParty"], "Anvil Bakers");
        // Co-op A's member: the same two, naming the mentor.
        let body = ok(app.graphql(UPCOMING, Value::Null, Some(&h.member_a)).await);
        let upcoming = &body["data"]["me"]["upcomingMeetings"];
        assert_eq!(
            ids(upcoming),
            vec![h.meeting_e2.clone(), h.meeting_e1.clone()]
        );
        assert_eq!(upcoming["edges"][1]["node"]["otherParty"], "Morag First");
        // Co-op B (a proposal only), mentor 2 (nothing booked), staff.
        for token in [&h.member_b, &h.mentor_2_token, &h.p.staff] {
            let body = ok(app.graphql(UPCOMING, Value::Null, Some(token)).await);
            assert_eq!(
                body["data"]["me"]["upcomingMeetings"]["totalCount"], 0,
                "{body}"
            );
        }
        // A meeting whose time has passed is no longer upcoming; a cancelled
        // one neither.
        move_meeting(&app, &h.meeting_e2, Utc::now() - Duration::hours(3)).await;
        ok(app
            .graphql(
                "mutation($m: ID!) { cancelMeeting(meetingId: $m) { status } }",
                json!({"m": h.meeting_e1}),
                Some(&h.member_a),
            )
            .await);
        let body = ok(app
            .graphql(UPCOMING, Value::Null, Some(&h.mentor_1_token))
            .await);
        assert_eq!(
            body["data"]["me"]["upcomingMeetings"]["totalCount"], 0,
            "{body}"
        );
        // Someone else's upcoming meetings: null with FORBIDDEN.
        let body = ok(app
            .graphql(
                "query($p: ID!) { provider(id: $p) { user { id } } }",
                json!({"p": h.mentor_1}),
                Some(&h.p.staff),
            )
            .await);
        let user = body["data"]["provider"]["user"]["id"].clone();
        let (_, body) = app
            .graphql(
                "query($u: ID!) { node(id: $u) { ... on User { name upcomingMeetings { totalCount } } } }",
                json!({"u": user}),
                Some(&h.member_a),
            )
            .await;
        assert_eq!(body["data"]["node"]["name"], "Morag First", "{body}");
        assert_eq!(
            body["data"]["node"]["upcomingMeetings"],
            Value::Null,
            "{body}"
        );
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        app.stop().await;
    }
);

const STAFF_ITEMS: &str = "{ actionItems {
  requestsWaitingForMatch { totalCount edges { node { summary waitingDays waitingSince subject { id } } } }
  unansweredProposals { totalCount edges { node { summary waitingDays subject { id } } } }
  engagementsWithoutMeeting { totalCount edges { node { summary subject { id } } } }
  finalMeetingsWithoutReviews { totalCount edges { node { summary subject { id } } } }
  openConcerns { totalCount }
  surveyResponseRates { totalCount edges { node { summary subject { id } } } }
  bouncingAddresses { totalCount }
  undeliveredEmails { totalCount } } }";

const MY_ITEMS: &str = "{ actionItems {
  proposalsAwaitingAnswer { totalCount edges { node { summary subject { id } } } }
  meetingsToRecord { totalCount edges { node { summary waitingSince subject { id } } } }
  reviewsToGive { totalCount edges { node { summary subject { id } } } }
  surveysToAnswer { totalCount edges { node { summary subject { id } } } } } }";

/// The subjects' ids of a section.
fn subjects(section: &Value) -> Vec<String> {
    section["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {section}"))
        .iter()
        .map(|edge| edge["node"]["subject"]["id"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases!(
    action_items_show_what_waits_on_each_role,
    |app: TestApp| async move {
        let h = Home::new(&app).await;
        let [e1, e2, e3, e4] = h.e.clone();
        // A request nobody has been proposed for, and e3's proposal four
        // days old.
        let (coop_c, _) = h.p.coop(&app, "Cedar Printers").await;
        let waiting = h.p.request(&app, &coop_c, "ADVICE").await;
        entity::engagements::Entity::update_many()
            .col_expr(
                entity::engagements::Column::ProposedAt,
                sea_orm::sea_query::Expr::value(Utc::now() - Duration::days(4)),
            )
            .filter(entity::engagements::Column::Id.eq(decode(&e3)))
            .exec(&app.db)
            .await
            .unwrap();
        // e2 ends: its final meeting held yesterday, so reviews are asked.
        let last = schedule(&app, &h.mentor_1_token, &e2, 48, true).await;
        move_meeting(&app, &last, Utc::now() - Duration::days(1)).await;
        move_meeting(&app, &h.meeting_e2, Utc::now() - Duration::days(2)).await;
        for meeting in [&h.meeting_e2, &last] {
            ok(app
                .graphql(
                    RECORD,
                    json!({"i": {"meetingId": meeting, "held": true, "daysCounted": 1.0}}),
                    Some(&h.mentor_1_token),
                )
                .await);
        }
        // e1's meeting is over and not recorded.
        move_meeting(&app, &h.meeting_e1, Utc::now() - Duration::hours(5)).await;
        // A survey out to every trading co-op.
        let census_input = crate::support::census::survey_input("Needs census", &h.p.topics);
        let body = ok(app
            .graphql(
                "mutation($i: SurveyInput!) { createSurvey(input: $i) { id } }",
                json!({"i": census_input}),
                Some(&h.p.staff),
            )
            .await);
        let survey = body["data"]["createSurvey"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(app
            .graphql(
                "mutation($s: ID!, $c: DateTime!) { launchSurvey(surveyId: $s, audience: {stages: [TRADING]}, closesAt: $c) { status } }",
                json!({"s": survey, "c": (Utc::now() + Duration::days(30)).to_rfc3339()}),
                Some(&h.p.staff),
            )
            .await);

        // The worker writes the survey's invitations (one transaction for
        // all three co-ops); wait for them, so the screen and the email below
        // read the same programme.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let body = ok(app.graphql(MY_ITEMS, Value::Null, Some(&h.member_a)).await);
            if body["data"]["actionItems"]["surveysToAnswer"]["totalCount"] == 1 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no invitation: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }

        // Staff see the digest's sections, live.
        let body = ok(app
            .graphql(STAFF_ITEMS, Value::Null, Some(&h.p.staff))
            .await);
        let items = &body["data"]["actionItems"];
        assert_eq!(
            subjects(&items["requestsWaitingForMatch"]),
            vec![waiting.clone()]
        );
        assert_eq!(subjects(&items["unansweredProposals"]), vec![e3.clone()]);
        assert_eq!(
            items["unansweredProposals"]["edges"][0]["node"]["waitingDays"],
            4
        );
        // e1's meeting is past and e4 never had one; e2 is completed.
        assert_eq!(
            subjects(&items["engagementsWithoutMeeting"]),
            vec![e1.clone(), e4.clone()]
        );
        assert_eq!(
            subjects(&items["finalMeetingsWithoutReviews"]),
            vec![e2.clone()]
        );
        assert_eq!(
            subjects(&items["surveyResponseRates"]),
            vec![survey.clone()]
        );
        assert_eq!(items["openConcerns"]["totalCount"], 0);

        // One source of truth: the digest email's lines are these summaries.
        let now = Utc::now();
        let snapshot = hive_worker::jobs::staff_digest::load(&app.db, now)
            .await
            .unwrap();
        let digest = hive_worker::jobs::staff_digest::compose(
            &snapshot,
            now,
            &hive_worker::links::Links::graphiql("http://hive.test"),
        );
        for (section, field) in [
            ("Requests waiting for a match", "requestsWaitingForMatch"),
            (
                "Proposals unanswered for over 3 days",
                "unansweredProposals",
            ),
            (
                "Engagements with no meeting booked",
                "engagementsWithoutMeeting",
            ),
            (
                "Final meetings passed without reviews",
                "finalMeetingsWithoutReviews",
            ),
            ("Survey response rates", "surveyResponseRates"),
        ] {
            let in_email: Vec<&str> = digest
                .sections
                .iter()
                .find(|s| s.title == section)
                .unwrap_or_else(|| panic!("no {section} in {digest:#?}"))
                .entries
                .iter()
                .map(|entry| entry.text.as_str())
                .collect();
            let on_screen: Vec<&str> = items[field]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|edge| edge["node"]["summary"].as_str().unwrap())
                .collect();
            assert_eq!(in_email, on_screen, "{section}");
        }

        // Mentor 1: e3 to answer, e1's meeting to record, e2 to review.
        let body = ok(app
            .graphql(MY_ITEMS, Value::Null, Some(&h.mentor_1_token))
            .await);
        let items = &body["data"]["actionItems"];
        assert_eq!(
            subjects(&items["proposalsAwaitingAnswer"]),
            vec![e3.clone()]
        );
        assert_eq!(
            subjects(&items["meetingsToRecord"]),
            vec![h.meeting_e1.clone()]
        );
        assert_eq!(subjects(&items["reviewsToGive"]), vec![e2.clone()]);
        assert_eq!(items["surveysToAnswer"]["totalCount"], 0);
        // Co-op A's member: e2 to review and the survey; nothing to record.
        let body = ok(app.graphql(MY_ITEMS, Value::Null, Some(&h.member_a)).await);
        let items = &body["data"]["actionItems"];
        assert_eq!(subjects(&items["reviewsToGive"]), vec![e2.clone()]);
        assert_eq!(items["meetingsToRecord"]["totalCount"], 0);
        assert_eq!(items["proposalsAwaitingAnswer"]["totalCount"], 0);
        assert_eq!(items["surveysToAnswer"]["totalCount"], 1);
        let survey_line = items["surveysToAnswer"]["edges"][0]["node"]["summary"]
            .as_str()
            .unwrap();
        assert!(survey_line.contains("Needs census"), "{survey_line}");
        // No subject, and no error: the member answers from the emailed link.
        assert_eq!(
            items["surveysToAnswer"]["edges"][0]["node"]["subject"],
            Value::Null
        );
        assert!(body.get("errors").is_none(), "{body}");
        // Mentor 2 has nothing waiting.
        let body = ok(app
            .graphql(MY_ITEMS, Value::Null, Some(&h.mentor_2_token))
            .await);
        for field in [
            "proposalsAwaitingAnswer",
            "meetingsToRecord",
            "reviewsToGive",
            "surveysToAnswer",
        ] {
            assert_eq!(
                body["data"]["actionItems"][field]["totalCount"], 0,
                "{field}"
            );
        }

        // Once given, a review leaves that party's list only.
        ok(app
            .graphql(
                "mutation($e: ID!) { submitReview(engagementId: $e, input: {usefulness: 5, relationship: 5, wouldRecommend: 5}) { id } }",
                json!({"e": e2}),
                Some(&h.mentor_1_token),
            )
            .await);
        let body = ok(app
            .graphql(MY_ITEMS, Value::Null, Some(&h.mentor_1_token))
            .await);
        assert_eq!(
            body["data"]["actionItems"]["reviewsToGive"]["totalCount"],
            0
        );
        let body = ok(app.graphql(MY_ITEMS, Value::Null, Some(&h.member_a)).await);
        assert_eq!(
            body["data"]["actionItems"]["reviewsToGive"]["totalCount"],
            1
        );

        // Staff's sections are staff's: null with FORBIDDEN for others.
        let (_, body) = app
            .graphql(
                "{ actionItems { openConcerns { totalCount } } }",
                Value::Null,
                Some(&h.member_a),
            )
            .await;
        assert_eq!(
            body["data"]["actionItems"]["openConcerns"],
            Value::Null,
            "{body}"
        );
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        let _ = e1;
        app.stop().await;
    }
);
