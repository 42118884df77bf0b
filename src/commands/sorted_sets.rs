//! Sorted-set commands: `ZADD` with its options ([`ZAddOptions`]), scores and
//! ranks, `ZRANGE` in all its forms ([`ZRange`]), pops (blocking too),
//! stores, scans and random members.
//!
//! Scores are `f64` (`inf`/`-inf` included). Members with their scores come
//! back as `Vec<(Bytes, f64)>`, from RESP2's flat `[m, s, m, s]` and RESP3's
//! nested `[[m, s], ...]` alike. Blocking pops go to an exclusive connection
//! ([`Cmd::blocking`]). Not here: plain sets (`sets`).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::lists::timeout_secs;
use super::member_scan::{parse_cursor, MemberScanOptions, ScanReply};
use super::reply_shape::{array_or_null, exact, scored};
use super::zrange::{LexBound, ScoreBound, ZRange};
use super::Execute;
use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::error::Error;
use crate::resp::Frame;

/// Options of `ZADD`: `NX`/`XX` (only new / only existing members), `GT`/`LT`
/// (only raise / only lower a score), `CH` (count changed, not just added).
/// The default is none; the server refuses contradictory combinations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZAddOptions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
}

impl ZAddOptions {
    /// No option.
    pub fn new() -> ZAddOptions {
        ZAddOptions::default()
    }

    /// `NX`: add new members only, never update.
    #[must_use]
    pub fn nx(mut self) -> ZAddOptions {
        self.nx = true;
        self
    }

    /// `XX`: update existing members only, never add.
    #[must_use]
    pub fn xx(mut self) -> ZAddOptions {
        self.xx = true;
        self
    }

    /// `GT`: update only when the new score is greater.
    #[must_use]
    pub fn gt(mut self) -> ZAddOptions {
        self.gt = true;
        self
    }

    /// `LT`: update only when the new score is less.
    #[must_use]
    pub fn lt(mut self) -> ZAddOptions {
        self.lt = true;
        self
    }

    /// `CH`: the reply counts changed members, not only added ones.
    #[must_use]
    pub fn ch(mut self) -> ZAddOptions {
        self.ch = true;
        self
    }

    fn apply(&self, mut c: Cmd) -> Cmd {
        for (on, flag) in
            [(self.nx, "NX"), (self.xx, "XX"), (self.gt, "GT"), (self.lt, "LT"), (self.ch, "CH")]
        {
            if on {
                c = c.arg(flag);
            }
        }
        c
    }
}

/// `BZPOPMIN`/`BZPOPMAX`: `[key, member, score]` or null.
fn key_member_score(frame: Frame) -> Result<Option<(Bytes, Bytes, f64)>, Error> {
    let Some(items) = array_or_null(frame, "a key, member and score")? else {
        return Ok(None);
    };
    let [key, member, score] = exact::<3>(items, "a key, member and score")?;
    Ok(Some((Bytes::from_reply(key)?, Bytes::from_reply(member)?, f64::from_reply(score)?)))
}

/// The sorted-set group (`ZADD`, `ZRANGE`, `BZPOPMIN` ...), for every [`Execute`].
pub trait SortedSetCommands: Execute {
    /// `ZADD key [NX|XX] [GT|LT] [CH] score member...`: the number of members
    /// added (with `CH`: added or changed).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, bad option mix).
    fn zadd<K: ToArg, M: ToArg, I>(
        &self,
        key: K,
        members: I,
        options: &ZAddOptions,
    ) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator<Item = (f64, M)>,
    {
        let mut c = options.apply(cmd("ZADD").arg(key));
        for (score, member) in members {
            c = c.arg(score).arg(member);
        }
        async move { self.query(&c).await }
    }

    /// `ZADD key [options] INCR increment member`: the new score, `None` when
    /// an option (`NX`, `XX`, `GT`, `LT`) prevented the update.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zadd`].
    fn zadd_incr<K: ToArg, M: ToArg>(
        &self,
        key: K,
        increment: f64,
        member: M,
        options: &ZAddOptions,
    ) -> impl Future<Output = Result<Option<f64>, Error>> + Send {
        let c = options.apply(cmd("ZADD").arg(key)).arg("INCR").arg(increment).arg(member);
        async move { self.query(&c).await }
    }

