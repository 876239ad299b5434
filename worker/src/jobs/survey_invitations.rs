//! Needs surveys, the worker's side: once staff launch a survey, one
//! invitation per organisation in its audience, each with its own secret
//! link (only its hash is kept), written in bounded batches so a launch to
//! thousands of co-ops never holds one long transaction; one reminder to
//! non-responders after the survey's set number of days; and the survey
//! closed when its closing time passes, which stops both.
//!
//! Runs from every worker process. The database keeps one invitation per
//! survey and organisation, and a reminder is claimed with a conditional
//! update, so overlapping runs never invite or remind twice. Opted-out and
//! bouncing addresses are skipped when the message is sent (see
//! `send_email`), as for every survey email.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    emails::EmailCategory,
    organisations,
    survey_invitations::{self, Entity as Invitations},
    surveys::{self, SurveyStatus},
    users,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict, Query},
};
use serde_json::json;
use tracing::info;

use crate::{
    notify::{self, Recipient},
    surveys::{Audience, answer_link},
    tokens::SecretToken,
};

/// Organisations invited (or reminded) per transaction.
pub const BATCH: u64 = 500;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub invited: usize,
    pub reminded: usize,
    pub closed: usize,
}

impl Done {
    pub fn any(&self) -> bool {
        self.invited + self.reminded + self.closed > 0
    }
}

pub async fn run(db: &DatabaseConnection, public_url: &str) -> anyhow::Result<Done> {
    let mut done = Done {
        closed: close_due(db).await? as usize,
        ..Done::default()
    };
    let open = surveys::Entity::find()
        .filter(surveys::Column::Status.eq(SurveyStatus::Open))
        .order_by_asc(surveys::Column::Id)
        .all(db)
        .await?;
    for survey in &open {
        loop {
            let invited = invite_batch(db, public_url, survey).await?;
            done.invited += invited;
            if (invited as u64) < BATCH {
                break;
            }
        }
        loop {
            let reminded = remind_batch(db, public_url, survey).await?;
            done.reminded += reminded;
            if (reminded as u64) < BATCH {
                break;
            }
        }
    }
    if done.any() {
        info!(?done, "needs surveys");
    }
    Ok(done)
}

/// When the most recently launched open survey was launched: the worker
/// watches it every poll, so a launch is acted on within the poll interval
/// rather than at the next periodic pass (a minute by default).
pub async fn newest_launch(db: &DatabaseConnection) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(surveys::Entity::find()
        .filter(surveys::Column::Status.eq(SurveyStatus::Open))
        .order_by_desc(surveys::Column::LaunchedAt)
        .one(db)
        .await?
        .and_then(|survey| survey.launched_at))
}

/// Closes every open survey whose closing time has passed.
async fn close_due(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let now = Utc::now();
    let closed = surveys::Entity::update_many()
        .col_expr(surveys::Column::Status, Expr::value(SurveyStatus::Closed))
        .col_expr(surveys::Column::ClosedAt, Expr::value(now))
        .col_expr(surveys::Column::UpdatedAt, Expr::value(now))
        .filter(surveys::Column::Status.eq(SurveyStatus::Open))
        .filter(surveys::Column::ClosesAt.lte(now))
        .exec(db)
        .await?;
    Ok(closed.rows_affected)
}

