//! What every request passes through on its way in and out: a ceiling on the
//! URL, a deadline for the whole request, the allowance of anonymous form
//! posts, and the security headers on every answer.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{ClientAddress, page::notice};
use crate::{error::ErrorCode, state::AppState};

/// Longest URL (path and query) Hive reads. Real links are under 200 bytes.
/// Hyper itself answers a URL over 64 KiB with a bare 414 before Hive sees it.
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// The policy for every answer but GraphiQL's: nothing loads from anywhere
/// (the pages need only their inline styles), forms post back to Hive, and no
/// other site may frame a page (clickjacking).
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                           base-uri 'none'; frame-ancestors 'none'";

/// Refuses, with a page, a method Hive has no use for (hyper accepts any
/// token as a method, of any length) and a URL too long to be one of Hive's.
pub async fn refuse_odd_requests(request: Request, next: Next) -> Response {
    let known = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::PATCH,
    ];
    if !known.contains(request.method()) {
        return notice(
            StatusCode::NOT_IMPLEMENTED,
            "This cannot be done here",
            "Hive does not know this kind of request.",
        )
        .into_response();
    }
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if length > MAX_URL_BYTES {
        return notice(
            StatusCode::URI_TOO_LONG,
            "This address is too long",
            "This address is longer than any of Hive's. If you followed a link from an email, \
             check that it was copied whole and nothing was added to it.",
        )
        .into_response();
    }
    next.run(request).await
}

/// Ends a request that has run for longer than `HIVE_REQUEST_TIMEOUT_SECS`:
/// whatever it was doing is dropped (an open transaction rolls back) and the
/// client is told, as JSON on `/graphql` and as a page elsewhere.
pub async fn deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.settings.limits.request_timeout;
    let graphql = request.uri().path() == "/graphql";
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(seconds = limit.as_secs(), "request stopped at its deadline");
            let message = format!(
                "The request took longer than {} seconds and was stopped. Ask for less, or try \
                 again later.",
                limit.as_secs()
            );
            let mut response = if graphql {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                    json!({"errors": [{"message": message, "extensions": {
                        "code": ErrorCode::Timeout.as_str(),
                        "requestId": super::request_id::current(),
                    }}]})
                    .to_string(),
                )
                    .into_response()
            } else {
                notice(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Please try again",
                    &message,
                )
                .into_response()
            };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
            response
        }
    }
}

/// Charges every request to the pages for people without an account to its
/// client address (`HIVE_ANONYMOUS_REQUESTS_PER_MINUTE`), and each form post
/// also to its writes (`HIVE_ANONYMOUS_WRITES_PER_MINUTE`); over either, it
/// is answered 429 with `Retry-After` and a page, and not handled.
pub async fn charge_anonymous_pages(
    State(state): State<AppState>,
    client: ClientAddress,
    request: Request,
    next: Next,
) -> Response {
    let posts = request.method() == Method::POST;
    match charge(&state, client, posts) {
        None => next.run(request).await,
        Some(refusal) => refusal,
    }
}

/// Charges requests to the operational endpoints that ask the database
/// (`/readyz`, `/metrics`) to the client address's allowance of requests, so
/// that no one can keep the database busy through them. A scraper or a
/// readiness probe asks far less often.
pub async fn charge_operational(
    State(state): State<AppState>,
    client: ClientAddress,
    request: Request,
    next: Next,
) -> Response {
    match charge(&state, client, false) {
        None => next.run(request).await,
        Some(refusal) => refusal,
    }
}

/// Takes one request (and one write, for a post) from the client's
/// allowances; the 429 page when either is spent.
fn charge(state: &AppState, client: ClientAddress, write: bool) -> Option<Response> {
    let mut charged = state.anonymous_requests.take(client.0, 1);
    if charged.is_ok() && write {
        charged = state.anonymous_writes.take(client.0, 1);
    }
    charged.err().map(|retry| {
        let mut response = notice(
            StatusCode::TOO_MANY_REQUESTS,
            "Please wait a moment",
            &format!(
                "Too many requests have come from your address in the last minute. \
                 Wait {} seconds and try again.",
                retry.seconds()
            ),
        )
        .into_response();
        super::retry_after(&mut response, retry.seconds());
        response
    })
}

/// Headers on every answer. The pages carry secret tokens in their URLs and
/// personal data in their bodies, and GraphQL answers hold personal data, so
/// nothing is cached or sent on as a referrer; no answer may be sniffed as
/// another type or framed. `Strict-Transport-Security` when Hive's public
/// address is https. A handler's own `Content-Security-Policy` or
/// `Cache-Control` (GraphiQL's) is kept. Every 503 says when to come back
/// (`Retry-After`), whichever handler wrote it.
pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let unavailable = response.status() == StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
    }
    if unavailable && !headers.contains_key(header::RETRY_AFTER) {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    }
    if state.settings.public_url.starts_with("https://") {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}
