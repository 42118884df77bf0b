//! Printing replies exactly as `redis-cli --no-raw` prints them.
//!
//! Status lines plain, `(error) ...`, `(integer) N`, bulk strings quoted and
//! escaped, `(nil)`, `(empty array)`, numbered nested aggregates with
//! redis-cli's indentation (`)` arrays and pushes, `~` sets, `#` maps with
//! `key => value`, a value that takes several lines starting on the next
//! one), `(double) ...` with the text the server sent, `(true)`/`(false)`,
//! `(big number) ...`, verbatim strings raw. Attributes are not printed. The
//! few commands redis-cli prints raw whatever the mode (INFO, CLIENT LIST
//! ...) go through [`format_raw`] instead.
//!
//! Doubles come as [`Frame::DoubleText`] (the CLI's connections keep the
//! server's text); a [`Frame::Double`] is printed as Valkey would write it.

use redwire::Frame;

/// The reply as redis-cli would print it, ending with a newline.
pub fn format_reply(frame: &Frame) -> String {
    let mut out = String::new();
    write_reply(&mut out, frame, "");
    out
}

fn write_reply(out: &mut String, frame: &Frame, prefix: &str) {
    match frame {
        Frame::Attributed { frame, .. } => write_reply(out, frame, prefix),
        Frame::SimpleString(s) => {
            out.push_str(&String::from_utf8_lossy(s));
            out.push('\n');
        }
        Frame::SimpleError(e) | Frame::BlobError(e) => {
            out.push_str("(error) ");
            out.push_str(&String::from_utf8_lossy(e.line()));
            out.push('\n');
        }
        Frame::Integer(i) => {
            out.push_str("(integer) ");
            out.push_str(&i.to_string());
            out.push('\n');
        }
        Frame::Double(d) => {
            out.push_str("(double) ");
            out.push_str(&format_double(*d));
            out.push('\n');
        }
        Frame::DoubleText(text) => {
            out.push_str("(double) ");
            out.push_str(&String::from_utf8_lossy(text));
            out.push('\n');
        }
        Frame::BulkString(b) => {
            quote(out, b);
            out.push('\n');
        }
        Frame::VerbatimString { data, .. } => {
            out.push_str(&String::from_utf8_lossy(data));
            out.push('\n');
        }
        Frame::BigNumber(n) => {
            out.push_str("(big number) ");
            out.push_str(&String::from_utf8_lossy(n));
            out.push('\n');
        }
        Frame::Boolean(b) => out.push_str(if *b { "(true)\n" } else { "(false)\n" }),
        Frame::Null | Frame::NullBulk | Frame::NullArray => out.push_str("(nil)\n"),
        Frame::Array(items) => write_list(out, items, prefix, ')', "(empty array)\n"),
        Frame::Push(items) => write_list(out, items, prefix, ')', "(empty push)\n"),
        Frame::Set(items) => write_list(out, items, prefix, '~', "(empty set)\n"),
        Frame::Map(pairs) => {
            if pairs.is_empty() {
                out.push_str("(empty hash)\n");
                return;
            }
            let width = digits(pairs.len());
            let child_prefix = format!("{prefix}{}", " ".repeat(width + 2));
            for (i, (k, v)) in pairs.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { prefix });
                out.push_str(&format!("{:>width$}# ", i + 1));
                write_reply(out, k, &child_prefix);
                out.pop();
                out.push_str(" => ");
                if takes_lines(v) {
                    // redis-cli starts a value of several lines on the next
                    // line, aligned under the key.
                    out.push('\n');
                    out.push_str(&child_prefix);
                }
                write_reply(out, v, &child_prefix);
            }
        }
    }
}

/// True for the commands whose reply redis-cli prints raw even without
/// `--raw`: text meant to be read as is (INFO, CLIENT LIST, LATENCY DOCTOR ...).
/// `args` is the command line, name first.
pub fn prints_raw(args: &[&[u8]]) -> bool {
    let is = |i: usize, word: &str| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()));
    let argc = args.len();
    is(0, "INFO")
        || is(0, "LOLWUT")
        || (is(0, "DEBUG") && (is(1, "HTSTATS") || is(1, "HTSTATS-KEY")))
        || (is(0, "MEMORY") && (is(1, "MALLOC-STATS") || is(1, "DOCTOR")))
        || (argc == 2 && is(0, "CLUSTER") && (is(1, "NODES") || is(1, "INFO")))
        || (is(0, "CLIENT") && (is(1, "LIST") || is(1, "INFO")))
        || (argc == 3 && is(0, "LATENCY") && is(1, "GRAPH"))
        || (argc == 2 && is(0, "LATENCY") && is(1, "DOCTOR"))
        || (is(0, "PROXY") && is(1, "INFO"))
}

/// The reply as redis-cli prints it raw: strings as they are with no quotes
/// and no newline added, errors without `(error)` but with a newline, nothing
/// for nil, aggregates one element per line.
pub fn format_raw(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    write_raw(&mut out, frame);
    out
}

