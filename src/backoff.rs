//! Exponential backoff with jitter, as a pure function of the attempt number.
//!
//! Lives here: [`backoff`]. Randomness comes in as a parameter, so the same
//! inputs always give the same wait and tests need no seeded generator. Not
//! here: when to retry at all (`route::redirect`) or the sleeping (the IO
//! router).
//!
//! Pure: no tokio, no sockets, no clock.

use std::time::Duration;

/// How long to wait before retry number `attempt` (0 for the first retry).
///
/// The window grows exponentially: its ceiling is `min * 2^attempt`,
/// saturating, capped at `max`. The wait is drawn uniformly from the upper
/// half of the window, `[max(min, ceiling / 2), ceiling]`, using `random`
/// (any `u64`; the full range is used).
///
/// This is "equal jitter": half of each wait is random, so a herd of clients
/// that failed together (every client of a slot that just went `CLUSTERDOWN`)
/// spreads out, and half is fixed, so the total time a caller keeps retrying
/// has a floor. Full jitter would let an unlucky run of small draws spend all
/// of `max_retries` in a fraction of the exponential schedule and give up in
/// the middle of a failover the schedule was sized to ride out (seen in the
/// kill-a-primary drill: 16 retries gone in under 3.5 s). The floor `min`
/// keeps a retry from ever spinning.
///
/// Guarantees, for any inputs: the result is in `[min, max]` (if `min > max`
/// the two are swapped), it never overflows, and attempts past the point where
/// `min * 2^attempt` exceeds `max` all draw from `[max / 2, max]` (or
/// `[min, max]` when `min` is above half of `max`). A zero `min` gives a zero
/// wait: there is nothing to grow from.
pub fn backoff(attempt: u32, min: Duration, max: Duration, random: u64) -> Duration {
    let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
    let lo_ns = lo.as_nanos();
    let hi_ns = hi.as_nanos();
    // 2^attempt, saturating: u128 holds 2^127, beyond that the cap decides anyway.
    let factor = 1u128.checked_shl(attempt).unwrap_or(u128::MAX);
    let ceiling = lo_ns.saturating_mul(factor).min(hi_ns);
    let floor = (ceiling / 2).max(lo_ns);
    let span = ceiling - floor;
    // Scale `random` onto 0..=span without the bias of a modulo. A span past
    // 2^64 ns (five centuries) cannot be scaled in u128; any value below it will do.
    let offset = if span < u128::from(u64::MAX) {
        (u128::from(random) * (span + 1)) >> 64
    } else {
        u128::from(random)
    };
    from_nanos(floor + offset)
}

/// A `Duration` from nanoseconds that came from `Duration`s: no overflow.
fn from_nanos(ns: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(ns / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // The remainder is below 10^9, which fits in u32.
    let nanos = u32::try_from(ns % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn first_retry_waits_min() {
        for random in [0, 1, u64::MAX / 2, u64::MAX] {
            assert_eq!(backoff(0, 8 * MS, 1024 * MS, random), 8 * MS);
        }
    }

    #[test]
    fn window_doubles_until_the_cap() {
        // The largest random value reaches the ceiling of the window.
        let top = |attempt| backoff(attempt, 8 * MS, 1024 * MS, u64::MAX);
        let ceilings: Vec<Duration> = (0..10).map(top).collect();
        let expected: Vec<Duration> = [8u64, 16, 32, 64, 128, 256, 512, 1024, 1024, 1024]
            .iter()
            .map(|&m| Duration::from_millis(m))
            .collect();
        assert_eq!(ceilings, expected);
        // The smallest random value is half the ceiling (never below min).
        let bottom = |attempt| backoff(attempt, 8 * MS, 1024 * MS, 0);
        let floors: Vec<Duration> = (0..10).map(bottom).collect();
        let expected: Vec<Duration> = [8u64, 8, 16, 32, 64, 128, 256, 512, 512, 512]
            .iter()
            .map(|&m| Duration::from_millis(m))
            .collect();
        assert_eq!(floors, expected);
        // So sixteen retries always wait at least ~5 s in total: long enough
        // for a replica to be promoted (node timeout + election).
        let least: Duration = (0..16).map(bottom).sum();
        assert!(least >= Duration::from_millis(5000), "{least:?}");
    }

    #[test]
    fn jitter_uses_the_upper_half_of_the_window() {
        // Attempt 3: window [32 ms, 64 ms]; the midpoint of the random range
        // lands in the middle of it.
        let mid = backoff(3, 8 * MS, 1024 * MS, u64::MAX / 2);
        assert!(mid > 47 * MS && mid < 49 * MS, "{mid:?}");
    }

    #[test]
    fn huge_attempts_and_durations_do_not_overflow() {
        assert!(backoff(u32::MAX, 8 * MS, 1024 * MS, u64::MAX) <= 1024 * MS);
        assert_eq!(backoff(u32::MAX, Duration::MAX, Duration::MAX, 7), Duration::MAX);
        let w = backoff(u32::MAX, MS, Duration::MAX, u64::MAX);
        assert!(w >= MS);
        assert_eq!(backoff(5, Duration::ZERO, Duration::from_secs(1), u64::MAX), Duration::ZERO);
    }

    #[test]
    fn swapped_bounds_are_put_in_order() {
        let w = backoff(4, 1024 * MS, 8 * MS, u64::MAX);
        assert!(w >= 8 * MS && w <= 1024 * MS, "{w:?}");
    }

    fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (0u64..10_000).prop_map(Duration::from_millis),
            any::<u64>().prop_map(Duration::from_nanos),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    proptest! {
        #[test]
        fn always_within_bounds(attempt in any::<u32>(), a in duration(), b in duration(), random in any::<u64>()) {
            let w = backoff(attempt, a, b, random);
            prop_assert!(w >= a.min(b));
            prop_assert!(w <= a.max(b));
        }

        #[test]
        fn ceiling_never_shrinks_with_attempts(attempt in 0u32..200, min in duration(), max in duration()) {
            let now = backoff(attempt, min, max, u64::MAX);
            let next = backoff(attempt + 1, min, max, u64::MAX);
            prop_assert!(next >= now);
        }

        #[test]
        fn more_random_never_waits_less(attempt in 0u32..64, min in duration(), max in duration(), r1 in any::<u64>(), r2 in any::<u64>()) {
            let (lo, hi) = if r1 <= r2 { (r1, r2) } else { (r2, r1) };
            prop_assert!(backoff(attempt, min, max, lo) <= backoff(attempt, min, max, hi));
        }
    }
}
