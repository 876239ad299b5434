//! The needs census, end to end on both databases: staff build and launch a
//! survey, the worker invites the audience by email, co-ops answer from their
//! links (GraphQL and the no-JavaScript page), non-responders are reminded
//! once, closing stops everything, and a response becomes a support request.

use std::time::Duration;

use entity::{emails, survey_invitations};
use hive_worker::tokens::hash_token;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp,
    census::{Census, Coop, survey_input, token_of},
    first_error_code,
    programme::ok,
};

const WAIT: Duration = Duration::from_secs(20);

async fn survey_count(app: &TestApp, staff: &str) -> u64 {
    let body = ok(app
        .graphql("{ surveys { totalCount } }", json!({}), Some(staff))
        .await);
    body["data"]["surveys"]["totalCount"].as_u64().unwrap()
}

/// The survey link emailed to `coop` (the latest with `needle` in its subject).
async fn link_for(app: &TestApp, coop: &Coop, needle: &str) -> String {
    app.smtp
        .wait_for_subject(&coop.email, needle, WAIT)
        .await
        .link_containing("/s/")
        .expect("a survey link")
}

async fn invitation(app: &TestApp, token: &str) -> Value {
    let body = ok(app
        .graphql(
            "query($t: String!) { surveyInvitation(token: $t) {
               surveyTitle organisationName open submittedAt updatedAt
               questions { id kind prompt required choices { id label } }
               answers { questionId choiceIds choices number text } } }",
            json!({"t": token}),
            None,
        )
        .await);
    body["data"]["surveyInvitation"].clone()
}

async fn submit(app: &TestApp, token: &str, answers: Value) -> (u16, Value) {
    app.graphql(
        "mutation($t: String!, $a: [SurveyAnswerInput!]!) {
           submitSurveyResponse(token: $t, answers: $a) { answers { questionId choices number text } } }",
        json!({"t": token, "a": answers}),
        None,
    )
    .await
}

/// A full, valid set of answers: "Money", training in bookkeeping and share
/// offers, confidence 2, 14 members, and a comment.
fn good_answers(questions: &[(String, String, Vec<String>)]) -> Value {
    json!([
        {"questionId": questions[0].0, "choiceIds": [questions[0].2[1]]},
        {"questionId": questions[1].0, "choiceIds": [questions[1].2[0], questions[1].2[1]]},
        {"questionId": questions[2].0, "number": 2},
        {"questionId": questions[3].0, "number": 14},
        {"questionId": questions[4].0, "text": "We want to raise £50k in community shares."}
    ])
}

