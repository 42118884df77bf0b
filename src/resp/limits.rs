//! [`DecodeLimits`]: the bounds the decoder enforces against a hostile or
//! broken server, with their defaults and the memory each one caps.
//!
//! Lives here: the limits and what they mean. Not here: how they are checked
//! (see `decode`) or who sets them (see `conn::options`).
//!
//! Pure: no IO.

/// Limits against hostile replies. Every one is checked while the reply is
/// scanned, before any [`Frame`](super::Frame) is built, and exceeding one
/// is a typed [`ProtocolError`](crate::ProtocolError) (the connection must
/// then close). Which error, and whether there is one, does not depend on how
/// the bytes were split into reads.
///
/// Build one with struct-update syntax to change a few:
/// `DecodeLimits { max_reply_bytes: 64 << 20, ..DecodeLimits::default() }`.
///
/// # Memory
///
/// The decoder never allocates from a declared length or count: a header
/// only records a number, and a value's storage is sized when every part of
/// it has arrived. What a single reply can cost, at most, with the defaults:
///
/// - **The read buffer** (owned by the connection) holds the reply's bytes
///   until it is complete: at most `max_reply_bytes` (1 GiB) plus one read.
///   While a line is incomplete it holds at most `max_line_len + 2` bytes of
///   it (64 KiB) plus one read: a server that sends an endless line is cut
///   off there.
/// - **Tokens**: the scan records one 24-byte token per element of an
///   aggregate reply, so at most `24 × max_reply_elements` bytes (384 MiB).
///   A single-value reply (a GET) records none. The token list keeps at most
///   about 192 KiB of capacity between replies.
/// - **Frames**: building makes one 40-byte [`Frame`](super::Frame) per
///   element while the tokens are still held, so at most
///   `40 × max_reply_elements` bytes (640 MiB), plus, for each error element,
///   a small box (about 100 bytes) holding its classification and, for a
///   MOVED/ASK, a copy of the host. Payloads are never copied (they are
///   slices of the read buffer), except a streamed string of several chunks,
///   which is joined (at most `max_bulk_len`).
///
/// So a hostile reply can make one connection hold about 2 GiB at worst with
/// the defaults (1 GiB of bytes, 1 GiB of tokens and frames, which takes at
/// least 48 MiB of wire: 16 Mi times `_\r\n`). Lower `max_reply_bytes` and
/// `max_reply_elements` if that is too much for you; a legitimate reply of N
/// elements needs at least N of the latter and costs 64 bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest bulk string, blob error, verbatim string, stream chunk or
    /// whole streamed string (bytes). Default 512 MiB, the server's own
    /// `proto-max-bulk-len`. A larger value also needs a larger
    /// `max_reply_bytes`.
    pub max_bulk_len: u64,
    /// Longest line of text (`+` simple string, `-` error, `:` integer,
    /// `,` double, `(` big number, `#` boolean), in bytes before its CRLF.
    /// Default 64 KiB. A line whose first `max_line_len + 1` bytes hold no
    /// CR is [`ProtocolError::LineTooLong`](crate::ProtocolError::LineTooLong):
    /// the decoder never holds or scans more than that for one line. Length
    /// headers (`$ * % ~ > | = ! ;`) are at most 20 digits by syntax.
    pub max_line_len: u64,
    /// Most elements in one aggregate (pairs count twice for maps), checked
    /// against the declared count. Default `i32::MAX`, the server's own.
    pub max_elements: u64,
    /// Deepest nesting of aggregates (attributes included); 0 allows none.
    /// Default 128. The decoder itself never recurses, but a
    /// [`Frame`](super::Frame) is dropped, compared and encoded recursively:
    /// keep this in the hundreds.
    pub max_depth: usize,
    /// Most bytes one top-level reply may take on the wire, headers and
    /// CRLFs included. Default 1 GiB (`max_bulk_len` plus room for the
    /// rest of the reply). A reply known to be longer (from a declared bulk
    /// length, or a line that cannot end in time) is refused at once with
    /// [`ProtocolError::ReplyTooLarge`](crate::ProtocolError::ReplyTooLarge).
    pub max_reply_bytes: u64,
    /// Most values in one top-level reply, at any depth: every leaf, every
    /// aggregate and attribute (one each, besides their contents), and every
    /// chunk of a streamed string; the reply itself counts as one. Default
    /// 16 Mi (16,777,216). An aggregate that declares more than are left is
    /// refused at its header; otherwise the value past the budget is
    /// [`ProtocolError::ReplyTooManyElements`](crate::ProtocolError::ReplyTooManyElements).
    /// This is what bounds a `*2147483647` followed by endless `_`.
    pub max_reply_elements: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_line_len: 64 * 1024,
            max_elements: i32::MAX as u64,
            max_depth: 128,
            max_reply_bytes: 1024 * 1024 * 1024,
            max_reply_elements: 16 * 1024 * 1024,
        }
    }
}
