//! The always-on counters of a client ([`Counters`]) and their snapshot
//! ([`Stats`]). Relaxed atomics, bumped once per event (a reconnect, a
//! redirect, a retry), never per command. Not here: the `tracing` and
//! `metrics` side of the same events (`events`).

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of what a client went through since it was created.
///
/// Every count is of events, not commands; reading it is a few relaxed
/// loads. Fields a client kind does not have stay 0 (a standalone client is
/// never redirected).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections opened again after one broke (the first connection of
    /// each node does not count).
    pub reconnects: u64,
    /// Connect attempts of the self-healing connections that failed.
    pub connect_failures: u64,
    /// Commands sent again on a new connection after the first was lost
    /// (never written, or read-only with an unknown outcome).
    pub resends: u64,
    /// `MOVED` redirects followed (cluster).
    pub redirects_moved: u64,
    /// `ASK` redirects followed (cluster).
    pub redirects_ask: u64,
    /// Retries after a transient error (`TRYAGAIN`, `CLUSTERDOWN`,
    /// `LOADING`, a lost node ...), redirects not included (cluster).
    pub retries: u64,
    /// Topology refreshes run, start-up not counted (cluster).
    pub topology_refreshes: u64,
}

/// The counters behind [`Stats`], shared by a client and its connections.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) reconnects: AtomicU64,
    pub(crate) connect_failures: AtomicU64,
    pub(crate) resends: AtomicU64,
    pub(crate) redirects_moved: AtomicU64,
    pub(crate) redirects_ask: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) topology_refreshes: AtomicU64,
}

/// Adds one, relaxed: the counts order nothing.
pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// The current values.
    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            reconnects: get(&self.reconnects),
            connect_failures: get(&self.connect_failures),
            resends: get(&self.resends),
            redirects_moved: get(&self.redirects_moved),
            redirects_ask: get(&self.redirects_ask),
            retries: get(&self.retries),
            topology_refreshes: get(&self.topology_refreshes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reads_each_counter() {
        let c = Counters::default();
        bump(&c.reconnects);
        bump(&c.redirects_ask);
        bump(&c.redirects_ask);
        bump(&c.topology_refreshes);
        let s = c.snapshot();
        assert_eq!(s, Stats { reconnects: 1, redirects_ask: 2, topology_refreshes: 1, ..Stats::default() });
    }
}
