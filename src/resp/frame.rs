//! The one frame type: every RESP2 and RESP3 value, with `Bytes` payloads.
//!
//! Payloads are slices of the read buffer (see `decode`), never copies, except
//! for streamed strings of more than one chunk, which are joined. Streamed
//! aggregates arrive as the equivalent whole aggregate. An attribute (`|`) is
//! kept with the value it annotates in [`Frame::Attributed`] and is never a
//! reply by itself.
//!
//! Pure: no IO.

use bytes::Bytes;

use crate::error::{Error, ServerError};

/// One RESP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK`: a status line.
    SimpleString(Bytes),
    /// `-ERR ...`: an error line, classified.
    SimpleError(ServerError),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`: a binary-safe string (also a joined streamed string).
    BulkString(Bytes),
    /// RESP2 `$-1`: the null bulk string.
    NullBulk,
    /// RESP2 `*-1`: the null array.
    NullArray,
    /// RESP3 `_`: null.
    Null,
    /// `*N`: an array (also a closed streamed `*?`).
    Array(Vec<Frame>),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `,1.5` (also `inf`, `-inf`, `nan`).
    Double(f64),
    /// RESP3 `(12345...`: digits with an optional sign, kept as text.
    BigNumber(Bytes),
    /// RESP3 `!N`: a binary-safe error, classified like a simple one.
    BlobError(ServerError),
    /// RESP3 `=N\r\ntxt:...`: a string with its three-byte format (`txt`, `mkd`).
    VerbatimString {
        /// The format, e.g. `*b"txt"`.
        format: [u8; 3],
        /// The text after `xxx:`.
        data: Bytes,
    },
    /// RESP3 `%N`: key/value pairs in wire order.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~N`: an unordered collection, in wire order.
    Set(Vec<Frame>),
    /// RESP3 `>N`: out-of-band data (pub/sub messages, invalidations).
    Push(Vec<Frame>),
    /// RESP3 `|N`: attributes and the value they annotate.
    Attributed {
        /// The attribute map, in wire order.
        attributes: Vec<(Frame, Frame)>,
        /// The annotated value.
        frame: Box<Frame>,
    },
}

impl Frame {
    /// True for the three nulls (`_`, `$-1`, `*-1`).
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullBulk | Frame::NullArray)
    }

    /// True for a push frame (never a reply to a command).
    pub fn is_push(&self) -> bool {
        matches!(self, Frame::Push(_))
    }

    /// True for simple and blob errors.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::SimpleError(_) | Frame::BlobError(_))
    }

    /// The error this reply carries, looking through attributes, if it is a
    /// simple or blob error.
    pub fn server_error(&self) -> Option<&ServerError> {
        match self.value() {
            Frame::SimpleError(e) | Frame::BlobError(e) => Some(e),
            _ => None,
        }
    }

    /// The one conversion from a reply to a result: an error reply (also one
    /// under attributes) becomes [`Error::Server`]; any other frame is
    /// returned as it is.
    ///
    /// # Errors
    /// [`Error::Server`] for an error reply.
    pub fn into_result(self) -> Result<Frame, Error> {
        match self {
            Frame::SimpleError(e) | Frame::BlobError(e) => Err(Error::Server(e)),
            other => match other.server_error() {
                Some(e) => Err(Error::Server(e.clone())),
                None => Ok(other),
            },
        }
    }

    /// Removes attributes, at this level and below, keeping the values.
    pub fn strip_attributes(self) -> Frame {
        match self {
            Frame::Attributed { frame, .. } => frame.strip_attributes(),
            Frame::Array(items) => Frame::Array(strip_all(items)),
            Frame::Set(items) => Frame::Set(strip_all(items)),
            Frame::Push(items) => Frame::Push(strip_all(items)),
            Frame::Map(pairs) => Frame::Map(
                pairs.into_iter().map(|(k, v)| (k.strip_attributes(), v.strip_attributes())).collect(),
            ),
            other => other,
        }
    }

    /// The value without a top-level attribute (children untouched).
    pub fn value(&self) -> &Frame {
        match self {
            Frame::Attributed { frame, .. } => frame.value(),
            other => other,
        }
    }

    /// The bytes of a string-like frame (simple, bulk, verbatim, big number).
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self.value() {
            Frame::SimpleString(b) | Frame::BulkString(b) | Frame::BigNumber(b) => Some(b),
            Frame::VerbatimString { data, .. } => Some(data),
            _ => None,
        }
    }

    /// A short name of the frame's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Frame::SimpleString(_) => "simple string",
            Frame::SimpleError(_) => "error",
            Frame::Integer(_) => "integer",
            Frame::BulkString(_) => "bulk string",
            Frame::NullBulk | Frame::NullArray | Frame::Null => "null",
            Frame::Array(_) => "array",
            Frame::Boolean(_) => "boolean",
            Frame::Double(_) => "double",
            Frame::BigNumber(_) => "big number",
            Frame::BlobError(_) => "blob error",
            Frame::VerbatimString { .. } => "verbatim string",
            Frame::Map(_) => "map",
            Frame::Set(_) => "set",
            Frame::Push(_) => "push",
            Frame::Attributed { frame, .. } => frame.type_name(),
        }
    }
}

fn strip_all(items: Vec<Frame>) -> Vec<Frame> {
    if items.iter().any(has_attributes) {
        items.into_iter().map(Frame::strip_attributes).collect()
    } else {
        items
    }
}

fn has_attributes(frame: &Frame) -> bool {
    match frame {
        Frame::Attributed { .. } => true,
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => items.iter().any(has_attributes),
        Frame::Map(pairs) => pairs.iter().any(|(k, v)| has_attributes(k) || has_attributes(v)),
        _ => false,
    }
}
