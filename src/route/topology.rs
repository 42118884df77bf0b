//! The slot map: which shard (a primary and its replicas) serves each of the 16384 slots.
//!
//! Lives here: [`SlotMap`], built from a `CLUSTER SHARDS` reply (RESP3 maps or
//! RESP2 flat arrays) or, for servers older than 7.0, a `CLUSTER SLOTS`
//! reply; [`Shard`], [`Node`], [`Health`]; redirect updates
//! ([`SlotMap::apply_moved`]) and the choice among the views of several nodes
//! ([`SlotMap::pick_consensus`]). Not here: asking the nodes (the IO router),
//! or hashing keys (`slot`).
//!
//! A node's host is its `endpoint`; an endpoint of `?` (a hostname was asked
//! for but none is set) falls back to the node's `ip`; an empty or null
//! endpoint means "the host you asked", which the caller passes as
//! `asked_host` (nodes behind a load balancer, or a node that does not know
//! its own address yet).
//!
//! Pure: no tokio, no sockets, no clock.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, NodeAddr};
use crate::resp::Frame;

use super::slot::SLOTS;

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
/// patch a private copy with [`SlotMap::apply_moved`].
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

/// The reply without attributes; an error reply is returned as [`Error::Server`].
fn checked(frame: &Frame) -> Result<&Frame, Error> {
    match frame.value() {
        Frame::SimpleError(e) | Frame::BlobError(e) => Err(Error::Server(e.clone())),
        other => Ok(other),
    }
}

fn list(frame: &Frame) -> Option<&[Frame]> {
    match frame.value() {
        Frame::Array(items) | Frame::Set(items) => Some(items),
        _ => None,
    }
}

