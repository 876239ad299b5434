//! The HTTP surface: GraphQL, the pages for people without an account, and the
//! operational endpoints.

mod graphql;
mod health;
mod match_page;
mod metrics;
mod page;
mod review_page;
mod sign_in_page;
mod survey_csv;
mod survey_page;
mod unsubscribe_page;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};

use crate::state::AppState;

/// Largest request body accepted (a GraphQL document plus variables).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", post(graphql::execute).get(graphql::graphiql))
        .route(
            "/sign-in",
            get(sign_in_page::form).post(sign_in_page::submit),
        )
        .route("/m/{token}", get(match_page::show).post(match_page::answer))
        .route(
            "/u/{token}",
            get(unsubscribe_page::show).post(unsubscribe_page::unsubscribe),
        )
        .route(
            "/u/{token}/resubscribe",
            post(unsubscribe_page::resubscribe),
        )
        .route(
            "/r/{token}",
            get(review_page::show).post(review_page::answer),
        )
        .route(
            "/s/{token}",
            get(survey_page::show).post(survey_page::answer),
        )
        .route("/surveys/{id}/responses.csv", get(survey_csv::download))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
