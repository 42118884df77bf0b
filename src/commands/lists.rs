//! List commands: pushes and pops at either end, ranges, positions, moves
//! between lists, and the blocking pops (`BLPOP`, `BRPOP`, `BLMOVE`, `BLMPOP`).
//!
//! A blocking pop is built with [`Cmd::blocking`](crate::cmd::Cmd::blocking),
//! so the client sends it on an exclusive connection from its pool while its
//! other commands keep flowing on the shared one; the response timeout does
//! not apply to it. A zero timeout waits for ever. Not here: sets, sorted sets.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::reply_shape::{array_or_null, exact};
use super::{expect_ok, Execute};
use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::error::Error;
use crate::resp::Frame;

/// An end of a list: `LEFT` (head) or `RIGHT` (tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEnd {
    /// `LEFT`: the head.
    Left,
    /// `RIGHT`: the tail.
    Right,
}

impl ToArg for ListEnd {
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(match self {
            ListEnd::Left => b"LEFT",
            ListEnd::Right => b"RIGHT",
        })
    }
}

/// Where `LINSERT` puts the new element relative to the pivot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertPlace {
    /// `BEFORE` the pivot.
    Before,
    /// `AFTER` the pivot.
    After,
}

impl ToArg for InsertPlace {
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(match self {
            InsertPlace::Before => b"BEFORE",
            InsertPlace::After => b"AFTER",
        })
    }
}

/// Options of `LPOS`: `RANK` (which match; negative counts from the tail) and
/// `MAXLEN` (how many elements to compare at most). The default is neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LPosOptions {
    /// `RANK n`.
    pub rank: Option<i64>,
    /// `MAXLEN n`.
    pub maxlen: Option<u64>,
}

impl LPosOptions {
    fn apply(&self, mut c: Cmd) -> Cmd {
        if let Some(rank) = self.rank {
            c = c.arg("RANK").arg(rank);
        }
        if let Some(maxlen) = self.maxlen {
            c = c.arg("MAXLEN").arg(maxlen);
        }
        c
    }
}

/// A blocking command's timeout in seconds, as the server reads it (0 = for ever).
pub(crate) fn timeout_secs(timeout: Duration) -> f64 {
    timeout.as_secs_f64()
}

/// The reply of `LMPOP`/`BLMPOP`: `[key, [elements]]` or null.
fn key_and_elements(frame: Frame) -> Result<Option<(Bytes, Vec<Bytes>)>, Error> {
    let Some(items) = array_or_null(frame, "a key and its elements")? else {
        return Ok(None);
    };
    let [key, elements] = exact::<2>(items, "a key and its elements")?;
    Ok(Some((Bytes::from_reply(key)?, Vec::from_reply(elements)?)))
}

