//! The slot map: which shard (a primary and its replicas) serves each of the 16384 slots.
//!
//! Lives here: [`SlotMap`], [`Shard`], [`Node`], [`Health`]; redirect updates
//! ([`SlotMap::apply_moved`]) and the choice among the views of several nodes
//! ([`SlotMap::pick_consensus`]). Not here: parsing a `CLUSTER SHARDS` or
//! `CLUSTER SLOTS` reply into a map (`topology::parse`), asking the nodes
//! (`route::fetch`), or hashing keys (`slot`).
//!
//! Pure: no async runtime, no sockets, no clock.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, NodeAddr};

use super::slot::SLOTS;

mod parse;

/// A node's health, as `CLUSTER SHARDS` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Health {
    /// Serving.
    Online,
    /// Loading its dataset: replies `LOADING` for now.
    Loading,
    /// Marked failed by the cluster.
    Failed,
    /// Not reported, or a value this version does not know.
    Unknown,
}

/// One node of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Where to connect.
    pub addr: NodeAddr,
    /// The cluster node ID, when the reply carries it.
    pub id: Option<Arc<str>>,
    /// Health as reported (`CLUSTER SLOTS` lists only nodes it thinks are
    /// up, so its nodes are [`Health::Online`]).
    pub health: Health,
    /// Replication offset, 0 when not reported.
    pub replication_offset: i64,
}

impl Node {
    /// A node known only by its address (from a redirect).
    pub fn from_addr(addr: NodeAddr) -> Node {
        Node { addr, id: None, health: Health::Online, replication_offset: 0 }
    }
}

/// A primary and its replicas, serving the same slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// The node that takes writes.
    pub primary: Node,
    /// Its replicas, in reply order, whatever their health.
    pub replicas: Vec<Node>,
}

/// How far a replica trails its primary, from the replication offsets the
/// server reported (which a confused or hostile server may set to anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lag {
    /// An offset was not reported (0): nothing is known.
    Unknown,
    /// This many bytes behind; 0 when the replica reports itself ahead.
    Behind(u64),
    /// A negative offset: the report cannot be trusted.
    Invalid,
}

impl Lag {
    /// True when a replica with this lag may serve reads, given the largest
    /// lag tolerated (`max_lag`, in bytes; a negative one tolerates none).
    /// An unknown lag is tolerated, an invalid one never.
    pub fn is_within(self, max_lag: i64) -> bool {
        match self {
            Lag::Unknown => true,
            Lag::Behind(bytes) => u64::try_from(max_lag).is_ok_and(|max| bytes <= max),
            Lag::Invalid => false,
        }
    }
}

impl Shard {
    /// How far `replica` trails this shard's primary. Computed without
    /// overflow whatever the offsets.
    pub fn lag_of(&self, replica: &Node) -> Lag {
        let (primary, replica) = (self.primary.replication_offset, replica.replication_offset);
        if primary == 0 || replica == 0 {
            Lag::Unknown
        } else if primary < 0 || replica < 0 {
            Lag::Invalid
        } else if replica >= primary {
            Lag::Behind(0)
        } else {
            Lag::Behind(primary.abs_diff(replica))
        }
    }
}

/// The marker of a slot no shard serves.
const UNASSIGNED: u16 = u16::MAX;

/// Slot → shard, for all 16384 slots.
///
/// Cheap to read (one array index per lookup), 32 KiB per map. The IO router
/// shares one behind an `Arc` and replaces it whole on refresh; redirects
/// patch a private copy with `apply_moved`.
#[derive(Clone)]
pub struct SlotMap {
    shards: Vec<Shard>,
    /// One entry per slot: an index into `shards`, or [`UNASSIGNED`].
    slots: Box<[u16]>,
    /// Per shard, how many slots it serves.
    owned: Vec<u32>,
    version: u64,
}

fn malformed(got: impl Into<String>) -> Error {
    Error::Type { expected: "a CLUSTER SHARDS or CLUSTER SLOTS reply", got: got.into() }
}

