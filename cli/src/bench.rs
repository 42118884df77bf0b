//! `redwire bench`: the verified GET/SET load (the default workload;
//! `--workload counter` lives in `bench_counter.rs`), run by the shared
//! generator in `load/` (`redwire-load`), printed as text or JSON, and drawn
//! as an SVG with `--plot`.
//!
//! N tasks share one client. Every value encodes its key and a version, so
//! every GET is checked: the key must match, and the version must lie between
//! the newest version acknowledged before the GET was sent (unless reads may
//! be stale, e.g. from replicas) and the newest version issued when it
//! returned. A mismatch is a `verify_failure`, never silent. Errors are counted
//! by kind and the run goes on. The summary has an HDR latency histogram,
//! ops/s, client CPU per op, and a per-second timeline.
//!
//! Keys are picked uniformly, or Zipf-distributed (`--keys-dist zipf`: key 0
//! hottest; writes, which stay with each key's one writer, are Zipf over that
//! writer's keys). With a client-side cache (`--cache`) the summary adds the
//! cache's hit rate; verification is unchanged: the client's own writes drop
//! its cached entries at once, so every GET must still be exact.
//!
//! Not here: the loop, the verification and the SVG writer (`redwire-load`);
//! what a GET or SET goes to (`target`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use redwire::Error;
use redwire_load::{Failure, LoadConfig, Mix, Report};

use crate::target::Target;

/// Bench parameters.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    pub clients: usize,
    pub duration: Duration,
    pub keys: u64,
    pub value_size: usize,
    pub get_ratio: u32,
    pub set_ratio: u32,
    pub json: bool,
    pub stale_reads_ok: bool,
    /// How keys are picked.
    pub key_dist: redwire_load::KeyDist,
    /// Write the run's picture here (SVG).
    pub plot: Option<PathBuf>,
    /// Mark this time (since the start) in the picture: when a fault was injected.
    pub mark_at: Option<Duration>,
}

/// 1 µs .. 60 s at 3 significant figures.
pub fn new_hist() -> Result<Histogram<u64>, Error> {
    redwire_load::measure::new_hist().map_err(|e| Error::Other(e.message))
}

/// CPU time this process has used so far (user plus system).
pub fn cpu_time() -> Duration {
    redwire_load::measure::cpu_time()
}

/// The CLI's target as the load generator sees it.
#[derive(Clone)]
struct TargetDriver(Arc<Target>);

fn failure(e: Error) -> Failure {
    Failure::new(e.kind_name(), e.to_string())
}

impl redwire_load::Driver for TargetDriver {
    type Value = Bytes;

    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, Failure> {
        self.0.get(key).await.map_err(failure)
    }

    async fn set(&mut self, key: &[u8], value: Bytes) -> Result<(), Failure> {
        self.0.set(key, value).await.map_err(failure)
    }
}

/// Runs the bench and prints the summary. Returns the process exit code.
pub async fn run(target: Target, args: BenchArgs) -> Result<i32, Error> {
    let mut cfg = LoadConfig::new(args.clients, args.duration, args.keys, "rwbench:");
    cfg.value_size = args.value_size;
    cfg.mix = Mix::get_set(args.get_ratio, args.set_ratio);
    // Replica reads may trail the primary; anything else must be exact.
    cfg.replicas = args.stale_reads_ok;
    cfg.keys_dist = args.key_dist;
    let setup = |e: Failure| Error::Other(e.message);
    let target = Arc::new(target);
    let running = redwire_load::start(TargetDriver(target.clone()), cfg).await.map_err(setup)?;
    if !args.json && std::io::stderr().is_terminal() {
        show_progress(&running, args.duration).await;
    }
    let report = running.finish().await;
    if let Some(path) = &args.plot {
        write_plot(path, &report, &args)?;
    }
    let cache = target.cache_stats();
    if args.json {
        let mut summary = json(&report);
        summary["keys_dist"] = match args.key_dist {
            redwire_load::KeyDist::Uniform => serde_json::json!("uniform"),
            redwire_load::KeyDist::Zipf(s) => serde_json::json!({ "zipf": s }),
        };
        summary["cache"] = match &cache {
            Some(c) => serde_json::json!({
                "hit_rate": c.hit_rate(),
                "hits": c.hits,
                "misses": c.misses,
                "invalidations": c.invalidations,
                "evictions": c.evictions,
                "flushes": c.flushes,
                "entries": c.entries,
                "bytes": c.bytes,
            }),
            None => serde_json::Value::Null,
        };
        summary["client_stats"] = target.stats_json();
        println!("{summary}");
    } else {
        print_text(&report, &args, target.stats_line());
        if let Some(c) = cache {
            println!(
                "cache: hit rate {:.1}%  hits {}  misses {}  invalidations {}  evictions {}  flushes {}  entries {}",
                c.hit_rate() * 100.0,
                c.hits,
                c.misses,
                c.invalidations,
                c.evictions,
                c.flushes,
                c.entries
            );
        }
    }
    Ok(if report.verify_failures > 0 { 2 } else { 0 })
}

