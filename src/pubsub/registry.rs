//! The subscription set and its recovery: a state machine with no IO.
//!
//! Lives here: [`Registry`], which knows what the application wants to be
//! subscribed to (the entries), what each connection ("link") has confirmed,
//! and decides what to do next as [`Action`]s: connect a link, send an
//! (un)subscribe, refresh the cluster topology, emit an [`Event`], complete a
//! caller. The subscriber task (`subscriber`) performs the actions and feeds
//! the outcomes back in. Time and randomness are inputs, so every recovery
//! path is a deterministic unit test. Not here: sockets, tasks, parsing.
//!
//! # Links
//! Classic channels and patterns live on the `Main` link (in a cluster, a
//! connection to any node: classic messages reach every node). Sharded
//! channels live on the link of the primary owning their slot (standalone:
//! `Main` too). Ops carry names of one kind and, for sharded channels, one
//! slot (the server refuses cross-slot `SSUBSCRIBE`), one op in flight per link.
//!
//! # Recovery and gaps
//! A subscription the server confirmed is *active*. When it stops being
//! active for a reason other than the application's unsubscribe (connection
//! lost, server restart, `CLIENT KILL`, the server's own `sunsubscribe` when
//! a slot moves, a topology change moving it to another node), it is marked
//! interrupted and [`Event::Interrupted`] is emitted; once it is confirmed
//! again, [`Event::Resubscribed`] is. Those are exactly the cases in which a
//! message may have been missed; nothing else emits them. Reconnects back off
//! with [`crate::backoff::backoff`] (capped, jittered); the first retry after
//! a loss waits the minimum.
//!
//! # Callers
//! A subscribe call completes when every name is active, or fails at the
//! first failure affecting a name never confirmed before (connect error, lost
//! connection with the command in flight, refusal, too many redirects): such a
//! name is dropped, not retried in the background. Names confirmed once are
//! kept and restored for ever, until unsubscribed. An unsubscribe call
//! completes when no connection holds the names any more.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::message::{Event, Kind, Subscription};
use crate::error::{Error, NodeAddr};
use crate::route::{key_slot, SlotMap};

/// Identifies a caller waiting for an outcome.
pub type CallId = u64;

/// Where a subscription lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LinkId {
    /// Classic channels and patterns; everything on a standalone server.
    Main,
    /// Sharded channels whose slot this primary owns.
    Node(NodeAddr),
}

/// What the IO side must do next.
#[derive(Debug)]
#[allow(missing_docs)] // the variants' docs name their fields; reachable only through `__unstable`
pub enum Action {
    /// Open a connection for `link` (`Main`: to any node); report it with
    /// [`Registry::connected`] and generation `gen`.
    Connect { link: LinkId, gen: u64 },
    /// Send `(UN)SUBSCRIBE names...` on the connection `gen` of `link`;
    /// report with [`Registry::op_done`].
    Send { link: LinkId, gen: u64, op: u64, subscribe: bool, kind: Kind, names: Vec<Bytes> },
    /// Close the connection `gen` of `link`, if it is still open.
    Close { link: LinkId, gen: u64 },
    /// Ask the cluster for its slot map; report with [`Registry::topology`].
    RefreshTopology,
    /// Give this event to the application.
    Emit(Event),
    /// Complete a caller.
    Complete { call: CallId, result: Result<(), Error> },
}

/// Timing and mode.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Sharded channels go to their slot's owner (cluster) or to `Main`.
    pub cluster: bool,
    /// Backoff floor, for reconnects, transient errors and topology refreshes.
    pub min_backoff: Duration,
    /// Backoff cap.
    pub max_backoff: Duration,
    /// Refresh the topology this often even when nothing failed (cluster).
    pub refresh_interval: Option<Duration>,
    /// Attempts (redirects, transient errors) for a name never confirmed.
    pub max_attempts: u32,
}

/// Most names in one (un)subscribe command.
const MAX_NAMES_PER_OP: usize = 1024;

#[derive(Debug)]
struct Entry {
    /// `None`: the owner of its slot is not known yet (cluster).
    link: Option<LinkId>,
    /// Confirmed at least once: restored for ever from now on.
    established: bool,
    /// Was active, lost; [`Event::Resubscribed`] is due when confirmed again.
    interrupted: bool,
    /// Redirects and transient errors since the last confirmation.
    attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Down { retry_at: Instant },
    Connecting { gen: u64 },
    Up { gen: u64 },
}

