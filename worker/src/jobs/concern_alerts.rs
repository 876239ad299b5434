//! A safeguarding concern cannot wait for the daily digest: every staff
//! member is emailed the moment one is raised. The message names the
//! category and the two parties but never the details, which stay in Hive
//! for those allowed to read them. It is written on the caller's
//! transaction, so a concern is never saved without its alert.

use entity::{
    concerns::{self, ConcernCategory},
    emails::EmailCategory,
    engagements, organisations, providers, support_requests, users,
};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::notify;

/// A category as it reads in a sentence.
fn category_words(category: ConcernCategory) -> &'static str {
    match category {
        ConcernCategory::CriminalConduct => "criminal conduct",
        ConcernCategory::Harassment => "harassment",
        ConcernCategory::Bullying => "bullying",
        ConcernCategory::Other => "other",
    }
}

/// Alerts staff to `concern`, raised on `engagement`. A party that cannot be
/// found is left blank rather than holding the alert back.
pub async fn raised(
    conn: &impl ConnectionTrait,
    public_url: &str,
    concern: &concerns::Model,
    engagement: &engagements::Model,
) -> Result<(), DbErr> {
    let (_, organisation) = support_requests::Entity::find_by_id(engagement.support_request_id)
        .find_also_related(organisations::Entity)
        .one(conn)
        .await?
        .ok_or_else(|| {
            DbErr::RecordNotFound(format!("engagement {} without request", engagement.id))
        })?;
    let provider_name = match providers::Entity::find_by_id(engagement.provider_id)
        .find_also_related(users::Entity)
        .one(conn)
        .await?
    {
        Some((_, Some(user))) => user.name,
        _ => String::new(),
    };
    let staff = notify::staff(conn).await?;
    // Key `concern-raised:{concern}:{recipient}`: a concern is raised once; each is its own
    // row. Nothing withdraws it: once written it goes, or is suppressed at sending (opt-out,
    // bounce).
    notify::send(
        conn,
        &format!("concern-raised:{}", concern.id),
        EmailCategory::Concern,
        "concern_raised",
        &staff,
        serde_json::json!({
            "category": category_words(concern.category),
            "provider": provider_name,
            "organisation": organisation.map(|o| o.name).unwrap_or_default(),
            "link": format!("{public_url}/graphql"),
        }),
    )
    .await
}
