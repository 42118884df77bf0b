//! Stalwart 0.16's coordination format, spoken on its channel
//! [`STALWART_CHANNEL`] so redwire nodes and old Stalwart nodes hear each other.
//!
//! ```text
//! message = sender:leb128(u16)  event{0,100}
//! event   = tag:u8  fields
//! ```
//!
//! Integers are unsigned LEB128, strings `leb128(len) ‖ bytes`. Events are
//! not length-prefixed, so an unknown tag ends the reading: the message is
//! dropped ([`DecodeError::UnknownKind`]), as Stalwart's own reader does.
//!
//! | tag | Stalwart event | fields | redwire [`Event`] |
//! |---|---|---|---|
//! | 0 | StateChange | change_id, types (u64 bitmap), account_id | `StateChange` |
//! | 1 | CalendarAlert | account_id, event_id, recurrence_id (0 = none), uid (string), alert_id (string) | `CalendarAlert` |
//! | 2 | EmailPush | account_id, email_id, change_id | `EmailPush` |
//! | 3 | PushServerUpdate | account_id | `PushServerUpdate` |
//! | 4 / 5 | RegistryChange Insert / Delete | object type id, item id (u64) | `RegistryInsert` / `RegistryDelete` |
//! | 6 | RegistryChange Reload | object type id | `RegistryReload` |
//! | 7 | CacheInvalidate | count, then per entry marker u8 + id u32 (marker 10: two u32) | `CacheInvalidate` per run of one marker |
//! | 8 | CacheInvalidateAll | — | `CacheInvalidateAll(CacheKind::ALL)` |
//! | 9 | CacheInvalidateNegative | — | `CacheInvalidateNegative(CacheKind::ALL)` |
//! | 10 / 11 | MtaQueueStatus running true / false | — | `QueueStatus { paused: false / true }` |
//! | 12 | QueueRefresh | — | `QueueRefresh` |
//!
//! How redwire's events map where the two models differ:
//!
//! * **Sender**: Stalwart node ids are `u16`; [`NodeId`] `n` is written as
//!   `n` and must fit.
//! * **CalendarAlert**: `recurrence_id` travels as the u64 of its two's
//!   complement (`-1` is ten LEB128 bytes), `0` meaning none, so `Some(0)`
//!   arrives as `None`. `uid` and `alert_id` are strings.
//! * **Registry**: the object type id is [`ObjectType`]'s number (Stalwart's
//!   own ids, which fit 16 bits); the item id, a u64 on the wire, is the
//!   [`ObjectId::id`] written in decimal ASCII (`"42"`), without leading
//!   zeros when decoded.
//! * **Caches**: [`CacheKind`] `n` is Stalwart's marker byte `n` (so 0 to
//!   255). One Stalwart event lists entries of several markers; it is
//!   delivered as one `CacheInvalidate` per run of entries with the same
//!   marker, in order. Ids are `u32`, except under marker 10 whose entries
//!   hold two `u32`s, carried as one id `first << 32 | second`. An empty
//!   `CacheInvalidate` is not sent (nothing to say).
//! * **Invalidate all / negative** have no kind in Stalwart's format: any
//!   kind is sent as "every cache" (a superset, which is safe for a cache),
//!   and they arrive as [`CacheKind::ALL`].
//! * **Application** events have no Stalwart form: [`encode_stalwart`] and
//!   [`check_stalwart`] refuse them ([`EncodeError`]).
//!
//! Bounds: at most [`STALWART_MAX_EVENTS`] events per message when encoding
//! (longer lists are split into several messages) and when decoding (a
//! message with more is refused); every declared length is checked against
//! the bytes left before anything is read, and nothing is allocated from a
//! declared length. Not here: the redwire format (`codec`), sending (`Coordinator`).
//!
//! Pure: no IO.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{put_bytes, put_varint, Batch, DecodeError, Reader};
use super::event::{CacheKind, DataTypes, Event, NodeId, ObjectId, ObjectType};

