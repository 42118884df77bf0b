//! The tokens the decoder records while it scans one frame, and how they
//! become a [`Frame`] once the frame is complete.
//!
//! A token is a checked item: a leaf with its payload's offsets (or its
//! already parsed number), an aggregate header with its entry count, or a
//! streamed string's chunks. Building never fails on a token the scan made,
//! except where an error line must be classified ([`ServerError::parse`]).
//! Offsets index the frozen bytes of the one frame; payloads become
//! `Bytes::slice`s of them. Building uses an explicit stack, never recursion.
//!
//! Pure: no IO.

use bytes::{BufMut, Bytes, BytesMut};

use super::Frame;
use crate::error::{ProtocolError, ServerError};

/// What a checked text payload becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Text {
    Simple,
    Error,
    BigNumber,
    /// A checked double kept as text.
    Double,
    Bulk,
    BlobError,
}

/// A value that is complete in one item.
#[derive(Debug, Clone, Copy)]
pub(super) enum Leaf {
    Text { kind: Text, start: usize, end: usize },
    Verbatim { format: [u8; 3], start: usize, end: usize },
    Int(i64),
    Double(f64),
    Bool(bool),
    Null,
    NullBulk,
    NullArray,
}

/// The aggregate kinds, attributes included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Agg {
    Array,
    Map,
    Set,
    Push,
    Attr,
}

impl Agg {
    /// Wire elements per declared entry.
    pub(super) fn width(self) -> u64 {
        match self {
            Agg::Map | Agg::Attr => 2,
            Agg::Array | Agg::Set | Agg::Push => 1,
        }
    }
}

/// One checked item of the current frame.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tok {
    Leaf(Leaf),
    /// Aggregate header; `count` entries (pairs for maps and attributes).
    Agg {
        kind: Agg,
        count: usize,
    },
    /// A streamed string made of the next `chunks` `Chunk` tokens.
    Streamed {
        chunks: usize,
    },
    Chunk {
        start: usize,
        end: usize,
    },
}

/// Turns the tokens of the complete frame in `bytes` into a [`Frame`],
/// using `stack` (kept by the caller for its allocation) for open aggregates.
pub(super) fn build(tokens: &[Tok], stack: &mut Vec<Partial>, bytes: &Bytes) -> Result<Frame, ProtocolError> {
    stack.clear();
    let mut i = 0;
    while let Some(tok) = tokens.get(i) {
        i += 1;
        let mut frame = match *tok {
            Tok::Leaf(leaf) => leaf_frame(leaf, bytes)?,
            Tok::Agg { kind, count } => match Partial::open(kind, count) {
                Opened::Partial(Partial::Seq { kind, mut items, want }) => {
                    // Most arrays hold only leaves: take them in a tight loop.
                    while items.len() < want {
                        match tokens.get(i) {
                            // Bulk strings built in place: no `Result` to move
                            // around for the commonest element.
                            Some(&Tok::Leaf(Leaf::Text { kind: Text::Bulk, start, end }))
                                if start <= end && end <= bytes.len() =>
                            {
                                items.push(Frame::BulkString(bytes.slice(start..end)));
                            }
                            Some(&Tok::Leaf(leaf)) => items.push(leaf_frame(leaf, bytes)?),
                            _ => break,
                        }
                        i += 1;
                    }
                    if items.len() < want {
                        stack.push(Partial::Seq { kind, items, want });
                        continue;
                    }
                    seq_frame(kind, items)
                }
                Opened::Partial(Partial::Map { mut pairs, key: None, want }) => {
                    while let (true, Some(Tok::Leaf(k)), Some(Tok::Leaf(v))) =
                        (pairs.len() < want, tokens.get(i), tokens.get(i + 1))
                    {
                        pairs.push((element(*k, bytes)?, element(*v, bytes)?));
                        i += 2;
                    }
                    if pairs.len() < want {
                        stack.push(Partial::Map { pairs, key: None, want });
                        continue;
                    }
                    Frame::Map(pairs)
                }
                Opened::Partial(partial) => {
                    stack.push(partial);
                    continue;
                }
                Opened::Empty(empty) => empty,
            },
            Tok::Streamed { chunks } => {
                let parts = tokens.get(i..i.saturating_add(chunks)).unwrap_or_default();
                i += chunks;
                Frame::BulkString(join(parts, bytes)?)
            }
            // Every chunk is consumed by its `Streamed` token.
            Tok::Chunk { .. } => return Err(ProtocolError::UnexpectedStreamPart),
        };
        // Hand the finished value to the aggregates around it.
        loop {
            let Some(top) = stack.last_mut() else { return Ok(frame) };
            match top.push(frame) {
                None => break,
                Some(done) => {
                    stack.pop();
                    frame = done;
                }
            }
        }
    }
    // Unreachable when the scan is right: it saw the frame complete.
    Err(ProtocolError::UnexpectedStreamPart)
}

/// [`leaf_frame`] with bulk strings, the usual element, handled first.
#[inline(always)]
fn element(leaf: Leaf, bytes: &Bytes) -> Result<Frame, ProtocolError> {
    match leaf {
        Leaf::Text { kind: Text::Bulk, start, end } => slice(bytes, start, end).map(Frame::BulkString),
        other => leaf_frame(other, bytes),
    }
}

