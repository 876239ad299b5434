//! Staff digests: daily or weekly, as each staff member chose, an email of
//! what needs attention in the programme — requests waiting for a match,
//! proposals unanswered for over 3 days, engagements with no meeting booked,
//! final meetings passed without reviews, open concerns, survey response
//! rates, addresses that bounce and emails that could not be delivered.
//!
//! **When.** A daily digest falls due each day at `HIVE_DIGEST_TIME` in
//! Europe/London, a weekly one on Mondays at that time. From then until the
//! period ends (midnight, or Sunday midnight for a weekly one) the first pass
//! of any worker decides it: it sends the digest, or nothing when every
//! section is empty. So a worker started at 10:00 with the time at 07:00
//! sends today's digest at 10:00, and a weekly digest missed on Monday goes
//! out on Tuesday. A period that ended while no worker ran is not sent late:
//! its digest would say what the next one says. A digest decided empty stays
//! unsent for that period even if something comes up later that day; the
//! next period's digest shows it.
//!
//! **Once.** The decision is claimed with a conditional update of the
//! person's `email_preferences.last_digest_period`, in the same transaction
//! as the email row, whose idempotency key (`digest:{user id}:{period}`) the
//! database keeps unique: several workers, or a restart, never send two.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Europe::London;
use entity::{
    concerns::{self, ConcernCategory, ConcernStatus},
    email_preferences::{self, DigestFrequency},
    emails::{self, EmailCategory, EmailStatus},
    engagements::{self, EngagementStatus},
    meetings::{self, MeetingStatus},
    organisations, providers,
    reviews::{self, ReviewParty},
    support_requests::{self, EngagementKind, SupportRequestStatus},
    survey_invitations, survey_responses,
    surveys::{self, SurveyStatus},
    users::{self, Role},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait, JoinType,
    QueryFilter, QuerySelect, RelationTrait,
    sea_query::{Expr, OnConflict},
};
use serde::Serialize;
use tracing::{debug, info};

use crate::{
    Settings,
    jobs::proposal_followups::CHASE_AFTER,
    links::Links,
    notify,
    outbox::{self, NewEmail},
};

/// The template folder of the digest.
pub const TEMPLATE: &str = "staff_digest";
/// Entries shown per section; the rest are counted ("and 12 more").
pub const SECTION_LIMIT: usize = 50;
/// A final meeting this long ago without both reviews is no longer listed:
/// by then a review would say little, and the list would only grow.
pub const REVIEWS_LOOKBACK: Duration = Duration::days(60);
/// Error texts (SMTP replies) are cut to this many characters.
const ERROR_TEXT_LIMIT: usize = 120;

// ---------------------------------------------------------------------------
// When a digest is due

/// The span one digest covers: a day in London (DAILY) or an ISO week that
/// starts on `monday` (WEEKLY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day(NaiveDate),
    Week { monday: NaiveDate },
}

impl Period {
    /// Its stable name, in the idempotency key and the claim: `2026-11-23`
    /// or `2026-W48` (the ISO week-numbering year, so 29 December 2025 is
    /// `2026-W01`).
    pub fn key(&self) -> String {
        match self {
            Period::Day(date) => date.format("%Y-%m-%d").to_string(),
            Period::Week { monday } => {
                let week = monday.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
        }
    }

    /// How the email names it.
    pub fn label(&self) -> String {
        match self {
            Period::Day(date) => date.format("%A %-d %B %Y").to_string(),
            Period::Week { monday } => format!("the week of {}", monday.format("%-d %B %Y")),
        }
    }

    fn frequency_word(&self) -> &'static str {
        match self {
            Period::Day(_) => "daily",
            Period::Week { .. } => "weekly",
        }
    }
}

/// The period whose digest is due at `now` for someone with `frequency`,
/// digests being due at `at` (London time); `None` for NEVER and before the
/// current period's due time. Only the current period is ever due (see the
/// module comment). Comparing London wall-clock times keeps the digest at
/// 07:00 in summer and winter alike; on the night the clocks go back a time
/// between 01:00 and 02:00 comes round twice, and the claim keeps it to one.
pub fn due_period(now: DateTime<Utc>, at: NaiveTime, frequency: DigestFrequency) -> Option<Period> {
    let local = now.with_timezone(&London);
    let today = local.date_naive();
    let past_time = local.time() >= at;
    match frequency {
        DigestFrequency::Never => None,
        DigestFrequency::Daily => past_time.then_some(Period::Day(today)),
        DigestFrequency::Weekly => {
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            (today.weekday() != Weekday::Mon || past_time).then_some(Period::Week { monday })
        }
    }
}

/// The London calendar day of `at`: the day a daily digest belongs to.
pub fn london_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

/// The instant `time` happens on `date` in London: the earlier one when the
/// clocks go back, the first instant after the gap when they go forward.
/// Tests use it to set the clock to a digest's due time.
pub fn london_instant(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    London
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            London
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
        })
        .map_or_else(
            || Utc.from_utc_datetime(&local),
            |at| at.with_timezone(&Utc),
        )
}

// ---------------------------------------------------------------------------
// What a digest says: plain data in, sections out

/// A support request in SUBMITTED or MATCHING.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    pub id: i64,
    pub organisation: String,
    pub kind: EngagementKind,
    pub submitted_at: DateTime<Utc>,
    /// A PROPOSED or ACTIVE engagement exists: staff have acted and the
    /// request waits for the provider, not for a match.
    pub has_live_engagement: bool,
}

/// A PROPOSED engagement.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub engagement_id: i64,
    pub provider: String,
    pub organisation: String,
    pub proposed_at: DateTime<Utc>,
}

/// An ACTIVE engagement and what its diary holds.
#[derive(Debug, Clone)]
pub struct ActiveEngagement {
    pub engagement_id: i64,
    pub provider: String,
    pub organisation: String,
    pub accepted_at: DateTime<Utc>,
    /// The latest SCHEDULED meeting's start, if any.
    pub latest_scheduled: Option<DateTime<Utc>>,
    /// The latest HELD meeting's start, if any.
    pub last_held: Option<DateTime<Utc>>,
    /// The final meeting's start (not cancelled), if one is booked or held.
    pub final_meeting: Option<DateTime<Utc>>,
}

/// A final meeting (not cancelled) of an ACTIVE or COMPLETED engagement.
#[derive(Debug, Clone)]
pub struct FinalMeeting {
    pub engagement_id: i64,
    pub provider: String,
    pub organisation: String,
    pub starts_at: DateTime<Utc>,
    pub provider_reviewed: bool,
    pub client_reviewed: bool,
}

