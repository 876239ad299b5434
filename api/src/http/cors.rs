//! Cross-origin calls from the single-page app (CORS, per the Fetch
//! standard): a browser on another origin first asks `OPTIONS /graphql`
//! whether it may send `POST` with `authorization` and `content-type`, then
//! reads the answer only if `Access-Control-Allow-Origin` names its origin.
//!
//! Allowed origins come from `HIVE_CORS_ORIGINS` (default: the origin of
//! `HIVE_PUBLIC_URL`); any other origin gets no CORS headers, so its browser
//! keeps the answer from it. Credentials stay off: the SPA sends a bearer
//! token, never a cookie. Only `/graphql` answers cross-origin; the pages
//! behind emailed links are for people, not scripts.

use std::time::Duration;

use axum::{
    http::{
        HeaderName, HeaderValue, Method, StatusCode,
        header::{ACCEPT, ALLOW, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER},
    },
    response::IntoResponse,
};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may keep a preflight's answer, in seconds (Chromium
/// caps it at 7,200; ten minutes lets a changed list take effect soon).
pub const PREFLIGHT_MAX_AGE_SECS: u64 = 600;

/// The request headers an SPA's GraphQL client sends: the token, the body's
/// type, the media types it accepts, Apollo's client identification and
/// CSRF-prevention headers, and a request id to follow in the logs.
const ALLOWED_HEADERS: [HeaderName; 7] = [
    AUTHORIZATION,
    CONTENT_TYPE,
    ACCEPT,
    HeaderName::from_static("apollographql-client-name"),
    HeaderName::from_static("apollographql-client-version"),
    HeaderName::from_static("apollo-require-preflight"),
    HeaderName::from_static("x-request-id"),
];

/// The CORS layer for `/graphql`, allowing `origins` (already checked to be
/// origins by the settings).
pub fn layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(ALLOWED_HEADERS)
        .expose_headers([HeaderName::from_static("x-request-id"), RETRY_AFTER])
        .max_age(Duration::from_secs(PREFLIGHT_MAX_AGE_SECS))
}

/// `OPTIONS /graphql` that is not a CORS preflight (those the layer answers
/// itself): 204 with the methods `/graphql` takes (RFC 9110 §9.3.7).
pub async fn options() -> impl IntoResponse {
    (StatusCode::NO_CONTENT, [(ALLOW, "GET, POST, OPTIONS")])
}
