//! The registry's decisions: when to reconnect, what to send next on each
//! link, when to look the topology up, and when the next timer is due.

use std::collections::BTreeSet;
use std::time::Instant;

use super::{key_slot, Action, CallKind, Conn, Kind, LinkId, Op, Registry, Subscription, MAX_NAMES_PER_OP};

impl Registry {
    /// Time passed: retries whose wait is over go ahead.
    pub fn tick(&mut self, now: Instant) {
        self.pump(now);
    }

    /// When [`Registry::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
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

    pub(super) fn wants_connection(&self, id: &LinkId) -> bool {
        self.entries.values().any(|e| e.link.as_ref() == Some(id))
            || (*id == LinkId::Main && self.calls.values().any(|c| c.kind == CallKind::Open))
    }

    /// Decides what to do next; called after every input.
    pub(super) fn pump(&mut self, now: Instant) {
        if self.settings.cluster {
            self.plan_refresh(now);
        }
        let ids: Vec<LinkId> = self.links.keys().cloned().collect();
        for id in ids {
            self.drive(&id, now);
        }
        self.settle(now);
    }

    pub(super) fn plan_refresh(&mut self, now: Instant) {
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

    pub(super) fn drive(&mut self, id: &LinkId, now: Instant) {
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
                let Some(kind) = group.first().map(|s| s.kind) else {
                    if !wants && *id != LinkId::Main {
                        self.actions.push(Action::Close { link: id.clone(), gen });
                        self.links.remove(id);
                    }
                    return;
                };
                let op = self.id();
                let names = group.iter().map(|s| s.name.clone()).collect();
                if let Some(link) = self.links.get_mut(id) {
                    link.op = Some(Op { id: op, subscribe, subs: group });
                }
                self.actions.push(Action::Send { link: id.clone(), gen, op, subscribe, kind, names });
            }
        }
    }
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
