//! Typed pipelines and transactions, the same on one server and a cluster.
//!
//! [`pipe()`] starts a [`Pipeline`]: commands added with the shorthands
//! (`get`, `set`, `incr`, `hset` ...) or any [`Cmd`] with [`Pipeline::cmd`],
//! sent in one go by [`Pipeline::query`], which converts the replies, in
//! order, into a tuple (or a `Vec`):
//!
//! ```no_run
//! # async fn f(client: &redwire::Client) -> redwire::Result<()> {
//! use bytes::Bytes;
//! let (name, visits): (Option<Bytes>, i64) =
//!     redwire::pipe().get("name").incr("visits").query(client).await?;
//! # Ok(()) }
//! ```
//!
//! - On one server the pipeline is one write on the shared connection.
//! - On a cluster it is split by slot: one pipeline per primary, sent
//!   concurrently; a command answered `MOVED`/`ASK`/`TRYAGAIN` is sent again
//!   alone through the router, which follows the redirect; replies come back
//!   in the caller's order (see `cluster`).
//! - [`Pipeline::atomic`] wraps the commands in `MULTI`/`EXEC`; on a cluster
//!   all their keys must hash to one slot ([`Error::CrossSlot`] otherwise).
//! - [`transaction()`] is the `WATCH` helper: watch keys on an exclusive
//!   connection, read, queue writes, `EXEC`, and try again when a watched key
//!   changed (`transaction`).
//!
//! The clients these run on implement [`PipelineExecutor`]: [`Client`],
//! [`ClusterClient`] and [`AnyClient`]. Not here: single commands (the
//! `commands` groups), reply conversions (`cmd`).

mod cluster;
mod transaction;

use std::future::Future;
use std::time::Duration;

use crate::client::Client;
use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::commands::AnyClient;
use crate::error::Error;
use crate::pool::Pooled;
use crate::resp::Frame;
use crate::route::ClusterClient;

pub use transaction::{transaction, transaction_with, Watched, DEFAULT_ATTEMPTS};

/// Starts an empty [`Pipeline`].
pub fn pipe() -> Pipeline {
    Pipeline::new()
}

