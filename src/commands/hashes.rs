//! Hash commands: fields and values (`HSET`, `HGET`, `HGETALL` ...),
//! counters on fields, `HRANDFIELD`, `HSCAN`, and Valkey 9's per-field
//! expiry (`HEXPIRE`, `HPEXPIRE`, `HTTL`, `HPERSIST`).
//!
//! Not here: expiry of the whole key (`keys`). A hash is one key, so every
//! command here goes to that key's node on a cluster.

use std::collections::HashMap;
use std::future::Future;

use bytes::Bytes;

use super::keys::{parse_cursor, ExpireCondition, ScanOptions};
use super::Execute;
use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::error::Error;
use crate::resp::Frame;

/// Field/value pairs from any of the shapes servers use for them: a flat
/// array (RESP2), an array of two-element arrays (RESP3 `WITHVALUES`), or
/// a map (RESP3).
pub(crate) fn pairs<K: FromReply, V: FromReply>(frame: Frame) -> Result<Vec<(K, V)>, Error> {
    let items = match frame.strip_attributes() {
        Frame::Map(pairs) => {
            return pairs.into_iter().map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?))).collect();
        }
        Frame::Array(items) => items,
        f if f.is_null() => return Ok(Vec::new()),
        other => return <(K, V)>::from_reply(other).map(|p| vec![p]),
    };
    if items.iter().all(|f| matches!(f.value(), Frame::Array(a) if a.len() == 2)) && !items.is_empty() {
        return items.into_iter().map(<(K, V)>::from_reply).collect();
    }
    if items.len() % 2 != 0 {
        return Err(Error::Type { expected: "field/value pairs", got: format!("{} elements", items.len()) });
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((K::from_reply(k)?, V::from_reply(v)?));
    }
    Ok(out)
}

/// One page of `HSCAN`: the next cursor (0 = done) and field/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashScanPage {
    /// Cursor for the next call; 0 when the scan is complete.
    pub cursor: u64,
    /// Fields and values of this page.
    pub entries: Vec<(Bytes, Bytes)>,
}

impl FromReply for HashScanPage {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let (cursor, entries): (Bytes, Frame) = FromReply::from_reply(frame)?;
        Ok(HashScanPage { cursor: parse_cursor(&cursor)?, entries: pairs(entries)? })
    }
}

/// What `HEXPIRE`/`HPEXPIRE`/`HPERSIST` did to one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldExpiry {
    /// The field does not exist (`-2`).
    NoField,
    /// The condition was not met, or (`HPERSIST`) the field had no expiry
    /// (`-1` for `HPERSIST`, `0` for the others).
    NotSet,
    /// The expiry was set or removed (`1`).
    Done,
    /// The time was now or in the past: the field was deleted (`2`).
    Deleted,
}

impl FieldExpiry {
    fn from_code(code: i64) -> Result<FieldExpiry, Error> {
        match code {
            -2 => Ok(FieldExpiry::NoField),
            -1 | 0 => Ok(FieldExpiry::NotSet),
            1 => Ok(FieldExpiry::Done),
            2 => Ok(FieldExpiry::Deleted),
            other => Err(Error::Type { expected: "a field expiry code", got: format!("integer {other}") }),
        }
    }
}

impl FromReply for FieldExpiry {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        FieldExpiry::from_code(i64::from_reply(frame)?)
    }
}

fn fields_cmd<F: ToArg>(mut c: Cmd, fields: &[F]) -> Cmd {
    c = c.arg("FIELDS").arg(fields.len());
    c.args_from(fields)
}

fn hexpire_cmd<K: ToArg, F: ToArg>(
    name: &str,
    key: K,
    when: u64,
    cond: Option<ExpireCondition>,
    fields: &[F],
) -> Cmd {
    let mut c = cmd(name).arg(key).arg(when);
    if let Some(cond) = cond {
        c = c.arg(cond.as_arg());
    }
    fields_cmd(c, fields)
}

