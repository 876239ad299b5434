//! Siblings: the objects of one kind resolved side by side (a page of a
//! list, or one object alone), and what has been loaded for all of them.
//!
//! Why not only the DataLoaders: a DataLoader gathers keys for a window of
//! time (`Settings::loader_batch_window`, 2 ms) and then runs one statement for
//! them. When resolving a large page takes longer than the window (a busy
//! machine, a debug build), the keys of one level split over two or more
//! batches, and a page of 100 cost 36 to 55 statements instead of a dozen
//! (issue 19). Siblings do not depend on timing: the first sibling that asks
//! for a relation loads it for every sibling at once, in one call to the
//! loader, with no window to wait for; the others wait for that load and
//! take their part. So a page costs one statement per relation the query
//! selects, whatever its size and however fast it resolves, and nothing for
//! a relation it does not select (issue 19, item 1).
//!
//! A relation is named by its loader key type `K`: one key type, one
//! relation of a sibling kind (`UserKey` is a provider's user, never
//! another user of the provider). A sibling joined after a relation was
//! loaded (not done today: pages are gathered before any field resolves)
//! still gets its value, through the loader on its own.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::{Context, dataloader::Loader};
use tokio::sync::OnceCell;

use super::loaders::{HiveLoader, Loaders};
use crate::error::{ApiError, ApiResult};

/// The rows `M` of the objects resolved side by side, shared by each of
/// those objects (cloning shares).
pub struct Siblings<M> {
    inner: Arc<Inner<M>>,
}

