//! The cluster client's lifetime and RESP3 push: `close()` (which waits for
//! every task), push frames from every node, tracking, keyspace
//! notifications. Not here: sending (the parent module).

use super::*;

/// Lifetime and RESP3 push (see [`crate::push`]).
impl ClusterClient {
    /// Closes the client: the refresh task stops, every node's multiplexed
    /// connection closes and its driver tasks end before this returns, push
    /// links stop (awaited too), idle pooled connections close, and push
    /// receivers yield what they hold, then `None`. Every clone is closed;
    /// later commands fail with [`Error::Closed`] without being sent.
    /// Commands in flight fail as on a lost connection (cause
    /// [`Error::Closed`]).
    ///
    /// # Cancel safety
    /// The client is closed at the first poll; dropping the future only
    /// stops waiting for the tasks.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let task = self.inner.refresh_task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            // It sees the flag when woken; a refresh in progress finishes
            // first (bounded by its per-node timeouts), closing what it opened.
            self.inner.refresh_wanted.notify_one();
            let _ = task.await;
        }
        let nodes: Vec<NodeConn> = self.inner.lock_nodes().values().cloned().collect();
        for n in &nodes {
            n.conn.close().await;
            n.pool.clear();
        }
        self.inner.push.close().await;
        if let Some(cache) = &self.inner.cache {
            cache.close().await;
        }
    }

    /// True once [`ClusterClient::close`] was called (on this handle or a clone).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// A receiver of every push frame any node's connection gets, tagged
    /// with the node, with room for [`crate::push::DEFAULT_CAPACITY`] events
    /// (see [`crate::Client::push_frames`]).
    pub fn push_frames(&self) -> crate::push::PushReceiver {
        self.push_frames_bounded(crate::push::DEFAULT_CAPACITY, crate::push::DEFAULT_MAX_BYTES)
    }

    /// As [`ClusterClient::push_frames`], holding at most `capacity` events
    /// and about `max_bytes` bytes of frames.
    pub fn push_frames_bounded(&self, capacity: usize, max_bytes: usize) -> crate::push::PushReceiver {
        self.inner.push.hub.receiver(capacity, max_bytes)
    }

    /// `CLIENT TRACKING ON` on every node's multiplexed connection, now and
    /// on every (re)connect, including nodes that join later (see
    /// [`crate::Client::enable_tracking`]). Invalidations come from the node
    /// that served the read. Call it once.
    ///
    /// # Errors
    /// [`Error::Config`] on RESP2; a node's refusal or connection error
    /// (the setting stays for the others and for reconnects); [`Error::Closed`].
    pub async fn enable_tracking(&self, tracking: crate::push::Tracking) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if self.inner.template.protocol != crate::conn::Protocol::Resp3 {
            return Err(Error::Config("CLIENT TRACKING needs RESP3 (protocol=3)".into()));
        }
        let c = crate::push::tracking_cmd(&tracking);
        let nodes: Vec<NodeConn> = {
            // Under the node lock: a node made from now on registers it itself.
            let nodes = self.inner.lock_nodes();
            *self.inner.push.tracking.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
            nodes.values().cloned().collect()
        };
        let mut first_err = None;
        for n in nodes {
            if let Err(e) = n.conn.add_setup(c.clone()).await {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Subscribes a push link to every primary (one dedicated connection
    /// each, reconnected and resubscribed by itself, following the
    /// primaries as the topology changes) to `channels`: keyspace
    /// notifications are local to the node where the key changed, so this
    /// is how they reach one receiver from the whole cluster. Returns once
    /// every primary confirmed. See [`crate::Client::subscribe_push`].
    ///
    /// # Errors
    /// As [`crate::Client::subscribe_push`].
    ///
    /// # Cancel safety
    /// The subscription goes ahead in the background.
    pub async fn subscribe_push<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        channels: I,
    ) -> Result<(), Error> {
        self.push_link(false, channels).await
    }

    /// As [`ClusterClient::subscribe_push`], with `PSUBSCRIBE` patterns.
    ///
    /// # Errors
    /// As [`crate::Client::subscribe_push`].
    ///
    /// # Cancel safety
    /// As [`ClusterClient::subscribe_push`].
    pub async fn psubscribe_push<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        patterns: I,
    ) -> Result<(), Error> {
        self.push_link(true, patterns).await
    }

    async fn push_link<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        pattern: bool,
        names: I,
    ) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let sub = crate::push::Sub::from_names(pattern, names)?;
        let push = &self.inner.push;
        push.links.subscribe(&push.hub, self.inner.primary_targets(), sub).await
    }
}
