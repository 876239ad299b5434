//! Peer mentors and specialist advisers: staff register them (an account, a
//! profile, what they offer, and a welcome sign-in link), a provider or staff
//! change what they offer, and staff take them out of matching and back.

use chrono::Utc;
use entity::{
    engagements::{self, EngagementStatus},
    meetings::MeetingFormat,
    organisations, provider_formats, provider_regions, provider_sectors, provider_topics,
    providers::{self, ProviderKind},
    users::{self, Role},
};
use hive_worker::{
    jobs::{
        match_notifications,
        proposal_followups::{back_to_matching, lapse_proposals},
        sign_in_links::Occasion,
    },
    outbox,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use super::{
    accounts::insert_account,
    change::Change,
    vocabulary::{Vocabulary, current_terms},
};
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
    regions::canonical_region,
};

/// Most engagements a provider takes at once.
pub const MAX_CAPACITY: i32 = 20;

/// What a provider offers, as given (checked by each operation): a bio (up
/// to 4,000 characters), topics (at least one), sectors, regions (the
/// programme's, see `regions`), meeting formats (at least one) and capacity
/// (engagements at once, 1 to [`MAX_CAPACITY`]). Repeats are dropped.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    pub bio: String,
    pub topic_ids: Vec<i64>,
    pub sector_ids: Vec<i64>,
    pub regions: Vec<String>,
    pub formats: Vec<MeetingFormat>,
    pub capacity: i32,
}

/// A provider to register.
#[derive(Debug, Clone)]
pub struct NewProvider {
    pub kind: ProviderKind,
    pub email: String,
    pub name: String,
    /// A mentor's own co-op, if it is on the register.
    pub home_organisation_id: Option<i64>,
    /// An adviser's firm.
    pub firm_name: Option<String>,
    pub offer: Offer,
}

