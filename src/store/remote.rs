//! The `Redis`, `RedisCluster` and `RedisSentinel` variants: each store
//! operation as server commands.
//!
//! Lives here: [`Remote`], one type for the three variants, over a standalone
//! [`Client`] (one multiplexed connection plus a pool), the cluster router
//! ([`ClusterClient`], which sends each command to its key's slot), or the
//! sentinel client ([`SentinelClient`], which sends to the current master and
//! follows failovers). The commands are the same for all; only the prefix
//! delete differs, since `SCAN` walks one node: on a cluster it walks every
//! primary, with sentinels the current master. Not here:
//! the pure argument and reply mapping (`translate`), the choice of a shard
//! (`sharded`), the public [`Store`](super::Store) that documents the semantics.
//!
//! The commands, one round trip each:
//!
//! | operation | command |
//! |---|---|
//! | `key_set` | `SET key value [EX s \| PX ms]` |
//! | `key_get` / `counter_get` | `GET key` |
//! | `key_exists` | `EXISTS key` |
//! | `key_delete` / `counter_delete` | `UNLINK key` |
//! | `key_delete_prefix` | `SCAN cursor MATCH <escaped prefix>* COUNT 1000`, `UNLINK` per page |
//! | `counter_incr` without ttl | `INCRBY key delta` |
//! | `counter_incr` with ttl, rate-limit hit | script [`COUNTER_INCR_LUA`] |
//! | soft rate-limit check | `GET <key>:<window>` |
//! | `try_lock` | `SET key token NX EX s \| PX ms` |
//! | `remove_lock` | `DELIFEQ key token` (Valkey 9+), else script [`REMOVE_LOCK_LUA`] |
//!
//! With [`Compat::Stalwart016`], and for the Stalwart-layout operations on
//! every store, the commands are Stalwart 0.16's:
//!
//! | operation | command |
//! |---|---|
//! | `counter_incr` with ttl (compat) | `MULTI`, `INCRBY key delta`, `EXPIRE key s` (`PEXPIRE` below a second), `EXEC` |
//! | `is_rate_allowed_prefixed` hit | `MULTI`, `INCRBY bucket 1`, `EXPIRE bucket s`, `EXEC` |
//! | `is_rate_allowed_prefixed` soft | `GET bucket` |
//! | `try_lock_plain` | `SET key <expiry unix secs> NX EX s` |
//! | `remove_lock_plain` | `DEL key` |
//!
//! The transaction runs on the standalone client's shared connection
//! ([`Client::transaction`]), or on a cluster on the connection to the
//! primary of the key's slot (one key, so one slot); there a transaction the
//! server aborted (a slot that moved: nothing ran) is retried after a
//! topology refresh, at most [`TX_ATTEMPTS`] times.
//!
//! Why a script for counters with a ttl rather than `MULTI`/`INCRBY`/`EXPIRE
//! NX`/`EXEC`: a script is one command, so it routes through the cluster router
//! like any single-key command and needs no connection state, and it is sent
//! as `EVALSHA` (a 40-byte hash) after the first call. The script checks `PTTL`
//! instead of using `EXPIRE ... NX`, which works on servers older than Redis 7.
//! Every script touches exactly one key, declared in `KEYS`, so it is slot-safe.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;

use super::fallback::{self, is_noperm, Scripting};
use super::stalwart::{lock_value, unix_secs, Rate, RateBucket};
use super::translate::{
    counter_error, expiry, has_delifeq, is_unknown_command, parse_counter, prefix_pattern, ttl_millis,
    RateWindow,
};
use super::LockToken;
use crate::client::{Client, Script};
use crate::cmd::{cmd, Cmd, FromReply};
use crate::commands::{AnyClient, Execute};
use crate::commands::{Expiry, ScanPage};
use crate::config::Compat;
use crate::conn::{ConnectOptions, Reconnecting};
use crate::error::{Error, Result, ServerErrorKind};
use crate::pool::PoolOptions;
use crate::resp::Frame;
use crate::route::{key_slot, ClusterClient, ClusterOptions};
use crate::sentinel::{SentinelClient, SentinelOptions};

