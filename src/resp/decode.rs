//! The resumable, zero-copy RESP2/RESP3 decoder with limits.
//!
//! [`Decoder::decode`] follows the tokio-util `Decoder` contract: `Ok(None)`
//! means "need more bytes" and leaves the buffer untouched, `Ok(Some)` removes
//! exactly one frame's bytes from the front, `Err` means the stream is corrupt
//! and the connection must be closed.
//!
//! How it works, in two phases:
//!
//! 1. **Scan.** Walk the buffer from where the previous call stopped, one item
//!    (a line, a bulk, an aggregate header, a stream chunk) at a time, checking
//!    it completely and recording a compact token (kind and offsets, or an
//!    already parsed number) in a `Vec` that is reused across frames. Open
//!    aggregates are an explicit stack of "elements still expected", so
//!    nothing here recurses and the depth limit is checked before anything is
//!    pushed. An incomplete item ends the call with `Ok(None)` and the offset
//!    of the first byte that would let it progress: later calls return in
//!    O(1) until the buffer reaches it (a 512 MB bulk costs nothing while it
//!    arrives). Bytes already checked are never examined again; only an
//!    incomplete header (at most 22 bytes) is re-read.
//! 2. **Build** (in `token`). When the top-level frame is complete, split its
//!    bytes off the buffer and freeze them once, then turn the tokens into
//!    [`Frame`]s whose payloads are `Bytes::slice`s of that one buffer (no
//!    payload is copied, except streamed strings of two or more chunks, which
//!    are joined). The build uses its own explicit stack too.
//!
//! Two fast paths cover most replies: a top-level frame that is a single item
//! (`+OK`, `:1`, `$N` bulk, `_`, an error) never touches the token list, and
//! inside an aggregate a bulk string or integer that is already complete and
//! well formed is recorded without the general item dispatch (anything else,
//! errors included, takes the general path, so both report the same).
//!
//! Limits and budgets (see [`DecodeLimits`]) are checked as each item is
//! scanned, never per byte except inside a line's own search for its CR, and
//! each check is made only once the bytes it depends on are all in the
//! buffer, so the outcome does not depend on how the stream was split:
//! - a bulk's declared length against `max_bulk_len` and, with the offset
//!   where it would end, against `max_reply_bytes`, before waiting for it;
//! - a line's search for its CR stops after `max_line_len + 1` bytes
//!   ([`ProtocolError::LineTooLong`]) or where its CRLF could no longer end
//!   within `max_reply_bytes` ([`ProtocolError::ReplyTooLarge`]);
//! - the end of every item against `max_reply_bytes` (before the next item
//!   is looked at, or the frame is built);
//! - every recorded token against `max_reply_elements`, and an aggregate's
//!   declared count (which needs at least that many more tokens) too.
//!
//! Choices where the spec is silent or loose, all enforced here:
//! - A line of text ends at its first CR or LF, which must be a CRLF: a bare
//!   CR or a bare LF in a simple string or error (or any line) is
//!   [`ProtocolError::MissingCrlf`], never content.
//! - Lengths may have leading zeros, within 20 digits; `-1` is a null only
//!   for `$` and `*`; `?` (streamed) only for `$ * % ~ >`.
//! - `_` and `.` must be followed directly by CRLF ([`ProtocolError::MissingCrlf`]).
//! - An attribute (`|N`) wraps the value after it, at any level, and does not
//!   count as an element of the aggregate around it; it does count towards
//!   the depth limit, like any aggregate.
//! - A line's length limit counts the bytes before its CR; a line whose first
//!   `max_line_len + 1` bytes hold no CR is [`ProtocolError::LineTooLong`],
//!   however the bytes were split into reads.
//!
//! Pure: no IO.

use bytes::{Buf, Bytes, BytesMut};

use super::limits::DecodeLimits;
use super::parse::{self, Len};
use super::token::{build, leaf_frame, text_frame, Agg, Leaf, Partial, Text, Tok};
use super::Frame;
use crate::error::ProtocolError;

/// Most tokens whose allocation is kept between frames (192 KiB).
const RETAINED_TOKENS: usize = 8 * 1024;

