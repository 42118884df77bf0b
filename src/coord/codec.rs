//! The wire format of coordination messages: one message carries a batch of
//! events from one node.
//!
//! ```text
//! message = version:u8  sender:u64 (big-endian)  event*
//! event   = kind:u8  length:varint  body[length]
//! ```
//!
//! Integers in bodies are LEB128 varints (signed ones zigzag-encoded),
//! strings and byte strings a varint length then the bytes, an option a
//! 0/1 byte then the value. Why this shape:
//!
//! - **The version byte** changes only when the framing itself changes; a
//!   node refuses a version it does not know ([`DecodeError::UnsupportedVersion`]).
//! - **Length-prefixed events with a kind tag**: a node skips kinds it does
//!   not know (counted in [`Batch::unknown`]) and still gets the rest of the
//!   batch, so new kinds can be added without a version change.
//! - **Trailing bytes in a body are ignored**, so a later version may append
//!   fields to an event and old nodes still read the fields they know.
//! - **The sender's id** lets a node skip its own messages.
//!
//! Decoding never panics and never allocates more than the input's size:
//! every length is checked against the bytes that are left. Not here: the
//! events themselves (`event`), batching and sending (`Coordinator`).
//!
//! Pure: no IO.

use bytes::{BufMut, Bytes, BytesMut};

use super::event::{tag, CacheKind, DataTypes, Event, NodeId, ObjectId, ObjectType};

/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Most events the coordinator puts in one message.
pub const MAX_BATCH: usize = 100;
/// Most events accepted in one message (a peer may batch more than we do).
pub(super) const MAX_DECODED_EVENTS: usize = 65_536;

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Who sent it.
    pub sender: NodeId,
    /// The events of known kinds, in order.
    pub events: Vec<Event>,
    /// Events of kinds this version does not know, skipped.
    pub unknown: u32,
}

/// Why a message could not be read. The message is dropped as a whole; the
/// receiver keeps running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message is empty.
    #[error("empty coordination message")]
    Empty,
    /// Written by a version whose framing this one does not know.
    #[error("coordination message format {0} is not supported (this node reads {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    /// The message ends inside `what`.
    #[error("coordination message truncated in {what}")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// An event of a known kind holds a value that cannot be right.
    #[error("coordination event of kind {kind}: {what}")]
    Invalid {
        /// The event's kind tag.
        kind: u8,
        /// What is wrong.
        what: &'static str,
    },
    /// More events than any sender would batch.
    #[error("coordination message with more events than allowed")]
    TooManyEvents,
    /// An event kind the format has no length for, so the rest cannot be read
    /// (Stalwart's format, which does not frame its events).
    #[error("coordination event of unknown kind {0}")]
    UnknownKind(u8),
    /// A sender id out of the format's range (Stalwart's node ids are 16-bit).
    #[error("coordination message with a sender id out of range")]
    BadSender,
}

// ----- encoding -----

pub(super) fn put_varint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

pub(super) fn put_bytes(out: &mut BytesMut, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.put_slice(b);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_body(out: &mut BytesMut, event: &Event) {
    match event {
        Event::StateChange { account_id, change_id, types } => {
            put_varint(out, u64::from(*account_id));
            put_varint(out, *change_id);
            put_varint(out, types.0);
        }
        Event::EmailPush { account_id, email_id, change_id } => {
            put_varint(out, u64::from(*account_id));
            put_varint(out, u64::from(*email_id));
            put_varint(out, *change_id);
        }
        Event::CalendarAlert { account_id, event_id, recurrence_id, uid, alert_id } => {
            put_varint(out, u64::from(*account_id));
            put_varint(out, u64::from(*event_id));
            match recurrence_id {
                Some(r) => {
                    out.put_u8(1);
                    put_varint(out, zigzag(*r));
                }
                None => out.put_u8(0),
            }
            put_bytes(out, uid.as_bytes());
            put_bytes(out, alert_id.as_bytes());
        }
        Event::PushServerUpdate { account_id } => put_varint(out, u64::from(*account_id)),
        Event::RegistryInsert(object) | Event::RegistryDelete(object) => {
            put_varint(out, u64::from(object.object_type.0));
            put_bytes(out, &object.id);
        }
        Event::RegistryReload(object_type) => put_varint(out, u64::from(object_type.0)),
        Event::CacheInvalidate { kind, ids } => {
            put_varint(out, u64::from(kind.0));
            put_varint(out, ids.len() as u64);
            for id in ids {
                put_varint(out, *id);
            }
        }
        Event::CacheInvalidateAll(kind) | Event::CacheInvalidateNegative(kind) => {
            put_varint(out, u64::from(kind.0))
        }
        Event::QueueStatus { paused } => out.put_u8(u8::from(*paused)),
        Event::QueueRefresh => {}
        Event::Application { kind, payload } => {
            put_varint(out, u64::from(*kind));
            put_bytes(out, payload);
        }
    }
}

/// Encodes one message from `sender` carrying `events` (the caller keeps
/// batches to [`MAX_BATCH`]).
pub fn encode(sender: NodeId, events: &[Event]) -> Bytes {
    let mut out = BytesMut::with_capacity(9 + events.len() * 16);
    out.put_u8(FORMAT_VERSION);
    out.put_u64(sender.0);
    let mut body = BytesMut::new();
    for event in events {
        body.clear();
        put_body(&mut body, event);
        out.put_u8(event.kind());
        put_varint(&mut out, body.len() as u64);
        out.put_slice(&body);
    }
    out.freeze()
}

// ----- decoding -----

/// Reads fields from a slice of the message; every read is bounds-checked.
pub(super) struct Reader<'a> {
    pub(super) data: &'a Bytes,
    pub(super) pos: usize,
    pub(super) end: usize,
    /// The event kind being read, for error messages.
    pub(super) kind: u8,
}

