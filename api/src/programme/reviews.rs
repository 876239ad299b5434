//! Final reviews: when an engagement's final meeting is recorded as held,
//! each party is asked for a review (ratings 1–5 for usefulness, the working
//! relationship and whether they would recommend it, and comments) by a
//! secret single-use link, or answers it signed in. A review is answered
//! once: the review row is locked before it is read, so of two answers at
//! once the second finds it answered (CONFLICT).
//!
//! Who reads a review: staff and the engagement's two parties (the design
//! gives both parties their engagement's reviews; the form says so before
//! anyone writes); see `access`.

use chrono::{DateTime, Utc};
use entity::{
    emails::EmailCategory,
    engagements::{self, EngagementStatus},
    reviews::{self, ReviewParty},
    support_requests::EngagementKind,
};
use hive_worker::{
    notify,
    reviews::{ReviewParties, party_label},
    tokens::{SecretToken, hash_token, looks_like_token},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter,
};

use super::change::Change;
use crate::{
    access::{Party, party},
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Longest comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 4_000;

/// Answers as they arrive, from GraphQL or the HTML form (where a rating may
/// be missing).
#[derive(Debug, Clone, Default)]
pub struct Answers {
    pub usefulness: Option<i32>,
    pub relationship: Option<i32>,
    pub would_recommend: Option<i32>,
    pub comments: Option<String>,
}

/// Answers that passed [`validate`]: what gets stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAnswers {
    pub usefulness: i32,
    pub relationship: i32,
    pub would_recommend: i32,
    pub comments: Option<String>,
}

/// A problem with one answer; `field` is the GraphQL input field's name,
/// which is also the HTML form field's, so either can show it beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// The three ratings: field name and what a missing or bad value is told.
pub const RATINGS: [(&str, &str); 3] = [
    ("usefulness", "Rate how useful it was, from 1 to 5."),
    (
        "relationship",
        "Rate how well you worked together, from 1 to 5.",
    ),
    (
        "wouldRecommend",
        "Rate how likely you are to recommend it, from 1 to 5.",
    ),
];

/// Checks every answer, reporting all problems at once (a form shows each
/// beside its field): ratings 1–5, comments trimmed and under the limit.
pub fn validate(answers: Answers) -> Result<ValidAnswers, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut rating = |index: usize, value: Option<i32>| match value {
        Some(value) if (1..=5).contains(&value) => value,
        _ => {
            let (field, message) = RATINGS[index];
            errors.push(FieldError {
                field,
                message: message.to_string(),
            });
            0
        }
    };
    let usefulness = rating(0, answers.usefulness);
    let relationship = rating(1, answers.relationship);
    let would_recommend = rating(2, answers.would_recommend);
    let comments = answers
        .comments
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if comments
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        errors.push(FieldError {
            field: "comments",
            message: "Keep comments under 4,000 characters.".into(),
        });
    }
    if errors.is_empty() {
        Ok(ValidAnswers {
            usefulness,
            relationship,
            would_recommend,
            comments,
        })
    } else {
        Err(errors)
    }
}

/// The first problem as the API's error (GraphQL reports one error per field
/// path; a client re-submits after fixing it).
fn first_bad_input(errors: Vec<FieldError>) -> ApiError {
    match errors.into_iter().next() {
        Some(error) => ApiError::bad_input(error.field, error.message),
        None => ApiError::internal("validation failed without an error"),
    }
}

