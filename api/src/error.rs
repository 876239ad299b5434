//! The one error type of the API and its single mapping to GraphQL error codes.
//! Internal causes are logged and never shown: a client sees a code and a
//! sentence meant for people.

use async_graphql::ErrorExtensions;
use tracing::error;

/// The codes a client can branch on (`extensions.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    /// Too many requests from one client address (HTTP 429, `retryAfter`).
    RateLimited,
    /// The request ran past its deadline and was stopped (HTTP 503).
    Timeout,
    /// An automatic persisted query's hash that Hive does not hold (Apollo's
    /// protocol): the client sends the query with its hash next.
    PersistedQueryNotFound,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

/// An error a resolver returns.
///
/// It deliberately does not implement `Display`: async-graphql turns anything
/// that does into an error without a code, so `?` on a database error would
/// send SQL to the client. Here `?` goes through `From<DbErr>` and becomes
/// INTERNAL.
#[derive(Debug, Clone)]
pub enum ApiError {
    Unauthenticated(String),
    Forbidden(String),
    NotFound(String),
    /// `field` names the input at fault, so a form can show the message beside it.
    BadUserInput {
        message: String,
        field: Option<String>,
    },
    Conflict(String),
    /// A detail for the log only.
    Internal(String),
    /// The database could not be reached (a detail for the log only): still
    /// INTERNAL to a client, but worth a retry, so pages and the sign-in step
    /// answer 503 with `Retry-After`.
    Unavailable(String),
}

impl ApiError {
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::Unauthenticated(message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden(message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(message.into())
    }
    pub fn bad_input(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadUserInput {
            message: message.into(),
            field: Some(field.to_string()),
        }
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::Conflict(message.into())
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError::Internal(detail.to_string())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::BadUserInput { .. } => ErrorCode::BadUserInput,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::Internal(_) | ApiError::Unavailable(_) => ErrorCode::Internal,
        }
    }

    /// What a person reads.
    pub fn message(&self) -> &str {
        match self {
            ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::BadUserInput { message: m, .. } => m,
            ApiError::Internal(_) => "Something went wrong on our side; it has been logged.",
            ApiError::Unavailable(_) => {
                "Hive cannot reach its database just now; please try again in a minute."
            }
        }
    }

    /// The detail behind an INTERNAL error, for the log.
    pub fn internal_detail(&self) -> Option<&str> {
        match self {
            ApiError::Internal(detail) | ApiError::Unavailable(detail) => Some(detail),
            _ => None,
        }
    }

    /// Whether trying again later may well work (the database was away).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ApiError::Unavailable(_))
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        if let Some(detail) = error.internal_detail() {
            error!(%detail, "internal error");
        }
        let code = error.code().as_str();
        let field = match &error {
            ApiError::BadUserInput { field, .. } => field.clone(),
            _ => None,
        };
        async_graphql::Error::new(error.message()).extend_with(|_, extensions| {
            extensions.set("code", code);
            if let Some(field) = field {
                extensions.set("field", field);
            }
        })
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        let detail = format!("database: {error}");
        if database_unreachable(&error) {
            return ApiError::Unavailable(detail);
        }
        // Two changes at the same moment: a unique key the other took first
        // (where a lock did not already make the second wait and see it), or
        // PostgreSQL giving up one side of a deadlock or a serialisation
        // failure. Either is the client's to retry, never an INTERNAL.
        if matches!(
            error.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ) || lost_a_race(&error)
        {
            tracing::warn!(%detail, "a change lost a race");
            return ApiError::Conflict(
                "Someone else changed this at the same moment; reload it and try again.".into(),
            );
        }
        ApiError::Internal(detail)
    }
}

/// PostgreSQL's deadlock (40P01) and serialisation failure (40001).
fn lost_a_race(error: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
            sqlx.as_database_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "40P01" || code == "40001")
        }
        _ => false,
    }
}

/// Whether a database error means the server could not be reached (no
/// connection to be had, or one lost mid-statement) rather than a fault in
/// what was asked.
fn database_unreachable(error: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx::Error as Sqlx};
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
            matches!(
                sqlx.as_ref(),
                Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed
            )
        }
        _ => false,
    }
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    fn from(error: sea_orm::TransactionError<ApiError>) -> Self {
        match error {
            sea_orm::TransactionError::Connection(error) => error.into(),
            sea_orm::TransactionError::Transaction(error) => error,
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(format!("{error:#}"))
    }
}

/// Resolvers return this.
pub type ApiResult<T> = Result<T, ApiError>;