impl<'a> Reader<'a> {
    pub(super) fn left(&self) -> usize {
        self.end - self.pos
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let b = *self
            .data
            .get(self.pos)
            .filter(|_| self.pos < self.end)
            .ok_or(DecodeError::Truncated { what })?;
        self.pos += 1;
        Ok(b)
    }

    pub(super) fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            let bits = u64::from(b & 0x7f);
            // The tenth byte may hold only the top bit of a u64.
            if shift == 63 && bits > 1 {
                return Err(DecodeError::Invalid { kind: self.kind, what: "a number larger than 64 bits" });
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid { kind: self.kind, what: "a number larger than 64 bits" })
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let v = self.varint(what)?;
        u32::try_from(v)
            .map_err(|_| DecodeError::Invalid { kind: self.kind, what: "a 32-bit id out of range" })
    }

    pub(super) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let v = self.varint(what)?;
        u16::try_from(v)
            .map_err(|_| DecodeError::Invalid { kind: self.kind, what: "a 16-bit type out of range" })
    }

    pub(super) fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid { kind: self.kind, what: "a flag that is neither 0 nor 1" }),
        }
    }

    /// A length that fits in what is left, `per_item` bytes at least per item.
    pub(super) fn len(&mut self, what: &'static str, per_item: usize) -> Result<usize, DecodeError> {
        let n = self.varint(what)?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(per_item) <= self.left() => Ok(n),
            _ => Err(DecodeError::Truncated { what }),
        }
    }

    pub(super) fn bytes(&mut self, what: &'static str) -> Result<Bytes, DecodeError> {
        let n = self.len(what, 1)?;
        let b = self.data.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    pub(super) fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let b = self.bytes(what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| DecodeError::Invalid { kind: self.kind, what: "text that is not UTF-8" })
    }

    fn object(&mut self) -> Result<ObjectId, DecodeError> {
        Ok(ObjectId { object_type: ObjectType(self.u16("an object type")?), id: self.bytes("an object id")? })
    }
}

/// Reads the body of a known kind; `None` for an unknown kind.
fn read_body(r: &mut Reader<'_>) -> Result<Option<Event>, DecodeError> {
    let event = match r.kind {
        tag::STATE_CHANGE => Event::StateChange {
            account_id: r.u32("an account id")?,
            change_id: r.varint("a change id")?,
            types: DataTypes(r.varint("the changed types")?),
        },
        tag::EMAIL_PUSH => Event::EmailPush {
            account_id: r.u32("an account id")?,
            email_id: r.u32("an email id")?,
            change_id: r.varint("a change id")?,
        },
        tag::CALENDAR_ALERT => Event::CalendarAlert {
            account_id: r.u32("an account id")?,
            event_id: r.u32("an event id")?,
            recurrence_id: if r.bool("a recurrence flag")? {
                Some(unzigzag(r.varint("a recurrence id")?))
            } else {
                None
            },
            uid: r.string("a calendar UID")?,
            alert_id: r.string("an alert id")?,
        },
        tag::PUSH_SERVER_UPDATE => Event::PushServerUpdate { account_id: r.u32("an account id")? },
        tag::REGISTRY_INSERT => Event::RegistryInsert(r.object()?),
        tag::REGISTRY_DELETE => Event::RegistryDelete(r.object()?),
        tag::REGISTRY_RELOAD => Event::RegistryReload(ObjectType(r.u16("an object type")?)),
        tag::CACHE_INVALIDATE => {
            let kind = CacheKind(r.u16("a cache kind")?);
            let n = r.len("cache ids", 1)?;
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                ids.push(r.varint("a cache id")?);
            }
            Event::CacheInvalidate { kind, ids }
        }
        tag::CACHE_INVALIDATE_ALL => Event::CacheInvalidateAll(CacheKind(r.u16("a cache kind")?)),
        tag::CACHE_INVALIDATE_NEGATIVE => Event::CacheInvalidateNegative(CacheKind(r.u16("a cache kind")?)),
        tag::QUEUE_STATUS => Event::QueueStatus { paused: r.bool("the paused flag")? },
        tag::QUEUE_REFRESH => Event::QueueRefresh,
        tag::APPLICATION => {
            Event::Application { kind: r.u32("an application kind")?, payload: r.bytes("a payload")? }
        }
        _ => return Ok(None),
    };
    Ok(Some(event))
}

/// Decodes one message.
///
/// # Errors
/// A [`DecodeError`] for anything but a well-formed message of a known
/// format version; events of unknown kinds are skipped, not errors.
pub fn decode(payload: &Bytes) -> Result<Batch, DecodeError> {
    let mut r = Reader { data: payload, pos: 0, end: payload.len(), kind: 0 };
    let version = r.u8("the version").map_err(|_| DecodeError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let mut sender = [0u8; 8];
    for b in &mut sender {
        *b = r.u8("the sender id")?;
    }
    let sender = NodeId(u64::from_be_bytes(sender));
    let mut events = Vec::new();
    let mut unknown = 0u32;
    while r.left() > 0 {
        if events.len() + unknown as usize >= MAX_DECODED_EVENTS {
            return Err(DecodeError::TooManyEvents);
        }
        r.kind = r.u8("an event kind")?;
        let len = r.len("an event", 1)?;
        let mut body = Reader { data: payload, pos: r.pos, end: r.pos + len, kind: r.kind };
        r.pos += len;
        match read_body(&mut body)? {
            Some(event) => events.push(event),
            None => unknown = unknown.saturating_add(1),
        }
    }
    Ok(Batch { sender, events, unknown })
}

#[cfg(test)]
mod tests;