on_both_databases!(
    the_builder_checks_its_input_and_fixes_questions_at_launch,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let staff = &census.programme.staff;
        let topics = &census.programme.topics;
        census
            .coop(&app, "Riverside Housing", Some(0), "North West", "TRADING")
            .await;

        // Read back as built: positions, kinds, choices and their topics.
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { title status audience { regions } previousWave { id }
                   questions { position kind prompt required scaleMin scaleMax
                     choices { label topics { name } } } } }",
                json!({"s": census.survey}),
                Some(staff),
            )
            .await);
        let survey = &body["data"]["survey"];
        assert_eq!(survey["status"], "DRAFT");
        assert!(survey["audience"].is_null());
        let questions = survey["questions"].as_array().unwrap();
        let kinds: Vec<&str> = questions
            .iter()
            .map(|q| q["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["SINGLE_CHOICE", "MULTI_CHOICE", "SCALE", "NUMBER", "TEXT"]
        );
        assert_eq!(questions[0]["position"], 1);
        assert_eq!(questions[0]["required"], true);
        assert_eq!(questions[3]["required"], false);
        assert_eq!(questions[2]["scaleMin"], 1);
        assert_eq!(questions[2]["scaleMax"], 5);
        assert_eq!(questions[0]["choices"][1]["label"], "Money");
        assert_eq!(questions[0]["choices"][1]["topics"][0]["name"], "finance");
        assert_eq!(questions[0]["choices"][2]["topics"], json!([]));

        // Bad input: a clear error naming the field, and nothing stored.
        let before = survey_count(&app, staff).await;
        let mut bad = Vec::new();
        let mut no_title = survey_input("x", topics);
        no_title["title"] = json!("   ");
        bad.push((no_title, "title"));
        let mut inverted = survey_input("x", topics);
        inverted["questions"][2]["scaleMin"] = json!(5);
        inverted["questions"][2]["scaleMax"] = json!(1);
        bad.push((inverted, "questions.2.scaleMax"));
        let mut one_choice = survey_input("x", topics);
        one_choice["questions"][0]["choices"] = json!([{"label": "Only"}]);
        bad.push((one_choice, "questions.0.choices"));
        let mut same_label = survey_input("x", topics);
        same_label["questions"][1]["choices"][1]["label"] = json!("BOOKKEEPING");
        bad.push((same_label, "questions.1.choices.1.label"));
        let mut bad_topic = survey_input("x", topics);
        bad_topic["questions"][0]["choices"][0]["topicIds"] = json!(["not-an-id"]);
        bad.push((bad_topic, "questions.0.choices.0.topicIds"));
        let mut text_with_choices = survey_input("x", topics);
        text_with_choices["questions"][4]["choices"] = json!([{"label": "a"}, {"label": "b"}]);
        bad.push((text_with_choices, "questions.4.choices"));
        for (input, field) in bad {
            let (_, body) = app
                .graphql(
                    "mutation($i: SurveyInput!) { createSurvey(input: $i) { id } }",
                    json!({"i": input}),
                    Some(staff),
                )
                .await;
            assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
        assert_eq!(survey_count(&app, staff).await, before);

        // A DRAFT can be rewritten whole.
        let mut shorter = survey_input("Needs census 2026 (short)", topics);
        shorter["questions"].as_array_mut().unwrap().truncate(3);
        let body = ok(app
            .graphql(
                "mutation($s: ID!, $i: SurveyInput!) { updateSurvey(id: $s, input: $i) {
                   title questions { prompt } } }",
                json!({"s": census.survey, "i": shorter}),
                Some(staff),
            )
            .await);
        assert_eq!(
            body["data"]["updateSurvey"]["title"],
            "Needs census 2026 (short)"
        );
        assert_eq!(
            body["data"]["updateSurvey"]["questions"]
                .as_array()
                .unwrap()
                .len(),
            3
        );

        // A launch is checked before anything changes.
        let launch = "mutation($s: ID!, $a: SurveyAudienceInput!, $c: DateTime!, $r: Int) {
            launchSurvey(surveyId: $s, audience: $a, closesAt: $c, reminderAfterDays: $r) { status } }";
        let in_days = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339();
        for (variables, field) in [
            (json!({"a": {}, "c": in_days(-1)}), "closesAt"),
            (
                json!({"a": {}, "c": in_days(30), "r": 40}),
                "reminderAfterDays",
            ),
            (
                json!({"a": {}, "c": in_days(30), "r": 0}),
                "reminderAfterDays",
            ),
            (
                json!({"a": {"regions": ["Atlantis"]}, "c": in_days(30)}),
                "audience.regions",
            ),
            (
                json!({"a": {"sectors": ["nope"]}, "c": in_days(30)}),
                "audience.sectors",
            ),
            // Nobody at this stage: nobody to write to.
            (
                json!({"a": {"stages": ["SPINNING_OUT"]}, "c": in_days(30)}),
                "audience",
            ),
        ] {
            let mut variables = variables;
            variables["s"] = json!(census.survey);
            let (_, body) = app.graphql(launch, variables, Some(staff)).await;
            assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { status } }",
                json!({"s": census.survey}),
                Some(staff),
            )
            .await);
        assert_eq!(body["data"]["survey"]["status"], "DRAFT");

        let launched = census
            .launch(
                &app,
                &census.survey,
                json!({"sectors": [census.sectors[0]], "regions": ["north west"]}),
            )
            .await;
        assert_eq!(launched["status"], "OPEN");
        assert_eq!(launched["reminderAfterDays"], 7);

        // Launched: the questions are fixed, and it launches once.
        let (_, body) = app
            .graphql(
                "mutation($s: ID!, $i: SurveyInput!) { updateSurvey(id: $s, input: $i) { id } }",
                json!({"s": census.survey, "i": survey_input("changed", topics)}),
                Some(staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        let (_, body) = app
            .graphql(
                launch,
                json!({"s": census.survey, "a": {}, "c": in_days(30)}),
                Some(staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { audience { sectors { name } regions stages } } }",
                json!({"s": census.survey}),
                Some(staff),
            )
            .await);
        assert_eq!(
            body["data"]["survey"]["audience"],
            json!({"sectors": [{"name": "housing"}], "regions": ["North West"], "stages": []})
        );

        // The next wave starts from this one.
        let body = ok(app
            .graphql(
                "mutation($s: ID!) { duplicateSurvey(id: $s, title: \"Needs census 2027\") {
                   title status previousWave { id } questions { prompt choices { label topics { name } } } } }",
                json!({"s": census.survey}),
                Some(staff),
            )
            .await);
        let wave = &body["data"]["duplicateSurvey"];
        assert_eq!(wave["title"], "Needs census 2027");
        assert_eq!(wave["status"], "DRAFT");
        assert_eq!(wave["previousWave"]["id"], json!(census.survey));
        assert_eq!(wave["questions"].as_array().unwrap().len(), 3);
        assert_eq!(
            wave["questions"][0]["choices"][0]["topics"][0]["name"],
            "governance"
        );

        // Surveys are staff's.
        let (_, member) = app
            .user(entity::users::Role::Member, "member@coop.test")
            .await;
        let (_, body) = app
            .graphql(
                "mutation($i: SurveyInput!) { createSurvey(input: $i) { id } }",
                json!({"i": survey_input("mine", topics)}),
                Some(&member),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        let (_, body) = app
            .graphql("{ surveys { totalCount } }", json!({}), Some(&member))
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        app.stop().await;
    }
);

