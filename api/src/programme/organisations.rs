//! The register of client co-ops: staff add a co-op, staff or its members
//! keep its profile, and staff give a person at a co-op an account.

use chrono::{Datelike, Utc};
use entity::{
    engagements::{self, EngagementStatus},
    organisations::{self, OrganisationStage},
    support_requests::{self, SupportRequestStatus},
    users::{self, Role},
};
use hive_worker::{ids::global_id, outbox};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::{
    accounts,
    change::Change,
    vocabulary::{Vocabulary, current_terms},
};
use crate::{
    access,
    access::organisation_relationship,
    auth::{Viewer, normalise_email},
    error::{ApiError, ApiResult},
    regions::canonical_region,
    sessions::SessionCache,
};

/// A change to one optional field: leave it, clear it, or set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    To(T),
}

/// A co-op to add to the register. Texts are trimmed; an empty optional
/// text is no value. Limits: name 200 characters, legal form 120, phone 40,
/// financial details 5,000; members 0 to 1,000,000; founded 1800 to this
/// year; region one of the programme's (see `regions`).
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub name: String,
    pub legal_form: Option<String>,
    pub stage: OrganisationStage,
    pub sector_id: Option<i64>,
    pub region: String,
    pub members_count: Option<i32>,
    pub founded_year: Option<i32>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub financial_details: Option<String>,
}

/// Changes to a co-op's profile, under the limits of [`NewOrganisation`].
#[derive(Debug, Clone, Default)]
pub struct OrganisationChanges {
    pub name: Option<String>,
    pub legal_form: Patch<String>,
    pub stage: Option<OrganisationStage>,
    pub sector_id: Patch<i64>,
    pub region: Option<String>,
    pub members_count: Patch<i32>,
    pub founded_year: Patch<i32>,
    pub contact_email: Patch<String>,
    pub contact_phone: Patch<String>,
    pub financial_details: Patch<String>,
}

fn text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("Give 1 to {max} characters."),
        ));
    }
    Ok(value.to_string())
}

fn optional_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => text(field, value, max).map(Some),
    }
}

/// One of the programme's regions, in its canonical spelling, or
/// BAD_USER_INPUT on `region`.
pub fn region(value: &str) -> ApiResult<String> {
    canonical_region(value).map(str::to_string).ok_or_else(|| {
        ApiError::bad_input(
            "region",
            format!("\"{value}\" is not one of the programme's regions."),
        )
    })
}

fn members_count(value: Option<i32>) -> ApiResult<Option<i32>> {
    match value {
        Some(n) if !(0..=1_000_000).contains(&n) => Err(ApiError::bad_input(
            "membersCount",
            "Give a number from 0 to 1,000,000.",
        )),
        other => Ok(other),
    }
}

fn founded_year(value: Option<i32>) -> ApiResult<Option<i32>> {
    let this_year = Utc::now().year();
    match value {
        Some(year) if !(1800..=this_year).contains(&year) => Err(ApiError::bad_input(
            "foundedYear",
            format!("Give a year from 1800 to {this_year}."),
        )),
        other => Ok(other),
    }
}

fn contact_email(value: Option<&str>) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => normalise_email(value)
            .map(Some)
            .ok_or_else(|| ApiError::bad_input("contactEmail", "That is not an email address.")),
    }
}

/// A current sector's id, or BAD_USER_INPUT on `sectorId`.
async fn sector_id(change: &Change<'_>, id: i64) -> ApiResult<i64> {
    Ok(current_terms(change.db(), Vocabulary::Sector, "sectorId", &[id]).await?[0])
}

