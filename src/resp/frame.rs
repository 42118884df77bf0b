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
    /// RESP3 `,1e300`: a double as the server wrote it (checked to be a valid
    /// double; [`Frame::as_f64`] reads it). Only a decoder asked to keep the
    /// text makes these ([`Decoder::keep_double_text`](super::Decoder::keep_double_text),
    /// `ConnectOptions::keep_double_text`), for tools that show or forward
    /// replies exactly: `1e300`, `-0.0` and `1.50` are different texts of
    /// equal numbers. Every other decoder makes [`Frame::Double`].
    DoubleText(Bytes),
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

    /// The number of a double, whether decoded as a value or kept as text.
    pub fn as_f64(&self) -> Option<f64> {
        match self.value() {
            Frame::Double(d) => Some(*d),
            Frame::DoubleText(text) => super::parse::double(text).ok(),
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
            Frame::Double(_) | Frame::DoubleText(_) => "double",
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

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::Frame;
    use crate::error::ProtocolError;
    use crate::resp::{encode_frame, Decoder};

    fn decode(decoder: &mut Decoder, wire: &[u8]) -> Result<Option<Frame>, ProtocolError> {
        decoder.decode(&mut BytesMut::from(wire))
    }

    #[test]
    fn doubles_keep_their_text_when_asked() {
        let texts: &[&str] =
            &["1e300", "-0.0", "-1.5e-3", "3.14", "inf", "-inf", "nan", "10", "1.50", "1E+300"];
        for text in texts {
            let wire = format!(",{text}\r\n");
            let mut keep = Decoder::new().keep_double_text(true);
            let frame = decode(&mut keep, wire.as_bytes()).unwrap().unwrap();
            assert_eq!(frame, Frame::DoubleText(bytes::Bytes::copy_from_slice(text.as_bytes())), "{text}");
            // The same number as the default decoder reads, and the same bytes written back.
            let value = decode(&mut Decoder::new(), wire.as_bytes()).unwrap().unwrap();
            let Frame::Double(d) = value else { panic!("{text}: {value:?}") };
            let kept = frame.as_f64().unwrap();
            assert!(kept.to_bits() == d.to_bits() || (kept.is_nan() && d.is_nan()), "{text}");
            assert_eq!(value.as_f64().map(f64::to_bits), Some(d.to_bits()));
            let mut out = BytesMut::new();
            encode_frame(&frame, &mut out);
            assert_eq!(&out[..], wire.as_bytes(), "{text}");
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_kept_text_does_not_grow_the_frame() {
        // `DecodeLimits`' memory bound counts 40 bytes per frame.
        assert_eq!(std::mem::size_of::<Frame>(), 40);
    }

    #[test]
    fn kept_doubles_are_checked_and_nested_and_split() {
        let mut keep = Decoder::new().keep_double_text(true);
        assert_eq!(decode(&mut keep, b",1.2.3\r\n"), Err(ProtocolError::BadDouble));
        assert_eq!(decode(&mut keep, b",abc\r\n"), Err(ProtocolError::BadDouble));
        let wire = b"%1\r\n+k\r\n*2\r\n,1e300\r\n,-0.0\r\n";
        let expected = Frame::Map(vec![(
            Frame::SimpleString("k".into()),
            Frame::Array(vec![Frame::DoubleText("1e300".into()), Frame::DoubleText("-0.0".into())]),
        )]);
        // Whole, then a byte at a time: the same frame.
        assert_eq!(decode(&mut keep, wire), Ok(Some(expected.clone())));
        let mut buf = BytesMut::new();
        let mut got = None;
        for b in wire {
            buf.extend_from_slice(&[*b]);
            if let Some(frame) = keep.decode(&mut buf).unwrap() {
                got = Some(frame);
            }
        }
        assert_eq!(got, Some(expected));
        assert!(buf.is_empty());
        assert_eq!(Frame::DoubleText("x".into()).as_f64(), None);
        assert_eq!(Frame::Integer(1).as_f64(), None);
    }
}
