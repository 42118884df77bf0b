//! Typed replies of the stream commands: entries ([`StreamEntry`]), what
//! `XREAD`/`XREADGROUP` return ([`StreamRead`]), pending summaries and
//! entries, `XAUTOCLAIM`'s page, and `XINFO` as structs.
//!
//! Every type converts from RESP2 and RESP3 alike: RESP2 sends maps as flat
//! arrays, RESP3 as maps (`XREAD`'s reply is keyed by stream name).
//! `XINFO` replies become structs of the fields a caller acts on; fields a
//! server adds later are ignored rather than failing the conversion.
//! Pure: no IO. Not here: the commands (`streams`).

use bytes::Bytes;

use super::reply_shape::{array, array_or_null, checked, exact, pairs};
use crate::cmd::FromReply;
use crate::error::Error;
use crate::resp::Frame;

/// One stream entry: its id and its field/value pairs in order.
///
/// An entry deleted while still pending (seen by `XREADGROUP` reading its
/// history, `XCLAIM`) comes back with no fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// The entry id, `ms-seq`.
    pub id: Bytes,
    /// Field/value pairs.
    pub fields: Vec<(Bytes, Bytes)>,
}

impl StreamEntry {
    /// The value of the first field named `name`.
    pub fn get(&self, name: &[u8]) -> Option<&Bytes> {
        self.fields.iter().find(|(f, _)| f.as_ref() == name).map(|(_, v)| v)
    }
}

impl FromReply for StreamEntry {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let items = array(frame, "a stream entry")?;
        let [id, fields] = exact::<2>(items, "a stream entry")?;
        let fields = pairs(fields, "entry fields")?
            .into_iter()
            .map(|(k, v)| Ok((Bytes::from_reply(k)?, Bytes::from_reply(v)?)))
            .collect::<Result<_, Error>>()?;
        Ok(StreamEntry { id: Bytes::from_reply(id)?, fields })
    }
}

/// What `XREAD`/`XREADGROUP` return: for each stream with news, its key and
/// its entries, in the server's order. Empty when a `BLOCK` timed out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamRead(pub Vec<(Bytes, Vec<StreamEntry>)>);

impl StreamRead {
    /// The entries read from `key` (empty when none).
    pub fn entries(&self, key: &[u8]) -> &[StreamEntry] {
        self.0.iter().find(|(k, _)| k.as_ref() == key).map_or(&[], |(_, e)| e.as_slice())
    }

    /// True when nothing was read.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|(_, e)| e.is_empty())
    }

    /// The streams and their entries.
    pub fn into_inner(self) -> Vec<(Bytes, Vec<StreamEntry>)> {
        self.0
    }
}

impl FromReply for StreamRead {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let per_stream = match checked(frame)? {
            // RESP3: a map of stream name to entries.
            Frame::Map(pairs) => pairs,
            // RESP2: an array of [name, entries].
            Frame::Array(items) => items
                .into_iter()
                .map(|item| {
                    let [k, v] =
                        exact::<2>(array(item, "a stream and its entries")?, "a stream and its entries")?;
                    Ok((k, v))
                })
                .collect::<Result<_, Error>>()?,
            f if f.is_null() => Vec::new(),
            other => return super::reply_shape::mismatch("streams and entries", &other),
        };
        let streams = per_stream
            .into_iter()
            .map(|(k, v)| Ok((Bytes::from_reply(k)?, Vec::<StreamEntry>::from_reply(v)?)))
            .collect::<Result<_, Error>>()?;
        Ok(StreamRead(streams))
    }
}

impl IntoIterator for StreamRead {
    type Item = (Bytes, Vec<StreamEntry>);
    type IntoIter = std::vec::IntoIter<(Bytes, Vec<StreamEntry>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// `XPENDING key group`: how many entries are pending, their id range, and
/// how many each consumer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    /// Entries delivered and not acknowledged.
    pub count: u64,
    /// The lowest pending id (`None` when nothing is pending).
    pub min_id: Option<Bytes>,
    /// The highest pending id.
    pub max_id: Option<Bytes>,
    /// Consumers with pending entries and their counts.
    pub consumers: Vec<(Bytes, u64)>,
}

impl FromReply for PendingSummary {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let [count, min_id, max_id, consumers] =
            exact::<4>(array(frame, "a pending summary")?, "a pending summary")?;
        Ok(PendingSummary {
            count: u64::from_reply(count)?,
            min_id: Option::from_reply(min_id)?,
            max_id: Option::from_reply(max_id)?,
            consumers: array(consumers, "pending consumers")?
                .into_iter()
                .map(<(Bytes, u64)>::from_reply)
                .collect::<Result<_, Error>>()?,
        })
    }
}

/// One entry of `XPENDING key group [IDLE ms] start end count [consumer]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    /// The entry id.
    pub id: Bytes,
    /// The consumer holding it.
    pub consumer: Bytes,
    /// Milliseconds since it was last delivered.
    pub idle_ms: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
}

