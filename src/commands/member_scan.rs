//! One page of a member scan (`SSCAN`, `ZSCAN`): the options sent with it
//! and the page that comes back.
//!
//! Pure: no IO. Not here: the keyspace `SCAN` (its page is
//! [`crate::client::ScanPage`]).

use bytes::Bytes;

use crate::cmd::{Cmd, FromReply};
use crate::error::Error;
use crate::resp::Frame;

/// `MATCH` and `COUNT` of SSCAN and ZSCAN; the default is neither. (No
/// `TYPE`, which only SCAN takes: see [`ScanOptions`](super::ScanOptions)
/// for SCAN and HSCAN.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberScanOptions {
    pattern: Option<Bytes>,
    count: Option<usize>,
}

impl MemberScanOptions {
    /// No `MATCH`, no `COUNT`.
    pub fn new() -> MemberScanOptions {
        MemberScanOptions::default()
    }

    /// `MATCH pattern`: only members matching the glob pattern.
    #[must_use]
    pub fn pattern(mut self, pattern: impl Into<Bytes>) -> MemberScanOptions {
        self.pattern = Some(pattern.into());
        self
    }

    /// `COUNT n`: a hint of how much work one call does.
    #[must_use]
    pub fn count(mut self, count: usize) -> MemberScanOptions {
        self.count = Some(count);
        self
    }

    pub(crate) fn apply(&self, mut c: Cmd) -> Cmd {
        if let Some(p) = &self.pattern {
            c = c.arg("MATCH").arg(p);
        }
        if let Some(n) = self.count {
            c = c.arg("COUNT").arg(n);
        }
        c
    }
}

/// One page of a member scan: the cursor for the next call (0 when the scan
/// is complete) and this page's items (possibly none while it goes on).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanReply<T> {
    /// Cursor for the next call; 0 when done.
    pub cursor: u64,
    /// The items of this page.
    pub items: Vec<T>,
}

impl<T> ScanReply<T> {
    /// True when this was the last page.
    pub fn is_done(&self) -> bool {
        self.cursor == 0
    }
}

/// The cursor of a scan reply (a bulk string of digits).
pub(crate) fn parse_cursor(frame: Frame) -> Result<u64, Error> {
    let text = Bytes::from_reply(frame)?;
    std::str::from_utf8(&text)
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Error::Type { expected: "a scan cursor", got: "non-numeric text".into() })
}

impl FromReply for ScanReply<Bytes> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let (cursor, items): (Frame, Vec<Bytes>) = FromReply::from_reply(frame)?;
        Ok(ScanReply { cursor: parse_cursor(cursor)?, items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    #[test]
    fn options_encode_and_page_parses() {
        let c = MemberScanOptions::new().pattern("a*").count(5).apply(cmd("SSCAN").arg("s").arg(0));
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(args, vec![&b"SSCAN"[..], b"s", b"0", b"MATCH", b"a*", b"COUNT", b"5"]);
        let b = |s: &'static str| Frame::BulkString(Bytes::from_static(s.as_bytes()));
        let page =
            ScanReply::<Bytes>::from_reply(Frame::Array(vec![b("17"), Frame::Array(vec![b("m")])])).unwrap();
        assert_eq!((page.cursor, page.items.len(), page.is_done()), (17, 1, false));
        assert!(ScanReply::<Bytes>::from_reply(Frame::Array(vec![b("x"), Frame::Array(vec![])])).is_err());
    }
}
