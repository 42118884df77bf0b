//! `e2e-plot OUT.svg FILE...`: one SVG with the runs recorded in the JSON
//! lines that `e2e --json` printed (other lines are skipped), side by side
//! on the same axes: ops/s, p99 and errors over time with the kill and the
//! promotion marked, and the latency histograms. `run-e2e.sh` calls it with
//! the failover records (`PLOTS=1`), so redwire, redis-rs and fred recovering
//! from the same fault can be compared at a glance.
//!
//! Exit code: 0 when written, 1 on a bad argument or file, or no records.

use redwire_bench::report::parse_summaries;
use redwire_bench::summary::Summary;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: e2e-plot OUT.svg RESULTS.jsonl...");
        std::process::exit(1);
    };
    let mut runs: Vec<Summary> = Vec::new();
    for path in args {
        let parsed =
            std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| parse_summaries(&t));
        match parsed {
            Ok(mut r) => runs.append(&mut r),
            Err(e) => {
                eprintln!("e2e-plot: {path}: {e}");
                std::process::exit(1);
            }
        }
    }
    let Some(first) = runs.first() else {
        eprintln!("e2e-plot: no run records in the files given");
        std::process::exit(1);
    };
    let plots: Vec<_> = runs.iter().map(|s| s.plot_run(&label(s, &runs))).collect();
    let svg = redwire_load::plot::render(&title(first), &plots);
    if let Err(e) = std::fs::write(&out, svg) {
        eprintln!("e2e-plot: {out}: {e}");
        std::process::exit(1);
    }
}

/// The client's name, with the shape of the run when several runs share a client.
fn label(s: &Summary, all: &[Summary]) -> String {
    if all.iter().filter(|o| o.client == s.client).count() == 1 {
        return s.client.clone();
    }
    format!("{} {} {} tasks{}", s.client, s.topology, s.clients, if s.replicas { " replicas" } else { "" })
}

fn title(first: &Summary) -> String {
    let kind = if first.failover.is_some() { "primary killed under load" } else { "load" };
    let kill = first.failover.as_ref().map_or(String::new(), |f| format!(", kill at {} ms", f.kill_at_ms));
    format!(
        "{} {kind}: {} tasks, {:.0} s, GET:SET {}{kill}",
        first.topology, first.clients, first.duration_s, first.ratio
    )
}