/// Commands sent together; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    cmds: Vec<Cmd>,
    /// Per command: left out of [`Pipeline::query`]'s result.
    ignored: Vec<bool>,
    atomic: bool,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// An empty pipeline with room for `n` commands.
    pub fn with_capacity(n: usize) -> Pipeline {
        Pipeline { cmds: Vec::with_capacity(n), ignored: Vec::with_capacity(n), atomic: false }
    }

    /// Runs the commands in `MULTI`/`EXEC`: all or none, nothing in between.
    /// On a cluster every key must hash to the same slot.
    pub fn atomic(&mut self) -> &mut Pipeline {
        self.atomic = true;
        self
    }

    /// True after [`Pipeline::atomic`].
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// Adds any command.
    pub fn cmd(&mut self, c: Cmd) -> &mut Pipeline {
        self.cmds.push(c);
        self.ignored.push(false);
        self
    }

    /// Leaves the reply of the command added last out of [`Pipeline::query`]'s
    /// result (an error reply still fails the query). No effect on an empty pipeline.
    pub fn ignore(&mut self) -> &mut Pipeline {
        if let Some(last) = self.ignored.last_mut() {
            *last = true;
        }
        self
    }

    /// The commands, in order.
    pub fn commands(&self) -> &[Cmd] {
        &self.cmds
    }

    /// How many commands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// True without commands.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Removes every command (keeps [`Pipeline::atomic`]).
    pub fn clear(&mut self) {
        self.cmds.clear();
        self.ignored.clear();
    }

    /// `GET key`: converts to `Option<Bytes>`, `Option<String>` ...
    pub fn get<K: ToArg>(&mut self, key: K) -> &mut Pipeline {
        self.cmd(cmd("GET").arg(key))
    }

    /// `SET key value`: `+OK`, converts to `()`.
    pub fn set<K: ToArg, V: ToArg>(&mut self, key: K, value: V) -> &mut Pipeline {
        self.cmd(cmd("SET").arg(key).arg(value))
    }

    /// `SET key value PX ttl` (at least 1 ms): `+OK`, converts to `()`.
    pub fn set_ex<K: ToArg, V: ToArg>(&mut self, key: K, value: V, ttl: Duration) -> &mut Pipeline {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.cmd(cmd("SET").arg(key).arg(value).arg("PX").arg(ms))
    }

    /// `SET key value NX`: `+OK` when set, null when the key exists: converts to `Option<()>`.
    pub fn set_nx<K: ToArg, V: ToArg>(&mut self, key: K, value: V) -> &mut Pipeline {
        self.cmd(cmd("SET").arg(key).arg(value).arg("NX"))
    }

    /// `INCR key`: the new value, `i64`.
    pub fn incr<K: ToArg>(&mut self, key: K) -> &mut Pipeline {
        self.cmd(cmd("INCR").arg(key))
    }

    /// `INCRBY key delta`: the new value, `i64`.
    pub fn incr_by<K: ToArg>(&mut self, key: K, delta: i64) -> &mut Pipeline {
        self.cmd(cmd("INCRBY").arg(key).arg(delta))
    }

    /// `DECR key`: the new value, `i64`.
    pub fn decr<K: ToArg>(&mut self, key: K) -> &mut Pipeline {
        self.cmd(cmd("DECR").arg(key))
    }

    /// `DEL key...` (one key, or a slice of keys): how many existed, `u64`.
    pub fn del<K: ToArg>(&mut self, keys: K) -> &mut Pipeline {
        self.cmd(cmd("DEL").arg(keys))
    }

    /// `EXISTS key...`: how many exist, `u64`.
    pub fn exists<K: ToArg>(&mut self, keys: K) -> &mut Pipeline {
        self.cmd(cmd("EXISTS").arg(keys))
    }

    /// `EXPIRE key seconds`: whether a timeout was set, `bool`.
    pub fn expire<K: ToArg>(&mut self, key: K, seconds: u64) -> &mut Pipeline {
        self.cmd(cmd("EXPIRE").arg(key).arg(seconds))
    }

    /// `TTL key`: seconds left, `-1` without expiry, `-2` without the key; `i64`.
    pub fn ttl<K: ToArg>(&mut self, key: K) -> &mut Pipeline {
        self.cmd(cmd("TTL").arg(key))
    }

    /// `HSET key field value`: how many fields were added, `u64`.
    pub fn hset<K: ToArg, F: ToArg, V: ToArg>(&mut self, key: K, field: F, value: V) -> &mut Pipeline {
        self.cmd(cmd("HSET").arg(key).arg(field).arg(value))
    }

    /// `HSET key f1 v1 f2 v2 ...` from pairs: how many fields were added, `u64`.
    pub fn hset_multiple<K: ToArg, F: ToArg, V: ToArg>(&mut self, key: K, pairs: &[(F, V)]) -> &mut Pipeline {
        self.cmd(cmd("HSET").arg(key).arg(pairs))
    }

    /// `HGET key field`: `Option<Bytes>` ...
    pub fn hget<K: ToArg, F: ToArg>(&mut self, key: K, field: F) -> &mut Pipeline {
        self.cmd(cmd("HGET").arg(key).arg(field))
    }

    /// `HGETALL key`: a map (`HashMap`, `Vec<(K, V)>`, or a struct with `cmd::Hash`).
    pub fn hgetall<K: ToArg>(&mut self, key: K) -> &mut Pipeline {
        self.cmd(cmd("HGETALL").arg(key))
    }

    /// `HDEL key field...`: how many were removed, `u64`.
    pub fn hdel<K: ToArg, F: ToArg>(&mut self, key: K, fields: F) -> &mut Pipeline {
        self.cmd(cmd("HDEL").arg(key).arg(fields))
    }

    /// `HINCRBY key field delta`: the new value, `i64`.
    pub fn hincr_by<K: ToArg, F: ToArg>(&mut self, key: K, field: F, delta: i64) -> &mut Pipeline {
        self.cmd(cmd("HINCRBY").arg(key).arg(field).arg(delta))
    }

    /// `LPUSH key value...`: the list's new length, `u64`.
    pub fn lpush<K: ToArg, V: ToArg>(&mut self, key: K, values: V) -> &mut Pipeline {
        self.cmd(cmd("LPUSH").arg(key).arg(values))
    }

    /// `RPUSH key value...`: the list's new length, `u64`.
    pub fn rpush<K: ToArg, V: ToArg>(&mut self, key: K, values: V) -> &mut Pipeline {
        self.cmd(cmd("RPUSH").arg(key).arg(values))
    }

    /// `LRANGE key start stop`: `Vec<Bytes>` ...
    pub fn lrange<K: ToArg>(&mut self, key: K, start: i64, stop: i64) -> &mut Pipeline {
        self.cmd(cmd("LRANGE").arg(key).arg(start).arg(stop))
    }

    /// `SADD key member...`: how many were added, `u64`.
    pub fn sadd<K: ToArg, M: ToArg>(&mut self, key: K, members: M) -> &mut Pipeline {
        self.cmd(cmd("SADD").arg(key).arg(members))
    }

    /// `SMEMBERS key`: `HashSet<String>`, `BTreeSet<Bytes>` ...
    pub fn smembers<K: ToArg>(&mut self, key: K) -> &mut Pipeline {
        self.cmd(cmd("SMEMBERS").arg(key))
    }

    /// `ZADD key score member`: how many were added, `u64`.
    pub fn zadd<K: ToArg, M: ToArg>(&mut self, key: K, score: f64, member: M) -> &mut Pipeline {
        self.cmd(cmd("ZADD").arg(key).arg(score).arg(member))
    }

    /// `ZRANGE key start stop WITHSCORES`: `Vec<(String, f64)>` (RESP2 and RESP3 alike).
    pub fn zrange_withscores<K: ToArg>(&mut self, key: K, start: i64, stop: i64) -> &mut Pipeline {
        self.cmd(cmd("ZRANGE").arg(key).arg(start).arg(stop).arg("WITHSCORES"))
    }

    /// `PUBLISH channel message`: how many subscribers received it, `u64`.
    pub fn publish<C: ToArg, M: ToArg>(&mut self, channel: C, message: M) -> &mut Pipeline {
        self.cmd(cmd("PUBLISH").arg(channel).arg(message))
    }

    /// Sends the pipeline and converts the replies (all but the ignored
    /// ones, in order, as one array) into `T`: a tuple with one element per
    /// reply, a `Vec`, or `Vec<Frame>`.
    ///
    /// # Errors
    /// The first error reply, in order, as [`Error::Server`]; [`Error::Type`]
    /// when a reply does not convert (or the tuple's length differs from the
    /// number of replies); otherwise as [`Pipeline::query_frames`].
    ///
    /// # Cancel safety
    /// As the client's pipeline: dropping the future abandons the replies;
    /// commands already written may still run.
    pub async fn query<T: FromReply, C: PipelineExecutor + ?Sized>(&self, client: &C) -> Result<T, Error> {
        let frames = self.query_frames(client).await?;
        self.convert(frames)
    }

    /// Sends the pipeline and returns every reply in order, error replies
    /// included as frames. An atomic pipeline returns `EXEC`'s replies.
    ///
    /// # Errors
    /// Before sending: [`Error::NotOnSharedConnection`] for a command that
    /// would change a shared connection's state (`MULTI`, `WATCH`,
    /// `SUBSCRIBE` ...) or, when not atomic, a blocking one on one server;
    /// [`Error::CrossSlot`] for an atomic pipeline whose keys span slots on
    /// a cluster (or a command whose keys do). While sending: connection
    /// failures, with [`Error::PipelineIncomplete`] when some commands ran
    /// and others may not have (a command that may have run is never sent
    /// twice unless it is read-only or marked idempotent). Atomic: a
    /// command the server refused to queue as [`Error::Server`] (nothing ran).
    ///
    /// # Cancel safety
    /// As [`Pipeline::query`].
    pub async fn query_frames<C: PipelineExecutor + ?Sized>(&self, client: &C) -> Result<Vec<Frame>, Error> {
        if self.atomic {
            client.run_atomic(&self.cmds).await
        } else if self.cmds.is_empty() {
            Ok(Vec::new())
        } else {
            client.run_pipeline(&self.cmds).await
        }
    }

    /// The replies as `T`: the first error reply fails, ignored replies are left out.
    fn convert<T: FromReply>(&self, frames: Vec<Frame>) -> Result<T, Error> {
        if frames.len() != self.cmds.len() {
            return Err(Error::Type {
                expected: "one reply per command of the pipeline",
                got: format!("{} replies for {} commands", frames.len(), self.cmds.len()),
            });
        }
        if let Some(e) = frames.iter().find_map(|f| match f.value() {
            Frame::SimpleError(e) | Frame::BlobError(e) => Some(e.clone()),
            _ => None,
        }) {
            return Err(Error::Server(e));
        }
        let kept = frames.into_iter().zip(&self.ignored).filter(|(_, ignored)| !**ignored).map(|(f, _)| f);
        T::from_reply(Frame::Array(kept.collect()))
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::client::Client {}
    impl Sealed for crate::route::ClusterClient {}
    impl Sealed for crate::commands::AnyClient {}
}

