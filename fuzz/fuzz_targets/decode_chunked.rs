//! Fuzz target: chunk invariance. The first input byte says how many split
//! points follow (up to 15, two bytes each); the rest is the byte stream.
//! Decoding it whole and delivered in those pieces must give the same frames
//! and the same first error, and `Ok(None)` must leave the buffer untouched.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use redwire::resp::{DecodeLimits, Decoder};
use redwire::{Frame, ProtocolError};

#[path = "frame_eq.rs"]
mod frame_eq;

fn run(stream: &[u8], ends: &[usize]) -> (Vec<Frame>, Option<ProtocolError>) {
    // Small enough that inputs of a few KB reach every limit and budget.
    let limits = DecodeLimits {
        max_bulk_len: 1 << 10,
        max_line_len: 64,
        max_elements: 1 << 8,
        max_depth: 64,
        max_reply_bytes: 1 << 11,
        max_reply_elements: 1 << 7,
    };
    let mut decoder = Decoder::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut from = 0;
    for &end in ends {
        buf.extend_from_slice(&stream[from..end]);
        from = end;
        loop {
            let before = buf.clone();
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => {
                    assert_eq!(buf, before, "Ok(None) changed the buffer");
                    break;
                }
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 16);
    let Some((cuts, stream)) = rest.split_at_checked(n * 2) else { return };
    let mut ends: Vec<usize> = cuts
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (stream.len() + 1))
        .collect();
    ends.push(stream.len());
    ends.sort_unstable();
    let whole = run(stream, &[stream.len()]);
    let chunked = run(stream, &ends);
    assert!(
        frame_eq::same_all(&whole.0, &chunked.0) && whole.1 == chunked.1,
        "whole {whole:?} != chunked {chunked:?} at {ends:?}"
    );
});