/// The channel Stalwart's nodes publish and subscribe on.
pub const STALWART_CHANNEL: &str = "stwt.agora";
/// Most events in one Stalwart message.
pub const STALWART_MAX_EVENTS: usize = 100;
/// The cache marker whose entries hold two `u32`s.
pub const PAIR_MARKER: u8 = 10;

/// Tags of Stalwart's events.
mod tag {
    pub const STATE_CHANGE: u8 = 0;
    pub const CALENDAR_ALERT: u8 = 1;
    pub const EMAIL_PUSH: u8 = 2;
    pub const PUSH_SERVER_UPDATE: u8 = 3;
    pub const REGISTRY_INSERT: u8 = 4;
    pub const REGISTRY_DELETE: u8 = 5;
    pub const REGISTRY_RELOAD: u8 = 6;
    pub const CACHE_INVALIDATE: u8 = 7;
    pub const CACHE_INVALIDATE_ALL: u8 = 8;
    pub const CACHE_INVALIDATE_NEGATIVE: u8 = 9;
    pub const QUEUE_RUNNING: u8 = 10;
    pub const QUEUE_STOPPED: u8 = 11;
    pub const QUEUE_REFRESH: u8 = 12;
}

/// Why an event or sender cannot be written in Stalwart's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The sender's id does not fit Stalwart's 16-bit node ids.
    #[error("node id {} does not fit Stalwart's 16-bit node ids", .0.0)]
    SenderOutOfRange(NodeId),
    /// The event has no Stalwart form, or a field out of its range.
    #[error("event of kind {kind} cannot be sent in Stalwart's format: {what}")]
    Unrepresentable {
        /// redwire's kind tag of the event ([`Event::kind`]).
        kind: u8,
        /// What does not fit.
        what: &'static str,
    },
}

fn unrepresentable(event: &Event, what: &'static str) -> EncodeError {
    EncodeError::Unrepresentable { kind: event.kind(), what }
}

/// The Stalwart node id of `node`.
///
/// # Errors
/// [`EncodeError::SenderOutOfRange`] above 65535.
pub fn stalwart_node_id(node: NodeId) -> Result<u16, EncodeError> {
    u16::try_from(node.0).map_err(|_| EncodeError::SenderOutOfRange(node))
}

