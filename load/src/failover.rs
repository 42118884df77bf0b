//! Pure analysis of a failover run: from the successful operations per
//! 100 ms, the kill time and the promotion time, how fast the client was
//! before, how long it stalled, and when it was back at full speed.
//!
//! Definitions (all times in ms since the measured run started):
//! - baseline: mean ops/s from 1 s (warm-up skipped) to the kill;
//! - recovered: the first 100 ms bucket, at or after the promotion (or the
//!   kill, if no promotion was seen), that reaches 90 % of the baseline rate
//!   and starts a 1 s window that does too; `recovery_after_promotion_ms` is
//!   its distance from the promotion;
//! - degraded: total time after the kill in 100 ms buckets below 50 % of
//!   the baseline rate.
//!
//! The longest stall (no operation completing at all) is measured by the tallies
//! at full clock resolution and passed in.

use serde::{Deserialize, Serialize};

/// Width of one bucket of the fine timeline.
pub const BUCKET_MS: u64 = 100;
/// A window at or above this share of the baseline counts as recovered.
pub const RECOVERED_SHARE: f64 = 0.9;
/// A bucket below this share of the baseline counts as degraded.
pub const DEGRADED_SHARE: f64 = 0.5;

/// What a failover run measured, for the JSON summary and the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverReport {
    /// When the primary was killed.
    pub kill_at_ms: u64,
    /// When its replica first answered `ROLE` as a primary.
    pub promoted_at_ms: Option<u64>,
    /// Mean ops/s before the kill.
    pub baseline_ops_per_sec: f64,
    /// Start of the first full-speed 1 s window after the promotion.
    pub recovered_at_ms: Option<u64>,
    /// `recovered_at_ms - promoted_at_ms` (or minus the kill time without a promotion).
    pub recovery_after_promotion_ms: Option<u64>,
    /// Longest time without any operation completing.
    pub max_stall_ms: u64,
    /// When that stall began.
    pub max_stall_from_ms: u64,
    /// Time after the kill spent below half the baseline rate.
    pub degraded_ms: u64,
    /// Errors returned after the kill.
    pub errors_after_kill: u64,
    /// Successful operations per 100 ms bucket, the whole run.
    pub ops_per_100ms: Vec<u64>,
}

/// Inputs of [`analyze`] that are not the bucket series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Events {
    /// Kill time.
    pub kill_at_ms: u64,
    /// Promotion time, if seen.
    pub promoted_at_ms: Option<u64>,
    /// Longest stall and when it began.
    pub max_stall_ms: u64,
    /// Start of that stall.
    pub max_stall_from_ms: u64,
    /// Errors after the kill.
    pub errors_after_kill: u64,
}

/// Computes the report from successful ops per [`BUCKET_MS`] bucket.
pub fn analyze(buckets: &[u64], events: Events) -> FailoverReport {
    let per_second = (1000 / BUCKET_MS) as usize;
    let kill_bucket = (events.kill_at_ms / BUCKET_MS) as usize;
    let warm = if kill_bucket > 2 * per_second { per_second } else { 0 };
    let before = buckets.get(warm..kill_bucket.min(buckets.len())).unwrap_or(&[]);
    let baseline_per_bucket =
        if before.is_empty() { 0.0 } else { before.iter().sum::<u64>() as f64 / before.len() as f64 };
    let baseline = baseline_per_bucket * per_second as f64;

    let from_ms = events.promoted_at_ms.unwrap_or(events.kill_at_ms).max(events.kill_at_ms);
    // The first bucket that starts at or after `from_ms`.
    let from_bucket = from_ms.div_ceil(BUCKET_MS) as usize;
    let recovered_at_ms = (from_bucket..buckets.len())
        .find(|&i| {
            let first = buckets.get(i).is_some_and(|&n| n as f64 >= RECOVERED_SHARE * baseline_per_bucket);
            let window = buckets
                .get(i..i + per_second)
                .is_some_and(|w| w.iter().sum::<u64>() as f64 >= RECOVERED_SHARE * baseline);
            first && window
        })
        .map(|i| i as u64 * BUCKET_MS);
    let degraded = buckets
        .iter()
        .skip(kill_bucket)
        .filter(|&&n| (n as f64) < DEGRADED_SHARE * baseline_per_bucket)
        .count() as u64;
    FailoverReport {
        kill_at_ms: events.kill_at_ms,
        promoted_at_ms: events.promoted_at_ms,
        baseline_ops_per_sec: baseline,
        recovered_at_ms,
        recovery_after_promotion_ms: recovered_at_ms.map(|r| r.saturating_sub(from_ms)),
        max_stall_ms: events.max_stall_ms,
        max_stall_from_ms: events.max_stall_from_ms,
        degraded_ms: degraded * BUCKET_MS,
        errors_after_kill: events.errors_after_kill,
        ops_per_100ms: buckets.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(kill: u64, promoted: Option<u64>) -> Events {
        Events {
            kill_at_ms: kill,
            promoted_at_ms: promoted,
            max_stall_ms: 0,
            max_stall_from_ms: 0,
            errors_after_kill: 0,
        }
    }

    /// 100 ops per bucket, zero from `dip_from` to `dip_to` (bucket indexes).
    fn series(len: usize, dip_from: usize, dip_to: usize) -> Vec<u64> {
        (0..len).map(|i| if (dip_from..dip_to).contains(&i) { 0 } else { 100 }).collect()
    }

    #[test]
    fn recovery_is_measured_from_the_promotion() {
        // Kill at 5 s, promotion at 7.5 s, traffic back from 8 s.
        let r = analyze(&series(200, 50, 80), events(5000, Some(7500)));
        assert_eq!(r.baseline_ops_per_sec, 1000.0);
        assert_eq!(r.recovered_at_ms, Some(8000));
        assert_eq!(r.recovery_after_promotion_ms, Some(500));
        assert_eq!(r.degraded_ms, 3000);
    }

    #[test]
    fn a_client_that_never_recovers_has_no_recovery_time() {
        let r = analyze(&series(200, 50, 200), events(5000, Some(7000)));
        assert_eq!(r.recovered_at_ms, None);
        assert_eq!(r.recovery_after_promotion_ms, None);
        assert_eq!(r.degraded_ms, 15_000);
    }

    #[test]
    fn half_speed_after_promotion_is_not_recovered() {
        let mut s = series(200, 50, 70);
        for b in s.iter_mut().skip(70).take(60) {
            *b = 60;
        }
        let r = analyze(&s, events(5000, Some(6900)));
        // From 12.8 s on a 1 s window has 900 ops, but it must also start
        // with a bucket at full speed: 13.0 s.
        assert_eq!(r.recovered_at_ms, Some(13_000));
        assert_eq!(r.recovery_after_promotion_ms, Some(6_100));
    }

    #[test]
    fn without_a_promotion_the_kill_is_the_reference() {
        let r = analyze(&series(100, 50, 60), events(5000, None));
        assert_eq!(r.recovered_at_ms, Some(6000));
        assert_eq!(r.recovery_after_promotion_ms, Some(1000));
    }

    #[test]
    fn empty_input_gives_no_recovery_and_no_panic() {
        let r = analyze(&[], events(5000, Some(6000)));
        assert_eq!(r.baseline_ops_per_sec, 0.0);
        assert_eq!(r.recovered_at_ms, None);
    }
}
