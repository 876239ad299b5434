//! Answering a needs survey from the emailed link, without an account: the
//! checks every answer goes through and the storing of a response, shared by
//! GraphQL (`submitSurveyResponse`) and the page (`/s/{token}`).
//!
//! Every answer is checked before anything is written, and every problem is
//! reported at once, each against its question, so a form can show it beside
//! the field. A response is stored in one change (its answers replace any
//! earlier ones), so a refused or failed submit leaves the previous answers
//! as they were. Answers can be changed until the survey closes.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{
    organisations, survey_answers, survey_choices, survey_invitations,
    survey_questions::QuestionKind,
    survey_responses,
    surveys::{self, SurveyStatus},
};
use hive_worker::tokens::{hash_token, looks_like_token};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder,
};

use super::{
    change::Change,
    surveys::{SurveyQuestion, load_questions},
};
use crate::{
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Longest TEXT answer, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;
/// Largest NUMBER accepted either side of zero: past any real count or sum
/// of money, and well inside what a float holds exactly enough.
pub const MAX_NUMBER: f64 = 1e12;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawAnswer {
    pub question_id: i64,
    pub choice_ids: Vec<i64>,
    pub number: Option<String>,
    pub text: Option<String>,
}

/// An answer that passed [`validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAnswer {
    pub question_id: i64,
    pub choice_ids: Vec<i64>,
    pub number: Option<f64>,
    pub text: Option<String>,
}

/// A problem with one answer; `question_id` is None for a question that is
/// not in the survey at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub question_id: Option<i64>,
    pub message: String,
}

/// Checks every answer against the survey's questions, reporting all
/// problems: unknown questions, a question answered twice, answers of the
/// wrong kind, choices not offered, one choice where one is asked, scales
/// out of range, numbers that are not numbers, oversize text, and required
/// questions left unanswered. Unanswered optional questions are left out.
pub fn validate(
    questions: &[SurveyQuestion],
    answers: Vec<RawAnswer>,
) -> Result<Vec<ValidAnswer>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut by_question: HashMap<i64, RawAnswer> = HashMap::new();
    let known: HashSet<i64> = questions.iter().map(|q| q.question.id).collect();
    for answer in answers {
        if !known.contains(&answer.question_id) {
            errors.push(FieldError {
                question_id: None,
                message: "An answer is for a question that is not in this survey.".into(),
            });
            continue;
        }
        if by_question.contains_key(&answer.question_id) {
            errors.push(FieldError {
                question_id: Some(answer.question_id),
                message: "This question is answered twice.".into(),
            });
            continue;
        }
        by_question.insert(answer.question_id, answer);
    }
    let mut valid = Vec::new();
    for question in questions {
        let id = question.question.id;
        let mut problem = |message: &str| {
            errors.push(FieldError {
                question_id: Some(id),
                message: message.to_string(),
            })
        };
        let answer = by_question.remove(&id).unwrap_or(RawAnswer {
            question_id: id,
            ..RawAnswer::default()
        });
        let number_text = answer
            .number
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let text = answer
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let kind = question.question.kind;
        let is_choice = matches!(kind, QuestionKind::SingleChoice | QuestionKind::MultiChoice);
        let is_number = matches!(kind, QuestionKind::Scale | QuestionKind::Number);
        if (!is_choice && !answer.choice_ids.is_empty())
            || (!is_number && number_text.is_some())
            || (kind != QuestionKind::Text && text.is_some())
        {
            problem(match kind {
                QuestionKind::SingleChoice | QuestionKind::MultiChoice => {
                    "This question takes a choice."
                }
                QuestionKind::Scale | QuestionKind::Number => "This question takes a number.",
                QuestionKind::Text => "This question takes text.",
            });
            continue;
        }
        let empty = answer.choice_ids.is_empty() && number_text.is_none() && text.is_none();
        if empty {
            if question.question.required {
                problem(match kind {
                    QuestionKind::SingleChoice => "Choose one.",
                    QuestionKind::MultiChoice => "Choose at least one.",
                    QuestionKind::Scale | QuestionKind::Number => "Give a number.",
                    QuestionKind::Text => "Write an answer.",
                });
            }
            continue;
        }
        match kind {
            QuestionKind::SingleChoice | QuestionKind::MultiChoice => {
                let offered: HashSet<i64> = question.choices.iter().map(|c| c.choice.id).collect();
                // A set, so that a form posting thousands of values costs no
                // more than their number.
                let mut seen = HashSet::new();
                let chosen: Vec<i64> = answer
                    .choice_ids
                    .iter()
                    .copied()
                    .filter(|c| seen.insert(*c))
                    .collect();
                if chosen.iter().any(|c| !offered.contains(c)) {
                    problem("Choose from the choices given.");
                } else if kind == QuestionKind::SingleChoice && chosen.len() > 1 {
                    problem("Choose only one.");
                } else {
                    // Stored in the order the question lists them.
                    let ordered: Vec<i64> = question
                        .choices
                        .iter()
                        .map(|c| c.choice.id)
                        .filter(|c| seen.contains(c))
                        .collect();
                    valid.push(ValidAnswer {
                        question_id: id,
                        choice_ids: ordered,
                        number: None,
                        text: None,
                    });
                }
            }
            QuestionKind::Scale => {
                let (min, max) = (
                    question.question.scale_min.unwrap_or(1),
                    question.question.scale_max.unwrap_or(5),
                );
                match number_text.and_then(|n| n.parse::<i32>().ok()) {
                    Some(n) if (min..=max).contains(&n) => valid.push(ValidAnswer {
                        question_id: id,
                        choice_ids: Vec::new(),
                        number: Some(f64::from(n)),
                        text: None,
                    }),
                    _ => problem(&format!("Choose a whole number from {min} to {max}.")),
                }
            }
            QuestionKind::Number => {
                match number_text.and_then(|n| n.replace(',', "").parse::<f64>().ok()) {
                    Some(n) if n.is_finite() && n.abs() <= MAX_NUMBER => valid.push(ValidAnswer {
                        question_id: id,
                        choice_ids: Vec::new(),
                        number: Some(n),
                        text: None,
                    }),
                    _ => problem("Enter a number, such as 12 or 3.5."),
                }
            }
            QuestionKind::Text => match text {
                Some(text) if text.chars().count() > MAX_TEXT_CHARS => {
                    problem("Keep this answer under 4,000 characters.")
                }
                Some(text) => valid.push(ValidAnswer {
                    question_id: id,
                    choice_ids: Vec::new(),
                    number: None,
                    text: Some(text),
                }),
                None => {}
            },
        }
    }
    if errors.is_empty() {
        Ok(valid)
    } else {
        Err(errors)
    }
}