impl<M> Clone for Siblings<M> {
    fn clone(&self) -> Self {
        Siblings {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<M> {
    /// An object on its own: its relations go through the DataLoaders, which
    /// batch it with other lone objects resolved at the same moment (the
    /// providers of a page of engagements, the ids of `nodes(ids:)`).
    alone: bool,
    rows: Mutex<Vec<M>>,
    /// Per relation (the loader key's type), an `Arc<Relation<K, V>>`
    /// filled by the first sibling asking.
    loaded: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

/// One relation's values for all the siblings, and the siblings those
/// values make (the providers of a page of engagements), made once.
struct Relation<K, V> {
    values: OnceCell<HashMap<K, V>>,
    children: std::sync::OnceLock<Siblings<V>>,
    /// For a relation whose values are lists: every list's items, as one
    /// `Siblings<C>` (the engagements of a page of requests).
    items: std::sync::OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl<M: Clone + Send + Sync + 'static> Default for Siblings<M> {
    fn default() -> Self {
        Self::of(Vec::new())
    }
}

impl<M: Clone + Send + Sync + 'static> Siblings<M> {
    /// Siblings of these rows.
    pub fn of(rows: Vec<M>) -> Self {
        Self::new(false, rows)
    }

    fn new(alone: bool, rows: Vec<M>) -> Self {
        Siblings {
            inner: Arc::new(Inner {
                alone,
                rows: Mutex::new(rows),
                loaded: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// An object with no siblings of its own (a single object, a
    /// mutation's result, one of `nodes(ids:)`): its relations are loaded
    /// through the request's DataLoaders, batched with other such objects
    /// within the loader window.
    pub fn alone(row: &M) -> Self {
        Self::new(true, vec![row.clone()])
    }

    /// Adds `row` and gives back the siblings it joined: the way a page is
    /// gathered while its nodes are made, one by one.
    pub fn join(&self, row: &M) -> Self {
        self.inner
            .rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(row.clone());
        self.clone()
    }

    /// The value of relation `K` for `row`, one of the siblings: `key_of`
    /// gives a row's key (None: the row has none, and the answer is None).
    /// The first call for `K` loads every sibling's key in one call to the
    /// loader; the others wait for it.
    pub async fn load<K>(
        &self,
        ctx: &Context<'_>,
        key_of: impl Fn(&M) -> Option<K>,
        row: &M,
    ) -> ApiResult<Option<Value<K>>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        HiveLoader: Loader<K, Error = ApiError>,
    {
        Ok(self
            .load_related(ctx, key_of, row)
            .await?
            .map(|(value, _)| value))
    }

    /// As [`Siblings::load`], with the value's own siblings: the values of
    /// relation `K` for all these siblings (a page of engagements gives its
    /// providers), so that their relations load together in turn.
    pub async fn load_related<K>(
        &self,
        ctx: &Context<'_>,
        key_of: impl Fn(&M) -> Option<K>,
        row: &M,
    ) -> ApiResult<Option<(Value<K>, Siblings<Value<K>>)>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        HiveLoader: Loader<K, Error = ApiError>,
    {
        let Some(key) = key_of(row) else {
            return Ok(None);
        };
        if self.inner.alone {
            let value = ctx.data_unchecked::<Loaders>().load_one(key).await?;
            return Ok(value.map(|value| {
                let alone = Siblings::alone(&value);
                (value, alone)
            }));
        }
        let relation = self.relation::<K>();
        let values = relation
            .values
            .get_or_try_init(|| async {
                let mut keys: Vec<K> = {
                    let rows = self
                        .inner
                        .rows
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    rows.iter().filter_map(&key_of).collect()
                };
                // Two siblings may share a key (two engagements, one
                // provider): ask for it once.
                let mut seen = std::collections::HashSet::new();
                keys.retain(|key| seen.insert(key.clone()));
                Loader::<K>::load(loader(ctx), &keys).await
            })
            .await?;
        if let Some(value) = values.get(&key) {
            let children = relation
                .children
                .get_or_init(|| Siblings::of(values.values().cloned().collect()));
            return Ok(Some((value.clone(), children.clone())));
        }
        // Joined after the load, or missing: ask for this key alone.
        let value = Loader::<K>::load(loader(ctx), std::slice::from_ref(&key))
            .await?
            .remove(&key);
        Ok(value.map(|value| {
            let alone = Siblings::alone(&value);
            (value, alone)
        }))
    }

    /// For a relation whose value is a list (a request's engagements): the
    /// list for `row` (empty when it has none), and the items of every
    /// sibling's list as siblings of each other, so that their own
    /// relations load for all of them at once.
    pub async fn load_list<K, C>(
        &self,
        ctx: &Context<'_>,
        key_of: impl Fn(&M) -> Option<K>,
        row: &M,
    ) -> ApiResult<(Vec<C>, Siblings<C>)>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        C: Clone + Send + Sync + 'static,
        HiveLoader: Loader<K, Value = Vec<C>, Error = ApiError>,
    {
        let list = self.load(ctx, key_of, row).await?.unwrap_or_default();
        if self.inner.alone {
            return Ok((list.clone(), Siblings::of(list)));
        }
        let relation = self.relation::<K>();
        let Some(values) = relation.values.get() else {
            // Loaded on its own (joined late): its items alone are siblings.
            return Ok((list.clone(), Siblings::of(list)));
        };
        let items = relation
            .items
            .get_or_init(|| {
                let all: Vec<C> = values.values().flatten().cloned().collect();
                Arc::new(Siblings::of(all))
            })
            .clone()
            .downcast::<Siblings<C>>()
            .expect("a list relation's items are siblings of its item type");
        Ok((list, Siblings::clone(&items)))
    }

    /// Relation `K`'s slot, made on first use.
    fn relation<K>(&self) -> Arc<Relation<K, Value<K>>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        HiveLoader: Loader<K, Error = ApiError>,
    {
        let mut loaded = self
            .inner
            .loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = loaded
            .entry(TypeId::of::<K>())
            .or_insert_with(|| {
                Arc::new(Relation::<K, Value<K>> {
                    values: OnceCell::new(),
                    children: std::sync::OnceLock::new(),
                    items: std::sync::OnceLock::new(),
                })
            })
            .clone();
        slot.downcast()
            .expect("a relation's slot holds the cell made for its key type")
    }
}

/// What the loader gives for key `K`.
pub type Value<K> = <HiveLoader as Loader<K>>::Value;

/// The request's loader itself, called directly: siblings have gathered
/// their keys already and have no window to wait for.
fn loader<'a>(ctx: &'a Context<'_>) -> &'a HiveLoader {
    ctx.data_unchecked::<Loaders>().loader()
}
