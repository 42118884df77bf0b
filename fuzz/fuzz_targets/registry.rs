//! Drives the pub/sub registry (the pure state machine behind `Subscriber`)
//! with arbitrary operations and faults, playing the IO side from the input.
//!
//! Operations (one byte of kind, then its arguments): subscribe and
//! unsubscribe a few names of one kind; answer a pending connect (ok or an
//! error); answer a pending (un)subscribe (confirmed, MOVED, ASK, TRYAGAIN,
//! refused, connection failure, outcome unknown), a stale answer included;
//! close a connection; the server dropping a subscription by itself;
//! answer a topology lookup (a slot map from the input, or an error); let
//! time pass.
//!
//! Invariants, checked after every operation, around the registry's own
//! view of what is active: `Interrupted` names only subscriptions that were
//! active; `Resubscribed` only ones interrupted before and active now; an
//! active subscription that stops being active without the application
//! unsubscribing it was named by `Interrupted` (or `Refused`, which also
//! drops it): never a silent gap. At the end every fault is healed (connects
//! succeed, commands are confirmed, a complete slot map is served, time
//! passes) and then every subscription is active, and every interruption was
//! followed by its `Resubscribed`.
#![no_main]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use redwire::__unstable::registry::{Action, LinkId, Registry, Settings};
use redwire::__unstable::route::slot_map_from_ranges;
use redwire::pubsub::{Event, Kind, Subscription};
use redwire::cluster::{Node, Shard, SlotMap, SLOTS};
use redwire::{Error, NodeAddr, ServerError};

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }
}

const NAMES: [&str; 4] = ["a", "b", "{a}x", "c"];
const PORTS: [u16; 3] = [7001, 7002, 7003];
const MS: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

fn kind(b: u8) -> Kind {
    match b % 3 {
        0 => Kind::Channel,
        1 => Kind::Pattern,
        _ => Kind::Sharded,
    }
}

/// Up to four names, one bit each.
fn names(bits: u8) -> Vec<Bytes> {
    let picked: Vec<Bytes> = NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| Bytes::from(*n))
        .collect();
    if picked.is_empty() {
        vec![Bytes::from(NAMES[0])]
    } else {
        picked
    }
}

fn addr(i: u8) -> NodeAddr {
    NodeAddr::new("127.0.0.1", PORTS[usize::from(i) % PORTS.len()])
}

fn shard(i: u8) -> Shard {
    Shard { primary: Node::from_addr(addr(i)), replicas: vec![] }
}

/// A slot map from the input: up to three owners, cut points, maybe a hole.
fn slot_map(input: &mut Input) -> Option<SlotMap> {
    let how = input.byte()?;
    let cut = input.u16()? % SLOTS;
    let owners = (how % 3, (how / 3) % 3);
    let mut parts = vec![(shard(owners.0), vec![(0, cut)])];
    if cut + 1 < SLOTS {
        let hole = how & 0x80 != 0;
        let start = if hole { cut.saturating_add(100).min(SLOTS - 1) } else { cut + 1 };
        if owners.1 == owners.0 {
            parts[0].1.push((start, SLOTS - 1));
        } else {
            parts.push((shard(owners.1), vec![(start, SLOTS - 1)]));
        }
    }
    slot_map_from_ranges(parts).ok()
}

/// Every slot to one of the three nodes: what the healing phase serves.
fn complete_map() -> SlotMap {
    let third = SLOTS / 3;
    let parts = vec![
        (shard(0), vec![(0, third - 1)]),
        (shard(1), vec![(third, 2 * third - 1)]),
        (shard(2), vec![(2 * third, SLOTS - 1)]),
    ];
    slot_map_from_ranges(parts).unwrap_or_else(|e| panic!("a fixed map: {e}"))
}

fn server(line: &str) -> Error {
    match ServerError::from_line(line) {
        Ok(e) => Error::Server(e),
        Err(p) => Error::Protocol(p),
    }
}

fn io_error(kind: std::io::ErrorKind) -> Error {
    Error::Io(Arc::new(kind.into()))
}

/// The outcome of a send, chosen by `b`.
fn op_outcome(b: u8, slot: u16, node: u8) -> Result<(), Error> {
    match b % 9 {
        0..=2 => Ok(()),
        3 => Err(server(&format!("MOVED {} {}", slot % SLOTS, addr(node)))),
        4 => Err(server(&format!("ASK {} {}", slot % SLOTS, addr(node)))),
        5 => Err(server("TRYAGAIN Multiple keys request during rehashing of slot")),
        6 => Err(server("NOPERM User has no permissions to access one of the channels")),
        7 => Err(io_error(std::io::ErrorKind::BrokenPipe)),
        _ => Err(Error::OutcomeUnknown { cause: Arc::new(Error::Timeout) }),
    }
}

