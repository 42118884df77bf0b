//! [`FromReply`] for aggregates: `Vec`, `HashSet`/`BTreeSet`,
//! `HashMap`/`BTreeMap`, `Vec<(K, V)>` and tuples up to 12 elements.
//!
//! RESP2 and RESP3 shapes convert alike: a map reads a RESP3 map or a RESP2
//! flat array (`k1 v1 k2 v2`); `Vec<(K, V)>` reads either of those or an
//! array of two-element arrays (RESP3 `ZRANGE ... WITHSCORES`); a set reads
//! an array or a RESP3 set. A null aggregate (RESP2 `*-1`, RESP3 `_`) is an
//! empty collection; a tuple needs an array of exactly its length.
//!
//! Not here: scalars and `Option` (`reply`), serde structs (`serde`). Pure.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::Hash;

use super::{mismatch, unwrap_attr, FromReply};
use crate::error::Error;
use crate::resp::Frame;

/// The elements of a sequence reply: an array, set or push as they are, a
/// map flattened to `k1 v1 k2 v2`, a null as none.
fn sequence(frame: Frame, expected: &'static str) -> Result<Vec<Frame>, Error> {
    match unwrap_attr(frame) {
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => Ok(items),
        Frame::Map(pairs) => {
            let mut out = Vec::with_capacity(pairs.len() * 2);
            for (k, v) in pairs {
                out.push(k);
                out.push(v);
            }
            Ok(out)
        }
        f if f.is_null() => Ok(Vec::new()),
        other => mismatch(expected, &other),
    }
}

/// The entries of a map reply: a RESP3 map, or a RESP2 flat array of even length.
fn entries(frame: Frame) -> Result<Vec<(Frame, Frame)>, Error> {
    map_entries(frame, "a map (or a flat array of field-value pairs)")
}

/// Key/value pairs from a RESP3 map or a RESP2 flat array of even length;
/// a null is empty; anything else is [`Error::Type`] naming `expected`.
pub(crate) fn map_entries(frame: Frame, expected: &'static str) -> Result<Vec<(Frame, Frame)>, Error> {
    match unwrap_attr(frame) {
        Frame::Map(pairs) => Ok(pairs),
        Frame::Array(items) if items.len() % 2 == 0 => {
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Ok(out)
        }
        f if f.is_null() => Ok(Vec::new()),
        other => mismatch(expected, &other),
    }
}

impl<T: FromReply> FromReply for Vec<T> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        T::from_reply_items(sequence(frame, "an array")?)
    }
}

impl<T: FromReply + Eq + Hash> FromReply for HashSet<T> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        Ok(T::from_reply_items(sequence(frame, "a set")?)?.into_iter().collect())
    }
}

impl<T: FromReply + Ord> FromReply for BTreeSet<T> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        Ok(T::from_reply_items(sequence(frame, "a set")?)?.into_iter().collect())
    }
}

impl<K: FromReply + Eq + Hash, V: FromReply> FromReply for HashMap<K, V> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        entries(frame)?.into_iter().map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?))).collect()
    }
}

impl<K: FromReply + Ord, V: FromReply> FromReply for BTreeMap<K, V> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        entries(frame)?.into_iter().map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?))).collect()
    }
}

/// Counts the identifiers given (the tuple's arity).
macro_rules! count {
    () => { 0usize };
    ($head:ident $($tail:ident)*) => { 1usize + count!($($tail)*) };
}

macro_rules! tuple_reply {
    ($expected:literal; $($name:ident)+) => {
        /// From an array of exactly this many elements, each converted in
        /// order: the first element that fails (an error reply, a wrong
        /// shape) is the error.
        impl<$($name: FromReply),+> FromReply for ($($name,)+) {
            fn from_reply(frame: Frame) -> Result<Self, Error> {
                match unwrap_attr(frame) {
                    Frame::Array(items) if items.len() == count!($($name)+) => {
                        let mut it = items.into_iter();
                        Ok(($(
                            $name::from_reply(it.next().ok_or_else(|| Error::Type {
                                expected: $expected,
                                got: "fewer elements".into(),
                            })?)?,
                        )+))
                    }
                    other => mismatch($expected, &other),
                }
            }
        }
    };
}

tuple_reply!("an array of 1 element"; A);
tuple_reply!("an array of 3 elements"; A B C);
tuple_reply!("an array of 4 elements"; A B C D);
tuple_reply!("an array of 5 elements"; A B C D E);
tuple_reply!("an array of 6 elements"; A B C D E F);
tuple_reply!("an array of 7 elements"; A B C D E F G);
tuple_reply!("an array of 8 elements"; A B C D E F G H);
tuple_reply!("an array of 9 elements"; A B C D E F G H I);
tuple_reply!("an array of 10 elements"; A B C D E F G H I J);
tuple_reply!("an array of 11 elements"; A B C D E F G H I J K);
tuple_reply!("an array of 12 elements"; A B C D E F G H I J K L);

