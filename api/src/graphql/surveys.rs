//! Needs surveys, staff's side: build a survey (DRAFT), start a new wave from
//! an old one, launch it to an audience of co-ops (the worker then invites
//! each one; see `hive_worker::jobs::survey_invitations`), close it, and read
//! surveys and their responses. Answering is in `survey_answers`; drafting a
//! support request from a response in `survey_needs`.
//!
//! A survey's questions change only while it is a DRAFT: once co-ops have
//! been invited, what they were asked is fixed, so answers and results always
//! mean what they meant when given. `updateSurvey` replaces the whole list of
//! questions, which is what a builder screen holds.

use std::collections::HashMap;

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Duration, Utc};
use entity::{
    organisations, sectors, survey_choice_topics, survey_choices, survey_invitations,
    survey_questions::{self, QuestionKind},
    survey_responses,
    surveys::{self, SurveyStatus},
    topics,
};
use hive_worker::surveys::Audience;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, sea_query::Expr,
};

use super::{
    organisations::{Organisation, Stage},
    relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate},
    vocabulary::{Sector, Topic, Vocabulary, current_terms},
};
use crate::{
    audit,
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    state::AppState,
};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest description or question prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 2_000;
/// Longest choice label, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// Most questions in one survey, and choices in one question: a census that
/// fits on a page a co-op will finish.
pub const MAX_QUESTIONS: usize = 60;
pub const MAX_CHOICES: usize = 30;
/// Widest SCALE accepted (e.g. 0–10).
pub const MAX_SCALE_SPAN: i32 = 20;
/// Longest wait before the reminder, in days.
pub const MAX_REMINDER_DAYS: i32 = 60;

/// DRAFT (editable) → OPEN (invitations out, answers taken) → CLOSED.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "SurveyStatus", remote = "entity::surveys::SurveyStatus")]
pub enum Status {
    Draft,
    Open,
    Closed,
}

/// What kind of answer a question takes.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "SurveyQuestionKind",
    remote = "entity::survey_questions::QuestionKind"
)]
pub enum QuestionKindValue {
    /// One of the choices.
    SingleChoice,
    /// Any number of the choices.
    MultiChoice,
    /// A whole number from `scaleMin` to `scaleMax`.
    Scale,
    /// Any number (a count, an amount).
    Number,
    /// Free text.
    Text,
}

/// A needs survey (one wave of the census).
pub struct Survey(pub surveys::Model);

#[Object]
impl Survey {
    async fn id(&self) -> ID {
        global_id(NodeType::Survey, self.0.id)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn status(&self) -> Status {
        self.0.status.into()
    }
    /// The wave this one follows, whose results it is compared with.
    async fn previous_wave(&self, ctx: &Context<'_>) -> ApiResult<Option<Survey>> {
        let Some(id) = self.0.previous_wave_id else {
            return Ok(None);
        };
        let state = ctx.data_unchecked::<AppState>();
        Ok(surveys::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .map(Survey))
    }
    /// Who it goes to; null while a DRAFT.
    async fn audience(&self, ctx: &Context<'_>) -> ApiResult<Option<SurveyAudience>> {
        if self.0.launched_at.is_none() {
            return Ok(None);
        }
        let audience = Audience::from_stored(self.0.audience.as_deref());
        let state = ctx.data_unchecked::<AppState>();
        let sectors = if audience.sectors.is_empty() {
            Vec::new()
        } else {
            sectors::Entity::find()
                .filter(sectors::Column::Id.is_in(audience.sectors.clone()))
                .order_by_asc(sectors::Column::Name)
                .all(&state.db)
                .await?
                .into_iter()
                .map(|row| Sector(row.into()))
                .collect()
        };
        Ok(Some(SurveyAudience {
            sectors,
            regions: audience.regions,
            stages: audience.stages.into_iter().map(Into::into).collect(),
        }))
    }
    /// After this, answers are refused and the survey closes.
    async fn closes_at(&self) -> Option<DateTime<Utc>> {
        self.0.closes_at
    }
    /// Non-responders are reminded once, this many days after their invitation.
    async fn reminder_after_days(&self) -> Option<i32> {
        self.0.reminder_after_days
    }
    async fn launched_at(&self) -> Option<DateTime<Utc>> {
        self.0.launched_at
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Response rates and every question's figures, beside the previous
    /// wave's when there is one.
    async fn results(&self, ctx: &Context<'_>) -> ApiResult<super::survey_results::SurveyResults> {
        let state = ctx.data_unchecked::<AppState>();
        super::survey_results::survey_results(&state.db, self.0.id).await
    }
    /// In the order co-ops see them.
    async fn questions(&self, ctx: &Context<'_>) -> ApiResult<Vec<SurveyQuestion>> {
        let state = ctx.data_unchecked::<AppState>();
        load_questions(&state.db, self.0.id).await
    }
    /// Invitations written so far (they are written in batches after launch).
    async fn invitation_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(survey_invitations::Entity::find()
            .filter(survey_invitations::Column::SurveyId.eq(self.0.id))
            .count(&state.db)
            .await?)
    }
    /// Organisations that have answered.
    async fn response_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(survey_invitations::Entity::find()
            .filter(survey_invitations::Column::SurveyId.eq(self.0.id))
            .filter(survey_invitations::Column::RespondedAt.is_not_null())
            .count(&state.db)
            .await?)
    }
    /// The responses, first answered first.
    async fn responses(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<SurveyResponse>> {
        let state = ctx.data_unchecked::<AppState>();
        let select = survey_responses::Entity::find().filter(
            survey_responses::Column::InvitationId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(survey_invitations::Column::Id)
                    .from(survey_invitations::Entity)
                    .and_where(survey_invitations::Column::SurveyId.eq(self.0.id))
                    .to_owned(),
            ),
        );
        paginate(
            &state.db,
            select,
            survey_responses::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            SurveyResponse,
        )
        .await
    }
}

