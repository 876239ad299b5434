//! Hive's API: GraphQL over HTTP, the pages for people without an account,
//! health and metrics, and the command line that runs it all.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod bench_data;
pub mod cli;
pub mod error;
pub mod graphql;
pub mod http;
pub mod programme;
pub mod rate_limit;
pub mod regions;
pub mod seed;
pub mod server;
pub mod sessions;
pub mod sign_in_queue;
pub mod state;
pub mod text;
