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
//! Values are kept per loader key type `K`, and each `key_of` function
//! (each closure is a type of its own) loads the keys its siblings name that
//! are not loaded yet: two fields naming the same relation share one load,
//! and two relations with the same key type (who proposed and who ended an
//! engagement, both users) load one statement each. A sibling joined after a
//! relation was loaded (not done today: pages are gathered before any field
//! resolves) still gets its value, through the loader on its own.
//!
//! The loads are boxed: a loader's future (a sea-orm query's state) is
//! kilobytes, and, unboxed, it made the future of every field that reads a
//! relation that large; async-graphql builds and moves each field's future,
//! so a page of 100 moved megabytes (issue 19, perf). Boxed, the size is
//! paid once per load, not once per field.
//!
//! Siblings resolve the same selection (they are the items of one list
//! field, or the values of one field across such items), which lets a
//! confidential-read trace be written for all of them at once.

use std::{
    any::{Any, TypeId},
    collections::{HashMap, HashSet},
    hash::Hash,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::{Context, dataloader::Loader};

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
    /// ids of `nodes(ids:)`, the results of aliased mutations).
    alone: bool,
    rows: Mutex<Vec<M>>,
    /// Per relation (the loader key's type), an `Arc<Relation<K, V>>`
    /// filled by the first sibling asking.
    loaded: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

/// The values of one key type `K` loaded for the siblings, and the
/// siblings those values make (the providers of a page of engagements).
///
/// Every sibling asks, so a page of 100 with four fields on one relation
/// asks 400 times while the first load is under way. They wait on the
/// `key_of` function's [`OnceCell`](tokio::sync::OnceCell), which wakes
/// them all at once when the load is in: a lock held for the load made them
/// take it in turn, one wake-up after another (a twentieth of a mentors
/// page's CPU, issue 19).
struct Relation<K, V> {
    /// Held while a `key_of` function loads, so that another one, on the
    /// same key type, sees what it loaded and asks only for the rest.
    loading: tokio::sync::Mutex<()>,
    state: Mutex<Loaded<K, V>>,
}

struct Loaded<K, V> {
    values: HashMap<K, V>,
    /// Per `key_of` function (by type), set once its keys are loaded for
    /// every sibling: two relations may share a key type (who proposed and
    /// who ended an engagement are both users), and each loads what the
    /// other has not. A load that fails leaves it unset, and the next
    /// sibling tries again.
    covered: HashMap<TypeId, Arc<tokio::sync::OnceCell<()>>>,
    children: Option<Siblings<V>>,
    /// For a relation whose values are lists: every list's items, as one
    /// `Siblings<C>` (the engagements of a page of requests).
    items: Option<Arc<dyn Any + Send + Sync>>,
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
        lock(&self.inner.rows).push(row.clone());
        self.clone()
    }

    /// The value of relation `K` for `row`, one of the siblings: `key_of`
    /// gives a row's key (None: the row has none, and the answer is None).
    /// The first call with this `key_of` loads every sibling's key in one
    /// call to the loader (those not loaded already); the others wait for it.
    pub async fn load<K, F>(
        &self,
        ctx: &Context<'_>,
        key_of: F,
        row: &M,
    ) -> ApiResult<Option<Value<K>>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        F: Fn(&M) -> Option<K> + 'static,
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
    pub async fn load_related<K, F>(
        &self,
        ctx: &Context<'_>,
        key_of: F,
        row: &M,
    ) -> ApiResult<Option<(Value<K>, Siblings<Value<K>>)>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        F: Fn(&M) -> Option<K> + 'static,
        HiveLoader: Loader<K, Error = ApiError>,
    {
        let Some(key) = key_of(row) else {
            return Ok(None);
        };
        if self.inner.alone {
            let value = Box::pin(ctx.data_unchecked::<Loaders>().load_one(key)).await?;
            return Ok(value.map(|value| {
                let alone = Siblings::alone(&value);
                (value, alone)
            }));
        }
        let relation = self.relation::<K>();
        // Loaded already, by whichever `key_of` (a key's value is the
        // same whoever asked it): taken at once, with nothing to wait on.
        if let Some(found) = relation.value_with_children(&key) {
            return Ok(Some(found));
        }
        self.cover(ctx, &relation, &key_of).await?;
        if let Some(found) = relation.value_with_children(&key) {
            return Ok(Some(found));
        }
        // Joined after the load, or missing: ask for this key alone.
        let value = Box::pin(Loader::<K>::load(loader(ctx), std::slice::from_ref(&key)))
            .await?
            .remove(&key);
        Ok(value.map(|value| {
            let alone = Siblings::alone(&value);
            (value, alone)
        }))
    }

    /// Loads relation `K` for every sibling now, before their fields
    /// resolve: for a list whose items ask for that relation and for no
    /// other (so there is no other load it could run beside), so that each
    /// item's fields find their value ready rather than wait for the first
    /// of them to load it. A page of 100 mentors with four fields on their
    /// card had 400 waiting, each woken and polled again when the card was
    /// in (issue 19, perf). Not for an object alone, whose relations go
    /// through the DataLoaders.
    pub async fn preload<K, F>(&self, ctx: &Context<'_>, key_of: F) -> ApiResult<()>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        F: Fn(&M) -> Option<K> + 'static,
        HiveLoader: Loader<K, Error = ApiError>,
    {
        if self.inner.alone {
            return Ok(());
        }
        self.cover(ctx, &self.relation::<K>(), &key_of).await
    }

    /// Makes sure `key_of` function `F` has loaded relation `K` for every
    /// sibling: the first caller loads what is missing, the others wait on
    /// the function's cell and are woken together.
    async fn cover<K, F>(
        &self,
        ctx: &Context<'_>,
        relation: &Relation<K, Value<K>>,
        key_of: &F,
    ) -> ApiResult<()>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        F: Fn(&M) -> Option<K> + 'static,
        HiveLoader: Loader<K, Error = ApiError>,
    {
        relation
            .covered_by::<F>()
            .get_or_try_init(|| self.load_missing(ctx, relation, key_of))
            .await?;
        Ok(())
    }

    /// Loads relation `K` for every sibling whose key (by `key_of`) is not
    /// loaded yet, in one call to the loader; the values found join the
    /// relation's children, if they are made already.
    async fn load_missing<K, F>(
        &self,
        ctx: &Context<'_>,
        relation: &Relation<K, Value<K>>,
        key_of: &F,
    ) -> ApiResult<()>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        F: Fn(&M) -> Option<K> + 'static,
        HiveLoader: Loader<K, Error = ApiError>,
    {
        let _loading = relation.loading.lock().await;
        let missing: Vec<K> = {
            let state = lock(&relation.state);
            let rows = lock(&self.inner.rows);
            // Two siblings may share a key (two engagements, one
            // provider): ask for it once.
            let mut seen = HashSet::new();
            rows.iter()
                .filter_map(key_of)
                .filter(|key| !state.values.contains_key(key) && seen.insert(key.clone()))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let found = Box::pin(Loader::<K>::load(loader(ctx), &missing)).await?;
        let mut state = lock(&relation.state);
        if let Some(children) = &state.children {
            for value in found.values() {
                children.join(value);
            }
        }
        state.values.extend(found);
        Ok(())
    }

    /// For a relation whose value is a list (a request's engagements): the
    /// list for `row` (empty when it has none), and the items of every
    /// sibling's list as siblings of each other, so that their own
    /// relations load for all of them at once.
    pub async fn load_list<K, C, F>(
        &self,
        ctx: &Context<'_>,
        key_of: F,
        row: &M,
    ) -> ApiResult<(Vec<C>, Siblings<C>)>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        C: Clone + Send + Sync + 'static,
        F: Fn(&M) -> Option<K> + 'static,
        HiveLoader: Loader<K, Value = Vec<C>, Error = ApiError>,
    {
        let list = self.load(ctx, key_of, row).await?.unwrap_or_default();
        if self.inner.alone {
            return Ok((list.clone(), Siblings::of(list)));
        }
        let relation = self.relation::<K>();
        let mut state = lock(&relation.state);
        let items = match &state.items {
            Some(items) => items.clone(),
            None => {
                let all: Vec<C> = state.values.values().flatten().cloned().collect();
                let items: Arc<dyn Any + Send + Sync> = Arc::new(Siblings::of(all));
                state.items = Some(items.clone());
                items
            }
        };
        let items = items
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
        let mut loaded = lock(&self.inner.loaded);
        let slot = loaded
            .entry(TypeId::of::<K>())
            .or_insert_with(|| {
                Arc::new(Relation::<K, Value<K>> {
                    loading: tokio::sync::Mutex::new(()),
                    state: Mutex::new(Loaded {
                        values: HashMap::new(),
                        covered: HashMap::new(),
                        children: None,
                        items: None,
                    }),
                })
            })
            .clone();
        slot.downcast()
            .expect("a relation's slot holds the state made for its key type")
    }
}

impl<K: Hash + Eq, V: Clone + Send + Sync + 'static> Relation<K, V> {
    /// The value loaded for `key`, with the relation's children (all the
    /// values loaded, as siblings), made on first use.
    fn value_with_children(&self, key: &K) -> Option<(V, Siblings<V>)> {
        let mut state = lock(&self.state);
        let value = state.values.get(key)?.clone();
        let children = match &state.children {
            Some(children) => children.clone(),
            None => {
                let children = Siblings::of(state.values.values().cloned().collect());
                state.children = Some(children.clone());
                children
            }
        };
        Some((value, children))
    }

    /// The cell that says whether `key_of` function `F` has loaded.
    fn covered_by<F: 'static>(&self) -> Arc<tokio::sync::OnceCell<()>> {
        lock(&self.state)
            .covered
            .entry(TypeId::of::<F>())
            .or_default()
            .clone()
    }
}

/// A std lock, never held across an await; a poisoned one is taken as it
/// is (nothing is left half-changed under these).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the loader gives for key `K`.
pub type Value<K> = <HiveLoader as Loader<K>>::Value;

/// The request's loader itself, called directly: siblings have gathered
/// their keys already and have no window to wait for.
fn loader<'a>(ctx: &'a Context<'_>) -> &'a HiveLoader {
    ctx.data_unchecked::<Loaders>().loader()
}
