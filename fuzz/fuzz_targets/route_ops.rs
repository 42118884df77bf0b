//! Drives the pure routing state with arbitrary events and checks its invariants.
//!
//! Events (one byte of kind, then its arguments): install a topology made of
//! random slot ranges (a refresh result, possibly several views to agree on),
//! a MOVED for a slot to one of eight nodes, a "send" of GET/MGET/DEL/MSET
//! with random keys through `route::plan`, and a retry sequence: a command
//! failing with arbitrary errors (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, LOADING,
//! READONLY, node down, outcome unknown, generic) classified attempt after
//! attempt. Invariants: every slot is owned by a shard that exists or is
//! marked unassigned; a MOVED always takes effect; a plan's slots are the keys'
//! slots; waits stay within the policy's bounds; retries stop by `max_retries`;
//! and the exactly-once rule: for a command that is not retry-safe (a write
//! not marked idempotent, as `is_retry_safe` says for INCR, LPUSH, SET ...),
//! an error after which its outcome is unknown (`OutcomeUnknown`, a response
//! timeout, an IO error on a connection that was up, a protocol error) is
//! never retried: `classify` returns it to the caller (`Return`), whatever
//! the attempt number. A `NotSent` may be retried, since the command never ran.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use redwire::__unstable::route::{
    apply_moved, classify, command_info, is_retry_safe, pick_consensus, plan, slot_map_from_ranges, RetryAction,
    Target,
};
use redwire::cluster::{key_slot, Node, RetryPolicy, Shard, SlotMap, SLOTS};
use redwire::{cmd, Cmd, Error, NodeAddr, ProtocolError, ServerError};

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
    fn bytes(&mut self, max: usize) -> Option<&[u8]> {
        let n = usize::from(self.byte()?) % (max + 1);
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
}

fn node(i: u8) -> NodeAddr {
    NodeAddr::new("127.0.0.1", 7000 + u16::from(i % 8))
}

fn shard(i: u8) -> Shard {
    Shard { primary: Node::from_addr(node(i)), replicas: vec![Node::from_addr(node(i.wrapping_add(4)))] }
}

/// A topology from random cut points: shards own consecutive ranges, some slots may be unassigned.
fn topology(input: &mut Input) -> Option<SlotMap> {
    let shards = input.byte()? % 5 + 1;
    let mut cuts: Vec<u16> = (0..shards).map(|_| input.u16().map(|c| c % SLOTS)).collect::<Option<_>>()?;
    cuts.sort_unstable();
    cuts.dedup();
    let mut parts = Vec::new();
    let mut start = 0u16;
    for (i, &cut) in cuts.iter().enumerate() {
        if cut >= start {
            parts.push((shard(i as u8), vec![(start, cut)]));
        }
        start = cut.saturating_add(1);
        if start >= SLOTS {
            break;
        }
    }
    slot_map_from_ranges(parts).ok()
}

/// Checks a sample of slots (every event) or all of them (at the end).
fn check_slots(map: &SlotMap, slots: impl Iterator<Item = u16>) {
    for slot in slots {
        if let Some(i) = map.shard_index(slot) {
            assert!(i < map.shards().len(), "slot {slot} points past the shards");
            assert_eq!(map.primary_for_slot(slot), Some(&map.shards()[i].primary.addr));
        } else {
            assert!(map.primary_for_slot(slot).is_none());
        }
    }
}

fn check_map(map: &SlotMap) {
    let mut assigned = 0;
    for slot in 0..SLOTS {
        if let Some(i) = map.shard_index(slot) {
            assert!(i < map.shards().len(), "slot {slot} points past the shards");
            assert_eq!(map.primary_for_slot(slot), Some(&map.shards()[i].primary.addr));
            assigned += 1;
        } else {
            assert!(map.primary_for_slot(slot).is_none());
        }
    }
    assert_eq!(assigned, map.assigned_slots());
    assert_eq!(map.is_complete(), assigned == usize::from(SLOTS));
}

/// A command for a retry sequence: writes, reads, and writes marked idempotent.
fn command(which: u8) -> Cmd {
    let c = match which % 8 {
        0 => cmd("INCR").arg("counter"),
        1 => cmd("LPUSH").arg("list").arg("x"),
        2 => cmd("SET").arg("k").arg("v"),
        3 => cmd("EVALSHA").arg("0123456789abcdef0123456789abcdef01234567").arg(1).arg("k"),
        4 => cmd("GET").arg("k"),
        5 => cmd("MGET").arg("a").arg("b"),
        6 => cmd("HINCRBY").arg("h").arg("f").arg(1),
        _ => cmd("ZRANGE").arg("z").arg(0).arg(-1),
    };
    if which & 0x80 != 0 {
        c.idempotent()
    } else {
        c
    }
}

/// True when `e` leaves the outcome of a sent command unknown.
fn outcome_unknown(e: &Error) -> bool {
    match e {
        Error::OutcomeUnknown { .. } | Error::Timeout | Error::Protocol(_) => true,
        Error::Io(io) => !matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::NotConnected
                | std::io::ErrorKind::AddrNotAvailable
        ),
        _ => false,
    }
}

