//! Stalwart 0.16's key layouts, for stores shared with its nodes: the shard
//! of a key, rate-limit buckets, plain lock values.
//!
//! Lives here: [`shard_of_xxh3`], [`Rate`], [`RateBucket`], [`lock_value`].
//! Not here: the commands that use them (`remote`, `embedded`, `sharded`),
//! the choice of layout ([`Compat`](crate::config::Compat)).
//!
//! Facts these follow (Stalwart 0.16's redis-rs backend):
//!
//! * **Shards**: `xxh3_64(key) % n` with seed 0, over the full key bytes, in
//!   the order the configuration lists the stores.
//! * **Rate limits**: `period = max(1 s, rate.period)` in whole seconds,
//!   `window = now / period` (Unix seconds), the counter is
//!   `prefix ‖ key ‖ window as u64 big-endian` with a ttl of
//!   `(window + 1) · period − now` seconds, set on every hit. A hit counts and
//!   is allowed while the count stays `<= rate.count`; a soft check reads the
//!   counter and asks whether one more hit would be allowed.
//! * **Plain locks**: `SET key <value> NX EX secs`, where Stalwart writes the
//!   Unix time the lock expires at, in decimal (nodes only test whether the
//!   key exists, so the value is informative).
//!
//! Pure: no IO.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::xxh3_64;

/// The shard of `key` among `shards` stores, as Stalwart 0.16 picks it:
/// `xxh3_64(key) % shards` (0 when `shards` is 0).
pub fn shard_of_xxh3(key: &[u8], shards: usize) -> usize {
    match u64::try_from(shards) {
        Ok(n) if n > 0 => usize::try_from(xxh3_64(key) % n).unwrap_or(0),
        _ => 0,
    }
}

/// A rate: at most `count` hits per `period` (Stalwart's `Rate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Hits allowed per window.
    pub count: u64,
    /// The window's length; whole seconds, at least one (shorter counts as one second).
    pub period: Duration,
}

impl Rate {
    /// `count` hits per `period`.
    pub fn new(count: u64, period: Duration) -> Rate {
        Rate { count, period }
    }

    /// The period in whole seconds, at least 1.
    pub fn period_secs(&self) -> u64 {
        self.period.as_secs().max(1)
    }
}

/// The counter of one rate-limit window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateBucket {
    /// `prefix ‖ key ‖ window (u64 big-endian)`.
    pub key: Vec<u8>,
    /// Seconds until the window ends (at least 1): the counter's ttl, and
    /// the answer when a hit is refused.
    pub ttl_secs: u64,
}

impl RateBucket {
    /// The bucket of `prefix`/`key` under `rate` at `now_secs` (Unix seconds).
    pub fn at(now_secs: u64, prefix: u8, key: &[u8], rate: &Rate) -> RateBucket {
        let period = rate.period_secs();
        let window = now_secs / period;
        let ends = window.saturating_add(1).saturating_mul(period);
        let mut bucket = Vec::with_capacity(1 + key.len() + 8);
        bucket.push(prefix);
        bucket.extend_from_slice(key);
        bucket.extend_from_slice(&window.to_be_bytes());
        RateBucket { key: bucket, ttl_secs: ends.saturating_sub(now_secs).max(1) }
    }

    /// The bucket for this second of this machine's clock.
    pub fn now(prefix: u8, key: &[u8], rate: &Rate) -> RateBucket {
        RateBucket::at(unix_secs(), prefix, key, rate)
    }

    /// The answer for a count: for a hit, the count after it; for a soft
    /// check, the count read plus one. `None` while within `rate.count`,
    /// else `Some(seconds until the window ends)`.
    pub fn verdict(&self, count: i64, rate: &Rate) -> Option<u64> {
        let allowed = u64::try_from(count).map_or(true, |c| c <= rate.count);
        (!allowed).then_some(self.ttl_secs)
    }
}

/// Seconds since the Unix epoch by this machine's clock (0 before 1970).
pub fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The value of a plain lock taken at `now_secs` for `secs`: the Unix time it
/// expires at, in decimal, as Stalwart writes it.
pub fn lock_value(now_secs: u64, secs: u64) -> Vec<u8> {
    itoa::Buffer::new().format(now_secs.saturating_add(secs)).as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh3_matches_the_reference_vectors() {
        // XXH3_64bits with seed 0, from the xxHash reference implementation.
        assert_eq!(xxh3_64(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(shard_of_xxh3(b"", 7), (0x2d06_8005_38d3_94c2u64 % 7) as usize);
        assert_eq!(shard_of_xxh3(b"x", 0), 0);
        for n in [2usize, 3] {
            let mut counts = vec![0u32; n];
            for i in 0..3000u32 {
                counts[shard_of_xxh3(format!("k{i}").as_bytes(), n)] += 1;
            }
            let fair = 3000 / n as u32;
            assert!(counts.iter().all(|&c| c > fair * 8 / 10 && c < fair * 12 / 10), "{counts:?}");
        }
    }

    #[test]
    fn buckets_follow_stalwarts_layout() {
        let rate = Rate::new(3, Duration::from_secs(60));
        let b = RateBucket::at(1_700_000_030, 7, b"ip", &rate);
        // window = 1_700_000_030 / 60 = 28_333_333, ends at 28_333_334 * 60 = 1_700_000_040.
        let mut key = vec![7u8, b'i', b'p'];
        key.extend_from_slice(&28_333_333u64.to_be_bytes());
        assert_eq!(b, RateBucket { key, ttl_secs: 10 });
        assert_eq!(b.verdict(3, &rate), None);
        assert_eq!(b.verdict(4, &rate), Some(10));
        assert_eq!(b.verdict(-1, &rate), None);
        // A period under a second counts as one second: each second is a window.
        let fast = Rate::new(1, Duration::from_millis(200));
        let b = RateBucket::at(1_000, 1, b"", &fast);
        assert_eq!(b.key, [&[1u8][..], &1_000u64.to_be_bytes()].concat());
        assert_eq!(b.ttl_secs, 1);
        assert_eq!(RateBucket::at(u64::MAX, 0, b"", &rate).ttl_secs, 1);
    }

    #[test]
    fn lock_values_are_the_expiry_time() {
        assert_eq!(lock_value(1_700_000_000, 30), b"1700000030");
        assert_eq!(lock_value(u64::MAX, 1), u64::MAX.to_string().as_bytes());
    }
}
