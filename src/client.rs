//! The standalone client: a generic `send`/`query`, pipelines, transactions,
//! exclusive connections, and [`Script`]. The typed commands (`get`, `set`
//! ...) live in [`crate::commands`], for every topology.
//!
//! A standalone `Client` sends ordinary commands over one multiplexed,
//! self-healing connection ([`Reconnecting`]) and checks exclusive
//! connections out of its [`Pool`] ([`Client::exclusive`]) for blocking and
//! stateful work. Blocking means: commands marked
//! [`Cmd::blocking`], and the blocking commands known by name (BLPOP, XREAD
//! BLOCK ...) when they are not. Commands that would change the shared
//! connection's state under every other caller (SUBSCRIBE, MULTI, WATCH,
//! SELECT, CLIENT REPLY, MONITOR ...) are refused with
//! [`Error::NotOnSharedConnection`], which names the API to use instead.
//! Not here: key slots and redirects (`route`), the store semantics (`store`).
//!
//! Every async method is cancel-safe in the sense of [`Connection::send`]:
//! dropping the future abandons the reply; the connection stays in sync.
//!
//! [`Connection::send`]: crate::conn::Connection::send

use std::sync::Arc;

use crate::cmd::{check_shared, cmd, Cmd, FromReply, ToArg};
use crate::conn::{ConnectOptions, Reconnecting};
use crate::error::{connect_failure, Error, UseInstead};
use crate::pool::{Pool, PoolOptions, Pooled};
use crate::resp::Frame;

/// A standalone client: one multiplexed connection plus a pool for exclusive use.
#[derive(Clone, Debug)]
pub struct Client {
    conn: Reconnecting,
    pool: Pool,
    push: Arc<crate::push::PushState>,
    /// The client-side cache, when asked for (see [`crate::cache`]).
    cache: Option<crate::cache::Attached>,
}

/// A Lua script sent by SHA1 (`EVALSHA`), loaded with `EVAL` on `NOSCRIPT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    source: Arc<str>,
    sha: Arc<str>,
}

impl Script {
    /// Wraps a script and computes its SHA1.
    pub fn new(source: &str) -> Script {
        let sha = sha1_smol::Sha1::from(source.as_bytes()).digest().to_string();
        Script { source: source.into(), sha: sha.into() }
    }

    /// The script's SHA1 in hex.
    pub fn sha(&self) -> &str {
        &self.sha
    }

    /// The script's source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `EVALSHA sha numkeys keys... args...`.
    pub fn evalsha_cmd<K: ToArg, A: ToArg>(&self, keys: &[K], args: &[A]) -> Cmd {
        cmd("EVALSHA").arg(&*self.sha).arg(keys.len()).args_from(keys).args_from(args)
    }

    /// `EVAL source numkeys keys... args...`.
    pub fn eval_cmd<K: ToArg, A: ToArg>(&self, keys: &[K], args: &[A]) -> Cmd {
        cmd("EVAL").arg(&*self.source).arg(keys.len()).args_from(keys).args_from(args)
    }
}

impl Client {
    /// A client for the server of `opts`, with a pool of exclusive connections.
    /// Connects eagerly, so a wrong address or password shows here.
    ///
    /// # Errors
    /// As [`crate::conn::Connection::connect`].
    pub async fn connect(opts: ConnectOptions, pool: PoolOptions) -> Result<Client, Error> {
        Client::build(opts, pool, None).await
    }

