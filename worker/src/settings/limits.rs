//! The limits that keep one request, one client or one address from taking
//! more than its share: sizes, shapes, times and rates. Each is an environment
//! variable with a default that suits the SPA's real screens; the README's
//! "Limits and abuse" section lists them with the same values. Their names and
//! defaults are in [`super::VARIABLES`] with every other variable.

use std::time::Duration;

use super::{SettingsError, invalid};

/// How much any one request, connection, client address or email address may
/// take. Read once at start-up; see the README's "Limits and abuse".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes (a GraphQL document with its variables,
    /// or a page's form).
    pub max_body_bytes: usize,
    /// Largest GraphQL answer, in bytes of JSON; a bigger one is replaced by
    /// an error asking for less.
    pub max_response_bytes: usize,
    /// Deepest selection nesting.
    pub max_query_depth: usize,
    /// Most fields in an operation once every fragment is expanded where it
    /// is spread (each spread counts its fragment again).
    pub max_query_fields: u64,
    /// Most cost an operation may have: each field costs one, and a list
    /// multiplies what it selects by the rows it may return (`first`/`last`,
    /// else the default page size).
    pub max_query_cost: u64,
    /// Most fields at the root of an operation (aliases included).
    pub max_root_fields: u64,
    /// Most aliased fields in an operation, counted after expansion.
    pub max_aliases: u64,
    /// How long a connection has to send a request's headers, counted from
    /// when it opened or its previous answer went out; so also how long an
    /// idle keep-alive connection is kept.
    pub header_timeout: Duration,
    /// How long reading one request's body may take.
    pub body_timeout: Duration,
    /// How long one request may take from its headers to its answer.
    pub request_timeout: Duration,
    /// How long an answer may wait for the client to take any more of it (a
    /// client that stops reading would otherwise hold its connection, and
    /// the answer in memory, for ever). Counted afresh after every bit of
    /// progress, so a slow but moving download is not cut.
    pub send_timeout: Duration,
    /// Most connections open at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv6 /64),
    /// so one client cannot take every slot; further ones are closed at once.
    /// Not applied behind a trusted proxy, where every peer is the proxy.
    pub max_connections_per_client: usize,
    /// How long a stopping server lets running requests finish, and a
    /// stopping worker its send tasks (past it, they are left: their emails
    /// stay queued and go again once their lease runs out).
    pub shutdown_grace: Duration,
    /// Most sign-in links sent to one address in 15 minutes.
    pub sign_in_links_per_quarter_hour: u32,
    /// Requests without an account (GraphQL, and the pages for people
    /// without one) per client address per minute; a tenth of them may come
    /// at once.
    pub anonymous_requests_per_minute: u32,
    /// Anonymous writes (GraphQL mutation fields, and form posts of the pages
    /// for people without an account) per client address per minute, all at
    /// once if need be.
    pub anonymous_writes_per_minute: u32,
    /// Most bytes of GraphQL documents kept for automatic persisted queries
    /// (their text plus a fixed overhead per entry); the least recently used
    /// go first. Bounded in bytes, not documents, because anyone may
    /// register a document as large as a request body.
    pub persisted_query_cache_bytes: usize,
    /// Whether the client address is the last one in `X-Forwarded-For`
    /// (behind a reverse proxy that appends it) rather than the peer's.
    pub trust_forwarded_for: bool,
    /// How long a `hive-api` process keeps a live session it looked up
    /// (zero: not at all) — so also how long another process may still
    /// accept a session revoked elsewhere (`api::sessions`).
    pub session_cache: Duration,
    /// Most connections one process opens to PostgreSQL (its pool's size),
    /// within [`DATABASE_CONNECTIONS`]: the API's requests and a worker's
    /// jobs wait for a free one, at most 10 s. Each process has its own
    /// pool, so the processes' sum must stay under the server's
    /// `max_connections` (100 by default). SQLite's pool is 16, whatever
    /// this says: it has one writer at a time.
    pub database_connections: u32,
}

/// The sizes `HIVE_DATABASE_CONNECTIONS` may take. At least 2: a worker
/// (`hive-worker`, or the one inside `hive-api`) holds one connection for
/// PostgreSQL's `LISTEN`, and a pool of one left nothing for the rest, so
/// every request waited 10 s and failed. At most 1,000: sqlx sets aside
/// memory for every connection the pool may open when it is made (ten
/// million took 512 MB), and no PostgreSQL server this runs against takes
/// more (its default is 100).
pub const DATABASE_CONNECTIONS: std::ops::RangeInclusive<u32> = 2..=1_000;

impl Default for Limits {
    fn default() -> Self {
        Self::read(|_| None).expect("the built-in limits are valid")
    }
}

