//! Home screens, action items and calendar feeds under what a red team
//! tried (issue 20): each test is a defect found trying the issue as an SPA
//! developer, a co-op's member and a calendar application would, and failed
//! before its fix (findings kept in the note).

use chrono::{Duration, Utc};
use entity::users::Role;
use serde_json::{Value, json};

use crate::{
    on_both_databases,
    support::{
        Backend, TestApp, first_error_code,
        programme::{Programme, decode, ok},
    },
};

const SCHEDULE: &str = "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }";

const PAGE: &str = "query($first: Int, $after: String) {
  engagements(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status } } } }";

async fn schedule(app: &TestApp, token: &str, engagement: &str, hours: i64) -> String {
    let input = json!({"engagementId": engagement,
        "startsAt": (Utc::now() + Duration::hours(hours)).to_rfc3339(),
        "durationMinutes": 60, "format": "VIDEO"});
    let body = ok(app
        .graphql(SCHEDULE, json!({"i": input}), Some(token))
        .await);
    body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases!(
    // A cursor names an engagement and the next page starts after wherever
    // that engagement stands *now*. When the cursor's own engagement moves
    // in the home order between two pages (its next meeting cancelled, or
    // simply started), the engagements it jumps over are never listed: the
    // SPA's "load more" silently loses them while totalCount still counts
    // them. A cursor holding the sort key (group, time, id) would continue
    // where the page ended.
    paging_forward_never_skips_an_engagement_when_the_cursor_one_moves,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Rowan Bakers").await;
        let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Ada Cursor", 5, None).await;
        let mut e = Vec::new();
        for _ in 0..4 {
            let request = p.request(&app, &coop, "MENTORING").await;
            e.push(p.proposed(&app, &request, &mentor, 3).await);
        }
        for engagement in &e[..3] {
            p.accept(&app, engagement, &mentor_token).await;
        }
        // e0 meets tomorrow, e1 in three days, e2 has nothing booked, e3 is
        // proposed: the home order is e0, e1, e2, e3.
        let m0 = schedule(&app, &mentor_token, &e[0], 24).await;
        schedule(&app, &mentor_token, &e[1], 72).await;
        let body = ok(app
            .graphql(PAGE, json!({"first": 10}), Some(&p.staff))
            .await);
        assert_eq!(ids(&body["data"]["engagements"]), e, "the home order");

        // The SPA shows the first page: e0.
        let body = ok(app.graphql(PAGE, json!({"first": 1}), Some(&p.staff)).await);
        let first = &body["data"]["engagements"];
        let mut seen = ids(first);
        assert_eq!(seen, vec![e[0].clone()]);
        // e0's meeting is called off: e0 now has nothing booked.
        ok(app
            .graphql(
                "mutation($m: ID!) { cancelMeeting(meetingId: $m) { status } }",
                json!({"m": m0}),
                Some(&mentor_token),
            )
            .await);
        // "Load more" until the end.
        let mut after = first["pageInfo"]["endCursor"].clone();
        let mut pages = 0;
        loop {
            let body = ok(app
                .graphql(PAGE, json!({"first": 1, "after": after}), Some(&p.staff))
                .await);
            let page = &body["data"]["engagements"];
            seen.extend(ids(page));
            if page["pageInfo"]["hasNextPage"] != true || pages > 10 {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
            pages += 1;
        }
        for engagement in &e {
            assert!(
                seen.contains(engagement),
                "{engagement} never listed while paging forward (seen {seen:?}, list {e:?})"
            );
        }
        app.stop().await;
    }
);

on_both_databases!(
    // The home order puts "the rest" most recently finished first, but an
    // EXPIRED engagement has no responded_at, ended_at or completed_at, so
    // it sorts by when it was *proposed*: one that lapsed a moment ago (its
    // request withdrawn) comes after one declined before it.
    an_engagement_that_lapsed_last_comes_first_among_the_finished,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Linden Housing").await;
        let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Bo Lapse", 5, None).await;
        let r1 = p.request(&app, &coop, "MENTORING").await;
        let r2 = p.request(&app, &coop, "MENTORING").await;
        let lapsing = p.proposed(&app, &r1, &mentor, 3).await;
        let declined = p.proposed(&app, &r2, &mentor, 3).await;
        ok(app
            .graphql(
                "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: false, reason: \"Too busy\") { status } }",
                json!({"e": declined}),
                Some(&mentor_token),
            )
            .await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // Withdrawing the first request lets its proposal lapse, now: it is
        // the most recently finished.
        ok(app
            .graphql(
                "mutation($id: ID!) { withdrawSupportRequest(id: $id) { status } }",
                json!({"id": r1}),
                Some(&p.staff),
            )
            .await);
        let body = ok(app
            .graphql(
                "{ engagements(filter: {status: [DECLINED, EXPIRED]}) { edges { node { id status } } } }",
                Value::Null,
                Some(&p.staff),
            )
            .await);
        assert_eq!(
            ids(&body["data"]["engagements"]),
            vec![lapsing, declined],
            "most recently finished first: {body}"
        );
        app.stop().await;
    }
);

on_both_databases!(
    // `User.email` is for the person themself and staff: a member reading a
    // co-op colleague's email gets FORBIDDEN. But the summary of
    // `actionItems.surveysToAnswer` quotes the invitation's recipients, so
    // every member reads every colleague's address there.
    a_survey_to_answer_does_not_show_a_colleagues_address,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member_a) = p.coop(&app, "Hazel Printers").await;
        let (colleague, _) = hive_api::admin::create_user(
            &app.db,
            "private.colleague@hazel.coop",
            "Pat Colleague",
            Role::Member,
            Some(decode(&coop)),
            chrono::Duration::days(1),
        )
        .await
        .unwrap();
        // The colleague's address is not for member A.
        let body = app
            .graphql(
                "{ me { organisation { membersConnection { edges { node { name email } } } } } }",
                Value::Null,
                Some(&member_a),
            )
            .await
            .1;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        assert!(!body.to_string().contains(&colleague.email), "{body}");

        let census = json!({"title": "Needs census", "questions": [{"kind": "TEXT", "prompt": "What do you need?"}]});
        let body = ok(app
            .graphql(
                "mutation($i: SurveyInput!) { createSurvey(input: $i) { id } }",
                json!({"i": census}),
                Some(&p.staff),
            )
            .await);
        let survey = body["data"]["createSurvey"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(app
            .graphql(
                "mutation($s: ID!, $c: DateTime!) { launchSurvey(surveyId: $s, closesAt: $c) { status } }",
                json!({"s": survey, "c": (Utc::now() + Duration::days(30)).to_rfc3339()}),
                Some(&p.staff),
            )
            .await);
        let query = "{ actionItems { surveysToAnswer { totalCount edges { node { summary } } } } }";
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        let summary = loop {
            let body = app.graphql(query, Value::Null, Some(&member_a)).await.1;
            let section = &body["data"]["actionItems"]["surveysToAnswer"];
            if section["totalCount"] == 1 {
                break section["edges"][0]["node"]["summary"]
                    .as_str()
                    .unwrap()
                    .to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no invitation: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert!(
            !summary.contains(&colleague.email),
            "member A reads their colleague's address in {summary:?}"
        );
        app.stop().await;
    }
);

on_both_databases!(
    // RFC 5545 §3.6: `icalbody = calprops component` with `component =
    // 1*(eventc / todoc / journalc / freebusyc / timezonec / iana-comp /
    // x-comp)`: an iCalendar object holds at least one component. The feed
    // of anyone with no meeting yet (staff always; a new mentor at the
    // moment they subscribe) is a VCALENDAR with none.
    a_feed_with_no_meetings_is_still_a_valid_icalendar_object,
    |app: TestApp| async move {
        let (_, staff) = app.user(Role::Staff, "staff@hive.test").await;
        let body = ok(app
            .graphql("mutation { resetCalendarFeed }", Value::Null, Some(&staff))
            .await);
        let url = body["data"]["resetCalendarFeed"]
            .as_str()
            .unwrap()
            .to_string();
        let response = app.http.get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let ics = response.text().await.unwrap();
        let components = ics
            .split("\r\n")
            .filter(|line| line.starts_with("BEGIN:") && *line != "BEGIN:VCALENDAR")
            .count();
        assert!(
            components >= 1,
            "a VCALENDAR without any component (RFC 5545 §3.6 asks for 1*component):\n{ics}"
        );
        app.stop().await;
    }
);

on_both_databases!(
    // `EngagementFilterInput::read` says an id of another type is
    // BAD_USER_INPUT; it is NOT_FOUND, without naming the field, and since
    // `engagements` is non-null the whole home screen's `data` is null.
    a_filter_id_of_another_type_is_bad_user_input_naming_the_field,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Maple Energy").await;
        let body = app
            .graphql(
                "query($f: EngagementFilterInput) { me { name } engagements(filter: $f) { totalCount } }",
                json!({"f": {"providerId": coop}}),
                Some(&p.staff),
            )
            .await
            .1;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert!(
            body["errors"][0]["extensions"]["field"]
                .as_str()
                .is_some_and(|field| field.ends_with("providerId")),
            "the error names the filter's field: {body}"
        );
        app.stop().await;
    }
);

/// Each `actionItems` (an alias each) reads the whole programme again (the
/// digest's snapshot: every open request, every PROPOSED/ACTIVE/COMPLETED
/// engagement, the meetings, reviews, surveys, bounces and dead emails),
/// while the cost guard counts each alias as a few fields: 30 aliases of a
/// one-item page cost 30 full reads. (On a 5,000-engagement programme in a
/// debug build, one staff request of 30 aliases ran 27 s; three at once hit
/// the 30 s timeout and held a member's one-line query for 15 s.)
async fn action_items_aliases_share_one_snapshot(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let p = Programme::new(&app).await;
    let (coop, _) = p.coop(&app, "Aspen Grocers").await;
    p.request(&app, &coop, "MENTORING").await;
    let one = "{ actionItems { requestsWaitingForMatch(first: 1) { totalCount } } }";
    let many = format!(
        "{{ {} }}",
        (0..20)
            .map(|i| format!(
                "a{i}: actionItems {{ requestsWaitingForMatch(first: 1) {{ totalCount }} }}"
            ))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (single, body) = app.statements_for(one, Value::Null, Some(&p.staff)).await;
    ok((200, body));
    let (twenty, body) = app.statements_for(&many, Value::Null, Some(&p.staff)).await;
    let body = ok((200, body));
    assert_eq!(
        body["data"]["a19"]["requestsWaitingForMatch"]["totalCount"],
        1
    );
    assert!(
        twenty <= single + 5,
        "one actionItems ran {single} statements, twenty aliases ran {twenty}: each alias reads the whole programme again"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_items_aliases_share_one_snapshot_sqlite() {
    action_items_aliases_share_one_snapshot(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_items_aliases_share_one_snapshot_postgres() {
    action_items_aliases_share_one_snapshot(Backend::Postgres).await;
}
