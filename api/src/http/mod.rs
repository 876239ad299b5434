//! The HTTP surface: GraphQL, the pages for people without an account, and the
//! operational endpoints, behind the layers every request passes (`edge`,
//! `request_id`, metrics) and served by `serve` with its connection limits.

mod body;
mod calendar_feed;
mod client;
mod cors;
mod download;
mod edge;
mod form;
mod graphiql;
mod graphql;
mod health;
mod match_page;
mod metrics;
mod page;
pub mod persisted_queries;
pub mod personal_data;
pub mod request_id;
mod review_page;
pub mod serve;
mod sign_in_page;
mod survey_csv;
mod survey_page;
mod unsubscribe_page;

use axum::{
    Router,
    middleware::{from_fn, from_fn_with_state},
    routing::{get, post},
};

pub use client::ClientAddress;

use crate::state::AppState;

/// Sets `Retry-After` (whole seconds, RFC 9110 §10.2.3) on a refusal.
fn retry_after(response: &mut axum::response::Response, seconds: u64) {
    if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string()) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
}

/// Every route, and the layers around them. The last layer added is the
/// outermost: a request gets its id first, so everything after it logs
/// under that id.
pub fn router(state: AppState) -> Router {
    // The pages behind emailed links, and the calendar feeds: each request
    // counts against its client address's allowances.
    let pages = Router::new()
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
        // `{token}.ics`: the handler takes the suffix off.
        .route("/calendar/{file}", get(calendar_feed::show))
        .route_layer(from_fn_with_state(
            state.clone(),
            edge::charge_anonymous_pages,
        ));
    // The operational endpoints that ask the database count like anonymous
    // requests; /healthz asks nothing and is free.
    let operational = Router::new()
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .route_layer(from_fn_with_state(state.clone(), edge::charge_operational));
    // OPTIONS is a route of its own so that the CORS layer sees the
    // preflight (the method-not-allowed fallback is outside route layers).
    let graphql = Router::new()
        .route(
            "/graphql",
            post(graphql::execute)
                .get(graphql::get)
                .options(cors::options),
        )
        .route_layer(cors::layer(&state.settings.allowed_origins()));
    Router::new()
        .merge(graphql)
        .merge(pages)
        .merge(operational)
        .route("/surveys/{id}/responses.csv", get(survey_csv::download))
        // `{id}.zip`: the handler takes the suffix off.
        .route("/personal-data/{file}", get(personal_data::download))
        // GraphiQL's files: in memory, cacheable, and free like /healthz.
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/healthz", get(health::healthz))
        .fallback(page::not_found)
        .method_not_allowed_fallback(page::method_not_allowed)
        .layer(from_fn_with_state(state.clone(), edge::deadline))
        .layer(from_fn(edge::refuse_odd_requests))
        .layer(from_fn(metrics::track_requests))
        .layer(from_fn_with_state(state.clone(), edge::security_headers))
        .layer(from_fn(request_id::assign))
        .with_state(state)
}
