//! Partial results as the GraphQL specification has them (issue 15 item 2),
//! read as an SPA's normalised cache reads them: the exact text of the
//! answer, key order included.
//!
//! - A field the viewer may not read is in `data` as `null` beside the
//!   fields they may, with a FORBIDDEN error at its path.
//! - A non-null field that fails makes its nearest nullable parent `null`
//!   (and `data` itself at the root).
//! - Keys come in the order the query asked, not alphabetical and not the
//!   order the resolvers finished (a field that waits on the database is
//!   asked first here).

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp,
    census::survey_input,
    programme::{Programme, ok},
};

/// The answer's text exactly as the server sent it.
async fn answer_text(app: &TestApp, query: &str, variables: Value, token: &str) -> String {
    app.http
        .post(format!("{}/graphql", app.base_url))
        .header("accept", "application/graphql-response+json")
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The `data` member's text, cut from the answer's text (the server writes
/// `data` first and no whitespace), and the errors as (path, code) pairs.
fn data_and_errors(text: &str) -> (String, Errors) {
    let body: Value = serde_json::from_str(text).unwrap();
    let errors = body["errors"]
        .as_array()
        .map(|errors| {
            let mut pairs: Vec<(String, String)> = errors
                .iter()
                .map(|error| {
                    let path = error["path"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|step| step.to_string().trim_matches('"').to_string())
                        .collect::<Vec<_>>()
                        .join(".");
                    let code = error["extensions"]["code"].as_str().unwrap().to_string();
                    (path, code)
                })
                .collect();
            pairs.sort();
            pairs
        })
        .unwrap_or_default();
    let data = text
        .strip_prefix("{\"data\":")
        .unwrap_or_else(|| panic!("the answer starts with data: {text}"));
    let end = data.rfind(",\"errors\":").unwrap_or(data.len() - 1);
    (data[..end].to_string(), errors)
}

/// Errors as (path, code), sorted.
type Errors = Vec<(String, String)>;

fn forbidden(path: &str) -> (String, String) {
    (path.to_string(), "FORBIDDEN".to_string())
}

const MIXED: &str = "query($o: ID!, $e: ID!) {
  organisation(id: $o) { members { name } region financialDetails name contactPhone }
  engagement(id: $e) { status provider { name } daysAllocated }
}";

async fn mixed_fields_for_each_role(app: TestApp) {
    let p = Programme::new(&app).await;
    let (coop, member) = p.coop(&app, "Wye Housing").await;
    let (_, other_member) = p.coop(&app, "Ouse Bakers").await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Engaged Mentor", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let engagement = p.proposed(&app, &request, &mentor, 3).await;
    p.accept(&app, &engagement, &mentor_token).await;

    let whole_coop = r#"{"members":[{"name":"Member of Wye Housing"}],"region":"North West","financialDetails":"Reserves £40k","name":"Wye Housing","contactPhone":"0161 496 0123"}"#;
    let whole_engagement =
        r#"{"status":"ACTIVE","provider":{"name":"Engaged Mentor"},"daysAllocated":3}"#;
    let cases: [(&str, &str, String, Errors); 4] = [
        (
            "staff",
            &p.staff,
            format!(r#"{{"organisation":{whole_coop},"engagement":{whole_engagement}}}"#),
            vec![],
        ),
        (
            "the engagement's provider",
            &mentor_token,
            format!(
                r#"{{"organisation":{{"members":null,"region":"North West","financialDetails":null,"name":"Wye Housing","contactPhone":"0161 496 0123"}},"engagement":{whole_engagement}}}"#
            ),
            vec![
                forbidden("organisation.financialDetails"),
                forbidden("organisation.members"),
            ],
        ),
        (
            "a member of the co-op",
            &member,
            format!(r#"{{"organisation":{whole_coop},"engagement":{whole_engagement}}}"#),
            vec![],
        ),
        (
            "a member of another co-op",
            &other_member,
            r#"{"organisation":null,"engagement":null}"#.to_string(),
            vec![forbidden("engagement"), forbidden("organisation")],
        ),
    ];
    // A field asked twice (directly and in a fragment) that fails is one
    // error, naming both places (§6.4.4: one error per field).
    let text = answer_text(
        &app,
        "query($o: ID!) { organisation(id: $o) { financialDetails ... on Organisation { financialDetails } } }",
        json!({"o": coop}),
        &mentor_token,
    )
    .await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["data"],
        json!({"organisation": {"financialDetails": null}}),
        "{text}"
    );
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{text}");
    assert_eq!(
        body["errors"][0]["locations"].as_array().map(Vec::len),
        Some(2),
        "{text}"
    );

    // An object of plain fields that every one fails is an object of
    // nulls, not a null: async-graphql answers it with null, and the
    // errors' paths tell the walk it was there.
    let text = answer_text(
        &app,
        "query($o: ID!) { organisation(id: $o) { financialDetails members { name } } }",
        json!({"o": coop}),
        &mentor_token,
    )
    .await;
    let (got_data, got_errors) = data_and_errors(&text);
    assert_eq!(
        got_data, r#"{"organisation":{"financialDetails":null,"members":null}}"#,
        "{text}"
    );
    assert_eq!(
        got_errors,
        vec![
            forbidden("organisation.financialDetails"),
            forbidden("organisation.members"),
        ],
        "{text}"
    );

    for (viewer, token, data, errors) in cases {
        let text = answer_text(&app, MIXED, json!({"o": coop, "e": engagement}), token).await;
        let (got_data, got_errors) = data_and_errors(&text);
        assert_eq!(got_data, data, "{viewer}: {text}");
        assert_eq!(got_errors, errors, "{viewer}: {text}");
    }
    app.stop().await;
}

on_both_databases!(
    a_refused_field_is_null_in_place_and_keys_keep_the_query_order,
    mixed_fields_for_each_role
);

async fn failures_in_non_null_fields(app: TestApp) {
    let p = Programme::new(&app).await;
    let body = ok(app
        .graphql(
            "mutation($i: SurveyInput!) { createSurvey(input: $i) { id } }",
            json!({"i": survey_input("Needs census", &p.topics)}),
            Some(&p.staff),
        )
        .await);
    let survey = body["data"]["createSurvey"]["id"].as_str().unwrap();

    // `responses` is non-null and fails: the survey (nullable) is null in
    // its place; the other root field stands.
    let text = answer_text(
        &app,
        "query($s: ID!) { survey(id: $s) { title responses(first: -5) { totalCount } } topics { totalCount } }",
        json!({"s": survey}),
        &p.staff,
    )
    .await;
    let (data, errors) = data_and_errors(&text);
    assert_eq!(
        data, r#"{"survey":null,"topics":{"totalCount":3}}"#,
        "{text}"
    );
    assert_eq!(
        errors,
        vec![("survey.responses".to_string(), "BAD_USER_INPUT".to_string())],
        "{text}"
    );

    // A non-null root field that fails leaves nothing to be null in but
    // `data` itself.
    let text = answer_text(
        &app,
        "{ me { name } mentors(first: -5) { totalCount } }",
        json!({}),
        &p.staff,
    )
    .await;
    let (data, errors) = data_and_errors(&text);
    assert_eq!(data, "null", "{text}");
    assert_eq!(
        errors,
        vec![("mentors".to_string(), "BAD_USER_INPUT".to_string())],
        "{text}"
    );

    // Skipped fields stay out; a fragment's fields keep their place.
    let text = answer_text(
        &app,
        "query($no: Boolean!) { me { ...who role email @skip(if: $no) } }
         fragment who on User { name }",
        json!({"no": true}),
        &p.staff,
    )
    .await;
    let (data, errors) = data_and_errors(&text);
    assert_eq!(
        data, r#"{"me":{"name":"Test Person","role":"STAFF"}}"#,
        "{text}"
    );
    assert!(errors.is_empty(), "{text}");
    app.stop().await;
}

on_both_databases!(
    a_failed_non_null_field_makes_its_nearest_nullable_parent_null,
    failures_in_non_null_fields
);

/// An object with nothing selected (every field skipped, or every fragment
/// for another type) is `{}`, not `null` — async-graphql answers `null`,
/// which in a non-null place would blank the whole answer without an error —
/// also when the query uses the completion's own key name itself.
async fn empty_selections(app: TestApp) {
    let p = Programme::new(&app).await;
    let cases = [
        (
            "query($full: Boolean!) { me { name } topics(first: 2) { totalCount edges { node { ...T @include(if: $full) } } } } fragment T on Topic { name }",
            json!({"full": false}),
            r#"{"me":{"name":"Test Person"},"topics":{"totalCount":3,"edges":[{"node":{}},{"node":{}}]}}"#,
        ),
        ("{ me { name @skip(if: true) } }", json!({}), r#"{"me":{}}"#),
        (
            "query($t: ID!) { node(id: $t) { ... on Organisation { name } } }",
            json!({"t": p.topics[0]}),
            r#"{"node":{}}"#,
        ),
        (
            "query($t: ID!) { node(id: $t) { ... on Organisation { name } ... on Topic { name } } }",
            json!({"t": p.topics[0]}),
            r#"{"node":{"name":"governance"}}"#,
        ),
        // A client's own key of the name the completion asks the type
        // under is answered like any other (it was dropped, and the empty
        // object beside it came back null).
        (
            "{ me { name @skip(if: true) } _hiveTypename: __typename }",
            json!({}),
            r#"{"me":{},"_hiveTypename":"Query"}"#,
        ),
        (
            "{ me { _hiveTypename: name ... on User { role } _hiveTypename1: role @skip(if: false) } }",
            json!({}),
            r#"{"me":{"_hiveTypename":"Test Person","role":"STAFF","_hiveTypename1":"STAFF"}}"#,
        ),
    ];
    for (query, variables, data) in cases {
        let text = answer_text(&app, query, variables, &p.staff).await;
        let (got, errors) = data_and_errors(&text);
        assert_eq!(got, data, "{query}: {text}");
        assert!(errors.is_empty(), "{query}: {text}");
    }
    app.stop().await;
}

on_both_databases!(
    an_object_with_nothing_selected_is_empty_not_null,
    empty_selections
);

/// A document of one named operation sent without `operationName` runs that
/// operation, and its answer is completed like any other (the parser keeps
/// it among several operations; the walk once skipped it, leaving its
/// internal `__typename` key in and a refused field out). A variable left
/// out takes its default for `@skip` and `@include` too (§6.1.2), where
/// async-graphql read only the variables sent: it ran a skipped field and
/// left out an included one.
async fn named_operations_and_variable_defaults(app: TestApp) {
    let p = Programme::new(&app).await;
    let (coop, _) = p.coop(&app, "Wye Housing").await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Engaged Mentor", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    p.proposed(&app, &request, &mentor, 3).await;

    let cases: [(&str, &str, Value, &str, Errors); 5] = [
        (
            "staff",
            "query Q { me { name ... on User { role } } }",
            json!({}),
            r#"{"me":{"name":"Test Person","role":"STAFF"}}"#,
            vec![],
        ),
        (
            "a provider proposed to the co-op",
            "query Q($o: ID!) { organisation(id: $o) { financialDetails name } }",
            json!({"o": coop}),
            r#"{"organisation":{"financialDetails":null,"name":"Wye Housing"}}"#,
            vec![forbidden("organisation.financialDetails")],
        ),
        (
            "staff",
            "query($x: Boolean = true) { me { name @include(if: $x) role } }",
            json!({}),
            r#"{"me":{"name":"Test Person","role":"STAFF"}}"#,
            vec![],
        ),
        (
            "staff",
            "query($x: Boolean = true) { me { name @skip(if: $x) role } }",
            json!({}),
            r#"{"me":{"role":"STAFF"}}"#,
            vec![],
        ),
        (
            "a provider proposed to the co-op",
            "query($o: ID!, $x: Boolean = true) { organisation(id: $o) { financialDetails @skip(if: $x) name } }",
            json!({"o": coop}),
            r#"{"organisation":{"name":"Wye Housing"}}"#,
            vec![],
        ),
    ];
    for (viewer, query, variables, data, errors) in cases {
        let token = if viewer == "staff" {
            &p.staff
        } else {
            &mentor_token
        };
        let text = answer_text(&app, query, variables, token).await;
        let (got_data, got_errors) = data_and_errors(&text);
        assert_eq!(got_data, data, "{viewer}: {query}: {text}");
        assert_eq!(got_errors, errors, "{viewer}: {query}: {text}");
    }
    app.stop().await;
}

on_both_databases!(
    named_operations_without_a_name_and_variable_defaults_are_answered_as_asked,
    named_operations_and_variable_defaults
);
