//! The cluster router: per-node connections, the slot map, redirects and retries.
//!
//! Interface first; the routing loop lands with issue 5.

use std::time::Duration;

use crate::cmd::{Cmd, FromReply};
use crate::conn::{ConnectOptions, Reconnecting};
use crate::error::{Error, NodeAddr};
use crate::pool::PoolOptions;
use crate::resp::Frame;

use super::RetryPolicy;

/// Settings of a [`ClusterClient`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Seed nodes (Stalwart's `urls`); any of them may be down.
    pub seeds: Vec<ConnectOptions>,
    /// Retries of redirects and transient errors.
    pub retry: RetryPolicy,
    /// Send read-only commands to replicas (Stalwart's `readFromReplicas`).
    pub read_from_replicas: bool,
    /// After this client writes to a slot, read that slot from its primary
    /// for `read_your_writes_window`, so its own writes are always visible.
    pub read_your_writes: bool,
    /// How long reads of a freshly written slot stay on the primary.
    pub read_your_writes_window: Duration,
    /// Periodic topology refresh.
    pub refresh_interval: Duration,
    /// Pools of exclusive connections per node.
    pub pool: PoolOptions,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            seeds: Vec::new(),
            retry: RetryPolicy::default(),
            read_from_replicas: true,
            read_your_writes: true,
            read_your_writes_window: Duration::from_secs(2),
            refresh_interval: Duration::from_secs(60),
            pool: PoolOptions::default(),
        }
    }
}

/// A client for a Redis/Valkey cluster. Clones share everything.
#[derive(Clone, Debug)]
pub struct ClusterClient {
    _opts: std::sync::Arc<ClusterOptions>,
}

impl ClusterClient {
    /// Connects to the cluster through the first reachable seed.
    ///
    /// # Errors
    /// When no seed answers with a usable topology.
    pub async fn connect(opts: ClusterOptions) -> Result<ClusterClient, Error> {
        let _ = opts;
        Err(Error::Other("the cluster router is not implemented yet".into()))
    }

    /// Sends one command to the node(s) it belongs to, following redirects.
    ///
    /// # Errors
    /// As the standalone client, plus [`Error::CrossSlot`] and [`Error::RetriesExhausted`].
    pub async fn send(&self, cmd: &Cmd) -> Result<Frame, Error> {
        let _ = cmd;
        Err(Error::Other("the cluster router is not implemented yet".into()))
    }

    /// Sends one command and converts its reply.
    ///
    /// # Errors
    /// As [`ClusterClient::send`], plus conversion errors.
    pub async fn query<T: FromReply>(&self, cmd: &Cmd) -> Result<T, Error> {
        T::from_reply(self.send(cmd).await?)
    }

    /// The current primaries with a connection to each (for per-node SCAN).
    ///
    /// # Errors
    /// When the topology is unknown.
    pub async fn primaries(&self) -> Result<Vec<(NodeAddr, Reconnecting)>, Error> {
        Err(Error::Other("the cluster router is not implemented yet".into()))
    }
}
