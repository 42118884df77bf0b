//! The `Default` in-memory store: an embedded, in-process key space.
//!
//! Lives here: [`Embedded`] (values, counters, rate limits and locks in one
//! sharded map), [`EmbeddedOptions`] and [`LockToken`]. Not here: the
//! server-backed variants (`store::remote`, `store::sharded`), which implement
//! the same operations with the same meaning so one test suite runs on all.
//!
//! Semantics, shared with the server-backed variants:
//!
//! * **One key space.** Values and counters live side by side; a counter is a
//!   value holding a decimal `i64` (as Redis `INCRBY` sees it), so `key_get` on
//!   a counter returns its digits and `counter_incr` on a non-integer value is
//!   an [`Error::Type`].
//! * **Expiry.** `ttl: None` means no expiry (and `key_set` clears an old one);
//!   `Some(Duration::ZERO)` is an error. `counter_incr` sets the expiry only when
//!   the key has none, like `INCRBY` + `EXPIRE key ttl NX`. Expired entries are
//!   invisible at once (every access checks) and are removed by a background
//!   purge task and by [`Embedded::purge`].
//! * **Rate limits** use fixed windows: the window number `unix_secs /
//!   period_secs` is part of the counter key, written `<key>:<window>` in
//!   decimal, and the counter expires one period after its first hit (so it
//!   never outlives the next window).
//! * **Locks** are set-if-absent entries holding a random [`LockToken`];
//!   removing one requires the token.
//!
//! The Stalwart layouts behave here as on a server: with
//! [`Compat::Stalwart016`] (see [`Embedded::with_compat`]) `counter_incr`
//! sets the expiry on every call that carries one; the prefixed rate limit
//! and the plain locks are those of `store::stalwart`.
//!
//! Concurrency: 64 shards, each a `std::sync::Mutex<HashMap>`, picked by an
//! FNV-1a hash of the key. No lock is held across an `.await` (no operation
//! awaits at all), so every operation finishes in the poll that starts it.
//!
//! Memory limit (`max_memory`): each entry counts as key + value + 64 bytes of
//! overhead. When a write would go over the limit the store makes room first:
//! it drops expired entries; if that is not enough it evicts live entries, those
//! closest to expiry first, then those written longest ago, until usage is
//! below 90% of the limit (evicting in batches keeps the scan rare). An entry
//! larger than the whole limit is refused with an `OOM` server error, the same
//! error a Redis server under `maxmemory` gives. Eviction can remove a lock or a
//! rate-limit counter like any other entry: size the limit so that it is rare.
//! The accounting is approximate: concurrent writers may pass the limit briefly.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::stalwart::{lock_value, Rate, RateBucket};
use crate::config::Compat;
use crate::error::{Error, Result, ServerError};

mod clock;

use clock::Clock;

const SHARDS: usize = 64;
/// Bytes counted per entry on top of its key and value (map slot, Bytes headers, expiry).
const ENTRY_OVERHEAD: usize = 64;
/// Longest decimal i64, for sizing a counter before it is written.
const MAX_I64_DIGITS: usize = 20;
const LOCK_TOKEN_LEN: usize = 16;

/// Settings of an [`Embedded`] store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// Approximate limit on memory used by entries, in bytes; `None` = unlimited.
    pub max_memory: Option<usize>,
    /// How often the background task drops expired entries; `Duration::ZERO`
    /// disables it (expired entries then go only on access or [`Embedded::purge`]).
    pub purge_interval: Duration,
}

impl Default for EmbeddedOptions {
    /// No memory limit, purge every 60 seconds.
    fn default() -> Self {
        EmbeddedOptions { max_memory: None, purge_interval: Duration::from_secs(60) }
    }
}

/// The proof of holding a lock taken with [`Embedded::try_lock`]: 16 bytes from the thread-local
/// CSPRNG (`rand`, seeded by the OS), so another holder can neither guess nor collide with it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LockToken(Bytes);