/// A progress bar on stderr until the deadline.
async fn show_progress(running: &redwire_load::Running, duration: Duration) {
    let pb = indicatif::ProgressBar::new(duration.as_secs().max(1));
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len}s {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let p = running.progress();
        pb.set_position(p.elapsed.as_secs());
        pb.set_message(format!(
            "{:.0} ops/s, {} errors, {} verify failures",
            p.ops as f64 / p.elapsed.as_secs_f64().max(0.001),
            p.errors,
            p.verify_failures
        ));
    }
    pb.finish_and_clear();
}

fn write_plot(path: &PathBuf, report: &Report, args: &BenchArgs) -> Result<(), Error> {
    let mut run = report.plot_run("redwire");
    if let Some(at) = args.mark_at {
        run.fault_at_ms = Some(u64::try_from(at.as_millis()).unwrap_or(u64::MAX));
    }
    let title = format!(
        "redwire bench: {} clients, {:.1} s, GET:SET {}:{}, {:.0} ops/s, p99 {} us, {} errors, {} verify failures",
        args.clients,
        report.elapsed.as_secs_f64(),
        args.get_ratio,
        args.set_ratio,
        report.ops_per_sec(),
        report.quantile_us(0.99),
        report.errors,
        report.verify_failures
    );
    std::fs::write(path, redwire_load::plot::render(&title, &[run]))
        .map_err(|e| Error::Other(format!("--plot {}: {e}", path.display())))
}

fn json(r: &Report) -> serde_json::Value {
    let timeline: Vec<serde_json::Value> = r
        .seconds
        .iter()
        .map(|s| serde_json::json!({ "second": s.second, "ops": s.ops, "errors": s.errors, "p99_us": s.p99_us }))
        .collect();
    serde_json::json!({
        "clients": r.clients,
        "duration_s": r.elapsed.as_secs_f64(),
        "ops": r.ops,
        "errors": r.errors,
        "verify_failures": r.verify_failures,
        "stale_reads": r.stale_reads,
        "ops_per_sec": r.ops_per_sec(),
        "p50_us": r.quantile_us(0.50),
        "p90_us": r.quantile_us(0.90),
        "p99_us": r.quantile_us(0.99),
        "p999_us": r.quantile_us(0.999),
        "max_us": r.latency.max(),
        "client_cpu_us_per_op": r.cpu_us_per_op(),
        "errors_by_kind": r.errors_by_kind_only(),
        "timeline": timeline,
    })
}

/// The text summary; `stats` is the client's own line (reconnects, redirects ...), if any.
fn print_text(r: &Report, args: &BenchArgs, stats: Option<String>) {
    println!(
        "clients {}  duration {:.1}s  keys {}  value {} B",
        args.clients,
        r.elapsed.as_secs_f64(),
        args.keys,
        args.value_size
    );
    println!(
        "ops {}  ops/s {:.0}  errors {}  verify_failures {}",
        r.ops,
        r.ops_per_sec(),
        r.errors,
        r.verify_failures
    );
    println!(
        "latency us: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        r.quantile_us(0.5),
        r.quantile_us(0.9),
        r.quantile_us(0.99),
        r.quantile_us(0.999),
        r.latency.max()
    );
    println!("client cpu per op: {:.2} us", r.cpu_us_per_op());
    if let Some(line) = stats {
        println!("{line}");
    }
    for (kind, n) in &r.errors_by_kind_only() {
        println!("errors[{kind}] = {n}");
    }
    if let Some(f) = &r.first_verify_failure {
        println!("first verify failure: {f}");
    }
}
