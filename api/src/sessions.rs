//! The live sessions a `hive-api` process has looked up lately, so that a
//! signed-in request does not pay a database round trip to learn who sent it.
//!
//! Looking a bearer token up was 85 % of the cost of the cheapest signed-in
//! request (`{ __typename }` with a token: 6,660 requests a second against
//! 41,750 without one, issue 19). A hit here costs a hash and a map lookup.
//!
//! What a cached session may still do, and for how long:
//! - in the process that signs a session out (`signOut`) it stops at once:
//!   [`SessionCache::forget_session`] runs in the same request;
//! - in any other `hive-api` process sharing the database it may still be
//!   accepted for up to `HIVE_SESSION_CACHE_SECS` (default 5 s) after it was
//!   revoked, because that process learns of it only when its entry lapses;
//! - a session never outlives its own `expires_at`, cached or not;
//! - `HIVE_SESSION_CACHE_SECS=0` turns the cache off (every request asks the
//!   database, as before).
//!
//! Unknown tokens are not cached: guessing costs the client address its
//! anonymous allowance instead (`http::graphql`).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use moka::sync::Cache;

use crate::auth::Viewer;

/// Most sessions kept at once; the least used go first when it is full. A
/// session is a user row and a few ids (well under 1 KiB), so this is at most
/// a few MiB.
const CAPACITY: u64 = 10_000;

/// A live session as looked up: who, and until when the session itself
/// holds.
#[derive(Debug, Clone)]
struct Cached {
    viewer: Viewer,
    session_expires_at: DateTime<Utc>,
}

/// Sessions by the hash of their bearer token (never the token itself: the
/// cache holds what the `sessions` table holds).
#[derive(Clone)]
pub struct SessionCache {
    entries: Option<Cache<String, Arc<Cached>>>,
}

impl SessionCache {
    /// A cache whose entries lapse `lifetime` after they were looked up;
    /// `Duration::ZERO` keeps nothing.
    pub fn new(lifetime: Duration) -> Self {
        let entries = (!lifetime.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(lifetime)
                .support_invalidation_closures()
                .build()
        });
        Self { entries }
    }

    /// The viewer of a live session whose token hashes to `token_hash`, if
    /// this process looked it up within the lifetime and the session has not
    /// expired since.
    pub fn get(&self, token_hash: &str) -> Option<Viewer> {
        let cached = self.entries.as_ref()?.get(token_hash)?;
        (cached.session_expires_at > Utc::now()).then(|| cached.viewer.clone())
    }

    /// Keeps a session just found live in the database.
    pub fn keep(&self, token_hash: String, viewer: Viewer, session_expires_at: DateTime<Utc>) {
        if let Some(entries) = &self.entries {
            entries.insert(
                token_hash,
                Arc::new(Cached {
                    viewer,
                    session_expires_at,
                }),
            );
        }
    }

    /// Forgets a session that has just been revoked, so that this process
    /// refuses its token from the next request on.
    pub fn forget_session(&self, session_id: i64) {
        self.forget_where(move |cached| cached.viewer.session_id == Some(session_id));
    }

    fn forget_where(&self, matches: impl Fn(&Cached) -> bool + Send + Sync + 'static) {
        if let Some(entries) = &self.entries {
            let forgotten = entries.invalidate_entries_if(move |_, cached| matches(cached));
            if forgotten.is_err() {
                // Only possible without `support_invalidation_closures`,
                // which `new` always sets; forget everything rather than
                // keep a revoked session.
                entries.invalidate_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(session_id: i64) -> Viewer {
        Viewer {
            user: None,
            session_id: Some(session_id),
        }
    }

    #[test]
    fn a_forgotten_or_expired_session_is_not_served() {
        let cache = SessionCache::new(Duration::from_secs(60));
        let later = Utc::now() + chrono::Duration::hours(1);
        cache.keep("a".into(), viewer(1), later);
        cache.keep("b".into(), viewer(2), later);
        cache.keep(
            "c".into(),
            viewer(3),
            Utc::now() - chrono::Duration::seconds(1),
        );
        assert_eq!(cache.get("a").and_then(|v| v.session_id), Some(1));
        assert!(cache.get("c").is_none(), "the session itself has expired");
        cache.forget_session(1);
        assert!(cache.get("a").is_none());
        assert_eq!(cache.get("b").and_then(|v| v.session_id), Some(2));
    }

    #[test]
    fn a_zero_lifetime_keeps_nothing() {
        let cache = SessionCache::new(Duration::ZERO);
        cache.keep(
            "a".into(),
            viewer(1),
            Utc::now() + chrono::Duration::hours(1),
        );
        assert!(cache.get("a").is_none());
    }
}