/// Appends `event`; `Ok(false)` when it has nothing to say (an empty
/// invalidation) and wrote nothing.
fn put_event(out: &mut BytesMut, event: &Event) -> Result<bool, EncodeError> {
    match event {
        Event::StateChange { account_id, change_id, types } => {
            out.put_u8(tag::STATE_CHANGE);
            put_varint(out, *change_id);
            put_varint(out, types.0);
            put_varint(out, u64::from(*account_id));
        }
        Event::CalendarAlert { account_id, event_id, recurrence_id, uid, alert_id } => {
            out.put_u8(tag::CALENDAR_ALERT);
            put_varint(out, u64::from(*account_id));
            put_varint(out, u64::from(*event_id));
            // Two's complement, as Stalwart writes its i64; 0 is "none".
            put_varint(out, recurrence_id.map_or(0, |r| r as u64));
            put_bytes(out, uid.as_bytes());
            put_bytes(out, alert_id.as_bytes());
        }
        Event::EmailPush { account_id, email_id, change_id } => {
            out.put_u8(tag::EMAIL_PUSH);
            put_varint(out, u64::from(*account_id));
            put_varint(out, u64::from(*email_id));
            put_varint(out, *change_id);
        }
        Event::PushServerUpdate { account_id } => {
            out.put_u8(tag::PUSH_SERVER_UPDATE);
            put_varint(out, u64::from(*account_id));
        }
        Event::RegistryInsert(object) | Event::RegistryDelete(object) => {
            let id = std::str::from_utf8(&object.id)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| unrepresentable(event, "the object id must be a u64 in decimal"))?;
            let insert = matches!(event, Event::RegistryInsert(_));
            out.put_u8(if insert { tag::REGISTRY_INSERT } else { tag::REGISTRY_DELETE });
            put_varint(out, u64::from(object.object_type.0));
            put_varint(out, id);
        }
        Event::RegistryReload(object_type) => {
            out.put_u8(tag::REGISTRY_RELOAD);
            put_varint(out, u64::from(object_type.0));
        }
        Event::CacheInvalidate { kind, ids } => {
            let marker = u8::try_from(kind.0)
                .map_err(|_| unrepresentable(event, "a cache kind above 255 has no Stalwart marker"))?;
            if ids.is_empty() {
                return Ok(false);
            }
            if marker != PAIR_MARKER && ids.iter().any(|&id| id > u64::from(u32::MAX)) {
                return Err(unrepresentable(event, "a cache id above u32 (only marker 10 holds two)"));
            }
            out.put_u8(tag::CACHE_INVALIDATE);
            put_varint(out, ids.len() as u64);
            for &id in ids {
                out.put_u8(marker);
                if marker == PAIR_MARKER {
                    put_varint(out, id >> 32);
                    put_varint(out, id & u64::from(u32::MAX));
                } else {
                    put_varint(out, id);
                }
            }
        }
        Event::CacheInvalidateAll(_) => out.put_u8(tag::CACHE_INVALIDATE_ALL),
        Event::CacheInvalidateNegative(_) => out.put_u8(tag::CACHE_INVALIDATE_NEGATIVE),
        Event::QueueStatus { paused } => {
            out.put_u8(if *paused { tag::QUEUE_STOPPED } else { tag::QUEUE_RUNNING })
        }
        Event::QueueRefresh => out.put_u8(tag::QUEUE_REFRESH),
        Event::Application { .. } => {
            return Err(unrepresentable(event, "application events have no Stalwart form"))
        }
    }
    Ok(true)
}

/// Checks that `event` can be sent in Stalwart's format.
///
/// # Errors
/// [`EncodeError::Unrepresentable`] naming what does not fit.
pub fn check_stalwart(event: &Event) -> Result<(), EncodeError> {
    put_event(&mut BytesMut::new(), event).map(|_| ())
}

/// Encodes `events` from `sender` as Stalwart messages of at most
/// [`STALWART_MAX_EVENTS`] events each, in order; no message for no events.
///
/// # Errors
/// An [`EncodeError`] for a sender or event Stalwart's format cannot carry;
/// nothing is returned then.
pub fn encode_stalwart(sender: NodeId, events: &[Event]) -> Result<Vec<Bytes>, EncodeError> {
    let node = stalwart_node_id(sender)?;
    let mut messages = Vec::with_capacity(events.len().div_ceil(STALWART_MAX_EVENTS));
    let mut out = BytesMut::new();
    let mut scratch = BytesMut::new();
    let mut in_message = 0usize;
    for event in events {
        scratch.clear();
        if !put_event(&mut scratch, event)? {
            continue;
        }
        if in_message == 0 {
            put_varint(&mut out, u64::from(node));
        }
        out.extend_from_slice(&scratch);
        in_message += 1;
        if in_message == STALWART_MAX_EVENTS {
            messages.push(out.split().freeze());
            in_message = 0;
        }
    }
    if in_message > 0 {
        messages.push(out.split().freeze());
    }
    Ok(messages)
}

/// Decodes one Stalwart message.
///
/// # Errors
/// A [`DecodeError`] for anything but a well-formed message of at most
/// [`STALWART_MAX_EVENTS`] known events; the whole message is refused.
pub fn decode_stalwart(payload: &Bytes) -> Result<Batch, DecodeError> {
    if payload.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut r = Reader { data: payload, pos: 0, end: payload.len(), kind: 0 };
    let sender = r.varint("the sender id")?;
    let sender = u16::try_from(sender).map_err(|_| DecodeError::BadSender)?;
    let mut events = Vec::new();
    let mut read = 0usize;
    while r.left() > 0 {
        if read == STALWART_MAX_EVENTS {
            return Err(DecodeError::TooManyEvents);
        }
        read += 1;
        r.kind = r.u8("an event kind")?;
        read_event(&mut r, &mut events)?;
    }
    Ok(Batch { sender: NodeId(u64::from(sender)), events, unknown: 0 })
}