/// A client a [`Pipeline`] and a [`transaction()`] run on: [`Client`],
/// [`ClusterClient`], [`AnyClient`]. Sealed.
pub trait PipelineExecutor: sealed::Sealed + Send + Sync {
    /// Sends `cmds` as a pipeline; replies in order, error replies as frames.
    ///
    /// # Errors
    /// As [`Pipeline::query_frames`].
    fn run_pipeline(&self, cmds: &[Cmd]) -> impl Future<Output = Result<Vec<Frame>, Error>> + Send;

    /// Runs `cmds` in `MULTI`/`EXEC`; `EXEC`'s replies.
    ///
    /// # Errors
    /// As [`Pipeline::query_frames`].
    fn run_atomic(&self, cmds: &[Cmd]) -> impl Future<Output = Result<Vec<Frame>, Error>> + Send;

    /// An exclusive connection for `watch` (a `WATCH key...` command): any
    /// on one server; on a cluster, one to the primary of the keys' slot.
    ///
    /// # Errors
    /// [`Error::CrossSlot`] on a cluster when the keys span slots; pool
    /// timeouts and connect errors.
    fn watch_connection(&self, watch: &Cmd) -> impl Future<Output = Result<Pooled, Error>> + Send;

    /// The client's own writes `cmds` went (or are about to go) out on a
    /// connection of their own: with a client-side cache, the keys they
    /// write are dropped from it at once. Without one, nothing.
    #[doc(hidden)]
    fn own_writes_done(&self, cmds: &[Cmd]) {
        let _ = cmds;
    }
}

