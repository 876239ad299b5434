//! Each person's calendar feed: a secret, revocable iCalendar address
//! (`/calendar/{token}.ics`) that Outlook, Google and Apple calendars
//! subscribe to, so a person's calendar follows their Hive meetings —
//! bookings, moves and cancellations — without reading email.
//!
//! Decisions (also in the README, "Calendar feeds"):
//! - **Whose meetings.** A mentor or adviser gets the meetings of all their
//!   own engagements; a co-op's member those of their co-op's engagements
//!   (the engagements' access rule, `access::visible_engagements`); staff, who
//!   attend no meeting, an empty but valid calendar. Who the person is, and
//!   their role and co-op, are read at every fetch, so a member who moves to
//!   another co-op sees that co-op's meetings from the next fetch on.
//! - **Which meetings.** Every meeting that starts from [`FEED_DAYS_BACK`]
//!   days ago onwards, cancelled ones included (STATUS:CANCELLED, so a
//!   calendar shows them called off rather than guessing), in time order;
//!   at most [`MAX_FEED_EVENTS`], the furthest ahead left out past that.
//! - **What each says.** The same VEVENT as the meeting's emailed invitation
//!   for the person's side (`hive_worker::mail::calendar`): the same UID and
//!   SEQUENCE, the other party named by role. Never the private notes or the
//!   learning, nor anyone's address: the URL is a bearer secret that calendar
//!   services fetch and keep.
//! - **Null until asked for.** A person has no feed until they call
//!   `resetCalendarFeed`, which makes one (or replaces the old one, whose
//!   address stops working at once); `revokeCalendarFeed` takes it away.
//!   Reading `calendarFeedUrl` never makes one: a query does not write.
//! - **Stored as it is.** The token is kept in the clear, unlike sessions and
//!   emailed links, so that the person can read the address again; see the
//!   `calendar_feeds` entity for why that costs nothing a database reader
//!   does not already have.
//! - **How long it works.** Until it is reset or revoked, or the person's
//!   account is deactivated (as their sessions stop). Signing out ends a
//!   session, not the feed: calendars keep fetching with no one signed in.
//!   A provider whose profile is deactivated keeps their feed, as their
//!   active engagements go on.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    calendar_feeds, engagements, meetings, organisations, providers, support_requests,
    users::{self, Role},
};
use hive_worker::{
    mail::calendar::{MeetingEvent, Side, feed_ics},
    tokens::{SecretToken, looks_like_token},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, RelationTrait,
    sea_query::{Expr, OnConflict},
};

use super::change::Change;
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// How far back the feed reaches: a month of past meetings, enough to look
/// back on without the feed growing for ever.
pub const FEED_DAYS_BACK: i64 = 30;

/// The most meetings one feed holds. A provider at full capacity meets each
/// co-op every week or two, and meetings are booked at most two years ahead,
/// so a real feed holds tens; this bounds the answer (about 600 bytes a
/// meeting, so at most about 300 KB) whatever is in the database.
pub const MAX_FEED_EVENTS: u64 = 500;

/// The name calendars show for the feed (X-WR-CALNAME, RFC 7986's NAME).
pub const FEED_NAME: &str = "Hive meetings";

/// The address of the feed with `token`.
pub fn feed_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/calendar/{token}.ics")
}

/// The address of `person_id`'s feed, or None when they have none; only the
/// person themself may read it ([`access::may_read_calendar_feed`]).
pub async fn url_of(
    conn: &impl ConnectionTrait,
    public_url: &str,
    viewer: &Viewer,
    person_id: i64,
) -> ApiResult<Option<String>> {
    viewer.require_user()?;
    if !access::may_read_calendar_feed(viewer, person_id) {
        return Err(ApiError::forbidden(
            "Only the person themself sees their calendar feed's address.",
        ));
    }
    let token: Option<String> = calendar_feeds::Entity::find_by_id(person_id)
        .select_only()
        .column(calendar_feeds::Column::Token)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(token.map(|token| feed_url(public_url, &token)))
}