on_both_databases!(
    a_launch_invites_its_audience_each_with_a_link_of_its_own,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let riverside = census
            .coop(&app, "Riverside Housing", Some(0), "North West", "TRADING")
            .await;
        let bakery = census
            .coop(&app, "Bread Co-op", Some(1), "North West", "TRADING")
            .await;
        let glasgow = census
            .coop(&app, "Glasgow Homes", Some(0), "Scotland", "START_UP")
            .await;
        let fledgling = census
            .coop(&app, "Fledgling Housing", Some(0), "North West", "IDEA")
            .await;
        census
            .launch(
                &app,
                &census.survey,
                json!({"sectors": [census.sectors[0]], "regions": ["North West"]}),
            )
            .await;

        let first = app
            .smtp
            .wait_for_subject(&riverside.email, "Needs census 2026", WAIT)
            .await;
        let second = app
            .smtp
            .wait_for_subject(&fledgling.email, "Needs census 2026", WAIT)
            .await;
        assert!(
            first.subject().contains("Riverside Housing"),
            "{}",
            first.subject()
        );
        let (a, b) = (
            first.link_containing("/s/").unwrap(),
            second.link_containing("/s/").unwrap(),
        );
        assert!(a.starts_with(&format!("{}/s/", app.base_url)), "{a}");
        assert_ne!(a, b, "each co-op has its own link");
        assert!(token_of(&a).len() >= 43, "at least 128 bits, base64: {a}");
        // The HTML part carries the link too (HTML-escaped: slashes as &#x2f;).
        let html = first.html().replace("&#x2f;", "/");
        assert!(html.contains(&format!("href=\"{a}\"")), "{html}");
        assert!(
            first.header("List-Unsubscribe").is_some(),
            "surveys can be unsubscribed from"
        );
        // Only hashes are kept.
        let mut stored: Vec<String> = survey_invitations::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.token_hash)
            .collect();
        let mut hashed = vec![hash_token(&token_of(&a)), hash_token(&token_of(&b))];
        stored.sort();
        hashed.sort();
        assert_eq!(stored, hashed);

        // Out of the audience: another sector, another region, or both.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(app.smtp.received_by(&bakery.email).is_empty());
        assert!(app.smtp.received_by(&glasgow.email).is_empty());
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { invitationCount responseCount } }",
                json!({"s": census.survey}),
                Some(&census.programme.staff),
            )
            .await);
        assert_eq!(body["data"]["survey"]["invitationCount"], 2);
        assert_eq!(body["data"]["survey"]["responseCount"], 0);
        // Each once, whatever the worker's passes.
        assert_eq!(app.smtp.received_by(&riverside.email).len(), 1);
        app.stop().await;
    }
);