fn write_raw(out: &mut Vec<u8>, frame: &Frame) {
    match frame {
        Frame::Attributed { frame, .. } => write_raw(out, frame),
        Frame::SimpleString(s) | Frame::BulkString(s) | Frame::BigNumber(s) => out.extend_from_slice(s),
        Frame::VerbatimString { data, .. } => out.extend_from_slice(data),
        Frame::SimpleError(e) | Frame::BlobError(e) => {
            out.extend_from_slice(e.line());
            out.push(b'\n');
        }
        Frame::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Frame::Double(d) => out.extend_from_slice(format_double(*d).as_bytes()),
        Frame::DoubleText(text) => out.extend_from_slice(text),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Frame::Null | Frame::NullBulk | Frame::NullArray => {}
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                write_raw(out, item);
            }
        }
        Frame::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                write_raw(out, k);
                out.push(b' ');
                write_raw(out, v);
            }
        }
    }
}

/// True when redis-cli prints `frame` as an aggregate over several lines: more
/// than one entry, or one entry (a map's: its value) that itself takes
/// several. A string with newlines in it does not count.
fn takes_lines(frame: &Frame) -> bool {
    match frame {
        Frame::Attributed { frame, .. } => takes_lines(frame),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => match items.as_slice() {
            [] => false,
            [one] => takes_lines(one),
            _ => true,
        },
        Frame::Map(pairs) => match pairs.as_slice() {
            [] => false,
            [(_, value)] => takes_lines(value),
            _ => true,
        },
        _ => false,
    }
}

fn write_list(out: &mut String, items: &[Frame], prefix: &str, sep: char, empty: &str) {
    if items.is_empty() {
        out.push_str(empty);
        return;
    }
    let width = digits(items.len());
    let child_prefix = format!("{prefix}{}", " ".repeat(width + 2));
    for (i, item) in items.iter().enumerate() {
        out.push_str(if i == 0 { "" } else { prefix });
        out.push_str(&format!("{:>width$}{sep} ", i + 1));
        write_reply(out, item, &child_prefix);
    }
}

fn digits(mut n: usize) -> usize {
    let mut d = 0;
    loop {
        d += 1;
        n /= 10;
        if n == 0 {
            return d;
        }
    }
}

/// A double as Valkey writes it in a RESP3 `,` reply, for a frame that kept
/// only the number (the CLI's own connections keep the text): integral values up to
/// 2^62 as integers; otherwise the shortest digits that read back exactly,
/// in plain notation for moderate exponents and as `1.5e+20` / `2.5e-10`
/// beyond. Older servers (Redis 7.0 uses `%.17g`) may write more digits.
fn format_double(d: f64) -> String {
    const TWO_POW_62: f64 = 4_611_686_018_427_387_904.0;
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.fract() == 0.0 && d.abs() <= TWO_POW_62 {
        return (d as i64).to_string();
    }
    // Shortest round-trip digits and the decimal exponent, e.g. "1.2345e-6".
    let sci = format!("{:e}", d.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let ndigits = digits.len() as i32;
    // The value is digits * 10^k.
    let k = exp - (ndigits - 1);
    let mut out = String::with_capacity(32);
    if d < 0.0 {
        out.push('-');
    }
    if k >= 0 && exp < ndigits + 7 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
    } else if k < 0 && (k > -7 || exp.abs() < 4) {
        let int_len = ndigits + k;
        if int_len <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-int_len) as usize));
            out.push_str(&digits);
        } else {
            let (int_part, frac) = digits.split_at(int_len as usize);
            out.push_str(int_part);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&exp.abs().to_string());
    }
    out
}

