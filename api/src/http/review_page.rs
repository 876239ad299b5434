//! `/r/{token}`: the page behind the link in a review email, where a party
//! gives their final review without signing in. Opening it changes nothing
//! (mail scanners open links); submitting the form stores the review once.
//! Plain HTML with labelled fields, no JavaScript: a problem is shown beside
//! its field with what was entered kept.

use axum::{extract::State, http::StatusCode, response::Html};
use serde::Deserialize;

use super::form::{PageForm, PageToken};
use super::page::{escape, page, went_wrong};
use crate::{
    error::{ApiError, ErrorCode},
    programme::reviews::{
        Answers, FieldError, MAX_COMMENT_CHARS, RATINGS, ReviewInvitation, Reviewer, invitation,
        submit, validate,
    },
    state::AppState,
};

type Reply = (StatusCode, Html<String>);

fn not_right() -> Reply {
    (
        StatusCode::NOT_FOUND,
        page(
            "This link is not right",
            "<p>We could not find a review for this link. Check that the whole link was \
             copied from the email. If you were sent a reminder, use the link in the \
             reminder: it replaces the first one.</p>\
             <p>If it still does not work, reply to the email and the Hive team will help.</p>",
        ),
    )
}

fn already_answered(status: StatusCode) -> Reply {
    (
        status,
        page(
            "Already answered",
            "<p>This review has already been answered, and each review can be given \
             once. Thank you for taking part.</p>\
             <p>If you want to add something, reply to the email and the Hive team will \
             pass it on.</p>",
        ),
    )
}

/// A lookup or submit error as a page.
fn refusal(error: ApiError) -> Reply {
    match error.code() {
        ErrorCode::NotFound => not_right(),
        ErrorCode::Conflict => already_answered(StatusCode::CONFLICT),
        _ => went_wrong(&error),
    }
}

/// What the form fields held, as typed (kept when the form comes back with
/// a problem).
#[derive(Deserialize, Default, Debug)]
pub struct ReviewForm {
    #[serde(default)]
    usefulness: String,
    #[serde(default)]
    relationship: String,
    #[serde(default, rename = "wouldRecommend")]
    would_recommend: String,
    #[serde(default)]
    comments: String,
}

impl ReviewForm {
    fn rating(&self, field: &str) -> &str {
        match field {
            "usefulness" => &self.usefulness,
            "relationship" => &self.relationship,
            _ => &self.would_recommend,
        }
    }

    fn answers(&self) -> Answers {
        let parse = |value: &str| value.trim().parse::<i32>().ok();
        Answers {
            usefulness: parse(&self.usefulness),
            relationship: parse(&self.relationship),
            would_recommend: parse(&self.would_recommend),
            comments: Some(self.comments.clone()),
        }
    }
}

/// The question and the words at either end of the scale, per rating field.
fn question(field: &str, kind: &str) -> (String, &'static str, &'static str) {
    match field {
        "usefulness" => (
            format!("How useful was the {kind}?"),
            "not useful",
            "very useful",
        ),
        "relationship" => (
            "How well did you work together?".to_string(),
            "not well",
            "very well",
        ),
        _ => (
            format!("Would you recommend the {kind} to another co-op?"),
            "certainly not",
            "certainly",
        ),
    }
}

fn error_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a FieldError> {
    errors.iter().find(|error| error.field == field)
}

/// The error line shown beside a field, linked to it for screen readers.
fn error_line(field: &str, error: Option<&FieldError>) -> String {
    error
        .map(|error| {
            format!(
                "<p id=\"{field}-error\" style=\"color:#b00020;font-weight:bold;margin:0.3em 0;\">\
                 {}</p>",
                escape(&error.message)
            )
        })
        .unwrap_or_default()
}

fn radio_group(field: &str, kind: &str, chosen: &str, error: Option<&FieldError>) -> String {
    let (legend, low, high) = question(field, kind);
    let described = if error.is_some() {
        format!(" aria-describedby=\"{field}-error\"")
    } else {
        String::new()
    };
    let mut options = String::new();
    for value in 1..=5 {
        let text = match value {
            1 => format!("1 ({low})"),
            5 => format!("5 ({high})"),
            n => n.to_string(),
        };
        let checked = if chosen.trim() == value.to_string() {
            " checked"
        } else {
            ""
        };
        options.push_str(&format!(
            "<label for=\"{field}-{value}\" style=\"margin-right:1em;white-space:nowrap;\">\
             <input type=\"radio\" id=\"{field}-{value}\" name=\"{field}\" value=\"{value}\" \
             required{checked}> {text}</label> "
        ));
    }
    format!(
        "<fieldset{described} style=\"margin:0 0 1.2em;\"><legend><strong>{}</strong></legend>\
         {}<p style=\"margin:0.4em 0;\">{options}</p></fieldset>",
        escape(&legend),
        error_line(field, error),
    )
}

