//! The JSON record of one run: written by `e2e --json` (one line), read back
//! by `e2e-report` (tables) and `e2e-plot` (pictures). Field names are the
//! ones the brief asks for; fields added later have defaults, so older
//! records still read.

use std::collections::BTreeMap;

use redwire_load::plot::PlotRun;
use serde::{Deserialize, Serialize};

use crate::failover::FailoverReport;

pub use redwire_load::{Bucket, Second};

/// Everything one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `redwire`, `redis-rs` or `fred`.
    pub client: String,
    /// `standalone` or `cluster`.
    pub topology: String,
    /// Reads went to replicas.
    pub replicas: bool,
    /// Concurrent tasks.
    pub clients: usize,
    /// Distinct keys.
    pub keys: u64,
    /// Value size in bytes.
    pub value_size: usize,
    /// `GET:SET` weights.
    pub ratio: String,
    /// Measured wall time.
    pub duration_s: f64,
    /// Successful operations.
    pub ops: u64,
    /// `ops / duration_s`.
    pub ops_per_sec: f64,
    /// Latency percentiles of successful operations, in µs.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Slowest successful operation.
    pub max_us: u64,
    /// Process CPU (user + system, all threads) per successful operation, in µs.
    pub cpu_us_per_op: f64,
    /// Errors returned by the client.
    pub errors: u64,
    /// Errors by operation and the client's own kind name (`"GET timeout"`).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The first message seen of each error kind.
    pub error_samples: BTreeMap<String, String>,
    /// GETs whose value was wrong: missing, garbled, another key's, a
    /// version never written, or older than one already acknowledged.
    pub verify_failures: u64,
    /// Verify failures by reason.
    pub verify_failures_by_reason: BTreeMap<String, u64>,
    /// The first verify failure, described.
    pub first_verify_failure: Option<String>,
    /// Replica reads older than an acknowledged write (allowed with `--replicas`).
    pub stale_reads: u64,
    /// GETs sent after the kill that returned a version older than one
    /// acknowledged before: acknowledged writes lost in the failover (Valkey
    /// replicates asynchronously), or reordered by the client's retries.
    pub older_after_failover: u64,
    /// Tasks still waiting on a reply 5 s after the end (aborted).
    pub unfinished_tasks: usize,
    /// Per second: ops, errors, p99.
    pub timeline: Vec<Second>,
    /// Per 100 ms: ops and errors (for the pictures).
    #[serde(default)]
    pub timeline_100ms: Vec<Bucket>,
    /// Latency counts in logarithmic bins, four per doubling from 1 µs
    /// (`redwire_load::measure::latency_bins`).
    #[serde(default)]
    pub latency_bins: Vec<u64>,
    /// Present for failover runs.
    pub failover: Option<FailoverReport>,
}

impl Summary {
    /// The data of this run's picture, labelled `label`; the kill and the
    /// promotion are marked for a failover run.
    pub fn plot_run(&self, label: &str) -> PlotRun {
        PlotRun {
            label: label.to_string(),
            buckets: self.timeline_100ms.clone(),
            p99_us: self.timeline.iter().map(|s| s.p99_us).collect(),
            latency_bins: self.latency_bins.clone(),
            fault_at_ms: self.failover.as_ref().map(|f| f.kill_at_ms),
            promoted_at_ms: self.failover.as_ref().and_then(|f| f.promoted_at_ms),
        }
    }
}
