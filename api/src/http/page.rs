//! The frame of the plain HTML pages for people without an account, and the
//! pages for everything that can go wrong before or around them: an unknown
//! address, a wrong method, a form that cannot be read, a server error. A
//! person who follows an emailed link always gets a page in the site's style
//! that says what to do, never a framework's plain text or an empty body.

use axum::{http::StatusCode, response::Html};

use super::request_id;
use crate::error::ApiError;

/// What a page handler returns.
pub type Reply = (StatusCode, Html<String>);

/// A whole page: title and body (already escaped).
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Hive</title></head>\
         <body style=\"font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em;\">\
         <h1>{title}</h1>{body}</body></html>"
    ))
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A page with one paragraph of plain text (escaped here).
pub fn notice(status: StatusCode, title: &str, text: &str) -> Reply {
    (status, page(title, &format!("<p>{}</p>", escape(text))))
}

/// The page for an error nobody could fix by editing the form (the
/// database went away, say): the message, a suggestion to try later, and the
/// request id to quote (the same id is on the log line). 503 when the
/// database was out of reach (`edge` adds `Retry-After` to every 503), else
/// 500.
pub fn went_wrong(error: &ApiError) -> Reply {
    if let Some(detail) = error.internal_detail() {
        tracing::error!(%detail, "page failed");
    }
    let id = request_id::current().unwrap_or_default();
    let (status, title) = if error.is_unavailable() {
        (StatusCode::SERVICE_UNAVAILABLE, "Please try again soon")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
    };
    let body = format!(
        "<p>{} Please try again in a few minutes.</p>\
         <p>If it keeps happening, reply to the email with this reference: \
         <code>{}</code>.</p>",
        escape(error.message()),
        escape(&id)
    );
    (status, page(title, &body))
}

/// Any address Hive has nothing at (the router's fallback).
pub async fn not_found() -> Reply {
    (
        StatusCode::NOT_FOUND,
        page(
            "Nothing here",
            "<p>There is no page at this address. If you followed a link from an email, \
             check that the whole link was copied.</p>",
        ),
    )
}

/// A method a route does not take (the router's fallback for those).
pub async fn method_not_allowed() -> Reply {
    notice(
        StatusCode::METHOD_NOT_ALLOWED,
        "This cannot be done here",
        "This address does not take that kind of request. Open the link from the email \
         in a browser and use the buttons on the page.",
    )
}
