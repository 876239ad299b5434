//! A request id for every request: in the `x-request-id` response header, in
//! every log line written while the request runs (a `request` span), and on
//! every INTERNAL outcome a person sees (the error page, or the GraphQL
//! error's `extensions.requestId`), so a report can be matched to its log.
//!
//! Always made here, never taken from the client: an id a client chose could
//! forge or muddle the log.

use axum::{extract::Request, http::HeaderValue, middleware::Next, response::Response};
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, if called within one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// 64 random bits in hex: unique enough to find a line in a day's log.
fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The first segment of a path (`/s`, `/graphql`): enough to tell requests
/// apart in a log, without the secret tokens later segments carry.
fn area(path: &str) -> &str {
    let end = path[1.min(path.len())..]
        .find('/')
        .map_or(path.len(), |i| i + 1);
    &path[..end]
}

/// The middleware: gives the request its id and span.
pub async fn assign(request: Request, next: Next) -> Response {
    let id = new_id();
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        area = %area(request.uri().path()),
    );
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_area_leaves_tokens_out() {
        assert_eq!(area("/s/secret-token"), "/s");
        assert_eq!(area("/graphql"), "/graphql");
        assert_eq!(area("/"), "/");
        assert_eq!(area(""), "");
    }
}
