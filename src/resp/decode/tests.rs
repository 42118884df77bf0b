//! Unit tests of the decoder: spec vectors for every type, the exact error
//! for malformed input, every limit and budget, and chunk invariance (the
//! same bytes whole or byte by byte give the same frames and first error).

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
        // A bare LF is never content nor a terminator, in any line.
        (b"+O\nK\r\n", MissingCrlf),
        (b"+OK\n", MissingCrlf),
        (b"+\n\r\n", MissingCrlf),
        (b"-ERR a\nb\r\n", MissingCrlf),
        (b"-ERR\n", MissingCrlf),
        (b"*1\r\n+a\nb\r\n", MissingCrlf),
        (b"*1\r\n-a\rb\r\n", MissingCrlf),
        (b":1\n\r\n", MissingCrlf),
        (b"*1\r\n:1\n\r\n", MissingCrlf),
        (b"*1\r\n:1\n2\r\n", MissingCrlf),
        (b",1\n", MissingCrlf),
        (b"(1\n", MissingCrlf),
        (b"#t\n", MissingCrlf),
        // Lengths: leading zeros, but 20 digits at most.
        (b"$000000000000000000001\r\na\r\n", BadLength),
        (b"*000000000000000000000000000000000000", BadLength),
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
    let small = DecodeLimits {
        max_bulk_len: 4,
        max_line_len: 4,
        max_elements: 3,
        max_depth: 2,
        ..DecodeLimits::default()
    };
    assert_eq!(err_with(b"$5\r\nhello\r\n", small), TooLarge { len: 5, limit: 4 });
    assert_eq!(err_with(b"!5\r\nERR x\r\n", small), TooLarge { len: 5, limit: 4 });
    assert_eq!(err_with(b"=9\r\ntxt:hello\r\n", small), TooLarge { len: 9, limit: 4 });
    assert_eq!(err_with(b"$?\r\n;5\r\nhello\r\n;0\r\n", small), TooLarge { len: 5, limit: 4 });
    assert_eq!(err_with(b"$?\r\n;3\r\nhel\r\n;2\r\nlo\r\n;0\r\n", small), TooLarge { len: 5, limit: 4 });
    // Lines: 4 bytes of text pass, 5 do not, with or without a CR in sight.
    assert_eq!(fed(b"+abcd\r\n", 1, small), (vec![simple("abcd")], None));
    assert_eq!(err_with(b"+abcde\r\n", small), LineTooLong { limit: 4 });
    assert_eq!(err_with(b"-abcdefghijkl", small), LineTooLong { limit: 4 });
    assert_eq!(err_with(b":123456\r\n", small), LineTooLong { limit: 4 });
    assert_eq!(err_with(b"*1\r\n(123456\r\n", small), LineTooLong { limit: 4 });
    assert_eq!(err_with(b"*1\r\n:123456\r\n", small), LineTooLong { limit: 4 });
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
    assert_eq!(err_with(b"*18446744073709551615\r\n", small), TooManyElements { count: u64::MAX, limit: 3 });
    assert_eq!(err_with(b"%18446744073709551615\r\n", small), TooManyElements { count: u64::MAX, limit: 3 });
    assert_eq!(fed(b"*3\r\n:1\r\n:2\r\n:3\r\n", 1, small).1, None);
    // Without an element limit, huge counts just wait for their elements.
    let unlimited =
        DecodeLimits { max_elements: u64::MAX, max_reply_elements: u64::MAX, ..DecodeLimits::default() };
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
    let limits = DecodeLimits {
        max_bulk_len: 2 * 1024 * 1024 * 1024,
        max_reply_bytes: 4 * 1024 * 1024 * 1024,
        ..DecodeLimits::default()
    };
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
    let long = DecodeLimits { max_line_len: 200_000, ..DecodeLimits::default() };
    let (frames, error) = fed(&wire, 16, long);
    assert_eq!(error, None);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].as_bytes().map(Bytes::len), Some(200_000));
    // A CR split from its LF across reads.
    assert_eq!(fed(b"+ab\r\n:1\r\n", 4, DecodeLimits::default()).0, vec![simple("ab"), Frame::Integer(1)]);
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

