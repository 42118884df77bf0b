//! A cache attached to a client: [`Attached`] (the standalone client's
//! cache and its one source) and the [`Backend`]s of the standalone client
//! and the cluster router, which the send path drives. Not here: the
//! send path itself (`send`), tracking (`tracker`).

use std::sync::Arc;

use super::send::{caching_yes, opted_in_reply, Backend};
use super::tracker::Hook;
use super::{Cache, CacheOptions, Source};
use crate::cmd::Cmd;
use crate::conn::{ConnectOptions, PushSink, Reconnecting};
use crate::error::{connect_failure, Error};
use crate::resp::Frame;
use crate::{Client, ClusterClient};

/// A standalone client's cache and the source of its one connection.
#[derive(Debug, Clone)]
pub(crate) struct Attached {
    pub(crate) cache: Arc<Cache>,
    source: Arc<Source>,
}

impl Attached {
    /// With `opts` (a cache asked for): a cache, and the sink and hook of
    /// the client's connection wrapped for it; without, them unchanged.
    pub(crate) fn wrap(
        opts: Option<CacheOptions>,
        conn: &ConnectOptions,
        sink: PushSink,
        hook: Hook,
    ) -> (PushSink, Hook, Option<Attached>) {
        let Some(opts) = opts else { return (sink, hook, None) };
        let cache = Cache::new(opts);
        let (sink, hook, source) = cache.attach(conn, sink, hook);
        (sink, hook, Some(Attached { cache, source }))
    }

    /// Sends `c` through the cache (see [`Cache::send`]).
    ///
    /// # Errors
    /// As [`Client::send`].
    pub(crate) async fn send(&self, client: &Client, c: &Cmd, opted_in: bool) -> Result<Frame, Error> {
        self.cache.send(&Standalone { client, source: &self.source }, c, opted_in).await
    }

    /// Invalidates the keys `cmds` write, now and again when the guard drops
    /// (after their replies).
    pub(crate) fn writes<'a>(&'a self, cmds: &'a [Cmd]) -> Writes<'a> {
        self.cache.writes(cmds)
    }
}

impl Cache {
    /// Invalidates the keys `cmds` write, now and again when the guard drops
    /// (after their replies, whatever they are): what a batch of this
    /// client's own writes (a pipeline, a transaction) does to its cache.
    pub(crate) fn writes<'a>(&'a self, cmds: &'a [Cmd]) -> Writes<'a> {
        self.invalidate_writes(cmds);
        Writes { cache: self, cmds }
    }
}

/// See [`Cache::writes`].
pub(crate) struct Writes<'a> {
    cache: &'a Cache,
    cmds: &'a [Cmd],
}

impl Drop for Writes<'_> {
    fn drop(&mut self) {
        self.cache.invalidate_writes(self.cmds);
    }
}

struct Standalone<'a> {
    client: &'a Client,
    source: &'a Arc<Source>,
}

impl Backend for Standalone<'_> {
    async fn send_uncached(&self, c: &Cmd) -> Result<Frame, Error> {
        self.client.send_uncached(c).await
    }

    fn source_of(&self, _key: &[u8]) -> Option<Arc<Source>> {
        Some(self.source.clone())
    }

    async fn send_opted_in(&self, _key: &[u8], c: &Cmd) -> Result<Option<Frame>, Error> {
        opted_in(self.client.multiplexed(), c, false).await
    }
}

/// `CLIENT CACHING YES` + `c` in one write on `conn`'s live connection.
/// `redirectable`: an error reply means "send it the ordinary way" (a
/// cluster's MOVED / ASK), so it is `None`.
async fn opted_in(conn: &Reconnecting, c: &Cmd, redirectable: bool) -> Result<Option<Frame>, Error> {
    let live = conn.connection().await.map_err(|e| connect_failure(e, &conn.options().describe()))?;
    match live.send_pipeline(&[caching_yes(), c.clone()]).await {
        Ok(replies) => Ok(opted_in_reply(replies)
            .filter(|r| !(redirectable && matches!(r, Frame::SimpleError(_) | Frame::BlobError(_))))),
        Err(Error::NotSent { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The cluster router under a cache.
pub(crate) struct Cluster<'a> {
    pub(crate) client: &'a ClusterClient,
}

impl Backend for Cluster<'_> {
    async fn send_uncached(&self, c: &Cmd) -> Result<Frame, Error> {
        self.client.send_uncached(c).await
    }

    fn source_of(&self, key: &[u8]) -> Option<Arc<Source>> {
        self.client.cache_target(key).map(|(source, _)| source)
    }

    async fn send_opted_in(&self, key: &[u8], c: &Cmd) -> Result<Option<Frame>, Error> {
        let Some((_, conn)) = self.client.cache_target(key) else { return Ok(None) };
        opted_in(&conn, c, true).await
    }
}
