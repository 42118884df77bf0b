//! The options of the stream commands: trimming ([`StreamTrim`]), `XADD`'s
//! ([`XAddOptions`]), `XREAD`'s and `XREADGROUP`'s ([`XReadOptions`],
//! [`XReadGroupOptions`]; a `BLOCK` marks the command blocking) and the
//! extended `XPENDING` range ([`PendingRange`]).
//!
//! Pure: builds arguments only. Not here: the commands (`streams`).

use std::time::Duration;

use bytes::Bytes;

use crate::cmd::{Cmd, ToArg};

/// Milliseconds as the server reads them (saturating).
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TrimBy {
    MaxLen(u64),
    MinId(Bytes),
}

/// A trimming rule of `XADD`/`XTRIM`: `MAXLEN` (keep the newest n entries)
/// or `MINID` (drop entries below an id), exact (`=`) unless
/// [`StreamTrim::approximate`] (`~`, cheaper: whole nodes only), with an
/// optional `LIMIT` on the work of an approximate trim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTrim {
    by: TrimBy,
    approximate: bool,
    limit: Option<u64>,
}

impl StreamTrim {
    /// `MAXLEN = n`.
    pub fn maxlen(n: u64) -> StreamTrim {
        StreamTrim { by: TrimBy::MaxLen(n), approximate: false, limit: None }
    }

    /// `MINID = id`.
    pub fn minid(id: impl Into<Bytes>) -> StreamTrim {
        StreamTrim { by: TrimBy::MinId(id.into()), approximate: false, limit: None }
    }

    /// `~` instead of `=`.
    #[must_use]
    pub fn approximate(mut self) -> StreamTrim {
        self.approximate = true;
        self
    }

    /// `LIMIT n`: at most `n` entries evicted per call (approximate trims only;
    /// the server refuses it with `=`).
    #[must_use]
    pub fn limit(mut self, n: u64) -> StreamTrim {
        self.limit = Some(n);
        self
    }

    pub(crate) fn apply(&self, mut c: Cmd) -> Cmd {
        let op = if self.approximate { "~" } else { "=" };
        c = match &self.by {
            TrimBy::MaxLen(n) => c.arg("MAXLEN").arg(op).arg(*n),
            TrimBy::MinId(id) => c.arg("MINID").arg(op).arg(id),
        };
        if let Some(n) = self.limit {
            c = c.arg("LIMIT").arg(n);
        }
        c
    }
}

/// Options of `XADD`: `NOMKSTREAM` and a trimming rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XAddOptions {
    /// `NOMKSTREAM`: do not create a missing stream (the reply is then `None`).
    pub nomkstream: bool,
    /// Trim after adding.
    pub trim: Option<StreamTrim>,
}

/// Options of `XREAD`: `COUNT` per stream and `BLOCK` (`Duration::ZERO`
/// waits for ever).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XReadOptions {
    /// `COUNT n`: at most n entries per stream.
    pub count: Option<usize>,
    /// `BLOCK ms`: wait for news on an exclusive connection.
    pub block: Option<Duration>,
}

/// Options of `XREADGROUP`: as [`XReadOptions`], plus `NOACK` (entries are
/// not added to the pending list).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XReadGroupOptions {
    /// `COUNT n`.
    pub count: Option<usize>,
    /// `BLOCK ms`.
    pub block: Option<Duration>,
    /// `NOACK`.
    pub noack: bool,
}

/// The extended form of `XPENDING`: `[IDLE ms] start end count [consumer]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRange {
    idle: Option<Duration>,
    start: Bytes,
    end: Bytes,
    count: usize,
    consumer: Option<Bytes>,
}

impl PendingRange {
    /// Up to `count` pending entries with ids from `start` to `end` (`-`, `+`
    /// for all; `(id` exclusive).
    pub fn new(start: impl Into<Bytes>, end: impl Into<Bytes>, count: usize) -> PendingRange {
        PendingRange { idle: None, start: start.into(), end: end.into(), count, consumer: None }
    }

    /// `IDLE ms`: only entries idle at least this long.
    #[must_use]
    pub fn idle(mut self, idle: Duration) -> PendingRange {
        self.idle = Some(idle);
        self
    }

    /// Only entries held by `consumer`.
    #[must_use]
    pub fn consumer(mut self, consumer: impl Into<Bytes>) -> PendingRange {
        self.consumer = Some(consumer.into());
        self
    }

    pub(crate) fn apply(&self, mut c: Cmd) -> Cmd {
        if let Some(idle) = self.idle {
            c = c.arg("IDLE").arg(millis(idle));
        }
        c = c.arg(&self.start).arg(&self.end).arg(self.count);
        if let Some(consumer) = &self.consumer {
            c = c.arg(consumer);
        }
        c
    }
}

/// `COUNT`/`BLOCK`, then `STREAMS key... id...`.
pub(crate) fn read_args<K: ToArg, I: ToArg>(
    mut c: Cmd,
    count: Option<usize>,
    block: Option<Duration>,
    streams: &[(K, I)],
) -> Cmd {
    if let Some(n) = count {
        c = c.arg("COUNT").arg(n);
    }
    if let Some(block) = block {
        c = c.arg("BLOCK").arg(millis(block));
    }
    c = c.arg("STREAMS");
    for (key, _) in streams {
        c = c.arg(key);
    }
    for (_, id) in streams {
        c = c.arg(id);
    }
    if block.is_some() {
        c = c.blocking();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    fn args(c: &Cmd) -> Vec<String> {
        c.args().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    #[test]
    fn trims_encode() {
        let t = StreamTrim::maxlen(100).approximate().limit(10);
        assert_eq!(
            args(&t.apply(cmd("XTRIM").arg("s"))),
            ["XTRIM", "s", "MAXLEN", "~", "100", "LIMIT", "10"]
        );
        let t = StreamTrim::minid("5-0");
        assert_eq!(args(&t.apply(cmd("XTRIM").arg("s"))), ["XTRIM", "s", "MINID", "=", "5-0"]);
    }

    #[test]
    fn reads_encode_and_block_marks_the_command() {
        let c =
            read_args(cmd("XREAD"), Some(2), Some(Duration::from_millis(1500)), &[("a", "0"), ("b", "$")]);
        assert_eq!(args(&c), ["XREAD", "COUNT", "2", "BLOCK", "1500", "STREAMS", "a", "b", "0", "$"]);
        assert!(c.is_blocking());
        assert!(!read_args(cmd("XREAD"), None, None, &[("a", "0")]).is_blocking());
    }

    #[test]
    fn pending_range_encodes() {
        let r = PendingRange::new("-", "+", 10).idle(Duration::from_secs(1)).consumer("c");
        assert_eq!(
            args(&r.apply(cmd("XPENDING").arg("s").arg("g"))),
            ["XPENDING", "s", "g", "IDLE", "1000", "-", "+", "10", "c"]
        );
    }
}
