//! The database tables of Hive as sea-orm entities, one module per table. The
//! schema itself is made by the `migration` crate; these mirror it.

pub mod audit_log;
pub mod calendar_feeds;
pub mod concerns;
pub mod email_preferences;
pub mod emails;
pub mod engagements;
pub mod meetings;
pub mod organisations;
pub mod provider_formats;
pub mod provider_regions;
pub mod provider_sectors;
pub mod provider_topics;
pub mod providers;
pub mod reviews;
pub mod sectors;
pub mod sessions;
pub mod sign_in_tokens;
pub mod support_request_formats;
pub mod support_request_topics;
pub mod support_requests;
pub mod survey_answers;
pub mod survey_choice_topics;
pub mod survey_choices;
pub mod survey_invitations;
pub mod survey_questions;
pub mod survey_responses;
pub mod surveys;
pub mod topics;
pub mod users;

/// Every entity under a distinct name, and every enum stored in a column.
pub mod prelude {
    pub use super::audit_log::Entity as AuditLog;
    pub use super::calendar_feeds::Entity as CalendarFeeds;
    pub use super::concerns::{ConcernCategory, ConcernStatus, Entity as Concerns};
    pub use super::email_preferences::{DigestFrequency, Entity as EmailPreferences};
    pub use super::emails::{EmailCategory, EmailStatus, Entity as Emails};
    pub use super::engagements::{EngagementStatus, Entity as Engagements};
    pub use super::meetings::{Entity as Meetings, MeetingFormat, MeetingStatus};
    pub use super::organisations::{Entity as Organisations, OrganisationStage};
    pub use super::provider_formats::Entity as ProviderFormats;
    pub use super::provider_regions::Entity as ProviderRegions;
    pub use super::provider_sectors::Entity as ProviderSectors;
    pub use super::provider_topics::Entity as ProviderTopics;
    pub use super::providers::{Entity as Providers, ProviderKind};
    pub use super::reviews::{Entity as Reviews, ReviewParty};
    pub use super::sectors::Entity as Sectors;
    pub use super::sessions::Entity as Sessions;
    pub use super::sign_in_tokens::Entity as SignInTokens;
    pub use super::support_request_formats::Entity as SupportRequestFormats;
    pub use super::support_request_topics::Entity as SupportRequestTopics;
    pub use super::support_requests::{
        EngagementKind, Entity as SupportRequests, SupportRequestStatus,
    };
    pub use super::survey_answers::Entity as SurveyAnswers;
    pub use super::survey_choice_topics::Entity as SurveyChoiceTopics;
    pub use super::survey_choices::Entity as SurveyChoices;
    pub use super::survey_invitations::Entity as SurveyInvitations;
    pub use super::survey_questions::{Entity as SurveyQuestions, QuestionKind};
    pub use super::survey_responses::Entity as SurveyResponses;
    pub use super::surveys::{Entity as Surveys, SurveyStatus};
    pub use super::topics::Entity as Topics;
    pub use super::users::{Entity as Users, Role};
}
