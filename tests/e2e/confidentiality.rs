//! The confidentiality matrix: each confidential field × each kind of viewer,
//! the value or FORBIDDEN (UNAUTHENTICATED for nobody signed in), on both
//! databases.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, ok},
};

/// What a viewer should get for a field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Shown,
    Forbidden,
    Unauthenticated,
    /// Not in the viewer's list at all (concerns are listed per viewer).
    Absent,
}

/// `value` if it is there; otherwise the code of the error whose path ends
/// at `field`, or of the first error (the whole object was refused).
fn outcome(body: &Value, value: &Value, field: &str) -> Result<Value, String> {
    if !value.is_null() {
        return Ok(value.clone());
    }
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    let code = errors
        .iter()
        .find(|e| {
            e["path"]
                .as_array()
                .is_some_and(|p| p.last().and_then(Value::as_str) == Some(field))
        })
        .or_else(|| errors.first())
        .and_then(|e| e["extensions"]["code"].as_str())
        .unwrap_or("NULL");
    Err(code.to_string())
}

/// A refused field is in `data` as `null` beside the fields the viewer may
/// read; its refusal does not blank its parent.
fn nulls_in_place(viewer: &str, body: &Value) {
    let misplaced = crate::support::errors_not_on_null_fields(body);
    assert!(
        misplaced.is_empty(),
        "{viewer}: errors at {misplaced:?} have no null of their own in data: {body}"
    );
}

fn check(viewer: &str, field: &str, expect: Expect, got: Result<Value, String>, value: &str) {
    match (expect, got) {
        (Expect::Shown, Ok(v)) => assert_eq!(v, value, "{viewer} reading {field}"),
        (Expect::Forbidden, Err(code)) => assert_eq!(code, "FORBIDDEN", "{viewer} reading {field}"),
        (Expect::Unauthenticated, Err(code)) => {
            assert_eq!(code, "UNAUTHENTICATED", "{viewer} reading {field}")
        }
        (expect, got) => panic!("{viewer} reading {field}: expected {expect:?}, got {got:?}"),
    }
}