fn error(kind: u8, slot: u16, n: u8) -> Error {
    let io = |k: std::io::ErrorKind| Arc::new(Error::Io(Arc::new(k.into())));
    let line = match kind % 16 {
        0 => format!("MOVED {} {}", slot % SLOTS, node(n)),
        1 => format!("ASK {} {}", slot % SLOTS, node(n)),
        2 => "TRYAGAIN Multiple keys request during rehashing of slot".to_string(),
        3 => "CLUSTERDOWN The cluster is down".to_string(),
        4 => "LOADING Valkey is loading the dataset in memory".to_string(),
        5 => "READONLY You can't write against a read only replica.".to_string(),
        6 => return Error::NotSent { cause: Arc::new(Error::Io(Arc::new(std::io::ErrorKind::ConnectionRefused.into()))) },
        7 => return Error::OutcomeUnknown { cause: Arc::new(Error::Timeout) },
        9 => return Error::OutcomeUnknown { cause: io(std::io::ErrorKind::ConnectionReset) },
        10 => return Error::OutcomeUnknown { cause: io(std::io::ErrorKind::ConnectionRefused) },
        11 => return Error::Timeout,
        12 => return Error::Io(Arc::new(std::io::ErrorKind::BrokenPipe.into())),
        13 => return Error::Protocol(ProtocolError::UnknownType(n)),
        14 => return Error::NotSent { cause: Arc::new(Error::Timeout) },
        15 => return Error::Io(Arc::new(std::io::ErrorKind::ConnectionRefused.into())),
        _ => "ERR something else".to_string(),
    };
    match ServerError::from_line(&line) {
        Ok(e) => Error::Server(e),
        Err(p) => Error::Protocol(p),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(mut map) = slot_map_from_ranges(vec![(shard(0), vec![(0, SLOTS - 1)])]).ok() else { return };
    let policy = RetryPolicy { max_retries: 5, min_wait: Duration::from_millis(1), max_wait: Duration::from_millis(64) };
    while let Some(kind) = input.byte() {
        match kind % 4 {
            0 => {
                // A refresh: one to three views, the consensus installed.
                let views = input.byte().map(|b| b % 3 + 1).unwrap_or(1);
                let maps: Vec<SlotMap> = (0..views).filter_map(|_| topology(&mut input)).collect();
                if let Some(chosen) = pick_consensus(maps) {
                    map = chosen;
                }
            }
            1 => {
                let (Some(slot), Some(n)) = (input.u16(), input.byte()) else { break };
                let slot = slot % SLOTS;
                apply_moved(&mut map, slot, node(n));
                assert_eq!(map.primary_for_slot(slot), Some(&node(n)), "MOVED did not take effect");
            }
            2 => {
                // A send: plan a command and check its routing against the map.
                let Some(which) = input.byte() else { break };
                let keys: Vec<Vec<u8>> =
                    (0..which % 4 + 1).filter_map(|_| input.bytes(12).map(<[u8]>::to_vec)).collect();
                let Some(first) = keys.first() else { continue };
                let c = match which % 4 {
                    0 => cmd("GET").arg(first.as_slice()),
                    1 => cmd("MGET").args_from(&keys),
                    2 => cmd("DEL").args_from(&keys),
                    _ => cmd("MSET").args_from(keys.iter().flat_map(|k| [k.clone(), k.clone()])),
                };
                match plan(&c) {
                    Ok(p) => match p.target {
                        Target::Slot(slot) => {
                            assert!(keys.iter().all(|k| key_slot(k) == slot) || which % 4 == 0);
                            if let Some(i) = map.shard_index(slot) {
                                assert!(i < map.shards().len());
                            }
                        }
                        Target::Split { parts, .. } => {
                            assert!(parts.len() > 1);
                            for part in parts {
                                assert!(part.slot < SLOTS);
                                assert!(!part.positions.is_empty());
                            }
                        }
                        _ => {}
                    },
                    Err(e) => panic!("plan of a splittable command failed: {e}"),
                }
            }
            _ => {
                // A retry sequence: classify errors until the policy stops.
                let Some(which) = input.byte() else { break };
                let c = command(which);
                let safe = is_retry_safe(&c, &command_info(&c));
                let name = String::from_utf8_lossy(c.name()).to_string();
                let mutating = matches!(name.as_str(), "INCR" | "LPUSH" | "SET" | "EVALSHA" | "HINCRBY");
                assert_eq!(safe, !mutating || c.is_idempotent(), "{name}: retry-safe is {safe}");
                let mut attempt = 0u32;
                loop {
                    let (Some(k), Some(slot), Some(n)) = (input.byte(), input.u16(), input.byte()) else { break };
                    let err = error(k, slot, n);
                    let action = classify(&err, attempt, &policy, safe, u64::from(n) << 56);
                    if !safe && outcome_unknown(&err) {
                        assert_eq!(action, RetryAction::Return, "{name} retried after {err:?} at attempt {attempt}");
                    }
                    match action {
                        RetryAction::Backoff(d) | RetryAction::RefreshAndRetry(d) => {
                            assert!(d >= policy.min_wait && d <= policy.max_wait, "wait {d:?} out of bounds");
                        }
                        RetryAction::Moved { slot, node } => {
                            apply_moved(&mut map, slot, node.clone());
                            assert_eq!(map.primary_for_slot(slot), Some(&node));
                        }
                        RetryAction::Return | RetryAction::Exhausted => break,
                        _ => {}
                    }
                    attempt += 1;
                    assert!(attempt <= policy.max_retries, "retried past max_retries");
                }
            }
        }
        let step = u16::from(kind) | 1;
        check_slots(&map, (0..64u16).map(|i| i.wrapping_mul(step).wrapping_mul(257) % SLOTS));
    }
    check_map(&map);
});