/// Asserts `wire` gives the same frames and first error whole, byte by byte,
/// and split once at every offset; returns that outcome.
fn same_at_every_split(wire: &[u8], limits: DecodeLimits) -> (Vec<Frame>, Option<ProtocolError>) {
    let whole = fed(wire, wire.len().max(1), limits);
    let name = String::from_utf8_lossy(wire);
    assert_eq!(fed(wire, 1, limits), whole, "{name:?} byte by byte");
    for cut in 1..wire.len() {
        let mut dec = Decoder::with_limits(limits);
        let mut buf = BytesMut::new();
        let mut got = (Vec::new(), None);
        'pieces: for piece in [&wire[..cut], &wire[cut..]] {
            buf.extend_from_slice(piece);
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(f)) => got.0.push(f),
                    Ok(None) => break,
                    Err(e) => {
                        got.1 = Some(e);
                        break 'pieces;
                    }
                }
            }
        }
        assert_eq!(got, whole, "{name:?} cut at {cut}");
    }
    whole
}

#[test]
fn every_kind_of_line_is_bounded_by_max_line_len() {
    use ProtocolError::*;
    let small = DecodeLimits { max_line_len: 4, ..DecodeLimits::default() };
    for ty in [b'+', b'-', b':', b',', b'(', b'#'] {
        // Five bytes without a CR are enough to refuse the line, CR or not.
        for tail in [&b"12345"[..], b"12345\r\n", b"123456789"] {
            let mut wire = vec![ty];
            wire.extend_from_slice(tail);
            assert_eq!(same_at_every_split(&wire, small).1, Some(LineTooLong { limit: 4 }), "{wire:?}");
            let mut nested = b"*2\r\n:1\r\n".to_vec();
            nested.extend_from_slice(&wire);
            assert_eq!(same_at_every_split(&nested, small).1, Some(LineTooLong { limit: 4 }), "{nested:?}");
        }
    }
    // Four bytes of text are fine; the limit does not apply to payloads.
    assert_eq!(same_at_every_split(b"+abcd\r\n:1234\r\n$6\r\nabcdef\r\n", small).1, None);
    // Length headers are bounded by their syntax, not by this limit.
    assert_eq!(same_at_every_split(b"$00000006\r\nabcdef\r\n", small).1, None);
    // With the default limit: 64 KiB of text pass, one more byte does not.
    let mut wire = vec![b'+'];
    wire.extend(std::iter::repeat_n(b'a', 64 * 1024));
    wire.extend_from_slice(b"\r\n");
    for step in [4096, 65_535, wire.len()] {
        let (frames, error) = fed(&wire, step, DecodeLimits::default());
        assert_eq!((frames.len(), error), (1, None), "step {step}");
    }
    wire.insert(1, b'a');
    for step in [4096, 65_535, wire.len()] {
        let error = fed(&wire, step, DecodeLimits::default()).1;
        assert_eq!(error, Some(LineTooLong { limit: 64 * 1024 }), "step {step}");
    }
}