    /// As [`Client::connect`], with a client-side cache (see
    /// [`crate::cache`]): cacheable reads through [`Client::send`] (and the
    /// typed commands) are answered from it while the server's tracking
    /// keeps it valid.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn connect_cached(
        opts: ConnectOptions,
        pool: PoolOptions,
        cache: crate::cache::CacheOptions,
    ) -> Result<Client, Error> {
        Client::build(opts, pool, Some(cache)).await
    }

    async fn build(
        opts: ConnectOptions,
        pool: PoolOptions,
        cache: Option<crate::cache::CacheOptions>,
    ) -> Result<Client, Error> {
        let push = Arc::new(crate::push::PushState::default());
        let node = crate::push::node_of(&opts);
        let (sink, hook) = (push.hub.sink(node.clone()), push.hub.on_connect(node));
        let (sink, hook, cache) = crate::cache::Attached::wrap(cache, &opts, sink, hook);
        let conn = Reconnecting::connect(opts.clone(), Some(sink), Some(hook)).await?;
        Ok(Client { conn, pool: Pool::new(opts, pool), push, cache })
    }

    /// A client from a URL (see [`crate::url::parse_url`]) with default pool settings.
    ///
    /// # Errors
    /// [`Error::Url`] for a bad URL, otherwise as [`Client::connect`].
    pub async fn open(url: &str) -> Result<Client, Error> {
        Client::connect(crate::url::parse_url(url)?, PoolOptions::default()).await
    }

    /// The shared multiplexed connection.
    pub fn multiplexed(&self) -> &Reconnecting {
        &self.conn
    }

    /// The pool of exclusive connections.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// What the multiplexed connection went through since the client was
    /// created: reconnects, failed connects, resends. A few relaxed loads.
    pub fn stats(&self) -> crate::observe::Stats {
        self.conn.stats()
    }

    /// Checks an exclusive connection out of the pool (for BLPOP, WATCH ...).
    ///
    /// # Errors
    /// [`Error::Pool`] on timeouts, or the connect error.
    pub async fn exclusive(&self) -> Result<Pooled, Error> {
        if self.conn.is_closed() {
            return Err(Error::Closed);
        }
        self.pool.get().await
    }

    /// Sends one command; error replies come back as frames.
    ///
    /// Blocking commands go to an exclusive connection from the pool.
    /// Commands that would change the shared connection's state for every
    /// other caller (SUBSCRIBE, MULTI, WATCH, SELECT, CLIENT REPLY, MONITOR
    /// ...; see the command table's `STATEFUL` flag) are refused: use the
    /// pub/sub `Subscriber`, [`Client::transaction`] or [`Client::exclusive`].
    ///
    /// # Errors
    /// [`Error::NotOnSharedConnection`] for those, before sending; connection
    /// failures, see [`crate::conn`]'s failure semantics.
    pub async fn send(&self, c: &Cmd) -> Result<Frame, Error> {
        if let Some(cache) = &self.cache {
            return cache.send(self, c, false).await;
        }
        self.send_uncached(c).await
    }

    /// [`Client::send`] without the cache.
    pub(crate) async fn send_uncached(&self, c: &Cmd) -> Result<Frame, Error> {
        check_shared(c)?;
        if c.is_blocking() || is_known_blocking(c) {
            // Boxed: the pooled path's future would otherwise make every
            // command's future larger (futures are moved on every call).
            return Box::pin(self.send_blocking(c)).await;
        }
        self.conn.send(c).await
    }

    /// A blocking command, on a pooled connection of its own: on the shared
    /// one it would stall every caller queued behind it, and, unmarked, be
    /// cut off by the response timeout, closing the shared connection under
    /// every other caller.
    async fn send_blocking(&self, c: &Cmd) -> Result<Frame, Error> {
        let mut conn = self.exclusive().await?;
        if c.is_blocking() {
            conn.send(c).await
        } else {
            conn.send(&c.clone().blocking()).await
        }
    }

    /// Sends one command and converts its reply.
    ///
    /// # Errors
    /// As [`Client::send`], plus [`Error::Server`] and [`Error::Type`].
    pub async fn query<T: FromReply>(&self, c: &Cmd) -> Result<T, Error> {
        T::from_reply(self.send(c).await?)
    }

    /// Sends commands in one write; replies in order, error replies as frames.
    ///
    /// A pipeline runs on the shared connection: the commands [`Client::send`]
    /// refuses are refused here too, and so are blocking ones (they would
    /// hold every other caller's reply back; send them alone).
    ///
    /// # Errors
    /// [`Error::NotOnSharedConnection`] naming the first such command, before
    /// anything is sent; connection failures for the pipeline as a whole.
    pub async fn pipeline(&self, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
        check_batch(cmds)?;
        let _writes = self.own_writes(cmds);
        let mut resends = 0;
        loop {
            let conn = self
                .conn
                .connection()
                .await
                .map_err(|e| connect_failure(e, &self.conn.options().describe()))?;
            match conn.send_pipeline(cmds).await {
                Err(Error::NotSent { .. }) if resends < 3 => resends += 1,
                other => return other,
            }
        }
    }

    /// With a cache: the keys `cmds` write are invalidated now and again
    /// when the guard drops (after their replies).
    pub(crate) fn own_writes<'a>(&'a self, cmds: &'a [Cmd]) -> Option<crate::cache::Writes<'a>> {
        self.cache.as_ref().map(|c| c.writes(cmds))
    }

    /// With a cache: the keys `cmds` write are invalidated now.
    pub(crate) fn invalidate_own_writes(&self, cmds: &[Cmd]) {
        if let Some(c) = &self.cache {
            c.cache.invalidate_writes(cmds);
        }
    }

    /// Runs `cmds` in `MULTI`/`EXEC`; returns EXEC's replies.
    ///
    /// `MULTI` and `EXEC` are added here, in the same write as the commands,
    /// so no other caller's command falls inside the transaction. The
    /// commands themselves must leave the shared connection as they found it:
    /// the ones [`Client::pipeline`] refuses are refused here too.
    ///
    /// # Errors
    /// [`Error::NotOnSharedConnection`] before sending, as above;
    /// [`Error::TransactionDiscarded`] or [`Error::Server`] when the server
    /// refused a command of the transaction (none ran); connection failures.
    pub async fn transaction(&self, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
        check_batch(cmds)?;
        let _writes = self.own_writes(cmds);
        let mut resends = 0;
        loop {
            let conn = self
                .conn
                .connection()
                .await
                .map_err(|e| connect_failure(e, &self.conn.options().describe()))?;
            match conn.transaction(cmds).await {
                Err(Error::NotSent { .. }) if resends < 3 => resends += 1,
                other => return other,
            }
        }
    }
}