/// Asks both parties of a just-completed engagement for their review: one
/// row per party, each with its own secret link (only its hash is kept), and
/// the emails queued on the caller's transaction. The provider gets the
/// PROVIDER link; the co-op's members get the CLIENT link.
pub async fn request_reviews(
    conn: &impl ConnectionTrait,
    public_url: &str,
    engagement: &engagements::Model,
) -> ApiResult<()> {
    let parties = ReviewParties::load(conn, engagement).await?;
    let now = Utc::now();
    for party in [ReviewParty::Provider, ReviewParty::Client] {
        let token = SecretToken::generate();
        let review = reviews::ActiveModel {
            engagement_id: Set(engagement.id),
            party: Set(party),
            token_hash: Set(Some(token.hash())),
            requested_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        // Key `review-request:{review}:{recipient}`: a review row is made once per party per
        // engagement, and only here. Nothing withdraws it: once written it goes, or is
        // suppressed at sending (opt-out, bounce).
        notify::send(
            conn,
            &format!("review-request:{}", review.id),
            EmailCategory::Review,
            "review_request",
            &parties.recipients(conn, party).await?,
            parties.email_context(party, public_url, &token),
        )
        .await?;
    }
    Ok(())
}

/// The review a link belongs to. A malformed or unknown token is NOT_FOUND,
/// the same either way; so is a link replaced by the reminder's.
pub async fn review_by_token(
    conn: &impl ConnectionTrait,
    token: &str,
) -> ApiResult<reviews::Model> {
    let unknown = || ApiError::not_found("This review link is not right, or has been replaced.");
    if !looks_like_token(token) {
        return Err(unknown());
    }
    reviews::Entity::find()
        .filter(reviews::Column::TokenHash.eq(hash_token(token)))
        .one(conn)
        .await?
        .ok_or_else(unknown)
}

/// What the form behind a review link needs to know: whose review it is,
/// about what, and whether it has been answered already.
#[derive(Debug, Clone)]
pub struct ReviewInvitation {
    /// The review this link answers.
    pub party: ReviewParty,
    /// True once answered: the link then only says so.
    pub answered: bool,
    /// The co-op that was helped.
    pub organisation_name: String,
    /// The mentor or adviser.
    pub provider_name: String,
    pub kind: EngagementKind,
    /// When the engagement completed.
    pub completed_at: Option<DateTime<Utc>>,
    pub requested_at: DateTime<Utc>,
}

/// What the form behind a link shows: whose review, about what, answered or not.
pub async fn invitation(conn: &impl ConnectionTrait, token: &str) -> ApiResult<ReviewInvitation> {
    let review = review_by_token(conn, token).await?;
    let engagement = engagements::Entity::find_by_id(review.engagement_id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::internal("review without engagement"))?;
    let parties = ReviewParties::load(conn, &engagement).await?;
    Ok(ReviewInvitation {
        party: review.party,
        answered: review.submitted_at.is_some(),
        organisation_name: parties.organisation.name,
        provider_name: parties.provider.name,
        kind: parties.kind,
        completed_at: engagement.completed_at,
        requested_at: review.requested_at,
    })
}

/// Who is answering a review.
pub enum Reviewer<'a> {
    /// A signed-in party of the engagement; `party`, when given, must be theirs.
    SignedIn {
        viewer: &'a Viewer,
        engagement_id: i64,
        party: Option<ReviewParty>,
    },
    /// Whoever holds the emailed link.
    Link(&'a str),
}

/// Finds the review a signed-in viewer answers: the provider the PROVIDER
/// one, a client member the CLIENT one; staff and outsiders are FORBIDDEN;
/// an engagement not (yet) completed is a CONFLICT.
async fn review_for_party(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    engagement_id: i64,
    asked: Option<ReviewParty>,
) -> ApiResult<reviews::Model> {
    viewer.require_user()?;
    let engagement = engagements::Entity::find_by_id(engagement_id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("No engagement has that id."))?;
    let side = match party(conn, viewer, &engagement).await? {
        Party::Provider => ReviewParty::Provider,
        Party::ClientMember => ReviewParty::Client,
        Party::Staff => {
            return Err(ApiError::forbidden(
                "Reviews are given by the engagement's two parties; staff read them.",
            ));
        }
        Party::Outsider => {
            return Err(ApiError::forbidden(
                "Only the engagement's two parties give reviews.",
            ));
        }
    };
    if let Some(asked) = asked
        && asked != side
    {
        return Err(ApiError::forbidden(match side {
            ReviewParty::Provider => "As the provider you give the PROVIDER review.",
            ReviewParty::Client => "As a member of the co-op you give the CLIENT review.",
        }));
    }
    if engagement.status != EngagementStatus::Completed {
        return Err(ApiError::conflict(
            "Reviews open when the engagement completes (its final meeting is recorded as held).",
        ));
    }
    reviews::Entity::find()
        .filter(reviews::Column::EngagementId.eq(engagement.id))
        .filter(reviews::Column::Party.eq(side))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::conflict("No review was asked for on this engagement."))
}

