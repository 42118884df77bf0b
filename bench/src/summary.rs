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
    /// How keys were picked: `uniform`, or `zipf` with [`Summary::zipf_s`].
    #[serde(default = "uniform")]
    pub keys_dist: String,
    /// The Zipf exponent, for `keys_dist == "zipf"`.
    #[serde(default)]
    pub zipf_s: Option<f64>,
    /// The client's own client-side cache was on (`e2e --cache`).
    #[serde(default)]
    pub cache: bool,
    /// The cache's counters at the end of the run, from the library itself
    /// (present with `cache`).
    #[serde(default)]
    pub cache_stats: Option<CacheCounters>,
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

fn uniform() -> String {
    "uniform".into()
}

/// A client-side cache's counters, as the library reports them: redwire's
/// `CacheStats`, redis-rs's `CacheStatistics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCounters {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Cacheable reads that went to the server.
    pub misses: u64,
    /// Entries dropped on the server's word or the client's own write
    /// (redwire: keys; redis-rs: cached items, LRU evictions included).
    pub invalidations: u64,
}

impl CacheCounters {
    /// `hits / (hits + misses)`; `None` without any lookup.
    pub fn hit_rate(&self) -> Option<f64> {
        let total = self.hits.saturating_add(self.misses);
        (total > 0).then(|| self.hits as f64 / total as f64)
    }
}

impl Summary {
    /// The hit rate of the run's cache, when it had one that was asked.
    pub fn hit_rate(&self) -> Option<f64> {
        self.cache_stats.as_ref().and_then(CacheCounters::hit_rate)
    }

    /// How keys were picked, for people: `uniform` or `zipf s=0.99`.
    pub fn keys_label(&self) -> String {
        match self.zipf_s {
            Some(s) if self.keys_dist == "zipf" => format!("zipf s={s}"),
            _ => self.keys_dist.clone(),
        }
    }

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
