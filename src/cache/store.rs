//! The cache store: cached replies by key, bounded in bytes and entries,
//! evicted by SIEVE, with the bookkeeping that keeps it correct.
//!
//! - **Entries.** One node per key holds every cached reply of that key
//!   (`GET k`, `HGET k f` ... told apart by their id, see `commands`), so an
//!   invalidation of `k` drops them all at once. SIEVE (a FIFO queue, a
//!   visited bit set on hit, a hand that spares visited nodes once) evicts
//!   whole keys until both bounds hold; a hit costs one lock, one hash
//!   lookup and a clone of the reply.
//! - **Sources.** Every reply is stamped with the [`Source`] (one node's
//!   tracked connection) it was read through and that source's state then.
//!   A source's state changes whenever the connection (or on RESP2 its
//!   invalidation connection) is lost or replaced, so replies learned
//!   through an older state are never served again.
//! - **The read/invalidation race.** A read takes a [`Ticket`] *before* it
//!   is sent; an invalidation of its key (or a flush) that arrives while the
//!   ticket is out marks it, and a marked ticket's reply goes to the caller
//!   but is not cached. On RESP2, where invalidations come on another
//!   connection, two reads of one key in flight at once are a risk too:
//!   when one returns while the other is out, the other is not cached and
//!   the key is dropped (which reply is newer is unknown), so no caller sees
//!   a value older than one it (or anyone) already got. On RESP3 the
//!   invalidation that separates two such replies arrives between them on
//!   the same connection and marks the older one's ticket.
//! - **Time.** `max_ttl` bounds how long any reply is served. Time is a
//!   parameter (`now`), so the tests are deterministic.
//!
//! Pure: no IO, no clock. Not here: which commands are cached (`commands`),
//! when tracking is on (`tracker`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use xxhash_rust::xxh3::Xxh3Builder;

use super::commands::frame_bytes;
use super::CacheStats;
use crate::resp::Frame;

/// Bytes counted per cached reply besides its payload.
const ENTRY_OVERHEAD: usize = 96;
const NIL: u32 = u32::MAX;

/// One tracked connection's state (see the module documentation). Even
/// states mean "not tracking now": nothing read then is cached.
#[derive(Debug, Default)]
pub(crate) struct Source {
    state: AtomicU64,
    /// Invalidations arrive on another connection (RESP2 `REDIRECT`), so
    /// they are not ordered with this connection's replies.
    out_of_band: std::sync::atomic::AtomicBool,
}

impl Source {
    /// The current state when tracking is on, else `None`.
    pub(crate) fn ready_state(&self) -> Option<u64> {
        let s = self.state.load(Ordering::Acquire);
        (s & 1 == 1).then_some(s)
    }

    fn is(&self, state: u64) -> bool {
        self.state.load(Ordering::Acquire) == state
    }

    /// Says whether invalidations for this source arrive on another
    /// connection (set before [`Source::set_ready_from`]).
    pub(crate) fn set_out_of_band(&self, yes: bool) {
        self.out_of_band.store(yes, Ordering::Release);
    }

    /// The current state when tracking is off, else `None`.
    pub(crate) fn state_if_down(&self) -> Option<u64> {
        let s = self.state.load(Ordering::Acquire);
        (s & 1 == 0).then_some(s)
    }

    /// Tracking is confirmed on the connection the source had in state
    /// `before`: reads from now on may be cached. Nothing happens when the
    /// state moved on since (a newer connection, a loss).
    pub(crate) fn set_ready_from(&self, before: u64) -> bool {
        before & 1 == 0
            && self.state.compare_exchange(before, before + 1, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Tracking is on (again): reads from now on may be cached.
    #[cfg(test)]
    pub(crate) fn set_ready(&self) {
        let _ = self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| Some((s | 1) + 2));
    }

    /// The connection (or its invalidations) was lost or replaced: what was
    /// learned through it is never served again, and nothing is cached
    /// until [`Source::set_ready`].
    pub(crate) fn set_down(&self) {
        let _ = self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| Some((s | 1) + 1));
    }
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    evictions: AtomicU64,
    flushes: AtomicU64,
    expired: AtomicU64,
    not_stored: AtomicU64,
}

struct Variant {
    id: Box<[u8]>,
    value: Frame,
    source: Arc<Source>,
    state: u64,
    at: Instant,
    bytes: usize,
}

