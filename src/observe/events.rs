//! The rare events, one function each: a reconnect, a redirect, a retry, a
//! refresh, a pool timeout, a pub/sub gap, an undecodable coordination
//! message. Each bumps the always-on [`Counters`] where [`super::Stats`]
//! has a field for it, and emits its `tracing` event and `metrics` counter
//! when those features are on; with them off only the counter remains.
//!
//! Arguments are references to what the caller has at hand; anything
//! costly (formatting a node, diffing two slot maps) happens in here, and
//! only when a feature needs it. Not here: the per-command probe (`command`).

use std::sync::Arc;
use std::time::Duration;

use super::stats::{bump, Counters};
use crate::conn::ConnectOptions;
#[cfg(feature = "metrics")]
use crate::error::ServerErrorKind;
use crate::error::{Error, PoolTimeout};
use crate::route::redirect::RetryAction;
use crate::route::topology::SlotMap;

/// A moment, kept only when an event will report a duration (`tracing`).
#[derive(Clone, Copy)]
pub(crate) struct Stamp {
    #[cfg(feature = "tracing")]
    at: std::time::Instant,
}

/// Now, when some event will want to know how long something took.
#[inline]
pub(crate) fn now() -> Stamp {
    Stamp {
        #[cfg(feature = "tracing")]
        at: std::time::Instant::now(),
    }
}

#[cfg(feature = "tracing")]
fn ms_since(s: Stamp) -> u64 {
    s.at.elapsed().as_millis() as u64
}

/// A node's name for events kept by a task (`redis://host:port`, never
/// credentials); empty unless `tracing` is on.
pub(crate) struct NodeLabel {
    #[cfg(feature = "tracing")]
    text: String,
}

/// The label of the node `opts` connects to.
#[inline]
pub(crate) fn node_label(opts: &ConnectOptions) -> NodeLabel {
    let _ = opts;
    NodeLabel {
        #[cfg(feature = "tracing")]
        text: opts.describe(),
    }
}

// ---- one connection -------------------------------------------------------

/// A connect and handshake finished (any connection: shared, pooled, pub/sub).
#[inline]
pub(crate) fn connect_result<T>(opts: &ConnectOptions, started: Stamp, result: &Result<T, Error>) {
    let _ = (opts, started, result);
    #[cfg(feature = "tracing")]
    match result {
        Ok(_) => tracing::debug!(
            target: "redwire::conn",
            node = %opts.describe(),
            duration_ms = ms_since(started),
            "connected"
        ),
        Err(e) => tracing::info!(
            target: "redwire::conn",
            node = %opts.describe(),
            duration_ms = ms_since(started),
            error_kind = e.kind_name(),
            cause = %e,
            "connect failed"
        ),
    }
}

/// A self-healing handle opened connection number `generation` (0-based);
/// the ones after the first are reconnects, `cause` is why the last one closed.
#[inline]
pub(crate) fn reconnected(
    opts: &ConnectOptions,
    counters: &Counters,
    generation: u64,
    cause: Option<Arc<Error>>,
) {
    let _ = (opts, &cause);
    if generation == 0 {
        return;
    }
    bump(&counters.reconnects);
    #[cfg(feature = "metrics")]
    metrics::counter!("redwire_reconnects_total").increment(1);
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "redwire::conn",
        node = %opts.describe(),
        generation,
        error_kind = cause.as_deref().map_or("none", Error::kind_name),
        cause = %cause.as_deref().map_or_else(|| "unknown".to_string(), ToString::to_string),
        "reconnected"
    );
}

/// A self-healing handle's connect attempt failed; the next waits `backoff`.
#[inline]
pub(crate) fn reconnect_failed(
    opts: &ConnectOptions,
    counters: &Counters,
    e: &Error,
    failures: u32,
    backoff: Duration,
) {
    let _ = (opts, e, failures, backoff);
    bump(&counters.connect_failures);
    #[cfg(feature = "metrics")]
    metrics::counter!("redwire_connect_failures_total").increment(1);
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "redwire::conn",
        node = %opts.describe(),
        error_kind = e.kind_name(),
        cause = %e,
        failures,
        backoff_ms = backoff.as_millis() as u64,
        "reconnect failed"
    );
}

