//! How store operations become server arguments, and server replies store results.
//!
//! Lives here, for the server-backed variants (`remote`, `sharded`): expiry
//! arguments from a `Duration` ([`expiry`], [`ttl_millis`]), the `SCAN MATCH`
//! pattern of a key prefix ([`prefix_pattern`]), the fixed rate-limit window
//! ([`RateWindow`]), counter parsing and the mapping of `INCRBY` errors onto the
//! embedded store's [`Error::Type`] ([`parse_counter`], [`counter_error`]), and
//! reading `INFO server` for `DELIFEQ` support ([`has_delifeq`]). Not here: any
//! IO (`remote`).
//!
//! Pure: no tokio, no sockets; the clock only in [`RateWindow::now`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::commands::Expiry;
use crate::error::{Error, Result, ServerErrorKind};

/// Longest expiry sent to a server: 100 years in milliseconds. A longer ttl is
/// sent as this one: a server refuses an expiry whose deadline overflows its
/// clock, where the embedded store treats such a ttl as "never expires".
pub const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Longest decimal i64 (`-9223372036854775808`).
const MAX_I64_DIGITS: usize = 20;

/// The error for `Some(Duration::ZERO)`, worded as the embedded store words it.
pub fn zero_ttl() -> Error {
    Error::InvalidArgument("a ttl of zero is invalid (use None for no expiry)".into())
}

/// `ttl` in whole milliseconds, rounded up (a key never expires early), at
/// least 1 and at most [`MAX_TTL_MS`].
///
/// # Errors
/// A zero `ttl`.
pub fn ttl_millis(ttl: Duration) -> Result<u64> {
    if ttl.is_zero() {
        return Err(zero_ttl());
    }
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    Ok(u64::try_from(millis).unwrap_or(u64::MAX).clamp(1, MAX_TTL_MS))
}

/// The `SET` expiry for `ttl`: `EX seconds` when it is a whole number of
/// seconds, otherwise `PX milliseconds` (see [`ttl_millis`]).
///
/// # Errors
/// A zero `ttl`.
pub fn expiry(ttl: Duration) -> Result<Expiry> {
    let millis = ttl_millis(ttl)?;
    Ok(if millis % 1000 == 0 { Expiry::Seconds(millis / 1000) } else { Expiry::Millis(millis) })
}

/// The `SCAN MATCH` pattern matching exactly the keys that start with
/// `prefix`: the prefix with each glob character (`*`, `?`, `[`, `]`, `\`)
/// escaped by a backslash, then `*`.
///
/// Those five are all a server's matcher treats specially outside a bracket
/// class (`^` and `-` matter only inside one, and an escaped `[` opens none).
pub fn prefix_pattern(prefix: &[u8]) -> Vec<u8> {
    let specials = prefix.iter().filter(|b| is_glob_special(**b)).count();
    let mut pattern = Vec::with_capacity(prefix.len() + specials + 1);
    for &b in prefix {
        if is_glob_special(b) {
            pattern.push(b'\\');
        }
        pattern.push(b);
    }
    pattern.push(b'*');
    pattern
}

fn is_glob_special(b: u8) -> bool {
    matches!(b, b'*' | b'?' | b'[' | b']' | b'\\')
}

/// One fixed rate-limit window: `period` seconds long, numbered from the
/// Unix epoch (window `n` covers `[n * period, (n + 1) * period)`), as the
/// embedded store counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// The window number, `unix_secs / period_secs`.
    pub number: u64,
    /// The window length in whole seconds (at least 1).
    pub period_secs: u64,
    /// Seconds from now until the next window starts (at least 1).
    pub retry_after: u64,
}

impl RateWindow {
    /// The window containing `unix_secs`.
    ///
    /// # Errors
    /// A `period` under one second.
    pub fn at(unix_secs: u64, period: Duration) -> Result<RateWindow> {
        let period_secs = period.as_secs();
        if period_secs == 0 {
            return Err(Error::InvalidArgument("a rate limit period must be at least one second".into()));
        }
        let number = unix_secs / period_secs;
        let retry_after = number.saturating_add(1).saturating_mul(period_secs).saturating_sub(unix_secs);
        Ok(RateWindow { number, period_secs, retry_after })
    }

    /// The window containing now (the system clock; a clock before 1970 counts as 1970).
    ///
    /// # Errors
    /// A `period` under one second.
    pub fn now(period: Duration) -> Result<RateWindow> {
        let unix_secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        RateWindow::at(unix_secs, period)
    }

