//! Erasure (issue 17, item 3): staff answer a person's or a co-op's erasure
//! request in one step. Their personal data is replaced by a fixed marker;
//! what the programme's statistics count is kept.
//!
//! What is replaced, and how it is found:
//! - a person's name (the marker) and address (`erased-user-<id>@erased.invalid`,
//!   since `users.email` is NOT NULL and unique; see `hive_worker::erased`);
//!   a provider's bio and firm name; a co-op's name, phone and financial
//!   details (the marker) and contact address (cleared);
//! - every free text the person wrote. Where a row names its author, by
//!   that column: a request's goals (`submitted_by_user_id`), an end reason
//!   (`ended_by_user_id`), a meeting's place (`scheduled_by_user_id`), a
//!   concern's details (`raised_by_user_id`) and outcome
//!   (`resolved_by_user_id`), a review's comments (`reviewer_user_id`, or the
//!   provider for a PROVIDER review answered by link), a decline by the
//!   engagement's provider. Where it does not, by the audit trail, which
//!   records who did each change: a request declined by staff
//!   (`declineSupportRequest`), ground rules (`agreeGroundRules`, the last
//!   to set them), meeting notes and learning (`recordMeeting`). Survey
//!   answers are a co-op's, given from a link: a person's are those of the
//!   invitations sent to their address;
//! - for a co-op, every text of its requests, engagements, meetings and
//!   reviews (all of it is about the co-op, whichever side wrote it), the
//!   concerns its members raised, its survey answers, and each member;
//! - the copies of those values elsewhere: the name, address and phone
//!   wherever another text holds them as words (other people's emails,
//!   notes, the audit trail); the free texts where emails and the audit
//!   trail copied them, and in requests made from survey answers.
//!
//! What is revoked: sessions, sign-in links, the calendar feed, the email
//! preferences of the address, the unsubscribe links of its emails, the
//! person's review and survey links (a co-op's CLIENT review link is shared
//! by its members: revoked too, so the others answer signed in), a
//! provider's answer links; the person is deactivated and a provider leaves
//! matching. The bodies (`context`) of the emails sent to the address are
//! deleted; their delivery record (template, status, times) stays, with the
//! erased address, and any not yet sent is SUPPRESSED. The worker never
//! mails an erased address.
//!
//! What is kept, because the programme's statistics count it
//! (`programmeStats` gives the same numbers before and after): every row
//! and id, statuses, kinds, days, fees, ratings, times, topics, a co-op's
//! stage, sector, region and size, survey choices and numbers. Concerns
//! raised by others about the person are kept as written: they are
//! safeguarding records staff handle by hand.
//!
//! Refused (CONFLICT, naming them) while the person is party to an ACTIVE
//! engagement (a provider also to a PROPOSED one: the answer link would
//! still work) or to an OPEN concern; a co-op also while it has a request
//! waiting (SUBMITTED or MATCHING) or an engagement PROPOSED. Erasing again
//! is a CONFLICT ("already erased") that changes nothing: an erasure cannot
//! be undone, and running it twice would look like two requests. Staff
//! cannot erase themselves (another staff member does).
//!
//! Concurrency: the erasure locks, in the programme's lock order, every
//! request the person or co-op is party to, then the provider, then the
//! person or co-op itself, and only then checks. Everything that makes an
//! engagement ACTIVE, raises a concern or proposes locks the request first,
//! so it either committed before (and the erasure sees it and refuses) or
//! waits and finds the erasure done. A request for an erased co-op is
//! refused (`requests::submit` reads the co-op under a shared lock).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entity::{
    audit_log, concerns,
    concerns::ConcernStatus,
    email_preferences, emails,
    emails::EmailStatus,
    engagements::{self, EngagementStatus},
    meetings, organisations, providers,
    reviews::{self, ReviewParty},
    support_requests::{self, SupportRequestStatus},
    survey_answers, survey_invitations, survey_responses,
    users::{self, Role},
};
use hive_worker::{
    erased::{erased_organisation_address, erased_user_address},
    ids::global_id,
    jobs::retention::CLEARED_BODY,
    surveys::{invitation_addresses, invited_address},
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, Func, LikeExpr, Query},
};

use super::change::Change;
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// What every erased text reads.
pub const MARKER: &str = "[erased]";

/// Longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 2_000;

/// A free text copied elsewhere is replaced inside longer texts only when it
/// is at least this long; shorter, only where it is a whole value (a short
/// "Not the right fit." is too likely to be someone else's words too).
const MIN_COPIED_TEXT_CHARS: usize = 24;

/// A name, address or phone is looked for in other texts only when it is at
/// least this long: a two-letter name would match too many other words.
const MIN_IDENTIFIER_CHARS: usize = 4;

/// How many values one look-up statement searches for at once.
const NEEDLES_PER_STATEMENT: usize = 50;

/// The first characters of a value that a look-up searches for (the rest is
/// compared in memory): a 20,000-character note is not a LIKE pattern.
const PATTERN_CHARS: usize = 64;

/// What an erasure did.
#[derive(Debug, Clone)]
pub struct Erased {
    pub erased_at: DateTime<Utc>,
    /// Stored values replaced or removed (names, addresses, texts, copies,
    /// sessions, links and preferences).
    pub changes: u64,
    /// Sessions revoked: the API process forgets them from its cache at once.
    pub revoked_sessions: Vec<i64>,
}

/// The values taken out so far, to be looked for where others copied them.
#[derive(Default)]
struct Removed {
    /// Names, addresses, phone numbers: replaced wherever they stand as words.
    identifiers: BTreeSet<String>,
    /// Free texts: replaced where emails, the audit trail and requests made
    /// from survey answers copied them.
    texts: BTreeSet<String>,
    changes: u64,
    revoked_sessions: Vec<i64>,
}

impl Removed {
    fn identifier(&mut self, value: &str) {
        let value = value.trim();
        // Too short to tell from other words ("Al"), or an address that is
        // already an erased one: replaced in place only.
        if value.chars().count() >= MIN_IDENTIFIER_CHARS
            && value != MARKER
            && !hive_worker::erased::is_erased_address(value)
        {
            self.identifiers.insert(value.to_string());
        }
    }

