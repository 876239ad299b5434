//! `GET /surveys/{id}/responses.csv`: every response to a survey, one row per
//! organisation and one column per question, for staff to read the answers
//! (text included) in a spreadsheet. The results in GraphQL only count them.
//!
//! Written the way spreadsheet programs open without an import dialog:
//! UTF-8 with a byte-order mark, CRLF line ends, quoted where needed. Text
//! that people typed and a spreadsheet would run as a formula is defused.

use std::collections::HashMap;

use axum::{
    extract::{Path, State, rejection::PathRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use entity::{
    organisations::{self, OrganisationStage},
    sectors, survey_answers, survey_choices, survey_invitations,
    survey_questions::{self, QuestionKind},
    survey_responses, surveys,
};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};

use super::download::{BOM, defuse, refusal, staff_viewer};
use crate::{
    error::{ApiError, ApiResult},
    graphql::relay::{NodeType, decode_id_of},
    state::AppState,
};

/// Joins the labels of a MULTI_CHOICE answer in one cell.
const CHOICE_SEPARATOR: &str = "; ";

/// The first columns, before one per question.
const LEADING_COLUMNS: [&str; 5] = ["organisation", "sector", "region", "stage", "submitted at"];

/// GET: the CSV, as an attachment. 401 without a valid token, 403 for
/// anyone but staff (before the survey is looked up, so others learn nothing
/// of which surveys exist), 404 for an unknown survey.
pub async fn download(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = staff_viewer(
        &state,
        &headers,
        crate::access::may_read_survey_responses,
        "Survey responses are for staff.",
    )
    .await
    {
        return refusal("survey CSV", error);
    }
    // An id that does not even decode (bad percent-encoding) is as unknown
    // as any other, in our words rather than the framework's.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let csv = match decode_id_of(NodeType::Survey, &async_graphql::ID(id)) {
        Ok(survey_id) => responses_csv(&state.db, survey_id)
            .await
            .map(|csv| (survey_id, csv)),
        Err(error) => Err(error),
    };
    match csv {
        Ok((survey_id, csv)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"survey-{survey_id}-responses.csv\""),
                ),
                // Confidential answers: no copy in a shared cache.
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            csv,
        )
            .into_response(),
        Err(error) => refusal("survey CSV", error),
    }
}

/// A response as its row starts: response id, organisation, sector,
/// region, stage, submitted at.
type ResponseRow = (
    i64,
    String,
    Option<String>,
    String,
    OrganisationStage,
    DateTime<Utc>,
);

/// What a response holds for one question.
#[derive(Default)]
struct Cell {
    /// (position, label) of each chosen choice.
    choices: Vec<(i32, String)>,
    numbers: Vec<f64>,
    texts: Vec<String>,
}

impl Cell {
    fn render(mut self, kind: QuestionKind) -> String {
        match kind {
            QuestionKind::SingleChoice | QuestionKind::MultiChoice => {
                self.choices.sort();
                let labels: Vec<String> = self.choices.into_iter().map(|(_, l)| l).collect();
                defuse(&labels.join(CHOICE_SEPARATOR))
            }
            // Our own rendering of a number: a minus sign here is a
            // negative number, not a formula.
            QuestionKind::Scale | QuestionKind::Number => self
                .numbers
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(CHOICE_SEPARATOR),
            QuestionKind::Text => defuse(&self.texts.join(CHOICE_SEPARATOR)),
        }
    }
}

/// The whole file for a survey, built in memory (10,000 responses make a
/// few megabytes) from five statements, ordered by organisation name.
/// NOT_FOUND for an unknown survey.
pub async fn responses_csv(conn: &impl ConnectionTrait, survey_id: i64) -> ApiResult<Vec<u8>> {
    surveys::Entity::find_by_id(survey_id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("No survey has that id."))?;
    let questions = survey_questions::Entity::find()
        .filter(survey_questions::Column::SurveyId.eq(survey_id))
        .order_by_asc(survey_questions::Column::Position)
        .all(conn)
        .await?;
    let question_ids: Vec<i64> = questions.iter().map(|q| q.id).collect();
    let choices: HashMap<i64, survey_choices::Model> = survey_choices::Entity::find()
        .filter(survey_choices::Column::QuestionId.is_in(question_ids.clone()))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let responses: Vec<ResponseRow> = survey_responses::Entity::find()
        .select_only()
        .column(survey_responses::Column::Id)
        .column_as(organisations::Column::Name, "organisation")
        .column_as(sectors::Column::Name, "sector")
        .column(organisations::Column::Region)
        .column(organisations::Column::Stage)
        .column(survey_responses::Column::SubmittedAt)
        .join(
            JoinType::InnerJoin,
            survey_responses::Relation::Invitation.def(),
        )
        .join(
            JoinType::InnerJoin,
            survey_invitations::Relation::Organisation.def(),
        )
        .join(JoinType::LeftJoin, organisations::Relation::Sector.def())
        .filter(survey_invitations::Column::SurveyId.eq(survey_id))
        .order_by_asc(organisations::Column::Name)
        .order_by_asc(survey_responses::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    let mut cells: HashMap<(i64, i64), Cell> = HashMap::new();
    for answer in survey_answers::Entity::find()
        .filter(survey_answers::Column::QuestionId.is_in(question_ids))
        .order_by_asc(survey_answers::Column::Id)
        .all(conn)
        .await?
    {
        let cell = cells
            .entry((answer.response_id, answer.question_id))
            .or_default();
        if let Some(choice) = answer.choice_id.and_then(|id| choices.get(&id)) {
            cell.choices
                .push((choice.position, choice.label.trim().to_string()));
        }
        cell.numbers.extend(answer.number_value);
        cell.texts
            .extend(answer.text_value.filter(|t| !t.trim().is_empty()));
    }

    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.to_vec());
    let header = LEADING_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(questions.iter().map(|q| defuse(q.prompt.trim())));
    writer.write_record(header).map_err(ApiError::internal)?;
    for (response_id, organisation, sector, region, stage, submitted_at) in responses {
        let leading = [
            defuse(&organisation),
            defuse(sector.as_deref().unwrap_or_default()),
            defuse(&region),
            stage.to_value(),
            submitted_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ];
        let answers = questions.iter().map(|q| {
            cells
                .remove(&(response_id, q.id))
                .unwrap_or_default()
                .render(q.kind)
        });
        writer
            .write_record(leading.into_iter().chain(answers))
            .map_err(ApiError::internal)?;
    }
    writer
        .into_inner()
        .map_err(|error| ApiError::internal(error.error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_keep_the_question_order_and_numbers_stay_numbers() {
        let cell = Cell {
            choices: vec![(3, "Digital".into()), (1, "Finance".into())],
            ..Cell::default()
        };
        assert_eq!(cell.render(QuestionKind::MultiChoice), "Finance; Digital");
        let cell = Cell {
            numbers: vec![-4.0],
            ..Cell::default()
        };
        assert_eq!(cell.render(QuestionKind::Number), "-4");
        let cell = Cell {
            numbers: vec![2.5],
            ..Cell::default()
        };
        assert_eq!(cell.render(QuestionKind::Scale), "2.5");
    }
}
