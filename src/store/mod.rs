//! The store API a mail server calls, over Stalwart's five in-memory store variants.
//!
//! Lives here: [`Store`], the one type users hold, and [`StoreKind`]. Each
//! variant has its own module: `embedded` (`Default`: an in-process key
//! space), `remote` (`Redis`, `RedisCluster` and `RedisSentinel`: the same
//! commands over a standalone [`Client`](crate::Client), the cluster router or
//! the [sentinel client](crate::sentinel::SentinelClient)), `sharded`
//! (`Sharded`: keys spread over several of those by a stable hash), with
//! `translate` (pure argument and reply mapping), `stalwart` (Stalwart 0.16's
//! key layouts, pure) and `connect` (configuration to options). Not here:
//! connections, routing, parsing the configuration.
//!
//! # Semantics, the same on every variant
//! The embedded store's documentation defines them, and one test suite
//! (`tests/store.rs`) checks them against every variant:
//!
//! * **One key space** of binary keys. Values and counters live side by side;
//!   a counter is a value holding a decimal i64 (`key_get` on a counter returns
//!   its digits, `counter_incr` on another value is an [`Error::Type`]).
//! * **Expiry.** `ttl: None` means no expiry (and `key_set` clears an old
//!   one); `Some(Duration::ZERO)` is an error. `counter_incr` sets the expiry
//!   only when the key has none. Servers keep expiries in whole milliseconds,
//!   rounded up.
//! * **Rate limits** count in fixed windows of `period` whole seconds from the
//!   Unix epoch, in a counter `<key>:<window number>` that expires one period
//!   after its first hit. The window is chosen by this machine's clock.
//! * **Locks** are set-if-absent keys holding a random [`LockToken`];
//!   removing one requires the token.
//!
//! # Sharing a Redis with Stalwart 0.16 nodes
//! A mail cluster upgraded node by node has old (redis-rs) Stalwart nodes and
//! redwire nodes on the same data. [`Compat::Stalwart016`] (`"compat":
//! "stalwart-0.16"` in the configuration, or [`Store::with_compat`]) makes
//! the differing defaults Stalwart's: `Sharded` picks shards by
//! `xxh3_64(key)`, and `counter_incr` sets the expiry on every call that
//! carries one. Stalwart's rate limits and locks have their own methods, on
//! every store whatever the compat: [`Store::is_rate_allowed_prefixed`],
//! [`Store::try_lock_plain`], [`Store::remove_lock_plain`]. Keys and values
//! are stored verbatim in both modes.
//!
//! # Failures and cancellation (server-backed variants)
//! Errors are those of the connection layer: a command that was never sent
//! fails with [`Error::NotSent`] and did not run; one whose connection broke
//! after it was sent fails with [`Error::OutcomeUnknown`] or [`Error::Timeout`]
//! and may have run. Dropping an operation's future after its command was
//! written does not undo it: a `key_set` may still happen, and a `try_lock`
//! may leave a lock nobody holds the token of (it expires after its ttl).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

pub(crate) mod embedded;

mod connect;
mod fallback;
mod lazy;
mod remote;
pub(crate) mod sharded;
mod stalwart;
mod translate;

pub use embedded::{Embedded, EmbeddedOptions, LockToken};
pub use stalwart::Rate;

use crate::config::{Compat, StoreConfig};
use crate::conn::ConnectOptions;
use crate::error::{Error, Result};
use crate::pool::PoolOptions;
use crate::route::ClusterOptions;
use crate::sentinel::SentinelOptions;
use connect::{at_path, cluster_options, redis_options, sentinel_options};
use lazy::Lazy;
use remote::Remote;
use sharded::Sharded;

/// Which of Stalwart's variants a [`Store`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// `Default`: the embedded in-process store.
    Default,
    /// `Redis`: one Redis/Valkey server.
    Redis,
    /// `RedisCluster`: a Redis/Valkey cluster.
    RedisCluster,
    /// `RedisSentinel`: the master of a sentinel-monitored service.
    RedisSentinel,
    /// `Sharded`: keys spread over several Redis or RedisCluster stores.
    Sharded,
}

