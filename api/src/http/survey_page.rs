//! `/s/{token}`: the page behind the link in a survey invitation, where a co-op
//! answers the needs survey without signing in. Plain HTML with labelled
//! fields and no JavaScript. Opening it changes nothing (mail scanners open
//! links); a problem comes back beside its question with what was entered
//! kept; answers can be changed with the same link until the survey closes.
//!
//! Each question's field is named `q<question row id>`; a multi-choice
//! question sends one `q…` pair per ticked box, which is why the form is read
//! as a list of pairs rather than a struct.

use std::collections::HashMap;

use axum::{extract::State, http::StatusCode, response::Html};
use entity::survey_questions::QuestionKind;

use super::form::{PageForm, PageToken};
use super::page::{escape, page, went_wrong};
use crate::{
    error::{ApiError, ErrorCode},
    programme::{
        survey_answers::{
            FieldError, MAX_TEXT_CHARS, RawAnswer, SubmitError, SurveyInvitation, invitation,
            submit,
        },
        surveys::SurveyQuestion,
    },
    state::AppState,
};

type Reply = (StatusCode, Html<String>);

fn not_right() -> Reply {
    (
        StatusCode::NOT_FOUND,
        page(
            "This link is not right",
            "<p>We could not find a survey for this link. Check that the whole link was \
             copied from the email. If you were sent a reminder, use the link in the \
             reminder: it replaces the first one.</p>\
             <p>If it still does not work, reply to the email and the Hive team will help.</p>",
        ),
    )
}

fn closed_page(invitation: Option<&SurveyInvitation>) -> Reply {
    let title = invitation
        .map(|i| format!("<p><strong>{}</strong></p>", escape(&i.survey.title)))
        .unwrap_or_default();
    (
        StatusCode::GONE,
        page(
            "This survey has closed",
            &format!(
                "{title}<p>This survey is no longer taking answers, and answers given \
                 before it closed can no longer be changed. Thank you for your interest.</p>\
                 <p>If you wanted to tell us something, reply to the email and the Hive team \
                 will read it.</p>"
            ),
        ),
    )
}

fn refusal(error: ApiError) -> Reply {
    match error.code() {
        ErrorCode::NotFound => not_right(),
        ErrorCode::Conflict => closed_page(None),
        _ => went_wrong(&error),
    }
}

/// What the form held, per question row id, as typed.
#[derive(Default)]
struct Entered(HashMap<i64, Vec<String>>);

impl Entered {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut entered: HashMap<i64, Vec<String>> = HashMap::new();
        for (name, value) in pairs {
            if let Some(id) = name.strip_prefix('q').and_then(|n| n.parse().ok()) {
                entered.entry(id).or_default().push(value);
            }
        }
        Self(entered)
    }

    /// The answers given so far, as the form would have sent them.
    fn from_invitation(invitation: &SurveyInvitation) -> Self {
        let mut entered: HashMap<i64, Vec<String>> = HashMap::new();
        for answer in &invitation.answers {
            let values = entered.entry(answer.question_id).or_default();
            for choice in &answer.choice_ids {
                values.push(choice.to_string());
            }
            if let Some(number) = answer.number {
                values.push(number.to_string());
            }
            if let Some(text) = &answer.text {
                values.push(text.clone());
            }
        }
        Self(entered)
    }

    fn values(&self, question_id: i64) -> &[String] {
        self.0.get(&question_id).map(Vec::as_slice).unwrap_or(&[])
    }

    fn first(&self, question_id: i64) -> &str {
        self.values(question_id)
            .first()
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The answers to check, one per question of the survey.
    fn answers(&self, questions: &[SurveyQuestion]) -> Vec<RawAnswer> {
        questions
            .iter()
            .map(|question| {
                let id = question.question.id;
                let values = self.values(id);
                let mut answer = RawAnswer {
                    question_id: id,
                    ..RawAnswer::default()
                };
                match question.question.kind {
                    QuestionKind::SingleChoice | QuestionKind::MultiChoice => {
                        // A value that is not a number matches no choice
                        // and is refused as one not offered.
                        answer.choice_ids = values
                            .iter()
                            .filter(|v| !v.is_empty())
                            .map(|v| v.parse().unwrap_or(-1))
                            .collect();
                    }
                    QuestionKind::Scale | QuestionKind::Number => {
                        answer.number = values.first().cloned();
                    }
                    QuestionKind::Text => answer.text = values.first().cloned(),
                }
                answer
            })
            .collect()
    }
}

