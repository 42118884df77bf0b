//! Reply shapes shared by the collection groups (lists, sets, sorted sets,
//! streams, geo): an array taken apart, key/value pairs from a RESP2 flat
//! array or a RESP3 map, scored members flat or nested.
//!
//! Crate-private helpers for the `FromReply` impls and methods of those
//! groups; pure, no IO. Not here: scalar conversions (`cmd::reply`).

use bytes::Bytes;

use crate::cmd::FromReply;
use crate::error::Error;
use crate::resp::Frame;

/// The frame without attributes, or the server error it carries.
pub(crate) fn checked(frame: Frame) -> Result<Frame, Error> {
    Frame::from_reply(frame)
}

/// A shape error naming what was expected.
pub(crate) fn mismatch<T>(expected: &'static str, frame: &Frame) -> Result<T, Error> {
    Err(Error::Type { expected, got: frame.value().type_name().into() })
}

/// The items of an array (or RESP3 set); a null is `None`.
pub(crate) fn array_or_null(frame: Frame, expected: &'static str) -> Result<Option<Vec<Frame>>, Error> {
    match checked(frame)? {
        Frame::Array(items) | Frame::Set(items) => Ok(Some(items)),
        f if f.is_null() => Ok(None),
        other => mismatch(expected, &other),
    }
}

/// The items of an array; a null is empty.
pub(crate) fn array(frame: Frame, expected: &'static str) -> Result<Vec<Frame>, Error> {
    Ok(array_or_null(frame, expected)?.unwrap_or_default())
}

/// Key/value pairs from a RESP3 map or a RESP2 flat array; a null is empty.
pub(crate) fn pairs(frame: Frame, expected: &'static str) -> Result<Vec<(Frame, Frame)>, Error> {
    crate::cmd::map_entries(checked(frame)?, expected)
}

/// Members with scores: RESP2 `[m, s, m, s]` or RESP3 `[[m, s], [m, s]]`
/// (and RESP3's flat `[m, s]` of a single `ZPOPMIN` without a count).
pub(crate) fn scored(frame: Frame) -> Result<Vec<(Bytes, f64)>, Error> {
    let items = array(frame, "members with scores")?;
    if items.first().is_some_and(|f| matches!(f.value(), Frame::Array(_))) {
        return items.into_iter().map(<(Bytes, f64)>::from_reply).collect();
    }
    if items.len() % 2 != 0 {
        return Err(Error::Type { expected: "member/score pairs", got: format!("{} items", items.len()) });
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(m), Some(s)) = (it.next(), it.next()) {
        out.push((Bytes::from_reply(m)?, f64::from_reply(s)?));
    }
    Ok(out)
}

/// Takes exactly `N` items of an array.
pub(crate) fn exact<const N: usize>(items: Vec<Frame>, expected: &'static str) -> Result<[Frame; N], Error> {
    let n = items.len();
    items.try_into().map_err(|_| Error::Type { expected, got: format!("array of {n}") })
}

/// An [`Execute`](super::Execute) for unit tests: records every command and
/// answers each with a null, so a method's command can be inspected.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Recorder(pub(crate) std::sync::Mutex<Vec<crate::cmd::Cmd>>);

#[cfg(test)]
impl Recorder {
    /// Whether the last command sent was marked blocking.
    pub(crate) fn last_blocking(&self) -> bool {
        self.0.lock().map(|v| v.last().is_some_and(crate::cmd::Cmd::is_blocking)).unwrap_or(false)
    }
}

#[cfg(test)]
impl super::Execute for Recorder {
    async fn execute(&self, cmd: &crate::cmd::Cmd) -> Result<Frame, Error> {
        if let Ok(mut v) = self.0.lock() {
            v.push(cmd.clone());
        }
        Ok(Frame::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn scored_accepts_flat_and_nested() {
        let flat = Frame::Array(vec![bulk("a"), bulk("1.5"), bulk("b"), bulk("inf")]);
        let nested = Frame::Array(vec![
            Frame::Array(vec![bulk("a"), Frame::Double(1.5)]),
            Frame::Array(vec![bulk("b"), Frame::Double(f64::INFINITY)]),
        ]);
        let want = vec![(Bytes::from_static(b"a"), 1.5), (Bytes::from_static(b"b"), f64::INFINITY)];
        assert_eq!(scored(flat).unwrap(), want);
        assert_eq!(scored(nested).unwrap(), want);
        assert!(scored(Frame::NullArray).unwrap().is_empty());
        assert!(matches!(scored(Frame::Array(vec![bulk("a")])), Err(Error::Type { .. })));
        assert!(matches!(scored(Frame::Integer(3)), Err(Error::Type { .. })));
    }

    #[test]
    fn pairs_from_map_and_flat_array() {
        let flat = Frame::Array(vec![bulk("k"), Frame::Integer(1)]);
        let map = Frame::Map(vec![(bulk("k"), Frame::Integer(1))]);
        assert_eq!(pairs(flat, "m").unwrap(), pairs(map, "m").unwrap());
        assert!(matches!(pairs(Frame::Array(vec![bulk("k")]), "m"), Err(Error::Type { .. })));
    }
}
