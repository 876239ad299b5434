//! No silent stalls, after the match: an ACTIVE engagement with no meeting for
//! 30 days nudges its provider; two weeks after the nudge with still no
//! meeting, staff are told. A meeting (held or booked) ends the lull; a new
//! lull is followed up again. Runs from every worker; each follow-up is
//! claimed by a conditional update, so overlapping runs send it once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    emails::EmailCategory,
    engagements::{self, EngagementStatus},
    meetings::{self, MeetingStatus},
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter, QuerySelect,
    sea_query::Expr,
};
use tracing::info;

use crate::notify;

/// A lull this long nudges the provider…
pub const NUDGE_AFTER: Duration = Duration::days(30);
/// …and this long after the nudge, with still no meeting, staff are told.
pub const ESCALATE_AFTER_NUDGE: Duration = Duration::days(14);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Nudges {
    pub providers: usize,
    pub staff: usize,
}

/// The follow-up an engagement is due, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FollowUp {
    NudgeProvider,
    TellStaff,
}

/// The rule, free of SQL: `last_activity` is the later of the acceptance and
/// the latest meeting not cancelled (a booked future meeting counts, so no
/// one is nudged while a meeting is in the diary).
fn due(
    now: DateTime<Utc>,
    last_activity: DateTime<Utc>,
    nudged_at: Option<DateTime<Utc>>,
    escalated_at: Option<DateTime<Utc>>,
) -> Option<FollowUp> {
    if last_activity > now - NUDGE_AFTER {
        return None;
    }
    // Follow-ups from an earlier lull do not count for this one.
    let this_lull = |at: Option<DateTime<Utc>>| at.filter(|at| *at >= last_activity);
    match (this_lull(nudged_at), this_lull(escalated_at)) {
        (None, _) => Some(FollowUp::NudgeProvider),
        (Some(nudged), None) if nudged <= now - ESCALATE_AFTER_NUDGE => Some(FollowUp::TellStaff),
        _ => None,
    }
}