impl PipelineExecutor for Client {
    fn run_pipeline(&self, cmds: &[Cmd]) -> impl Future<Output = Result<Vec<Frame>, Error>> + Send {
        self.pipeline(cmds)
    }

    fn run_atomic(&self, cmds: &[Cmd]) -> impl Future<Output = Result<Vec<Frame>, Error>> + Send {
        transaction::atomic_standalone(self, cmds)
    }

    fn watch_connection(&self, _watch: &Cmd) -> impl Future<Output = Result<Pooled, Error>> + Send {
        self.exclusive()
    }

    fn own_writes_done(&self, cmds: &[Cmd]) {
        self.invalidate_own_writes(cmds);
    }
}

impl PipelineExecutor for ClusterClient {
    fn run_pipeline(&self, cmds: &[Cmd]) -> impl Future<Output = Result<Vec<Frame>, Error>> + Send {
        cluster::pipeline(self, cmds)
    }

    fn run_atomic(&self, cmds: &[Cmd]) -> impl Future<Output = Result<Vec<Frame>, Error>> + Send {
        cluster::atomic(self, cmds)
    }

    fn watch_connection(&self, watch: &Cmd) -> impl Future<Output = Result<Pooled, Error>> + Send {
        let slot = cluster::keys_slot(watch.args().skip(1));
        async move { self.pooled_for_slot(slot?.unwrap_or(0)).await }
    }