impl StoreKind {
    /// The `"@type"` of the variant, as the JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Default => "Default",
            StoreKind::Redis => "Redis",
            StoreKind::RedisCluster => "RedisCluster",
            StoreKind::RedisSentinel => "RedisSentinel",
            StoreKind::Sharded => "Sharded",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An in-memory store: sessions, counters, rate limits and locks for a mail
/// server, in-process or on Redis/Valkey. Cheap to clone: clones share the
/// key space (embedded) or the connections (server-backed).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> redwire::Result<()> {
/// use std::time::Duration;
/// let store = redwire::Store::embedded();
/// store.key_set(b"session:42", "alice".into(), Some(Duration::from_secs(600))).await?;
/// assert_eq!(store.key_get(b"session:42").await?.as_deref(), Some(&b"alice"[..]));
/// assert_eq!(store.counter_incr(b"quota:alice", 5, None).await?, 5);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    Default(Embedded),
    Redis(Remote),
    RedisCluster(Remote),
    RedisSentinel(Remote),
    Sharded(Sharded),
    /// Any server-backed variant, connected on its first operation.
    Lazy(Lazy),
}

/// Runs the same call on whichever variant `$store` is, binding it to `$s`
/// (a lazy store is started first, and never holds another lazy one).
macro_rules! dispatch {
    ($store:expr, $s:ident => $call:expr) => {
        match &$store.backend {
            Backend::Lazy(lazy) => match &lazy.store().await?.backend {
                Backend::Default($s) => $call,
                Backend::Redis($s) | Backend::RedisCluster($s) | Backend::RedisSentinel($s) => $call,
                Backend::Sharded($s) => $call,
                Backend::Lazy(_) => Err(Error::Other("a lazy store inside a lazy store".into())),
            },
            Backend::Default($s) => $call,
            Backend::Redis($s) | Backend::RedisCluster($s) | Backend::RedisSentinel($s) => $call,
            Backend::Sharded($s) => $call,
        }
    };
}

impl From<Embedded> for Store {
    fn from(store: Embedded) -> Store {
        Store { backend: Backend::Default(store) }
    }
}

impl Store {
    /// The store a configuration describes, connected: secrets are read
    /// (environment or file) and every server is connected now, so a wrong
    /// address or password shows here rather than on the first operation.
    ///
    /// `Redis`: a [`Client`](crate::Client) (one multiplexed connection and a
    /// pool with the `pool*` settings); `timeout` bounds the connect and every
    /// reply. `RedisCluster`: the cluster router, see [`Store::cluster`] for
    /// the fields it uses. `RedisSentinel`: the master the sentinels name,
    /// checked with `ROLE` and followed through failovers (see
    /// [`crate::sentinel`]). `Sharded`: each store in turn, in the listed order.
    ///
    /// # Errors
    /// [`Error::Config`] for an unreadable secret (naming the field, e.g.
    /// `stores[1].authSecret: environment variable "X" is not set`, never the
    /// value) or a `Default`, `Sharded` or `RedisSentinel` store inside a
    /// `Sharded` one, or a `serviceName` no sentinel monitors; a
    /// server that cannot be reached or refuses the credentials gives the
    /// connection error ([`Error::Io`], [`Error::ConnectTimeout`],
    /// [`Error::Auth`] ...), which never contains a password.
    ///
    /// `compat` applies as [`Store::with_compat`] does.
    ///
    /// # Cancel safety
    /// Dropping the future drops the connections made so far.
    pub async fn from_config(config: &StoreConfig) -> Result<Store> {
        let backend = match config {
            StoreConfig::Default => Backend::Default(Embedded::new(EmbeddedOptions::default())),
            StoreConfig::Redis(redis) => {
                let (opts, pool) = redis_options(redis)?;
                Backend::Redis(Remote::standalone(opts, pool).await?)
            }
            StoreConfig::RedisCluster(cluster) => {
                Backend::RedisCluster(Remote::cluster(cluster_options(cluster)?).await?)
            }
            StoreConfig::RedisSentinel(sentinel) => {
                Backend::RedisSentinel(Remote::sentinel(sentinel_options(sentinel)?).await?)
            }
            StoreConfig::Sharded(sharded) => {
                let mut shards = Vec::with_capacity(sharded.stores.len());
                for (i, store) in sharded.stores.iter().enumerate() {
                    let path = format!("stores[{i}]");
                    let shard = match store {
                        StoreConfig::Redis(redis) => {
                            let (opts, pool) = redis_options(redis)?;
                            Remote::standalone(opts, pool).await?
                        }
                        StoreConfig::RedisCluster(cluster) => {
                            Remote::cluster(cluster_options(cluster).map_err(|e| at_path(&path, e))?).await?
                        }
                        other => return Err(not_a_shard(&path, other.type_name())),
                    };
                    shards.push(shard);
                }
                Backend::Sharded(Sharded::new(shards)?)
            }
        };
        Ok(Store { backend }.with_compat(config.compat()))
    }

