//! GraphiQL works with no internet: its page and every file it references
//! come from Hive, under a policy that lets no other origin's script run;
//! and `GET /graphql` gives the page only to a browser asking for HTML,
//! while a GraphQL client gets JSON (400 when it sent no query). None of
//! this reads the database, so it runs on SQLite alone.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::support::{Backend, TestApp, first_error_code};

/// What Chromium sends when a person opens an address.
pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,\
                                  image/avif,image/webp,*/*;q=0.8";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The values of `attribute="…"` in `html`.
fn attributes<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let marker = format!("{attribute}=\"");
    html.match_indices(&marker)
        .filter_map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// A reference that leaves Hive: an absolute or protocol-relative URL.
fn leaves(reference: &str) -> bool {
    let reference = reference.trim().trim_matches(['"', '\'']);
    reference.starts_with("//") || reference.contains("://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_and_everything_it_loads_come_from_hive() {
    let app = TestApp::start(Backend::Sqlite).await.expect("SQLite");
    let response = app
        .http
        .get(format!(
            "{}/graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D",
            app.base_url
        ))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(header(&headers, "content-type").starts_with("text/html"));
    let policy = header(&headers, "content-security-policy").to_string();
    let directive = |name: &str| {
        policy
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {policy}"))
            .to_string()
    };
    assert_eq!(directive("default-src"), "default-src 'none'");
    assert_eq!(
        directive("script-src"),
        "script-src 'self'",
        "no inline, no CDN"
    );
    assert_eq!(directive("connect-src"), "connect-src 'self'");
    assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'");
    assert!(!policy.contains("http"), "{policy}");
    let html = response.text().await.unwrap();

    // Every script is a file (no inline script), and every file is Hive's.
    assert_eq!(
        html.matches("<script").count(),
        attributes(&html, "src").len(),
        "{html}"
    );
    let references: Vec<&str> = attributes(&html, "src")
        .into_iter()
        .chain(attributes(&html, "href"))
        .collect();
    assert_eq!(references.len(), 6, "{references:?}");
    let page_url = reqwest::Url::parse(&format!("{}/graphql", app.base_url)).unwrap();
    for reference in references {
        assert!(!leaves(reference), "{reference}");
        let url = page_url.join(reference).unwrap();
        assert_eq!(url.origin(), page_url.origin(), "{reference}");
        let response = app.http.get(url.clone()).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let headers = response.headers().clone();
        let cache = header(&headers, "cache-control");
        assert!(
            cache.contains("max-age=31536000") && cache.contains("immutable"),
            "{url}: {cache}"
        );
        let kind = header(&headers, "content-type").to_string();
        let body = response.text().await.unwrap();
        assert!(body.len() > 100, "{url}");
        if reference.contains(".css") {
            assert!(kind.starts_with("text/css"), "{url}: {kind}");
            assert!(!body.contains("@import"), "{url}");
            for (at, _) in body.match_indices("url(") {
                let target = &body[at + 4..(at + 64).min(body.len())];
                assert!(
                    target.trim_start_matches(['"', '\'']).starts_with("data:"),
                    "{url} loads {target}"
                );
            }
        } else {
            assert!(kind.starts_with("text/javascript"), "{url}: {kind}");
            for loader in [
                "importScripts(\"http",
                "import(\"http",
                "sourceMappingURL=",
                "unpkg.com",
                "cdn.jsdelivr.net",
                "esm.sh",
            ] {
                assert!(!body.contains(loader), "{url} contains {loader}");
            }
        }
    }
    let response = app
        .http
        .get(format!("{}/graphiql/elsewhere.js", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_graphql_gives_html_to_browsers_and_json_to_clients() {
    let app = TestApp::start(Backend::Sqlite).await.expect("SQLite");
    let get = |accept: Option<&'static str>, query: Option<&'static str>| {
        let mut request = app.http.get(format!("{}/graphql", app.base_url));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        if let Some(query) = query {
            request = request.query(&[("query", query)]);
        }
        request.send()
    };

    // A browser gets the page, with or without a query in the address.
    for query in [None, Some("{ __typename }")] {
        let response = get(Some(BROWSER_ACCEPT), query).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(header(response.headers(), "content-type").starts_with("text/html"));
        assert!(response.text().await.unwrap().contains("GraphiQL"));
    }

    // A client asking for JSON gets its query run...
    for accept in [
        Some("application/graphql-response+json"),
        Some("application/json"),
        Some("*/*"),
        None,
    ] {
        let response = get(accept, Some("{ __typename }")).await.unwrap();
        assert_eq!(response.status(), 200, "{accept:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["__typename"], "Query", "{accept:?}");
        // ...and, without a query, a GraphQL error saying what to send.
        let response = get(accept, None).await.unwrap();
        assert_eq!(response.status(), 400, "{accept:?}");
        assert!(header(response.headers(), "content-type").contains("json"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("?query="),
            "{body}"
        );
    }
    app.stop().await;
}