impl FromReply for PendingEntry {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let [id, consumer, idle, deliveries] =
            exact::<4>(array(frame, "a pending entry")?, "a pending entry")?;
        Ok(PendingEntry {
            id: Bytes::from_reply(id)?,
            consumer: Bytes::from_reply(consumer)?,
            idle_ms: u64::from_reply(idle)?,
            deliveries: u64::from_reply(deliveries)?,
        })
    }
}

/// One page of `XAUTOCLAIM`: where to continue, what was claimed, and the
/// ids that were pending but no longer exist (removed from the PEL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoClaim {
    /// The start id of the next call; `0-0` when the scan is complete.
    pub next: Bytes,
    /// The entries now owned by the caller's consumer.
    pub claimed: Vec<StreamEntry>,
    /// Pending ids whose entries were deleted.
    pub deleted: Vec<Bytes>,
}

impl FromReply for AutoClaim {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let items = array(frame, "an XAUTOCLAIM page")?;
        let n = items.len();
        let mut it = items.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(next), Some(claimed), deleted) if n <= 3 => Ok(AutoClaim {
                next: Bytes::from_reply(next)?,
                claimed: Vec::from_reply(claimed)?,
                deleted: deleted.map(Vec::from_reply).transpose()?.unwrap_or_default(),
            }),
            _ => Err(Error::Type { expected: "an XAUTOCLAIM page", got: format!("array of {n}") }),
        }
    }
}

/// Field name and value pairs of an `XINFO` reply, keys as text.
fn info_fields(frame: Frame, expected: &'static str) -> Result<Vec<(Bytes, Frame)>, Error> {
    pairs(frame, expected)?.into_iter().map(|(k, v)| Ok((Bytes::from_reply(k)?, v))).collect()
}

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, Error> {
    value.ok_or(Error::Type { expected: field, got: "a reply without it".into() })
}

/// `XINFO STREAM key`: the stream's size, ids and ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// `length`: the number of entries.
    pub length: u64,
    /// `last-generated-id`.
    pub last_generated_id: Bytes,
    /// `max-deleted-entry-id` (servers 7.0 and later).
    pub max_deleted_entry_id: Option<Bytes>,
    /// `entries-added`: entries added over the stream's life (7.0+).
    pub entries_added: Option<u64>,
    /// `recorded-first-entry-id` (7.0+).
    pub recorded_first_entry_id: Option<Bytes>,
    /// `groups`: the number of consumer groups.
    pub groups: u64,
    /// `first-entry`, `None` when the stream is empty.
    pub first_entry: Option<StreamEntry>,
    /// `last-entry`, `None` when the stream is empty.
    pub last_entry: Option<StreamEntry>,
}

impl FromReply for StreamInfo {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let (mut length, mut last_id, mut groups) = (None, None, None);
        let mut info = StreamInfo {
            length: 0,
            last_generated_id: Bytes::new(),
            max_deleted_entry_id: None,
            entries_added: None,
            recorded_first_entry_id: None,
            groups: 0,
            first_entry: None,
            last_entry: None,
        };
        for (name, value) in info_fields(frame, "XINFO STREAM fields")? {
            match name.as_ref() {
                b"length" => length = Some(u64::from_reply(value)?),
                b"last-generated-id" => last_id = Some(Bytes::from_reply(value)?),
                b"max-deleted-entry-id" => info.max_deleted_entry_id = Option::from_reply(value)?,
                b"entries-added" => info.entries_added = Option::from_reply(value)?,
                b"recorded-first-entry-id" => info.recorded_first_entry_id = Option::from_reply(value)?,
                b"groups" => groups = Some(u64::from_reply(value)?),
                b"first-entry" => info.first_entry = Option::from_reply(value)?,
                b"last-entry" => info.last_entry = Option::from_reply(value)?,
                _ => {}
            }
        }
        info.length = required(length, "XINFO STREAM length")?;
        info.last_generated_id = required(last_id, "XINFO STREAM last-generated-id")?;
        info.groups = required(groups, "XINFO STREAM groups")?;
        Ok(info)
    }
}

/// One group of `XINFO GROUPS key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// `name`.
    pub name: Bytes,
    /// `consumers`: how many consumers the group has.
    pub consumers: u64,
    /// `pending`: entries delivered and not acknowledged.
    pub pending: u64,
    /// `last-delivered-id`.
    pub last_delivered_id: Bytes,
    /// `entries-read` (7.0+; `None` when unknown).
    pub entries_read: Option<u64>,
    /// `lag`: entries not yet delivered (7.0+; `None` when it cannot be told).
    pub lag: Option<u64>,
}

impl FromReply for GroupInfo {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let (mut name, mut consumers, mut pending, mut last) = (None, None, None, None);
        let (mut entries_read, mut lag) = (None, None);
        for (field, value) in info_fields(frame, "XINFO GROUPS fields")? {
            match field.as_ref() {
                b"name" => name = Some(Bytes::from_reply(value)?),
                b"consumers" => consumers = Some(u64::from_reply(value)?),
                b"pending" => pending = Some(u64::from_reply(value)?),
                b"last-delivered-id" => last = Some(Bytes::from_reply(value)?),
                b"entries-read" => entries_read = Option::from_reply(value)?,
                b"lag" => lag = Option::from_reply(value)?,
                _ => {}
            }
        }
        Ok(GroupInfo {
            name: required(name, "XINFO GROUPS name")?,
            consumers: required(consumers, "XINFO GROUPS consumers")?,
            pending: required(pending, "XINFO GROUPS pending")?,
            last_delivered_id: required(last, "XINFO GROUPS last-delivered-id")?,
            entries_read,
            lag,
        })
    }
}