/// An OPEN concern; its details stay in Hive.
#[derive(Debug, Clone)]
pub struct OpenConcern {
    pub id: i64,
    pub category: ConcernCategory,
    pub provider: String,
    pub organisation: String,
    pub raised_at: DateTime<Utc>,
}

/// An OPEN survey and its answers so far.
#[derive(Debug, Clone)]
pub struct OpenSurvey {
    pub id: i64,
    pub title: String,
    /// When it went out (its creation, for one launched before this was
    /// recorded).
    pub launched_at: DateTime<Utc>,
    pub invited: u64,
    pub responded: u64,
    pub closes_at: Option<DateTime<Utc>>,
}

/// An address that bounces permanently (no more mail goes to it).
#[derive(Debug, Clone)]
pub struct Bounce {
    /// Its `email_preferences` row.
    pub id: i64,
    /// The person the address belongs to, when it is someone's.
    pub user_id: Option<i64>,
    pub email: String,
    pub bounced_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// An email that is DEAD: given up on, waiting for staff to retry it.
#[derive(Debug, Clone)]
pub struct DeadEmail {
    pub id: i64,
    pub recipient: String,
    pub template: String,
    pub last_error: Option<String>,
    pub given_up_at: DateTime<Utc>,
}

/// Everything a digest is made from, as loaded from the database. The same
/// for every staff member: the digest is about the programme, not about them.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub requests: Vec<OpenRequest>,
    pub proposals: Vec<Proposal>,
    pub active: Vec<ActiveEngagement>,
    pub final_meetings: Vec<FinalMeeting>,
    pub concerns: Vec<OpenConcern>,
    pub surveys: Vec<OpenSurvey>,
    pub bounces: Vec<Bounce>,
    pub dead_emails: Vec<DeadEmail>,
}

/// One line of a section, with the link to its item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub text: String,
    pub link: String,
}

/// A heading and its entries; only sections with something in them are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    pub title: String,
    /// At most [`SECTION_LIMIT`].
    pub entries: Vec<Entry>,
    /// How many more there are than the entries shown.
    pub more: usize,
}

/// The digest's content: the sections that have something to say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub sections: Vec<Section>,
    /// Whether the links open the SPA (`HIVE_APP_URL`) rather than GraphiQL;
    /// the email's closing words say which.
    pub opens_app: bool,
}

impl Digest {
    /// Nothing to say: no email is sent.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// Entries over all sections, shown ones and counted ones.
    pub fn total(&self) -> usize {
        self.sections.iter().map(|s| s.entries.len() + s.more).sum()
    }
}

/// What the bouncing-addresses entries link to: GraphiQL with the list (the
/// SPA's route template is for single objects, so this link stays GraphiQL
/// even with `HIVE_APP_URL` set).
pub const BOUNCING_QUERY: &str = "{\n  bouncingAddresses(first: 50) {\n    totalCount\n    \
                                  nodes {\n      email\n      bouncedAt\n      reason\n    }\n  \
                                  }\n}\n";

/// The digest's sections, in the order the email shows them. Staff's
/// `actionItems` in GraphQL lists the same sections from the same
/// [`action_items`], so the email and the screen never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    RequestsWaiting,
    UnansweredProposals,
    UnbookedEngagements,
    UnreviewedFinalMeetings,
    OpenConcerns,
    SurveyResponseRates,
    BouncingAddresses,
    UndeliveredEmails,
}

impl SectionKind {
    /// Every section, in the email's order.
    pub const ALL: [SectionKind; 8] = [
        SectionKind::RequestsWaiting,
        SectionKind::UnansweredProposals,
        SectionKind::UnbookedEngagements,
        SectionKind::UnreviewedFinalMeetings,
        SectionKind::OpenConcerns,
        SectionKind::SurveyResponseRates,
        SectionKind::BouncingAddresses,
        SectionKind::UndeliveredEmails,
    ];

    /// The section's heading in the email.
    pub fn title(self) -> &'static str {
        match self {
            SectionKind::RequestsWaiting => "Requests waiting for a match",
            SectionKind::UnansweredProposals => "Proposals unanswered for over 3 days",
            SectionKind::UnbookedEngagements => "Engagements with no meeting booked",
            SectionKind::UnreviewedFinalMeetings => "Final meetings passed without reviews",
            SectionKind::OpenConcerns => "Open concerns",
            SectionKind::SurveyResponseRates => "Survey response rates",
            SectionKind::BouncingAddresses => "Addresses that bounce (no more mail goes to them)",
            SectionKind::UndeliveredEmails => {
                "Emails that could not be delivered (staff can retry them)"
            }
        }
    }
}

/// What an action item is about: the object an entry links to, by its
/// GraphQL type and row id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    SupportRequest(i64),
    Engagement(i64),
    Concern(i64),
    Survey(i64),
    /// An email row (GraphQL `EmailDelivery`).
    EmailDelivery(i64),
    /// An address that bounces: its `email_preferences` row, and the person
    /// it belongs to when it is someone's.
    Address {
        preferences_id: i64,
        user_id: Option<i64>,
        email: String,
    },
}

impl Subject {
    /// The id that orders and pages a section's items: the row's id.
    pub fn row_id(&self) -> i64 {
        match self {
            Subject::SupportRequest(id)
            | Subject::Engagement(id)
            | Subject::Concern(id)
            | Subject::Survey(id)
            | Subject::EmailDelivery(id) => *id,
            Subject::Address { preferences_id, .. } => *preferences_id,
        }
    }

    /// Where the digest's entry links: the object's page (GraphiQL or the
    /// SPA), or the bouncing list.
    fn link(&self, links: &Links) -> String {
        match self {
            Subject::SupportRequest(id) => links.item("SupportRequest", *id),
            Subject::Engagement(id) => links.item("Engagement", *id),
            Subject::Concern(id) => links.item("Concern", *id),
            Subject::Survey(id) => links.item("Survey", *id),
            Subject::EmailDelivery(id) => links.item("EmailDelivery", *id),
            Subject::Address { .. } => links.query(BOUNCING_QUERY),
        }
    }
}

/// One thing that needs staff: what it is about, since when it has waited
/// (UTC), and the digest's line for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionItem {
    pub subject: Subject,
    /// When the wait began: a request's submission, a proposal, the last
    /// meeting held (or the match), a final meeting, a concern raised, a
    /// survey launched, an address's first bounce, an email given up on.
    pub since: DateTime<Utc>,
    pub text: String,
}

/// A section's items, all of them, in the section's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSection {
    pub kind: SectionKind,
    pub items: Vec<ActionItem>,
}