/// The list group (`LPUSH`, `LRANGE`, `BLPOP` ...), for every [`Execute`].
pub trait ListCommands: Execute {
    /// `LPUSH key value...`: pushes at the head, in order; the new length.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, or no value given).
    fn lpush<K: ToArg, I>(&self, key: K, values: I) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("LPUSH").arg(key).args_from(values);
        async move { self.query(&c).await }
    }

    /// `RPUSH key value...`: pushes at the tail; the new length.
    ///
    /// # Errors
    /// As [`ListCommands::lpush`].
    fn rpush<K: ToArg, I>(&self, key: K, values: I) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("RPUSH").arg(key).args_from(values);
        async move { self.query(&c).await }
    }

    /// `LPUSHX key value...`: pushes at the head only if the list exists; the
    /// new length, 0 when it does not exist.
    ///
    /// # Errors
    /// As [`ListCommands::lpush`].
    fn lpushx<K: ToArg, I>(&self, key: K, values: I) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("LPUSHX").arg(key).args_from(values);
        async move { self.query(&c).await }
    }

    /// `RPUSHX key value...`: pushes at the tail only if the list exists.
    ///
    /// # Errors
    /// As [`ListCommands::lpush`].
    fn rpushx<K: ToArg, I>(&self, key: K, values: I) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("RPUSHX").arg(key).args_from(values);
        async move { self.query(&c).await }
    }

    /// `LPOP key`: the head, `None` when the list is empty or missing.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn lpop<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("LPOP").arg(key);
        async move { self.query(&c).await }
    }

    /// `RPOP key`: the tail, `None` when the list is empty or missing.
    ///
    /// # Errors
    /// As [`ListCommands::lpop`].
    fn rpop<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("RPOP").arg(key);
        async move { self.query(&c).await }
    }

    /// `LPOP key count`: up to `count` elements from the head (empty when missing).
    ///
    /// # Errors
    /// As [`ListCommands::lpop`].
    fn lpop_count<K: ToArg>(
        &self,
        key: K,
        count: usize,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = cmd("LPOP").arg(key).arg(count);
        async move { self.query(&c).await }
    }

    /// `RPOP key count`: up to `count` elements from the tail (empty when missing).
    ///
    /// # Errors
    /// As [`ListCommands::lpop`].
    fn rpop_count<K: ToArg>(
        &self,
        key: K,
        count: usize,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = cmd("RPOP").arg(key).arg(count);
        async move { self.query(&c).await }
    }

    /// `LLEN key`: the length (0 when missing).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn llen<K: ToArg>(&self, key: K) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("LLEN").arg(key);
        async move { self.query(&c).await }
    }

    /// `LRANGE key start stop`: the elements from `start` to `stop`, both
    /// included; negative indexes count from the tail (-1 is the last).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn lrange<K: ToArg>(
        &self,
        key: K,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = cmd("LRANGE").arg(key).arg(start).arg(stop);
        async move { self.query(&c).await }
    }

    /// `LINDEX key index`: the element, `None` when out of range.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn lindex<K: ToArg>(
        &self,
        key: K,
        index: i64,
    ) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("LINDEX").arg(key).arg(index);
        async move { self.query(&c).await }
    }

    /// `LSET key index value`; the reply must be `+OK`.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] for an index out of range or a
    /// missing key; [`Error::Type`] for a reply other than `+OK`.
    fn lset<K: ToArg, V: ToArg>(
        &self,
        key: K,
        index: i64,
        value: V,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("LSET").arg(key).arg(index).arg(value);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `LINSERT key BEFORE|AFTER pivot value`: the new length; `None` when
    /// the pivot was not found (the server's -1), `Some(0)` when the list
    /// does not exist.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn linsert<K: ToArg, P: ToArg, V: ToArg>(
        &self,
        key: K,
        place: InsertPlace,
        pivot: P,
        value: V,
    ) -> impl Future<Output = Result<Option<usize>, Error>> + Send {
        let c = cmd("LINSERT").arg(key).arg(place).arg(pivot).arg(value);
        async move {
            let n: i64 = self.query(&c).await?;
            Ok(usize::try_from(n).ok())
        }
    }

    /// `LREM key count value`: removes matches (`count` > 0 from the head,
    /// < 0 from the tail, 0 all); the number removed.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn lrem<K: ToArg, V: ToArg>(
        &self,
        key: K,
        count: i64,
        value: V,
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("LREM").arg(key).arg(count).arg(value);
        async move { self.query(&c).await }
    }

    /// `LTRIM key start stop`: keeps only that range; the reply must be `+OK`.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`); [`Error::Type`].
    fn ltrim<K: ToArg>(
        &self,
        key: K,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("LTRIM").arg(key).arg(start).arg(stop);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `LPOS key element [RANK r] [MAXLEN m]`: the index of the match, `None`
    /// when there is none.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, `RANK 0`).
    fn lpos<K: ToArg, V: ToArg>(
        &self,
        key: K,
        element: V,
        options: &LPosOptions,
    ) -> impl Future<Output = Result<Option<usize>, Error>> + Send {
        let c = options.apply(cmd("LPOS").arg(key).arg(element));
        async move { self.query(&c).await }
    }

    /// `LPOS key element [RANK r] COUNT n [MAXLEN m]`: the indexes of up to
    /// `count` matches (0 = all).
    ///
    /// # Errors
    /// As [`ListCommands::lpos`].
    fn lpos_count<K: ToArg, V: ToArg>(
        &self,
        key: K,
        element: V,
        count: usize,
        options: &LPosOptions,
    ) -> impl Future<Output = Result<Vec<usize>, Error>> + Send {
        let c = options.apply(cmd("LPOS").arg(key).arg(element)).arg("COUNT").arg(count);
        async move { self.query(&c).await }
    }

    /// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`: the element moved,
    /// `None` when `source` is empty.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`; `CROSSSLOT` on a
    /// cluster when the keys hash to different slots).
    fn lmove<S: ToArg, D: ToArg>(
        &self,
        source: S,
        destination: D,
        from: ListEnd,
        to: ListEnd,
    ) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("LMOVE").arg(source).arg(destination).arg(from).arg(to);
        async move { self.query(&c).await }
    }

    /// `LMPOP numkeys key... LEFT|RIGHT COUNT count`: up to `count` elements
    /// from the first non-empty list, with its key; `None` when all are empty.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, `CROSSSLOT`).
    fn lmpop<K: ToArg>(
        &self,
        keys: &[K],
        end: ListEnd,
        count: usize,
    ) -> impl Future<Output = Result<Option<(Bytes, Vec<Bytes>)>, Error>> + Send {
        let c = cmd("LMPOP").arg(keys.len()).args_from(keys).arg(end).arg("COUNT").arg(count);
        async move { key_and_elements(self.execute(&c).await?) }
    }

    /// `BLPOP key... timeout`: the key and head of the first non-empty list,
    /// waiting up to `timeout` (zero: for ever) on an exclusive connection;
    /// `None` on timeout.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the wait; the exclusive connection is
    /// discarded, so an element popped meanwhile is lost.
    ///
    /// # Errors
    /// Connection failures, pool timeouts; [`Error::Server`] (`WRONGTYPE`, `CROSSSLOT`).
    fn blpop<K: ToArg>(
        &self,
        keys: &[K],
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<(Bytes, Bytes)>, Error>> + Send {
        let c = cmd("BLPOP").args_from(keys).arg(timeout_secs(timeout)).blocking();
        async move { self.query(&c).await }
    }

    /// `BRPOP key... timeout`: as [`ListCommands::blpop`], from the tail.
    ///
    /// # Errors
    /// As [`ListCommands::blpop`].
    fn brpop<K: ToArg>(
        &self,
        keys: &[K],
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<(Bytes, Bytes)>, Error>> + Send {
        let c = cmd("BRPOP").args_from(keys).arg(timeout_secs(timeout)).blocking();
        async move { self.query(&c).await }
    }

    /// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`: as
    /// [`ListCommands::lmove`], waiting up to `timeout` for an element.
    ///
    /// # Errors
    /// As [`ListCommands::blpop`].
    fn blmove<S: ToArg, D: ToArg>(
        &self,
        source: S,
        destination: D,
        from: ListEnd,
        to: ListEnd,
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("BLMOVE")
            .arg(source)
            .arg(destination)
            .arg(from)
            .arg(to)
            .arg(timeout_secs(timeout))
            .blocking();
        async move { self.query(&c).await }
    }

    /// `BLMPOP timeout numkeys key... LEFT|RIGHT COUNT count`: as
    /// [`ListCommands::lmpop`], waiting up to `timeout`.
    ///
    /// # Errors
    /// As [`ListCommands::blpop`].
    fn blmpop<K: ToArg>(
        &self,
        timeout: Duration,
        keys: &[K],
        end: ListEnd,
        count: usize,
    ) -> impl Future<Output = Result<Option<(Bytes, Vec<Bytes>)>, Error>> + Send {
        let c = cmd("BLMPOP")
            .arg(timeout_secs(timeout))
            .arg(keys.len())
            .args_from(keys)
            .arg(end)
            .arg("COUNT")
            .arg(count)
            .blocking();
        async move { key_and_elements(self.execute(&c).await?) }
    }
}

impl<T: Execute + ?Sized> ListCommands for T {}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &Cmd) -> Vec<String> {
        c.args().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    #[tokio::test]
    async fn blocking_pops_are_marked_blocking() {
        use crate::commands::reply_shape::Recorder;
        let r = Recorder::default();
        let t = Duration::from_millis(10);
        r.blpop(&["l"], t).await.unwrap();
        assert!(r.last_blocking());
        r.brpop(&["l"], t).await.unwrap();
        assert!(r.last_blocking());
        r.blmove("a", "b", ListEnd::Left, ListEnd::Right, t).await.unwrap();
        assert!(r.last_blocking());
        r.blmpop(t, &["l"], ListEnd::Left, 1).await.unwrap();
        assert!(r.last_blocking());
        r.lmpop(&["l"], ListEnd::Left, 1).await.unwrap();
        assert!(!r.last_blocking());
        r.lpop("l").await.unwrap();
        assert!(!r.last_blocking());
    }

