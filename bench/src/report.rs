//! Markdown tables from many run summaries, with redwire/peer ratios taken
//! from the same batch of runs. Pure: strings in, strings out.
//!
//! Ratios: `ops/s ×` is redwire's ops/s divided by the row's (above 1 =
//! redwire faster); `CPU ×` is redwire's CPU per op divided by the row's
//! (below 1 = redwire cheaper). Rows without a redwire run of the same
//! shape show `-`.

use std::fmt::Write;

use crate::summary::Summary;

/// Order of the clients in every table.
const CLIENTS: [&str; 3] = ["redwire", "redis-rs", "fred"];

fn client_rank(name: &str) -> usize {
    CLIENTS.iter().position(|c| *c == name).unwrap_or(CLIENTS.len())
}

fn same_shape(a: &Summary, b: &Summary) -> bool {
    a.topology == b.topology
        && a.replicas == b.replicas
        && a.clients == b.clients
        && a.failover.is_some() == b.failover.is_some()
}

fn ratio(num: f64, den: f64) -> String {
    if den > 0.0 && num > 0.0 {
        format!("{:.2}", num / den)
    } else {
        "-".into()
    }
}

fn errors_cell(s: &Summary) -> String {
    if s.errors == 0 {
        return "0".into();
    }
    let kinds: Vec<String> = s.errors_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("{} ({})", s.errors, kinds.join(", "))
}

fn verify_cell(s: &Summary) -> String {
    if s.verify_failures == 0 {
        return "0".into();
    }
    let reasons: Vec<String> = s.verify_failures_by_reason.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("**{}** ({})", s.verify_failures, reasons.join(", "))
}

fn sorted<'a>(runs: impl Iterator<Item = &'a Summary>) -> Vec<&'a Summary> {
    let mut v: Vec<&Summary> = runs.collect();
    v.sort_by(|a, b| {
        (a.replicas, a.clients, client_rank(&a.client)).cmp(&(b.replicas, b.clients, client_rank(&b.client)))
    });
    v
}

/// The throughput table of the runs of one topology without a failover.
pub fn load_table(runs: &[Summary], topology: &str) -> String {
    let rows = sorted(runs.iter().filter(|s| s.topology == topology && s.failover.is_none()));
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let cluster = topology == "cluster";
    let _ = writeln!(
        out,
        "| {}tasks | client | ops/s | p50 µs | p99 µs | p99.9 µs | CPU µs/op | redwire ops/s × | redwire CPU × | errors | verify failures |{}",
        if cluster { "replica reads | " } else { "" },
        if cluster { " stale reads |" } else { "" }
    );
    let _ = writeln!(
        out,
        "|{}---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|{}",
        if cluster { "---|" } else { "" },
        if cluster { "---:|" } else { "" }
    );
    for s in &rows {
        let redwire = runs.iter().find(|r| r.client == "redwire" && same_shape(r, s));
        let (ops_x, cpu_x) = match redwire {
            Some(r) => (ratio(r.ops_per_sec, s.ops_per_sec), ratio(r.cpu_us_per_op, s.cpu_us_per_op)),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "| {}{} | {} | {:.0} | {} | {} | {} | {:.2} | {} | {} | {} | {} |{}",
            if cluster {
                if s.replicas {
                    "yes | "
                } else {
                    "no | "
                }
            } else {
                ""
            },
            s.clients,
            s.client,
            s.ops_per_sec,
            s.p50_us,
            s.p99_us,
            s.p999_us,
            s.cpu_us_per_op,
            ops_x,
            cpu_x,
            errors_cell(s),
            verify_cell(s),
            if cluster { format!(" {} |", s.stale_reads) } else { String::new() }
        );
    }
    out
}

fn secs(ms: Option<u64>) -> String {
    ms.map_or_else(|| "never".into(), |m| format!("{:.1}", m as f64 / 1000.0))
}

/// The failover table (one row per client) and the per-second timelines.
pub fn failover_table(runs: &[Summary]) -> String {
    let rows = sorted(runs.iter().filter(|s| s.failover.is_some()));
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "| client | tasks | ops/s before | killed at s | promoted at s | full speed at s | full speed after promotion ms | longest stall ms (from s) | degraded ms | errors after kill | verify failures | older after failover | unfinished |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|");
    for s in &rows {
        let Some(f) = &s.failover else { continue };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} ({:.1}) | {} | {} | {} | {} | {} |",
            s.client,
            s.clients,
            f.baseline_ops_per_sec,
            secs(Some(f.kill_at_ms)),
            secs(f.promoted_at_ms),
            secs(f.recovered_at_ms),
            f.recovery_after_promotion_ms.map_or_else(|| "never".into(), |m| m.to_string()),
            f.max_stall_ms,
            f.max_stall_from_ms as f64 / 1000.0,
            f.degraded_ms,
            if f.errors_after_kill == s.errors {
                errors_cell(s)
            } else {
                format!("{} of {}", f.errors_after_kill, errors_cell(s))
            },
            verify_cell(s),
            s.older_after_failover,
            s.unfinished_tasks
        );
    }
    let longest = rows.iter().map(|s| s.timeline.len()).max().unwrap_or(0);
    let _ = writeln!(out);
    let _ = write!(out, "| second |");
    for s in &rows {
        let _ = write!(out, " {} ops / errors / p99 ms |", s.client);
    }
    let _ = writeln!(out);
    let _ = write!(out, "|---:|");
    for _ in &rows {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out);
    for second in 0..longest {
        let _ = write!(out, "| {second} |");
        for s in &rows {
            match s.timeline.get(second) {
                Some(t) => {
                    let _ = write!(out, " {} / {} / {:.1} |", t.ops, t.errors, t.p99_us as f64 / 1000.0);
                }
                None => {
                    let _ = write!(out, " - |");
                }
            }
        }
        let _ = writeln!(out);
    }
    out
}