/// What needs staff at `now`, section by section (every section, in the
/// email's order, empty ones included), from `snapshot`: the rules of each
/// section, free of SQL, mail and links. The digest email ([`compose`]) and
/// GraphQL's `actionItems` both read this.
pub fn action_items(snapshot: &Snapshot, now: DateTime<Utc>) -> Vec<ActionSection> {
    let days_since = |at: DateTime<Utc>| std::cmp::Ord::max((now - at).num_days(), 0);
    let date = |at: DateTime<Utc>| notify::london_date(at);
    let mut sections = Vec::new();
    let mut push = |kind: SectionKind, items: Vec<ActionItem>| {
        sections.push(ActionSection { kind, items });
    };

    // Longest wait first.
    let mut waiting: Vec<&OpenRequest> = snapshot
        .requests
        .iter()
        .filter(|r| !r.has_live_engagement)
        .collect();
    waiting.sort_by_key(|r| (r.submitted_at, r.id));
    push(
        SectionKind::RequestsWaiting,
        waiting
            .into_iter()
            .map(|r| ActionItem {
                subject: Subject::SupportRequest(r.id),
                since: r.submitted_at,
                text: format!(
                    "{} asked for {}, waiting {} since {}",
                    r.organisation,
                    kind_words(r.kind),
                    days(days_since(r.submitted_at)),
                    date(r.submitted_at)
                ),
            })
            .collect(),
    );

    let mut unanswered: Vec<&Proposal> = snapshot
        .proposals
        .iter()
        .filter(|p| p.proposed_at <= now - CHASE_AFTER)
        .collect();
    unanswered.sort_by_key(|p| (p.proposed_at, p.engagement_id));
    push(
        SectionKind::UnansweredProposals,
        unanswered
            .into_iter()
            .map(|p| ActionItem {
                subject: Subject::Engagement(p.engagement_id),
                since: p.proposed_at,
                text: format!(
                    "{} has not answered the proposal to support {} (proposed {}, {} ago)",
                    p.provider,
                    p.organisation,
                    date(p.proposed_at),
                    days(days_since(p.proposed_at))
                ),
            })
            .collect(),
    );

    // An engagement whose final meeting has passed needs reviews, not a
    // meeting: it is in the next section instead.
    let mut unbooked: Vec<&ActiveEngagement> = snapshot
        .active
        .iter()
        .filter(|e| e.latest_scheduled.is_none_or(|at| at <= now))
        .filter(|e| e.final_meeting.is_none_or(|at| at > now))
        .collect();
    let quiet_since = |e: &ActiveEngagement| e.last_held.unwrap_or(e.accepted_at);
    unbooked.sort_by_key(|e| (quiet_since(e), e.engagement_id));
    push(
        SectionKind::UnbookedEngagements,
        unbooked
            .into_iter()
            .map(|e| {
                let history = match e.last_held {
                    Some(held) => {
                        format!("last met {} ({} ago)", date(held), days(days_since(held)))
                    }
                    None => format!(
                        "none held since the match on {} ({} ago)",
                        date(e.accepted_at),
                        days(days_since(e.accepted_at))
                    ),
                };
                ActionItem {
                    subject: Subject::Engagement(e.engagement_id),
                    since: quiet_since(e),
                    text: format!(
                        "{} with {}: no meeting booked; {}",
                        e.provider, e.organisation, history
                    ),
                }
            })
            .collect(),
    );

    let mut unreviewed: Vec<&FinalMeeting> = snapshot
        .final_meetings
        .iter()
        .filter(|m| m.starts_at <= now && m.starts_at > now - REVIEWS_LOOKBACK)
        .filter(|m| !(m.provider_reviewed && m.client_reviewed))
        .collect();
    unreviewed.sort_by_key(|m| (m.starts_at, m.engagement_id));
    push(
        SectionKind::UnreviewedFinalMeetings,
        unreviewed
            .into_iter()
            .map(|m| {
                let missing = match (m.provider_reviewed, m.client_reviewed) {
                    (false, false) => {
                        format!("no review yet from {} or {}", m.provider, m.organisation)
                    }
                    (false, true) => format!("no review yet from {}", m.provider),
                    _ => format!("no review yet from {}", m.organisation),
                };
                ActionItem {
                    subject: Subject::Engagement(m.engagement_id),
                    since: m.starts_at,
                    text: format!(
                        "{} with {}: final meeting on {}; {}",
                        m.provider,
                        m.organisation,
                        date(m.starts_at),
                        missing
                    ),
                }
            })
            .collect(),
    );

    let mut concerns: Vec<&OpenConcern> = snapshot.concerns.iter().collect();
    concerns.sort_by_key(|c| (c.raised_at, c.id));
    push(
        SectionKind::OpenConcerns,
        concerns
            .into_iter()
            .map(|c| ActionItem {
                subject: Subject::Concern(c.id),
                since: c.raised_at,
                text: format!(
                    "A concern of {} on {} with {}, raised {} ({} ago)",
                    concern_words(c.category),
                    c.provider,
                    c.organisation,
                    date(c.raised_at),
                    days(days_since(c.raised_at))
                ),
            })
            .collect(),
    );

    let mut surveys: Vec<&OpenSurvey> = snapshot.surveys.iter().collect();
    surveys.sort_by_key(|s| s.id);
    push(
        SectionKind::SurveyResponseRates,
        surveys
            .into_iter()
            .map(|s| {
                let rate = if s.invited == 0 {
                    "no invitations yet".to_string()
                } else {
                    format!(
                        "{} of {} co-ops answered ({}%)",
                        s.responded,
                        s.invited,
                        (s.responded * 100 + s.invited / 2) / s.invited
                    )
                };
                let closes = s
                    .closes_at
                    .map(|at| format!("; closes {}", date(at)))
                    .unwrap_or_default();
                ActionItem {
                    subject: Subject::Survey(s.id),
                    since: s.launched_at,
                    text: format!("{}: {}{}", s.title, rate, closes),
                }
            })
            .collect(),
    );

    // Newest first: the ones staff have not seen before.
    let mut bounces: Vec<&Bounce> = snapshot.bounces.iter().collect();
    bounces.sort_by(|a, b| b.bounced_at.cmp(&a.bounced_at).then(a.email.cmp(&b.email)));
    push(
        SectionKind::BouncingAddresses,
        bounces
            .into_iter()
            .map(|b| ActionItem {
                subject: Subject::Address {
                    preferences_id: b.id,
                    user_id: b.user_id,
                    email: b.email.clone(),
                },
                since: b.bounced_at,
                text: format!(
                    "{} since {}{}",
                    b.email,
                    date(b.bounced_at),
                    b.reason
                        .as_deref()
                        .map(|r| format!(": {}", shorten(r)))
                        .unwrap_or_default()
                ),
            })
            .collect(),
    );

    let mut dead: Vec<&DeadEmail> = snapshot.dead_emails.iter().collect();
    dead.sort_by(|a, b| b.given_up_at.cmp(&a.given_up_at).then(b.id.cmp(&a.id)));
    push(
        SectionKind::UndeliveredEmails,
        dead.into_iter()
            .map(|e| ActionItem {
                subject: Subject::EmailDelivery(e.id),
                since: e.given_up_at,
                text: format!(
                    "{} to {}, given up {}{}",
                    e.template,
                    e.recipient,
                    date(e.given_up_at),
                    e.last_error
                        .as_deref()
                        .map(|r| format!(": {}", shorten(r)))
                        .unwrap_or_default()
                ),
            })
            .collect(),
    );

    sections
}

