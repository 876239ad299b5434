//! Survey results as staff read them: turnout overall and by sector, region
//! and stage; each question's counts, percentages and means beside the
//! previous wave's; the responses as a CSV a spreadsheet opens cleanly; the
//! census's demand by topic in the programme's figures; who may read them;
//! and a cost in statements that does not grow with the responses.

use entity::users::Role;
use hive_api::graphql::relay::{NodeType, global_id};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, TestApp,
    census_rows::{self, AT_TEXT, Census, FORMULA_TEXT, TRICKY_TEXT},
    first_error_code,
    programme::ok,
};

const RESULTS: &str = "query($id: ID!) { surveyResults(surveyId: $id) {
    surveyId invited responded responseRate
    bySector { ...group } byRegion { ...group } byStage { ...group }
    previousWave { surveyId title invited responded responseRate responseRateChange }
    questions { id position prompt kind answered mean
        choices { id label count percentage previousPercentage percentagePointChange }
        previousWave { questionId prompt answered mean meanChange } }
} }
fragment group on SurveyGroupResult { label invited responded responseRate }";

fn id(kind: NodeType, row: i64) -> String {
    global_id(kind, row).0
}

/// Groups as (label, invited, responded, rate).
fn groups(value: &Value) -> Vec<(String, i64, i64, f64)> {
    value
        .as_array()
        .expect("a list of groups")
        .iter()
        .map(|g| {
            (
                g["label"].as_str().unwrap().to_string(),
                g["invited"].as_i64().unwrap(),
                g["responded"].as_i64().unwrap(),
                g["responseRate"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn group(label: &str, invited: i64, responded: i64, rate: f64) -> (String, i64, i64, f64) {
    (label.to_string(), invited, responded, rate)
}

/// A choice's (label, count, percentage, previous percentage, change).
type ChoiceFigures = (String, i64, f64, Option<f64>, Option<f64>);

fn choices(question: &Value) -> Vec<ChoiceFigures> {
    question["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["label"].as_str().unwrap().to_string(),
                c["count"].as_i64().unwrap(),
                c["percentage"].as_f64().unwrap(),
                c["previousPercentage"].as_f64(),
                c["percentagePointChange"].as_f64(),
            )
        })
        .collect()
}

async fn results(app: &TestApp, census: &Census, token: &str) -> Value {
    let body = ok(app
        .graphql(
            RESULTS,
            json!({"id": id(NodeType::Survey, census.second.survey)}),
            Some(token),
        )
        .await);
    body["data"]["surveyResults"].clone()
}

on_both_databases!(
    staff_read_a_wave_against_the_previous_one,
    |app: TestApp| async move {
        let census = census_rows::two_waves(&app.db).await;
        let (_, staff) = app.user(Role::Staff, "staff@hive.test").await;
        let r = results(&app, &census, &staff).await;
        let w = &census.second;

        assert_eq!(r["surveyId"], id(NodeType::Survey, w.survey));
        assert_eq!(r["invited"], 6);
        assert_eq!(r["responded"], 4);
        assert_eq!(r["responseRate"], 66.7);
        assert_eq!(
            groups(&r["bySector"]),
            [
                group("Housing", 3, 2, 66.7),
                group("Retail", 2, 2, 100.0),
                group("No sector", 1, 0, 0.0),
            ]
        );
        assert_eq!(
            groups(&r["byRegion"]),
            [
                group("North West", 3, 2, 66.7),
                group("Wales", 1, 1, 100.0),
                group("Yorkshire", 2, 1, 50.0),
            ]
        );
        assert_eq!(
            groups(&r["byStage"]),
            [
                group("IDEA", 1, 0, 0.0),
                group("START_UP", 1, 1, 100.0),
                group("TRADING", 3, 2, 66.7),
                group("CONVERTING", 1, 1, 100.0),
            ]
        );
        assert_eq!(
            r["previousWave"],
            json!({"surveyId": id(NodeType::Survey, census.first_wave), "title": "Census 2025",
                   "invited": 5, "responded": 3, "responseRate": 60.0, "responseRateChange": 6.7})
        );

        let questions = r["questions"].as_array().unwrap();
        let ids: Vec<&str> = questions
            .iter()
            .map(|q| q["id"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = [w.confidence, w.need, w.areas, w.members, w.comments]
            .into_iter()
            .map(|q| id(NodeType::SurveyQuestion, q))
            .collect();
        assert_eq!(ids, expected, "in the survey's order");

        // A scale matched to the previous wave by its prompt, whatever the
        // case and spaces, though it moved from second to first.
        let confidence = &questions[0];
        assert_eq!(confidence["kind"], "SCALE");
        assert_eq!(confidence["answered"], 4);
        assert_eq!(confidence["mean"], 3.5);
        assert_eq!(confidence["choices"], json!([]));
        assert_eq!(
            confidence["previousWave"]["prompt"],
            "How confident are you about the next year?"
        );
        assert_eq!(confidence["previousWave"]["answered"], 2);
        assert_eq!(confidence["previousWave"]["mean"], 2.5);
        assert_eq!(confidence["previousWave"]["meanChange"], 1.0);

        let need = &questions[1];
        assert_eq!(need["kind"], "SINGLE_CHOICE");
        assert_eq!(need["answered"], 4);
        assert_eq!(
            choices(need),
            [
                ("Finance".into(), 2, 50.0, Some(66.7), Some(-16.7)),
                ("Governance".into(), 1, 25.0, Some(33.3), Some(-8.3)),
                ("Marketing".into(), 1, 25.0, Some(0.0), Some(25.0)),
            ]
        );
        assert_eq!(
            need["choices"][0]["id"],
            id(NodeType::SurveyChoice, w.need_finance)
        );
        assert_eq!(need["mean"], Value::Null);

        // Reworded, so matched by kind and position; a response may pick
        // several choices, so the percentages add up past 100; labels match
        // across waves whatever their case and outer spaces.
        let areas = &questions[2];
        assert_eq!(areas["kind"], "MULTI_CHOICE");
        assert_eq!(areas["answered"], 3);
        assert_eq!(
            areas["previousWave"]["prompt"],
            "Which areas do you want help with?"
        );
        assert_eq!(
            choices(areas),
            [
                ("Finance".into(), 3, 100.0, Some(0.0), Some(100.0)),
                ("governance ".into(), 2, 66.7, Some(100.0), Some(-33.3)),
                ("Digital".into(), 1, 33.3, Some(50.0), Some(-16.7)),
            ]
        );

        // New in this wave: nothing to compare with.
        let members = &questions[3];
        assert_eq!(members["kind"], "NUMBER");
        assert_eq!(members["answered"], 3);
        assert_eq!(members["mean"], 16.33);
        assert_eq!(members["previousWave"], Value::Null);

        // Text is counted (a blank answer is not an answer), not shown.
        let comments = &questions[4];
        assert_eq!(comments["kind"], "TEXT");
        assert_eq!(comments["answered"], 3);
        assert_eq!(comments["mean"], Value::Null);
        assert_eq!(comments["choices"], json!([]));

        // The first wave read on its own has no previous wave.
        let body = ok(app
            .graphql(
                RESULTS,
                json!({"id": id(NodeType::Survey, census.first_wave)}),
                Some(&staff),
            )
            .await);
        let first = &body["data"]["surveyResults"];
        assert_eq!(first["responseRate"], 60.0);
        assert_eq!(first["previousWave"], Value::Null);
        assert_eq!(first["questions"][1]["mean"], 2.5);
        assert_eq!(first["questions"][0]["previousWave"], Value::Null);

        app.stop().await;
    }
);

on_both_databases!(results_are_for_staff_only, |app: TestApp| async move {
    let census = census_rows::two_waves(&app.db).await;
    let survey = id(NodeType::Survey, census.second.survey);
    let (_, member) = app.user(Role::Member, "member@alder.coop").await;
    let (_, mentor) = app.user(Role::Mentor, "mentor@hive.test").await;
    let (_, staff) = app.user(Role::Staff, "staff@hive.test").await;
    for token in [&member, &mentor] {
        let (_, body) = app
            .graphql(RESULTS, json!({"id": survey}), Some(token))
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        assert_eq!(body["data"], json!({"surveyResults": null}), "{body}");
    }
    let (_, body) = app.graphql(RESULTS, json!({"id": survey}), None).await;
    assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    for unknown in [
        id(NodeType::Survey, 999_999),
        id(NodeType::Organisation, census.second.survey),
    ] {
        let (_, body) = app
            .graphql(RESULTS, json!({"id": unknown}), Some(&staff))
            .await;
        assert_eq!(first_error_code(&body), Some("NOT_FOUND"), "{body}");
    }
    app.stop().await;
});

/// The CSV download: status, headers and body.
async fn download(
    app: &TestApp,
    survey: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app
        .http
        .get(format!("{}/surveys/{survey}/responses.csv", app.base_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

on_both_databases!(
    the_responses_download_opens_cleanly_in_a_spreadsheet,
    |app: TestApp| async move {
        let census = census_rows::two_waves(&app.db).await;
        let (_, staff) = app.user(Role::Staff, "staff@hive.test").await;
        let survey = id(NodeType::Survey, census.second.survey);
        let (status, headers, body) = download(&app, &survey, Some(&staff)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"survey-"),
            "{headers:?}"
        );

        assert!(body.starts_with(b"\xEF\xBB\xBF"), "UTF-8 byte-order mark");
        let text = String::from_utf8(body[3..].to_vec()).expect("UTF-8");
        let header_line = text.split("\r\n").next().unwrap();
        assert_eq!(
            header_line,
            "organisation,sector,region,stage,submitted at,\
             how confident are you about the NEXT year?,What is your biggest need?,\
             Which areas would you like support with?,How many members do you have?,\
             Anything else?"
        );
        assert!(text.ends_with("\r\n"));
        // Quotes doubled inside a quoted cell, the line break kept in it.
        assert!(
            text.contains("\"We need help with \"\"shares\"\", governance\nand more\""),
            "{text}"
        );
        assert!(text.contains("\"Elm, \"\"the\"\" Co-op\""), "{text}");

        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(header.len(), 10);
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        let expected: [[&str; 10]; 4] = [
            [
                "Alder Housing",
                "Housing",
                "North West",
                "TRADING",
                "2026-11-20T10:15:00Z",
                "4",
                "Finance",
                "Finance; governance",
                "12",
                TRICKY_TEXT,
            ],
            [
                "Birch Retail",
                "Retail",
                "North West",
                "START_UP",
                "2026-11-20T10:16:00Z",
                "2",
                "Governance",
                "Finance",
                "7",
                &format!("'{FORMULA_TEXT}"),
            ],
            [
                "Cedar Homes",
                "Housing",
                "Yorkshire",
                "TRADING",
                "2026-11-20T10:17:00Z",
                "5",
                "Finance",
                "",
                "30",
                &format!("'{AT_TEXT}"),
            ],
            [
                "Elm, \"the\" Co-op",
                "Retail",
                "Wales",
                "CONVERTING",
                "2026-11-20T10:18:00Z",
                "3",
                "Marketing",
                "Finance; governance; Digital",
                "",
                "",
            ],
        ];
        assert_eq!(rows, expected.map(|row| row.map(str::to_string)));

        // Refusals: no token, a bad token, not staff, no such survey.
        let (status, headers, _) = download(&app, &survey, None).await;
        assert_eq!(status, 401);
        assert_eq!(headers["www-authenticate"], "Bearer");
        let (status, _, _) = download(&app, &survey, Some("not-a-session-token")).await;
        assert_eq!(status, 401);
        let (_, member) = app.user(Role::Member, "member@alder.coop").await;
        let (status, _, body) = download(&app, &survey, Some(&member)).await;
        assert_eq!(status, 403);
        assert!(!String::from_utf8_lossy(&body).contains("Alder"));
        let (status, _, _) = download(&app, &id(NodeType::Survey, 999_999), Some(&member)).await;
        assert_eq!(status, 403, "a non-staff caller learns nothing of surveys");
        for unknown in [
            id(NodeType::Survey, 999_999),
            id(NodeType::Organisation, census.second.survey),
            "garbage".to_string(),
        ] {
            let (status, _, _) = download(&app, &unknown, Some(&staff)).await;
            assert_eq!(status, 404, "{unknown}");
        }
        app.stop().await;
    }
);

on_both_databases!(
    programme_stats_count_needs_from_each_coops_latest_response,
    |app: TestApp| async move {
        census_rows::two_waves(&app.db).await;
        let (_, staff) = app.user(Role::Staff, "staff@hive.test").await;
        let body = ok(app
            .graphql(
                "{ programmeStats { surveyNeedsByTopic { label count } } }",
                json!({}),
                Some(&staff),
            )
            .await);
        // Birch picked Digital in the first wave but not in the second, so
        // only Elm counts for it; Gorse answered only the first wave, so its
        // Governance counts.
        assert_eq!(
            body["data"]["programmeStats"]["surveyNeedsByTopic"],
            json!([
                {"label": "finance", "count": 4},
                {"label": "governance", "count": 4},
                {"label": "digital communications", "count": 1},
            ])
        );
        app.stop().await;
    }
);

/// Statements the app runs for one CSV download, and the body.
async fn csv_statements(app: &TestApp, survey: &str, token: &str) -> (u64, Vec<u8>) {
    let before = app.statements.load(std::sync::atomic::Ordering::SeqCst);
    let (status, _, body) = download(app, survey, Some(token)).await;
    assert_eq!(status, 200);
    let after = app.statements.load(std::sync::atomic::Ordering::SeqCst);
    (after - before, body)
}

/// Statements for the results and for the CSV, with the census as it is and
/// with forty more responses: the same.
async fn results_cost_bounded_statements(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let census = census_rows::two_waves(&app.db).await;
    let (_, staff) = app.user(Role::Staff, "staff@hive.test").await;
    let variables = json!({"id": id(NodeType::Survey, census.second.survey)});
    let survey = id(NodeType::Survey, census.second.survey);

    let (few, body) = app
        .statements_for(RESULTS, variables.clone(), Some(&staff))
        .await;
    assert_eq!(ok((200, body))["data"]["surveyResults"]["responded"], 4);
    let (few_csv, _) = csv_statements(&app, &survey, &staff).await;

    census_rows::more_responses(&app.db, &census, 40).await;
    let (many, body) = app.statements_for(RESULTS, variables, Some(&staff)).await;
    let log = app.statement_log.lock().unwrap().join("\n");
    assert_eq!(ok((200, body))["data"]["surveyResults"]["responded"], 44);
    let (many_csv, csv) = csv_statements(&app, &survey, &staff).await;
    assert_eq!(
        String::from_utf8_lossy(&csv).matches("\r\n").count(),
        45,
        "a header and 44 rows"
    );

    assert_eq!(
        many, few,
        "4 responses cost {few} statements, 44 cost {many}:\n{log}"
    );
    assert!(many <= 10, "the results cost {many} statements:\n{log}");
    assert_eq!(many_csv, few_csv, "the CSV's statements grew with the rows");
    assert!(many_csv <= 8, "the CSV costs {many_csv} statements");
    eprintln!("{backend:?}: results ran {many} statements, the CSV {many_csv}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_cost_the_same_statements_whatever_the_responses_sqlite() {
    results_cost_bounded_statements(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_cost_the_same_statements_whatever_the_responses_postgres() {
    results_cost_bounded_statements(Backend::Postgres).await;
}