impl LockToken {
    /// A new random token.
    pub fn random() -> LockToken {
        let mut bytes = [0u8; LOCK_TOKEN_LEN];
        rand::fill(&mut bytes);
        LockToken(Bytes::copy_from_slice(&bytes))
    }

    /// Wraps bytes read back from a store.
    pub fn from_bytes(bytes: Bytes) -> LockToken {
        LockToken(bytes)
    }

    /// The token's bytes, as stored under the lock key.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

/// Shows the token in hex: it is an identifier, not a secret.
impl fmt::Debug for LockToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockToken(")?;
        for b in self.0.iter() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// The embedded store. Cheap to clone: clones share one key space.
#[derive(Clone)]
pub struct Embedded {
    inner: Arc<Inner>,
    /// Whose `counter_incr` expiry rule this handle follows.
    compat: Compat,
}

impl fmt::Debug for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embedded")
            .field("entries", &self.len())
            .field("memory_used", &self.memory_used())
            .field("max_memory", &self.inner.max_memory)
            .field("compat", &self.compat)
            .finish()
    }
}

struct Inner {
    shards: [Mutex<Shard>; SHARDS],
    clock: Clock,
    max_memory: Option<usize>,
    /// Sum of [`entry_size`] over all entries, expired ones included until removed.
    used: AtomicUsize,
    /// Write counter: an entry's `seq` orders evictions ("written longest ago")
    /// and tells an evictor whether the entry changed since it was chosen.
    seq: AtomicU64,
    /// One evictor at a time; the others find the room already made.
    evicting: Mutex<()>,
    purge_task: OnceLock<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.purge_task.get() {
            task.abort();
        }
    }
}

#[derive(Default)]
struct Shard {
    map: HashMap<Bytes, Entry>,
}

struct Entry {
    value: Bytes,
    expires: Option<Instant>,
    seq: u64,
}

