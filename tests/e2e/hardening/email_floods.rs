//! No inbox flooded: `requestSignIn` once per operation and a few times per
//! address per quarter hour, and a rate per client address on everything
//! anyone may write without an account (GraphQL and the pages alike).

use std::time::Duration;

use entity::{sign_in_tokens, users::Role};
use reqwest::header::HeaderMap;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::support::{TestApp, first_error_code};
use crate::{on_both_databases, on_both_databases_tuned};

const REQUEST: &str = "mutation($email: String!) { requestSignIn(email: $email) { message } }";

/// Clients told apart by `X-Forwarded-For`, as behind a reverse proxy.
fn behind_a_proxy(settings: &mut hive_worker::Settings) {
    settings.limits.trust_forwarded_for = true;
}

/// Every anonymous request counted as a fresh clone counts them, clients
/// told apart as behind a proxy.
fn default_request_allowance(settings: &mut hive_worker::Settings) {
    behind_a_proxy(settings);
    settings.limits.anonymous_requests_per_minute =
        hive_worker::settings::Limits::default().anonymous_requests_per_minute;
}

/// A GraphQL request from `client` (an IP address): status, headers, body.
async fn from(
    app: &TestApp,
    client: &str,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> (u16, HeaderMap, Value) {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("accept", "application/graphql-response+json")
        .header("x-forwarded-for", format!("198.51.100.200, {client}"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

async fn links_written(app: &TestApp) -> u64 {
    sign_in_tokens::Entity::find().count(&app.db).await.unwrap()
}

on_both_databases!(
    many_sign_ins_in_one_operation_send_nothing,
    |app: TestApp| async move {
        app.user(Role::Mentor, "ada@example.coop").await;
        for copies in [200, 2] {
            let fields: String = (0..copies)
                .map(|i| format!("s{i}: requestSignIn(email: \"ada@example.coop\") {{ message }} "))
                .collect();
            let (status, body) = app
                .graphql(&format!("mutation {{ {fields} }}"), json!({}), None)
                .await;
            assert_eq!(status, 400, "{body:.300}");
            assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));
        }
        // Through a fragment, the same.
        let (_, body) = app
            .graphql(
                "mutation { ...Twice } fragment Twice on Mutation { a: requestSignIn(email: \"ada@example.coop\") { message } b: requestSignIn(email: \"ada@example.coop\") { message } }",
                json!({}),
                None,
            )
            .await;
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("once per operation"),
            "{body}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(app.smtp.received_by("ada@example.coop").is_empty());
        assert_eq!(links_written(&app).await, 0);

        // One, on its own, goes.
        let (status, _) = app
            .graphql(REQUEST, json!({"email": "ada@example.coop"}), None)
            .await;
        assert_eq!(status, 200);
        app.smtp
            .wait_for("ada@example.coop", 1, Duration::from_secs(20))
            .await;
        app.stop().await;
    }
);

on_both_databases_tuned!(
    a_burst_for_one_address_sends_its_allowance,
    behind_a_proxy,
    |app: TestApp| async move {
        app.user(Role::Mentor, "ada@example.coop").await;
        // A hundred requests at once from a hundred addresses (so no client rate
        // applies): the per-address allowance, three in a quarter hour, is
        // all that goes, on PostgreSQL too, where eight lookups run at once
        // and the user's row lock is what keeps the count. (Without that lock
        // this sent 4 to 6 in three runs of four.)
        let burst = (0..100).map(|i| {
            let app = &app;
            async move {
                from(
                    app,
                    &format!("203.0.113.{i}"),
                    REQUEST,
                    json!({"email": "ada@example.coop"}),
                    None,
                )
                .await
            }
        });
        let answers = futures::future::join_all(burst).await;
        let first = &answers[0].2;
        for (status, _, body) in &answers {
            assert_eq!(*status, 200, "{body}");
            assert_eq!(body, first, "every answer the same");
        }
        app.smtp
            .wait_for("ada@example.coop", 3, Duration::from_secs(20))
            .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(app.smtp.received_by("ada@example.coop").len(), 3);
        assert_eq!(links_written(&app).await, 3);
        app.stop().await;
    }
);

on_both_databases_tuned!(
    anonymous_writes_are_rate_limited_per_client,
    behind_a_proxy,
    |app: TestApp| async move {
        let (_, staff) = app.user(Role::Staff, "staff@example.coop").await;
        // HIVE_ANONYMOUS_WRITES_PER_MINUTE is 30: thirty pass.
        for i in 0..30 {
            let (status, _, body) = from(
                &app,
                "203.0.113.1",
                REQUEST,
                json!({"email": format!("nobody{i}@example.coop")}),
                None,
            )
            .await;
            assert_eq!(status, 200, "request {i}: {body}");
        }
        // The thirty-first is refused, and told when to come back.
        let (status, headers, body) = from(
            &app,
            "203.0.113.1",
            REQUEST,
            json!({"email": "nobody@example.coop"}),
            None,
        )
        .await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(first_error_code(&body), Some("RATE_LIMITED"), "{body}");
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "Retry-After: {retry}");
        assert_eq!(body["errors"][0]["extensions"]["retryAfter"], json!(retry));

        // Another address is not held back, nor is anyone signed in.
        let (status, _, _) = from(
            &app,
            "203.0.113.2",
            REQUEST,
            json!({"email": "nobody@example.coop"}),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let (status, _, body) = from(
            &app,
            "203.0.113.1",
            "mutation { setDigestFrequency(frequency: WEEKLY) { digestFrequency } }",
            json!({}),
            Some(&staff),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body["errors"].is_null(), "{body}");

        // The pages' form posts share the allowance: spent for the first
        // address, thirty for a fresh one, then a page that says to wait.
        let post = |client: &'static str| {
            app.http
                .post(format!("{}/u/no-such-link", app.base_url))
                .header("x-forwarded-for", client)
                .form(&[("List-Unsubscribe", "One-Click")])
                .send()
        };
        let refused = post("203.0.113.1").await.unwrap();
        assert_eq!(refused.status(), 429);
        for _ in 0..30 {
            assert_eq!(post("203.0.113.3").await.unwrap().status(), 404);
        }
        let refused = post("203.0.113.3").await.unwrap();
        assert_eq!(refused.status(), 429);
        assert!(refused.headers().contains_key("retry-after"));
        assert!(
            refused
                .headers()
                .get("content-type")
                .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"))
        );
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("<h1>Please wait a moment</h1>")
        );

        // A normal read still answers, from anyone.
        let (status, _, _) = from(&app, "203.0.113.1", "{ __typename }", json!({}), None).await;
        assert_eq!(status, 200);
        app.stop().await;
    }
);