/// Who a survey goes to: empty lists do not narrow it.
#[derive(async_graphql::SimpleObject)]
pub struct SurveyAudience {
    pub sectors: Vec<Sector>,
    pub regions: Vec<String>,
    pub stages: Vec<Stage>,
}

/// One question, with its choices.
pub struct SurveyQuestion {
    pub question: survey_questions::Model,
    pub choices: Vec<SurveyChoice>,
}

#[Object]
impl SurveyQuestion {
    async fn id(&self) -> ID {
        global_id(NodeType::SurveyQuestion, self.question.id)
    }
    /// 1 for the first question.
    async fn position(&self) -> i32 {
        self.question.position
    }
    async fn kind(&self) -> QuestionKindValue {
        self.question.kind.into()
    }
    async fn prompt(&self) -> &str {
        &self.question.prompt
    }
    async fn required(&self) -> bool {
        self.question.required
    }
    async fn scale_min(&self) -> Option<i32> {
        self.question.scale_min
    }
    async fn scale_max(&self) -> Option<i32> {
        self.question.scale_max
    }
    /// For SINGLE_CHOICE and MULTI_CHOICE; empty otherwise.
    async fn choices(&self) -> &[SurveyChoice] {
        &self.choices
    }
}

/// A choice, with the topics it shows a need for.
pub struct SurveyChoice {
    pub choice: survey_choices::Model,
    pub topics: Vec<topics::Model>,
}

#[Object]
impl SurveyChoice {
    async fn id(&self) -> ID {
        global_id(NodeType::SurveyChoice, self.choice.id)
    }
    async fn label(&self) -> &str {
        &self.choice.label
    }
    /// A co-op choosing this needs support on these topics.
    async fn topics(&self) -> Vec<Topic> {
        self.topics
            .iter()
            .cloned()
            .map(|row| Topic(row.into()))
            .collect()
    }
}

/// An organisation's answers to a survey.
pub struct SurveyResponse(pub survey_responses::Model);

#[Object]
impl SurveyResponse {
    async fn id(&self) -> ID {
        global_id(NodeType::SurveyResponse, self.0.id)
    }
    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }
    /// Answers can be changed until the survey closes.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn organisation(&self, ctx: &Context<'_>) -> ApiResult<Organisation> {
        let state = ctx.data_unchecked::<AppState>();
        let (_, organisation) = survey_invitations::Entity::find_by_id(self.0.invitation_id)
            .find_also_related(organisations::Entity)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::internal("response without invitation"))?;
        organisation
            .map(Organisation::new)
            .ok_or_else(|| ApiError::internal("invitation without organisation"))
    }
    /// The answers, in question order.
    async fn answers(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::survey_answers::Answer>> {
        let state = ctx.data_unchecked::<AppState>();
        super::survey_answers::answers_of(&state.db, self.0.id).await
    }
    /// The topics this co-op's choices map to: its support needs.
    async fn needs(&self, ctx: &Context<'_>) -> ApiResult<Vec<Topic>> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(super::survey_needs::needs_of(&state.db, self.0.id)
            .await?
            .into_iter()
            .map(|row| Topic(row.into()))
            .collect())
    }
    /// The support request staff drafted from this response, if any.
    async fn support_request(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<super::support_requests::SupportRequest>> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(entity::support_requests::Entity::find()
            .filter(entity::support_requests::Column::SurveyResponseId.eq(self.0.id))
            .one(&state.db)
            .await?
            .map(super::support_requests::SupportRequest))
    }
}