/// `counter_incr` with a ttl and rate-limit hits: `INCRBY KEYS[1] ARGV[1]`,
/// then `PEXPIRE KEYS[1] ARGV[2]` only when the key has no expiry (a fresh key,
/// or one a plain `INCRBY` created), as `EXPIRE ... NX` would.
pub const COUNTER_INCR_LUA: &str = "\
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n
";

/// `remove_lock` on servers without `DELIFEQ`: delete `KEYS[1]` only while it
/// holds `ARGV[1]`; returns 1 if deleted, else 0.
pub const REMOVE_LOCK_LUA: &str = "\
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

static COUNTER_INCR: LazyLock<Script> = LazyLock::new(|| Script::new(COUNTER_INCR_LUA));
static REMOVE_LOCK: LazyLock<Script> = LazyLock::new(|| Script::new(REMOVE_LOCK_LUA));

/// `SCAN ... COUNT`: keys a server looks at per call. Large enough that a
/// prefix delete over a big key space takes few round trips, small enough that
/// one call does not hold the server for long.
const SCAN_COUNT: u32 = 1000;
/// Most keys in one `UNLINK`.
const UNLINK_BATCH: usize = 1000;
/// Tries of one transaction on a cluster (see the module doc).
pub const TX_ATTEMPTS: u32 = 3;

/// A store on a Redis/Valkey server or cluster. Clones share the connections.
#[derive(Clone, Debug)]
pub struct Remote {
    conn: Conn,
    /// True while the server is believed to have `DELIFEQ`.
    delifeq: Arc<AtomicBool>,
    /// Whose behaviour `counter_incr` follows.
    compat: Compat,
    /// Set once scripts were refused with `NOPERM`: plain commands from then on.
    scripting: Scripting,
}

/// The store's connection: the crate's one client type for every topology.
type Conn = AnyClient;

/// What the store needs beyond [`Execute`]: a transaction on one key.
trait Transact {
    /// `MULTI`, `cmds`, `EXEC` for commands on the one key `key`; EXEC's replies.
    async fn transaction(&self, key: &[u8], cmds: &[Cmd]) -> Result<Vec<Frame>>;
}

impl Transact for AnyClient {
    async fn transaction(&self, key: &[u8], cmds: &[Cmd]) -> Result<Vec<Frame>> {
        match self {
            AnyClient::Standalone(client) => client.transaction(cmds).await,
            AnyClient::Cluster(cluster) => {
                let slot = key_slot(key);
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let (_, node) = cluster.primary_for_slot(slot)?;
                    let result = match node.connection().await {
                        Ok(conn) => conn.transaction(cmds).await,
                        Err(e) => Err(e),
                    };
                    match result {
                        Err(e) if attempt < TX_ATTEMPTS && tx_did_not_run(&e) => {
                            cluster.request_refresh();
                            tokio::time::sleep(Duration::from_millis(25 * u64::from(attempt))).await;
                        }
                        other => return other,
                    }
                }
            }
            AnyClient::Sentinel(sentinel) => {
                // On the current master; a transaction that certainly did not
                // run (never sent: the master went away) goes to the next one,
                // which the sentinels' `+switch-master` installs.
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match sentinel.master().transaction(cmds).await {
                        Err(e) if attempt < TX_ATTEMPTS && e.is_not_sent() => {
                            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                        }
                        other => return other,
                    }
                }
            }
        }
    }
}

/// True when a cluster transaction certainly did not run and may be sent
/// again: never sent, or aborted by the server. `Connection::transaction`
/// reports an `EXECABORT` (a command refused while queueing, e.g. `MOVED`
/// for a slot that left this node) as [`Error::TransactionDiscarded`], a
/// `WATCH` abort as [`Error::TransactionAborted`] and a queueing refusal as
/// [`Error::Server`]; in each case `EXEC` ran nothing.
fn tx_did_not_run(error: &Error) -> bool {
    match error {
        Error::NotSent { .. } | Error::TransactionDiscarded { .. } | Error::TransactionAborted { .. } => true,
        Error::Server(e) => matches!(
            e.kind(),
            ServerErrorKind::Moved { .. }
                | ServerErrorKind::Ask { .. }
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
        ),
        _ => false,
    }
}

/// `INFO server` answered by `conn`: does the server have `DELIFEQ`? An
/// error (an ACL user without `INFO`, say) counts as no: the script works everywhere.
async fn probe_delifeq(conn: &Conn) -> bool {
    conn.query::<String>(&cmd("INFO").arg("server")).await.is_ok_and(|info| has_delifeq(&info))
}

