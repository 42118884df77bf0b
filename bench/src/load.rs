//! One run of the harness: the shared verified load (`redwire-load`) driven
//! through one client library, a primary killed at a set time when asked,
//! and the result as a [`Summary`].
//!
//! What the load does and how it verifies every `GET` is documented in
//! `redwire-load` (`run`, `verify`); the settings the harness fixes are here:
//! keys `e2e:<i>`, 5 s grace for replies after the deadline, 1 ms pause after
//! an error, 1 s for replicas to catch up with the prefill before replica reads.
//!
//! Not here: which library sends (`driver`), the command line (`args`).

use std::time::Duration;

use redwire_load::measure::latency_bins;
use redwire_load::{Failure, KeyDist, Marker, Mix, Report};

use crate::args::Ratio;
use crate::driver::Driver;
use crate::summary::{CacheCounters, Summary};

/// Time before the measured run during which replicas catch up with the prefill.
const REPLICA_SETTLE: Duration = Duration::from_secs(1);

/// A primary to kill during the run.
#[derive(Debug, Clone)]
pub struct KillPlan {
    /// When, after the measured run starts.
    pub at: Duration,
    /// The process.
    pub pid: i32,
    /// Its replica (host:port), polled with `ROLE` after the kill.
    pub watch: Option<String>,
}

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Concurrent tasks.
    pub clients: usize,
    /// Measured time.
    pub duration: Duration,
    /// Distinct keys.
    pub keys: u64,
    /// Value size in bytes.
    pub value_size: usize,
    /// GET:SET weights.
    pub ratio: Ratio,
    /// How keys are picked.
    pub keys_dist: KeyDist,
    /// The driver was connected with its client-side cache (recorded; the
    /// driver itself decides how it reads).
    pub cache: bool,
    /// Reads may be served by replicas, so older versions are allowed.
    pub replicas: bool,
    /// Kill a primary during the run.
    pub kill: Option<KillPlan>,
}

/// Prefills, runs the load (killing the primary if planned), and summarizes
/// it, with the cache's counters when the driver has a cache.
///
/// # Errors
/// A `setup` failure when the prefill fails; errors during the run are
/// counted, not returned.
pub async fn run(driver: Driver, cfg: LoadConfig, client: &str, topology: &str) -> Result<Summary, Failure> {
    let mut load = redwire_load::LoadConfig::new(cfg.clients, cfg.duration, cfg.keys, "e2e:");
    load.value_size = cfg.value_size;
    load.mix = Mix::get_set(cfg.ratio.get, cfg.ratio.set);
    load.keys_dist = cfg.keys_dist;
    load.replicas = cfg.replicas;
    if cfg.replicas {
        load.settle = REPLICA_SETTLE;
    }
    // A handle on the same client (clones share its cache) to read the counters at the end.
    let counters = driver.clone();
    let running = redwire_load::start(driver, load).await?;
    let killer = cfg.kill.clone().map(|plan| {
        let marker = running.marker();
        tokio::spawn(async move { kill_and_watch(marker, plan).await })
    });
    let report = running.finish().await;
    if let Some(k) = killer {
        // The watcher gives up at the end of the grace time at the latest.
        let _ = k.await;
    }
    Ok(summarize(&report, &cfg, counters.cache_stats(), client, topology))
}

/// Kills at the planned time and marks it, then waits for the promotion and marks that.
async fn kill_and_watch(marker: Marker, plan: KillPlan) {
    tokio::time::sleep_until(tokio::time::Instant::from_std(marker.start() + plan.at)).await;
    let killed = std::time::Instant::now();
    if let Err(e) = crate::watch::kill(plan.pid) {
        eprintln!("e2e: {e}");
        return;
    }
    marker.mark_fault_at(killed);
    let Some(addr) = plan.watch else { return };
    let until = marker.deadline() + Duration::from_secs(5);
    let poll = Duration::from_millis(50);
    let seen = tokio::task::spawn_blocking(move || crate::watch::wait_for_promotion(&addr, poll, until))
        .await
        .ok()
        .flatten();
    if let Some(seen) = seen {
        marker.mark_promotion_at(seen);
    }
}

fn summarize(
    r: &Report,
    cfg: &LoadConfig,
    cache_stats: Option<CacheCounters>,
    client: &str,
    topology: &str,
) -> Summary {
    Summary {
        client: client.to_string(),
        topology: topology.to_string(),
        replicas: cfg.replicas,
        clients: r.clients,
        keys: cfg.keys,
        value_size: cfg.value_size,
        ratio: format!("{}:{}", cfg.ratio.get, cfg.ratio.set),
        keys_dist: match cfg.keys_dist {
            KeyDist::Uniform => "uniform".into(),
            KeyDist::Zipf(_) => "zipf".into(),
        },
        zipf_s: match cfg.keys_dist {
            KeyDist::Uniform => None,
            KeyDist::Zipf(s) => Some(s),
        },
        cache: cfg.cache,
        cache_stats,
        duration_s: r.elapsed.as_secs_f64(),
        ops: r.ops,
        ops_per_sec: r.ops_per_sec(),
        p50_us: r.quantile_us(0.5),
        p99_us: r.quantile_us(0.99),
        p999_us: r.quantile_us(0.999),
        max_us: r.latency.max(),
        cpu_us_per_op: r.cpu_us_per_op(),
        errors: r.errors,
        errors_by_kind: r.errors_by_kind.clone(),
        error_samples: r.error_samples.clone(),
        verify_failures: r.verify_failures,
        verify_failures_by_reason: r.verify_failures_by_reason.clone(),
        first_verify_failure: r.first_verify_failure.clone(),
        stale_reads: r.stale_reads,
        older_after_failover: r.older_after_failover,
        unfinished_tasks: r.unfinished_tasks,
        timeline: r.seconds.clone(),
        timeline_100ms: r.buckets.clone(),
        latency_bins: latency_bins(&r.latency),
        failover: r.failover.clone(),
    }
}
