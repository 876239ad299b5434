//! The `Node` interface (Relay's Global Object Identification spec,
//! <https://relay.dev/graphql/objectidentification.htm>): every object with
//! a global id is one, and `node(id:)` fetches any of them under the same
//! read rules as the object's own query. [`load_node`] is the one way to
//! read an object by id, for `node(id:)` and for references that may point
//! at any type (an audit entry's subject).

use async_graphql::{Context, ID, Interface, Object};

use super::{
    audit, concerns, emails, engagements, meetings, organisations, providers,
    relay::{NodeType, decode_global_id},
    reviews, support_requests, surveys, users, vocabulary,
};
use crate::{
    error::{ApiResult, ErrorCode},
    state::AppState,
};

/// Anything with a global id; refetch it with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    User(users::User),
    Organisation(organisations::Organisation),
    Topic(vocabulary::Topic),
    Sector(vocabulary::Sector),
    Provider(providers::Provider),
    SupportRequest(support_requests::SupportRequest),
    Engagement(engagements::Engagement),
    Meeting(meetings::Meeting),
    Concern(concerns::Concern),
    Review(reviews::Review),
    EmailDelivery(emails::EmailDelivery),
    Survey(surveys::Survey),
    SurveyQuestion(surveys::SurveyQuestion),
    SurveyChoice(surveys::SurveyChoice),
    SurveyResponse(surveys::SurveyResponse),
    AuditEntry(audit::AuditEntry),
}

/// Reads the object of type `kind` with row id `id`, if the viewer may read
/// it: NOT_FOUND when there is none, FORBIDDEN when the viewer may not read
/// it (as the type's own query answers; for the types only staff read, the
/// role is checked first, as their own queries' guards do), UNAUTHENTICATED
/// for nobody signed in.
pub async fn load_node(ctx: &Context<'_>, kind: NodeType, id: i64) -> ApiResult<Node> {
    crate::auth::viewer(ctx).require_user()?;
    let state = ctx.data_unchecked::<AppState>();
    Ok(match kind {
        NodeType::User => Node::User(users::load_user(ctx, id).await?),
        NodeType::Organisation => {
            Node::Organisation(organisations::load_organisation(ctx, id).await?)
        }
        NodeType::Topic => Node::Topic(vocabulary::Topic(
            vocabulary::load_term(&state.db, vocabulary::Vocabulary::Topic, id).await?,
        )),
        NodeType::Sector => Node::Sector(vocabulary::Sector(
            vocabulary::load_term(&state.db, vocabulary::Vocabulary::Sector, id).await?,
        )),
        NodeType::Provider => Node::Provider(providers::Provider::alone(
            providers::load_provider(ctx, id).await?,
        )),
        NodeType::SupportRequest => Node::SupportRequest(support_requests::SupportRequest::alone(
            support_requests::load_request(ctx, id).await?,
        )),
        NodeType::Engagement => Node::Engagement(engagements::Engagement::alone(
            engagements::load_engagement(ctx, id).await?,
        )),
        NodeType::Meeting => Node::Meeting(meetings::load_meeting(ctx, id).await?),
        NodeType::Concern => Node::Concern(concerns::load_concern(ctx, id).await?),
        NodeType::Review => Node::Review(reviews::load_review(ctx, id).await?),
        NodeType::EmailDelivery => Node::EmailDelivery(emails::load_delivery(ctx, id).await?),
        NodeType::Survey => Node::Survey(surveys::load_survey(ctx, id).await?),
        NodeType::SurveyQuestion => Node::SurveyQuestion(surveys::load_question(ctx, id).await?),
        NodeType::SurveyChoice => Node::SurveyChoice(surveys::load_choice(ctx, id).await?),
        NodeType::SurveyResponse => Node::SurveyResponse(surveys::load_response(ctx, id).await?),
        NodeType::AuditEntry => Node::AuditEntry(audit::load_entry(ctx, id).await?),
    })
}

/// Follows a reference that may be unset (`endedBy` before an early end):
/// None when it is, otherwise what `load` answers, refusal included.
pub async fn follow<T, F>(id: Option<i64>, load: impl FnOnce(i64) -> F) -> ApiResult<Option<T>>
where
    F: std::future::Future<Output = ApiResult<T>>,
{
    match id {
        Some(id) => load(id).await.map(Some),
        None => Ok(None),
    }
}

/// A reference that may name nothing any more: the object, None when it is
/// gone (NOT_FOUND), and the refusal as it is (the field is then null with
/// the error at its path).
pub fn unless_gone<T>(found: ApiResult<T>) -> ApiResult<Option<T>> {
    match found {
        Ok(object) => Ok(Some(object)),
        Err(error) if error.code() == ErrorCode::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id, under the same read rules as the
    /// object's own query: NOT_FOUND for an id of nothing, FORBIDDEN for an
    /// object the viewer may not read (either way `node` is null with the
    /// error at its path); nothing is read without signing in.
    #[graphql(guard = "crate::auth::RoleGuard::signed_in()")]
    async fn node(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Node>> {
        let (kind, id) = decode_global_id(&id)?;
        load_node(ctx, kind, id).await.map(Some)
    }
}
