//! The GraphQL schema: one module per area, merged here, with the limits that
//! keep a single request from taking the server down.

pub mod audit;
pub mod concerns;
pub mod emails;
pub mod engagements;
pub mod guard;
pub mod loaders;
pub mod matching;
pub mod meetings;
pub mod organisations;
pub mod partial_results;
pub mod preferences;
pub mod providers;
pub mod relay;
pub mod reviews;
pub mod sign_in;
pub mod stats;
pub mod support_requests;
pub mod survey_answers;
pub mod survey_needs;
pub mod survey_results;
pub mod surveys;
pub mod users;
pub mod vocabulary;

use async_graphql::{
    Context, EmptySubscription, ID, Interface, MergedObject, Object, SDLExportOptions, Schema,
    SchemaBuilder,
};

use crate::error::ApiResult;
use relay::{NodeType, decode_global_id};

/// Parser recursion ceiling: a 200-deep query is refused before it is walked.
pub const MAX_RECURSIVE_DEPTH: usize = 64;

/// Anything with a global id.
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
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id, under the same read rules as the
    /// object's own query; nothing is read without signing in.
    #[graphql(guard = "crate::auth::RoleGuard::signed_in()")]
    async fn node(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Node>> {
        let state = ctx.data_unchecked::<crate::state::AppState>();
        let node = match decode_global_id(&id)? {
            (NodeType::User, id) => Ok(Node::User(users::load_user(ctx, id).await?)),
            (NodeType::Organisation, id) => Ok(Node::Organisation(
                organisations::load_organisation(ctx, id).await?,
            )),
            (NodeType::Topic, id) => Ok(Node::Topic(vocabulary::Topic(
                vocabulary::load_term(&state.db, vocabulary::Vocabulary::Topic, id).await?,
            ))),
            (NodeType::Sector, id) => Ok(Node::Sector(vocabulary::Sector(
                vocabulary::load_term(&state.db, vocabulary::Vocabulary::Sector, id).await?,
            ))),
            (NodeType::Provider, _) => Ok(Node::Provider(providers::Provider(
                providers::load_provider(ctx, &id).await?,
            ))),
            (NodeType::SupportRequest, _) => Ok(Node::SupportRequest(
                support_requests::SupportRequest(support_requests::load_request(ctx, &id).await?),
            )),
            (
                NodeType::Meeting
                | NodeType::Concern
                | NodeType::Review
                | NodeType::EmailDelivery
                | NodeType::Survey
                | NodeType::SurveyQuestion
                | NodeType::SurveyChoice
                | NodeType::SurveyResponse,
                _,
            ) => Err(crate::error::ApiError::not_found(
                "Meetings, concerns, reviews, email deliveries and surveys are read through their own fields, not by id.",
            )),
            (NodeType::Engagement, _) => Ok(Node::Engagement(engagements::Engagement(
                engagements::load_engagement(ctx, &id).await?,
            ))),
        };
        node.map(Some)
    }
}

#[derive(MergedObject, Default)]
pub struct Query(
    NodeQuery,
    users::UserQuery,
    vocabulary::VocabularyQuery,
    organisations::OrganisationQuery,
    providers::ProviderQuery,
    support_requests::SupportRequestQuery,
    engagements::EngagementQuery,
    matching::MatchingQuery,
    audit::AuditQuery,
    concerns::ConcernQuery,
    stats::StatsQuery,
    emails::EmailQuery,
    preferences::PreferencesQuery,
    reviews::ReviewQuery,
    surveys::SurveyQuery,
    survey_answers::SurveyAnswerQuery,
    survey_results::SurveyResultsQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    sign_in::SignInMutation,
    users::UserMutation,
    vocabulary::VocabularyMutation,
    organisations::OrganisationMutation,
    providers::ProviderMutation,
    support_requests::SupportRequestMutation,
    engagements::EngagementMutation,
    meetings::MeetingMutation,
    concerns::ConcernMutation,
    emails::EmailMutation,
    preferences::PreferencesMutation,
    reviews::ReviewMutation,
    surveys::SurveyMutation,
    survey_answers::SurveyAnswerMutation,
    survey_needs::SurveyNeedsMutation,
);

pub type HiveSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema's types, before limits; request data (viewer, state) is added
/// per request.
fn schema_builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
}

/// The schema as the server runs it: the request guard (sizes, costs, rates
/// and text inputs, see `guard`) in front of async-graphql's own checks, and
/// answers completed as the specification says (`partial_results`).
pub fn schema(limits: &hive_worker::settings::Limits) -> HiveSchema {
    schema_builder()
        .extension(guard::RequestGuard::new(limits.clone()))
        .extension(partial_results::PartialResults)
        .limit_depth(limits.max_query_depth)
        .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
        .limit_directives(20)
        .finish()
}

/// The SDL as checked in at `api/schema.graphql`.
pub fn sdl() -> String {
    schema_builder()
        .finish()
        .sdl_with_options(SDLExportOptions::new().sorted_fields().sorted_enum_items())
}