/// A command is sent again on a new connection after `e` (attempt 1 = first resend).
#[inline]
pub(crate) fn resend(opts: &ConnectOptions, counters: &Counters, e: &Error, attempt: u32) {
    let _ = (opts, e, attempt);
    bump(&counters.resends);
    #[cfg(feature = "metrics")]
    metrics::counter!("redwire_resends_total").increment(1);
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "redwire::conn",
        node = %opts.describe(),
        error_kind = e.kind_name(),
        cause = %e,
        attempt,
        "resend"
    );
}

/// The response watchdog closed a connection that stopped making progress.
#[inline]
pub(crate) fn watchdog_closed(node: &NodeLabel, timeout: Duration) {
    let _ = (node, timeout);
    #[cfg(feature = "metrics")]
    metrics::counter!("redwire_watchdog_closes_total").increment(1);
    #[cfg(feature = "tracing")]
    tracing::warn!(
        target: "redwire::conn",
        node = %node.text,
        timeout_ms = timeout.as_millis() as u64,
        "watchdog closed the connection"
    );
}

/// A pipeline of `n` commands finished with `result` (metrics: each command counted).
#[inline]
pub(crate) fn pipeline_done(n: usize, result: &Result<Vec<crate::resp::Frame>, Error>) {
    let _ = (n, result);
    #[cfg(feature = "metrics")]
    {
        let frames = |frames: &[crate::resp::Frame]| {
            for f in frames {
                match f {
                    crate::resp::Frame::SimpleError(e) | crate::resp::Frame::BlobError(e) => {
                        count_outcome("server_error", Some(server_kind_label(e.kind())), 1)
                    }
                    _ => count_outcome("ok", None, 1),
                }
            }
        };
        match result {
            Ok(replies) => frames(replies),
            Err(Error::PipelineIncomplete { replies, unknown, not_sent, .. }) => {
                frames(replies);
                count_outcome("outcome_unknown", None, u64::from(*unknown));
                count_outcome("not_sent", None, u64::from(*not_sent));
            }
            Err(e) => count_outcome(super::command::error_outcome(e), None, n as u64),
        }
    }
}

/// Adds `n` to `redwire_commands_total{outcome, kind}`.
#[cfg(feature = "metrics")]
pub(super) fn count_outcome(outcome: &'static str, kind: Option<&'static str>, n: u64) {
    if n == 0 {
        return;
    }
    match kind {
        Some(kind) => {
            metrics::counter!("redwire_commands_total", "outcome" => outcome, "kind" => kind).increment(n)
        }
        None => metrics::counter!("redwire_commands_total", "outcome" => outcome).increment(n),
    }
}

/// The `kind` label of a server error: its code for the known kinds.
#[cfg(feature = "metrics")]
pub(super) fn server_kind_label(kind: &ServerErrorKind) -> &'static str {
    match kind {
        ServerErrorKind::Generic => "ERR",
        ServerErrorKind::WrongType => "WRONGTYPE",
        ServerErrorKind::Moved { .. } => "MOVED",
        ServerErrorKind::Ask { .. } => "ASK",
        ServerErrorKind::TryAgain => "TRYAGAIN",
        ServerErrorKind::ClusterDown => "CLUSTERDOWN",
        ServerErrorKind::Loading => "LOADING",
        ServerErrorKind::MasterDown => "MASTERDOWN",
        ServerErrorKind::ReadOnly => "READONLY",
        ServerErrorKind::CrossSlot => "CROSSSLOT",
        ServerErrorKind::NoAuth => "NOAUTH",
        ServerErrorKind::WrongPass => "WRONGPASS",
        ServerErrorKind::NoPerm => "NOPERM",
        ServerErrorKind::NoScript => "NOSCRIPT",
        ServerErrorKind::Busy => "BUSY",
        ServerErrorKind::Oom => "OOM",
        ServerErrorKind::ExecAbort => "EXECABORT",
        ServerErrorKind::NoProto => "NOPROTO",
        ServerErrorKind::Other => "OTHER",
    }
}