/// redis-cli's `sdscatrepr`: quoted, with C-style escapes for the rest.
fn quote(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use redwire::ServerError;

    fn bulk(s: &[u8]) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s))
    }

    #[test]
    fn scalars() {
        assert_eq!(format_reply(&Frame::SimpleString(Bytes::from_static(b"OK"))), "OK\n");
        assert_eq!(format_reply(&Frame::Integer(-3)), "(integer) -3\n");
        assert_eq!(format_reply(&bulk(b"a\"b\\\n\x01\xff")), "\"a\\\"b\\\\\\n\\x01\\xff\"\n");
        assert_eq!(format_reply(&Frame::NullBulk), "(nil)\n");
        assert_eq!(format_reply(&Frame::Boolean(true)), "(true)\n");
        assert_eq!(format_reply(&Frame::Double(1.5)), "(double) 1.5\n");
        assert_eq!(format_reply(&Frame::Double(f64::NEG_INFINITY)), "(double) -inf\n");
        assert_eq!(format_reply(&Frame::DoubleText(Bytes::from_static(b"1e300"))), "(double) 1e300\n");
        assert_eq!(format_raw(&Frame::DoubleText(Bytes::from_static(b"-0.0"))), b"-0.0");
        let e = ServerError::from_line("ERR unknown command 'FOO'").unwrap();
        assert_eq!(format_reply(&Frame::SimpleError(e)), "(error) ERR unknown command 'FOO'\n");
        assert_eq!(format_reply(&Frame::BigNumber(Bytes::from_static(b"123"))), "(big number) 123\n");
        assert_eq!(
            format_reply(&Frame::VerbatimString { format: *b"txt", data: Bytes::from_static(b"raw\ntext") }),
            "raw\ntext\n"
        );
        assert_eq!(format_reply(&Frame::Array(vec![])), "(empty array)\n");
    }

    #[test]
    fn raw_commands_and_their_format() {
        let raw = |line: &str| prints_raw(&line.split(' ').map(str::as_bytes).collect::<Vec<_>>());
        for line in ["INFO", "info server", "Client List", "CLIENT INFO", "LATENCY DOCTOR", "CLUSTER NODES"] {
            assert!(raw(line), "{line}");
        }
        for line in ["GET k", "CLUSTER INFO x", "LATENCY DOCTOR x", "DEBUG LISTPACK k", "MEMORY STATS"] {
            assert!(!raw(line), "{line}");
        }
        assert_eq!(format_raw(&bulk(b"# Server\r\nx:1\r\n")), b"# Server\r\nx:1\r\n");
        assert_eq!(format_raw(&Frame::NullBulk), b"");
        let e = ServerError::from_line("ERR nope").unwrap();
        assert_eq!(format_raw(&Frame::SimpleError(e)), b"ERR nope\n");
        assert_eq!(format_raw(&Frame::Array(vec![bulk(b"a"), Frame::Integer(2)])), b"a\n2");
    }

    #[test]
    fn doubles_as_valkey_writes_them() {
        // (value, what `redis-cli -3 ZSCORE` printed against Valkey 9 after `ZADD z <value> m`)
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (0.1, "0.1"),
            (3.0, "3"),
            (-0.0, "0"),
            (1e-5, "0.00001"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-6, "1.5e-6"),
            (0.000123, "0.000123"),
            (1.25e-5, "1.25e-5"),
            (1234.5e-9, "1.2345e-6"),
            (2.5e-10, "2.5e-10"),
            (-2.5e-10, "-2.5e-10"),
            (5e-324, "5e-324"),
            (123456789.123, "123456789.123"),
            (1e16, "10000000000000000"),
            (1e18, "1000000000000000000"),
            (4.6e18, "4600000000000000000"),
            (4_611_686_018_427_387_904.0, "4611686018427387904"),
            (-4_611_686_018_427_387_904.0, "-4611686018427387904"),
            (4.7e18, "4.7e+18"),
            (-5e18, "-5e+18"),
            (1e19, "1e+19"),
            (1e20, "1e+20"),
            (1.5e20, "1.5e+20"),
            (-1e20, "-1e+20"),
            (1.234_567_890_123_456_8e22, "12345678901234568000000"),
            (1.234_567_890_123_456_9e23, "123456789012345690000000"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740993.0, "9007199254740992"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_double(*value), *expected, "for {value:e}");
        }
    }

    #[test]
    fn nested_like_redis_cli() {
        let f = Frame::Array(vec![
            bulk(b"a"),
            Frame::Array(vec![Frame::Integer(1), Frame::Array(vec![bulk(b"x"), bulk(b"y")])]),
            Frame::NullBulk,
        ]);
        assert_eq!(
            format_reply(&f),
            "1) \"a\"\n2) 1) (integer) 1\n   2) 1) \"x\"\n      2) \"y\"\n3) (nil)\n"
        );
        let items: Vec<Frame> = (0..10).map(Frame::Integer).collect();
        let text = format_reply(&Frame::Array(items));
        assert!(text.starts_with(" 1) (integer) 0\n 2) (integer) 1\n"), "{text}");
        assert!(text.ends_with("10) (integer) 9\n"), "{text}");
        let m = Frame::Map(vec![
            (bulk(b"server"), bulk(b"valkey")),
            (bulk(b"modules"), Frame::Array(vec![])),
            (bulk(b"nested"), Frame::Map(vec![(bulk(b"k"), Frame::Integer(1))])),
        ]);
        assert_eq!(
            format_reply(&m),
            "1# \"server\" => \"valkey\"\n2# \"modules\" => (empty array)\n3# \"nested\" => 1# \"k\" => (integer) 1\n"
        );
        // A value of several lines starts on the next one, under the key.
        let m = Frame::Map(vec![
            (bulk(b"one"), Frame::Array(vec![Frame::Array(vec![bulk(b"x")])])),
            (bulk(b"two"), Frame::Set(vec![bulk(b"x"), bulk(b"y")])),
        ]);
        assert_eq!(format_reply(&m), "1# \"one\" => 1) 1) \"x\"\n2# \"two\" => \n   1~ \"x\"\n   2~ \"y\"\n");
        let s = Frame::Set(vec![bulk(b"a"), bulk(b"b")]);
        assert_eq!(format_reply(&s), "1~ \"a\"\n2~ \"b\"\n");
    }
}
