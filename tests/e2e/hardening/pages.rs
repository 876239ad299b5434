//! The pages for people without an account: every answer carries the
//! security headers, every refusal is a page in the site's style with the
//! right status (never framework text or an empty body), and a server error
//! shows the request id that is on its log line.

use reqwest::{Method, Response};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::support::TestApp;
use crate::{on_both_databases, on_both_databases_tuned};

/// A token of the right shape that opens nothing.
const UNKNOWN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Every page route, as (method, path).
fn page_routes() -> Vec<(Method, String)> {
    let mut routes = vec![
        (Method::GET, "/sign-in?token=x".to_string()),
        (Method::POST, "/sign-in".to_string()),
    ];
    for prefix in ["/m/", "/u/", "/r/", "/s/"] {
        routes.push((Method::GET, format!("{prefix}{UNKNOWN}")));
        routes.push((Method::POST, format!("{prefix}{UNKNOWN}")));
    }
    routes.push((Method::POST, format!("/u/{UNKNOWN}/resubscribe")));
    // The calendar feed (GET only; a POST is the 405 page).
    routes.push((Method::GET, format!("/calendar/{UNKNOWN}.ics")));
    routes.push((Method::POST, format!("/calendar/{UNKNOWN}.ics")));
    routes
}

fn assert_security_headers(what: &str, response: &Response) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
    };
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert!(
        header("content-security-policy").contains("frame-ancestors 'none'"),
        "{what}"
    );
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
    assert!(!header("x-request-id").is_empty(), "{what}");
}

/// A human page: HTML, a heading, none of the framework's words.
async fn assert_human_page(what: &str, response: Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status, "{what}");
    assert_security_headers(what, &response);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/html"),
        "{what}: {content_type}"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<h1>") && page.contains("· Hive</title>"),
        "{what}: {page}"
    );
    for framework in [
        "Failed to",
        "deserialize",
        "extractor",
        "Invalid URL",
        "Content-Type",
    ] {
        assert!(
            !page.contains(framework),
            "{what}: framework text {framework:?}: {page}"
        );
    }
    page
}

on_both_databases!(
    every_page_sends_the_security_headers,
    |app: TestApp| async move {
        for (method, path) in page_routes() {
            let what = format!("{method} {path}");
            let mut request = app
                .http
                .request(method.clone(), format!("{}{path}", app.base_url));
            if method == Method::POST {
                request = request.form(&[("answer", "accept")]);
            }
            let response = request.send().await.unwrap();
            assert_security_headers(&what, &response);
            assert!(
                response
                    .headers()
                    .get("strict-transport-security")
                    .is_none(),
                "{what}: no HSTS over plain http"
            );
            assert!(!response.text().await.unwrap().is_empty(), "{what}");
        }
        app.stop().await;
    }
);

on_both_databases_tuned!(
    https_deployments_send_hsts,
    |settings: &mut hive_worker::Settings| settings.public_url = "https://hive.example".into(),
    |app: TestApp| async move {
        for (method, path) in page_routes() {
            let response = app
                .http
                .request(method.clone(), format!("{}{path}", app.base_url))
                .send()
                .await
                .unwrap();
            let hsts = response.headers().get("strict-transport-security");
            assert!(
                hsts.is_some_and(|v| v.to_str().unwrap().starts_with("max-age=")),
                "{method} {path}"
            );
        }
        app.stop().await;
    }
);

on_both_databases!(every_refusal_is_a_page, |app: TestApp| async move {
    let url = |path: &str| format!("{}{path}", app.base_url);
    let http = &app.http;

    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "a missing form field",
            http.post(url(&format!("/m/{UNKNOWN}")))
                .form(&[("reason", "busy")]),
            400,
        ),
        (
            "a form field sent twice",
            http.post(url(&format!("/r/{UNKNOWN}")))
                .form(&[("comments", "one"), ("comments", "two")]),
            400,
        ),
        (
            "a body too large",
            http.post(url(&format!("/s/{UNKNOWN}")))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("q1={}", "x".repeat(300 * 1024))),
            413,
        ),
        (
            "the wrong content type",
            http.post(url(&format!("/s/{UNKNOWN}")))
                .json(&json!({"q1": "x"})),
            415,
        ),
        (
            "no content type",
            http.post(url("/sign-in")).body("token=x"),
            415,
        ),
        ("bad percent-encoding", http.get(url("/s/%FF%FE")), 404),
        ("a broken escape", http.get(url("/r/abc%E0%A4%A")), 404),
        (
            "a token that cannot be one",
            http.get(url(&format!("/m/{}", "x".repeat(500)))),
            404,
        ),
        ("an unknown address", http.get(url("/nowhere")), 404),
        ("an empty token", http.get(url("/s/")), 404),
        (
            "an overlong URL",
            http.get(url(&format!("/s/{}", "x".repeat(9_000)))),
            414,
        ),
        (
            "a method a page does not take",
            http.put(url(&format!("/s/{UNKNOWN}"))),
            405,
        ),
        (
            "a method a page does not take",
            http.delete(url("/sign-in")),
            405,
        ),
    ];
    for (what, request, status) in cases {
        let response = request.send().await.unwrap();
        assert_human_page(what, response, status).await;
    }
    // The server still answers a normal page.
    let response = http.get(url("/sign-in?token=x")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await;
});

on_both_databases!(
    a_server_error_shows_its_request_id,
    |app: TestApp| async move {
        // A fault no one could fix from the form: the table behind review
        // links has gone.
        app.db
            .execute_unprepared("ALTER TABLE reviews RENAME TO reviews_elsewhere")
            .await
            .unwrap();
        let response = app
            .http
            .get(format!("{}/r/{UNKNOWN}", app.base_url))
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let page = assert_human_page("the review page", response, 500).await;
        assert!(page.contains(&format!("<code>{id}</code>")), "{page}");
        assert!(!page.contains("reviews"), "no SQL shown: {page}");

        // GraphQL says the same, with the id in `extensions`.
        let response = app
            .http
            .post(format!("{}/graphql", app.base_url))
            .json(&json!({"query": "query($t: String!) { reviewInvitation(token: $t) { answered } }", "variables": {"t": UNKNOWN}}))
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "INTERNAL",
            "{body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["requestId"],
            id.as_str(),
            "{body}"
        );
        assert!(
            !body.to_string().contains("reviews_"),
            "no SQL shown: {body}"
        );

        app.db
            .execute_unprepared("ALTER TABLE reviews_elsewhere RENAME TO reviews")
            .await
            .unwrap();
        app.stop().await;
    }
);