/// Refuses a batch (pipeline or transaction body) with a command that would
/// change the shared connection's state, or block it.
fn check_batch(cmds: &[Cmd]) -> Result<(), Error> {
    for c in cmds {
        check_shared(c)?;
        if c.is_blocking() || is_known_blocking(c) {
            let name = String::from_utf8_lossy(c.name()).to_ascii_uppercase();
            return Err(Error::NotOnSharedConnection {
                command: name.into_boxed_str(),
                use_instead: UseInstead::Exclusive,
            });
        }
    }
    Ok(())
}

/// BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD BLOCK ... sent without
/// [`Cmd::blocking`]. Not WAIT / WAITAOF: they wait for the writes of their
/// own connection, so moving them to another one would change their answer.
/// The first-letter test keeps the table lookup off the path of GET, SET and
/// the like.
fn is_known_blocking(c: &Cmd) -> bool {
    matches!(c.name().first().map(u8::to_ascii_uppercase), Some(b'B' | b'X'))
        && crate::cmd::command_info(c).is_blocking()
}

/// Construction's counterpart and RESP3 push: closing, push receivers,
/// `CLIENT TRACKING`, keyspace-notification links (see [`crate::push`]).
impl Client {
    /// Closes the client: the multiplexed connection closes and its driver
    /// tasks end before this returns, the push links stop (their tasks
    /// awaited too), idle pooled connections close, and push receivers
    /// yield what they hold, then `None`. Every clone is closed; later
    /// commands fail with [`Error::Closed`] without being sent. Commands in
    /// flight fail as on a lost connection (cause [`Error::Closed`]).
    /// Pooled connections checked out at the time close when given back.
    ///
    /// # Cancel safety
    /// The client is closed at the first poll; dropping the future only
    /// stops waiting for the tasks.
    pub async fn close(&self) {
        self.conn.close().await;
        self.pool.clear();
        self.push.close().await;
        if let Some(cache) = &self.cache {
            cache.cache.close().await;
        }
    }

    /// As [`Client::send`], asking to cache a cacheable read: in
    /// [`CacheMode::OptIn`](crate::cache::CacheMode::OptIn) only reads sent
    /// this way are cached (`CLIENT CACHING YES` goes right before them);
    /// in the other modes, and without a cache, it is [`Client::send`].
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn send_cached(&self, c: &Cmd) -> Result<Frame, Error> {
        match &self.cache {
            Some(cache) => cache.send(self, c, true).await,
            None => self.send_uncached(c).await,
        }
    }

    /// The cache's counters, or `None` without a cache.
    pub fn cache_stats(&self) -> Option<crate::cache::CacheStats> {
        self.cache.as_ref().map(|c| c.cache.stats())
    }

    /// True once [`Client::close`] was called (on this handle or a clone).
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// A receiver of every push frame this client's connections get, with
    /// room for [`crate::push::DEFAULT_CAPACITY`] events (oldest dropped
    /// past it, reported as [`PushEvent::Lagged`](crate::push::PushEvent::Lagged)).
    /// Frames arriving before the call are not replayed.
    pub fn push_frames(&self) -> crate::push::PushReceiver {
        self.push_frames_bounded(crate::push::DEFAULT_CAPACITY, crate::push::DEFAULT_MAX_BYTES)
    }

