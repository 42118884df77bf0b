//! Encoding frames to bytes (for fakes, tests and servers-in-tests).
//! Commands are encoded by `cmd::Cmd`, straight into its own buffer.
//!
//! Every variant has one exact wire form: the nulls keep their own
//! (`$-1`, `*-1`, `_`), [`Frame::Attributed`] writes `|N`, the pairs, then
//! the value. Doubles are written in the shortest form that parses back to
//! the same bits (`inf`, `-inf`, `nan` for the non-finite ones).
//!
//! The encoder trusts its input: a simple string or error line holding CR or
//! LF produces bytes that do not decode to the same frame. Use a bulk string
//! for arbitrary bytes.
//!
//! Pure: no IO.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::Frame;

/// Appends the wire form of `frame` to `out`, reserving once.
pub fn encode_frame(frame: &Frame, out: &mut BytesMut) {
    out.reserve(encoded_len_hint(frame));
    write(frame, out);
}

/// The encoded size of `frame`, exact except for doubles (counted as 32
/// bytes, an upper bound for the forms written here). Walks the whole frame.
pub fn encoded_len_hint(frame: &Frame) -> usize {
    match frame {
        Frame::SimpleString(b) | Frame::BigNumber(b) | Frame::DoubleText(b) => 3 + b.len(),
        Frame::SimpleError(e) => 3 + e.line().len(),
        Frame::Integer(i) => 3 + itoa::Buffer::new().format(*i).len(),
        Frame::BulkString(b) => blob_len(b.len()),
        Frame::BlobError(e) => blob_len(e.line().len()),
        Frame::VerbatimString { data, .. } => blob_len(data.len() + 4),
        Frame::NullBulk | Frame::NullArray => 5,
        Frame::Null => 3,
        Frame::Boolean(_) => 4,
        Frame::Double(_) => 3 + 32,
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            header_len(items.len()) + items.iter().map(encoded_len_hint).sum::<usize>()
        }
        Frame::Map(pairs) => header_len(pairs.len()) + pairs_len(pairs),
        Frame::Attributed { attributes, frame } => {
            header_len(attributes.len()) + pairs_len(attributes) + encoded_len_hint(frame)
        }
    }
}

fn pairs_len(pairs: &[(Frame, Frame)]) -> usize {
    pairs.iter().map(|(k, v)| encoded_len_hint(k) + encoded_len_hint(v)).sum()
}

fn header_len(n: usize) -> usize {
    3 + itoa::Buffer::new().format(n).len()
}

fn blob_len(n: usize) -> usize {
    header_len(n) + n + 2
}

fn write(frame: &Frame, out: &mut BytesMut) {
    match frame {
        Frame::SimpleString(b) => line(out, b'+', b),
        Frame::SimpleError(e) => line(out, b'-', e.line()),
        Frame::Integer(i) => line(out, b':', itoa::Buffer::new().format(*i).as_bytes()),
        Frame::BulkString(b) => blob(out, b'$', b),
        Frame::NullBulk => out.put_slice(b"$-1\r\n"),
        Frame::NullArray => out.put_slice(b"*-1\r\n"),
        Frame::Null => out.put_slice(b"_\r\n"),
        Frame::Boolean(true) => out.put_slice(b"#t\r\n"),
        Frame::Boolean(false) => out.put_slice(b"#f\r\n"),
        Frame::Double(d) => double(out, *d),
        Frame::DoubleText(text) => line(out, b',', text),
        Frame::BigNumber(b) => line(out, b'(', b),
        Frame::BlobError(e) => blob(out, b'!', e.line()),
        Frame::VerbatimString { format, data } => {
            header(out, b'=', data.len() + 4);
            out.put_slice(format);
            out.put_u8(b':');
            out.put_slice(data);
            out.put_slice(b"\r\n");
        }
        Frame::Array(items) => seq(out, b'*', items),
        Frame::Set(items) => seq(out, b'~', items),
        Frame::Push(items) => seq(out, b'>', items),
        Frame::Map(pairs) => map(out, b'%', pairs),
        Frame::Attributed { attributes, frame } => {
            map(out, b'|', attributes);
            write(frame, out);
        }
    }
}

fn line(out: &mut BytesMut, ty: u8, text: &[u8]) {
    out.put_u8(ty);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, ty: u8, n: usize) {
    line(out, ty, itoa::Buffer::new().format(n).as_bytes());
}

