//! The `Sharded` variant: keys spread over several Redis or RedisCluster stores.
//!
//! Lives here: [`Sharded`] and the shard function [`shard_of`]. Not here: the
//! commands (`remote`), the public API (`Store`).
//!
//! # Which shard holds a key
//! Shard `fnv1a64(key) % n`, where `n` is the number of stores in the order
//! the configuration lists them and `fnv1a64` is 64-bit FNV-1a over the key's
//! bytes (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`). It is
//! written out here, not taken from `std`'s `DefaultHasher`, whose output may
//! change between Rust versions and is seeded per process: the same key must
//! land on the same shard after every restart and on every node of a mail
//! cluster. Adding, removing or reordering stores moves most keys to another
//! shard; old entries then sit unseen until they expire.
//!
//! With [`Compat::Stalwart016`] the shard is instead Stalwart 0.16's,
//! [`shard_of_xxh3`]: `xxh3_64(key) % n` (seed 0), so both kinds of node find
//! every key on the same server.
//!
//! Every single-key operation goes to its key's shard. A rate limit goes to the
//! shard of its *key* (not of the `<key>:<window>` counter), so all windows of
//! one key share a shard; a lock likewise. The Stalwart-layout rate limit
//! ([`Sharded::is_rate_allowed_prefixed`]) goes, as Stalwart's does, to the
//! shard of its bucket key `prefix ‖ key ‖ window`. A prefix delete runs on
//! every shard at once and adds up the counts.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinSet;

use super::remote::Remote;
use super::stalwart::{shard_of_xxh3, Rate, RateBucket};
use super::LockToken;
use crate::config::Compat;
use crate::error::{Error, Result};

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET_BASIS, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// The shard of `key` among `shards` stores: `fnv1a64(key) % shards` (0 when
/// `shards` is 0).
pub fn shard_of(key: &[u8], shards: usize) -> usize {
    match u64::try_from(shards) {
        Ok(n) if n > 0 => usize::try_from(fnv1a64(key) % n).unwrap_or(0),
        _ => 0,
    }
}

/// Two or more server-backed stores, one chosen per key. Clones share them.
#[derive(Clone, Debug)]
pub struct Sharded {
    shards: Arc<[Remote]>,
    /// Which shard function, and the shards' own behaviour.
    compat: Compat,
}

impl Sharded {
    /// Shards over `shards`, in this order (the order decides where keys go).
    ///
    /// # Errors
    /// [`Error::Config`] for fewer than two stores.
    pub fn new(shards: Vec<Remote>) -> Result<Sharded> {
        if shards.len() < 2 {
            return Err(Error::Config(format!(
                "a Sharded store needs at least 2 stores, got {}",
                shards.len()
            )));
        }
        Ok(Sharded { shards: shards.into(), compat: Compat::default() })
    }

    /// These shards (the same connections) following `compat`, for the
    /// shard function and every shard's commands.
    pub fn with_compat(&self, compat: Compat) -> Sharded {
        let shards: Vec<Remote> = self.shards.iter().map(|s| s.with_compat(compat)).collect();
        Sharded { shards: shards.into(), compat }
    }

    /// Whose behaviour this store follows.
    pub fn compat(&self) -> Compat {
        self.compat
    }

    /// The index of `key`'s shard.
    pub fn shard_index(&self, key: &[u8]) -> usize {
        let n = self.shards.len();
        if self.compat.is_stalwart() {
            shard_of_xxh3(key, n)
        } else {
            shard_of(key, n)
        }
    }

    fn shard(&self, key: &[u8]) -> Result<&Remote> {
        // Always in range: the shard functions reduce modulo the length, which `new` keeps at 2 or more.
        self.shards
            .get(self.shard_index(key))
            .ok_or_else(|| Error::Other("a Sharded store has no stores".into()))
    }

    pub async fn key_set(&self, key: &[u8], value: Bytes, ttl: Option<Duration>) -> Result<()> {
        self.shard(key)?.key_set(key, value, ttl).await
    }

    pub async fn key_get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.shard(key)?.key_get(key).await
    }

    pub async fn key_exists(&self, key: &[u8]) -> Result<bool> {
        self.shard(key)?.key_exists(key).await
    }

    pub async fn key_delete(&self, key: &[u8]) -> Result<bool> {
        self.shard(key)?.key_delete(key).await
    }

    /// Runs on every shard concurrently; the first error wins (the other
    /// shards' deletes are then abandoned, having deleted what they deleted).
    pub async fn key_delete_prefix(&self, prefix: &[u8]) -> Result<u64> {
        let prefix: Arc<[u8]> = prefix.into();
        let mut tasks = JoinSet::new();
        for shard in self.shards.iter() {
            let (shard, prefix) = (shard.clone(), prefix.clone());
            tasks.spawn(async move { shard.key_delete_prefix(&prefix).await });
        }
        let mut deleted = 0u64;
        while let Some(joined) = tasks.join_next().await {
            let count =
                joined.map_err(|e| Error::Other(format!("a shard's prefix delete failed: {e}")))??;
            deleted = deleted.saturating_add(count);
        }
        Ok(deleted)
    }

    pub async fn counter_incr(&self, key: &[u8], delta: i64, ttl: Option<Duration>) -> Result<i64> {
        self.shard(key)?.counter_incr(key, delta, ttl).await
    }

    pub async fn counter_get(&self, key: &[u8]) -> Result<i64> {
        self.shard(key)?.counter_get(key).await
    }

    pub async fn counter_delete(&self, key: &[u8]) -> Result<bool> {
        self.shard(key)?.key_delete(key).await
    }

    pub async fn is_rate_allowed(
        &self,
        key: &[u8],
        limit: u64,
        period: Duration,
        soft: bool,
    ) -> Result<Option<u64>> {
        self.shard(key)?.is_rate_allowed(key, limit, period, soft).await
    }

    pub async fn is_rate_allowed_prefixed(
        &self,
        prefix: u8,
        key: &[u8],
        rate: &Rate,
        soft: bool,
    ) -> Result<Option<u64>> {
        let bucket = RateBucket::now(prefix, key, rate);
        self.shard(&bucket.key)?.rate_check(&bucket, rate, soft).await
    }

    pub async fn try_lock_plain(&self, key: &[u8], secs: u64) -> Result<bool> {
        self.shard(key)?.try_lock_plain(key, secs).await
    }

    pub async fn remove_lock_plain(&self, key: &[u8]) -> Result<bool> {
        self.shard(key)?.remove_lock_plain(key).await
    }

    pub async fn try_lock(&self, key: &[u8], ttl: Duration) -> Result<Option<LockToken>> {
        self.shard(key)?.try_lock(key, ttl).await
    }

    pub async fn remove_lock(&self, key: &[u8], token: &LockToken) -> Result<bool> {
        self.shard(key)?.remove_lock(key, token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv, fnv-1a 64).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shards_are_stable_and_spread() {
        // Pinned: these must never change, or keys move after an upgrade.
        assert_eq!(shard_of(b"a", 2), 0);
        assert_eq!(shard_of(b"foobar", 3), (0x8594_4171_f739_67e8u64 % 3) as usize);
        assert_eq!(shard_of(b"anything", 0), 0);
        for n in [2usize, 3, 5] {
            let mut counts = vec![0u32; n];
            for i in 0..3000u32 {
                let shard = shard_of(format!("session:{i}").as_bytes(), n);
                counts[shard] += 1;
            }
            let fair = 3000 / n as u32;
            assert!(counts.iter().all(|&c| c > fair * 8 / 10 && c < fair * 12 / 10), "{n}: {counts:?}");
        }
    }
}