on_both_databases!(
    a_coop_answers_by_link_and_bad_answers_store_nothing,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let coop = census
            .coop(&app, "Riverside Housing", Some(0), "North West", "TRADING")
            .await;
        census.launch(&app, &census.survey, json!({})).await;
        let token = token_of(&link_for(&app, &coop, "Needs census").await);
        let questions = census.questions(&app, &census.survey).await;

        let shown = invitation(&app, &token).await;
        assert_eq!(shown["organisationName"], "Riverside Housing");
        assert_eq!(shown["open"], true);
        assert_eq!(shown["questions"].as_array().unwrap().len(), 5);
        assert_eq!(shown["answers"], json!([]));
        assert!(shown["submittedAt"].is_null());

        // Another wave's question, for the "token of another survey" case.
        let other = ok(app
            .graphql(
                "mutation($s: ID!) { duplicateSurvey(id: $s) { id } }",
                json!({"s": census.survey}),
                Some(&census.programme.staff),
            )
            .await)["data"]["duplicateSurvey"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let other_questions = census.questions(&app, &other).await;

        let q = &questions;
        let required = |extra: Value| {
            let mut answers = vec![
                json!({"questionId": q[0].0, "choiceIds": [q[0].2[0]]}),
                json!({"questionId": q[2].0, "number": 3}),
            ];
            answers.push(extra);
            Value::Array(answers)
        };
        let cases = [
            (json!([{"questionId": q[2].0, "number": 3}]), "Choose one."),
            (
                required(json!({"questionId": other_questions[3].0, "number": 1})),
                "not in this survey",
            ),
            (
                required(json!({"questionId": q[1].0, "choiceIds": [q[0].2[1]]})),
                "Choose from the choices given.",
            ),
            (
                json!([{"questionId": q[0].0, "choiceIds": [q[0].2[0], q[0].2[1]]}, {"questionId": q[2].0, "number": 3}]),
                "Choose only one.",
            ),
            (
                json!([{"questionId": q[0].0, "choiceIds": [q[0].2[0]]}, {"questionId": q[2].0, "number": 9}]),
                "from 1 to 5",
            ),
            (
                json!([{"questionId": q[0].0, "choiceIds": [q[0].2[0]]}, {"questionId": q[2].0, "number": 2.5}]),
                "from 1 to 5",
            ),
            (
                required(json!({"questionId": q[4].0, "text": "x".repeat(4_001)})),
                "under 4,000",
            ),
            (
                required(json!({"questionId": q[3].0, "text": "fourteen"})),
                "takes a number",
            ),
            (
                required(json!({"questionId": q[3].0, "number": 1e13})),
                "Enter a number",
            ),
            (
                required(json!({"questionId": q[0].0, "choiceIds": [q[0].2[2]]})),
                "answered twice",
            ),
        ];
        for (answers, message) in &cases {
            let (_, body) = submit(&app, &token, answers.clone()).await;
            assert_eq!(
                first_error_code(&body),
                Some("BAD_USER_INPUT"),
                "{answers}: {body}"
            );
            let said = body["errors"][0]["message"].as_str().unwrap();
            assert!(said.contains(message), "{message:?} in {said:?}");
        }
        let (_, body) = submit(
            &app,
            &token,
            required(json!({"questionId": q[4].0, "text": "x".repeat(4_001)})),
        )
        .await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"],
            json!(format!("answers.{}", q[4].0)),
            "the field names the question"
        );
        assert_eq!(
            invitation(&app, &token).await["answers"],
            json!([]),
            "nothing stored"
        );

        // A good answer, then a changed one: the second replaces the first.
        let body = ok(submit(&app, &token, good_answers(q)).await);
        let answers = &body["data"]["submitSurveyResponse"]["answers"];
        assert_eq!(answers.as_array().unwrap().len(), 5);
        assert_eq!(answers[0]["choices"], json!(["Money"]));
        assert_eq!(
            answers[1]["choices"],
            json!(["Bookkeeping", "Share offers"])
        );
        assert_eq!(answers[2]["number"], 2.0);
        assert_eq!(
            answers[4]["text"],
            "We want to raise £50k in community shares."
        );
        let first = invitation(&app, &token).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        ok(submit(
            &app,
            &token,
            json!([
                {"questionId": q[0].0, "choiceIds": [q[0].2[0]]},
                {"questionId": q[2].0, "number": 4}
            ]),
        )
        .await);
        let changed = invitation(&app, &token).await;
        assert_eq!(changed["answers"].as_array().unwrap().len(), 2);
        assert_eq!(changed["answers"][0]["choices"], json!(["Governance"]));
        assert_eq!(changed["submittedAt"], first["submittedAt"]);
        assert_ne!(changed["updatedAt"], first["updatedAt"]);

        // A refused change leaves the answers as they were.
        let (_, body) = submit(&app, &token, json!([{"questionId": q[2].0, "number": 4}])).await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));
        assert_eq!(
            invitation(&app, &token).await["answers"],
            changed["answers"]
        );

        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { responseCount responses { edges { node {
                   organisation { name } needs { name } answers { choices } } } } } }",
                json!({"s": census.survey}),
                Some(&census.programme.staff),
            )
            .await);
        let survey = &body["data"]["survey"];
        assert_eq!(survey["responseCount"], 1);
        let response = &survey["responses"]["edges"][0]["node"];
        assert_eq!(response["organisation"]["name"], "Riverside Housing");
        assert_eq!(response["needs"], json!([{"name": "governance"}]));

        // Closed: answers can no longer be given or changed.
        ok(app
            .graphql(
                "mutation($s: ID!) { closeSurvey(id: $s) { status closedAt } }",
                json!({"s": census.survey}),
                Some(&census.programme.staff),
            )
            .await);
        let (_, body) = submit(&app, &token, good_answers(q)).await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        let closed = invitation(&app, &token).await;
        assert_eq!(closed["open"], false);
        assert_eq!(closed["answers"], changed["answers"]);
        let (_, body) = app
            .graphql(
                "mutation($s: ID!) { closeSurvey(id: $s) { status } }",
                json!({"s": census.survey}),
                Some(&census.programme.staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"));

        // Unknown links.
        for bad in ["x".repeat(43), "short".to_string()] {
            let (_, body) = app
                .graphql(
                    "query($t: String!) { surveyInvitation(token: $t) { open } }",
                    json!({"t": bad}),
                    None,
                )
                .await;
            assert_eq!(first_error_code(&body), Some("NOT_FOUND"));
        }
        app.stop().await;
    }
);