/// Reads the fields of the event whose tag is `r.kind`, appending what it means.
fn read_event(r: &mut Reader<'_>, events: &mut Vec<Event>) -> Result<(), DecodeError> {
    let event = match r.kind {
        tag::STATE_CHANGE => {
            let change_id = r.varint("a change id")?;
            let types = DataTypes(r.varint("the changed types")?);
            Event::StateChange { account_id: r.u32("an account id")?, change_id, types }
        }
        tag::CALENDAR_ALERT => Event::CalendarAlert {
            account_id: r.u32("an account id")?,
            event_id: r.u32("an event id")?,
            recurrence_id: match r.varint("a recurrence id")? {
                0 => None,
                // Stalwart's i64, written as its two's complement.
                r => Some(r as i64),
            },
            uid: r.string("a calendar UID")?,
            alert_id: r.string("an alert id")?,
        },
        tag::EMAIL_PUSH => Event::EmailPush {
            account_id: r.u32("an account id")?,
            email_id: r.u32("an email id")?,
            change_id: r.varint("a change id")?,
        },
        tag::PUSH_SERVER_UPDATE => Event::PushServerUpdate { account_id: r.u32("an account id")? },
        tag::REGISTRY_INSERT | tag::REGISTRY_DELETE => {
            let object_type = ObjectType(r.u16("an object type")?);
            let id = r.varint("an object id")?;
            let object = ObjectId { object_type, id: Bytes::from(id.to_string()) };
            if r.kind == tag::REGISTRY_INSERT {
                Event::RegistryInsert(object)
            } else {
                Event::RegistryDelete(object)
            }
        }
        tag::REGISTRY_RELOAD => Event::RegistryReload(ObjectType(r.u16("an object type")?)),
        tag::CACHE_INVALIDATE => return read_invalidations(r, events),
        tag::CACHE_INVALIDATE_ALL => Event::CacheInvalidateAll(CacheKind::ALL),
        tag::CACHE_INVALIDATE_NEGATIVE => Event::CacheInvalidateNegative(CacheKind::ALL),
        tag::QUEUE_RUNNING => Event::QueueStatus { paused: false },
        tag::QUEUE_STOPPED => Event::QueueStatus { paused: true },
        tag::QUEUE_REFRESH => Event::QueueRefresh,
        other => return Err(DecodeError::UnknownKind(other)),
    };
    events.push(event);
    Ok(())
}

/// A CacheInvalidate: one event per run of entries with the same marker.
fn read_invalidations(r: &mut Reader<'_>, events: &mut Vec<Event>) -> Result<(), DecodeError> {
    // Each entry is at least two bytes (marker, one-byte id): the count is
    // checked against what is left before anything is read.
    let count = r.len("cache entries", 2)?;
    let mut run: Option<(u8, Vec<u64>)> = None;
    for _ in 0..count {
        let marker = r.u8("a cache marker")?;
        let mut id = u64::from(r.u32("a cache id")?);
        if marker == PAIR_MARKER {
            id = (id << 32) | u64::from(r.u32("a cache id")?);
        }
        match &mut run {
            Some((m, ids)) if *m == marker => ids.push(id),
            _ => {
                if let Some((m, ids)) = run.replace((marker, vec![id])) {
                    events.push(Event::CacheInvalidate { kind: CacheKind(u16::from(m)), ids });
                }
            }
        }
    }
    if let Some((m, ids)) = run {
        events.push(Event::CacheInvalidate { kind: CacheKind(u16::from(m)), ids });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
