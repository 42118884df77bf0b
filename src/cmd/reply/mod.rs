//! Typed reply conversion: [`FromReply`] turns a [`Frame`] into what the caller asked for.
//!
//! Error replies become [`Error::Server`]; a reply of the wrong shape becomes
//! [`Error::Type`] naming what was expected and what arrived (`expected a map,
//! got array of 3 elements`). Attributes are ignored. RESP2 and RESP3 shapes
//! of the same reply convert alike (a RESP2 flat array converts to a map or to
//! `Vec<(K, V)>`, `:1` to `true`, a bulk `"1.5"` to `f64`).
//!
//! This file: the trait, scalars, `Option`, `()` (only `+OK`) and [`Frame`]
//! itself. `collections`: sequences, sets, maps and tuples. `serde` (feature
//! `serde`): [`Json`] and [`Hash`], a user's struct from a JSON string or a
//! hash. Pure: no IO.

mod collections;

pub(crate) use collections::map_entries;
#[cfg(feature = "serde")]
mod serde;

#[cfg(feature = "serde")]
pub use self::serde::{Hash, Json};

use bytes::Bytes;

use crate::error::Error;
use crate::resp::Frame;

/// Conversion from a reply frame.
pub trait FromReply: Sized {
    /// Converts `frame`.
    ///
    /// # Errors
    /// [`Error::Server`] for an error reply, [`Error::Type`] for another shape.
    fn from_reply(frame: Frame) -> Result<Self, Error>;

    /// Converts the elements of one array reply. The default converts each
    /// element; pairs `(K, V)` override it so that `Vec<(K, V)>` reads a RESP2
    /// flat array (`k1 v1 k2 v2`) as well as an array of pairs.
    #[doc(hidden)]
    fn from_reply_items(items: Vec<Frame>) -> Result<Vec<Self>, Error> {
        items.into_iter().map(Self::from_reply).collect()
    }
}

pub(crate) fn mismatch<T>(expected: &'static str, frame: &Frame) -> Result<T, Error> {
    if let Some(e) = server_error(frame) {
        return Err(e);
    }
    Err(Error::Type { expected, got: describe(frame) })
}

pub(crate) fn server_error(frame: &Frame) -> Option<Error> {
    frame.server_error().map(|e| Error::Server(e.clone()))
}

/// What arrived, for [`Error::Type`]: the reply type, with short text, the
/// integer, or the element count.
pub(crate) fn describe(frame: &Frame) -> String {
    let frame = frame.value();
    match frame {
        Frame::SimpleString(b) | Frame::BulkString(b) if b.len() <= 32 => {
            format!("{} {:?}", frame.type_name(), String::from_utf8_lossy(b))
        }
        Frame::Integer(i) => format!("integer {i}"),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            let s = if items.len() == 1 { "" } else { "s" };
            format!("{} of {} element{s}", frame.type_name(), items.len())
        }
        Frame::Map(pairs) => {
            let s = if pairs.len() == 1 { "y" } else { "ies" };
            format!("{} of {} entr{s}", frame.type_name(), pairs.len())
        }
        other => other.type_name().to_string(),
    }
}

pub(crate) fn unwrap_attr(frame: Frame) -> Frame {
    match frame {
        Frame::Attributed { frame, .. } => unwrap_attr(*frame),
        other => other,
    }
}

impl FromReply for Frame {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        frame.into_result().map(Frame::strip_attributes)
    }
}

/// Only `+OK`: what `SET`, `MSET`, `HMSET`, `FLUSHDB` ... promise. Anything
/// else (even another non-error reply, which would be a reply meant for
/// another request) is [`Error::Type`]. To ignore a reply whatever it is,
/// convert to [`Frame`] and drop it.
impl FromReply for () {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match frame.value() {
            Frame::SimpleString(s) if s.as_ref() == b"OK" => Ok(()),
            other => mismatch("+OK", other),
        }
    }
}

impl FromReply for Bytes {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::BulkString(b) | Frame::SimpleString(b) | Frame::BigNumber(b) | Frame::DoubleText(b) => {
                Ok(b)
            }
            Frame::VerbatimString { data, .. } => Ok(data),
            Frame::Integer(i) => Ok(Bytes::from(i.to_string())),
            Frame::Double(d) => Ok(Bytes::from(d.to_string())),
            other => mismatch("a string", &other),
        }
    }
}

impl FromReply for Vec<u8> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        Bytes::from_reply(frame).map(|b| b.to_vec())
    }
}

impl FromReply for String {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let b = Bytes::from_reply(frame)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| Error::Type { expected: "UTF-8 text", got: "binary".into() })
    }
}

fn parse_text<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