    #[test]
    fn lpos_options_encode() {
        let o = LPosOptions { rank: Some(-2), maxlen: Some(10) };
        assert_eq!(
            args(&o.apply(cmd("LPOS").arg("l").arg("x"))),
            ["LPOS", "l", "x", "RANK", "-2", "MAXLEN", "10"]
        );
        assert_eq!(args(&LPosOptions::default().apply(cmd("LPOS"))), ["LPOS"]);
    }

    #[test]
    fn timeouts_are_fractional_seconds() {
        let c = cmd("BLPOP").arg("l").arg(timeout_secs(Duration::from_millis(1500)));
        assert_eq!(args(&c), ["BLPOP", "l", "1.5"]);
        let c = cmd("BLPOP").arg("l").arg(timeout_secs(Duration::ZERO));
        assert_eq!(args(&c), ["BLPOP", "l", "0"]);
    }

    #[test]
    fn lmpop_reply_shapes() {
        let b = |s: &str| Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()));
        let reply = Frame::Array(vec![b("k"), Frame::Array(vec![b("a"), b("b")])]);
        let (k, v) = key_and_elements(reply).unwrap().unwrap();
        assert_eq!((k.as_ref(), v.len()), (&b"k"[..], 2));
        assert_eq!(key_and_elements(Frame::Null).unwrap(), None);
        assert!(matches!(key_and_elements(Frame::Array(vec![b("k")])), Err(Error::Type { .. })));
    }
}
