//! Needs surveys, staff's side: build a survey (DRAFT), start a new wave from
//! an old one, launch it to an audience of co-ops (the worker then invites
//! each one; see `hive_worker::jobs::survey_invitations`), close it, and read
//! surveys and their responses. Answering is in `survey_answers`; drafting a
//! support request from a response in `survey_needs`.
//!
//! The rules and the changes are `programme::surveys`; the mutations here
//! read ids and inputs, call it, and wrap what it returns.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{
    organisations, sectors, survey_choices, survey_invitations, survey_questions, survey_responses,
    surveys::{self, SurveyStatus},
};
use hive_worker::surveys::Audience;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::{
    loaders::row,
    organisations::{Organisation, Stage},
    relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate},
    vocabulary::{Sector, Topic, Vocabulary, term_ids},
};
pub use crate::programme::surveys::{SurveyChoice, SurveyQuestion, load_questions};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme::{
        self, survey_needs,
        surveys::{ChoiceDraft, Launch, QuestionDraft, SurveyDraft},
    },
    state::AppState,
};

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
    pub async fn id(&self) -> ID {
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
        super::node::unless_gone(
            row::<surveys::Entity>(ctx, id, "No survey has that id.")
                .await
                .map(Survey),
        )
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

// `SurveyQuestion` and `SurveyChoice` are `programme::surveys`' (answering
// and the page read them too); their GraphQL fields are here.
#[Object]
impl SurveyQuestion {
    pub async fn id(&self) -> ID {
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

#[Object]
impl SurveyChoice {
    pub async fn id(&self) -> ID {
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
    pub async fn id(&self) -> ID {
        global_id(NodeType::SurveyResponse, self.0.id)
    }
    /// The survey answered.
    async fn survey(&self, ctx: &Context<'_>) -> ApiResult<Survey> {
        let missing = "No survey has that id.";
        let invitation =
            row::<survey_invitations::Entity>(ctx, self.0.invitation_id, missing).await?;
        load_survey(ctx, invitation.survey_id).await
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
        Ok(survey_needs::needs_of(&state.db, self.0.id)
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
            .map(super::support_requests::SupportRequest::alone))
    }
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

/// The builder's input as the programme takes it; topic ids that are not
/// topic ids are BAD_USER_INPUT on the choice's `topicIds`.
fn as_draft(input: SurveyInput) -> ApiResult<SurveyDraft> {
    let mut questions = Vec::with_capacity(input.questions.len());
    for (index, question) in input.questions.into_iter().enumerate() {
        let mut choices = Vec::with_capacity(question.choices.len());
        for (choice_index, choice) in question.choices.into_iter().enumerate() {
            let field = format!("questions.{index}.choices.{choice_index}.topicIds");
            choices.push(ChoiceDraft {
                label: choice.label,
                topic_ids: term_ids(Vocabulary::Topic, &field, &choice.topic_ids)?,
            });
        }
        questions.push(QuestionDraft {
            kind: question.kind.into(),
            prompt: question.prompt,
            required: question.required,
            scale_min: question.scale_min,
            scale_max: question.scale_max,
            choices,
        });
    }
    Ok(SurveyDraft {
        title: input.title,
        description: input.description,
        questions,
    })
}

/// Refuses anyone who may not read surveys (`access::may_read_surveys`):
/// checked before anything is looked up, as the survey queries' guards do.
fn require_survey_reader(ctx: &Context<'_>) -> ApiResult<()> {
    if crate::access::may_read_surveys(viewer(ctx)) {
        Ok(())
    } else {
        Err(ApiError::forbidden("Surveys are for staff."))
    }
}

/// Loads one survey for staff; FORBIDDEN for anyone else.
pub async fn load_survey(ctx: &Context<'_>, id: i64) -> ApiResult<Survey> {
    require_survey_reader(ctx)?;
    row::<surveys::Entity>(ctx, id, "No survey has that id.")
        .await
        .map(Survey)
}

/// Loads one question, with its choices, for staff; FORBIDDEN for anyone
/// else (a co-op reads its invitation's questions through its link).
pub async fn load_question(ctx: &Context<'_>, id: i64) -> ApiResult<SurveyQuestion> {
    require_survey_reader(ctx)?;
    let missing = "No survey question has that id.";
    let question = row::<survey_questions::Entity>(ctx, id, missing).await?;
    question_of(ctx, question.survey_id, id, missing).await
}

/// Loads one choice, with its topics, for staff; FORBIDDEN for anyone else.
pub async fn load_choice(ctx: &Context<'_>, id: i64) -> ApiResult<SurveyChoice> {
    require_survey_reader(ctx)?;
    let missing = "No survey choice has that id.";
    let choice = row::<survey_choices::Entity>(ctx, id, missing).await?;
    let question = row::<survey_questions::Entity>(ctx, choice.question_id, missing).await?;
    question_of(ctx, question.survey_id, question.id, missing)
        .await?
        .choices
        .into_iter()
        .find(|found| found.choice.id == id)
        .ok_or_else(|| ApiError::not_found(missing))
}

/// One question of a survey as `questions` gives it (choices and topics).
async fn question_of(
    ctx: &Context<'_>,
    survey_id: i64,
    question_id: i64,
    missing: &str,
) -> ApiResult<SurveyQuestion> {
    let state = ctx.data_unchecked::<AppState>();
    load_questions(&state.db, survey_id)
        .await?
        .into_iter()
        .find(|found| found.question.id == question_id)
        .ok_or_else(|| ApiError::not_found(missing))
}

/// Loads one response for staff (`access::may_read_survey_responses`,
/// checked first); FORBIDDEN for anyone else.
pub async fn load_response(ctx: &Context<'_>, id: i64) -> ApiResult<SurveyResponse> {
    if !crate::access::may_read_survey_responses(viewer(ctx)) {
        return Err(ApiError::forbidden("Survey responses are for staff."));
    }
    row::<survey_responses::Entity>(ctx, id, "No survey response has that id.")
        .await
        .map(SurveyResponse)
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
    ) -> ApiResult<Option<HiveConnection<Survey>>> {
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
        .map(Some)
    }

    /// One survey.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn survey(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Survey>> {
        load_survey(ctx, decode_id_of(NodeType::Survey, &id)?)
            .await
            .map(Some)
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
        programme::surveys::create(&state.db, viewer(ctx), as_draft(input)?)
            .await
            .map(Survey)
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
        let id = decode_id_of(NodeType::Survey, &id)?;
        programme::surveys::update(&state.db, viewer(ctx), id, as_draft(input)?)
            .await
            .map(Survey)
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
        let id = decode_id_of(NodeType::Survey, &id)?;
        programme::surveys::duplicate(&state.db, viewer(ctx), id, title)
            .await
            .map(Survey)
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
        let id = decode_id_of(NodeType::Survey, &survey_id)?;
        let launch = Launch {
            sectors: term_ids(Vocabulary::Sector, "audience.sectors", &audience.sectors)?,
            regions: audience.regions,
            stages: audience.stages.into_iter().map(Into::into).collect(),
            closes_at,
            reminder_after_days,
        };
        programme::surveys::launch(&state.db, viewer(ctx), id, launch)
            .await
            .map(Survey)
    }

    /// Closes an OPEN survey now: no more answers, no more reminders.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn close_survey(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Survey> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Survey, &id)?;
        programme::surveys::close(&state.db, viewer(ctx), id)
            .await
            .map(Survey)
    }
}