struct Send {
    link: LinkId,
    gen: u64,
    op: u64,
}

/// The IO side as the fuzz input plays it, and the checks' memory.
struct Harness {
    r: Registry,
    now: Instant,
    connects: Vec<(LinkId, u64)>,
    sends: Vec<Send>,
    /// Connections open right now, by the IO side's account.
    up: Vec<(LinkId, u64)>,
    /// Lookups asked for and not answered.
    refreshes: usize,
    /// Interrupted, not yet resubscribed, refused or unsubscribed.
    interrupted: BTreeSet<Subscription>,
    /// Every (link, gen) ever seen, for stale answers.
    history: Vec<(LinkId, u64)>,
}

impl Harness {
    /// Applies `step` to the registry and checks the invariants around it.
    fn step(&mut self, unsubscribing: &[Subscription], step: impl FnOnce(&mut Registry, Instant)) {
        let before: BTreeSet<Subscription> = self.r.active().into_iter().collect();
        step(&mut self.r, self.now);
        let trace = std::env::var_os("REDWIRE_FUZZ_TRACE").is_some();
        if trace {
            eprintln!("active before {before:?}\nregistry now {:#?}", self.r);
        }
        for sub in unsubscribing {
            self.interrupted.remove(sub);
        }
        let after: BTreeSet<Subscription> = self.r.active().into_iter().collect();
        let wanted: BTreeSet<Subscription> = self.r.subscriptions().into_iter().collect();
        let mut refused = BTreeSet::new();
        for action in self.r.take_actions() {
            if trace {
                eprintln!("action {action:?}");
            }
            match action {
                Action::Connect { link, gen } => {
                    self.history.push((link.clone(), gen));
                    self.connects.push((link, gen));
                }
                Action::Send { link, gen, op, .. } => self.sends.push(Send { link, gen, op }),
                Action::Close { link, gen } => self.up.retain(|u| *u != (link.clone(), gen)),
                Action::RefreshTopology => self.refreshes += 1,
                Action::Emit(Event::Interrupted { subscriptions, .. }) => {
                    for sub in subscriptions {
                        assert!(before.contains(&sub), "Interrupted for {sub}, which was not active");
                        assert!(!after.contains(&sub), "Interrupted for {sub}, which is still active");
                        assert!(self.interrupted.insert(sub.clone()), "Interrupted twice for {sub}");
                    }
                }
                Action::Emit(Event::Resubscribed { subscriptions }) => {
                    for sub in subscriptions {
                        assert!(self.interrupted.remove(&sub), "Resubscribed for {sub}, never interrupted");
                        assert!(after.contains(&sub), "Resubscribed for {sub}, which is not active");
                    }
                }
                Action::Emit(Event::Refused { subscriptions, .. }) => {
                    for sub in subscriptions {
                        assert!(!wanted.contains(&sub), "Refused {sub}, still in the set");
                        self.interrupted.remove(&sub);
                        refused.insert(sub);
                    }
                }
                Action::Emit(other) => panic!("the registry emitted {other:?}"),
                Action::Complete { .. } => {}
            }
        }
        for sub in before.difference(&after) {
            if wanted.contains(sub) {
                assert!(self.interrupted.contains(sub), "{sub} stopped being active with no Interrupted");
            } else {
                assert!(
                    unsubscribing.contains(sub) || refused.contains(sub),
                    "{sub} was dropped with no unsubscribe and no Refused"
                );
            }
        }
        // Whatever the application no longer holds cannot be owed a Resubscribed.
        self.interrupted.retain(|s| wanted.contains(s));
    }

    fn connect(&mut self, i: usize, result: Result<(), Error>) {
        let (link, gen) = self.connects.swap_remove(i);
        let ok = result.is_ok();
        let mut accepted = false;
        self.step(&[], |r, now| accepted = r.connected(&link, gen, result, now));
        if ok && accepted {
            self.up.push((link, gen));
        }
    }

    fn answer(&mut self, i: usize, result: Result<(), Error>) {
        let send = self.sends.swap_remove(i);
        let broken = matches!(result, Err(Error::Io(_) | Error::OutcomeUnknown { .. }));
        self.step(&[], |r, now| r.op_done(&send.link, send.gen, send.op, result, now));
        if broken {
            self.up.retain(|u| *u != (send.link.clone(), send.gen));
        }
    }