struct Node {
    key: Bytes,
    variants: Vec<Variant>,
    visited: bool,
    /// Towards the head (newer).
    prev: u32,
    /// Towards the tail (older).
    next: u32,
}

struct Pending {
    tickets: u32,
    /// Clock of the last invalidation of the key while tickets were out.
    invalidated_at: u64,
    /// Clock of the last ticket of the key completed while others were out.
    completed_at: u64,
}

struct Shard {
    map: HashMap<Bytes, u32, Xxh3Builder>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    hand: u32,
    pending: HashMap<Bytes, Pending, Xxh3Builder>,
    clock: u64,
    bytes: usize,
    entries: usize,
    max_bytes: usize,
    max_entries: usize,
}

/// The store; see the module documentation.
pub(crate) struct Store {
    shards: Box<[Mutex<Shard>]>,
    hasher: Xxh3Builder,
    max_ttl: Duration,
    max_entry_bytes: usize,
    /// Bumped by every flush and topology change: tickets from before are void.
    generation: AtomicU64,
    counters: Counters,
}

/// A read's claim to cache its reply (see the module documentation).
/// Dropping it without [`Store::complete`] caches nothing.
pub(crate) struct Ticket {
    store: Arc<Store>,
    key: Bytes,
    shard: usize,
    clock: u64,
    generation: u64,
    source: Arc<Source>,
    state: u64,
    /// Invalidations out of band (RESP2): overlapping reads of the key may
    /// complete out of order relative to them.
    out_of_band: bool,
    done: bool,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            let mut shard = self.store.lock(self.shard);
            shard.release(&self.key, self.clock, false);
        }
    }
}

