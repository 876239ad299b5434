//! The request guard: parses and measures every document before
//! async-graphql looks at it (`crate::graphql::HiveExecutor` runs it ahead
//! of execution), and refuses what would cost too much or what storage
//! cannot hold. It is the one place where
//!
//! - a document's size once its fragments are expanded, its cost in rows,
//!   its aliases and its root fields are held to the limits
//!   (`hive_worker::settings::Limits`; see `document` for how they count),
//!   and introspection to one schema's worth;
//! - directives the schema does not have are refused wherever they stand;
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

use std::{
    any::TypeId,
    sync::{Arc, OnceLock},
};

use async_graphql::{
    ErrorExtensionValues, ServerError, ServerResult, parser::types::OperationType,
    registry::Registry,
};
use hive_worker::settings::Limits;

use crate::{
    auth::Viewer, error::ErrorCode, http::ClientAddress, rate_limit::RetryAfter, state::AppState,
};
use document::{OperationFigures, Refusal};

/// Root fields that may appear at most once in an operation: `requestSignIn`
/// sends an email to an address the caller chose; `__schema` answers with the
/// whole schema.
pub const ONCE_PER_OPERATION: &[&str] = &["requestSignIn", "__schema"];

/// What the guard saw of the operation that runs: its kind and its root
/// fields as (response key, schema name).
type RanOperation = (OperationType, Vec<(String, String)>);

/// Where the guard says what the request runs, for the HTTP handler to read
/// after execution.
#[derive(Clone, Default)]
pub struct OperationRun(Arc<OnceLock<RanOperation>>);

impl OperationRun {
    /// Whether the guard measured the operation and let it through (so a
    /// persisted query may keep it): false when it refused it or found no
    /// operation to run.
    pub fn passed_the_guard(&self) -> bool {
        self.0.get().is_some()
    }

    /// Whether a mutation field that can change the matching candidates
    /// (any but `LEAVE_CANDIDATES_ALONE`) ran and answered, so that the
    /// cached pool must go; a query, a refused or failed mutation, or
    /// `mutation { __typename }` leaves it.
    pub fn changed_candidates(&self, data: &async_graphql::Value) -> bool {
        let Some((OperationType::Mutation, fields)) = self.0.get() else {
            return false;
        };
        let async_graphql::Value::Object(answers) = data else {
            return false;
        };
        fields.iter().any(|(key, name)| {
            !name.starts_with("__")
                && !crate::graphql::matching::LEAVE_CANDIDATES_ALONE.contains(&name.as_str())
                && answers
                    .get(key.as_str())
                    .is_some_and(|answer| *answer != async_graphql::Value::Null)
        })
    }
}

/// The guard, with the limits it holds documents to. It keeps no state
/// per request: one serves them all.
pub struct RequestGuard {
    limits: Limits,
}

fn refuse(message: impl Into<String>) -> ServerError {
    coded(message, ErrorCode::BadUserInput, |_| {})
}

/// A refusal for a limit: BAD_USER_INPUT with `extensions.limit` (which
/// limit, as the README's "Limits and abuse" names it: `queryCost`,
/// `aliases`, `rootFields`, `fields`), `extensions.measured` (what this
/// document came to, when counted to the end) and `extensions.maximum` (the
/// limit), so a client can say which and by how much; a refused cost also
/// carries `extensions.cost`.
fn over_limit(
    message: impl Into<String>,
    limit: &'static str,
    measured: Option<u64>,
    maximum: u64,
) -> ServerError {
    coded(message, ErrorCode::BadUserInput, |extensions| {
        extensions.set("limit", limit);
        if let Some(measured) = measured {
            extensions.set("measured", measured);
            if limit == "queryCost" {
                extensions.set("cost", measured);
            }
        }
        extensions.set("maximum", maximum);
    })
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

/// Request data the HTTP handler put in, read before async-graphql has made
/// it the request's context.
fn request_data<T: Send + Sync + 'static>(request: &async_graphql::Request) -> Option<&T> {
    request
        .data
        .get(&TypeId::of::<T>())
        .and_then(|data| data.downcast_ref::<T>())
}

impl RequestGuard {
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    /// Parses `request`'s document (and hands the parse on in the request,
    /// so it is parsed once) and measures it against `registry` (the
    /// schema's types) before anything of async-graphql's walks it, its own
    /// recursion check included, which also expands every spread. Records
    /// what runs in the request's [`OperationRun`]. The refusal is the
    /// request's only error.
    pub fn admit(
        &self,
        registry: &Registry,
        request: &mut async_graphql::Request,
    ) -> ServerResult<()> {
        let variables = request.variables.clone();
        let operation_name = request.operation_name.clone();
        let document = request.parsed_query().map_err(plain_syntax_error)?;
        let operation = document::measure(
            registry,
            document,
            &variables,
            operation_name.as_deref(),
            self.limits.max_query_fields,
        )
        .map_err(|refusal| match &refusal {
            Refusal::Input { field, .. } => {
                let field = field.clone();
                coded(refusal.message(), ErrorCode::BadUserInput, |extensions| {
                    extensions.set("field", field)
                })
            }
            Refusal::TooManySelections { counted, limit } => {
                over_limit(refusal.message(), "fields", *counted, *limit)
            }
            _ => refuse(refusal.message()),
        })?;
        if let Some(operation) = &operation {
            self.check(request, operation)?;
            if let Some(run) = request_data::<OperationRun>(request) {
                let _ = run
                    .0
                    .set((operation.kind, operation.root_field_keys.clone()));
            }
        }
        Ok(())
    }

