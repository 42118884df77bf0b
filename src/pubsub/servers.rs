//! Which servers pub/sub talks to, and how it finds a cluster's slot owners.
//!
//! Lives here: [`Servers`] (a standalone server, a cluster's seeds, or the
//! sentinels of a master, also built from a store configuration) and the
//! order in which the subscriber asks nodes for the slot map. Not here: the
//! asking itself, which is the cluster router's (`route::fetch`: `CLUSTER
//! SHARDS`, `CLUSTER SLOTS` as fallback, TLS server name per node), or the
//! router of ordinary commands (`route::cluster`).

use std::sync::Arc;

use crate::config::StoreConfig;
use crate::conn::ConnectOptions;
use crate::error::{Error, NodeAddr};
use crate::route::fetch::fetch_first;
use crate::route::SlotMap;
use crate::sentinel::SentinelOptions;

/// The servers of a subscriber or publisher: one standalone server, a
/// cluster's seed nodes (any of them may be down), or the master of a
/// sentinel-monitored service (found through the sentinels at every connect).
#[derive(Debug, Clone, PartialEq)]
pub struct Servers {
    seeds: Vec<ConnectOptions>,
    cluster: bool,
    sentinel: Option<Arc<SentinelOptions>>,
}

impl Servers {
    /// One server (a cluster node used this way sees no sharding).
    pub fn standalone(opts: ConnectOptions) -> Servers {
        Servers { seeds: vec![opts], cluster: false, sentinel: None }
    }

    /// A cluster, through these seed nodes.
    pub fn cluster(seeds: Vec<ConnectOptions>) -> Servers {
        Servers { seeds, cluster: true, sentinel: None }
    }

    /// The master of a sentinel-monitored service: the subscriber asks the
    /// sentinels for it at every (re)connect; the publisher follows it as
    /// [`SentinelClient`](crate::sentinel::SentinelClient) does.
    pub fn sentinel(opts: SentinelOptions) -> Servers {
        Servers { seeds: vec![opts.master.clone()], cluster: false, sentinel: Some(Arc::new(opts)) }
    }

    /// The servers of a store configuration: `Redis` is standalone,
    /// `RedisCluster` a cluster (its `authSecret` resolved now),
    /// `RedisSentinel` its master through its sentinels (both secrets
    /// resolved now), `Sharded`
    /// the first of its stores (pub/sub needs one bus, not a key space).
    ///
    /// # Errors
    /// [`Error::Config`] for the embedded `Default` store, which has no
    /// server (the coordinator uses an in-process bus for it), and for a
    /// secret that cannot be read; [`Error::Url`] for a bad URL.
    pub fn from_config(config: &StoreConfig) -> Result<Servers, Error> {
        match config {
            StoreConfig::Default => {
                Err(Error::Config("the Default store has no server to publish or subscribe through".into()))
            }
            StoreConfig::Redis(redis) => Ok(Servers::standalone(redis.connect_options()?)),
            StoreConfig::RedisCluster(cluster) => {
                let password = cluster.auth_secret.resolve()?;
                Ok(Servers::cluster(cluster.connect_options(password.as_ref())?))
            }
            StoreConfig::RedisSentinel(sentinel) => {
                let sentinel_password = sentinel.resolve_sentinel_secret()?;
                let password = sentinel.auth_secret.resolve()?;
                let options = sentinel.connect_options(sentinel_password.as_ref(), password.as_ref())?;
                Ok(Servers::sentinel(SentinelOptions {
                    sentinels: options.sentinels,
                    service_name: sentinel.service_name.clone(),
                    master: options.master,
                    ..SentinelOptions::default()
                }))
            }
            StoreConfig::Sharded(sharded) => match sharded.stores.first() {
                Some(first) => Servers::from_config(first),
                None => Err(Error::Config("a Sharded store without stores".into())),
            },
        }
    }

    /// True for a cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The sentinel settings, when the servers are a sentinel-monitored master.
    pub fn sentinel_options(&self) -> Option<&Arc<SentinelOptions>> {
        self.sentinel.as_ref()
    }

    /// The options to start from: the server, or the first seed.
    ///
    /// # Errors
    /// [`Error::Config`] for a cluster without seeds.
    pub(crate) fn template(&self) -> Result<&ConnectOptions, Error> {
        self.seeds.first().ok_or_else(|| Error::Config("a cluster needs at least one seed".into()))
    }

    /// The seeds (the one server when standalone).
    pub fn seeds(&self) -> &[ConnectOptions] {
        &self.seeds
    }