/// From an array of two elements. In a sequence (`Vec<(K, V)>`), also from
/// a RESP2 flat array `k1 v1 k2 v2` or a RESP3 map.
impl<A: FromReply, B: FromReply> FromReply for (A, B) {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        match unwrap_attr(frame) {
            Frame::Array(items) if items.len() == 2 => {
                let mut it = items.into_iter();
                match (it.next(), it.next()) {
                    (Some(a), Some(b)) => Ok((A::from_reply(a)?, B::from_reply(b)?)),
                    _ => {
                        Err(Error::Type { expected: "an array of 2 elements", got: "fewer elements".into() })
                    }
                }
            }
            other => mismatch("an array of 2 elements", &other),
        }
    }

    fn from_reply_items(items: Vec<Frame>) -> Result<Vec<Self>, Error> {
        let nested = items.iter().all(|f| matches!(f.value(), Frame::Array(a) if a.len() == 2));
        if nested {
            return items.into_iter().map(Self::from_reply).collect();
        }
        if items.len() % 2 != 0 {
            return Err(Error::Type {
                expected: "field-value pairs (an even number of elements)",
                got: format!("array of {} element{}", items.len(), if items.len() == 1 { "" } else { "s" }),
            });
        }
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((A::from_reply(k)?, B::from_reply(v)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::error::ServerError;

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn flat() -> Frame {
        Frame::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")])
    }

    fn map() -> Frame {
        Frame::Map(vec![(bulk("a"), Frame::Integer(1)), (bulk("b"), Frame::Integer(2))])
    }

    #[test]
    fn sequences() {
        let arr = Frame::Array(vec![bulk("a"), Frame::NullBulk, bulk("c")]);
        let v: Vec<Option<String>> = FromReply::from_reply(arr).unwrap();
        assert_eq!(v, vec![Some("a".into()), None, Some("c".into())]);
        let s: HashSet<String> = FromReply::from_reply(Frame::Set(vec![bulk("x"), bulk("y")])).unwrap();
        assert!(s.contains("x") && s.contains("y"));
        let s: BTreeSet<i64> =
            FromReply::from_reply(Frame::Array(vec![bulk("3"), Frame::Integer(1)])).unwrap();
        assert_eq!(s.into_iter().collect::<Vec<_>>(), [1, 3]);
        let empty: Vec<i64> = FromReply::from_reply(Frame::NullArray).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn maps_from_both_protocols() {
        for frame in [flat(), map()] {
            let m: HashMap<String, i64> = FromReply::from_reply(frame.clone()).unwrap();
            assert_eq!((m["a"], m["b"]), (1, 2));
            let m: BTreeMap<String, u32> = FromReply::from_reply(frame.clone()).unwrap();
            assert_eq!(m.into_iter().collect::<Vec<_>>(), [("a".into(), 1), ("b".into(), 2)]);
            let v: Vec<(String, i64)> = FromReply::from_reply(frame).unwrap();
            assert_eq!(v, [("a".into(), 1), ("b".into(), 2)]);
        }
        let nested = Frame::Array(vec![
            Frame::Array(vec![bulk("m1"), Frame::Double(1.5)]),
            Frame::Array(vec![bulk("m2"), Frame::Double(2.0)]),
        ]);
        let v: Vec<(String, f64)> = FromReply::from_reply(nested).unwrap();
        assert_eq!(v, [("m1".into(), 1.5), ("m2".into(), 2.0)]);
        match HashMap::<String, i64>::from_reply(Frame::Array(vec![bulk("a")])) {
            Err(Error::Type { got, .. }) => assert_eq!(got, "array of 1 element"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Vec::<(String, i64)>::from_reply(Frame::Array(vec![bulk("a")])),
            Err(Error::Type { .. })
        ));
    }

    #[test]
    fn tuples_need_their_exact_length() {
        let t: (i64, String, Option<Bytes>) =
            FromReply::from_reply(Frame::Array(vec![Frame::Integer(1), bulk("x"), Frame::NullBulk])).unwrap();
        assert_eq!(t, (1, "x".into(), None));
        let twelve = Frame::Array((0..12).map(Frame::Integer).collect());
        let t: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, u8_free::I) =
            FromReply::from_reply(twelve).unwrap();
        assert_eq!((t.0, t.11 .0), (0, 11));
        match <(i64, i64, i64)>::from_reply(Frame::Array(vec![Frame::Integer(1)])) {
            Err(Error::Type { expected, got }) => {
                assert_eq!(expected, "an array of 3 elements");
                assert_eq!(got, "array of 1 element");
            }
            other => panic!("{other:?}"),
        }
        let err = Frame::SimpleError(ServerError::from_line("WRONGTYPE nope").unwrap());
        let with_err = Frame::Array(vec![Frame::Integer(1), err]);
        assert!(matches!(<(i64, i64)>::from_reply(with_err), Err(Error::Server(_))));
    }

    /// A user type in the last position: any `FromReply` works in a tuple.
    mod u8_free {
        use super::*;

        #[derive(Debug)]
        pub struct I(pub i64);

        impl FromReply for I {
            fn from_reply(frame: Frame) -> Result<Self, Error> {
                i64::from_reply(frame).map(I)
            }
        }
    }
}
