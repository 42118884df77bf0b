//! Property tests of the RESP codec: encode/decode round trips of arbitrary
//! frames, chunk invariance (the same bytes whole, byte by byte or split at
//! random points give the same frames and the same first error, under the
//! default limits and under tight ones), and the reply budgets' exactness.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use redwire::resp::{encode_frame, DecodeLimits, Decoder};
use redwire::{Frame, ProtocolError, ServerError};

/// Frame equality that compares doubles by bits, with every NaN equal to
/// every other (the wire has one `nan`).
fn same(a: &Frame, b: &Frame) -> bool {
    fn all(a: &[Frame], b: &[Frame]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
    }
    fn pairs(a: &[(Frame, Frame)], b: &[(Frame, Frame)]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
    }
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Frame::Array(x), Frame::Array(y))
        | (Frame::Set(x), Frame::Set(y))
        | (Frame::Push(x), Frame::Push(y)) => all(x, y),
        (Frame::Map(x), Frame::Map(y)) => pairs(x, y),
        (
            Frame::Attributed { attributes: a1, frame: f1 },
            Frame::Attributed { attributes: a2, frame: f2 },
        ) => pairs(a1, a2) && same(f1, f2),
        _ => a == b,
    }
}

fn same_all(a: &[Frame], b: &[Frame]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

/// Text for simple lines: any bytes but CR and LF.
fn line_text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'), 0..24)
}

fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from),
        1 => Just(Bytes::from_static(b"\r\n$3\r\n*1\r\n")),
    ]
}

fn server_error(text: Vec<u8>) -> impl Strategy<Value = ServerError> {
    prop_oneof![
        Just("ERR"),
        Just("WRONGTYPE"),
        Just("MOVED 3999 127.0.0.1:6381"),
        Just("ASK 0 [::1]:7000"),
        Just("NOSCRIPT"),
        Just("X"),
    ]
    .prop_map(move |code| {
        let mut line = code.as_bytes().to_vec();
        if !code.contains(' ') && !text.is_empty() {
            line.push(b' ');
            line.extend_from_slice(&text);
        }
        ServerError::parse(Bytes::from(line)).expect("generated error lines are valid")
    })
}

fn leaf() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_text().prop_map(|t| Frame::SimpleString(Bytes::from(t))),
        line_text().prop_flat_map(server_error).prop_map(Frame::SimpleError),
        any::<i64>().prop_map(Frame::Integer),
        payload().prop_map(Frame::BulkString),
        Just(Frame::NullBulk),
        Just(Frame::NullArray),
        Just(Frame::Null),
        any::<bool>().prop_map(Frame::Boolean),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            -1e6..1e6f64
        ]
        .prop_map(Frame::Double),
        ("[+-]?[0-9]{1,40}").prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        line_text().prop_flat_map(server_error).prop_map(Frame::BlobError),
        (any::<[u8; 3]>(), payload()).prop_map(|(format, data)| Frame::VerbatimString { format, data }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        let items = prop::collection::vec(inner.clone(), 0..6);
        let pairs = prop::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            items.clone().prop_map(Frame::Array),
            items.clone().prop_map(Frame::Set),
            items.prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner)
                .prop_map(|(attributes, frame)| Frame::Attributed { attributes, frame: Box::new(frame) }),
        ]
    })
}

fn encode_all(frames: &[Frame]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for f in frames {
        encode_frame(f, &mut out);
    }
    out.to_vec()
}

/// Frames and the first error from `wire` delivered in pieces ending at `cuts`.
fn decode_split(wire: &[u8], cuts: &[usize]) -> (Vec<Frame>, Option<ProtocolError>) {
    decode_split_with(wire, cuts, DecodeLimits { max_depth: 32, ..DecodeLimits::default() })
}