    fn text(&mut self, value: &str) {
        let value = value.trim();
        if !value.is_empty() && value != MARKER {
            self.texts.insert(value.to_string());
        }
    }
}

/// The kind of value a column holds, for [`mark`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Identifier,
    Text,
}

/// Erases a person (staff): see the module's doc for what and why.
/// NOT_FOUND for an unknown id, CONFLICT while they are party to an ACTIVE
/// engagement or an OPEN concern and when already erased, BAD_USER_INPUT
/// for a missing reason or a staff member erasing themself.
pub async fn erase_person(
    db: &DatabaseConnection,
    viewer: &Viewer,
    user_id: i64,
    reason: &str,
) -> ApiResult<Erased> {
    access::require_staff(viewer)?;
    let reason = valid_reason(reason)?;
    if viewer.user.as_ref().is_some_and(|me| me.id == user_id) {
        return Err(ApiError::bad_input(
            "userId",
            "Staff do not erase themselves: ask another member of staff.",
        ));
    }
    let missing = "No user has that id.";
    let change = Change::begin(db, viewer).await?;
    let found = users::Entity::find_by_id(user_id)
        .one(change.db())
        .await?
        .ok_or_else(|| ApiError::not_found(missing))?;
    // Lock order: the requests, the provider, then the person.
    let provider = providers::Entity::find()
        .filter(providers::Column::UserId.eq(user_id))
        .one(change.db())
        .await?;
    let requests = person_requests(&found, provider.as_ref());
    change
        .lock_all(requests.order_by_asc(support_requests::Column::Id))
        .await?;
    let provider = match provider {
        Some(provider) => Some(change.lock_provider(provider.id).await?),
        None => None,
    };
    let user = change.lock_by_id::<users::Entity>(user_id, missing).await?;
    if let Some(at) = user.erased_at {
        return Err(already_erased("This person", at));
    }
    let person = Person { user, provider };
    refuse_while_open(&change, &person).await?;

    let now = Utc::now();
    let mut removed = Removed::default();
    erase_person_rows(&change, &person, now, &mut removed).await?;
    let reason = scrub_copies(&change, &mut removed, &reason).await?;
    change
        .audit(
            "erasePerson",
            Some(("User", person.user.id)),
            Some(serde_json::json!({"reason": reason, "changes": removed.changes})),
        )
        .await?;
    change.commit().await?;
    Ok(Erased {
        erased_at: now,
        changes: removed.changes,
        revoked_sessions: removed.revoked_sessions,
    })
}

/// Erases a co-op and each of its members (staff): see the module's doc.
/// NOT_FOUND for an unknown id; CONFLICT while it has a request waiting, an
/// engagement PROPOSED or ACTIVE, or an OPEN concern, and when already
/// erased; BAD_USER_INPUT for a missing reason.
pub async fn erase_organisation(
    db: &DatabaseConnection,
    viewer: &Viewer,
    organisation_id: i64,
    reason: &str,
) -> ApiResult<Erased> {
    access::require_staff(viewer)?;
    let reason = valid_reason(reason)?;
    let missing = "No organisation has that id.";
    let change = Change::begin(db, viewer).await?;
    organisations::Entity::find_by_id(organisation_id)
        .one(change.db())
        .await?
        .ok_or_else(|| ApiError::not_found(missing))?;
    // Lock order: the requests, then the co-op and its people.
    let requests = change
        .lock_all(
            support_requests::Entity::find()
                .filter(support_requests::Column::OrganisationId.eq(organisation_id))
                .order_by_asc(support_requests::Column::Id),
        )
        .await?;
    let organisation = change
        .lock_by_id::<organisations::Entity>(organisation_id, missing)
        .await?;
    let members = change
        .lock_all(
            users::Entity::find()
                .filter(users::Column::OrganisationId.eq(organisation_id))
                .order_by_asc(users::Column::Id),
        )
        .await?;
    if let Some(at) = organisation.erased_at {
        return Err(already_erased("This co-op", at));
    }
    let waiting: Vec<String> = requests
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                SupportRequestStatus::Submitted | SupportRequestStatus::Matching
            )
        })
        .map(|r| {
            format!(
                "{} ({})",
                global_id("SupportRequest", r.id),
                status_word(&r.status)
            )
        })
        .collect();
    if !waiting.is_empty() {
        return Err(ApiError::conflict(format!(
            "{} has requests waiting for a match: {}. Withdraw or decline them first; nothing was changed.",
            organisation.name,
            waiting.join(", ")
        )));
    }
    let request_ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let engagements = engagements::Entity::find()
        .filter(engagements::Column::SupportRequestId.is_in(request_ids.clone()))
        .order_by_asc(engagements::Column::Id)
        .all(change.db())
        .await?;
    refuse_open(
        &change,
        &organisation.name,
        &engagements,
        &[EngagementStatus::Active, EngagementStatus::Proposed],
        None,
    )
    .await?;

    let now = Utc::now();
    let mut removed = Removed::default();
    // Its people first, each as an erasure of their own.
    let mut erased_members = Vec::new();
    for member in members.into_iter().filter(|m| m.erased_at.is_none()) {
        let person = Person {
            user: member,
            provider: None,
        };
        erase_person_rows(&change, &person, now, &mut removed).await?;
        erased_members.push(person.user.id);
    }
    erase_organisation_rows(&change, &organisation, &request_ids, now, &mut removed).await?;
    let reason = scrub_copies(&change, &mut removed, &reason).await?;
    for member in erased_members {
        change
            .audit(
                "erasePerson",
                Some(("User", member)),
                Some(serde_json::json!({
                    "reason": reason,
                    "withOrganisation": global_id("Organisation", organisation.id),
                })),
            )
            .await?;
    }
    change
        .audit(
            "eraseOrganisation",
            Some(("Organisation", organisation.id)),
            Some(serde_json::json!({"reason": reason, "changes": removed.changes})),
        )
        .await?;
    change.commit().await?;
    Ok(Erased {
        erased_at: now,
        changes: removed.changes,
        revoked_sessions: removed.revoked_sessions,
    })
}

