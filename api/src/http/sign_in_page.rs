//! `/sign-in`: where the emailed link lands. Opening the link only shows a
//! button, because mail scanners open links on their own; pressing it spends
//! the link and shows the session token (the SPA does the same through
//! `signIn`).

use axum::{
    extract::{RawQuery, State},
    http::StatusCode,
    response::Html,
};
use serde::Deserialize;

use super::form::PageForm;
use super::page::{escape, page};
use crate::{auth, state::AppState};

#[derive(Deserialize)]
pub struct TokenParam {
    #[serde(default)]
    token: String,
}

/// GET: the button. The token comes from the link's query string; one that
/// is missing, repeated or odd still shows the button, and pressing it says
/// the link is not valid.
pub async fn form(RawQuery(query): RawQuery) -> Html<String> {
    let token = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let param = TokenParam { token };
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
    PageForm(param): PageForm<TokenParam>,
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
