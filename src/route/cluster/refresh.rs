//! The cluster router's topology refresh: the background task (coalesced,
//! spaced, periodic), asking up to three nodes and installing the consensus,
//! and installing a map (opening the entries it names, closing those that
//! left). Not here: sending (the parent module), the node entries
//! (`registry`), the pure map and its parsers (`route::topology`).

use super::registry::close_nodes;
use super::*;

impl Inner {
    /// Installs a new map: connections for every node it names (reusing the
    /// existing ones), and closes the connections of nodes that left and
    /// were not redirected to lately.
    ///
    /// # Errors
    /// [`Error::TooManyNodes`] when the map names more than `max_nodes`
    /// nodes; the current map stays.
    pub(super) fn install(&self, mut map: SlotMap) -> Result<(), Error> {
        let previous = self.routing.load_full();
        map.set_version(previous.map.version().max(map.version()).saturating_add(1));
        let addrs: Vec<NodeAddr> = map.nodes().into_iter().cloned().collect();
        let (dropped, primaries, replicas) = {
            let mut nodes = self.lock_nodes();
            let dropped = nodes.install(&addrs, Instant::now(), |a| self.make_node(a))?;
            let entry = |addr: &NodeAddr| nodes.get(addr).cloned().unwrap_or_else(|| self.make_node(addr));
            let mut primaries = Vec::with_capacity(map.shards().len());
            let mut replicas = Vec::with_capacity(map.shards().len());
            for shard in map.shards() {
                primaries.push(entry(&shard.primary.addr));
                let readable: Vec<NodeConn> = shard
                    .replicas
                    .iter()
                    .filter(|r| r.health == Health::Online)
                    .filter(|r| shard.lag_of(r).is_within(self.opts.max_replica_lag))
                    .map(|r| entry(&r.addr))
                    .collect();
                replicas.push(readable);
            }
            (dropped, primaries, replicas)
        };
        close_nodes(dropped);
        let changed: Option<Vec<bool>> = self.cache.as_ref().map(|_| {
            (0..crate::route::SLOTS)
                .map(|s| previous.map.primary_for_slot(s) != map.primary_for_slot(s))
                .collect()
        });
        self.routing.store(Arc::new(Routing { map, primaries, replicas }));
        // After the swap: reads from now on use the new owners.
        if let (Some(cache), Some(changed)) = (&self.cache, changed) {
            cache.drop_slots(&changed);
        }
        // Push links follow the primaries (a no-op without subscriptions).
        self.push.links.sync(&self.push.hub, self.primary_targets());
        Ok(())
    }

    /// True when some replica of the current map is loading or of unknown health.
    pub(super) fn has_settling_replicas(&self) -> bool {
        let routing = self.routing.load_full();
        routing
            .map
            .shards()
            .iter()
            .flat_map(|s| s.replicas.iter())
            .any(|r| matches!(r.health, Health::Loading | Health::Unknown))
    }

    /// Asks up to three nodes for the topology and installs the consensus;
    /// says what changed.
    pub(super) async fn refresh(&self) -> Result<crate::observe::TopologyChange, Error> {
        let routing = self.routing.load_full();
        let mut candidates: Vec<ConnectOptions> = Vec::new();
        let mut addrs: Vec<NodeAddr> = routing.map.nodes().into_iter().cloned().collect();
        rand::seq::SliceRandom::shuffle(addrs.as_mut_slice(), &mut rand::rng());
        // Primaries first would bias towards nodes that may be dead; a shuffle spreads the asks.
        for addr in addrs.iter().take(3) {
            candidates.push(self.node_options(addr));
        }
        for seed in &self.opts.seeds {
            if candidates.len() >= 3 {
                break;
            }
            if !candidates.iter().any(|c| c.address == seed.address) {
                candidates.push(seed.clone());
            }
        }
        let mut set = tokio::task::JoinSet::new();
        for c in candidates {
            set.spawn(async move { fetch_topology(&c).await });
        }
        let mut views = Vec::new();
        let mut last_err = None;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(map)) => views.push(map),
                Ok(Err(e)) => last_err = Some(e),
                Err(e) => last_err = Some(Error::Other(e.to_string())),
            }
        }
        match SlotMap::pick_consensus(views) {
            Some(map) => {
                if !map.same_routing(&routing.map) || map.shards() != routing.map.shards() {
                    let change = crate::observe::topology_change(&routing.map, &map);
                    self.install(map)?;
                    return Ok(change);
                }
                Ok(crate::observe::TopologyChange::default())
            }
            None => {
                Err(last_err.unwrap_or_else(|| Error::Other("no node answered the topology query".into())))
            }
        }
    }
}

/// How soon a map with loading replicas is refreshed again.
pub(super) const SETTLING_RECHECK: Duration = Duration::from_secs(1);

/// Runs refreshes when asked (coalesced, spaced) and periodically; ends
/// when the client is dropped (its `Drop` wakes this task).
pub(super) async fn refresh_task(inner: Weak<Inner>, wanted: Arc<Notify>) {
    let (interval, gap) = match inner.upgrade() {
        Some(i) => (i.opts.refresh_interval, i.opts.min_refresh_gap),
        None => return,
    };
    let mut last = Instant::now();
    loop {
        // Replicas still loading (or of unknown health, right after a
        // failover or at start-up) are looked at again soon, so reads reach
        // them once they are ready; otherwise the periodic interval applies.
        let settling = inner.upgrade().is_some_and(|i| i.has_settling_replicas());
        let wait = if settling { interval.min(SETTLING_RECHECK) } else { interval };
        let asked = tokio::time::timeout(wait, wanted.notified()).await.is_ok();
        let why = match (asked, settling) {
            (true, _) => "requested",
            (false, true) => "settling",
            (false, false) => "periodic",
        };
        if inner.upgrade().is_none_or(|i| i.closed.load(Ordering::Acquire)) {
            return;
        }
        let since = last.elapsed();
        if since < gap {
            tokio::time::sleep(gap - since).await;
        }
        let Some(i) = inner.upgrade() else { return };
        if i.closed.load(Ordering::Acquire) {
            return;
        }
        i.refresh_pending.store(false, Ordering::Release);
        let started = crate::observe::now();
        let result = i.refresh().await;
        crate::observe::refreshed(why, started, &result);
        i.refreshes.fetch_add(1, Ordering::Relaxed);
        drop(i);
        last = Instant::now();
    }
}