    /// This store, sharing its key space or connections, following `compat`
    /// (see the module doc): with [`Compat::Stalwart016`] a `Sharded` store
    /// picks shards by xxh3 and `counter_incr` sets the expiry on every call
    /// that carries one, on every variant.
    pub fn with_compat(&self, compat: Compat) -> Store {
        let backend = match &self.backend {
            Backend::Default(s) => Backend::Default(s.with_compat(compat)),
            Backend::Redis(s) => Backend::Redis(s.with_compat(compat)),
            Backend::RedisCluster(s) => Backend::RedisCluster(s.with_compat(compat)),
            Backend::RedisSentinel(s) => Backend::RedisSentinel(s.with_compat(compat)),
            Backend::Sharded(s) => Backend::Sharded(s.with_compat(compat)),
            Backend::Lazy(lazy) => return lazy.with_compat(compat),
        };
        Store { backend }
    }

    /// Whose behaviour this store follows.
    pub fn compat(&self) -> Compat {
        match &self.backend {
            Backend::Default(s) => s.compat(),
            Backend::Redis(s) | Backend::RedisCluster(s) | Backend::RedisSentinel(s) => s.compat(),
            Backend::Sharded(s) => s.compat(),
            Backend::Lazy(lazy) => lazy.compat(),
        }
    }

    /// For a `Sharded` store, the index (in configuration order) of the
    /// store holding `key`; `None` for the other variants.
    pub fn shard_index(&self, key: &[u8]) -> Option<usize> {
        match &self.backend {
            Backend::Sharded(s) => Some(s.shard_index(key)),
            _ => None,
        }
    }

    /// The store a configuration describes, connected on its first operation
    /// rather than now: a process can start while Redis is down, and the
    /// first operation after the server comes up is served (Stalwart boots
    /// this way). Opt-in; [`Store::from_config`] stays eager, so a wrong
    /// address shows at start.
    ///
    /// Checked now: URLs, secrets (read now, as by `from_config`) and the
    /// `Sharded` rules. Each operation before the servers can be reached
    /// fails with [`Error::NotSent`] around the connection error (nothing ran)
    /// after at most one connect attempt bounded by `timeout`; the next one
    /// tries again. The `Default` variant is built at once.
    ///
    /// # Errors
    /// [`Error::Config`] for an unreadable secret or a store not allowed in
    /// `Sharded`, with its JSON path; [`Error::Url`] for a bad URL.
    pub fn from_config_lazy(config: &StoreConfig) -> Result<Store> {
        let kind = match config {
            StoreConfig::Default => return Ok(Store::embedded()),
            StoreConfig::Redis(_) => StoreKind::Redis,
            StoreConfig::RedisCluster(_) => StoreKind::RedisCluster,
            StoreConfig::RedisSentinel(_) => StoreKind::RedisSentinel,
            StoreConfig::Sharded(_) => StoreKind::Sharded,
        };
        Ok(Store { backend: Backend::Lazy(Lazy::new(config, kind)?) })
    }

    /// False for a store from [`Store::from_config_lazy`] until an operation
    /// has connected it; true for every other store.
    pub fn is_started(&self) -> bool {
        match &self.backend {
            Backend::Lazy(lazy) => lazy.is_started(),
            _ => true,
        }
    }

    /// A new embedded store with default options (no memory limit, expired
    /// entries purged every minute). Inside a tokio runtime it starts the
    /// purge task; see [`Embedded::new`].
    pub fn embedded() -> Store {
        Store::from(Embedded::new(EmbeddedOptions::default()))
    }

    /// A `Redis` store for one URL (see [`crate::url::parse_url`]), every
    /// other setting at Stalwart's default.
    ///
    /// # Errors
    /// [`Error::Url`] for a bad URL; otherwise as [`Store::from_config`].
    pub async fn from_url(url: &str) -> Result<Store> {
        Store::from_config(&StoreConfig::from_url(url)?).await
    }

    /// A `RedisCluster` store for these seed URLs, credentials from the URLs,
    /// every other setting at Stalwart's default.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty list, [`Error::Url`] for a bad URL;
    /// otherwise as [`Store::from_config`].
    pub async fn from_cluster_urls<S: AsRef<str>>(urls: &[S]) -> Result<Store> {
        Store::from_config(&StoreConfig::from_cluster_urls(urls)?).await
    }