    /// As [`Client::push_frames`], holding at most `capacity` events and
    /// about `max_bytes` bytes of frames.
    pub fn push_frames_bounded(&self, capacity: usize, max_bytes: usize) -> crate::push::PushReceiver {
        self.push.hub.receiver(capacity, max_bytes)
    }

    /// Turns `CLIENT TRACKING ON` on for the multiplexed connection, now and
    /// on every reconnect (before any command uses the new connection):
    /// keys read through it are tracked, and their invalidations arrive as
    /// [`PushEvent::Frame`](crate::push::PushEvent::Frame)s of kind
    /// `invalidate` on [`Client::push_frames`]. After a
    /// [`PushEvent::Reconnected`](crate::push::PushEvent::Reconnected) a
    /// cache must be flushed: invalidations for the old connection are lost.
    /// Reads through pooled connections (blocking commands) are not tracked.
    /// Calling it again replaces the options.
    ///
    /// # Errors
    /// [`Error::Config`] on RESP2 (invalidations are push frames: RESP3
    /// only); the server's refusal; connection errors; [`Error::Closed`].
    pub async fn enable_tracking(&self, tracking: crate::push::Tracking) -> Result<(), Error> {
        let conn =
            self.conn.connection().await.map_err(|e| connect_failure(e, &self.conn.options().describe()))?;
        if conn.protocol() != crate::conn::Protocol::Resp3 {
            return Err(Error::Config("CLIENT TRACKING needs RESP3 (protocol=3)".into()));
        }
        let c = crate::push::tracking_cmd(&tracking);
        self.conn.add_setup(c.clone()).await?;
        *self.push.tracking.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
        Ok(())
    }

    /// Subscribes a push link (a dedicated connection, reconnected and
    /// resubscribed by itself) to `channels`; their messages arrive on
    /// [`Client::push_frames`]. For keyspace notifications: subscribe to
    /// `__keyevent@<db>__:<event>` or `__keyspace@<db>__:<key>` after the
    /// server's `notify-keyspace-events` is set. Returns once the server
    /// confirmed every channel.
    ///
    /// # Errors
    /// [`Error::Config`] without channels; the subscribe's failure (the
    /// channels stay registered and are subscribed when the link is up);
    /// [`Error::Timeout`] when the link did not connect in time; [`Error::Closed`].
    ///
    /// # Cancel safety
    /// The subscription goes ahead in the background.
    pub async fn subscribe_push<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        channels: I,
    ) -> Result<(), Error> {
        self.push_link(false, channels).await
    }

    /// As [`Client::subscribe_push`], with `PSUBSCRIBE` patterns
    /// (`__keyspace@0__:user:*`).
    ///
    /// # Errors
    /// As [`Client::subscribe_push`].
    ///
    /// # Cancel safety
    /// As [`Client::subscribe_push`].
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
        let opts = self.conn.options().clone();
        let node = crate::push::node_of(&opts);
        self.push.links.subscribe(&self.push.hub, vec![(node, opts)], sub).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_sha_matches_the_server_algorithm() {
        // SHA1("return 1"), as `SCRIPT LOAD "return 1"` answers.
        assert_eq!(Script::new("return 1").sha(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }

    #[test]
    fn blocking_commands_are_known_by_name() {
        for c in [
            cmd("BLPOP").arg("l").arg(0),
            cmd("brpop").arg("l").arg(1),
            cmd("BLMOVE").arg("a").arg("b").arg("LEFT").arg("RIGHT").arg(0),
            cmd("BZPOPMIN").arg("z").arg(0),
            cmd("XREAD").arg("BLOCK").arg(0).arg("STREAMS").arg("s").arg("$"),
            cmd("XREADGROUP")
                .arg("GROUP")
                .arg("g")
                .arg("c")
                .arg("BLOCK")
                .arg(5)
                .arg("STREAMS")
                .arg("s")
                .arg(">"),
        ] {
            assert!(is_known_blocking(&c), "{c:?}");
        }
        for c in [
            cmd("GET").arg("k"),
            cmd("LPOP").arg("l"),
            cmd("XREAD").arg("STREAMS").arg("s").arg("0"),
            cmd("BITCOUNT").arg("k"),
            cmd("WATCH").arg("k"),
            cmd("WAIT").arg(1).arg(0),
        ] {
            assert!(!is_known_blocking(&c), "{c:?}");
        }
    }
}
