//! Parsers for the text inside one RESP line: lengths, integers, doubles,
//! booleans and big numbers.
//!
//! Each takes the bytes between the type byte and the CRLF (or, for lengths,
//! the buffer and an offset, because a header is parsed before its line is
//! known to be complete) and returns a value or the precise
//! [`ProtocolError`]. Finding lines, limits and framing live in `decode`.
//!
//! Pure: no IO.

use crate::error::ProtocolError;

/// Most digits in a length: `u64::MAX` has 20.
const MAX_DIGITS: usize = 20;

/// A declared length or element count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Len {
    /// `N`: a count of bytes or elements.
    Count(u64),
    /// `-1`: RESP2 null.
    Null,
    /// `?`: a streamed string or aggregate.
    Streamed,
}

/// Parses the header `<len>\r\n` that starts at `at` (just after the type byte).
///
/// Returns `Ok(None)` when the buffer ends before the header does, else the
/// length and the offset just past the CRLF. Lengths are plain decimal digits
/// (leading zeros allowed, 20 digits at most: the width of `u64::MAX`), `-1`
/// or `?`; a sign, an empty length, a 21st digit, any other byte or a value
/// past `u64::MAX` is [`ProtocolError::BadLength`]; a CR not followed by LF
/// is [`ProtocolError::MissingCrlf`]. At most 22 bytes are examined, so
/// re-parsing an incomplete header is cheap and a header can never grow
/// without bound.
#[inline]
pub(crate) fn header(buf: &[u8], at: usize) -> Result<Option<(Len, usize)>, ProtocolError> {
    let mut i = at;
    let len = match buf.get(i) {
        None => return Ok(None),
        Some(b'?') => {
            i += 1;
            Len::Streamed
        }
        Some(b'-') => {
            match buf.get(i + 1) {
                None => return Ok(None),
                Some(b'1') => {}
                Some(_) => return Err(ProtocolError::BadLength),
            }
            i += 2;
            Len::Null
        }
        Some(_) => {
            // Digits are read from a window one longer than the most allowed,
            // so a 21st digit is seen without a per-digit count.
            let window = buf.get(at..buf.len().min(at + MAX_DIGITS + 1)).unwrap_or_default();
            let mut n: u64 = 0;
            for &d in window {
                if !d.is_ascii_digit() {
                    break;
                }
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d - b'0')))
                    .ok_or(ProtocolError::BadLength)?;
                i += 1;
            }
            if i == at || i - at > MAX_DIGITS {
                return Err(ProtocolError::BadLength);
            }
            Len::Count(n)
        }
    };
    match buf.get(i) {
        None => return Ok(None),
        Some(b'\r') => {}
        Some(_) => return Err(ProtocolError::BadLength),
    }
    match buf.get(i + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((len, i + 2))),
        Some(_) => Err(ProtocolError::MissingCrlf),
    }
}

/// The common case of [`header`], for fast paths: 1 to 19 digits and CRLF,
/// all in `buf`. Returns the count and the offset past the CRLF, or `None`
/// for anything else (which [`header`] then handles, errors included).
#[inline]
pub(crate) fn short_count(buf: &[u8], at: usize) -> Option<(u64, usize)> {
    let text = buf.get(at..)?;
    let mut n: u64 = 0;
    let mut i = 0;
    // 19 digits stay below u64::MAX, so no step can overflow.
    while i < 19 {
        let d = text.get(i)?.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n * 10 + u64::from(d);
        i += 1;
    }
    if i == 0 || text.get(i..i + 2)? != b"\r\n" {
        return None;
    }
    Some((n, at + i + 2))
}

/// The commonest case of [`short_count`] at offset 1 (after the type byte):
/// one or two digits and CRLF, read as one fixed-size window. `None` for
/// anything else, including a buffer of fewer than 5 bytes.
#[inline]
pub(crate) fn tiny_count(buf: &[u8]) -> Option<(u64, usize)> {
    match *buf.get(1..5)? {
        [d, b'\r', b'\n', _] if d.is_ascii_digit() => Some((u64::from(d - b'0'), 4)),
        [t, d, b'\r', b'\n'] if t.is_ascii_digit() && d.is_ascii_digit() => {
            Some((u64::from(t - b'0') * 10 + u64::from(d - b'0'), 5))
        }
        _ => None,
    }
}

