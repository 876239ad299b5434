//! Reading a request body within its size and time: the one reader behind
//! `POST /graphql` and every page's form.

use std::time::Duration;

use axum::body::Body;
use futures::StreamExt;

/// Oversized bodies are read on (up to this ceiling) before the 413 goes out:
/// a server that answers mid-upload makes most clients see a broken connection
/// instead of the clear error.
const DRAIN_CEILING: usize = 32 * 1024 * 1024;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the size limit (HTTP 413).
    TooLarge { limit: usize },
    /// Not finished within the time limit (HTTP 408).
    TooSlow { limit: Duration },
    /// The connection failed mid-body (HTTP 400).
    Unreadable,
}

impl BodyError {
    /// A sentence for the client.
    pub fn message(&self) -> String {
        match self {
            BodyError::TooLarge { limit } => {
                format!("The request body is larger than {} KiB.", limit / 1024)
            }
            BodyError::TooSlow { limit } => format!(
                "The request body did not arrive within {} seconds.",
                limit.as_secs()
            ),
            BodyError::Unreadable => "The request body could not be read.".into(),
        }
    }

    /// The HTTP status that goes with it.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
            BodyError::Unreadable => StatusCode::BAD_REQUEST,
        }
    }
}

/// Reads `body` whole: at most `limit` bytes, within `time`.
pub async fn read(body: Body, limit: usize, time: Duration) -> Result<Vec<u8>, BodyError> {
    let reading = async {
        let mut stream = body.into_data_stream();
        let mut buffer = Vec::new();
        let mut total = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
            total = total.saturating_add(chunk.len());
            if total > DRAIN_CEILING {
                break;
            }
            if total <= limit {
                buffer.extend_from_slice(&chunk);
            }
        }
        if total > limit {
            Err(BodyError::TooLarge { limit })
        } else {
            Ok(buffer)
        }
    };
    tokio::time::timeout(time, reading)
        .await
        .unwrap_or(Err(BodyError::TooSlow { limit: time }))
}
