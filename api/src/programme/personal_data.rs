//! Subject access (issue 17, item 2): everything Hive holds about one person
//! or one co-op, for staff to answer a subject access request in one step.
//!
//! What an export holds, as tables (the HTTP side writes them as one JSON
//! document and one CSV each, in a zip, with a README):
//! - a person: their profile (and a provider's offer), their co-op, their
//!   sessions, sign-in links and calendar feed (times only, never a token),
//!   email preferences; the requests, engagements, meetings and reviews they
//!   took part in — a provider's own engagements, a member's co-op's — with
//!   the meeting notes (both parties may read them) and, for a provider, the
//!   learning they recorded (never for the co-op: it is the provider's, for
//!   the programme); the concerns they raised; the emails sent to them
//!   (headers and template: never the body, whose links hold tokens); the
//!   survey invitations sent to their address and the answers given from
//!   them; the audit entries about them or made by them;
//! - a co-op: its profile (contact and financial details included), its
//!   members, the mentors whose home co-op it is, its requests, engagements,
//!   meetings (notes, not the provider's learning), reviews, the concerns its
//!   members raised, the emails sent to its contact address, its survey
//!   invitations and answers, and the audit entries about it and its records.
//!
//! Not in it: concerns raised by others about the person or co-op. Those are
//! safeguarding records that may name the person who raised them; staff
//! answer for them by hand (the README in the file says so).
//!
//! Bounded: a person's data is small, but each table holds at most
//! [`MAX_ROWS_PER_TABLE`] rows (a staff member's audit entries could run to
//! more); a table cut there says so in the JSON and the README. The export is read in one snapshot (REPEATABLE READ, read only, on
//! PostgreSQL; one read transaction on SQLite), so its tables agree.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entity::{
    audit_log, calendar_feeds, concerns, email_preferences, emails, engagements, meetings,
    organisations, provider_formats, provider_regions, provider_sectors, provider_topics,
    providers, reviews, sectors, sessions, sign_in_tokens, support_request_topics,
    support_requests, survey_answers, survey_choices, survey_invitations, survey_questions,
    survey_responses, surveys, topics,
    users::{self, Role},
};
use hive_worker::{Settings, ids::global_id, jobs::send_email::message_id, mail::Templates};
use sea_orm::{
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, ExprTrait, IsolationLevel, QueryFilter, QueryOrder, QuerySelect,
    Select, TransactionTrait,
    sea_query::{Expr, Func, Query},
};
use serde_json::{Value, json};

use super::change::Change;
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Most rows one table of an export holds.
pub const MAX_ROWS_PER_TABLE: usize = 5_000;

/// Whose data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Person(i64),
    Organisation(i64),
}

impl Subject {
    /// The GraphQL type and row, as global ids and the audit trail name them.
    pub fn node(self) -> (&'static str, i64) {
        match self {
            Subject::Person(id) => ("User", id),
            Subject::Organisation(id) => ("Organisation", id),
        }
    }

    /// The subject's global id (the download's address names it).
    pub fn global_id(self) -> String {
        let (kind, id) = self.node();
        global_id(kind, id)
    }

    /// The file's name, e.g. `hive-personal-data-user-12-2026-12-01.zip`.
    pub fn filename(self, on: DateTime<Utc>) -> String {
        let (kind, id) = match self {
            Subject::Person(id) => ("user", id),
            Subject::Organisation(id) => ("organisation", id),
        };
        format!(
            "hive-personal-data-{kind}-{id}-{}.zip",
            on.format("%Y-%m-%d")
        )
    }
}

/// One table of an export: a CSV file, and a list in the JSON document.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file's name without `.csv`, and the JSON key.
    pub name: &'static str,
    /// What its rows are, for the README.
    pub description: &'static str,
    pub columns: Vec<&'static str>,
    /// Each row's values in `columns` order: strings, numbers, booleans or null.
    pub rows: Vec<Vec<Value>>,
    /// More rows exist than [`MAX_ROWS_PER_TABLE`]; the first are here.
    pub truncated: bool,
}

impl Table {
    fn new(name: &'static str, description: &'static str, columns: &[&'static str]) -> Self {
        Self {
            name,
            description,
            columns: columns.to_vec(),
            rows: Vec::new(),
            truncated: false,
        }
    }
}

/// Everything Hive holds about one subject.
#[derive(Debug, Clone)]
pub struct PersonalData {
    pub subject: Subject,
    /// The person's or co-op's name, as stored (the marker once erased).
    pub name: String,
    pub generated_at: DateTime<Utc>,
    pub tables: Vec<Table>,
}

impl PersonalData {
    /// The tables that reached [`MAX_ROWS_PER_TABLE`].
    pub fn truncated(&self) -> Vec<&'static str> {
        self.tables
            .iter()
            .filter(|t| t.truncated)
            .map(|t| t.name)
            .collect()
    }