/// Whether a survey takes answers at `now`.
pub fn is_open(survey: &surveys::Model, now: DateTime<Utc>) -> bool {
    survey.status == SurveyStatus::Open && survey.closes_at.is_none_or(|closes| closes > now)
}

/// The invitation a link belongs to, with its survey. A malformed, unknown
/// or replaced token is NOT_FOUND, the same either way.
pub async fn invitation_by_token(
    conn: &impl ConnectionTrait,
    token: &str,
) -> ApiResult<(survey_invitations::Model, surveys::Model)> {
    let unknown = || {
        ApiError::not_found("This survey link is not right, or has been replaced by a reminder's.")
    };
    if !looks_like_token(token) {
        return Err(unknown());
    }
    let (invitation, survey) = survey_invitations::Entity::find()
        .filter(survey_invitations::Column::TokenHash.eq(hash_token(token)))
        .find_also_related(surveys::Entity)
        .one(conn)
        .await?
        .ok_or_else(unknown)?;
    let survey = survey.ok_or_else(|| ApiError::internal("invitation without survey"))?;
    Ok((invitation, survey))
}

/// Why a submit was refused.
#[derive(Debug)]
pub enum SubmitError {
    /// Problems with the answers, each against its question.
    Invalid(Vec<FieldError>),
    /// The link is not right (NOT_FOUND), the survey is closed (CONFLICT), …
    Refused(ApiError),
}

impl From<ApiError> for SubmitError {
    fn from(error: ApiError) -> Self {
        SubmitError::Refused(error)
    }
}

impl From<sea_orm::DbErr> for SubmitError {
    fn from(error: sea_orm::DbErr) -> Self {
        SubmitError::Refused(error.into())
    }
}

fn closed(survey: &surveys::Model) -> ApiError {
    ApiError::conflict(match survey.closes_at {
        Some(at) if survey.status != SurveyStatus::Draft => format!(
            "This survey closed on {}: answers can no longer be given or changed.",
            hive_worker::notify::london_date(at.min(survey.closed_at.unwrap_or(at)))
        ),
        _ => "This survey is not taking answers.".to_string(),
    })
}

