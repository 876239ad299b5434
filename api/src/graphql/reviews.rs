//! The `Review` type and the review form's GraphQL side, which translate to
//! and from `programme::reviews` and do nothing else.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{engagements, reviews};
use sea_orm::ConnectionTrait;

use super::{
    relay::{NodeType, decode_id_of, global_id},
    support_requests::Kind,
};
use crate::{
    access::party,
    auth::{RoleGuard, Viewer, viewer},
    error::{ApiError, ApiResult},
    programme::reviews::{self as programme, Answers, Reviewer},
    state::AppState,
};

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
    pub async fn id(&self) -> ID {
        global_id(NodeType::Review, self.0.id)
    }
    /// The engagement reviewed.
    async fn engagement(&self, ctx: &Context<'_>) -> ApiResult<super::engagements::Engagement> {
        super::engagements::load_engagement(ctx, self.0.engagement_id)
            .await
            .map(super::engagements::Engagement::alone)
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

impl From<programme::ReviewInvitation> for ReviewInvitation {
    fn from(invitation: programme::ReviewInvitation) -> Self {
        ReviewInvitation {
            party: invitation.party.into(),
            answered: invitation.answered,
            organisation_name: invitation.organisation_name,
            provider_name: invitation.provider_name,
            kind: invitation.kind.into(),
            completed_at: invitation.completed_at,
            requested_at: invitation.requested_at,
        }
    }
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

/// Reviews (none before the engagement completes) are for staff and the
/// engagement's two parties; FORBIDDEN for anyone else.
pub async fn may_read_reviews(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    engagement: &engagements::Model,
) -> ApiResult<()> {
    if party(conn, viewer, engagement).await?.may_read_reviews() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Reviews are for staff and the engagement's two parties.",
        ))
    }
}

/// Loads a review for staff and its engagement's two parties
/// ([`may_read_reviews`]); FORBIDDEN for anyone else.
pub async fn load_review(ctx: &Context<'_>, id: i64) -> ApiResult<Review> {
    let state = ctx.data_unchecked::<AppState>();
    let missing = "No review has that id.";
    let review = super::loaders::row::<reviews::Entity>(ctx, id, missing).await?;
    let engagement =
        super::loaders::row::<engagements::Entity>(ctx, review.engagement_id, missing).await?;
    may_read_reviews(&state.db, viewer(ctx), &engagement).await?;
    Ok(Review(review))
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
    ) -> ApiResult<Option<ReviewInvitation>> {
        let state = ctx.data_unchecked::<AppState>();
        programme::invitation(&state.db, &token)
            .await
            .map(Into::into)
            .map(Some)
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
        let review = programme::submit(
            &state.db,
            Reviewer::SignedIn {
                viewer: viewer(ctx),
                engagement_id,
                party: party.map(Into::into),
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
        programme::submit(&state.db, Reviewer::Link(&token), input.into()).await?;
        programme::invitation(&state.db, &token)
            .await
            .map(Into::into)
    }
}