    /// The README of the file: what it holds, what it does not, and why.
    pub fn readme(&self) -> String {
        let who = match self.subject {
            Subject::Person(_) => "this person",
            Subject::Organisation(_) => "this co-op",
        };
        let mut text = format!(
            "Hive: personal data export\r\n\
             ==========================\r\n\r\n\
             Subject: {name} ({kind} {id})\r\n\
             Made: {at}\r\n\r\n\
             This file holds everything Hive holds about {who}: personal-data.json\r\n\
             has it all in one document; each table is also a CSV file (UTF-8,\r\n\
             opens in a spreadsheet). Times are UTC. Ids are Hive's global ids.\r\n\r\n\
             Tables:\r\n",
            name = self.name,
            kind = self.subject.node().0,
            id = self.subject.global_id(),
            at = self.generated_at.format("%Y-%m-%dT%H:%M:%SZ"),
        );
        for table in &self.tables {
            text.push_str(&format!(
                "- {}.csv ({} row{}{}): {}\r\n",
                table.name,
                table.rows.len(),
                if table.rows.len() == 1 { "" } else { "s" },
                if table.truncated {
                    ", CUT: more exist"
                } else {
                    ""
                },
                table.description
            ));
        }
        text.push_str(&format!(
            "\r\nEach table holds at most {MAX_ROWS_PER_TABLE} rows. A table marked CUT has more;\r\n\
             staff can give the rest on request.\r\n\r\n\
             Not in this file:\r\n\
             - Concerns (safeguarding reports) raised by others about {who}.\r\n\
             \x20 They may name the person who raised them, so staff handle them\r\n\
             \x20 by hand: ask the programme team.\r\n\
             - The bodies of the emails sent: they held single-use links (secret\r\n\
             \x20 tokens). Each email is listed with its headers and template.\r\n\
             - Secret tokens of any kind (sessions, sign-in, review, survey,\r\n\
             \x20 unsubscribe and calendar links): only when each was made and used.\r\n\
             - A provider's learning for the programme, in a co-op's meetings.\r\n"
        ));
        text
    }
}

/// Whether the subject exists: NOT_FOUND otherwise. Staff only.
pub async fn check_subject(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    subject: Subject,
) -> ApiResult<()> {
    access::require_staff(viewer)?;
    let found = match subject {
        Subject::Person(id) => users::Entity::find_by_id(id).one(conn).await?.is_some(),
        Subject::Organisation(id) => organisations::Entity::find_by_id(id)
            .one(conn)
            .await?
            .is_some(),
    };
    if found {
        Ok(())
    } else {
        Err(ApiError::not_found(match subject {
            Subject::Person(_) => "No user has that id.",
            Subject::Organisation(_) => "No organisation has that id.",
        }))
    }
}

/// Records that staff asked for an export (`exportPersonalData`): the
/// subject access request answered, by whom. NOT_FOUND for an unknown
/// subject; nothing else changes.
pub async fn request_export(
    db: &DatabaseConnection,
    viewer: &Viewer,
    subject: Subject,
) -> ApiResult<()> {
    check_subject(db, viewer, subject).await?;
    let change = Change::begin(db, viewer).await?;
    change
        .audit("exportPersonalData", Some(subject.node()), None)
        .await?;
    change.commit().await
}

/// Records one download of an export: who, whose, and how much (never any
/// of the data).
pub async fn record_download(
    db: &DatabaseConnection,
    viewer: &Viewer,
    data: &PersonalData,
) -> ApiResult<()> {
    let change = Change::begin(db, viewer).await?;
    change
        .audit(
            "downloadPersonalData",
            Some(data.subject.node()),
            Some(json!({
                "rows": data.tables.iter().map(|t| t.rows.len()).sum::<usize>(),
                "truncated": data.truncated(),
            })),
        )
        .await?;
    change.commit().await
}

/// Reads everything about the subject (staff), in one snapshot.
pub async fn collect(
    db: &DatabaseConnection,
    settings: &Settings,
    viewer: &Viewer,
    subject: Subject,
) -> ApiResult<PersonalData> {
    access::require_staff(viewer)?;
    let txn = snapshot(db).await?;
    check_subject(&txn, viewer, subject).await?;
    let reader = Reader::new(&txn, settings).await?;
    let data = match subject {
        Subject::Person(id) => reader.person(id).await?,
        Subject::Organisation(id) => reader.organisation(id).await?,
    };
    txn.commit().await?;
    Ok(data)
}

/// A read-only transaction that sees one moment of the database.
async fn snapshot(db: &DatabaseConnection) -> ApiResult<DatabaseTransaction> {
    Ok(match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?
        }
        // SQLite: a deferred transaction reads one snapshot (WAL) from its
        // first read on, and takes no write lock.
        _ => db.begin().await?,
    })
}

/// Reads at most [`MAX_ROWS_PER_TABLE`] rows, and whether there were more.
async fn limited<E: EntityTrait>(
    conn: &DatabaseTransaction,
    select: Select<E>,
) -> ApiResult<(Vec<E::Model>, bool)> {
    let mut rows = select
        .limit(MAX_ROWS_PER_TABLE as u64 + 1)
        .all(conn)
        .await?;
    let truncated = rows.len() > MAX_ROWS_PER_TABLE;
    rows.truncate(MAX_ROWS_PER_TABLE);
    Ok((rows, truncated))
}

