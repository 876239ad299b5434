//! Needs surveys, staff's side: build a survey (a DRAFT), start the next wave
//! of a census from an earlier one, launch a survey to an audience of co-ops
//! (the worker then invites each one; see
//! `hive_worker::jobs::survey_invitations`) and close it. Answering is in
//! `survey_answers`; turning a response into a support request in
//! `survey_needs`.
//!
//! A survey's questions change only while it is a DRAFT: once co-ops have
//! been invited, what they were asked is fixed, so answers and results always
//! mean what they meant when given. An edit replaces the whole list of
//! questions, which is what a builder screen holds.
//!
//! Every change to a survey locks its row before reading what it checks, so
//! on PostgreSQL as on SQLite two launches at once launch it once, two closes
//! close it once, and an edit of a draft either lands before its launch or is
//! refused after it, never on an open survey. A new wave holds the survey it
//! copies from unchanged (a shared lock) while reading its questions.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    organisations::OrganisationStage,
    sectors, survey_choice_topics, survey_choices,
    survey_questions::{self, QuestionKind},
    surveys::{self, SurveyStatus},
    topics,
};
use hive_worker::surveys::Audience;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use super::{
    change::Change,
    rules,
    vocabulary::{Vocabulary, current_terms},
};
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
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

/// One question, with its choices.
pub struct SurveyQuestion {
    pub question: survey_questions::Model,
    pub choices: Vec<SurveyChoice>,
}

