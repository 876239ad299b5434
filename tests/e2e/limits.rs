//! Bad requests get a clear error with a code, and the server keeps serving.

use serde_json::{Value, json};

use crate::support::{Backend, TestApp, first_error_code};

async fn post_raw(app: &TestApp, content_type: &str, accept: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("content-type", content_type)
        .header("accept", accept)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON error body, got {text:.200}"));
    (status, body)
}

const MODERN: &str = "application/graphql-response+json";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_clearly() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();

    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "malformed JSON",
            "application/json",
            b"{\"query\": ".to_vec(),
            400,
        ),
        (
            "not a GraphQL request",
            "application/json",
            b"{\"hello\": \"world\"}".to_vec(),
            400,
        ),
        (
            "an empty query",
            "application/json",
            b"{\"query\": \"  \"}".to_vec(),
            400,
        ),
        ("a JSON array", "application/json", b"[1,2,3]".to_vec(), 400),
        (
            "form data",
            "application/x-www-form-urlencoded",
            b"query=%7Bme%7Bname%7D%7D".to_vec(),
            415,
        ),
        (
            "10 MB",
            "application/json",
            vec![b' '; 10 * 1024 * 1024],
            413,
        ),
        (
            "a syntax error",
            "application/json",
            br#"{"query": "{ me { "}"#.to_vec(),
            400,
        ),
        (
            "an unknown field",
            "application/json",
            br#"{"query": "{ spaceships { id } }"}"#.to_vec(),
            400,
        ),
    ];
    for (what, content_type, body, expected) in cases {
        let (status, body) = post_raw(&app, content_type, MODERN, body).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert_eq!(
            first_error_code(&body),
            Some("BAD_USER_INPUT"),
            "{what}: {body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    // A syntax error is told in words, not the parser's grammar rules.
    let (_, body) = post_raw(
        &app,
        "application/json",
        MODERN,
        br#"{"query": "{ me { "}"#.to_vec(),
    )
    .await;
    let said = body["errors"][0]["message"].as_str().unwrap();
    assert!(said.contains("not valid GraphQL at line 1"), "{said}");
    assert!(
        !said.contains("expected") && !said.contains("-->"),
        "{said}"
    );

    // Under plain application/json a well-formed request with errors is a 200.
    let (status, body) = post_raw(
        &app,
        "application/json",
        "application/json",
        br#"{"query": "{ spaceships { id } }"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));

    // Nothing acceptable on offer.
    let (status, _) = post_raw(
        &app,
        "application/json",
        "text/html",
        br#"{"query":"{ me { name } }"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 406);

    // Still serving.
    let (status, body) = app.graphql("{ me { name } }", json!({}), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["me"], Value::Null);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_and_costly_queries_are_refused() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();

    // 200 levels of nesting: refused by the parser's recursion limit or the
    // depth limit, never a stack overflow.
    let deep = format!(
        "{{ {} id {} }}",
        "node(id: \"x\") { ... on User { ".repeat(200),
        " } }".repeat(200)
    );
    let (status, body) = app.graphql(&deep, json!({}), None).await;
    assert_eq!(status, 400, "{body:.300}");
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));

    // Sixteen levels: past the depth limit of fifteen.
    let sixteen = format!(
        "{{ {} id {} }}",
        "node(id: \"x\") { ... on User { ".repeat(16),
        " } }".repeat(16)
    );
    let (status, body) = app.graphql(&sixteen, json!({}), None).await;
    assert_eq!(status, 400, "{body:.300}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nested too deep"),
        "{body:.300}"
    );

    // Many aliases: past the number of fields a document may have.
    let wide: String = (0..6000).map(|i| format!("a{i}: me {{ name }} ")).collect();
    let (status, body) = app.graphql(&format!("{{ {wide} }}"), json!({}), None).await;
    assert_eq!(status, 400, "{body:.300}");
    assert_eq!(
        first_error_code(&body),
        Some("BAD_USER_INPUT"),
        "{body:.300}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("fields"),
        "{body:.300}"
    );

    // Page sizes are capped, and negative ones refused.
    let (_, staff) = app.user(entity::users::Role::Staff, "s@example.coop").await;
    let (_, body) = app
        .graphql(
            "{ users(first: -1) { totalCount } }",
            json!({}),
            Some(&staff),
        )
        .await;
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let (_, body) = app
        .graphql(
            "{ users(after: \"garbage!\") { totalCount } }",
            json!({}),
            Some(&staff),
        )
        .await;
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(
        !body.to_string().contains("base64"),
        "no decoder text: {body}"
    );

    // Still serving.
    let health = app
        .http
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
}