impl Entry {
    fn is_expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

fn entry_size(key_len: usize, value_len: usize) -> usize {
    key_len.saturating_add(value_len).saturating_add(ENTRY_OVERHEAD)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a shard lock cannot leave a map half-updated (every
    // critical section is a single map call plus arithmetic), so poisoning is ignored.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// FNV-1a: fast and good enough to spread keys over shards. Each shard's
/// `HashMap` keeps its own DoS-resistant hasher.
fn shard_of(key: &[u8]) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    ((hash ^ (hash >> 32)) as usize) % SHARDS
}

fn integer_bytes(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

/// Parses a counter the way Redis does: optional `-`, then decimal digits.
fn parse_counter(value: &[u8]) -> Result<i64> {
    let parsed = match value.first() {
        Some(b'-') | Some(b'0'..=b'9') if value.len() <= MAX_I64_DIGITS => {
            std::str::from_utf8(value).ok().and_then(|s| s.parse::<i64>().ok())
        }
        _ => None,
    };
    parsed.ok_or_else(|| Error::Type {
        expected: "a counter (a decimal i64 value)",
        got: format!("a value of {} bytes that is not an integer", value.len()),
    })
}

fn zero_ttl() -> Error {
    Error::InvalidArgument("a ttl of zero is invalid (use None for no expiry)".into())
}

fn oom() -> Error {
    match ServerError::from_line("OOM entry larger than the embedded store's max_memory") {
        Ok(e) => Error::Server(e),
        Err(_) => Error::Other("OOM: entry larger than the embedded store's max_memory".into()),
    }
}

impl Inner {
    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        // In bounds: `shard_of` is reduced modulo the array's length.
        lock(&self.shards[shard_of(key)])
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    fn add_used(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    fn sub_used(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The deadline for `ttl` from now; `None` for no ttl or one too far away to represent.
    fn deadline(&self, ttl: Option<Duration>) -> Result<Option<Instant>> {
        match ttl {
            None => Ok(None),
            Some(ttl) if ttl.is_zero() => Err(zero_ttl()),
            Some(ttl) => Ok(self.clock.now().checked_add(ttl)),
        }
    }

    /// The live entry under `key`, removing it if it has expired.
    fn live<'a>(&self, shard: &'a mut Shard, key: &[u8], now: Instant) -> Option<&'a mut Entry> {
        if shard.map.get(key)?.is_expired(now) {
            self.remove(shard, key);
            return None;
        }
        shard.map.get_mut(key)
    }

    /// Removes `key`, returning its entry.
    fn remove(&self, shard: &mut Shard, key: &[u8]) -> Option<Entry> {
        let (k, entry) = shard.map.remove_entry(key)?;
        self.sub_used(entry_size(k.len(), entry.value.len()));
        Some(entry)
    }

    /// Inserts or replaces `key`.
    fn put(&self, shard: &mut Shard, key: &[u8], value: Bytes, expires: Option<Instant>) {
        let seq = self.next_seq();
        let new_size = entry_size(key.len(), value.len());
        if let Some(entry) = shard.map.get_mut(key) {
            let old_size = entry_size(key.len(), entry.value.len());
            *entry = Entry { value, expires, seq };
            self.add_used(new_size);
            self.sub_used(old_size);
        } else {
            shard.map.insert(Bytes::copy_from_slice(key), Entry { value, expires, seq });
            self.add_used(new_size);
        }
    }

    /// Drops every expired entry; returns how many.
    fn purge_expired(&self) -> u64 {
        let now = self.clock.now();
        let mut removed = 0u64;
        for shard in &self.shards {
            let mut shard = lock(shard);
            let mut freed = 0usize;
            shard.map.retain(|k, e| {
                if e.is_expired(now) {
                    freed += entry_size(k.len(), e.value.len());
                    removed += 1;
                    false
                } else {
                    true
                }
            });
            self.sub_used(freed);
        }
        removed
    }

    /// Makes room under `max_memory` for writing an entry of `size` bytes at
    /// `key` (see the module doc). Only the growth over the entry already there counts.
    fn make_room(&self, key: &[u8], size: usize) -> Result<()> {
        let Some(max) = self.max_memory else { return Ok(()) };
        if size > max {
            return Err(oom());
        }
        let existing = self.shard(key).map.get(key).map_or(0, |e| entry_size(key.len(), e.value.len()));
        let need = size.saturating_sub(existing);
        let fits = || self.used.load(Ordering::Relaxed).saturating_add(need) <= max;
        if fits() {
            return Ok(());
        }
        let _evictor = lock(&self.evicting);
        if fits() {
            return Ok(());
        }
        self.purge_expired();
        if fits() {
            return Ok(());
        }
        // Evict until the write leaves usage at 90% of the limit, so the next writes do not rescan.
        let target = (max - max / 10).saturating_sub(need);
        let mut candidates: Vec<(usize, Bytes, Option<Instant>, u64)> = Vec::new();
        for (index, shard) in self.shards.iter().enumerate() {
            let shard = lock(shard);
            candidates.extend(shard.map.iter().map(|(k, e)| (index, k.clone(), e.expires, e.seq)));
        }
        // Closest to expiry first (entries with no expiry last), then written longest ago.
        candidates.sort_unstable_by_key(|&(_, _, expires, seq)| (expires.is_none(), expires, seq));
        for (index, key, _, seq) in candidates {
            if self.used.load(Ordering::Relaxed) <= target {
                break;
            }
            let Some(shard) = self.shards.get(index) else { continue };
            let mut shard = lock(shard);
            // Skip entries rewritten since the scan: they are no longer the oldest.
            if shard.map.get(&key).is_some_and(|e| e.seq == seq) {
                self.remove(&mut shard, &key);
            }
        }
        Ok(())
    }

    /// Adds `delta`; `ttl` becomes the expiry when the key has none, or
    /// always when `reset_ttl` (Stalwart's `INCRBY` + `EXPIRE`).
    fn counter_incr(&self, key: &[u8], delta: i64, ttl: Option<Duration>, reset_ttl: bool) -> Result<i64> {
        let deadline = self.deadline(ttl)?;
        self.make_room(key, entry_size(key.len(), MAX_I64_DIGITS))?;
        let now = self.clock.now();
        let mut shard = self.shard(key);
        let (next, expires) = match self.live(&mut shard, key, now) {
            Some(entry) => {
                let current = parse_counter(&entry.value)?;
                let next = current.checked_add(delta).ok_or_else(|| Error::Type {
                    expected: "a counter that stays within i64",
                    got: "an increment that would overflow".into(),
                })?;
                let expires =
                    if reset_ttl && deadline.is_some() { deadline } else { entry.expires.or(deadline) };
                (next, expires)
            }
            None => (delta, deadline),
        };
        self.put(&mut shard, key, integer_bytes(next), expires);
        Ok(next)
    }

    fn counter_get(&self, key: &[u8]) -> Result<i64> {
        let now = self.clock.now();
        let mut shard = self.shard(key);
        match self.live(&mut shard, key, now) {
            Some(entry) => parse_counter(&entry.value),
            None => Ok(0),
        }
    }
}

impl Embedded {
    /// A new, empty store. When called inside a tokio runtime (and
    /// `purge_interval` is not zero) it spawns a task that drops expired
    /// entries every `purge_interval`; the task holds only a weak reference and
    /// is aborted when the last clone of the store is dropped. The runtime must
    /// have its time driver enabled, as every redwire runtime must for timeouts.
    pub fn new(options: EmbeddedOptions) -> Embedded {
        Embedded::with_clock(options, Clock::System)
    }

    fn with_clock(options: EmbeddedOptions, clock: Clock) -> Embedded {
        let inner = Arc::new(Inner {
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            clock,
            max_memory: options.max_memory,
            used: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            evicting: Mutex::new(()),
            purge_task: OnceLock::new(),
        });
        spawn_purger(&inner, options.purge_interval);
        Embedded { inner, compat: Compat::default() }
    }

    /// This store (the same key space) following `compat`: with
    /// [`Compat::Stalwart016`], `counter_incr` sets the expiry on every call
    /// that carries one, as Stalwart's `INCRBY` + `EXPIRE` does.
    pub fn with_compat(&self, compat: Compat) -> Embedded {
        Embedded { inner: self.inner.clone(), compat }
    }

    /// Whose behaviour this handle follows.
    pub fn compat(&self) -> Compat {
        self.compat
    }

    /// Sets `key` to `value`, replacing any value or counter, with an expiry
    /// after `ttl` (`None`: no expiry, clearing any previous one). The value is
    /// kept as given: a slice of a larger buffer keeps that buffer alive.
    ///
    /// # Errors
    /// A zero `ttl`; an `OOM` [`Error::Server`] if the entry alone exceeds `max_memory`.
    ///
    /// # Cancel safety
    /// Completes in its first poll: dropped before that, nothing is written.
    pub async fn key_set(&self, key: &[u8], value: Bytes, ttl: Option<Duration>) -> Result<()> {
        let inner = &self.inner;
        let deadline = inner.deadline(ttl)?;
        inner.make_room(key, entry_size(key.len(), value.len()))?;
        let mut shard = inner.shard(key);
        inner.put(&mut shard, key, value, deadline);
        Ok(())
    }

    /// The value under `key` (a counter reads as its decimal digits).
    ///
    /// # Errors
    /// None today; the signature matches the server-backed stores.
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn key_get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut shard = inner.shard(key);
        Ok(inner.live(&mut shard, key, now).map(|e| e.value.clone()))
    }

    /// True when `key` holds a live value or counter.
    ///
    /// # Errors
    /// None today; the signature matches the server-backed stores.
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn key_exists(&self, key: &[u8]) -> Result<bool> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut shard = inner.shard(key);
        Ok(inner.live(&mut shard, key, now).is_some())
    }

    /// Deletes `key`; true if it held a live value or counter.
    ///
    /// # Errors
    /// None today; the signature matches the server-backed stores.
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn key_delete(&self, key: &[u8]) -> Result<bool> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut shard = inner.shard(key);
        let entry = inner.remove(&mut shard, key);
        Ok(entry.is_some_and(|e| !e.is_expired(now)))
    }

