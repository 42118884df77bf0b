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
//! Choices where the spec is silent or loose, all enforced here:
//! - A CR inside a simple line must be followed by LF: a bare CR is
//!   [`ProtocolError::MissingCrlf`]. A bare LF is accepted as content.
//! - Lengths may have leading zeros; `-1` is a null only for `$` and `*`;
//!   `?` (streamed) only for `$ * % ~ >`.
//! - `_` and `.` must be followed directly by CRLF ([`ProtocolError::MissingCrlf`]).
//! - An attribute (`|N`) wraps the value after it, at any level, and does not
//!   count as an element of the aggregate around it; it does count towards
//!   the depth limit, like any aggregate.
//! - A line's length limit counts the bytes before its CR; a line whose first
//!   `max_bulk_len + 1` bytes hold no CR is [`ProtocolError::TooLarge`] with
//!   `len = max_bulk_len + 1`, so the error does not depend on how the bytes
//!   were split into reads.
//!
//! Pure: no IO.

use bytes::{Buf, Bytes, BytesMut};

use super::parse::{self, Len};
use super::token::{build, leaf_frame, text_frame, Agg, Leaf, Partial, Text, Tok};
use super::Frame;
use crate::error::ProtocolError;

/// Limits against hostile replies. Defaults match the server's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest bulk string, blob error, verbatim string, stream chunk, whole
    /// streamed string or simple line (bytes).
    pub max_bulk_len: u64,
    /// Most elements in one aggregate (pairs count twice for maps).
    pub max_elements: u64,
    /// Deepest nesting of aggregates (attributes included); 0 allows none.
    /// The decoder itself never recurses, but a [`Frame`] is dropped,
    /// compared and encoded recursively: keep this in the hundreds.
    pub max_depth: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_bulk_len: 512 * 1024 * 1024, max_elements: i32::MAX as u64, max_depth: 128 }
    }
}

