//! Server-assisted client-side caching: replies to cacheable reads kept in
//! the client and served without asking the server, kept correct by the
//! server's invalidations (`CLIENT TRACKING`).
//!
//! Opt-in per client ([`crate::Client::connect_cached`],
//! [`crate::ClusterOptions::cache`], the store's `"cache"` object).
//! With it, every multiplexed connection turns tracking on as soon as it is
//! opened (RESP3: invalidations arrive as push frames on the same
//! connection; RESP2: on a dedicated connection per node subscribed to
//! `__redis__:invalidate`, with `CLIENT TRACKING ON REDIRECT <its id>` on
//! the data connection), and no reply is cached through a connection until
//! its tracking is confirmed.
//!
//! The rules that keep it correct, each tested (`store` unit tests,
//! `tests/cache.rs`, the staleness drill `tests/cache_staleness.rs`):
//! - a read registers its key *before* it is sent; an invalidation (or a
//!   flush) arriving before its reply makes the reply go to the caller
//!   uncached;
//! - a lost or replaced connection, or on RESP2 its invalidation
//!   connection, makes everything learned through it unservable at once,
//!   before any other cached reply is served;
//! - a null invalidation (`FLUSHALL`, `FLUSHDB`) flushes everything;
//! - on a cluster, keys of slots that changed owner are dropped, and a
//!   redirected read is not cached;
//! - a write through this client invalidates its keys before it is sent
//!   and again when its reply arrives;
//! - nothing is served longer than `max_ttl` after it was read.
//!
//! Layout: `options` (the settings), `commands` (which commands, ids,
//! invalidation parsing; pure), `store` (the bounded store; pure),
//! `tracker` (tracking per node connection; tokio), `send` (the send path).
//! A client without a cache pays one `Option` check per command.

mod attached;
mod commands;
mod options;
mod send;
mod store;
mod tracker;

use std::sync::{Arc, Mutex};

pub(crate) use attached::{Attached, Cluster, Writes};
pub use options::{CacheMode, CacheOptions};
pub(crate) use store::Source;

use commands::Invalidation;
use store::Store;

/// A snapshot of a cache's counters ([`crate::Client::cache_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads of cacheable commands that went to the server.
    pub misses: u64,
    /// Invalidations (from the server, or this client's own writes) that
    /// dropped a cached key or marked a read of it in flight; those of keys
    /// this cache knew nothing of are not counted.
    pub invalidations: u64,
    /// Replies evicted to keep the bounds.
    pub evictions: u64,
    /// Whole-cache flushes (`FLUSHALL`, ...).
    pub flushes: u64,
    /// Replies found older than `max_ttl` (counted in `misses` too).
    pub expired: u64,
    /// Replies read but not cached (invalidated in flight, tracking not
    /// confirmed, errors, too large).
    pub not_stored: u64,
    /// Replies held now.
    pub entries: usize,
    /// Keys held now.
    pub keys: usize,
    /// Bytes held now (approximate: payloads plus a fixed overhead).
    pub bytes: usize,
}

impl CacheStats {
    /// Hits over lookups (0 without any).
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

/// One client's cache: the store, the options, and the tracking tasks of
/// its node connections.
pub(crate) struct Cache {
    opts: CacheOptions,
    store: Arc<Store>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("opts", &self.opts).field("stats", &self.store.stats()).finish()
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Cache {
    pub(crate) fn new(opts: CacheOptions) -> Arc<Cache> {
        let store =
            Arc::new(Store::new(opts.max_bytes, opts.max_entries, opts.max_ttl, opts.max_entry_bytes));
        let (stop, _) = tokio::sync::watch::channel(false);
        Arc::new(Cache { opts, store, stop, tasks: Mutex::new(Vec::new()) })
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> CacheStats {
        self.store.stats()
    }

    /// Drops the keys of `slots` (true per slot that changed owner) and
    /// voids the reads in flight.
    pub(crate) fn drop_slots(&self, changed: &[bool]) {
        if changed.iter().any(|c| *c) {
            self.store.drop_keys(|k| {
                changed.get(usize::from(crate::route::slot::key_slot(k))).copied().unwrap_or(true)
            });
        }
    }

    /// A read was redirected: the reads in flight may have been served by
    /// a node other than the one their tickets name, so none is cached.
    pub(crate) fn note_redirect(&self) {
        self.store.void_tickets();
    }

    /// Applies an invalidation message, if `frame` is one.
    fn on_push(store: &Store, frame: &crate::resp::Frame) {
        match commands::parse_invalidation(frame) {
            Some(Invalidation::Keys(keys)) => {
                for k in keys {
                    store.invalidate(&k);
                }
            }
            Some(Invalidation::All) => store.flush(),
            None => {}
        }
    }

    /// Stops the tracking tasks (and RESP2 invalidation connections) and
    /// waits for them; nothing is cached afterwards.
    pub(crate) async fn close(&self) {
        let _ = self.stop.send(true);
        self.store.flush();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// The store's lookup and fill paths for the criterion bench
/// (`benches/cache.rs`, through `__unstable::cache`). Not API.
pub(crate) mod bench_support {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::commands::{get_id, id_matches};
    use super::store::{Source, Store};
    use crate::resp::Frame;

    /// A store holding GET replies, and a tracking source.
    pub struct Filled {
        store: Arc<Store>,
        source: Arc<Source>,
    }

    impl Filled {
        /// A store bounded to `max_entries`, holding `keys` 64-byte GET replies (`key:<i>`).
        pub fn new(keys: usize, max_entries: usize) -> Filled {
            let store = Arc::new(Store::new(usize::MAX / 2, max_entries, Duration::from_secs(3600), 1 << 20));
            let source = Arc::new(Source::default());
            source.set_ready_from(0);
            let f = Filled { store, source };
            for i in 0..keys {
                f.fill(format!("key:{i}").as_bytes());
            }
            f
        }

        /// A cached GET reply of `key`, as the send path looks it up.
        pub fn get(&self, key: &[u8]) -> Option<Frame> {
            self.store.get(key, Instant::now(), |id| id_matches(id, b"GET", std::iter::empty()))
        }

        /// The miss path: a ticket, then the reply cached.
        pub fn fill(&self, key: &[u8]) -> bool {
            let Some(t) = self.store.begin(key, &self.source) else { return false };
            let value = Frame::BulkString(bytes::Bytes::from_static(&[b'v'; 64]));
            self.store.complete(t, get_id(), &value, Instant::now())
        }
    }
}
