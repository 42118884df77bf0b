//! Durations as the configuration writes them, and back.
//!
//! A duration is either a JSON non-negative integer, meaning milliseconds, or a
//! string `<digits><unit>` with unit `d`, `h`, `m`, `s` or `ms` (any case; no
//! unit means milliseconds; whitespace around the string and between number and
//! unit is ignored). Negative numbers, fractions, unknown units and values too
//! large for [`Duration`] are errors. [`format_duration`] writes the largest
//! unit that divides the value exactly, so `parse(format(d)) == d` for whole
//! milliseconds.
//!
//! Pure: no IO.

use std::time::Duration;

use serde_json::Value;

const EXPECTED: &str = "expected a number of milliseconds or a string such as \"10s\" or \"500ms\"";

/// Parses a duration value; the error message has no path (the caller adds it).
pub(crate) fn parse_duration(value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(n) => {
            if let Some(ms) = n.as_u64() {
                Ok(Duration::from_millis(ms))
            } else if n.is_i64() {
                Err(format!("{n} is negative ({EXPECTED})"))
            } else {
                Err(format!("{n} is not a whole number of milliseconds ({EXPECTED})"))
            }
        }
        Value::String(s) => parse_duration_str(s),
        other => Err(format!("{} is not a duration ({EXPECTED})", kind(other))),
    }
}

fn parse_duration_str(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let digits_end = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!("{} is not a duration ({EXPECTED})", quote(text)));
    }
    let unit = unit.trim_start().to_ascii_lowercase();
    let per_unit_ms: u64 = match unit.as_str() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "unknown unit {} in {} (expected d, h, m, s or ms)",
                quote(&unit),
                quote(trimmed)
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per_unit_ms))
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{} is too large", quote(trimmed)))
}

/// Writes `d` in the largest unit that divides it exactly (`"10s"`, `"1500ms"`,
/// `"2d"`); sub-millisecond parts are dropped.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0ms".to_string();
    }
    for (unit, per) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms % per == 0 {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

/// A JSON value's kind, for error messages that must not quote the value.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Quotes user text for an error message, cut to a readable length.
pub(crate) fn quote(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("\"{}...\"", text.get(..cut).unwrap_or_default().escape_debug()),
        None => format!("\"{}\"", text.escape_debug()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value) -> Duration {
        match parse_duration(&v) {
            Ok(d) => d,
            Err(e) => panic!("{v}: {e}"),
        }
    }

    fn err(v: Value) -> String {
        match parse_duration(&v) {
            Ok(d) => panic!("{v} parsed as {d:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn numbers_are_milliseconds() {
        assert_eq!(ok(json!(0)), Duration::ZERO);
        assert_eq!(ok(json!(1500)), Duration::from_millis(1500));
        assert_eq!(ok(json!(u64::MAX)), Duration::from_millis(u64::MAX));
    }

    #[test]
    fn strings_with_units() {
        for (text, ms) in [
            ("10s", 10_000u64),
            ("10S", 10_000),
            ("500ms", 500),
            ("500MS", 500),
            ("500Ms", 500),
            ("500", 500),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("1H", 3_600_000),
            ("3d", 259_200_000),
            ("  30s \n", 30_000),
            ("30 s", 30_000),
            ("0s", 0),
            ("007s", 7_000),
        ] {
            assert_eq!(ok(json!(text)), Duration::from_millis(ms), "{text}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        assert_eq!(err(json!("10x")), "unknown unit \"x\" in \"10x\" (expected d, h, m, s or ms)");
        assert!(err(json!("10sec")).contains("unknown unit \"sec\""));
        assert!(err(json!("1.5s")).contains("unknown unit \".5s\""));
        assert!(err(json!("-5s")).contains("is not a duration"));
        assert!(err(json!("")).contains("is not a duration"));
        assert!(err(json!("s")).contains("is not a duration"));
        assert!(err(json!(-5)).contains("-5 is negative"));
        assert!(err(json!(1.5)).contains("not a whole number"));
        assert!(err(json!(true)).contains("a boolean is not a duration"));
        assert!(err(json!(null)).contains("null is not a duration"));
        assert!(err(json!([1])).contains("an array"));
        assert!(err(json!("18446744073709551616")).contains("too large"));
        assert!(err(json!("999999999999999999d")).contains("too large"));
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        for (ms, text) in [
            (0u64, "0ms"),
            (1, "1ms"),
            (1500, "1500ms"),
            (10_000, "10s"),
            (90_000, "90s"),
            (120_000, "2m"),
            (3_600_000, "1h"),
            (86_400_000, "1d"),
            (90_000_000, "25h"),
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(format_duration(d), text);
            assert_eq!(ok(json!(text)), d, "round trip of {text}");
        }
    }

    #[test]
    fn quotes_are_short_and_escaped() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        let long = "x".repeat(100);
        assert_eq!(quote(&long), format!("\"{}...\"", "x".repeat(40)));
        assert_eq!(quote(&"é".repeat(50)).chars().count(), 45);
    }
}