#[test]
fn an_endless_line_is_cut_off_at_the_limit_holding_little() {
    // 1 MiB of `+aaa...` with no CRLF, in 1000-byte reads, at the top level
    // and inside an aggregate.
    for prefix in [&b""[..], b"*3\r\n:1\r\n$1\r\nx\r\n"] {
        let mut dec = Decoder::new();
        let mut buf = BytesMut::from(prefix);
        buf.extend_from_slice(b"+");
        let chunk = [b'a'; 1000];
        let mut error = None;
        for _ in 0..1024 {
            buf.extend_from_slice(&chunk);
            match dec.decode(&mut buf) {
                Ok(None) => {}
                Ok(Some(f)) => panic!("decoded {f:?}"),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
            // While waiting, the decoder holds the tokens of the elements
            // before the line and nothing that grows with it.
            assert!(dec.tokens.capacity() <= 4, "tokens grew to {}", dec.tokens.capacity());
            assert!(dec.open.capacity() <= 4 && dec.partials.capacity() == 0);
        }
        assert_eq!(error, Some(ProtocolError::LineTooLong { limit: 64 * 1024 }));
        // The error came as soon as 64 KiB + 1 bytes of text were in, not later.
        let text = buf.len() - prefix.len() - 1;
        assert!((64 * 1024 + 1..64 * 1024 + 1 + 1000).contains(&text), "error after {text} bytes of text");
        assert!(dec.tokens.capacity() <= 4);
    }
}

#[test]
fn reply_element_budget_stops_endless_elements() {
    use ProtocolError::*;
    let budget = DecodeLimits { max_reply_elements: 1000, ..DecodeLimits::default() };
    // A huge declared count is refused at its header: it cannot fit.
    let mut wire = b"*2147483647\r\n".to_vec();
    wire.extend_from_slice(&b"_\r\n".repeat(5000));
    assert_eq!(fed(&wire, 4096, budget), (vec![], Some(ReplyTooManyElements { limit: 1000 })));
    let mut buf = BytesMut::from(&b"*2147483647\r\n"[..]);
    assert_eq!(Decoder::with_limits(budget).decode(&mut buf), Err(ReplyTooManyElements { limit: 1000 }));
    // A streamed aggregate is counted as its elements come: the header and
    // 999 nulls fit, the 1000th null does not.
    let mut ok = b"*?\r\n".to_vec();
    ok.extend_from_slice(&b"_\r\n".repeat(999));
    ok.extend_from_slice(b".\r\n");
    let (frames, error) = fed(&ok, 64, budget);
    assert_eq!((frames.len(), error), (1, None));
    let mut endless = b"*?\r\n".to_vec();
    endless.extend_from_slice(&b"_\r\n".repeat(5000));
    for step in [1, 3, 64, endless.len()] {
        let mut dec = Decoder::with_limits(budget);
        let mut buf = BytesMut::new();
        let mut error = None;
        for piece in endless.chunks(step) {
            buf.extend_from_slice(piece);
            match dec.decode(&mut buf) {
                Ok(None) => assert!(dec.tokens.len() <= 1000),
                other => {
                    error = Some(other);
                    break;
                }
            }
        }
        assert_eq!(error, Some(Err(ReplyTooManyElements { limit: 1000 })), "step {step}");
        // Stopped at the 1000th null, within one read.
        assert!(buf.len() <= 4 + 3 * 1000 + step, "read {} bytes at step {step}", buf.len());
    }
    // Nested small aggregates: also stopped, at a declared count that cannot fit.
    let mut nested = b"*?\r\n".to_vec();
    nested.extend_from_slice(&b"*2\r\n_\r\n_\r\n".repeat(1000));
    assert_eq!(fed(&nested, 100, budget).1, Some(ReplyTooManyElements { limit: 1000 }));
}

#[test]
fn reply_element_budget_counts_every_value() {
    use ProtocolError::*;
    let limit = |n| DecodeLimits { max_reply_elements: n, ..DecodeLimits::default() };
    let cases: Vec<(&[u8], u64)> = vec![
        (b"+OK\r\n", 1),
        (b"$3\r\nabc\r\n", 1),
        (b"*0\r\n", 1),
        (b"*3\r\n:1\r\n:2\r\n:3\r\n", 4),
        (b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 4),
        (b"*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n:3\r\n:4\r\n", 7),
        (b"%1\r\n+k\r\n+v\r\n", 3),
        (b"|1\r\n+a\r\n:1\r\n+OK\r\n", 4),
        (b"$?\r\n;1\r\na\r\n;1\r\nb\r\n;0\r\n", 3),
        (b"*?\r\n:1\r\n*?\r\n.\r\n.\r\n", 3),
        (b"*2\r\n$?\r\n;1\r\na\r\n;0\r\n:1\r\n", 4),
    ];
    for (wire, values) in cases {
        let name = String::from_utf8_lossy(wire);
        let (frames, error) = same_at_every_split(wire, limit(values));
        assert_eq!((frames.len(), error), (1, None), "{name:?} within {values}");
        let below = values - 1;
        let error = same_at_every_split(wire, limit(below)).1;
        assert_eq!(error, Some(ReplyTooManyElements { limit: below }), "{name:?} within {below}");
    }
}

#[test]
fn reply_byte_budget_is_checked_before_waiting() {
    use ProtocolError::*;
    let limit = |n| DecodeLimits { max_reply_bytes: n, ..DecodeLimits::default() };
    let cases: Vec<&[u8]> = vec![
        b"+hello\r\n",
        b":12\r\n",
        b"_\r\n",
        b"$5\r\nhello\r\n",
        b"=8\r\ntxt:abcd\r\n",
        b"*2\r\n:1\r\n:2\r\n",
        b"*1\r\n$3\r\nabc\r\n",
        b"*1\r\n+abc\r\n",
        b"*1\r\n_\r\n",
        b"*?\r\n:1\r\n.\r\n",
        b"$?\r\n;2\r\nab\r\n;0\r\n",
        b"*1\r\n*0\r\n",
    ];
    for wire in cases {
        let name = String::from_utf8_lossy(wire);
        let len = wire.len() as u64;
        let (frames, error) = same_at_every_split(wire, limit(len));
        assert_eq!((frames.len(), error), (1, None), "{name:?} within {len}");
        for below in [len - 1, len / 2, 0] {
            let error = same_at_every_split(wire, limit(below)).1;
            assert_eq!(error, Some(ReplyTooLarge { limit: below }), "{name:?} within {below}");
        }
    }
    // A declared bulk that cannot fit is refused at its header, before its
    // bytes arrive; so is one inside an aggregate.
    for wire in [&b"$100\r\n"[..], b"*2\r\n:1\r\n$100\r\n"] {
        let mut buf = BytesMut::from(wire);
        assert_eq!(Decoder::with_limits(limit(64)).decode(&mut buf), Err(ReplyTooLarge { limit: 64 }));
    }
    // The default budget refuses a bulk that alone passes a raised bulk limit.
    let raised = DecodeLimits { max_bulk_len: 2 << 30, ..DecodeLimits::default() };
    let mut buf = BytesMut::from(&b"$1073741824\r\n"[..]);
    assert_eq!(Decoder::with_limits(raised).decode(&mut buf), Err(ReplyTooLarge { limit: 1 << 30 }));
    // Endless small elements under a huge declared count stop at the budget.
    let unlimited =
        DecodeLimits { max_reply_elements: u64::MAX, max_reply_bytes: 4096, ..DecodeLimits::default() };
    let mut wire = b"*2147483647\r\n".to_vec();
    wire.extend_from_slice(&b"_\r\n".repeat(5000));
    for step in [1, 100, wire.len()] {
        assert_eq!(fed(&wire, step, unlimited), (vec![], Some(ReplyTooLarge { limit: 4096 })), "step {step}");
    }
}

#[test]
fn declared_counts_reserve_nothing() {
    let unlimited =
        DecodeLimits { max_elements: u64::MAX, max_reply_elements: u64::MAX, ..DecodeLimits::default() };
    let mut dec = Decoder::with_limits(unlimited);
    let mut buf = BytesMut::from(&b"*2147483647\r\n%4611686018427387903\r\n~1000000000\r\n:1\r\n"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(dec.tokens.capacity() <= 8, "tokens reserved {}", dec.tokens.capacity());
    assert!(dec.open.capacity() <= 8 && dec.partials.capacity() == 0);
}

#[test]
fn budgets_split_alike_with_other_errors() {
    // Where a budget and a malformed item meet, the outcome is the same
    // however the bytes are split.
    let tight = DecodeLimits {
        max_line_len: 6,
        max_reply_bytes: 24,
        max_reply_elements: 5,
        ..DecodeLimits::default()
    };
    let wires: Vec<&[u8]> = vec![
        b"*3\r\n+abcdef\r\n+abcdefg\r\n:1\r\n",
        b"*2\r\n+abcde\rX+abcdef\r\n",
        b"*2\r\n$5\r\nhelloXY:1\r\n",
        b"*2\r\n:123\r\n:1234567\r\n",
        b"*?\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n.\r\n",
        b"*?\r\n:1\r\n:2\r\n+a\nb\r\n",
        b"$?\r\n;3\r\nabc\r\n;3\r\ndef\r\n;0\r\n",
        b"*1\r\n+abcdefghijklmnopqrstuvwxyz",
        b"+abcdef\r\n+abc\r\n",
    ];
    for wire in wires {
        same_at_every_split(wire, tight);
    }
}