/// The questions of a survey with their choices and topics, in three queries.
pub async fn load_questions(
    conn: &impl ConnectionTrait,
    survey_id: i64,
) -> ApiResult<Vec<SurveyQuestion>> {
    let questions = survey_questions::Entity::find()
        .filter(survey_questions::Column::SurveyId.eq(survey_id))
        .order_by_asc(survey_questions::Column::Position)
        .all(conn)
        .await?;
    let question_ids: Vec<i64> = questions.iter().map(|q| q.id).collect();
    let choices = survey_choices::Entity::find()
        .filter(survey_choices::Column::QuestionId.is_in(question_ids))
        .order_by_asc(survey_choices::Column::QuestionId)
        .order_by_asc(survey_choices::Column::Position)
        .all(conn)
        .await?;
    let choice_ids: Vec<i64> = choices.iter().map(|c| c.id).collect();
    let mut topics_by_choice: HashMap<i64, Vec<topics::Model>> = HashMap::new();
    for (link, topic) in survey_choice_topics::Entity::find()
        .filter(survey_choice_topics::Column::ChoiceId.is_in(choice_ids))
        .find_also_related(topics::Entity)
        .order_by_asc(survey_choice_topics::Column::TopicId)
        .all(conn)
        .await?
    {
        if let Some(topic) = topic {
            topics_by_choice
                .entry(link.choice_id)
                .or_default()
                .push(topic);
        }
    }
    let mut choices_by_question: HashMap<i64, Vec<SurveyChoice>> = HashMap::new();
    for choice in choices {
        let topics = topics_by_choice.remove(&choice.id).unwrap_or_default();
        choices_by_question
            .entry(choice.question_id)
            .or_default()
            .push(SurveyChoice { choice, topics });
    }
    Ok(questions
        .into_iter()
        .map(|question| SurveyQuestion {
            choices: choices_by_question.remove(&question.id).unwrap_or_default(),
            question,
        })
        .collect())
}

/// A survey and its questions, as the builder sends them.
#[derive(InputObject)]
pub struct SurveyInput {
    /// 1 to 200 characters.
    pub title: String,
    /// Shown above the questions and in the invitation (up to 2,000 characters).
    #[graphql(default)]
    pub description: String,
    /// In order; at most 60.
    pub questions: Vec<QuestionInput>,
}

/// One question.
#[derive(InputObject)]
pub struct QuestionInput {
    pub kind: QuestionKindValue,
    /// 1 to 2,000 characters.
    pub prompt: String,
    #[graphql(default)]
    pub required: bool,
    /// SCALE only: the ends (e.g. 1 and 5), at most 20 apart.
    pub scale_min: Option<i32>,
    pub scale_max: Option<i32>,
    /// SINGLE_CHOICE and MULTI_CHOICE only: 2 to 30, labels distinct.
    #[graphql(default)]
    pub choices: Vec<ChoiceInput>,
}

/// One choice of a question.
#[derive(InputObject)]
pub struct ChoiceInput {
    /// 1 to 200 characters.
    pub label: String,
    /// Topics a co-op choosing this needs support on.
    #[graphql(default)]
    pub topic_ids: Vec<ID>,
}

/// Who a launch goes to.
#[derive(InputObject, Default)]
pub struct SurveyAudienceInput {
    #[graphql(default)]
    pub sectors: Vec<ID>,
    /// Region names from the programme's list (case does not matter).
    #[graphql(default)]
    pub regions: Vec<String>,
    #[graphql(default)]
    pub stages: Vec<Stage>,
}

fn too_long(text: &str, limit: usize) -> bool {
    text.chars().count() > limit
}