impl FromReply for i64 {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::Integer(i) => Ok(i),
            Frame::BulkString(ref b) | Frame::SimpleString(ref b) | Frame::BigNumber(ref b)
                if parse_text::<i64>(b).is_some() =>
            {
                Ok(parse_text(b).unwrap_or_default())
            }
            Frame::Boolean(v) => Ok(i64::from(v)),
            other => mismatch("an integer", &other),
        }
    }
}

macro_rules! int_reply {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            fn from_reply(frame: Frame) -> Result<Self, Error> {
                let got = i64::from_reply(frame)?;
                <$t>::try_from(got).map_err(|_| Error::Type {
                    expected: stringify!($t),
                    got: format!("integer {got}"),
                })
            }
        }
    )*};
}
// Not `u8`: `Vec<u8>` is a byte string, not a sequence of small integers.
int_reply!(i8, i16, i32, isize, u16, u32, u64, usize);

impl FromReply for f64 {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::Double(d) => Ok(d),
            ref text @ Frame::DoubleText(_) => match text.as_f64() {
                Some(d) => Ok(d),
                None => mismatch("a double", text),
            },
            Frame::Integer(i) => Ok(i as f64),
            Frame::BulkString(ref b) | Frame::SimpleString(ref b) if parse_float(b).is_some() => {
                Ok(parse_float(b).unwrap_or_default())
            }
            other => mismatch("a double", &other),
        }
    }
}

impl FromReply for f32 {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        f64::from_reply(frame).map(|d| d as f32)
    }
}

fn parse_float(b: &[u8]) -> Option<f64> {
    match b {
        b"inf" | b"+inf" => Some(f64::INFINITY),
        b"-inf" => Some(f64::NEG_INFINITY),
        _ => parse_text(b),
    }
}

impl FromReply for bool {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::Boolean(v) => Ok(v),
            Frame::Integer(i) => Ok(i != 0),
            Frame::SimpleString(ref b) if b.as_ref() == b"OK" => Ok(true),
            f if f.is_null() => Ok(false),
            other => mismatch("a boolean", &other),
        }
    }
}

impl<T: FromReply> FromReply for Option<T> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        if frame.value().is_null() {
            Ok(None)
        } else {
            T::from_reply(frame).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerError;

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn converts_scalars() {
        assert_eq!(i64::from_reply(Frame::Integer(5)).unwrap(), 5);
        assert_eq!(i64::from_reply(bulk("-12")).unwrap(), -12);
        assert_eq!(f64::from_reply(bulk("1.5")).unwrap(), 1.5);
        assert_eq!(f64::from_reply(Frame::Double(2.0)).unwrap(), 2.0);
        assert_eq!(f64::from_reply(Frame::DoubleText(Bytes::from_static(b"1e300"))).unwrap(), 1e300);
        assert_eq!(Bytes::from_reply(Frame::DoubleText(Bytes::from_static(b"-0.0"))).unwrap(), "-0.0");
        assert!(bool::from_reply(Frame::Integer(1)).unwrap());
        assert_eq!(String::from_reply(bulk("hi")).unwrap(), "hi");
        assert_eq!(Option::<Bytes>::from_reply(Frame::NullBulk).unwrap(), None);
        assert_eq!(Option::<Bytes>::from_reply(Frame::Null).unwrap(), None);
        assert!(matches!(u32::from_reply(Frame::Integer(-1)), Err(Error::Type { .. })));
    }

    #[test]
    fn errors_and_mismatches() {
        let err = Frame::SimpleError(ServerError::from_line("WRONGTYPE x").unwrap());
        assert!(matches!(Bytes::from_reply(err.clone()), Err(Error::Server(_))));
        assert!(matches!(Option::<Bytes>::from_reply(err), Err(Error::Server(_))));
        match i64::from_reply(bulk("abc")) {
            Err(Error::Type { expected, got }) => {
                assert_eq!(expected, "an integer");
                assert!(got.contains("abc"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unit_is_ok_only() {
        <()>::from_reply(Frame::SimpleString(Bytes::from_static(b"OK"))).unwrap();
        match <()>::from_reply(Frame::SimpleString(Bytes::from_static(b"PONG"))) {
            Err(Error::Type { expected: "+OK", got }) => assert_eq!(got, "simple string \"PONG\""),
            other => panic!("{other:?}"),
        }
        assert!(matches!(<()>::from_reply(Frame::Integer(1)), Err(Error::Type { .. })));
        assert!(matches!(<()>::from_reply(Frame::Null), Err(Error::Type { .. })));
        assert_eq!(Option::<()>::from_reply(Frame::NullBulk).unwrap(), None);
    }
}
