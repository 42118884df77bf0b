//! Which nodes the cluster router holds connections to: a bounded set.
//!
//! Lives here: [`NodeSet`], the router's per-node entries (a connection and a
//! pool each; a type parameter here, so this stays pure), and the rules that
//! bound them. Not here: opening or closing connections (the IO router does
//! that with what this set hands back), or the slot map (`topology`).
//!
//! The rules:
//!
//! - An entry is created only for a node of the current topology
//!   ([`NodeSet::install`]) or for the target of a redirect
//!   ([`NodeSet::redirect`]). The router gets connections only from entries,
//!   so the template's credentials (password, client certificate) never go
//!   to an address learned any other way.
//! - Redirect targets outside the topology are remembered with the time of
//!   their last redirect, at most [`MAX_REDIRECT_TARGETS`] at once, and
//!   forgotten [`REDIRECT_MEMORY`] after it.
//! - Each install drops the entries of nodes that are neither in the new
//!   topology nor recently redirected to, and returns them so the caller
//!   closes their connections.
//! - At most `max_nodes` entries exist. A topology naming more nodes is
//!   refused whole (the router keeps its old map); a redirect target past
//!   either bound is refused. Both with [`Error::TooManyNodes`].
//!
//! Pure: no tokio, no sockets; the time is a parameter.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::error::{Error, NodeAddr};

/// Most redirect targets outside the topology remembered at once. A
/// resharding moves slots to a handful of nodes; dozens of distinct targets
/// within [`REDIRECT_MEMORY`] are a confused or hostile server.
pub const MAX_REDIRECT_TARGETS: usize = 32;

/// How long a redirect target outside the topology keeps its entry after
/// its last redirect: long enough to span a slot migration's ASKs between
/// two topology refreshes.
pub const REDIRECT_MEMORY: Duration = Duration::from_secs(30);

/// The router's per-node entries, bounded (see the module documentation).
#[derive(Debug)]
pub struct NodeSet<T> {
    max_nodes: usize,
    entries: HashMap<NodeAddr, T>,
    topology: HashSet<NodeAddr>,
    /// Redirect targets outside the topology, with their last redirect.
    redirects: HashMap<NodeAddr, Instant>,
}

impl<T: Clone> NodeSet<T> {
    /// An empty set holding at most `max_nodes` entries (at least one).
    pub fn new(max_nodes: usize) -> NodeSet<T> {
        NodeSet {
            max_nodes: max_nodes.max(1),
            entries: HashMap::new(),
            topology: HashSet::new(),
            redirects: HashMap::new(),
        }
    }

    /// How many entries exist.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry of `addr`, if it has one.
    pub fn get(&self, addr: &NodeAddr) -> Option<&T> {
        self.entries.get(addr)
    }