    /// Every fault healed: answers everything with success until quiet.
    fn heal(&mut self) {
        for _ in 0..64 {
            self.now += MAX_BACKOFF + MS;
            self.step(&[], |r, now| r.tick(now));
            let mut busy = false;
            while !self.connects.is_empty() {
                busy = true;
                self.connect(0, Ok(()));
            }
            while !self.sends.is_empty() {
                busy = true;
                self.answer(0, Ok(()));
            }
            while self.refreshes > 0 {
                busy = true;
                self.refreshes -= 1;
                self.step(&[], |r, now| r.topology(Ok(complete_map()), now));
            }
            if !busy {
                break;
            }
        }
        let wanted = self.r.subscriptions();
        let active = self.r.active();
        assert_eq!(wanted, active, "after healing, not every subscription is active");
        assert!(self.interrupted.is_empty(), "never resubscribed: {:?}", self.interrupted);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(mode) = input.byte() else { return };
    let settings = Settings {
        cluster: mode & 1 == 1,
        min_backoff: 10 * MS,
        max_backoff: MAX_BACKOFF,
        refresh_interval: (mode & 2 == 2).then_some(Duration::from_secs(5)),
        max_attempts: u32::from(mode >> 2) % 4 + 1,
    };
    let mut h = Harness {
        r: Registry::new(settings, u64::from(mode) << 32 | 7),
        now: Instant::now(),
        connects: Vec::new(),
        sends: Vec::new(),
        up: Vec::new(),
        refreshes: 0,
        interrupted: BTreeSet::new(),
        history: Vec::new(),
    };
    h.step(&[], |r, now| {
        r.open(now);
    });
    let mut steps = 0;
    while let Some(op) = input.byte() {
        steps += 1;
        if steps > 400 {
            break;
        }
        let Some(arg) = input.byte() else { break };
        match op % 10 {
            0 => {
                let (k, list) = (kind(arg), names(arg >> 2));
                h.step(&[], |r, now| {
                    r.subscribe(k, list, now);
                });
            }
            1 => {
                let k = kind(arg);
                let list = names(arg >> 2);
                let subs: Vec<Subscription> = list.iter().map(|n| Subscription::new(k, n.clone())).collect();
                h.step(&subs, |r, now| {
                    r.unsubscribe(k, list, now);
                });
            }
            2 if !h.connects.is_empty() => {
                let i = usize::from(arg) % h.connects.len();
                let result = match arg % 4 {
                    0 => Err(Error::ConnectTimeout),
                    1 => Err(io_error(std::io::ErrorKind::ConnectionRefused)),
                    _ => Ok(()),
                };
                h.connect(i, result);
            }
            3 if !h.sends.is_empty() => {
                let (Some(how), Some(slot)) = (input.byte(), input.u16()) else { break };
                let i = usize::from(arg) % h.sends.len();
                h.answer(i, op_outcome(how, slot, arg));
            }
            4 if !h.up.is_empty() => {
                let (link, gen) = h.up.swap_remove(usize::from(arg) % h.up.len());
                h.step(&[], |r, now| r.closed(&link, gen, Arc::new(Error::Closed), now));
            }
            5 if !h.up.is_empty() => {
                let (link, gen) = h.up[usize::from(arg) % h.up.len()].clone();
                let Some(which) = input.byte() else { break };
                let sub = Subscription::new(kind(which), NAMES[usize::from(which >> 2) % NAMES.len()]);
                h.step(&[], |r, now| r.server_unsubscribed(&link, gen, sub, now));
            }
            6 if h.refreshes > 0 => {
                h.refreshes -= 1;
                let result = if arg % 4 == 0 {
                    Err(Error::ConnectTimeout)
                } else {
                    slot_map(&mut input).ok_or(Error::Timeout)
                };
                h.step(&[], |r, now| r.topology(result, now));
            }
            7 => {
                h.now += u32::from(arg) * 4 * MS;
                h.step(&[], |r, now| r.tick(now));
            }
            8 if !h.history.is_empty() => {
                // A stale or duplicate answer for some past connection.
                let (link, gen) = h.history[usize::from(arg) % h.history.len()].clone();
                let Some(how) = input.byte() else { break };
                match how % 4 {
                    0 => match h.connects.iter().position(|c| *c == (link.clone(), gen)) {
                        Some(i) => h.connect(i, Ok(())),
                        None => h.step(&[], |r, now| {
                            assert!(!r.connected(&link, gen, Ok(()), now), "a stale connect was accepted");
                        }),
                    },
                    1 => h.step(&[], |r, now| r.closed(&link, gen, Arc::new(Error::Closed), now)),
                    2 => h.step(&[], |r, now| r.op_done(&link, gen, u64::from(how), Ok(()), now)),
                    _ => {
                        h.step(&[], |r, now| r.op_done(&link, gen, u64::from(how), Err(Error::Timeout), now))
                    }
                }
            }
            _ => {}
        }
    }
    h.heal();
});