impl Limits {
    /// Reads every limit through `lookup` (the environment, or a test's map);
    /// an absent variable takes its default.
    pub fn read(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let value = |name: &str| -> String {
            lookup(name).unwrap_or_else(|| {
                super::VARIABLES
                    .iter()
                    .find(|(variable, _)| *variable == name)
                    .map(|(_, default)| default.to_string())
                    .unwrap_or_default()
            })
        };
        let number = |name: &str| -> Result<u64, SettingsError> {
            let raw = value(name);
            match raw.trim().parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(invalid(
                    name,
                    format!("'{raw}' is not a positive whole number"),
                )),
            }
        };
        let seconds = |name: &str| number(name).map(Duration::from_secs);
        let count = |name: &str| -> Result<u32, SettingsError> {
            let n = number(name)?;
            u32::try_from(n).map_err(|_| invalid(name, format!("'{n}' is too large")))
        };
        let trust = value("HIVE_TRUST_FORWARDED_FOR");
        let trust_forwarded_for = match trust.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" | "" => false,
            _ => {
                return Err(invalid(
                    "HIVE_TRUST_FORWARDED_FOR",
                    format!("'{trust}' is neither true nor false"),
                ));
            }
        };
        let raw_cache = value("HIVE_SESSION_CACHE_SECS");
        let session_cache = match raw_cache.trim().parse::<u64>() {
            Ok(seconds) if seconds <= 60 => Duration::from_secs(seconds),
            _ => {
                return Err(invalid(
                    "HIVE_SESSION_CACHE_SECS",
                    format!("'{raw_cache}' is not a whole number of seconds from 0 to 60"),
                ));
            }
        };
        Ok(Self {
            max_body_bytes: number("HIVE_MAX_BODY_BYTES")? as usize,
            max_response_bytes: number("HIVE_MAX_RESPONSE_BYTES")? as usize,
            max_query_depth: number("HIVE_MAX_QUERY_DEPTH")? as usize,
            max_query_fields: number("HIVE_MAX_QUERY_FIELDS")?,
            max_query_cost: number("HIVE_MAX_QUERY_COST")?,
            max_root_fields: number("HIVE_MAX_ROOT_FIELDS")?,
            max_aliases: number("HIVE_MAX_ALIASES")?,
            header_timeout: seconds("HIVE_HEADER_TIMEOUT_SECS")?,
            body_timeout: seconds("HIVE_BODY_TIMEOUT_SECS")?,
            request_timeout: seconds("HIVE_REQUEST_TIMEOUT_SECS")?,
            send_timeout: seconds("HIVE_SEND_TIMEOUT_SECS")?,
            max_connections: number("HIVE_MAX_CONNECTIONS")? as usize,
            max_connections_per_client: number("HIVE_MAX_CONNECTIONS_PER_CLIENT")? as usize,
            shutdown_grace: seconds("HIVE_SHUTDOWN_GRACE_SECS")?,
            sign_in_links_per_quarter_hour: count("HIVE_SIGN_IN_LINKS_PER_QUARTER_HOUR")?,
            anonymous_requests_per_minute: count("HIVE_ANONYMOUS_REQUESTS_PER_MINUTE")?,
            anonymous_writes_per_minute: count("HIVE_ANONYMOUS_WRITES_PER_MINUTE")?,
            persisted_query_cache_bytes: number("HIVE_PERSISTED_QUERY_CACHE_BYTES")? as usize,
            trust_forwarded_for,
            session_cache,
            database_connections: match count("HIVE_DATABASE_CONNECTIONS")? {
                n if DATABASE_CONNECTIONS.contains(&n) => n,
                n => {
                    return Err(invalid(
                        "HIVE_DATABASE_CONNECTIONS",
                        format!(
                            "'{n}' is not from {} to {}: a worker keeps one connection \
                             listening for new work, and the pool sets aside memory for \
                             each connection it may open",
                            DATABASE_CONNECTIONS.start(),
                            DATABASE_CONNECTIONS.end()
                        ),
                    ));
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_bad_values_name_their_variable() {
        let limits = Limits::default();
        assert_eq!(limits.max_body_bytes, 256 * 1024);
        assert_eq!(limits.request_timeout, Duration::from_secs(30));
        assert!(!limits.trust_forwarded_for);
        assert_eq!(limits.database_connections, 20);
        let error = Limits::read(|name| (name == "HIVE_DATABASE_CONNECTIONS").then(|| "0".into()))
            .unwrap_err();
        assert!(error.to_string().starts_with("HIVE_DATABASE_CONNECTIONS: "));
        for refused in ["1", "1001", "4294967295"] {
            let error =
                Limits::read(|name| (name == "HIVE_DATABASE_CONNECTIONS").then(|| refused.into()))
                    .unwrap_err();
            assert!(
                error.to_string().contains("is not from 2 to 1000"),
                "{error}"
            );
        }
        for taken in [2, 1_000] {
            let limits = Limits::read(|name| {
                (name == "HIVE_DATABASE_CONNECTIONS").then(|| taken.to_string())
            })
            .unwrap();
            assert_eq!(limits.database_connections, taken);
        }

        let error = Limits::read(|name| (name == "HIVE_MAX_QUERY_COST").then(|| "lots".into()))
            .unwrap_err();
        assert!(error.to_string().starts_with("HIVE_MAX_QUERY_COST: "));
        let error =
            Limits::read(|name| (name == "HIVE_MAX_CONNECTIONS").then(|| "0".into())).unwrap_err();
        assert!(error.to_string().starts_with("HIVE_MAX_CONNECTIONS: "));
        let error =
            Limits::read(|name| (name == "HIVE_TRUST_FORWARDED_FOR").then(|| "maybe".into()))
                .unwrap_err();
        assert!(error.to_string().starts_with("HIVE_TRUST_FORWARDED_FOR: "));
        let limits =
            Limits::read(|name| (name == "HIVE_TRUST_FORWARDED_FOR").then(|| "TRUE".into()))
                .unwrap();
        assert!(limits.trust_forwarded_for);
    }
}