    /// Every entry (topology nodes and remembered redirect targets).
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.values()
    }

    /// True when `addr` is a node of the installed topology.
    #[cfg(test)]
    pub fn in_topology(&self, addr: &NodeAddr) -> bool {
        self.topology.contains(addr)
    }

    /// Redirect targets outside the topology currently remembered.
    #[cfg(test)]
    pub fn redirect_targets(&self) -> usize {
        self.redirects.len()
    }

    /// Installs a topology: every node of `nodes` gets an entry (new ones
    /// made by `make`); entries of nodes neither in it nor redirected to
    /// within [`REDIRECT_MEMORY`] before `now` are removed and returned, for
    /// the caller to close. Should the remembered redirect targets leave no
    /// room, the oldest are dropped: the topology comes first.
    ///
    /// # Errors
    /// [`Error::TooManyNodes`] when `nodes` names more than `max_nodes`
    /// distinct nodes; nothing changes then.
    pub fn install(
        &mut self,
        nodes: &[NodeAddr],
        now: Instant,
        mut make: impl FnMut(&NodeAddr) -> T,
    ) -> Result<Vec<T>, Error> {
        let topology: HashSet<NodeAddr> = nodes.iter().cloned().collect();
        if topology.len() > self.max_nodes {
            return Err(Error::TooManyNodes { limit: self.max_nodes });
        }
        self.topology = topology;
        let topology = &self.topology;
        self.redirects.retain(|addr, at| !topology.contains(addr) && is_recent(*at, now));
        let room = self.max_nodes - self.topology.len();
        while self.redirects.len() > room {
            let Some(oldest) = self.redirects.iter().min_by_key(|(_, at)| **at).map(|(a, _)| a.clone())
            else {
                break;
            };
            self.redirects.remove(&oldest);
        }
        let mut dropped = Vec::new();
        let (topology, redirects) = (&self.topology, &self.redirects);
        self.entries.retain(|addr, entry| {
            let keep = topology.contains(addr) || redirects.contains_key(addr);
            if !keep {
                dropped.push(entry.clone());
            }
            keep
        });
        for addr in nodes {
            if !self.entries.contains_key(addr) {
                let entry = make(addr);
                self.entries.insert(addr.clone(), entry);
            }
        }
        Ok(dropped)
    }

    /// The entry for the target of a redirect (MOVED or ASK) at `now`,
    /// made by `make` when it has none. A target outside the topology is
    /// remembered (its time refreshed); records older than
    /// [`REDIRECT_MEMORY`] are forgotten first, and their entries pushed to
    /// `dropped` for the caller to close.
    ///
    /// # Errors
    /// [`Error::TooManyNodes`] for a new target when [`MAX_REDIRECT_TARGETS`]
    /// targets are remembered already, or `max_nodes` entries exist.
    pub fn redirect(
        &mut self,
        addr: &NodeAddr,
        now: Instant,
        make: impl FnOnce() -> T,
        dropped: &mut Vec<T>,
    ) -> Result<T, Error> {
        if !self.topology.contains(addr) {
            self.forget_stale(now, dropped);
            if !self.redirects.contains_key(addr) && self.redirects.len() >= MAX_REDIRECT_TARGETS {
                return Err(Error::TooManyNodes { limit: MAX_REDIRECT_TARGETS });
            }
        }
        if let Some(entry) = self.entries.get(addr) {
            let entry = entry.clone();
            self.note_redirect(addr, now);
            return Ok(entry);
        }
        if self.entries.len() >= self.max_nodes {
            return Err(Error::TooManyNodes { limit: self.max_nodes });
        }
        let entry = make();
        self.entries.insert(addr.clone(), entry.clone());
        self.note_redirect(addr, now);
        Ok(entry)
    }

    fn note_redirect(&mut self, addr: &NodeAddr, now: Instant) {
        if !self.topology.contains(addr) {
            self.redirects.insert(addr.clone(), now);
        }
    }

    /// Forgets redirect targets not redirected to within [`REDIRECT_MEMORY`].
    fn forget_stale(&mut self, now: Instant, dropped: &mut Vec<T>) {
        let stale: Vec<NodeAddr> =
            self.redirects.iter().filter(|(_, at)| !is_recent(**at, now)).map(|(a, _)| a.clone()).collect();
        for addr in stale {
            self.redirects.remove(&addr);
            if let Some(entry) = self.entries.remove(&addr) {
                dropped.push(entry);
            }
        }
    }
}