/// Sets up an ACTIVE engagement with a held meeting (notes and learning) and
/// a concern raised by the co-op's member, then reads every field as every
/// viewer.
async fn the_matrix(app: TestApp) {
    let p = Programme::new(&app).await;
    let (coop, member) = p.coop(&app, "Wye Housing").await;
    let (_, other_member) = p.coop(&app, "Ouse Bakers").await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Engaged Mentor", 2, None).await;
    let (_, other_provider, _) = p.provider(&app, "MENTOR", "Other Mentor", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let engagement = p.proposed(&app, &request, &mentor, 3).await;
    p.accept(&app, &engagement, &mentor_token).await;
    let slot = json!({"engagementId": engagement, "startsAt": (Utc::now() + Duration::hours(5)).to_rfc3339(), "durationMinutes": 60, "format": "PHONE"});
    let body = ok(app
        .graphql(
            "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
            json!({"i": slot}),
            Some(&member),
        )
        .await);
    let meeting = body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    crate::support::programme::move_meeting(&app, &meeting, Utc::now() - Duration::hours(2)).await;
    ok(app
        .graphql(
            "mutation($m: ID!) { recordMeeting(input: {meetingId: $m, held: true, daysCounted: 1, notes: \"private notes\", learning: \"programme learning\"}) { status } }",
            json!({"m": meeting}),
            Some(&mentor_token),
        )
        .await);
    ok(app
        .graphql(
            "mutation($e: ID!) { raiseConcern(engagementId: $e, category: OTHER, details: \"concern details\") { id } }",
            json!({"e": engagement}),
            Some(&member),
        )
        .await);

    let viewers: [(&str, Option<&str>); 6] = [
        ("staff", Some(&p.staff)),
        ("the engagement's provider", Some(&mentor_token)),
        ("another provider", Some(&other_provider)),
        ("a member of the client co-op", Some(&member)),
        ("a member of another co-op", Some(&other_member)),
        ("nobody signed in", None),
    ];
    use Expect::{Absent, Forbidden, Shown, Unauthenticated};
    // Columns: meeting notes, learning, contact phone, financial details, concern details.
    let expected = [
        [Forbidden, Shown, Shown, Shown, Shown],
        [Shown, Shown, Shown, Forbidden, Absent],
        [Forbidden, Forbidden, Forbidden, Forbidden, Absent],
        [Shown, Forbidden, Shown, Shown, Shown],
        [Forbidden, Forbidden, Forbidden, Forbidden, Absent],
        [
            Unauthenticated,
            Unauthenticated,
            Unauthenticated,
            Unauthenticated,
            Unauthenticated,
        ],
    ];
    for ((viewer, token), row) in viewers.iter().zip(expected) {
        let (_, body) = app
            .graphql(
                "query($e: ID!) { engagement(id: $e) { meetings { notes learning } } }",
                json!({"e": engagement}),
                *token,
            )
            .await;
        nulls_in_place(viewer, &body);
        let held = &body["data"]["engagement"]["meetings"][0];
        check(
            viewer,
            "meeting notes",
            row[0],
            outcome(&body, &held["notes"], "notes"),
            "private notes",
        );
        check(
            viewer,
            "learning",
            row[1],
            outcome(&body, &held["learning"], "learning"),
            "programme learning",
        );

        let (_, body) = app
            .graphql(
                "query($o: ID!) { organisation(id: $o) { contactPhone financialDetails } }",
                json!({"o": coop}),
                *token,
            )
            .await;
        nulls_in_place(viewer, &body);
        let organisation = &body["data"]["organisation"];
        check(
            viewer,
            "contact phone",
            row[2],
            outcome(&body, &organisation["contactPhone"], "contactPhone"),
            "0161 496 0123",
        );
        check(
            viewer,
            "financial details",
            row[3],
            outcome(&body, &organisation["financialDetails"], "financialDetails"),
            "Reserves £40k",
        );

        let (_, body) = app
            .graphql("{ concerns { details } }", json!({}), *token)
            .await;
        match row[4] {
            Absent => assert_eq!(
                body["data"]["concerns"],
                json!([]),
                "{viewer} lists no concern"
            ),
            Unauthenticated => assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED")),
            _ => assert_eq!(
                body["data"]["concerns"][0]["details"], "concern details",
                "{viewer}: {body}"
            ),
        }
    }
    app.stop().await;
}

on_both_databases!(each_confidential_field_for_each_viewer, the_matrix);

on_both_databases!(
    a_provider_sees_only_their_own_engagements,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Twice Matched").await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let (first, first_token, _) = p.provider(&app, "MENTOR", "First Mentor", 2, None).await;
        let (second, second_token, _) = p.provider(&app, "MENTOR", "Second Mentor", 2, None).await;
        let declined = p.proposed(&app, &request, &first, 3).await;
        ok(app
            .graphql(
                "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: false, reason: \"Busy\") { status } }",
                json!({"e": declined}),
                Some(&first_token),
            )
            .await);
        let matched = p.proposed(&app, &request, &second, 3).await;
        p.accept(&app, &matched, &second_token).await;

        // The provider who declined keeps the request's public part and their
        // own declined engagement, and nothing of the other's.
        const READ: &str = "query($e: ID!) { engagement(id: $e) { id groundRules feePence } }";
        const NODE: &str = "query($e: ID!) { node(id: $e) { id ... on Engagement { feePence } } }";
        for query in [READ, NODE] {
            let (_, body) = app
                .graphql(query, json!({"e": matched}), Some(&first_token))
                .await;
            assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
            let (_, body) = app
                .graphql(query, json!({"e": matched}), Some(&second_token))
                .await;
            assert!(
                body["errors"].is_null(),
                "its own provider reads it: {body}"
            );
            let (_, body) = app
                .graphql(query, json!({"e": matched}), Some(&member))
                .await;
            assert!(body["errors"].is_null(), "the co-op reads it: {body}");
        }
        let body = ok(app
            .graphql(
                "query($r: ID!) { supportRequest(id: $r) { status goals engagements { id status } } }",
                json!({"r": request}),
                Some(&first_token),
            )
            .await);
        assert_eq!(body["data"]["supportRequest"]["status"], "MATCHED");
        assert_eq!(
            body["data"]["supportRequest"]["engagements"],
            json!([{"id": declined, "status": "DECLINED"}])
        );
        let body = ok(app
            .graphql(
                "query($r: ID!) { supportRequest(id: $r) { engagements { id } } }",
                json!({"r": request}),
                Some(&member),
            )
            .await);
        assert_eq!(
            body["data"]["supportRequest"]["engagements"]
                .as_array()
                .unwrap()
                .len(),
            2,
            "the co-op sees both"
        );

        // No held meetings yet: no days used, and not "-0".
        let (_, body) = app
            .graphql(
                "query($e: ID!) { engagement(id: $e) { daysUsed } }",
                json!({"e": matched}),
                Some(&member),
            )
            .await;
        assert_eq!(body["data"]["engagement"]["daysUsed"], json!(0.0));
        assert!(!body.to_string().contains("-0"), "{body}");

        // Nothing of the programme without signing in, by any path.
        for (query, id) in [
            ("query($i: ID!) { node(id: $i) { id } }", &second),
            ("query($i: ID!) { provider(id: $i) { id } }", &second),
            ("query($i: ID!) { node(id: $i) { id } }", &matched),
            ("query($i: ID!) { node(id: $i) { id } }", &p.topics[0]),
        ] {
            let (_, body) = app.graphql(query, json!({"i": id}), None).await;
            assert_eq!(
                first_error_code(&body),
                Some("UNAUTHENTICATED"),
                "{query}: {body}"
            );
        }
        app.stop().await;
    }
);

