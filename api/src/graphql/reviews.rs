//! Final reviews: when an engagement's final meeting is recorded as held, each
//! party is asked for a review (ratings 1–5 for usefulness, the working
//! relationship and whether they would recommend it, and comments) by a
//! secret single-use link, or answers it signed in. An answer is stored once:
//! the write is a conditional update on `submitted_at IS NULL`, so two
//! concurrent answers cannot both win.
//!
//! Who reads a review: staff and the engagement's two parties (the design
//! gives both parties their engagement's reviews; the form says so before
//! anyone writes). Anyone else gets FORBIDDEN.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    emails::EmailCategory,
    engagements::{self, EngagementStatus},
    reviews,
};
use hive_worker::{
    notify,
    reviews::{ReviewParties, party_label},
    tokens::{SecretToken, hash_token, looks_like_token},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, sea_query::Expr,
};

use super::{
    relay::{NodeType, decode_id_of, global_id},
    support_requests::Kind,
};
use crate::{
    access::{Party, party},
    audit,
    auth::{RoleGuard, Viewer, viewer},
    error::{ApiError, ApiResult},
    state::AppState,
};

/// Longest comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 4_000;

/// Which side of the engagement a review is from.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ReviewParty", remote = "entity::reviews::ReviewParty")]
pub enum ReviewParty {
    /// The mentor or adviser.
    Provider,
    /// The co-op that was helped.
    Client,
}

/// One party's final review of an engagement. Only staff and the
/// engagement's two parties are handed one (see [`may_read_reviews`]).
pub struct Review(pub reviews::Model);

/// One party's final review of an engagement: three ratings 1–5 and comments.
#[Object]
impl Review {
    async fn id(&self) -> ID {
        global_id(NodeType::Review, self.0.id)
    }
    async fn party(&self) -> ReviewParty {
        self.0.party.into()
    }
    /// When the review was asked for (the final meeting was recorded held).
    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.requested_at
    }
    /// When the one reminder went out, if it did.
    async fn reminded_at(&self) -> Option<DateTime<Utc>> {
        self.0.reminded_at
    }
    /// Null until answered.
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.0.submitted_at
    }
    /// 1–5: how useful the support was.
    async fn usefulness(&self) -> Option<i32> {
        self.0.usefulness
    }
    /// 1–5: how well the two parties worked together.
    async fn relationship(&self) -> Option<i32> {
        self.0.relationship
    }
    /// 1–5: how likely they are to recommend it to another co-op.
    async fn would_recommend(&self) -> Option<i32> {
        self.0.would_recommend
    }
    /// Anything else the reviewer wanted to say.
    async fn comments(&self) -> Option<&str> {
        self.0.comments.as_deref()
    }
}

/// What the review form needs to know about its link: whose review it is,
/// about what, and whether it has been answered already.
#[derive(SimpleObject, Debug, Clone)]
pub struct ReviewInvitation {
    /// The review this link answers.
    pub party: ReviewParty,
    /// True once answered: the link then only says so.
    pub answered: bool,
    /// The co-op that was helped.
    pub organisation_name: String,
    /// The mentor or adviser.
    pub provider_name: String,
    pub kind: Kind,
    /// When the engagement completed.
    pub completed_at: Option<DateTime<Utc>>,
    pub requested_at: DateTime<Utc>,
}

/// A review's answers.
#[derive(InputObject)]
pub struct ReviewInput {
    /// 1–5: how useful the support was.
    pub usefulness: i32,
    /// 1–5: how well the two parties worked together.
    pub relationship: i32,
    /// 1–5: how likely you are to recommend it to another co-op.
    pub would_recommend: i32,
    /// Anything else (up to 4,000 characters).
    pub comments: Option<String>,
}