/// Builds a [`SlotMap`] shard by shard, refusing slots claimed twice.
struct Builder {
    map: SlotMap,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            map: SlotMap {
                shards: Vec::new(),
                slots: vec![UNASSIGNED; usize::from(SLOTS)].into_boxed_slice(),
                owned: Vec::new(),
                version: 0,
            },
        }
    }

    /// Adds a shard and returns its index.
    fn push(&mut self, shard: Shard) -> Result<u16, Error> {
        let index = u16::try_from(self.map.shards.len())
            .ok()
            .filter(|&i| i != UNASSIGNED)
            .ok_or_else(|| malformed("more shards than a cluster can have"))?;
        self.map.shards.push(shard);
        self.map.owned.push(0);
        Ok(index)
    }

    fn assign(&mut self, index: u16, (start, end): (u16, u16)) -> Result<(), Error> {
        if start > end {
            return Err(malformed(format!("slot range {start}-{end}")));
        }
        let entries = self.map.slots.get_mut(usize::from(start)..=usize::from(end));
        let entries = entries.ok_or_else(|| malformed(format!("slot range {start}-{end}")))?;
        if let Some(taken) = entries.iter().position(|&s| s != UNASSIGNED) {
            let slot = usize::from(start) + taken;
            return Err(malformed(format!("slot {slot} served by two shards")));
        }
        entries.fill(index);
        if let Some(owned) = self.map.owned.get_mut(usize::from(index)) {
            // start <= end < SLOTS, checked above: no overflow.
            *owned = owned.saturating_add(u32::from(end - start) + 1);
        }
        Ok(())
    }
}

impl SlotMap {
    /// Builds a map from shards and the inclusive slot ranges each serves
    /// (for tests, fakes, and a standalone server seen as one shard).
    ///
    /// # Errors
    /// [`Error::Type`] for a slot out of range, a range whose start is past
    /// its end, or a slot given to two shards.
    pub(crate) fn from_ranges(shards: Vec<(Shard, Vec<(u16, u16)>)>) -> Result<SlotMap, Error> {
        let mut builder = Builder::new();
        for (shard, ranges) in shards {
            let index = builder.push(shard)?;
            for range in ranges {
                builder.assign(index, range)?;
            }
        }
        Ok(builder.map)
    }

    /// The shards, placeholders from redirects included.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// The index in [`SlotMap::shards`] of the shard serving `slot`.
    pub fn shard_index(&self, slot: u16) -> Option<usize> {
        let index = *self.slots.get(usize::from(slot))?;
        (index != UNASSIGNED).then_some(usize::from(index))
    }

    /// The shard serving `slot`, if any.
    pub fn shard_for_slot(&self, slot: u16) -> Option<&Shard> {
        self.shards.get(self.shard_index(slot)?)
    }

    /// The primary serving `slot`, if any.
    pub fn primary_for_slot(&self, slot: u16) -> Option<&NodeAddr> {
        self.shard_for_slot(slot).map(|s| &s.primary.addr)
    }