/// The reason, trimmed: required, so the trail says why.
fn valid_reason(reason: &str) -> ApiResult<String> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad_input(
            "reason",
            "Say why (the erasure request), in up to 2,000 characters.",
        ));
    }
    Ok(reason.to_string())
}

fn already_erased(who: &str, at: DateTime<Utc>) -> ApiError {
    ApiError::conflict(format!(
        "{who} was already erased on {}; nothing was changed.",
        at.format("%Y-%m-%d")
    ))
}

fn status_word<T: serde::Serialize>(status: &T) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A person as the erasure needs them.
struct Person {
    user: users::Model,
    provider: Option<providers::Model>,
}

/// The requests a person is party to: a provider's engagements' requests, a
/// member's co-op's requests (none for staff).
fn person_requests(
    user: &users::Model,
    provider: Option<&providers::Model>,
) -> Select<support_requests::Entity> {
    let all = support_requests::Entity::find();
    if let Some(provider) = provider {
        return all.filter(
            support_requests::Column::Id.in_subquery(
                Query::select()
                    .column(engagements::Column::SupportRequestId)
                    .from(engagements::Entity)
                    .and_where(engagements::Column::ProviderId.eq(provider.id))
                    .to_owned(),
            ),
        );
    }
    match (user.role, user.organisation_id) {
        (Role::Member, Some(organisation)) => {
            all.filter(support_requests::Column::OrganisationId.eq(organisation))
        }
        _ => all.filter(support_requests::Column::Id.eq(-1)),
    }
}

/// The engagements a person is party to (see [`person_requests`]).
fn person_engagements(person: &Person) -> Select<engagements::Entity> {
    let all = engagements::Entity::find();
    if let Some(provider) = &person.provider {
        return all.filter(engagements::Column::ProviderId.eq(provider.id));
    }
    match (person.user.role, person.user.organisation_id) {
        (Role::Member, Some(organisation)) => all.filter(
            engagements::Column::SupportRequestId.in_subquery(
                Query::select()
                    .column(support_requests::Column::Id)
                    .from(support_requests::Entity)
                    .and_where(support_requests::Column::OrganisationId.eq(organisation))
                    .to_owned(),
            ),
        ),
        _ => all.filter(engagements::Column::Id.eq(-1)),
    }
}

/// CONFLICT while the person is party to an ACTIVE engagement (a provider
/// also a PROPOSED one) or an OPEN concern (raised by them, or on an
/// engagement they are party to).
async fn refuse_while_open(change: &Change<'_>, person: &Person) -> ApiResult<()> {
    let engagements = person_engagements(person)
        .order_by_asc(engagements::Column::Id)
        .all(change.db())
        .await?;
    let blocking: &[EngagementStatus] = if person.provider.is_some() {
        &[EngagementStatus::Active, EngagementStatus::Proposed]
    } else {
        &[EngagementStatus::Active]
    };
    refuse_open(
        change,
        &person.user.name,
        &engagements,
        blocking,
        Some(person.user.id),
    )
    .await
}

/// CONFLICT naming each engagement in `blocking` states and each OPEN
/// concern on `engagements` (or raised by `raised_by`).
async fn refuse_open(
    change: &Change<'_>,
    who: &str,
    engagements: &[engagements::Model],
    blocking: &[EngagementStatus],
    raised_by: Option<i64>,
) -> ApiResult<()> {
    let open: Vec<String> = engagements
        .iter()
        .filter(|e| blocking.contains(&e.status))
        .map(|e| {
            format!(
                "{} ({})",
                global_id("Engagement", e.id),
                status_word(&e.status)
            )
        })
        .collect();
    if !open.is_empty() {
        return Err(ApiError::conflict(format!(
            "{who} is party to {} engagement{} still under way: {}. End it, or let it complete or lapse, first; nothing was changed.",
            open.len(),
            if open.len() == 1 { "" } else { "s" },
            open.join(", ")
        )));
    }
    let engagement_ids: Vec<i64> = engagements.iter().map(|e| e.id).collect();
    let mut about = Condition::any().add(concerns::Column::EngagementId.is_in(engagement_ids));
    if let Some(user) = raised_by {
        about = about.add(concerns::Column::RaisedByUserId.eq(user));
    }
    let concerns: Vec<i64> = concerns::Entity::find()
        .select_only()
        .column(concerns::Column::Id)
        .filter(concerns::Column::Status.eq(ConcernStatus::Open))
        .filter(about)
        .order_by_asc(concerns::Column::Id)
        .into_tuple()
        .all(change.db())
        .await?;
    if !concerns.is_empty() {
        let ids: Vec<String> = concerns
            .iter()
            .map(|id| global_id("Concern", *id).to_string())
            .collect();
        return Err(ApiError::conflict(format!(
            "{who} is party to {} open concern{}: {}. Resolve {} first; nothing was changed.",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            ids.join(", "),
            if ids.len() == 1 { "it" } else { "them" }
        )));
    }
    Ok(())
}

