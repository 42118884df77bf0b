//! The counters every task of a run shares: successes and errors per 100 ms,
//! the longest gap between successes, errors and verify failures by kind,
//! per-second latency histograms, and the fault and promotion times.
//!
//! Successes and errors go to atomic buckets by the time they completed, so
//! a task stuck on a reply loses nothing. Latencies (successes only) go to
//! per-task histograms flushed here when a task crosses a second. Not here:
//! the loop ([`crate::run`]) and the report built from these ([`crate::report`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::config::LoadConfig;
use crate::driver::Failure;
use crate::failover::BUCKET_MS;
use crate::verify::Verdict;

/// "Not yet" for the event times.
pub(crate) const NEVER: u64 = u64::MAX;

/// One key: its name, the newest version issued and the newest acknowledged.
pub(crate) struct KeyState {
    pub(crate) name: Vec<u8>,
    pub(crate) issued: AtomicU64,
    pub(crate) acked: AtomicU64,
}

/// Tallies that need a map, behind one lock (errors are rare on the hot path).
#[derive(Default)]
pub(crate) struct Tallies {
    pub(crate) errors_by_kind: BTreeMap<String, u64>,
    pub(crate) error_samples: BTreeMap<String, String>,
    pub(crate) failures_by_reason: BTreeMap<String, u64>,
    pub(crate) first_failure: Option<String>,
}

pub(crate) struct Shared {
    pub(crate) cfg: LoadConfig,
    pub(crate) start: Instant,
    /// µs since `start` at which tasks stop sending.
    pub(crate) deadline_us: AtomicU64,
    pub(crate) keys: Vec<KeyState>,
    pub(crate) ops: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) errors_after_fault: AtomicU64,
    pub(crate) verify_failures: AtomicU64,
    pub(crate) stale_reads: AtomicU64,
    pub(crate) older_after_failover: AtomicU64,
    /// Successes per `BUCKET_MS`.
    pub(crate) buckets: Box<[AtomicU64]>,
    /// Errors per `BUCKET_MS`.
    pub(crate) error_buckets: Box<[AtomicU64]>,
    /// µs since start of the latest success.
    pub(crate) last_ok_us: AtomicU64,
    /// Longest gap between successes (µs), for a check without the lock.
    pub(crate) max_gap_us: AtomicU64,
    /// Longest gap and the µs at which it ended.
    pub(crate) max_gap: Mutex<(u64, u64)>,
    /// µs since start of the fault; [`NEVER`] before it.
    pub(crate) fault_at_us: AtomicU64,
    /// µs since start of the promotion that ends the fault; [`NEVER`] before it.
    pub(crate) promoted_at_us: AtomicU64,
    pub(crate) tallies: Mutex<Tallies>,
    /// Latencies of successes, per second (by the second an operation started).
    pub(crate) seconds: Mutex<Vec<Histogram<u64>>>,
    pub(crate) template: Histogram<u64>,
    /// Which keys operations pick.
    pub(crate) picker: crate::keys::KeyPicker,
}

impl Shared {
    /// Counters for a run of `cfg` starting at `start`, with `keys` key names.
    pub(crate) fn new(cfg: LoadConfig, start: Instant, template: Histogram<u64>) -> Shared {
        let bucket_count = ((cfg.duration + cfg.grace).as_millis() / u128::from(BUCKET_MS)) as usize + 1;
        Shared {
            keys: (0..cfg.keys)
                .map(|i| KeyState {
                    name: crate::value::key_name(&cfg.key_prefix, i),
                    issued: AtomicU64::new(0),
                    acked: AtomicU64::new(0),
                })
                .collect(),
            start,
            deadline_us: AtomicU64::new(u64::try_from(cfg.duration.as_micros()).unwrap_or(u64::MAX)),
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            errors_after_fault: AtomicU64::new(0),
            verify_failures: AtomicU64::new(0),
            stale_reads: AtomicU64::new(0),
            older_after_failover: AtomicU64::new(0),
            buckets: (0..bucket_count).map(|_| AtomicU64::new(0)).collect(),
            error_buckets: (0..bucket_count).map(|_| AtomicU64::new(0)).collect(),
            last_ok_us: AtomicU64::new(0),
            max_gap_us: AtomicU64::new(0),
            max_gap: Mutex::new((0, 0)),
            fault_at_us: AtomicU64::new(NEVER),
            promoted_at_us: AtomicU64::new(NEVER),
            tallies: Mutex::new(Tallies::default()),
            seconds: Mutex::new(Vec::new()),
            template,
            picker: crate::keys::KeyPicker::new(cfg.keys_dist, cfg.keys, cfg.clients as u64),
            cfg,
        }
    }

