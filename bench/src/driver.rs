//! One enum over the three client libraries: how each connects, sends a
//! `GET` and a `SET`, and names its errors.
//!
//! Each library is used the way its documentation shows, with its default
//! settings, so the numbers are what a user gets:
//!
//! - redwire: `Client::connect` (one multiplexed connection; the pool of
//!   exclusive connections stays unused) or `ClusterClient::connect`;
//! - redis-rs: `Client::get_multiplexed_async_connection`, cloned per task,
//!   or `ClusterClientBuilder::build().get_async_connection()`, cloned per task;
//! - fred: one `Client` from `Builder`, cloned per task (clones share the
//!   connection). The one setting added is a reconnect policy: without one
//!   fred does not reconnect at all, so a failover would only measure that.
//!
//! With `--cache` each library's own client-side cache is on, its defaults
//! again: redwire `Client::connect_cached` / `ClusterOptions::cache` with
//! `CacheOptions::default()`; redis-rs `cache-aio` with `CacheConfig::new()`
//! (through `AsyncConnectionConfig::set_cache_config`, or
//! `ClusterClientBuilder::cache_config`; RESP3 only). Reads go through the
//! same calls as without it; [`Driver::cache_stats`] reads each library's
//! own counters. fred has no managed cache (`Args::check` refuses it).
//!
//! Not here: the load itself and its verification (`redwire-load`, driven
//! through the `redwire_load::Driver` impl at the end of this file).

use std::borrow::Cow;

use bytes::Bytes;
use fred::prelude::{
    Builder as FredBuilder, ClientLike, Config as FredConfig, KeysInterface, ReconnectPolicy, ServerConfig,
};
use redis::AsyncCommands;
use redwire::commands::StringCommands;
pub use redwire_load::Failure;

use crate::args::{host_port, Args, ClientKind};
use crate::summary::CacheCounters;

/// A client ready to send; clone it once per task.
#[derive(Clone)]
pub enum Driver {
    /// redwire against one server.
    Redwire(redwire::Client),
    /// redwire against a cluster.
    RedwireCluster(redwire::cluster::ClusterClient),
    /// redis-rs against one server.
    RedisRs(redis::aio::MultiplexedConnection),
    /// redis-rs against a cluster.
    RedisRsCluster(redis::cluster_async::ClusterConnection),
    /// fred, standalone or clustered; `replicas` sends GETs through `Client::replicas()`.
    Fred {
        /// The client (clones share its connections).
        client: fred::prelude::Client,
        /// Read through the replica interface.
        replicas: bool,
    },
}

/// A `GET` reply's payload, in whatever type the library hands out (no copy).
pub enum Payload {
    /// redwire and fred give `Bytes`.
    Bytes(Bytes),
    /// redis-rs gives a `Vec<u8>`.
    Vec(Vec<u8>),
}

impl Payload {
    /// The payload bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Bytes(b) => b,
            Payload::Vec(v) => v,
        }
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

fn setup_failure(what: &str, message: String) -> Failure {
    Failure { kind: Cow::Borrowed("setup"), message: format!("{what}: {message}") }
}