/// Invites up to [`BATCH`] organisations of the audience not yet invited, in
/// one transaction; returns how many. Only organisations that existed at
/// the launch are invited: the audience is fixed when staff press launch.
async fn invite_batch(
    db: &DatabaseConnection,
    public_url: &str,
    survey: &surveys::Model,
) -> anyhow::Result<usize> {
    let Some(launched_at) = survey.launched_at else {
        return Ok(0);
    };
    let invited_already = Query::select()
        .expr(Expr::val(1))
        .from(Invitations)
        .and_where(
            Expr::col((Invitations, survey_invitations::Column::OrganisationId))
                .equals((organisations::Entity, organisations::Column::Id)),
        )
        .and_where(Expr::col((Invitations, survey_invitations::Column::SurveyId)).eq(survey.id))
        .to_owned();
    let txn = crate::db::begin_write(db).await?;
    if !still_open(&txn, survey.id).await? {
        return Ok(0);
    }
    let batch = Audience::from_stored(survey.audience.as_deref())
        .organisations()
        .filter(organisations::Column::CreatedAt.lte(launched_at))
        // A co-op that left the programme is sent no survey.
        .filter(organisations::Column::ArchivedAt.is_null())
        .filter(Expr::exists(invited_already).not())
        .order_by_asc(organisations::Column::Id)
        .limit(BATCH)
        .all(&txn)
        .await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let mut recipients = recipients_of(&txn, &batch).await?;
    let now = Utc::now();
    let mut invited = 0;
    for organisation in &batch {
        let to = recipients.remove(&organisation.id).unwrap_or_default();
        if to.is_empty() {
            continue;
        }
        let token = SecretToken::generate();
        let written = Invitations::insert(survey_invitations::ActiveModel {
            survey_id: Set(survey.id),
            organisation_id: Set(organisation.id),
            email: Set(addresses(&to)),
            token_hash: Set(token.hash()),
            created_at: Set(now),
            sent_at: Set(Some(now)),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([
                survey_invitations::Column::SurveyId,
                survey_invitations::Column::OrganisationId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if written == 0 {
            continue;
        }
        // Key `survey-invitation:{survey}:{organisation}:{recipient}`: an organisation is
        // invited once per survey (its invitation row is unique on the pair). Nothing withdraws
        // it: once written it goes, or is suppressed at sending (opt-out, bounce).
        notify::send(
            &txn,
            &format!("survey-invitation:{}:{}", survey.id, organisation.id),
            EmailCategory::Survey,
            "survey_invitation",
            &to,
            context(survey, organisation, public_url, &token),
        )
        .await?;
        invited += 1;
    }
    txn.commit().await?;
    Ok(invited)
}

/// Reminds up to [`BATCH`] invitations that have had no answer for the
/// survey's set number of days, once each, with a fresh link that replaces
/// the first (only hashes are kept, so the first cannot be sent again).
async fn remind_batch(
    db: &DatabaseConnection,
    public_url: &str,
    survey: &surveys::Model,
) -> anyhow::Result<usize> {
    let Some(days) = survey.reminder_after_days else {
        return Ok(0);
    };
    let invited_before: DateTime<Utc> = Utc::now() - Duration::days(i64::from(days));
    let unanswered = || {
        Condition::all()
            .add(survey_invitations::Column::RespondedAt.is_null())
            .add(survey_invitations::Column::RemindedAt.is_null())
    };
    let due = Invitations::find()
        .filter(survey_invitations::Column::SurveyId.eq(survey.id))
        .filter(unanswered())
        .filter(survey_invitations::Column::CreatedAt.lte(invited_before))
        .order_by_asc(survey_invitations::Column::Id)
        .limit(BATCH)
        .find_also_related(organisations::Entity)
        // Nor reminded: a co-op that has left since its invitation.
        .filter(organisations::Column::ArchivedAt.is_null())
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let organisations: Vec<organisations::Model> =
        due.iter().filter_map(|(_, org)| org.clone()).collect();
    let txn = crate::db::begin_write(db).await?;
    if !still_open(&txn, survey.id).await? {
        return Ok(0);
    }
    let mut recipients = recipients_of(&txn, &organisations).await?;
    let now = Utc::now();
    let mut reminded = 0;
    for (invitation, organisation) in &due {
        let Some(organisation) = organisation else {
            continue;
        };
        let token = SecretToken::generate();
        let claimed = Invitations::update_many()
            .col_expr(survey_invitations::Column::RemindedAt, Expr::value(now))
            .col_expr(
                survey_invitations::Column::TokenHash,
                Expr::value(token.hash()),
            )
            .filter(survey_invitations::Column::Id.eq(invitation.id))
            .filter(unanswered())
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        let to = recipients.remove(&organisation.id).unwrap_or_default();
        let mut context = context(survey, organisation, public_url, &token);
        context["invited_on"] = notify::london_date(invitation.created_at).into();
        // Key `survey-reminder:{invitation}:{recipient}`: one reminder per invitation, ever
        // (claimed on the invitation in this transaction). Nothing withdraws it: once written
        // it goes, or is suppressed at sending (opt-out, bounce).
        notify::send(
            &txn,
            &format!("survey-reminder:{}", invitation.id),
            EmailCategory::Survey,
            "survey_reminder",
            &to,
            context,
        )
        .await?;
        reminded += 1;
    }
    txn.commit().await?;
    Ok(reminded)
}

/// Whether the survey is still OPEN, read inside the batch's transaction: a
/// pass reads the open surveys once, and staff may close one meanwhile.
async fn still_open(conn: &impl ConnectionTrait, survey_id: i64) -> Result<bool, DbErr> {
    Ok(surveys::Entity::find_by_id(survey_id)
        .filter(surveys::Column::Status.eq(SurveyStatus::Open))
        .one(conn)
        .await?
        .is_some())
}

/// Who is written to for each organisation, as `notify::organisation` would
/// say, loaded for a whole batch in one query.
async fn recipients_of(
    conn: &impl ConnectionTrait,
    organisations: &[organisations::Model],
) -> Result<HashMap<i64, Vec<Recipient>>, DbErr> {
    let ids: Vec<i64> = organisations.iter().map(|org| org.id).collect();
    let mut members: HashMap<i64, Vec<Recipient>> = HashMap::new();
    for user in users::Entity::find()
        .filter(users::Column::OrganisationId.is_in(ids))
        .filter(users::Column::DeactivatedAt.is_null())
        .order_by_asc(users::Column::Id)
        .all(conn)
        .await?
    {
        if let Some(organisation_id) = user.organisation_id {
            members
                .entry(organisation_id)
                .or_default()
                .push(user.into());
        }
    }
    Ok(organisations
        .iter()
        .map(|organisation| {
            let to = members.remove(&organisation.id).unwrap_or_else(|| {
                organisation
                    .contact_email
                    .iter()
                    .filter(|email| !email.trim().is_empty())
                    .map(|email| Recipient {
                        name: organisation.name.clone(),
                        email: email.clone(),
                    })
                    .collect()
            });
            (organisation.id, to)
        })
        .collect())
}

fn addresses(recipients: &[Recipient]) -> String {
    recipients
        .iter()
        .map(|recipient| recipient.email.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn context(
    survey: &surveys::Model,
    organisation: &organisations::Model,
    public_url: &str,
    token: &SecretToken,
) -> serde_json::Value {
    json!({
        "organisation": organisation.name,
        "survey_title": survey.title,
        "survey_description": survey.description,
        "link": answer_link(public_url, token.expose()),
        "closes_on": survey.closes_at.map(notify::london_date),
    })
}