/// The hash group (`HSET`, `HGET`, `HEXPIRE` ...), for every [`Execute`].
pub trait HashCommands: Execute {
    /// `HSET key field value [field value ...]`: how many fields were added
    /// (not counting updated ones).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`; no pairs).
    fn hset<K: ToArg, F: ToArg, V: ToArg>(
        &self,
        key: K,
        pairs: &[(F, V)],
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let mut c = cmd("HSET").arg(key);
        for (f, v) in pairs {
            c.push_arg(f).push_arg(v);
        }
        async move { self.query(&c).await }
    }

    /// `HSETNX key field value`: true when set (the field did not exist).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hsetnx<K: ToArg, F: ToArg, V: ToArg>(
        &self,
        key: K,
        field: F,
        value: V,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("HSETNX").arg(key).arg(field).arg(value);
        async move { self.query(&c).await }
    }

    /// `HGET key field`: the value, `None` when the field or key is missing.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hget<K: ToArg, F: ToArg>(
        &self,
        key: K,
        field: F,
    ) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("HGET").arg(key).arg(field);
        async move { self.query(&c).await }
    }

    /// `HMGET key field...`: one value per field, in order.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hmget<K: ToArg, F: ToArg>(
        &self,
        key: K,
        fields: &[F],
    ) -> impl Future<Output = Result<Vec<Option<Bytes>>, Error>> + Send {
        let c = cmd("HMGET").arg(key).args_from(fields);
        async move { self.query(&c).await }
    }

    /// `HGETALL key`: every field and value (empty for a missing key).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hgetall<K: ToArg>(&self, key: K) -> impl Future<Output = Result<HashMap<Bytes, Bytes>, Error>> + Send {
        let c = cmd("HGETALL").arg(key);
        async move { self.query(&c).await }
    }

    /// `HDEL key field...`: how many fields were removed.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hdel<K: ToArg, F: ToArg>(
        &self,
        key: K,
        fields: &[F],
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("HDEL").arg(key).args_from(fields);
        async move { self.query(&c).await }
    }

    /// `HEXISTS key field`.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hexists<K: ToArg, F: ToArg>(
        &self,
        key: K,
        field: F,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("HEXISTS").arg(key).arg(field);
        async move { self.query(&c).await }
    }

    /// `HLEN key`: the number of fields.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hlen<K: ToArg>(&self, key: K) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("HLEN").arg(key);
        async move { self.query(&c).await }
    }

    /// `HKEYS key`: the field names.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hkeys<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = cmd("HKEYS").arg(key);
        async move { self.query(&c).await }
    }

    /// `HVALS key`: the values.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hvals<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = cmd("HVALS").arg(key);
        async move { self.query(&c).await }
    }

    /// `HINCRBY key field delta`: the new value.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] when the field is not an integer.
    fn hincr_by<K: ToArg, F: ToArg>(
        &self,
        key: K,
        field: F,
        delta: i64,
    ) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("HINCRBY").arg(key).arg(field).arg(delta);
        async move { self.query(&c).await }
    }

    /// `HINCRBYFLOAT key field delta`: the new value.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] when the field is not a number.
    fn hincr_by_float<K: ToArg, F: ToArg>(
        &self,
        key: K,
        field: F,
        delta: f64,
    ) -> impl Future<Output = Result<f64, Error>> + Send {
        let c = cmd("HINCRBYFLOAT").arg(key).arg(field).arg(delta);
        async move { self.query(&c).await }
    }

    /// `HSTRLEN key field`: the value's length (0 when missing).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hstrlen<K: ToArg, F: ToArg>(
        &self,
        key: K,
        field: F,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("HSTRLEN").arg(key).arg(field);
        async move { self.query(&c).await }
    }

    /// `HRANDFIELD key`: a random field, `None` for a missing key.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hrandfield<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("HRANDFIELD").arg(key);
        async move { self.query(&c).await }
    }

    /// `HRANDFIELD key count WITHVALUES`: up to `count` distinct random
    /// fields with their values (a negative count allows repeats and
    /// returns exactly `-count`).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hrandfield_with_values<K: ToArg>(
        &self,
        key: K,
        count: i64,
    ) -> impl Future<Output = Result<Vec<(Bytes, Bytes)>, Error>> + Send {
        let c = cmd("HRANDFIELD").arg(key).arg(count).arg("WITHVALUES");
        async move { pairs(self.query::<Frame>(&c).await?) }
    }

    /// One `HSCAN key cursor [MATCH p] [COUNT n]` page (the `TYPE` of
    /// [`ScanOptions`] does not apply and is refused by the server).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn hscan<K: ToArg>(
        &self,
        key: K,
        cursor: u64,
        opts: &ScanOptions,
    ) -> impl Future<Output = Result<HashScanPage, Error>> + Send {
        let c = opts.apply(cmd("HSCAN").arg(key).arg(cursor));
        async move { self.query(&c).await }
    }

    /// `HEXPIRE key seconds [NX|XX|GT|LT] FIELDS n field...` (Valkey 9):
    /// one result per field, in order.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (an unknown command before
    /// Valkey 9; no fields).
    fn hexpire<K: ToArg, F: ToArg>(
        &self,
        key: K,
        seconds: u64,
        cond: Option<ExpireCondition>,
        fields: &[F],
    ) -> impl Future<Output = Result<Vec<FieldExpiry>, Error>> + Send {
        let c = hexpire_cmd("HEXPIRE", key, seconds, cond, fields);
        async move { self.query(&c).await }
    }

    /// `HPEXPIRE key milliseconds [NX|XX|GT|LT] FIELDS n field...` (Valkey 9).
    ///
    /// # Errors
    /// As [`HashCommands::hexpire`].
    fn hpexpire<K: ToArg, F: ToArg>(
        &self,
        key: K,
        millis: u64,
        cond: Option<ExpireCondition>,
        fields: &[F],
    ) -> impl Future<Output = Result<Vec<FieldExpiry>, Error>> + Send {
        let c = hexpire_cmd("HPEXPIRE", key, millis, cond, fields);
        async move { self.query(&c).await }
    }

    /// `HTTL key FIELDS n field...` (Valkey 9): seconds left per field; -1
    /// no expiry, -2 no such field.
    ///
    /// # Errors
    /// As [`HashCommands::hexpire`].
    fn httl<K: ToArg, F: ToArg>(
        &self,
        key: K,
        fields: &[F],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send {
        let c = fields_cmd(cmd("HTTL").arg(key), fields);
        async move { self.query(&c).await }
    }

    /// `HPERSIST key FIELDS n field...` (Valkey 9): per field, `Done` when
    /// an expiry was removed, `NotSet` when it had none.
    ///
    /// # Errors
    /// As [`HashCommands::hexpire`].
    fn hpersist<K: ToArg, F: ToArg>(
        &self,
        key: K,
        fields: &[F],
    ) -> impl Future<Output = Result<Vec<FieldExpiry>, Error>> + Send {
        let c = fields_cmd(cmd("HPERSIST").arg(key), fields);
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> HashCommands for T {}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn pairs_from_every_shape() {
        let want = vec![("a".to_string(), 1i64), ("b".to_string(), 2)];
        let flat = Frame::Array(vec![bulk("a"), Frame::Integer(1), bulk("b"), Frame::Integer(2)]);
        assert_eq!(pairs::<String, i64>(flat).unwrap(), want);
        let nested = Frame::Array(vec![
            Frame::Array(vec![bulk("a"), Frame::Integer(1)]),
            Frame::Array(vec![bulk("b"), Frame::Integer(2)]),
        ]);
        assert_eq!(pairs::<String, i64>(nested).unwrap(), want);
        let map = Frame::Map(vec![(bulk("a"), Frame::Integer(1)), (bulk("b"), Frame::Integer(2))]);
        assert_eq!(pairs::<String, i64>(map).unwrap(), want);
        assert!(pairs::<String, i64>(Frame::Array(vec![bulk("a")])).is_err());
        assert!(pairs::<String, i64>(Frame::Array(vec![])).unwrap().is_empty());
    }

    #[test]
    fn hexpire_encodes_fields() {
        let c = hexpire_cmd("HEXPIRE", "h", 10, Some(ExpireCondition::IfNone), &["f1", "f2"]);
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(args, vec![&b"HEXPIRE"[..], b"h", b"10", b"NX", b"FIELDS", b"2", b"f1", b"f2"]);
        assert_eq!(FieldExpiry::from_code(2).unwrap(), FieldExpiry::Deleted);
        assert!(FieldExpiry::from_code(7).is_err());
    }
}
