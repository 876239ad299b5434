//! Automatic persisted queries as Apollo Client's persisted-query link and
//! urql's `persistedExchange` use them: a hash alone misses with
//! `PersistedQueryNotFound` / PERSISTED_QUERY_NOT_FOUND, the query sent with
//! its hash is registered, and the hash alone then runs it, by POST and by
//! GET. A wrong hash, a document the guard refuses, and a mutation over GET
//! are refused; the store stays within its bytes; hash-only requests count
//! against the anonymous allowance like any other.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{TestApp, first_error_code};
use crate::{on_both_databases, on_both_databases_tuned};

const MODERN: &str = "application/graphql-response+json";

fn sha256(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
}

/// POSTs `query` (empty: left out, as the link does) with `hash`.
async fn post(
    app: &TestApp,
    query: &str,
    hash: &str,
    variables: Value,
    token: Option<&str>,
) -> (u16, Value) {
    let mut body = json!({"variables": variables, "extensions": persisted(hash)});
    if !query.is_empty() {
        body["query"] = json!(query);
    }
    let mut request = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("accept", MODERN)
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// GETs a hash alone, as Apollo's link does with `useGETForHashedQueries`.
async fn get(app: &TestApp, hash: &str, variables: Value, operation: &str) -> (u16, Value) {
    let response = app
        .http
        .get(format!("{}/graphql", app.base_url))
        .query(&[
            ("operationName", operation),
            ("variables", &variables.to_string()),
            ("extensions", &persisted(hash).to_string()),
        ])
        .header("accept", MODERN)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn assert_miss((status, body): &(u16, Value)) {
    assert_eq!(*status, 200, "{body}");
    assert_eq!(
        body["errors"][0]["message"], "PersistedQueryNotFound",
        "{body}"
    );
    assert_eq!(
        first_error_code(body),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
}

const TOPICS: &str = "query Topics($n: Int!) { topics(first: $n) { totalCount } }";

on_both_databases!(
    a_hash_misses_then_registers_then_hits,
    |app: TestApp| async move {
        let (_, staff) = app.user(entity::users::Role::Staff, "apq@hive.test").await;
        let hash = sha256(TOPICS);
        let n = json!({"n": 2});

        // Unknown: both ways.
        assert_miss(&post(&app, "", &hash, n.clone(), Some(&staff)).await);
        assert_miss(&get(&app, &hash, n.clone(), "Topics").await);

        // The query with its hash runs and is kept.
        let (status, body) = post(&app, TOPICS, &hash, n.clone(), Some(&staff)).await;
        assert_eq!(status, 200, "{body}");
        let total = body["data"]["topics"]["totalCount"].clone();
        assert!(total.is_number(), "{body}");

        // The hash alone now runs it: POST, and GET (signed in and not).
        let (status, body) = post(&app, "", &hash, n.clone(), Some(&staff)).await;
        assert_eq!(
            (status, &body["data"]["topics"]["totalCount"]),
            (200, &total)
        );
        let response = app
            .http
            .get(format!("{}/graphql", app.base_url))
            .query(&[
                ("variables", n.to_string()),
                ("extensions", persisted(&hash).to_string()),
            ])
            .header("accept", MODERN)
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["topics"]["totalCount"], total, "{body}");
        let (_, body) = get(&app, &hash, n.clone(), "Topics").await;
        assert_eq!(
            first_error_code(&body),
            Some("UNAUTHENTICATED"),
            "a persisted query reads under the same rules: {body}"
        );

        // A hash that is not the query's: refused, and kept under neither.
        let other = "{ __typename }";
        let wrong = sha256("{ __typename  }");
        let (status, body) = post(&app, other, &wrong, json!({}), None).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert!(body.get("data").is_none(), "not run: {body}");
        assert_miss(&post(&app, "", &wrong, json!({}), None).await);
        assert_miss(&post(&app, "", &sha256(other), json!({}), None).await);

        // Malformed extensions are the client's error, not a miss.
        for extension in [
            json!({"persistedQuery": {"version": 2, "sha256Hash": hash}}),
            json!({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}),
        ] {
            let response = app
                .http
                .post(format!("{}/graphql", app.base_url))
                .header("accept", MODERN)
                .json(&json!({"extensions": extension}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{extension}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        }

        // urql's retry after a miss carries `miss: true`; it registers too.
        let urql = "{ me { id } }";
        let response = app
            .http
            .post(format!("{}/graphql", app.base_url))
            .header("accept", MODERN)
            .bearer_auth(&staff)
            .json(&json!({"query": urql, "extensions": {"persistedQuery": {
                "version": 1, "sha256Hash": sha256(urql), "miss": true}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (_, body) = post(&app, "", &sha256(urql), json!({}), Some(&staff)).await;
        assert!(body["data"]["me"]["id"].is_string(), "{body}");

        // The guard measures a persisted document like any other, and one it
        // refuses is not kept.
        let aliases: String = (0..101).map(|i| format!("a{i}: __typename ")).collect();
        let costly = format!("{{ {aliases}}}");
        let (status, body) = post(&app, &costly, &sha256(&costly), json!({}), None).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["limit"], "aliases",
            "{body}"
        );
        assert_miss(&post(&app, "", &sha256(&costly), json!({}), None).await);

        // A persisted mutation is refused over GET (405), and runs by POST.
        let mutation = "mutation Noop { __typename }";
        let hash = sha256(mutation);
        let (status, body) = post(&app, mutation, &hash, json!({}), None).await;
        assert_eq!(
            (status, &body["data"]["__typename"]),
            (200, &json!("Mutation"))
        );
        let response = app
            .http
            .get(format!("{}/graphql", app.base_url))
            .query(&[("extensions", persisted(&hash).to_string())])
            .header("accept", MODERN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "POST");
        let (status, body) = post(&app, "", &hash, json!({}), None).await;
        assert_eq!(
            (status, &body["data"]["__typename"]),
            (200, &json!("Mutation"))
        );
        app.stop().await;
    }
);

/// Room for about three of the documents below (each ~1 KB of text plus the
/// store's 160 bytes an entry).
const CACHE_BYTES: usize = 3_600;

on_both_databases_tuned!(
    the_store_keeps_to_its_bytes_and_drops_the_oldest,
    |settings: &mut hive_worker::Settings| {
        settings.limits.persisted_query_cache_bytes = CACHE_BYTES;
    },
    |app: TestApp| async move {
        // Ten documents of 1,000 bytes each: more than three times the bound.
        let documents: Vec<String> = (0..10)
            .map(|n| {
                let head = format!("{{ __typename }} # document {n} ");
                format!("{head}{}", "x".repeat(1_000 - head.len()))
            })
            .collect();
        for document in &documents {
            let (status, body) = post(&app, document, &sha256(document), json!({}), None).await;
            assert_eq!(
                (status, &body["data"]["__typename"]),
                (200, &json!("Query"))
            );
        }
        let mut kept = Vec::new();
        for (n, document) in documents.iter().enumerate() {
            let (status, body) = post(&app, "", &sha256(document), json!({}), None).await;
            assert_eq!(status, 200, "{body}");
            if body["data"]["__typename"] == "Query" {
                kept.push(n);
            } else {
                assert_miss(&(status, body));
            }
        }
        // The newest are kept, the oldest dropped, and what is kept fits.
        assert_eq!(kept, vec![7, 8, 9], "kept: {kept:?}");
        assert!(kept.len() * (1_000 + 160) <= CACHE_BYTES);

        // A document larger than the whole store runs, but is not kept (and
        // drops nothing).
        let huge = format!("{{ __typename }} #{}", "y".repeat(CACHE_BYTES));
        let (status, body) = post(&app, &huge, &sha256(&huge), json!({}), None).await;
        assert_eq!(
            (status, &body["data"]["__typename"]),
            (200, &json!("Query"))
        );
        assert_miss(&post(&app, "", &sha256(&huge), json!({}), None).await);
        let (_, body) = post(&app, "", &sha256(&documents[9]), json!({}), None).await;
        assert_eq!(body["data"]["__typename"], "Query", "{body}");
        app.stop().await;
    }
);

on_both_databases_tuned!(
    hash_only_requests_count_against_the_anonymous_allowance,
    |settings: &mut hive_worker::Settings| {
        // Ten a minute, one at once.
        settings.limits.anonymous_requests_per_minute = 10;
    },
    |app: TestApp| async move {
        let query = "{ __typename }";
        let (status, _) = post(&app, query, &sha256(query), json!({}), None).await;
        assert_eq!(status, 200);
        let mut refused = None;
        for _ in 0..5 {
            let response = get(&app, &sha256(query), json!({}), "").await;
            if response.0 == 429 {
                refused = Some(response.1);
                break;
            }
        }
        let body = refused.expect("hash-only GETs are charged like any request");
        assert_eq!(first_error_code(&body), Some("RATE_LIMITED"), "{body}");
        app.stop().await;
    }
);