/// The fields of a RESP3 map or a RESP2 flat `[name, value, ...]` array.
/// Fields whose name is not a string are skipped.
fn fields(frame: &Frame) -> Option<Vec<(&[u8], &Frame)>> {
    match frame.value() {
        Frame::Map(pairs) => {
            Some(pairs.iter().filter_map(|(k, v)| Some((k.as_bytes()?.as_ref(), v))).collect())
        }
        Frame::Array(items) if items.len() % 2 == 0 => Some(
            items
                .chunks_exact(2)
                .filter_map(|pair| match pair {
                    [k, v] => Some((k.as_bytes()?.as_ref(), v)),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

fn text(frame: &Frame) -> Option<&str> {
    std::str::from_utf8(frame.as_bytes()?).ok()
}

/// An integer, or a string of digits (some servers send numbers as strings).
fn int(frame: &Frame) -> Option<i64> {
    match frame.value() {
        Frame::Integer(n) => Some(*n),
        other => text(other)?.parse().ok(),
    }
}

fn slot_number(frame: &Frame) -> Result<u16, Error> {
    int(frame)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&n| n < SLOTS)
        .ok_or_else(|| malformed(format!("slot {}", describe(frame))))
}

fn port(frame: &Frame) -> Option<u16> {
    int(frame).and_then(|n| u16::try_from(n).ok()).filter(|&p| p != 0)
}

fn describe(frame: &Frame) -> String {
    match int(frame) {
        Some(n) => n.to_string(),
        None => frame.type_name().to_string(),
    }
}

/// Picks the host to connect to; see the module documentation.
/// `endpoint` is `None` when the reply has no endpoint field, `Some("")` when
/// it is empty or null.
fn choose_host(endpoint: Option<&str>, ip: Option<&str>, asked_host: &str) -> Arc<str> {
    let usable = |h: &&str| !h.is_empty() && *h != "?";
    let host = match endpoint {
        Some(e) if usable(&e) => e,
        Some("") => asked_host,
        _ => ip.filter(usable).unwrap_or(asked_host),
    };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Arc::from(host)
}

fn health(text: &[u8]) -> Health {
    match text {
        b"online" => Health::Online,
        b"loading" => Health::Loading,
        b"failed" => Health::Failed,
        _ => Health::Unknown,
    }
}

/// One node of a `CLUSTER SHARDS` shard, and whether it is the primary.
/// `None` for a node without a usable port or with an unknown role.
fn shard_node(frame: &Frame, asked_host: &str, tls: bool) -> Result<Option<(Node, bool)>, Error> {
    let fields = fields(frame).ok_or_else(|| malformed(format!("node as {}", frame.type_name())))?;
    let (mut endpoint, mut ip, mut id) = (None, None, None);
    let (mut plain_port, mut tls_port, mut primary) = (None, None, None);
    let mut node_health = Health::Unknown;
    let mut offset = 0;
    for (name, value) in fields {
        match name {
            b"id" => id = text(value).map(Arc::from),
            b"endpoint" => endpoint = Some(if value.is_null() { "" } else { text(value).unwrap_or("") }),
            b"ip" => ip = text(value),
            b"port" => plain_port = port(value),
            b"tls-port" => tls_port = port(value),
            b"role" => {
                primary = match value.as_bytes().map(|b| b.as_ref()) {
                    Some(b"master" | b"primary") => Some(true),
                    Some(b"replica" | b"slave") => Some(false),
                    _ => None,
                }
            }
            b"replication-offset" => offset = int(value).unwrap_or(0),
            b"health" => node_health = value.as_bytes().map_or(Health::Unknown, |h| health(h)),
            _ => {}
        }
    }
    let port = if tls { tls_port.or(plain_port) } else { plain_port.or(tls_port) };
    let (Some(port), Some(primary)) = (port, primary) else {
        return Ok(None);
    };
    let addr = NodeAddr { host: choose_host(endpoint, ip, asked_host), port };
    Ok(Some((Node { addr, id, health: node_health, replication_offset: offset }, primary)))
}

/// Inclusive slot ranges from a flat `[start, end, start, end, ...]` list.
fn ranges(frame: &Frame) -> Result<Vec<(u16, u16)>, Error> {
    let items = list(frame).ok_or_else(|| malformed(format!("slots as {}", frame.type_name())))?;
    if items.len() % 2 != 0 {
        return Err(malformed("an odd number of slot bounds"));
    }
    items
        .chunks_exact(2)
        .map(|pair| match pair {
            [start, end] => Ok((slot_number(start)?, slot_number(end)?)),
            _ => Err(malformed("an odd number of slot bounds")),
        })
        .collect()
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
    /// Builds the map from a `CLUSTER SHARDS` reply sent by the node at `asked_host`.
    ///
    /// `tls` picks each node's `tls-port` over its `port` (either falls back
    /// to the other). A node without a port or role is left out; a shard
    /// without a primary leaves its slots unassigned; of two primaries in one
    /// shard (mid-failover) an online one is kept.
    ///
    /// # Errors
    /// [`Error::Server`] when the reply is an error (a server before 7.0:
    /// fall back to `CLUSTER SLOTS`); [`Error::Type`] for a reply of another
    /// shape, a slot out of range, or a slot served by two shards.
    pub fn from_shards(reply: &Frame, asked_host: &str, tls: bool) -> Result<SlotMap, Error> {
        let shards = list(checked(reply)?).ok_or_else(|| malformed(reply.type_name()))?;
        let mut builder = Builder::new();
        for shard in shards {
            let fields = fields(shard).ok_or_else(|| malformed(format!("shard as {}", shard.type_name())))?;
            let (mut slot_ranges, mut nodes) = (Vec::new(), None);
            for (name, value) in fields {
                match name {
                    b"slots" => slot_ranges = ranges(value)?,
                    b"nodes" => {
                        nodes = Some(list(value).ok_or_else(|| malformed("nodes that are not a list"))?)
                    }
                    _ => {}
                }
            }
            let mut primary: Option<Node> = None;
            let mut replicas = Vec::new();
            for node in nodes.unwrap_or_default() {
                match shard_node(node, asked_host, tls)? {
                    Some((node, true)) => {
                        let keep_current = primary
                            .as_ref()
                            .is_some_and(|p| p.health == Health::Online || node.health != Health::Online);
                        if !keep_current {
                            primary = Some(node);
                        }
                    }
                    Some((node, false)) => replicas.push(node),
                    None => {}
                }
            }
            let Some(primary) = primary else { continue };
            let index = builder.push(Shard { primary, replicas })?;
            for range in slot_ranges {
                builder.assign(index, range)?;
            }
        }
        Ok(builder.map)
    }

    /// Builds the map from a `CLUSTER SLOTS` reply sent by the node at
    /// `asked_host`: `[start, end, primary, replica...]` entries, each node
    /// `[host, port, id, metadata]` (ID and metadata optional). Entries with
    /// the same primary address form one shard.
    ///
    /// # Errors
    /// As [`SlotMap::from_shards`].
    pub fn from_slots(reply: &Frame, asked_host: &str) -> Result<SlotMap, Error> {
        let entries = list(checked(reply)?).ok_or_else(|| malformed(reply.type_name()))?;
        let mut builder = Builder::new();
        for entry in entries {
            let items =
                list(entry).ok_or_else(|| malformed(format!("slot entry as {}", entry.type_name())))?;
            let [start, end, primary, replicas @ ..] = items else {
                return Err(malformed(format!("slot entry of {} elements", items.len())));
            };
            let range = (slot_number(start)?, slot_number(end)?);
            let Some(primary) = slots_node(primary, asked_host)? else { continue };
            let existing = builder.map.shards.iter().position(|s| s.primary.addr == primary.addr);
            let index = match existing.and_then(|i| u16::try_from(i).ok()) {
                Some(index) => index,
                None => builder.push(Shard { primary, replicas: Vec::new() })?,
            };
            for replica in replicas {
                let Some(replica) = slots_node(replica, asked_host)? else { continue };
                if let Some(shard) = builder.map.shards.get_mut(usize::from(index)) {
                    if !shard.replicas.iter().any(|r| r.addr == replica.addr) {
                        shard.replicas.push(replica);
                    }
                }
            }
            builder.assign(index, range)?;
        }
        Ok(builder.map)
    }

    /// Builds a map from shards and the inclusive slot ranges each serves
    /// (for tests, fakes, and a standalone server seen as one shard).
    ///
    /// # Errors
    /// [`Error::Type`] for a slot out of range, a range whose start is past
    /// its end, or a slot given to two shards.
    pub fn from_ranges(shards: Vec<(Shard, Vec<(u16, u16)>)>) -> Result<SlotMap, Error> {
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

    /// A counter the owner bumps to tell maps apart; [`SlotMap::apply_moved`]
    /// increments it on every change. A parsed map starts at 0.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Sets the version (e.g. a refreshed map continues its predecessor's count).
    pub fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// Applies a `MOVED slot node` redirect: `slot` is now served by the shard
    /// whose primary is `node`, or by a new placeholder shard for a node the
    /// map does not know (no ID, no replicas, until the next refresh).
    ///
    /// Returns true when the map changed (and its version was incremented);
    /// false when the slot already pointed there or is out of range.
    pub fn apply_moved(&mut self, slot: u16, node: NodeAddr) -> bool {
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
    pub fn fingerprint(&self) -> u64 {
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
    pub fn same_routing(&self, other: &SlotMap) -> bool {
        (0..SLOTS).all(|slot| self.primary_for_slot(slot) == other.primary_for_slot(slot))
    }

    /// Of the views several nodes gave, the one most of them agree on
    /// (same routing; see [`SlotMap::fingerprint`]). Ties go to a complete
    /// view, then to the one serving more slots, then to the earliest.
    /// `None` when there is no view.
    pub fn pick_consensus(views: Vec<SlotMap>) -> Option<SlotMap> {
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

/// One node of a `CLUSTER SLOTS` entry: `[host, port, id?, metadata?]`.
/// `None` for a node without a usable port.
fn slots_node(frame: &Frame, asked_host: &str) -> Result<Option<Node>, Error> {
    let items = list(frame).ok_or_else(|| malformed(format!("node as {}", frame.type_name())))?;
    let [host, port_frame, rest @ ..] = items else {
        return Err(malformed(format!("node of {} elements", items.len())));
    };
    let Some(port) = port(port_frame) else { return Ok(None) };
    let id = rest.first().and_then(text).filter(|s| !s.is_empty()).map(Arc::from);
    let meta_ip = rest
        .get(1)
        .and_then(fields)
        .and_then(|f| f.into_iter().find(|(k, _)| *k == b"ip"))
        .and_then(|(_, v)| text(v));
    // A null endpoint means "unknown": the host that was asked.
    let endpoint = if host.is_null() { "" } else { text(host).unwrap_or("") };
    let addr = NodeAddr { host: choose_host(Some(endpoint), meta_ip, asked_host), port };
    Ok(Some(Node { addr, id, health: Health::Online, replication_offset: 0 }))
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
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::error::ServerError;

    fn b(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn i(n: i64) -> Frame {
        Frame::Integer(n)
    }

    fn arr(items: Vec<Frame>) -> Frame {
        Frame::Array(items)
    }

    /// A RESP3 map, or the RESP2 flat array with the same fields.
    fn obj(resp3: bool, fields: Vec<(&str, Frame)>) -> Frame {
        if resp3 {
            Frame::Map(fields.into_iter().map(|(k, v)| (b(k), v)).collect())
        } else {
            arr(fields.into_iter().flat_map(|(k, v)| [b(k), v]).collect())
        }
    }

    fn node(resp3: bool, id: &str, port: i64, endpoint: &str, role: &str, health: &str) -> Frame {
        obj(
            resp3,
            vec![
                ("id", b(id)),
                ("port", i(port)),
                ("ip", b("10.0.0.1")),
                ("endpoint", b(endpoint)),
                ("role", b(role)),
                ("replication-offset", i(port * 10)),
                ("health", b(health)),
            ],
        )
    }

    fn shard(resp3: bool, slots: &[i64], nodes: Vec<Frame>) -> Frame {
        obj(resp3, vec![("slots", arr(slots.iter().map(|&s| i(s)).collect())), ("nodes", arr(nodes))])
    }

    /// Three shards covering every slot, and a fourth serving none.
    fn three_shards(resp3: bool) -> Frame {
        arr(vec![
            shard(
                resp3,
                &[0, 5460],
                vec![
                    node(resp3, "a1", 30001, "127.0.0.1", "master", "online"),
                    node(resp3, "a2", 30004, "127.0.0.1", "replica", "online"),
                ],
            ),
            shard(
                resp3,
                &[5461, 10000, 10001, 10922],
                vec![
                    node(resp3, "b2", 30005, "127.0.0.1", "replica", "failed"),
                    node(resp3, "b1", 30002, "127.0.0.1", "master", "online"),
                ],
            ),
            shard(
                resp3,
                &[10923, 16383],
                vec![
                    node(resp3, "c1", 30003, "127.0.0.1", "master", "online"),
                    node(resp3, "c2", 30006, "127.0.0.1", "replica", "loading"),
                    node(resp3, "c3", 30008, "127.0.0.1", "replica", "online"),
                ],
            ),
            shard(resp3, &[], vec![node(resp3, "d1", 30007, "127.0.0.1", "master", "online")]),
        ])
    }

    fn addr(port: u16) -> NodeAddr {
        NodeAddr::new("127.0.0.1", port)
    }

    fn check_three_shards(map: &SlotMap) {
        assert!(map.is_complete());
        assert_eq!(map.shards().len(), 4);
        assert_eq!(map.primary_for_slot(0), Some(&addr(30001)));
        assert_eq!(map.primary_for_slot(5460), Some(&addr(30001)));
        assert_eq!(map.primary_for_slot(5461), Some(&addr(30002)));
        assert_eq!(map.primary_for_slot(10001), Some(&addr(30002)));
        assert_eq!(map.primary_for_slot(16383), Some(&addr(30003)));
        assert_eq!(map.primary_for_slot(16384), None);
        assert_eq!(map.replicas_for_slot(0).collect::<Vec<_>>(), [&addr(30004)]);
        assert_eq!(map.replicas_for_slot(6000).count(), 0, "failed replica skipped");
        assert_eq!(
            map.replicas_for_slot(12000).collect::<Vec<_>>(),
            [&addr(30008)],
            "loading replica skipped"
        );
        let a = map.shard_for_slot(0).unwrap();
        assert_eq!(a.primary.id.as_deref(), Some("a1"));
        assert_eq!(a.replicas[0].replication_offset, 300040);
        assert_eq!(map.shard_for_slot(6000).unwrap().replicas[0].health, Health::Failed);
        let primaries: Vec<_> = map.primaries().collect();
        assert_eq!(
            primaries,
            [&addr(30001), &addr(30002), &addr(30003)],
            "slotless shard is no fan-out target"
        );
        let nodes: Vec<u16> = map.nodes().iter().map(|a| a.port).collect();
        assert_eq!(nodes, [30001, 30002, 30003, 30004, 30005, 30006, 30007, 30008]);
        let ranges: Vec<(u16, u16, u16)> =
            map.ranges().into_iter().map(|(a, b, p)| (a, b, p.map_or(0, |p| p.port))).collect();
        assert_eq!(ranges, [(0, 5460, 30001), (5461, 10922, 30002), (10923, 16383, 30003)]);
    }

    #[test]
    fn parses_cluster_shards_resp3_and_resp2() {
        let resp3 = SlotMap::from_shards(&three_shards(true), "seed", false).unwrap();
        check_three_shards(&resp3);
        let resp2 = SlotMap::from_shards(&three_shards(false), "seed", false).unwrap();
        check_three_shards(&resp2);
        assert_eq!(resp3.fingerprint(), resp2.fingerprint());
        assert_eq!(resp3.version(), 0);
    }

    #[test]
    fn slots_sent_as_strings_are_accepted() {
        let nodes = arr(vec![node(true, "x", 7000, "h", "master", "online")]);
        let reply = arr(vec![obj(true, vec![("slots", arr(vec![b("0"), b("16383")])), ("nodes", nodes)])]);
        let map = SlotMap::from_shards(&reply, "seed", false).unwrap();
        assert!(map.is_complete());
        assert_eq!(map.primary_for_slot(9), Some(&NodeAddr::new("h", 7000)));
    }

    fn one_node_map(fields: Vec<(&str, Frame)>, asked: &str, tls: bool) -> Result<SlotMap, Error> {
        let reply = arr(vec![obj(
            true,
            vec![("slots", arr(vec![i(0), i(16383)])), ("nodes", arr(vec![obj(true, fields)]))],
        )]);
        SlotMap::from_shards(&reply, asked, tls)
    }

    fn host_for(endpoint: Option<Frame>, ip: &str) -> Arc<str> {
        let mut fields = vec![("port", i(7000)), ("ip", b(ip)), ("role", b("master"))];
        if let Some(e) = endpoint {
            fields.push(("endpoint", e));
        }
        let map = one_node_map(fields, "asked.example", false).unwrap();
        map.primary_for_slot(0).unwrap().host.clone()
    }

    #[test]
    fn endpoint_rules() {
        assert_eq!(&*host_for(Some(b("node1.example")), "10.0.0.9"), "node1.example");
        assert_eq!(&*host_for(Some(b("?")), "10.0.0.9"), "10.0.0.9");
        assert_eq!(&*host_for(Some(b("?")), ""), "asked.example");
        assert_eq!(&*host_for(Some(b("")), "10.0.0.9"), "asked.example");
        assert_eq!(&*host_for(Some(Frame::Null), "10.0.0.9"), "asked.example");
        assert_eq!(&*host_for(None, "10.0.0.9"), "10.0.0.9");
        assert_eq!(&*host_for(Some(b("::1")), ""), "::1");
        assert_eq!(&*host_for(Some(b("[::1]")), ""), "::1");
    }

    #[test]
    fn tls_port_is_chosen_for_tls() {
        let fields =
            || vec![("port", i(7000)), ("tls-port", i(7443)), ("endpoint", b("h")), ("role", b("master"))];
        let port = |tls| one_node_map(fields(), "a", tls).unwrap().primary_for_slot(0).unwrap().port;
        assert_eq!(port(false), 7000);
        assert_eq!(port(true), 7443);
        // TLS only: `port` is absent (or 0), the TLS port is the only one.
        let tls_only =
            vec![("port", i(0)), ("tls-port", i(7443)), ("endpoint", b("h")), ("role", b("master"))];
        assert_eq!(one_node_map(tls_only, "a", false).unwrap().primary_for_slot(0).unwrap().port, 7443);
    }

    #[test]
    fn shard_without_primary_leaves_slots_unassigned() {
        let reply = arr(vec![
            shard(true, &[0, 99], vec![node(true, "r", 7001, "h", "replica", "online")]),
            shard(true, &[100, 16383], vec![node(true, "m", 7000, "h", "master", "online")]),
        ]);
        let map = SlotMap::from_shards(&reply, "a", false).unwrap();
        assert!(!map.is_complete());
        assert_eq!(map.assigned_slots(), 16284);
        assert_eq!(map.primary_for_slot(50), None);
        assert_eq!(map.shard_for_slot(50), None);
        assert_eq!(map.replicas_for_slot(50).count(), 0);
        assert_eq!(map.primary_for_slot(100).map(|a| a.port), Some(7000));
    }

    #[test]
    fn online_primary_wins_in_a_failover() {
        let reply = arr(vec![shard(
            true,
            &[0, 16383],
            vec![
                node(true, "old", 7000, "h", "master", "failed"),
                node(true, "new", 7001, "h", "master", "online"),
                node(true, "late", 7002, "h", "master", "online"),
            ],
        )]);
        let map = SlotMap::from_shards(&reply, "a", false).unwrap();
        assert_eq!(map.primary_for_slot(0).map(|a| a.port), Some(7001));
    }

    #[test]
    fn bad_replies_are_typed_errors() {
        let err = Frame::SimpleError(ServerError::from_line("ERR unknown subcommand 'SHARDS'").unwrap());
        assert!(matches!(SlotMap::from_shards(&err, "a", false), Err(Error::Server(_))));
        assert!(matches!(SlotMap::from_slots(&err, "a"), Err(Error::Server(_))));
        assert!(matches!(SlotMap::from_shards(&i(3), "a", false), Err(Error::Type { .. })));
        let m = |slots: &[i64]| {
            arr(vec![shard(true, slots, vec![node(true, "m", 7000, "h", "master", "online")])])
        };
        for bad in [&[0, 16384][..], &[5, 3], &[0], &[-1, 5], &[0, 10, 5, 20]] {
            assert!(matches!(SlotMap::from_shards(&m(bad), "a", false), Err(Error::Type { .. })), "{bad:?}");
        }
        let overlap = arr(vec![
            shard(true, &[0, 100], vec![node(true, "m", 7000, "h", "master", "online")]),
            shard(true, &[100, 200], vec![node(true, "n", 7001, "h", "master", "online")]),
        ]);
        match SlotMap::from_shards(&overlap, "a", false) {
            Err(Error::Type { got, .. }) => assert!(got.contains("slot 100"), "{got}"),
            other => panic!("{other:?}"),
        }
        let shard_not_map = arr(vec![i(1)]);
        assert!(matches!(SlotMap::from_shards(&shard_not_map, "a", false), Err(Error::Type { .. })));
        let odd_flat = arr(vec![arr(vec![b("slots")])]);
        assert!(matches!(SlotMap::from_shards(&odd_flat, "a", false), Err(Error::Type { .. })));
        assert!(matches!(
            SlotMap::from_slots(&arr(vec![arr(vec![i(0), i(1)])]), "a"),
            Err(Error::Type { .. })
        ));
    }

    #[test]
    fn nodes_without_port_or_role_are_skipped() {
        let reply = arr(vec![shard(
            true,
            &[0, 16383],
            vec![
                obj(true, vec![("endpoint", b("h")), ("role", b("master"))]),
                obj(true, vec![("endpoint", b("h")), ("port", i(7000)), ("role", b("arbiter"))]),
                node(true, "m", 7001, "h", "master", "online"),
            ],
        )]);
        let map = SlotMap::from_shards(&reply, "a", false).unwrap();
        assert_eq!(map.primary_for_slot(0).map(|a| a.port), Some(7001));
        assert!(map.shard_for_slot(0).unwrap().replicas.is_empty());
    }

    /// A one-shard map whose primary and replica report these offsets.
    fn offsets(primary: i64, replica: i64) -> Shard {
        let node = |port: i64, role: &str, offset: i64| {
            obj(
                true,
                vec![
                    ("port", i(port)),
                    ("endpoint", b("h")),
                    ("role", b(role)),
                    ("replication-offset", i(offset)),
                    ("health", b("online")),
                ],
            )
        };
        let reply = arr(vec![shard(
            true,
            &[0, 16383],
            vec![node(7000, "master", primary), node(7001, "replica", replica)],
        )]);
        SlotMap::from_shards(&reply, "a", false).unwrap().shards()[0].clone()
    }

    #[test]
    fn replica_lag_never_overflows() {
        let lag = |p, r| {
            let shard = offsets(p, r);
            shard.lag_of(&shard.replicas[0])
        };
        assert_eq!(lag(1000, 400), Lag::Behind(600));
        assert_eq!(lag(400, 1000), Lag::Behind(0), "a replica ahead is not behind");
        assert_eq!(lag(0, 5), Lag::Unknown);
        assert_eq!(lag(5, 0), Lag::Unknown);
        // Hostile values: `primary - replica` would overflow an i64 here.
        assert_eq!(lag(i64::MAX, 1), Lag::Behind(i64::MAX as u64 - 1));
        assert_eq!(lag(i64::MAX, i64::MIN), Lag::Invalid);
        assert_eq!(lag(i64::MIN, i64::MAX), Lag::Invalid);
        assert_eq!(lag(-1, 5), Lag::Invalid);
        assert_eq!(lag(5, -1), Lag::Invalid);
        // And the decision made from them.
        assert!(Lag::Unknown.is_within(0));
        assert!(Lag::Behind(10).is_within(10));
        assert!(!Lag::Behind(11).is_within(10));
        assert!(!Lag::Behind(i64::MAX as u64 - 1).is_within(16 << 20));
        assert!(!Lag::Behind(u64::MAX).is_within(i64::MAX));
        assert!(!Lag::Behind(0).is_within(-1), "a negative limit tolerates nothing");
        assert!(!Lag::Invalid.is_within(i64::MAX));
    }

    #[test]
    fn hostile_ports_and_slots_are_refused_without_panic() {
        // Ports out of u16 range, zero or negative: the node is left out, in
        // CLUSTER SHARDS and CLUSTER SLOTS alike.
        for bad in [0, -1, 65536, i64::MAX, i64::MIN] {
            let fields = vec![("port", i(bad)), ("endpoint", b("h")), ("role", b("master"))];
            let map = one_node_map(fields, "a", false).unwrap();
            assert_eq!(map.primary_for_slot(0), None, "port {bad}");
            let reply = arr(vec![arr(vec![i(0), i(16383), slot_node(b("h"), bad, "x")])]);
            assert_eq!(SlotMap::from_slots(&reply, "a").unwrap().primary_for_slot(0), None, "port {bad}");
        }
        let fields = vec![("port", i(65535)), ("endpoint", b("h")), ("role", b("master"))];
        assert_eq!(
            one_node_map(fields, "a", false).unwrap().primary_for_slot(0).map(|a| a.port),
            Some(65535)
        );
        // Slots past the last one, negative, huge, or ranges that run backwards.
        let m = |slots: &[i64]| {
            arr(vec![shard(true, slots, vec![node(true, "m", 7000, "h", "master", "online")])])
        };
        for bad in
            [&[16384, 16384][..], &[0, i64::MAX], &[i64::MIN, 0], &[16383, 0], &[1, 0], &[65535, 65535]]
        {
            assert!(matches!(SlotMap::from_shards(&m(bad), "a", false), Err(Error::Type { .. })), "{bad:?}");
        }
        let n = slot_node(b("h"), 7000, "x");
        for (start, end) in [(16384, 16384), (5, 4), (-1, 3), (0, i64::MAX), (i64::MIN, i64::MIN)] {
            let reply = arr(vec![arr(vec![i(start), i(end), n.clone()])]);
            assert!(matches!(SlotMap::from_slots(&reply, "a"), Err(Error::Type { .. })), "{start}-{end}");
        }
        // Offsets that do not parse count as not reported.
        let fields = vec![
            ("port", i(7000)),
            ("endpoint", b("h")),
            ("role", b("master")),
            ("replication-offset", b("99999999999999999999999")),
        ];
        let map = one_node_map(fields, "a", false).unwrap();
        assert_eq!(map.shards()[0].primary.replication_offset, 0);
        // Ranges built directly: out of range or backwards are errors, not panics.
        let shard = || Shard { primary: Node::from_addr(addr(7000)), replicas: Vec::new() };
        for range in [(0, 16384), (16384, 16384), (u16::MAX, u16::MAX), (9, 8), (u16::MAX, 0)] {
            assert!(SlotMap::from_ranges(vec![(shard(), vec![range])]).is_err(), "{range:?}");
        }
    }

    fn slot_node(host: Frame, port: i64, id: &str) -> Frame {
        arr(vec![host, i(port), b(id)])
    }

    #[test]
    fn parses_cluster_slots() {
        let meta = Frame::Map(vec![(b("ip"), b("10.0.0.7"))]);
        let reply = arr(vec![
            arr(vec![
                i(0),
                i(5460),
                slot_node(b("127.0.0.1"), 30001, "a1"),
                slot_node(b("127.0.0.1"), 30004, "a2"),
            ]),
            arr(vec![
                i(5461),
                i(10922),
                arr(vec![b("?"), i(30002), b("b1"), meta]),
                arr(vec![Frame::NullBulk, i(30005)]),
            ]),
            arr(vec![i(10923), i(16000), slot_node(b("127.0.0.1"), 30003, "c1")]),
            // A second range of the first primary: same shard.
            arr(vec![
                i(16001),
                i(16383),
                slot_node(b("127.0.0.1"), 30001, "a1"),
                slot_node(b("127.0.0.1"), 30004, "a2"),
            ]),
        ]);
        let map = SlotMap::from_slots(&reply, "seed.example").unwrap();
        assert!(map.is_complete());
        assert_eq!(map.shards().len(), 3);
        assert_eq!(map.primary_for_slot(16383), Some(&addr(30001)));
        assert_eq!(map.shard_index(16383), map.shard_index(0));
        assert_eq!(map.replicas_for_slot(16383).collect::<Vec<_>>(), [&addr(30004)]);
        assert_eq!(map.primary_for_slot(6000), Some(&NodeAddr::new("10.0.0.7", 30002)), "? falls back to ip");
        assert_eq!(
            map.replicas_for_slot(6000).collect::<Vec<_>>(),
            [&NodeAddr::new("seed.example", 30005)],
            "null endpoint means the asked host"
        );
        assert_eq!(map.shard_for_slot(0).unwrap().primary.id.as_deref(), Some("a1"));
        assert_eq!(map.shard_for_slot(6000).unwrap().replicas[0].id, None);
        let primaries: Vec<u16> = map.primaries().map(|a| a.port).collect();
        assert_eq!(primaries, [30001, 30002, 30003]);
    }

    fn three() -> SlotMap {
        SlotMap::from_shards(&three_shards(true), "seed", false).unwrap()
    }

    #[test]
    fn apply_moved_to_a_known_primary() {
        let mut map = three();
        assert!(map.apply_moved(0, addr(30002)));
        assert_eq!(map.primary_for_slot(0), Some(&addr(30002)));
        assert_eq!(map.primary_for_slot(1), Some(&addr(30001)));
        assert_eq!(map.version(), 1);
        assert!(!map.apply_moved(0, addr(30002)), "no change");
        assert_eq!(map.version(), 1);
        assert!(!map.apply_moved(16384, addr(30002)), "out of range");
        assert!(map.is_complete());
        assert_eq!(map.shards().len(), 4);
    }

    #[test]
    fn apply_moved_to_an_unknown_node_adds_a_placeholder() {
        let mut map = three();
        let new = NodeAddr::new("10.9.9.9", 6379);
        assert!(map.apply_moved(42, new.clone()));
        assert_eq!(map.primary_for_slot(42), Some(&new));
        assert_eq!(map.shards().len(), 5);
        assert_eq!(map.shard_for_slot(42).unwrap().primary.id, None);
        assert!(map.primaries().any(|p| *p == new));
        assert!(map.apply_moved(43, new.clone()));
        assert_eq!(map.shards().len(), 5, "the placeholder is reused");
        assert_eq!(map.version(), 2);
        assert!(map.nodes().contains(&&new));
    }

    #[test]
    fn apply_moved_fills_an_unassigned_slot_and_empties_a_shard() {
        let reply = arr(vec![
            shard(true, &[0, 0], vec![node(true, "a", 7000, "h", "master", "online")]),
            shard(true, &[2, 16383], vec![node(true, "b", 7001, "h", "master", "online")]),
        ]);
        let mut map = SlotMap::from_shards(&reply, "s", false).unwrap();
        assert!(!map.is_complete());
        assert!(map.apply_moved(1, NodeAddr::new("h", 7001)));
        assert!(map.is_complete());
        assert!(map.apply_moved(0, NodeAddr::new("h", 7001)));
        assert_eq!(map.primaries().map(|a| a.port).collect::<Vec<_>>(), [7001]);
        assert_eq!(map.assigned_slots(), 16384);
    }

    #[test]
    fn fingerprint_follows_routing_only() {
        let a = three();
        let mut b = three();
        b.shards[0].replicas.clear();
        b.shards[0].primary.id = None;
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert!(a.same_routing(&b));
        let mut c = three();
        c.apply_moved(100, addr(30003));
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert!(!a.same_routing(&c));
    }

    #[test]
    fn consensus_prefers_the_majority() {
        let mut stale = three();
        stale.apply_moved(7, addr(30002));
        let mut views = vec![stale.clone(), three(), three(), stale, three()];
        views[1].shards[0].replicas.clear(); // the first of the majority is returned
        let picked = SlotMap::pick_consensus(views).unwrap();
        assert_eq!(picked.primary_for_slot(7), Some(&addr(30001)));
        assert!(picked.shards()[0].replicas.is_empty());
        assert!(SlotMap::pick_consensus(Vec::new()).is_none());
    }

    #[test]
    fn consensus_ties_prefer_a_complete_view() {
        let partial = {
            let reply =
                arr(vec![shard(true, &[0, 100], vec![node(true, "m", 7000, "h", "master", "online")])]);
            SlotMap::from_shards(&reply, "s", false).unwrap()
        };
        let picked = SlotMap::pick_consensus(vec![partial.clone(), three()]).unwrap();
        assert!(picked.is_complete());
        let picked = SlotMap::pick_consensus(vec![three(), partial]).unwrap();
        assert!(picked.is_complete());
    }

    #[test]
    fn from_ranges_builds_and_checks() {
        let shard = |port| Shard { primary: Node::from_addr(addr(port)), replicas: Vec::new() };
        let map =
            SlotMap::from_ranges(vec![(shard(1), vec![(0, 99), (200, 16383)]), (shard(2), vec![(100, 199)])])
                .unwrap();
        assert!(map.is_complete());
        assert_eq!(map.primary_for_slot(150), Some(&addr(2)));
        assert_eq!(map.primary_for_slot(99), Some(&addr(1)));
        assert!(SlotMap::from_ranges(vec![(shard(1), vec![(0, 16384)])]).is_err());
        assert!(SlotMap::from_ranges(vec![(shard(1), vec![(0, 5)]), (shard(2), vec![(5, 6)])]).is_err());
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        /// Frames shaped roughly like topology replies: the right field names,
        /// numbers near the slot bounds, nesting, and garbage.
        fn frame() -> impl Strategy<Value = Frame> {
            let leaf = prop_oneof![
                prop::sample::select(vec![
                    "slots",
                    "nodes",
                    "id",
                    "port",
                    "tls-port",
                    "ip",
                    "endpoint",
                    "role",
                    "master",
                    "replica",
                    "health",
                    "online",
                    "failed",
                    "replication-offset",
                    "?",
                    "",
                    "h",
                    "0",
                    "16383",
                ])
                .prop_map(b),
                prop::sample::select(vec![-1i64, 0, 1, 100, 5460, 16383, 16384, 65535, 65536, i64::MAX])
                    .prop_map(i),
                Just(Frame::Null),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..8).prop_map(Frame::Array),
                    prop::collection::vec((inner.clone(), inner), 0..5).prop_map(Frame::Map),
                ]
            })
        }

        proptest! {
            /// Hostile or broken replies give a map or an error, never a panic,
            /// and a map never points a slot at a shard that does not exist.
            #[test]
            fn parsing_never_panics(reply in frame()) {
                for map in [SlotMap::from_shards(&reply, "a", false), SlotMap::from_slots(&reply, "a")].into_iter().flatten() {
                    for slot in 0..SLOTS {
                        if let Some(index) = map.shard_index(slot) {
                            prop_assert!(index < map.shards().len());
                        }
                    }
                    prop_assert_eq!(map.assigned_slots(), (0..SLOTS).filter(|&s| map.shard_index(s).is_some()).count());
                }
            }

            /// A stream of redirects keeps the per-shard counts true.
            #[test]
            fn moved_keeps_counts(moves in prop::collection::vec((0u16..16400, 30000u16..30010), 0..50)) {
                let mut map = three();
                for (slot, port) in moves {
                    map.apply_moved(slot, addr(port));
                }
                for (index, &owned) in map.owned.iter().enumerate() {
                    let counted = (0..SLOTS).filter(|&s| map.shard_index(s) == Some(index)).count();
                    prop_assert_eq!(owned as usize, counted);
                }
                prop_assert!(map.is_complete());
            }
        }
    }

    #[test]
    fn debug_is_short() {
        let shown = format!("{:?}", three());
        assert!(shown.contains("0-5460: 127.0.0.1:30001"), "{shown}");
        assert!(shown.len() < 4000, "{}", shown.len());
    }
}
