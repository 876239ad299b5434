//! `/u/{token}`: one-click unsubscribe, behind the link in the footer and the
//! `List-Unsubscribe` header of every reminder, digest and survey email.
//! Opening the page changes nothing (mail scanners open links); the button,
//! or a mail client's RFC 8058 one-click POST, does. `/u/{token}/resubscribe`
//! undoes it. The link works for as long as its message exists.

use axum::{extract::State, http::StatusCode, response::Html};
use entity::emails;
use hive_worker::{
    preferences::{self, OptOut},
    tokens::{hash_token, looks_like_token},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::form::PageToken;
use super::page::{escape, page};
use crate::state::AppState;

fn unknown() -> (StatusCode, Html<String>) {
    (
        StatusCode::NOT_FOUND,
        page(
            "This link is not right",
            "<p>We could not find the email this link came from. Check that the whole link \
             was copied, or reply to any Hive email and the team will change your settings.</p>",
        ),
    )
}

fn failed() -> (StatusCode, Html<String>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            "Please try again",
            "<p>Hive could not save your choice just now. Please try again in a minute.</p>",
        ),
    )
}

/// The address and the kind of message a link is about.
async fn resolve(state: &AppState, token: &str) -> Result<Option<(String, OptOut)>, ()> {
    if !looks_like_token(token) {
        return Ok(None);
    }
    let email = emails::Entity::find()
        .filter(emails::Column::UnsubscribeTokenHash.eq(hash_token(token)))
        .one(&state.db)
        .await
        .map_err(|error| tracing::error!(%error, "unsubscribe lookup failed"))?;
    Ok(email.and_then(|email| OptOut::of(email.category).map(|kind| (email.recipient, kind))))
}

pub async fn show(
    State(state): State<AppState>,
    PageToken(token): PageToken,
) -> (StatusCode, Html<String>) {
    let (address, kind) = match resolve(&state, &token).await {
        Ok(Some(found)) => found,
        Ok(None) => return unknown(),
        Err(()) => return failed(),
    };
    let body = format!(
        "<p>Stop sending <strong>{}</strong> to <strong>{}</strong>?</p>\
         <form method=\"post\" action=\"/u/{}\">\
         <p><button type=\"submit\">Unsubscribe</button></p></form>\
         <p>Sign-in links and messages about your matches still come: the programme needs them.</p>",
        kind.words(),
        escape(&address),
        escape(&token),
    );
    (StatusCode::OK, page("Unsubscribe", &body))
}

async fn choose(state: &AppState, token: &str, wanted: bool) -> (StatusCode, Html<String>) {
    let (address, kind) = match resolve(state, token).await {
        Ok(Some(found)) => found,
        Ok(None) => return unknown(),
        Err(()) => return failed(),
    };
    if let Err(error) = preferences::set(&state.db, &address, kind, wanted).await {
        tracing::error!(%error, "saving an email preference failed");
        return failed();
    }
    let body = if wanted {
        format!(
            "<p><strong>{}</strong> will get {} again.</p>",
            escape(&address),
            kind.words()
        )
    } else {
        format!(
            "<p><strong>{}</strong> will get no more {} from Hive.</p>\
             <form method=\"post\" action=\"/u/{}/resubscribe\">\
             <p><button type=\"submit\">Undo: keep sending them</button></p></form>",
            escape(&address),
            kind.words(),
            escape(token),
        )
    };
    (
        StatusCode::OK,
        page(
            if wanted {
                "Subscribed again"
            } else {
                "Unsubscribed"
            },
            &body,
        ),
    )
}

/// The button, or a mail client's one-click POST (its body,
/// `List-Unsubscribe=One-Click`, needs no reading).
pub async fn unsubscribe(
    State(state): State<AppState>,
    PageToken(token): PageToken,
) -> (StatusCode, Html<String>) {
    choose(&state, &token, false).await
}

pub async fn resubscribe(
    State(state): State<AppState>,
    PageToken(token): PageToken,
) -> (StatusCode, Html<String>) {
    choose(&state, &token, true).await
}