    /// `<key>:<window number>`, the counter of this window.
    pub fn key(&self, key: &[u8]) -> Vec<u8> {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(self.number).as_bytes();
        let mut out = Vec::with_capacity(key.len() + 1 + digits.len());
        out.extend_from_slice(key);
        out.push(b':');
        out.extend_from_slice(digits);
        out
    }

    /// The rate-limit answer for a window count: `None` when allowed, else
    /// `Some(seconds until the next window)`. A hit (not `soft`) has already
    /// been counted, so it is over the limit past `limit`; a `soft` check
    /// counts nothing and is refused once `limit` is reached.
    pub fn verdict(&self, count: i64, limit: u64, soft: bool) -> Option<u64> {
        let count = u64::try_from(count).unwrap_or(0);
        let limited = if soft { count >= limit } else { count > limit };
        limited.then_some(self.retry_after)
    }
}

/// Parses a counter read with `GET`, as the embedded store does: an optional
/// `-`, then decimal digits, within i64.
///
/// # Errors
/// [`Error::Type`] for any other value.
pub fn parse_counter(value: &[u8]) -> Result<i64> {
    let parsed = match value.first() {
        Some(b'-' | b'0'..=b'9') if value.len() <= MAX_I64_DIGITS => {
            std::str::from_utf8(value).ok().and_then(|s| s.parse::<i64>().ok())
        }
        _ => None,
    };
    parsed.ok_or_else(|| Error::Type {
        expected: "a counter (a decimal i64 value)",
        got: format!("a value of {} bytes that is not an integer", value.len()),
    })
}

/// Maps the server's `INCRBY` refusals onto the embedded store's errors: a
/// value that is not an integer, or a sum past i64, is an [`Error::Type`].
/// Other errors pass through.
pub fn counter_error(error: Error) -> Error {
    let Error::Server(e) = &error else { return error };
    if !matches!(e.kind(), ServerErrorKind::Generic) {
        return error;
    }
    let message = e.message();
    if contains(message, b"not an integer") {
        Error::Type {
            expected: "a counter (a decimal i64 value)",
            got: "a value that is not an integer".into(),
        }
    } else if contains(message, b"overflow") {
        Error::Type {
            expected: "a counter that stays within i64",
            got: "an increment that would overflow".into(),
        }
    } else {
        error
    }
}

