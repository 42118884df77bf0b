//! The pure parsers of the two topology replies: `CLUSTER SHARDS` (RESP3 maps
//! or RESP2 flat arrays; Valkey and Redis 7.0+) and, for older servers,
//! `CLUSTER SLOTS`, each into a [`SlotMap`].
//!
//! Lives here: [`SlotMap::from_shards`], [`SlotMap::from_slots`] and the
//! field readers they share. Not here: the map itself (`topology`) or asking
//! a node (`route::fetch`, which picks between the two).
//!
//! A node's host is its `endpoint`; an endpoint of `?` (a hostname was asked
//! for but none is set) falls back to the node's `ip`; an empty or null
//! endpoint means "the host you asked", which the caller passes as
//! `asked_host` (nodes behind a load balancer, or a node that does not know
//! its own address yet).
//!
//! Pure: no async runtime, no sockets, no clock.

use std::sync::Arc;

use crate::error::{Error, NodeAddr};
use crate::resp::Frame;

use super::{malformed, Builder, Health, Node, Shard, SlotMap, SLOTS};

/// The reply without attributes; an error reply is returned as [`Error::Server`].
fn checked(frame: &Frame) -> Result<&Frame, Error> {
    match frame.server_error() {
        Some(e) => Err(Error::Server(e.clone())),
        None => Ok(frame.value()),
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
    pub(crate) fn from_shards(reply: &Frame, asked_host: &str, tls: bool) -> Result<SlotMap, Error> {
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
    pub(crate) fn from_slots(reply: &Frame, asked_host: &str) -> Result<SlotMap, Error> {
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
