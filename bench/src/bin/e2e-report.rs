//! `e2e-report FILE...`: markdown tables from the JSON lines that `e2e
//! --json` printed (other lines are skipped): standalone, cluster, client-side
//! cache (Zipf keys, cache on and off) and failover sections, with
//! redwire/peer and cache on/off ratios from the same files.

use redwire_bench::report::{cache_table, failover_table, load_table, parse_summaries};

fn main() {
    let mut runs = Vec::new();
    for path in std::env::args().skip(1) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("e2e-report: {path}: {e}");
                std::process::exit(1);
            }
        };
        match parse_summaries(&text) {
            Ok(mut r) => runs.append(&mut r),
            Err(e) => {
                eprintln!("e2e-report: {path}: {e}");
                std::process::exit(1);
            }
        }
    }
    for (title, table) in [
        ("End to end: standalone", load_table(&runs, "standalone")),
        ("End to end: cluster", load_table(&runs, "cluster")),
        ("Client-side cache: Zipf keys, cache off and on", cache_table(&runs)),
        ("Failover under load", failover_table(&runs)),
    ] {
        if !table.is_empty() {
            println!("### {title}\n\n{table}");
        }
    }
}