#[derive(Debug)]
struct Op {
    id: u64,
    subscribe: bool,
    subs: Vec<Subscription>,
}

#[derive(Debug)]
struct Link {
    conn: Conn,
    /// Consecutive failures (connect errors, losses, transient errors).
    failures: u32,
    /// Held by the server on the current connection.
    confirmed: BTreeSet<Subscription>,
    op: Option<Op>,
    /// No op before this (after a transient error).
    op_retry_at: Option<Instant>,
}

impl Link {
    fn new(now: Instant) -> Link {
        Link {
            conn: Conn::Down { retry_at: now },
            failures: 0,
            confirmed: BTreeSet::new(),
            op: None,
            op_retry_at: None,
        }
    }

    /// True while an unsubscribe of `sub` is in flight on this link.
    fn is_unsubscribing(&self, sub: &Subscription) -> bool {
        self.op.as_ref().is_some_and(|o| !o.subscribe && o.subs.contains(sub))
    }

    fn up_gen(&self) -> Option<u64> {
        match self.conn {
            Conn::Up { gen } => Some(gen),
            _ => None,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum CallKind {
    /// Completes when the main link is up (and, in a cluster, the slot map known).
    Open,
    Subscribe,
    Unsubscribe,
}

#[derive(Debug)]
struct Call {
    kind: CallKind,
    subs: Vec<Subscription>,
    error: Option<Error>,
}

#[derive(Debug, Default)]
struct Refresh {
    wanted: bool,
    in_flight: bool,
    not_before: Option<Instant>,
    failures: u32,
    next_periodic: Option<Instant>,
    /// A refresh has completed (either way) since the registry was opened.
    answered: bool,
}

/// The subscription set, the links and the callers; see the module doc.
#[derive(Debug)]
pub struct Registry {
    settings: Settings,
    entries: BTreeMap<Subscription, Entry>,
    links: BTreeMap<LinkId, Link>,
    slots: Option<SlotMap>,
    calls: BTreeMap<CallId, Call>,
    next_id: u64,
    actions: Vec<Action>,
    refresh: Refresh,
    rng: u64,
}

impl Registry {
    /// An empty registry; `seed` drives the backoff jitter.
    pub fn new(settings: Settings, seed: u64) -> Registry {
        Registry {
            settings,
            entries: BTreeMap::new(),
            links: BTreeMap::new(),
            slots: None,
            calls: BTreeMap::new(),
            next_id: 1,
            actions: Vec::new(),
            refresh: Refresh::default(),
            // xorshift needs a non-zero state.
            rng: seed | 1,
        }
    }

    /// The actions decided so far, in order.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// The subscriptions the application holds (active or being restored).
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.entries.keys().cloned().collect()
    }

    /// Active subscriptions: confirmed by the server on the current connection.
    pub fn active(&self) -> Vec<Subscription> {
        self.entries.keys().filter(|s| self.is_active(s)).cloned().collect()
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn backoff(&mut self, failures: u32) -> Duration {
        let random = self.random();
        crate::backoff::backoff(
            failures.saturating_sub(1),
            self.settings.min_backoff,
            self.settings.max_backoff,
            random,
        )
    }

    fn link_mut(&mut self, id: &LinkId, now: Instant) -> &mut Link {
        self.links.entry(id.clone()).or_insert_with(|| Link::new(now))
    }

    /// Where `sub` belongs now; `None` when its slot's owner is unknown.
    fn route(&self, sub: &Subscription) -> Option<LinkId> {
        if !self.settings.cluster || sub.kind != Kind::Sharded {
            return Some(LinkId::Main);
        }
        let slot = key_slot(&sub.name);
        self.slots.as_ref()?.primary_for_slot(slot).map(|addr| LinkId::Node(addr.clone()))
    }

    /// Confirmed on the live connection of its link, and not being
    /// unsubscribed there (an unsubscribe sent while the name was elsewhere
    /// or not wanted, still in flight: the server is about to drop it).
    fn is_active(&self, sub: &Subscription) -> bool {
        let Some(Some(link)) = self.entries.get(sub).map(|e| &e.link) else { return false };
        self.links
            .get(link)
            .is_some_and(|l| l.up_gen().is_some() && l.confirmed.contains(sub) && !l.is_unsubscribing(sub))
    }

    // ----- inputs from the application -----

    /// Opens the main link eagerly (and, in a cluster, learns the slot map).
    pub fn open(&mut self, now: Instant) -> CallId {
        let call = self.id();
        self.calls.insert(call, Call { kind: CallKind::Open, subs: Vec::new(), error: None });
        self.link_mut(&LinkId::Main, now);
        if self.settings.cluster {
            self.refresh.wanted = true;
        }
        self.pump(now);
        call
    }

    /// Adds subscriptions; the call completes when all are active.
    pub fn subscribe(&mut self, kind: Kind, names: Vec<Bytes>, now: Instant) -> CallId {
        let call = self.id();
        let subs = dedup(kind, names);
        for sub in &subs {
            if self.entries.contains_key(sub) {
                continue;
            }
            let link = self.route(sub);
            match &link {
                Some(l) => {
                    self.link_mut(l, now);
                }
                None => self.refresh.wanted = true,
            }
            self.entries
                .insert(sub.clone(), Entry { link, established: false, interrupted: false, attempts: 0 });
        }
        self.calls.insert(call, Call { kind: CallKind::Subscribe, subs, error: None });
        self.pump(now);
        call
    }

    /// Removes subscriptions; the call completes when no connection holds them.
    pub fn unsubscribe(&mut self, kind: Kind, names: Vec<Bytes>, now: Instant) -> CallId {
        let call = self.id();
        let subs = dedup(kind, names);
        for sub in &subs {
            if self.entries.remove(sub).is_some() {
                self.fail_callers(sub, || Error::Other("unsubscribed before the server confirmed".into()));
            }
        }
        self.calls.insert(call, Call { kind: CallKind::Unsubscribe, subs, error: None });
        self.pump(now);
        call
    }

    /// Drops every caller and subscription (the subscriber is closing).
    pub fn close(&mut self) {
        let calls = std::mem::take(&mut self.calls);
        for (call, _) in calls {
            self.actions.push(Action::Complete { call, result: Err(Error::Closed) });
        }
        self.entries.clear();
        for (link, state) in std::mem::take(&mut self.links) {
            if let Conn::Up { gen } | Conn::Connecting { gen } = state.conn {
                self.actions.push(Action::Close { link, gen });
            }
        }
    }

    // ----- bookkeeping -----

    fn fail_callers(&mut self, sub: &Subscription, error: impl Fn() -> Error) {
        for call in self.calls.values_mut() {
            if call.kind == CallKind::Subscribe && call.error.is_none() && call.subs.contains(sub) {
                call.error = Some(error());
            }
        }
    }

    fn fail_calls(&mut self, which: impl Fn(&Call) -> bool, cause: &Error) {
        for call in self.calls.values_mut() {
            if call.error.is_none() && which(call) {
                call.error = Some(cause.clone());
            }
        }
    }

    /// Completes the callers whose outcome is known.
    fn settle(&mut self, _now: Instant) {
        let mut finished = Vec::new();
        for (id, call) in &self.calls {
            let outcome = match (&call.error, &call.kind) {
                (Some(e), _) => Some(Err(e.clone())),
                (None, CallKind::Open) => {
                    let main_up = self.links.get(&LinkId::Main).is_some_and(|l| l.up_gen().is_some());
                    (main_up && (!self.settings.cluster || self.refresh.answered)).then_some(Ok(()))
                }
                (None, CallKind::Subscribe) => {
                    if call.subs.iter().any(|s| !self.entries.contains_key(s)) {
                        Some(Err(Error::Other("the subscription was dropped".into())))
                    } else {
                        call.subs.iter().all(|s| self.is_active(s)).then_some(Ok(()))
                    }
                }
                (None, CallKind::Unsubscribe) => {
                    call.subs.iter().all(|s| self.entries.contains_key(s) || !self.held(s)).then_some(Ok(()))
                }
            };
            if let Some(result) = outcome {
                finished.push((*id, result));
            }
        }
        for (call, result) in finished {
            self.calls.remove(&call);
            self.actions.push(Action::Complete { call, result });
        }
    }

    /// True while some connection holds `sub` or is subscribing to it.
    fn held(&self, sub: &Subscription) -> bool {
        self.links.values().any(|l| {
            l.confirmed.contains(sub) || l.op.as_ref().is_some_and(|o| o.subscribe && o.subs.contains(sub))
        })
    }
}

fn dedup(kind: Kind, names: Vec<Bytes>) -> Vec<Subscription> {
    let set: BTreeSet<Bytes> = names.into_iter().collect();
    set.into_iter().map(|name| Subscription { kind, name }).collect()
}

mod outcome;
mod plan;

#[cfg(test)]
mod tests;