    /// A `Redis` store with explicit connection and pool settings.
    ///
    /// # Errors
    /// As [`Client::connect`](crate::Client::connect).
    pub async fn redis(opts: ConnectOptions, pool: PoolOptions) -> Result<Store> {
        Ok(Store { backend: Backend::Redis(Remote::standalone(opts, pool).await?) })
    }

    /// A `RedisCluster` store with explicit router settings.
    ///
    /// # Errors
    /// As [`ClusterClient::connect`](crate::route::ClusterClient::connect).
    pub async fn cluster(opts: ClusterOptions) -> Result<Store> {
        Ok(Store { backend: Backend::RedisCluster(Remote::cluster(opts).await?) })
    }

    /// A `RedisSentinel` store with explicit client settings.
    ///
    /// # Errors
    /// As [`SentinelClient::connect`](crate::sentinel::SentinelClient::connect).
    pub async fn sentinel(opts: SentinelOptions) -> Result<Store> {
        Ok(Store { backend: Backend::RedisSentinel(Remote::sentinel(opts).await?) })
    }

    /// A `Sharded` store over `stores`, in this order: a key lives on store
    /// `FNV-1a-64(key) % stores.len()` (with [`Compat::Stalwart016`],
    /// Stalwart 0.16's `xxh3_64(key) % n`; [`Store::shard_index`] tells), so
    /// the order decides where each key lives.
    ///
    /// # Errors
    /// [`Error::Config`] for fewer than two stores, or one that is `Default`
    /// or `Sharded` (as Stalwart allows only Redis and RedisCluster shards).
    pub fn sharded(stores: Vec<Store>) -> Result<Store> {
        let mut shards = Vec::with_capacity(stores.len());
        for (i, store) in stores.into_iter().enumerate() {
            match store.backend {
                Backend::Redis(remote) | Backend::RedisCluster(remote) => shards.push(remote),
                Backend::Lazy(_) => {
                    return Err(Error::Config(format!(
                        "stores[{i}]: a lazily started store cannot be a shard (start the Sharded store lazily instead)"
                    )))
                }
                other => {
                    let kind = Store { backend: other }.kind();
                    return Err(not_a_shard(&format!("stores[{i}]"), kind.as_str()));
                }
            }
        }
        Ok(Store { backend: Backend::Sharded(Sharded::new(shards)?) })
    }

    /// Which variant this is.
    pub fn kind(&self) -> StoreKind {
        match &self.backend {
            Backend::Default(_) => StoreKind::Default,
            Backend::Redis(_) => StoreKind::Redis,
            Backend::RedisCluster(_) => StoreKind::RedisCluster,
            Backend::RedisSentinel(_) => StoreKind::RedisSentinel,
            Backend::Sharded(_) => StoreKind::Sharded,
            Backend::Lazy(lazy) => lazy.kind(),
        }
    }

    /// The embedded store, for the `Default` variant.
    pub fn as_embedded(&self) -> Option<&Embedded> {
        match &self.backend {
            Backend::Default(store) => Some(store),
            _ => None,
        }
    }

    /// Sets `key` to `value`, replacing any value or counter, with an expiry
    /// after `ttl` (`None`: no expiry, clearing any previous one).
    ///
    /// # Errors
    /// A zero `ttl`; an `OOM` [`Error::Server`] when the store is full; the
    /// connection errors of the module doc.
    ///
    /// # Cancel safety
    /// See the module doc: a dropped call may still have written.
    pub async fn key_set(&self, key: &[u8], value: Bytes, ttl: Option<Duration>) -> Result<()> {
        dispatch!(self, s => s.key_set(key, value, ttl).await)
    }

