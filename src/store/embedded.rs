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
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::error::{Error, Result, ServerError};

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

/// The proof of holding a lock taken with [`Embedded::try_lock`]: 16 random bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LockToken(Bytes);

impl LockToken {
    /// A new random token.
    pub fn random() -> LockToken {
        let mut bytes = [0u8; LOCK_TOKEN_LEN];
        fastrand::fill(&mut bytes);
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
}

impl fmt::Debug for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embedded")
            .field("entries", &self.len())
            .field("memory_used", &self.memory_used())
            .field("max_memory", &self.inner.max_memory)
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

/// The time source: the system clocks, or in unit tests a clock moved by hand.
#[derive(Clone)]
enum Clock {
    System,
    #[cfg(test)]
    Manual(Arc<ManualClock>),
}

impl Clock {
    fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            #[cfg(test)]
            Clock::Manual(m) => m.now(),
        }
    }

    /// Seconds since the Unix epoch: rate-limit windows are wall-clock aligned
    /// so that every process sharing a server agrees on them.
    fn unix_secs(&self) -> u64 {
        match self {
            Clock::System => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            #[cfg(test)]
            Clock::Manual(m) => m.unix_secs(),
        }
    }
}

#[cfg(test)]
struct ManualClock {
    start: Instant,
    unix_start: u64,
    offset_ms: AtomicU64,
}

#[cfg(test)]
impl ManualClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }

    fn unix_secs(&self) -> u64 {
        self.unix_start + self.offset_ms.load(Ordering::SeqCst) / 1000
    }

    fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
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
    Error::Other("a ttl of zero is invalid (use None for no expiry)".into())
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

    fn counter_incr(&self, key: &[u8], delta: i64, ttl: Option<Duration>) -> Result<i64> {
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
                (next, entry.expires.or(deadline))
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
        Embedded { inner }
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
        self.inner.counter_incr(key, delta, ttl)
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
            return Err(Error::Other("a rate limit period must be at least one second".into()));
        }
        let now_secs = inner.clock.unix_secs();
        let window = now_secs / period_secs;
        let retry_after = window.saturating_add(1).saturating_mul(period_secs).saturating_sub(now_secs);
        let window_key = rate_key(key, window);
        let count = if soft {
            inner.counter_get(&window_key)?
        } else {
            inner.counter_incr(&window_key, 1, Some(Duration::from_secs(period_secs)))?
        };
        let count = u64::try_from(count).unwrap_or(0);
        let limited = if soft { count >= limit } else { count > limit };
        Ok(limited.then_some(retry_after))
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
mod tests {
    use super::*;
    use crate::error::ServerErrorKind;