/// A choice, with the topics it shows a need for.
pub struct SurveyChoice {
    pub choice: survey_choices::Model,
    pub topics: Vec<topics::Model>,
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
#[derive(Debug, Clone)]
pub struct SurveyDraft {
    /// 1 to 200 characters once trimmed.
    pub title: String,
    /// Up to 2,000 characters.
    pub description: String,
    /// In order; at most 60.
    pub questions: Vec<QuestionDraft>,
}

/// One question of a draft.
#[derive(Debug, Clone)]
pub struct QuestionDraft {
    pub kind: QuestionKind,
    /// 1 to 2,000 characters once trimmed.
    pub prompt: String,
    pub required: bool,
    /// SCALE only: the ends, at most 20 apart.
    pub scale_min: Option<i32>,
    pub scale_max: Option<i32>,
    /// SINGLE_CHOICE and MULTI_CHOICE only: 2 to 30, labels distinct.
    pub choices: Vec<ChoiceDraft>,
}

/// One choice of a question.
#[derive(Debug, Clone)]
pub struct ChoiceDraft {
    /// 1 to 200 characters once trimmed.
    pub label: String,
    /// Topics (current ones) a co-op choosing this needs support on.
    pub topic_ids: Vec<i64>,
}

/// How a survey is launched: its audience (empty lists do not narrow it),
/// when it closes and when non-responders are reminded.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Sector ids.
    pub sectors: Vec<i64>,
    /// Region names from the programme's list (case does not matter).
    pub regions: Vec<String>,
    pub stages: Vec<OrganisationStage>,
    /// At least an hour from now, within two years.
    pub closes_at: DateTime<Utc>,
    /// 1 to 60 days after the invitation, before the survey closes.
    pub reminder_after_days: Option<i32>,
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

/// A draft as it will be stored.
struct CleanSurvey {
    title: String,
    description: String,
    questions: Vec<CleanQuestion>,
}

/// Checks a whole survey before anything is written; errors name the field
/// path (`questions.2.choices`) so a builder can point at it.
async fn clean_survey(conn: &impl ConnectionTrait, draft: SurveyDraft) -> ApiResult<CleanSurvey> {
    let title = draft.title.trim().to_string();
    if title.is_empty() || too_long(&title, MAX_TITLE_CHARS) {
        return Err(ApiError::bad_input(
            "title",
            "Give the survey a title of 1 to 200 characters.",
        ));
    }
    let description = draft.description.trim().to_string();
    if too_long(&description, MAX_PROMPT_CHARS) {
        return Err(ApiError::bad_input(
            "description",
            "Keep the description under 2,000 characters.",
        ));
    }
    if draft.questions.len() > MAX_QUESTIONS {
        return Err(ApiError::bad_input(
            "questions",
            format!("A survey has at most {MAX_QUESTIONS} questions."),
        ));
    }
    let mut questions = Vec::with_capacity(draft.questions.len());
    for (index, question) in draft.questions.into_iter().enumerate() {
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
        let kind = question.kind;
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
    Ok(CleanSurvey {
        title,
        description,
        questions,
    })
}

/// Writes the questions of a survey (which has none) in the change.
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

/// Stores a new DRAFT (no questions yet), made by the change's viewer.
async fn insert_draft(
    change: &Change<'_>,
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
        created_by_user_id: Set(change.viewer().user.as_ref().map(|user| user.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(change.db())
    .await?)
}

const NO_SUCH_SURVEY: &str = "No survey has that id.";

/// Locks a survey for a change to it (NOT_FOUND if absent).
async fn lock_survey(change: &Change<'_>, id: i64) -> ApiResult<surveys::Model> {
    change
        .lock_by_id::<surveys::Entity>(id, NO_SUCH_SURVEY)
        .await
}

fn must_be_draft(survey: &surveys::Model) -> ApiResult<()> {
    if survey.status != SurveyStatus::Draft {
        return Err(ApiError::conflict(
            "This survey has been launched: its questions are fixed. Duplicate it to start a new wave.",
        ));
    }
    Ok(())
}

/// A new survey, as a DRAFT (staff).
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    draft: SurveyDraft,
) -> ApiResult<surveys::Model> {
    access::require_staff(viewer)?;
    let change = Change::begin(db, viewer).await?;
    let clean = clean_survey(change.db(), draft).await?;
    let survey = insert_draft(&change, clean.title, clean.description, None).await?;
    write_questions(change.db(), survey.id, clean.questions).await?;
    change
        .audit("createSurvey", Some(("Survey", survey.id)), None)
        .await?;
    change.commit().await?;
    Ok(survey)
}

/// Replaces a DRAFT's title, description and questions (staff). A launched
/// survey is a CONFLICT: the survey is locked first, so an edit and a launch
/// at the same moment go one after the other.
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i64,
    draft: SurveyDraft,
) -> ApiResult<surveys::Model> {
    access::require_staff(viewer)?;
    let change = Change::begin(db, viewer).await?;
    let survey = lock_survey(&change, id).await?;
    must_be_draft(&survey)?;
    let clean = clean_survey(change.db(), draft).await?;
    clear_questions(change.db(), survey.id).await?;
    write_questions(change.db(), survey.id, clean.questions).await?;
    let mut row: surveys::ActiveModel = survey.into();
    row.title = Set(clean.title);
    row.description = Set(clean.description);
    row.updated_at = Set(Utc::now());
    let survey = row.update(change.db()).await?;
    change
        .audit("updateSurvey", Some(("Survey", survey.id)), None)
        .await?;
    change.commit().await?;
    Ok(survey)
}

/// Starts the next wave of a census (staff): a DRAFT with the same
/// questions, choices and topics as survey `id`, linked to it so results are
/// compared with it; titled `title`, or as the one it follows. Survey `id`
/// is held unchanged while its questions are copied.
pub async fn duplicate(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i64,
    title: Option<String>,
) -> ApiResult<surveys::Model> {
    access::require_staff(viewer)?;
    let change = Change::begin(db, viewer).await?;
    let previous = change
        .lock_shared(surveys::Entity::find_by_id(id), NO_SUCH_SURVEY)
        .await?;
    let questions = load_questions(change.db(), previous.id).await?;
    let draft = SurveyDraft {
        title: title.unwrap_or_else(|| previous.title.clone()),
        description: previous.description.clone(),
        questions: questions.into_iter().map(as_draft).collect(),
    };
    let clean = clean_survey(change.db(), draft).await?;
    let survey = insert_draft(&change, clean.title, clean.description, Some(previous.id)).await?;
    write_questions(change.db(), survey.id, clean.questions).await?;
    change
        .audit(
            "duplicateSurvey",
            Some(("Survey", survey.id)),
            Some(serde_json::json!({"previousWaveId": previous.id})),
        )
        .await?;
    change.commit().await?;
    Ok(survey)
}

/// A stored question in the builder's shape, for a new wave.
fn as_draft(question: SurveyQuestion) -> QuestionDraft {
    QuestionDraft {
        kind: question.question.kind,
        prompt: question.question.prompt,
        required: question.question.required,
        scale_min: question.question.scale_min,
        scale_max: question.question.scale_max,
        choices: question
            .choices
            .into_iter()
            .map(|c| ChoiceDraft {
                label: c.choice.label,
                topic_ids: c.topics.iter().map(|t| t.id).collect(),
            })
            .collect(),
    }
}

/// Checks the closing time and the reminder of a launch, against `now`.
fn check_schedule(launch: &Launch, now: DateTime<Utc>) -> ApiResult<()> {
    if launch.closes_at <= now + Duration::hours(1) {
        return Err(ApiError::bad_input(
            "closesAt",
            "Give a closing time at least an hour from now.",
        ));
    }
    if launch.closes_at > now + rules::farthest_ahead() {
        return Err(ApiError::bad_input(
            "closesAt",
            "Give a closing time within the next two years.",
        ));
    }
    if let Some(days) = launch.reminder_after_days {
        if !(1..=MAX_REMINDER_DAYS).contains(&days) {
            return Err(ApiError::bad_input(
                "reminderAfterDays",
                format!("Remind after 1 to {MAX_REMINDER_DAYS} days."),
            ));
        }
        if now + Duration::days(i64::from(days)) >= launch.closes_at {
            return Err(ApiError::bad_input(
                "reminderAfterDays",
                "The reminder would go after the survey closes.",
            ));
        }
    }
    Ok(())
}

/// Checks a launch's audience: sectors that exist, regions from the
/// programme's list (in their canonical spelling), each once.
async fn clean_audience(conn: &impl ConnectionTrait, launch: &Launch) -> ApiResult<Audience> {
    let mut sectors = Vec::new();
    for &sector in &launch.sectors {
        if sectors::Entity::find_by_id(sector)
            .one(conn)
            .await?
            .is_none()
        {
            return Err(ApiError::bad_input(
                "audience.sectors",
                format!(
                    "No sector has the id {}.",
                    hive_worker::ids::global_id("Sector", sector)
                ),
            ));
        }
        if !sectors.contains(&sector) {
            sectors.push(sector);
        }
    }
    let mut regions: Vec<String> = Vec::new();
    for region in &launch.regions {
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
    for stage in &launch.stages {
        if !stages.contains(stage) {
            stages.push(*stage);
        }
    }
    Ok(Audience {
        sectors,
        regions,
        stages,
    })
}

/// Opens a DRAFT to an audience (staff) and returns at once: the worker then
/// writes one invitation per organisation in the audience (those that exist
/// now and can be written to) and sends them in batches. The survey is
/// locked first, so two launches at once launch it once (the second is a
/// CONFLICT) and an edit in flight finishes before it.
pub async fn launch(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i64,
    launch: Launch,
) -> ApiResult<surveys::Model> {
    access::require_staff(viewer)?;
    let now = Utc::now();
    check_schedule(&launch, now)?;
    let change = Change::begin(db, viewer).await?;
    let survey = lock_survey(&change, id).await?;
    must_be_draft(&survey)?;
    let questions = survey_questions::Entity::find()
        .filter(survey_questions::Column::SurveyId.eq(survey.id))
        .count(change.db())
        .await?;
    if questions == 0 {
        return Err(ApiError::bad_input(
            "surveyId",
            "Add at least one question before launching.",
        ));
    }
    let audience = clean_audience(change.db(), &launch).await?;
    let reachable = audience.organisation_ids().all(change.db()).await?.len();
    if reachable == 0 {
        return Err(ApiError::bad_input(
            "audience",
            "No co-op in this audience has an address to write to.",
        ));
    }
    let mut row: surveys::ActiveModel = survey.into();
    row.status = Set(SurveyStatus::Open);
    row.audience = Set(Some(audience.to_stored()));
    row.closes_at = Set(Some(launch.closes_at));
    row.reminder_after_days = Set(launch.reminder_after_days);
    row.launched_at = Set(Some(now));
    row.updated_at = Set(now);
    let survey = row.update(change.db()).await?;
    change
        .audit(
            "launchSurvey",
            Some(("Survey", survey.id)),
            Some(serde_json::json!({"organisations": reachable})),
        )
        .await?;
    change.commit().await?;
    Ok(survey)
}

/// Closes an OPEN survey now (staff): no more answers, no more reminders.
/// The survey is locked first, so two closes at once close it once (the
/// second is a CONFLICT), and answers being stored finish first.
pub async fn close(db: &DatabaseConnection, viewer: &Viewer, id: i64) -> ApiResult<surveys::Model> {
    access::require_staff(viewer)?;
    let change = Change::begin(db, viewer).await?;
    let survey = lock_survey(&change, id).await?;
    match survey.status {
        SurveyStatus::Open => {}
        SurveyStatus::Draft => {
            return Err(ApiError::conflict(
                "A draft is not open: there is nothing to close.",
            ));
        }
        SurveyStatus::Closed => {
            return Err(ApiError::conflict("This survey is closed already."));
        }
    }
    let now = Utc::now();
    let mut row: surveys::ActiveModel = survey.into();
    row.status = Set(SurveyStatus::Closed);
    row.closed_at = Set(Some(now));
    row.updated_at = Set(now);
    let survey = row.update(change.db()).await?;
    change
        .audit("closeSurvey", Some(("Survey", survey.id)), None)
        .await?;
    change.commit().await?;
    Ok(survey)
}
