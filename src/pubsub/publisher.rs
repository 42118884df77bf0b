//! [`Publisher`]: `PUBLISH` and `SPUBLISH`, standalone or in a cluster.
//!
//! Standalone, both go over one self-healing multiplexed connection. In a
//! cluster, both go to the primary owning the channel's slot (`SPUBLISH` must;
//! `PUBLISH` may go anywhere, and this spreads the load over the primaries),
//! following `MOVED`/`ASK` and retrying transient errors with the pure policy
//! of `route::redirect`. A publish whose outcome is unknown (connection lost
//! after writing) is never resent: the message could arrive twice.
//!
//! Until the cluster router (`route::cluster`) lands, the slot map is looked
//! up here, with the same helper as the subscriber's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::conn::Reconnecting;
use crate::error::{Error, NodeAddr};
use crate::resp::Frame;
use crate::route::{classify, key_slot, RetryAction, RetryPolicy, SlotMap};

use super::servers::{fetch_slot_map, known_nodes, node_options, Servers};

/// Publishes to channels and sharded channels. Clones share connections.
#[derive(Clone, Debug)]
pub struct Publisher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
enum Inner {
    Standalone(Reconnecting),
    Cluster(Box<Cluster>),
}

struct Cluster {
    servers: Servers,
    policy: RetryPolicy,
    map: Mutex<Option<Arc<SlotMap>>>,
    nodes: Mutex<HashMap<NodeAddr, Reconnecting>>,
    /// One lookup at a time; the others wait for its result.
    refreshing: tokio::sync::Mutex<u64>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("seeds", &self.servers.seeds().len()).finish()
    }
}

impl Publisher {
    /// Connects (standalone) or reads the slot map (cluster), so a wrong
    /// address or password shows here.
    ///
    /// # Errors
    /// The connect error, or the slot map lookup's.
    pub async fn connect(servers: Servers) -> Result<Publisher, Error> {
        let inner = if !servers.is_cluster() {
            Inner::Standalone(Reconnecting::connect(servers.template()?.clone(), None, None).await?)
        } else {
            {
                let cluster = Cluster {
                    servers,
                    policy: RetryPolicy::default(),
                    map: Mutex::new(None),
                    nodes: Mutex::new(HashMap::new()),
                    refreshing: tokio::sync::Mutex::new(0),
                };
                cluster.refresh(0).await?;
                Inner::Cluster(Box::new(cluster))
            }
        };
        Ok(Publisher { inner: Arc::new(inner) })
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
    pub async fn publish<C: ToArg + AsRef<[u8]>, M: ToArg>(
        &self,
        channel: C,
        message: M,
    ) -> Result<u64, Error> {
        let slot = key_slot(channel.as_ref());
        u64::from_reply(self.send(slot, &cmd("PUBLISH").arg(channel).arg(message)).await?)
    }

    /// `SPUBLISH channel message` to the shard owning the channel.
    ///
    /// # Errors
    /// As [`Publisher::publish`].
    ///
    /// # Cancel safety
    /// As [`Publisher::publish`].
    pub async fn spublish<C: ToArg + AsRef<[u8]>, M: ToArg>(
        &self,
        channel: C,
        message: M,
    ) -> Result<u64, Error> {
        let slot = key_slot(channel.as_ref());
        u64::from_reply(self.send(slot, &cmd("SPUBLISH").arg(channel).arg(message)).await?)
    }

    async fn send(&self, slot: u16, c: &Cmd) -> Result<Frame, Error> {
        match &*self.inner {
            Inner::Standalone(conn) => conn.send(c).await,
            Inner::Cluster(cluster) => cluster.send(slot, c).await,
        }
    }
}

impl Cluster {
    fn current(&self) -> Option<Arc<SlotMap>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Looks the slot map up again, unless another caller did since `seen`
    /// (the map version this caller routed with).
    async fn refresh(&self, seen: u64) -> Result<Arc<SlotMap>, Error> {
        let mut generation = self.refreshing.lock().await;
        if let Some(map) = self.current().filter(|_| *generation > seen) {
            return Ok(map);
        }
        let known = self.current().map(|m| known_nodes(&m)).unwrap_or_default();
        let template = self.servers.template()?;
        let map = Arc::new(fetch_slot_map(template, &known, self.servers.seeds()).await?);
        *generation += 1;
        let mut fresh = (*map).clone();
        fresh.set_version(*generation);
        let fresh = Arc::new(fresh);
        *self.map.lock().unwrap_or_else(|p| p.into_inner()) = Some(fresh.clone());
        Ok(fresh)
    }

    fn node(&self, addr: &NodeAddr) -> Result<Reconnecting, Error> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = nodes.get(addr) {
            return Ok(r.clone());
        }
        let opts = node_options(self.servers.template()?, addr);
        let r = Reconnecting::new(opts, None, None);
        nodes.insert(addr.clone(), r.clone());
        Ok(r)
    }

    fn patch(&self, slot: u16, node: NodeAddr) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(current) = map.as_ref() {
            let mut patched = (**current).clone();
            patched.apply_moved(slot, node);
            *map = Some(Arc::new(patched));
        }
    }

    async fn send(&self, slot: u16, c: &Cmd) -> Result<Frame, Error> {
        let mut attempt = 0u32;
        let mut ask: Option<NodeAddr> = None;
        loop {
            let map = match self.current() {
                Some(m) => m,
                None => self.refresh(0).await?,
            };
            let target = match ask.take() {
                Some(node) => Some((node, true)),
                None => map.primary_for_slot(slot).map(|a| (a.clone(), false)),
            };
            let result = match target {
                None => Err(Error::Other(format!("no node serves slot {slot}"))),
                Some((addr, asking)) => {
                    let node = self.node(&addr)?;
                    if asking {
                        match node.connection().await {
                            Ok(conn) => conn
                                .send_pipeline(&[cmd("ASKING"), c.clone()])
                                .await
                                .map(|mut replies| replies.pop().unwrap_or(Frame::Null)),
                            Err(e) => Err(Error::NotSent { cause: Arc::new(e) }),
                        }
                    } else {
                        node.send(c).await
                    }
                }
            };
            let err = match result {
                Ok(Frame::SimpleError(e) | Frame::BlobError(e)) => Error::Server(e),
                Ok(frame) => return Ok(frame),
                Err(e) => e,
            };
            match classify(&err, attempt, &self.policy, false, fastrand::u64(..)) {
                RetryAction::Moved { slot, node } => {
                    self.patch(slot, node);
                    // Someone else may have a fuller picture soon; no wait for a redirect.
                }
                RetryAction::Ask { node } => ask = Some(node),
                RetryAction::Backoff(wait) => tokio::time::sleep(wait).await,
                RetryAction::RefreshAndRetry(wait) => {
                    tokio::time::sleep(wait).await;
                    // A failed lookup is retried on the next round.
                    let _ = self.refresh(map.version()).await;
                }
                RetryAction::Exhausted => {
                    return Err(Error::RetriesExhausted { attempts: attempt + 1, last: Arc::new(err) })
                }
                _ => return Err(err),
            }
            attempt += 1;
        }
    }
}