impl Driver {
    /// Connects the library chosen by `args` to the server or cluster it names.
    ///
    /// # Errors
    /// The library's connect error, as a `setup` failure.
    pub async fn connect(args: &Args) -> Result<Driver, Failure> {
        match (args.client, args.url.as_deref()) {
            (ClientKind::Redwire, Some(url)) => {
                let opts =
                    redwire::url::parse_url(url).map_err(|e| setup_failure("redwire URL", e.to_string()))?;
                let pool = redwire::PoolOptions::default();
                let client = if args.cache {
                    redwire::Client::connect_cached(opts, pool, redwire::cache::CacheOptions::default()).await
                } else {
                    redwire::Client::connect(opts, pool).await
                }
                .map_err(|e| setup_failure("redwire connect", e.to_string()))?;
                Ok(Driver::Redwire(client))
            }
            (ClientKind::Redwire, None) => {
                let seeds = args
                    .cluster
                    .iter()
                    .map(|u| redwire::url::parse_url(u))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| setup_failure("redwire URL", e.to_string()))?;
                let opts = redwire::cluster::ClusterOptions {
                    seeds,
                    read_from_replicas: args.replicas,
                    read_your_writes: false,
                    cache: args.cache.then(redwire::cache::CacheOptions::default),
                    ..Default::default()
                };
                let client = redwire::cluster::ClusterClient::connect(opts)
                    .await
                    .map_err(|e| setup_failure("redwire cluster connect", e.to_string()))?;
                Ok(Driver::RedwireCluster(client))
            }
            (ClientKind::RedisRs, Some(url)) => {
                let client =
                    redis::Client::open(url).map_err(|e| setup_failure("redis-rs URL", e.to_string()))?;
                let mut config = redis::AsyncConnectionConfig::new();
                if args.cache {
                    config = config.set_cache_config(redis::caching::CacheConfig::new());
                }
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| setup_failure("redis-rs connect", e.to_string()))?;
                Ok(Driver::RedisRs(conn))
            }
            (ClientKind::RedisRs, None) => {
                let mut builder = redis::cluster::ClusterClientBuilder::new(args.cluster.clone());
                if args.replicas {
                    // What `read_from_replicas()` did before it was deprecated.
                    builder =
                        builder.read_routing_strategy(redis::cluster_read_routing::RandomReplicaStrategy);
                }
                if args.cache {
                    builder = builder.cache_config(redis::caching::CacheConfig::new());
                }
                let client = builder.build().map_err(|e| setup_failure("redis-rs cluster", e.to_string()))?;
                let conn = client
                    .get_async_connection()
                    .await
                    .map_err(|e| setup_failure("redis-rs cluster connect", e.to_string()))?;
                Ok(Driver::RedisRsCluster(conn))
            }
            (ClientKind::Fred, url) => {
                let config = match url {
                    Some(url) => {
                        FredConfig::from_url(url).map_err(|e| setup_failure("fred URL", e.to_string()))?
                    }
                    None => {
                        let hosts = args
                            .cluster
                            .iter()
                            .map(|u| host_port(u))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| setup_failure("fred URL", e))?;
                        FredConfig { server: ServerConfig::new_clustered(hosts), ..Default::default() }
                    }
                };
                let client = FredBuilder::from_config(config)
                    .set_policy(ReconnectPolicy::new_exponential(0, 100, 30_000, 2))
                    .build()
                    .map_err(|e| setup_failure("fred config", e.to_string()))?;
                client.init().await.map_err(|e| setup_failure("fred connect", e.to_string()))?;
                Ok(Driver::Fred { client, replicas: args.replicas })
            }
        }
    }

    /// The client-side cache's counters, from the library itself; `None`
    /// without a cache.
    pub fn cache_stats(&self) -> Option<CacheCounters> {
        match self {
            Driver::Redwire(c) => c.cache_stats().map(redwire_counters),
            Driver::RedwireCluster(c) => c.cache_stats().map(redwire_counters),
            Driver::RedisRs(c) => c.get_cache_statistics().map(redis_counters),
            Driver::RedisRsCluster(c) => c.get_cache_statistics().map(redis_counters),
            Driver::Fred { .. } => None,
        }
    }

    /// `GET key`.
    ///
    /// # Errors
    /// The library's error, classified.
    pub async fn get(&mut self, key: &[u8]) -> Result<Option<Payload>, Failure> {
        match self {
            Driver::Redwire(c) => c.get(key).await.map(|v| v.map(Payload::Bytes)).map_err(redwire_failure),
            Driver::RedwireCluster(c) => c
                .query::<Option<Bytes>>(&redwire::cmd("GET").arg(key))
                .await
                .map(|v| v.map(Payload::Bytes))
                .map_err(redwire_failure),
            Driver::RedisRs(c) => {
                c.get::<_, Option<Vec<u8>>>(key).await.map(|v| v.map(Payload::Vec)).map_err(redis_failure)
            }
            Driver::RedisRsCluster(c) => {
                c.get::<_, Option<Vec<u8>>>(key).await.map(|v| v.map(Payload::Vec)).map_err(redis_failure)
            }
            Driver::Fred { client, replicas: false } => {
                client.get::<Option<Bytes>, _>(key).await.map(|v| v.map(Payload::Bytes)).map_err(fred_failure)
            }
            Driver::Fred { client, replicas: true } => client
                .replicas()
                .get::<Option<Bytes>, _>(key)
                .await
                .map(|v| v.map(Payload::Bytes))
                .map_err(fred_failure),
        }
    }

    /// `SET key value`.
    ///
    /// # Errors
    /// The library's error, classified.
    pub async fn set(&mut self, key: &[u8], value: Bytes) -> Result<(), Failure> {
        match self {
            Driver::Redwire(c) => c.set(key, value).await.map_err(redwire_failure),
            Driver::RedwireCluster(c) => {
                c.query::<()>(&redwire::cmd("SET").arg(key).arg(value)).await.map_err(redwire_failure)
            }
            Driver::RedisRs(c) => c.set::<_, _, ()>(key, value.as_ref()).await.map_err(redis_failure),
            Driver::RedisRsCluster(c) => c.set::<_, _, ()>(key, value.as_ref()).await.map_err(redis_failure),
            Driver::Fred { client, .. } => {
                client.set::<(), _, _>(key, value, None, None, false).await.map_err(fred_failure)
            }
        }
    }
}

impl redwire_load::Driver for Driver {
    type Value = Payload;

    fn get(
        &mut self,
        key: &[u8],
    ) -> impl std::future::Future<Output = Result<Option<Payload>, Failure>> + Send {
        Driver::get(self, key)
    }

    fn set(
        &mut self,
        key: &[u8],
        value: Bytes,
    ) -> impl std::future::Future<Output = Result<(), Failure>> + Send {
        Driver::set(self, key, value)
    }
}

fn redwire_counters(s: redwire::cache::CacheStats) -> CacheCounters {
    CacheCounters { hits: s.hits, misses: s.misses, invalidations: s.invalidations }
}

fn redis_counters(s: redis::caching::CacheStatistics) -> CacheCounters {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    CacheCounters { hits: n(s.hit), misses: n(s.miss), invalidations: n(s.invalidate) }
}

fn redwire_failure(e: redwire::Error) -> Failure {
    Failure { kind: Cow::Borrowed(e.kind_name()), message: e.to_string() }
}

fn redis_failure(e: redis::RedisError) -> Failure {
    let kind = if e.is_timeout() {
        Cow::Borrowed("timeout")
    } else if let Some(code) = e.code() {
        Cow::Owned(code.to_ascii_lowercase())
    } else {
        Cow::Owned(format!("{:?}", e.kind()).to_ascii_lowercase())
    };
    Failure { kind, message: e.to_string() }
}

fn fred_failure(e: fred::prelude::Error) -> Failure {
    Failure { kind: Cow::Owned(format!("{:?}", e.kind()).to_ascii_lowercase()), message: e.to_string() }
}