/// Stores a review's answers, once: the review is locked (after its
/// engagement, the lock order) before it is read, so of two answers at once
/// exactly one is stored and the other is a CONFLICT; nothing else changes.
/// The trail records who and which review, never the ratings or comments.
pub async fn submit(
    db: &DatabaseConnection,
    reviewer: Reviewer<'_>,
    answers: Answers,
) -> ApiResult<reviews::Model> {
    let answers = validate(answers).map_err(first_bad_input)?;
    let anonymous = Viewer::anonymous();
    let actor = match &reviewer {
        Reviewer::SignedIn { viewer, .. } => *viewer,
        Reviewer::Link(_) => &anonymous,
    };
    // Found before the write transaction (an unknown link takes no write
    // lock), then locked and read again inside it.
    let found = match &reviewer {
        Reviewer::SignedIn {
            viewer,
            engagement_id,
            party,
        } => review_for_party(db, viewer, *engagement_id, *party).await?,
        Reviewer::Link(token) => review_by_token(db, token).await?,
    };
    let change = Change::begin(db, actor).await?;
    change.lock_engagement(found.engagement_id).await?;
    let review = change
        .lock_by_id::<reviews::Entity>(found.id, "No review has that id.")
        .await?;
    if review.submitted_at.is_some() {
        return Err(ApiError::conflict("This review has already been answered."));
    }
    let by_link = matches!(reviewer, Reviewer::Link(_));
    let mut row: reviews::ActiveModel = review.into();
    row.usefulness = Set(Some(answers.usefulness));
    row.relationship = Set(Some(answers.relationship));
    row.would_recommend = Set(Some(answers.would_recommend));
    row.comments = Set(answers.comments);
    row.reviewer_user_id = Set(actor.user.as_ref().map(|user| user.id));
    row.submitted_at = Set(Some(Utc::now()));
    let stored = row.update(change.db()).await?;
    change
        .audit(
            "submitReview",
            Some(("Review", stored.id)),
            Some(serde_json::json!({
                "engagementId": stored.engagement_id,
                "party": party_label(stored.party),
                "byLink": by_link,
            })),
        )
        .await?;
    change.commit().await?;
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(u: i32, r: i32, w: i32, comments: &str) -> Answers {
        Answers {
            usefulness: Some(u),
            relationship: Some(r),
            would_recommend: Some(w),
            comments: Some(comments.to_string()),
        }
    }

    #[test]
    fn ratings_are_one_to_five_and_every_problem_is_named() {
        assert_eq!(
            validate(answers(5, 1, 3, "  Very helpful.  ")),
            Ok(ValidAnswers {
                usefulness: 5,
                relationship: 1,
                would_recommend: 3,
                comments: Some("Very helpful.".into()),
            })
        );
        let errors = validate(answers(0, 6, 3, "")).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["usefulness", "relationship"]);
        let missing = validate(Answers::default()).unwrap_err();
        assert_eq!(missing.len(), 3);
        assert_eq!(missing[2].field, "wouldRecommend");
    }

    #[test]
    fn comments_are_optional_and_bounded() {
        assert_eq!(validate(answers(4, 4, 4, "   ")).unwrap().comments, None);
        let long = "x".repeat(MAX_COMMENT_CHARS + 1);
        let errors = validate(answers(4, 4, 4, &long)).unwrap_err();
        assert_eq!(errors[0].field, "comments");
        assert!(validate(answers(4, 4, 4, &"é".repeat(MAX_COMMENT_CHARS))).is_ok());
    }
}