    /// The online replicas of the shard serving `slot`.
    pub fn replicas_for_slot(&self, slot: u16) -> impl Iterator<Item = &NodeAddr> + '_ {
        self.shard_for_slot(slot)
            .into_iter()
            .flat_map(|s| s.replicas.iter().filter(|n| n.health == Health::Online).map(|n| &n.addr))
    }

    /// The primaries that serve at least one slot (fan-out targets, and the
    /// candidates for a keyless command).
    pub fn primaries(&self) -> impl Iterator<Item = &NodeAddr> + '_ {
        self.shards.iter().zip(&self.owned).filter(|(_, &owned)| owned > 0).map(|(s, _)| &s.primary.addr)
    }

    /// Every node address in the map, primaries and replicas, each once, sorted.
    pub fn nodes(&self) -> Vec<&NodeAddr> {
        let mut all: Vec<&NodeAddr> = self
            .shards
            .iter()
            .flat_map(|s| std::iter::once(&s.primary).chain(&s.replicas))
            .map(|n| &n.addr)
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// How many slots some shard serves.
    pub fn assigned_slots(&self) -> usize {
        self.owned.iter().map(|&n| n as usize).sum()
    }

    /// True when every slot is served.
    pub fn is_complete(&self) -> bool {
        self.assigned_slots() == usize::from(SLOTS)
    }

    /// A counter the owner bumps to tell maps apart; `apply_moved`
    /// increments it on every change. A parsed map starts at 0.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Sets the version (e.g. a refreshed map continues its predecessor's count).
    pub(crate) fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// Applies a `MOVED slot node` redirect: `slot` is now served by the shard
    /// whose primary is `node`, or by a new placeholder shard for a node the
    /// map does not know (no ID, no replicas, until the next refresh).
    ///
    /// Returns true when the map changed (and its version was incremented);
    /// false when the slot already pointed there or is out of range.
    pub(crate) fn apply_moved(&mut self, slot: u16, node: NodeAddr) -> bool {
        let Some(entry) = self.slots.get(usize::from(slot)).copied() else {
            return false;
        };
        let target = match self.shards.iter().position(|s| s.primary.addr == node) {
            Some(i) => i,
            None => {
                if self.shards.len() >= usize::from(UNASSIGNED) {
                    return false;
                }
                self.shards.push(Shard { primary: Node::from_addr(node), replicas: Vec::new() });
                self.owned.push(0);
                self.shards.len() - 1
            }
        };
        let Ok(target16) = u16::try_from(target) else { return false };
        if entry == target16 {
            return false;
        }
        if let Some(owned) = self.owned.get_mut(usize::from(entry)) {
            *owned = owned.saturating_sub(1);
        }
        if let Some(owned) = self.owned.get_mut(target) {
            *owned = owned.saturating_add(1);
        }
        if let Some(e) = self.slots.get_mut(usize::from(slot)) {
            *e = target16;
        }
        self.version = self.version.wrapping_add(1);
        true
    }

    /// Runs of consecutive slots with the same primary: `(first, last, primary)`,
    /// `None` for unassigned runs.
    pub fn ranges(&self) -> Vec<(u16, u16, Option<&NodeAddr>)> {
        let mut out: Vec<(u16, u16, Option<&NodeAddr>)> = Vec::new();
        let mut previous = None;
        for (slot, &index) in (0..SLOTS).zip(self.slots.iter()) {
            if previous == Some(index) {
                if let Some(run) = out.last_mut() {
                    run.1 = slot;
                }
                continue;
            }
            previous = Some(index);
            let primary = self.shards.get(usize::from(index)).map(|s| &s.primary.addr);
            match out.last_mut() {
                Some(run) if run.2 == primary => run.1 = slot,
                _ => out.push((slot, slot, primary)),
            }
        }
        out
    }

    /// A 64-bit FNV-1a hash of the routing (slot ranges and their primaries'
    /// addresses): equal routing gives equal fingerprints, replicas and IDs
    /// aside.
    pub(crate) fn fingerprint(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
            }
        };
        for (first, last, primary) in self.ranges() {
            feed(&first.to_be_bytes());
            feed(&last.to_be_bytes());
            match primary {
                Some(addr) => {
                    feed(addr.host.as_bytes());
                    feed(&[0xff]);
                    feed(&addr.port.to_be_bytes());
                }
                None => feed(&[0xfe]),
            }
        }
        hash
    }

    /// True when both maps send every slot to the same primary address.
    pub(crate) fn same_routing(&self, other: &SlotMap) -> bool {
        (0..SLOTS).all(|slot| self.primary_for_slot(slot) == other.primary_for_slot(slot))
    }

    /// Of the views several nodes gave, the one most of them agree on
    /// (same routing; see [`SlotMap::fingerprint`]). Ties go to a complete
    /// view, then to the one serving more slots, then to the earliest.
    /// `None` when there is no view.
    pub(crate) fn pick_consensus(views: Vec<SlotMap>) -> Option<SlotMap> {
        struct Group {
            first: usize,
            fingerprint: u64,
            votes: usize,
        }
        let mut groups: Vec<Group> = Vec::new();
        for (i, view) in views.iter().enumerate() {
            let fingerprint = view.fingerprint();
            let same = groups.iter_mut().find(|g| {
                g.fingerprint == fingerprint && views.get(g.first).is_some_and(|v| v.same_routing(view))
            });
            match same {
                Some(group) => group.votes += 1,
                None => groups.push(Group { first: i, fingerprint, votes: 1 }),
            }
        }
        let score = |g: &Group| {
            let view = views.get(g.first);
            (g.votes, view.is_some_and(SlotMap::is_complete), view.map_or(0, SlotMap::assigned_slots))
        };
        let best = groups.iter().max_by(|a, b| score(a).cmp(&score(b)).then(b.first.cmp(&a.first)))?.first;
        views.into_iter().nth(best)
    }
}

impl fmt::Debug for SlotMap {
    /// Shards and slot ranges, not 16384 entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<String> = self
            .ranges()
            .into_iter()
            .map(|(a, b, p)| match p {
                Some(p) => format!("{a}-{b}: {p}"),
                None => format!("{a}-{b}: unassigned"),
            })
            .collect();
        f.debug_struct("SlotMap")
            .field("version", &self.version)
            .field("ranges", &ranges)
            .field("shards", &self.shards)
            .finish()
    }
}

#[cfg(test)]
mod tests;
