//! `POST /graphql` and `GET /graphql` under the GraphQL-over-HTTP
//! specification, automatic persisted queries (`persisted_queries`), and
//! GraphiQL for a browser (`graphiql`).
//!
//! async-graphql-axum's own response always says
//! `application/graphql-response+json` with status 200; the specification asks
//! for content negotiation and, under that media type, 4xx for request errors.
//! This handler does both, and makes sure every error carries a code.

use axum::{
    body::Body,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{
    ClientAddress, body, graphiql,
    persisted_queries::{self, QueryHash},
    request_id,
};
use crate::{
    auth,
    error::{ApiError, ErrorCode},
    graphql::guard::OperationRun,
    state::AppState,
};

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

/// The media ranges of `Accept` (RFC 9110 §12.5.1), lower-cased, with their
/// quality, in the order sent; `None` without the header (or with one that
/// is not text).
fn accepted(headers: &HeaderMap) -> Option<Vec<(String, f32)>> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    Some(
        accept
            .split(',')
            .map(|part| {
                let mut pieces = part.split(';');
                let media_type = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
                let quality = pieces
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (media_type, quality)
            })
            .collect(),
    )
}

/// Picks the response type from `Accept`; `None` when nothing offered fits.
fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(ranges) = accepted(headers) else {
        // The specification: no Accept header means application/json.
        return Some(Media::Json);
    };
    let mut best: Option<(Media, f32)> = None;
    for (media_type, quality) in ranges {
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

/// Whether a `GET` comes from a browser opening the address, which gets
/// GraphiQL: `Accept` names `text/html` and no JSON type (the two GraphQL
/// answer types) ranks above it, or equal and before it. A browser sends
/// `text/html,…,*/*;q=0.8`; GraphQL clients name a JSON type first, and
/// `*/*` alone (curl) is not a browser. Everything else is a GraphQL request.
fn wants_html(headers: &HeaderMap) -> bool {
    let Some(ranges) = accepted(headers) else {
        return false;
    };
    // The best (highest quality, then earliest) range matching `test`.
    let best = |test: fn(&str) -> bool| {
        ranges
            .iter()
            .enumerate()
            .filter(|(_, (media_type, quality))| test(media_type) && *quality > 0.0)
            .min_by(|(i, (_, p)), (j, (_, q))| q.total_cmp(p).then(i.cmp(j)))
            .map(|(index, (_, quality))| (*quality, index))
    };
    match (
        best(|t| t == "text/html"),
        best(|t| t == GRAPHQL_RESPONSE_JSON || t == JSON),
    ) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some((html, i)), Some((json, j))) => html > json || (html == json && i < j),
    }
}

fn error_body(message: &str, code: ErrorCode) -> Value {
    json!({"errors": [{"message": message, "extensions": {"code": code.as_str()}}]})
}

fn respond(media: Media, status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}

/// A request that could not be executed at all: 4xx under either type, as the
/// specification allows for requests that are not well-formed.
fn refuse(media: Media, status: StatusCode, message: &str, code: ErrorCode) -> Response {
    respond(
        media,
        status,
        error_body(message, code).to_string().into_bytes(),
    )
}