/// Decodes frames from a growing buffer; honours the tokio-util `Decoder` contract.
///
/// One decoder serves one byte stream: between calls it remembers how far it
/// has checked the frame at the front of the buffer. Only append to the
/// buffer between calls; if bytes are dropped or the buffer is replaced,
/// call [`Decoder::reset`] first.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: DecodeLimits,
    /// Make [`Frame::DoubleText`] rather than [`Frame::Double`].
    keep_double_text: bool,
    /// Bytes of the current frame checked so far (the next item starts here).
    pos: usize,
    /// Return `Ok(None)` at once while the buffer is shorter than this.
    need: usize,
    /// For an incomplete line starting at `pos`: no CR before this offset.
    line_scanned: usize,
    /// Tokens of the current frame, in wire order.
    tokens: Vec<Tok>,
    /// Aggregates opened and not yet complete, innermost last.
    open: Vec<Open>,
    /// The streamed string in progress, if any.
    stream: Option<StreamState>,
    /// The build stack, kept for its allocation.
    partials: Vec<Partial>,
}

/// An aggregate being scanned.
#[derive(Debug, Clone, Copy)]
struct Open {
    kind: Agg,
    /// Counted: wire elements still expected (> 0). Streamed: elements seen.
    n: u64,
    streamed: bool,
    /// Index of the header token, patched with the count when a streamed
    /// aggregate ends.
    tok: usize,
}

#[derive(Debug, Clone, Copy)]
struct StreamState {
    tok: usize,
    chunks: usize,
    total: u64,
}

/// The outcome of scanning one item.
enum Step {
    /// Incomplete: `need` has been set.
    More,
    Leaf(Leaf, usize),
    Open(Agg, Len, usize),
    StreamStart(usize),
    Chunk(usize, usize, usize),
    StreamEnd(usize),
    AggEnd(usize),
}

