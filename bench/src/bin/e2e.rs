//! `e2e`: one verified GET/SET load run of one client library (redwire,
//! redis-rs or fred) against a Valkey server or cluster; see
//! `redwire_bench::args::Args` for the flags and `bench/README.md`.
//!
//! With `--plot FILE.svg` it also draws the run (`e2e-plot` draws several
//! side by side from their JSON records).
//!
//! Exit code: 0 for a clean run, 2 when a GET returned a wrong value, 1 when
//! the run could not start (connect, prefill).

use std::time::Duration;

use clap::Parser;
use redwire_bench::args::Args;
use redwire_bench::driver::Driver;
use redwire_bench::load::{self, KillPlan, LoadConfig};
use redwire_bench::summary::Summary;

/// Longest wait for a client to connect (and for a cluster client, to learn the topology).
const CONNECT_LIMIT: Duration = Duration::from_secs(30);

fn main() {
    let args = Args::parse();
    if let Err(e) = args.check() {
        eprintln!("e2e: {e}");
        std::process::exit(1);
    }
    #[cfg(feature = "metrics")]
    let recorder = redwire_bench::recorder::install();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("e2e: runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async {
        // A client that can neither connect nor fail must not hang the whole matrix.
        let driver = match tokio::time::timeout(CONNECT_LIMIT, Driver::connect(&args)).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                eprintln!("e2e: {}", e.message);
                return 1;
            }
            Err(_) => {
                eprintln!("e2e: {} did not connect within {CONNECT_LIMIT:?}", args.client.name());
                return 1;
            }
        };
        let cfg = LoadConfig {
            clients: args.clients.max(1),
            duration: args.duration,
            keys: args.keys.max(1),
            value_size: args.value_size,
            ratio: args.ratio,
            keys_dist: args.key_dist(),
            cache: args.cache,
            replicas: args.replicas,
            kill: match (args.kill_primary_at, args.kill_pid) {
                (Some(at), Some(pid)) => Some(KillPlan { at, pid, watch: args.watch_promotion.clone() }),
                _ => None,
            },
        };
        let topology = if args.is_cluster() { "cluster" } else { "standalone" };
        match load::run(driver, cfg, args.client.name(), topology).await {
            Ok(summary) => {
                if let Some(path) = &args.plot {
                    let svg = redwire_load::plot::render(
                        &plot_title(&summary),
                        &[summary.plot_run(&summary.client)],
                    );
                    if let Err(e) = std::fs::write(path, svg) {
                        eprintln!("e2e: --plot {}: {e}", path.display());
                    }
                }
                print_summary(&summary, args.json);
                if summary.verify_failures > 0 {
                    2
                } else {
                    0
                }
            }
            Err(e) => {
                eprintln!("e2e: {}", e.message);
                1
            }
        }
    });
    #[cfg(feature = "metrics")]
    if let Some(r) = recorder {
        eprint!("{}", r.render());
    }
    // Client background tasks may still hold connections: do not wait for them.
    runtime.shutdown_background();
    std::process::exit(code);
}

fn plot_title(s: &Summary) -> String {
    format!(
        "{} {}{}{}, {} tasks, {:.1} s, GET:SET {}, {} keys, {:.0} ops/s, p99 {} us, {} errors, {} verify failures",
        s.client,
        s.topology,
        if s.replicas { " (replica reads)" } else { "" },
        if s.cache { " (cache)" } else { "" },
        s.clients,
        s.duration_s,
        s.ratio,
        s.keys_label(),
        s.ops_per_sec,
        s.p99_us,
        s.errors,
        s.verify_failures
    )
}

fn print_summary(s: &Summary, json: bool) {
    if json {
        match serde_json::to_string(s) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("e2e: summary: {e}"),
        }
        return;
    }
    println!(
        "{} {}{} tasks {}: {:.0} ops/s over {:.1} s, p50 {} us, p99 {} us, p99.9 {} us, max {} us, cpu {:.2} us/op",
        s.client,
        s.topology,
        if s.replicas { " (replica reads)" } else { "" },
        s.clients,
        s.ops_per_sec,
        s.duration_s,
        s.p50_us,
        s.p99_us,
        s.p999_us,
        s.max_us,
        s.cpu_us_per_op
    );
    println!(
        "errors {} {:?}, verify failures {} {:?}, stale reads {}, older after failover {}, unfinished {}",
        s.errors,
        s.errors_by_kind,
        s.verify_failures,
        s.verify_failures_by_reason,
        s.stale_reads,
        s.older_after_failover,
        s.unfinished_tasks
    );
    println!(
        "keys {} ({}), cache {}",
        s.keys,
        s.keys_label(),
        match (&s.cache_stats, s.hit_rate()) {
            (Some(c), rate) => format!(
                "on: hit rate {}, hits {}, misses {}, invalidations {}",
                rate.map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0)),
                c.hits,
                c.misses,
                c.invalidations
            ),
            (None, _) if s.cache => "on (no counters)".into(),
            (None, _) => "off".into(),
        }
    );
    if let Some(f) = &s.first_verify_failure {
        println!("first verify failure: {f}");
    }
    for (kind, message) in &s.error_samples {
        println!("error sample [{kind}]: {message}");
    }
    for t in &s.timeline {
        println!("  {:>3}s {:>9} ops {:>6} errors p99 {} us", t.second, t.ops, t.errors, t.p99_us);
    }
    if let Some(f) = &s.failover {
        println!(
            "failover: killed at {} ms, promoted at {:?} ms, full speed at {:?} ms ({:?} ms after promotion), longest stall {} ms from {} ms, degraded {} ms",
            f.kill_at_ms,
            f.promoted_at_ms,
            f.recovered_at_ms,
            f.recovery_after_promotion_ms,
            f.max_stall_ms,
            f.max_stall_from_ms,
            f.degraded_ms
        );
    }
}