/// Writes the digest from `snapshot` as it stands at `now`: the sections of
/// [`action_items`] that have something in them, at most
/// [`SECTION_LIMIT`] entries each (the rest counted), each entry linking to
/// its item through `links` (GraphiQL with a query for it, or the SPA's
/// route).
pub fn compose(snapshot: &Snapshot, now: DateTime<Utc>, links: &Links) -> Digest {
    let sections = action_items(snapshot, now)
        .into_iter()
        .filter(|section| !section.items.is_empty())
        .map(|section| Section {
            title: section.kind.title().to_string(),
            more: section.items.len().saturating_sub(SECTION_LIMIT),
            entries: section
                .items
                .into_iter()
                .take(SECTION_LIMIT)
                .map(|item| Entry {
                    link: item.subject.link(links),
                    text: item.text,
                })
                .collect(),
        })
        .collect();
    Digest {
        sections,
        opens_app: links.app_url.is_some(),
    }
}

fn days(n: i64) -> String {
    match n {
        0 => "under a day".to_string(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

fn kind_words(kind: EngagementKind) -> &'static str {
    match kind {
        EngagementKind::Mentoring => "mentoring",
        EngagementKind::Advice => "advice",
    }
}

fn concern_words(category: ConcernCategory) -> &'static str {
    match category {
        ConcernCategory::CriminalConduct => "criminal conduct",
        ConcernCategory::Harassment => "harassment",
        ConcernCategory::Bullying => "bullying",
        ConcernCategory::Other => "another kind",
    }
}

/// One line of an error text, cut to a readable length.
fn shorten(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= ERROR_TEXT_LIMIT {
        return line;
    }
    let cut: String = line.chars().take(ERROR_TEXT_LIMIT).collect();
    format!("{cut}…")
}

// ---------------------------------------------------------------------------
// The job

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    /// Digests written to the outbox.
    pub sent: usize,
    /// Periods decided with nothing to say.
    pub empty: usize,
}

