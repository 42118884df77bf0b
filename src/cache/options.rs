//! What a client-side cache is allowed to hold and how the server tracks it:
//! [`CacheOptions`] and [`CacheMode`]. Pure data; the cache itself lives in
//! `store`, the tracking in `tracker`.

use std::time::Duration;

use bytes::Bytes;

/// How the server tells this client which cached keys changed
/// (`CLIENT TRACKING`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheMode {
    /// The server remembers the keys this client read and invalidates those
    /// (`CLIENT TRACKING ON`). Every cacheable read is cached.
    #[default]
    Tracking,
    /// The server invalidates every key matching one of `prefixes` (all
    /// keys when empty), read or not (`CLIENT TRACKING ON BCAST PREFIX ..`).
    /// Only keys under a prefix are cached; nothing is remembered per key
    /// on the server.
    Broadcast {
        /// Key prefixes; empty means every key.
        prefixes: Vec<Bytes>,
    },
    /// Only reads the caller asks to cache are cached
    /// (`CLIENT TRACKING ON OPTIN`, then `CLIENT CACHING YES` right before
    /// each such read; see `send_cached` on the clients).
    OptIn,
}

/// Settings of a client-side cache (see [`crate::cache`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    /// Bound on the bytes held (keys, arguments and replies, plus a fixed
    /// overhead per entry). Default 64 MiB.
    pub max_bytes: usize,
    /// Bound on the number of cached replies. Default 100 000.
    pub max_entries: usize,
    /// No reply is served from the cache longer than this after it was
    /// read from the server, whatever else happens. Default 60 s.
    pub max_ttl: Duration,
    /// How the server tracks what is cached.
    pub mode: CacheMode,
    /// Replies larger than this (bytes) are not cached. Default 1 MiB.
    pub max_entry_bytes: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_bytes: 64 << 20,
            max_entries: 100_000,
            max_ttl: Duration::from_secs(60),
            mode: CacheMode::Tracking,
            max_entry_bytes: 1 << 20,
        }
    }
}

impl CacheOptions {
    /// The defaults (tracking mode, 64 MiB, 100 000 entries, 60 s).
    pub fn new() -> CacheOptions {
        CacheOptions::default()
    }

    /// Sets [`CacheOptions::max_bytes`].
    pub fn max_bytes(mut self, n: usize) -> CacheOptions {
        self.max_bytes = n;
        self
    }

    /// Sets [`CacheOptions::max_entries`].
    pub fn max_entries(mut self, n: usize) -> CacheOptions {
        self.max_entries = n;
        self
    }

    /// Sets [`CacheOptions::max_ttl`].
    pub fn max_ttl(mut self, ttl: Duration) -> CacheOptions {
        self.max_ttl = ttl;
        self
    }

    /// Sets [`CacheOptions::mode`].
    pub fn mode(mut self, mode: CacheMode) -> CacheOptions {
        self.mode = mode;
        self
    }

    /// Broadcast mode for `prefixes` (see [`CacheMode::Broadcast`]).
    pub fn broadcast<I: IntoIterator<Item = P>, P: AsRef<[u8]>>(self, prefixes: I) -> CacheOptions {
        let prefixes = prefixes.into_iter().map(|p| Bytes::copy_from_slice(p.as_ref())).collect();
        self.mode(CacheMode::Broadcast { prefixes })
    }

    /// Opt-in mode (see [`CacheMode::OptIn`]).
    pub fn opt_in(self) -> CacheOptions {
        self.mode(CacheMode::OptIn)
    }

    /// True when `key` may be cached in this mode (broadcast: under a prefix).
    pub(crate) fn covers(&self, key: &[u8]) -> bool {
        match &self.mode {
            CacheMode::Broadcast { prefixes } => {
                prefixes.is_empty() || prefixes.iter().any(|p| key.starts_with(p))
            }
            _ => true,
        }
    }

    /// The `CLIENT TRACKING ON ...` arguments after `ON`, with `REDIRECT id`
    /// for a RESP2 connection whose invalidations go to another one.
    pub(crate) fn tracking_cmd(&self, redirect: Option<i64>) -> crate::Cmd {
        let mut c = crate::cmd("CLIENT").arg("TRACKING").arg("ON");
        if let Some(id) = redirect {
            c = c.arg("REDIRECT").arg(id);
        }
        match &self.mode {
            CacheMode::Tracking => {}
            CacheMode::Broadcast { prefixes } => {
                c = c.arg("BCAST");
                for p in prefixes {
                    c = c.arg("PREFIX").arg(&p[..]);
                }
            }
            CacheMode::OptIn => c = c.arg("OPTIN"),
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &crate::Cmd) -> Vec<&[u8]> {
        c.args().collect()
    }

    #[test]
    fn tracking_command_per_mode() {
        let t = CacheOptions::new();
        assert_eq!(args(&t.tracking_cmd(None)), vec![&b"CLIENT"[..], b"TRACKING", b"ON"]);
        assert_eq!(
            args(&t.tracking_cmd(Some(7))),
            vec![&b"CLIENT"[..], b"TRACKING", b"ON", b"REDIRECT", b"7"]
        );
        let b = CacheOptions::new().broadcast(["user:", "dkim:"]);
        assert_eq!(
            args(&b.tracking_cmd(None)),
            vec![&b"CLIENT"[..], b"TRACKING", b"ON", b"BCAST", b"PREFIX", b"user:", b"PREFIX", b"dkim:"]
        );
        let o = CacheOptions::new().opt_in();
        assert_eq!(args(&o.tracking_cmd(None)).last(), Some(&&b"OPTIN"[..]));
    }

    #[test]
    fn broadcast_covers_only_its_prefixes() {
        let b = CacheOptions::new().broadcast(["user:"]);
        assert!(b.covers(b"user:1"));
        assert!(!b.covers(b"other"));
        assert!(CacheOptions::new().broadcast(Vec::<&str>::new()).covers(b"x"));
        assert!(CacheOptions::new().covers(b"x"));
    }
}