    pub(crate) fn count_success(&self, at_us: u64) {
        self.ops.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = self.buckets.get((at_us / 1000 / BUCKET_MS) as usize) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let prev = self.last_ok_us.fetch_max(at_us, Ordering::AcqRel);
        let gap = at_us.saturating_sub(prev);
        if gap > self.max_gap_us.load(Ordering::Relaxed) {
            self.max_gap_us.fetch_max(gap, Ordering::Relaxed);
            if let Ok(mut g) = self.max_gap.lock() {
                if gap > g.0 {
                    *g = (gap, at_us);
                }
            }
        }
    }

    /// Counts an error under `"<op> <kind>"` (e.g. `GET timeout`): whether a
    /// read or a write failed says whether the client could have retried it.
    pub(crate) fn count_error(&self, op: &str, e: Failure, at_us: u64) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = self.error_buckets.get((at_us / 1000 / BUCKET_MS) as usize) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        if at_us >= self.fault_at_us.load(Ordering::Acquire) {
            self.errors_after_fault.fetch_add(1, Ordering::Relaxed);
        }
        let key = format!("{op} {}", e.kind);
        if let Ok(mut t) = self.tallies.lock() {
            *t.errors_by_kind.entry(key.clone()).or_insert(0) += 1;
            t.error_samples.entry(key).or_insert(e.message);
        }
    }

    /// Counts a verdict; `describe` tells what was read, for the first failure only.
    pub(crate) fn record_verdict(&self, verdict: Verdict, describe: impl FnOnce(&str) -> String) {
        match verdict {
            Verdict::Ok => {}
            Verdict::Stale => {
                self.stale_reads.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::OlderAfterFailover => {
                self.older_after_failover.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Wrong(reason) => {
                self.verify_failures.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut t) = self.tallies.lock() {
                    *t.failures_by_reason.entry(reason.to_string()).or_insert(0) += 1;
                    if t.first_failure.is_none() {
                        t.first_failure = Some(describe(reason));
                    }
                }
            }
        }
    }

    /// Adds a task's latencies of `second` to the shared histograms and resets them.
    pub(crate) fn flush_second(&self, second: usize, hist: &mut Histogram<u64>) {
        if hist.is_empty() {
            return;
        }
        if let Ok(mut seconds) = self.seconds.lock() {
            while seconds.len() <= second {
                seconds.push(self.template.clone());
            }
            if let Some(s) = seconds.get_mut(second) {
                let _ = s.add(&*hist);
            }
        }
        hist.reset();
    }

    pub(crate) fn at(&self, what: &AtomicU64) -> Option<u64> {
        Some(what.load(Ordering::Acquire)).filter(|&t| t != NEVER)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_longest_gap_between_successes_is_kept() {
        let cfg = LoadConfig::new(1, Duration::from_secs(1), 1, "t:");
        let shared = Shared::new(cfg, Instant::now(), crate::measure::new_hist().unwrap());
        assert_eq!(shared.buckets.len(), 61, "1 s + 5 s grace, per 100 ms, plus one");
        for at in [1_000, 2_000, 400_000, 400_500, 350_000, 900_000] {
            shared.count_success(at);
        }
        // Gaps: 1 ms, 1 ms, 398 ms, 0.5 ms, none (out of order), 499.5 ms.
        assert_eq!(*shared.max_gap.lock().unwrap(), (499_500, 900_000));
        assert_eq!(shared.ops.load(Ordering::Relaxed), 6);
        assert_eq!(shared.buckets[0].load(Ordering::Relaxed), 2);
        assert_eq!(shared.buckets[3].load(Ordering::Relaxed), 1);
        assert_eq!(shared.buckets[4].load(Ordering::Relaxed), 2);
        assert_eq!(shared.buckets[9].load(Ordering::Relaxed), 1);
        let io = |m: &str| Failure { kind: Cow::Borrowed("io"), message: m.into() };
        shared.count_error("GET", io("gone"), 5);
        shared.count_error("GET", io("again"), 150_000);
        shared.fault_at_us.store(150_000, Ordering::Release);
        shared.count_error("SET", io("set"), 150_000);
        assert_eq!(shared.error_buckets[0].load(Ordering::Relaxed), 1);
        assert_eq!(shared.error_buckets[1].load(Ordering::Relaxed), 2);
        let t = shared.tallies.lock().unwrap();
        assert_eq!(t.errors_by_kind.get("GET io"), Some(&2));
        assert_eq!(t.errors_by_kind.get("SET io"), Some(&1));
        assert_eq!(t.error_samples.get("GET io").map(String::as_str), Some("gone"));
        assert_eq!(shared.errors_after_fault.load(Ordering::Relaxed), 1);
    }
}