/// One pass: decides every staff member's digest that is due and not yet
/// decided. Runs from every worker; see the module comment for why that is
/// safe.
pub async fn run(db: &DatabaseConnection, settings: &Settings) -> anyhow::Result<Digests> {
    let now = settings.clock.now();
    let staff = users::Entity::find()
        .filter(users::Column::Role.eq(Role::Staff))
        .filter(users::Column::DeactivatedAt.is_null())
        .all(db)
        .await?;
    if staff.is_empty() {
        return Ok(Digests::default());
    }
    let preferences: HashMap<String, email_preferences::Model> = email_preferences::Entity::find()
        .filter(email_preferences::Column::Email.is_in(staff.iter().map(|u| u.email.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.email.clone(), p))
        .collect();
    let due: Vec<(users::Model, Period)> = staff
        .into_iter()
        .filter_map(|user| {
            let preference = preferences.get(&user.email);
            // No row yet: the database defaults, DAILY and wanted.
            let (frequency, wanted) = preference.map_or((DigestFrequency::Daily, true), |p| {
                (p.digest_frequency, p.digests)
            });
            if !wanted {
                return None;
            }
            let period = due_period(now, settings.digest_time, frequency)?;
            let decided = preference.and_then(|p| p.last_digest_period.as_deref());
            (decided != Some(period.key().as_str())).then_some((user, period))
        })
        .collect();
    if due.is_empty() {
        return Ok(Digests::default());
    }

    let digest = compose(&load(db, now).await?, now, &Links::from(settings));
    let mut done = Digests::default();
    for (user, period) in due {
        match decide(db, &user, period, &digest).await? {
            Decision::Sent => done.sent += 1,
            Decision::NothingToSay => done.empty += 1,
            Decision::TakenElsewhere => {}
        }
    }
    if done.sent > 0 {
        info!(sent = done.sent, empty = done.empty, "staff digests");
    } else if done.empty > 0 {
        debug!(empty = done.empty, "staff digests with nothing to say");
    }
    Ok(done)
}

enum Decision {
    Sent,
    NothingToSay,
    /// Another worker decided this period first.
    TakenElsewhere,
}

/// Claims `period` for `user` and, when the digest has something to say,
/// writes it to the outbox, in one transaction.
async fn decide(
    db: &DatabaseConnection,
    user: &users::Model,
    period: Period,
    digest: &Digest,
) -> anyhow::Result<Decision> {
    let key = period.key();
    let txn = crate::db::begin_write(db).await?;
    // A staff member who never chose has no row; the claim needs one.
    email_preferences::Entity::insert(email_preferences::ActiveModel {
        email: Set(user.email.clone()),
        user_id: Set(Some(user.id)),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(email_preferences::Column::Email)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let claimed = email_preferences::Entity::update_many()
        .col_expr(
            email_preferences::Column::LastDigestPeriod,
            Expr::value(key.clone()),
        )
        .filter(email_preferences::Column::Email.eq(&user.email))
        .filter(
            email_preferences::Column::LastDigestPeriod
                .is_null()
                .or(email_preferences::Column::LastDigestPeriod.ne(key.clone())),
        )
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(Decision::TakenElsewhere);
    }
    if digest.is_empty() {
        txn.commit().await?;
        return Ok(Decision::NothingToSay);
    }
    let context = serde_json::json!({
        "name": user.name,
        "frequency": period.frequency_word(),
        "period": period.label(),
        "total": digest.total(),
        "sections": digest.sections,
        "opens_app": digest.opens_app,
    });
    outbox::enqueue(
        &txn,
        NewEmail {
            // Key `digest:{user}:{period}`: one digest per person per day or
            // ISO week, claimed on `last_digest_period` in this transaction.
            // Nothing withdraws it.
            idempotency_key: format!("digest:{}:{key}", user.id),
            category: EmailCategory::Digest,
            template: TEMPLATE,
            recipient: user.email.clone(),
            context,
            due: chrono::Utc::now(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Decision::Sent)
}

/// Provider and co-op names per engagement id.
async fn parties(
    conn: &impl ConnectionTrait,
    engagements: &[&engagements::Model],
) -> Result<HashMap<i64, (String, String)>, DbErr> {
    let provider_ids: HashSet<i64> = engagements.iter().map(|e| e.provider_id).collect();
    let request_ids: HashSet<i64> = engagements.iter().map(|e| e.support_request_id).collect();
    let provider_names: HashMap<i64, String> = providers::Entity::find()
        .filter(providers::Column::Id.is_in(provider_ids))
        .find_also_related(users::Entity)
        .all(conn)
        .await?
        .into_iter()
        .map(|(provider, user)| (provider.id, user.map(|u| u.name).unwrap_or_default()))
        .collect();
    let organisation_names: HashMap<i64, String> = support_requests::Entity::find()
        .filter(support_requests::Column::Id.is_in(request_ids))
        .find_also_related(organisations::Entity)
        .all(conn)
        .await?
        .into_iter()
        .map(|(request, organisation)| {
            (request.id, organisation.map(|o| o.name).unwrap_or_default())
        })
        .collect();
    Ok(engagements
        .iter()
        .map(|e| {
            (
                e.id,
                (
                    provider_names
                        .get(&e.provider_id)
                        .cloned()
                        .unwrap_or_default(),
                    organisation_names
                        .get(&e.support_request_id)
                        .cloned()
                        .unwrap_or_default(),
                ),
            )
        })
        .collect())
}

/// Reads what the digest is made from. A handful of queries, run once per
/// pass in which some digest is due (about once a day per staff member).
pub async fn load(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Snapshot, DbErr> {
    let open_requests = support_requests::Entity::find()
        .filter(support_requests::Column::Status.is_in([
            SupportRequestStatus::Submitted,
            SupportRequestStatus::Matching,
        ]))
        .find_also_related(organisations::Entity)
        .all(conn)
        .await?;

    // Live engagements, and those whose final meeting may want reviews.
    let engagements = engagements::Entity::find()
        .filter(engagements::Column::Status.is_in([
            EngagementStatus::Proposed,
            EngagementStatus::Active,
            EngagementStatus::Completed,
        ]))
        .all(conn)
        .await?;
    let live: Vec<&engagements::Model> = engagements
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                EngagementStatus::Proposed | EngagementStatus::Active
            )
        })
        .collect();
    let live_requests: HashSet<i64> = live.iter().map(|e| e.support_request_id).collect();

    let final_meetings = meetings::Entity::find()
        .filter(meetings::Column::IsFinal.eq(true))
        .filter(meetings::Column::Status.ne(MeetingStatus::Cancelled))
        .filter(meetings::Column::StartsAt.lte(now))
        .filter(meetings::Column::StartsAt.gt(now - REVIEWS_LOOKBACK))
        .all(conn)
        .await?;
    let active_ids: Vec<i64> = live
        .iter()
        .filter(|e| e.status == EngagementStatus::Active)
        .map(|e| e.id)
        .collect();
    let diary = meetings::Entity::find()
        .filter(meetings::Column::EngagementId.is_in(active_ids))
        .filter(meetings::Column::Status.ne(MeetingStatus::Cancelled))
        .all(conn)
        .await?;

    let concern_rows = concerns::Entity::find()
        .filter(concerns::Column::Status.eq(ConcernStatus::Open))
        .all(conn)
        .await?;

    // Names for every engagement any section mentions.
    let by_id: HashMap<i64, &engagements::Model> = engagements.iter().map(|e| (e.id, e)).collect();
    let concern_engagements: Vec<engagements::Model> = engagements::Entity::find()
        .filter(
            engagements::Column::Id.is_in(
                concern_rows
                    .iter()
                    .map(|c| c.engagement_id)
                    .filter(|id| !by_id.contains_key(id)),
            ),
        )
        .all(conn)
        .await?;
    let mentioned: Vec<&engagements::Model> = engagements
        .iter()
        .chain(concern_engagements.iter())
        .collect();
    let names = parties(conn, &mentioned).await?;
    let name = |engagement_id: i64| names.get(&engagement_id).cloned().unwrap_or_default();

    let final_ids: Vec<i64> = final_meetings.iter().map(|m| m.engagement_id).collect();
    let reviewed: HashSet<(i64, ReviewParty)> = reviews::Entity::find()
        .filter(reviews::Column::EngagementId.is_in(final_ids))
        .filter(reviews::Column::SubmittedAt.is_not_null())
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.engagement_id, r.party))
        .collect();

    let open_surveys = surveys::Entity::find()
        .filter(surveys::Column::Status.eq(SurveyStatus::Open))
        .all(conn)
        .await?;
    let survey_ids: Vec<i64> = open_surveys.iter().map(|s| s.id).collect();
    let invited: HashMap<i64, i64> = survey_invitations::Entity::find()
        .select_only()
        .column(survey_invitations::Column::SurveyId)
        .column_as(survey_invitations::Column::Id.count(), "invited")
        .filter(survey_invitations::Column::SurveyId.is_in(survey_ids.clone()))
        .group_by(survey_invitations::Column::SurveyId)
        .into_tuple::<(i64, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let responded: HashMap<i64, i64> = survey_responses::Entity::find()
        .select_only()
        .column(survey_invitations::Column::SurveyId)
        .column_as(survey_responses::Column::Id.count(), "responded")
        .join(
            JoinType::InnerJoin,
            survey_responses::Relation::Invitation.def(),
        )
        .filter(survey_invitations::Column::SurveyId.is_in(survey_ids))
        .group_by(survey_invitations::Column::SurveyId)
        .into_tuple::<(i64, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();

    let bounces = email_preferences::Entity::find()
        .filter(email_preferences::Column::BouncedAt.is_not_null())
        .all(conn)
        .await?;
    let dead_emails = emails::Entity::find()
        .select_only()
        .column(emails::Column::Id)
        .column(emails::Column::Recipient)
        .column(emails::Column::Template)
        .column(emails::Column::LastError)
        .column(emails::Column::UpdatedAt)
        .filter(emails::Column::Status.eq(EmailStatus::Dead))
        .into_tuple::<(i64, String, String, Option<String>, DateTime<Utc>)>()
        .all(conn)
        .await?;

    let count = |map: &HashMap<i64, i64>, id: i64| {
        u64::try_from(map.get(&id).copied().unwrap_or(0)).unwrap_or(0)
    };
    Ok(Snapshot {
        requests: open_requests
            .into_iter()
            .map(|(request, organisation)| OpenRequest {
                id: request.id,
                organisation: organisation.map(|o| o.name).unwrap_or_default(),
                kind: request.kind,
                submitted_at: request.created_at,
                has_live_engagement: live_requests.contains(&request.id),
            })
            .collect(),
        proposals: live
            .iter()
            .filter(|e| e.status == EngagementStatus::Proposed)
            .map(|e| {
                let (provider, organisation) = name(e.id);
                Proposal {
                    engagement_id: e.id,
                    provider,
                    organisation,
                    proposed_at: e.proposed_at,
                }
            })
            .collect(),
        active: live
            .iter()
            .filter(|e| e.status == EngagementStatus::Active)
            .map(|e| {
                let (provider, organisation) = name(e.id);
                let of_this = || diary.iter().filter(|m| m.engagement_id == e.id);
                ActiveEngagement {
                    engagement_id: e.id,
                    provider,
                    organisation,
                    accepted_at: e.responded_at.unwrap_or(e.proposed_at),
                    latest_scheduled: of_this()
                        .filter(|m| m.status == MeetingStatus::Scheduled)
                        .map(|m| m.starts_at)
                        .max(),
                    last_held: of_this()
                        .filter(|m| m.status == MeetingStatus::Held)
                        .map(|m| m.starts_at)
                        .max(),
                    final_meeting: of_this().filter(|m| m.is_final).map(|m| m.starts_at).max(),
                }
            })
            .collect(),
        final_meetings: final_meetings
            .iter()
            .filter(|m| by_id.contains_key(&m.engagement_id))
            .map(|m| {
                let (provider, organisation) = name(m.engagement_id);
                FinalMeeting {
                    engagement_id: m.engagement_id,
                    provider,
                    organisation,
                    starts_at: m.starts_at,
                    provider_reviewed: reviewed.contains(&(m.engagement_id, ReviewParty::Provider)),
                    client_reviewed: reviewed.contains(&(m.engagement_id, ReviewParty::Client)),
                }
            })
            .collect(),
        concerns: concern_rows
            .into_iter()
            .map(|c| {
                let (provider, organisation) = name(c.engagement_id);
                OpenConcern {
                    id: c.id,
                    category: c.category,
                    provider,
                    organisation,
                    raised_at: c.created_at,
                }
            })
            .collect(),
        surveys: open_surveys
            .into_iter()
            .map(|s| OpenSurvey {
                invited: count(&invited, s.id),
                responded: count(&responded, s.id),
                id: s.id,
                title: s.title,
                launched_at: s.launched_at.unwrap_or(s.created_at),
                closes_at: s.closes_at,
            })
            .collect(),
        bounces: bounces
            .into_iter()
            .filter_map(|p| {
                p.bounced_at.map(|bounced_at| Bounce {
                    id: p.id,
                    user_id: p.user_id,
                    email: p.email,
                    bounced_at,
                    reason: p.bounce_reason,
                })
            })
            .collect(),
        dead_emails: dead_emails
            .into_iter()
            .map(
                |(id, recipient, template, last_error, given_up_at)| DeadEmail {
                    id,
                    recipient,
                    template,
                    last_error,
                    given_up_at,
                },
            )
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::global_id;

    const URL: &str = "https://hive.example";

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn seven() -> NaiveTime {
        NaiveTime::from_hms_opt(7, 0, 0).unwrap()
    }

    fn section<'a>(digest: &'a Digest, title: &str) -> &'a Section {
        digest
            .sections
            .iter()
            .find(|s| s.title.starts_with(title))
            .unwrap_or_else(|| panic!("no section {title}: {digest:#?}"))
    }

    #[test]
    fn a_daily_digest_is_due_from_its_london_time_until_midnight() {
        use DigestFrequency::*;
        // Monday 23 November 2026, GMT: London time is UTC.
        assert_eq!(due_period(at("2026-11-23T06:59:59Z"), seven(), Daily), None);
        let monday = Period::Day(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(
            due_period(at("2026-11-23T07:00:00Z"), seven(), Daily),
            Some(monday)
        );
        // Started late (downtime): still today's digest.
        assert_eq!(
            due_period(at("2026-11-23T22:00:00Z"), seven(), Daily),
            Some(monday)
        );
        // After midnight, yesterday's is no longer due and today's not yet.
        assert_eq!(due_period(at("2026-11-24T00:30:00Z"), seven(), Daily), None);
        assert_eq!(monday.key(), "2026-11-23");
        assert_eq!(monday.label(), "Monday 23 November 2026");
        assert_eq!(due_period(at("2026-11-23T12:00:00Z"), seven(), Never), None);
    }

    #[test]
    fn summer_time_keeps_the_digest_at_seven_in_london() {
        // Wednesday 1 July 2026, BST: 07:00 in London is 06:00 UTC.
        let day = Period::Day(NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
        assert_eq!(
            due_period(at("2026-07-01T05:59:00Z"), seven(), DigestFrequency::Daily),
            None
        );
        assert_eq!(
            due_period(at("2026-07-01T06:00:00Z"), seven(), DigestFrequency::Daily),
            Some(day)
        );
        // Just before midnight UTC is already the next day in London.
        assert_eq!(
            due_period(
                at("2026-06-30T23:30:00Z"),
                NaiveTime::MIN,
                DigestFrequency::Daily
            ),
            Some(day)
        );
        assert_eq!(
            london_instant(NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(), seven()),
            at("2026-07-01T06:00:00Z")
        );
        // 01:30 does not exist on 29 March 2026 (clocks go forward at 01:00).
        assert_eq!(
            london_instant(
                NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
                NaiveTime::from_hms_opt(1, 30, 0).unwrap()
            ),
            at("2026-03-29T01:30:00Z")
        );
    }

    #[test]
    fn a_weekly_digest_is_due_from_monday_at_its_time_all_week() {
        use DigestFrequency::Weekly;
        let week = Period::Week {
            monday: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        };
        // Sunday night belongs to the week before, already decided or missed.
        assert_eq!(
            due_period(at("2026-11-22T23:00:00Z"), seven(), Weekly),
            Some(Period::Week {
                monday: NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
            })
        );
        assert_eq!(
            due_period(at("2026-11-23T06:59:00Z"), seven(), Weekly),
            None
        );
        assert_eq!(
            due_period(at("2026-11-23T07:00:00Z"), seven(), Weekly),
            Some(week)
        );
        // Missed on Monday (no worker ran): sent on Tuesday morning instead.
        assert_eq!(
            due_period(at("2026-11-24T03:00:00Z"), seven(), Weekly),
            Some(week)
        );
        assert_eq!(
            due_period(at("2026-11-29T23:59:00Z"), seven(), Weekly),
            Some(week)
        );
        assert_eq!(week.key(), "2026-W48");
        assert_eq!(week.label(), "the week of 23 November 2026");
        // ISO week-numbering year.
        let new_year = Period::Week {
            monday: NaiveDate::from_ymd_opt(2025, 12, 29).unwrap(),
        };
        assert_eq!(new_year.key(), "2026-W01");
    }

    #[test]
    fn nothing_to_say_is_an_empty_digest() {
        let now = at("2026-11-23T07:00:00Z");
        let mut snapshot = Snapshot::default();
        assert!(compose(&snapshot, now, &Links::graphiql(URL)).is_empty());
        // A request with a proposal out, a fresh proposal, an engagement with
        // a meeting booked, a reviewed final meeting: all fine, nothing said.
        snapshot.requests.push(OpenRequest {
            id: 1,
            organisation: "Calder Bakers".into(),
            kind: EngagementKind::Mentoring,
            submitted_at: now - Duration::days(9),
            has_live_engagement: true,
        });
        snapshot.proposals.push(Proposal {
            engagement_id: 2,
            provider: "Ruth Ellis".into(),
            organisation: "Calder Bakers".into(),
            proposed_at: now - Duration::days(2),
        });
        snapshot.active.push(ActiveEngagement {
            engagement_id: 3,
            provider: "Tom Walsh".into(),
            organisation: "Pennine Makers".into(),
            accepted_at: now - Duration::days(40),
            latest_scheduled: Some(now + Duration::days(3)),
            last_held: None,
            final_meeting: None,
        });
        snapshot.final_meetings.push(FinalMeeting {
            engagement_id: 4,
            provider: "Ann Pryce".into(),
            organisation: "Busy Bees".into(),
            starts_at: now - Duration::days(5),
            provider_reviewed: true,
            client_reviewed: true,
        });
        let digest = compose(&snapshot, now, &Links::graphiql(URL));
        assert!(digest.is_empty(), "{digest:#?}");
        assert_eq!(digest.total(), 0);
    }

    #[test]
    fn each_section_lists_what_needs_attention_with_links() {
        let now = at("2026-11-23T07:00:00Z");
        let snapshot = Snapshot {
            requests: vec![
                OpenRequest {
                    id: 11,
                    organisation: "Later Co-op".into(),
                    kind: EngagementKind::Advice,
                    submitted_at: now - Duration::days(2),
                    has_live_engagement: false,
                },
                OpenRequest {
                    id: 10,
                    organisation: "Calder Bakers".into(),
                    kind: EngagementKind::Mentoring,
                    submitted_at: now - Duration::days(6),
                    has_live_engagement: false,
                },
            ],
            proposals: vec![
                Proposal {
                    engagement_id: 20,
                    provider: "Ruth Ellis".into(),
                    organisation: "Quiet Looms".into(),
                    proposed_at: now - Duration::days(4),
                },
                Proposal {
                    engagement_id: 21,
                    provider: "Fresh Face".into(),
                    organisation: "Quiet Looms".into(),
                    proposed_at: now - Duration::hours(71),
                },
            ],
            active: vec![
                ActiveEngagement {
                    engagement_id: 30,
                    provider: "Sam Okafor".into(),
                    organisation: "Busy Bees".into(),
                    accepted_at: now - Duration::days(12),
                    latest_scheduled: None,
                    last_held: None,
                    final_meeting: None,
                },
                // Its only meeting was booked for yesterday and never recorded.
                ActiveEngagement {
                    engagement_id: 31,
                    provider: "Tom Walsh".into(),
                    organisation: "Pennine Makers".into(),
                    accepted_at: now - Duration::days(40),
                    latest_scheduled: Some(now - Duration::days(1)),
                    last_held: Some(now - Duration::days(20)),
                    final_meeting: None,
                },
                // Final meeting passed: reviews, not meetings, are what is missing.
                ActiveEngagement {
                    engagement_id: 32,
                    provider: "Ann Pryce".into(),
                    organisation: "Hebden Weavers".into(),
                    accepted_at: now - Duration::days(40),
                    latest_scheduled: None,
                    last_held: Some(now - Duration::days(3)),
                    final_meeting: Some(now - Duration::days(3)),
                },
            ],
            final_meetings: vec![
                FinalMeeting {
                    engagement_id: 32,
                    provider: "Ann Pryce".into(),
                    organisation: "Hebden Weavers".into(),
                    starts_at: now - Duration::days(3),
                    provider_reviewed: true,
                    client_reviewed: false,
                },
                FinalMeeting {
                    engagement_id: 33,
                    provider: "Old Hand".into(),
                    organisation: "Long Gone".into(),
                    starts_at: now - Duration::days(61),
                    provider_reviewed: false,
                    client_reviewed: false,
                },
            ],
            concerns: vec![OpenConcern {
                id: 40,
                category: ConcernCategory::Harassment,
                provider: "Sam Okafor".into(),
                organisation: "Busy Bees".into(),
                raised_at: now - Duration::days(1),
            }],
            surveys: vec![OpenSurvey {
                id: 50,
                title: "Census 2026".into(),
                launched_at: now - Duration::days(10),
                invited: 3,
                responded: 1,
                closes_at: Some(at("2026-12-01T12:00:00Z")),
            }],
            bounces: vec![Bounce {
                id: 70,
                user_id: None,
                email: "gone@example.test".into(),
                bounced_at: now - Duration::days(1),
                reason: Some("550 5.1.1\n  no such mailbox".into()),
            }],
            dead_emails: vec![DeadEmail {
                id: 60,
                recipient: "slow@example.test".into(),
                template: "match_proposed".into(),
                last_error: Some("timed out".into()),
                given_up_at: now - Duration::hours(3),
            }],
        };
        let digest = compose(&snapshot, now, &Links::graphiql(URL));
        let titles: Vec<&str> = digest.sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Requests waiting for a match",
                "Proposals unanswered for over 3 days",
                "Engagements with no meeting booked",
                "Final meetings passed without reviews",
                "Open concerns",
                "Survey response rates",
                "Addresses that bounce (no more mail goes to them)",
                "Emails that could not be delivered (staff can retry them)",
            ]
        );
        assert_eq!(digest.total(), 10);

        let waiting = section(&digest, "Requests waiting");
        assert_eq!(
            waiting.entries[0].text,
            "Calder Bakers asked for mentoring, waiting 6 days since 17 November 2026"
        );
        assert_eq!(
            waiting.entries[0].link,
            Links::graphiql(URL).query(&crate::links::node_query(
                "SupportRequest",
                &global_id("SupportRequest", 10)
            ))
        );
        assert!(
            waiting.entries[1]
                .text
                .starts_with("Later Co-op asked for advice")
        );

        let proposals = section(&digest, "Proposals");
        assert_eq!(proposals.entries.len(), 1, "71 hours is not over 3 days");
        assert!(
            proposals.entries[0]
                .text
                .starts_with("Ruth Ellis has not answered")
        );
        assert!(
            proposals.entries[0]
                .link
                .contains(&global_id("Engagement", 20))
        );

        let unbooked = section(&digest, "Engagements with no meeting");
        assert_eq!(unbooked.entries.len(), 2, "{unbooked:#?}");
        // Quiet longest first.
        assert_eq!(
            unbooked.entries[0].text,
            "Tom Walsh with Pennine Makers: no meeting booked; last met 3 November 2026 (20 days ago)"
        );
        assert_eq!(
            unbooked.entries[1].text,
            "Sam Okafor with Busy Bees: no meeting booked; none held since the match on 11 November 2026 (12 days ago)"
        );

        let reviews = section(&digest, "Final meetings");
        assert_eq!(reviews.entries.len(), 1, "61 days ago is past the lookback");
        assert_eq!(
            reviews.entries[0].text,
            "Ann Pryce with Hebden Weavers: final meeting on 20 November 2026; no review yet from Hebden Weavers"
        );

        let concerns = section(&digest, "Open concerns");
        assert_eq!(
            concerns.entries[0].text,
            "A concern of harassment on Sam Okafor with Busy Bees, raised 22 November 2026 (1 day ago)"
        );
        assert!(concerns.entries[0].link.contains(&global_id("Concern", 40)));

        let surveys = section(&digest, "Survey");
        assert_eq!(
            surveys.entries[0].text,
            "Census 2026: 1 of 3 co-ops answered (33%); closes 1 December 2026"
        );

        let bounces = section(&digest, "Addresses that bounce");
        assert_eq!(
            bounces.entries[0].text,
            "gone@example.test since 22 November 2026: 550 5.1.1 no such mailbox"
        );
        assert_eq!(
            bounces.entries[0].link,
            Links::graphiql(URL).query(BOUNCING_QUERY)
        );

        let dead = section(&digest, "Emails that could not");
        assert_eq!(
            dead.entries[0].text,
            "match_proposed to slow@example.test, given up 23 November 2026: timed out"
        );
        assert!(
            dead.entries[0]
                .link
                .contains(&global_id("EmailDelivery", 60))
        );
    }

    #[test]
    fn a_long_section_shows_its_first_entries_and_counts_the_rest() {
        let now = at("2026-11-23T07:00:00Z");
        let snapshot = Snapshot {
            requests: (0..SECTION_LIMIT as i64 + 7)
                .map(|id| OpenRequest {
                    id,
                    organisation: format!("Co-op {id}"),
                    kind: EngagementKind::Advice,
                    submitted_at: now - Duration::days(100 - id),
                    has_live_engagement: false,
                })
                .collect(),
            ..Snapshot::default()
        };
        let digest = compose(&snapshot, now, &Links::graphiql(URL));
        let waiting = section(&digest, "Requests waiting");
        assert_eq!(waiting.entries.len(), SECTION_LIMIT);
        assert_eq!(waiting.more, 7);
        assert_eq!(digest.total(), SECTION_LIMIT + 7);
        assert!(
            waiting.entries[0].text.starts_with("Co-op 0 "),
            "longest wait first"
        );
    }

    #[test]
    fn the_digest_renders_in_text_and_html() {
        let now = at("2026-11-23T07:00:00Z");
        let snapshot = Snapshot {
            requests: vec![OpenRequest {
                id: 10,
                organisation: "Bakers & <Sons>".into(),
                kind: EngagementKind::Mentoring,
                submitted_at: now - Duration::days(6),
                has_live_engagement: false,
            }],
            surveys: vec![OpenSurvey {
                id: 50,
                title: "Census 2026".into(),
                launched_at: now - Duration::days(10),
                invited: 0,
                responded: 0,
                closes_at: None,
            }],
            ..Snapshot::default()
        };
        let digest = compose(&snapshot, now, &Links::graphiql(URL));
        let period = Period::Day(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        let context = serde_json::json!({
            "name": "Ada",
            "frequency": period.frequency_word(),
            "period": period.label(),
            "total": digest.total(),
            "sections": digest.sections,
            "opens_app": digest.opens_app,
        });
        let rendered = crate::mail::Templates::load()
            .unwrap()
            .render(TEMPLATE, &context)
            .unwrap();
        assert_eq!(
            rendered.subject,
            "Hive daily digest for Monday 23 November 2026: 2 items to look at"
        );
        let link = Links::graphiql(URL).item("SupportRequest", 10);
        let expected = format!(
            "REQUESTS WAITING FOR A MATCH (1)\n\
             - Bakers & <Sons> asked for mentoring, waiting 6 days since 17 November 2026\n  \
             {link}\n\n\
             SURVEY RESPONSE RATES (1)\n\
             - Census 2026: no invitations yet\n  "
        );
        assert!(rendered.text.contains(&expected), "{}", rendered.text);
        assert!(
            rendered.html.contains("Bakers &amp; &lt;Sons&gt;"),
            "{}",
            rendered.html
        );
        assert!(rendered.html.contains("Survey response rates (1)"));
        // minijinja escapes `/` in attributes; browsers read it back.
        assert!(rendered.html.contains(&global_id("SupportRequest", 10)));
        assert!(
            rendered.html.contains("co-operative business support"),
            "the layout"
        );
    }

    #[test]
    fn links_carry_the_api_global_id() {
        // base64url("Engagement:7"), as the API's relay::global_id makes it.
        // (What the links look like is `crate::links`'s own test.)
        assert_eq!(global_id("Engagement", 7), "RW5nYWdlbWVudDo3");
        let graphiql = Links::graphiql(URL).item("Engagement", 7);
        assert!(graphiql.starts_with("https://hive.example/graphql?query="));
        assert!(graphiql.contains("RW5nYWdlbWVudDo3"), "{graphiql}");
    }
}
