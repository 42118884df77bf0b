//! Key names and values that say which key and which write they belong to.
//!
//! A value is `"<key index>:<version>:"` padded with `x` to the value size,
//! so a `GET` can check that it got its own key and a version it may see,
//! and a truncated or corrupted payload is caught. Pure: no IO.

use bytes::{BufMut, Bytes, BytesMut};

/// The name of key `index`: `<prefix><index>` (`e2e:7`).
pub fn key_name(prefix: &str, index: u64) -> Vec<u8> {
    format!("{prefix}{index}").into_bytes()
}

/// The name of task `task`'s counter (for `INCR`): `<prefix>ctr:<task>`.
pub fn counter_name(prefix: &str, task: u64) -> Vec<u8> {
    format!("{prefix}ctr:{task}").into_bytes()
}

/// The value of write `version` to key `index`, `size` bytes long (longer
/// only when the header alone exceeds `size`).
pub fn make_value(index: u64, version: u64, size: usize) -> Bytes {
    let head = format!("{index}:{version}:");
    let mut out = BytesMut::with_capacity(size.max(head.len()));
    out.put_slice(head.as_bytes());
    out.resize(size.max(head.len()), b'x');
    out.freeze()
}

/// `(key index, version)` of a value built by [`make_value`] with the same
/// `size`; `None` for anything else (wrong padding, length, digits).
pub fn parse_value(bytes: &[u8], size: usize) -> Option<(u64, u64)> {
    let mut parts = bytes.splitn(3, |b| *b == b':');
    let index = parse_digits(parts.next()?)?;
    let version = parse_digits(parts.next()?)?;
    let pad = parts.next()?;
    let head_len = bytes.len() - pad.len();
    let expected_pad = size.saturating_sub(head_len);
    (pad.len() == expected_pad && pad.iter().all(|b| *b == b'x')).then_some((index, version))
}

fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_at_the_requested_size() {
        for (index, version, size) in [(0, 0, 64), (42, 7, 64), (9_999, 123_456, 16), (1, 2, 0)] {
            let v = make_value(index, version, size);
            assert_eq!(v.len(), size.max(format!("{index}:{version}:").len()));
            assert_eq!(parse_value(&v, size), Some((index, version)), "{v:?}");
        }
    }

    #[test]
    fn corrupted_truncated_or_foreign_values_are_rejected() {
        let v = make_value(42, 7, 64).to_vec();
        let mut last = v.clone();
        last[63] = b'y';
        assert_eq!(parse_value(&last, 64), None);
        assert_eq!(parse_value(&v[..63], 64), None);
        assert_eq!(parse_value(&v, 65), None);
        assert_eq!(parse_value(b"42:7", 64), None);
        assert_eq!(parse_value(b"4a:7:xxxx", 9), None);
        assert_eq!(parse_value(b":7:xxxxxx", 9), None);
        assert_eq!(parse_value(b"99999999999999999999:1:", 23), None);
        assert_eq!(parse_value(b"", 0), None);
    }

    #[test]
    fn key_names_are_distinct() {
        assert_eq!(key_name("e2e:", 7), b"e2e:7".to_vec());
        assert_ne!(key_name("e2e:", 1), key_name("e2e:", 10));
        assert_eq!(counter_name("load:", 3), b"load:ctr:3".to_vec());
    }
}
