//! String commands: `GET`, `SET` (with [`SetOptions`]), counters, ranges,
//! `MGET`/`MSET` and `LCS`.
//!
//! Each method builds its command before the future starts (so arguments
//! need not be `Send`), sends it through [`Execute`] and checks the reply the
//! command promises. Not here: keys and expiry of whole keys (`keys`), bit
//! operations on strings (`bitmaps`).
//!
//! On a cluster, `MGET` and `MSET` whose keys span slots are split by slot
//! and merged in the caller's order (not atomic); `MSETNX` and `LCS` need
//! their keys in one slot (else [`Error::CrossSlot`]).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::{expect_ok, Execute};
use crate::cmd::{cmd, Cmd, ToArg};
use crate::error::Error;
use crate::resp::Frame;

/// Expiry of a `SET` or `GETEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `EX seconds`: expire after this many seconds.
    Seconds(u64),
    /// `PX milliseconds`: expire after this many milliseconds.
    Millis(u64),
    /// `EXAT unix-seconds`: expire at this Unix time.
    AtSeconds(u64),
    /// `PXAT unix-milliseconds`: expire at this Unix time in milliseconds.
    AtMillis(u64),
    /// `KEEPTTL`: keep the key's current expiry (for `GETEX`: no option,
    /// which leaves the expiry alone).
    KeepTtl,
}

impl Expiry {
    /// `EX`/`PX` for a duration: seconds when whole, else milliseconds
    /// (at least 1, so a sub-millisecond duration still expires).
    pub fn after(ttl: Duration) -> Expiry {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        if millis % 1000 == 0 {
            Expiry::Seconds(millis / 1000)
        } else {
            Expiry::Millis(millis)
        }
    }

    /// Appends the option to `c`.
    pub fn push_to(self, c: &mut Cmd) {
        match self {
            Expiry::Seconds(s) => c.push_arg("EX").push_arg(s),
            Expiry::Millis(ms) => c.push_arg("PX").push_arg(ms),
            Expiry::AtSeconds(t) => c.push_arg("EXAT").push_arg(t),
            Expiry::AtMillis(t) => c.push_arg("PXAT").push_arg(t),
            Expiry::KeepTtl => c.push_arg("KEEPTTL"),
        };
    }
}

/// Condition of a `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCondition {
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if the key exists.
    IfPresent,
}

/// Options of `SET` ([`StringCommands::set_with`], [`StringCommands::set_get`]);
/// the default is a plain `SET key value`.
///
/// ```
/// use std::time::Duration;
/// use redwire::commands::SetOptions;
///
/// let lock = SetOptions::new().if_absent().expire_after(Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetOptions {
    expiry: Option<Expiry>,
    condition: Option<SetCondition>,
}

impl SetOptions {
    /// A plain `SET`.
    pub fn new() -> SetOptions {
        SetOptions::default()
    }

    /// `EX`/`PX`/`EXAT`/`PXAT`/`KEEPTTL`.
    pub fn expiry(mut self, expiry: Expiry) -> SetOptions {
        self.expiry = Some(expiry);
        self
    }

    /// Expire after `ttl` (see [`Expiry::after`]).
    pub fn expire_after(self, ttl: Duration) -> SetOptions {
        self.expiry(Expiry::after(ttl))
    }

    /// `KEEPTTL`: keep the key's current expiry.
    pub fn keep_ttl(self) -> SetOptions {
        self.expiry(Expiry::KeepTtl)
    }

    /// `NX`: set only if the key does not exist.
    pub fn if_absent(mut self) -> SetOptions {
        self.condition = Some(SetCondition::IfAbsent);
        self
    }

    /// `XX`: set only if the key exists.
    pub fn if_present(mut self) -> SetOptions {
        self.condition = Some(SetCondition::IfPresent);
        self
    }

    /// Appends the options to a `SET key value` command.
    pub fn apply(&self, mut c: Cmd) -> Cmd {
        if let Some(e) = self.expiry {
            e.push_to(&mut c);
        }
        match self.condition {
            Some(SetCondition::IfAbsent) => c = c.arg("NX"),
            Some(SetCondition::IfPresent) => c = c.arg("XX"),
            None => {}
        }
        c
    }
}

/// `+OK` is true, a null reply (condition not met) false.
fn set_or_not(frame: Frame) -> Result<bool, Error> {
    if frame.value().is_null() {
        return Ok(false);
    }
    expect_ok(frame).map(|()| true)
}

fn pairs_cmd<K: ToArg, V: ToArg>(name: &str, pairs: &[(K, V)]) -> Cmd {
    let mut c = cmd(name);
    for (k, v) in pairs {
        c.push_arg(k).push_arg(v);
    }
    c
}

