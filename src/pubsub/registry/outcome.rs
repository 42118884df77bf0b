//! The registry's inputs from the IO side: connects, closes, op outcomes,
//! the server's own unsubscribes and topology lookups, and the recovery they
//! set off (interrupting, rerouting, giving up on names never confirmed).

use std::sync::Arc;
use std::time::Instant;

use super::{Action, CallKind, Conn, Event};
use super::{Entry, Error, Kind, LinkId, Registry, SlotMap, Subscription};
use crate::error::{ServerError, ServerErrorKind};

impl Registry {
    /// The outcome of [`Action::Connect`]. Returns false when the attempt is
    /// stale (the link moved on): the IO side then drops the new connection.
    pub fn connected(&mut self, link: &LinkId, gen: u64, result: Result<(), Error>, now: Instant) -> bool {
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
    pub fn closed(&mut self, link: &LinkId, gen: u64, cause: Arc<Error>, now: Instant) {
        let Some(state) = self.links.get(link) else { return };
        if state.up_gen() != Some(gen) {
            return;
        }
        self.lose_link(link, cause, now);
        self.pump(now);
    }

    /// The outcome of [`Action::Send`]: `Ok` for the confirmations,
    /// `Err(Error::Server)` for a refusal, other errors for the connection.
    pub fn op_done(&mut self, link: &LinkId, gen: u64, op: u64, result: Result<(), Error>, now: Instant) {
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
                } else if let Some(state) = self.links.get_mut(link) {
                    // Being unsubscribed, they were not active: their loss is no gap.
                    for sub in &done.subs {
                        state.confirmed.remove(sub);
                    }
                }
                self.actions.push(Action::Close { link: link.clone(), gen });
                self.lose_link(link, cause, now);
            }
        }
        self.pump(now);
    }

    /// The server dropped `sub` by itself on connection `gen` of `link` (an
    /// unsubscribe confirmation no command asked for).
    pub fn server_unsubscribed(&mut self, link: &LinkId, gen: u64, sub: Subscription, now: Instant) {
        let was_active = self.is_active(&sub);
        let Some(state) = self.links.get_mut(link) else { return };
        if state.up_gen() != Some(gen) || !state.confirmed.remove(&sub) {
            return;
        }
        if let Some(entry) = self.entries.get_mut(&sub) {
            if entry.link.as_ref() == Some(link) {
                if self.settings.cluster && sub.kind == Kind::Sharded {
                    // The slot moved: find its new owner first.
                    entry.link = None;
                    self.refresh.wanted = true;
                    self.refresh.not_before = None;
                }
                // Not active: an unsubscribe of ours was in flight, nothing more is lost.
                if was_active {
                    entry.interrupted = true;
                    let cause =
                        Arc::new(Error::Other(format!("the server dropped the {sub} (its slot moved)")));
                    self.actions.push(Action::Emit(Event::Interrupted { subscriptions: vec![sub], cause }));
                }
            }
        }
        self.pump(now);
    }

    /// The outcome of [`Action::RefreshTopology`].
    pub fn topology(&mut self, result: Result<SlotMap, Error>, now: Instant) {
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

    /// Every subscription of `link` stops being active.
    pub(super) fn lose_link(&mut self, link: &LinkId, cause: Arc<Error>, now: Instant) {
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
        // Names being unsubscribed were not active: losing them loses nothing.
        let unsubscribing: Vec<Subscription> =
            in_flight.as_ref().filter(|op| !op.subscribe).map(|op| op.subs.clone()).unwrap_or_default();
        if let Some(op) = in_flight.filter(|op| op.subscribe) {
            self.drop_never_confirmed(&op.subs, &cause);
        }
        let mut interrupted = Vec::new();
        for sub in lost.into_iter().filter(|s| !unsubscribing.contains(s)) {
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
    pub(super) fn refused(&mut self, link: &LinkId, subs: Vec<Subscription>, e: ServerError, now: Instant) {
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
    pub(super) fn count_attempts(&mut self, subs: &[Subscription], e: &ServerError) {
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
    pub(super) fn reroute(&mut self, now: Instant) {
        if !self.settings.cluster {
            return;
        }
        let (mut moved, mut restored) = (Vec::new(), Vec::new());
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
            }
            if let Some(l) = &target {
                self.link_mut(l, now);
            }
            // The new owner's connection may hold it already (it was there
            // before, and its unsubscribe was never sent).
            let now_active = self.is_active(&sub);
            let Some(entry) = self.entries.get_mut(&sub) else { continue };
            if was_active && !now_active {
                entry.interrupted = true;
                moved.push(sub);
            } else if now_active && entry.interrupted {
                entry.interrupted = false;
                restored.push(sub);
            }
        }
        if !moved.is_empty() {
            let cause = Arc::new(Error::Other("the slot moved to another node".into()));
            self.actions.push(Action::Emit(Event::Interrupted { subscriptions: moved, cause }));
        }
        if !restored.is_empty() {
            self.actions.push(Action::Emit(Event::Resubscribed { subscriptions: restored }));
        }
        if self.entries.values().any(|e| e.link.is_none()) {
            self.refresh.wanted = true;
        }
    }

    /// Drops the never-confirmed entries matching `which`, failing their callers.
    pub(super) fn drop_unconfirmed(&mut self, which: impl Fn(&Entry) -> bool, cause: &Error) {
        let doomed: Vec<Subscription> =
            self.entries.iter().filter(|(_, e)| !e.established && which(e)).map(|(s, _)| s.clone()).collect();
        for sub in doomed {
            self.entries.remove(&sub);
            self.fail_callers(&sub, || cause.clone());
        }
    }

    /// The subscribe of `subs` was in flight when the connection failed: its
    /// outcome is unknown, and names never confirmed before are given up.
    pub(super) fn drop_never_confirmed(&mut self, subs: &[Subscription], cause: &Arc<Error>) {
        for sub in subs {
            if self.entries.get(sub).is_some_and(|e| !e.established) {
                self.entries.remove(sub);
                self.fail_callers(sub, || Error::OutcomeUnknown { cause: cause.clone() });
            }
        }
    }
}
