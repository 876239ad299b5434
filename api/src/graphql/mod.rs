//! The GraphQL schema: one module per area, merged here, with the limits that
//! keep a single request from taking the server down.

pub mod action_items;
pub mod audit;
pub mod calendar_feeds;
pub mod concerns;
pub mod emails;
pub mod engagements;
pub mod guard;
pub mod loaders;
pub mod matching;
pub mod meetings;
pub mod node;
pub mod organisations;
pub mod partial_results;
pub mod personal_data;
pub mod preferences;
pub mod providers;
pub mod relay;
pub mod reviews;
pub mod siblings;
pub mod sign_in;
pub mod stats;
pub mod support_requests;
pub mod survey_answers;
pub mod survey_needs;
pub mod survey_results;
pub mod surveys;
pub mod users;
pub mod vocabulary;

use async_graphql::{EmptySubscription, MergedObject, SDLExportOptions, Schema, SchemaBuilder};

pub use node::Node;
use node::NodeQuery;

/// Parser recursion ceiling: a 200-deep query is refused before it is walked.
pub const MAX_RECURSIVE_DEPTH: usize = 64;

#[derive(MergedObject, Default)]
pub struct Query(
    NodeQuery,
    users::UserQuery,
    vocabulary::VocabularyQuery,
    organisations::OrganisationQuery,
    providers::ProviderQuery,
    support_requests::SupportRequestQuery,
    engagements::EngagementQuery,
    action_items::ActionItemsQuery,
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
    calendar_feeds::CalendarFeedMutation,
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
    personal_data::PersonalDataMutation,
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
