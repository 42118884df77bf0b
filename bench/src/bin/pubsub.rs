//! `pubsub`: pub/sub throughput and latency of redwire and redis-rs, side by
//! side, against one running server.
//!
//! ```text
//! pubsub --url redis://127.0.0.1:PORT --subscribers 4 --messages 200000 --payload 64 \
//!        [--client redwire --client redis-rs] [--window 256] [--json]
//! ```
//!
//! Each library named (default: both, redwire first) runs once, in a fresh
//! tokio runtime with 2 worker threads, one after the other, on a channel of
//! its own. Output: a summary per library, or with `--json` one JSON object
//! per line (the fields of `pubsub::run::Report`). Exit status 1 if a run
//! failed (connect, subscribe or publish error); loss and reordering are
//! reported, not failures.
//!
//! Not here: the measurement (`src/pubsub/`), starting a server and the
//! markdown table (`run-pubsub.sh`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

#[path = "../pubsub/mod.rs"]
mod pubsub;

use pubsub::client::Library;
use pubsub::payload::HEADER;
use pubsub::run::{run, Config, Report};

/// Pub/sub throughput and latency, redwire vs redis-rs.
#[derive(Debug, Parser)]
#[command(name = "pubsub")]
struct Args {
    /// Library to run; repeat or comma-separate for several (in that order).
    #[arg(long = "client", value_delimiter = ',', default_values = ["redwire", "redis-rs"])]
    clients: Vec<Library>,
    /// Server URL (standalone).
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    url: String,
    /// Subscribers, each on its own connection.
    #[arg(long, default_value_t = 1)]
    subscribers: usize,
    /// Messages published (each delivered to every subscriber).
    #[arg(long, default_value_t = 200_000)]
    messages: u64,
    /// Payload bytes per message (at least 16: sequence number and timestamp).
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Publishes in flight at most, the same for every library.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// redwire's subscriber buffer in events (default: redwire's own default).
    #[arg(long)]
    redwire_buffer: Option<usize>,
    /// Stop a run when nothing was published or delivered for this many seconds.
    #[arg(long, default_value_t = 10)]
    stall_secs: u64,
    /// One JSON object per run, one per line.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.payload < HEADER {
        eprintln!("pubsub: --payload must be at least {HEADER} bytes");
        return ExitCode::from(2);
    }
    if args.subscribers == 0 || args.messages == 0 || args.window == 0 {
        eprintln!("pubsub: --subscribers, --messages and --window must be at least 1");
        return ExitCode::from(2);
    }
    let config = Config {
        subscribers: args.subscribers,
        messages: args.messages,
        payload: args.payload,
        window: args.window,
        buffer: args.redwire_buffer,
        stall: Duration::from_secs(args.stall_secs.max(1)),
    };
    let mut failed = false;
    for &library in &args.clients {
        match run_fresh(library, &args.url, &config) {
            Ok(report) => print(&report, args.json),
            Err(e) => {
                eprintln!("pubsub: {}: {e}", library.name());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One run in a runtime of its own, shut down before the next starts, so no
/// task or thread of one library is left to use CPU during the other's run.
fn run_fresh(library: Library, url: &str, config: &Config) -> Result<Report, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let result = runtime.block_on(run(library, url, config));
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

fn print(r: &Report, json: bool) {
    if json {
        match serde_json::to_string(r) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("pubsub: json: {e}"),
        }
        return;
    }
    println!(
        "{} | {} subscriber(s), {} messages of {} B, window {}",
        r.client, r.subscribers, r.messages, r.payload, r.window
    );
    println!("  published  {:>10.0} msg/s ({} in {:.2} s)", r.published_per_sec, r.published, r.publish_secs);
    println!("  delivered  {:>10.0} msg/s ({} in {:.2} s)", r.delivered_per_sec, r.delivered, r.deliver_secs);
    println!(
        "  latency    p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us",
        r.latency_us.p50, r.latency_us.p99, r.latency_us.p999, r.latency_us.max
    );
    println!(
        "  checks     lost {}, out of order {}, duplicates {}, malformed {}, dropped (reported) {}, \
         interruptions {}, short publishes {}{}",
        r.lost,
        r.out_of_order,
        r.duplicates,
        r.malformed,
        r.reported_dropped,
        r.interruptions,
        r.short_publishes,
        if r.stalled { ", STALLED" } else { "" }
    );
    println!("  cpu        {:.2} s, {:.2} us per delivered message", r.cpu_secs, r.cpu_us_per_delivered);
}