/// Reads summaries from text: one JSON object per line; other lines are skipped.
///
/// # Errors
/// A message naming the line for a `{` line that is not a summary.
pub fn parse_summaries(text: &str) -> Result<Vec<Summary>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with('{'))
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::failover::FailoverReport;
    use crate::summary::Second;

    fn run(client: &str, topology: &str, clients: usize, ops_per_sec: f64, cpu: f64) -> Summary {
        Summary {
            client: client.into(),
            topology: topology.into(),
            replicas: false,
            clients,
            keys: 10_000,
            value_size: 64,
            ratio: "80:20".into(),
            duration_s: 10.0,
            ops: (ops_per_sec * 10.0) as u64,
            ops_per_sec,
            p50_us: 100,
            p99_us: 200,
            p999_us: 300,
            max_us: 400,
            cpu_us_per_op: cpu,
            errors: 0,
            errors_by_kind: BTreeMap::new(),
            error_samples: BTreeMap::new(),
            verify_failures: 0,
            verify_failures_by_reason: BTreeMap::new(),
            first_verify_failure: None,
            stale_reads: 0,
            older_after_failover: 0,
            unfinished_tasks: 0,
            timeline: vec![Second { second: 0, ops: 5, errors: 1, p99_us: 1500 }],
            timeline_100ms: Vec::new(),
            latency_bins: Vec::new(),
            failover: None,
        }
    }

    #[test]
    fn ratios_compare_redwire_with_each_peer_of_the_same_shape() {
        let runs = vec![
            run("fred", "standalone", 16, 50_000.0, 8.0),
            run("redwire", "standalone", 16, 100_000.0, 4.0),
            run("redis-rs", "standalone", 16, 80_000.0, 5.0),
            run("redwire", "standalone", 128, 200_000.0, 2.0),
            run("fred", "cluster", 16, 1.0, 1.0),
        ];
        let t = load_table(&runs, "standalone");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2 + 4, "{t}");
        assert!(
            lines[2].starts_with("| 16 | redwire | 100000 |") && lines[2].contains("| 1.00 | 1.00 |"),
            "{t}"
        );
        assert!(lines[3].contains("| redis-rs | 80000 |") && lines[3].contains("| 1.25 | 0.80 |"), "{t}");
        assert!(lines[4].contains("| fred | 50000 |") && lines[4].contains("| 2.00 | 0.50 |"), "{t}");
        assert!(lines[5].starts_with("| 128 | redwire |"), "{t}");
        assert!(!t.contains("cluster") && !t.contains("| 1 |"));
    }

    #[test]
    fn errors_and_verify_failures_are_spelled_out() {
        let mut s = run("redis-rs", "cluster", 16, 10.0, 1.0);
        s.errors = 3;
        s.errors_by_kind.insert("timeout".into(), 3);
        s.verify_failures = 2;
        s.verify_failures_by_reason.insert("missing".into(), 2);
        let t = load_table(&[s], "cluster");
        assert!(t.contains("| no | 16 | redis-rs |"), "{t}");
        assert!(t.contains("| 3 (timeout 3) | **2** (missing 2) | 0 |"), "{t}");
        assert!(t.contains("| - | - |"), "no redwire run, no ratio: {t}");
    }

    #[test]
    fn failover_rows_and_timeline() {
        let mut s = run("redwire", "cluster", 128, 1000.0, 1.0);
        s.failover = Some(FailoverReport {
            kill_at_ms: 5000,
            promoted_at_ms: Some(7600),
            baseline_ops_per_sec: 1234.4,
            recovered_at_ms: None,
            recovery_after_promotion_ms: None,
            max_stall_ms: 2500,
            max_stall_from_ms: 5100,
            degraded_ms: 3000,
            errors_after_kill: 0,
            ops_per_100ms: vec![],
        });
        let t = failover_table(&[s.clone(), run("fred", "cluster", 128, 1.0, 1.0)]);
        assert!(
            t.contains("| redwire | 128 | 1234 | 5.0 | 7.6 | never | never | 2500 (5.1) | 3000 |"),
            "{t}"
        );
        assert!(t.contains("| 0 | 5 / 1 / 1.5 |"), "{t}");
        assert!(!t.contains("fred"), "runs without a kill are not failover rows: {t}");
        let text = format!("noise\n{}\n", serde_json::to_string(&s).unwrap());
        assert_eq!(parse_summaries(&text).unwrap(), vec![s]);
        assert!(parse_summaries("{not json").unwrap_err().starts_with("line 1:"));
    }
}