/// Most tokens whose allocation is kept between frames (about 256 KB).
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
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        if buf.len() < self.need {
            return Ok(None);
        }
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
                continue;
            }
            let step = self.item(buf, at)?;
            if !matches!(step, Step::More) {
                self.line_scanned = 0;
            }
            let complete = match step {
                Step::More => return Ok(None),
                Step::Leaf(leaf, end) => {
                    if self.tokens.is_empty() {
                        // Fast path: a single-item top-level frame.
                        self.need = 0;
                        return take_leaf(buf, leaf, end).map(Some);
                    }
                    self.tokens.push(Tok::Leaf(leaf));
                    self.pos = end;
                    self.element_done()?
                }
                Step::Open(kind, len, end) => {
                    self.pos = end;
                    self.open_aggregate(kind, len)?
                }
                Step::StreamStart(end) => {
                    self.stream = Some(StreamState { tok: self.tokens.len(), chunks: 0, total: 0 });
                    self.tokens.push(Tok::Streamed { chunks: 0 });
                    self.pos = end;
                    false
                }
                Step::Chunk(start, end, next) => {
                    self.tokens.push(Tok::Chunk { start, end });
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
        }
    }

    /// Splits off the complete frame and builds it.
    fn finish(&mut self, buf: &mut BytesMut) -> Result<Frame, ProtocolError> {
        let bytes = buf.split_to(self.pos).freeze();
        let frame = build(&self.tokens, &mut self.partials, &bytes);
        self.reset();
        frame
    }

    /// Records the bulk string or integer at `at` and returns true if it is
    /// entirely in `buf` and well formed; anything else (another type,
    /// incomplete, malformed, over a limit) returns false and goes through
    /// `item`, which reports it.
    #[inline]
    fn complete_element(&mut self, buf: &[u8], at: usize) -> bool {
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
        if len as u64 > self.limits.max_bulk_len || window.get(len + 1) != Some(&b'\n') {
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
        // Only a number here: nothing is sized by it until the build, when
        // every entry it announces has arrived and has its token.
        let entries = usize::try_from(count).unwrap_or(usize::MAX);
        let tok = self.tokens.len();
        self.tokens.push(Tok::Agg { kind, count: entries });
        let n = count.saturating_mul(kind.width()).saturating_add(u64::from(kind == Agg::Attr));
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
    /// the length limit check.
    fn payload_end(&self, data: usize, n: u64) -> Result<usize, ProtocolError> {
        let limit = self.limits.max_bulk_len;
        let too_large = ProtocolError::TooLarge { len: n, limit };
        if n > limit {
            return Err(too_large);
        }
        usize::try_from(n).ok().and_then(|n| data.checked_add(n)).ok_or(too_large)
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

    /// Finds the CR ending the simple line whose text starts at `start`,
    /// resuming the search where the previous call stopped.
    fn line(&mut self, buf: &[u8], start: usize) -> Result<Option<usize>, ProtocolError> {
        let limit = usize::try_from(self.limits.max_bulk_len).unwrap_or(usize::MAX);
        // At most limit + 1 text bytes are examined: one more than allowed.
        let stop = buf.len().min(start.saturating_add(limit).saturating_add(1));
        let from = self.line_scanned.max(start);
        let found = buf.get(from..stop).and_then(|s| s.iter().position(|&b| b == b'\r'));
        match found {
            Some(i) => {
                let cr = from + i;
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
            None if stop - start > limit => Err(ProtocolError::TooLarge {
                len: self.limits.max_bulk_len.saturating_add(1),
                limit: self.limits.max_bulk_len,
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
mod tests {
    use super::*;
    use crate::error::{NodeAddr, ServerErrorKind};

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn simple(s: &str) -> Frame {
        Frame::SimpleString(b(s))
    }

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(b(s))
    }

    /// Decodes one frame from `wire` given whole; asserts it used every byte.
    fn one(wire: &[u8]) -> Result<Frame, ProtocolError> {
        let mut buf = BytesMut::from(wire);
        let frame = Decoder::new().decode(&mut buf)?;
        let frame = frame.unwrap_or_else(|| panic!("incomplete: {:?}", String::from_utf8_lossy(wire)));
        assert!(buf.is_empty(), "left over: {buf:?}");
        Ok(frame)
    }

    /// Feeds `wire` in pieces of `step` bytes; collects frames until the end or the first error.
    fn fed(wire: &[u8], step: usize, limits: DecodeLimits) -> (Vec<Frame>, Option<ProtocolError>) {
        let mut dec = Decoder::with_limits(limits);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for piece in wire.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let before = buf.clone();
                match dec.decode(&mut buf) {
                    Ok(Some(f)) => frames.push(f),
                    Ok(None) => {
                        assert_eq!(buf, before, "Ok(None) must leave the buffer untouched");
                        break;
                    }
                    Err(e) => return (frames, Some(e)),
                }
            }
        }
        (frames, None)
    }

    fn err(wire: &[u8]) -> ProtocolError {
        err_with(wire, DecodeLimits::default())
    }

    /// The first error, checking it is the same whole and byte by byte.
    fn err_with(wire: &[u8], limits: DecodeLimits) -> ProtocolError {
        let whole = fed(wire, wire.len(), limits);
        let bytewise = fed(wire, 1, limits);
        assert_eq!(whole, bytewise, "{:?}", String::from_utf8_lossy(wire));
        whole.1.unwrap_or_else(|| panic!("no error for {:?}", String::from_utf8_lossy(wire)))
    }

    #[test]
    fn spec_vectors_for_every_type() {
        let cases: Vec<(&[u8], Frame)> = vec![
            (b"+OK\r\n", simple("OK")),
            (b"+\r\n", simple("")),
            (b":1234\r\n", Frame::Integer(1234)),
            (b":-9223372036854775808\r\n", Frame::Integer(i64::MIN)),
            (b":+5\r\n", Frame::Integer(5)),
            (b"$11\r\nhello world\r\n", bulk("hello world")),
            (b"$0\r\n\r\n", bulk("")),
            (b"$4\r\na\r\nb\r\n", bulk("a\r\nb")),
            (b"$-1\r\n", Frame::NullBulk),
            (b"*-1\r\n", Frame::NullArray),
            (b"_\r\n", Frame::Null),
            (b"*0\r\n", Frame::Array(vec![])),
            (b"*3\r\n:1\r\n:2\r\n:3\r\n", Frame::Array(vec![Frame::Integer(1), Frame::Integer(2), Frame::Integer(3)])),
            (
                b"*2\r\n*3\r\n:1\r\n$5\r\nhello\r\n:2\r\n#f\r\n",
                Frame::Array(vec![
                    Frame::Array(vec![Frame::Integer(1), bulk("hello"), Frame::Integer(2)]),
                    Frame::Boolean(false),
                ]),
            ),
            (b"#t\r\n", Frame::Boolean(true)),
            (b",1.23\r\n", Frame::Double(1.23)),
            (b",10\r\n", Frame::Double(10.0)),
            (b",inf\r\n", Frame::Double(f64::INFINITY)),
            (b",-inf\r\n", Frame::Double(f64::NEG_INFINITY)),
            (b",-1.5e10\r\n", Frame::Double(-1.5e10)),
            (
                b"(3492890328409238509324850943850943825024385\r\n",
                Frame::BigNumber(b("3492890328409238509324850943850943825024385")),
            ),
            (b"(-3\r\n", Frame::BigNumber(b("-3"))),
            (b"=15\r\ntxt:Some string\r\n", Frame::VerbatimString { format: *b"txt", data: b("Some string") }),
            (b"=4\r\nmkd:\r\n", Frame::VerbatimString { format: *b"mkd", data: b("") }),
            (
                b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
                Frame::Map(vec![(simple("first"), Frame::Integer(1)), (simple("second"), Frame::Integer(2))]),
            ),
            (b"%0\r\n", Frame::Map(vec![])),
            (
                b"~5\r\n+orange\r\n+apple\r\n#t\r\n:100\r\n:999\r\n",
                Frame::Set(vec![
                    simple("orange"),
                    simple("apple"),
                    Frame::Boolean(true),
                    Frame::Integer(100),
                    Frame::Integer(999),
                ]),
            ),
            (
                b">4\r\n+pubsub\r\n+message\r\n+somechannel\r\n+this is the message\r\n",
                Frame::Push(vec![
                    simple("pubsub"),
                    simple("message"),
                    simple("somechannel"),
                    simple("this is the message"),
                ]),
            ),
            (
                b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
                Frame::Attributed {
                    attributes: vec![(
                        simple("key-popularity"),
                        Frame::Map(vec![(bulk("a"), Frame::Double(0.1923)), (bulk("b"), Frame::Double(0.0012))]),
                    )],
                    frame: Box::new(Frame::Array(vec![Frame::Integer(2039123), Frame::Integer(9543892)])),
                },
            ),
            (
                b"*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n",
                Frame::Array(vec![
                    Frame::Integer(1),
                    Frame::Integer(2),
                    Frame::Attributed {
                        attributes: vec![(simple("ttl"), Frame::Integer(3600))],
                        frame: Box::new(Frame::Integer(3)),
                    },
                ]),
            ),
            (b"|0\r\n+OK\r\n", Frame::Attributed { attributes: vec![], frame: Box::new(simple("OK")) }),
            (
                b"|1\r\n+a\r\n:1\r\n|1\r\n+b\r\n:2\r\n_\r\n",
                Frame::Attributed {
                    attributes: vec![(simple("a"), Frame::Integer(1))],
                    frame: Box::new(Frame::Attributed {
                        attributes: vec![(simple("b"), Frame::Integer(2))],
                        frame: Box::new(Frame::Null),
                    }),
                },
            ),
            // The spec's own example (which spells "Hello word").
            (b"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n", bulk("Hello word")),
            (b"$?\r\n;0\r\n", bulk("")),
            (b"$?\r\n;3\r\nabc\r\n;0\r\n", bulk("abc")),
            (
                b"*?\r\n:1\r\n:2\r\n:3\r\n.\r\n",
                Frame::Array(vec![Frame::Integer(1), Frame::Integer(2), Frame::Integer(3)]),
            ),
            (b"*?\r\n.\r\n", Frame::Array(vec![])),
            (
                b"%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n",
                Frame::Map(vec![(simple("a"), Frame::Integer(1)), (simple("b"), Frame::Integer(2))]),
            ),
            (b"~?\r\n#t\r\n.\r\n", Frame::Set(vec![Frame::Boolean(true)])),
            (b">?\r\n+x\r\n.\r\n", Frame::Push(vec![simple("x")])),
            (
                b"*?\r\n*?\r\n$?\r\n;1\r\na\r\n;1\r\nb\r\n;0\r\n.\r\n|1\r\n+k\r\n+v\r\n:1\r\n.\r\n",
                Frame::Array(vec![
                    Frame::Array(vec![bulk("ab")]),
                    Frame::Attributed {
                        attributes: vec![(simple("k"), simple("v"))],
                        frame: Box::new(Frame::Integer(1)),
                    },
                ]),
            ),
        ];
        for (wire, expected) in cases {
            let name = String::from_utf8_lossy(wire).into_owned();
            let got = one(wire).unwrap_or_else(|e| panic!("{name:?}: {e}"));
            assert_eq!(got, expected, "{name:?}");
            // Byte by byte, and followed by another frame, gives the same.
            let mut twice = wire.to_vec();
            twice.extend_from_slice(wire);
            for step in [1, 2, 3, 7, twice.len()] {
                let (frames, error) = fed(&twice, step, DecodeLimits::default());
                assert_eq!(error, None, "{name:?} step {step}");
                assert_eq!(frames, vec![expected.clone(), expected.clone()], "{name:?} step {step}");
            }
        }
        assert!(matches!(one(b",nan\r\n"), Ok(Frame::Double(d)) if d.is_nan()));
    }

    #[test]
    fn errors_are_classified() {
        let f = one(b"-ERR this is the error description\r\n").unwrap();
        let Frame::SimpleError(e) = f else { panic!("{f:?}") };
        assert_eq!(e.kind(), &ServerErrorKind::Generic);
        assert_eq!(e.line(), &b("ERR this is the error description"));
        let f = one(b"!21\r\nSYNTAX invalid syntax\r\n").unwrap();
        let Frame::BlobError(e) = f else { panic!("{f:?}") };
        assert_eq!(e.code(), b"SYNTAX");
        let f = one(b"-MOVED 3999 127.0.0.1:6381\r\n").unwrap();
        let Frame::SimpleError(e) = f else { panic!("{f:?}") };
        assert_eq!(e.kind(), &ServerErrorKind::Moved { slot: 3999, node: NodeAddr::new("127.0.0.1", 6381) });
        let f = one(b"*1\r\n!14\r\nASK 1 [::1]:70\r\n").unwrap();
        let Frame::Array(items) = f else { panic!("{f:?}") };
        let Some(Frame::BlobError(e)) = items.first() else { panic!("{items:?}") };
        assert_eq!(e.kind(), &ServerErrorKind::Ask { slot: 1, node: NodeAddr::new("::1", 70) });
        assert_eq!(err(b"-MOVED 1 \xff\xfe:1\r\n"), ProtocolError::InvalidUtf8);
        assert_eq!(err(b"*1\r\n-ASK 1 \xff:1\r\n"), ProtocolError::InvalidUtf8);
        assert_eq!(err(b"-MOVED x\r\n"), ProtocolError::BadRedirect);
        assert_eq!(err(b"!9\r\nASK 1 h:x\r\n"), ProtocolError::BadRedirect);
    }

    #[test]
    fn malformed_input_gets_the_exact_error() {
        use ProtocolError::*;
        let cases: Vec<(&[u8], ProtocolError)> = vec![
            (b"x\r\n", UnknownType(b'x')),
            (b"\r\n", UnknownType(b'\r')),
            (b"*1\r\n@\r\n", UnknownType(b'@')),
            (b"$abc\r\n", BadLength),
            (b"$\r\n", BadLength),
            (b"$+3\r\nfoo\r\n", BadLength),
            (b"$-2\r\n", BadLength),
            (b"$-0\r\n", BadLength),
            (b"$ 3\r\n", BadLength),
            (b"$99999999999999999999999\r\n", BadLength),
            (b"*x\r\n", BadLength),
            (b"*-5\r\n", BadLength),
            (b"%-1\r\n", BadLength),
            (b"~-1\r\n", BadLength),
            (b"|-1\r\n", BadLength),
            (b"|?\r\n", BadLength),
            (b"!-1\r\n", BadLength),
            (b"!?\r\n", BadLength),
            (b"=-1\r\n", BadLength),
            (b"$?\r\n;-1\r\n", BadLength),
            (b"$?\r\n;?\r\n", BadLength),
            (b"$3\r\nfooXY", MissingCrlf),
            // The same inside aggregates, where elements take a faster path.
            (b"*1\r\n$3\r\nfooXY", MissingCrlf),
            (b"*2\r\n$1\r\na\r\n$x\r\n", BadLength),
            (b"*1\r\n:12a\r\n", BadInteger),
            (b"*1\r\n:1\rx", MissingCrlf),
            (b"*1\r\n:\r\n", BadInteger),
            (b"*1\r\n:123456789012345678901234567890\r\n", BadInteger),
            (b"%1\r\n:9223372036854775808\r\n:1\r\n", BadInteger),
            (b"$3\r\nfoo\rX", MissingCrlf),
            (b"$3\rX", MissingCrlf),
            (b"+OK\rX\r\n", MissingCrlf),
            (b"+O\rK\r\n", MissingCrlf),
            (b"_x\r\n", MissingCrlf),
            (b"_\rx", MissingCrlf),
            (b"*?\r\n.x\r\n", MissingCrlf),
            (b":\r\n", BadInteger),
            (b":-\r\n", BadInteger),
            (b":12a\r\n", BadInteger),
            (b":1.5\r\n", BadInteger),
            (b":9223372036854775808\r\n", BadInteger),
            (b",\r\n", BadDouble),
            (b",1.2.3\r\n", BadDouble),
            (b",abc\r\n", BadDouble),
            (b",.5\r\n", BadDouble),
            (b"#\r\n", BadBoolean),
            (b"#x\r\n", BadBoolean),
            (b"#true\r\n", BadBoolean),
            (b"(\r\n", BadBigNumber),
            (b"(12.5\r\n", BadBigNumber),
            (b"(-\r\n", BadBigNumber),
            (b"=3\r\ntxt\r\n", BadVerbatim),
            (b"=5\r\ntxt_x\r\n", BadVerbatim),
            (b";3\r\nabc\r\n", UnexpectedStreamPart),
            (b"*1\r\n;3\r\nabc\r\n", UnexpectedStreamPart),
            (b".\r\n", UnexpectedStreamPart),
            (b"*2\r\n:1\r\n.\r\n", UnexpectedStreamPart),
            (b"$?\r\n+OK\r\n", UnexpectedStreamPart),
            (b"$?\r\n;1\r\na\r\n.\r\n", UnexpectedStreamPart),
            (b"%?\r\n+a\r\n.\r\n", UnexpectedStreamPart),
            (b"*?\r\n|1\r\n+a\r\n+b\r\n.\r\n", UnexpectedStreamPart),
        ];
        for (wire, expected) in cases {
            assert_eq!(err(wire), expected, "{:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn limits_are_enforced() {
        use ProtocolError::*;
        let small = DecodeLimits { max_bulk_len: 4, max_elements: 3, max_depth: 2 };
        assert_eq!(err_with(b"$5\r\nhello\r\n", small), TooLarge { len: 5, limit: 4 });
        assert_eq!(err_with(b"!5\r\nERR x\r\n", small), TooLarge { len: 5, limit: 4 });
        assert_eq!(err_with(b"=9\r\ntxt:hello\r\n", small), TooLarge { len: 9, limit: 4 });
        assert_eq!(err_with(b"$?\r\n;5\r\nhello\r\n;0\r\n", small), TooLarge { len: 5, limit: 4 });
        assert_eq!(err_with(b"$?\r\n;3\r\nhel\r\n;2\r\nlo\r\n;0\r\n", small), TooLarge { len: 5, limit: 4 });
        // Lines: 4 bytes of text pass, 5 do not, with or without a CR in sight.
        assert_eq!(fed(b"+abcd\r\n", 1, small), (vec![simple("abcd")], None));
        assert_eq!(err_with(b"+abcde\r\n", small), TooLarge { len: 5, limit: 4 });
        assert_eq!(err_with(b"-abcdefghijkl", small), TooLarge { len: 5, limit: 4 });
        assert_eq!(err_with(b":123456\r\n", small), TooLarge { len: 5, limit: 4 });
        assert_eq!(err_with(b"*1\r\n(123456\r\n", small), TooLarge { len: 5, limit: 4 });
        assert_eq!(err_with(b"*1\r\n:123456\r\n", small), TooLarge { len: 5, limit: 4 });
        assert_eq!(err_with(b"*1\r\n$5\r\nhello\r\n", small), TooLarge { len: 5, limit: 4 });
        assert_eq!(fed(b"*2\r\n:1234\r\n$4\r\nabcd\r\n", 3, small).1, None);
        assert_eq!(fed(b"$4\r\nabcd\r\n", 1, small), (vec![bulk("abcd")], None));
        // Elements: maps count pairs twice; streamed aggregates are counted as they come.
        assert_eq!(err_with(b"*4\r\n", small), TooManyElements { count: 4, limit: 3 });
        assert_eq!(err_with(b"%2\r\n", small), TooManyElements { count: 4, limit: 3 });
        assert_eq!(err_with(b"|2\r\n", small), TooManyElements { count: 4, limit: 3 });
        assert_eq!(
            err_with(b"~?\r\n:1\r\n:2\r\n:3\r\n:4\r\n.\r\n", small),
            TooManyElements { count: 4, limit: 3 }
        );
        assert_eq!(
            err_with(b"*18446744073709551615\r\n", small),
            TooManyElements { count: u64::MAX, limit: 3 }
        );
        assert_eq!(
            err_with(b"%18446744073709551615\r\n", small),
            TooManyElements { count: u64::MAX, limit: 3 }
        );
        assert_eq!(fed(b"*3\r\n:1\r\n:2\r\n:3\r\n", 1, small).1, None);
        // Without an element limit, huge counts just wait for their elements.
        let unlimited = DecodeLimits { max_elements: u64::MAX, ..DecodeLimits::default() };
        for wire in [&b"|18446744073709551615\r\n:1\r\n"[..], b"%18446744073709551615\r\n+a\r\n"] {
            assert_eq!(fed(wire, 1, unlimited), (vec![], None));
        }
        // Depth: two levels pass, three do not; attributes count.
        assert_eq!(fed(b"*1\r\n*1\r\n:1\r\n", 1, small).1, None);
        assert_eq!(err_with(b"*1\r\n*1\r\n*1\r\n:1\r\n", small), TooDeep { limit: 2 });
        assert_eq!(err_with(b"*1\r\n|1\r\n+a\r\n*0\r\n", small), TooDeep { limit: 2 });
        let flat = DecodeLimits { max_depth: 0, ..DecodeLimits::default() };
        assert_eq!(err_with(b"*0\r\n", flat), TooDeep { limit: 0 });
        assert_eq!(fed(b"+OK\r\n*-1\r\n", 1, flat), (vec![simple("OK"), Frame::NullArray], None));
    }

    #[test]
    fn depth_bomb_is_refused_without_recursion() {
        let bomb = b"*1\r\n".repeat(100_000);
        let mut buf = BytesMut::from(&bomb[..]);
        assert_eq!(Decoder::new().decode(&mut buf), Err(ProtocolError::TooDeep { limit: 128 }));
        let attrs = b"|1\r\n".repeat(100_000);
        let mut buf = BytesMut::from(&attrs[..]);
        assert_eq!(Decoder::new().decode(&mut buf), Err(ProtocolError::TooDeep { limit: 128 }));
        // Exactly at the limit is fine, and builds without recursion trouble.
        let mut deep = b"*1\r\n".repeat(128);
        deep.extend_from_slice(b":7\r\n");
        let mut frame = one(&deep).unwrap();
        for _ in 0..128 {
            let Frame::Array(mut items) = frame else { panic!("not an array") };
            frame = items.pop().unwrap();
        }
        assert_eq!(frame, Frame::Integer(7));
    }

    #[test]
    fn a_huge_declared_bulk_reserves_nothing_and_waits_in_constant_time() {
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b"$1073741823\r\n");
        let limits = DecodeLimits { max_bulk_len: 2 * 1024 * 1024 * 1024, ..DecodeLimits::default() };
        let mut dec = Decoder::with_limits(limits);
        let start = std::time::Instant::now();
        for _ in 0..100_000 {
            assert_eq!(dec.decode(&mut buf), Ok(None));
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(&buf[..], b"$1073741823\r\n");
        assert!(buf.capacity() < 4096, "capacity grew to {}", buf.capacity());
        // With default limits the same header is over the limit.
        let mut buf = BytesMut::from(&b"$1073741823\r\n"[..]);
        assert_eq!(
            Decoder::new().decode(&mut buf),
            Err(ProtocolError::TooLarge { len: 1073741823, limit: 512 * 1024 * 1024 })
        );
    }

    #[test]
    fn payloads_are_slices_of_the_read_buffer() {
        let mut buf = BytesMut::with_capacity(256);
        buf.extend_from_slice(b"*3\r\n$5\r\nhello\r\n+OK\r\n$?\r\n;5\r\nworld\r\n;0\r\n$3\r\nend\r\n");
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        let mut dec = Decoder::new();
        let frame = dec.decode(&mut buf).unwrap().unwrap();
        let Frame::Array(items) = frame else { panic!() };
        for item in &items {
            let p = item.as_bytes().unwrap().as_ptr() as usize;
            assert!(range.contains(&p), "{item:?} was copied");
        }
        assert_eq!(items[2], bulk("world"));
        let Frame::BulkString(end) = dec.decode(&mut buf).unwrap().unwrap() else { panic!() };
        assert!(range.contains(&(end.as_ptr() as usize)));
        assert!(buf.is_empty());
    }

    #[test]
    fn a_long_line_in_small_reads_is_scanned_once() {
        let mut wire = vec![b'+'];
        wire.extend(std::iter::repeat_n(b'a', 200_000));
        wire.extend_from_slice(b"\r\n");
        let (frames, error) = fed(&wire, 16, DecodeLimits::default());
        assert_eq!(error, None);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].as_bytes().map(Bytes::len), Some(200_000));
        // A CR split from its LF across reads.
        assert_eq!(
            fed(b"+ab\r\n:1\r\n", 4, DecodeLimits::default()).0,
            vec![simple("ab"), Frame::Integer(1)]
        );
    }

    #[test]
    fn resets_after_an_error_and_on_request() {
        let mut dec = Decoder::new();
        let mut buf = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        buf.clear();
        dec.reset();
        buf.extend_from_slice(b":5\r\n");
        assert_eq!(dec.decode(&mut buf), Ok(Some(Frame::Integer(5))));
        let mut buf = BytesMut::from(&b"*2\r\n:x\r\n"[..]);
        assert_eq!(dec.decode(&mut buf), Err(ProtocolError::BadInteger));
        let mut buf = BytesMut::from(&b"+fresh\r\n"[..]);
        assert_eq!(dec.decode(&mut buf), Ok(Some(simple("fresh"))));
        // A caller that drops bytes without reset() gets no panic, whatever
        // it feeds afterwards; reset() brings the decoder back.
        let mut buf = BytesMut::from(&b"*3\r\n:1\r\n:2\r\n$10\r\n"[..]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        buf.clear();
        for piece in [&b":9\r\n"[..], b"*1\r\n$3\r\nabc\r\n", b"+xyz\r\n"] {
            buf.extend_from_slice(piece);
            let _ = dec.decode(&mut buf);
        }
        buf.clear();
        dec.reset();
        buf.extend_from_slice(b":9\r\n");
        assert_eq!(dec.decode(&mut buf), Ok(Some(Frame::Integer(9))));
    }

    #[test]
    fn empty_buffer_needs_more() {
        let mut buf = BytesMut::new();
        assert_eq!(Decoder::new().decode(&mut buf), Ok(None));
    }
}
