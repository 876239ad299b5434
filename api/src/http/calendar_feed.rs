//! `GET /calendar/{token}.ics`: a person's calendar feed, fetched by their
//! calendar application (or by Google's and Microsoft's servers on their
//! behalf) with no one signed in: the token in the address is the key. What
//! it holds and why is in `programme::calendar_feeds`.
//!
//! Bounded like the other pages behind a secret: each fetch counts against
//! its client address's anonymous allowance (`edge::charge_anonymous_pages`),
//! a token of the wrong shape (the wrong length, a character base64url has
//! not, no `.ics`) is refused before the database is asked, and the answer
//! holds at most `MAX_FEED_EVENTS` meetings.
//!
//! `Cache-Control: private, no-cache` with a strong `ETag`: a calendar may
//! keep the file but asks again each time, and an unchanged feed is a bodiless
//! 304. So a replaced or revoked address stops at the next fetch, and no
//! shared cache keeps a copy of someone's diary.

use axum::{
    extract::{Path, State, rejection::PathRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::page::{notice, went_wrong};
use crate::{programme::calendar_feeds, state::AppState};

/// The longest last segment that can be a feed's: a 43-character token and
/// `.ics`. Anything longer is refused without looking at it further.
const MAX_FILE_NAME: usize = 47;

/// The same answer for every address that opens nothing (unknown, replaced,
/// revoked, or not a feed address at all), so none tells anything apart.
fn gone() -> Response {
    notice(
        StatusCode::NOT_FOUND,
        "This calendar address does not work",
        "This calendar feed has been replaced or turned off, or the address is not right. \
         Sign in to Hive to get your calendar's current address.",
    )
    .into_response()
}

/// GET (and HEAD): the feed as `text/calendar`, or 304 when the client's
/// `If-None-Match` names it unchanged; 404 for a token that opens nothing.
pub async fn show(
    State(state): State<AppState>,
    file: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let file = file.map(|Path(file)| file).unwrap_or_default();
    if file.len() > MAX_FILE_NAME {
        return gone();
    }
    let Some(token) = file.strip_suffix(".ics") else {
        return gone();
    };
    let ics = match calendar_feeds::feed(&state.db, &state.settings.public_url, token, Utc::now())
        .await
    {
        Ok(Some(ics)) => ics,
        Ok(None) => return gone(),
        Err(error) => return went_wrong(&error).into_response(),
    };
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(ics.as_bytes())[..16]));
    let unchanged = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*");
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
            ics,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    response
}