/// [`decode_split`] under the given limits.
fn decode_split_with(
    wire: &[u8],
    cuts: &[usize],
    limits: DecodeLimits,
) -> (Vec<Frame>, Option<ProtocolError>) {
    let mut dec = Decoder::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut from = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|&c| c.min(wire.len())).collect();
    ends.push(wire.len());
    ends.sort_unstable();
    for end in ends {
        buf.extend_from_slice(&wire[from..end]);
        from = end;
        loop {
            let before = buf.clone();
            match dec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
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

/// How many values a frame counts against `max_reply_elements`: itself and,
/// for aggregates and attributes, every value inside.
fn values(f: &Frame) -> u64 {
    let pairs = |p: &[(Frame, Frame)]| p.iter().map(|(k, v)| values(k) + values(v)).sum::<u64>();
    1 + match f {
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => items.iter().map(values).sum(),
        Frame::Map(p) => pairs(p),
        Frame::Attributed { attributes, frame } => pairs(attributes) + values(frame),
        _ => 0,
    }
}

/// Small limits, so that short inputs reach every one of them.
fn tight_limits() -> impl Strategy<Value = DecodeLimits> {
    (1u64..48, 0u64..24, 1u64..8, 1usize..6, 0u64..160, 0u64..24).prop_map(
        |(max_bulk_len, max_line_len, max_elements, max_depth, max_reply_bytes, max_reply_elements)| {
            DecodeLimits {
                max_bulk_len,
                max_line_len,
                max_elements,
                max_depth,
                max_reply_bytes,
                max_reply_elements,
            }
        },
    )
}

/// Bytes that are often, but not always, broken RESP.
fn tail() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..16),
        prop::collection::vec(
            prop::sample::select(vec![
                &b"*"[..],
                b"$",
                b"%",
                b"?",
                b";",
                b".",
                b"|",
                b"-1",
                b"1",
                b"3",
                b"\r\n",
                b"\r",
                b"x",
                b"+OK\r\n",
                b"_\r\n",
            ]),
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_round_trips(f in frame()) {
        let wire = encode_all(std::slice::from_ref(&f));
        let (frames, error) = decode_split(&wire, &[]);
        prop_assert_eq!(error, None);
        prop_assert_eq!(frames.len(), 1);
        prop_assert!(same(&frames[0], &f), "{:?} != {:?}", frames[0], f);
        // Re-encoding the decoded frame gives the same bytes.
        prop_assert_eq!(encode_all(&frames), wire);
    }

    #[test]
    fn any_split_gives_the_same_frames_and_first_error(
        frames in prop::collection::vec(frame(), 0..4),
        tail in tail(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut wire = encode_all(&frames);
        wire.extend_from_slice(&tail);
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        let whole = decode_split(&wire, &[]);
        let bytewise = decode_split(&wire, &(0..wire.len()).collect::<Vec<_>>());
        let random = decode_split(&wire, &cuts);
        prop_assert!(whole.0.len() >= frames.len());
        prop_assert!(same_all(&whole.0[..frames.len()], &frames));
        prop_assert!(same_all(&whole.0, &bytewise.0) && whole.1 == bytewise.1, "{:?} vs {:?}", whole, bytewise);
        prop_assert!(same_all(&whole.0, &random.0) && whole.1 == random.1, "{:?} vs {:?}", whole, random);
    }

    #[test]
    fn tight_limits_split_alike(
        frames in prop::collection::vec(frame(), 0..4),
        tail in tail(),
        limits in tight_limits(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut wire = encode_all(&frames);
        wire.extend_from_slice(&tail);
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        let whole = decode_split_with(&wire, &[], limits);
        let bytewise = decode_split_with(&wire, &(0..wire.len()).collect::<Vec<_>>(), limits);
        let random = decode_split_with(&wire, &cuts, limits);
        let n = whole.0.len().min(frames.len());
        prop_assert!(same_all(&whole.0[..n], &frames[..n]));
        prop_assert!(same_all(&whole.0, &bytewise.0) && whole.1 == bytewise.1, "{:?} vs {:?}", whole, bytewise);
        prop_assert!(same_all(&whole.0, &random.0) && whole.1 == random.1, "{:?} vs {:?}", whole, random);
    }

    #[test]
    fn reply_budgets_are_exact(f in frame()) {
        let wire = encode_all(std::slice::from_ref(&f));
        let base = DecodeLimits { max_depth: 32, ..DecodeLimits::default() };
        let len = wire.len() as u64;
        let n = values(&f);
        let fits = DecodeLimits { max_reply_bytes: len, max_reply_elements: n, ..base };
        let (frames, error) = decode_split_with(&wire, &[], fits);
        prop_assert_eq!((frames.len(), error), (1, None));
        let bytes = DecodeLimits { max_reply_bytes: len - 1, ..base };
        let error = decode_split_with(&wire, &[], bytes).1;
        prop_assert_eq!(error, Some(ProtocolError::ReplyTooLarge { limit: len - 1 }));
        let elements = DecodeLimits { max_reply_elements: n - 1, ..base };
        let error = decode_split_with(&wire, &[], elements).1;
        prop_assert_eq!(error, Some(ProtocolError::ReplyTooManyElements { limit: n - 1 }));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_alike(
        wire in prop::collection::vec(any::<u8>(), 0..64),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        let whole = decode_split(&wire, &[]);
        let random = decode_split(&wire, &cuts);
        prop_assert!(same_all(&whole.0, &random.0) && whole.1 == random.1);
    }
}
