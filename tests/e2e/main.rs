//! End-to-end tests of the whole system, gathered into one binary (fast to
//! link): every test starts a real Hive with its worker against its own
//! database, and reads email from a real SMTP server.

mod support;

mod access_matrix;
mod calendar;
mod calendar_feed;
mod cli;
mod concurrency;
mod confidentiality;
mod config_docs;
mod cors;
mod database_outage;
mod deliveries;
mod delivery_faults;

mod browser;
mod digests;
mod directory;
mod errors;
mod graphiql;
mod hardening;
mod health;
mod home_screens;
mod home_screens_regressions;
mod leaving;
mod leaving_regressions;
mod limits;
mod matching;
mod meetings;
mod n_plus_one;
mod nudges;
mod partial_results;
mod persisted_queries;
mod personal_data;
mod programme_year;
mod providers;
mod queue;
mod relay;
mod reminders;
mod retention;
mod reviews;
mod schema;
mod seed;
mod sign_in;
mod suggestions;
mod survey_concurrency;
mod survey_results;
mod surveys;
mod worker_ops;
