//! The request guard: an async-graphql extension that looks at every parsed
//! document before async-graphql validates it, and refuses what would cost
//! too much or what storage cannot hold. It is the one place where
//!
//! - a document's size once its fragments are expanded, its cost in rows,
//!   its aliases and its root fields are held to the limits
//!   (`hive_worker::settings::Limits`; see `document` for how they count);
//! - fields that may be asked once per operation are held to once
//!   ([`ONCE_PER_OPERATION`]: 200 aliased `requestSignIn` are not 200 emails);
//! - anonymous mutation fields are counted against the client address's rate
//!   (`crate::rate_limit`), answered `RATE_LIMITED` with `retryAfter`;
//! - every text argument and input field is checked (`text_rules`,
//!   `crate::text`).
//!
//! Refusals carry `extensions.code` (BAD_USER_INPUT, or RATE_LIMITED) and, for
//! inputs, `extensions.field`.

pub mod document;
pub mod text_rules;

use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::{
    ErrorExtensionValues, ServerError, ServerResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    },
    parser::types::{ExecutableDocument, OperationType},
};
use hive_worker::settings::Limits;

use crate::{
    auth::Viewer, error::ErrorCode, http::ClientAddress, rate_limit::RetryAfter,
    state::AppState,
};
use document::{Figures, IntrospectionSizes, Refusal};

/// Root fields that may appear at most once in an operation, because each
/// sends an email to an address the caller chose.
pub const ONCE_PER_OPERATION: &[&str] = &["requestSignIn"];

/// Builds one [`Guard`] per request.
pub struct RequestGuard {
    limits: Limits,
    sizes: Arc<OnceLock<IntrospectionSizes>>,
}

impl RequestGuard {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            sizes: Arc::new(OnceLock::new()),
        }
    }
}

impl ExtensionFactory for RequestGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Guard {
            limits: self.limits.clone(),
            sizes: self.sizes.clone(),
            operation_name: Mutex::new(None),
        })
    }
}

struct Guard {
    limits: Limits,
    sizes: Arc<OnceLock<IntrospectionSizes>>,
    /// From the request, for choosing which operation of the document runs.
    operation_name: Mutex<Option<String>>,
}

fn refuse(message: impl Into<String>) -> ServerError {
    coded(message, ErrorCode::BadUserInput, |_| {})
}

fn coded(
    message: impl Into<String>,
    code: ErrorCode,
    more: impl FnOnce(&mut ErrorExtensionValues),
) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    more(&mut extensions);
    error.extensions = Some(extensions);
    error
}

impl Guard {
    fn check(&self, ctx: &ExtensionContext<'_>, figures: &Figures) -> ServerResult<()> {
        let limits = &self.limits;
        if figures.document_fields > limits.max_query_fields {
            return Err(refuse(format!(
                "The document has {} fields once its fragments are expanded; the limit is {}.",
                figures.document_fields, limits.max_query_fields
            )));
        }
        let Some(operation) = &figures.operation else {
            return Ok(());
        };
        if operation.tally.cost > limits.max_query_cost {
            return Err(refuse(format!(
                "The query would cost {} (each field once per row it may return); the limit \
                 is {}. Ask for smaller pages (`first`) or fewer fields.",
                operation.tally.cost, limits.max_query_cost
            )));
        }
        if operation.tally.aliases > limits.max_aliases {
            return Err(refuse(format!(
                "The operation has {} aliased fields; the limit is {}.",
                operation.tally.aliases, limits.max_aliases
            )));
        }
        if operation.root_fields > limits.max_root_fields {
            return Err(refuse(format!(
                "The operation asks for {} root fields; the limit is {}.",
                operation.root_fields, limits.max_root_fields
            )));
        }
        for field in ONCE_PER_OPERATION {
            if operation.root_field_counts.get(*field).copied().unwrap_or(0) > 1 {
                return Err(refuse(format!(
                    "`{field}` may be asked once per operation."
                )));
            }
        }
        if operation.kind == OperationType::Mutation {
            self.count_anonymous_writes(ctx, operation.root_fields)?;
        }
        Ok(())
    }

    /// Charges an anonymous mutation's fields to its client address.
    fn count_anonymous_writes(&self, ctx: &ExtensionContext<'_>, fields: u64) -> ServerResult<()> {
        let signed_in = ctx.data_opt::<Viewer>().is_some_and(|v| v.user.is_some());
        let (Some(state), Some(client)) = (
            ctx.data_opt::<AppState>(),
            ctx.data_opt::<ClientAddress>(),
        ) else {
            return Ok(());
        };
        if signed_in {
            return Ok(());
        }
        let fields = u32::try_from(fields).unwrap_or(u32::MAX);
        state
            .anonymous_writes
            .take(client.0, fields)
            .map_err(rate_limited)
    }
}

/// The error for a client over its rate, with `retryAfter` in seconds (the
/// HTTP layer turns it into status 429 and a `Retry-After` header).
pub fn rate_limited(retry: RetryAfter) -> ServerError {
    coded(
        format!(
            "Too many requests from your address; try again in {} seconds.",
            retry.seconds()
        ),
        ErrorCode::RateLimited,
        |extensions| extensions.set("retryAfter", retry.seconds()),
    )
}

#[async_trait::async_trait]
impl Extension for Guard {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        if let Ok(mut name) = self.operation_name.lock() {
            name.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let registry = &ctx.schema_env.registry;
        let sizes = self
            .sizes
            .get_or_init(|| IntrospectionSizes::of(registry));
        let operation_name = self
            .operation_name
            .lock()
            .ok()
            .and_then(|name| name.clone());
        let figures = document::measure(
            registry,
            sizes,
            &document,
            variables,
            operation_name.as_deref(),
        )
        .map_err(|refusal| match &refusal {
            Refusal::Input { field, .. } => {
                let field = field.clone();
                coded(refusal.message(), ErrorCode::BadUserInput, |extensions| {
                    extensions.set("field", field)
                })
            }
            Refusal::FragmentCycle(_) => refuse(refusal.message()),
        })?;
        self.check(ctx, &figures)?;
        Ok(document)
    }
}
