//! What the staff downloads share (`GET /surveys/{id}/responses.csv`,
//! `GET /personal-data/{id}.zip`): a staff bearer token, short plain-text
//! refusals with the right status, and cells a spreadsheet reads as text.

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::graphql::bearer_token;
use crate::{
    auth::{self, Viewer},
    error::{ApiError, ApiResult, ErrorCode},
    state::AppState,
};

/// The byte-order mark that tells spreadsheet programs the file is UTF-8.
pub const BOM: &[u8] = "\u{feff}".as_bytes();

/// Text a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, and the
/// tab and carriage return that can precede them) gets a leading apostrophe,
/// which shows it as the text it is (OWASP's advice on CSV injection).
pub fn defuse(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound | ErrorCode::PersistedQueryNotFound => StatusCode::NOT_FOUND,
        ErrorCode::BadUserInput => StatusCode::BAD_REQUEST,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as a short plain-text answer; internal causes are logged, not
/// shown, and the answer gives the request id of the log line (503 when the
/// database was out of reach). `what` names the download in the log.
pub fn refusal(what: &str, error: ApiError) -> Response {
    let mut message = error.message().to_string();
    if let Some(detail) = error.internal_detail() {
        tracing::error!(%detail, "{what} failed");
        if let Some(id) = super::request_id::current() {
            message.push_str(&format!(" (request id {id})"));
        }
    }
    let status = if error.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        status_of(error.code())
    };
    let mut response = (status, message).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// The signed-in viewer behind the bearer token, if `allowed` lets them
/// have the download: UNAUTHENTICATED without a valid token, FORBIDDEN with
/// `forbidden` otherwise (before anything is looked up, so others learn
/// nothing of what exists).
pub async fn staff_viewer(
    state: &AppState,
    headers: &HeaderMap,
    allowed: fn(&Viewer) -> bool,
    forbidden: &str,
) -> ApiResult<Viewer> {
    let token = bearer_token(headers)
        .ok_or_else(|| ApiError::unauthenticated("Send a staff member's bearer token."))?;
    let viewer = auth::authenticate(&state.db, &state.sessions, token).await?;
    if allowed(&viewer) {
        Ok(viewer)
    } else {
        Err(ApiError::forbidden(forbidden))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_other_text_is_left_alone() {
        assert_eq!(defuse("=SUM(A1:A9)"), "'=SUM(A1:A9)");
        assert_eq!(defuse("+44 161 496 0000"), "'+44 161 496 0000");
        assert_eq!(defuse("-2+3"), "'-2+3");
        assert_eq!(defuse("@cmd"), "'@cmd");
        assert_eq!(defuse("\t=1"), "'\t=1");
        assert_eq!(defuse("Grow = good"), "Grow = good");
        assert_eq!(defuse(""), "");
    }
}
