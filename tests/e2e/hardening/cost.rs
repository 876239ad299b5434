//! Cost that counts rows: a list multiplies what it selects by the rows it
//! may return, so a request that would read and send too much is refused
//! before any SQL runs, while the SPA's real screens pass. Also the size of
//! an answer, and the root fields and aliases of an operation.

use serde_json::{Value, json};

use crate::support::{
    Backend, TestApp, first_error_code,
    programme::{Programme, ok},
};
use crate::{on_both_databases, on_both_databases_tuned};

/// A page of 100 requests with their engagements' meetings: 3,501 by the
/// guard's count (100 × (1 + 3 engagements × (1 + 10 meetings × 1)) + 1), so
/// 14 of them cost 49,014 and 15 cost 52,515, either side of 50,000.
fn pages_of_meetings(copies: usize) -> String {
    let fields: String = (0..copies)
        .map(|i| {
            format!("p{i}: supportRequests(first: 100) {{ nodes {{ engagements {{ meetings {{ id }} }} }} }} ")
        })
        .collect();
    format!("{{ {fields} }}")
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

async fn refused_before_any_sql(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let p = Programme::new(&app).await;
    let (baseline, _) = app
        .statements_for("{ __typename }", json!({}), Some(&p.staff))
        .await;

    let (statements, body) = app
        .statements_for(&pages_of_meetings(15), json!({}), Some(&p.staff))
        .await;
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(message(&body).contains("would cost 52515"), "{body}");
    assert!(message(&body).contains("limit is 50000"), "{body}");
    // Which limit, and by how much, for a client to act on.
    let extensions = &body["errors"][0]["extensions"];
    assert_eq!(extensions["limit"], "queryCost", "{body}");
    assert_eq!(extensions["cost"], 52515);
    assert_eq!(extensions["measured"], 52515);
    assert_eq!(extensions["maximum"], 50000);
    assert_eq!(
        statements,
        baseline,
        "only the session lookup ran: {:?}",
        app.statement_log.lock().unwrap()
    );

    // Three hundred aliases of a nested page of a hundred: refused alike.
    let wide: String = (0..300)
        .map(|i| format!("a{i}: organisations(first: 100) {{ edges {{ node {{ name members {{ name }} }} }} }} "))
        .collect();
    let (statements, body) = app
        .statements_for(&format!("{{ {wide} }}"), json!({}), Some(&p.staff))
        .await;
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(statements, baseline);

    // Just under the limit: answered.
    let (status, body) = app
        .graphql(&pages_of_meetings(14), json!({}), Some(&p.staff))
        .await;
    assert_eq!(status, 200, "{body:.300}");
    assert!(body["errors"].is_null(), "{body:.300}");
    assert!(body["data"]["p13"]["nodes"].is_array());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costly_requests_are_refused_before_any_sql_sqlite() {
    refused_before_any_sql(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costly_requests_are_refused_before_any_sql_postgres() {
    refused_before_any_sql(Backend::Postgres).await;
}

/// The request list a staff screen shows: 50 requests with their co-op,
/// topics, current provider and three suggestions each.
const STAFF_SCREEN: &str = "{ supportRequests(first: 50) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
        id status kind goals preferredFormats createdAt
        organisation { id name region stage sector { id name } }
        topics { id name }
        engagements { id status daysAllocated daysUsed provider { id name kind topics { name } } }
        suggestions(first: 3) { rank score summary reasons provider { id name kind regions topics { name } sectors { name } load placesFree reviewAverage } }
    } }
} }";

on_both_databases!(the_spa_screens_pass, |app: TestApp| async move {
    let p = Programme::new(&app).await;
    let mut mentors = Vec::new();
    for i in 0..3 {
        mentors.push(
            p.provider(&app, "MENTOR", &format!("Mentor {i}"), 5, None)
                .await
                .0,
        );
    }
    for i in 0..4 {
        let (coop, _) = p.coop(&app, &format!("Co-op {i}")).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        if i == 0 {
            ok((200, p.propose(&app, &request, &mentors[0], 3).await));
        }
    }
    let body = ok(app.graphql(STAFF_SCREEN, json!({}), Some(&p.staff)).await);
    let edges = body["data"]["supportRequests"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 4);
    assert!(
        edges.iter().any(|e| e["node"]["suggestions"]
            .as_array()
            .is_some_and(|s| !s.is_empty())),
        "{body}"
    );
    app.stop().await;
});

on_both_databases!(
    root_fields_and_aliases_are_capped,
    |app: TestApp| async move {
        let aliased_roots = |n: usize| {
            let fields: String = (0..n).map(|i| format!("r{i}: __typename ")).collect();
            format!("{{ {fields} }}")
        };
        // HIVE_MAX_ROOT_FIELDS is 30.
        let (status, body) = app.graphql(&aliased_roots(30), json!({}), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["r29"], "Query");
        let (status, body) = app.graphql(&aliased_roots(31), json!({}), None).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));
        assert!(message(&body).contains("31 root fields"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["limit"], "rootFields");
        assert_eq!(body["errors"][0]["extensions"]["measured"], 31);
        assert_eq!(body["errors"][0]["extensions"]["maximum"], 30);

        // HIVE_MAX_ALIASES is 100, wherever they are.
        let aliased_leaves = |n: usize| {
            let fields: String = (0..n).map(|i| format!("a{i}: __typename ")).collect();
            format!("{{ __type(name: \"Query\") {{ {fields} }} }}")
        };
        let (status, body) = app.graphql(&aliased_leaves(100), json!({}), None).await;
        assert_eq!(status, 200, "{body:.300}");
        assert_eq!(body["data"]["__type"]["a99"], "__Type");
        let (status, body) = app.graphql(&aliased_leaves(101), json!({}), None).await;
        assert_eq!(status, 400, "{body:.300}");
        assert!(message(&body).contains("101 aliased fields"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["limit"], "aliases");
        assert_eq!(body["errors"][0]["extensions"]["measured"], 101);

        let (status, body) = app.graphql("{ __typename }", json!({}), None).await;
        assert_eq!(
            (status, &body["data"]["__typename"]),
            (200, &json!("Query"))
        );
        app.stop().await;
    }
);

