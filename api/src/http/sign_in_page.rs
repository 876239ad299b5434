//! `/sign-in`: where the emailed link lands. Opening the link only shows a
//! button, because mail scanners open links on their own; pressing it spends
//! the link and shows the session token (the SPA does the same through
//! `signIn`).

use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::Html,
};
use serde::Deserialize;

use crate::{auth, state::AppState};

#[derive(Deserialize)]
pub struct TokenParam {
    #[serde(default)]
    token: String,
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Hive</title></head>\
         <body style=\"font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em;\">\
         <h1>{title}</h1>{body}</body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn form(Query(param): Query<TokenParam>) -> Html<String> {
    page(
        "Sign in to Hive",
        &format!(
            "<form method=\"post\" action=\"/sign-in\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button type=\"submit\">Sign in</button></form>",
            escape(&param.token)
        ),
    )
}

pub async fn submit(
    State(state): State<AppState>,
    Form(param): Form<TokenParam>,
) -> (StatusCode, Html<String>) {
    match auth::redeem_sign_in(&state.db, &param.token, state.settings.session_lifetime).await {
        Ok((token, session, user)) => (
            StatusCode::OK,
            page(
                "You are signed in",
                &format!(
                    "<p>Welcome, {}.</p><p>Your session token (send it as \
                     <code>Authorization: Bearer …</code>), valid until {}:</p>\
                     <p><code id=\"token\">{}</code></p>\
                     <p><a href=\"/graphql\">Open GraphiQL</a></p>",
                    escape(&user.name),
                    session.expires_at.format("%Y-%m-%d %H:%M UTC"),
                    token.expose()
                ),
            ),
        ),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            page(
                "Sign-in link not accepted",
                &format!("<p>{}</p>", escape(error.message())),
            ),
        ),
    }
}
