//! Automatic persisted queries, in Apollo's protocol (the `persistedQuery`
//! request extension: `{"version": 1, "sha256Hash": "<64 hex digits>"}`),
//! as Apollo Client's persisted-query link and urql's `persistedExchange`
//! speak it:
//!
//! 1. the client sends only the hash (often by GET, so a CDN could cache it);
//! 2. a hash Hive does not hold is answered with the error whose message is
//!    `PersistedQueryNotFound` and `extensions.code` is
//!    `PERSISTED_QUERY_NOT_FOUND` (urql matches the message, Apollo either);
//! 3. the client sends the query with its hash; Hive checks the hash is the
//!    query's SHA-256, runs it, and keeps it if the request guard and
//!    validation accepted it;
//! 4. later hash-only requests find it.
//!
//! async-graphql's own `ApolloPersistedQueries` extension is not used: its
//! cache is bounded by entry count only (a few large documents from an
//! anonymous client could take any amount of memory), it keeps every
//! document that parses, before the guard has measured it, and it runs
//! inside execution, too late for `GET` to know whether the hashed document
//! is a mutation. Here the store is bounded in bytes
//! (`HIVE_PERSISTED_QUERY_CACHE_BYTES`), holds only what ran past the guard,
//! and the hash is resolved before anything else looks at the request.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use sha2::{Digest, Sha256};

/// A document's SHA-256, the key of the store.
pub type QueryHash = [u8; 32];

/// What one entry costs beyond its text, in bytes: the key twice (map and
/// recency list), the recency tick twice, the `Arc` header and the maps'
/// own bookkeeping, rounded up. The bound counts this too, so a flood of
/// tiny documents is bounded as well as a few large ones.
pub const ENTRY_OVERHEAD_BYTES: usize = 160;

/// Why a `persistedQuery` extension cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not `{"version": 1, "sha256Hash": "<64 hex digits>"}`.
    Malformed(String),
    /// The query sent with the hash has another SHA-256.
    HashMismatch,
    /// A hash alone that the store does not hold (never registered, or
    /// evicted): the client sends the query with it next.
    NotFound,
}

impl Refusal {
    /// The sentence for the client.
    pub fn message(&self) -> String {
        match self {
            Refusal::Malformed(problem) => format!(
                "extensions.persistedQuery must be {{\"version\": 1, \"sha256Hash\": \"<64 hex \
                 digits>\"}}: {problem}"
            ),
            Refusal::HashMismatch => "extensions.persistedQuery.sha256Hash is not the SHA-256 of \
                                      the query sent with it (hex of the query's UTF-8 bytes, \
                                      exactly as sent)."
                .to_string(),
            // The exact text the clients match on.
            Refusal::NotFound => "PersistedQueryNotFound".to_string(),
        }
    }
}

/// Reads the `persistedQuery` extension's hash (`None` without one); any
/// other member (urql adds `miss: true` on its retry) is ignored.
pub fn hash_of_extension(
    extension: Option<&serde_json::Value>,
) -> Result<Option<QueryHash>, Refusal> {
    let Some(extension) = extension else {
        return Ok(None);
    };
    let Some(object) = extension.as_object() else {
        return Err(Refusal::Malformed("it is not an object".into()));
    };
    if object.get("version").and_then(serde_json::Value::as_i64) != Some(1) {
        return Err(Refusal::Malformed("only version 1 is known".into()));
    }
    let Some(hash) = object.get("sha256Hash").and_then(serde_json::Value::as_str) else {
        return Err(Refusal::Malformed("sha256Hash is missing".into()));
    };
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hash, &mut bytes)
        .map_err(|_| Refusal::Malformed("sha256Hash is not 64 hex digits".into()))?;
    Ok(Some(bytes))
}

/// Checks that `hash` is the SHA-256 of `query` (FIPS 180-4), as the client
/// computed it over the text it sent.
pub fn verify(hash: &QueryHash, query: &str) -> Result<(), Refusal> {
    let digest: QueryHash = Sha256::digest(query.as_bytes()).into();
    if digest == *hash {
        Ok(())
    } else {
        Err(Refusal::HashMismatch)
    }
}

/// The documents registered so far, least recently used evicted first once
/// their bytes (text plus [`ENTRY_OVERHEAD_BYTES`] each) would pass the
/// bound. A document larger than the whole bound is run but not kept.
/// Shared by every request of the process; the lock is held only to look up
/// or insert, never across an await.
pub struct PersistedQueries {
    capacity: usize,
    inner: Mutex<Store>,
}

#[derive(Default)]
struct Store {
    entries: HashMap<QueryHash, Entry>,
    /// Entries by last use (a tick that only grows): the first is evicted.
    recency: BTreeMap<u64, QueryHash>,
    tick: u64,
    bytes: usize,
}

