//! The five messages of a match's life, in one place so a reader sees who
//! hears what: a proposal goes to the provider with the link that answers it;
//! an acceptance to both parties; a decline to staff and the co-op; an early
//! end to both parties and staff; a lapsed proposal (from
//! `proposal_followups`) to staff. Each is written on the caller's
//! transaction, so a message exists exactly when the change that causes it
//! does.

use entity::{
    emails::EmailCategory, engagements, support_request_topics, support_requests, topics,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use crate::{
    notify::{self, Recipient},
    tokens::SecretToken,
};

/// Who ended an engagement early; the message names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    Provider,
    Client,
    Staff,
}

/// The request's kind as the templates print it, e.g. `MENTORING`.
fn kind(request: &support_requests::Model) -> String {
    format!("{:?}", request.kind).to_uppercase()
}

/// Asks the provider to accept or decline. `token` is the secret whose hash
/// the engagement holds: only now, before it is forgotten, can the link be
/// written.
pub async fn proposed(
    conn: &impl ConnectionTrait,
    public_url: &str,
    engagement: &engagements::Model,
    request: &support_requests::Model,
    token: &SecretToken,
) -> Result<(), DbErr> {
    let (provider_user, organisation) = notify::engagement_parties(conn, engagement).await?;
    let topic_names: Vec<String> = topics::Entity::find()
        .inner_join(support_request_topics::Entity)
        .filter(support_request_topics::Column::SupportRequestId.eq(request.id))
        .order_by_asc(topics::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|topic| topic.name)
        .collect();
    // Key `match-proposed:{engagement}:{recipient}`: an engagement is proposed once (a new
    // proposal is a new engagement). Nothing withdraws it: once written it goes, or is
    // suppressed at sending (opt-out, bounce).
    notify::send(
        conn,
        &format!("match-proposed:{}", engagement.id),
        EmailCategory::Match,
        "match_proposed",
        &[provider_user.into()],
        json!({
            "organisation": organisation.name,
            "region": organisation.region,
            "kind": kind(request),
            "goals": request.goals,
            "topics": topic_names.join(", "),
            "days": engagement.days_allocated,
            "link": format!("{public_url}/m/{}", token.expose()),
        }),
    )
    .await
}

/// The provider's answer to a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Both parties are told, so they can start arranging meetings.
    Accepted,
    /// Staff (who propose again) and the co-op are told.
    Declined,
}

/// Tells who needs to know that the provider answered; a reason given with
/// the answer, even with an acceptance, goes along.
pub async fn answered(
    conn: &impl ConnectionTrait,
    public_url: &str,
    engagement: &engagements::Model,
    request: &support_requests::Model,
    answer: Answer,
    reason: Option<&str>,
) -> Result<(), DbErr> {
    let (provider_user, organisation) = notify::engagement_parties(conn, engagement).await?;
    let context = json!({
        "provider": provider_user.name,
        "organisation": organisation.name,
        "kind": kind(request),
        "days": engagement.days_allocated,
        "reason": reason.unwrap_or_default(),
        "link": format!("{public_url}/graphql"),
    });
    let (event, template, mut recipients) = match answer {
        Answer::Accepted => (
            "match-accepted",
            "match_accepted",
            vec![provider_user.into()],
        ),
        Answer::Declined => (
            "match-declined",
            "match_declined",
            notify::staff(conn).await?,
        ),
    };
    recipients.extend(notify::organisation(conn, &organisation).await?);
    // Key `match-accepted|match-declined:{engagement}:{recipient}`: a proposal is answered once
    // (the answer is a conditional update of PROPOSED). Nothing withdraws it: once written it
    // goes, or is suppressed at sending (opt-out, bounce).
    notify::send(
        conn,
        &format!("{event}:{}", engagement.id),
        EmailCategory::Match,
        template,
        &recipients,
        context,
    )
    .await
}

/// Tells both parties and staff that an engagement ended early, by whom and
/// why (the reason is the one on `engagement`), so the request can be matched
/// again.
pub async fn ended_early(
    conn: &impl ConnectionTrait,
    engagement: &engagements::Model,
    request: &support_requests::Model,
    ended_by: EndedBy,
) -> Result<(), DbErr> {
    let (provider_user, organisation) = notify::engagement_parties(conn, engagement).await?;
    let ended_by = match ended_by {
        EndedBy::Provider => provider_user.name.clone(),
        EndedBy::Client => organisation.name.clone(),
        EndedBy::Staff => "the Hive team".to_string(),
    };
    let mut recipients = vec![Recipient::from(provider_user.clone())];
    recipients.extend(notify::organisation(conn, &organisation).await?);
    recipients.extend(notify::staff(conn).await?);
    // Key `engagement-ended:{engagement}:{recipient}`: an engagement ends early at most once.
    // Nothing withdraws it: once written it goes, or is suppressed at sending (opt-out,
    // bounce).
    notify::send(
        conn,
        &format!("engagement-ended:{}", engagement.id),
        EmailCategory::Match,
        "engagement_ended",
        &recipients,
        json!({
            "provider": provider_user.name,
            "organisation": organisation.name,
            "ended_by": ended_by,
            "reason": engagement.end_reason.as_deref().unwrap_or_default(),
            "kind": kind(request),
        }),
    )
    .await
}

/// Tells staff a proposal lapsed unanswered, so they propose someone else.
pub async fn expired(
    conn: &impl ConnectionTrait,
    public_url: &str,
    engagement: &engagements::Model,
) -> Result<(), DbErr> {
    let (provider_user, organisation) = notify::engagement_parties(conn, engagement).await?;
    let staff = notify::staff(conn).await?;
    // Key `match-expired:{engagement}:{recipient}`: a proposal lapses at most once. Nothing
    // withdraws it: once written it goes, or is suppressed at sending (opt-out, bounce).
    notify::send(
        conn,
        &format!("match-expired:{}", engagement.id),
        EmailCategory::Match,
        "match_expired",
        &staff,
        json!({
            "provider": provider_user.name,
            "organisation": organisation.name,
            "link": format!("{public_url}/graphql"),
        }),
    )
    .await
}

/// Tells staff and the co-op that a proposal was withdrawn because the
/// provider left the programme (`deactivateProvider`), so the request is
/// back in matching; the provider is not written to.
pub async fn withdrawn(
    conn: &impl ConnectionTrait,
    public_url: &str,
    engagement: &engagements::Model,
) -> Result<(), DbErr> {
    let (provider_user, organisation) = notify::engagement_parties(conn, engagement).await?;
    let mut recipients = notify::staff(conn).await?;
    recipients.extend(notify::organisation(conn, &organisation).await?);
    // Key `match-withdrawn:{engagement}:{recipient}`: a proposal is withdrawn at most once (a
    // conditional update of PROPOSED, in the deactivation's transaction). Nothing withdraws it:
    // once written it goes, or is suppressed at sending (opt-out, bounce).
    notify::send(
        conn,
        &format!("match-withdrawn:{}", engagement.id),
        EmailCategory::Match,
        "match_withdrawn",
        &recipients,
        json!({
            "provider": provider_user.name,
            "organisation": organisation.name,
            "link": format!("{public_url}/graphql"),
        }),
    )
    .await
}