// ---- pools ------------------------------------------------------------------

/// A pool checkout timed out (`Wait`: every connection was in use).
#[inline]
pub(crate) fn pool_timeout(opts: &ConnectOptions, kind: PoolTimeout, limit: Option<Duration>) {
    let _ = (opts, kind, limit);
    #[cfg(feature = "metrics")]
    if kind == PoolTimeout::Wait {
        metrics::counter!("redwire_pool_timeouts_total").increment(1);
    }
    #[cfg(feature = "tracing")]
    if kind == PoolTimeout::Wait {
        tracing::warn!(
            target: "redwire::pool",
            node = %opts.describe(),
            wait_ms = limit.map_or(0, |d| d.as_millis() as u64),
            "pool exhausted"
        );
    } else {
        tracing::info!(
            target: "redwire::pool",
            node = %opts.describe(),
            phase = ?kind,
            wait_ms = limit.map_or(0, |d| d.as_millis() as u64),
            "pool timeout"
        );
    }
}

/// Held by a checked-out pooled connection: counted in `redwire_pool_in_use`
/// while it lives. Zero-sized without `metrics`.
pub(crate) struct PoolInUse {
    _private: (),
}

impl PoolInUse {
    /// Counts one more connection in use.
    #[inline]
    pub(crate) fn new() -> PoolInUse {
        #[cfg(feature = "metrics")]
        metrics::gauge!("redwire_pool_in_use").increment(1.0);
        PoolInUse { _private: () }
    }
}

#[cfg(feature = "metrics")]
impl Drop for PoolInUse {
    fn drop(&mut self) {
        metrics::gauge!("redwire_pool_in_use").decrement(1.0);
    }
}

// ---- cluster ------------------------------------------------------------------

/// The cluster router decided `action` after `err` on `slot`'s attempt
/// number `attempt` (0 = first); `out_of_time` when the deadline passed.
#[inline]
pub(crate) fn retry(
    counters: &Counters,
    action: &RetryAction,
    err: &Error,
    slot: u16,
    attempt: u32,
    out_of_time: bool,
) {
    let _ = (err, slot, attempt);
    if out_of_time && !matches!(action, RetryAction::Return) {
        #[cfg(feature = "tracing")]
        tracing::debug!(
            target: "redwire::cluster",
            slot,
            attempt,
            error_kind = err.kind_name(),
            "retries exhausted (deadline)"
        );
        return;
    }
    match action {
        RetryAction::Moved { node, .. } => {
            let _ = node;
            bump(&counters.redirects_moved);
            #[cfg(feature = "metrics")]
            metrics::counter!("redwire_redirects_total", "kind" => "moved").increment(1);
            #[cfg(feature = "tracing")]
            tracing::debug!(target: "redwire::cluster", slot, target = %node, attempt, "MOVED");
        }
        RetryAction::Ask { node } => {
            let _ = node;
            bump(&counters.redirects_ask);
            #[cfg(feature = "metrics")]
            metrics::counter!("redwire_redirects_total", "kind" => "ask").increment(1);
            #[cfg(feature = "tracing")]
            tracing::debug!(target: "redwire::cluster", slot, target = %node, attempt, "ASK");
        }
        RetryAction::Backoff(wait) | RetryAction::RefreshAndRetry(wait) => {
            let _ = wait;
            bump(&counters.retries);
            let decision = if matches!(action, RetryAction::Backoff(_)) { "backoff" } else { "refresh" };
            let _ = decision;
            #[cfg(feature = "metrics")]
            metrics::counter!("redwire_retries_total", "decision" => decision).increment(1);
            #[cfg(feature = "tracing")]
            tracing::debug!(
                target: "redwire::cluster",
                slot,
                attempt,
                decision,
                error_kind = err.kind_name(),
                wait_ms = wait.as_millis() as u64,
                "retry"
            );
        }
        RetryAction::Exhausted => {
            #[cfg(feature = "tracing")]
            tracing::debug!(
                target: "redwire::cluster",
                slot,
                attempt,
                error_kind = err.kind_name(),
                "retries exhausted"
            );
        }
        RetryAction::Return => {}
    }
}