/// A question as it will be stored.
struct CleanQuestion {
    kind: QuestionKind,
    prompt: String,
    required: bool,
    scale: Option<(i32, i32)>,
    choices: Vec<(String, Vec<i64>)>,
}

/// Checks a whole survey before anything is written; errors name the field
/// path (`questions.2.choices`) so a builder can point at it.
async fn clean_survey(
    conn: &impl ConnectionTrait,
    input: SurveyInput,
) -> ApiResult<(String, String, Vec<CleanQuestion>)> {
    let title = input.title.trim().to_string();
    if title.is_empty() || too_long(&title, MAX_TITLE_CHARS) {
        return Err(ApiError::bad_input(
            "title",
            "Give the survey a title of 1 to 200 characters.",
        ));
    }
    let description = input.description.trim().to_string();
    if too_long(&description, MAX_PROMPT_CHARS) {
        return Err(ApiError::bad_input(
            "description",
            "Keep the description under 2,000 characters.",
        ));
    }
    if input.questions.len() > MAX_QUESTIONS {
        return Err(ApiError::bad_input(
            "questions",
            format!("A survey has at most {MAX_QUESTIONS} questions."),
        ));
    }
    let mut questions = Vec::with_capacity(input.questions.len());
    for (index, question) in input.questions.into_iter().enumerate() {
        let at = |field: &str| format!("questions.{index}.{field}");
        let prompt = question.prompt.trim().to_string();
        if prompt.is_empty() || too_long(&prompt, MAX_PROMPT_CHARS) {
            return Err(ApiError::bad_input(
                &at("prompt"),
                format!(
                    "Question {} needs a prompt of 1 to 2,000 characters.",
                    index + 1
                ),
            ));
        }
        let kind = QuestionKind::from(question.kind);
        let is_choice = matches!(kind, QuestionKind::SingleChoice | QuestionKind::MultiChoice);
        let scale = match (kind, question.scale_min, question.scale_max) {
            (QuestionKind::Scale, Some(min), Some(max))
                if min < max && i64::from(max) - i64::from(min) <= i64::from(MAX_SCALE_SPAN) =>
            {
                Some((min, max))
            }
            (QuestionKind::Scale, _, _) => {
                return Err(ApiError::bad_input(
                    &at("scaleMax"),
                    format!(
                        "Question {}: a scale needs scaleMin below scaleMax, at most {MAX_SCALE_SPAN} apart.",
                        index + 1
                    ),
                ));
            }
            (_, None, None) => None,
            _ => {
                return Err(ApiError::bad_input(
                    &at("scaleMin"),
                    format!("Question {}: only SCALE questions have a scale.", index + 1),
                ));
            }
        };
        if !is_choice && !question.choices.is_empty() {
            return Err(ApiError::bad_input(
                &at("choices"),
                format!(
                    "Question {}: only choice questions have choices.",
                    index + 1
                ),
            ));
        }
        if is_choice && !(2..=MAX_CHOICES).contains(&question.choices.len()) {
            return Err(ApiError::bad_input(
                &at("choices"),
                format!("Question {} needs 2 to {MAX_CHOICES} choices.", index + 1),
            ));
        }
        let mut choices: Vec<(String, Vec<i64>)> = Vec::with_capacity(question.choices.len());
        for (choice_index, choice) in question.choices.into_iter().enumerate() {
            let field = at(&format!("choices.{choice_index}.label"));
            let label = choice.label.trim().to_string();
            if label.is_empty() || too_long(&label, MAX_LABEL_CHARS) {
                return Err(ApiError::bad_input(
                    &field,
                    format!(
                        "Question {}: each choice needs a label of 1 to 200 characters.",
                        index + 1
                    ),
                ));
            }
            if choices
                .iter()
                .any(|(other, _)| other.to_lowercase() == label.to_lowercase())
            {
                return Err(ApiError::bad_input(
                    &field,
                    format!(
                        "Question {}: the choice \"{label}\" is there twice.",
                        index + 1
                    ),
                ));
            }
            let topic_field = at(&format!("choices.{choice_index}.topicIds"));
            let topics =
                current_terms(conn, Vocabulary::Topic, &topic_field, &choice.topic_ids).await?;
            choices.push((label, topics));
        }
        questions.push(CleanQuestion {
            kind,
            prompt,
            required: question.required,
            scale,
            choices,
        });
    }
    Ok((title, description, questions))
}