/// Parses the text of an integer reply: an optional `+` or `-`, then digits,
/// within `i64`.
#[inline]
pub(crate) fn integer(text: &[u8]) -> Result<i64, ProtocolError> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err(ProtocolError::BadInteger);
    }
    // Accumulate towards the sign so that i64::MIN parses.
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ProtocolError::BadInteger);
        }
        let d = i64::from(d - b'0');
        n = n.checked_mul(10).ok_or(ProtocolError::BadInteger)?;
        n = if negative { n.checked_sub(d) } else { n.checked_add(d) }.ok_or(ProtocolError::BadInteger)?;
    }
    Ok(n)
}

/// Parses the text of a double reply.
///
/// Accepted: `inf`, `+inf`, `-inf`, `nan`, and the RESP3 grammar
/// `[+|-]digits[.digits][(e|E)[+|-]digits]`. Rejected (as
/// [`ProtocolError::BadDouble`]): anything else, including `.5`, `1.`,
/// `infinity`, `NaN` and surrounding spaces, which Rust's own float parser
/// would take.
pub(crate) fn double(text: &[u8]) -> Result<f64, ProtocolError> {
    match text {
        b"inf" | b"+inf" => return Ok(f64::INFINITY),
        b"-inf" => return Ok(f64::NEG_INFINITY),
        b"nan" => return Ok(f64::NAN),
        _ => {}
    }
    let unsigned = match text {
        [b'-' | b'+', rest @ ..] => rest,
        _ => text,
    };
    let int_len = digits_len(unsigned);
    if int_len == 0 {
        return Err(ProtocolError::BadDouble);
    }
    let mut rest = unsigned.get(int_len..).unwrap_or_default();
    if let [b'.', frac @ ..] = rest {
        let n = digits_len(frac);
        if n == 0 {
            return Err(ProtocolError::BadDouble);
        }
        rest = frac.get(n..).unwrap_or_default();
    }
    if let [b'e' | b'E', exp @ ..] = rest {
        let exp = match exp {
            [b'-' | b'+', e @ ..] => e,
            _ => exp,
        };
        let n = digits_len(exp);
        if n == 0 {
            return Err(ProtocolError::BadDouble);
        }
        rest = exp.get(n..).unwrap_or_default();
    }
    if !rest.is_empty() {
        return Err(ProtocolError::BadDouble);
    }
    // Only ASCII passed the checks above, so this is valid UTF-8 and valid
    // input for the standard (correctly rounding) parser.
    std::str::from_utf8(text).ok().and_then(|s| s.parse().ok()).ok_or(ProtocolError::BadDouble)
}

fn digits_len(text: &[u8]) -> usize {
    text.iter().take_while(|d| d.is_ascii_digit()).count()
}

/// Parses the text of a boolean reply: exactly `t` or `f`.
#[inline]
pub(crate) fn boolean(text: &[u8]) -> Result<bool, ProtocolError> {
    match text {
        b"t" => Ok(true),
        b"f" => Ok(false),
        _ => Err(ProtocolError::BadBoolean),
    }
}

