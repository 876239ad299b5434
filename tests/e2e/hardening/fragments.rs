//! Fragments that multiply: a document whose fragments spread the next one
//! twice is refused in milliseconds however deep it goes, and the server
//! answers everyone else meanwhile.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::on_both_databases;
use crate::support::{TestApp, first_error_code};

/// `depth` levels of fragments, each spreading the next twice, ending in
/// `leaf`: 2^depth copies of it once expanded, in about 50 bytes a level.
fn doubling_fragments(depth: usize, leaf: &str) -> String {
    let mut document = String::from("query { ...F0 } ");
    for level in 0..depth {
        let next = level + 1;
        document.push_str(&format!(
            "fragment F{level} on Query {{ ...F{next} ...F{next} }} "
        ));
    }
    document.push_str(&format!("fragment F{depth} on Query {{ {leaf} }}"));
    document
}

/// A user's `id` spread `spreads` times through one fragment, under `me`:
/// `2 × spreads + 2` fields and spreads once expanded (`me`, each spread and
/// its field, and the fragment's own definition).
fn spread_many(spreads: usize) -> String {
    format!(
        "{{ me {{ {} }} }} fragment Id on User {{ id }}",
        "...Id ".repeat(spreads)
    )
}

fn message(body: &serde_json::Value) -> String {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

on_both_databases!(
    doubling_fragments_are_refused_at_once,
    |app: TestApp| async move {
        // Forty levels (2 KB, 2^40 fields expanded) took over ten minutes of
        // a thread before; the bound here is far from what it takes now
        // (milliseconds), so a slow machine does not fail it.
        for leaf in ["__typename", "...Nowhere ...Nowhere"] {
            let bomb = doubling_fragments(40, leaf);
            assert!(bomb.len() < 2_500, "{} bytes", bomb.len());
            let started = Instant::now();
            let (bombed, meanwhile) = tokio::join!(app.graphql(&bomb, json!({}), None), async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                app.graphql("{ __typename }", json!({}), None).await
            });
            let took = started.elapsed();
            assert!(took < Duration::from_secs(2), "took {took:?}");
            let (status, body) = bombed;
            assert_eq!(status, 400, "{body}");
            assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
            assert!(message(&body).contains("fragment"), "{body}");
            assert_eq!(meanwhile.1["data"]["__typename"], "Query", "{meanwhile:?}");
        }

        // A fragment that spreads itself is refused too (not a stack overflow).
        let (status, body) = app
            .graphql(
                "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
                json!({}),
                None,
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));
        assert!(message(&body).contains("spreads itself"), "{body}");
        app.stop().await;
    }
);

on_both_databases!(
    the_expanded_size_limit_holds_both_ways,
    |app: TestApp| async move {
        // HIVE_MAX_QUERY_FIELDS is 2,000: 999 spreads make exactly 2,000.
        let (status, body) = app.graphql(&spread_many(999), json!({}), None).await;
        assert_eq!(status, 200, "{body:.300}");
        assert!(body["errors"].is_null(), "{body:.300}");
        assert!(body["data"]["me"].is_null(), "no one is signed in");

        let (status, body) = app.graphql(&spread_many(1_000), json!({}), None).await;
        assert_eq!(status, 400, "{body:.300}");
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));
        assert!(
            message(&body).contains("2002 fields and fragment spreads"),
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["limit"], "fields");
        assert_eq!(body["errors"][0]["extensions"]["measured"], 2002);
        assert_eq!(body["errors"][0]["extensions"]["maximum"], 2000);

        // Still serving.
        let (status, body) = app.graphql("{ __typename }", json!({}), None).await;
        assert_eq!(
            (status, &body["data"]["__typename"]),
            (200, &json!("Query"))
        );
        app.stop().await;
    }
);

/// The number of topics, as staff see it.
async fn topic_count(app: &TestApp, staff: &str) -> i64 {
    let (_, body) = app
        .graphql("{ topics { totalCount } }", json!({}), Some(staff))
        .await;
    body["data"]["topics"]["totalCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("{body}"))
}

on_both_databases!(
    a_mutation_field_repeated_under_one_key_is_refused_and_writes_nothing,
    |app: TestApp| async move {
        // async-graphql runs each occurrence of a repeated key, where the
        // specification runs a key once: two writes, one answer.
        let p = crate::support::programme::Programme::new(&app).await;
        let before = topic_count(&app, &p.staff).await;
        for document in [
            r#"mutation { createTopic(name: "twice") { id } createTopic(name: "twice") { id } }"#,
            r#"mutation { createTopic(name: "twice") { id } ... on Mutation { createTopic(name: "twice") { id name } } }"#,
            r#"mutation { ...T ...T } fragment T on Mutation { createTopic(name: "twice") { id } }"#,
        ] {
            let (status, body) = app.graphql(document, json!({}), Some(&p.staff)).await;
            assert_eq!(status, 400, "{document}: {body}");
            assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
            assert!(message(&body).contains("more than once"), "{body}");
        }
        assert_eq!(topic_count(&app, &p.staff).await, before, "nothing written");

        // Under aliases of their own each runs, and `__typename` may repeat.
        let (status, body) = app
            .graphql(
                r#"mutation { a: createTopic(name: "first") { name } b: createTopic(name: "second") { name } __typename __typename }"#,
                json!({}),
                Some(&p.staff),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["a"]["name"], "first", "{body}");
        assert_eq!(body["data"]["b"]["name"], "second", "{body}");
        assert_eq!(topic_count(&app, &p.staff).await, before + 2);
        app.stop().await;
    }
);