    fn own_writes_done(&self, cmds: &[Cmd]) {
        self.invalidate_own_writes(cmds);
    }
}

impl PipelineExecutor for AnyClient {
    async fn run_pipeline(&self, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
        match self {
            AnyClient::Standalone(c) => c.run_pipeline(cmds).await,
            AnyClient::Cluster(c) => c.run_pipeline(cmds).await,
            AnyClient::Sentinel(c) => c.master().run_pipeline(cmds).await,
        }
    }

    async fn run_atomic(&self, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
        match self {
            AnyClient::Standalone(c) => c.run_atomic(cmds).await,
            AnyClient::Cluster(c) => c.run_atomic(cmds).await,
            AnyClient::Sentinel(c) => c.master().run_atomic(cmds).await,
        }
    }

    async fn watch_connection(&self, watch: &Cmd) -> Result<Pooled, Error> {
        match self {
            AnyClient::Standalone(c) => c.watch_connection(watch).await,
            AnyClient::Cluster(c) => c.watch_connection(watch).await,
            AnyClient::Sentinel(c) => c.master().watch_connection(watch).await,
        }
    }

    fn own_writes_done(&self, cmds: &[Cmd]) {
        match self {
            AnyClient::Standalone(c) => c.own_writes_done(cmds),
            AnyClient::Cluster(c) => c.own_writes_done(cmds),
            AnyClient::Sentinel(c) => c.master().own_writes_done(cmds),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::error::ServerError;

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn builds_commands_in_order() {
        let mut p = pipe();
        p.set("a", 1).ignore().get("a").incr_by("n", -2).hset_multiple("h", &[("f", "v"), ("g", "w")]);
        let names: Vec<&[u8]> = p.commands().iter().map(|c| c.name()).collect();
        assert_eq!(names, [&b"SET"[..], b"GET", b"INCRBY", b"HSET"]);
        assert_eq!(p.commands()[3].argc(), 6);
        assert_eq!(p.ignored, [true, false, false, false]);
        assert!(!p.is_atomic());
        assert!(p.atomic().is_atomic());
    }

    #[test]
    fn converts_replies_skipping_ignored_ones() {
        let mut p = pipe();
        p.set("a", 1).ignore().get("a").incr("n");
        let ok = Frame::SimpleString(Bytes::from_static(b"OK"));
        let (v, n): (Option<String>, i64) =
            p.convert(vec![ok.clone(), bulk("1"), Frame::Integer(3)]).unwrap();
        assert_eq!((v.as_deref(), n), (Some("1"), 3));
        // The first error reply fails the query, even an ignored command's.
        let err = Frame::SimpleError(ServerError::from_line("WRONGTYPE no").unwrap());
        let got = p.convert::<(Option<String>, i64)>(vec![err, bulk("1"), Frame::Integer(3)]);
        assert!(matches!(got, Err(Error::Server(_))), "{got:?}");
        // A tuple of the wrong length is a typed error naming both.
        match p.convert::<(Option<String>,)>(vec![ok, bulk("1"), Frame::Integer(3)]) {
            Err(Error::Type { expected, got }) => {
                assert_eq!(expected, "an array of 1 element");
                assert_eq!(got, "array of 2 elements");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(p.convert::<Vec<Frame>>(vec![]), Err(Error::Type { .. })));
    }
}
