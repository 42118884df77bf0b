//! Lazy start: a server-backed store that connects on its first operation.
//!
//! Lives here: [`Lazy`], which holds a checked configuration and builds the
//! real store (with [`Store::from_config`]) the first time an operation needs
//! it, so a process can start while Redis is still down, as Stalwart does.
//! Not here: the operations themselves (the store that gets built runs them),
//! or the configuration-to-options mapping (`connect`).
//!
//! What is checked up front, so a typo still fails at start: the URLs, the
//! secrets (environment variables and files are read) and the `Sharded`
//! nesting rules. What waits for the first operation: every connection. A
//! failed start is not remembered: the next operation tries again (each
//! attempt bounded by the store's `timeout`), and its error is
//! [`Error::NotSent`] around the connection error, since no command of the
//! operation left the process.

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::connect::{at_path, cluster_options, redis_options, sentinel_options};
use super::{not_a_shard, Store, StoreKind};
use crate::config::{Compat, StoreConfig};
use crate::error::{Error, Result};

/// A store started on first use. Clones share the started store.
#[derive(Clone, Debug)]
pub(super) struct Lazy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: StoreConfig,
    kind: StoreKind,
    started: OnceCell<Store>,
}

impl Lazy {
    /// Checks `config` as [`Store::from_config`] would before connecting, and
    /// keeps it for the first operation.
    ///
    /// # Errors
    /// [`Error::Config`] (with the JSON path) for an unreadable secret or a
    /// store not allowed inside `Sharded`; [`Error::Url`] for a bad URL.
    pub(super) fn new(config: &StoreConfig, kind: StoreKind) -> Result<Lazy> {
        check(config)?;
        Ok(Lazy { inner: Arc::new(Inner { config: config.clone(), kind, started: OnceCell::new() }) })
    }

    /// The variant the configuration names.
    pub(super) fn kind(&self) -> StoreKind {
        self.inner.kind
    }

    /// True once a first operation has connected the store.
    pub(super) fn is_started(&self) -> bool {
        self.inner.started.initialized()
    }

    /// Whose behaviour the store follows (its configuration's `compat`).
    pub(super) fn compat(&self) -> Compat {
        self.inner.config.compat()
    }

    /// The store following `compat`: the started one's (sharing its
    /// connections) when started, else a lazy store of its own.
    pub(super) fn with_compat(&self, compat: Compat) -> Store {
        if let Some(started) = self.inner.started.get() {
            return started.with_compat(compat);
        }
        let mut config = self.inner.config.clone();
        match &mut config {
            StoreConfig::Default => {}
            StoreConfig::Redis(r) => r.compat = compat,
            StoreConfig::RedisCluster(c) => c.compat = compat,
            StoreConfig::RedisSentinel(s) => s.compat = compat,
            StoreConfig::Sharded(s) => s.compat = compat,
        }
        let inner = Inner { config, kind: self.inner.kind, started: OnceCell::new() };
        Store { backend: super::Backend::Lazy(Lazy { inner: Arc::new(inner) }) }
    }

    /// The started store, connecting it now if no operation did yet.
    /// Concurrent first operations share one attempt.
    ///
    /// # Errors
    /// [`Error::NotSent`] around the connection error while the servers
    /// cannot be reached; configuration errors as they are.
    pub(super) async fn store(&self) -> Result<&Store> {
        self.inner.started.get_or_try_init(|| Box::pin(Store::from_config(&self.inner.config))).await.map_err(
            |e| match e {
                Error::Config(_) | Error::Url(_) | Error::NotSent { .. } => e,
                other => Error::NotSent { cause: Arc::new(other) },
            },
        )
    }
}

/// Everything [`Store::from_config`] checks before it connects.
fn check(config: &StoreConfig) -> Result<()> {
    match config {
        StoreConfig::Default => Ok(()),
        StoreConfig::Redis(redis) => redis_options(redis).map(drop),
        StoreConfig::RedisCluster(cluster) => cluster_options(cluster).map(drop),
        StoreConfig::RedisSentinel(sentinel) => sentinel_options(sentinel).map(drop),
        StoreConfig::Sharded(sharded) => {
            for (i, store) in sharded.stores.iter().enumerate() {
                let path = format!("stores[{i}]");
                match store {
                    StoreConfig::Redis(_) | StoreConfig::RedisCluster(_) => {
                        check(store).map_err(|e| at_path(&path, e))?
                    }
                    other => return Err(not_a_shard(&path, other.type_name())),
                }
            }
            Ok(())
        }
    }
}