fn kind_word(invitation: &ReviewInvitation) -> &'static str {
    match invitation.kind {
        entity::support_requests::EngagementKind::Mentoring => "mentoring",
        entity::support_requests::EngagementKind::Advice => "advice",
    }
}

/// The one who is not answering this review, who will read it.
fn other_party(invitation: &ReviewInvitation) -> &str {
    match invitation.party {
        entity::reviews::ReviewParty::Provider => &invitation.organisation_name,
        entity::reviews::ReviewParty::Client => &invitation.provider_name,
    }
}

fn form_page(
    token: &str,
    invitation: &ReviewInvitation,
    values: &ReviewForm,
    errors: &[FieldError],
) -> Html<String> {
    let kind = kind_word(invitation);
    let about = match invitation.party {
        entity::reviews::ReviewParty::Provider => format!(
            "<p>Your review of the {kind} you gave <strong>{}</strong>.</p>",
            escape(&invitation.organisation_name)
        ),
        entity::reviews::ReviewParty::Client => format!(
            "<p>Your review of the {kind} <strong>{}</strong> had from <strong>{}</strong>.</p>",
            escape(&invitation.organisation_name),
            escape(&invitation.provider_name)
        ),
    };
    let completed = invitation
        .completed_at
        .map(|at| format!("<p>It was completed on {}.</p>", at.format("%-d %B %Y")))
        .unwrap_or_default();
    let summary = if errors.is_empty() {
        String::new()
    } else {
        let items: String = errors
            .iter()
            .map(|error| {
                let target = if error.field == "comments" {
                    "comments".to_string()
                } else {
                    format!("{}-1", error.field)
                };
                format!(
                    "<li><a href=\"#{target}\">{}</a></li>",
                    escape(&error.message)
                )
            })
            .collect();
        format!(
            "<div role=\"alert\" style=\"border:2px solid #b00020;padding:0.5em 1em;margin-bottom:1em;\">\
             <p><strong>Please check your answers:</strong></p><ul>{items}</ul></div>"
        )
    };
    let ratings: String = RATINGS
        .iter()
        .map(|(field, _)| radio_group(field, kind, values.rating(field), error_for(errors, field)))
        .collect();
    let comments_error = error_for(errors, "comments");
    let comments_described = if comments_error.is_some() {
        " aria-describedby=\"comments-error\""
    } else {
        ""
    };
    let body = format!(
        "{about}{completed}{summary}\
         <form method=\"post\" action=\"/r/{token}\">\
         {ratings}\
         <div style=\"margin:0 0 1.2em;\"><label for=\"comments\"><strong>Comments</strong> \
         (optional)</label><br>{comments_error}\
         <textarea id=\"comments\" name=\"comments\" rows=\"6\" \
         style=\"width:100%;box-sizing:border-box;\" \
         maxlength=\"{MAX_COMMENT_CHARS}\"{comments_described}>{comments}</textarea></div>\
         <p style=\"font-size:0.9em;color:#5b665f;\">{other} and the Hive team will read your \
         review. It can be given once.</p>\
         <p><button type=\"submit\">Send my review</button></p>\
         </form>",
        token = escape(token),
        comments_error = error_line("comments", comments_error),
        comments = escape(&values.comments),
        other = escape(other_party(invitation)),
    );
    page("How did it go?", &body)
}

/// GET: the form, or a page saying the link was used or is not right.
pub async fn show(State(state): State<AppState>, PageToken(token): PageToken) -> Reply {
    match invitation(&state.db, &token).await {
        Ok(invitation) if invitation.answered => already_answered(StatusCode::OK),
        Ok(invitation) => (
            StatusCode::OK,
            form_page(&token, &invitation, &ReviewForm::default(), &[]),
        ),
        Err(error) => refusal(error),
    }
}

/// POST: stores the review once; problems come back beside their fields.
pub async fn answer(
    State(state): State<AppState>,
    PageToken(token): PageToken,
    PageForm(values): PageForm<ReviewForm>,
) -> Reply {
    let invitation = match invitation(&state.db, &token).await {
        Ok(invitation) if invitation.answered => {
            return already_answered(StatusCode::CONFLICT);
        }
        Ok(invitation) => invitation,
        Err(error) => return refusal(error),
    };
    if let Err(errors) = validate(values.answers()) {
        return (
            StatusCode::BAD_REQUEST,
            form_page(&token, &invitation, &values, &errors),
        );
    }
    match submit(&state.db, Reviewer::Link(&token), values.answers()).await {
        Ok(_) => {
            // Client ratings feed matching's review averages.
            state.candidates.invalidate();
            (
                StatusCode::OK,
                page(
                    "Thank you",
                    &format!(
                        "<p>Your review is saved. {} and the Hive team will read it, and it \
                         helps the programme support co-ops better.</p>",
                        escape(other_party(&invitation))
                    ),
                ),
            )
        }
        Err(error) => refusal(error),
    }
}