    fn manual(options: EmbeddedOptions) -> (Embedded, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock {
            start: Instant::now(),
            // A round number, so window boundaries in tests are easy to reason about.
            unix_start: 1_700_000_000,
            offset_ms: AtomicU64::new(0),
        });
        (Embedded::with_clock(options, Clock::Manual(clock.clone())), clock)
    }

    fn store() -> (Embedded, Arc<ManualClock>) {
        manual(EmbeddedOptions { max_memory: None, purge_interval: Duration::ZERO })
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    const fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Embedded>();
        check::<LockToken>();
    }

    #[tokio::test]
    async fn set_get_exists_delete() {
        let (s, _) = store();
        assert_eq!(s.key_get(b"k").await.unwrap(), None);
        assert!(!s.key_exists(b"k").await.unwrap());
        s.key_set(b"k", b("v1"), None).await.unwrap();
        assert_eq!(s.key_get(b"k").await.unwrap(), Some(b("v1")));
        assert!(s.key_exists(b"k").await.unwrap());
        s.key_set(b"k", b("v2"), None).await.unwrap();
        assert_eq!(s.key_get(b"k").await.unwrap(), Some(b("v2")));
        assert_eq!(s.len(), 1);
        assert!(s.key_delete(b"k").await.unwrap());
        assert!(!s.key_delete(b"k").await.unwrap());
        assert_eq!(s.key_get(b"k").await.unwrap(), None);
        assert!(s.is_empty());
        assert_eq!(s.memory_used(), 0);
        // Binary keys and values, and the empty key.
        s.key_set(&[0, 255, 10], Bytes::from_static(&[1, 2, 3]), None).await.unwrap();
        s.key_set(b"", b(""), None).await.unwrap();
        assert_eq!(s.key_get(&[0, 255, 10]).await.unwrap(), Some(Bytes::from_static(&[1, 2, 3])));
        assert_eq!(s.key_get(b"").await.unwrap(), Some(b("")));
    }

    #[tokio::test]
    async fn values_expire_lazily_and_by_purge() {
        let (s, clock) = store();
        s.key_set(b"short", b("v"), Some(secs(10))).await.unwrap();
        s.key_set(b"long", b("v"), Some(secs(100))).await.unwrap();
        s.key_set(b"forever", b("v"), None).await.unwrap();
        clock.advance(Duration::from_millis(9_999));
        assert!(s.key_exists(b"short").await.unwrap());
        clock.advance(Duration::from_millis(1));
        // Invisible at once, on every path.
        assert_eq!(s.key_get(b"short").await.unwrap(), None);
        s.key_set(b"short2", b("v"), Some(secs(1))).await.unwrap();
        clock.advance(secs(1));
        assert!(!s.key_exists(b"short2").await.unwrap());
        assert!(!s.key_delete(b"short2").await.unwrap());
        // Expired but not accessed: held until a purge.
        s.key_set(b"a", b("v"), Some(secs(1))).await.unwrap();
        s.key_set(b"b", b("v"), Some(secs(1))).await.unwrap();
        clock.advance(secs(1));
        assert_eq!(s.len(), 4);
        assert_eq!(s.purge().await.unwrap(), 2);
        assert_eq!(s.len(), 2);
        assert_eq!(s.purge().await.unwrap(), 0);
        clock.advance(secs(100));
        assert_eq!(s.purge().await.unwrap(), 1);
        assert_eq!(s.key_get(b"forever").await.unwrap(), Some(b("v")));
        assert_eq!(s.memory_used(), entry_size(7, 1));
    }

    #[tokio::test]
    async fn set_replaces_or_clears_the_ttl() {
        let (s, clock) = store();
        s.key_set(b"k", b("v"), Some(secs(5))).await.unwrap();
        s.key_set(b"k", b("w"), None).await.unwrap();
        clock.advance(secs(10));
        assert_eq!(s.key_get(b"k").await.unwrap(), Some(b("w")));
        s.key_set(b"k", b("x"), Some(secs(50))).await.unwrap();
        s.key_set(b"k", b("y"), Some(secs(5))).await.unwrap();
        clock.advance(secs(5));
        assert_eq!(s.key_get(b"k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn zero_ttl_is_an_error() {
        let (s, _) = store();
        assert!(matches!(s.key_set(b"k", b("v"), Some(Duration::ZERO)).await, Err(Error::Other(_))));
        assert!(matches!(s.counter_incr(b"c", 1, Some(Duration::ZERO)).await, Err(Error::Other(_))));
        assert!(matches!(s.try_lock(b"l", Duration::ZERO).await, Err(Error::Other(_))));
        assert!(s.is_empty());
        // A ttl too far away to represent means "never".
        s.key_set(b"k", b("v"), Some(Duration::MAX)).await.unwrap();
        assert!(s.key_exists(b"k").await.unwrap());
    }

    #[tokio::test]
    async fn counters() {
        let (s, _) = store();
        assert_eq!(s.counter_get(b"c").await.unwrap(), 0);
        assert_eq!(s.counter_incr(b"c", 5, None).await.unwrap(), 5);
        assert_eq!(s.counter_incr(b"c", -7, None).await.unwrap(), -2);
        assert_eq!(s.counter_get(b"c").await.unwrap(), -2);
        // One key space: a counter reads as digits, digits count as a counter.
        assert_eq!(s.key_get(b"c").await.unwrap(), Some(b("-2")));
        s.key_set(b"n", b("41"), None).await.unwrap();
        assert_eq!(s.counter_incr(b"n", 1, None).await.unwrap(), 42);
        assert!(s.counter_delete(b"c").await.unwrap());
        assert!(!s.counter_delete(b"c").await.unwrap());
        assert_eq!(s.counter_get(b"c").await.unwrap(), 0);
        s.key_set(b"max", integer_bytes(i64::MAX), None).await.unwrap();
        assert!(matches!(s.counter_incr(b"max", 1, None).await, Err(Error::Type { .. })));
        assert_eq!(s.counter_incr(b"max", -1, None).await.unwrap(), i64::MAX - 1);
        assert_eq!(s.counter_incr(b"min", i64::MIN, None).await.unwrap(), i64::MIN);
        assert!(matches!(s.counter_incr(b"min", -1, None).await, Err(Error::Type { .. })));
    }

    #[tokio::test]
    async fn counters_reject_non_integers() {
        let (s, _) = store();
        for bad in ["abc", "", " 1", "1 ", "+1", "1.5", "99999999999999999999", "-", "1e3"] {
            s.key_set(b"v", b(bad), None).await.unwrap();
            let e = s.counter_incr(b"v", 1, None).await.unwrap_err();
            assert!(matches!(e, Error::Type { .. }), "{bad:?}: {e:?}");
            assert!(matches!(s.counter_get(b"v").await, Err(Error::Type { .. })), "{bad:?}");
            // The value is left alone.
            assert_eq!(s.key_get(b"v").await.unwrap(), Some(b(bad)));
        }
        s.key_set(b"v", b("-9223372036854775808"), None).await.unwrap();
        assert_eq!(s.counter_get(b"v").await.unwrap(), i64::MIN);
    }

    #[tokio::test]
    async fn counter_ttl_is_set_only_when_absent() {
        let (s, clock) = store();
        assert_eq!(s.counter_incr(b"c", 1, Some(secs(10))).await.unwrap(), 1);
        clock.advance(secs(6));
        // A later, longer ttl does not push the expiry back.
        assert_eq!(s.counter_incr(b"c", 1, Some(secs(10))).await.unwrap(), 2);
        clock.advance(secs(4));
        assert_eq!(s.counter_get(b"c").await.unwrap(), 0);
        // Expired: the next increment starts again from zero with a new ttl.
        assert_eq!(s.counter_incr(b"c", 3, Some(secs(10))).await.unwrap(), 3);
        clock.advance(secs(9));
        assert_eq!(s.counter_get(b"c").await.unwrap(), 3);
        // An existing key without expiry gets one (EXPIRE NX).
        s.counter_incr(b"p", 1, None).await.unwrap();
        s.counter_incr(b"p", 1, Some(secs(2))).await.unwrap();
        clock.advance(secs(2));
        assert!(!s.key_exists(b"p").await.unwrap());
        // Incrementing without ttl keeps the existing one.
        s.counter_incr(b"q", 1, Some(secs(2))).await.unwrap();
        s.counter_incr(b"q", 1, None).await.unwrap();
        clock.advance(secs(2));
        assert!(!s.key_exists(b"q").await.unwrap());
    }

    #[tokio::test]
    async fn delete_prefix_covers_values_and_counters() {
        let (s, clock) = store();
        s.key_set(b"user:1", b("a"), None).await.unwrap();
        s.key_set(b"user:2", b("b"), None).await.unwrap();
        s.counter_incr(b"user:hits", 3, None).await.unwrap();
        s.key_set(b"user:old", b("c"), Some(secs(1))).await.unwrap();
        s.key_set(b"use", b("d"), None).await.unwrap();
        s.key_set(b"other:1", b("e"), None).await.unwrap();
        for i in 0..200u32 {
            s.key_set(format!("bulk:{i}").as_bytes(), b("x"), None).await.unwrap();
        }
        clock.advance(secs(1));
        // The expired one is removed but not counted.
        assert_eq!(s.key_delete_prefix(b"user:").await.unwrap(), 3);
        assert!(!s.key_exists(b"user:1").await.unwrap());
        assert_eq!(s.counter_get(b"user:hits").await.unwrap(), 0);
        assert!(s.key_exists(b"use").await.unwrap());
        assert!(s.key_exists(b"other:1").await.unwrap());
        assert_eq!(s.key_delete_prefix(b"bulk:").await.unwrap(), 200);
        assert_eq!(s.key_delete_prefix(b"nothing").await.unwrap(), 0);
        assert_eq!(s.len(), 2);
        assert_eq!(s.key_delete_prefix(b"").await.unwrap(), 2);
        assert!(s.is_empty());
        assert_eq!(s.memory_used(), 0);
    }

    #[tokio::test]
    async fn rate_limit_fixed_window() {
        let (s, clock) = store();
        // unix_start is a multiple of 60 plus 20 seconds: 40 seconds left in the window.
        assert_eq!(1_700_000_000 % 60, 20);
        let period = secs(60);
        for _ in 0..3 {
            assert_eq!(s.is_rate_allowed(b"ip", 3, period, false).await.unwrap(), None);
        }
        assert_eq!(s.is_rate_allowed(b"ip", 3, period, false).await.unwrap(), Some(40));
        clock.advance(secs(10));
        assert_eq!(s.is_rate_allowed(b"ip", 3, period, false).await.unwrap(), Some(30));
        // The counter lives under <key>:<window>.
        let window = (1_700_000_000 + 10) / 60;
        assert_eq!(s.counter_get(format!("ip:{window}").as_bytes()).await.unwrap(), 5);
        // Another key has its own budget.
        assert_eq!(s.is_rate_allowed(b"other", 3, period, false).await.unwrap(), None);
        // A new window starts afresh.
        clock.advance(secs(30));
        assert_eq!(s.is_rate_allowed(b"ip", 3, period, false).await.unwrap(), None);
        // The old window's counter expires one period after its first hit.
        assert_eq!(s.counter_get(format!("ip:{window}").as_bytes()).await.unwrap(), 5);
        clock.advance(secs(20));
        assert_eq!(s.counter_get(format!("ip:{window}").as_bytes()).await.unwrap(), 0);
        assert_eq!(s.is_rate_allowed(b"ip", 0, period, false).await.unwrap(), Some(40));
    }

    #[tokio::test]
    async fn rate_limit_soft_does_not_count() {
        let (s, _) = store();
        let period = secs(60);
        assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), None);
        assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), None);
        assert!(s.is_empty(), "a soft check must not create the counter");
        assert_eq!(s.is_rate_allowed(b"k", 2, period, false).await.unwrap(), None);
        assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), None);
        assert_eq!(s.is_rate_allowed(b"k", 2, period, false).await.unwrap(), None);
        // Count is 2 = limit: soft says limited, without counting.
        assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), Some(40));
        assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), Some(40));
        assert_eq!(s.is_rate_allowed(b"k", 0, period, true).await.unwrap(), Some(40));
        assert_eq!(s.is_rate_allowed(b"fresh", 0, period, true).await.unwrap(), Some(40));
    }

    #[tokio::test]
    async fn rate_limit_bad_period() {
        let (s, _) = store();
        assert!(s.is_rate_allowed(b"k", 1, Duration::from_millis(999), false).await.is_err());
        assert!(s.is_rate_allowed(b"k", 1, Duration::from_millis(999), true).await.is_err());
        assert!(s.is_empty());
    }

    #[tokio::test]
    async fn locks_are_exclusive_and_need_the_token() {
        let (s, clock) = store();
        let token = s.try_lock(b"lock", secs(30)).await.unwrap().expect("free lock");
        assert_eq!(token.as_bytes().len(), 16);
        assert_eq!(s.try_lock(b"lock", secs(30)).await.unwrap(), None);
        let stranger = LockToken::random();
        assert_ne!(stranger, token);
        assert!(!s.remove_lock(b"lock", &stranger).await.unwrap());
        assert_eq!(s.try_lock(b"lock", secs(30)).await.unwrap(), None);
        assert!(s.remove_lock(b"lock", &token).await.unwrap());
        assert!(!s.remove_lock(b"lock", &token).await.unwrap());
        // Expired locks are free again, and the old holder cannot remove the new one.
        let first = s.try_lock(b"lock", secs(5)).await.unwrap().expect("free");
        clock.advance(secs(5));
        let second = s.try_lock(b"lock", secs(5)).await.unwrap().expect("expired lock is free");
        assert!(!s.remove_lock(b"lock", &first).await.unwrap());
        assert!(s.remove_lock(b"lock", &second).await.unwrap());
        // A lock on a key that holds a value is refused.
        s.key_set(b"taken", b("v"), None).await.unwrap();
        assert_eq!(s.try_lock(b"taken", secs(5)).await.unwrap(), None);
    }

    #[test]
    fn lock_token_debug_is_hex() {
        let t = LockToken::from_bytes(Bytes::from_static(&[0x00, 0xab, 0x10]));
        assert_eq!(format!("{t:?}"), "LockToken(00ab10)");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_increments_sum_exactly() {
        let s = Embedded::new(EmbeddedOptions::default());
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                tokio::spawn(async move {
                    for i in 0..500 {
                        s.counter_incr(b"shared", 1, None).await.unwrap();
                        s.counter_incr(format!("own:{t}").as_bytes(), 2, None).await.unwrap();
                        if i % 50 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(s.counter_get(b"shared").await.unwrap(), 4000);
        for t in 0..8 {
            assert_eq!(s.counter_get(format!("own:{t}").as_bytes()).await.unwrap(), 1000);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_lock_has_one_winner() {
        let s = Embedded::new(EmbeddedOptions::default());
        for round in 0..20 {
            let key = format!("lock:{round}");
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    let (s, key) = (s.clone(), key.clone());
                    tokio::spawn(async move { s.try_lock(key.as_bytes(), secs(30)).await.unwrap() })
                })
                .collect();
            let mut winners = 0;
            for task in tasks {
                winners += usize::from(task.await.unwrap().is_some());
            }
            assert_eq!(winners, 1, "round {round}");
        }
    }

    #[tokio::test]
    async fn max_memory_refuses_an_entry_larger_than_the_limit() {
        let (s, _) = manual(EmbeddedOptions { max_memory: Some(1000), purge_interval: Duration::ZERO });
        let e = s.key_set(b"k", Bytes::from(vec![0u8; 1000]), None).await.unwrap_err();
        assert!(matches!(e.server_error().map(|e| e.kind()), Some(ServerErrorKind::Oom)), "{e:?}");
        assert!(s.is_empty());
        s.key_set(b"k", Bytes::from(vec![0u8; 1000 - 64 - 1]), None).await.unwrap();
        assert_eq!(s.memory_used(), 1000);
    }

    /// Entries of exactly 100 bytes each: 1-byte key, 35-byte value, 64 overhead.
    fn value100() -> Bytes {
        Bytes::from(vec![b'x'; 35])
    }

    #[tokio::test]
    async fn max_memory_evicts_the_oldest_down_to_90_percent() {
        let (s, _) = manual(EmbeddedOptions { max_memory: Some(1000), purge_interval: Duration::ZERO });
        for k in b'a'..=b'j' {
            s.key_set(&[k], value100(), None).await.unwrap();
        }
        assert_eq!(s.memory_used(), 1000);
        // Rewriting "a" makes it the newest.
        s.key_set(b"a", value100(), None).await.unwrap();
        s.key_set(b"k", value100(), None).await.unwrap();
        // Room was made down to 800 bytes so the write leaves 900: b and c went, the rest stayed.
        assert_eq!(s.memory_used(), 900);
        for (k, present) in
            [(b'a', true), (b'b', false), (b'c', false), (b'd', true), (b'j', true), (b'k', true)]
        {
            assert_eq!(s.key_exists(&[k]).await.unwrap(), present, "{}", k as char);
        }
    }

    #[tokio::test]
    async fn max_memory_evicts_expired_then_closest_to_expiry() {
        let (s, clock) = manual(EmbeddedOptions { max_memory: Some(1000), purge_interval: Duration::ZERO });
        s.key_set(b"p", value100(), None).await.unwrap(); // persistent, oldest
        s.key_set(b"e", value100(), Some(secs(1))).await.unwrap(); // will have expired
        s.key_set(b"l", value100(), Some(secs(1000))).await.unwrap(); // far expiry
        s.key_set(b"s", value100(), Some(secs(100))).await.unwrap(); // near expiry
        for k in b'0'..=b'5' {
            s.key_set(&[k], value100(), None).await.unwrap();
        }
        assert_eq!(s.memory_used(), 1000);
        clock.advance(secs(1));
        // Dropping the expired entry is enough: nothing live goes.
        s.key_set(b"x", value100(), None).await.unwrap();
        assert_eq!(s.memory_used(), 1000);
        assert!(s.key_exists(b"p").await.unwrap() && s.key_exists(b"s").await.unwrap());
        // Now live entries must go: the closest to expiry first, then the next.
        s.key_set(b"y", value100(), None).await.unwrap();
        assert!(!s.key_exists(b"s").await.unwrap());
        assert!(!s.key_exists(b"l").await.unwrap());
        assert!(s.key_exists(b"p").await.unwrap(), "entries with an expiry go before persistent ones");
        assert!(s.key_exists(b"y").await.unwrap());
        assert_eq!(s.memory_used(), 900);
    }

    #[tokio::test]
    async fn max_memory_applies_to_counters_and_locks() {
        let (s, _) = manual(EmbeddedOptions { max_memory: Some(1000), purge_interval: Duration::ZERO });
        for i in 0..100u32 {
            s.counter_incr(format!("c{i}").as_bytes(), 1, None).await.unwrap();
            s.try_lock(format!("l{i}").as_bytes(), secs(60)).await.unwrap();
            assert!(s.memory_used() <= 1000, "{}", s.memory_used());
        }
        assert_eq!(s.counter_get(b"c99").await.unwrap(), 1);
        assert!(s.key_exists(b"l99").await.unwrap());
    }

    #[tokio::test]
    async fn background_purge_runs_and_stops_with_the_store() {
        let s =
            Embedded::new(EmbeddedOptions { max_memory: None, purge_interval: Duration::from_millis(20) });
        s.key_set(b"k", b("v"), Some(Duration::from_millis(10))).await.unwrap();
        s.key_set(b"keep", b("v"), None).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while s.len() != 1 {
            assert!(Instant::now() < deadline, "expired entry never purged");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let task = s.inner.purge_task.get().cloned().expect("purge task spawned inside a runtime");
        let weak = Arc::downgrade(&s.inner);
        let clone = s.clone();
        drop(s);
        assert!(!task.is_finished(), "a clone still holds the store");
        drop(clone);
        assert!(weak.upgrade().is_none(), "the task must not keep the store alive");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !task.is_finished() {
            assert!(Instant::now() < deadline, "purge task still running");
            tokio::task::yield_now().await;
        }
    }

    #[test]
    fn no_runtime_no_task() {
        let s = Embedded::new(EmbeddedOptions::default());
        assert!(s.inner.purge_task.get().is_none());
        let s = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
            Embedded::new(EmbeddedOptions { max_memory: None, purge_interval: Duration::ZERO })
        });
        assert!(s.inner.purge_task.get().is_none());
    }

    #[test]
    fn shards_spread_keys() {
        let mut counts = [0usize; SHARDS];
        for i in 0..64_000u32 {
            counts[shard_of(format!("key:{i}").as_bytes())] += 1;
        }
        assert!(counts.iter().all(|&c| (500..1500).contains(&c)), "{counts:?}");
    }
}
