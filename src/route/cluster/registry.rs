//! The cluster router's node registry: which node entries exist (those of
//! the current topology and recent redirect targets, bounded by
//! `max_nodes`), how each is opened (the template's credentials, TLS server
//! name and READONLY), and the primaries' options for push links. Not here:
//! sending (the parent module), refreshes (`refresh`).

use super::*;

impl Inner {
    pub(super) fn request_refresh(&self) {
        if !self.refresh_pending.swap(true, Ordering::AcqRel) {
            self.refresh_wanted.notify_one();
        }
    }

    pub(super) fn node_options(&self, addr: &NodeAddr) -> ConnectOptions {
        let mut o = node_options(&self.template, addr);
        o.readonly = self.opts.read_from_replicas;
        o
    }

    pub(super) fn lock_nodes(&self) -> std::sync::MutexGuard<'_, NodeSet<NodeConn>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A node entry: connections opened on first use, with the template's
    /// credentials. Only [`NodeSet`] calls this, for a node of the topology
    /// or a redirect's target.
    pub(super) fn make_node(&self, addr: &NodeAddr) -> NodeConn {
        let opts = self.node_options(addr);
        let hub = &self.push.hub;
        let (mut sink, mut hook) = (hub.sink(addr.clone()), hub.on_connect(addr.clone()));
        let mut source = None;
        if let Some(cache) = &self.cache {
            let (s, h, src) = cache.attach(&opts, sink, hook);
            (sink, hook, source) = (s, h, Some(src));
        }
        let conn = Reconnecting::with_counters(opts.clone(), Some(sink), Some(hook), self.counters.clone());
        let tracking = self.push.tracking.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(c) = tracking {
            // Not connected yet: the first connect runs it.
            conn.register_setup(c);
        }
        NodeConn { addr: addr.clone(), conn, pool: Pool::new(opts, self.opts.pool.clone()), source }
    }

    /// The primaries of the current map with the options to reach them.
    pub(super) fn primary_targets(&self) -> Vec<(NodeAddr, ConnectOptions)> {
        let routing = self.routing.load_full();
        let mut out: Vec<(NodeAddr, ConnectOptions)> = Vec::new();
        for p in &routing.primaries {
            if !out.iter().any(|(a, _)| *a == p.addr) {
                let mut o = self.node_options(&p.addr);
                o.readonly = false;
                out.push((p.addr.clone(), o));
            }
        }
        out
    }

    /// The entry of a MOVED or ASK target (see [`NodeSet::redirect`]).
    pub(super) fn redirect_target(&self, addr: &NodeAddr) -> Result<NodeConn, Error> {
        let mut dropped = Vec::new();
        let result = self.lock_nodes().redirect(addr, Instant::now(), || self.make_node(addr), &mut dropped);
        close_nodes(dropped);
        result
    }
}

/// Closes the connections of node entries the [`NodeSet`] let go.
pub(super) fn close_nodes(dropped: Vec<NodeConn>) {
    for n in dropped {
        n.conn.reset();
        n.pool.clear();
    }
}
