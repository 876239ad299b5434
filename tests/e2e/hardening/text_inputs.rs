//! Text that storage cannot hold: NUL and other control characters, line
//! breaks in one-line fields, values longer than their field and lists longer
//! than any form, refused the same on SQLite and PostgreSQL (which used to
//! answer INTERNAL where SQLite stored them), naming the field, storing
//! nothing. The pages' forms go through the same check.

use entity::organisations;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, ok},
};

const CREATE_COOP: &str =
    "mutation($i: CreateOrganisationInput!) { createOrganisation(input: $i) { id name } }";
const CREATE_TOPIC: &str = "mutation($n: String!) { createTopic(name: $n) { id name } }";
const REQUEST: &str =
    "mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id goals } }";

fn refused_naming(body: &Value, field: &str, says: &str) {
    assert_eq!(first_error_code(body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(says), "{says:?} in {message:?}");
    assert!(body["data"].is_null(), "nothing ran: {body}");
}

on_both_databases!(
    control_characters_are_refused_alike,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let coops = || organisations::Entity::find().count(&app.db);
        let before = coops().await.unwrap();

        // NUL in a variable, in an input object field.
        let input = json!({"name": "Nul\u{0}Co-op", "stage": "TRADING", "region": "North West"});
        let (_, body) = app
            .graphql(CREATE_COOP, json!({"i": input}), Some(&p.staff))
            .await;
        refused_naming(&body, "name", "control character (U+0000)");
        // The same, written into the document itself.
        let (_, body) = app
            .graphql(
                r#"mutation { createOrganisation(input: {name: "Bell\u0007 Co-op", stage: TRADING, region: "North West"}) { id } }"#,
                json!({}),
                Some(&p.staff),
            )
            .await;
        refused_naming(&body, "name", "U+0007");
        // Another field of the input: an escape sequence for a terminal.
        let input = json!({"name": "Fine Co-op", "stage": "TRADING", "region": "North West", "contactPhone": "0161\u{1b}[2J"});
        let (_, body) = app
            .graphql(CREATE_COOP, json!({"i": input}), Some(&p.staff))
            .await;
        refused_naming(&body, "contactPhone", "control character");
        assert_eq!(coops().await.unwrap(), before, "nothing stored");

        // A one-line field takes no line break; paragraphs take line feeds
        // and tabs but still no NUL.
        let (_, body) = app
            .graphql(CREATE_TOPIC, json!({"n": "Gover\nnance"}), Some(&p.staff))
            .await;
        refused_naming(&body, "name", "single line");
        let (coop, _) = p.coop(&app, "Paragraph Co-op").await;
        let goals = |goals: &str| json!({"i": {"organisationId": coop, "kind": "MENTORING", "topicIds": [p.topics[0]], "goals": goals}});
        let body = ok(app
            .graphql(
                REQUEST,
                goals("First line.\nSecond,\tindented."),
                Some(&p.staff),
            )
            .await);
        assert_eq!(
            body["data"]["submitSupportRequest"]["goals"],
            "First line.\nSecond,\tindented."
        );
        let (_, body) = app
            .graphql(REQUEST, goals("Grow\u{0}"), Some(&p.staff))
            .await;
        refused_naming(&body, "goals", "U+0000");

        // Still serving.
        let (status, _) = app.graphql("{ __typename }", json!({}), None).await;
        assert_eq!(status, 200);
        app.stop().await;
    }
);