    /// Deletes every key (values and counters) starting with `prefix`; returns
    /// how many live ones were deleted. An empty prefix deletes everything.
    /// Walks all shards, one at a time.
    ///
    /// # Errors
    /// None today; the signature matches the server-backed stores.
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn key_delete_prefix(&self, prefix: &[u8]) -> Result<u64> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut deleted = 0u64;
        for shard in &inner.shards {
            let mut shard = lock(shard);
            let mut freed = 0usize;
            shard.map.retain(|k, e| {
                if !k.starts_with(prefix) {
                    return true;
                }
                freed += entry_size(k.len(), e.value.len());
                deleted += u64::from(!e.is_expired(now));
                false
            });
            inner.sub_used(freed);
        }
        Ok(deleted)
    }

    /// Adds `delta` to the counter under `key` (a missing key counts as 0) and
    /// returns the new value. `ttl` sets an expiry only if the key has none.
    ///
    /// # Errors
    /// [`Error::Type`] if the key holds a value that is not a decimal i64 or the
    /// sum overflows; a zero `ttl`; `OOM` as for [`Embedded::key_set`].
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn counter_incr(&self, key: &[u8], delta: i64, ttl: Option<Duration>) -> Result<i64> {
        self.inner.counter_incr(key, delta, ttl, self.compat.is_stalwart())
    }

    /// The counter under `key`; 0 when missing.
    ///
    /// # Errors
    /// [`Error::Type`] if the key holds a value that is not a decimal i64.
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn counter_get(&self, key: &[u8]) -> Result<i64> {
        self.inner.counter_get(key)
    }

    /// Deletes the counter under `key` (any value there, in fact: one key
    /// space); true if it was live.
    ///
    /// # Errors
    /// None today; the signature matches the server-backed stores.
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn counter_delete(&self, key: &[u8]) -> Result<bool> {
        self.key_delete(key).await
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
    /// non-counter value; `OOM` as for [`Embedded::key_set`].
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn is_rate_allowed(
        &self,
        key: &[u8],
        limit: u64,
        period: Duration,
        soft: bool,
    ) -> Result<Option<u64>> {
        let inner = &self.inner;
        let period_secs = period.as_secs();
        if period_secs == 0 {
            return Err(Error::InvalidArgument("a rate limit period must be at least one second".into()));
        }
        let now_secs = inner.clock.unix_secs();
        let window = now_secs / period_secs;
        let retry_after = window.saturating_add(1).saturating_mul(period_secs).saturating_sub(now_secs);
        let window_key = rate_key(key, window);
        let count = if soft {
            inner.counter_get(&window_key)?
        } else {
            inner.counter_incr(&window_key, 1, Some(Duration::from_secs(period_secs)), false)?
        };
        let count = u64::try_from(count).unwrap_or(0);
        let limited = if soft { count >= limit } else { count > limit };
        Ok(limited.then_some(retry_after))
    }

    /// Stalwart's rate limit: see
    /// [`Store::is_rate_allowed_prefixed`](super::Store::is_rate_allowed_prefixed).
    ///
    /// # Errors
    /// [`Error::Type`] if the bucket holds a non-counter value; `OOM` as for
    /// [`Embedded::key_set`].
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn is_rate_allowed_prefixed(
        &self,
        prefix: u8,
        key: &[u8],
        rate: &Rate,
        soft: bool,
    ) -> Result<Option<u64>> {
        let inner = &self.inner;
        let bucket = RateBucket::at(inner.clock.unix_secs(), prefix, key, rate);
        let count = if soft {
            inner.counter_get(&bucket.key)?.saturating_add(1)
        } else {
            inner.counter_incr(&bucket.key, 1, Some(Duration::from_secs(bucket.ttl_secs)), true)?
        };
        Ok(bucket.verdict(count, rate))
    }

    /// Takes the plain lock `key` for `secs` seconds if the key is absent;
    /// true when taken. See [`Store::try_lock_plain`](super::Store::try_lock_plain).
    ///
    /// # Errors
    /// Zero `secs`; `OOM` as for [`Embedded::key_set`].
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn try_lock_plain(&self, key: &[u8], secs: u64) -> Result<bool> {
        let inner = &self.inner;
        if secs == 0 {
            return Err(Error::InvalidArgument("a lock of zero seconds is invalid".into()));
        }
        let value = Bytes::from(lock_value(inner.clock.unix_secs(), secs));
        let deadline = inner.deadline(Some(Duration::from_secs(secs)))?;
        inner.make_room(key, entry_size(key.len(), value.len()))?;
        let now = inner.clock.now();
        let mut shard = inner.shard(key);
        if inner.live(&mut shard, key, now).is_some() {
            return Ok(false);
        }
        inner.put(&mut shard, key, value, deadline);
        Ok(true)
    }

    /// Deletes the plain lock `key`, whoever took it; true if it was held.
    ///
    /// # Errors
    /// None today; the signature matches the server-backed stores.
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn remove_lock_plain(&self, key: &[u8]) -> Result<bool> {
        self.key_delete(key).await
    }

    /// Takes the lock `key` for `ttl` if nobody holds it: `Some(token)` on
    /// success, `None` if it is held.
    ///
    /// # Errors
    /// A zero `ttl`; `OOM` as for [`Embedded::key_set`].
    ///
    /// # Cancel safety
    /// Completes in its first poll: a dropped call never leaves a lock behind.
    pub async fn try_lock(&self, key: &[u8], ttl: Duration) -> Result<Option<LockToken>> {
        let inner = &self.inner;
        let deadline = inner.deadline(Some(ttl))?;
        inner.make_room(key, entry_size(key.len(), LOCK_TOKEN_LEN))?;
        let now = inner.clock.now();
        let mut shard = inner.shard(key);
        if inner.live(&mut shard, key, now).is_some() {
            return Ok(None);
        }
        let token = LockToken::random();
        inner.put(&mut shard, key, token.0.clone(), deadline);
        Ok(Some(token))
    }

    /// Releases the lock `key` if `token` still holds it; false if it expired
    /// or someone else holds it now.
    ///
    /// # Errors
    /// None today; the signature matches the server-backed stores.
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn remove_lock(&self, key: &[u8], token: &LockToken) -> Result<bool> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut shard = inner.shard(key);
        match inner.live(&mut shard, key, now) {
            Some(entry) if entry.value == token.0 => {
                inner.remove(&mut shard, key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Drops every expired entry now; returns how many.
    ///
    /// # Errors
    /// None today; the signature matches the server-backed stores.
    ///
    /// # Cancel safety
    /// Completes in its first poll.
    pub async fn purge(&self) -> Result<u64> {
        Ok(self.inner.purge_expired())
    }

    /// Entries held, expired ones not yet purged included.
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes used by entries (see the module doc).
    pub fn memory_used(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }
}

/// `<key>:<window>`, the counter of one rate-limit window.
fn rate_key(key: &[u8], window: u64) -> Vec<u8> {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(window).as_bytes();
    let mut out = Vec::with_capacity(key.len() + 1 + digits.len());
    out.extend_from_slice(key);
    out.push(b':');
    out.extend_from_slice(digits);
    out
}

fn spawn_purger(inner: &Arc<Inner>, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let weak = Arc::downgrade(inner);
    let task = runtime.spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick is immediate
        loop {
            ticker.tick().await;
            let Some(inner) = weak.upgrade() else { break };
            inner.purge_expired();
        }
    });
    // `set` fails only if already set, which cannot happen for a fresh store.
    let _ = inner.purge_task.set(task.abort_handle());
}

#[cfg(test)]
mod tests;
