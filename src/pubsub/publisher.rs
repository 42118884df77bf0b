//! [`Publisher`]: `PUBLISH` and `SPUBLISH`, standalone, in a cluster, or to a
//! sentinel-monitored master.
//!
//! Standalone, both go over one self-healing multiplexed connection. With
//! sentinels, through a [`SentinelClient`], which follows failovers. In a
//! cluster, both go through the cluster router ([`ClusterClient`]):
//! `SPUBLISH` to the primary owning the channel's slot, following `MOVED`,
//! `ASK` and failovers; `PUBLISH` to any primary (the cluster forwards it to
//! every node). A publish whose outcome is unknown (connection lost after
//! writing) is never resent: the message could arrive twice.

use crate::client::Client;
use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::commands::{AnyClient, Execute};
use crate::error::Error;
use crate::pool::PoolOptions;
use crate::resp::Frame;
use crate::route::{ClusterClient, ClusterOptions};
use crate::sentinel::{SentinelClient, SentinelOptions};

use super::servers::Servers;

/// Publishes to channels and sharded channels. Clones share connections.
#[derive(Clone, Debug)]
pub struct Publisher {
    inner: AnyClient,
}

impl Publisher {
    /// Connects (standalone) or reads the slot map (cluster), so a wrong
    /// address or password shows here.
    ///
    /// # Errors
    /// The connect error, or the slot map lookup's.
    pub async fn connect(servers: Servers) -> Result<Publisher, Error> {
        let inner = if let Some(sentinel) = servers.sentinel_options() {
            AnyClient::Sentinel(SentinelClient::connect(SentinelOptions::clone(sentinel)).await?)
        } else if servers.is_cluster() {
            let opts = ClusterOptions { seeds: servers.seeds().to_vec(), ..ClusterOptions::default() };
            AnyClient::Cluster(ClusterClient::connect(opts).await?)
        } else {
            // Publishing needs no exclusive connection: a pool of one, never filled.
            let pool = PoolOptions { max_connections: 1, ..PoolOptions::default() };
            AnyClient::Standalone(Client::connect(servers.template()?.clone(), pool).await?)
        };
        Ok(Publisher { inner })
    }

    /// A publisher over an existing cluster client (shares its connections).
    pub fn from_cluster(client: ClusterClient) -> Publisher {
        Publisher { inner: AnyClient::Cluster(client) }
    }

    /// A publisher over any existing client (shares its connections).
    pub fn from_client(client: AnyClient) -> Publisher {
        Publisher { inner: client }
    }

    /// `PUBLISH channel message`: how many subscribers received it (in a
    /// cluster, those connected to the node it was published on).
    ///
    /// # Errors
    /// Connection failures ([`Error::OutcomeUnknown`] when it may have been
    /// published), server errors, [`Error::RetriesExhausted`].
    ///
    /// # Cancel safety
    /// Dropping the future may or may not publish the message.
    pub async fn publish<C: ToArg, M: ToArg>(&self, channel: C, message: M) -> Result<u64, Error> {
        self.count(&cmd("PUBLISH").arg(channel).arg(message)).await
    }

    /// `SPUBLISH channel message` to the shard owning the channel: how many
    /// subscribers of that shard received it.
    ///
    /// # Errors
    /// As [`Publisher::publish`].
    ///
    /// # Cancel safety
    /// As [`Publisher::publish`].
    pub async fn spublish<C: ToArg, M: ToArg>(&self, channel: C, message: M) -> Result<u64, Error> {
        self.count(&cmd("SPUBLISH").arg(channel).arg(message)).await
    }

    async fn count(&self, c: &Cmd) -> Result<u64, Error> {
        let frame: Frame = self.inner.execute(c).await?;
        u64::from_reply(frame.into_result()?)
    }
}