/// `POST /graphql`.
pub async fn execute(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    if bearer_token(&headers).is_none()
        && let Some(refusal) = charge_anonymous(&state, client, media)
    {
        return refusal;
    }
    let limits = &state.settings.limits;
    let body = match body::read(body, limits.max_body_bytes, limits.body_timeout).await {
        Ok(body) => body,
        Err(error) => {
            return refuse(
                media,
                error.status(),
                &error.message(),
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
    let mut request: async_graphql::Request = match serde_json::from_slice(&body) {
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
    let register = match resolve_persisted(&state, &mut request) {
        Ok(register) => register,
        Err(refusal) => return refuse_persisted(media, &refusal),
    };
    run(&state, client, &headers, media, request, register).await
}

/// `GET /graphql`: GraphiQL for a browser asking for HTML (see
/// [`wants_html`]); for anyone else a query from the URL's parameters
/// (`query`, `operationName`, `variables` and `extensions` as JSON), as
/// GraphQL over HTTP allows, including a persisted query's hash alone. A
/// mutation over GET is refused with 405 (GET must not change anything),
/// and a GET with neither a query nor a hash with 400.
pub async fn get(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if wants_html(&headers) {
        return graphiql::page();
    }
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    if bearer_token(&headers).is_none()
        && let Some(refusal) = charge_anonymous(&state, client, media)
    {
        return refusal;
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    };
    let mut request = async_graphql::Request::new(param("query").unwrap_or_default());
    if let Some(name) = param("operationName") {
        request = request.operation_name(name);
    }
    if let Some(variables) = param("variables") {
        match serde_json::from_str::<Value>(variables) {
            Ok(value @ Value::Object(_)) => {
                request = request.variables(async_graphql::Variables::from_json(value));
            }
            _ => return bad_parameter(media, "variables"),
        }
    }
    if let Some(extensions) = param("extensions") {
        match serde_json::from_str::<Value>(extensions)
            .ok()
            .filter(Value::is_object)
            .and_then(|value| serde_json::from_value(value).ok())
        {
            Some(extensions) => request.extensions = extensions,
            None => return bad_parameter(media, "extensions"),
        }
    }
    let register = match resolve_persisted(&state, &mut request) {
        Ok(register) => register,
        Err(refusal) => return refuse_persisted(media, &refusal),
    };
    if request.query.trim().is_empty() {
        return refuse(
            media,
            StatusCode::BAD_REQUEST,
            "Send a query as `?query=…` (URL-encoded), or a persisted query's hash as \
             `?extensions={\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"…\"}}`.",
            ErrorCode::BadUserInput,
        );
    }
    if runs_a_mutation(&request) {
        let mut response = refuse(
            media,
            StatusCode::METHOD_NOT_ALLOWED,
            "Mutations are sent with POST.",
            ErrorCode::BadUserInput,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    run(&state, client, &headers, media, request, register).await
}

/// A URL parameter that should hold a JSON object and does not.
fn bad_parameter(media: Media, name: &str) -> Response {
    refuse(
        media,
        StatusCode::BAD_REQUEST,
        &format!("`{name}` must be a JSON object."),
        ErrorCode::BadUserInput,
    )
}

/// Applies Apollo's automatic persisted queries (`persisted_queries`) to
/// `request`: a hash alone is replaced by the document registered under it
/// (or refused as not found); a hash with a query is checked against it and
/// returned, for [`run`] to register the document once the guard has
/// accepted it. The extension is taken out of the request either way.
fn resolve_persisted(
    state: &AppState,
    request: &mut async_graphql::Request,
) -> Result<Option<QueryHash>, persisted_queries::Refusal> {
    let extension = request
        .extensions
        .0
        .remove("persistedQuery")
        .map(|value| value.into_json().unwrap_or(Value::Null));
    let Some(hash) = persisted_queries::hash_of_extension(extension.as_ref())? else {
        return Ok(None);
    };
    if !request.query.is_empty() {
        persisted_queries::verify(&hash, &request.query)?;
        return Ok(Some(hash));
    }
    let query = state
        .persisted_queries
        .get(&hash)
        .ok_or(persisted_queries::Refusal::NotFound)?;
    request.query = query.to_string();
    Ok(None)
}

/// The answer to a persisted query that cannot run. A hash Hive does not
/// hold gets the message and code Apollo Client's persisted-query link and
/// urql's `persistedExchange` look for (urql by the message alone), with
/// status 200 under either media type, as Apollo Server answers it, so that
/// no client's handling of error statuses hides the body (never cached:
/// `no-store`, as every GraphQL answer). A malformed extension or a hash
/// that is not the query's is 400 BAD_USER_INPUT.
fn refuse_persisted(media: Media, refusal: &persisted_queries::Refusal) -> Response {
    let (status, code) = match refusal {
        persisted_queries::Refusal::NotFound => (StatusCode::OK, ErrorCode::PersistedQueryNotFound),
        _ => (StatusCode::BAD_REQUEST, ErrorCode::BadUserInput),
    };
    refuse(media, status, &refusal.message(), code)
}

/// Charges a request that has no session to its client address's
/// allowance of anonymous requests (`HIVE_ANONYMOUS_REQUESTS_PER_MINUTE`);
/// the refusal over it (429 with `Retry-After` and RATE_LIMITED), if it is.
/// A request without a bearer token is charged before its body is read or
/// parsed; one whose token names no session, when that is found (so guessed
/// tokens cost their address too). Signed-in requests are not counted.
fn charge_anonymous(state: &AppState, client: ClientAddress, media: Media) -> Option<Response> {
    let retry = state.anonymous_requests.take(client.0, 1).err()?;
    let error = crate::graphql::guard::rate_limited(retry);
    let body = json!({"errors": [with_code(&error)]});
    let mut response = respond(
        media,
        StatusCode::TOO_MANY_REQUESTS,
        body.to_string().into_bytes(),
    );
    super::retry_after(&mut response, retry.seconds());
    Some(response)
}

/// Whether the operation the request would run is a mutation. A document
/// that does not parse is not (execution reports it).
fn runs_a_mutation(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    operations_to_run(request, |operation| operation.ty == OperationType::Mutation)
}

/// The fields that get a person out of an expired session: they need no
/// viewer, so a stale token must not stop them.
const SIGN_IN_FIELDS: [&str; 3] = ["requestSignIn", "signIn", "__typename"];

/// Whether the operation the request would run only signs in (a mutation
/// whose every root selection is `requestSignIn`, `signIn` or
/// `__typename`). Such a request runs as nobody when its bearer token names
/// no live session, rather than being refused for the token.
fn only_signs_in(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::{OperationType, Selection};
    operations_to_run(request, |operation| {
        operation.ty == OperationType::Mutation
            && operation
                .selection_set
                .node
                .items
                .iter()
                .all(|item| match &item.node {
                    Selection::Field(field) => {
                        SIGN_IN_FIELDS.contains(&field.node.name.node.as_str())
                    }
                    _ => false,
                })
    })
}

/// Whether `test` holds for the operation the request names (or, with no
/// name, for any of the document's: the stricter reading for a check that
/// charges or refuses). False for a document that does not parse.
fn operations_to_run(
    request: &async_graphql::Request,
    test: impl Fn(&async_graphql::parser::types::OperationDefinition) -> bool,
) -> bool {
    use async_graphql::parser::types::DocumentOperations;
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(operation), _) => test(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get(name)
            .is_some_and(|operation| test(&operation.node)),
        (DocumentOperations::Multiple(operations), None) => {
            operations.values().any(|operation| test(&operation.node))
        }
    }
}

fn not_acceptable() -> Response {
    refuse(
        Media::Json,
        StatusCode::NOT_ACCEPTABLE,
        "Ask for application/graphql-response+json or application/json.",
        ErrorCode::BadUserInput,
    )
}

/// Runs one GraphQL request for whoever its bearer token names. With
/// `register` (a persisted query's hash, checked against the query), the
/// document is kept for later hash-only requests if the guard let it
/// through and it was valid: a document the guard refuses is never kept.
async fn run(
    state: &AppState,
    client: ClientAddress,
    headers: &HeaderMap,
    media: Media,
    request: async_graphql::Request,
    register: Option<QueryHash>,
) -> Response {
    if request.query.trim().is_empty() {
        return refuse(
            media,
            StatusCode::BAD_REQUEST,
            "The request has no query.",
            ErrorCode::BadUserInput,
        );
    }
    let viewer = match bearer_token(headers) {
        None => auth::Viewer::anonymous(),
        Some(token) => match auth::authenticate(&state.db, &state.sessions, token).await {
            Ok(viewer) => viewer,
            Err(error) => {
                if error.code() == ErrorCode::Unauthenticated
                    && let Some(refusal) = charge_anonymous(state, client, media)
                {
                    return refusal;
                }
                if error.code() == ErrorCode::Unauthenticated && only_signs_in(&request) {
                    auth::Viewer::anonymous()
                } else {
                    return refuse_viewer(media, &error);
                }
            }
        },
    };

    let register = register.map(|hash| (hash, request.query.clone()));
    let operation = OperationRun::default();
    let response = state
        .schema
        .execute(
            request
                .data(viewer)
                .data(client)
                .data(operation.clone())
                .data(crate::graphql::action_items::StaffSnapshot::default())
                .data(crate::graphql::loaders::ViewerFootprint::default())
                .data(crate::graphql::loaders::loaders(
                    state.db.clone(),
                    state.candidates.clone(),
                    state.settings.loader_batch_window,
                ))
                .data(state.clone()),
        )
        .await;
    // A mutation that changed what matching sees (a provider, a load, a
    // topic's name) drops the candidate pool; no query, no-op or failed
    // mutation does, so no one can keep it empty for others.
    if operation.changed_candidates(&response.data) {
        state.candidates.invalidate();
    }
    if let Some((hash, query)) = register
        && operation.passed_the_guard()
        && !is_request_error(&response)
    {
        state.persisted_queries.insert(hash, &query);
    }
    shape_response(media, response, state.settings.limits.max_response_bytes)
}

/// A bearer token that names no live session is UNAUTHENTICATED (401 with
/// `WWW-Authenticate: Bearer error="invalid_token"` under the modern media
/// type, RFC 6750); a database that cannot be asked is INTERNAL with
/// 503 and `Retry-After`, never a bare 500.
fn refuse_viewer(media: Media, error: &ApiError) -> Response {
    if let Some(detail) = error.internal_detail() {
        tracing::error!(%detail, "authentication failed");
    }
    let (status, code) = match (error.code(), media) {
        (ErrorCode::Internal, _) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Internal),
        (code, Media::GraphqlResponse) => (StatusCode::UNAUTHORIZED, code),
        (code, Media::Json) => (StatusCode::OK, code),
    };
    let mut body = error_body(error.message(), code);
    if code == ErrorCode::Internal {
        body["errors"][0]["extensions"]["requestId"] = json!(request_id::current());
    }
    let mut response = respond(media, status, body.to_string().into_bytes());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6750 §3.1: the token is the problem; sign in again.
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    response
}

/// The body of a GraphQL answer, serialised straight from async-graphql's
/// value so that `data` keeps the order the query asked for.
#[derive(Serialize)]
struct Answer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extensions: Option<&'a std::collections::BTreeMap<String, async_graphql::Value>>,
}

/// The most errors one answer lists: a small document can have thousands of
/// problems (twenty thousand unused variables made 2.5 MB of errors), and
/// the first fifty say what is wrong.
const MAX_ERRORS: usize = 50;

/// Turns an executed response into the answer the client gets: status,
/// media type, and a body of at most `max_bytes` (`HIVE_MAX_RESPONSE_BYTES`;
/// a larger one is replaced by an error asking for less).
fn shape_response(
    media: Media,
    mut response: async_graphql::Response,
    max_bytes: usize,
) -> Response {
    let request_error = is_request_error(&response);
    let errors = listed_errors(&mut response.errors);
    let retry_after = rate_limit_wait(&errors);
    let answer = Answer {
        data: (!request_error).then_some(&response.data),
        errors,
        extensions: (!response.extensions.is_empty()).then_some(&response.extensions),
    };
    let body = match serde_json::to_vec(&answer) {
        Ok(body) if body.len() <= max_bytes => body,
        Ok(body) => {
            tracing::warn!(bytes = body.len(), "answer over the size limit refused");
            let message = format!(
                "The answer would be {} KiB; the limit is {} KiB. Ask for smaller pages \
                 (`first`) or fewer fields.",
                body.len().div_ceil(1024),
                max_bytes / 1024
            );
            return refuse(media, StatusCode::OK, &message, ErrorCode::BadUserInput);
        }
        Err(error) => {
            let message = ApiError::internal(format!("serialising an answer: {error}"));
            tracing::error!(detail = %error, "serialising an answer failed");
            return refuse(
                media,
                StatusCode::INTERNAL_SERVER_ERROR,
                message.message(),
                ErrorCode::Internal,
            );
        }
    };
    let status = if let Some(seconds) = retry_after {
        let mut response = respond(media, StatusCode::TOO_MANY_REQUESTS, body);
        super::retry_after(&mut response, seconds);
        return response;
    } else if request_error && media == Media::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    respond(media, status, body)
}

/// The errors an answer lists, in a fixed order: request errors first, then
/// field errors by where their field is written in the query's text (a
/// fragment's fields where the fragment is written), then by path; so the
/// same query with the same failures lists the same errors whichever
/// resolver finished first. At most [`MAX_ERRORS`] of them, and
/// then one line that says how many more there were, by code
/// (`extensions.leftOut`, `extensions.codes`), under the code most of them
/// carry.
fn listed_errors(errors: &mut [async_graphql::ServerError]) -> Vec<Value> {
    errors.sort_by(|a, b| {
        (!a.path.is_empty())
            .cmp(&!b.path.is_empty())
            .then_with(|| {
                let at = |e: &async_graphql::ServerError| {
                    e.locations.first().map(|at| (at.line, at.column))
                };
                at(a).cmp(&at(b))
            })
            .then_with(|| compare_paths(&a.path, &b.path))
    });
    let mut listed: Vec<Value> = errors.iter().take(MAX_ERRORS).map(with_code).collect();
    let left_out = errors.get(MAX_ERRORS..).unwrap_or_default();
    if !left_out.is_empty() {
        let mut codes: Vec<(&str, usize)> = Vec::new();
        for error in left_out {
            let code = code_of(error);
            match codes.iter_mut().find(|(c, _)| *c == code) {
                Some((_, count)) => *count += 1,
                None => codes.push((code, 1)),
            }
        }
        // The most common code; of equals, the first left out.
        let main = codes
            .iter()
            .rev()
            .max_by_key(|(_, count)| *count)
            .map_or(ErrorCode::BadUserInput.as_str(), |(code, _)| *code);
        let by_code: Map<String, Value> = codes
            .iter()
            .map(|(code, count)| ((*code).to_string(), json!(count)))
            .collect();
        listed.push(json!({
            "message": format!("{} more errors were left out.", left_out.len()),
            "extensions": {"code": main, "leftOut": left_out.len(), "codes": by_code},
        }));
    }
    listed
}

/// Orders two error paths: segment by segment, list indexes by number.
fn compare_paths(
    a: &[async_graphql::PathSegment],
    b: &[async_graphql::PathSegment],
) -> std::cmp::Ordering {
    use async_graphql::PathSegment;
    use std::cmp::Ordering;
    for (x, y) in a.iter().zip(b) {
        let order = match (x, y) {
            (PathSegment::Index(x), PathSegment::Index(y)) => x.cmp(y),
            (PathSegment::Field(x), PathSegment::Field(y)) => x.cmp(y),
            (PathSegment::Index(_), PathSegment::Field(_)) => Ordering::Less,
            (PathSegment::Field(_), PathSegment::Index(_)) => Ordering::Greater,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// An error's `extensions.code`; BAD_USER_INPUT when it has none (see
/// [`with_code`]).
fn code_of(error: &async_graphql::ServerError) -> &str {
    match error.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(async_graphql::Value::String(code)) => code,
        _ => ErrorCode::BadUserInput.as_str(),
    }
}

/// Whether the request failed before execution: parse and validation
/// failures (limits included) leave no data and errors without a path.
fn is_request_error(response: &async_graphql::Response) -> bool {
    !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The longest `retryAfter` of the RATE_LIMITED errors, if any.
fn rate_limit_wait(errors: &[Value]) -> Option<u64> {
    errors
        .iter()
        .filter(|e| e["extensions"]["code"] == ErrorCode::RateLimited.as_str())
        .filter_map(|e| e["extensions"]["retryAfter"].as_u64())
        .max()
}

/// Every error leaves with `extensions.code`. Errors from our resolvers and
/// the request guard carry one already (INTERNAL included: `ApiError` is the
/// only error resolvers return); an error without one comes from the engine
/// checking the request itself — syntax, validation, argument and variable
/// coercion — which is the client's input. An INTERNAL error also carries
/// the request id, which is on its log line.
fn with_code(error: &async_graphql::ServerError) -> Value {
    let mut value = serde_json::to_value(error).unwrap_or_else(|_| json!({"message": "error"}));
    let Some(object) = value.as_object_mut() else {
        return value;
    };
    let extensions = object
        .entry("extensions")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(extensions) = extensions.as_object_mut() {
        let code = extensions
            .entry("code")
            .or_insert_with(|| Value::String(code_of(error).into()));
        if *code == ErrorCode::Internal.as_str()
            && let Some(id) = request_id::current()
        {
            extensions.insert("requestId".into(), Value::String(id));
        }
    }
    value
}

/// The token of an `Authorization: Bearer …` header; `None` without one or
/// with another scheme. A `Bearer` with nothing after it (or a header that is
/// not text) gives an empty token, which is refused like any wrong one.
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some("");
    };
    let value = value.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    /// A field error at `path` (list indexes as numbers) on line 1 at
    /// `column`, with `code`.
    fn field_error(column: usize, path: &str, code: &str) -> async_graphql::ServerError {
        let mut error =
            async_graphql::ServerError::new("failed", Some(async_graphql::Pos { line: 1, column }));
        error.path = path
            .split('.')
            .map(|segment| match segment.parse() {
                Ok(index) => async_graphql::PathSegment::Index(index),
                Err(_) => async_graphql::PathSegment::Field(segment.to_string()),
            })
            .collect();
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", code);
        error.extensions = Some(extensions);
        error
    }

    #[test]
    fn errors_are_listed_in_document_order_and_the_rest_counted_by_code() {
        // Sixty FORBIDDEN fields of a list (column 20) and five NOT_FOUND
        // lookups before it (column 5), in the order resolvers happened to
        // finish: the lookups first, then the list by index (10 after 9,
        // not after 1), and the left-out fifteen counted under their code.
        let mut errors: Vec<_> = (0..60)
            .rev()
            .map(|i| field_error(20, &format!("mentors.{i}.email"), "FORBIDDEN"))
            .chain((0..5).map(|i| field_error(5, &format!("a{i}"), "NOT_FOUND")))
            .collect();
        errors.swap(3, 40);
        let listed = listed_errors(&mut errors);
        assert_eq!(listed.len(), MAX_ERRORS + 1);
        let paths: Vec<String> = listed[..MAX_ERRORS]
            .iter()
            .map(|e| {
                e["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.to_string().trim_matches('"').to_string())
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect();
        let expected: Vec<String> = (0..5)
            .map(|i| format!("a{i}"))
            .chain((0..45).map(|i| format!("mentors.{i}.email")))
            .collect();
        assert_eq!(paths, expected);
        let summary = &listed[MAX_ERRORS];
        assert_eq!(summary["message"], "15 more errors were left out.");
        assert_eq!(summary["extensions"]["code"], "FORBIDDEN");
        assert_eq!(summary["extensions"]["leftOut"], 15);
        assert_eq!(summary["extensions"]["codes"], json!({"FORBIDDEN": 15}));

        // Under the cap nothing is added; an error without a code is the
        // client's input.
        let mut few = vec![async_graphql::ServerError::new("unknown field", None)];
        let listed = listed_errors(&mut few);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["extensions"]["code"], "BAD_USER_INPUT");
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
    fn only_a_browser_asking_for_html_gets_graphiql() {
        // Chromium and Firefox opening the address.
        assert!(wants_html(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
        )));
        assert!(wants_html(&accept("text/html")));
        assert!(wants_html(&accept("text/html, application/json")));
        // GraphQL clients, curl, and no Accept at all.
        assert!(!wants_html(&HeaderMap::new()));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&accept(
            "application/graphql-response+json, application/json;q=0.9"
        )));
        assert!(!wants_html(&accept("application/json, text/html")));
        assert!(!wants_html(&accept("text/html;q=0.5, application/json")));
        assert!(!wants_html(&accept("text/html;q=0")));
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
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert_eq!(bearer_token(&headers), Some(""), "empty, so refused");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer   "));
        assert_eq!(bearer_token(&headers), Some(""));
    }
}