on_both_databases!(
    the_answer_page_works_without_javascript,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let coop = census
            .coop(&app, "Riverside Housing", Some(0), "North West", "TRADING")
            .await;
        census.launch(&app, &census.survey, json!({})).await;
        let link = link_for(&app, &coop, "Needs census").await;
        let questions = census.questions(&app, &census.survey).await;
        let field = |n: usize| format!("q{}", crate::support::programme::decode(&questions[n].0));
        let choice =
            |n: usize, c: usize| crate::support::programme::decode(&questions[n].2[c]).to_string();
        let f: Vec<String> = (0..5).map(field).collect();
        let (f0, f1, f2, f3, f4) = (
            f[0].as_str(),
            f[1].as_str(),
            f[2].as_str(),
            f[3].as_str(),
            f[4].as_str(),
        );

        let (status, html) = app.get_page(&link).await;
        assert_eq!(status, 200);
        assert!(html.contains("<form method=\"post\""));
        assert!(html.contains("What do you most need help with?"));
        assert!(
            html.contains(&format!("<label for=\"{f3}-input\">")),
            "labelled fields"
        );
        assert!(!html.contains("<script"), "no JavaScript");

        // Problems come back beside their questions, with what was typed kept.
        let (c01, c10, c11) = (choice(0, 1), choice(1, 0), choice(1, 1));
        let (c01, c10, c11) = (c01.as_str(), c10.as_str(), c11.as_str());
        let (status, html) = app
            .post_page(&link, &[(f0, c01), (f3, "lots"), (f4, "Keep this text")])
            .await;
        assert_eq!(status, 400);
        assert!(
            html.contains(&format!("id=\"{f2}-error\"")),
            "the scale's error beside it"
        );
        assert!(html.contains("Give a number."));
        assert!(html.contains(&format!("id=\"{f3}-error\"")));
        assert!(html.contains("Enter a number, such as 12 or 3.5."));
        assert!(html.contains("Keep this text"), "typed text kept");
        assert!(html.contains("value=\"lots\""), "typed number kept");
        assert!(
            html.contains(&format!("value=\"{c01}\" checked")),
            "choice kept"
        );
        assert_eq!(
            invitation(&app, &token_of(&link)).await["answers"],
            json!([])
        );

        // Two boxes ticked on the multi-choice question: both kept.
        let (status, html) = app
            .post_page(
                &link,
                &[
                    (f0, c01),
                    (f1, c10),
                    (f1, c11),
                    (f2, "2"),
                    (f3, "14"),
                    (f4, "Shares <soon>"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Thank you"));
        let answers = invitation(&app, &token_of(&link)).await["answers"].clone();
        assert_eq!(
            answers[1]["choices"],
            json!(["Bookkeeping", "Share offers"])
        );
        assert_eq!(answers[4]["text"], "Shares <soon>");

        // The form shows the answers given, ready to change.
        let (_, html) = app.get_page(&link).await;
        assert!(html.contains(&format!("value=\"{c10}\" checked")));
        assert!(html.contains(&format!("value=\"{c11}\" checked")));
        assert!(html.contains("Shares &lt;soon&gt;"), "escaped");
        assert!(html.contains("You answered on"));

        let (status, html) = app
            .get_page(&format!("{}/s/{}", app.base_url, "x".repeat(43)))
            .await;
        assert_eq!(status, 404);
        assert!(html.contains("This link is not right"));

        close_survey(&app, &census.programme.staff, &census.survey).await;
        let (status, html) = app.get_page(&link).await;
        assert_eq!(status, 410);
        assert!(html.contains("This survey has closed"));
        let (status, _) = app.post_page(&link, &[(f0, c01), (f2, "5")]).await;
        assert_eq!(status, 410);
        assert_eq!(invitation(&app, &token_of(&link)).await["answers"], answers);
        app.stop().await;
    }
);

/// Closes a survey as staff would.
async fn close_survey(app: &TestApp, staff: &str, survey: &str) {
    ok(app
        .graphql(
            "mutation($s: ID!) { closeSurvey(id: $s) { status } }",
            json!({"s": survey}),
            Some(staff),
        )
        .await);
}

/// Moves every invitation of the survey `days` into the past.
async fn age_invitations(app: &TestApp, days: i64) {
    survey_invitations::Entity::update_many()
        .col_expr(
            survey_invitations::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(days)),
        )
        .exec(&app.db)
        .await
        .unwrap();
}

on_both_databases!(
    non_responders_are_reminded_once_and_closing_stops_reminders,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let answered = census
            .coop(&app, "Answered Co-op", Some(0), "North West", "TRADING")
            .await;
        let unsubscribed = census
            .coop(&app, "Quiet Co-op", Some(0), "North West", "TRADING")
            .await;
        let silent = census
            .coop(&app, "Silent Co-op", Some(0), "North West", "TRADING")
            .await;
        census.launch(&app, &census.survey, json!({})).await;
        let questions = census.questions(&app, &census.survey).await;
        let answered_link = link_for(&app, &answered, "Needs census").await;
        ok(submit(&app, &token_of(&answered_link), good_answers(&questions)).await);
        let quiet_mail = app
            .smtp
            .wait_for_subject(&unsubscribed.email, "Needs census", WAIT)
            .await;
        let (status, _) = app
            .post_page(&quiet_mail.link_containing("/u/").unwrap(), &[])
            .await;
        assert_eq!(status, 200);
        let first_link = link_for(&app, &silent, "Needs census").await;

        // Not yet due: six days on, nothing.
        age_invitations(&app, 6).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(app.smtp.received_by(&silent.email).len(), 1);

        age_invitations(&app, 8).await;
        let reminder = app
            .smtp
            .wait_for_subject(&silent.email, "Reminder:", WAIT)
            .await;
        assert!(reminder.text().contains("Silent Co-op"));
        let fresh = reminder.link_containing("/s/").unwrap();
        assert_ne!(fresh, first_link);
        let (status, _) = app.get_page(&first_link).await;
        assert_eq!(status, 404, "the reminder's link replaces the first");
        let (status, _) = app.get_page(&fresh).await;
        assert_eq!(status, 200);

        // Once only, and never to those who answered or opted out.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(app.smtp.received_by(&silent.email).len(), 2);
        assert_eq!(app.smtp.received_by(&answered.email).len(), 1);
        assert_eq!(app.smtp.received_by(&unsubscribed.email).len(), 1);
        let suppressed = emails::Entity::find()
            .filter(emails::Column::Recipient.eq(unsubscribed.email.clone()))
            .filter(emails::Column::Template.eq("survey_reminder"))
            .one(&app.db)
            .await
            .unwrap()
            .expect("the reminder was written, then held back");
        assert_eq!(suppressed.status, emails::EmailStatus::Suppressed);

        // A second wave closed before its reminders fall due sends none.
        let wave = ok(app
            .graphql(
                "mutation($s: ID!) { duplicateSurvey(id: $s, title: \"Wave two\") { id } }",
                json!({"s": census.survey}),
                Some(&census.programme.staff),
            )
            .await)["data"]["duplicateSurvey"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        census.launch(&app, &wave, json!({})).await;
        app.smtp
            .wait_for_subject(&silent.email, "Wave two", WAIT)
            .await;
        close_survey(&app, &census.programme.staff, &wave).await;
        age_invitations(&app, 8).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let to_silent: Vec<String> = app
            .smtp
            .received_by(&silent.email)
            .iter()
            .map(|m| m.subject())
            .collect();
        assert_eq!(to_silent.len(), 3, "{to_silent:?}");
        assert!(!to_silent.iter().any(|s| s.contains("Reminder: Wave two")));
        app.stop().await;
    }
);

on_both_databases!(
    a_response_becomes_a_support_request_in_one_step,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let staff = census.programme.staff.clone();
        let needy = census
            .coop(&app, "Riverside Housing", Some(0), "North West", "TRADING")
            .await;
        let content = census
            .coop(&app, "Content Co-op", Some(1), "London", "TRADING")
            .await;
        census.launch(&app, &census.survey, json!({})).await;
        let q = census.questions(&app, &census.survey).await;
        ok(submit(
            &app,
            &token_of(&link_for(&app, &needy, "Needs census").await),
            good_answers(&q),
        )
        .await);
        ok(submit(
            &app,
            &token_of(&link_for(&app, &content, "Needs census").await),
            json!([{"questionId": q[0].0, "choiceIds": [q[0].2[2]]}, {"questionId": q[2].0, "number": 5}]),
        )
        .await);

        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { responses { edges { node { id
                   organisation { name } needs { name } supportRequest { id } } } } } }",
                json!({"s": census.survey}),
                Some(&staff),
            )
            .await);
        let edges = body["data"]["survey"]["responses"]["edges"]
            .as_array()
            .unwrap()
            .clone();
        let response = |name: &str| {
            edges
                .iter()
                .map(|e| e["node"].clone())
                .find(|n| n["organisation"]["name"] == name)
                .unwrap()
        };
        let needy_response = response("Riverside Housing");
        assert_eq!(
            needy_response["needs"],
            json!([{"name": "community shares"}, {"name": "finance"}]),
            "Money and Bookkeeping map to finance, Share offers to community shares"
        );
        assert!(needy_response["supportRequest"].is_null());

        let draft =
            "mutation($r: ID!) { createSupportRequestFromResponse(responseId: $r, kind: ADVICE) {
            id status kind goals organisation { id name } topics { name } } }";
        let body = ok(app
            .graphql(draft, json!({"r": needy_response["id"]}), Some(&staff))
            .await);
        let request = &body["data"]["createSupportRequestFromResponse"];
        assert_eq!(request["status"], "SUBMITTED");
        assert_eq!(request["kind"], "ADVICE");
        assert_eq!(request["organisation"]["id"], json!(needy.id));
        let mut topics: Vec<&str> = request["topics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        topics.sort();
        assert_eq!(topics, ["community shares", "finance"]);
        let goals = request["goals"].as_str().unwrap();
        assert!(goals.contains("Needs census 2026"), "{goals}");
        assert!(
            goals.contains("We want to raise £50k in community shares."),
            "{goals}"
        );

        // One step, once.
        let (_, body) = app
            .graphql(draft, json!({"r": needy_response["id"]}), Some(&staff))
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { responses { edges { node { supportRequest { id } } } } } }",
                json!({"s": census.survey}),
                Some(&staff),
            )
            .await);
        let linked: Vec<&Value> = body["data"]["survey"]["responses"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| !e["node"]["supportRequest"].is_null())
            .collect();
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0]["node"]["supportRequest"]["id"], request["id"]);

        // No needs, nothing to draft.
        let content_response = response("Content Co-op");
        assert_eq!(content_response["needs"], json!([]));
        let (_, body) = app
            .graphql(draft, json!({"r": content_response["id"]}), Some(&staff))
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        app.stop().await;
    }
);