    /// `ZREM key member...`: the number of members removed.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn zrem<K: ToArg, I>(&self, key: K, members: I) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("ZREM").arg(key).args_from(members);
        async move { self.query(&c).await }
    }

    /// `ZSCORE key member`: the score, `None` when absent.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn zscore<K: ToArg, M: ToArg>(
        &self,
        key: K,
        member: M,
    ) -> impl Future<Output = Result<Option<f64>, Error>> + Send {
        let c = cmd("ZSCORE").arg(key).arg(member);
        async move { self.query(&c).await }
    }

    /// `ZMSCORE key member...`: each member's score, in order.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zmscore<K: ToArg, I>(
        &self,
        key: K,
        members: I,
    ) -> impl Future<Output = Result<Vec<Option<f64>>, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("ZMSCORE").arg(key).args_from(members);
        async move { self.query(&c).await }
    }

    /// `ZINCRBY key increment member`: the new score.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zincrby<K: ToArg, M: ToArg>(
        &self,
        key: K,
        increment: f64,
        member: M,
    ) -> impl Future<Output = Result<f64, Error>> + Send {
        let c = cmd("ZINCRBY").arg(key).arg(increment).arg(member);
        async move { self.query(&c).await }
    }

    /// `ZCARD key`: the number of members (0 when missing).
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zcard<K: ToArg>(&self, key: K) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("ZCARD").arg(key);
        async move { self.query(&c).await }
    }

    /// `ZCOUNT key min max`: the number of members with a score in range.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zcount<K: ToArg>(
        &self,
        key: K,
        min: ScoreBound,
        max: ScoreBound,
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("ZCOUNT").arg(key).arg(min).arg(max);
        async move { self.query(&c).await }
    }

    /// `ZLEXCOUNT key min max`: the number of members in the lex range.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zlexcount<K: ToArg>(
        &self,
        key: K,
        min: LexBound,
        max: LexBound,
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("ZLEXCOUNT").arg(key).arg(min).arg(max);
        async move { self.query(&c).await }
    }

    /// `ZRANK key member`: the rank (0 = lowest score), `None` when absent.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zrank<K: ToArg, M: ToArg>(
        &self,
        key: K,
        member: M,
    ) -> impl Future<Output = Result<Option<usize>, Error>> + Send {
        let c = cmd("ZRANK").arg(key).arg(member);
        async move { self.query(&c).await }
    }

    /// `ZREVRANK key member`: the rank from the highest score.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zrevrank<K: ToArg, M: ToArg>(
        &self,
        key: K,
        member: M,
    ) -> impl Future<Output = Result<Option<usize>, Error>> + Send {
        let c = cmd("ZREVRANK").arg(key).arg(member);
        async move { self.query(&c).await }
    }

    /// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT o c]`: the members.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`]; [`Error::Server`] for `LIMIT` on an index range.
    fn zrange<K: ToArg>(
        &self,
        key: K,
        range: &ZRange,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = range.apply(cmd("ZRANGE").arg(key));
        async move { self.query(&c).await }
    }

    /// `ZRANGE ... WITHSCORES`: the members with their scores.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zrange`].
    fn zrange_withscores<K: ToArg>(
        &self,
        key: K,
        range: &ZRange,
    ) -> impl Future<Output = Result<Vec<(Bytes, f64)>, Error>> + Send {
        let c = range.apply(cmd("ZRANGE").arg(key)).arg("WITHSCORES");
        async move { scored(self.execute(&c).await?) }
    }

    /// `ZRANGESTORE destination source start stop [...]`: stores the range;
    /// the number of members stored.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zrange`]; `CROSSSLOT` on a cluster.
    fn zrangestore<D: ToArg, S: ToArg>(
        &self,
        destination: D,
        source: S,
        range: &ZRange,
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = range.apply(cmd("ZRANGESTORE").arg(destination).arg(source));
        async move { self.query(&c).await }
    }

    /// `ZPOPMIN key count`: removes and returns up to `count` lowest members.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zpopmin<K: ToArg>(
        &self,
        key: K,
        count: usize,
    ) -> impl Future<Output = Result<Vec<(Bytes, f64)>, Error>> + Send {
        let c = cmd("ZPOPMIN").arg(key).arg(count);
        async move { scored(self.execute(&c).await?) }
    }

    /// `ZPOPMAX key count`: removes and returns up to `count` highest members.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zpopmax<K: ToArg>(
        &self,
        key: K,
        count: usize,
    ) -> impl Future<Output = Result<Vec<(Bytes, f64)>, Error>> + Send {
        let c = cmd("ZPOPMAX").arg(key).arg(count);
        async move { scored(self.execute(&c).await?) }
    }

    /// `BZPOPMIN key... timeout`: the key, member and score of the lowest
    /// member of the first non-empty set, waiting up to `timeout` (zero: for
    /// ever) on an exclusive connection; `None` on timeout.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the wait; the exclusive connection is
    /// discarded, so a member popped meanwhile is lost.
    ///
    /// # Errors
    /// Connection failures, pool timeouts; [`Error::Server`] (`WRONGTYPE`, `CROSSSLOT`).
    fn bzpopmin<K: ToArg>(
        &self,
        keys: &[K],
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<(Bytes, Bytes, f64)>, Error>> + Send {
        let c = cmd("BZPOPMIN").args_from(keys).arg(timeout_secs(timeout)).blocking();
        async move { key_member_score(self.execute(&c).await?) }
    }

    /// `BZPOPMAX key... timeout`: as [`SortedSetCommands::bzpopmin`], the highest.
    ///
    /// # Errors
    /// As [`SortedSetCommands::bzpopmin`].
    fn bzpopmax<K: ToArg>(
        &self,
        keys: &[K],
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<(Bytes, Bytes, f64)>, Error>> + Send {
        let c = cmd("BZPOPMAX").args_from(keys).arg(timeout_secs(timeout)).blocking();
        async move { key_member_score(self.execute(&c).await?) }
    }

    /// `ZUNIONSTORE destination numkeys key...`: stores the union (scores
    /// summed); its size.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`]; `CROSSSLOT` on a cluster.
    fn zunionstore<D: ToArg, K: ToArg>(
        &self,
        destination: D,
        keys: &[K],
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("ZUNIONSTORE").arg(destination).arg(keys.len()).args_from(keys);
        async move { self.query(&c).await }
    }

    /// `ZINTERSTORE destination numkeys key...`: stores the intersection
    /// (scores summed); its size.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zunionstore`].
    fn zinterstore<D: ToArg, K: ToArg>(
        &self,
        destination: D,
        keys: &[K],
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("ZINTERSTORE").arg(destination).arg(keys.len()).args_from(keys);
        async move { self.query(&c).await }
    }

    /// `ZSCAN key cursor [MATCH p] [COUNT n]`: one page of members with scores.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`]; [`Error::Type`] for a malformed page.
    fn zscan<K: ToArg>(
        &self,
        key: K,
        cursor: u64,
        options: &MemberScanOptions,
    ) -> impl Future<Output = Result<ScanReply<(Bytes, f64)>, Error>> + Send {
        let c = options.apply(cmd("ZSCAN").arg(key).arg(cursor));
        async move {
            let (cursor, items): (Frame, Frame) = self.query(&c).await?;
            Ok(ScanReply { cursor: parse_cursor(cursor)?, items: scored(items)? })
        }
    }

    /// `ZRANDMEMBER key`: a random member, `None` when empty.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zrandmember<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("ZRANDMEMBER").arg(key);
        async move { self.query(&c).await }
    }

    /// `ZRANDMEMBER key count`: up to `count` distinct members (negative:
    /// `-count` members, repeats allowed).
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zrandmember_count<K: ToArg>(
        &self,
        key: K,
        count: i64,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = cmd("ZRANDMEMBER").arg(key).arg(count);
        async move { self.query(&c).await }
    }

    /// `ZRANDMEMBER key count WITHSCORES`: random members with their scores.
    ///
    /// # Errors
    /// As [`SortedSetCommands::zscore`].
    fn zrandmember_withscores<K: ToArg>(
        &self,
        key: K,
        count: i64,
    ) -> impl Future<Output = Result<Vec<(Bytes, f64)>, Error>> + Send {
        let c = cmd("ZRANDMEMBER").arg(key).arg(count).arg("WITHSCORES");
        async move { scored(self.execute(&c).await?) }
    }
}

impl<T: Execute + ?Sized> SortedSetCommands for T {}

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
        r.bzpopmin(&["z"], Duration::ZERO).await.unwrap();
        assert!(r.last_blocking());
        r.bzpopmax(&["z"], Duration::ZERO).await.unwrap();
        assert!(r.last_blocking());
        r.zpopmin("z", 1).await.unwrap();
        assert!(!r.last_blocking());
    }

    #[test]
    fn zadd_options_encode() {
        let o = ZAddOptions::new().xx().gt().ch();
        assert_eq!(args(&o.apply(cmd("ZADD").arg("z"))), ["ZADD", "z", "XX", "GT", "CH"]);
        assert_eq!(args(&ZAddOptions::new().apply(cmd("ZADD"))), ["ZADD"]);
    }

    #[test]
    fn blocking_pop_reply() {
        let b = |s: &str| Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()));
        let got = key_member_score(Frame::Array(vec![b("k"), b("m"), b("2.5")])).unwrap();
        assert_eq!(got, Some((Bytes::from_static(b"k"), Bytes::from_static(b"m"), 2.5)));
        assert_eq!(key_member_score(Frame::NullArray).unwrap(), None);
        assert!(key_member_score(Frame::Array(vec![b("k")])).is_err());
    }
}