/// Checks the text of a big number: an optional sign, then one or more digits.
pub(crate) fn big_number(text: &[u8]) -> Result<(), ProtocolError> {
    let digits = match text {
        [b'-' | b'+', rest @ ..] => rest,
        _ => text,
    };
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        Ok(())
    } else {
        Err(ProtocolError::BadBigNumber)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(header(b"$3\r\n", 1), Ok(Some((Len::Count(3), 4))));
        assert_eq!(header(b"0\r\nxx", 0), Ok(Some((Len::Count(0), 3))));
        assert_eq!(header(b"007\r\n", 0), Ok(Some((Len::Count(7), 5))));
        assert_eq!(header(b"-1\r\n", 0), Ok(Some((Len::Null, 4))));
        assert_eq!(header(b"?\r\n", 0), Ok(Some((Len::Streamed, 3))));
        assert_eq!(header(b"18446744073709551615\r\n", 0), Ok(Some((Len::Count(u64::MAX), 22))));
        assert_eq!(header(b"00000000000000000007\r\n", 0), Ok(Some((Len::Count(7), 22))));
        assert_eq!(header(b"0000000000000000000", 0), Ok(None));
        for partial in [&b""[..], b"1", b"12", b"12\r", b"-", b"-1", b"-1\r", b"?", b"?\r"] {
            assert_eq!(header(partial, 0), Ok(None), "{partial:?}");
        }
        for bad in [
            &b"\r\n"[..],
            b"+3\r\n",
            b"-2\r\n",
            b"-0\r\n",
            b"-11\r\n",
            b"1a\r\n",
            b" 1\r\n",
            b"1 \r\n",
            b"??\r\n",
            b"18446744073709551616\r\n",
            b"99999999999999999999999",
            // Leading zeros do not overflow, but a 21st digit is refused.
            b"000000000000000000000",
            b"000000000000000000007\r\n",
        ] {
            assert_eq!(header(bad, 0), Err(ProtocolError::BadLength), "{bad:?}");
        }
        assert_eq!(header(b"3\rx", 0), Err(ProtocolError::MissingCrlf));
        assert_eq!(header(b"-1\rx", 0), Err(ProtocolError::MissingCrlf));
    }

    #[test]
    fn short_counts_agree_with_headers() {
        assert_eq!(short_count(b"$64\r\n", 1), Some((64, 5)));
        assert_eq!(short_count(b"0\r\n", 0), Some((0, 3)));
        assert_eq!(short_count(b"9999999999999999999\r\n", 0), Some((9_999_999_999_999_999_999, 21)));
        for other in [
            &b""[..],
            b"\r\n",
            b"12",
            b"12\r",
            b"12\rx",
            b"-1\r\n",
            b"?\r\n",
            b"1a\r\n",
            b"18446744073709551615\r\n",
            b"99999999999999999999999\r\n",
        ] {
            assert_eq!(short_count(other, 0), None, "{other:?}");
        }
    }

    #[test]
    fn tiny_counts_agree_with_short_counts() {
        for input in
            [&b"$0\r\n"[..], b"$7\r\nx", b"$64\r\n", b"$07\r\n", b"$99\r\n\r\n", b"$123\r\n", b"$1\r\n"]
        {
            if let Some(tiny) = tiny_count(input) {
                assert_eq!(Some(tiny), short_count(input, 1), "{input:?}");
            }
        }
        assert_eq!(tiny_count(b"$64\r\n"), Some((64, 5)));
        assert_eq!(tiny_count(b"$0\r\n\r\n"), Some((0, 4)));
        for other in [&b"$123\r\n"[..], b"$-1\r\n", b"$6\r", b"$6x\r\n", b"$?\r\n\r"] {
            assert_eq!(tiny_count(other), None, "{other:?}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(integer(b"0"), Ok(0));
        assert_eq!(integer(b"1000"), Ok(1000));
        assert_eq!(integer(b"-42"), Ok(-42));
        assert_eq!(integer(b"+42"), Ok(42));
        assert_eq!(integer(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(integer(b"-9223372036854775808"), Ok(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+",
            b"1.0",
            b"12a",
            b" 1",
            b"--1",
            b"9223372036854775808",
            b"-9223372036854775809",
        ] {
            assert_eq!(integer(bad), Err(ProtocolError::BadInteger), "{bad:?}");
        }
    }

    #[test]
    fn doubles() {
        assert_eq!(double(b"1.23"), Ok(1.23));
        assert_eq!(double(b"1"), Ok(1.0));
        assert_eq!(double(b"-1.5e10"), Ok(-1.5e10));
        assert_eq!(double(b"+2E-3"), Ok(2e-3));
        assert_eq!(double(b"1e+300"), Ok(1e300));
        assert_eq!(double(b"inf"), Ok(f64::INFINITY));
        assert_eq!(double(b"+inf"), Ok(f64::INFINITY));
        assert_eq!(double(b"-inf"), Ok(f64::NEG_INFINITY));
        assert!(double(b"nan").is_ok_and(f64::is_nan));
        assert_eq!(double(b"-0").map(f64::to_bits), Ok((-0.0f64).to_bits()));
        assert_eq!(double(b"0.1").map(f64::to_bits), Ok(0.1f64.to_bits()));
        for bad in [
            &b""[..],
            b"-",
            b".5",
            b"1.",
            b"1e",
            b"1e+",
            b"e5",
            b"1.5.5",
            b"1,5",
            b"infinity",
            b"NaN",
            b"-nan",
            b" 1",
            b"0x10",
            b"1_000",
        ] {
            assert_eq!(double(bad), Err(ProtocolError::BadDouble), "{bad:?}");
        }
    }

    #[test]
    fn booleans_and_big_numbers() {
        assert_eq!(boolean(b"t"), Ok(true));
        assert_eq!(boolean(b"f"), Ok(false));
        for bad in [&b""[..], b"T", b"true", b"1", b"tt"] {
            assert_eq!(boolean(bad), Err(ProtocolError::BadBoolean), "{bad:?}");
        }
        for good in [&b"3492890328409238509324850943850943825024385"[..], b"-1", b"+7", b"0"] {
            assert_eq!(big_number(good), Ok(()), "{good:?}");
        }
        for bad in [&b""[..], b"-", b"1.5", b"12a", b"--1", b" 1"] {
            assert_eq!(big_number(bad), Err(ProtocolError::BadBigNumber), "{bad:?}");
        }
    }
}
