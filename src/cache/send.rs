//! The send path of a cached client: answer cacheable reads from the store,
//! send the misses (with a ticket taken first), cache what may be cached,
//! split `MGET` into per-key lookups and fetch only the misses, and
//! invalidate this client's own writes. The client underneath is a
//! [`Backend`] (the standalone client or the cluster router). Not here: the
//! store, tracking.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::commands::{encode_id, get_id, id_matches, kind, write_effect, Kind, WriteEffect};
use super::store::{Source, Ticket};
use super::{Cache, CacheMode};
use crate::cmd::{cmd, Cmd};
use crate::error::Error;
use crate::resp::Frame;

/// What the cache needs from the client under it.
pub(crate) trait Backend: Sync {
    /// Sends `c` as the client would without a cache.
    fn send_uncached(&self, c: &Cmd) -> impl Future<Output = Result<Frame, Error>> + Send;

    /// The source (tracked connection) a read of `key` goes through now.
    fn source_of(&self, key: &[u8]) -> Option<Arc<Source>>;

    /// Opt-in mode: `CLIENT CACHING YES` and `c` in one write on the
    /// connection [`Backend::source_of`] names for `key`. `Ok(None)` when
    /// that could not be done as asked (the caller then sends `c` plainly
    /// and caches nothing).
    fn send_opted_in(&self, key: &[u8], c: &Cmd)
        -> impl Future<Output = Result<Option<Frame>, Error>> + Send;
}

/// `CLIENT CACHING YES`, which makes the server track the next read.
pub(crate) fn caching_yes() -> Cmd {
    cmd("CLIENT").arg("CACHING").arg("YES")
}

/// The reply of `c` when `pipeline` (`CLIENT CACHING YES`, `c`) ran as a
/// whole; `None` when the `CLIENT CACHING` was refused.
pub(crate) fn opted_in_reply(replies: Vec<Frame>) -> Option<Frame> {
    let mut it = replies.into_iter();
    match (it.next(), it.next()) {
        (Some(Frame::SimpleError(_) | Frame::BlobError(_)), _) => None,
        (Some(_), Some(reply)) => Some(reply),
        _ => None,
    }
}

/// Hits answered on this thread since it last yielded.
const HITS_PER_YIELD: u32 = 32;

