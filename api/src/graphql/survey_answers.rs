//! Answering a needs survey from the emailed link, without an account: the
//! GraphQL side for the SPA (`surveyInvitation`, `submitSurveyResponse`) and
//! the read side the plain HTML page (`/s/{token}`) shares. The checks and
//! the storing are `programme::survey_answers`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{
    relay::{NodeType, decode_id_of, global_id},
    surveys::SurveyQuestion,
};
use crate::{
    error::{ApiError, ApiResult},
    programme::survey_answers::{self as programme, FieldError, RawAnswer, SubmitError, submit},
    state::AppState,
};

/// What a survey link's page shows (see `programme::survey_answers`).
pub struct SurveyInvitation(pub programme::SurveyInvitation);

impl std::ops::Deref for SurveyInvitation {
    type Target = programme::SurveyInvitation;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[Object]
impl SurveyInvitation {
    async fn survey_title(&self) -> &str {
        &self.survey.title
    }
    async fn description(&self) -> &str {
        &self.survey.description
    }
    /// The co-op the link was sent to.
    async fn organisation_name(&self) -> &str {
        &self.organisation_name
    }
    /// False once the survey has closed: answers are then refused.
    async fn open(&self) -> bool {
        self.is_open()
    }
    async fn closes_at(&self) -> Option<DateTime<Utc>> {
        self.survey.closes_at
    }
    async fn questions(&self) -> &[SurveyQuestion] {
        &self.questions
    }
    /// Null until first answered.
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.response.as_ref().map(|r| r.submitted_at)
    }
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.response.as_ref().map(|r| r.updated_at)
    }
    /// The answers given so far (empty before the first).
    async fn answers(&self) -> Vec<Answer> {
        self.0.answers.iter().map(Answer::from).collect()
    }
}

/// One question's answer as stored.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
#[graphql(name = "SurveyAnswer")]
pub struct Answer {
    pub question_id: ID,
    /// SINGLE_CHOICE and MULTI_CHOICE: the chosen choices.
    pub choice_ids: Vec<ID>,
    /// Their labels, in the same order.
    pub choices: Vec<String>,
    /// SCALE and NUMBER.
    pub number: Option<f64>,
    /// TEXT.
    pub text: Option<String>,
}

impl From<&programme::StoredAnswer> for Answer {
    fn from(stored: &programme::StoredAnswer) -> Self {
        Answer {
            question_id: global_id(NodeType::SurveyQuestion, stored.question_id),
            choice_ids: stored
                .choice_ids
                .iter()
                .map(|id| global_id(NodeType::SurveyChoice, *id))
                .collect(),
            choices: stored.choices.clone(),
            number: stored.number,
            text: stored.text.clone(),
        }
    }
}

/// One question's answer as the SPA sends it: the field its kind takes.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "SurveyAnswerInput")]
pub struct AnswerInput {
    pub question_id: ID,
    /// SINGLE_CHOICE (exactly one) and MULTI_CHOICE.
    #[graphql(default)]
    pub choice_ids: Vec<ID>,
    /// SCALE (a whole number within its range) and NUMBER.
    pub number: Option<f64>,
    /// TEXT (up to 4,000 characters).
    pub text: Option<String>,
}

/// An answer as it arrives from GraphQL or the form, before any check.
/// Numbers come as typed: a form sends text, and "abc" must be told so.
/// A response's answers, one per question, in question order.
pub async fn answers_of(conn: &impl ConnectionTrait, response_id: i64) -> ApiResult<Vec<Answer>> {
    Ok(programme::answers_of(conn, response_id)
        .await?
        .iter()
        .map(Answer::from)
        .collect())
}

/// The link's page, for GraphQL.
async fn invitation(conn: &impl ConnectionTrait, token: &str) -> ApiResult<SurveyInvitation> {
    programme::invitation(conn, token)
        .await
        .map(SurveyInvitation)
}

/// The GraphQL error for a refused submit: the first problem, with the
/// question it is about as the field (`answers.<question id>`).
fn to_api_error(error: SubmitError) -> ApiError {
    match error {
        SubmitError::Refused(error) => error,
        SubmitError::Invalid(errors) => match errors.into_iter().next() {
            Some(FieldError {
                question_id: Some(id),
                message,
            }) => ApiError::bad_input(
                &format!("answers.{}", global_id(NodeType::SurveyQuestion, id).0),
                message,
            ),
            Some(FieldError { message, .. }) => ApiError::bad_input("answers", message),
            None => ApiError::internal("validation failed without an error"),
        },
    }
}

/// Reads the SPA's answers; ids that are not ids of this kind become ids
/// that match nothing, so they are reported like any unknown one.
fn raw_answers(input: Vec<AnswerInput>) -> Vec<RawAnswer> {
    input
        .into_iter()
        .map(|answer| RawAnswer {
            question_id: decode_id_of(NodeType::SurveyQuestion, &answer.question_id).unwrap_or(-1),
            choice_ids: answer
                .choice_ids
                .iter()
                .map(|id| decode_id_of(NodeType::SurveyChoice, id).unwrap_or(-1))
                .collect(),
            number: answer.number.map(|n| n.to_string()),
            text: answer.text,
        })
        .collect()
}

/// The survey link's read side.
#[derive(Default)]
pub struct SurveyAnswerQuery;

#[Object]
impl SurveyAnswerQuery {
    /// What the survey link's form shows (no sign-in needed: the link is the
    /// key). Unknown or replaced links are NOT_FOUND.
    async fn survey_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> ApiResult<Option<SurveyInvitation>> {
        let state = ctx.data_unchecked::<AppState>();
        invitation(&state.db, &token).await.map(Some)
    }
}

/// Answering from the link.
#[derive(Default)]
pub struct SurveyAnswerMutation;

#[Object]
impl SurveyAnswerMutation {
    /// Gives (or changes) a co-op's answers from its emailed link. All the
    /// answers are sent each time and replace the earlier ones. Refused with
    /// BAD_USER_INPUT (the field names the question) or, once the survey is
    /// closed, CONFLICT; either way nothing is stored.
    async fn submit_survey_response(
        &self,
        ctx: &Context<'_>,
        token: String,
        answers: Vec<AnswerInput>,
    ) -> ApiResult<SurveyInvitation> {
        let state = ctx.data_unchecked::<AppState>();
        submit(&state.db, &token, raw_answers(answers))
            .await
            .map_err(to_api_error)?;
        invitation(&state.db, &token).await
    }
}