/// The [`Frame`] of a single-item value.
#[inline]
pub(super) fn leaf_frame(leaf: Leaf, bytes: &Bytes) -> Result<Frame, ProtocolError> {
    Ok(match leaf {
        Leaf::Text { kind, start, end } => text_frame(kind, slice(bytes, start, end)?)?,
        Leaf::Verbatim { format, start, end } => {
            Frame::VerbatimString { format, data: slice(bytes, start, end)? }
        }
        Leaf::Int(i) => Frame::Integer(i),
        Leaf::Double(d) => Frame::Double(d),
        Leaf::Bool(b) => Frame::Boolean(b),
        Leaf::Null => Frame::Null,
        Leaf::NullBulk => Frame::NullBulk,
        Leaf::NullArray => Frame::NullArray,
    })
}

/// The [`Frame`] of a text payload.
#[inline]
pub(super) fn text_frame(kind: Text, text: Bytes) -> Result<Frame, ProtocolError> {
    Ok(match kind {
        Text::Bulk => Frame::BulkString(text),
        Text::Simple => Frame::SimpleString(text),
        Text::Error => Frame::SimpleError(ServerError::parse(text)?),
        Text::BigNumber => Frame::BigNumber(text),
        Text::Double => Frame::DoubleText(text),
        Text::BlobError => Frame::BlobError(ServerError::parse(text)?),
    })
}

/// A zero-copy slice; the offsets come from the scan of these very bytes, so
/// the check never fails, but a failure is an error rather than a panic.
#[inline]
fn slice(bytes: &Bytes, start: usize, end: usize) -> Result<Bytes, ProtocolError> {
    if start <= end && end <= bytes.len() {
        Ok(bytes.slice(start..end))
    } else {
        Err(ProtocolError::BadLength)
    }
}

/// The payload of a streamed string: a slice for zero or one chunk, a copy
/// joining them otherwise.
fn join(chunks: &[Tok], bytes: &Bytes) -> Result<Bytes, ProtocolError> {
    let range = |t: &Tok| match *t {
        Tok::Chunk { start, end } => Ok((start, end)),
        _ => Err(ProtocolError::UnexpectedStreamPart),
    };
    match chunks {
        [] => Ok(Bytes::new()),
        [one] => {
            let (start, end) = range(one)?;
            slice(bytes, start, end)
        }
        _ => {
            let mut parts = Vec::with_capacity(chunks.len());
            for t in chunks {
                let (start, end) = range(t)?;
                parts.push(bytes.get(start..end).ok_or(ProtocolError::BadLength)?);
            }
            let mut out = BytesMut::with_capacity(parts.iter().map(|p| p.len()).sum());
            for p in parts {
                out.put_slice(p);
            }
            Ok(out.freeze())
        }
    }
}

/// An aggregate being built, innermost last on the build stack.
#[derive(Debug)]
pub(super) enum Partial {
    Seq { kind: Agg, items: Vec<Frame>, want: usize },
    Map { pairs: Vec<(Frame, Frame)>, key: Option<Frame>, want: usize },
    Attr { pairs: Vec<(Frame, Frame)>, key: Option<Frame>, want: usize },
}

/// An aggregate header's outcome: something to fill, or an empty aggregate.
enum Opened {
    Partial(Partial),
    Empty(Frame),
}

impl Partial {
    /// Starts an aggregate of `count` entries, or returns it finished when empty.
    /// `count` was checked against the elements actually received, so it is a
    /// safe capacity.
    fn open(kind: Agg, count: usize) -> Opened {
        match kind {
            Agg::Attr => {
                Opened::Partial(Partial::Attr { pairs: Vec::with_capacity(count), key: None, want: count })
            }
            Agg::Map if count == 0 => Opened::Empty(Frame::Map(Vec::new())),
            _ if count == 0 => Opened::Empty(seq_frame(kind, Vec::new())),
            Agg::Map => {
                Opened::Partial(Partial::Map { pairs: Vec::with_capacity(count), key: None, want: count })
            }
            _ => Opened::Partial(Partial::Seq { kind, items: Vec::with_capacity(count), want: count }),
        }
    }

    /// Adds the next element; returns the finished aggregate after the last.
    fn push(&mut self, frame: Frame) -> Option<Frame> {
        match self {
            Partial::Seq { kind, items, want } => {
                items.push(frame);
                (items.len() == *want).then(|| seq_frame(*kind, std::mem::take(items)))
            }
            Partial::Map { pairs, key, want } => match key.take() {
                None => {
                    *key = Some(frame);
                    None
                }
                Some(k) => {
                    pairs.push((k, frame));
                    (pairs.len() == *want).then(|| Frame::Map(std::mem::take(pairs)))
                }
            },
            Partial::Attr { pairs, key, want } => {
                if pairs.len() == *want {
                    return Some(Frame::Attributed {
                        attributes: std::mem::take(pairs),
                        frame: Box::new(frame),
                    });
                }
                match key.take() {
                    None => *key = Some(frame),
                    Some(k) => pairs.push((k, frame)),
                }
                None
            }
        }
    }
}

fn seq_frame(kind: Agg, items: Vec<Frame>) -> Frame {
    match kind {
        Agg::Set => Frame::Set(items),
        Agg::Push => Frame::Push(items),
        // Maps and attributes are built as pairs, never through here.
        Agg::Array | Agg::Map | Agg::Attr => Frame::Array(items),
    }
}
