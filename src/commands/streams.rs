//! Stream commands: `XADD` with trimming, ranges, `XREAD`, consumer groups
//! (`XGROUP`, `XREADGROUP`, `XACK`, `XPENDING`, `XCLAIM`, `XAUTOCLAIM`) and
//! `XINFO`.
//!
//! Replies are the structs of `stream_reply` ([`StreamEntry`],
//! [`StreamRead`], [`PendingSummary`] ...). `XREAD`/`XREADGROUP` with a
//! `BLOCK` option are built with [`Cmd::blocking`], so they wait on an
//! exclusive connection and the response timeout does not cut them off.
//! Not here: the reply conversions (`stream_reply`), the option types
//! (`stream_options`).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::stream_options::{
    millis, read_args, PendingRange, StreamTrim, XAddOptions, XReadGroupOptions, XReadOptions,
};
use super::stream_reply::{
    pending_entries, AutoClaim, ConsumerInfo, GroupInfo, PendingEntry, PendingSummary, StreamEntry,
    StreamInfo, StreamRead,
};
use super::{expect_ok, Execute};
use crate::cmd::{cmd, ToArg};
use crate::error::Error;

/// The stream group (`XADD`, `XREAD`, `XREADGROUP`, `XACK` ...), for every [`Execute`].
pub trait StreamCommands: Execute {
    /// `XADD key id field value...`: the id of the new entry (`id` is `"*"`
    /// for a generated one).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, an id not above
    /// the last one); [`Error::Type`] for a null reply.
    fn xadd<K: ToArg, I: ToArg, F: ToArg, V: ToArg, P>(
        &self,
        key: K,
        id: I,
        fields: P,
    ) -> impl Future<Output = Result<Bytes, Error>> + Send
    where
        P: IntoIterator<Item = (F, V)>,
    {
        let mut c = cmd("XADD").arg(key).arg(id);
        for (f, v) in fields {
            c = c.arg(f).arg(v);
        }
        async move { self.query(&c).await }
    }

    /// `XADD key [NOMKSTREAM] [MAXLEN|MINID =|~ n [LIMIT l]] id field value...`:
    /// the new id, `None` when `NOMKSTREAM` found no stream.
    ///
    /// # Errors
    /// As [`StreamCommands::xadd`].
    fn xadd_with<K: ToArg, I: ToArg, F: ToArg, V: ToArg, P>(
        &self,
        key: K,
        id: I,
        fields: P,
        options: &XAddOptions,
    ) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send
    where
        P: IntoIterator<Item = (F, V)>,
    {
        let mut c = cmd("XADD").arg(key);
        if options.nomkstream {
            c = c.arg("NOMKSTREAM");
        }
        if let Some(trim) = &options.trim {
            c = trim.apply(c);
        }
        c = c.arg(id);
        for (f, v) in fields {
            c = c.arg(f).arg(v);
        }
        async move { self.query(&c).await }
    }