/// True for an error reply saying the command does not exist.
pub fn is_unknown_command(error: &Error) -> bool {
    matches!(error, Error::Server(e) if contains(e.message(), b"unknown command"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// True when an `INFO server` text comes from a server with `DELIFEQ`:
/// Valkey 9.0 or later (it reports `valkey_version`; Redis has no such command).
pub fn has_delifeq(info: &str) -> bool {
    info.lines()
        .filter_map(|line| line.trim_end().strip_prefix("valkey_version:"))
        .filter_map(|version| version.split('.').next()?.parse::<u32>().ok())
        .any(|major| major >= 9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerError;

    #[test]
    fn ttl_rounds_up_and_clamps() {
        assert!(ttl_millis(Duration::ZERO).is_err());
        assert_eq!(ttl_millis(Duration::from_nanos(1)).unwrap(), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)).unwrap(), 2);
        assert_eq!(ttl_millis(Duration::from_millis(250)).unwrap(), 250);
        assert_eq!(ttl_millis(Duration::from_secs(u64::MAX)).unwrap(), MAX_TTL_MS);
        assert_eq!(expiry(Duration::from_secs(3)).unwrap(), Expiry::Seconds(3));
        assert_eq!(expiry(Duration::from_millis(1500)).unwrap(), Expiry::Millis(1500));
        assert_eq!(expiry(Duration::from_nanos(1_000_000_001)).unwrap(), Expiry::Millis(1001));
        assert_eq!(expiry(Duration::from_nanos(999_000_001)).unwrap(), Expiry::Seconds(1));
        assert_eq!(expiry(Duration::from_secs(u64::MAX)).unwrap(), Expiry::Seconds(MAX_TTL_MS / 1000));
    }

    #[test]
    fn prefix_patterns_escape_every_glob_character() {
        assert_eq!(prefix_pattern(b""), b"*");
        assert_eq!(prefix_pattern(b"session:"), b"session:*");
        assert_eq!(prefix_pattern(b"a*b"), b"a\\*b*");
        assert_eq!(prefix_pattern(b"*?[]\\"), b"\\*\\?\\[\\]\\\\*");
        assert_eq!(prefix_pattern(b"^-\0\xff"), b"^-\0\xff*");
    }

    /// The matcher of Redis/Valkey (`stringmatchlen`) for the subset our
    /// patterns use: literals, `\x` escapes and `*`. Enough to check that an
    /// escaped prefix matches exactly the keys that start with it.
    fn glob_match(pattern: &[u8], key: &[u8]) -> bool {
        match pattern.split_first() {
            None => key.is_empty(),
            Some((b'*', rest)) => (0..=key.len()).any(|i| glob_match(rest, &key[i..])),
            Some((b'\\', rest)) => match (rest.split_first(), key.split_first()) {
                (Some((p, prest)), Some((k, krest))) => p == k && glob_match(prest, krest),
                _ => false,
            },
            Some((p, rest)) => key.split_first().is_some_and(|(k, krest)| p == k && glob_match(rest, krest)),
        }
    }

    #[test]
    fn escaped_prefix_matches_exactly_the_prefixed_keys() {
        let prefixes: [&[u8]; 5] = [b"a*b", b"a?b", b"[ab]", b"x\\", b"*?[]\\"];
        let keys: [&[u8]; 12] = [
            b"a*b", b"a*bc", b"axb", b"axbc", b"a?b1", b"aab", b"[ab]x", b"a", b"x\\", b"x\\y", b"x",
            b"*?[]\\",
        ];
        for prefix in prefixes {
            let pattern = prefix_pattern(prefix);
            for key in keys {
                assert_eq!(
                    glob_match(&pattern, key),
                    key.starts_with(prefix),
                    "prefix {:?} key {:?}",
                    String::from_utf8_lossy(prefix),
                    String::from_utf8_lossy(key)
                );
            }
        }
    }

    #[test]
    fn rate_windows() {
        let w = RateWindow::at(1_000_001, Duration::from_secs(10)).unwrap();
        assert_eq!(w, RateWindow { number: 100_000, period_secs: 10, retry_after: 9 });
        assert_eq!(w.key(b"ip:1"), b"ip:1:100000");
        let start = RateWindow::at(1_000_000, Duration::from_millis(10_900)).unwrap();
        assert_eq!((start.number, start.retry_after), (100_000, 10));
        assert!(RateWindow::at(5, Duration::from_millis(999)).is_err());
        assert_eq!(w.verdict(3, 3, false), None);
        assert_eq!(w.verdict(4, 3, false), Some(9));
        assert_eq!(w.verdict(2, 3, true), None);
        assert_eq!(w.verdict(3, 3, true), Some(9));
        assert_eq!(w.verdict(-5, 0, false), None);
        assert_eq!(w.verdict(0, 0, true), Some(9));
    }

    #[test]
    fn counters_parse_like_the_embedded_store() {
        assert_eq!(parse_counter(b"42").unwrap(), 42);
        assert_eq!(parse_counter(b"-9223372036854775808").unwrap(), i64::MIN);
        for bad in [&b""[..], b"x", b"+1", b" 1", b"1.5", b"9223372036854775808", b"123456789012345678901"] {
            assert!(matches!(parse_counter(bad), Err(Error::Type { .. })), "{bad:?}");
        }
    }

    fn server(line: &str) -> Error {
        Error::Server(ServerError::from_line(line).unwrap())
    }

    #[test]
    fn incrby_refusals_become_type_errors() {
        let e = counter_error(server(
            "ERR value is not an integer or out of range script: abc, on @user_script:1.",
        ));
        assert!(matches!(e, Error::Type { expected: "a counter (a decimal i64 value)", .. }), "{e:?}");
        let e = counter_error(server("ERR increment or decrement would overflow"));
        assert!(matches!(e, Error::Type { expected: "a counter that stays within i64", .. }), "{e:?}");
        assert!(matches!(counter_error(server("WRONGTYPE Operation against a key")), Error::Server(_)));
        assert!(matches!(counter_error(Error::Closed), Error::Closed));
        assert!(is_unknown_command(&server("ERR unknown command 'DELIFEQ', with args beginning with: 'k'")));
        assert!(!is_unknown_command(&server("ERR syntax error")));
    }

    #[test]
    fn delifeq_needs_valkey_9() {
        let valkey9 = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.1.2\r\n";
        let valkey8 = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.0\r\n";
        let redis7 = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
        assert!(has_delifeq(valkey9));
        assert!(has_delifeq("valkey_version:10.0.0"));
        assert!(!has_delifeq(valkey8));
        assert!(!has_delifeq(redis7));
        assert!(!has_delifeq("valkey_version:x.1"));
    }
}