impl Store {
    /// A store bounded by `max_bytes` and `max_entries` (each at least 1).
    pub(crate) fn new(
        max_bytes: usize,
        max_entries: usize,
        max_ttl: Duration,
        max_entry_bytes: usize,
    ) -> Store {
        // Shards spread the lock; few entries get one shard so the bounds stay exact.
        let n = (max_entries / 256).clamp(1, 16).next_power_of_two().min(16);
        let hasher = Xxh3Builder::new();
        let shards = (0..n)
            .map(|_| {
                Mutex::new(Shard {
                    map: HashMap::with_hasher(hasher),
                    nodes: Vec::new(),
                    free: Vec::new(),
                    head: NIL,
                    tail: NIL,
                    hand: NIL,
                    pending: HashMap::with_hasher(hasher),
                    clock: 0,
                    bytes: 0,
                    entries: 0,
                    max_bytes: (max_bytes / n).max(1),
                    max_entries: (max_entries / n).max(1),
                })
            })
            .collect();
        Store {
            shards,
            hasher,
            max_ttl,
            max_entry_bytes,
            generation: AtomicU64::new(0),
            counters: Counters::default(),
        }
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        use std::hash::BuildHasher;
        (self.hasher.hash_one(key) as usize) & (self.shards.len() - 1)
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached reply of `key` whose id `matches`, if one is valid at `now`.
    pub(crate) fn get(&self, key: &[u8], now: Instant, matches: impl Fn(&[u8]) -> bool) -> Option<Frame> {
        let i = self.shard_of(key);
        let mut shard = self.lock(i);
        let found = shard.map.get(key).copied().and_then(|n| {
            let node = &shard.nodes[n as usize];
            node.variants.iter().position(|v| matches(&v.id)).map(|p| (n, p))
        });
        let Some((n, p)) = found else {
            drop(shard);
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let v = &shard.nodes[n as usize].variants[p];
        let fresh = now.saturating_duration_since(v.at) <= self.max_ttl;
        if fresh && v.source.is(v.state) {
            let value = v.value.clone();
            shard.nodes[n as usize].visited = true;
            drop(shard);
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Some(value);
        }
        shard.remove_variant(n, p);
        drop(shard);
        if !fresh {
            self.counters.expired.fetch_add(1, Ordering::Relaxed);
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// A ticket for reading `key` through `source`, taken before the read is
    /// sent; `None` while the source is not tracking (the reply is then not cached).
    pub(crate) fn begin(self: &Arc<Self>, key: &[u8], source: &Arc<Source>) -> Option<Ticket> {
        let state = source.ready_state()?;
        let generation = self.generation.load(Ordering::Acquire);
        let i = self.shard_of(key);
        let key = Bytes::copy_from_slice(key);
        let clock = {
            let mut shard = self.lock(i);
            shard.clock += 1;
            let clock = shard.clock;
            shard
                .pending
                .entry(key.clone())
                .or_insert(Pending { tickets: 0, invalidated_at: 0, completed_at: 0 })
                .tickets += 1;
            clock
        };
        let out_of_band = source.out_of_band.load(Ordering::Acquire);
        Some(Ticket {
            store: self.clone(),
            key,
            shard: i,
            clock,
            generation,
            source: source.clone(),
            state,
            out_of_band,
            done: false,
        })
    }

    /// Caches `value` under the ticket's key and `id`, unless the key was
    /// invalidated, the cache flushed or the source lost since the ticket
    /// was taken, or the reply is an error or too large. True when cached.
    pub(crate) fn complete(&self, mut t: Ticket, id: Box<[u8]>, value: &Frame, now: Instant) -> bool {
        t.done = true;
        let mut shard = self.lock(t.shard);
        let (invalidated, overlapped) = shard.release(&t.key, t.clock, true);
        // In band (RESP3), replies and invalidations come in one ordered
        // stream: a reply older than another is followed by the
        // invalidation that separates them, which marks the ticket.
        let overlapped = overlapped && t.out_of_band;
        if overlapped {
            // Another read of the key returned while this one was out: which
            // reply is newer is unknown (on RESP2 the invalidation may not
            // have arrived yet), so keep neither.
            shard.remove_key(&t.key);
        }
        let bytes = frame_bytes(value).saturating_add(id.len()).saturating_add(t.key.len()) + ENTRY_OVERHEAD;
        let ok = !invalidated
            && !overlapped
            && self.generation.load(Ordering::Acquire) == t.generation
            && t.source.is(t.state)
            && !matches!(value, Frame::SimpleError(_) | Frame::BlobError(_))
            && bytes <= self.max_entry_bytes.min(shard.max_bytes);
        if !ok {
            drop(shard);
            self.counters.not_stored.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let v =
            Variant { id, value: value.clone(), source: t.source.clone(), state: t.state, at: now, bytes };
        let evicted = shard.insert(t.key.clone(), v);
        drop(shard);
        if evicted > 0 {
            self.counters.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
        true
    }

    /// Drops every reply of `key` and marks its tickets. Counted as an
    /// invalidation only when it did either (a key never read is not).
    pub(crate) fn invalidate(&self, key: &[u8]) {
        let mut shard = self.lock(self.shard_of(key));
        let counted = shard.invalidate(key);
        drop(shard);
        if counted {
            self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops everything; tickets out now are void.
    pub(crate) fn flush(&self) {
        // Bumped before the shards are cleared: a `complete` that checks the
        // generation afterwards refuses, one that checked before inserted
        // under the shard lock, and the clear below removes it.
        self.generation.fetch_add(1, Ordering::AcqRel);
        for i in 0..self.shards.len() {
            self.lock(i).clear();
        }
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops the keys `drop_key` selects (a cluster's keys of slots that
    /// changed owner); tickets out now are void.
    pub(crate) fn drop_keys(&self, drop_key: impl Fn(&[u8]) -> bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for i in 0..self.shards.len() {
            let mut shard = self.lock(i);
            let doomed: Vec<Bytes> = shard.map.keys().filter(|k| drop_key(k)).cloned().collect();
            for k in doomed {
                shard.invalidate(&k);
            }
        }
    }

    /// Voids the tickets out now, keeping what is cached (a redirect: the
    /// read may have been served by a node other than its ticket's source).
    pub(crate) fn void_tickets(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A snapshot of the counters and sizes.
    pub(crate) fn stats(&self) -> CacheStats {
        let (mut entries, mut bytes, mut keys) = (0, 0, 0);
        for i in 0..self.shards.len() {
            let s = self.lock(i);
            entries += s.entries;
            bytes += s.bytes;
            keys += s.map.len();
        }
        let c = &self.counters;
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            invalidations: c.invalidations.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            flushes: c.flushes.load(Ordering::Relaxed),
            expired: c.expired.load(Ordering::Relaxed),
            not_stored: c.not_stored.load(Ordering::Relaxed),
            entries,
            keys,
            bytes,
        }
    }
}

impl Shard {
    /// Gives back a ticket (`completed`: its reply went to the caller).
    /// Returns whether its key was invalidated while it was out, and
    /// whether another read of the key completed meanwhile.
    fn release(&mut self, key: &[u8], clock: u64, completed: bool) -> (bool, bool) {
        self.clock += 1;
        let now = self.clock;
        let Some(p) = self.pending.get_mut(key) else { return (true, true) };
        let seen = (p.invalidated_at > clock, p.completed_at > clock);
        if completed {
            p.completed_at = now;
        }
        p.tickets = p.tickets.saturating_sub(1);
        if p.tickets == 0 {
            self.pending.remove(key);
        }
        seen
    }

    /// Drops `key`'s node; true when there was one.
    fn remove_key(&mut self, key: &[u8]) -> bool {
        match self.map.get(key).copied() {
            Some(n) => {
                self.remove_node(n);
                true
            }
            None => false,
        }
    }

    /// Marks `key`'s tickets and drops its replies; true when it did either.
    fn invalidate(&mut self, key: &[u8]) -> bool {
        let marked = match self.pending.get_mut(key) {
            Some(p) => {
                self.clock += 1;
                p.invalidated_at = self.clock;
                true
            }
            None => false,
        };
        self.remove_key(key) || marked
    }

    fn clear(&mut self) {
        self.map.clear();
        self.nodes.clear();
        self.free.clear();
        (self.head, self.tail, self.hand) = (NIL, NIL, NIL);
        self.bytes = 0;
        self.entries = 0;
        // Tickets stay counted; the generation voids them.
    }

    /// Adds or replaces a reply; returns how many replies were evicted.
    fn insert(&mut self, key: Bytes, v: Variant) -> u64 {
        self.bytes += v.bytes;
        self.entries += 1;
        if let Some(n) = self.map.get(&key).copied() {
            let node = &mut self.nodes[n as usize];
            if let Some(p) = node.variants.iter().position(|old| old.id == v.id) {
                let old = std::mem::replace(&mut node.variants[p], v);
                self.bytes -= old.bytes;
                self.entries -= 1;
            } else {
                node.variants.push(v);
            }
        } else {
            let node =
                Node { key: key.clone(), variants: vec![v], visited: false, prev: NIL, next: self.head };
            let n = match self.free.pop() {
                Some(n) => {
                    self.nodes[n as usize] = node;
                    n
                }
                None => {
                    self.nodes.push(node);
                    (self.nodes.len() - 1) as u32
                }
            };
            if self.head != NIL {
                self.nodes[self.head as usize].prev = n;
            }
            self.head = n;
            if self.tail == NIL {
                self.tail = n;
            }
            self.map.insert(key, n);
        }
        self.evict()
    }

    /// SIEVE: from the hand towards the head, spare (and unmark) visited
    /// nodes, evict the first unvisited one; until both bounds hold.
    fn evict(&mut self) -> u64 {
        let mut evicted = 0u64;
        while (self.bytes > self.max_bytes || self.entries > self.max_entries) && self.tail != NIL {
            let mut n = if self.hand == NIL { self.tail } else { self.hand };
            loop {
                let node = &mut self.nodes[n as usize];
                if !node.visited {
                    break;
                }
                node.visited = false;
                n = if node.prev == NIL { self.tail } else { node.prev };
            }
            self.hand = self.nodes[n as usize].prev;
            evicted += self.nodes[n as usize].variants.len() as u64;
            self.remove_node(n);
        }
        evicted
    }

    fn remove_variant(&mut self, n: u32, p: usize) {
        let node = &mut self.nodes[n as usize];
        let v = node.variants.swap_remove(p);
        self.bytes -= v.bytes;
        self.entries -= 1;
        if node.variants.is_empty() {
            self.remove_node(n);
        }
    }

    fn remove_node(&mut self, n: u32) {
        let (prev, next) = {
            let node = &mut self.nodes[n as usize];
            for v in node.variants.drain(..) {
                self.bytes -= v.bytes;
                self.entries -= 1;
            }
            (node.prev, node.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        if self.hand == n {
            self.hand = prev;
        }
        let key = std::mem::take(&mut self.nodes[n as usize].key);
        self.map.remove(&key);
        self.free.push(n);
    }
}

#[cfg(test)]
mod tests;