thread_local! {
    static HITS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A hit never waits, so a task reading cached keys in a loop would hold
/// its worker thread (and the connection tasks queued on it) for as long as
/// it hits: every [`HITS_PER_YIELD`]-th hit on a thread yields once, as
/// tokio's own resources do when a task's budget runs out.
async fn cooperate() {
    let due = HITS.with(|h| {
        let n = h.get() + 1;
        h.set(if n >= HITS_PER_YIELD { 0 } else { n });
        n >= HITS_PER_YIELD
    });
    if due {
        crate::conn::YieldOnce(false).await;
    }
}

impl Cache {
    /// Sends `c` through `backend`, answering from or filling the cache.
    /// `opted_in`: the caller asked to cache this read (what
    /// [`CacheMode::OptIn`] caches; other modes cache every cacheable read).
    ///
    /// # Errors
    /// As the backend's send.
    pub(crate) async fn send<B: Backend>(
        &self,
        backend: &B,
        c: &Cmd,
        opted_in: bool,
    ) -> Result<Frame, Error> {
        // Hits and other commands keep this future small (it is moved on
        // every call); a read that missed, and MGET, go through boxed
        // futures of their own.
        match kind(c) {
            Kind::Read => match c.arg_at(1).filter(|k| self.opts.covers(k)) {
                Some(key) => {
                    let rest = || c.args().skip(2);
                    if let Some(hit) =
                        self.store.get(key, Instant::now(), |id| id_matches(id, c.name(), rest()))
                    {
                        cooperate().await;
                        return Ok(hit);
                    }
                    Box::pin(self.read_missed(backend, c, key, opted_in)).await
                }
                None => backend.send_uncached(c).await,
            },
            Kind::Mget => Box::pin(self.mget(backend, c)).await,
            Kind::Other => self.other(backend, c).await,
        }
    }

    /// A cacheable read of `key` the store did not answer: sent, with a
    /// ticket taken first, and its reply cached when that is still right.
    async fn read_missed<B: Backend>(
        &self,
        backend: &B,
        c: &Cmd,
        key: &[u8],
        opted_in: bool,
    ) -> Result<Frame, Error> {
        let rest = || c.args().skip(2);
        let opt_in = self.opts.mode == CacheMode::OptIn;
        if opt_in && !opted_in {
            return backend.send_uncached(c).await;
        }
        let ticket = self.ticket(backend, key);
        let reply = if opt_in && ticket.is_some() {
            match backend.send_opted_in(key, c).await? {
                Some(reply) => reply,
                // Not tracked: the ticket goes unused.
                None => {
                    drop(ticket);
                    return backend.send_uncached(c).await;
                }
            }
        } else {
            backend.send_uncached(c).await?
        };
        if let Some(t) = ticket {
            self.store.complete(t, encode_id(c.name(), rest()), &reply, Instant::now());
        }
        Ok(reply)
    }

    fn ticket<B: Backend>(&self, backend: &B, key: &[u8]) -> Option<Ticket> {
        backend.source_of(key).and_then(|s| self.store.begin(key, &s))
    }

    /// `MGET`: each key looked up as a `GET`; the misses fetched with one
    /// `MGET` (opt-in mode: fetched, not cached) and the reply reassembled
    /// in the caller's order.
    async fn mget<B: Backend>(&self, backend: &B, c: &Cmd) -> Result<Frame, Error> {
        let keys: Vec<&[u8]> = c.args().skip(1).collect();
        let now = Instant::now();
        let get = |id: &[u8]| id_matches(id, b"GET", std::iter::empty());
        let mut out: Vec<Option<Frame>> = Vec::with_capacity(keys.len());
        let mut missing: Vec<usize> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let hit = if self.opts.covers(k) { self.store.get(k, now, get) } else { None };
            if hit.is_none() {
                missing.push(i);
            }
            out.push(hit);
        }
        if missing.is_empty() {
            cooperate().await;
            return Ok(Frame::Array(out.into_iter().flatten().collect()));
        }
        let cache_misses = self.opts.mode != CacheMode::OptIn;
        let tickets: Vec<Option<Ticket>> = missing
            .iter()
            .map(|&i| {
                let k = keys[i];
                (cache_misses && self.opts.covers(k)).then(|| self.ticket(backend, k)).flatten()
            })
            .collect();
        let fetch = cmd("MGET").args_from(missing.iter().map(|&i| keys[i]));
        let reply = backend.send_uncached(&fetch).await?;
        let Frame::Array(values) = reply else {
            // An error reply (or a shape MGET never has) goes back as is.
            return Ok(reply);
        };
        if values.len() != missing.len() {
            return Err(Error::Type { expected: "one MGET value per key", got: "another count".into() });
        }
        let now = Instant::now();
        for ((&i, value), ticket) in missing.iter().zip(values).zip(tickets) {
            if let Some(t) = ticket {
                self.store.complete(t, get_id(), &value, now);
            }
            out[i] = Some(value);
        }
        Ok(Frame::Array(out.into_iter().map(|f| f.unwrap_or(Frame::Null)).collect()))
    }

    /// Any other command: a write invalidates its keys before it is sent and
    /// when its reply arrives (whatever the reply); the rest passes through.
    async fn other<B: Backend>(&self, backend: &B, c: &Cmd) -> Result<Frame, Error> {
        match write_effect(c) {
            WriteEffect::None => backend.send_uncached(c).await,
            WriteEffect::Keys(keys) => {
                self.invalidate(&keys);
                let reply = backend.send_uncached(c).await;
                self.invalidate(&keys);
                reply
            }
            WriteEffect::All => {
                self.store.flush();
                let reply = backend.send_uncached(c).await;
                self.store.flush();
                reply
            }
        }
    }

    fn invalidate(&self, keys: &[Bytes]) {
        for k in keys {
            self.store.invalidate(k);
        }
    }

    /// Before and after a pipeline or transaction of this client: its
    /// writes invalidate their keys.
    pub(crate) fn invalidate_writes(&self, cmds: &[Cmd]) {
        for c in cmds {
            match write_effect(c) {
                WriteEffect::None => {}
                WriteEffect::Keys(keys) => self.invalidate(&keys),
                WriteEffect::All => self.store.flush(),
            }
        }
    }
}
