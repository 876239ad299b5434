//! The programme's one way in: an operation per thing a person does (book a
//! meeting, record it, answer a survey, …), each taking the acting viewer and
//! plain input, and returning plain results or an `ApiError` (mapped once to
//! GraphQL codes in `error`, once to pages in `http::page`). No GraphQL or
//! HTTP types in here: the resolvers in `graphql/` and the pages in `http/`
//! translate to and from these operations and do nothing else.
//!
//! Every operation that checks and then writes goes through [`change::Change`],
//! which locks what the rules are about first, so the rules hold on
//! PostgreSQL under concurrent requests as they do on SQLite.

pub mod accounts;
pub mod action_items;
pub mod calendar_feeds;
pub mod change;
pub mod concerns;
pub mod emails;
pub mod engagement_lists;
pub mod engagements;
pub mod erasure;
pub mod meetings;
pub mod organisations;
pub mod personal_data;
pub mod providers;
pub mod requests;
pub mod reviews;
pub mod rules;
pub mod survey_answers;
pub mod survey_needs;
pub mod surveys;
pub mod vocabulary;