/// Answers `survey` for `coop` from its emailed link: the single choice
/// numbered `choice` and `confidence` on the scale.
async fn answer_wave(
    app: &TestApp,
    census: &Census,
    survey: &str,
    coop: &Coop,
    subject: &str,
    choice: usize,
    confidence: i32,
) {
    let q = census.questions(app, survey).await;
    let token = token_of(&link_for(app, coop, subject).await);
    ok(submit(
        app,
        &token,
        json!([
            {"questionId": q[0].0, "choiceIds": [q[0].2[choice]]},
            {"questionId": q[2].0, "number": confidence}
        ]),
    )
    .await);
}

on_both_databases!(
    two_census_waves_run_through_graphql_and_compare,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let staff = census.programme.staff.clone();
        let a = census
            .coop(&app, "Alder Co-op", Some(0), "North West", "TRADING")
            .await;
        let b = census
            .coop(&app, "Birch Co-op", Some(1), "London", "START_UP")
            .await;
        let c = census
            .coop(&app, "Cedar Co-op", Some(0), "Scotland", "TRADING")
            .await;

        // Wave one: two of three answer.
        census.launch(&app, &census.survey, json!({})).await;
        answer_wave(&app, &census, &census.survey, &a, "Needs census 2026", 1, 2).await;
        answer_wave(&app, &census, &census.survey, &b, "Needs census 2026", 0, 4).await;
        close_survey(&app, &staff, &census.survey).await;

        // Wave two, from wave one: all three answer.
        let wave = ok(app
            .graphql(
                "mutation($s: ID!) { duplicateSurvey(id: $s, title: \"Needs census 2027\") { id } }",
                json!({"s": census.survey}),
                Some(&staff),
            )
            .await)["data"]["duplicateSurvey"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        census.launch(&app, &wave, json!({})).await;
        answer_wave(&app, &census, &wave, &a, "Needs census 2027", 1, 4).await;
        answer_wave(&app, &census, &wave, &b, "Needs census 2027", 1, 4).await;
        answer_wave(&app, &census, &wave, &c, "Needs census 2027", 0, 3).await;

        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { results {
                   invited responded responseRate
                   bySector { label invited responded responseRate }
                   previousWave { title responseRate responseRateChange }
                   questions { prompt answered mean
                     previousWave { mean meanChange }
                     choices { label count percentage previousPercentage percentagePointChange } } } } }",
                json!({"s": wave}),
                Some(&staff),
            )
            .await);
        let results = &body["data"]["survey"]["results"];
        assert_eq!(results["invited"], 3);
        assert_eq!(results["responded"], 3);
        assert_eq!(results["responseRate"], 100.0);
        assert_eq!(
            results["previousWave"],
            json!({"title": "Needs census 2026", "responseRate": 66.7, "responseRateChange": 33.3})
        );
        assert_eq!(
            results["bySector"],
            json!([
                {"label": "food", "invited": 1, "responded": 1, "responseRate": 100.0},
                {"label": "housing", "invited": 2, "responded": 2, "responseRate": 100.0}
            ])
        );
        let need = &results["questions"][0];
        assert_eq!(need["answered"], 3);
        assert_eq!(
            need["choices"][1],
            json!({"label": "Money", "count": 2, "percentage": 66.7,
                   "previousPercentage": 50.0, "percentagePointChange": 16.7})
        );
        assert_eq!(need["choices"][0]["previousPercentage"], 50.0);
        assert_eq!(need["choices"][0]["percentage"], 33.3);
        let confidence = &results["questions"][2];
        assert_eq!(confidence["mean"], 3.67);
        assert_eq!(
            confidence["previousWave"],
            json!({"mean": 3.0, "meanChange": 0.67})
        );

        // The CSV of wave two: a header and one line per co-op.
        let response = app
            .http
            .get(format!("{}/surveys/{wave}/responses.csv", app.base_url))
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let csv = response.text().await.unwrap();
        let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
        assert_eq!(lines.len(), 4, "{csv}");
        assert!(
            lines[1].starts_with("Alder Co-op,housing,North West,TRADING,"),
            "{csv}"
        );
        assert!(lines[2].contains("Money"), "{csv}");
        assert!(
            lines[3].starts_with("Cedar Co-op") && lines[3].contains("Governance"),
            "{csv}"
        );
        app.stop().await;
    }
);
