//! `/m/{token}`: the page behind the link in a proposal email, where a
//! provider accepts or declines without signing in. Opening it changes
//! nothing (mail scanners open links); the buttons do. Plain HTML, no
//! JavaScript.

use axum::{extract::State, http::StatusCode, response::Html};
use entity::{engagements, organisations, support_requests};
use hive_worker::tokens::{hash_token, looks_like_token};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::form::{PageForm, PageToken};
use super::page::{escape, page};
use crate::{
    programme::engagements::{Responder, respond},
    state::AppState,
};

fn gone() -> (StatusCode, Html<String>) {
    (
        StatusCode::NOT_FOUND,
        page(
            "This link no longer works",
            "<p>The proposal has already been answered, has lapsed, or the link is not right. \
             If you think this is a mistake, reply to the email and the Hive team will help.</p>",
        ),
    )
}

pub async fn show(
    State(state): State<AppState>,
    PageToken(token): PageToken,
) -> (StatusCode, Html<String>) {
    if !looks_like_token(&token) {
        return gone();
    }
    let Ok(Some(engagement)) = engagements::Entity::find()
        .filter(engagements::Column::ResponseTokenHash.eq(hash_token(&token)))
        .one(&state.db)
        .await
    else {
        return gone();
    };
    let Ok(Some((request, Some(organisation)))) =
        support_requests::Entity::find_by_id(engagement.support_request_id)
            .find_also_related(organisations::Entity)
            .one(&state.db)
            .await
    else {
        return gone();
    };
    let body = format!(
        "<p><strong>{}</strong> ({}) would like your help.</p>\
         <p><strong>What they want to achieve:</strong><br>{}</p>\
         <p><strong>Days allocated:</strong> {}</p>\
         <form method=\"post\" action=\"/m/{}\">\
         <p><label for=\"reason\">If you decline, why? (optional)</label><br>\
         <textarea id=\"reason\" name=\"reason\" rows=\"3\" cols=\"50\" maxlength=\"2000\"></textarea></p>\
         <p><button type=\"submit\" name=\"answer\" value=\"accept\">Accept</button> \
         <button type=\"submit\" name=\"answer\" value=\"decline\">Decline</button></p>\
         </form>",
        escape(&organisation.name),
        escape(&organisation.region),
        escape(&request.goals),
        engagement.days_allocated,
        escape(&token),
    );
    (StatusCode::OK, page("A proposed match", &body))
}

#[derive(Deserialize)]
pub struct Answer {
    answer: String,
    #[serde(default)]
    reason: String,
}

pub async fn answer(
    State(state): State<AppState>,
    PageToken(token): PageToken,
    PageForm(answer): PageForm<Answer>,
) -> (StatusCode, Html<String>) {
    let accept = match answer.answer.as_str() {
        "accept" => true,
        "decline" => false,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                page("Please choose", "<p>Press Accept or Decline.</p>"),
            );
        }
    };
    match respond(
        &state.db,
        &state.settings.public_url,
        Responder::Link(&token),
        accept,
        Some(answer.reason),
    )
    .await
    {
        Ok(_) => {
            state.outbox_signal.notify_one();
            state.candidates.invalidate();
            let body = if accept {
                "<p>Thank you. You are matched; you and the co-op have been emailed, and you \
                 can see the engagement when you sign in to Hive.</p>"
            } else {
                "<p>Thank you for letting us know. The Hive team will look for someone else.</p>"
            };
            (
                StatusCode::OK,
                page(if accept { "Accepted" } else { "Declined" }, body),
            )
        }
        Err(error) if error.code() == crate::error::ErrorCode::NotFound => gone(),
        Err(error) => (
            StatusCode::CONFLICT,
            page(
                "This could not be done",
                &format!("<p>{}</p>", escape(error.message())),
            ),
        ),
    }
}