/// The string group (`GET`, `SET`, `INCR` ...), for every [`Execute`].
pub trait StringCommands: Execute {
    /// `GET key`: the value, `None` when the key does not exist.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (e.g. `WRONGTYPE`).
    fn get<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("GET").arg(key);
        async move { self.query(&c).await }
    }

    /// `SET key value`; the reply must be `+OK`.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::Type`] for a reply other than `+OK`.
    fn set<K: ToArg, V: ToArg>(&self, key: K, value: V) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("SET").arg(key).arg(value);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `SET key value [expiry] [NX|XX]`: true when the value was written,
    /// false when `NX`/`XX` was not met.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (e.g. a bad expiry);
    /// [`Error::Type`] for a reply other than `+OK` or null.
    fn set_with<K: ToArg, V: ToArg>(
        &self,
        key: K,
        value: V,
        opts: SetOptions,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = opts.apply(cmd("SET").arg(key).arg(value));
        async move { set_or_not(self.execute(&c).await?) }
    }

    /// `SET key value [expiry] [NX|XX] GET`: the old value (`None` when the
    /// key did not exist). With `NX`, `Some` means the key existed and was
    /// left alone.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE` when the old value
    /// is not a string).
    fn set_get<K: ToArg, V: ToArg>(
        &self,
        key: K,
        value: V,
        opts: SetOptions,
    ) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = opts.apply(cmd("SET").arg(key).arg(value)).arg("GET");
        async move { self.query(&c).await }
    }

    /// `SET key value PX|EX ttl` (see [`Expiry::after`]).
    ///
    /// # Errors
    /// As [`StringCommands::set`].
    fn set_ex<K: ToArg, V: ToArg>(
        &self,
        key: K,
        value: V,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let c = SetOptions::new().expire_after(ttl).apply(cmd("SET").arg(key).arg(value));
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `SETNX key value`: true when set (the key did not exist).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn setnx<K: ToArg, V: ToArg>(
        &self,
        key: K,
        value: V,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("SETNX").arg(key).arg(value);
        async move { self.query(&c).await }
    }

    /// `SETEX key seconds value`.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (e.g. seconds = 0); [`Error::Type`] unless `+OK`.
    fn setex<K: ToArg, V: ToArg>(
        &self,
        key: K,
        seconds: u64,
        value: V,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("SETEX").arg(key).arg(seconds).arg(value);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `PSETEX key milliseconds value`.
    ///
    /// # Errors
    /// As [`StringCommands::setex`].
    fn psetex<K: ToArg, V: ToArg>(
        &self,
        key: K,
        millis: u64,
        value: V,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("PSETEX").arg(key).arg(millis).arg(value);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `GETEX key [EX|PX|EXAT|PXAT]`: the value, setting a new expiry
    /// ([`Expiry::KeepTtl`] sends no option and leaves the expiry alone).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn getex<K: ToArg>(
        &self,
        key: K,
        expiry: Expiry,
    ) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let mut c = cmd("GETEX").arg(key);
        if expiry != Expiry::KeepTtl {
            expiry.push_to(&mut c);
        }
        async move { self.query(&c).await }
    }

    /// `GETEX key PERSIST`: the value, removing its expiry.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn getex_persist<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("GETEX").arg(key).arg("PERSIST");
        async move { self.query(&c).await }
    }

    /// `GETDEL key`: the value, deleting the key.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn getdel<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("GETDEL").arg(key);
        async move { self.query(&c).await }
    }

    /// `GETSET key value`: the old value (deprecated by the server in
    /// favour of [`StringCommands::set_get`], still served).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn getset<K: ToArg, V: ToArg>(
        &self,
        key: K,
        value: V,
    ) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("GETSET").arg(key).arg(value);
        async move { self.query(&c).await }
    }

    /// `GETRANGE key start end` (inclusive; negative counts from the end).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn getrange<K: ToArg>(
        &self,
        key: K,
        start: i64,
        end: i64,
    ) -> impl Future<Output = Result<Bytes, Error>> + Send {
        let c = cmd("GETRANGE").arg(key).arg(start).arg(end);
        async move { self.query(&c).await }
    }

    /// `SETRANGE key offset value`: the new length.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (e.g. past 512 MB).
    fn setrange<K: ToArg, V: ToArg>(
        &self,
        key: K,
        offset: u64,
        value: V,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("SETRANGE").arg(key).arg(offset).arg(value);
        async move { self.query(&c).await }
    }

    /// `APPEND key value`: the new length.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn append<K: ToArg, V: ToArg>(
        &self,
        key: K,
        value: V,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("APPEND").arg(key).arg(value);
        async move { self.query(&c).await }
    }

    /// `STRLEN key`: 0 for a missing key.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn strlen<K: ToArg>(&self, key: K) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("STRLEN").arg(key);
        async move { self.query(&c).await }
    }

    /// `INCR key`: the new value.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] when the value is not an integer.
    fn incr<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("INCR").arg(key);
        async move { self.query(&c).await }
    }

    /// `INCRBY key delta`: the new value.
    ///
    /// # Errors
    /// As [`StringCommands::incr`], plus overflow.
    fn incr_by<K: ToArg>(&self, key: K, delta: i64) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("INCRBY").arg(key).arg(delta);
        async move { self.query(&c).await }
    }

    /// `INCRBYFLOAT key delta`: the new value.
    ///
    /// # Errors
    /// As [`StringCommands::incr`] (for a value that is not a number).
    fn incr_by_float<K: ToArg>(&self, key: K, delta: f64) -> impl Future<Output = Result<f64, Error>> + Send {
        let c = cmd("INCRBYFLOAT").arg(key).arg(delta);
        async move { self.query(&c).await }
    }

    /// `DECR key`: the new value.
    ///
    /// # Errors
    /// As [`StringCommands::incr`].
    fn decr<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("DECR").arg(key);
        async move { self.query(&c).await }
    }

    /// `DECRBY key delta`: the new value.
    ///
    /// # Errors
    /// As [`StringCommands::incr`], plus overflow.
    fn decr_by<K: ToArg>(&self, key: K, delta: i64) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("DECRBY").arg(key).arg(delta);
        async move { self.query(&c).await }
    }

    /// `MGET keys...`: one value per key, in order (`None` when missing or
    /// not a string). Split by slot on a cluster.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn mget<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<Vec<Option<Bytes>>, Error>> + Send {
        let c = cmd("MGET").args_from(keys);
        async move { self.query(&c).await }
    }

    /// `MSET k1 v1 k2 v2 ...`. Split by slot on a cluster, where it is not
    /// atomic.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::Type`] unless `+OK`.
    fn mset<K: ToArg, V: ToArg>(&self, pairs: &[(K, V)]) -> impl Future<Output = Result<(), Error>> + Send {
        let c = pairs_cmd("MSET", pairs);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `MSETNX k1 v1 ...`: true when all were set (none existed), false
    /// when nothing was set.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::CrossSlot`] on a
    /// cluster when the keys span slots.
    fn msetnx<K: ToArg, V: ToArg>(
        &self,
        pairs: &[(K, V)],
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = pairs_cmd("MSETNX", pairs);
        async move { self.query(&c).await }
    }

    /// `LCS key1 key2`: the longest common subsequence of the two values.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::CrossSlot`] on a
    /// cluster when the keys are in different slots.
    fn lcs<K: ToArg>(&self, key1: K, key2: K) -> impl Future<Output = Result<Bytes, Error>> + Send {
        let c = cmd("LCS").arg(key1).arg(key2);
        async move { self.query(&c).await }
    }

    /// `LCS key1 key2 LEN`: the length of the longest common subsequence.
    ///
    /// # Errors
    /// As [`StringCommands::lcs`].
    fn lcs_len<K: ToArg>(&self, key1: K, key2: K) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("LCS").arg(key1).arg(key2).arg("LEN");
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> StringCommands for T {}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &Cmd) -> Vec<String> {
        c.args().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    #[test]
    fn set_options_encode() {
        let o = SetOptions::new().expiry(Expiry::Seconds(5)).if_absent();
        assert_eq!(args(&o.apply(cmd("SET").arg("k").arg("v"))), ["SET", "k", "v", "EX", "5", "NX"]);
        let o = SetOptions::new().keep_ttl().if_present();
        assert_eq!(args(&o.apply(cmd("SET").arg("k").arg("v"))), ["SET", "k", "v", "KEEPTTL", "XX"]);
        let o = SetOptions::new().expiry(Expiry::AtMillis(9));
        assert_eq!(args(&o.apply(cmd("SET").arg("k").arg("v"))), ["SET", "k", "v", "PXAT", "9"]);
    }

    #[test]
    fn expiry_after_picks_the_unit() {
        assert_eq!(Expiry::after(Duration::from_secs(3)), Expiry::Seconds(3));
        assert_eq!(Expiry::after(Duration::from_millis(1500)), Expiry::Millis(1500));
        assert_eq!(Expiry::after(Duration::from_nanos(5)), Expiry::Millis(1));
    }

    #[test]
    fn set_reply_shapes() {
        assert!(set_or_not(Frame::SimpleString(Bytes::from_static(b"OK"))).unwrap());
        assert!(!set_or_not(Frame::NullBulk).unwrap());
        assert!(set_or_not(Frame::Integer(1)).is_err());
    }
}
