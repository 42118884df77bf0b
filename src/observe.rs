//! What the library tells about itself: always-on [`Stats`], and, behind
//! features, `tracing` events and `metrics` counters, gauges and histograms.
//!
//! Lives here: the plumbing every other module calls in one line
//! (`observe::reconnected(..)`, `observe::retry(..)` ...), so that call sites
//! stay short and each feature is switched in one place. Not here: deciding
//! anything. Nothing in this module changes what the client does; with both
//! features off every function below is empty and inlined away, and the
//! per-command probe is a zero-sized value.
//!
//! # Stats (no feature)
//! [`Stats`] is a snapshot of relaxed counters the clients keep per event
//! (a reconnect, a redirect, a retry, a refresh), never per command:
//! `Client::stats()`, `ClusterClient::stats()`.
//!
//! # `tracing` (feature `tracing`)
//! Events, with structured fields. Targets name the subsystem, so a filter
//! such as `redwire::cluster=debug` picks one:
//!
//! | target | level | event (message) | fields |
//! |---|---|---|---|
//! | `redwire::conn` | debug / info | `connected` / `connect failed` | `node`, `protocol`, `duration_ms` / `error_kind`, `cause` |
//! | `redwire::conn` | info | `reconnected` | `node`, `generation`, `cause` (why the last connection closed) |
//! | `redwire::conn` | info | `reconnect failed` | `node`, `error_kind`, `cause`, `failures`, `backoff_ms` |
//! | `redwire::conn` | debug | `resend` | `node`, `error_kind`, `cause`, `attempt` |
//! | `redwire::conn` | warn | `watchdog closed the connection` | `node`, `timeout_ms` |
//! | `redwire::conn` | trace | `command` | `command`, `outcome`, `duration_us` (only when TRACE is on) |
//! | `redwire::cluster` | debug | `MOVED` / `ASK` | `slot`, `target` |
//! | `redwire::cluster` | debug | `retry` | `slot`, `attempt`, `decision` (`backoff` / `refresh`), `error_kind`, `wait_ms` |
//! | `redwire::cluster` | debug | `retries exhausted` | `slot`, `attempt`, `error_kind` |
//! | `redwire::cluster` | info / warn | `topology refresh` / `topology refresh failed` | `why`, `duration_ms`, `changed`, `slots_moved`, `nodes_added`, `nodes_removed` / `cause` |
//! | `redwire::pool` | warn | `pool exhausted` | `node`, `wait_ms` |
//! | `redwire::pubsub` | info | `interrupted` / `resubscribed` | `subscriptions`, `cause` |
//! | `redwire::pubsub` | warn | `refused` / `lagged` | `subscriptions`, `cause` / `dropped` |
//! | `redwire::coord` | warn | `undecodable coordination message` | `cause` |
//!
//! `node` is `redis://host:port` (or `rediss://`, `unix://path`): never a
//! user name or password. Causes are the errors' `Display`, which never
//! quotes a password either.
//!
//! # `metrics` (feature `metrics`)
//! Through the `metrics` facade: install any recorder (Prometheus exporter
//! ...) before creating clients; handles are resolved once per thread and
//! command name and kept while the recorder stays the same.
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `redwire_commands_total` | counter | `outcome` = `ok`, `server_error` (+ `kind` = `WRONGTYPE`, `ERR` ...), `not_sent`, `outcome_unknown`, `timeout`, `error` | one per command sent on a connection: a command resent after `NotSent` counts once per attempt; a pipeline counts each of its commands (a transaction: `MULTI`, each queued command, `EXEC`) |
//! | `redwire_command_duration_seconds` | histogram | `command` (upper-cased name; `OTHER` past 256 names) | from queueing to the reply, single commands |
//! | `redwire_in_flight` | gauge | | commands written and waiting for a reply, all connections (updated once per write and per batch of replies) |
//! | `redwire_redirects_total` | counter | `kind` = `moved`, `ask` | redirects followed |
//! | `redwire_retries_total` | counter | `decision` = `backoff`, `refresh` | cluster retries after transient errors |
//! | `redwire_resends_total` | counter | | commands sent again on a new connection |
//! | `redwire_topology_refreshes_total` | counter | `result` = `ok`, `failed` | topology refreshes run |
//! | `redwire_reconnects_total` | counter | | connections opened again after one broke |
//! | `redwire_connect_failures_total` | counter | | failed (re)connects of a self-healing handle |
//! | `redwire_watchdog_closes_total` | counter | | connections closed by the response watchdog |
//! | `redwire_pool_in_use` | gauge | | pooled connections checked out |
//! | `redwire_pool_timeouts_total` | counter | | checkouts that waited past `poolTimeoutWait` |
//! | `redwire_pubsub_gaps_total` | counter | `kind` = `interrupted`, `lagged` | possible message losses reported |
//! | `redwire_coord_decode_errors_total` | counter | | coordination messages that did not decode |

mod command;
mod events;
#[cfg(feature = "metrics")]
mod handles;
mod stats;

pub(crate) use command::CommandProbe;

/// `n` commands were written (positive) or answered or failed (negative):
/// `redwire_in_flight` moves by `n`. The connection driver calls it once per
/// write and once per batch of replies, not per command. Nothing without
/// the `metrics` feature.
#[inline]
pub(crate) fn in_flight(n: i64) {
    #[cfg(feature = "metrics")]
    if n != 0 {
        handles::in_flight(n as f64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}
pub(crate) use events::*;
pub(crate) use stats::Counters;
pub use stats::Stats;