on_both_databases!(
    every_field_has_a_length_and_every_list_a_size,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        // A topic's name: 80 characters (of any script) and no more.
        let body = ok(app
            .graphql(CREATE_TOPIC, json!({"n": "é".repeat(80)}), Some(&p.staff))
            .await);
        assert_eq!(body["data"]["createTopic"]["name"], "é".repeat(80));
        let (_, body) = app
            .graphql(CREATE_TOPIC, json!({"n": "é".repeat(81)}), Some(&p.staff))
            .await;
        refused_naming(&body, "name", "longer than 80 characters");

        // Searches too: SQLite refused a long LIKE pattern as INTERNAL.
        const SEARCH: &str =
            "query($s: String!) { organisations(filter: {search: $s}) { totalCount } }";
        let body = ok(app
            .graphql(SEARCH, json!({"s": "%_".repeat(100)}), Some(&p.staff))
            .await);
        assert_eq!(body["data"]["organisations"]["totalCount"], 0);
        let (_, body) = app
            .graphql(SEARCH, json!({"s": "x".repeat(60_000)}), Some(&p.staff))
            .await;
        refused_naming(&body, "search", "longer than 200 characters");

        // A list longer than any form.
        let ids: Vec<&str> = std::iter::repeat_n(p.topics[0].as_str(), 201).collect();
        let (_, body) = app
            .graphql(
                "query($t: [ID!]) { mentors(filter: {topicIds: $t}) { totalCount } }",
                json!({"t": ids}),
                Some(&p.staff),
            )
            .await;
        refused_naming(&body, "topicIds", "more than 200 items");
        let ids: Vec<&str> = std::iter::repeat_n(p.topics[0].as_str(), 200).collect();
        ok(app
            .graphql(
                "query($t: [ID!]) { mentors(filter: {topicIds: $t}) { totalCount } }",
                json!({"t": ids}),
                Some(&p.staff),
            )
            .await);
        app.stop().await;
    }
);

on_both_databases!(
    page_forms_are_checked_the_same_way,
    |app: TestApp| async move {
        // The form is read and checked before the link is looked up, so an
        // unknown link shows which: a control character is refused, naming
        // the field...
        let (status, page) = app
            .post_page(
                &format!("{}/r/not-a-real-link", app.base_url),
                &[("usefulness", "4"), ("comments", "Fine\u{0}")],
            )
            .await;
        assert_eq!(status, 400, "{page}");
        assert!(
            page.contains("<h1>This form could not be read</h1>"),
            "{page}"
        );
        assert!(
            page.contains("`comments` contains a control character"),
            "{page}"
        );
        // ...while the line breaks a browser sends from a text area pass on
        // to the link check.
        let (status, page) = app
            .post_page(
                &format!("{}/r/not-a-real-link", app.base_url),
                &[("usefulness", "4"), ("comments", "Line one\r\nLine two")],
            )
            .await;
        assert_eq!(status, 404, "{page}");
        assert!(page.contains("This link is not right"), "{page}");
        app.stop().await;
    }
);

on_both_databases!(
    invisible_characters_and_impossible_numbers_are_refused,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        // A name that reads backwards, or hides a zero-width space beside a
        // real one.
        for name in [
            "rlo\u{202E}exe.png",
            "governance\u{200B}",
            "governance\u{2063}",
            "\u{200E}Left to right",
            "\u{3164}",
            "\u{2800}\u{2800}",
        ] {
            let (_, body) = app
                .graphql(CREATE_TOPIC, json!({"n": name}), Some(&p.staff))
                .await;
            refused_naming(&body, "name", "invisible or direction-changing");
        }

        // Times chrono can read but nothing can use: refused as input before
        // any arithmetic (a year 262142 start panicked adding an hour).
        let (coop, member) = p.coop(&app, "Calendar Co-op").await;
        let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Far Ahead", 2, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &mentor, 3).await;
        p.accept(&app, &engagement, &mentor_token).await;
        const SCHEDULE: &str =
            "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }";
        let at = |starts_at: &str| json!({"i": {"engagementId": engagement, "startsAt": starts_at, "durationMinutes": 60, "format": "VIDEO"}});
        let (status, body) = app
            .graphql(SCHEDULE, at("+262142-12-31T23:00:00Z"), Some(&member))
            .await;
        assert_eq!(status, 400, "{body}");
        refused_naming(&body, "startsAt", "between the years 1900 and 9999");
        // A leap second anywhere: JavaScript and calendars cannot read it.
        let (_, body) = app
            .graphql(SCHEDULE, at("2027-03-02T10:59:60.5+05:00"), Some(&member))
            .await;
        refused_naming(&body, "startsAt", "60 seconds");
        // A real year, but further ahead than any meeting is booked.
        let (_, body) = app
            .graphql(SCHEDULE, at("9999-12-31T23:00:00Z"), Some(&member))
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "startsAt");

        // A scale from the smallest to the largest whole number: its span
        // overflowed.
        let survey = json!({"title": "Overflow", "questions": [{"kind": "SCALE", "prompt": "How much?", "scaleMin": i32::MIN, "scaleMax": i32::MAX}]});
        let (status, body) = app
            .graphql(
                "mutation($i: SurveyInput!) { createSurvey(input: $i) { id } }",
                json!({"i": survey}),
                Some(&p.staff),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        app.stop().await;
    }
);