/// Stores a co-op's answers from its link: the first time as its response,
/// later as a replacement of every earlier answer, in one change. A closed
/// survey (or one that closes meanwhile) is a CONFLICT and nothing changes.
///
/// Locks the survey for sharing (so a close waits for answers being stored,
/// and answers after a close see it) and then the invitation (so two answers
/// from one link at once are stored one after the other: one response, each
/// answer once).
pub async fn submit(
    db: &DatabaseConnection,
    token: &str,
    answers: Vec<RawAnswer>,
) -> Result<(), SubmitError> {
    let (invitation, survey) = invitation_by_token(db, token).await?;
    if !is_open(&survey, Utc::now()) {
        return Err(closed(&survey).into());
    }
    let questions = load_questions(db, survey.id).await?;
    let answers = validate(&questions, answers).map_err(SubmitError::Invalid)?;
    let anonymous = Viewer::anonymous();
    let change = Change::begin(db, &anonymous).await?;
    let survey = change
        .lock_shared(
            surveys::Entity::find_by_id(survey.id),
            "This survey is gone.",
        )
        .await?;
    let now = Utc::now();
    if !is_open(&survey, now) {
        return Err(closed(&survey).into());
    }
    let invitation = change
        .lock_by_id::<survey_invitations::Entity>(invitation.id, "This survey link is gone.")
        .await?;
    let existing = survey_responses::Entity::find()
        .filter(survey_responses::Column::InvitationId.eq(invitation.id))
        .one(change.db())
        .await?;
    let response = match existing {
        Some(response) => {
            survey_answers::Entity::delete_many()
                .filter(survey_answers::Column::ResponseId.eq(response.id))
                .exec(change.db())
                .await?;
            let mut row: survey_responses::ActiveModel = response.into();
            row.updated_at = Set(now);
            row.update(change.db()).await?
        }
        None => {
            survey_responses::ActiveModel {
                invitation_id: Set(invitation.id),
                submitted_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(change.db())
            .await?
        }
    };
    let rows: Vec<survey_answers::ActiveModel> = answers
        .iter()
        .flat_map(|answer| {
            let one = |choice_id: Option<i64>| survey_answers::ActiveModel {
                response_id: Set(response.id),
                question_id: Set(answer.question_id),
                choice_id: Set(choice_id),
                number_value: Set(answer.number),
                text_value: Set(answer.text.clone()),
                ..Default::default()
            };
            if answer.choice_ids.is_empty() {
                vec![one(None)]
            } else {
                answer.choice_ids.iter().map(|c| one(Some(*c))).collect()
            }
        })
        .collect();
    if !rows.is_empty() {
        survey_answers::Entity::insert_many(rows)
            .exec_without_returning(change.db())
            .await?;
    }
    if invitation.responded_at.is_none() {
        let mut row: survey_invitations::ActiveModel = invitation.clone().into();
        row.responded_at = Set(Some(now));
        row.update(change.db()).await?;
    }
    change
        .audit(
            "submitSurveyResponse",
            Some(("SurveyResponse", response.id)),
            Some(serde_json::json!({
                "surveyId": survey.id,
                "organisationId": invitation.organisation_id,
            })),
        )
        .await?;
    change.commit().await?;
    Ok(())
}

/// What a survey link's page shows: the survey, whose link it is, whether
/// answers are still taken, and the answers given so far.
pub struct SurveyInvitation {
    pub survey: surveys::Model,
    pub organisation_name: String,
    pub questions: Vec<SurveyQuestion>,
    pub response: Option<survey_responses::Model>,
    pub answers: Vec<StoredAnswer>,
}

impl SurveyInvitation {
    /// Whether answers are taken now.
    pub fn is_open(&self) -> bool {
        is_open(&self.survey, Utc::now())
    }
}

/// One question's answer as stored, by row ids.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    pub question_id: i64,
    /// SINGLE_CHOICE and MULTI_CHOICE: the chosen choices' ids.
    pub choice_ids: Vec<i64>,
    /// Their labels, in the same order.
    pub choices: Vec<String>,
    /// SCALE and NUMBER.
    pub number: Option<f64>,
    /// TEXT.
    pub text: Option<String>,
}

/// Everything the page behind a link shows. Opening it changes nothing;
/// unknown or replaced links are NOT_FOUND.
pub async fn invitation(conn: &impl ConnectionTrait, token: &str) -> ApiResult<SurveyInvitation> {
    let (invitation, survey) = invitation_by_token(conn, token).await?;
    let organisation_name = organisations::Entity::find_by_id(invitation.organisation_id)
        .one(conn)
        .await?
        .map(|org| org.name)
        .unwrap_or_default();
    let questions = load_questions(conn, survey.id).await?;
    let response = survey_responses::Entity::find()
        .filter(survey_responses::Column::InvitationId.eq(invitation.id))
        .one(conn)
        .await?;
    let answers = match &response {
        Some(response) => answers_of(conn, response.id).await?,
        None => Vec::new(),
    };
    Ok(SurveyInvitation {
        survey,
        organisation_name,
        questions,
        response,
        answers,
    })
}

/// A response's answers, one per question, in question order.
pub async fn answers_of(
    conn: &impl ConnectionTrait,
    response_id: i64,
) -> ApiResult<Vec<StoredAnswer>> {
    let rows = survey_answers::Entity::find()
        .filter(survey_answers::Column::ResponseId.eq(response_id))
        .find_also_related(survey_choices::Entity)
        .order_by_asc(survey_answers::Column::QuestionId)
        .order_by_asc(survey_answers::Column::Id)
        .all(conn)
        .await?;
    let mut answers: Vec<StoredAnswer> = Vec::new();
    for (row, choice) in rows {
        let answer = match answers.last_mut() {
            Some(last) if last.question_id == row.question_id => last,
            _ => {
                answers.push(StoredAnswer {
                    question_id: row.question_id,
                    choice_ids: Vec::new(),
                    choices: Vec::new(),
                    number: row.number_value,
                    text: row.text_value.clone(),
                });
                answers.last_mut().expect("just pushed")
            }
        };
        if let Some(choice) = choice {
            answer.choice_ids.push(choice.id);
            answer.choices.push(choice.label);
        }
    }
    Ok(answers)
}
