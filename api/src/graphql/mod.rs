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
///
/// Both run around [`Schema::execute`], not as async-graphql extensions:
/// with any extension registered, async-graphql builds a `ResolveInfo`
/// (its parent and return type names looked up, a list's formatted) and
/// passes every field through the extensions' boxed futures, which was a
/// twelfth of a mentors page's CPU (issue 19, perf on the bench's data).
pub struct HiveExecutor {
    schema: HiveSchema,
    /// The schema's environment, for its type registry: the guard measures
    /// documents against it and the walk completes answers with it.
    env: async_graphql::SchemaEnv,
    guard: guard::RequestGuard,
}

impl HiveExecutor {
    pub async fn new(limits: &hive_worker::settings::Limits) -> Self {
        let schema = schema_builder()
            .limit_depth(limits.max_query_depth)
            .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
            .limit_directives(20)
            .finish();
        HiveExecutor {
            schema,
            env: schema_env().await,
            guard: guard::RequestGuard::new(limits.clone()),
        }
    }

    /// Runs one GraphQL request: admitted by the guard (a refusal is the
    /// answer's only error), executed, and completed.
    pub async fn execute(&self, mut request: async_graphql::Request) -> async_graphql::Response {
        if let Err(refusal) = self.guard.admit(&self.env.registry, &mut request) {
            return async_graphql::Response::from_errors(vec![refusal]);
        }
        let kept = partial_results::prepare(&mut request);
        let operation_name = request.operation_name.clone();
        let mut response = self.schema.execute(request).await;
        if let Some(kept) = &kept {
            partial_results::complete(
                &self.env.registry,
                kept,
                operation_name.as_deref(),
                &mut response,
            );
        }
        response
    }
}

/// The environment of a schema of Hive's types, which async-graphql only
/// hands to extensions: taken from a schema of the same types, built with
/// one extension that keeps it, asked `{ __typename }` once.
async fn schema_env() -> async_graphql::SchemaEnv {
    use std::sync::{Arc, OnceLock};

    use async_graphql::extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
    };

    struct Keep(Arc<OnceLock<async_graphql::SchemaEnv>>);
    impl ExtensionFactory for Keep {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(Keep(self.0.clone()))
        }
    }
    #[async_trait::async_trait]
    impl Extension for Keep {
        async fn prepare_request(
            &self,
            ctx: &ExtensionContext<'_>,
            request: async_graphql::Request,
            next: NextPrepareRequest<'_>,
        ) -> async_graphql::ServerResult<async_graphql::Request> {
            let _ = self.0.set(ctx.schema_env.clone());
            next.run(ctx, request).await
        }
    }

    let kept = Arc::new(OnceLock::new());
    schema_builder()
        .extension(Keep(kept.clone()))
        .finish()
        .execute("{ __typename }")
        .await;
    kept.get()
        .cloned()
        .expect("an extension's prepare_request runs for every request")
}

/// The SDL as checked in at `api/schema.graphql`.
pub fn sdl() -> String {
    schema_builder()
        .finish()
        .sdl_with_options(SDLExportOptions::new().sorted_fields().sorted_enum_items())
}