    /// The value under `key` (a counter reads as its decimal digits).
    ///
    /// # Errors
    /// The connection errors of the module doc.
    ///
    /// # Cancel safety
    /// Cancel-safe: it only reads.
    pub async fn key_get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        dispatch!(self, s => s.key_get(key).await)
    }

    /// True when `key` holds a live value or counter.
    ///
    /// # Errors
    /// The connection errors of the module doc.
    ///
    /// # Cancel safety
    /// Cancel-safe: it only reads.
    pub async fn key_exists(&self, key: &[u8]) -> Result<bool> {
        dispatch!(self, s => s.key_exists(key).await)
    }

    /// Deletes `key`; true if it held a live value or counter.
    ///
    /// # Errors
    /// The connection errors of the module doc.
    ///
    /// # Cancel safety
    /// See the module doc: a dropped call may still have deleted.
    pub async fn key_delete(&self, key: &[u8]) -> Result<bool> {
        dispatch!(self, s => s.key_delete(key).await)
    }

    /// Deletes every key (values and counters) starting with `prefix`,
    /// returning how many live ones were deleted. An empty prefix deletes
    /// everything. Servers are walked with `SCAN` (every primary of a
    /// cluster, every shard), so keys written during the walk may or may not
    /// be deleted; the prefix is matched literally, glob characters included.
    ///
    /// # Errors
    /// The connection errors of the module doc; keys deleted before an error
    /// stay deleted.
    ///
    /// # Cancel safety
    /// A dropped call leaves the keys it reached deleted and the rest in place.
    pub async fn key_delete_prefix(&self, prefix: &[u8]) -> Result<u64> {
        dispatch!(self, s => s.key_delete_prefix(prefix).await)
    }

    /// Adds `delta` to the counter under `key` (a missing key counts as 0) and
    /// returns the new value. `ttl` sets an expiry only if the key has none;
    /// with [`Compat::Stalwart016`] it sets it on every call (`MULTI`,
    /// `INCRBY`, `EXPIRE`, `EXEC` on a server), as Stalwart does.
    /// Atomic: concurrent increments from any number of clients all count.
    ///
    /// # Errors
    /// [`Error::Type`] if the key holds a value that is not a decimal i64 or
    /// the sum overflows; a zero `ttl`; `OOM` and connection errors as for
    /// [`Store::key_set`].
    ///
    /// # Cancel safety
    /// See the module doc: a dropped call may still have counted.
    pub async fn counter_incr(&self, key: &[u8], delta: i64, ttl: Option<Duration>) -> Result<i64> {
        dispatch!(self, s => s.counter_incr(key, delta, ttl).await)
    }

    /// The counter under `key`; 0 when missing.
    ///
    /// # Errors
    /// [`Error::Type`] if the key holds a value that is not a decimal i64;
    /// the connection errors of the module doc.
    ///
    /// # Cancel safety
    /// Cancel-safe: it only reads.
    pub async fn counter_get(&self, key: &[u8]) -> Result<i64> {
        dispatch!(self, s => s.counter_get(key).await)
    }

    /// Deletes the counter under `key` (any value there, in fact: one key
    /// space); true if it was live.
    ///
    /// # Errors
    /// The connection errors of the module doc.
    ///
    /// # Cancel safety
    /// As [`Store::key_delete`].
    pub async fn counter_delete(&self, key: &[u8]) -> Result<bool> {
        dispatch!(self, s => s.counter_delete(key).await)
    }

    /// Fixed-window rate limit: at most `limit` hits per `period` (whole
    /// seconds; windows start at multiples of `period` since the Unix epoch).
    /// The counter is `<key>:<window>`; it expires one `period` after its first hit.
    ///
    /// Not `soft`: counts this hit, then returns `None` if the count is within
    /// `limit`, else `Some(seconds until the window ends)`. `soft`: counts
    /// nothing and returns `Some(..)` if the count already reached `limit`.
    ///
    /// # Errors
    /// A `period` under one second; [`Error::Type`] if the window key holds a
    /// non-counter value; `OOM` and connection errors as for [`Store::key_set`].
    ///
    /// # Cancel safety
    /// See the module doc: a dropped hit may still have counted.
    pub async fn is_rate_allowed(
        &self,
        key: &[u8],
        limit: u64,
        period: Duration,
        soft: bool,
    ) -> Result<Option<u64>> {
        dispatch!(self, s => s.is_rate_allowed(key, limit, period, soft).await)
    }

    /// Stalwart 0.16's rate limit, with its key layout, so that old and new
    /// nodes count in the same buckets. (Named apart from
    /// [`Store::is_rate_allowed`], redwire's own layout, which it does not replace.)
    ///
    /// `period = max(1 s, rate.period)` in whole seconds, `window = now /
    /// period` (Unix seconds), the counter is `prefix ‖ key ‖ window` (u64
    /// big-endian) and expires `(window + 1) · period − now` seconds from now,
    /// set on every hit. Not `soft`: counts the hit (`INCRBY` + `EXPIRE` in
    /// one transaction). `soft`: reads the counter and adds one, counting
    /// nothing. Either way `None` when that count is within `rate.count`,
    /// else `Some(seconds until the window ends)`. On `Sharded`, the shard is
    /// the bucket key's.
    ///
    /// # Errors
    /// [`Error::Type`] if the bucket holds a non-counter value; `OOM` and
    /// connection errors as for [`Store::key_set`].
    ///
    /// # Cancel safety
    /// See the module doc: a dropped hit may still have counted.
    pub async fn is_rate_allowed_prefixed(
        &self,
        prefix: u8,
        key: &[u8],
        rate: &Rate,
        soft: bool,
    ) -> Result<Option<u64>> {
        dispatch!(self, s => s.is_rate_allowed_prefixed(prefix, key, rate, soft).await)
    }

    /// Stalwart 0.16's lock: `SET key <value> NX EX secs`; true when taken.
    /// The value is the Unix time the lock expires at, in decimal, as
    /// Stalwart writes it (its nodes only test whether the key exists). No
    /// token: anyone may remove it, so prefer [`Store::try_lock`] unless
    /// Stalwart nodes share the lock.
    ///
    /// # Errors
    /// Zero `secs`; `OOM` and connection errors as for [`Store::key_set`].
    ///
    /// # Cancel safety
    /// See the module doc: a dropped call may still have taken the lock
    /// (it expires after `secs`).
    pub async fn try_lock_plain(&self, key: &[u8], secs: u64) -> Result<bool> {
        dispatch!(self, s => s.try_lock_plain(key, secs).await)
    }

    /// Removes a plain lock with `DEL key`, whoever holds it; true if one was held.
    ///
    /// # Errors
    /// The connection errors of the module doc.
    ///
    /// # Cancel safety
    /// See the module doc: a dropped call may still have removed the lock.
    pub async fn remove_lock_plain(&self, key: &[u8]) -> Result<bool> {
        dispatch!(self, s => s.remove_lock_plain(key).await)
    }

    /// Takes the lock `key` for `ttl` if nobody holds it: `Some(token)` on
    /// success, `None` if it is held.
    ///
    /// # Errors
    /// A zero `ttl`; `OOM` and connection errors as for [`Store::key_set`]
    /// (after an [`Error::OutcomeUnknown`] the lock may be taken, by nobody
    /// who knows the token, until it expires).
    ///
    /// # Cancel safety
    /// See the module doc; the embedded store never leaves a lock behind.
    pub async fn try_lock(&self, key: &[u8], ttl: Duration) -> Result<Option<LockToken>> {
        dispatch!(self, s => s.try_lock(key, ttl).await)
    }

    /// Releases the lock `key` if `token` still holds it; false if it expired
    /// or someone else holds it now. Atomic: never removes another holder's lock.
    ///
    /// # Errors
    /// The connection errors of the module doc.
    ///
    /// # Cancel safety
    /// See the module doc: a dropped call may still have released the lock.
    pub async fn remove_lock(&self, key: &[u8], token: &LockToken) -> Result<bool> {
        dispatch!(self, s => s.remove_lock(key, token).await)
    }

    /// Drops expired entries now and returns how many: the embedded store's
    /// housekeeping. Servers expire keys themselves, so on the server-backed
    /// variants this does nothing and returns 0.
    ///
    /// # Errors
    /// None today; the signature leaves room for stores that can fail here.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn purge(&self) -> Result<u64> {
        match &self.backend {
            Backend::Default(store) => store.purge().await,
            Backend::Redis(_)
            | Backend::RedisCluster(_)
            | Backend::RedisSentinel(_)
            | Backend::Sharded(_)
            | Backend::Lazy(_) => Ok(0),
        }
    }
}

fn not_a_shard(path: &str, kind: &str) -> Error {
    Error::Config(format!("{path}: a Sharded store holds Redis or RedisCluster stores only, not \"{kind}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_sync_and_cheap_to_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Store>();
    }

    #[tokio::test]
    async fn sharded_refuses_embedded_and_short_lists() {
        let e = Store::sharded(vec![Store::embedded(), Store::embedded()]).unwrap_err();
        assert!(
            matches!(&e, Error::Config(m) if m.contains("stores[0]") && m.contains("\"Default\"")),
            "{e}"
        );
        let e = Store::sharded(Vec::new()).unwrap_err();
        assert!(matches!(&e, Error::Config(m) if m.contains("at least 2")), "{e}");
    }

    #[tokio::test]
    async fn default_config_is_the_embedded_store() {
        let store = Store::from_config(&StoreConfig::Default).await.unwrap();
        assert_eq!(store.kind(), StoreKind::Default);
        assert!(store.as_embedded().is_some());
        store.key_set(b"k", Bytes::from_static(b"v"), None).await.unwrap();
        assert_eq!(store.purge().await.unwrap(), 0);
        assert_eq!(StoreKind::RedisCluster.to_string(), "RedisCluster");
    }
}
