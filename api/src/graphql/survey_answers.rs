//! Answering a needs survey from the emailed link, without an account: the
//! GraphQL side for the SPA (`surveyInvitation`, `submitSurveyResponse`) and
//! the read side the plain HTML page (`/s/{token}`) shares. The checks and
//! the storing are `programme::survey_answers`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{organisations, survey_answers, survey_choices, survey_responses, surveys};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{
    relay::{NodeType, decode_id_of, global_id},
    surveys::{SurveyQuestion, load_questions},
};
use crate::{
    error::{ApiError, ApiResult},
    programme::survey_answers::{
        FieldError, RawAnswer, SubmitError, invitation_by_token, is_open, submit,
    },
    state::AppState,
};

/// What a survey link's page shows: the survey, whose link it is, whether
/// answers are still taken, and the answers given so far.
pub struct SurveyInvitation {
    pub survey: surveys::Model,
    pub organisation_name: String,
    pub questions: Vec<SurveyQuestion>,
    pub response: Option<survey_responses::Model>,
    pub answers: Vec<Answer>,
}

impl SurveyInvitation {
    /// Whether answers are taken now.
    pub fn is_open(&self) -> bool {
        is_open(&self.survey, Utc::now())
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
    async fn answers(&self) -> &[Answer] {
        &self.answers
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
/// Everything the page behind a link shows. Opening it changes nothing.
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
pub async fn answers_of(conn: &impl ConnectionTrait, response_id: i64) -> ApiResult<Vec<Answer>> {
    let rows = survey_answers::Entity::find()
        .filter(survey_answers::Column::ResponseId.eq(response_id))
        .find_also_related(survey_choices::Entity)
        .order_by_asc(survey_answers::Column::QuestionId)
        .order_by_asc(survey_answers::Column::Id)
        .all(conn)
        .await?;
    let mut answers: Vec<Answer> = Vec::new();
    for (row, choice) in rows {
        let question_id = global_id(NodeType::SurveyQuestion, row.question_id);
        let answer = match answers.last_mut() {
            Some(last) if last.question_id == question_id => last,
            _ => {
                answers.push(Answer {
                    question_id,
                    choice_ids: Vec::new(),
                    choices: Vec::new(),
                    number: row.number_value,
                    text: row.text_value.clone(),
                });
                answers.last_mut().expect("just pushed")
            }
        };
        if let Some(choice) = choice {
            answer
                .choice_ids
                .push(global_id(NodeType::SurveyChoice, choice.id));
            answer.choices.push(choice.label);
        }
    }
    Ok(answers)
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
    ) -> ApiResult<SurveyInvitation> {
        let state = ctx.data_unchecked::<AppState>();
        invitation(&state.db, &token).await
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