    /// Servers from URLs (see [`crate::url::parse_url`]): one URL is a
    /// standalone server, several are a cluster's seeds (as a store's
    /// `urls`). For a cluster reached through a single seed, say so:
    /// `Servers::cluster(vec![parse_url(url)?])`.
    ///
    /// # Errors
    /// [`Error::Config`] without URLs; [`Error::Url`] for a bad one.
    pub fn from_urls<S: AsRef<str>>(urls: &[S]) -> Result<Servers, Error> {
        let mut seeds =
            urls.iter().map(|u| crate::url::parse_url(u.as_ref())).collect::<Result<Vec<_>, _>>()?;
        match seeds.len() {
            0 => Err(Error::Config("no server URL".into())),
            1 => Ok(Servers::standalone(seeds.remove(0))),
            _ => Ok(Servers::cluster(seeds)),
        }
    }
}

pub(crate) use crate::route::fetch::node_options;

/// The slot map as the first answering node sees it: `known` nodes first
/// (from an earlier map: more current than the seeds), then the seeds. The
/// same fetch as the cluster router's (`route::fetch`).
///
/// # Errors
/// The last node's error when none answers with a usable map.
pub(crate) async fn fetch_slot_map(
    template: &ConnectOptions,
    known: &[NodeAddr],
    seeds: &[ConnectOptions],
) -> Result<SlotMap, Error> {
    fetch_first(template, known, seeds).await
}

/// The addresses in `map`, primaries first, for the next lookup.
pub(crate) fn known_nodes(map: &SlotMap) -> Vec<NodeAddr> {
    let mut nodes: Vec<NodeAddr> = map.primaries().cloned().collect();
    for n in map.nodes() {
        if !nodes.contains(n) {
            nodes.push(n.clone());
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RedisClusterConfig, RedisConfig, SecretSource, ShardedConfig};
    use crate::conn::Address;
    use crate::secret::Secret;

    #[test]
    fn servers_from_each_store_variant() {
        assert!(matches!(Servers::from_config(&StoreConfig::Default), Err(Error::Config(_))));
        let redis =
            StoreConfig::Redis(RedisConfig { url: "redis://h:6380/2".into(), ..RedisConfig::default() });
        let standalone = Servers::from_config(&redis).unwrap();
        assert!(!standalone.is_cluster());
        let o = &standalone.seeds()[0];
        assert_eq!(o.address, Address::Tcp { host: "h".into(), port: 6380 });
        assert_eq!(o.db, 2);
        let cluster = StoreConfig::RedisCluster(RedisClusterConfig {
            urls: vec!["redis://a:7000".into(), "redis://b:7001".into()],
            auth_username: Some("bob".into()),
            auth_secret: SecretSource::Value(Secret::new("pw")),
            ..RedisClusterConfig::default()
        });
        let servers = Servers::from_config(&cluster).unwrap();
        assert!(servers.is_cluster());
        assert_eq!(servers.seeds().len(), 2);
        assert_eq!(servers.seeds()[1].username.as_deref(), Some("bob"));
        assert_eq!(servers.seeds()[1].password.as_ref().map(Secret::expose), Some("pw"));
        let sharded = StoreConfig::Sharded(ShardedConfig {
            stores: vec![cluster.clone(), redis],
            compat: Default::default(),
        });
        assert_eq!(Servers::from_config(&sharded).unwrap(), servers);
        assert!(Servers::cluster(vec![]).template().is_err());
        let sentinel = StoreConfig::RedisSentinel(crate::config::RedisSentinelConfig {
            urls: vec!["redis://s1:26379".into(), "redis://s2:26379".into()],
            auth_secret: SecretSource::Value(Secret::new("pw")),
            ..Default::default()
        });
        let servers = Servers::from_config(&sentinel).unwrap();
        assert!(!servers.is_cluster());
        let opts = servers.sentinel_options().expect("sentinel settings");
        assert_eq!(opts.sentinels.len(), 2);
        assert_eq!(opts.service_name, "mymaster");
        assert_eq!(servers.template().unwrap().username.as_deref(), Some("stalwart"));
    }

    #[test]
    fn servers_from_urls() {
        let one = Servers::from_urls(&["redis://h:6380/2"]).unwrap();
        assert!(!one.is_cluster());
        assert_eq!(one.seeds()[0].address, Address::Tcp { host: "h".into(), port: 6380 });
        let two = Servers::from_urls(&["redis://a:7000", "redis://b:7001"]).unwrap();
        assert!(two.is_cluster());
        assert_eq!(two.seeds().len(), 2);
        assert!(matches!(Servers::from_urls::<&str>(&[]), Err(Error::Config(_))));
        assert!(Servers::from_urls(&["redis://a:7000", "nonsense://"]).is_err());
    }
}
