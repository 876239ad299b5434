//! From census to support: the topics a co-op's survey choices map to are
//! its needs, and staff turn a response into a support request in one step.
//!
//! The request is drafted as SUBMITTED — the state every request waits in
//! for staff — with the needs as its topics and the answers quoted in its
//! goals; staff edit it and start matching as for any other. A response is
//! turned into one request only: the change locks the response's invitation
//! first (as answering from the link does), so a double click or a retried
//! request waits and then finds the request drafted, and the answers it
//! reads are not being replaced meanwhile. The database keeps the link
//! unique besides.

use chrono::Utc;
use entity::{
    organisations,
    support_requests::{self, EngagementKind, SupportRequestStatus},
    survey_answers, survey_choice_topics, survey_invitations,
    survey_questions::{self, QuestionKind},
    survey_responses, surveys, topics,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Query,
};

use super::change::Change;
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Longest goals text a request takes (as `requests::submit`).
const MAX_GOALS_CHARS: usize = 4_000;

/// The topics a response's choices map to, by name; retired topics are
/// left out (they are no longer offered for new requests).
pub async fn needs_of(
    conn: &impl ConnectionTrait,
    response_id: i64,
) -> ApiResult<Vec<topics::Model>> {
    let chosen = Query::select()
        .column(survey_answers::Column::ChoiceId)
        .from(survey_answers::Entity)
        .and_where(survey_answers::Column::ResponseId.eq(response_id))
        .and_where(survey_answers::Column::ChoiceId.is_not_null())
        .to_owned();
    let mapped = Query::select()
        .column(survey_choice_topics::Column::TopicId)
        .from(survey_choice_topics::Entity)
        .and_where(survey_choice_topics::Column::ChoiceId.in_subquery(chosen))
        .to_owned();
    Ok(topics::Entity::find()
        .filter(topics::Column::Id.in_subquery(mapped))
        .filter(topics::Column::RetiredAt.is_null())
        .order_by_asc(topics::Column::Name)
        .order_by_asc(topics::Column::Id)
        .all(conn)
        .await?)
}

/// The goals of a drafted request: where it came from, the needs, and the
/// co-op's own words from TEXT answers; cut to what a request takes.
fn goals_text(
    organisation: &str,
    survey: &surveys::Model,
    answered_on: &str,
    needs: &[topics::Model],
    texts: &[(String, String)],
) -> String {
    let names: Vec<&str> = needs.iter().map(|t| t.name.as_str()).collect();
    let mut goals = format!(
        "Drafted from {organisation}'s answers to \"{}\" ({answered_on}). Needs: {}.",
        survey.title,
        names.join(", ")
    );
    for (prompt, text) in texts {
        goals.push_str(&format!("\n\n{prompt}\n{text}"));
    }
    if goals.chars().count() > MAX_GOALS_CHARS {
        goals = goals.chars().take(MAX_GOALS_CHARS - 1).collect();
        goals.push('…');
    }
    goals
}

/// Turns survey response `response_id` into a support request of `kind`
/// for its co-op (staff): its needs become the request's topics and its
/// answers the start of its goals; SUBMITTED, for staff to edit and match.
/// A response with no needs is BAD_USER_INPUT; a second request from the
/// same response is a CONFLICT.
pub async fn create_request_from_response(
    db: &DatabaseConnection,
    viewer: &Viewer,
    response_id: i64,
    kind: EngagementKind,
) -> ApiResult<support_requests::Model> {
    access::require_staff(viewer)?;
    let user = viewer.require_user()?;
    let missing = "No survey response has that id.";
    let change = Change::begin(db, viewer).await?;
    // A response never moves to another invitation, so its invitation is
    // known before the lock; the response itself is read after it.
    let invitation_id: Option<i64> = survey_responses::Entity::find_by_id(response_id)
        .select_only()
        .column(survey_responses::Column::InvitationId)
        .into_tuple()
        .one(change.db())
        .await?;
    let invitation_id = invitation_id.ok_or_else(|| ApiError::not_found(missing))?;
    let invitation = change
        .lock_by_id::<survey_invitations::Entity>(invitation_id, missing)
        .await?;
    let response = survey_responses::Entity::find_by_id(response_id)
        .one(change.db())
        .await?
        .ok_or_else(|| ApiError::not_found(missing))?;
    let drafted_already =
        || ApiError::conflict("A support request has already been drafted from this response.");
    if support_requests::Entity::find()
        .filter(support_requests::Column::SurveyResponseId.eq(response.id))
        .one(change.db())
        .await?
        .is_some()
    {
        return Err(drafted_already());
    }
    let survey = surveys::Entity::find_by_id(invitation.survey_id)
        .one(change.db())
        .await?
        .ok_or_else(|| ApiError::internal("invitation without survey"))?;
    // Held from changing until the request is in, as `requests::submit`
    // holds it: an archive or an erasure either came first and refuses
    // this, or waits for it.
    let organisation = change
        .lock_shared(
            organisations::Entity::find_by_id(invitation.organisation_id),
            "No organisation has that id.",
        )
        .await?;
    super::organisations::still_taking_part(&organisation)?;
    let needs = needs_of(change.db(), response.id).await?;
    if needs.is_empty() {
        return Err(ApiError::bad_input(
            "responseId",
            "This response shows no needs: none of its choices maps to a current topic.",
        ));
    }
    let texts: Vec<(String, String)> = survey_answers::Entity::find()
        .filter(survey_answers::Column::ResponseId.eq(response.id))
        .filter(survey_answers::Column::TextValue.is_not_null())
        .find_also_related(survey_questions::Entity)
        .order_by_asc(survey_answers::Column::QuestionId)
        .all(change.db())
        .await?
        .into_iter()
        .filter_map(|(answer, question)| {
            let question = question.filter(|q| q.kind == QuestionKind::Text)?;
            Some((question.prompt, answer.text_value?))
        })
        .collect();
    let now = Utc::now();
    let goals = goals_text(
        &organisation.name,
        &survey,
        &hive_worker::notify::london_date(response.updated_at),
        &needs,
        &texts,
    );
    let request = support_requests::ActiveModel {
        organisation_id: Set(organisation.id),
        kind: Set(kind),
        goals: Set(goals),
        status: Set(SupportRequestStatus::Submitted),
        submitted_by_user_id: Set(Some(user.id)),
        decline_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        closed_at: Set(None),
        survey_response_id: Set(Some(response.id)),
        ..Default::default()
    }
    .insert(change.db())
    .await
    .map_err(|error| match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => drafted_already(),
        _ => error.into(),
    })?;
    let topic_ids: Vec<i64> = needs.iter().map(|topic| topic.id).collect();
    super::requests::add_topics(&change, request.id, &topic_ids).await?;
    change
        .audit(
            "createSupportRequestFromResponse",
            Some(("SupportRequest", request.id)),
            Some(serde_json::json!({"surveyResponseId": response.id})),
        )
        .await?;
    change.commit().await?;
    Ok(request)
}
