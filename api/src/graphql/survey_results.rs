//! Survey results for staff: who answered (overall, and by sector, region
//! and stage), what they answered question by question, and how both moved
//! since the previous wave of the census. Everything comes from a handful of
//! grouped statements, so the cost does not grow with the number of
//! responses; the answers themselves are read in the CSV download.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_graphql::{ComplexObject, Context, ID, Object, SimpleObject};
use entity::{
    organisations::{self, OrganisationStage},
    sectors, survey_answers, survey_choices, survey_invitations, survey_questions,
    survey_responses, surveys,
};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, EntityTrait, ExprTrait, Iterable,
    JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
    sea_query::{Expr, Func},
};

use super::{
    relay::{NodeType, decode_id_of, global_id},
    surveys::QuestionKindValue,
};
use crate::{
    auth::RoleGuard,
    error::{ApiError, ApiResult},
    state::AppState,
};

/// The label of organisations without a sector.
const NO_SECTOR: &str = "No sector";
/// The label of organisations whose region is blank.
const NO_REGION: &str = "No region";

/// A survey's results: the response rate, overall and by group, and every
/// question's figures, with the previous wave's beside them when the survey
/// is a later wave of the census.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct SurveyResults {
    #[graphql(deprecation = "Use `survey { id }` instead.")]
    pub survey_id: ID,
    /// Organisations invited (one invitation each).
    pub invited: i64,
    /// Invited organisations that sent a response.
    pub responded: i64,
    /// Responded as a percentage of invited, 0–100 to one decimal; 0 while
    /// nobody is invited.
    pub response_rate: f64,
    /// By the organisation's sector, by name; "No sector" last.
    pub by_sector: Vec<SurveyGroupResult>,
    /// By the organisation's region, by name; "No region" last.
    pub by_region: Vec<SurveyGroupResult>,
    /// By the organisation's stage, in the journey's order (IDEA first).
    pub by_stage: Vec<SurveyGroupResult>,
    /// In the survey's order.
    pub questions: Vec<SurveyQuestionResult>,
    /// The previous wave's turnout; null for a first wave.
    pub previous_wave: Option<SurveyWaveResult>,
}

/// Turnout in one group of organisations, so staff see whom the census
/// does not reach.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct SurveyGroupResult {
    /// The sector's name, the region, or the stage (e.g. "START_UP").
    pub label: String,
    pub invited: i64,
    pub responded: i64,
    /// 0–100, to one decimal.
    pub response_rate: f64,
}

/// The earlier wave's turnout, to read this wave's against.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct SurveyWaveResult {
    #[graphql(deprecation = "Use `survey { id }` instead.")]
    pub survey_id: ID,
    pub title: String,
    pub invited: i64,
    pub responded: i64,
    /// 0–100, to one decimal.
    pub response_rate: f64,
    /// This wave's rate minus the previous one's, in percentage points.
    pub response_rate_change: f64,
}

/// The survey a result is about, by its global id, as `survey(id:)` reads
/// it (staff).
async fn survey_by_id(ctx: &Context<'_>, id: &ID) -> ApiResult<super::surveys::Survey> {
    let id = super::relay::decode_id_of(super::relay::NodeType::Survey, id)?;
    super::surveys::load_survey(ctx, id).await
}

#[ComplexObject]
impl SurveyResults {
    /// The survey these are the results of.
    async fn survey(&self, ctx: &Context<'_>) -> ApiResult<super::surveys::Survey> {
        survey_by_id(ctx, &self.survey_id).await
    }
}

#[ComplexObject]
impl SurveyWaveResult {
    /// The previous wave's survey.
    async fn survey(&self, ctx: &Context<'_>) -> ApiResult<super::surveys::Survey> {
        survey_by_id(ctx, &self.survey_id).await
    }
}

