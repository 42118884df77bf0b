//! What a run measured ([`Report`]), built once from the shared tallies
//! when the run ends: totals, the verification outcome, the latency
//! histogram, the per-second and per-100 ms timelines, and the failover
//! analysis when a fault was marked. Each front end (the CLI, `bench/`, the
//! drills) prints or serializes the parts it wants.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::failover::{self, Events, FailoverReport, BUCKET_MS};
use crate::measure::micros_since;
use crate::tally::Shared;

/// One second of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since the measured run started.
    pub second: u64,
    /// Successful operations completed in this second.
    pub ops: u64,
    /// Errors returned in this second.
    pub errors: u64,
    /// 99th percentile latency of the successful operations that started in this second.
    pub p99_us: u64,
}

/// One [`BUCKET_MS`] slice of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Bucket {
    /// Successful operations completed in it.
    pub ops: u64,
    /// Errors returned in it.
    pub errors: u64,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Concurrent tasks.
    pub clients: usize,
    /// Measured wall time, from the start to the last task's end.
    pub elapsed: Duration,
    /// Successful operations.
    pub ops: u64,
    /// Errors returned by the client.
    pub errors: u64,
    /// Errors by operation and kind (`"GET timeout"`).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The first message seen of each of those.
    pub error_samples: BTreeMap<String, String>,
    /// Reads whose value was wrong: missing, garbled, another key's, a version
    /// never written, older than one acknowledged; counters that went back.
    pub verify_failures: u64,
    /// Verify failures by reason.
    pub verify_failures_by_reason: BTreeMap<String, u64>,
    /// The first verify failure, described.
    pub first_verify_failure: Option<String>,
    /// Replica reads older than an acknowledged write (allowed with `replicas`).
    pub stale_reads: u64,
    /// Reads sent after the fault that returned something older than acknowledged.
    pub older_after_failover: u64,
    /// Tasks still waiting on a reply after the grace time (aborted).
    pub unfinished_tasks: usize,
    /// Process CPU (user + system, all threads) over the measured run.
    pub cpu: Duration,
    /// Latency of every successful operation, µs.
    pub latency: Histogram<u64>,
    /// Per second of the planned (or stopped) run: ops, errors, p99.
    pub seconds: Vec<Second>,
    /// Per [`BUCKET_MS`] up to the deadline: ops and errors.
    pub buckets: Vec<Bucket>,
    /// When the fault was marked, ms since the start.
    pub fault_at_ms: Option<u64>,
    /// When the promotion was marked, ms since the start.
    pub promoted_at_ms: Option<u64>,
    /// The analysis of the fault, when one was marked.
    pub failover: Option<FailoverReport>,
}

impl Report {
    pub(crate) fn from_run(shared: &Shared, end: Instant, cpu: Duration, unfinished: usize) -> Report {
        let deadline_us = shared.deadline_us.load(Ordering::Acquire);
        let last_ok = shared.last_ok_us.load(Ordering::Relaxed);
        // A stall still running at the deadline counts up to the deadline.
        let (mut gap_us, mut gap_end_us) = shared.max_gap.lock().map(|g| *g).unwrap_or((0, 0));
        if deadline_us.saturating_sub(last_ok) > gap_us {
            gap_us = deadline_us.saturating_sub(last_ok);
            gap_end_us = deadline_us;
        }
        let tallies = shared.tallies.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default();
        let hists = shared.seconds.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        let mut latency = shared.template.clone();
        for h in &hists {
            let _ = latency.add(h);
        }
        let load = |b: &AtomicU64| b.load(Ordering::Relaxed);
        let in_run = deadline_us.div_ceil(1000 * BUCKET_MS) as usize;
        let buckets: Vec<Bucket> = shared
            .buckets
            .iter()
            .zip(shared.error_buckets.iter())
            .take(in_run)
            .map(|(ops, errors)| Bucket { ops: load(ops), errors: load(errors) })
            .collect();
        let per_second = (1000 / BUCKET_MS) as usize;
        let seconds = buckets
            .chunks(per_second)
            .enumerate()
            .map(|(i, chunk)| Second {
                second: i as u64,
                ops: chunk.iter().map(|b| b.ops).sum(),
                errors: chunk.iter().map(|b| b.errors).sum(),
                p99_us: hists.get(i).filter(|h| !h.is_empty()).map_or(0, |h| h.value_at_quantile(0.99)),
            })
            .collect();
        let fault_at_ms = shared.at(&shared.fault_at_us).map(|us| us / 1000);
        let promoted_at_ms = shared.at(&shared.promoted_at_us).map(|us| us / 1000);
        let failover = fault_at_ms.map(|kill_at_ms| {
            let ops: Vec<u64> =
                buckets.iter().take((deadline_us / 1000 / BUCKET_MS) as usize).map(|b| b.ops).collect();
            failover::analyze(
                &ops,
                Events {
                    kill_at_ms,
                    promoted_at_ms,
                    max_stall_ms: gap_us / 1000,
                    max_stall_from_ms: gap_end_us.saturating_sub(gap_us) / 1000,
                    errors_after_kill: shared.errors_after_fault.load(Ordering::Relaxed),
                },
            )
        });
        Report {
            clients: shared.cfg.clients,
            elapsed: Duration::from_micros(micros_since(shared.start, end)),
            ops: shared.ops.load(Ordering::Relaxed),
            errors: shared.errors.load(Ordering::Relaxed),
            errors_by_kind: tallies.errors_by_kind,
            error_samples: tallies.error_samples,
            verify_failures: shared.verify_failures.load(Ordering::Relaxed),
            verify_failures_by_reason: tallies.failures_by_reason,
            first_verify_failure: tallies.first_failure,
            stale_reads: shared.stale_reads.load(Ordering::Relaxed),
            older_after_failover: shared.older_after_failover.load(Ordering::Relaxed),
            unfinished_tasks: unfinished,
            cpu,
            latency,
            seconds,
            buckets,
            fault_at_ms,
            promoted_at_ms,
            failover,
        }
    }

    /// Successful operations per second of measured time.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Process CPU per successful operation, µs (0 without operations).
    pub fn cpu_us_per_op(&self) -> f64 {
        if self.ops == 0 {
            0.0
        } else {
            self.cpu.as_secs_f64() * 1e6 / self.ops as f64
        }
    }

    /// The latency at quantile `q` (0 ..= 1), µs; 0 without operations.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.latency.is_empty() {
            0
        } else {
            self.latency.value_at_quantile(q)
        }
    }

    /// Errors by kind alone, whatever the operation (`"timeout"`).
    pub fn errors_by_kind_only(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (key, n) in &self.errors_by_kind {
            let kind = key.split_once(' ').map_or(key.as_str(), |(_, kind)| kind);
            *out.entry(kind.to_string()).or_insert(0) += n;
        }
        out
    }

    /// The last 100 ms bucket with an error, as ms since the start.
    pub fn last_error_at_ms(&self) -> Option<u64> {
        self.buckets.iter().rposition(|b| b.errors > 0).map(|i| i as u64 * BUCKET_MS)
    }

    /// The data of this run's picture (see [`crate::plot`]).
    pub fn plot_run(&self, label: &str) -> crate::plot::PlotRun {
        crate::plot::PlotRun {
            label: label.to_string(),
            buckets: self.buckets.clone(),
            p99_us: self.seconds.iter().map(|s| s.p99_us).collect(),
            latency_bins: crate::measure::latency_bins(&self.latency),
            fault_at_ms: self.fault_at_ms,
            promoted_at_ms: self.promoted_at_ms,
        }
    }
}
