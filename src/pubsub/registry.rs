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
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::message::{Event, Kind, Subscription};
use crate::error::{Error, NodeAddr, ServerErrorKind};
use crate::route::{key_slot, SlotMap};

/// Identifies a caller waiting for an outcome.
pub(crate) type CallId = u64;

/// Where a subscription lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum LinkId {
    /// Classic channels and patterns; everything on a standalone server.
    Main,
    /// Sharded channels whose slot this primary owns.
    Node(NodeAddr),
}

/// What the IO side must do next.
#[derive(Debug)]
pub(crate) enum Action {
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
pub(crate) struct Settings {
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
pub(crate) struct Registry {
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
    pub(crate) fn new(settings: Settings, seed: u64) -> Registry {
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
    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// The subscriptions the application holds (active or being restored).
    pub(crate) fn subscriptions(&self) -> Vec<Subscription> {
        self.entries.keys().cloned().collect()
    }

    /// Active subscriptions: confirmed by the server on the current connection.
    pub(crate) fn active(&self) -> Vec<Subscription> {
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

    fn is_active(&self, sub: &Subscription) -> bool {
        let Some(Some(link)) = self.entries.get(sub).map(|e| &e.link) else { return false };
        self.links.get(link).is_some_and(|l| l.up_gen().is_some() && l.confirmed.contains(sub))
    }

    // ----- inputs from the application -----

    /// Opens the main link eagerly (and, in a cluster, learns the slot map).
    pub(crate) fn open(&mut self, now: Instant) -> CallId {
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
    pub(crate) fn subscribe(&mut self, kind: Kind, names: Vec<Bytes>, now: Instant) -> CallId {
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
    pub(crate) fn unsubscribe(&mut self, kind: Kind, names: Vec<Bytes>, now: Instant) -> CallId {
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
    pub(crate) fn close(&mut self) {
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

    // ----- inputs from the IO side -----

    /// The outcome of [`Action::Connect`]. Returns false when the attempt is
    /// stale (the link moved on): the IO side then drops the new connection.
    pub(crate) fn connected(
        &mut self,
        link: &LinkId,
        gen: u64,
        result: Result<(), Error>,
        now: Instant,
    ) -> bool {
        let Some(state) = self.links.get_mut(link) else { return false };
        if state.conn != (Conn::Connecting { gen }) {
            return false;
        }
        match result {
            Ok(()) => {
                state.conn = Conn::Up { gen };
                state.confirmed.clear();
                state.op = None;
                state.op_retry_at = None;
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                let failures = state.failures;
                let wait = self.backoff(failures);
                if let Some(state) = self.links.get_mut(link) {
                    state.conn = Conn::Down { retry_at: now + wait };
                }
                if *link == LinkId::Main {
                    self.fail_calls(|c| c.kind == CallKind::Open, &e);
                } else {
                    self.refresh.wanted = true;
                }
                self.drop_unconfirmed(|entry| entry.link.as_ref() == Some(link), &e);
            }
        }
        self.pump(now);
        true
    }

    /// The connection `gen` of `link` closed.
    pub(crate) fn closed(&mut self, link: &LinkId, gen: u64, cause: Arc<Error>, now: Instant) {
        let Some(state) = self.links.get(link) else { return };
        if state.up_gen() != Some(gen) {
            return;
        }
        self.lose_link(link, cause, now);
        self.pump(now);
    }

    /// The outcome of [`Action::Send`]: `Ok` for the confirmations,
    /// `Err(Error::Server)` for a refusal, other errors for the connection.
    pub(crate) fn op_done(
        &mut self,
        link: &LinkId,
        gen: u64,
        op: u64,
        result: Result<(), Error>,
        now: Instant,
    ) {
        let Some(state) = self.links.get_mut(link) else { return };
        if state.up_gen() != Some(gen) || state.op.as_ref().is_none_or(|o| o.id != op) {
            return;
        }
        let Some(done) = state.op.take() else { return };
        match result {
            Ok(()) if done.subscribe => {
                state.failures = 0;
                state.confirmed.extend(done.subs.iter().cloned());
                let mut restored = Vec::new();
                for sub in &done.subs {
                    if let Some(entry) = self.entries.get_mut(sub) {
                        entry.established = true;
                        entry.attempts = 0;
                        if entry.interrupted && entry.link.as_ref() == Some(link) {
                            entry.interrupted = false;
                            restored.push(sub.clone());
                        }
                    }
                }
                if !restored.is_empty() {
                    self.actions.push(Action::Emit(Event::Resubscribed { subscriptions: restored }));
                }
            }
            Ok(()) => {
                for sub in &done.subs {
                    state.confirmed.remove(sub);
                }
            }
            Err(Error::Server(e)) if !done.subscribe => {
                // The server does not hold them, whatever the reason (MOVED after a
                // slot moved away): nothing more to undo.
                let _ = e;
                for sub in &done.subs {
                    state.confirmed.remove(sub);
                }
            }
            Err(Error::Server(e)) => self.refused(link, done.subs, e, now),
            Err(e) => {
                // The connection failed under the op: it is as good as closed.
                let cause = Arc::new(e);
                if done.subscribe {
                    self.drop_never_confirmed(&done.subs, &cause);
                }
                self.actions.push(Action::Close { link: link.clone(), gen });
                self.lose_link(link, cause, now);
            }
        }
        self.pump(now);
    }

    /// The server dropped `sub` by itself on connection `gen` of `link` (an
    /// unsubscribe confirmation no command asked for).
    pub(crate) fn server_unsubscribed(&mut self, link: &LinkId, gen: u64, sub: Subscription, now: Instant) {
        let Some(state) = self.links.get_mut(link) else { return };
        if state.up_gen() != Some(gen) || !state.confirmed.remove(&sub) {
            return;
        }
        if let Some(entry) = self.entries.get_mut(&sub) {
            if entry.link.as_ref() == Some(link) {
                entry.interrupted = true;
                if self.settings.cluster && sub.kind == Kind::Sharded {
                    // The slot moved: find its new owner first.
                    entry.link = None;
                    self.refresh.wanted = true;
                    self.refresh.not_before = None;
                }
                let cause = Arc::new(Error::Other(format!("the server dropped the {sub} (its slot moved)")));
                self.actions.push(Action::Emit(Event::Interrupted { subscriptions: vec![sub], cause }));
            }
        }
        self.pump(now);
    }

    /// The outcome of [`Action::RefreshTopology`].
    pub(crate) fn topology(&mut self, result: Result<SlotMap, Error>, now: Instant) {
        self.refresh.in_flight = false;
        self.refresh.answered = true;
        match result {
            Ok(map) => {
                self.refresh.failures = 0;
                self.refresh.not_before = Some(now + self.settings.min_backoff);
                self.slots = Some(map);
                self.reroute(now);
            }
            Err(e) => {
                self.refresh.failures = self.refresh.failures.saturating_add(1);
                let wait = self.backoff(self.refresh.failures);
                self.refresh.not_before = Some(now + wait);
                self.fail_calls(|c| c.kind == CallKind::Open, &e);
                self.drop_unconfirmed(|entry| entry.link.is_none(), &e);
                if self.entries.values().any(|e| e.link.is_none()) {
                    self.refresh.wanted = true;
                }
            }
        }
        self.pump(now);
    }

    /// Time passed: retries whose wait is over go ahead.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.pump(now);
    }

    /// When [`Registry::tick`] next has something to do.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for (id, link) in &self.links {
            match link.conn {
                Conn::Down { retry_at } if self.wants_connection(id) => consider(retry_at),
                Conn::Up { .. } if link.op.is_none() => {
                    if let Some(at) = link.op_retry_at {
                        consider(at);
                    }
                }
                _ => {}
            }
        }
        if self.settings.cluster && !self.refresh.in_flight {
            // A wanted refresh without a wait was already started by `pump`.
            if let (true, Some(at)) = (self.refresh.wanted, self.refresh.not_before) {
                consider(at);
            }
            if let Some(at) = self.refresh.next_periodic {
                consider(at);
            }
        }
        next
    }

    // ----- the decisions -----

    fn wants_connection(&self, id: &LinkId) -> bool {
        self.entries.values().any(|e| e.link.as_ref() == Some(id))
            || (*id == LinkId::Main && self.calls.values().any(|c| c.kind == CallKind::Open))
    }

    /// Every subscription of `link` stops being active.
    fn lose_link(&mut self, link: &LinkId, cause: Arc<Error>, now: Instant) {
        let Some(state) = self.links.get_mut(link) else { return };
        state.failures = state.failures.saturating_add(1);
        let failures = state.failures;
        let lost = std::mem::take(&mut state.confirmed);
        let in_flight = state.op.take();
        let wait = self.backoff(failures);
        if let Some(state) = self.links.get_mut(link) {
            state.conn = Conn::Down { retry_at: now + wait };
            state.op_retry_at = None;
        }
        if let Some(op) = in_flight.filter(|op| op.subscribe) {
            self.drop_never_confirmed(&op.subs, &cause);
        }
        let mut interrupted = Vec::new();
        for sub in lost {
            if let Some(entry) = self.entries.get_mut(&sub) {
                if entry.link.as_ref() == Some(link) {
                    entry.interrupted = true;
                    interrupted.push(sub);
                }
            }
        }
        if !interrupted.is_empty() {
            self.actions.push(Action::Emit(Event::Interrupted { subscriptions: interrupted, cause }));
        }
        if self.settings.cluster && *link != LinkId::Main {
            // A lost primary may have failed over.
            self.refresh.wanted = true;
        }
    }

    /// A subscribe op was refused with `e`.
    fn refused(
        &mut self,
        link: &LinkId,
        subs: Vec<Subscription>,
        e: crate::error::ServerError,
        now: Instant,
    ) {
        let transient = matches!(
            e.kind(),
            ServerErrorKind::Ask { .. }
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::Loading
                | ServerErrorKind::MasterDown
        );
        if let ServerErrorKind::Moved { slot, node } = e.kind() {
            if let Some(map) = self.slots.as_mut() {
                map.apply_moved(*slot, node.clone());
            }
            self.refresh.wanted = true;
            self.reroute(now);
            self.count_attempts(&subs, &e);
            return;
        }
        if transient {
            let state = self.link_mut(link, now);
            state.failures = state.failures.saturating_add(1);
            let failures = state.failures;
            let wait = self.backoff(failures);
            self.link_mut(link, now).op_retry_at = Some(now + wait);
            if matches!(e.kind(), ServerErrorKind::ClusterDown | ServerErrorKind::Ask { .. }) {
                self.refresh.wanted = true;
            }
            self.count_attempts(&subs, &e);
            return;
        }
        let mut dropped = Vec::new();
        for sub in subs {
            let Some(entry) = self.entries.get(&sub) else { continue };
            if entry.link.as_ref() != Some(link) {
                continue;
            }
            let established = entry.established;
            self.entries.remove(&sub);
            self.fail_callers(&sub, || Error::Server(e.clone()));
            if established {
                dropped.push(sub);
            }
        }
        if !dropped.is_empty() {
            self.actions
                .push(Action::Emit(Event::Refused { subscriptions: dropped, error: Error::Server(e) }));
        }
    }

    /// One more redirect or transient error for `subs`: names never confirmed
    /// give up past the limit; confirmed ones wait for a topology refresh.
    fn count_attempts(&mut self, subs: &[Subscription], e: &crate::error::ServerError) {
        let limit = self.settings.max_attempts;
        for sub in subs {
            let Some(entry) = self.entries.get_mut(sub) else { continue };
            entry.attempts = entry.attempts.saturating_add(1);
            if entry.attempts < limit {
                continue;
            }
            if entry.established {
                if self.settings.cluster && sub.kind == Kind::Sharded {
                    entry.link = None;
                    entry.attempts = 0;
                    self.refresh.wanted = true;
                }
            } else {
                let attempts = entry.attempts;
                self.entries.remove(sub);
                let last = Arc::new(Error::Server(e.clone()));
                self.fail_callers(sub, || Error::RetriesExhausted { attempts, last: last.clone() });
            }
        }
    }

    /// Sends every sharded entry to the current owner of its slot.
    fn reroute(&mut self, now: Instant) {
        if !self.settings.cluster {
            return;
        }
        let mut moved = Vec::new();
        let subs: Vec<Subscription> =
            self.entries.keys().filter(|s| s.kind == Kind::Sharded).cloned().collect();
        for sub in subs {
            let target = self.route(&sub);
            let Some(entry) = self.entries.get(&sub) else { continue };
            if target.is_none() || entry.link == target {
                continue;
            }
            let was_active = self.is_active(&sub);
            if let Some(entry) = self.entries.get_mut(&sub) {
                entry.link = target.clone();
                if was_active {
                    entry.interrupted = true;
                    moved.push(sub);
                }
            }
            if let Some(l) = &target {
                self.link_mut(l, now);
            }
        }
        if !moved.is_empty() {
            let cause = Arc::new(Error::Other("the slot moved to another node".into()));
            self.actions.push(Action::Emit(Event::Interrupted { subscriptions: moved, cause }));
        }
        if self.entries.values().any(|e| e.link.is_none()) {
            self.refresh.wanted = true;
        }
    }

    /// Drops the never-confirmed entries matching `which`, failing their callers.
    fn drop_unconfirmed(&mut self, which: impl Fn(&Entry) -> bool, cause: &Error) {
        let doomed: Vec<Subscription> =
            self.entries.iter().filter(|(_, e)| !e.established && which(e)).map(|(s, _)| s.clone()).collect();
        for sub in doomed {
            self.entries.remove(&sub);
            self.fail_callers(&sub, || cause.clone());
        }
    }

    /// The subscribe of `subs` was in flight when the connection failed: its
    /// outcome is unknown, and names never confirmed before are given up.
    fn drop_never_confirmed(&mut self, subs: &[Subscription], cause: &Arc<Error>) {
        for sub in subs {
            if self.entries.get(sub).is_some_and(|e| !e.established) {
                self.entries.remove(sub);
                self.fail_callers(sub, || Error::OutcomeUnknown { cause: cause.clone() });
            }
        }
    }

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

    /// Decides what to do next; called after every input.
    fn pump(&mut self, now: Instant) {
        if self.settings.cluster {
            self.plan_refresh(now);
        }
        let ids: Vec<LinkId> = self.links.keys().cloned().collect();
        for id in ids {
            self.drive(&id, now);
        }
        self.settle(now);
    }

    fn plan_refresh(&mut self, now: Instant) {
        if let Some(at) = self.refresh.next_periodic {
            if now >= at {
                self.refresh.wanted = true;
            }
        }
        let ready = self.refresh.not_before.is_none_or(|t| now >= t);
        if self.refresh.wanted && !self.refresh.in_flight && ready {
            self.refresh.wanted = false;
            self.refresh.in_flight = true;
            self.refresh.next_periodic = self.settings.refresh_interval.map(|d| now + d);
            self.actions.push(Action::RefreshTopology);
        }
    }

    fn drive(&mut self, id: &LinkId, now: Instant) {
        let wants = self.wants_connection(id);
        let wanted: BTreeSet<Subscription> = self
            .entries
            .iter()
            .filter(|(_, e)| e.link.as_ref() == Some(id))
            .map(|(s, _)| s.clone())
            .collect();
        let cluster = self.settings.cluster;
        let Some(link) = self.links.get_mut(id) else { return };
        match link.conn {
            Conn::Down { retry_at } => {
                if wants && now >= retry_at {
                    let gen = self.id();
                    if let Some(link) = self.links.get_mut(id) {
                        link.conn = Conn::Connecting { gen };
                    }
                    self.actions.push(Action::Connect { link: id.clone(), gen });
                } else if !wants && *id != LinkId::Main {
                    self.links.remove(id);
                }
            }
            Conn::Connecting { .. } => {}
            Conn::Up { gen } => {
                if link.op.is_some() || link.op_retry_at.is_some_and(|t| now < t) {
                    return;
                }
                link.op_retry_at = None;
                let missing: Vec<&Subscription> = wanted.difference(&link.confirmed).collect();
                let (subscribe, group) = if missing.is_empty() {
                    let extra: Vec<&Subscription> = link.confirmed.difference(&wanted).collect();
                    (false, one_group(&extra, cluster))
                } else {
                    (true, one_group(&missing, cluster))
                };
                if group.is_empty() {
                    if !wants && *id != LinkId::Main {
                        self.actions.push(Action::Close { link: id.clone(), gen });
                        self.links.remove(id);
                    }
                    return;
                }
                let op = self.id();
                let kind = group[0].kind;
                let names = group.iter().map(|s| s.name.clone()).collect();
                if let Some(link) = self.links.get_mut(id) {
                    link.op = Some(Op { id: op, subscribe, subs: group });
                }
                self.actions.push(Action::Send { link: id.clone(), gen, op, subscribe, kind, names });
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

/// The first group of `subs` that fits in one command: one kind and, for
/// sharded channels in a cluster, one slot; at most [`MAX_NAMES_PER_OP`].
fn one_group(subs: &[&Subscription], cluster: bool) -> Vec<Subscription> {
    let Some(first) = subs.first() else { return Vec::new() };
    let slot = (first.kind == Kind::Sharded && cluster).then(|| key_slot(&first.name));
    subs.iter()
        .filter(|s| s.kind == first.kind && slot.is_none_or(|slot| key_slot(&s.name) == slot))
        .take(MAX_NAMES_PER_OP)
        .map(|s| (*s).clone())
        .collect()
}

#[cfg(test)]
mod tests;
