//! Typed reply conversion: [`FromReply`] turns a [`Frame`] into what the caller asked for.
//!
//! Error replies become [`Error::Server`]; a reply of the wrong shape becomes
//! [`Error::Type`] naming what was expected and what arrived. Attributes are
//! ignored. RESP2 and RESP3 shapes of the same reply convert alike (a RESP2
//! flat array converts to a map, `:1` to `true`, a bulk `"1.5"` to `f64`).
//!
//! Pure: no IO.

use std::collections::HashMap;
use std::hash::Hash;

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
}

fn mismatch<T>(expected: &'static str, frame: &Frame) -> Result<T, Error> {
    if let Some(e) = frame.server_error() {
        return Err(Error::Server(e.clone()));
    }
    Err(Error::Type { expected, got: describe(frame) })
}

fn describe(frame: &Frame) -> String {
    match frame.value() {
        Frame::SimpleString(b) | Frame::BulkString(b) if b.len() <= 32 => {
            format!("{} {:?}", frame.type_name(), String::from_utf8_lossy(b))
        }
        Frame::Integer(i) => format!("integer {i}"),
        other => other.type_name().to_string(),
    }
}

fn unwrap_attr(frame: Frame) -> Frame {
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

impl FromReply for () {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        frame.into_result().map(drop)
    }
}

impl FromReply for Bytes {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::BulkString(b) | Frame::SimpleString(b) | Frame::BigNumber(b) => Ok(b),
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
int_reply!(i32, u32, u64, usize, u16, i16);

impl FromReply for f64 {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::Double(d) => Ok(d),
            Frame::Integer(i) => Ok(i as f64),
            Frame::BulkString(ref b) | Frame::SimpleString(ref b) if parse_float(b).is_some() => {
                Ok(parse_float(b).unwrap_or_default())
            }
            other => mismatch("a double", &other),
        }
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

impl<T: FromReply> FromReply for Vec<T> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
                items.into_iter().map(T::from_reply).collect()
            }
            Frame::Map(pairs) => {
                let mut out = Vec::with_capacity(pairs.len() * 2);
                for (k, v) in pairs {
                    out.push(T::from_reply(k)?);
                    out.push(T::from_reply(v)?);
                }
                Ok(out)
            }
            f if f.is_null() => Ok(Vec::new()),
            other => mismatch("an array", &other),
        }
    }
}

impl<K: FromReply + Eq + Hash, V: FromReply> FromReply for HashMap<K, V> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::Map(pairs) => {
                pairs.into_iter().map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?))).collect()
            }
            Frame::Array(items) if items.len() % 2 == 0 => {
                let mut out = HashMap::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    out.insert(K::from_reply(k)?, V::from_reply(v)?);
                }
                Ok(out)
            }
            f if f.is_null() => Ok(HashMap::new()),
            other => mismatch("a map", &other),
        }
    }
}

impl<A: FromReply, B: FromReply> FromReply for (A, B) {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::Array(items) if items.len() == 2 => {
                let mut it = items.into_iter();
                match (it.next(), it.next()) {
                    (Some(a), Some(b)) => Ok((A::from_reply(a)?, B::from_reply(b)?)),
                    _ => Err(Error::Type { expected: "a pair", got: "array".into() }),
                }
            }
            other => mismatch("a pair", &other),
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
    fn converts_aggregates() {
        let arr = Frame::Array(vec![bulk("a"), Frame::NullBulk, bulk("c")]);
        let v: Vec<Option<String>> = FromReply::from_reply(arr).unwrap();
        assert_eq!(v, vec![Some("a".into()), None, Some("c".into())]);
        let flat = Frame::Array(vec![bulk("k"), Frame::Integer(1)]);
        let m: HashMap<String, i64> = FromReply::from_reply(flat).unwrap();
        assert_eq!(m["k"], 1);
        let map = Frame::Map(vec![(bulk("k"), Frame::Integer(2))]);
        let m: HashMap<String, i64> = FromReply::from_reply(map).unwrap();
        assert_eq!(m["k"], 2);
    }
}