/// One question's figures. Text answers are only counted here: they are
/// read in the CSV download.
#[derive(SimpleObject, Debug, Clone)]
pub struct SurveyQuestionResult {
    /// The question's global id (SurveyQuestion).
    pub id: ID,
    pub position: i32,
    pub prompt: String,
    pub kind: QuestionKindValue,
    /// Responses that answered the question: the base of every percentage
    /// below, and the count the mean is over.
    pub answered: i64,
    /// SINGLE_CHOICE and MULTI_CHOICE, in the question's order; empty for
    /// other kinds. For MULTI_CHOICE a response may pick several, so the
    /// percentages may add up to more than 100.
    pub choices: Vec<SurveyChoiceResult>,
    /// SCALE and NUMBER: the mean answer, to two decimals; null for other
    /// kinds or while nobody answered.
    pub mean: Option<f64>,
    /// The matching question of the previous wave (same kind and same prompt,
    /// ignoring case and outer spaces; failing that, same kind at the same
    /// position); null when there is none.
    pub previous_wave: Option<SurveyQuestionWaveResult>,
}

/// How often one choice was picked.
#[derive(SimpleObject, Debug, Clone)]
pub struct SurveyChoiceResult {
    /// The choice's global id (SurveyChoice).
    pub id: ID,
    pub label: String,
    /// Responses that picked it.
    pub count: i64,
    /// Of the responses that answered the question, 0–100 to one decimal.
    pub percentage: f64,
    /// The same label's percentage in the previous wave's matching question
    /// (labels compared ignoring case and outer spaces); null when that
    /// question had no such choice.
    pub previous_percentage: Option<f64>,
    /// `percentage` minus `previousPercentage`, in percentage points.
    pub percentage_point_change: Option<f64>,
}

/// The previous wave's figures for the matching question.
#[derive(SimpleObject, Debug, Clone)]
pub struct SurveyQuestionWaveResult {
    /// The previous wave's question (SurveyQuestion).
    pub question_id: ID,
    pub prompt: String,
    pub answered: i64,
    /// SCALE and NUMBER, to two decimals.
    pub mean: Option<f64>,
    /// This wave's mean minus the previous one's.
    pub mean_change: Option<f64>,
}