on_both_databases!(
    whole_numbers_beyond_graphql_int_are_a_request_error,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        // A variable one past Int's largest value, in a form: refused
        // before anything runs, naming the field; no meeting is booked.
        let (coop, member) = p.coop(&app, "Big Numbers Co-op").await;
        let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Long Meeting", 2, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &mentor, 3).await;
        p.accept(&app, &engagement, &mentor_token).await;
        let schedule = |minutes: Value| json!({"i": {"engagementId": engagement, "startsAt": "2031-03-02T10:00:00Z", "durationMinutes": minutes, "format": "VIDEO"}});
        let (status, body) = app
            .graphql(
                "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
                schedule(json!(i64::from(i32::MAX) + 1)),
                Some(&member),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        refused_naming(&body, "durationMinutes", "GraphQL's Int");
        let meetings = format!(
            r#"{{ engagement(id: "{engagement}") {{ meetingsConnection {{ totalCount }} }} }}"#
        );
        let body = ok(app.graphql(&meetings, json!({}), Some(&member)).await);
        assert_eq!(
            body["data"]["engagement"]["meetingsConnection"]["totalCount"], 0,
            "nothing booked: {body}"
        );

        // In a query, as a literal or a variable, beside a field that would
        // answer: the whole request is refused (the specification's request
        // error), not answered with that one field null.
        let (status, body) = app
            .graphql(
                "{ __typename topics(first: 3000000000) { totalCount } }",
                json!({}),
                Some(&p.staff),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        refused_naming(&body, "first", "GraphQL's Int");
        let (_, body) = app
            .graphql(
                "query($n: Int) { __typename topics(first: $n) { totalCount } }",
                json!({"n": i64::from(i32::MIN) - 1}),
                Some(&p.staff),
            )
            .await;
        refused_naming(&body, "first", "GraphQL's Int");
        // A default is checked whether or not it is used: here `n` is
        // sent, and in the second document the operation does not run.
        let (_, body) = app
            .graphql(
                "query($n: Int = 3000000000) { topics(first: $n) { totalCount } }",
                json!({"n": 5}),
                Some(&p.staff),
            )
            .await;
        refused_naming(&body, "$n", "GraphQL's Int");
        let (status, body) = app
            .graphql_body(
                json!({"query": "query A($n: Int = -3000000000) { topics(first: $n) { totalCount } } query B { __typename }", "operationName": "B"}),
                Some(&p.staff),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        refused_naming(&body, "$n", "GraphQL's Int");
        // Int's own bounds are numbers like any other (`last` beyond a
        // page's size is the connection's to refuse, not the guard's).
        let (_, body) = app
            .graphql(
                "query($n: Int) { topics(first: $n) { totalCount } }",
                json!({"n": i32::MAX}),
                Some(&p.staff),
            )
            .await;
        assert_ne!(
            body["errors"][0]["message"]
                .as_str()
                .map(|m| m.contains("GraphQL's Int")),
            Some(true),
            "{body}"
        );
        app.stop().await;
    }
);

on_both_databases!(
    addresses_mail_cannot_reach_are_refused,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        const CREATE_USER: &str = "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }";
        for email in [
            "a,b@example.org",
            "a@b@example.org",
            "a@example..org",
            "a@-example.org",
            "ada\u{2063}@example.org",
        ] {
            let (_, body) = app
                .graphql(
                    CREATE_USER,
                    json!({"i": {"email": email, "name": "Ada", "role": "MENTOR"}}),
                    Some(&p.staff),
                )
                .await;
            assert_eq!(
                first_error_code(&body),
                Some("BAD_USER_INPUT"),
                "{email}: {body}"
            );
            assert_eq!(
                body["errors"][0]["extensions"]["field"], "email",
                "{email}: {body}"
            );
        }
        let body = ok(app
            .graphql(
                CREATE_USER,
                json!({"i": {"email": "o'brien+hive@example.co.uk", "name": "Ada", "role": "MENTOR"}}),
                Some(&p.staff),
            )
            .await);
        assert!(body["data"]["createUser"]["id"].is_string());
        app.stop().await;
    }
);
