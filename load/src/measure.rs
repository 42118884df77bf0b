//! The instruments: HDR histograms with the bounds every report uses, the
//! process CPU clock, and latency bins for the pictures. No client, no IO
//! beyond `getrusage`.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::driver::Failure;

/// Largest latency recorded, in µs (60 s); slower operations count as this.
pub const MAX_US: u64 = 60_000_000;

/// Latency bins per doubling, in [`latency_bins`].
pub const BINS_PER_OCTAVE: u32 = 4;

/// A histogram of 1 µs .. 60 s at 3 significant figures.
///
/// # Errors
/// A `setup` failure (only if the bounds were invalid).
pub fn new_hist() -> Result<Histogram<u64>, Failure> {
    Histogram::new_with_bounds(1, MAX_US, 3).map_err(|e| Failure::setup(format!("histogram: {e}")))
}

/// User + system CPU time of this process (every thread); zero if unknown.
pub fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a pointer to a live struct.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// µs from `start` to `t` (0 if `t` is earlier).
pub fn micros_since(start: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(start).as_micros()).unwrap_or(u64::MAX)
}

/// Counts of `hist` in logarithmic bins: bin `i` holds latencies in
/// `[2^(i/4), 2^((i+1)/4))` µs. Trailing empty bins are left out.
pub fn latency_bins(hist: &Histogram<u64>) -> Vec<u64> {
    let mut bins: Vec<u64> = Vec::new();
    for v in hist.iter_recorded() {
        let value = v.value_iterated_to().max(1) as f64;
        let i = (value.log2() * f64::from(BINS_PER_OCTAVE)).floor().max(0.0) as usize;
        if bins.len() <= i {
            bins.resize(i + 1, 0);
        }
        if let Some(b) = bins.get_mut(i) {
            *b += v.count_at_value();
        }
    }
    bins
}

/// The lower bound of latency bin `i`, in µs.
pub fn bin_floor_us(i: usize) -> f64 {
    2f64.powf(i as f64 / f64::from(BINS_PER_OCTAVE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_four_per_doubling() {
        let mut h = new_hist().unwrap();
        h.record(1).unwrap(); // bin 0
        h.record(2).unwrap(); // bin 4
        h.record(1000).unwrap(); // log2 = 9.97 -> bin 39
        h.record(1000).unwrap();
        let bins = latency_bins(&h);
        assert_eq!(bins.len(), 40);
        assert_eq!((bins[0], bins[4], bins[39]), (1, 1, 2));
        assert_eq!(bins.iter().sum::<u64>(), 4);
        assert!((bin_floor_us(4) - 2.0).abs() < 1e-9);
        assert!(bin_floor_us(39) <= 1000.0 && bin_floor_us(40) > 1000.0);
    }

    #[test]
    fn cpu_time_moves_forward() {
        let a = cpu_time();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        assert!(cpu_time() >= a);
    }
}