pub async fn run(db: &DatabaseConnection, public_url: &str) -> anyhow::Result<Nudges> {
    let now = Utc::now();
    // Accepted within the last 30 days: cannot be in a long lull yet.
    let candidates = engagements::Entity::find()
        .filter(engagements::Column::Status.eq(EngagementStatus::Active))
        .filter(engagements::Column::RespondedAt.lte(now - NUDGE_AFTER))
        .all(db)
        .await?;
    if candidates.is_empty() {
        return Ok(Nudges::default());
    }
    let latest_meeting: HashMap<i64, DateTime<Utc>> = meetings::Entity::find()
        .select_only()
        .column(meetings::Column::EngagementId)
        .column_as(meetings::Column::StartsAt.max(), "latest")
        .filter(meetings::Column::Status.ne(MeetingStatus::Cancelled))
        .filter(meetings::Column::EngagementId.is_in(candidates.iter().map(|e| e.id)))
        .group_by(meetings::Column::EngagementId)
        .into_tuple::<(i64, DateTime<Utc>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();

    let mut done = Nudges::default();
    for engagement in candidates {
        let accepted = engagement.responded_at.unwrap_or(engagement.proposed_at);
        let last_activity = latest_meeting
            .get(&engagement.id)
            .map_or(accepted, |latest| std::cmp::Ord::max(accepted, *latest));
        let follow_up = due(
            now,
            last_activity,
            engagement.inactivity_nudged_at,
            engagement.inactivity_escalated_at,
        );
        let Some(follow_up) = follow_up else {
            continue;
        };
        if follow(db, public_url, &engagement, last_activity, follow_up).await? {
            match follow_up {
                FollowUp::NudgeProvider => done.providers += 1,
                FollowUp::TellStaff => done.staff += 1,
            }
        }
    }
    if done != Nudges::default() {
        info!(
            providers = done.providers,
            staff = done.staff,
            "inactivity follow-ups"
        );
    }
    Ok(done)
}

/// Claims the follow-up (only one worker wins it) and writes its emails, in
/// one transaction.
async fn follow(
    db: &DatabaseConnection,
    public_url: &str,
    engagement: &engagements::Model,
    last_activity: DateTime<Utc>,
    follow_up: FollowUp,
) -> anyhow::Result<bool> {
    let column = match follow_up {
        FollowUp::NudgeProvider => engagements::Column::InactivityNudgedAt,
        FollowUp::TellStaff => engagements::Column::InactivityEscalatedAt,
    };
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let claimed = engagements::Entity::update_many()
        .col_expr(column, Expr::value(now))
        .filter(engagements::Column::Id.eq(engagement.id))
        .filter(engagements::Column::Status.eq(EngagementStatus::Active))
        .filter(column.is_null().or(column.lt(last_activity)))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(false);
    }
    let (provider_user, organisation) = notify::engagement_parties(&txn, engagement).await?;
    let context = serde_json::json!({
        "provider": provider_user.name,
        "organisation": organisation.name,
        "days": (now - last_activity).num_days(),
        "last_activity": notify::london_date(last_activity),
        "link": format!("{public_url}/graphql"),
    });
    let lull = last_activity.timestamp();
    match follow_up {
        FollowUp::NudgeProvider => {
            // Key `inactivity-nudge:{engagement}:{lull start}:{recipient}`: one nudge per lull,
            // and a new lull starts at a later meeting or acceptance, so has another start.
            // Nothing withdraws it: once written it goes, or is suppressed at sending (opt-out,
            // bounce).
            notify::send(
                &txn,
                &format!("inactivity-nudge:{}:{lull}", engagement.id),
                EmailCategory::Nudge,
                "inactivity_nudge",
                &[provider_user.into()],
                context,
            )
            .await?
        }
        FollowUp::TellStaff => {
            let staff = notify::staff(&txn).await?;
            // Key `inactivity-alert:{engagement}:{lull start}:{recipient}`: one alert per lull,
            // as for the nudge. Nothing withdraws it: once written it goes, or is suppressed at
            // sending (opt-out, bounce).
            notify::send(
                &txn,
                &format!("inactivity-alert:{}:{lull}", engagement.id),
                EmailCategory::Nudge,
                "inactivity_alert",
                &staff,
                context,
            )
            .await?
        }
    }
    txn.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days_ago(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
        now - Duration::days(days)
    }

    #[test]
    fn a_recent_meeting_means_no_follow_up() {
        let now = Utc::now();
        assert_eq!(due(now, days_ago(now, 29), None, None), None);
        // A meeting booked for next week.
        assert_eq!(due(now, now + Duration::days(7), None, None), None);
    }

    #[test]
    fn thirty_quiet_days_nudge_the_provider_once() {
        let now = Utc::now();
        let last = days_ago(now, 30);
        assert_eq!(due(now, last, None, None), Some(FollowUp::NudgeProvider));
        assert_eq!(due(now, last, Some(days_ago(now, 1)), None), None);
    }

    #[test]
    fn staff_are_told_two_weeks_after_the_nudge_once() {
        let now = Utc::now();
        let last = days_ago(now, 50);
        assert_eq!(due(now, last, Some(days_ago(now, 13)), None), None);
        assert_eq!(
            due(now, last, Some(days_ago(now, 14)), None),
            Some(FollowUp::TellStaff)
        );
        assert_eq!(
            due(now, last, Some(days_ago(now, 14)), Some(days_ago(now, 1))),
            None
        );
    }

    #[test]
    fn a_new_lull_is_followed_up_afresh() {
        let now = Utc::now();
        // Nudged and escalated 80 days ago; a meeting 40 days ago; quiet since.
        let earlier = Some(days_ago(now, 80));
        assert_eq!(
            due(now, days_ago(now, 40), earlier, earlier),
            Some(FollowUp::NudgeProvider)
        );
    }
}