/// Adds a co-op to the register (staff).
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    new: NewOrganisation,
) -> ApiResult<organisations::Model> {
    access::require_staff(viewer)?;
    let now = Utc::now();
    let mut row = organisations::ActiveModel {
        name: Set(text("name", &new.name, 200)?),
        legal_form: Set(optional_text("legalForm", new.legal_form.as_deref(), 120)?),
        stage: Set(new.stage),
        region: Set(region(&new.region)?),
        members_count: Set(members_count(new.members_count)?),
        founded_year: Set(founded_year(new.founded_year)?),
        contact_email: Set(contact_email(new.contact_email.as_deref())?),
        contact_phone: Set(optional_text(
            "contactPhone",
            new.contact_phone.as_deref(),
            40,
        )?),
        financial_details: Set(optional_text(
            "financialDetails",
            new.financial_details.as_deref(),
            5000,
        )?),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let change = Change::begin(db, viewer).await?;
    row.sector_id = Set(match new.sector_id {
        Some(id) => Some(sector_id(&change, id).await?),
        None => None,
    });
    let row = row.insert(change.db()).await?;
    change
        .audit("createOrganisation", Some(("Organisation", row.id)), None)
        .await?;
    change.commit().await?;
    Ok(row)
}

/// Changes a co-op's profile (staff, or one of its members), with the co-op
/// locked. The trail records the names of the changed fields, never their
/// values.
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i64,
    changes: OrganisationChanges,
) -> ApiResult<organisations::Model> {
    let change = Change::begin(db, viewer).await?;
    let current = change
        .lock_by_id::<organisations::Entity>(id, "No organisation has that id.")
        .await?;
    let relationship = organisation_relationship(change.db(), viewer, id).await?;
    if !relationship.can_see() {
        return Err(ApiError::forbidden("You may not see this organisation."));
    }
    if !relationship.can_edit() {
        return Err(ApiError::forbidden(
            "Only staff and the co-op's members change its profile.",
        ));
    }
    let mut row: organisations::ActiveModel = current.into();
    let mut changed = Vec::new();
    if let Some(name) = &changes.name {
        row.name = Set(text("name", name, 200)?);
        changed.push("name");
    }
    if let Some(stage) = changes.stage {
        row.stage = Set(stage);
        changed.push("stage");
    }
    if let Some(value) = &changes.region {
        row.region = Set(region(value)?);
        changed.push("region");
    }
    macro_rules! patch {
        ($field:ident, $name:literal, $convert:expr) => {
            match &changes.$field {
                Patch::Keep => {}
                Patch::Clear => {
                    row.$field = Set(None);
                    changed.push($name);
                }
                Patch::To(value) => {
                    row.$field = Set($convert(value)?);
                    changed.push($name);
                }
            }
        };
    }
    patch!(legal_form, "legalForm", |v: &String| optional_text(
        "legalForm",
        Some(v),
        120
    ));
    patch!(members_count, "membersCount", |v: &i32| members_count(
        Some(*v)
    ));
    patch!(founded_year, "foundedYear", |v: &i32| founded_year(Some(
        *v
    )));
    patch!(contact_email, "contactEmail", |v: &String| contact_email(
        Some(v)
    ));
    patch!(contact_phone, "contactPhone", |v: &String| optional_text(
        "contactPhone",
        Some(v),
        40
    ));
    patch!(financial_details, "financialDetails", |v: &String| {
        optional_text("financialDetails", Some(v), 5000)
    });
    match changes.sector_id {
        Patch::Keep => {}
        Patch::Clear => {
            row.sector_id = Set(None);
            changed.push("sectorId");
        }
        Patch::To(id) => {
            row.sector_id = Set(Some(sector_id(&change, id).await?));
            changed.push("sectorId");
        }
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(change.db()).await?;
    change
        .audit(
            "updateOrganisation",
            Some(("Organisation", updated.id)),
            Some(serde_json::json!({ "fields": changed })),
        )
        .await?;
    change.commit().await?;
    Ok(updated)
}

/// Gives a person at a co-op an account and emails them a sign-in link
/// (staff).
pub async fn invite_member(
    db: &DatabaseConnection,
    public_url: &str,
    viewer: &Viewer,
    organisation_id: i64,
    email: &str,
    name: &str,
) -> ApiResult<users::Model> {
    let account = accounts::NewAccount {
        email,
        name,
        role: Role::Member,
        organisation_id: Some(organisation_id),
    };
    accounts::create(db, public_url, viewer, account, "inviteMember").await
}

/// Why messages to a removed member were taken back (the emails' last error).
pub const MEMBER_REMOVED: &str = "The member was removed from their co-op.";

/// Takes a person off their co-op (staff), for someone who has left it.
///
/// Their account is deactivated (it keeps its co-op, so the record still
/// says who wrote what while they were a member), and in the same
/// transaction: every session ends, unused sign-in links and their calendar
/// feed stop working, and every message to them not yet sent is taken back.
/// Messages to the co-op go to its other members from then on, or to its
/// contact address when none is left (`notify::organisation`). BAD_USER_INPUT
/// for someone who is not a co-op member (a provider leaves with
/// `deactivateProvider`), CONFLICT if already removed.
pub async fn remove_member(
    db: &DatabaseConnection,
    sessions: &SessionCache,
    viewer: &Viewer,
    user_id: i64,
) -> ApiResult<users::Model> {
    access::require_staff(viewer)?;
    let change = Change::begin(db, viewer).await?;
    let member = change
        .lock_by_id::<users::Entity>(user_id, "No user has that id.")
        .await?;
    let Some(organisation_id) = member
        .organisation_id
        .filter(|_| member.role == Role::Member)
    else {
        return Err(ApiError::bad_input(
            "userId",
            "Only a co-op's member can be removed from it; a provider leaves with deactivateProvider.",
        ));
    };
    if member.deactivated_at.is_some() {
        return Err(ApiError::conflict(
            "This member has already been removed from their co-op.",
        ));
    }
    let now = Utc::now();
    let (removed, shut) =
        close_member_account(&change, member.clone(), now, MEMBER_REMOVED).await?;
    change
        .audit(
            "removeMember",
            Some(("User", member.id)),
            Some(serde_json::json!({ "organisationId": organisation_id })),
        )
        .await?;
    change.commit().await?;
    for session in shut.revoked_sessions {
        sessions.forget_session(session);
    }
    Ok(removed)
}

/// Closes a member's account, in the caller's transaction: deactivated (it
/// keeps its co-op, for the record), every way in ended
/// (`accounts::shut_out`), every message to them not yet sent taken back
/// with `reason`. The caller forgets the revoked sessions after its commit.
async fn close_member_account(
    change: &Change<'_>,
    member: users::Model,
    now: chrono::DateTime<Utc>,
    reason: &str,
) -> ApiResult<(users::Model, accounts::ShutOut)> {
    let email = member.email.clone();
    let id = member.id;
    let mut row: users::ActiveModel = member.into();
    row.deactivated_at = Set(Some(now));
    let closed = row.update(change.db()).await?;
    let shut = accounts::shut_out(change.db(), id, now).await?;
    outbox::withdraw_unsent_to(change.db(), &email, reason).await?;
    Ok((closed, shut))
}

/// Why a co-op's proposals lapsed and its messages were taken back when it
/// left (`endReason`, the emails' last error).
pub const COOP_LEFT: &str = "The co-op left the programme.";

/// Times [`archive`] starts over when the co-op's open requests change under
/// it (one submitted at that very moment).
const ARCHIVE_ATTEMPTS: usize = 3;

/// A co-op leaves the programme (staff): archived, in one transaction.
///
/// Its open requests (SUBMITTED, MATCHING) are withdrawn, and a proposal on
/// one lapses (EXPIRED, `endReason` "The co-op left the programme.", its
/// link dead, its unsent emails taken back); every member's account is
/// closed as `removeMember` closes one; messages not yet sent to its contact
/// address are taken back; no survey invites or reminds it from then on, and
/// it can ask for nothing more. Its history stays and counts in the
/// programme's statistics. CONFLICT while one of its engagements is ACTIVE
/// (staff end it first: an engagement under way is not ended by a side
/// door), and if already archived.
///
/// Locks: the open requests first, then the co-op (`change`'s order: request
/// first), so a proposal being answered waits and then finds it lapsed; a
/// request submitted between reading and locking is caught by reading them
/// again under the co-op's lock, and the change starts over.
pub async fn archive(
    db: &DatabaseConnection,
    public_url: &str,
    sessions: &SessionCache,
    viewer: &Viewer,
    organisation_id: i64,
) -> ApiResult<organisations::Model> {
    access::require_staff(viewer)?;
    for _ in 0..ARCHIVE_ATTEMPTS {
        let change = Change::begin(db, viewer).await?;
        let open = open_requests(change.db(), organisation_id).await?;
        for request in &open {
            change.lock_request(request.id).await?;
        }
        let organisation = change
            .lock_by_id::<organisations::Entity>(organisation_id, "No organisation has that id.")
            .await?;
        if open_requests(change.db(), organisation_id).await? != open {
            continue;
        }
        if organisation.archived_at.is_some() {
            return Err(ApiError::conflict(
                "This co-op has already left the programme.",
            ));
        }
        let under_way: Vec<String> = engagements::Entity::find()
            .inner_join(support_requests::Entity)
            .filter(support_requests::Column::OrganisationId.eq(organisation_id))
            .filter(engagements::Column::Status.eq(EngagementStatus::Active))
            .all(change.db())
            .await?
            .iter()
            .map(|engagement| global_id("Engagement", engagement.id))
            .collect();
        if !under_way.is_empty() {
            return Err(ApiError::conflict(format!(
                "This co-op has engagements under way ({}): end them first (endEngagement).",
                under_way.join(", ")
            )));
        }
        let now = Utc::now();
        for request in &open {
            let proposals = engagements::Entity::find()
                .filter(engagements::Column::SupportRequestId.eq(request.id))
                .filter(engagements::Column::Status.eq(EngagementStatus::Proposed))
                .all(change.db())
                .await?;
            for proposal in &proposals {
                super::providers::withdraw_proposal(
                    &change,
                    public_url,
                    proposal,
                    super::providers::Leaver::Coop,
                )
                .await?;
            }
            let mut row: support_requests::ActiveModel = request.clone().into();
            row.status = Set(SupportRequestStatus::Withdrawn);
            row.closed_at = Set(Some(now));
            row.updated_at = Set(now);
            row.update(change.db()).await?;
        }
        let members = users::Entity::find()
            .filter(users::Column::OrganisationId.eq(organisation_id))
            .filter(users::Column::Role.eq(Role::Member))
            .filter(users::Column::DeactivatedAt.is_null())
            .all(change.db())
            .await?;
        let mut revoked = Vec::new();
        for member in members {
            let (_, shut) = close_member_account(&change, member, now, COOP_LEFT).await?;
            revoked.extend(shut.revoked_sessions);
        }
        if let Some(contact) = &organisation.contact_email {
            outbox::withdraw_unsent_to(change.db(), contact, COOP_LEFT).await?;
        }
        let mut row: organisations::ActiveModel = organisation.into();
        row.archived_at = Set(Some(now));
        row.updated_at = Set(now);
        let archived = row.update(change.db()).await?;
        change
            .audit(
                "archiveOrganisation",
                Some(("Organisation", organisation_id)),
                Some(serde_json::json!({ "requestsWithdrawn": open.len() })),
            )
            .await?;
        change.commit().await?;
        for session in revoked {
            sessions.forget_session(session);
        }
        return Ok(archived);
    }
    Err(ApiError::conflict(
        "The co-op's requests kept changing; try again.",
    ))
}

/// The co-op's requests still open (SUBMITTED or MATCHING), by id.
async fn open_requests(
    conn: &impl sea_orm::ConnectionTrait,
    organisation_id: i64,
) -> ApiResult<Vec<support_requests::Model>> {
    Ok(support_requests::Entity::find()
        .filter(support_requests::Column::OrganisationId.eq(organisation_id))
        .filter(support_requests::Column::Status.is_in([
            SupportRequestStatus::Submitted,
            SupportRequestStatus::Matching,
        ]))
        .order_by_asc(support_requests::Column::Id)
        .all(conn)
        .await?)
}

/// CONFLICT for a co-op that can ask for nothing more: erased
/// (`eraseOrganisation`) or gone from the programme (`archiveOrganisation`).
/// Checked under a lock on the co-op by everything that would give it
/// something new: a request (submitted, or drafted from its survey answer)
/// or a member.
pub fn still_taking_part(organisation: &organisations::Model) -> ApiResult<()> {
    if organisation.erased_at.is_some() {
        return Err(ApiError::conflict(
            "This co-op's data was erased; it can ask for nothing more.",
        ));
    }
    if organisation.archived_at.is_some() {
        return Err(ApiError::conflict(
            "This co-op has left the programme; it can ask for nothing more.",
        ));
    }
    Ok(())
}
