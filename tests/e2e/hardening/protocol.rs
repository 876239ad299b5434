//! Protocol edges: GET never changes anything, unknown directives and
//! another list's cursors are refused, an empty bearer token is as wrong as
//! any other, and a database outage is a clear, retryable answer.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{TestApp, first_error_code, programme::Programme};

const MODERN: &str = "application/graphql-response+json";
const UNKNOWN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

async fn get(app: &TestApp, query: &str, accept: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/graphql", app.base_url))
        .query(&[("query", query)])
        .header("accept", accept)
        .send()
        .await
        .unwrap()
}

on_both_databases!(get_reads_and_never_writes, |app: TestApp| async move {
    let response = get(&app, "{ __typename }", MODERN).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "Query");

    for mutation in [
        "mutation { requestSignIn(email: \"a@example.coop\") { message } }",
        "query A { __typename } mutation B { signOut }",
    ] {
        let response = get(&app, mutation, MODERN).await;
        assert_eq!(response.status(), 405, "{mutation}");
        assert_eq!(response.headers()["allow"], "POST");
        let body: Value = response.json().await.unwrap();
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(app.smtp.received().is_empty(), "nothing was sent");

    // A browser opening the address gets GraphiQL.
    let response = app
        .http
        .get(format!("{}/graphql", app.base_url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("GraphiQL"));
    app.stop().await;
});

on_both_databases!(
    unknown_directives_and_foreign_cursors_are_refused,
    |app: TestApp| async move {
        for query in [
            "{ __typename @nope }",
            "{ me @nope { id } }",
            "query($n: Int @nope) { users(first: $n) { totalCount } }",
            "{ __typename @deprecated }",
        ] {
            let (status, body) = app.graphql(query, json!({"n": 1}), None).await;
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        }
        let (status, body) = app
            .graphql("{ __typename @include(if: true) }", json!({}), None)
            .await;
        assert_eq!(
            (status, &body["data"]["__typename"]),
            (200, &json!("Query"))
        );

        // A cursor from the user list means nothing to the co-op list.
        let p = Programme::new(&app).await;
        p.coop(&app, "Cursor Co-op").await;
        let (_, body) = app
            .graphql(
                "{ users(first: 1) { edges { cursor } } }",
                json!({}),
                Some(&p.staff),
            )
            .await;
        let cursor = body["data"]["users"]["edges"][0]["cursor"]
            .as_str()
            .unwrap()
            .to_string();
        let (_, body) = app
            .graphql(
                "query($c: String!) { organisations(after: $c) { totalCount } }",
                json!({"c": cursor}),
                Some(&p.staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "after");
        let (_, body) = app
            .graphql(
                "query($c: String!) { users(after: $c) { totalCount } }",
                json!({"c": cursor}),
                Some(&p.staff),
            )
            .await;
        assert!(body["errors"].is_null(), "its own list takes it: {body}");
        app.stop().await;
    }
);

on_both_databases!(
    an_empty_bearer_token_is_refused,
    |app: TestApp| async move {
        for header in ["Bearer", "Bearer ", "bearer    "] {
            let response = app
                .http
                .post(format!("{}/graphql", app.base_url))
                .header("accept", MODERN)
                .header("authorization", header)
                .json(&json!({"query": "{ me { id } }"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{header:?}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        }
        app.stop().await;
    }
);

on_both_databases!(
    a_database_outage_is_retryable_not_a_bare_500,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        // The server's pool is the test's: closing it takes the database away.
        app.db.clone().close().await.unwrap();

        // The sign-in step: 503 with Retry-After, a GraphQL body, INTERNAL.
        let response = app
            .http
            .post(format!("{}/graphql", app.base_url))
            .header("accept", MODERN)
            .bearer_auth(&p.staff)
            .json(&json!({"query": "{ me { id } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = response.json().await.unwrap();
        assert_eq!(first_error_code(&body), Some("INTERNAL"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["requestId"], id.as_str());

        // A field that needs the database, asked anonymously: an error at
        // its path, with the request id.
        let (status, body) = app
            .graphql(
                "query($t: String!) { reviewInvitation(token: $t) { answered } }",
                json!({"t": UNKNOWN}),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(first_error_code(&body), Some("INTERNAL"), "{body}");
        assert!(body["errors"][0]["extensions"]["requestId"].is_string());

        // A page: "try again soon", 503, Retry-After.
        let response = app
            .http
            .get(format!("{}/r/{UNKNOWN}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Please try again soon")
        );

        // What needs no database still answers.
        let (status, _) = app.graphql("{ __typename }", json!({}), None).await;
        assert_eq!(status, 200);
        app.stop().await;
    }
);

on_both_databases!(
    invented_methods_and_odd_ids_get_our_answers,
    |app: TestApp| async move {
        // Any token is a method to hyper; Hive knows seven, and the metrics
        // never take a client's word as a label.
        let invented = reqwest::Method::from_bytes(&b"M".repeat(4_000)).unwrap();
        let response = app
            .http
            .request(invented, format!("{}/", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 501);
        assert!(response.text().await.unwrap().contains("<h1>"));
        let metrics = app
            .http
            .get(format!("{}/metrics", app.base_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!metrics.contains("MMMM"), "the method is not a label");
        assert!(metrics.contains("method=\"other\""), "{metrics:.2000}");

        // An id that does not decode is an unknown survey, in our words.
        let p = Programme::new(&app).await;
        let response = app
            .http
            .get(format!("{}/surveys/%FF/responses.csv", app.base_url))
            .bearer_auth(&p.staff)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        let text = response.text().await.unwrap();
        assert!(
            !text.contains("Invalid URL") && !text.contains("UTF-8"),
            "{text}"
        );
        app.stop().await;
    }
);