/// Gives the signed-in person a new feed address and returns it; the old
/// one, if any, stops working at once (the row is replaced in one
/// statement, so two resets at once leave one working token, the later).
pub async fn reset(
    db: &DatabaseConnection,
    public_url: &str,
    viewer: &Viewer,
) -> ApiResult<String> {
    let user = viewer.require_user()?;
    let token = SecretToken::generate();
    let change = Change::begin(db, viewer).await?;
    calendar_feeds::Entity::insert(calendar_feeds::ActiveModel {
        user_id: Set(user.id),
        token: Set(token.expose().to_string()),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(calendar_feeds::Column::UserId)
            .update_columns([
                calendar_feeds::Column::Token,
                calendar_feeds::Column::CreatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(change.db())
    .await?;
    // Never the token: the audit trail is read by staff.
    change
        .audit("resetCalendarFeed", Some(("User", user.id)), None)
        .await?;
    change.commit().await?;
    Ok(feed_url(public_url, token.expose()))
}

/// Takes the signed-in person's feed away: its address stops working at
/// once. True if there was one.
pub async fn revoke(db: &DatabaseConnection, viewer: &Viewer) -> ApiResult<bool> {
    let user = viewer.require_user()?;
    let change = Change::begin(db, viewer).await?;
    let deleted = calendar_feeds::Entity::delete_many()
        .filter(calendar_feeds::Column::UserId.eq(user.id))
        .exec(change.db())
        .await?
        .rows_affected;
    if deleted > 0 {
        change
            .audit("revokeCalendarFeed", Some(("User", user.id)), None)
            .await?;
    }
    change.commit().await?;
    Ok(deleted > 0)
}

/// The feed that `token` opens, as iCalendar text, at `now`; None for a
/// token that opens nothing (of the wrong shape, unknown, replaced, revoked,
/// or its person's account deactivated). At most three statements, and none
/// for a token of the wrong shape.
pub async fn feed(
    conn: &impl ConnectionTrait,
    public_url: &str,
    token: &str,
    now: DateTime<Utc>,
) -> ApiResult<Option<String>> {
    // `looks_like_token` forgives spaces around a pasted token; an address
    // has none, so one with them opens nothing without a look-up.
    if token.trim() != token || !looks_like_token(token) {
        return Ok(None);
    }
    let found = calendar_feeds::Entity::find()
        .filter(calendar_feeds::Column::Token.eq(token))
        .find_also_related(users::Entity)
        .one(conn)
        .await?;
    let Some((_, Some(user))) = found else {
        return Ok(None);
    };
    if user.deactivated_at.is_some() {
        return Ok(None);
    }
    let events = meetings_of(
        conn,
        public_url,
        &user,
        now - Duration::days(FEED_DAYS_BACK),
    )
    .await?;
    Ok(Some(feed_ics(FEED_NAME, &events)))
}

/// The events of `person`'s meetings from `since` on, each with its DTSTAMP:
/// when the meeting was last changed (RFC 5545 §3.8.7.2, for an object
/// without a METHOD), so an unchanged feed is the same bytes. The
/// engagements are those the person may see (`access::visible_engagements`:
/// a provider's own, a member's co-op's); staff's none, since they attend no
/// meeting. Two statements, each bounded by [`MAX_FEED_EVENTS`]: the
/// meetings, then the names of the parties to their engagements.
async fn meetings_of(
    conn: &impl ConnectionTrait,
    public_url: &str,
    person: &users::Model,
    since: DateTime<Utc>,
) -> ApiResult<Vec<(MeetingEvent, DateTime<Utc>)>> {
    let side = match person.role {
        Role::Mentor | Role::Adviser => Side::Provider,
        Role::Member => Side::Client,
        Role::Staff => return Ok(Vec::new()),
    };
    // The person as a viewer of their own: the feed reads what they would
    // read signed in, by the same rule.
    let viewer = Viewer {
        user: Some(person.clone()),
        session_id: None,
    };
    let engagements = access::visible_engagements(&viewer, engagements::Entity::find())?
        .select_only()
        .column(engagements::Column::Id)
        .into_query();
    let meetings = meetings::Entity::find()
        .filter(meetings::Column::EngagementId.in_subquery(engagements))
        .filter(meetings::Column::StartsAt.gte(since))
        .order_by_asc(meetings::Column::StartsAt)
        .order_by_asc(meetings::Column::Id)
        .limit(MAX_FEED_EVENTS)
        .all(conn)
        .await?;
    if meetings.is_empty() {
        return Ok(Vec::new());
    }
    let mut engagement_ids: Vec<i64> = meetings.iter().map(|m| m.engagement_id).collect();
    engagement_ids.sort_unstable();
    engagement_ids.dedup();
    // Each engagement's provider's name and co-op's name.
    let parties: HashMap<i64, (String, String)> = engagements::Entity::find()
        .select_only()
        .column(engagements::Column::Id)
        .column_as(
            Expr::col((users::Entity, users::Column::Name)),
            "provider_name",
        )
        .column_as(
            Expr::col((organisations::Entity, organisations::Column::Name)),
            "organisation_name",
        )
        .join(JoinType::InnerJoin, engagements::Relation::Provider.def())
        .join(JoinType::InnerJoin, providers::Relation::User.def())
        .join(
            JoinType::InnerJoin,
            engagements::Relation::SupportRequest.def(),
        )
        .join(
            JoinType::InnerJoin,
            support_requests::Relation::Organisation.def(),
        )
        .filter(engagements::Column::Id.is_in(engagement_ids))
        .into_tuple::<(i64, String, String)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(id, provider, organisation)| (id, (provider, organisation)))
        .collect();
    Ok(meetings
        .iter()
        .filter_map(|meeting| {
            let (provider, organisation) = parties.get(&meeting.engagement_id)?;
            Some((
                MeetingEvent::of(public_url, meeting, provider, organisation, side),
                meeting.updated_at,
            ))
        })
        .collect())
}