/// Writes the questions of a survey (which has none) on the caller's transaction.
async fn write_questions(
    conn: &impl ConnectionTrait,
    survey_id: i64,
    questions: Vec<CleanQuestion>,
) -> ApiResult<()> {
    for (index, question) in questions.into_iter().enumerate() {
        let stored = survey_questions::ActiveModel {
            survey_id: Set(survey_id),
            position: Set(index as i32 + 1),
            kind: Set(question.kind),
            prompt: Set(question.prompt),
            required: Set(question.required),
            scale_min: Set(question.scale.map(|(min, _)| min)),
            scale_max: Set(question.scale.map(|(_, max)| max)),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        for (choice_index, (label, topic_ids)) in question.choices.into_iter().enumerate() {
            let choice = survey_choices::ActiveModel {
                question_id: Set(stored.id),
                position: Set(choice_index as i32 + 1),
                label: Set(label),
                ..Default::default()
            }
            .insert(conn)
            .await?;
            if !topic_ids.is_empty() {
                survey_choice_topics::Entity::insert_many(topic_ids.into_iter().map(|topic_id| {
                    survey_choice_topics::ActiveModel {
                        choice_id: Set(choice.id),
                        topic_id: Set(topic_id),
                    }
                }))
                .exec_without_returning(conn)
                .await?;
            }
        }
    }
    Ok(())
}

/// Removes a DRAFT's questions (choices and their topics go with them).
async fn clear_questions(conn: &impl ConnectionTrait, survey_id: i64) -> ApiResult<()> {
    survey_questions::Entity::delete_many()
        .filter(survey_questions::Column::SurveyId.eq(survey_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Loads a survey for a change, NOT_FOUND if absent.
async fn survey_row(conn: &impl ConnectionTrait, id: &ID) -> ApiResult<surveys::Model> {
    let id = decode_id_of(NodeType::Survey, id)?;
    surveys::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("No survey has that id."))
}

fn must_be_draft(survey: &surveys::Model) -> ApiResult<()> {
    if survey.status != SurveyStatus::Draft {
        return Err(ApiError::conflict(
            "This survey has been launched: its questions are fixed. Duplicate it to start a new wave.",
        ));
    }
    Ok(())
}

/// Puts a DRAFT's questions into the builder's shape, for `duplicateSurvey`.
fn as_input(title: String, description: String, questions: Vec<SurveyQuestion>) -> SurveyInput {
    SurveyInput {
        title,
        description,
        questions: questions
            .into_iter()
            .map(|q| QuestionInput {
                kind: q.question.kind.into(),
                prompt: q.question.prompt,
                required: q.question.required,
                scale_min: q.question.scale_min,
                scale_max: q.question.scale_max,
                choices: q
                    .choices
                    .into_iter()
                    .map(|c| ChoiceInput {
                        label: c.choice.label,
                        topic_ids: c
                            .topics
                            .iter()
                            .map(|t| global_id(NodeType::Topic, t.id))
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Reading surveys, for staff.
#[derive(Default)]
pub struct SurveyQuery;

#[Object]
impl SurveyQuery {
    /// Every survey, oldest first, optionally of one status.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn surveys(
        &self,
        ctx: &Context<'_>,
        status: Option<Status>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<Survey>> {
        let state = ctx.data_unchecked::<AppState>();
        let mut select = surveys::Entity::find();
        if let Some(status) = status {
            select = select.filter(surveys::Column::Status.eq(SurveyStatus::from(status)));
        }
        paginate(
            &state.db,
            select,
            surveys::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            Survey,
        )
        .await
    }

    /// One survey.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn survey(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Survey> {
        let state = ctx.data_unchecked::<AppState>();
        survey_row(&state.db, &id).await.map(Survey)
    }
}

/// Building, launching and closing surveys, for staff.
#[derive(Default)]
pub struct SurveyMutation;

#[Object]
impl SurveyMutation {
    /// A new survey, as a DRAFT.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn create_survey(&self, ctx: &Context<'_>, input: SurveyInput) -> ApiResult<Survey> {
        let state = ctx.data_unchecked::<AppState>();
        let viewer = viewer(ctx);
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let (title, description, questions) = clean_survey(&txn, input).await?;
        let survey = insert_draft(&txn, viewer, title, description, None).await?;
        write_questions(&txn, survey.id, questions).await?;
        audit::record(
            &txn,
            viewer,
            "createSurvey",
            Some(("Survey", survey.id)),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(Survey(survey))
    }

    /// Replaces a DRAFT's title, description and questions. A launched
    /// survey is a CONFLICT.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn update_survey(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: SurveyInput,
    ) -> ApiResult<Survey> {
        let state = ctx.data_unchecked::<AppState>();
        let viewer = viewer(ctx);
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let survey = survey_row(&txn, &id).await?;
        must_be_draft(&survey)?;
        let (title, description, questions) = clean_survey(&txn, input).await?;
        clear_questions(&txn, survey.id).await?;
        write_questions(&txn, survey.id, questions).await?;
        let mut row: surveys::ActiveModel = survey.into();
        row.title = Set(title);
        row.description = Set(description);
        row.updated_at = Set(Utc::now());
        let survey = row.update(&txn).await?;
        audit::record(
            &txn,
            viewer,
            "updateSurvey",
            Some(("Survey", survey.id)),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(Survey(survey))
    }

    /// Starts the next wave of a census: a DRAFT with the same questions,
    /// choices and topics, linked to `id` so results are compared with it.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn duplicate_survey(
        &self,
        ctx: &Context<'_>,
        id: ID,
        title: Option<String>,
    ) -> ApiResult<Survey> {
        let state = ctx.data_unchecked::<AppState>();
        let viewer = viewer(ctx);
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let previous = survey_row(&txn, &id).await?;
        let questions = load_questions(&txn, previous.id).await?;
        let title = title.unwrap_or_else(|| previous.title.clone());
        let input = as_input(title, previous.description.clone(), questions);
        let (title, description, questions) = clean_survey(&txn, input).await?;
        let survey = insert_draft(&txn, viewer, title, description, Some(previous.id)).await?;
        write_questions(&txn, survey.id, questions).await?;
        audit::record(
            &txn,
            viewer,
            "duplicateSurvey",
            Some(("Survey", survey.id)),
            Some(serde_json::json!({"previousWaveId": previous.id})),
        )
        .await?;
        txn.commit().await?;
        Ok(Survey(survey))
    }

    /// Opens a DRAFT to an audience and returns at once: the worker then
    /// writes one invitation per organisation in the audience (those that
    /// exist now and can be written to) and sends them in batches.
    /// Non-responders are reminded once after `reminderAfterDays`, if given;
    /// answers are taken until `closesAt`.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn launch_survey(
        &self,
        ctx: &Context<'_>,
        survey_id: ID,
        #[graphql(default)] audience: SurveyAudienceInput,
        closes_at: DateTime<Utc>,
        reminder_after_days: Option<i32>,
    ) -> ApiResult<Survey> {
        let state = ctx.data_unchecked::<AppState>();
        let viewer = viewer(ctx);
        let now = Utc::now();
        if closes_at <= now + Duration::hours(1) {
            return Err(ApiError::bad_input(
                "closesAt",
                "Give a closing time at least an hour from now.",
            ));
        }
        if closes_at > now + crate::programme::rules::farthest_ahead() {
            return Err(ApiError::bad_input(
                "closesAt",
                "Give a closing time within the next two years.",
            ));
        }
        if let Some(days) = reminder_after_days {
            if !(1..=MAX_REMINDER_DAYS).contains(&days) {
                return Err(ApiError::bad_input(
                    "reminderAfterDays",
                    format!("Remind after 1 to {MAX_REMINDER_DAYS} days."),
                ));
            }
            if now + Duration::days(i64::from(days)) >= closes_at {
                return Err(ApiError::bad_input(
                    "reminderAfterDays",
                    "The reminder would go after the survey closes.",
                ));
            }
        }
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let survey = survey_row(&txn, &survey_id).await?;
        must_be_draft(&survey)?;
        let questions = survey_questions::Entity::find()
            .filter(survey_questions::Column::SurveyId.eq(survey.id))
            .count(&txn)
            .await?;
        if questions == 0 {
            return Err(ApiError::bad_input(
                "surveyId",
                "Add at least one question before launching.",
            ));
        }
        let mut sectors = Vec::new();
        for id in &audience.sectors {
            let sector = decode_id_of(NodeType::Sector, id).map_err(|_| {
                ApiError::bad_input("audience.sectors", format!("Not a sector id: {}", id.0))
            })?;
            if sectors::Entity::find_by_id(sector)
                .one(&txn)
                .await?
                .is_none()
            {
                return Err(ApiError::bad_input(
                    "audience.sectors",
                    format!("No sector has the id {}.", id.0),
                ));
            }
            if !sectors.contains(&sector) {
                sectors.push(sector);
            }
        }
        let mut regions: Vec<String> = Vec::new();
        for region in &audience.regions {
            let region = crate::regions::canonical_region(region).ok_or_else(|| {
                ApiError::bad_input(
                    "audience.regions",
                    format!(
                        "\"{}\" is not one of the programme's regions.",
                        region.trim()
                    ),
                )
            })?;
            if !regions.iter().any(|r| r == region) {
                regions.push(region.to_string());
            }
        }
        let mut stages = Vec::new();
        for stage in &audience.stages {
            let stage = organisations::OrganisationStage::from(*stage);
            if !stages.contains(&stage) {
                stages.push(stage);
            }
        }
        let audience = Audience {
            sectors,
            regions,
            stages,
        };
        let reachable = audience.organisation_ids().all(&txn).await?.len();
        if reachable == 0 {
            return Err(ApiError::bad_input(
                "audience",
                "No co-op in this audience has an address to write to.",
            ));
        }
        let claimed = surveys::Entity::update_many()
            .col_expr(surveys::Column::Status, Expr::value(SurveyStatus::Open))
            .col_expr(surveys::Column::Audience, Expr::value(audience.to_stored()))
            .col_expr(surveys::Column::ClosesAt, Expr::value(closes_at))
            .col_expr(
                surveys::Column::ReminderAfterDays,
                Expr::value(reminder_after_days),
            )
            .col_expr(surveys::Column::LaunchedAt, Expr::value(now))
            .col_expr(surveys::Column::UpdatedAt, Expr::value(now))
            .filter(surveys::Column::Id.eq(survey.id))
            .filter(surveys::Column::Status.eq(SurveyStatus::Draft))
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            return Err(ApiError::conflict("This survey has been launched already."));
        }
        audit::record(
            &txn,
            viewer,
            "launchSurvey",
            Some(("Survey", survey.id)),
            Some(serde_json::json!({"organisations": reachable})),
        )
        .await?;
        let survey = surveys::Entity::find_by_id(survey.id)
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::internal("survey vanished while launched"))?;
        txn.commit().await?;
        Ok(Survey(survey))
    }

    /// Closes an OPEN survey now: no more answers, no more reminders.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn close_survey(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Survey> {
        let state = ctx.data_unchecked::<AppState>();
        let viewer = viewer(ctx);
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let survey = survey_row(&txn, &id).await?;
        let now = Utc::now();
        let closed = surveys::Entity::update_many()
            .col_expr(surveys::Column::Status, Expr::value(SurveyStatus::Closed))
            .col_expr(surveys::Column::ClosedAt, Expr::value(now))
            .col_expr(surveys::Column::UpdatedAt, Expr::value(now))
            .filter(surveys::Column::Id.eq(survey.id))
            .filter(surveys::Column::Status.eq(SurveyStatus::Open))
            .exec(&txn)
            .await?;
        if closed.rows_affected != 1 {
            return Err(ApiError::conflict(match survey.status {
                SurveyStatus::Draft => "A draft is not open: there is nothing to close.",
                _ => "This survey is closed already.",
            }));
        }
        audit::record(
            &txn,
            viewer,
            "closeSurvey",
            Some(("Survey", survey.id)),
            None,
        )
        .await?;
        let survey = surveys::Entity::find_by_id(survey.id)
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::internal("survey vanished while closed"))?;
        txn.commit().await?;
        Ok(Survey(survey))
    }
}

async fn insert_draft(
    conn: &impl ConnectionTrait,
    viewer: &crate::auth::Viewer,
    title: String,
    description: String,
    previous_wave_id: Option<i64>,
) -> ApiResult<surveys::Model> {
    let now = Utc::now();
    Ok(surveys::ActiveModel {
        title: Set(title),
        description: Set(description),
        status: Set(SurveyStatus::Draft),
        previous_wave_id: Set(previous_wave_id),
        audience: Set(None),
        closes_at: Set(None),
        reminder_after_days: Set(None),
        launched_at: Set(None),
        closed_at: Set(None),
        created_by_user_id: Set(viewer.user.as_ref().map(|user| user.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}
