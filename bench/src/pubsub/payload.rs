//! The bench's message: a 16-byte header (sequence number, then the send time
//! in nanoseconds since the process's [`clock`] base, both little-endian u64)
//! padded to the requested payload size.
//!
//! Pure, apart from reading the clock. Not here: checking sequences (`tally`).

use std::sync::OnceLock;
use std::time::Instant;

/// Bytes taken by the sequence number and the timestamp.
pub const HEADER: usize = 16;

/// Nanoseconds since the first call in this process: the one time base shared
/// by the publisher and every subscriber (monotonic, so latencies are never
/// negative).
pub fn clock() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A payload of `len` bytes (at least [`HEADER`]) carrying `seq` and `sent_ns`.
pub fn encode(seq: u64, sent_ns: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.max(HEADER));
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&sent_ns.to_le_bytes());
    // Printable filler, so a human watching with MONITOR sees text.
    out.resize(len.max(HEADER), b'x');
    out
}

/// `(seq, sent_ns)` from a payload, or `None` when it is shorter than the header.
pub fn decode(payload: &[u8]) -> Option<(u64, u64)> {
    let seq = payload.get(..8)?.try_into().ok().map(u64::from_le_bytes)?;
    let sent = payload.get(8..HEADER)?.try_into().ok().map(u64::from_le_bytes)?;
    Some((seq, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_any_size() {
        for len in [0, 1, 16, 17, 64, 4096] {
            let p = encode(123_456_789, u64::MAX - 7, len);
            assert_eq!(p.len(), len.max(HEADER));
            assert_eq!(decode(&p), Some((123_456_789, u64::MAX - 7)));
        }
    }

    #[test]
    fn short_payloads_are_rejected() {
        let p = encode(1, 2, 16);
        for cut in 0..HEADER {
            assert_eq!(decode(&p[..cut]), None, "{cut} bytes");
        }
    }

    #[test]
    fn clock_is_monotonic() {
        let a = clock();
        let b = clock();
        assert!(b >= a);
    }
}