const FULL_INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

on_both_databases!(
    introspection_passes_but_not_nested_without_end,
    |app: TestApp| async move {
        // GraphiQL's and the code generators' own query.
        let body = ok(app.graphql(FULL_INTROSPECTION, json!({}), None).await);
        assert!(
            body["data"]["__schema"]["types"]
                .as_array()
                .is_some_and(|t| t.len() > 50)
        );
        // Types of fields of types of fields: the answer would multiply by
        // the schema at each level.
        let (status, body) = app
            .graphql(
                "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
                json!({}),
                None,
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));
        assert!(message(&body).contains("__type(name:)"), "{body}");
        // Aliases would repeat the whole schema once each.
        for repeated in [
            "{ __schema { a: types { name } b: types { name } } }",
            "{ a: __schema { queryType { name } } b: __schema { queryType { name } } }",
            "{ a: __type(name: \"Query\") { name } b: __type(name: \"Mutation\") { name } }",
        ] {
            let (status, body) = app.graphql(repeated, json!({}), None).await;
            assert_eq!(status, 400, "{repeated}: {body}");
            assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));
        }
        app.stop().await;
    }
);

on_both_databases_tuned!(
    an_answer_too_large_is_refused,
    |settings: &mut hive_worker::Settings| settings.limits.max_response_bytes = 64 * 1024,
    |app: TestApp| async move {
        // About 4 KiB: answered.
        let body = ok(app
            .graphql("{ __schema { types { name } } }", json!({}), None)
            .await);
        assert!(body["data"]["__schema"]["types"].is_array());
        // About 170 KiB: refused, with the limit said.
        let (status, body) = app.graphql(FULL_INTROSPECTION, json!({}), None).await;
        assert_eq!(status, 200, "the request was well-formed and ran");
        assert_eq!(
            first_error_code(&body),
            Some("BAD_USER_INPUT"),
            "{body:.300}"
        );
        assert!(
            message(&body).contains("the limit is 64 KiB"),
            "{body:.300}"
        );
        assert!(body["data"].is_null() || body.get("data").is_none());
        let (status, _) = app.graphql("{ __typename }", json!({}), None).await;
        assert_eq!(status, 200);
        app.stop().await;
    }
);

on_both_databases!(
    body_size_and_depth_limits_hold_both_ways,
    |app: TestApp| async move {
        // HIVE_MAX_BODY_BYTES is 256 KiB: a document padded with a comment to
        // just under it is read; one byte over it is not.
        let body_of = |size: usize| {
            let shell = json!({"query": "{ __typename }\n#"}).to_string();
            let padding = "x".repeat(size - shell.len());
            json!({"query": format!("{{ __typename }}\n#{padding}")}).to_string()
        };
        let post = |body: String| {
            app.http
                .post(format!("{}/graphql", app.base_url))
                .header("content-type", "application/json")
                .header("accept", "application/graphql-response+json")
                .body(body)
                .send()
        };
        let limit = 256 * 1024;
        let response = post(body_of(limit)).await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["__typename"], "Query");
        let response = post(body_of(limit + 1)).await.unwrap();
        assert_eq!(response.status(), 413);
        let body: Value = response.json().await.unwrap();
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));

        // HIVE_MAX_QUERY_DEPTH is 15: fifteen nested fields run, sixteen do
        // not (`__type` and then `ofType` after `ofType`).
        let nested = |levels: usize| {
            format!(
                "{{ __type(name: \"Query\") {{ {}__typename{} }} }}",
                "ofType { ".repeat(levels - 1),
                " }".repeat(levels - 1)
            )
        };
        let (status, body) = app.graphql(&nested(15), json!({}), None).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["errors"].is_null(), "{body}");
        let (status, body) = app.graphql(&nested(16), json!({}), None).await;
        assert_eq!(status, 400, "{body}");
        assert!(message(&body).contains("nested too deep"), "{body}");
        let (status, _) = app.graphql("{ __typename }", json!({}), None).await;
        assert_eq!(status, 200);
        app.stop().await;
    }
);

on_both_databases!(
    a_small_request_gets_a_bounded_list_of_errors,
    |app: TestApp| async move {
        // Two hundred unused variables: two hundred errors, of which fifty
        // are listed and the rest counted.
        let variables: String = (0..200).map(|i| format!("$v{i}: Int ")).collect();
        let (status, body) = app
            .graphql(
                &format!("query({variables}) {{ __typename }}"),
                json!({}),
                None,
            )
            .await;
        assert_eq!(status, 400, "{body:.300}");
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 51, "{body:.300}");
        assert_eq!(errors[50]["message"], "150 more errors were left out.");
        assert_eq!(errors[50]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(errors[50]["extensions"]["leftOut"], 150);
        app.stop().await;
    }
);