const TRACES: &str = "query($a: String!) { auditLog(filter: {action: $a}, first: 50) { totalCount edges { node { action subjectType actor { email } subject { id } } } } }";

/// The audit entries of `action`, as staff see them.
async fn traces(app: &TestApp, staff: &str, action: &str) -> Value {
    ok(app.graphql(TRACES, json!({"a": action}), Some(staff)).await)["data"]["auditLog"].clone()
}

on_both_databases!(
    staff_reads_of_confidential_fields_leave_a_trace,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Tees Printers").await;
        let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Trace Mentor", 2, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &mentor, 3).await;
        p.accept(&app, &engagement, &mentor_token).await;
        let body = ok(app
            .graphql(
                "mutation($e: ID!) { raiseConcern(engagementId: $e, category: OTHER, details: \"concern details\") { id } }",
                json!({"e": engagement}),
                Some(&member),
            )
            .await);
        let concern = body["data"]["raiseConcern"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // Before anyone reads them: no trace.
        assert_eq!(
            traces(&app, &p.staff, "readFinancialDetails").await["totalCount"],
            0
        );

        // Staff read the figures twice in one request (one trace) and again
        // in another (a second); the value itself is given.
        for _ in 0..2 {
            let body = ok(app
                .graphql(
                    "query($id: ID!) { a: organisation(id: $id) { financialDetails } b: organisation(id: $id) { financialDetails name } }",
                    json!({"id": coop}),
                    Some(&p.staff),
                )
                .await);
            assert_eq!(body["data"]["a"]["financialDetails"], "Reserves £40k");
        }
        // The co-op's own member reading them leaves none.
        ok(app
            .graphql(
                "query($id: ID!) { organisation(id: $id) { financialDetails } }",
                json!({"id": coop}),
                Some(&member),
            )
            .await);
        // Nor does a read of the co-op that does not ask for them.
        ok(app
            .graphql(
                "query($id: ID!) { organisation(id: $id) { name contactPhone } }",
                json!({"id": coop}),
                Some(&p.staff),
            )
            .await);
        let read = traces(&app, &p.staff, "readFinancialDetails").await;
        assert_eq!(read["totalCount"], 2, "{read}");
        for edge in read["edges"].as_array().unwrap() {
            assert_eq!(edge["node"]["actor"]["email"], "staff@hive.test");
            assert_eq!(edge["node"]["subject"]["id"], coop.as_str());
        }
        assert!(
            !read.to_string().contains("Reserves"),
            "the trace holds who and when, never the value"
        );

        // A concern's details: staff's read is traced, the raiser's is not.
        let concern_query = "query($id: ID!) { node(id: $id) { ... on Concern { details } } }";
        for token in [&member, &p.staff] {
            let body = ok(app
                .graphql(concern_query, json!({"id": concern}), Some(token))
                .await);
            assert_eq!(body["data"]["node"]["details"], "concern details");
        }
        let read = traces(&app, &p.staff, "readConcernDetails").await;
        assert_eq!(read["totalCount"], 1, "{read}");
        assert_eq!(read["edges"][0]["node"]["subjectType"], "Concern");
        assert_eq!(read["edges"][0]["node"]["subject"]["id"], concern.as_str());
        app.stop().await;
    }
);

on_both_databases!(
    only_the_co_ops_given_are_traced,
    |app: TestApp| async move {
        // A page's objects load their relations together, filtered-out ones
        // included (a mentor's engagements of every status); the trace must
        // still name only the co-ops whose figures the answer holds.
        let p = Programme::new(&app).await;
        let (mentor, mentor_token, _) = p
            .provider(&app, "MENTOR", "Two Co-ops Mentor", 4, None)
            .await;
        let (active_coop, _) = p.coop(&app, "Working Co-op").await;
        let (proposed_coop, _) = p.coop(&app, "Waiting Co-op").await;
        let request = p.request(&app, &active_coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &mentor, 3).await;
        p.accept(&app, &engagement, &mentor_token).await;
        let request = p.request(&app, &proposed_coop, "MENTORING").await;
        p.proposed(&app, &request, &mentor, 3).await;
        let body = ok(app
            .graphql(
                "{ mentors(first: 5) { edges { node { engagements(status: [ACTIVE]) { edges { node {
                   supportRequest { organisation { id financialDetails } } } } } } } } }",
                json!({}),
                Some(&p.staff),
            )
            .await);
        let shown = &body["data"]["mentors"]["edges"][0]["node"]["engagements"]["edges"];
        assert_eq!(shown.as_array().unwrap().len(), 1, "{body}");
        assert_eq!(
            shown[0]["node"]["supportRequest"]["organisation"]["id"],
            active_coop.as_str()
        );
        let read = traces(&app, &p.staff, "readFinancialDetails").await;
        assert_eq!(read["totalCount"], 1, "{read}");
        assert_eq!(
            read["edges"][0]["node"]["subject"]["id"],
            active_coop.as_str()
        );
        app.stop().await;
    }
);
