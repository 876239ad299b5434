//! A single-page app on another origin calls `/graphql` from a browser: the
//! CORS preflight passes for the allowed origins (`HIVE_CORS_ORIGINS`, by
//! default the origin of `HIVE_PUBLIC_URL`), the answer names the origin,
//! and any other origin gets no CORS headers (its browser then keeps the
//! answer from its script). Checked here as the browser's requests are, by
//! their headers.

use entity::users::Role;
use reqwest::{Method, header::HeaderMap};
use serde_json::json;

use crate::support::{Backend, TestApp};

const SPA: &str = "https://app.example.org";

async fn preflight(app: &TestApp, origin: &str) -> (u16, HeaderMap) {
    let response = app
        .http
        .request(Method::OPTIONS, format!("{}/graphql", app.base_url))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.headers().clone())
}

async fn post_me(app: &TestApp, origin: &str, token: &str) -> (u16, HeaderMap, serde_json::Value) {
    let response = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("origin", origin)
        .bearer_auth(token)
        .json(&json!({"query": "{ me { name } }"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .unwrap_or("")
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_spa_on_an_allowed_origin_may_call_graphql_and_no_other() {
    let Some(app) = TestApp::start_tuned(Backend::Sqlite, |settings| {
        settings.cors_origins = vec![SPA.to_string()];
    })
    .await
    else {
        return;
    };
    let (_, token) = app.user(Role::Staff, "cors@hive.test").await;

    let (status, headers) = preflight(&app, SPA).await;
    assert!(status == 200 || status == 204, "preflight: {status}");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(SPA));
    assert!(list(&headers, "access-control-allow-methods").contains(&"post".into()));
    let allowed = list(&headers, "access-control-allow-headers");
    for needed in ["authorization", "content-type"] {
        assert!(
            allowed.contains(&needed.to_string()),
            "{needed}: {allowed:?}"
        );
    }
    assert_eq!(header(&headers, "access-control-max-age"), Some("600"));
    assert_eq!(
        header(&headers, "access-control-allow-credentials"),
        None,
        "bearer tokens, never cookies"
    );

    let (status, headers, body) = post_me(&app, SPA, &token).await;
    assert_eq!(status, 200);
    assert!(body["data"]["me"]["name"].is_string(), "{body}");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(SPA));
    assert!(list(&headers, "access-control-expose-headers").contains(&"x-request-id".into()));
    assert!(
        list(&headers, "vary").contains(&"origin".into()),
        "{headers:?}"
    );

    // Another origin: no CORS headers, so its browser keeps the answer from
    // its script (the request itself is answered as any other).
    let (_, headers) = preflight(&app, "https://evil.example").await;
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    let (_, headers, _) = post_me(&app, "https://evil.example", &token).await;
    assert_eq!(header(&headers, "access-control-allow-origin"), None);

    // The pages behind emailed links are not for scripts on other origins.
    let response = app
        .http
        .get(format!("{}/s/unknown-token", app.base_url))
        .header("origin", SPA)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        None
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_public_urls_origin_is_allowed() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    let origin = app.base_url.clone();
    let (status, headers) = preflight(&app, &origin).await;
    assert!(status == 200 || status == 204, "preflight: {status}");
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some(origin.as_str())
    );
    let (_, headers) = preflight(&app, SPA).await;
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    app.stop().await;
}