fn blob(out: &mut BytesMut, ty: u8, data: &[u8]) {
    header(out, ty, data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn seq(out: &mut BytesMut, ty: u8, items: &[Frame]) {
    header(out, ty, items.len());
    for item in items {
        write(item, out);
    }
}

fn map(out: &mut BytesMut, ty: u8, pairs: &[(Frame, Frame)]) {
    header(out, ty, pairs.len());
    for (k, v) in pairs {
        write(k, out);
        write(v, out);
    }
}

fn double(out: &mut BytesMut, d: f64) {
    if d.is_nan() {
        out.put_slice(b",nan\r\n");
    } else if d.is_infinite() {
        out.put_slice(if d > 0.0 { b",inf\r\n" } else { b",-inf\r\n" });
    } else {
        // Rust prints the shortest digits that parse back to the same value.
        // Plain notation for everyday magnitudes, exponent form otherwise
        // (both are valid RESP3 doubles); "-0" keeps the sign of zero.
        // Writing to a BytesMut cannot fail (it grows), so the result is moot.
        let abs = d.abs();
        let _ = if abs == 0.0 || (1e-5..1e16).contains(&abs) {
            write!(out, ",{d}\r\n")
        } else {
            write!(out, ",{d:e}\r\n")
        };
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::error::ServerError;

    fn enc(frame: &Frame) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_frame(frame, &mut out);
        out.to_vec()
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn every_variant_has_its_wire_form() {
        let cases: Vec<(Frame, &[u8])> = vec![
            (Frame::SimpleString(b("OK")), b"+OK\r\n"),
            (Frame::SimpleError(ServerError::from_line("ERR bad").unwrap()), b"-ERR bad\r\n"),
            (Frame::Integer(-42), b":-42\r\n"),
            (Frame::Integer(i64::MIN), b":-9223372036854775808\r\n"),
            (Frame::BulkString(b("foo")), b"$3\r\nfoo\r\n"),
            (Frame::BulkString(b("")), b"$0\r\n\r\n"),
            (Frame::NullBulk, b"$-1\r\n"),
            (Frame::NullArray, b"*-1\r\n"),
            (Frame::Null, b"_\r\n"),
            (Frame::Boolean(true), b"#t\r\n"),
            (Frame::Boolean(false), b"#f\r\n"),
            (Frame::Double(1.23), b",1.23\r\n"),
            (Frame::Double(10.0), b",10\r\n"),
            (Frame::Double(-0.0), b",-0\r\n"),
            (Frame::Double(1e300), b",1e300\r\n"),
            (Frame::Double(-2.5e-10), b",-2.5e-10\r\n"),
            (Frame::Double(f64::INFINITY), b",inf\r\n"),
            (Frame::Double(f64::NEG_INFINITY), b",-inf\r\n"),
            (Frame::Double(f64::NAN), b",nan\r\n"),
            (Frame::BigNumber(b("-123456789012345678901234567890")), b"(-123456789012345678901234567890\r\n"),
            (Frame::BlobError(ServerError::from_line("SYNTAX x").unwrap()), b"!8\r\nSYNTAX x\r\n"),
            (Frame::VerbatimString { format: *b"txt", data: b("Some") }, b"=8\r\ntxt:Some\r\n"),
            (Frame::Array(vec![Frame::Integer(1), Frame::Null]), b"*2\r\n:1\r\n_\r\n"),
            (Frame::Array(vec![]), b"*0\r\n"),
            (Frame::Set(vec![Frame::Boolean(true)]), b"~1\r\n#t\r\n"),
            (Frame::Push(vec![Frame::BulkString(b("a"))]), b">1\r\n$1\r\na\r\n"),
            (Frame::Map(vec![(Frame::SimpleString(b("k")), Frame::Integer(1))]), b"%1\r\n+k\r\n:1\r\n"),
            (
                Frame::Attributed {
                    attributes: vec![(Frame::SimpleString(b("ttl")), Frame::Integer(3))],
                    frame: Box::new(Frame::Integer(7)),
                },
                b"|1\r\n+ttl\r\n:3\r\n:7\r\n",
            ),
        ];
        for (frame, wire) in cases {
            assert_eq!(enc(&frame), wire, "{frame:?}");
            let hint = encoded_len_hint(&frame);
            if matches!(frame, Frame::Double(_)) {
                assert!(hint >= wire.len(), "{frame:?}");
            } else {
                assert_eq!(hint, wire.len(), "{frame:?}");
            }
        }
    }

    #[test]
    fn doubles_keep_their_bits() {
        for d in [0.1, 1.0 / 3.0, f64::MAX, f64::MIN_POSITIVE, 5e-324, -1e-7, 123456789.125, 1e16, 9.99e15] {
            let wire = enc(&Frame::Double(d));
            assert!(wire.len() <= 3 + 32, "{}", String::from_utf8_lossy(&wire));
            let text = std::str::from_utf8(&wire[1..wire.len() - 2]).unwrap();
            assert_eq!(text.parse::<f64>().unwrap().to_bits(), d.to_bits(), "{text}");
        }
    }
}