/// Everything of one person (see the module's doc), in the change.
async fn erase_person_rows(
    change: &Change<'_>,
    person: &Person,
    now: DateTime<Utc>,
    removed: &mut Removed,
) -> ApiResult<()> {
    let db = change.db();
    let user = &person.user;
    let user_id = user.id;
    let address = user.email.clone();
    removed.identifier(&user.name);
    removed.identifier(&address);

    // The account: marker, reserved address, deactivated.
    let mut row: users::ActiveModel = user.clone().into();
    row.name = Set(MARKER.to_string());
    row.email = Set(erased_user_address(user_id));
    row.deactivated_at = Set(Some(user.deactivated_at.unwrap_or(now)));
    row.erased_at = Set(Some(now));
    row.update(db).await?;
    removed.changes += 2;

    // A provider's profile and links.
    if let Some(provider) = &person.provider {
        let of_provider = providers::Entity::find_by_id(provider.id);
        mark(
            change,
            of_provider.clone(),
            providers::Column::Id,
            providers::Column::Bio,
            Kind::Identifier,
            removed,
        )
        .await?;
        mark(
            change,
            of_provider,
            providers::Column::Id,
            providers::Column::FirmName,
            Kind::Identifier,
            removed,
        )
        .await?;
        providers::Entity::update_many()
            .col_expr(providers::Column::Active, Expr::value(false))
            .col_expr(providers::Column::UpdatedAt, Expr::value(now))
            .filter(providers::Column::Id.eq(provider.id))
            .exec(db)
            .await?;
        removed.changes += engagements::Entity::update_many()
            .col_expr(
                engagements::Column::ResponseTokenHash,
                Expr::value(Option::<String>::None),
            )
            .filter(engagements::Column::ProviderId.eq(provider.id))
            .filter(engagements::Column::ResponseTokenHash.is_not_null())
            .exec(db)
            .await?
            .rows_affected;
        mark(
            change,
            engagements::Entity::find().filter(engagements::Column::ProviderId.eq(provider.id)),
            engagements::Column::Id,
            engagements::Column::DeclineReason,
            Kind::Text,
            removed,
        )
        .await?;
    }

    // Their review links: a provider's PROVIDER reviews (no reminder either:
    // it would only be suppressed), a member's co-op's CLIENT reviews.
    let engagement_ids: Vec<i64> = person_engagements(person)
        .select_only()
        .column(engagements::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let party = if person.provider.is_some() {
        Some(ReviewParty::Provider)
    } else if user.role == Role::Member {
        Some(ReviewParty::Client)
    } else {
        None
    };
    if let Some(party) = party {
        let mut update = reviews::Entity::update_many()
            .col_expr(
                reviews::Column::TokenHash,
                Expr::value(Option::<String>::None),
            )
            .filter(reviews::Column::EngagementId.is_in(engagement_ids.clone()))
            .filter(reviews::Column::Party.eq(party))
            .filter(reviews::Column::SubmittedAt.is_null())
            .filter(reviews::Column::TokenHash.is_not_null());
        if party == ReviewParty::Provider {
            update = update.col_expr(
                reviews::Column::RemindedAt,
                Expr::expr(Func::coalesce([
                    Expr::col(reviews::Column::RemindedAt),
                    Expr::value(now),
                ])),
            );
        }
        removed.changes += update.exec(db).await?.rows_affected;
    }

    // The free text they wrote.
    mark(
        change,
        support_requests::Entity::find()
            .filter(support_requests::Column::SubmittedByUserId.eq(user_id)),
        support_requests::Column::Id,
        support_requests::Column::Goals,
        Kind::Text,
        removed,
    )
    .await?;
    let declined = audited_by(change, "declineSupportRequest", "SupportRequest", user_id).await?;
    mark(
        change,
        support_requests::Entity::find().filter(support_requests::Column::Id.is_in(declined)),
        support_requests::Column::Id,
        support_requests::Column::DeclineReason,
        Kind::Text,
        removed,
    )
    .await?;
    mark(
        change,
        engagements::Entity::find().filter(engagements::Column::EndedByUserId.eq(user_id)),
        engagements::Column::Id,
        engagements::Column::EndReason,
        Kind::Text,
        removed,
    )
    .await?;
    let ground_rules = last_written_by(
        change,
        "agreeGroundRules",
        "Engagement",
        &engagement_ids,
        user_id,
    )
    .await?;
    mark(
        change,
        engagements::Entity::find().filter(engagements::Column::Id.is_in(ground_rules)),
        engagements::Column::Id,
        engagements::Column::GroundRules,
        Kind::Text,
        removed,
    )
    .await?;
    mark(
        change,
        meetings::Entity::find().filter(meetings::Column::ScheduledByUserId.eq(user_id)),
        meetings::Column::Id,
        meetings::Column::Location,
        Kind::Text,
        removed,
    )
    .await?;
    let meeting_ids: Vec<i64> = meetings::Entity::find()
        .select_only()
        .column(meetings::Column::Id)
        .filter(meetings::Column::EngagementId.is_in(engagement_ids.clone()))
        .into_tuple()
        .all(db)
        .await?;
    let recorded =
        last_written_by(change, "recordMeeting", "Meeting", &meeting_ids, user_id).await?;
    for column in [meetings::Column::Notes, meetings::Column::Learning] {
        mark(
            change,
            meetings::Entity::find().filter(meetings::Column::Id.is_in(recorded.clone())),
            meetings::Column::Id,
            column,
            Kind::Text,
            removed,
        )
        .await?;
    }
    mark(
        change,
        concerns::Entity::find().filter(concerns::Column::RaisedByUserId.eq(user_id)),
        concerns::Column::Id,
        concerns::Column::Details,
        Kind::Text,
        removed,
    )
    .await?;
    mark(
        change,
        concerns::Entity::find().filter(concerns::Column::ResolvedByUserId.eq(user_id)),
        concerns::Column::Id,
        concerns::Column::Outcome,
        Kind::Text,
        removed,
    )
    .await?;
    let mut wrote = Condition::any().add(reviews::Column::ReviewerUserId.eq(user_id));
    if let Some(provider) = &person.provider {
        let own: Vec<i64> = engagements::Entity::find()
            .select_only()
            .column(engagements::Column::Id)
            .filter(engagements::Column::ProviderId.eq(provider.id))
            .into_tuple()
            .all(db)
            .await?;
        wrote = wrote.add(
            Condition::all()
                .add(reviews::Column::ReviewerUserId.is_null())
                .add(reviews::Column::Party.eq(ReviewParty::Provider))
                .add(reviews::Column::EngagementId.is_in(own)),
        );
    }
    mark(
        change,
        reviews::Entity::find().filter(wrote),
        reviews::Column::Id,
        reviews::Column::Comments,
        Kind::Text,
        removed,
    )
    .await?;

    // Survey invitations sent to their address. Sent to them alone, the
    // answers and the link are theirs; sent to several of a co-op's members,
    // they are the co-op's (anyone of them may have answered, and the others
    // keep the link): only their address leaves the list.
    let mut alone = Vec::new();
    for invitation in invitations_to(db, &address).await? {
        let others: Vec<&str> = invitation_addresses(&invitation.email)
            .filter(|a| !a.eq_ignore_ascii_case(&address))
            .collect();
        if others.is_empty() {
            alone.push(invitation);
            continue;
        }
        let list = invitation_addresses(&invitation.email)
            .map(|a| {
                if a.eq_ignore_ascii_case(&address) {
                    erased_user_address(user_id)
                } else {
                    a.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        survey_invitations::Entity::update_many()
            .col_expr(survey_invitations::Column::Email, Expr::value(list))
            .filter(survey_invitations::Column::Id.eq(invitation.id))
            .exec(db)
            .await?;
        removed.changes += 1;
    }
    erase_invitations(change, &alone, &erased_user_address(user_id), removed).await?;

    // A co-op's contact address that was theirs.
    removed.changes += organisations::Entity::update_many()
        .col_expr(
            organisations::Column::ContactEmail,
            Expr::value(Option::<String>::None),
        )
        .col_expr(organisations::Column::UpdatedAt, Expr::value(now))
        .filter(
            Expr::expr(Func::lower(Expr::col(organisations::Column::ContactEmail)))
                .eq(address.to_lowercase()),
        )
        .exec(db)
        .await?
        .rows_affected;

    // Sessions, sign-in links, the calendar feed, email preferences.
    let shut = super::accounts::shut_out(db, user_id, now).await?;
    removed.changes += shut.changes;
    removed.revoked_sessions.extend(shut.revoked_sessions);
    removed.changes += email_preferences::Entity::delete_many()
        .filter(
            Condition::any()
                .add(email_preferences::Column::UserId.eq(user_id))
                .add(email_preferences::Column::Email.eq(address.to_lowercase())),
        )
        .exec(db)
        .await?
        .rows_affected;

    // The emails sent to them.
    erase_emails_to(
        change,
        &address,
        &erased_user_address(user_id),
        now,
        removed,
    )
    .await
}

/// Everything of one co-op beyond its members (see the module's doc).
async fn erase_organisation_rows(
    change: &Change<'_>,
    organisation: &organisations::Model,
    request_ids: &[i64],
    now: DateTime<Utc>,
    removed: &mut Removed,
) -> ApiResult<()> {
    let db = change.db();
    removed.identifier(&organisation.name);
    // Not the legal form, which is kept: "Ltd" or "CIC" names nobody.
    for value in [&organisation.contact_email, &organisation.contact_phone]
        .into_iter()
        .flatten()
    {
        removed.identifier(value);
    }
    if let Some(details) = &organisation.financial_details {
        removed.text(details);
    }
    let mut row: organisations::ActiveModel = organisation.clone().into();
    row.name = Set(MARKER.to_string());
    row.contact_email = Set(None);
    row.contact_phone = Set(organisation.contact_phone.as_ref().map(|_| MARKER.into()));
    row.financial_details = Set(organisation
        .financial_details
        .as_ref()
        .map(|_| MARKER.into()));
    row.erased_at = Set(Some(now));
    row.updated_at = Set(now);
    row.update(db).await?;
    removed.changes += 1
        + u64::from(organisation.contact_email.is_some())
        + u64::from(organisation.contact_phone.is_some())
        + u64::from(organisation.financial_details.is_some());

    // Every text of its requests, engagements, meetings and reviews.
    let requests = || {
        support_requests::Entity::find()
            .filter(support_requests::Column::Id.is_in(request_ids.iter().copied()))
    };
    for column in [
        support_requests::Column::Goals,
        support_requests::Column::DeclineReason,
    ] {
        mark(
            change,
            requests(),
            support_requests::Column::Id,
            column,
            Kind::Text,
            removed,
        )
        .await?;
    }
    let engagement_ids: Vec<i64> = engagements::Entity::find()
        .select_only()
        .column(engagements::Column::Id)
        .filter(engagements::Column::SupportRequestId.is_in(request_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let engagements = || {
        engagements::Entity::find().filter(engagements::Column::Id.is_in(engagement_ids.clone()))
    };
    for column in [
        engagements::Column::GroundRules,
        engagements::Column::DeclineReason,
        engagements::Column::EndReason,
    ] {
        mark(
            change,
            engagements(),
            engagements::Column::Id,
            column,
            Kind::Text,
            removed,
        )
        .await?;
    }
    removed.changes += engagements::Entity::update_many()
        .col_expr(
            engagements::Column::ResponseTokenHash,
            Expr::value(Option::<String>::None),
        )
        .filter(engagements::Column::Id.is_in(engagement_ids.clone()))
        .filter(engagements::Column::ResponseTokenHash.is_not_null())
        .exec(db)
        .await?
        .rows_affected;
    for column in [
        meetings::Column::Location,
        meetings::Column::Notes,
        meetings::Column::Learning,
    ] {
        mark(
            change,
            meetings::Entity::find()
                .filter(meetings::Column::EngagementId.is_in(engagement_ids.clone())),
            meetings::Column::Id,
            column,
            Kind::Text,
            removed,
        )
        .await?;
    }
    mark(
        change,
        reviews::Entity::find().filter(reviews::Column::EngagementId.is_in(engagement_ids.clone())),
        reviews::Column::Id,
        reviews::Column::Comments,
        Kind::Text,
        removed,
    )
    .await?;
    removed.changes += reviews::Entity::update_many()
        .col_expr(
            reviews::Column::TokenHash,
            Expr::value(Option::<String>::None),
        )
        .filter(reviews::Column::EngagementId.is_in(engagement_ids.clone()))
        .filter(reviews::Column::TokenHash.is_not_null())
        .filter(reviews::Column::SubmittedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    // The concerns its people raised (their details and what staff decided).
    let members_raised = Condition::all()
        .add(concerns::Column::EngagementId.is_in(engagement_ids.clone()))
        .add(
            concerns::Column::RaisedByUserId.in_subquery(
                Query::select()
                    .column(users::Column::Id)
                    .from(users::Entity)
                    .and_where(users::Column::OrganisationId.eq(organisation.id))
                    .to_owned(),
            ),
        );
    for column in [concerns::Column::Details, concerns::Column::Outcome] {
        mark(
            change,
            concerns::Entity::find().filter(members_raised.clone()),
            concerns::Column::Id,
            column,
            Kind::Text,
            removed,
        )
        .await?;
    }

    // Its survey answers and links.
    let invitations = survey_invitations::Entity::find()
        .filter(survey_invitations::Column::OrganisationId.eq(organisation.id))
        .all(db)
        .await?;
    erase_invitations(
        change,
        &invitations,
        &erased_organisation_address(organisation.id),
        removed,
    )
    .await?;

    // Its contact address: its emails and preferences.
    if let Some(address) = &organisation.contact_email {
        removed.changes += email_preferences::Entity::delete_many()
            .filter(email_preferences::Column::Email.eq(address.to_lowercase()))
            .exec(db)
            .await?
            .rows_affected;
        erase_emails_to(
            change,
            address,
            &erased_organisation_address(organisation.id),
            now,
            removed,
        )
        .await?;
    }
    Ok(())
}

/// The survey invitations whose list of addresses holds `address`.
pub(crate) async fn invitations_to(
    conn: &impl ConnectionTrait,
    address: &str,
) -> ApiResult<Vec<survey_invitations::Model>> {
    let pattern = like_pattern(&address.to_lowercase(), false);
    Ok(survey_invitations::Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(survey_invitations::Column::Email)))
                .like(LikeExpr::new(pattern).escape('!')),
        )
        .order_by_asc(survey_invitations::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .filter(|invitation| invited_address(&invitation.email, address))
        .collect())
}

/// Survey invitations sent to an erased address: the text answers given
/// from them, the address (`erased`), and the link (its hash replaced by a
/// value no token hashes to, since the column is NOT NULL and unique).
async fn erase_invitations(
    change: &Change<'_>,
    invitations: &[survey_invitations::Model],
    erased: &str,
    removed: &mut Removed,
) -> ApiResult<()> {
    if invitations.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = invitations.iter().map(|i| i.id).collect();
    mark(
        change,
        survey_answers::Entity::find().filter(
            survey_answers::Column::ResponseId.in_subquery(
                Query::select()
                    .column(survey_responses::Column::Id)
                    .from(survey_responses::Entity)
                    .and_where(survey_responses::Column::InvitationId.is_in(ids))
                    .to_owned(),
            ),
        ),
        survey_answers::Column::Id,
        survey_answers::Column::TextValue,
        Kind::Text,
        removed,
    )
    .await?;
    for invitation in invitations {
        for address in invitation_addresses(&invitation.email) {
            removed.identifier(address);
        }
        survey_invitations::Entity::update_many()
            .col_expr(survey_invitations::Column::Email, Expr::value(erased))
            .col_expr(
                survey_invitations::Column::TokenHash,
                Expr::value(format!("erased:{}", invitation.id)),
            )
            .filter(survey_invitations::Column::Id.eq(invitation.id))
            .exec(change.db())
            .await?;
        removed.changes += 2;
    }
    Ok(())
}

/// The emails sent to `address`: the erased address instead (in the
/// idempotency key too, which names the recipient), the body deleted, the
/// unsubscribe link revoked, and any not yet sent SUPPRESSED.
async fn erase_emails_to(
    change: &Change<'_>,
    address: &str,
    erased: &str,
    now: DateTime<Utc>,
    removed: &mut Removed,
) -> ApiResult<()> {
    let rows: Vec<(i64, String, String)> = emails::Entity::find()
        .select_only()
        .column(emails::Column::Id)
        .column(emails::Column::Recipient)
        .column(emails::Column::IdempotencyKey)
        .filter(
            Expr::expr(Func::lower(Expr::col(emails::Column::Recipient)))
                .eq(address.to_lowercase()),
        )
        .into_tuple()
        .all(change.db())
        .await?;
    for (id, recipient, key) in rows {
        let key = key.replace(&recipient, erased);
        emails::Entity::update_many()
            .col_expr(emails::Column::Recipient, Expr::value(erased))
            .col_expr(emails::Column::IdempotencyKey, Expr::value(key))
            .col_expr(emails::Column::Context, Expr::value(CLEARED_BODY))
            .col_expr(
                emails::Column::UnsubscribeTokenHash,
                Expr::value(Option::<String>::None),
            )
            .col_expr(emails::Column::UpdatedAt, Expr::value(now))
            .filter(emails::Column::Id.eq(id))
            .exec(change.db())
            .await?;
        // Not sent yet: never will be. Sent or suppressed: its error text
        // (which may name the address) goes too.
        emails::Entity::update_many()
            .col_expr(emails::Column::Status, Expr::value(EmailStatus::Suppressed))
            .col_expr(emails::Column::LastError, Expr::value("recipient erased"))
            .filter(emails::Column::Id.eq(id))
            .filter(emails::Column::Status.is_in([
                EmailStatus::Pending,
                EmailStatus::Failed,
                EmailStatus::Dead,
            ]))
            .exec(change.db())
            .await?;
        emails::Entity::update_many()
            .col_expr(
                emails::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(emails::Column::Id.eq(id))
            .filter(emails::Column::Status.is_in([EmailStatus::Sent]))
            .exec(change.db())
            .await?;
        removed.changes += 1;
    }
    Ok(())
}

/// Replaces `column` by the marker in the rows of `select` that hold a value
/// (not null, not empty, not the marker already), remembering each value.
async fn mark<E>(
    change: &Change<'_>,
    select: Select<E>,
    id: E::Column,
    column: E::Column,
    kind: Kind,
    removed: &mut Removed,
) -> ApiResult<()>
where
    E: EntityTrait,
{
    let rows: Vec<(i64, String)> = select
        .select_only()
        .column(id)
        .column(column)
        .filter(column.is_not_null())
        .filter(column.ne(""))
        .filter(column.ne(MARKER))
        .into_tuple()
        .all(change.db())
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    for (_, value) in &rows {
        match kind {
            Kind::Identifier => removed.identifier(value),
            Kind::Text => removed.text(value),
        }
    }
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    for chunk in ids.chunks(500) {
        removed.changes += E::update_many()
            .col_expr(column, Expr::value(MARKER))
            .filter(id.is_in(chunk.iter().copied()))
            .exec(change.db())
            .await?
            .rows_affected;
    }
    Ok(())
}

/// The subjects of `action` done by `user` (an operation done once per
/// subject, such as declining a request).
async fn audited_by(
    change: &Change<'_>,
    action: &str,
    subject_type: &str,
    user: i64,
) -> ApiResult<Vec<i64>> {
    let subjects: Vec<Option<i64>> = audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::SubjectId)
        .filter(audit_log::Column::Action.eq(action))
        .filter(audit_log::Column::SubjectType.eq(subject_type))
        .filter(audit_log::Column::ActorUserId.eq(user))
        .into_tuple()
        .all(change.db())
        .await?;
    Ok(subjects.into_iter().flatten().collect())
}

/// Of `subjects`, those whose text `action` last set was set by `user`
/// (ground rules may be set again by the other party: theirs then stands).
async fn last_written_by(
    change: &Change<'_>,
    action: &str,
    subject_type: &str,
    subjects: &[i64],
    user: i64,
) -> ApiResult<Vec<i64>> {
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let mut last: HashMap<i64, Option<i64>> = HashMap::new();
    for chunk in subjects.chunks(500) {
        let entries: Vec<(Option<i64>, Option<i64>)> = audit_log::Entity::find()
            .select_only()
            .column(audit_log::Column::SubjectId)
            .column(audit_log::Column::ActorUserId)
            .filter(audit_log::Column::Action.eq(action))
            .filter(audit_log::Column::SubjectType.eq(subject_type))
            .filter(audit_log::Column::SubjectId.is_in(chunk.iter().copied()))
            .order_by_asc(audit_log::Column::Id)
            .into_tuple()
            .all(change.db())
            .await?;
        for (subject, actor) in entries {
            if let Some(subject) = subject {
                last.insert(subject, actor);
            }
        }
    }
    let mut mine: Vec<i64> = last
        .into_iter()
        .filter(|(_, actor)| *actor == Some(user))
        .map(|(subject, _)| subject)
        .collect();
    mine.sort_unstable();
    Ok(mine)
}

/// Looks for the values taken out wherever Hive may hold a copy, replaces
/// each copy by the marker, and returns `reason` with the same done to it
/// (the erasure's own audit entry keeps no erased value).
async fn scrub_copies(
    change: &Change<'_>,
    removed: &mut Removed,
    reason: &str,
) -> ApiResult<String> {
    let needles = Needles::new(removed);
    if needles.is_empty() {
        return Ok(reason.to_string());
    }
    // Names, addresses and phones wherever people write or Hive copies text.
    macro_rules! scrub {
        ($entity:ident, $column:ident, $json:expr, $texts:expr) => {
            removed.changes += scrub_column::<$entity::Entity>(
                change,
                $entity::Column::Id,
                $entity::Column::$column,
                $json,
                $texts,
                &needles,
            )
            .await?;
        };
    }
    scrub!(providers, Bio, false, false);
    scrub!(support_requests, Goals, false, true);
    scrub!(support_requests, DeclineReason, false, false);
    scrub!(engagements, GroundRules, false, false);
    scrub!(engagements, DeclineReason, false, false);
    scrub!(engagements, EndReason, false, false);
    scrub!(meetings, Location, false, false);
    scrub!(meetings, Notes, false, false);
    scrub!(meetings, Learning, false, false);
    scrub!(concerns, Details, false, false);
    scrub!(concerns, Outcome, false, false);
    scrub!(reviews, Comments, false, false);
    scrub!(survey_answers, TextValue, false, false);
    scrub!(organisations, FinancialDetails, false, false);
    scrub!(email_preferences, BounceReason, false, false);
    scrub!(emails, Context, true, true);
    scrub!(emails, LastError, false, false);
    scrub!(audit_log, Detail, true, true);
    Ok(needles
        .replace_all(reason, true)
        .unwrap_or_else(|| reason.to_string()))
}

/// The values an erasure looks for, longest first (a full name before a
/// part of it).
struct Needles {
    identifiers: Vec<String>,
    texts: Vec<String>,
}

impl Needles {
    fn new(removed: &Removed) -> Self {
        let by_length = |set: &BTreeSet<String>| {
            let mut values: Vec<String> = set.iter().cloned().collect();
            values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            values
        };
        Self {
            identifiers: by_length(&removed.identifiers),
            texts: by_length(&removed.texts),
        }
    }

    fn is_empty(&self) -> bool {
        self.identifiers.is_empty() && self.texts.is_empty()
    }

    /// The values a column is searched for: identifiers always, free texts
    /// only where copies of them are kept (`texts`).
    fn searched(&self, texts: bool) -> impl Iterator<Item = &String> {
        self.identifiers
            .iter()
            .chain(self.texts.iter().filter(move |_| texts))
    }

    /// `text` with every value found in it replaced, or None when none is.
    /// A free text counts inside a longer text only when it is long enough
    /// to be the person's own words ([`MIN_COPIED_TEXT_CHARS`]).
    fn replace_all(&self, text: &str, texts: bool) -> Option<String> {
        let mut current: Option<String> = None;
        for needle in &self.identifiers {
            let haystack = current.as_deref().unwrap_or(text);
            if let Some(replaced) = replace_words(haystack, needle) {
                current = Some(replaced);
            }
        }
        if texts {
            for needle in &self.texts {
                let haystack = current.as_deref().unwrap_or(text);
                let replaced = if haystack.trim() == needle {
                    Some(MARKER.to_string())
                } else if needle.chars().count() >= MIN_COPIED_TEXT_CHARS {
                    replace_words(haystack, needle)
                } else {
                    None
                };
                if let Some(replaced) = replaced {
                    current = Some(replaced);
                }
            }
        }
        current
    }

    /// Every string inside a JSON value, replaced; whether any changed.
    fn replace_in_json(&self, value: &mut serde_json::Value, texts: bool) -> bool {
        match value {
            serde_json::Value::String(s) => match self.replace_all(s, texts) {
                Some(replaced) => {
                    *s = replaced;
                    true
                }
                None => false,
            },
            serde_json::Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
                self.replace_in_json(item, texts) | changed
            }),
            serde_json::Value::Object(fields) => {
                fields.values_mut().fold(false, |changed, item| {
                    self.replace_in_json(item, texts) | changed
                })
            }
            _ => false,
        }
    }
}

/// The LIKE pattern that finds rows holding `needle` (its first
/// characters; as JSON text escapes it when `json`), `!` escaping.
fn like_pattern(needle: &str, json: bool) -> String {
    let text = if json {
        let quoted = serde_json::to_string(needle).unwrap_or_default();
        quoted[1..quoted.len().saturating_sub(1).max(1)].to_string()
    } else {
        needle.to_string()
    };
    let start: String = text.chars().take(PATTERN_CHARS).collect();
    let mut pattern = String::from("%");
    for c in start.chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Finds the rows of one text column that may hold a value and replaces
/// each value in them; the number of rows changed.
async fn scrub_column<E>(
    change: &Change<'_>,
    id: E::Column,
    column: E::Column,
    json: bool,
    texts: bool,
    needles: &Needles,
) -> ApiResult<u64>
where
    E: EntityTrait,
{
    let searched: Vec<&String> = needles.searched(texts).collect();
    let mut found: HashMap<i64, String> = HashMap::new();
    for chunk in searched.chunks(NEEDLES_PER_STATEMENT) {
        let mut any = Condition::any();
        for needle in chunk {
            any = any.add(column.like(LikeExpr::new(like_pattern(needle, json)).escape('!')));
        }
        let rows: Vec<(i64, String)> = E::find()
            .select_only()
            .column(id)
            .column(column)
            .filter(column.is_not_null())
            .filter(any)
            .into_tuple()
            .all(change.db())
            .await?;
        found.extend(rows);
    }
    let mut changed = 0;
    let mut ids: Vec<i64> = found.keys().copied().collect();
    ids.sort_unstable();
    for row in ids {
        let value = &found[&row];
        let replaced = if json {
            match serde_json::from_str::<serde_json::Value>(value) {
                Ok(mut parsed) => needles
                    .replace_in_json(&mut parsed, texts)
                    .then(|| parsed.to_string()),
                // Not JSON after all: as plain text.
                Err(_) => needles.replace_all(value, texts),
            }
        } else {
            needles.replace_all(value, texts)
        };
        if let Some(replaced) = replaced {
            E::update_many()
                .col_expr(column, Expr::value(replaced))
                .filter(id.eq(row))
                .exec(change.db())
                .await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// `text` with each occurrence of `needle` that stands as a whole word (no
/// letter or digit joined to its ends) replaced by the marker, or None when
/// there is none: "Ann Lee" goes from "meeting with Ann Lee", not from
/// "Ann Leeson".
fn replace_words(text: &str, needle: &str) -> Option<String> {
    if needle.is_empty() || !text.contains(needle) {
        return None;
    }
    let word_start = needle.chars().next().is_some_and(char::is_alphanumeric);
    let word_end = needle
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut from, mut changed) = (0, 0, false);
    while let Some(offset) = text[from..].find(needle) {
        let start = from + offset;
        let end = start + needle.len();
        let clear_before = !word_start
            || text[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
        let clear_after = !word_end
            || text[end..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric());
        if clear_before && clear_after {
            out.push_str(&text[copied..start]);
            out.push_str(MARKER);
            copied = end;
            from = end;
            changed = true;
        } else {
            from = start + needle.chars().next().map_or(1, char::len_utf8);
        }
    }
    changed.then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_are_replaced_and_parts_of_words_are_not() {
        assert_eq!(
            replace_words("Meeting with Ann Lee, Ann Leeson and ann lee", "Ann Lee").as_deref(),
            Some("Meeting with [erased], Ann Leeson and ann lee")
        );
        assert_eq!(replace_words("Joann", "Ann"), None);
        assert_eq!(
            replace_words("to:ann@ouseburn.coop;", "ann@ouseburn.coop").as_deref(),
            Some("to:[erased];")
        );
        assert_eq!(
            replace_words("joann@ouseburn.coop", "ann@ouseburn.coop"),
            None
        );
        assert_eq!(
            replace_words("£40k (Reserves)", "(Reserves)").as_deref(),
            Some("£40k [erased]")
        );
        assert_eq!(replace_words("Zoë Ó", "Ó").as_deref(), Some("Zoë [erased]"));
    }

    #[test]
    fn free_texts_count_inside_others_only_when_long() {
        let mut removed = Removed::default();
        removed.identifier("Ann Lee");
        removed.text("Not the right fit.");
        removed.text("We went through the whole share offer line by line.");
        let needles = Needles::new(&removed);
        assert_eq!(
            needles.replace_all("Not the right fit.", true).as_deref(),
            Some(MARKER)
        );
        assert_eq!(needles.replace_all("Not the right fit. Sorry.", true), None);
        assert_eq!(
            needles
                .replace_all(
                    "Notes: We went through the whole share offer line by line. Ann Lee",
                    true
                )
                .as_deref(),
            Some("Notes: [erased] [erased]")
        );
        assert_eq!(
            needles.replace_all("Not the right fit.", false),
            None,
            "texts are only looked for where copies are kept"
        );
        let mut value = serde_json::json!({"name": "Ann Lee", "sections": [{"summary": "Ann Lee waits"}], "days": 3});
        assert!(needles.replace_in_json(&mut value, true));
        assert_eq!(
            value,
            serde_json::json!({"name": "[erased]", "sections": [{"summary": "[erased] waits"}], "days": 3})
        );
    }

    #[test]
    fn patterns_escape_like_and_follow_json() {
        assert_eq!(like_pattern("50%_off!", false), "%50!%!_off!!%");
        assert_eq!(
            like_pattern("say \"hi\"\nthen", true),
            "%say \\\"hi\\\"\\nthen%"
        );
        assert_eq!(
            like_pattern(&"x".repeat(100), false).len(),
            PATTERN_CHARS + 2
        );
    }
}
