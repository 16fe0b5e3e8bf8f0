//! Short-lived read caches in front of two hot lookups: API key → principal (every request) and
//! product → integration profile (every seller call).
//!
//! The invalidation rule: an entry is served for at most its time to live (real time:
//! [`AUTH_TTL`], [`PROFILE_TTL`]) after it was read from the database. A change made through
//! this process's store clears the affected entries when it commits — revoking a key or
//! changing a party's status clears every cached principal, saving an integration profile
//! clears that product's entry — so in one process a revoked key or a replaced seller Key is
//! never served again after the change returns. A change made by *another* process on the same
//! PostgreSQL database reaches this one within the time to live. Lookups that find nothing are
//! not cached. A generation counter keeps a read that raced with an invalidation from putting
//! the old value back.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a principal is served from memory: a key revoked (or a party suspended) by another
/// process stops working within this time.
pub const AUTH_TTL: Duration = Duration::from_secs(1);

/// How long an integration profile (URL, sealed seller Key, protocol) is served from memory.
pub const PROFILE_TTL: Duration = Duration::from_secs(5);

/// Entries kept at most; past this the cache is emptied (a cache, not a store).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
struct Inner<K, V> {
    generation: u64,
    entries: HashMap<K, (V, Instant)>,
}

#[derive(Debug, Clone)]
pub(crate) struct TtlCache<K, V> {
    ttl: Duration,
    inner: Arc<Mutex<Inner<K, V>>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            inner: Arc::new(Mutex::new(Inner {
                generation: 0,
                entries: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached value if it is younger than the time to live.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let inner = self.lock();
        let (v, at) = inner.entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    /// Call before reading the database; pass the result to [`TtlCache::put`].
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Caches `value` read at `generation`, unless an invalidation happened since.
    pub(crate) fn put(&self, generation: u64, key: K, value: V) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(key, (value, Instant::now()));
    }

    pub(crate) fn remove(&self, key: &K) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(key);
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }
}