on_both_databases_tuned!(
    anonymous_requests_are_rate_limited_per_client,
    default_request_allowance,
    |app: TestApp| async move {
        // HIVE_ANONYMOUS_REQUESTS_PER_MINUTE is 600, a tenth of them at once:
        // sixty quick requests pass, then one every tenth of a second, so a
        // client asking as fast as it can is held back after sixty and a few
        // more (as many tenths of a second as the sixty took).
        let started = std::time::Instant::now();
        let mut passed = 0u64;
        let refused = loop {
            let (status, headers, body) =
                from(&app, "203.0.113.7", "{ __typename }", json!({}), None).await;
            if status == 429 {
                break (headers, body);
            }
            assert_eq!(status, 200, "{body}");
            passed += 1;
            assert!(passed < 1_000, "never held back");
        };
        let refill = started.elapsed().as_millis() as u64 / 100;
        assert!(
            (60..=60 + refill + 2).contains(&passed),
            "{passed} passed in {:?}",
            started.elapsed()
        );
        let (headers, body) = refused;
        assert_eq!(first_error_code(&body), Some("RATE_LIMITED"), "{body}");
        assert!(headers.contains_key("retry-after"));
        // Another address has its own allowance.
        let (status, _, _) = from(&app, "203.0.113.8", "{ __typename }", json!({}), None).await;
        assert_eq!(status, 200);
        app.stop().await;
    }
);

/// One anonymous request a second per address (a burst of six), so that a
/// test's checks after using it up come well within the second.
fn a_request_a_second(settings: &mut hive_worker::Settings) {
    behind_a_proxy(settings);
    settings.limits.anonymous_requests_per_minute = 60;
}

/// Uses up an address's anonymous requests.
async fn use_up(app: &TestApp, client: &str) {
    for _ in 0..100 {
        let (status, _, _) = from(app, client, "{ __typename }", json!({}), None).await;
        if status == 429 {
            return;
        }
    }
    panic!("{client} was never held back");
}

on_both_databases_tuned!(
    every_request_without_a_session_counts,
    a_request_a_second,
    |app: TestApp| async move {
        let (_, staff) = app.user(Role::Staff, "staff@example.coop").await;
        let client = "203.0.113.7";
        // Credentials that are not a session do not escape the count: another
        // scheme, or a bearer token that names no session (each one a lookup).
        for header in [
            "Basic eDp5",
            "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            use_up(&app, client).await;
            let response = app
                .http
                .post(format!("{}/graphql", app.base_url))
                .header("accept", "application/graphql-response+json")
                .header("x-forwarded-for", client)
                .header("authorization", header)
                .json(&json!({"query": "{ __typename }"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 429, "{header}");
        }
        // The pages, and the operational endpoints that ask the database.
        for path in ["/s/no-such-link", "/readyz", "/metrics"] {
            use_up(&app, client).await;
            let response = app
                .http
                .get(format!("{}{path}", app.base_url))
                .header("x-forwarded-for", client)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 429, "{path}");
        }
        // Signed-in requests are not counted.
        use_up(&app, client).await;
        let (status, _, body) =
            from(&app, client, "{ me { name } }", json!({}), Some(&staff)).await;
        assert_eq!(status, 200, "{body}");
        // A second later, one more.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let (status, _, body) = from(&app, client, "{ __typename }", json!({}), None).await;
        assert_eq!(status, 200, "{body}");
        app.stop().await;
    }
);
