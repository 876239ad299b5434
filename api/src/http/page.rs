//! The frame of the plain HTML pages for people without an account.

use axum::{http::StatusCode, response::Html};

use crate::error::ApiError;

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

/// The page for an error nobody could fix by editing the form (the
/// database went away, say): the message, and a suggestion to try later.
pub fn went_wrong(error: &ApiError) -> (StatusCode, Html<String>) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        page(
            "Something went wrong",
            &format!(
                "<p>{} Please try again in a few minutes.</p>",
                escape(error.message())
            ),
        ),
    )
}