/// Checks an offer: BAD_USER_INPUT on the first field that is wrong.
async fn check_offer(conn: &impl ConnectionTrait, input: Offer) -> ApiResult<Offer> {
    let bio = input.bio.trim().to_string();
    if bio.chars().count() > 4000 {
        return Err(ApiError::bad_input(
            "bio",
            "Keep the bio under 4,000 characters.",
        ));
    }
    let capacity = input.capacity;
    if !(1..=MAX_CAPACITY).contains(&capacity) {
        return Err(ApiError::bad_input(
            "capacity",
            format!("Give a capacity from 1 to {MAX_CAPACITY}."),
        ));
    }
    if input.topic_ids.is_empty() {
        return Err(ApiError::bad_input("topicIds", "Name at least one topic."));
    }
    let topic_ids = current_terms(conn, Vocabulary::Topic, "topicIds", &input.topic_ids).await?;
    let sector_ids =
        current_terms(conn, Vocabulary::Sector, "sectorIds", &input.sector_ids).await?;
    let mut regions = Vec::new();
    for region in &input.regions {
        let region = canonical_region(region).ok_or_else(|| {
            ApiError::bad_input(
                "regions",
                format!("\"{region}\" is not one of the programme's regions."),
            )
        })?;
        if !regions.iter().any(|r: &String| r == region) {
            regions.push(region.to_string());
        }
    }
    let mut formats: Vec<MeetingFormat> = Vec::new();
    for format in input.formats {
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    if formats.is_empty() {
        return Err(ApiError::bad_input(
            "formats",
            "Offer at least one meeting format.",
        ));
    }
    Ok(Offer {
        bio,
        topic_ids,
        sector_ids,
        regions,
        formats,
        capacity,
    })
}

/// Replaces the provider's topics, sectors, regions and formats.
async fn write_offer(
    conn: &impl ConnectionTrait,
    provider_id: i64,
    offer: &Offer,
) -> ApiResult<()> {
    provider_topics::Entity::delete_many()
        .filter(provider_topics::Column::ProviderId.eq(provider_id))
        .exec(conn)
        .await?;
    provider_sectors::Entity::delete_many()
        .filter(provider_sectors::Column::ProviderId.eq(provider_id))
        .exec(conn)
        .await?;
    provider_regions::Entity::delete_many()
        .filter(provider_regions::Column::ProviderId.eq(provider_id))
        .exec(conn)
        .await?;
    provider_formats::Entity::delete_many()
        .filter(provider_formats::Column::ProviderId.eq(provider_id))
        .exec(conn)
        .await?;
    if !offer.topic_ids.is_empty() {
        provider_topics::Entity::insert_many(offer.topic_ids.iter().map(|id| {
            provider_topics::ActiveModel {
                provider_id: Set(provider_id),
                topic_id: Set(*id),
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    if !offer.sector_ids.is_empty() {
        provider_sectors::Entity::insert_many(offer.sector_ids.iter().map(|id| {
            provider_sectors::ActiveModel {
                provider_id: Set(provider_id),
                sector_id: Set(*id),
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    if !offer.regions.is_empty() {
        provider_regions::Entity::insert_many(offer.regions.iter().map(|region| {
            provider_regions::ActiveModel {
                provider_id: Set(provider_id),
                region: Set(region.clone()),
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    provider_formats::Entity::insert_many(offer.formats.iter().map(|format| {
        provider_formats::ActiveModel {
            provider_id: Set(provider_id),
            format: Set(*format),
        }
    }))
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Registers a provider (staff): the account, the profile and its offer,
/// and the welcome email, in one change.
pub async fn register(
    db: &DatabaseConnection,
    public_url: &str,
    viewer: &Viewer,
    new: NewProvider,
) -> ApiResult<providers::Model> {
    access::require_staff(viewer)?;
    let change = Change::begin(db, viewer).await?;
    let offer = check_offer(change.db(), new.offer).await?;
    if let Some(id) = new.home_organisation_id {
        organisations::Entity::find_by_id(id)
            .one(change.db())
            .await?
            .ok_or_else(|| {
                ApiError::bad_input("homeOrganisationId", "No organisation has that id.")
            })?;
    }
    let role = match new.kind {
        ProviderKind::Mentor => Role::Mentor,
        ProviderKind::Adviser => Role::Adviser,
    };
    let user = insert_account(change.db(), &new.email, &new.name, role, None).await?;
    let now = Utc::now();
    let provider = providers::ActiveModel {
        user_id: Set(user.id),
        kind: Set(new.kind),
        home_organisation_id: Set(new.home_organisation_id),
        firm_name: Set(new
            .firm_name
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())),
        bio: Set(offer.bio.clone()),
        capacity: Set(offer.capacity),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(change.db())
    .await?;
    write_offer(change.db(), provider.id, &offer).await?;
    crate::auth::queue_sign_in_link(change.db(), public_url, &user, Occasion::Welcome).await?;
    let action = match new.kind {
        ProviderKind::Mentor => "registerMentor",
        ProviderKind::Adviser => "registerAdviser",
    };
    change
        .audit(action, Some(("Provider", provider.id)), None)
        .await?;
    change.commit().await?;
    Ok(provider)
}

/// Changes what a provider offers (the provider themself, or staff), with
/// the provider locked, so two edits at once leave one whole offer rather
/// than a mix of both.
pub async fn update_profile(
    db: &DatabaseConnection,
    viewer: &Viewer,
    provider_id: i64,
    offer: Offer,
    firm_name: Option<String>,
) -> ApiResult<providers::Model> {
    viewer.require_user()?;
    let change = Change::begin(db, viewer).await?;
    let current = change.lock_provider(provider_id).await?;
    if !access::may_edit_provider(viewer, &current) {
        return Err(ApiError::forbidden(
            "Only the provider themself and staff change a profile.",
        ));
    }
    let offer = check_offer(change.db(), offer).await?;
    let mut row: providers::ActiveModel = current.into();
    row.bio = Set(offer.bio.clone());
    row.capacity = Set(offer.capacity);
    if let Some(firm) = firm_name {
        row.firm_name = Set(Some(firm.trim().to_string()).filter(|f| !f.is_empty()));
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(change.db()).await?;
    write_offer(change.db(), updated.id, &offer).await?;
    change
        .audit(
            "updateProviderProfile",
            Some(("Provider", updated.id)),
            None,
        )
        .await?;
    change.commit().await?;
    Ok(updated)
}

/// Takes a provider out of matching, or puts them back (staff); current
/// (ACTIVE) engagements go on.
///
/// Taking them out also withdraws every proposal still awaiting their answer,
/// in the same transaction: the engagement lapses (EXPIRED, as a proposal
/// nobody answered or whose request was withdrawn, with the reason in
/// `endReason`), its emailed link stops working, the request goes back to
/// MATCHING, staff and the co-op are told (`match_withdrawn`), and the
/// proposal and chaser emails not yet sent to the provider are taken back.
/// (Before, a provider deactivated with a proposal open could still accept
/// it from the link, and the 3-day chaser still wrote to them.)
pub async fn set_active(
    db: &DatabaseConnection,
    public_url: &str,
    viewer: &Viewer,
    provider_id: i64,
    active: bool,
) -> ApiResult<providers::Model> {
    access::require_staff(viewer)?;
    // The lock order is request → engagement → provider (`change`), so the
    // requests of the open proposals are locked before the provider. A
    // proposal made between reading them and locking the provider (propose
    // locks the provider too) is caught by reading them again under the
    // provider's lock: the change starts over, and a proposal made later than
    // that waits for the provider and then finds them deactivated.
    for _ in 0..MAX_ATTEMPTS {
        let change = Change::begin(db, viewer).await?;
        let open = if active {
            Vec::new()
        } else {
            open_proposals(change.db(), provider_id).await?
        };
        for request_id in open.iter().map(|e| e.support_request_id) {
            change.lock_request(request_id).await?;
        }
        let current = change.lock_provider(provider_id).await?;
        if !active && open_proposals(change.db(), provider_id).await? != open {
            continue;
        }
        if active {
            let person = change
                .lock_by_id::<users::Entity>(current.user_id, "No user has that id.")
                .await?;
            if person.erased_at.is_some() {
                return Err(ApiError::conflict(
                    "This provider's data was erased: they cannot be put back into matching.",
                ));
            }
        }
        let mut row: providers::ActiveModel = current.into();
        row.active = Set(active);
        row.updated_at = Set(Utc::now());
        let updated = row.update(change.db()).await?;
        let action = if active {
            "reactivateProvider"
        } else {
            "deactivateProvider"
        };
        change
            .audit(action, Some(("Provider", updated.id)), None)
            .await?;
        for proposal in &open {
            withdraw_proposal(&change, public_url, proposal, Leaver::Provider).await?;
        }
        change.commit().await?;
        return Ok(updated);
    }
    Err(ApiError::conflict(
        "Proposals to this provider kept changing; try again.",
    ))
}

/// Times [`set_active`] starts over when proposals to the provider change
/// under it. Each start over needs staff to propose at that very moment.
const MAX_ATTEMPTS: usize = 3;

/// Why a proposal lapsed when its provider left, in `endReason`.
pub const PROVIDER_LEFT: &str = "The provider left the programme before answering.";

/// The provider's proposals awaiting an answer, oldest first.
async fn open_proposals(
    conn: &impl ConnectionTrait,
    provider_id: i64,
) -> ApiResult<Vec<engagements::Model>> {
    Ok(engagements::Entity::find()
        .filter(engagements::Column::ProviderId.eq(provider_id))
        .filter(engagements::Column::Status.eq(EngagementStatus::Proposed))
        .order_by_asc(engagements::Column::Id)
        .all(conn)
        .await?)
}

/// Who left, so that a proposal between them lapses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaver {
    /// The provider (`deactivateProvider`): staff and the co-op are told.
    Provider,
    /// The co-op (`archiveOrganisation`, staff's own act): nobody is told,
    /// and the request is withdrawn by the caller.
    Coop,
}

/// Lapses one proposal because one side left the programme (see
/// [`set_active`]): EXPIRED with the reason in `endReason`, the link dead,
/// the request back to MATCHING if still open, the unsent proposal and
/// chaser emails taken back; staff and the co-op told when the provider
/// left. Nothing if it was answered meanwhile.
pub async fn withdraw_proposal(
    change: &Change<'_>,
    public_url: &str,
    proposal: &engagements::Model,
    leaver: Leaver,
) -> ApiResult<()> {
    let reason = match leaver {
        Leaver::Provider => PROVIDER_LEFT,
        Leaver::Coop => super::organisations::COOP_LEFT,
    };
    let now = Utc::now();
    let lapsed = lapse_proposals(now)
        .col_expr(engagements::Column::EndReason, Expr::value(reason))
        .filter(engagements::Column::Id.eq(proposal.id))
        .exec(change.db())
        .await?;
    if lapsed.rows_affected != 1 {
        return Ok(());
    }
    back_to_matching(change.db(), proposal.support_request_id, now).await?;
    for event in ["match-proposed", "match-chased"] {
        outbox::withdraw_unsent(change.db(), &format!("{event}:{}:", proposal.id), reason).await?;
    }
    if leaver == Leaver::Provider {
        match_notifications::withdrawn(change.db(), public_url, proposal).await?;
    }
    Ok(())
}