impl From<ReviewInput> for Answers {
    fn from(input: ReviewInput) -> Self {
        Answers {
            usefulness: Some(input.usefulness),
            relationship: Some(input.relationship),
            would_recommend: Some(input.would_recommend),
            comments: input.comments,
        }
    }
}

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
    for party in [
        entity::reviews::ReviewParty::Provider,
        entity::reviews::ReviewParty::Client,
    ] {
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

/// Reviews (none before the engagement completes) are for staff and the
/// engagement's two parties; FORBIDDEN for anyone else.
pub async fn may_read_reviews(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    engagement: &engagements::Model,
) -> ApiResult<()> {
    match party(conn, viewer, engagement).await? {
        Party::Staff | Party::Provider | Party::ClientMember => Ok(()),
        Party::Outsider => Err(ApiError::forbidden(
            "Reviews are for staff and the engagement's two parties.",
        )),
    }
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

/// What the form behind a link shows: whose review, about what, answered or not.
pub async fn invitation(conn: &impl ConnectionTrait, token: &str) -> ApiResult<ReviewInvitation> {
    let review = review_by_token(conn, token).await?;
    let engagement = engagements::Entity::find_by_id(review.engagement_id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::internal("review without engagement"))?;
    let parties = ReviewParties::load(conn, &engagement).await?;
    Ok(ReviewInvitation {
        party: review.party.into(),
        answered: review.submitted_at.is_some(),
        organisation_name: parties.organisation.name,
        provider_name: parties.provider.name,
        kind: parties.kind.into(),
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
        Party::Provider => entity::reviews::ReviewParty::Provider,
        Party::ClientMember => entity::reviews::ReviewParty::Client,
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
        && entity::reviews::ReviewParty::from(asked) != side
    {
        return Err(ApiError::forbidden(match side {
            entity::reviews::ReviewParty::Provider => {
                "As the provider you give the PROVIDER review."
            }
            entity::reviews::ReviewParty::Client => {
                "As a member of the co-op you give the CLIENT review."
            }
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

/// Stores a review's answers, once. The write is conditional on the review
/// being unanswered, so of two concurrent answers exactly one wins and the
/// other is a CONFLICT; nothing else changes. The trail records who and
/// which review, never the ratings or comments.
pub async fn submit(
    db: &DatabaseConnection,
    reviewer: Reviewer<'_>,
    answers: Answers,
) -> ApiResult<reviews::Model> {
    let answers = validate(answers).map_err(first_bad_input)?;
    let (review, actor, by_link) = match &reviewer {
        Reviewer::SignedIn {
            viewer,
            engagement_id,
            party,
        } => (
            review_for_party(db, viewer, *engagement_id, *party).await?,
            (*viewer).clone(),
            false,
        ),
        Reviewer::Link(token) => (review_by_token(db, token).await?, Viewer::anonymous(), true),
    };
    let already = || ApiError::conflict("This review has already been answered.");
    if review.submitted_at.is_some() {
        return Err(already());
    }
    let txn = hive_worker::db::begin_write(db).await?;
    let claimed = reviews::Entity::update_many()
        .col_expr(reviews::Column::Usefulness, Expr::value(answers.usefulness))
        .col_expr(
            reviews::Column::Relationship,
            Expr::value(answers.relationship),
        )
        .col_expr(
            reviews::Column::WouldRecommend,
            Expr::value(answers.would_recommend),
        )
        .col_expr(reviews::Column::Comments, Expr::value(answers.comments))
        .col_expr(
            reviews::Column::ReviewerUserId,
            Expr::value(actor.user.as_ref().map(|user| user.id)),
        )
        .col_expr(reviews::Column::SubmittedAt, Expr::value(Utc::now()))
        .filter(reviews::Column::Id.eq(review.id))
        .filter(reviews::Column::SubmittedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(already());
    }
    audit::record(
        &txn,
        &actor,
        "submitReview",
        Some(("Review", review.id)),
        Some(serde_json::json!({
            "engagementId": review.engagement_id,
            "party": party_label(review.party),
            "byLink": by_link,
        })),
    )
    .await?;
    let stored = reviews::Entity::find_by_id(review.id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::internal("review vanished while answered"))?;
    txn.commit().await?;
    Ok(stored)
}

/// The review link's read side, merged into the schema's Query.
#[derive(Default)]
pub struct ReviewQuery;

#[Object]
impl ReviewQuery {
    /// What the review link's form shows (no sign-in needed: the link is
    /// the key). Opening it changes nothing. Unknown or replaced links are
    /// NOT_FOUND.
    async fn review_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> ApiResult<ReviewInvitation> {
        let state = ctx.data_unchecked::<AppState>();
        invitation(&state.db, &token).await
    }
}

/// Answering reviews, signed in or by link, merged into the schema's Mutation.
#[derive(Default)]
pub struct ReviewMutation;

#[Object]
impl ReviewMutation {
    /// Gives the signed-in party's review of a completed engagement: the
    /// provider the PROVIDER review, a member of the co-op the CLIENT one
    /// (`party`, if given, must match). Once only.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn submit_review(
        &self,
        ctx: &Context<'_>,
        engagement_id: ID,
        party: Option<ReviewParty>,
        input: ReviewInput,
    ) -> ApiResult<Review> {
        let state = ctx.data_unchecked::<AppState>();
        let engagement_id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let review = submit(
            &state.db,
            Reviewer::SignedIn {
                viewer: viewer(ctx),
                engagement_id,
                party,
            },
            input.into(),
        )
        .await?;
        Ok(Review(review))
    }

    /// Gives a review from the emailed link, without signing in. Once only:
    /// the link then only says it was answered.
    async fn submit_review_by_token(
        &self,
        ctx: &Context<'_>,
        token: String,
        input: ReviewInput,
    ) -> ApiResult<ReviewInvitation> {
        let state = ctx.data_unchecked::<AppState>();
        submit(&state.db, Reviewer::Link(&token), input.into()).await?;
        invitation(&state.db, &token).await
    }
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
