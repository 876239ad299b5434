//! `POST /graphql` under the GraphQL-over-HTTP specification, and GraphiQL.
//!
//! async-graphql-axum's own response always says
//! `application/graphql-response+json` with status 200; the specification asks
//! for content negotiation and, under that media type, 4xx for request errors.
//! This handler does both, and makes sure every error carries a code.

use async_graphql::http::GraphiQLSource;
use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use crate::{auth, error::ErrorCode, state::AppState};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type the client will read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// The modern type: status codes carry meaning.
    GraphqlResponse,
    /// The legacy type: 200 for every well-formed request.
    Json,
}

impl Media {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        })
    }
}

/// Picks the response type from `Accept`; `None` when nothing offered fits.
fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        // The specification: no Accept header means application/json.
        return Some(Media::Json);
    };
    let mut best: Option<(Media, f32)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media_type = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let media = match media_type.as_str() {
            GRAPHQL_RESPONSE_JSON => Media::GraphqlResponse,
            JSON | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        // Prefer the modern type on a tie.
        let better = match best {
            None => true,
            Some((current, q)) => {
                quality > q || (quality == q && media == Media::GraphqlResponse && current != media)
            }
        };
        if quality > 0.0 && better {
            best = Some((media, quality));
        }
    }
    best.map(|(media, _)| media)
}

fn error_body(message: &str, code: ErrorCode) -> Value {
    json!({"errors": [{"message": message, "extensions": {"code": code.as_str()}}]})
}

fn respond(media: Media, status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}

/// A request that could not be executed at all: 4xx under either type, as the
/// specification allows for requests that are not well-formed.
fn refuse(media: Media, status: StatusCode, message: &str, code: ErrorCode) -> Response {
    respond(media, status, &error_body(message, code))
}

pub async fn execute(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let Some(media) = negotiate(&headers) else {
        return refuse(
            Media::Json,
            StatusCode::NOT_ACCEPTABLE,
            "Ask for application/graphql-response+json or application/json.",
            ErrorCode::BadUserInput,
        );
    };
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return refuse(
                media,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "The request body is larger than {} KiB.",
                    super::MAX_BODY_BYTES / 1024
                ),
                ErrorCode::BadUserInput,
            );
        }
        Err(BodyError::Unreadable) => {
            return refuse(
                media,
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
                ErrorCode::BadUserInput,
            );
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with(JSON) {
        return refuse(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the request as application/json.",
            ErrorCode::BadUserInput,
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(_) => {
            return refuse(
                media,
                StatusCode::BAD_REQUEST,
                "The body is not a GraphQL request: expected JSON with a \"query\" string.",
                ErrorCode::BadUserInput,
            );
        }
    };
    if request.query.trim().is_empty() {
        return refuse(
            media,
            StatusCode::BAD_REQUEST,
            "The request has no query.",
            ErrorCode::BadUserInput,
        );
    }

    let viewer = match bearer_token(&headers) {
        None => auth::Viewer::anonymous(),
        Some(token) => match auth::authenticate(&state.db, token).await {
            Ok(viewer) => viewer,
            Err(error) => {
                if let crate::error::ApiError::Internal(detail) = &error {
                    tracing::error!(%detail, "authentication failed");
                }
                let status = match (error.code(), media) {
                    (ErrorCode::Internal, _) => StatusCode::INTERNAL_SERVER_ERROR,
                    (_, Media::GraphqlResponse) => StatusCode::UNAUTHORIZED,
                    (_, Media::Json) => StatusCode::OK,
                };
                return respond(media, status, &error_body(error.message(), error.code()));
            }
        },
    };

    // Any mutation may change what matching sees (a provider, a load, a
    // topic's name): drop the candidate pool. A false positive (the word in a
    // query) only costs one reload.
    let may_change_providers = request.query.contains("mutation");
    let response = state
        .schema
        .execute(
            request
                .data(viewer)
                .data(crate::graphql::loaders::loaders(
                    state.db.clone(),
                    state.candidates.clone(),
                    state.settings.loader_batch_window,
                ))
                .data(state.clone()),
        )
        .await;
    if may_change_providers {
        state.candidates.invalidate();
    }
    let (status, body) = shape_response(media, response);
    respond(media, status, &body)
}

/// Oversized bodies are read to the end (up to a ceiling) before the 413 goes
/// out: a server that answers mid-upload makes most clients see a broken
/// connection instead of the clear error.
const DRAIN_CEILING: usize = 32 * 1024 * 1024;

enum BodyError {
    TooLarge,
    Unreadable,
}

async fn read_body(body: Body) -> Result<Vec<u8>, BodyError> {
    use futures::StreamExt;

    let mut stream = body.into_data_stream();
    let mut buffer = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        total += chunk.len();
        if total > DRAIN_CEILING {
            break;
        }
        if total <= super::MAX_BODY_BYTES {
            buffer.extend_from_slice(&chunk);
        }
    }
    if total > super::MAX_BODY_BYTES {
        Err(BodyError::TooLarge)
    } else {
        Ok(buffer)
    }
}

/// Turns an executed response into the body and status the client gets.
fn shape_response(media: Media, response: async_graphql::Response) -> (StatusCode, Value) {
    // Parse and validation failures (limits included) stop before execution:
    // no data, and errors without a path.
    let request_error = !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut body = Map::new();
    if !request_error {
        body.insert(
            "data".into(),
            serde_json::to_value(&response.data).unwrap_or(Value::Null),
        );
    }
    if !response.errors.is_empty() {
        let errors: Vec<Value> = response.errors.iter().map(with_code).collect();
        body.insert("errors".into(), Value::Array(errors));
    }
    if !response.extensions.is_empty() {
        body.insert(
            "extensions".into(),
            serde_json::to_value(&response.extensions).unwrap_or(Value::Null),
        );
    }
    let status = if request_error && media == Media::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, Value::Object(body))
}

/// Every error leaves with `extensions.code`. Errors from our resolvers carry
/// one already (INTERNAL included: `ApiError` is the only error they return);
/// an error without one comes from the engine checking the request itself —
/// syntax, validation, limits, argument and variable coercion — which is the
/// client's input.
fn with_code(error: &async_graphql::ServerError) -> Value {
    let mut value = serde_json::to_value(error).unwrap_or_else(|_| json!({"message": "error"}));
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some());
    if !has_code && let Some(object) = value.as_object_mut() {
        let extensions = object
            .entry("extensions")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(extensions) = extensions.as_object_mut() {
            extensions.insert(
                "code".into(),
                Value::String(ErrorCode::BadUserInput.as_str().into()),
            );
        }
    }
    value
}

/// The token of an `Authorization: Bearer …` header, if any.
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// GraphiQL, for people exploring the API in a browser.
pub async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn negotiation_follows_the_specification() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(negotiate(&accept("application/json")), Some(Media::Json));
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Media::Json)
        );
        assert_eq!(negotiate(&accept("*/*")), Some(Media::Json));
        assert_eq!(negotiate(&accept("text/html")), None);
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
    }
}