struct Entry {
    query: Arc<str>,
    used: u64,
}

fn cost(query: &str) -> usize {
    query.len() + ENTRY_OVERHEAD_BYTES
}

impl PersistedQueries {
    /// A store that holds at most `capacity` bytes of documents.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Store::default()),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic elsewhere while holding the lock leaves a consistent store
        // (every change is finished before the guard drops), so carry on.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The document registered under `hash`, marked as just used.
    pub fn get(&self, hash: &QueryHash) -> Option<Arc<str>> {
        let mut store = self.store();
        store.tick += 1;
        let tick = store.tick;
        let entry = store.entries.get_mut(hash)?;
        let previous = std::mem::replace(&mut entry.used, tick);
        let query = entry.query.clone();
        store.recency.remove(&previous);
        store.recency.insert(tick, *hash);
        Some(query)
    }

    /// Keeps `query` under `hash` (already checked to be its SHA-256),
    /// evicting the least recently used documents to stay within the bound.
    pub fn insert(&self, hash: QueryHash, query: &str) {
        let size = cost(query);
        if size > self.capacity {
            return;
        }
        let mut store = self.store();
        if store.entries.contains_key(&hash) {
            drop(store);
            self.get(&hash);
            return;
        }
        while store.bytes + size > self.capacity {
            let Some((_, oldest)) = store.recency.pop_first() else {
                break;
            };
            if let Some(evicted) = store.entries.remove(&oldest) {
                store.bytes -= cost(&evicted.query);
            }
        }
        store.tick += 1;
        let tick = store.tick;
        store.recency.insert(tick, hash);
        store.entries.insert(
            hash,
            Entry {
                query: Arc::from(query),
                used: tick,
            },
        );
        store.bytes += size;
    }

    /// Bytes held now (texts and per-entry overhead), never over the bound.
    pub fn bytes(&self) -> usize {
        self.store().bytes
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn hash(query: &str) -> QueryHash {
        Sha256::digest(query.as_bytes()).into()
    }

    #[test]
    fn the_extension_is_read_as_apollo_and_urql_send_it() {
        let query = "{ __typename }";
        let hex = hex::encode(hash(query));
        let read = |value| hash_of_extension(Some(&value));
        assert_eq!(
            read(json!({"version": 1, "sha256Hash": hex})),
            Ok(Some(hash(query)))
        );
        assert_eq!(
            read(json!({"version": 1, "sha256Hash": hex, "miss": true})),
            Ok(Some(hash(query))),
            "urql's retry"
        );
        assert_eq!(hash_of_extension(None), Ok(None));
        for bad in [
            json!({"version": 2, "sha256Hash": hex}),
            json!({"sha256Hash": hex}),
            json!({"version": 1}),
            json!({"version": 1, "sha256Hash": "abc"}),
            json!({"version": 1, "sha256Hash": "z".repeat(64)}),
            json!("hash"),
        ] {
            assert!(
                matches!(read(bad.clone()), Err(Refusal::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(verify(&hash(query), query), Ok(()));
        assert_eq!(
            verify(&hash(query), "{ __typename  }"),
            Err(Refusal::HashMismatch)
        );
    }

    #[test]
    fn the_least_recently_used_go_first_and_the_bytes_stay_bounded() {
        let text = |n: usize| format!("{{ __typename }} # {n:0>100}");
        let size = cost(&text(0));
        let store = PersistedQueries::new(size * 3);
        for n in 0..3 {
            store.insert(hash(&text(n)), &text(n));
        }
        assert_eq!(store.bytes(), size * 3);
        // Using 0 makes 1 the oldest.
        assert!(store.get(&hash(&text(0))).is_some());
        store.insert(hash(&text(3)), &text(3));
        assert!(store.get(&hash(&text(1))).is_none());
        for n in [0, 2, 3] {
            assert_eq!(
                store.get(&hash(&text(n))).as_deref(),
                Some(text(n).as_str())
            );
        }
        assert_eq!(store.bytes(), size * 3);
        // Registering again changes nothing but recency.
        store.insert(hash(&text(3)), &text(3));
        assert_eq!(store.bytes(), size * 3);
        // A document larger than the bound is not kept, and evicts nothing.
        let huge = "#".repeat(size * 3);
        store.insert(hash(&huge), &huge);
        assert!(store.get(&hash(&huge)).is_none());
        assert_eq!(store.bytes(), size * 3);
        // A larger one evicts as many as it needs.
        let double = format!("{{ __typename }} #{}", "x".repeat(size));
        store.insert(hash(&double), &double);
        assert!(store.bytes() <= size * 3);
        assert!(store.get(&hash(&double)).is_some());
    }
}