/// Percentages, rates and their changes are shown to one decimal; a change
/// is worked out from the rounded figures, so it is the difference staff see.
fn one_decimal(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// Means are shown to two decimals: one would hide most movement on a 1–5 scale.
fn two_decimals(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// `part` of `whole` as a percentage to one decimal; 0 when `whole` is 0
/// (a survey nobody was invited to, a question nobody answered).
fn percentage(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        one_decimal(100.0 * part as f64 / whole as f64)
    }
}

/// How prompts and labels are compared across waves.
fn same_words(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Pairs each question of this wave with its counterpart in the previous
/// one: first by kind and prompt (ignoring case and outer spaces), then, for
/// those left, by kind and position. A previous question is used once.
/// Returns current question id → previous question id.
pub fn match_previous_questions(
    current: &[survey_questions::Model],
    previous: &[survey_questions::Model],
) -> HashMap<i64, i64> {
    type Likeness = fn(&survey_questions::Model, &survey_questions::Model) -> bool;
    let passes: [Likeness; 2] = [
        |now, then| same_words(&now.prompt) == same_words(&then.prompt),
        |now, then| now.position == then.position,
    ];
    let mut matched = HashMap::new();
    let mut used = HashSet::new();
    for alike in passes {
        for question in current {
            if matched.contains_key(&question.id) {
                continue;
            }
            if let Some(earlier) = previous
                .iter()
                .find(|p| p.kind == question.kind && !used.contains(&p.id) && alike(question, p))
            {
                matched.insert(question.id, earlier.id);
                used.insert(earlier.id);
            }
        }
    }
    matched
}

/// Invited and responded in one group.
#[derive(Debug, Clone, Copy, Default)]
struct Turnout {
    invited: i64,
    responded: i64,
}

impl Turnout {
    fn add(&mut self, other: Turnout) {
        self.invited += other.invited;
        self.responded += other.responded;
    }

    fn rate(self) -> f64 {
        percentage(self.responded, self.invited)
    }
}

/// Groups sorted by an order key, then label.
fn groups(entries: BTreeMap<(usize, String), Turnout>) -> Vec<SurveyGroupResult> {
    entries
        .into_iter()
        .map(|((_, label), turnout)| SurveyGroupResult {
            label,
            invited: turnout.invited,
            responded: turnout.responded,
            response_rate: turnout.rate(),
        })
        .collect()
}

/// One wave's turnout: overall and by sector, region and stage.
#[derive(Default)]
struct WaveTurnout {
    overall: Turnout,
    by_sector: BTreeMap<(usize, String), Turnout>,
    by_region: BTreeMap<(usize, String), Turnout>,
    by_stage: BTreeMap<(usize, String), Turnout>,
}

/// Invitations and responses per wave and per (sector, region, stage): one
/// grouped statement for both waves.
async fn turnout(
    conn: &impl ConnectionTrait,
    waves: &[i64],
) -> ApiResult<HashMap<i64, WaveTurnout>> {
    let rows: Vec<(i64, Option<i64>, String, OrganisationStage, i64, i64)> =
        survey_invitations::Entity::find()
            .select_only()
            .column(survey_invitations::Column::SurveyId)
            .column(organisations::Column::SectorId)
            .column(organisations::Column::Region)
            .column(organisations::Column::Stage)
            .column_as(survey_invitations::Column::Id.count(), "invited")
            .column_as(survey_responses::Column::Id.count(), "responded")
            .join(
                JoinType::InnerJoin,
                survey_invitations::Relation::Organisation.def(),
            )
            .join(
                JoinType::LeftJoin,
                survey_invitations::Relation::Response.def(),
            )
            .filter(survey_invitations::Column::SurveyId.is_in(waves.to_vec()))
            .group_by(survey_invitations::Column::SurveyId)
            .group_by(organisations::Column::SectorId)
            .group_by(organisations::Column::Region)
            .group_by(organisations::Column::Stage)
            .into_tuple()
            .all(conn)
            .await?;
    let sector_names: HashMap<i64, String> = sectors::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let stage_order: Vec<OrganisationStage> = OrganisationStage::iter().collect();
    let mut by_wave: HashMap<i64, WaveTurnout> = HashMap::new();
    for (survey_id, sector_id, region, stage, invited, responded) in rows {
        let counts = Turnout { invited, responded };
        let wave = by_wave.entry(survey_id).or_default();
        wave.overall.add(counts);
        let sector = match sector_id.and_then(|id| sector_names.get(&id)) {
            Some(name) => (0, name.clone()),
            None => (1, NO_SECTOR.to_string()),
        };
        wave.by_sector.entry(sector).or_default().add(counts);
        let region = match region.trim() {
            "" => (1, NO_REGION.to_string()),
            named => (0, named.to_string()),
        };
        wave.by_region.entry(region).or_default().add(counts);
        let order = stage_order.iter().position(|s| *s == stage).unwrap_or(0);
        wave.by_stage
            .entry((order, stage.to_value()))
            .or_default()
            .add(counts);
    }
    Ok(by_wave)
}

/// One question's counts as read from the answers.
#[derive(Debug, Clone, Default)]
struct QuestionFigures {
    answered: i64,
    mean: Option<f64>,
    /// Choice id → (count, percentage).
    choices: HashMap<i64, (i64, f64)>,
}

/// Answered, mean, and per-choice counts of the given questions: two
/// grouped statements. An answer counts when it holds something: a choice,
/// a number, or text that is not blank.
async fn question_figures(
    conn: &impl ConnectionTrait,
    question_ids: &[i64],
) -> ApiResult<HashMap<i64, QuestionFigures>> {
    let given = Condition::any()
        .add(survey_answers::Column::ChoiceId.is_not_null())
        .add(survey_answers::Column::NumberValue.is_not_null())
        .add(
            Expr::expr(Func::cust("TRIM").arg(Expr::col((
                survey_answers::Entity,
                survey_answers::Column::TextValue,
            ))))
            .ne(""),
        );
    let per_question: Vec<(i64, i64, Option<f64>, i64)> = survey_answers::Entity::find()
        .select_only()
        .column(survey_answers::Column::QuestionId)
        .column_as(
            Expr::col(survey_answers::Column::ResponseId).count_distinct(),
            "answered",
        )
        .column_as(survey_answers::Column::NumberValue.sum(), "total")
        .column_as(survey_answers::Column::NumberValue.count(), "numbers")
        .filter(survey_answers::Column::QuestionId.is_in(question_ids.to_vec()))
        .filter(given)
        .group_by(survey_answers::Column::QuestionId)
        .into_tuple()
        .all(conn)
        .await?;
    let per_choice: Vec<(i64, i64, i64)> = survey_answers::Entity::find()
        .select_only()
        .column(survey_answers::Column::QuestionId)
        .column(survey_answers::Column::ChoiceId)
        .column_as(
            Expr::col(survey_answers::Column::ResponseId).count_distinct(),
            "chosen",
        )
        .filter(survey_answers::Column::QuestionId.is_in(question_ids.to_vec()))
        .filter(survey_answers::Column::ChoiceId.is_not_null())
        .group_by(survey_answers::Column::QuestionId)
        .group_by(survey_answers::Column::ChoiceId)
        .into_tuple()
        .all(conn)
        .await?;
    let mut figures: HashMap<i64, QuestionFigures> = HashMap::new();
    for (question_id, answered, total, numbers) in per_question {
        let entry = figures.entry(question_id).or_default();
        entry.answered = answered;
        entry.mean = total
            .filter(|_| numbers > 0)
            .map(|total| two_decimals(total / numbers as f64));
    }
    for (question_id, choice_id, chosen) in per_choice {
        let entry = figures.entry(question_id).or_default();
        let share = percentage(chosen, entry.answered);
        entry.choices.insert(choice_id, (chosen, share));
    }
    Ok(figures)
}

/// The survey's results, with the previous wave's figures when it has one.
/// Built for a census of thousands of responses: seven statements (eight
/// with a previous wave), whatever their number. NOT_FOUND for an unknown
/// survey.
pub async fn survey_results(
    conn: &impl ConnectionTrait,
    survey_id: i64,
) -> ApiResult<SurveyResults> {
    let survey = surveys::Entity::find_by_id(survey_id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("No survey has that id."))?;
    let previous = match survey.previous_wave_id {
        Some(id) => surveys::Entity::find_by_id(id).one(conn).await?,
        None => None,
    };
    let waves: Vec<i64> = std::iter::once(survey.id)
        .chain(previous.as_ref().map(|p| p.id))
        .collect();
    let questions = survey_questions::Entity::find()
        .filter(survey_questions::Column::SurveyId.is_in(waves.clone()))
        .order_by_asc(survey_questions::Column::Position)
        .all(conn)
        .await?;
    let question_ids: Vec<i64> = questions.iter().map(|q| q.id).collect();
    let choices = survey_choices::Entity::find()
        .filter(survey_choices::Column::QuestionId.is_in(question_ids.clone()))
        .order_by_asc(survey_choices::Column::Position)
        .all(conn)
        .await?;
    let mut turnout = turnout(conn, &waves).await?;
    let figures = question_figures(conn, &question_ids).await?;

    let mut choices_of: HashMap<i64, Vec<&survey_choices::Model>> = HashMap::new();
    for choice in &choices {
        choices_of
            .entry(choice.question_id)
            .or_default()
            .push(choice);
    }
    let (current, earlier): (Vec<_>, Vec<_>) = questions
        .into_iter()
        .partition(|q| q.survey_id == survey.id);
    let pairs = match_previous_questions(&current, &earlier);
    let earlier_by_id: HashMap<i64, &survey_questions::Model> =
        earlier.iter().map(|q| (q.id, q)).collect();
    let none = QuestionFigures::default();
    let figures_of = |id: i64| figures.get(&id).unwrap_or(&none);

    let questions = current
        .iter()
        .map(|question| {
            let mine = figures_of(question.id);
            let before = pairs
                .get(&question.id)
                .and_then(|id| earlier_by_id.get(id))
                .copied();
            // The previous wave's percentage per label.
            let before_shares: HashMap<String, f64> = before
                .map(|b| {
                    let theirs = figures_of(b.id);
                    choices_of
                        .get(&b.id)
                        .into_iter()
                        .flatten()
                        .map(|c| {
                            let share = theirs.choices.get(&c.id).map_or(0.0, |(_, s)| *s);
                            (same_words(&c.label), share)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let choices = choices_of
                .get(&question.id)
                .into_iter()
                .flatten()
                .map(|choice| {
                    let (count, share) = mine.choices.get(&choice.id).copied().unwrap_or((0, 0.0));
                    let previous_percentage =
                        before_shares.get(&same_words(&choice.label)).copied();
                    SurveyChoiceResult {
                        id: global_id(NodeType::SurveyChoice, choice.id),
                        label: choice.label.clone(),
                        count,
                        percentage: share,
                        previous_percentage,
                        percentage_point_change: previous_percentage
                            .map(|p| one_decimal(share - p)),
                    }
                })
                .collect();
            let previous_wave = before.map(|b| {
                let theirs = figures_of(b.id);
                SurveyQuestionWaveResult {
                    question_id: global_id(NodeType::SurveyQuestion, b.id),
                    prompt: b.prompt.clone(),
                    answered: theirs.answered,
                    mean: theirs.mean,
                    mean_change: mine
                        .mean
                        .zip(theirs.mean)
                        .map(|(now, then)| two_decimals(now - then)),
                }
            });
            SurveyQuestionResult {
                id: global_id(NodeType::SurveyQuestion, question.id),
                position: question.position,
                prompt: question.prompt.clone(),
                kind: question.kind.into(),
                answered: mine.answered,
                choices,
                mean: mine.mean,
                previous_wave,
            }
        })
        .collect();

    let this_wave = turnout.remove(&survey.id).unwrap_or_default();
    let rate = this_wave.overall.rate();
    let previous_wave = previous.map(|p| {
        let then = turnout.remove(&p.id).unwrap_or_default().overall;
        SurveyWaveResult {
            survey_id: global_id(NodeType::Survey, p.id),
            title: p.title,
            invited: then.invited,
            responded: then.responded,
            response_rate: then.rate(),
            response_rate_change: one_decimal(rate - then.rate()),
        }
    });
    Ok(SurveyResults {
        survey_id: global_id(NodeType::Survey, survey.id),
        invited: this_wave.overall.invited,
        responded: this_wave.overall.responded,
        response_rate: rate,
        by_sector: groups(this_wave.by_sector),
        by_region: groups(this_wave.by_region),
        by_stage: groups(this_wave.by_stage),
        questions,
        previous_wave,
    })
}

/// Staff read a survey's results here until the `Survey` type carries them
/// as a field.
#[derive(Default)]
pub struct SurveyResultsQuery;

#[Object]
impl SurveyResultsQuery {
    /// A survey's results (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn survey_results(
        &self,
        ctx: &Context<'_>,
        survey_id: ID,
    ) -> ApiResult<Option<SurveyResults>> {
        let state = ctx.data_unchecked::<AppState>();
        survey_results(&state.db, decode_id_of(NodeType::Survey, &survey_id)?)
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::survey_questions::QuestionKind;

    fn question(
        id: i64,
        position: i32,
        kind: QuestionKind,
        prompt: &str,
    ) -> survey_questions::Model {
        survey_questions::Model {
            id,
            survey_id: 0,
            position,
            kind,
            prompt: prompt.into(),
            required: false,
            scale_min: None,
            scale_max: None,
        }
    }

    #[test]
    fn questions_match_by_prompt_then_by_position() {
        let before = [
            question(1, 1, QuestionKind::SingleChoice, "Biggest need?"),
            question(2, 2, QuestionKind::Scale, "How confident are you?"),
            question(3, 3, QuestionKind::MultiChoice, "Which areas?"),
            question(4, 4, QuestionKind::Text, "Anything else?"),
        ];
        let now = [
            question(11, 1, QuestionKind::Scale, "  HOW confident are you? "),
            question(12, 2, QuestionKind::SingleChoice, "biggest need?"),
            question(13, 3, QuestionKind::MultiChoice, "Which areas now?"),
            question(14, 4, QuestionKind::Number, "Anything else?"),
        ];
        let pairs = match_previous_questions(&now, &before);
        assert_eq!(pairs.get(&11), Some(&2));
        assert_eq!(pairs.get(&12), Some(&1));
        assert_eq!(pairs.get(&13), Some(&3), "same position and kind");
        assert_eq!(pairs.get(&14), None, "same prompt but another kind");
    }

    #[test]
    fn a_previous_question_is_matched_once() {
        let before = [question(1, 1, QuestionKind::Text, "Comments")];
        let now = [
            question(11, 1, QuestionKind::Text, "Other thoughts"),
            question(12, 2, QuestionKind::Text, "comments"),
        ];
        let pairs = match_previous_questions(&now, &before);
        assert_eq!(pairs.get(&12), Some(&1));
        assert_eq!(pairs.get(&11), None);
    }

    #[test]
    fn percentages_have_one_decimal_and_survive_an_empty_base() {
        assert_eq!(percentage(2, 3), 66.7);
        assert_eq!(percentage(1, 3), 33.3);
        assert_eq!(percentage(0, 0), 0.0);
        assert_eq!(one_decimal(66.7 - 50.0), 16.7);
    }
}