/// One consumer of `XINFO CONSUMERS key group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerInfo {
    /// `name`.
    pub name: Bytes,
    /// `pending`: entries it holds.
    pub pending: u64,
    /// `idle`: milliseconds since its last attempted interaction.
    pub idle_ms: u64,
    /// `inactive`: milliseconds since its last successful interaction (7.2+;
    /// `None` when it never had one or the server does not say).
    pub inactive_ms: Option<u64>,
}

impl FromReply for ConsumerInfo {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let (mut name, mut pending, mut idle, mut inactive) = (None, None, None, None);
        for (field, value) in info_fields(frame, "XINFO CONSUMERS fields")? {
            match field.as_ref() {
                b"name" => name = Some(Bytes::from_reply(value)?),
                b"pending" => pending = Some(u64::from_reply(value)?),
                b"idle" => idle = Some(u64::from_reply(value)?),
                // -1 means "never".
                b"inactive" => inactive = u64::try_from(i64::from_reply(value)?).ok(),
                _ => {}
            }
        }
        Ok(ConsumerInfo {
            name: required(name, "XINFO CONSUMERS name")?,
            pending: required(pending, "XINFO CONSUMERS pending")?,
            idle_ms: required(idle, "XINFO CONSUMERS idle")?,
            inactive_ms: inactive,
        })
    }
}

/// `XPENDING`'s extended form: its entries (null is empty).
pub(crate) fn pending_entries(frame: Frame) -> Result<Vec<PendingEntry>, Error> {
    array_or_null(frame, "pending entries")?
        .unwrap_or_default()
        .into_iter()
        .map(PendingEntry::from_reply)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn entry(id: &str, k: &str, v: &str) -> Frame {
        Frame::Array(vec![b(id), Frame::Array(vec![b(k), b(v)])])
    }

    #[test]
    fn stream_read_from_resp2_and_resp3() {
        let resp2 =
            Frame::Array(vec![Frame::Array(vec![b("s"), Frame::Array(vec![entry("1-0", "f", "v")])])]);
        let resp3 = Frame::Map(vec![(b("s"), Frame::Array(vec![entry("1-0", "f", "v")]))]);
        let a = StreamRead::from_reply(resp2).unwrap();
        assert_eq!(a, StreamRead::from_reply(resp3).unwrap());
        assert_eq!(a.entries(b"s")[0].get(b"f"), Some(&Bytes::from_static(b"v")));
        assert!(StreamRead::from_reply(Frame::NullArray).unwrap().is_empty());
        assert!(StreamRead::from_reply(Frame::Integer(1)).is_err());
    }

    #[test]
    fn deleted_entry_has_no_fields() {
        let e = StreamEntry::from_reply(Frame::Array(vec![b("1-0"), Frame::NullArray])).unwrap();
        assert!(e.fields.is_empty());
    }

    #[test]
    fn pending_summary_empty_and_full() {
        let empty = Frame::Array(vec![Frame::Integer(0), Frame::NullBulk, Frame::NullBulk, Frame::NullArray]);
        let s = PendingSummary::from_reply(empty).unwrap();
        assert_eq!((s.count, s.min_id, s.consumers.len()), (0, None, 0));
        let full = Frame::Array(vec![
            Frame::Integer(2),
            b("1-0"),
            b("2-0"),
            Frame::Array(vec![Frame::Array(vec![b("c1"), b("2")])]),
        ]);
        let s = PendingSummary::from_reply(full).unwrap();
        assert_eq!(s.consumers, vec![(Bytes::from_static(b"c1"), 2)]);
    }

    #[test]
    fn info_requires_its_core_fields() {
        let ok = Frame::Map(vec![
            (b("length"), Frame::Integer(1)),
            (b("last-generated-id"), b("1-0")),
            (b("groups"), Frame::Integer(0)),
            (b("first-entry"), entry("1-0", "f", "v")),
            (b("last-entry"), Frame::Null),
            (b("some-future-field"), Frame::Boolean(true)),
        ]);
        let info = StreamInfo::from_reply(ok).unwrap();
        assert_eq!((info.length, info.last_entry.is_none()), (1, true));
        let missing = Frame::Array(vec![b("length"), Frame::Integer(1)]);
        assert!(matches!(StreamInfo::from_reply(missing), Err(Error::Type { .. })));
        let consumer = Frame::Array(vec![
            b("name"),
            b("c"),
            b("pending"),
            Frame::Integer(0),
            b("idle"),
            Frame::Integer(5),
            b("inactive"),
            Frame::Integer(-1),
        ]);
        assert_eq!(ConsumerInfo::from_reply(consumer).unwrap().inactive_ms, None);
    }
}