fn time(at: DateTime<Utc>) -> Value {
    Value::String(at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn maybe_time(at: Option<DateTime<Utc>>) -> Value {
    at.map(time).unwrap_or(Value::Null)
}

fn text(value: &str) -> Value {
    Value::String(value.to_string())
}

fn maybe_text(value: Option<&str>) -> Value {
    value.map(text).unwrap_or(Value::Null)
}

fn id(kind: &str, row: i64) -> Value {
    Value::String(global_id(kind, row))
}

fn maybe_id(kind: &str, row: Option<i64>) -> Value {
    row.map(|row| id(kind, row)).unwrap_or(Value::Null)
}

/// An enum as the API spells it (`ACTIVE`, `MENTORING`, …).
fn word<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// What a subject took part in.
struct Scope {
    requests: Vec<support_requests::Model>,
    engagements: Vec<engagements::Model>,
    /// The subject reads the provider's learning (a provider's own export).
    learning: bool,
    /// The subject's own user id (a person), for "written by you".
    user: Option<i64>,
}

struct Reader<'a> {
    txn: &'a DatabaseTransaction,
    settings: &'a Settings,
    templates: Templates,
    topics: HashMap<i64, String>,
    sectors: HashMap<i64, String>,
}

impl<'a> Reader<'a> {
    async fn new(txn: &'a DatabaseTransaction, settings: &'a Settings) -> ApiResult<Self> {
        let names = |rows: Vec<(i64, String)>| rows.into_iter().collect::<HashMap<_, _>>();
        Ok(Self {
            txn,
            settings,
            templates: Templates::load().map_err(ApiError::internal)?,
            topics: names(
                topics::Entity::find()
                    .select_only()
                    .column(topics::Column::Id)
                    .column(topics::Column::Name)
                    .into_tuple()
                    .all(txn)
                    .await?,
            ),
            sectors: names(
                sectors::Entity::find()
                    .select_only()
                    .column(sectors::Column::Id)
                    .column(sectors::Column::Name)
                    .into_tuple()
                    .all(txn)
                    .await?,
            ),
        })
    }

    async fn person(&self, user_id: i64) -> ApiResult<PersonalData> {
        let txn = self.txn;
        let user = users::Entity::find_by_id(user_id)
            .one(txn)
            .await?
            .ok_or_else(|| ApiError::not_found("No user has that id."))?;
        let provider = providers::Entity::find()
            .filter(providers::Column::UserId.eq(user.id))
            .one(txn)
            .await?;
        let organisation = match user.organisation_id {
            Some(id) => organisations::Entity::find_by_id(id).one(txn).await?,
            None => None,
        };
        let mut tables = Vec::new();

        let mut profile = Table::new(
            "profile",
            "the account: name, address, role, co-op, when it was made, deactivated or erased",
            &[
                "id",
                "name",
                "email",
                "role",
                "organisation",
                "organisation_name",
                "created_at",
                "deactivated_at",
                "erased_at",
            ],
        );
        profile.rows.push(vec![
            id("User", user.id),
            text(&user.name),
            text(&user.email),
            word(&user.role),
            maybe_id("Organisation", user.organisation_id),
            maybe_text(organisation.as_ref().map(|o| o.name.as_str())),
            time(user.created_at),
            maybe_time(user.deactivated_at),
            maybe_time(user.erased_at),
        ]);
        tables.push(profile);

        let mut memberships = Table::new(
            "memberships",
            "the co-ops the person belongs to: a member's co-op, a mentor's home co-op",
            &["organisation", "name", "as"],
        );
        if let Some(organisation) = &organisation {
            memberships.rows.push(vec![
                id("Organisation", organisation.id),
                text(&organisation.name),
                text("member"),
            ]);
        }
        if let Some(home) = provider.as_ref().and_then(|p| p.home_organisation_id)
            && let Some(home) = organisations::Entity::find_by_id(home).one(txn).await?
        {
            memberships.rows.push(vec![
                id("Organisation", home.id),
                text(&home.name),
                text("mentor from this co-op"),
            ]);
        }
        tables.push(memberships);

        if let Some(provider) = &provider {
            tables.push(self.provider_profile(provider).await?);
        }

        let mut table = Table::new(
            "sessions",
            "sign-in sessions: when each began, was last used, ends or was ended (never its token)",
            &["created_at", "last_seen_at", "expires_at", "revoked_at"],
        );
        let (rows, truncated) = limited(
            txn,
            sessions::Entity::find()
                .filter(sessions::Column::UserId.eq(user.id))
                .order_by_asc(sessions::Column::Id),
        )
        .await?;
        table.truncated = truncated;
        table.rows = rows
            .into_iter()
            .map(|s| {
                vec![
                    time(s.created_at),
                    time(s.last_seen_at),
                    time(s.expires_at),
                    maybe_time(s.revoked_at),
                ]
            })
            .collect();
        tables.push(table);

        let mut table = Table::new(
            "sign_in_links",
            "emailed sign-in links: when each was made, expires and was used (never its token)",
            &["created_at", "expires_at", "used_at"],
        );
        let (rows, truncated) = limited(
            txn,
            sign_in_tokens::Entity::find()
                .filter(sign_in_tokens::Column::UserId.eq(user.id))
                .order_by_asc(sign_in_tokens::Column::Id),
        )
        .await?;
        table.truncated = truncated;
        table.rows = rows
            .into_iter()
            .map(|t| {
                vec![
                    time(t.created_at),
                    time(t.expires_at),
                    maybe_time(t.used_at),
                ]
            })
            .collect();
        tables.push(table);

        let mut table = Table::new(
            "calendar_feed",
            "the person's calendar feed address, if they made one: when (the address is a secret and not given)",
            &["created_at"],
        );
        if let Some(feed) = calendar_feeds::Entity::find_by_id(user.id).one(txn).await? {
            table.rows.push(vec![time(feed.created_at)]);
        }
        tables.push(table);

        let mut table = Table::new(
            "email_preferences",
            "the person's email choices and whether their address bounces",
            &[
                "email",
                "reminders",
                "digests",
                "surveys",
                "digest_frequency",
                "bounced_at",
                "bounce_reason",
            ],
        );
        for p in email_preferences::Entity::find()
            .filter(
                Condition::any()
                    .add(email_preferences::Column::UserId.eq(user.id))
                    .add(email_preferences::Column::Email.eq(user.email.to_lowercase())),
            )
            .order_by_asc(email_preferences::Column::Id)
            .all(txn)
            .await?
        {
            table.rows.push(vec![
                text(&p.email),
                Value::Bool(p.reminders),
                Value::Bool(p.digests),
                Value::Bool(p.surveys),
                word(&p.digest_frequency),
                maybe_time(p.bounced_at),
                maybe_text(p.bounce_reason.as_deref()),
            ]);
        }
        tables.push(table);

        // What they took part in.
        let engagements_of = match (&provider, user.role, user.organisation_id) {
            (Some(provider), _, _) => Some(
                engagements::Entity::find().filter(engagements::Column::ProviderId.eq(provider.id)),
            ),
            (None, Role::Member, Some(organisation)) => Some(
                engagements::Entity::find().filter(
                    engagements::Column::SupportRequestId.in_subquery(
                        Query::select()
                            .column(support_requests::Column::Id)
                            .from(support_requests::Entity)
                            .and_where(support_requests::Column::OrganisationId.eq(organisation))
                            .to_owned(),
                    ),
                ),
            ),
            _ => None,
        };
        let (engagements, engagements_cut) = match engagements_of {
            Some(select) => limited(txn, select.order_by_asc(engagements::Column::Id)).await?,
            None => (Vec::new(), false),
        };
        let (requests, requests_cut) = match (&provider, user.role, user.organisation_id) {
            (None, Role::Member, Some(organisation)) => {
                limited(
                    txn,
                    support_requests::Entity::find()
                        .filter(support_requests::Column::OrganisationId.eq(organisation))
                        .order_by_asc(support_requests::Column::Id),
                )
                .await?
            }
            _ => {
                let ids: Vec<i64> = engagements.iter().map(|e| e.support_request_id).collect();
                limited(
                    txn,
                    support_requests::Entity::find()
                        .filter(support_requests::Column::Id.is_in(ids))
                        .order_by_asc(support_requests::Column::Id),
                )
                .await?
            }
        };
        let scope = Scope {
            requests,
            engagements,
            learning: provider.is_some(),
            user: Some(user.id),
        };
        self.programme_tables(&scope, requests_cut, engagements_cut, &mut tables)
            .await?;

        let concerns = concerns::Entity::find()
            .filter(concerns::Column::RaisedByUserId.eq(user.id))
            .order_by_asc(concerns::Column::Id);
        tables.push(self.concerns(concerns).await?);
        tables.push(self.emails(vec![user.email.clone()]).await?);
        let invited: Vec<i64> = super::erasure::invitations_to(txn, &user.email)
            .await?
            .into_iter()
            .map(|i| i.id)
            .collect();
        let invitations = survey_invitations::Entity::find()
            .filter(survey_invitations::Column::Id.is_in(invited));
        self.surveys(invitations, &mut tables).await?;

        let mut about = Condition::any()
            .add(audit_log::Column::ActorUserId.eq(user.id))
            .add(
                Condition::all()
                    .add(audit_log::Column::SubjectType.eq("User"))
                    .add(audit_log::Column::SubjectId.eq(user.id)),
            );
        if let Some(provider) = &provider {
            about = about.add(
                Condition::all()
                    .add(audit_log::Column::SubjectType.eq("Provider"))
                    .add(audit_log::Column::SubjectId.eq(provider.id)),
            );
        }
        tables.push(self.audit(about, Some(user.id)).await?);

        Ok(PersonalData {
            subject: Subject::Person(user.id),
            name: user.name,
            generated_at: Utc::now(),
            tables,
        })
    }

    async fn organisation(&self, organisation_id: i64) -> ApiResult<PersonalData> {
        let txn = self.txn;
        let organisation = organisations::Entity::find_by_id(organisation_id)
            .one(txn)
            .await?
            .ok_or_else(|| ApiError::not_found("No organisation has that id."))?;
        let mut tables = Vec::new();

        let mut profile = Table::new(
            "profile",
            "the co-op's profile, contact and financial details included",
            &[
                "id",
                "name",
                "legal_form",
                "stage",
                "sector",
                "region",
                "members_count",
                "founded_year",
                "contact_email",
                "contact_phone",
                "financial_details",
                "created_at",
                "updated_at",
                "erased_at",
            ],
        );
        profile.rows.push(vec![
            id("Organisation", organisation.id),
            text(&organisation.name),
            maybe_text(organisation.legal_form.as_deref()),
            word(&organisation.stage),
            maybe_text(
                organisation
                    .sector_id
                    .and_then(|s| self.sectors.get(&s))
                    .map(String::as_str),
            ),
            text(&organisation.region),
            organisation
                .members_count
                .map(Value::from)
                .unwrap_or(Value::Null),
            organisation
                .founded_year
                .map(Value::from)
                .unwrap_or(Value::Null),
            maybe_text(organisation.contact_email.as_deref()),
            maybe_text(organisation.contact_phone.as_deref()),
            maybe_text(organisation.financial_details.as_deref()),
            time(organisation.created_at),
            time(organisation.updated_at),
            maybe_time(organisation.erased_at),
        ]);
        tables.push(profile);

        let mut members = Table::new(
            "members",
            "the co-op's people with accounts (each has an export of their own)",
            &[
                "id",
                "name",
                "email",
                "role",
                "created_at",
                "deactivated_at",
                "erased_at",
            ],
        );
        let (rows, truncated) = limited(
            txn,
            users::Entity::find()
                .filter(users::Column::OrganisationId.eq(organisation.id))
                .order_by_asc(users::Column::Id),
        )
        .await?;
        members.truncated = truncated;
        members.rows = rows
            .iter()
            .map(|u| {
                vec![
                    id("User", u.id),
                    text(&u.name),
                    text(&u.email),
                    word(&u.role),
                    time(u.created_at),
                    maybe_time(u.deactivated_at),
                    maybe_time(u.erased_at),
                ]
            })
            .collect();
        let member_ids: Vec<i64> = rows.iter().map(|u| u.id).collect();
        tables.push(members);

        let mut mentors = Table::new(
            "mentors_from_this_coop",
            "mentors whose home co-op this is (never matched to it)",
            &["provider", "name"],
        );
        for (provider, user) in providers::Entity::find()
            .filter(providers::Column::HomeOrganisationId.eq(organisation.id))
            .find_also_related(users::Entity)
            .order_by_asc(providers::Column::Id)
            .all(txn)
            .await?
        {
            mentors.rows.push(vec![
                id("Provider", provider.id),
                maybe_text(user.as_ref().map(|u| u.name.as_str())),
            ]);
        }
        tables.push(mentors);

        let (requests, requests_cut) = limited(
            txn,
            support_requests::Entity::find()
                .filter(support_requests::Column::OrganisationId.eq(organisation.id))
                .order_by_asc(support_requests::Column::Id),
        )
        .await?;
        let request_ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
        let (engagements, engagements_cut) = limited(
            txn,
            engagements::Entity::find()
                .filter(engagements::Column::SupportRequestId.is_in(request_ids.clone()))
                .order_by_asc(engagements::Column::Id),
        )
        .await?;
        let engagement_ids: Vec<i64> = engagements.iter().map(|e| e.id).collect();
        let scope = Scope {
            requests,
            engagements,
            learning: false,
            user: None,
        };
        let meeting_ids = self
            .programme_tables(&scope, requests_cut, engagements_cut, &mut tables)
            .await?;

        let concerns = concerns::Entity::find()
            .filter(concerns::Column::RaisedByUserId.is_in(member_ids))
            .filter(concerns::Column::EngagementId.is_in(engagement_ids.clone()))
            .order_by_asc(concerns::Column::Id);
        tables.push(self.concerns(concerns).await?);
        tables.push(
            self.emails(organisation.contact_email.iter().cloned().collect())
                .await?,
        );
        let invitations = survey_invitations::Entity::find()
            .filter(survey_invitations::Column::OrganisationId.eq(organisation.id));
        let response_ids = self.surveys(invitations, &mut tables).await?;

        let subject = |kind: &'static str, ids: Vec<i64>| {
            Condition::all()
                .add(audit_log::Column::SubjectType.eq(kind))
                .add(audit_log::Column::SubjectId.is_in(ids))
        };
        let review_ids: Vec<i64> = reviews::Entity::find()
            .select_only()
            .column(reviews::Column::Id)
            .filter(reviews::Column::EngagementId.is_in(engagement_ids.clone()))
            .into_tuple()
            .all(txn)
            .await?;
        let about = Condition::any()
            .add(subject("Organisation", vec![organisation.id]))
            .add(subject("SupportRequest", request_ids))
            .add(subject("Engagement", engagement_ids))
            .add(subject("Meeting", meeting_ids))
            .add(subject("Review", review_ids))
            .add(subject("SurveyResponse", response_ids));
        tables.push(self.audit(about, None).await?);

        Ok(PersonalData {
            subject: Subject::Organisation(organisation.id),
            name: organisation.name,
            generated_at: Utc::now(),
            tables,
        })
    }

    async fn provider_profile(&self, provider: &providers::Model) -> ApiResult<Table> {
        let txn = self.txn;
        let mut table = Table::new(
            "provider_profile",
            "the mentor's or adviser's profile and what they offer",
            &[
                "id",
                "kind",
                "firm_name",
                "bio",
                "topics",
                "sectors",
                "regions",
                "formats",
                "capacity",
                "active",
                "created_at",
                "updated_at",
            ],
        );
        let topics: Vec<String> = provider_topics::Entity::find()
            .filter(provider_topics::Column::ProviderId.eq(provider.id))
            .all(txn)
            .await?
            .into_iter()
            .filter_map(|t| self.topics.get(&t.topic_id).cloned())
            .collect();
        let sectors: Vec<String> = provider_sectors::Entity::find()
            .filter(provider_sectors::Column::ProviderId.eq(provider.id))
            .all(txn)
            .await?
            .into_iter()
            .filter_map(|s| self.sectors.get(&s.sector_id).cloned())
            .collect();
        let regions: Vec<String> = provider_regions::Entity::find()
            .filter(provider_regions::Column::ProviderId.eq(provider.id))
            .all(txn)
            .await?
            .into_iter()
            .map(|r| r.region)
            .collect();
        let formats: Vec<String> = provider_formats::Entity::find()
            .filter(provider_formats::Column::ProviderId.eq(provider.id))
            .all(txn)
            .await?
            .into_iter()
            .filter_map(|f| word(&f.format).as_str().map(str::to_string))
            .collect();
        table.rows.push(vec![
            id("Provider", provider.id),
            word(&provider.kind),
            maybe_text(provider.firm_name.as_deref()),
            text(&provider.bio),
            text(&topics.join("; ")),
            text(&sectors.join("; ")),
            text(&regions.join("; ")),
            text(&formats.join("; ")),
            Value::from(provider.capacity),
            Value::Bool(provider.active),
            time(provider.created_at),
            time(provider.updated_at),
        ]);
        Ok(table)
    }

    /// Requests, engagements, meetings and reviews of a scope; the meetings'
    /// ids (for the audit entries about them).
    async fn programme_tables(
        &self,
        scope: &Scope,
        requests_cut: bool,
        engagements_cut: bool,
        tables: &mut Vec<Table>,
    ) -> ApiResult<Vec<i64>> {
        let txn = self.txn;
        let request_ids: Vec<i64> = scope.requests.iter().map(|r| r.id).collect();
        let mut request_topics: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for link in support_request_topics::Entity::find()
            .filter(support_request_topics::Column::SupportRequestId.is_in(request_ids.clone()))
            .all(txn)
            .await?
        {
            if let Some(name) = self.topics.get(&link.topic_id) {
                request_topics
                    .entry(link.support_request_id)
                    .or_default()
                    .push(name.clone());
            }
        }
        let organisation_ids: Vec<i64> = scope.requests.iter().map(|r| r.organisation_id).collect();
        let organisation_names: HashMap<i64, String> = organisations::Entity::find()
            .select_only()
            .column(organisations::Column::Id)
            .column(organisations::Column::Name)
            .filter(organisations::Column::Id.is_in(organisation_ids))
            .into_tuple()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let mut table = Table::new(
            "support_requests",
            "the requests for support taken part in (a member's co-op's; those a provider was proposed on)",
            &[
                "id",
                "organisation",
                "organisation_name",
                "kind",
                "status",
                "topics",
                "goals",
                "decline_reason",
                "submitted_by_you",
                "created_at",
                "closed_at",
            ],
        );
        table.truncated = requests_cut;
        for r in &scope.requests {
            table.rows.push(vec![
                id("SupportRequest", r.id),
                id("Organisation", r.organisation_id),
                maybe_text(
                    organisation_names
                        .get(&r.organisation_id)
                        .map(String::as_str),
                ),
                word(&r.kind),
                word(&r.status),
                text(
                    &request_topics
                        .get(&r.id)
                        .cloned()
                        .unwrap_or_default()
                        .join("; "),
                ),
                text(&r.goals),
                maybe_text(r.decline_reason.as_deref()),
                Value::Bool(scope.user.is_some() && r.submitted_by_user_id == scope.user),
                time(r.created_at),
                maybe_time(r.closed_at),
            ]);
        }
        tables.push(table);

        let request_by_id: HashMap<i64, &support_requests::Model> =
            scope.requests.iter().map(|r| (r.id, r)).collect();
        let provider_ids: Vec<i64> = scope.engagements.iter().map(|e| e.provider_id).collect();
        let provider_names: HashMap<i64, String> = providers::Entity::find()
            .filter(providers::Column::Id.is_in(provider_ids))
            .find_also_related(users::Entity)
            .all(txn)
            .await?
            .into_iter()
            .filter_map(|(p, u)| u.map(|u| (p.id, u.name)))
            .collect();
        let ender_ids: Vec<i64> = scope
            .engagements
            .iter()
            .filter_map(|e| e.ended_by_user_id)
            .collect();
        let ender_names: HashMap<i64, String> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .column(users::Column::Name)
            .filter(users::Column::Id.is_in(ender_ids))
            .into_tuple()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let mut table = Table::new(
            "engagements",
            "the engagements taken part in: who, status, days, fee, ground rules, how each ended",
            &[
                "id",
                "support_request",
                "organisation_name",
                "provider",
                "provider_name",
                "kind",
                "status",
                "days_allocated",
                "fee_pence",
                "ground_rules",
                "rematch_of",
                "proposed_at",
                "responded_at",
                "decline_reason",
                "ended_at",
                "ended_by",
                "end_reason",
                "completed_at",
            ],
        );
        table.truncated = engagements_cut;
        for e in &scope.engagements {
            let request = request_by_id.get(&e.support_request_id);
            table.rows.push(vec![
                id("Engagement", e.id),
                id("SupportRequest", e.support_request_id),
                maybe_text(
                    request
                        .and_then(|r| organisation_names.get(&r.organisation_id))
                        .map(String::as_str),
                ),
                id("Provider", e.provider_id),
                maybe_text(provider_names.get(&e.provider_id).map(String::as_str)),
                request.map(|r| word(&r.kind)).unwrap_or(Value::Null),
                word(&e.status),
                Value::from(e.days_allocated),
                Value::from(e.fee_pence),
                maybe_text(e.ground_rules.as_deref()),
                maybe_id("Engagement", e.rematch_of_id),
                time(e.proposed_at),
                maybe_time(e.responded_at),
                maybe_text(e.decline_reason.as_deref()),
                maybe_time(e.ended_at),
                maybe_text(
                    e.ended_by_user_id
                        .and_then(|u| ender_names.get(&u))
                        .map(String::as_str),
                ),
                maybe_text(e.end_reason.as_deref()),
                maybe_time(e.completed_at),
            ]);
        }
        tables.push(table);

        let engagement_ids: Vec<i64> = scope.engagements.iter().map(|e| e.id).collect();
        let mut columns = vec![
            "id",
            "engagement",
            "starts_at",
            "duration_minutes",
            "format",
            "location",
            "is_final",
            "status",
            "days_counted",
            "notes",
        ];
        if scope.learning {
            columns.push("learning");
        }
        let mut table = Table::new(
            "meetings",
            "the meetings of those engagements, with the notes both parties keep (and a provider's learning, in a provider's own export)",
            &columns,
        );
        let (meetings, truncated) = limited(
            txn,
            meetings::Entity::find()
                .filter(meetings::Column::EngagementId.is_in(engagement_ids.clone()))
                .order_by_asc(meetings::Column::StartsAt)
                .order_by_asc(meetings::Column::Id),
        )
        .await?;
        table.truncated = truncated;
        for m in &meetings {
            let mut row = vec![
                id("Meeting", m.id),
                id("Engagement", m.engagement_id),
                time(m.starts_at),
                Value::from(m.duration_minutes),
                word(&m.format),
                maybe_text(m.location.as_deref()),
                Value::Bool(m.is_final),
                word(&m.status),
                m.days_counted.map(Value::from).unwrap_or(Value::Null),
                maybe_text(m.notes.as_deref()),
            ];
            if scope.learning {
                row.push(maybe_text(m.learning.as_deref()));
            }
            table.rows.push(row);
        }
        tables.push(table);

        let mut table = Table::new(
            "reviews",
            "the final reviews of those engagements, given and received",
            &[
                "id",
                "engagement",
                "party",
                "written_by_you",
                "requested_at",
                "reminded_at",
                "submitted_at",
                "usefulness",
                "relationship",
                "would_recommend",
                "comments",
            ],
        );
        let (rows, truncated) = limited(
            txn,
            reviews::Entity::find()
                .filter(reviews::Column::EngagementId.is_in(engagement_ids))
                .order_by_asc(reviews::Column::Id),
        )
        .await?;
        table.truncated = truncated;
        let number = |v: Option<i32>| v.map(Value::from).unwrap_or(Value::Null);
        for r in rows {
            table.rows.push(vec![
                id("Review", r.id),
                id("Engagement", r.engagement_id),
                word(&r.party),
                Value::Bool(scope.user.is_some() && r.reviewer_user_id == scope.user),
                time(r.requested_at),
                maybe_time(r.reminded_at),
                maybe_time(r.submitted_at),
                number(r.usefulness),
                number(r.relationship),
                number(r.would_recommend),
                maybe_text(r.comments.as_deref()),
            ]);
        }
        tables.push(table);
        Ok(meetings.iter().map(|m| m.id).collect())
    }

    async fn concerns(&self, select: Select<concerns::Entity>) -> ApiResult<Table> {
        let mut table = Table::new(
            "concerns",
            "the safeguarding concerns raised by the person (or the co-op's people); not those raised by others",
            &[
                "id",
                "engagement",
                "category",
                "details",
                "status",
                "outcome",
                "raised_at",
                "resolved_at",
            ],
        );
        let (rows, truncated) = limited(self.txn, select).await?;
        table.truncated = truncated;
        for c in rows {
            table.rows.push(vec![
                id("Concern", c.id),
                id("Engagement", c.engagement_id),
                word(&c.category),
                text(&c.details),
                word(&c.status),
                maybe_text(c.outcome.as_deref()),
                time(c.created_at),
                maybe_time(c.resolved_at),
            ]);
        }
        Ok(table)
    }

    /// The emails sent to these addresses, as their headers: never the
    /// body, whose links hold tokens.
    async fn emails(&self, addresses: Vec<String>) -> ApiResult<Table> {
        let mut table = Table::new(
            "emails",
            "the emails sent: headers, template and delivery (not the body, whose links were secret)",
            &[
                "id",
                "created_at",
                "sent_at",
                "status",
                "category",
                "template",
                "from",
                "to",
                "subject",
                "message_id",
            ],
        );
        let addresses: Vec<String> = addresses.iter().map(|a| a.to_lowercase()).collect();
        if addresses.is_empty() {
            return Ok(table);
        }
        let (rows, truncated) = limited(
            self.txn,
            emails::Entity::find()
                .filter(
                    Expr::expr(Func::lower(Expr::col(emails::Column::Recipient))).is_in(addresses),
                )
                .order_by_asc(emails::Column::Id),
        )
        .await?;
        table.truncated = truncated;
        let from = self.settings.mail_from.to_string();
        for e in rows {
            // The subject as it was sent; none once the body is deleted.
            let subject = serde_json::from_str::<Value>(&e.context)
                .ok()
                .filter(|c| c.as_object().is_some_and(|o| !o.is_empty()))
                .and_then(|c| self.templates.render_subject(&e.template, &c).ok());
            table.rows.push(vec![
                id("EmailDelivery", e.id),
                time(e.created_at),
                maybe_time(e.sent_at),
                word(&e.status),
                word(&e.category),
                text(&e.template),
                text(&from),
                text(&e.recipient),
                maybe_text(subject.as_deref()),
                text(&message_id(&e, &self.settings.public_url)),
            ]);
        }
        Ok(table)
    }

    /// Survey invitations and the answers given from them; the responses'
    /// ids.
    async fn surveys(
        &self,
        invitations: Select<survey_invitations::Entity>,
        tables: &mut Vec<Table>,
    ) -> ApiResult<Vec<i64>> {
        let txn = self.txn;
        let (invitations, truncated) = limited(
            txn,
            invitations.order_by_asc(survey_invitations::Column::Id),
        )
        .await?;
        let survey_ids: Vec<i64> = invitations.iter().map(|i| i.survey_id).collect();
        let titles: HashMap<i64, String> = surveys::Entity::find()
            .select_only()
            .column(surveys::Column::Id)
            .column(surveys::Column::Title)
            .filter(surveys::Column::Id.is_in(survey_ids))
            .into_tuple()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let mut table = Table::new(
            "survey_invitations",
            "needs surveys sent: to which address, when, reminded, answered (never the link)",
            &[
                "survey",
                "survey_title",
                "sent_to",
                "created_at",
                "sent_at",
                "reminded_at",
                "responded_at",
            ],
        );
        table.truncated = truncated;
        for i in &invitations {
            table.rows.push(vec![
                id("Survey", i.survey_id),
                maybe_text(titles.get(&i.survey_id).map(String::as_str)),
                text(&i.email),
                time(i.created_at),
                maybe_time(i.sent_at),
                maybe_time(i.reminded_at),
                maybe_time(i.responded_at),
            ]);
        }
        tables.push(table);

        let invitation_survey: HashMap<i64, i64> =
            invitations.iter().map(|i| (i.id, i.survey_id)).collect();
        let responses = survey_responses::Entity::find()
            .filter(
                survey_responses::Column::InvitationId
                    .is_in(invitation_survey.keys().copied().collect::<Vec<_>>()),
            )
            .all(txn)
            .await?;
        let response_ids: Vec<i64> = responses.iter().map(|r| r.id).collect();
        let response_by_id: HashMap<i64, &survey_responses::Model> =
            responses.iter().map(|r| (r.id, r)).collect();
        let mut table = Table::new(
            "survey_answers",
            "the answers given to those surveys, one row per answer",
            &[
                "response",
                "survey_title",
                "question",
                "answer",
                "submitted_at",
            ],
        );
        let (answers, truncated) = limited(
            txn,
            survey_answers::Entity::find()
                .filter(survey_answers::Column::ResponseId.is_in(response_ids.clone()))
                .order_by_asc(survey_answers::Column::ResponseId)
                .order_by_asc(survey_answers::Column::QuestionId)
                .order_by_asc(survey_answers::Column::Id),
        )
        .await?;
        table.truncated = truncated;
        let question_ids: Vec<i64> = answers.iter().map(|a| a.question_id).collect();
        let prompts: HashMap<i64, String> = survey_questions::Entity::find()
            .select_only()
            .column(survey_questions::Column::Id)
            .column(survey_questions::Column::Prompt)
            .filter(survey_questions::Column::Id.is_in(question_ids))
            .into_tuple()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let choice_ids: Vec<i64> = answers.iter().filter_map(|a| a.choice_id).collect();
        let labels: HashMap<i64, String> = survey_choices::Entity::find()
            .select_only()
            .column(survey_choices::Column::Id)
            .column(survey_choices::Column::Label)
            .filter(survey_choices::Column::Id.is_in(choice_ids))
            .into_tuple()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        for a in answers {
            let response = response_by_id.get(&a.response_id);
            let answer = if let Some(choice) = a.choice_id {
                maybe_text(labels.get(&choice).map(String::as_str))
            } else if let Some(number) = a.number_value {
                Value::from(number)
            } else {
                maybe_text(a.text_value.as_deref())
            };
            table.rows.push(vec![
                id("SurveyResponse", a.response_id),
                maybe_text(
                    response
                        .and_then(|r| invitation_survey.get(&r.invitation_id))
                        .and_then(|s| titles.get(s))
                        .map(String::as_str),
                ),
                maybe_text(prompts.get(&a.question_id).map(String::as_str)),
                answer,
                maybe_time(response.map(|r| r.submitted_at)),
            ]);
        }
        tables.push(table);
        Ok(response_ids)
    }

    /// Audit entries matching `about`; `user`: the person, whose own actions
    /// say so.
    async fn audit(&self, about: Condition, user: Option<i64>) -> ApiResult<Table> {
        let mut table = Table::new(
            "audit_entries",
            "the audit trail about them (and, for a person, what they did)",
            &[
                "id",
                "at",
                "action",
                "subject_type",
                "subject",
                "by",
                "by_you",
                "detail",
            ],
        );
        let (rows, truncated) = limited(
            self.txn,
            audit_log::Entity::find()
                .filter(about)
                .order_by_asc(audit_log::Column::Id),
        )
        .await?;
        table.truncated = truncated;
        let actor_ids: Vec<i64> = rows.iter().filter_map(|a| a.actor_user_id).collect();
        let actors: HashMap<i64, String> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .column(users::Column::Name)
            .filter(users::Column::Id.is_in(actor_ids))
            .into_tuple()
            .all(self.txn)
            .await?
            .into_iter()
            .collect();
        for a in rows {
            let subject = match (&a.subject_type, a.subject_id) {
                // Node types (`Engagement`) as global ids; the vocabularies'
                // (`topic`) by row.
                (Some(kind), Some(row)) if kind.starts_with(char::is_uppercase) => id(kind, row),
                (_, Some(row)) => Value::from(row),
                _ => Value::Null,
            };
            table.rows.push(vec![
                id("AuditEntry", a.id),
                time(a.created_at),
                text(&a.action),
                maybe_text(a.subject_type.as_deref()),
                subject,
                maybe_text(
                    a.actor_user_id
                        .and_then(|u| actors.get(&u))
                        .map(String::as_str),
                ),
                Value::Bool(user.is_some() && a.actor_user_id == user),
                maybe_text(a.detail.as_deref()),
            ]);
        }
        Ok(table)
    }
}