fn field_id(question_id: i64) -> String {
    format!("q{question_id}")
}

fn error_line(question_id: i64, error: Option<&FieldError>) -> String {
    error
        .map(|error| {
            format!(
                "<p id=\"q{question_id}-error\" style=\"color:#b00020;font-weight:bold;margin:0.3em 0;\">\
                 {}</p>",
                escape(&error.message)
            )
        })
        .unwrap_or_default()
}

/// One question as a fieldset: its prompt as the legend, the problem (if
/// any) under it, then its inputs.
fn question_html(
    question: &SurveyQuestion,
    entered: &Entered,
    error: Option<&FieldError>,
) -> String {
    let q = &question.question;
    let name = field_id(q.id);
    let described = if error.is_some() {
        format!(" aria-describedby=\"{name}-error\"")
    } else {
        String::new()
    };
    let required = if q.required {
        ""
    } else {
        " <span style=\"font-weight:normal;\">(optional)</span>"
    };
    let chosen = entered.values(q.id);
    let is_chosen = |value: &str| chosen.iter().any(|c| c.trim() == value);
    let inputs = match q.kind {
        QuestionKind::SingleChoice | QuestionKind::MultiChoice => {
            let kind = if q.kind == QuestionKind::SingleChoice {
                "radio"
            } else {
                "checkbox"
            };
            question
                .choices
                .iter()
                .map(|choice| {
                    let value = choice.choice.id.to_string();
                    let checked = if is_chosen(&value) { " checked" } else { "" };
                    format!(
                        "<div><label for=\"{name}-{value}\"><input type=\"{kind}\" \
                         id=\"{name}-{value}\" name=\"{name}\" value=\"{value}\"{checked}> {}\
                         </label></div>",
                        escape(&choice.choice.label)
                    )
                })
                .collect::<String>()
        }
        QuestionKind::Scale => {
            let (min, max) = (q.scale_min.unwrap_or(1), q.scale_max.unwrap_or(5));
            let options: String = (min..=max)
                .map(|value| {
                    let checked = if chosen
                        .first()
                        .and_then(|c| c.trim().parse::<f64>().ok())
                        .is_some_and(|c| c == f64::from(value))
                    {
                        " checked"
                    } else {
                        ""
                    };
                    format!(
                        "<label for=\"{name}-{value}\" style=\"margin-right:1em;white-space:nowrap;\">\
                         <input type=\"radio\" id=\"{name}-{value}\" name=\"{name}\" \
                         value=\"{value}\"{checked}> {value}</label> "
                    )
                })
                .collect();
            format!(
                "<p style=\"margin:0.4em 0;\">{options}</p>\
                 <p style=\"font-size:0.9em;color:#5b665f;margin:0;\">{min} is the lowest, {max} the highest.</p>"
            )
        }
        QuestionKind::Number => format!(
            "<label for=\"{name}-input\">Your answer</label> \
             <input type=\"text\" inputmode=\"decimal\" id=\"{name}-input\" name=\"{name}\" \
             value=\"{}\" size=\"12\"{described}>",
            escape(entered.first(q.id))
        ),
        QuestionKind::Text => format!(
            "<label for=\"{name}-input\">Your answer</label><br>\
             <textarea id=\"{name}-input\" name=\"{name}\" rows=\"5\" \
             style=\"width:100%;box-sizing:border-box;\" \
             maxlength=\"{MAX_TEXT_CHARS}\"{described}>{}</textarea>",
            escape(entered.first(q.id))
        ),
    };
    format!(
        "<fieldset id=\"{name}\"{described} style=\"margin:0 0 1.2em;\">\
         <legend><strong>{}</strong>{required}</legend>{}{inputs}</fieldset>",
        escape(&q.prompt),
        error_line(q.id, error),
    )
}