    /// `XLEN key`: the number of entries (0 when missing).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn xlen<K: ToArg>(&self, key: K) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("XLEN").arg(key);
        async move { self.query(&c).await }
    }

    /// `XRANGE key start end [COUNT n]`: entries from `start` to `end`
    /// (`-` and `+` for the ends, `(id` exclusive).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, bad id).
    fn xrange<K: ToArg, S: ToArg, E: ToArg>(
        &self,
        key: K,
        start: S,
        end: E,
        count: Option<usize>,
    ) -> impl Future<Output = Result<Vec<StreamEntry>, Error>> + Send {
        let mut c = cmd("XRANGE").arg(key).arg(start).arg(end);
        if let Some(n) = count {
            c = c.arg("COUNT").arg(n);
        }
        async move { self.query(&c).await }
    }

    /// `XREVRANGE key end start [COUNT n]`: as [`StreamCommands::xrange`], newest first.
    ///
    /// # Errors
    /// As [`StreamCommands::xrange`].
    fn xrevrange<K: ToArg, E: ToArg, S: ToArg>(
        &self,
        key: K,
        end: E,
        start: S,
        count: Option<usize>,
    ) -> impl Future<Output = Result<Vec<StreamEntry>, Error>> + Send {
        let mut c = cmd("XREVRANGE").arg(key).arg(end).arg(start);
        if let Some(n) = count {
            c = c.arg("COUNT").arg(n);
        }
        async move { self.query(&c).await }
    }

    /// `XDEL key id...`: the number of entries deleted.
    ///
    /// # Errors
    /// As [`StreamCommands::xrange`].
    fn xdel<K: ToArg, I>(&self, key: K, ids: I) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("XDEL").arg(key).args_from(ids);
        async move { self.query(&c).await }
    }

    /// `XTRIM key MAXLEN|MINID =|~ n [LIMIT l]`: the number of entries evicted.
    ///
    /// # Errors
    /// As [`StreamCommands::xrange`].
    fn xtrim<K: ToArg>(
        &self,
        key: K,
        trim: &StreamTrim,
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = trim.apply(cmd("XTRIM").arg(key));
        async move { self.query(&c).await }
    }

    /// `XREAD [COUNT n] [BLOCK ms] STREAMS key... id...`: entries after each
    /// id (`$` for "only new ones"); empty when a `BLOCK` timed out.
    ///
    /// # Cancel safety
    /// Dropping a blocking read abandons it; nothing is lost (reads do not
    /// consume).
    ///
    /// # Errors
    /// Connection failures, pool timeouts; [`Error::Server`] (`WRONGTYPE`,
    /// `CROSSSLOT` on a cluster for keys in several slots).
    fn xread<K: ToArg, I: ToArg>(
        &self,
        streams: &[(K, I)],
        options: &XReadOptions,
    ) -> impl Future<Output = Result<StreamRead, Error>> + Send {
        let c = read_args(cmd("XREAD"), options.count, options.block, streams);
        async move { self.query(&c).await }
    }

    /// `XGROUP CREATE key group id [MKSTREAM]`: a consumer group starting
    /// after `id` (`$` for new entries only, `0` for all).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`BUSYGROUP` when it exists,
    /// no stream without `mkstream`); [`Error::Type`] for a reply other than `+OK`.
    fn xgroup_create<K: ToArg, G: ToArg, I: ToArg>(
        &self,
        key: K,
        group: G,
        id: I,
        mkstream: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let mut c = cmd("XGROUP").arg("CREATE").arg(key).arg(group).arg(id);
        if mkstream {
            c = c.arg("MKSTREAM");
        }
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `XGROUP DESTROY key group`: true when the group existed.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (no such stream).
    fn xgroup_destroy<K: ToArg, G: ToArg>(
        &self,
        key: K,
        group: G,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("XGROUP").arg("DESTROY").arg(key).arg(group);
        async move { self.query(&c).await }
    }

    /// `XGROUP CREATECONSUMER key group consumer`: true when it was created.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (no such group).
    fn xgroup_createconsumer<K: ToArg, G: ToArg, C: ToArg>(
        &self,
        key: K,
        group: G,
        consumer: C,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("XGROUP").arg("CREATECONSUMER").arg(key).arg(group).arg(consumer);
        async move { self.query(&c).await }
    }

    /// `XGROUP DELCONSUMER key group consumer`: the number of pending entries
    /// the consumer had (now dropped).
    ///
    /// # Errors
    /// As [`StreamCommands::xgroup_createconsumer`].
    fn xgroup_delconsumer<K: ToArg, G: ToArg, C: ToArg>(
        &self,
        key: K,
        group: G,
        consumer: C,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("XGROUP").arg("DELCONSUMER").arg(key).arg(group).arg(consumer);
        async move { self.query(&c).await }
    }

    /// `XGROUP SETID key group id`: moves the group's last-delivered id.
    ///
    /// # Errors
    /// As [`StreamCommands::xgroup_create`].
    fn xgroup_setid<K: ToArg, G: ToArg, I: ToArg>(
        &self,
        key: K,
        group: G,
        id: I,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("XGROUP").arg("SETID").arg(key).arg(group).arg(id);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS
    /// key... id...`: `>` reads new entries (and makes them pending unless
    /// `NOACK`); another id re-reads the consumer's own pending history.
    ///
    /// # Cancel safety
    /// Dropping a blocking read abandons it; entries the server delivered
    /// meanwhile stay pending for this consumer (claim or re-read them).
    ///
    /// # Errors
    /// As [`StreamCommands::xread`]; [`Error::Server`] (`NOGROUP`).
    fn xreadgroup<G: ToArg, C: ToArg, K: ToArg, I: ToArg>(
        &self,
        group: G,
        consumer: C,
        streams: &[(K, I)],
        options: &XReadGroupOptions,
    ) -> impl Future<Output = Result<StreamRead, Error>> + Send {
        let mut c = cmd("XREADGROUP").arg("GROUP").arg(group).arg(consumer);
        if options.noack {
            c = c.arg("NOACK");
        }
        let c = read_args(c, options.count, options.block, streams);
        async move { self.query(&c).await }
    }

    /// `XACK key group id...`: the number of entries acknowledged.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, bad id).
    fn xack<K: ToArg, G: ToArg, I>(
        &self,
        key: K,
        group: G,
        ids: I,
    ) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("XACK").arg(key).arg(group).args_from(ids);
        async move { self.query(&c).await }
    }

    /// `XPENDING key group`: the summary of the group's pending entries.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`NOGROUP`); [`Error::Type`].
    fn xpending<K: ToArg, G: ToArg>(
        &self,
        key: K,
        group: G,
    ) -> impl Future<Output = Result<PendingSummary, Error>> + Send {
        let c = cmd("XPENDING").arg(key).arg(group);
        async move { self.query(&c).await }
    }

    /// `XPENDING key group [IDLE ms] start end count [consumer]`: the pending
    /// entries in the range.
    ///
    /// # Errors
    /// As [`StreamCommands::xpending`].
    fn xpending_range<K: ToArg, G: ToArg>(
        &self,
        key: K,
        group: G,
        range: &PendingRange,
    ) -> impl Future<Output = Result<Vec<PendingEntry>, Error>> + Send {
        let c = range.apply(cmd("XPENDING").arg(key).arg(group));
        async move { pending_entries(self.execute(&c).await?) }
    }

    /// `XCLAIM key group consumer min-idle-time id...`: gives `consumer` the
    /// listed pending entries idle at least `min_idle`; the entries claimed.
    ///
    /// # Errors
    /// As [`StreamCommands::xpending`].
    fn xclaim<K: ToArg, G: ToArg, C: ToArg, I>(
        &self,
        key: K,
        group: G,
        consumer: C,
        min_idle: Duration,
        ids: I,
    ) -> impl Future<Output = Result<Vec<StreamEntry>, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("XCLAIM").arg(key).arg(group).arg(consumer).arg(millis(min_idle)).args_from(ids);
        async move { self.query(&c).await }
    }

    /// `XCLAIM ... JUSTID`: as [`StreamCommands::xclaim`], the ids only (the
    /// delivery count is not incremented).
    ///
    /// # Errors
    /// As [`StreamCommands::xpending`].
    fn xclaim_justid<K: ToArg, G: ToArg, C: ToArg, I>(
        &self,
        key: K,
        group: G,
        consumer: C,
        min_idle: Duration,
        ids: I,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("XCLAIM")
            .arg(key)
            .arg(group)
            .arg(consumer)
            .arg(millis(min_idle))
            .args_from(ids)
            .arg("JUSTID");
        async move { self.query(&c).await }
    }

    /// `XAUTOCLAIM key group consumer min-idle-time start COUNT count`: claims
    /// up to `count` entries idle at least `min_idle`, scanning from `start`
    /// (`0-0` first, then [`AutoClaim::next`] until it is `0-0`).
    ///
    /// # Errors
    /// As [`StreamCommands::xpending`].
    fn xautoclaim<K: ToArg, G: ToArg, C: ToArg, S: ToArg>(
        &self,
        key: K,
        group: G,
        consumer: C,
        min_idle: Duration,
        start: S,
        count: usize,
    ) -> impl Future<Output = Result<AutoClaim, Error>> + Send {
        let c = cmd("XAUTOCLAIM")
            .arg(key)
            .arg(group)
            .arg(consumer)
            .arg(millis(min_idle))
            .arg(start)
            .arg("COUNT")
            .arg(count);
        async move { self.query(&c).await }
    }

    /// `XINFO STREAM key`: size, ids, groups and first and last entries.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (no such key); [`Error::Type`]
    /// when a core field is missing.
    fn xinfo_stream<K: ToArg>(&self, key: K) -> impl Future<Output = Result<StreamInfo, Error>> + Send {
        let c = cmd("XINFO").arg("STREAM").arg(key);
        async move { self.query(&c).await }
    }

    /// `XINFO GROUPS key`: the stream's consumer groups.
    ///
    /// # Errors
    /// As [`StreamCommands::xinfo_stream`].
    fn xinfo_groups<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Vec<GroupInfo>, Error>> + Send {
        let c = cmd("XINFO").arg("GROUPS").arg(key);
        async move { self.query(&c).await }
    }

    /// `XINFO CONSUMERS key group`: the group's consumers.
    ///
    /// # Errors
    /// As [`StreamCommands::xinfo_stream`]; `NOGROUP`.
    fn xinfo_consumers<K: ToArg, G: ToArg>(
        &self,
        key: K,
        group: G,
    ) -> impl Future<Output = Result<Vec<ConsumerInfo>, Error>> + Send {
        let c = cmd("XINFO").arg("CONSUMERS").arg(key).arg(group);
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> StreamCommands for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::reply_shape::Recorder;

    #[tokio::test]
    async fn only_reads_with_block_are_blocking() {
        let r = Recorder::default();
        let block = Some(Duration::from_millis(5));
        r.xread(&[("s", "$")], &XReadOptions { count: None, block }).await.unwrap();
        assert!(r.last_blocking());
        r.xread(&[("s", "0")], &XReadOptions::default()).await.unwrap();
        assert!(!r.last_blocking());
        let opts = XReadGroupOptions { block, noack: true, count: Some(1) };
        r.xreadgroup("g", "c", &[("s", ">")], &opts).await.unwrap();
        assert!(r.last_blocking());
        let sent = r.0.lock().unwrap().last().cloned().unwrap();
        let args: Vec<&[u8]> = sent.args().collect();
        assert_eq!(
            args,
            vec![
                &b"XREADGROUP"[..],
                b"GROUP",
                b"g",
                b"c",
                b"NOACK",
                b"COUNT",
                b"1",
                b"BLOCK",
                b"5",
                b"STREAMS",
                b"s",
                b">"
            ]
        );
        r.xreadgroup("g", "c", &[("s", ">")], &XReadGroupOptions::default()).await.unwrap();
        assert!(!r.last_blocking());
    }
}