impl Decoder {
    /// A decoder with default limits.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: DecodeLimits) -> Self {
        Decoder { limits, ..Decoder::default() }
    }

    /// Keep each double as the text the server wrote ([`Frame::DoubleText`])
    /// instead of its value ([`Frame::Double`]): for a tool that prints or
    /// forwards replies byte for byte. The text is checked the same way.
    #[must_use]
    pub fn keep_double_text(mut self, keep: bool) -> Self {
        self.keep_double_text = keep;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &DecodeLimits {
        &self.limits
    }

    /// Forgets the partly checked frame, keeping the limits and allocations.
    /// Needed only when the buffer was emptied or replaced between calls.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.need = 0;
        self.line_scanned = 0;
        self.tokens.clear();
        self.open.clear();
        self.stream = None;
        self.partials.clear();
        // Keep the token list's allocation for the next frame, unless one
        // huge reply grew it: then give the memory back.
        if self.tokens.capacity() > RETAINED_TOKENS {
            self.tokens = Vec::new();
        }
    }

    /// `Ok(None)`: need more bytes. `Ok(Some)`: exactly one frame removed from `buf`.
    /// `Err`: the stream is corrupt; close the connection.
    ///
    /// # Errors
    /// A [`ProtocolError`] for malformed or over-limit input. After an error
    /// the decoder is reset, but the bytes that caused it may still be at the
    /// front of `buf`: the stream cannot be resynchronised.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        if buf.len() < self.need {
            return Ok(None);
        }
        if self.pos == 0 {
            if let Some(frame) = self.whole_leaf(buf) {
                return Ok(Some(frame));
            }
        }
        self.decode_scan(buf)
    }

    /// [`Decoder::decode`] past the fast path: the general scan, kept out of
    /// line so that the fast path stays small.
    #[inline(never)]
    fn decode_scan(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        if buf.len() < self.pos {
            // The caller dropped bytes it had given us: start over.
            self.reset();
        }
        let result = self.scan(buf);
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// The fast path for the commonest replies, a top-level bulk string
    /// (`$N`, `$-1`), `+OK` or an integer that is entirely in `buf` and well
    /// formed and within every limit: removes and returns it without the
    /// general scan. Anything else (another type, incomplete, malformed, over
    /// a limit) returns `None` and is left to `scan`, which reports it, so
    /// both paths give the same frames and errors.
    #[inline]
    fn whole_leaf(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        let limits = &self.limits;
        if limits.max_reply_elements == 0 {
            return None;
        }
        let frame = match *buf.first()? {
            b'$' => {
                if buf.starts_with(b"$-1\r\n") && limits.max_reply_bytes >= 5 {
                    buf.advance(5);
                    Frame::NullBulk
                } else {
                    let (n, data) = parse::tiny_count(buf).or_else(|| parse::short_count(buf, 1))?;
                    if n > limits.max_bulk_len {
                        return None;
                    }
                    let end = data.checked_add(usize::try_from(n).ok()?)?;
                    let next = end.checked_add(2)?;
                    if next as u64 > limits.max_reply_bytes || buf.get(end..next)? != b"\r\n" {
                        return None;
                    }
                    // One split; trimming the frozen slice only moves its bounds.
                    let mut payload = buf.split_to(next).freeze();
                    payload.truncate(end);
                    payload.advance(data);
                    Frame::BulkString(payload)
                }
            }
            b'+' if buf.starts_with(b"+OK\r\n")
                && limits.max_line_len >= 2
                && limits.max_reply_bytes >= 5 =>
            {
                buf.advance(5);
                Frame::SimpleString(Bytes::from_static(b"OK"))
            }
            b':' => {
                // An i64 has at most 20 characters; longer lines take the slow path.
                let window = buf.get(1..)?;
                let len = window.iter().take(21).position(|&b| b == b'\r')?;
                let next = len + 3;
                if len as u64 > limits.max_line_len
                    || next as u64 > limits.max_reply_bytes
                    || window.get(len + 1) != Some(&b'\n')
                {
                    return None;
                }
                let i = parse::integer(window.get(..len)?).ok()?;
                buf.advance(next);
                Frame::Integer(i)
            }
            _ => return None,
        };
        self.need = 0;
        self.line_scanned = 0;
        Some(frame)
    }

    /// Scans items until the top-level frame is complete or the buffer ends.
    fn scan(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        loop {
            let at = self.pos;
            // Inside an aggregate, complete bulk strings and integers (most
            // elements of most replies) skip the general item machinery.
            if !self.open.is_empty() && self.stream.is_none() && self.complete_element(buf, at) {
                if self.element_done()? {
                    return self.finish(buf).map(Some);
                }
                self.fits(self.pos)?;
                continue;
            }
            let step = self.item(buf, at)?;
            if matches!(step, Step::More) {
                return Ok(None);
            }
            self.line_scanned = 0;
            let complete = match step {
                Step::More => return Ok(None),
                Step::Leaf(leaf, end) => {
                    self.fits(end)?;
                    if self.tokens.is_empty() && self.limits.max_reply_elements > 0 {
                        // Fast path: a single-item top-level frame.
                        self.need = 0;
                        return take_leaf(buf, leaf, end).map(Some);
                    }
                    self.push(Tok::Leaf(leaf))?;
                    self.pos = end;
                    self.element_done()?
                }
                Step::Open(kind, len, end) => {
                    self.pos = end;
                    self.open_aggregate(kind, len)?
                }
                Step::StreamStart(end) => {
                    self.stream = Some(StreamState { tok: self.tokens.len(), chunks: 0, total: 0 });
                    self.push(Tok::Streamed { chunks: 0 })?;
                    self.pos = end;
                    false
                }
                Step::Chunk(start, end, next) => {
                    self.push(Tok::Chunk { start, end })?;
                    self.pos = next;
                    false
                }
                Step::StreamEnd(next) => {
                    if let Some(state) = self.stream.take() {
                        if let Some(tok) = self.tokens.get_mut(state.tok) {
                            *tok = Tok::Streamed { chunks: state.chunks };
                        }
                    }
                    self.pos = next;
                    self.element_done()?
                }
                Step::AggEnd(next) => {
                    self.pos = next;
                    self.close_streamed()?
                }
            };
            if complete {
                return self.finish(buf).map(Some);
            }
            // The item's end (`finish` checks the last one's).
            self.fits(self.pos)?;
        }
    }

    /// Records a token, within the reply's element budget.
    #[inline]
    fn push(&mut self, tok: Tok) -> Result<(), ProtocolError> {
        let limit = self.limits.max_reply_elements;
        if self.tokens.len() as u64 >= limit {
            return Err(ProtocolError::ReplyTooManyElements { limit });
        }
        self.tokens.push(tok);
        Ok(())
    }

    /// Checks that the frame, known to reach `end`, is within the byte budget.
    #[inline]
    fn fits(&self, end: usize) -> Result<(), ProtocolError> {
        let limit = self.limits.max_reply_bytes;
        if end as u64 > limit {
            return Err(ProtocolError::ReplyTooLarge { limit });
        }
        Ok(())
    }

    /// Splits off the complete frame and builds it.
    fn finish(&mut self, buf: &mut BytesMut) -> Result<Frame, ProtocolError> {
        self.fits(self.pos)?;
        let bytes = buf.split_to(self.pos).freeze();
        let frame = build(&self.tokens, &mut self.partials, &bytes);
        self.reset();
        frame
    }

    /// Records the bulk string or integer at `at` and returns true if it is
    /// entirely in `buf` and well formed; anything else (another type,
    /// incomplete, malformed, over a limit or the element budget) returns
    /// false and goes through `item`, which reports it. The caller checks
    /// the byte budget.
    #[inline]
    fn complete_element(&mut self, buf: &[u8], at: usize) -> bool {
        if self.tokens.len() as u64 >= self.limits.max_reply_elements {
            return false;
        }
        match buf.get(at) {
            Some(b'$') => self.complete_bulk(buf, at),
            Some(b':') => self.complete_integer(buf, at),
            _ => false,
        }
    }

    #[inline]
    fn complete_integer(&mut self, buf: &[u8], at: usize) -> bool {
        let start = at + 1;
        // An i64 has at most 20 characters; longer lines take the slow path.
        let window = buf.get(start..).unwrap_or_default();
        let Some(len) = window.iter().take(21).position(|&b| b == b'\r') else { return false };
        if len as u64 > self.limits.max_line_len || window.get(len + 1) != Some(&b'\n') {
            return false;
        }
        let Ok(i) = parse::integer(window.get(..len).unwrap_or_default()) else { return false };
        self.tokens.push(Tok::Leaf(Leaf::Int(i)));
        self.pos = start + len + 2;
        self.line_scanned = 0;
        true
    }

    #[inline]
    fn complete_bulk(&mut self, buf: &[u8], at: usize) -> bool {
        let Some((n, data)) = parse::short_count(buf, at + 1) else { return false };
        if n > self.limits.max_bulk_len {
            return false;
        }
        let Some(end) = usize::try_from(n).ok().and_then(|n| data.checked_add(n)) else { return false };
        if buf.get(end..end.saturating_add(2)) != Some(b"\r\n") {
            return false;
        }
        self.tokens.push(Tok::Leaf(Leaf::Text { kind: Text::Bulk, start: data, end }));
        self.pos = end + 2;
        self.line_scanned = 0;
        true
    }

    /// Records an aggregate header. Returns true when the top-level frame is
    /// complete (an empty aggregate completes at once).
    fn open_aggregate(&mut self, kind: Agg, len: Len) -> Result<bool, ProtocolError> {
        let (count, streamed) = match len {
            // `*-1` is a leaf and other nulls are refused in `item`.
            Len::Null => return Err(ProtocolError::BadLength),
            Len::Streamed => (0, true),
            Len::Count(n) => {
                let elements = n.saturating_mul(kind.width());
                if elements > self.limits.max_elements {
                    return Err(ProtocolError::TooManyElements {
                        count: elements,
                        limit: self.limits.max_elements,
                    });
                }
                (n, false)
            }
        };
        if self.open.len() >= self.limits.max_depth {
            return Err(ProtocolError::TooDeep { limit: self.limits.max_depth });
        }
        // Wire elements still expected; each will need at least one token,
        // so a count that cannot fit in the budget is refused now.
        let n = count.saturating_mul(kind.width()).saturating_add(u64::from(kind == Agg::Attr));
        let limit = self.limits.max_reply_elements;
        if (self.tokens.len() as u64).saturating_add(1).saturating_add(n) > limit {
            return Err(ProtocolError::ReplyTooManyElements { limit });
        }
        // Only a number here: nothing is sized by it until the build, when
        // every entry it announces has arrived and has its token.
        let entries = usize::try_from(count).unwrap_or(usize::MAX);
        let tok = self.tokens.len();
        self.push(Tok::Agg { kind, count: entries })?;
        if streamed {
            self.open.push(Open { kind, n: 0, streamed: true, tok });
            Ok(false)
        } else if n == 0 {
            self.element_done()
        } else {
            self.open.push(Open { kind, n, streamed: false, tok });
            Ok(false)
        }
    }

    /// Counts one finished element against the aggregates that hold it.
    /// Returns true when the top-level frame is complete.
    fn element_done(&mut self) -> Result<bool, ProtocolError> {
        loop {
            let Some(top) = self.open.last_mut() else { return Ok(true) };
            if top.streamed {
                top.n = top.n.saturating_add(1);
                let elements = top.n;
                let limit = self.limits.max_elements;
                if elements > limit {
                    return Err(ProtocolError::TooManyElements { count: elements, limit });
                }
                return Ok(false);
            }
            top.n = top.n.saturating_sub(1);
            if top.n > 0 {
                return Ok(false);
            }
            self.open.pop();
        }
    }

    /// Handles `.`: closes the innermost aggregate, which must be streamed.
    fn close_streamed(&mut self) -> Result<bool, ProtocolError> {
        let top = match self.open.last() {
            Some(top) if top.streamed && top.n % top.kind.width() == 0 => *top,
            _ => return Err(ProtocolError::UnexpectedStreamPart),
        };
        self.open.pop();
        let entries = usize::try_from(top.n / top.kind.width()).unwrap_or(usize::MAX);
        if let Some(tok) = self.tokens.get_mut(top.tok) {
            *tok = Tok::Agg { kind: top.kind, count: entries };
        }
        self.element_done()
    }

    /// Checks the item that starts at `at`.
    fn item(&mut self, buf: &[u8], at: usize) -> Result<Step, ProtocolError> {
        let Some(&ty) = buf.get(at) else { return Ok(self.more(buf.len() + 1)) };
        if self.stream.is_some() && ty != b';' {
            return Err(ProtocolError::UnexpectedStreamPart);
        }
        let start = at + 1;
        match ty {
            b'$' | b'!' | b'=' => self.blob(buf, ty, start),
            b'*' | b'%' | b'~' | b'>' | b'|' => {
                let Some((len, end)) = parse::header(buf, start)? else {
                    return Ok(self.more(buf.len() + 1));
                };
                let kind = match ty {
                    b'*' => Agg::Array,
                    b'%' => Agg::Map,
                    b'~' => Agg::Set,
                    b'>' => Agg::Push,
                    _ => Agg::Attr,
                };
                match (len, kind) {
                    (Len::Null, Agg::Array) => return Ok(Step::Leaf(Leaf::NullArray, end)),
                    (Len::Null, _) | (Len::Streamed, Agg::Attr) => return Err(ProtocolError::BadLength),
                    _ => {}
                }
                Ok(Step::Open(kind, len, end))
            }
            b'+' | b'-' | b':' | b',' | b'(' | b'#' => {
                let Some(cr) = self.line(buf, start)? else { return Ok(Step::More) };
                let text = buf.get(start..cr).unwrap_or_default();
                let leaf = match ty {
                    b'+' => Leaf::Text { kind: Text::Simple, start, end: cr },
                    b'-' => Leaf::Text { kind: Text::Error, start, end: cr },
                    b':' => Leaf::Int(parse::integer(text)?),
                    b',' if self.keep_double_text => {
                        parse::double(text)?;
                        Leaf::Text { kind: Text::Double, start, end: cr }
                    }
                    b',' => Leaf::Double(parse::double(text)?),
                    b'(' => {
                        parse::big_number(text)?;
                        Leaf::Text { kind: Text::BigNumber, start, end: cr }
                    }
                    _ => Leaf::Bool(parse::boolean(text)?),
                };
                Ok(Step::Leaf(leaf, cr + 2))
            }
            b'_' => match self.crlf_at(buf, start)? {
                Some(end) => Ok(Step::Leaf(Leaf::Null, end)),
                None => Ok(Step::More),
            },
            b';' => self.chunk(buf, start),
            b'.' => {
                if !self.open.last().is_some_and(|o| o.streamed) {
                    return Err(ProtocolError::UnexpectedStreamPart);
                }
                match self.crlf_at(buf, start)? {
                    Some(end) => Ok(Step::AggEnd(end)),
                    None => Ok(Step::More),
                }
            }
            other => Err(ProtocolError::UnknownType(other)),
        }
    }

    /// `$`, `!` and `=`: header, payload, CRLF.
    fn blob(&mut self, buf: &[u8], ty: u8, start: usize) -> Result<Step, ProtocolError> {
        let Some((len, data)) = parse::header(buf, start)? else { return Ok(self.more(buf.len() + 1)) };
        let n = match len {
            Len::Count(n) => n,
            Len::Null if ty == b'$' => return Ok(Step::Leaf(Leaf::NullBulk, data)),
            Len::Streamed if ty == b'$' => return Ok(Step::StreamStart(data)),
            Len::Null | Len::Streamed => return Err(ProtocolError::BadLength),
        };
        let end = self.payload_end(data, n)?;
        if ty == b'=' && n < 4 {
            return Err(ProtocolError::BadVerbatim);
        }
        let Some(next) = self.payload_crlf(buf, end)? else { return Ok(Step::More) };
        let leaf = match ty {
            b'$' => Leaf::Text { kind: Text::Bulk, start: data, end },
            b'!' => Leaf::Text { kind: Text::BlobError, start: data, end },
            _ => match buf.get(data..data + 4) {
                Some(&[a, b, c, b':']) => Leaf::Verbatim { format: [a, b, c], start: data + 4, end },
                _ => return Err(ProtocolError::BadVerbatim),
            },
        };
        Ok(Step::Leaf(leaf, next))
    }

    /// `;N`: one chunk of a streamed string, or its end (`;0`).
    fn chunk(&mut self, buf: &[u8], start: usize) -> Result<Step, ProtocolError> {
        let Some(state) = self.stream else { return Err(ProtocolError::UnexpectedStreamPart) };
        let Some((len, data)) = parse::header(buf, start)? else { return Ok(self.more(buf.len() + 1)) };
        let Len::Count(n) = len else { return Err(ProtocolError::BadLength) };
        if n == 0 {
            return Ok(Step::StreamEnd(data));
        }
        let total = state.total.saturating_add(n);
        if total > self.limits.max_bulk_len {
            return Err(ProtocolError::TooLarge { len: total.max(n), limit: self.limits.max_bulk_len });
        }
        let end = self.payload_end(data, n)?;
        let Some(next) = self.payload_crlf(buf, end)? else { return Ok(Step::More) };
        self.stream = Some(StreamState { tok: state.tok, chunks: state.chunks + 1, total });
        Ok(Step::Chunk(data, end, next))
    }

    /// Where a payload of `n` declared bytes starting at `data` ends, after
    /// the length limit check and, with its CRLF, the reply's byte budget.
    fn payload_end(&self, data: usize, n: u64) -> Result<usize, ProtocolError> {
        let limit = self.limits.max_bulk_len;
        let too_large = ProtocolError::TooLarge { len: n, limit };
        if n > limit {
            return Err(too_large);
        }
        let end = usize::try_from(n).ok().and_then(|n| data.checked_add(n)).ok_or(too_large)?;
        self.fits(end.saturating_add(2))?;
        Ok(end)
    }

    /// Checks the CRLF after a payload ending at `end`; `None` while the
    /// buffer is too short (without reserving anything).
    fn payload_crlf(&mut self, buf: &[u8], end: usize) -> Result<Option<usize>, ProtocolError> {
        let next = end.checked_add(2).ok_or(ProtocolError::TooLarge {
            len: u64::try_from(end).unwrap_or(u64::MAX),
            limit: self.limits.max_bulk_len,
        })?;
        match buf.get(end..next) {
            None => {
                self.more(next);
                Ok(None)
            }
            Some(b"\r\n") => Ok(Some(next)),
            Some(_) => Err(ProtocolError::MissingCrlf),
        }
    }

    /// Checks that CRLF follows directly at `at` (after `_` and `.`).
    fn crlf_at(&mut self, buf: &[u8], at: usize) -> Result<Option<usize>, ProtocolError> {
        match buf.get(at) {
            None => return Ok(self.more_none(buf.len() + 1)),
            Some(b'\r') => {}
            Some(_) => return Err(ProtocolError::MissingCrlf),
        }
        match buf.get(at + 1) {
            None => Ok(self.more_none(buf.len() + 1)),
            Some(b'\n') => Ok(Some(at + 2)),
            Some(_) => Err(ProtocolError::MissingCrlf),
        }
    }

    /// Finds the CRLF ending the line whose text starts at `start`, resuming
    /// the search where the previous call stopped; returns the CR's offset.
    ///
    /// The search looks for the first CR or LF (a bare one is an error) in a
    /// window that ends after `max_line_len + 1` text bytes, or earlier where
    /// the CRLF could no longer end within the reply's byte budget. Nothing
    /// is decided about the window's end until the buffer reaches it.
    fn line(&mut self, buf: &[u8], start: usize) -> Result<Option<usize>, ProtocolError> {
        let line_limit = usize::try_from(self.limits.max_line_len).unwrap_or(usize::MAX);
        let reply_limit = usize::try_from(self.limits.max_reply_bytes).unwrap_or(usize::MAX);
        // Exclusive bounds for the CR: at most `line_limit` text bytes, and CR LF ending by `reply_limit`.
        let line_window = start.saturating_add(line_limit).saturating_add(1);
        let reply_window = reply_limit.saturating_sub(1);
        let window = line_window.min(reply_window);
        let stop = buf.len().min(window);
        let from = self.line_scanned.max(start);
        let found = buf.get(from..stop).and_then(|s| s.iter().position(|&b| b == b'\r' || b == b'\n'));
        match found {
            Some(i) => {
                let cr = from + i;
                if buf.get(cr) != Some(&b'\r') {
                    return Err(ProtocolError::MissingCrlf);
                }
                match buf.get(cr + 1) {
                    Some(b'\n') => Ok(Some(cr)),
                    Some(_) => Err(ProtocolError::MissingCrlf),
                    None => {
                        self.more(buf.len() + 1);
                        self.line_scanned = cr;
                        Ok(None)
                    }
                }
            }
            None if stop >= window => Err(if line_window <= reply_window {
                ProtocolError::LineTooLong { limit: self.limits.max_line_len }
            } else {
                ProtocolError::ReplyTooLarge { limit: self.limits.max_reply_bytes }
            }),
            None => {
                self.more(buf.len() + 1);
                self.line_scanned = stop.max(from);
                Ok(None)
            }
        }
    }

    fn more(&mut self, need: usize) -> Step {
        self.need = need;
        Step::More
    }

    fn more_none<T>(&mut self, need: usize) -> Option<T> {
        self.need = need;
        None
    }
}

/// Removes a single-item frame ending at `end` from the front of `buf`.
/// Payload-free values just advance the buffer; a payload is split off
/// exactly (no reference-count traffic for a slice of a slice).
#[inline]
fn take_leaf(buf: &mut BytesMut, leaf: Leaf, end: usize) -> Result<Frame, ProtocolError> {
    if end > buf.len() {
        // The scan only reports items inside the buffer.
        return Err(ProtocolError::BadLength);
    }
    let (start, stop) = match leaf {
        Leaf::Text { start, end: stop, .. } | Leaf::Verbatim { start, end: stop, .. } => (start, stop),
        other => {
            buf.advance(end);
            return leaf_frame(other, &Bytes::new());
        }
    };
    if !(start <= stop && stop <= end) {
        return Err(ProtocolError::BadLength);
    }
    let mut payload = buf.split_to(end);
    payload.advance(start);
    payload.truncate(stop - start);
    let payload = payload.freeze();
    match leaf {
        Leaf::Verbatim { format, .. } => Ok(Frame::VerbatimString { format, data: payload }),
        Leaf::Text { kind, .. } => text_frame(kind, payload),
        other => leaf_frame(other, &payload),
    }
}

#[cfg(test)]
mod tests;