    fn check(
        &self,
        request: &async_graphql::Request,
        operation: &OperationFigures,
    ) -> ServerResult<()> {
        let limits = &self.limits;
        if operation.tally.cost > limits.max_query_cost {
            return Err(over_limit(
                format!(
                    "The query would cost {} (each field once per row it may return); the \
                     limit is {}. Ask for smaller pages (`first`) or fewer fields.",
                    operation.tally.cost, limits.max_query_cost
                ),
                "queryCost",
                Some(operation.tally.cost),
                limits.max_query_cost,
            ));
        }
        if operation.tally.aliases > limits.max_aliases {
            return Err(over_limit(
                format!(
                    "The operation has {} aliased fields; the limit is {}.",
                    operation.tally.aliases, limits.max_aliases
                ),
                "aliases",
                Some(operation.tally.aliases),
                limits.max_aliases,
            ));
        }
        if operation.root_fields > limits.max_root_fields {
            return Err(over_limit(
                format!(
                    "The operation asks for {} root fields; the limit is {}.",
                    operation.root_fields, limits.max_root_fields
                ),
                "rootFields",
                Some(operation.root_fields),
                limits.max_root_fields,
            ));
        }
        for field in ONCE_PER_OPERATION {
            if operation
                .root_field_counts
                .get(*field)
                .copied()
                .unwrap_or(0)
                > 1
            {
                return Err(refuse(format!(
                    "`{field}` may be asked once per operation."
                )));
            }
        }
        if operation.kind == OperationType::Mutation {
            if let Some((key, name)) = repeated_key(&operation.root_field_keys) {
                return Err(refuse(format!(
                    "`{name}` is asked more than once under the response key `{key}`. A \
                     mutation field runs once per key: ask it once, or under an alias of \
                     its own each time it should run."
                )));
            }
            count_anonymous_writes(request, operation.root_fields)?;
        }
        Ok(())
    }
}

/// The first root response key (with its field's name) that a mutation
/// asks more than once, counting the fields its fragments bring: async-graphql
/// runs each occurrence, where the specification merges fields of one key
/// and runs them once (§6.3.2 CollectFields), so `raiseConcern` written
/// twice, or spread twice through a fragment, wrote two concerns and
/// answered with one. `__typename` may repeat: it writes nothing.
fn repeated_key(keys: &[(String, String)]) -> Option<(&str, &str)> {
    let mut seen = std::collections::HashSet::new();
    keys.iter()
        .filter(|(_, name)| !name.starts_with("__"))
        .find(|(key, _)| !seen.insert(key.as_str()))
        .map(|(key, name)| (key.as_str(), name.as_str()))
}

/// Charges an anonymous mutation's fields to its client address.
fn count_anonymous_writes(request: &async_graphql::Request, fields: u64) -> ServerResult<()> {
    let signed_in = request_data::<Viewer>(request).is_some_and(|v| v.user.is_some());
    let (Some(state), Some(client)) = (
        request_data::<AppState>(request),
        request_data::<ClientAddress>(request),
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

/// A syntax error in words for a person, where the parser names grammar
/// rules (`expected executable_definition`): where it is, and what to check.
fn plain_syntax_error(error: ServerError) -> ServerError {
    let place = error
        .locations
        .first()
        .map(|at| format!(" at line {}, column {}", at.line, at.column))
        .unwrap_or_default();
    let mut plain = refuse(format!(
        "The query is not valid GraphQL{place}: check the brackets, quotes and field names \
         there."
    ));
    plain.locations = error.locations;
    plain
}

#[cfg(test)]
mod tests {
    use async_graphql::{Name, Value, indexmap::IndexMap};

    use super::*;

    fn ran(kind: OperationType, fields: &[(&str, &str)]) -> OperationRun {
        let run = OperationRun::default();
        let fields = fields
            .iter()
            .map(|(key, name)| (key.to_string(), name.to_string()))
            .collect();
        let _ = run.0.set((kind, fields));
        run
    }

    fn answers(pairs: &[(&str, Value)]) -> Value {
        let mut map = IndexMap::new();
        for (key, value) in pairs {
            map.insert(Name::new(key), value.clone());
        }
        Value::Object(map)
    }

    #[test]
    fn only_a_mutation_that_changed_matching_drops_the_candidates() {
        let done = Value::String("done".into());
        // Proposing changes a provider's load.
        let propose = ran(OperationType::Mutation, &[("p", "proposeMatch")]);
        assert!(propose.changed_candidates(&answers(&[("p", done.clone())])));
        // ...unless it failed.
        assert!(!propose.changed_candidates(&answers(&[("p", Value::Null)])));
        assert!(!propose.changed_candidates(&Value::Null));
        // No-ops and mutations that leave matching alone.
        let no_op = ran(OperationType::Mutation, &[("__typename", "__typename")]);
        assert!(!no_op.changed_candidates(&answers(&[("__typename", done.clone())])));
        let sign_in = ran(OperationType::Mutation, &[("signIn", "signIn")]);
        assert!(!sign_in.changed_candidates(&answers(&[("signIn", done.clone())])));
        // Queries, and requests the guard refused (nothing recorded).
        let query = ran(OperationType::Query, &[("p", "proposeMatch")]);
        assert!(!query.changed_candidates(&answers(&[("p", done.clone())])));
        assert!(!OperationRun::default().changed_candidates(&answers(&[("p", done)])));
    }
}