fn form_page(
    token: &str,
    invitation: &SurveyInvitation,
    entered: &Entered,
    errors: &[FieldError],
) -> Html<String> {
    let intro = format!(
        "<p>For <strong>{}</strong>.</p>{}",
        escape(&invitation.organisation_name),
        if invitation.survey.description.is_empty() {
            String::new()
        } else {
            format!("<p>{}</p>", escape(&invitation.survey.description))
        }
    );
    let status = match (&invitation.response, invitation.survey.closes_at) {
        (Some(response), Some(closes)) => format!(
            "<p>You answered on {}. You can change your answers until {}.</p>",
            hive_worker::notify::london_date(response.submitted_at),
            hive_worker::notify::london_time(closes)
        ),
        (None, Some(closes)) => format!(
            "<p>Answers are taken until {}.</p>",
            hive_worker::notify::london_time(closes)
        ),
        _ => String::new(),
    };
    let summary = if errors.is_empty() {
        String::new()
    } else {
        let items: String = errors
            .iter()
            .map(|error| match error.question_id {
                Some(id) => format!("<li><a href=\"#q{id}\">{}</a></li>", escape(&error.message)),
                None => format!("<li>{}</li>", escape(&error.message)),
            })
            .collect();
        format!(
            "<div role=\"alert\" style=\"border:2px solid #b00020;padding:0.5em 1em;margin-bottom:1em;\">\
             <p><strong>Please check your answers:</strong></p><ul>{items}</ul></div>"
        )
    };
    let questions: String = invitation
        .questions
        .iter()
        .map(|question| {
            let error = errors
                .iter()
                .find(|e| e.question_id == Some(question.question.id));
            question_html(question, entered, error)
        })
        .collect();
    let body = format!(
        "{intro}{status}{summary}\
         <form method=\"post\" action=\"/s/{token}\">{questions}\
         <p><button type=\"submit\">Send my answers</button></p></form>",
        token = escape(token),
    );
    page(&escape(&invitation.survey.title), &body)
}

/// GET: the form with any answers given so far, or a page saying the link
/// is not right or the survey has closed.
pub async fn show(State(state): State<AppState>, PageToken(token): PageToken) -> Reply {
    match invitation(&state.db, &token).await {
        Ok(invitation) if !invitation.is_open() => closed_page(Some(&invitation)),
        Ok(invitation) => {
            let entered = Entered::from_invitation(&invitation);
            (
                StatusCode::OK,
                form_page(&token, &invitation, &entered, &[]),
            )
        }
        Err(error) => refusal(error),
    }
}

/// POST: stores the answers (replacing earlier ones); problems come back
/// beside their questions, with what was entered kept.
pub async fn answer(
    State(state): State<AppState>,
    PageToken(token): PageToken,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Reply {
    let invitation = match invitation(&state.db, &token).await {
        Ok(invitation) if !invitation.is_open() => return closed_page(Some(&invitation)),
        Ok(invitation) => invitation,
        Err(error) => return refusal(error),
    };
    let entered = Entered::from_pairs(pairs);
    match submit(&state.db, &token, entered.answers(&invitation.questions)).await {
        Ok(()) => {
            let closes = invitation
                .survey
                .closes_at
                .map(|at| {
                    format!(
                        " You can change them with the same link until {}.",
                        hive_worker::notify::london_time(at)
                    )
                })
                .unwrap_or_default();
            (
                StatusCode::OK,
                page(
                    "Thank you",
                    &format!(
                        "<p>Your answers for <strong>{}</strong> are saved.{closes}</p>\
                         <p>They help the programme offer the support co-ops need.</p>",
                        escape(&invitation.organisation_name)
                    ),
                ),
            )
        }
        Err(SubmitError::Invalid(errors)) => (
            StatusCode::BAD_REQUEST,
            form_page(&token, &invitation, &entered, &errors),
        ),
        Err(SubmitError::Refused(error)) if error.code() == ErrorCode::Conflict => {
            closed_page(Some(&invitation))
        }
        Err(SubmitError::Refused(error)) => refusal(error),
    }
}