/// What a topology refresh changed; counted only when `tracing` is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TopologyChange {
    /// A new map was installed.
    pub(crate) changed: bool,
    /// Slots whose primary is another node now.
    pub(crate) slots_moved: u32,
    /// Nodes in the new map only.
    pub(crate) nodes_added: u32,
    /// Nodes in the old map only.
    pub(crate) nodes_removed: u32,
}

/// The change from `old` to `new` (only `changed` without `tracing`).
pub(crate) fn topology_change(old: &SlotMap, new: &SlotMap) -> TopologyChange {
    let _ = (old, new);
    #[cfg(feature = "tracing")]
    {
        let slots = crate::route::SLOTS;
        let slots_moved = (0..slots).filter(|&s| old.primary_for_slot(s) != new.primary_for_slot(s)).count();
        let (o, n) = (old.nodes(), new.nodes());
        TopologyChange {
            changed: true,
            slots_moved: slots_moved as u32,
            nodes_added: n.iter().filter(|a| !o.contains(a)).count() as u32,
            nodes_removed: o.iter().filter(|a| !n.contains(a)).count() as u32,
        }
    }
    #[cfg(not(feature = "tracing"))]
    TopologyChange { changed: true, ..TopologyChange::default() }
}

/// A topology refresh ran: `why` (`requested`, `periodic`, `settling`),
/// started at `started`, with `result`.
#[inline]
pub(crate) fn refreshed(why: &'static str, started: Stamp, result: &Result<TopologyChange, Error>) {
    let _ = (why, started, result);
    #[cfg(feature = "metrics")]
    metrics::counter!("redwire_topology_refreshes_total", "result" => if result.is_ok() { "ok" } else { "failed" })
        .increment(1);
    #[cfg(feature = "tracing")]
    match result {
        Ok(c) => tracing::info!(
            target: "redwire::cluster",
            why,
            duration_ms = ms_since(started),
            changed = c.changed,
            slots_moved = c.slots_moved,
            nodes_added = c.nodes_added,
            nodes_removed = c.nodes_removed,
            "topology refresh"
        ),
        Err(e) => tracing::warn!(
            target: "redwire::cluster",
            why,
            duration_ms = ms_since(started),
            error_kind = e.kind_name(),
            cause = %e,
            "topology refresh failed"
        ),
    }
}

// ---- pub/sub and coordination ---------------------------------------------------

/// The subscriber emits `event` (gaps and their ends; messages are ignored).
#[inline]
pub(crate) fn pubsub_event(event: &crate::pubsub::Event) {
    use crate::pubsub::Event;
    match event {
        Event::Interrupted { subscriptions, cause } => {
            let _ = (subscriptions, cause);
            #[cfg(feature = "metrics")]
            metrics::counter!("redwire_pubsub_gaps_total", "kind" => "interrupted").increment(1);
            #[cfg(feature = "tracing")]
            tracing::info!(
                target: "redwire::pubsub",
                subscriptions = subscriptions.len(),
                error_kind = cause.kind_name(),
                cause = %cause,
                "interrupted"
            );
        }
        Event::Resubscribed { subscriptions } => {
            let _ = subscriptions;
            #[cfg(feature = "tracing")]
            tracing::info!(target: "redwire::pubsub", subscriptions = subscriptions.len(), "resubscribed");
        }
        Event::Refused { subscriptions, error } => {
            let _ = (subscriptions, error);
            #[cfg(feature = "tracing")]
            tracing::warn!(
                target: "redwire::pubsub",
                subscriptions = subscriptions.len(),
                error_kind = error.kind_name(),
                cause = %error,
                "refused"
            );
        }
        Event::Lagged { dropped } => pubsub_lagged(*dropped),
        _ => {}
    }
}