/// `<name> key` with room for the key, so building it allocates once.
fn key_cmd(name: &str, key: &[u8], extra: usize) -> Cmd {
    let mut c = Cmd::with_capacity(name, key.len() + extra + 32);
    c.push_bytes(key);
    c
}

fn push_expiry(c: &mut Cmd, expiry: Expiry) {
    expiry.push_to(c);
}

/// `EVALSHA <sha> 1 key`, ready for the script's arguments.
fn evalsha(script: &Script, key: &[u8], extra: usize) -> Cmd {
    let mut c = Cmd::with_capacity("EVALSHA", script.sha().len() + key.len() + extra + 48);
    c.push_arg(script.sha()).push_arg(1u32).push_bytes(key);
    c
}

/// The `EVAL` form of an `EVALSHA` call built by [`evalsha`]: the source in
/// place of the hash, the same keys and arguments.
fn eval_form(script: &Script, call: &Cmd) -> Cmd {
    let mut c = Cmd::with_capacity("EVAL", script.source().len() + call.encoded_len());
    c.push_arg(script.source());
    for arg in call.args().skip(2) {
        c.push_bytes(arg);
    }
    c
}

impl Remote {
    /// A store on one server: connects now (see [`Client::connect`]) and asks
    /// `INFO server` whether it has `DELIFEQ`.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn standalone(opts: ConnectOptions, pool: PoolOptions) -> Result<Remote> {
        Remote::standalone_cached(opts, pool, None).await
    }

    /// As [`Remote::standalone`], with a client-side cache when `cache` is
    /// given (see [`Client::connect_cached`]).
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn standalone_cached(
        opts: ConnectOptions,
        pool: PoolOptions,
        cache: Option<crate::cache::CacheOptions>,
    ) -> Result<Remote> {
        let client = match cache {
            Some(cache) => Client::connect_cached(opts, pool, cache).await?,
            None => Client::connect(opts, pool).await?,
        };
        Ok(Remote::with(AnyClient::Standalone(client)).await)
    }

    /// A store on a cluster: connects the router now and asks one primary
    /// whether the servers have `DELIFEQ`.
    ///
    /// # Errors
    /// As [`ClusterClient::connect`].
    pub async fn cluster(opts: ClusterOptions) -> Result<Remote> {
        let conn = AnyClient::Cluster(ClusterClient::connect(opts).await?);
        Ok(Remote::with(conn).await)
    }

    /// A store on the master of a sentinel-monitored service: finds and
    /// connects to the master now, and asks it whether it has `DELIFEQ`.
    ///
    /// # Errors
    /// As [`SentinelClient::connect`].
    pub async fn sentinel(opts: SentinelOptions) -> Result<Remote> {
        let conn = AnyClient::Sentinel(SentinelClient::connect(opts).await?);
        Ok(Remote::with(conn).await)
    }

    async fn with(conn: Conn) -> Remote {
        let delifeq = probe_delifeq(&conn).await;
        Remote {
            conn,
            delifeq: Arc::new(AtomicBool::new(delifeq)),
            compat: Compat::default(),
            scripting: Scripting::default(),
        }
    }

    /// This store (sharing its connections) following `compat`.
    pub fn with_compat(&self, compat: Compat) -> Remote {
        Remote { compat, ..self.clone() }
    }

    /// Whose behaviour this store follows.
    pub fn compat(&self) -> Compat {
        self.compat
    }

    /// True while `remove_lock` uses `DELIFEQ` rather than the script.
    pub fn uses_delifeq(&self) -> bool {
        self.delifeq.load(Ordering::Relaxed)
    }

    /// Runs a script call built by [`evalsha`]; on `NOSCRIPT` (a restarted
    /// server, a new node) sends the source with `EVAL`, which also caches it.
    async fn eval<T: FromReply>(&self, script: &Script, call: &Cmd) -> Result<T> {
        let frame = self.conn.execute(call).await?;
        let frame = match frame.value() {
            Frame::SimpleError(e) | Frame::BlobError(e) if *e.kind() == ServerErrorKind::NoScript => {
                self.conn.execute(&eval_form(script, call)).await?
            }
            _ => frame,
        };
        T::from_reply(frame)
    }

    /// `INCRBY key delta` and, when the key has no expiry, `PEXPIRE key ttl_ms`, atomically.
    async fn incr_with_ttl(&self, key: &[u8], delta: i64, ttl_ms: u64) -> Result<i64> {
        if !self.scripting.refused() {
            let mut call = evalsha(&COUNTER_INCR, key, 48);
            call.push_arg(delta).push_arg(ttl_ms);
            match self.eval(&COUNTER_INCR, &call).await {
                Err(e) if self.scripting.refuses(&e) => {}
                other => return other.map_err(counter_error),
            }
        }
        let send = |c: Cmd| async move { self.conn.execute(&c).await };
        fallback::incr_with_ttl(send, key, delta, ttl_ms).await.map_err(counter_error)
    }

    /// See [`Store::key_set`](super::Store::key_set).
    pub async fn key_set(&self, key: &[u8], value: Bytes, ttl: Option<Duration>) -> Result<()> {
        let expiry = ttl.map(expiry).transpose()?;
        let mut c = key_cmd("SET", key, value.len() + 48);
        c.push_bytes(&value);
        if let Some(expiry) = expiry {
            push_expiry(&mut c, expiry);
        }
        self.conn.query(&c).await
    }

    /// See [`Store::key_get`](super::Store::key_get).
    pub async fn key_get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.conn.query(&key_cmd("GET", key, 0)).await
    }

    /// See [`Store::key_exists`](super::Store::key_exists).
    pub async fn key_exists(&self, key: &[u8]) -> Result<bool> {
        Ok(self.conn.query::<u64>(&key_cmd("EXISTS", key, 0)).await? > 0)
    }

    /// See [`Store::key_delete`](super::Store::key_delete).
    pub async fn key_delete(&self, key: &[u8]) -> Result<bool> {
        Ok(self.conn.query::<u64>(&key_cmd("UNLINK", key, 0)).await? > 0)
    }

    /// See [`Store::key_delete_prefix`](super::Store::key_delete_prefix).
    pub async fn key_delete_prefix(&self, prefix: &[u8]) -> Result<u64> {
        let pattern = prefix_pattern(prefix);
        match &self.conn {
            AnyClient::Standalone(client) => self.delete_matching(client.multiplexed(), &pattern).await,
            AnyClient::Cluster(cluster) => {
                let mut deleted = 0u64;
                for (_, node) in cluster.primaries().await? {
                    deleted += self.delete_matching(&node, &pattern).await?;
                }
                Ok(deleted)
            }
            // A failover during the walk fails it: the new master's SCAN
            // cursor would mean nothing.
            AnyClient::Sentinel(sentinel) => {
                let master = sentinel.master();
                self.delete_matching(master.multiplexed(), &pattern).await
            }
        }
    }

    /// Scans `node` for keys matching `pattern` and unlinks them (through
    /// the router on a cluster, which splits each batch by slot). The unlink
    /// of one page overlaps the scan of the next. Counts what `UNLINK`
    /// removed, so a key `SCAN` returns twice is counted once.
    async fn delete_matching(&self, node: &Reconnecting, pattern: &[u8]) -> Result<u64> {
        let mut cursor = 0u64;
        let mut deleted = 0u64;
        let mut pending: Vec<Bytes> = Vec::new();
        loop {
            let scan = cmd("SCAN").arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(SCAN_COUNT);
            let (page, unlinked) = tokio::join!(node.query::<ScanPage>(&scan), self.unlink_all(&pending));
            deleted += unlinked?;
            let page = page?;
            pending = page.keys;
            cursor = page.cursor;
            if cursor == 0 {
                return Ok(deleted + self.unlink_all(&pending).await?);
            }
        }
    }

    async fn unlink_all(&self, keys: &[Bytes]) -> Result<u64> {
        let mut deleted = 0u64;
        for batch in keys.chunks(UNLINK_BATCH) {
            deleted += self.conn.query::<u64>(&cmd("UNLINK").args_from(batch)).await?;
        }
        Ok(deleted)
    }

    /// `MULTI`, `INCRBY key delta`, `EXPIRE key s` (or `PEXPIRE key ms` for
    /// a ttl that is not whole seconds), `EXEC`: Stalwart's counter, whose
    /// expiry is set on every call. Returns the new value.
    async fn incr_expire_tx(&self, key: &[u8], delta: i64, ttl: Duration) -> Result<i64> {
        let mut incr = key_cmd("INCRBY", key, 24);
        incr.push_arg(delta);
        let expire = match expiry(ttl)? {
            Expiry::Millis(ms) => {
                let mut c = key_cmd("PEXPIRE", key, 24);
                c.push_arg(ms);
                c
            }
            Expiry::Seconds(s) => {
                let mut c = key_cmd("EXPIRE", key, 24);
                c.push_arg(s);
                c
            }
            // `expiry` never gives it; refused rather than sent without an expiry.
            Expiry::KeepTtl | Expiry::AtSeconds(_) | Expiry::AtMillis(_) => {
                return Err(Error::InvalidArgument("a counter's ttl must be a duration".into()))
            }
        };
        let replies = self.conn.transaction(key, &[incr, expire]).await.map_err(counter_error)?;
        let first = replies.into_iter().next().ok_or_else(|| Error::Type {
            expected: "EXEC replies for INCRBY and EXPIRE",
            got: "an empty array".into(),
        })?;
        i64::from_reply(first).map_err(counter_error)
    }

    /// See [`Store::counter_incr`](super::Store::counter_incr).
    pub async fn counter_incr(&self, key: &[u8], delta: i64, ttl: Option<Duration>) -> Result<i64> {
        match ttl {
            Some(ttl) if self.compat.is_stalwart() => self.incr_expire_tx(key, delta, ttl).await,
            Some(ttl) => self.incr_with_ttl(key, delta, ttl_millis(ttl)?).await,
            None => {
                let mut c = key_cmd("INCRBY", key, 24);
                c.push_arg(delta);
                self.conn.query(&c).await.map_err(counter_error)
            }
        }
    }

    /// See [`Store::counter_delete`](super::Store::counter_delete).
    pub async fn counter_delete(&self, key: &[u8]) -> Result<bool> {
        self.key_delete(key).await
    }

    /// See [`Store::counter_get`](super::Store::counter_get).
    pub async fn counter_get(&self, key: &[u8]) -> Result<i64> {
        match self.key_get(key).await? {
            Some(value) => parse_counter(&value),
            None => Ok(0),
        }
    }

    /// See [`Store::is_rate_allowed`](super::Store::is_rate_allowed).
    pub async fn is_rate_allowed(
        &self,
        key: &[u8],
        limit: u64,
        period: Duration,
        soft: bool,
    ) -> Result<Option<u64>> {
        let window = RateWindow::now(period)?;
        let window_key = window.key(key);
        let count = if soft {
            self.counter_get(&window_key).await?
        } else {
            self.incr_with_ttl(&window_key, 1, window.period_secs.saturating_mul(1000)).await?
        };
        Ok(window.verdict(count, limit, soft))
    }

    /// See [`Store::is_rate_allowed_prefixed`](super::Store::is_rate_allowed_prefixed).
    pub async fn is_rate_allowed_prefixed(
        &self,
        prefix: u8,
        key: &[u8],
        rate: &Rate,
        soft: bool,
    ) -> Result<Option<u64>> {
        self.rate_check(&RateBucket::now(prefix, key, rate), rate, soft).await
    }

    /// One hit (or a soft check) on `bucket`: the body of
    /// [`Remote::is_rate_allowed_prefixed`], for a bucket chosen by the caller.
    pub async fn rate_check(&self, bucket: &RateBucket, rate: &Rate, soft: bool) -> Result<Option<u64>> {
        let count = if soft {
            self.counter_get(&bucket.key).await?.saturating_add(1)
        } else {
            self.incr_expire_tx(&bucket.key, 1, Duration::from_secs(bucket.ttl_secs)).await?
        };
        Ok(bucket.verdict(count, rate))
    }

    /// See [`Store::try_lock_plain`](super::Store::try_lock_plain).
    pub async fn try_lock_plain(&self, key: &[u8], secs: u64) -> Result<bool> {
        if secs == 0 {
            return Err(Error::InvalidArgument("a lock of zero seconds is invalid".into()));
        }
        let value = lock_value(unix_secs(), secs);
        let mut c = key_cmd("SET", key, value.len() + 48);
        c.push_bytes(&value);
        c.push_arg("NX").push_arg("EX").push_arg(secs);
        let taken: Option<()> = self.conn.query(&c).await?;
        Ok(taken.is_some())
    }

    /// See [`Store::remove_lock_plain`](super::Store::remove_lock_plain).
    pub async fn remove_lock_plain(&self, key: &[u8]) -> Result<bool> {
        Ok(self.conn.query::<u64>(&key_cmd("DEL", key, 0)).await? > 0)
    }

    /// See [`Store::try_lock`](super::Store::try_lock).
    pub async fn try_lock(&self, key: &[u8], ttl: Duration) -> Result<Option<LockToken>> {
        let expiry = expiry(ttl)?;
        let token = LockToken::random();
        let mut c = key_cmd("SET", key, token.as_bytes().len() + 48);
        c.push_bytes(token.as_bytes());
        c.push_arg("NX");
        push_expiry(&mut c, expiry);
        let taken: Option<()> = self.conn.query(&c).await?;
        Ok(taken.map(|()| token))
    }

    /// See [`Store::remove_lock`](super::Store::remove_lock).
    pub async fn remove_lock(&self, key: &[u8], token: &LockToken) -> Result<bool> {
        if self.uses_delifeq() {
            let mut c = key_cmd("DELIFEQ", key, token.as_bytes().len());
            c.push_bytes(token.as_bytes());
            match self.conn.query::<u64>(&c).await {
                Ok(n) => return Ok(n > 0),
                // A node without it (a cluster half-way through an upgrade): use the script from now on.
                // Or an ACL user refused it (NOPERM): the same.
                Err(e) if is_unknown_command(&e) || is_noperm(&e) => {
                    self.delifeq.store(false, Ordering::Relaxed)
                }
                Err(e) => return Err(e),
            }
        }
        if !self.scripting.refused() {
            let mut call = evalsha(&REMOVE_LOCK, key, token.as_bytes().len() + 16);
            call.push_bytes(token.as_bytes());
            match self.eval::<u64>(&REMOVE_LOCK, &call).await {
                Err(e) if self.scripting.refuses(&e) => {}
                other => return Ok(other? > 0),
            }
        }
        let send = |c: Cmd| async move { self.conn.execute(&c).await };
        fallback::remove_lock(send, key, token.as_bytes()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &Cmd) -> Vec<Vec<u8>> {
        c.args().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn script_calls_and_their_eval_form() {
        let mut call = evalsha(&COUNTER_INCR, b"k\0", 0);
        call.push_arg(-3i64).push_arg(1500u64);
        let sha = COUNTER_INCR.sha().as_bytes().to_vec();
        assert_eq!(
            args(&call),
            [b"EVALSHA".to_vec(), sha, b"1".to_vec(), b"k\0".to_vec(), b"-3".to_vec(), b"1500".to_vec()]
        );
        let eval = eval_form(&COUNTER_INCR, &call);
        let source = COUNTER_INCR_LUA.as_bytes().to_vec();
        assert_eq!(
            args(&eval),
            [b"EVAL".to_vec(), source, b"1".to_vec(), b"k\0".to_vec(), b"-3".to_vec(), b"1500".to_vec()]
        );
    }

    #[test]
    fn set_commands() {
        let mut c = key_cmd("SET", b"lock", 0);
        c.push_bytes(b"tok");
        c.push_arg("NX");
        push_expiry(&mut c, Expiry::Millis(1500));
        assert_eq!(args(&c), [&b"SET"[..], b"lock", b"tok", b"NX", b"PX", b"1500"].map(<[u8]>::to_vec));
        let mut c = key_cmd("SET", b"k", 0);
        push_expiry(&mut c, Expiry::Seconds(2));
        assert_eq!(args(&c), [&b"SET"[..], b"k", b"EX", b"2"].map(<[u8]>::to_vec));
    }

    #[test]
    fn scripts_touch_only_their_declared_key() {
        // Slot safety: every key the scripts touch is KEYS[1].
        for source in [COUNTER_INCR_LUA, REMOVE_LOCK_LUA] {
            for call in source.split("redis.call(").skip(1) {
                assert!(call.split(',').nth(1).is_none_or(|arg| arg.trim().starts_with("KEYS[1]")), "{call}");
            }
        }
    }
}