fn is_recent(at: Instant, now: Instant) -> bool {
    now.saturating_duration_since(at) < REDIRECT_MEMORY
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> NodeAddr {
        NodeAddr::new("127.0.0.1", port)
    }

    fn ports(mut dropped: Vec<NodeAddr>) -> Vec<u16> {
        dropped.sort();
        dropped.iter().map(|a| a.port).collect()
    }

    #[test]
    fn install_keeps_the_topology_and_drops_the_rest() {
        let now = Instant::now();
        let mut set: NodeSet<NodeAddr> = NodeSet::new(10);
        assert!(set.install(&[addr(1), addr(2)], now, NodeAddr::clone).unwrap().is_empty());
        assert_eq!(set.len(), 2);
        let dropped = set.install(&[addr(2), addr(3)], now, NodeAddr::clone).unwrap();
        assert_eq!(ports(dropped), [1]);
        assert!(set.get(&addr(1)).is_none() && set.get(&addr(3)).is_some());
        assert!(set.in_topology(&addr(2)) && !set.in_topology(&addr(1)));
    }

    #[test]
    fn a_topology_past_the_cap_is_refused_whole() {
        let now = Instant::now();
        let mut set: NodeSet<NodeAddr> = NodeSet::new(2);
        set.install(&[addr(1)], now, NodeAddr::clone).unwrap();
        let err = set.install(&[addr(1), addr(2), addr(3)], now, NodeAddr::clone).unwrap_err();
        assert!(matches!(err, Error::TooManyNodes { limit: 2 }));
        assert_eq!(set.len(), 1, "nothing changed");
        // Repeated addresses count once.
        assert!(set.install(&[addr(1), addr(2), addr(2)], now, NodeAddr::clone).is_ok());
    }

    #[test]
    fn redirect_targets_survive_installs_while_recent() {
        let t0 = Instant::now();
        let mut set: NodeSet<NodeAddr> = NodeSet::new(10);
        set.install(&[addr(1)], t0, NodeAddr::clone).unwrap();
        let mut dropped = Vec::new();
        assert_eq!(set.redirect(&addr(9), t0, || addr(9), &mut dropped).unwrap(), addr(9));
        assert_eq!(set.redirect_targets(), 1);
        // Still recent: kept.
        let t1 = t0 + REDIRECT_MEMORY / 2;
        assert!(set.install(&[addr(1)], t1, NodeAddr::clone).unwrap().is_empty());
        assert!(set.get(&addr(9)).is_some());
        // Stale: dropped on the next install.
        let t2 = t0 + REDIRECT_MEMORY * 2;
        assert_eq!(ports(set.install(&[addr(1)], t2, NodeAddr::clone).unwrap()), [9]);
        assert_eq!(set.redirect_targets(), 0);
        // A target that joins the topology is no longer a redirect record.
        set.redirect(&addr(8), t2, || addr(8), &mut dropped).unwrap();
        set.install(&[addr(1), addr(8)], t2, NodeAddr::clone).unwrap();
        assert_eq!(set.redirect_targets(), 0);
        assert!(dropped.is_empty());
    }

    #[test]
    fn a_redirect_to_a_topology_node_reuses_its_entry() {
        let now = Instant::now();
        let mut set: NodeSet<(NodeAddr, u32)> = NodeSet::new(3);
        set.install(&[addr(1)], now, |a| (a.clone(), 0)).unwrap();
        let mut dropped = Vec::new();
        let entry = set.redirect(&addr(1), now, || (addr(1), 1), &mut dropped).unwrap();
        assert_eq!(entry.1, 0, "not made again");
        assert_eq!(set.redirect_targets(), 0);
    }

    #[test]
    fn redirect_targets_are_bounded() {
        let now = Instant::now();
        let mut set: NodeSet<NodeAddr> = NodeSet::new(1000);
        set.install(&[addr(1)], now, NodeAddr::clone).unwrap();
        let mut dropped = Vec::new();
        for port in 0..MAX_REDIRECT_TARGETS as u16 {
            set.redirect(&addr(1000 + port), now, || addr(1000 + port), &mut dropped).unwrap();
        }
        let err = set.redirect(&addr(5000), now, || addr(5000), &mut dropped).unwrap_err();
        assert!(matches!(err, Error::TooManyNodes { limit: MAX_REDIRECT_TARGETS }));
        assert_eq!(set.len(), 1 + MAX_REDIRECT_TARGETS);
        // A known target is still served.
        assert!(set.redirect(&addr(1000), now, || addr(1000), &mut dropped).is_ok());
        // Once the old ones are stale, a new one gets room; the stale are handed back.
        let later = now + REDIRECT_MEMORY;
        assert!(set.redirect(&addr(5000), later, || addr(5000), &mut dropped).is_ok());
        assert_eq!(dropped.len(), MAX_REDIRECT_TARGETS);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn max_nodes_bounds_every_entry() {
        let now = Instant::now();
        let mut set: NodeSet<NodeAddr> = NodeSet::new(3);
        set.install(&[addr(1), addr(2)], now, NodeAddr::clone).unwrap();
        let mut dropped = Vec::new();
        set.redirect(&addr(3), now, || addr(3), &mut dropped).unwrap();
        let err = set.redirect(&addr(4), now, || addr(4), &mut dropped).unwrap_err();
        assert!(matches!(err, Error::TooManyNodes { limit: 3 }));
        assert_eq!(set.len(), 3);
        // A bigger topology pushes the redirect target out.
        let out = set.install(&[addr(1), addr(2), addr(5)], now, NodeAddr::clone).unwrap();
        assert_eq!(ports(out), [3]);
        assert_eq!((set.len(), set.redirect_targets()), (3, 0));
    }
}