/// A slow consumer lost `dropped` events (reported when it reads the gap).
#[inline]
pub(crate) fn pubsub_lagged(dropped: u64) {
    let _ = dropped;
    #[cfg(feature = "metrics")]
    metrics::counter!("redwire_pubsub_gaps_total", "kind" => "lagged").increment(1);
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "redwire::pubsub", dropped, "lagged");
}

/// A coordination message did not decode (it is dropped and counted).
#[inline]
pub(crate) fn coord_decode_error(e: &dyn std::fmt::Display) {
    let _ = e;
    #[cfg(feature = "metrics")]
    metrics::counter!("redwire_coord_decode_errors_total").increment(1);
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "redwire::coord", cause = %e, "undecodable coordination message");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NodeAddr;
    use crate::route::topology::{Node, Shard};

    fn shard(port: u16, replica: Option<u16>) -> Shard {
        let node = |p: u16| Node::from_addr(NodeAddr::new("127.0.0.1", p));
        Shard { primary: node(port), replicas: replica.into_iter().map(node).collect() }
    }

    #[test]
    fn topology_change_counts_moved_slots_and_nodes() {
        let old = SlotMap::from_ranges(vec![
            (shard(1, Some(11)), vec![(0, 8191)]),
            (shard(2, None), vec![(8192, 16383)]),
        ])
        .expect("old map");
        // Slots 8000..=8191 go to node 2; node 11 leaves, node 3 comes (serving nothing).
        let new = SlotMap::from_ranges(vec![
            (shard(1, None), vec![(0, 7999)]),
            (shard(2, None), vec![(8000, 16383)]),
            (shard(3, None), vec![]),
        ])
        .expect("new map");
        let change = topology_change(&old, &new);
        assert!(change.changed);
        if cfg!(feature = "tracing") {
            assert_eq!(
                change,
                TopologyChange { changed: true, slots_moved: 192, nodes_added: 1, nodes_removed: 1 }
            );
        } else {
            assert_eq!(change, TopologyChange { changed: true, ..TopologyChange::default() });
        }
        assert_eq!(topology_change(&old, &old).slots_moved, 0);
    }

    #[test]
    fn rare_events_bump_only_their_counters() {
        let c = Counters::default();
        let moved = RetryAction::Moved { slot: 7, node: NodeAddr::new("127.0.0.1", 7001) };
        let err = Error::Timeout;
        retry(&c, &moved, &err, 7, 0, false);
        retry(&c, &RetryAction::Ask { node: NodeAddr::new("127.0.0.1", 7002) }, &err, 7, 1, false);
        retry(&c, &RetryAction::Backoff(Duration::from_millis(8)), &err, 7, 2, false);
        retry(&c, &RetryAction::RefreshAndRetry(Duration::from_millis(8)), &err, 7, 3, false);
        // Past the deadline nothing more is done, so nothing is counted.
        retry(&c, &moved, &err, 7, 4, true);
        retry(&c, &RetryAction::Return, &err, 7, 5, false);
        retry(&c, &RetryAction::Exhausted, &err, 7, 6, false);
        let s = c.snapshot();
        assert_eq!((s.redirects_moved, s.redirects_ask, s.retries), (1, 1, 2));
        let opts = ConnectOptions::default();
        reconnected(&opts, &c, 0, None);
        reconnected(&opts, &c, 1, Some(Arc::new(Error::Closed)));
        reconnect_failed(&opts, &c, &err, 1, Duration::from_millis(10));
        resend(&opts, &c, &err, 1);
        let s = c.snapshot();
        assert_eq!((s.reconnects, s.connect_failures, s.resends), (1, 1, 1));
    }
}
