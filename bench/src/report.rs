//! Markdown tables from many run summaries, with redwire/peer ratios taken
//! from the same batch of runs. Pure: strings in, strings out.
//!
//! Ratios: `ops/s ×` is redwire's ops/s divided by the row's (above 1 =
//! redwire faster); `CPU ×` is redwire's CPU per op divided by the row's
//! (below 1 = redwire cheaper). Rows without a redwire run of the same
//! shape show `-`. A shape includes the key distribution and whether the
//! client's cache was on, so those never mix.
//!
//! Runs with a Zipf key distribution or a client-side cache (the `cache`
//! stage) have their own table ([`cache_table`]); it adds the hit rate and
//! the ratios of each client with its cache on to the same client with it
//! off (`on/off ops/s ×` above 1 = the cache made it faster; `on/off CPU ×`
//! below 1 = cheaper).

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
        && a.cache == b.cache
        && same_keys(a, b)
}

fn same_keys(a: &Summary, b: &Summary) -> bool {
    a.keys == b.keys && a.keys_dist == b.keys_dist && a.zipf_s == b.zipf_s && a.ratio == b.ratio
}

/// A run of the plain matrix: uniform keys, no client-side cache.
fn is_plain(s: &Summary) -> bool {
    !s.cache && s.keys_dist == "uniform"
}

fn ratio(num: f64, den: f64) -> String {
    if den > 0.0 && num > 0.0 {
        format!("{:.2}", num / den)
    } else {
        "-".into()
    }
}

/// `top`'s ops/s and CPU per op over `bottom`'s, as table cells; dashes without `top`.
fn ratios(top: Option<&Summary>, bottom: &Summary) -> (String, String) {
    match top {
        Some(t) => (ratio(t.ops_per_sec, bottom.ops_per_sec), ratio(t.cpu_us_per_op, bottom.cpu_us_per_op)),
        None => ("-".into(), "-".into()),
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
    let rows = sorted(runs.iter().filter(|s| s.topology == topology && s.failover.is_none() && is_plain(s)));
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
        let (ops_x, cpu_x) = ratios(redwire, s);
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

fn topology_rank(name: &str) -> usize {
    ["standalone", "cluster"].iter().position(|t| *t == name).unwrap_or(2)
}

fn hit_rate_cell(s: &Summary) -> String {
    match (s.cache, s.hit_rate()) {
        (false, _) => "-".into(),
        (true, Some(r)) => format!("{:.1}%", r * 100.0),
        (true, None) => "n/a".into(),
    }
}

/// The runs with Zipf keys or a client-side cache (the `cache` stage), every
/// topology: hit rate, and the ratios cache on / cache off per client and
/// redwire / peer per cache setting.
pub fn cache_table(runs: &[Summary]) -> String {
    let mut rows: Vec<&Summary> = runs.iter().filter(|s| s.failover.is_none() && !is_plain(s)).collect();
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    rows.sort_by(|a, b| {
        let key = |s: &Summary| {
            (
                topology_rank(&s.topology),
                s.replicas,
                s.clients,
                s.keys,
                s.keys_label(),
                client_rank(&s.client),
                s.cache,
            )
        };
        key(a).cmp(&key(b))
    });
    let _ = writeln!(
        out,
        "| topology | tasks | keys | GET:SET | client | cache | ops/s | p50 µs | p99 µs | CPU µs/op | hit rate | on/off ops/s × | on/off CPU × | redwire ops/s × | redwire CPU × | errors | verify failures |"
    );
    let _ = writeln!(out, "|---|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for s in &rows {
        let off = runs.iter().find(|r| {
            s.cache
                && !r.cache
                && r.client == s.client
                && r.topology == s.topology
                && r.replicas == s.replicas
                && r.clients == s.clients
                && r.failover.is_none()
                && same_keys(r, s)
        });
        // This run over the same client's run with the cache off.
        let (on_off_ops, on_off_cpu) = match off {
            Some(r) => ratios(Some(s), r),
            None => ("-".into(), "-".into()),
        };
        let redwire = runs.iter().find(|r| r.client == "redwire" && same_shape(r, s));
        let (ops_x, cpu_x) = ratios(redwire, s);
        let _ = writeln!(
            out,
            "| {}{} | {} | {} {} | {} | {} | {} | {:.0} | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} |",
            s.topology,
            if s.replicas { " (replica reads)" } else { "" },
            s.clients,
            s.keys,
            s.keys_label(),
            s.ratio,
            s.client,
            if s.cache { "on" } else { "off" },
            s.ops_per_sec,
            s.p50_us,
            s.p99_us,
            s.cpu_us_per_op,
            hit_rate_cell(s),
            on_off_ops,
            on_off_cpu,
            ops_x,
            cpu_x,
            errors_cell(s),
            verify_cell(s),
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
    use crate::summary::{CacheCounters, Second};

    fn run(client: &str, topology: &str, clients: usize, ops_per_sec: f64, cpu: f64) -> Summary {
        Summary {
            client: client.into(),
            topology: topology.into(),
            replicas: false,
            clients,
            keys: 10_000,
            value_size: 64,
            ratio: "80:20".into(),
            keys_dist: "uniform".into(),
            zipf_s: None,
            cache: false,
            cache_stats: None,
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

    fn cached(client: &str, topology: &str, cache: bool, ops_per_sec: f64, cpu: f64) -> Summary {
        let mut s = run(client, topology, 128, ops_per_sec, cpu);
        s.keys = 100_000;
        s.ratio = "95:5".into();
        s.keys_dist = "zipf".into();
        s.zipf_s = Some(0.99);
        s.cache = cache;
        if cache {
            s.cache_stats = Some(CacheCounters { hits: 9, misses: 1, invalidations: 0 });
        }
        s
    }

    #[test]
    fn cache_table_has_hit_rates_and_both_ratios() {
        let mut stale = cached("redis-rs", "standalone", true, 300_000.0, 2.0);
        stale.verify_failures = 4;
        stale.verify_failures_by_reason.insert("older than acknowledged".into(), 4);
        let runs = vec![
            cached("redis-rs", "standalone", false, 100_000.0, 5.0),
            stale,
            cached("redwire", "standalone", true, 400_000.0, 1.0),
            cached("redwire", "standalone", false, 100_000.0, 4.0),
            cached("redwire", "cluster", false, 50_000.0, 4.0),
            run("redwire", "standalone", 128, 1.0, 1.0),
        ];
        let t = cache_table(&runs);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2 + 5, "the uniform run without a cache stays out: {t}");
        assert!(lines[0].contains("| hit rate |") && lines[0].contains("| on/off ops/s × |"), "{t}");
        assert!(
            lines[2].starts_with("| standalone | 128 | 100000 zipf s=0.99 | 95:5 | redwire | off | 100000 |"),
            "{t}"
        );
        assert!(lines[2].contains("| - | - | - | 1.00 | 1.00 |"), "off: no hit rate, no on/off ratio: {t}");
        assert!(lines[3].contains("| redwire | on | 400000 |"), "{t}");
        assert!(lines[3].contains("| 90.0% | 4.00 | 0.25 | 1.00 | 1.00 |"), "{t}");
        assert!(
            lines[4].contains("| redis-rs | off | 100000 |") && lines[4].contains("| 1.00 | 0.80 |"),
            "{t}"
        );
        assert!(lines[5].contains("| redis-rs | on | 300000 |"), "{t}");
        assert!(lines[5].contains("| 90.0% | 3.00 | 0.40 | 1.33 | 0.50 |"), "{t}");
        assert!(lines[5].ends_with("| 0 | **4** (older than acknowledged 4) |"), "{t}");
        assert!(lines[6].starts_with("| cluster | 128 |"), "cluster after standalone: {t}");
        // The plain tables leave the cache stage's runs out.
        let plain = load_table(&runs, "standalone");
        assert_eq!(plain.lines().count(), 3, "{plain}");
        assert!(load_table(&runs[..1], "standalone").is_empty());
    }

    #[test]
    fn older_records_read_as_uniform_without_cache() {
        let s = run("fred", "standalone", 16, 1.0, 1.0);
        let mut v = serde_json::to_value(&s).unwrap();
        let o = v.as_object_mut().unwrap();
        for field in ["keys_dist", "zipf_s", "cache", "cache_stats"] {
            o.remove(field);
        }
        let back: Summary = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.keys_label(), "uniform");
        assert_eq!(back.hit_rate(), None);
        let mut z = cached("redwire", "standalone", true, 1.0, 1.0);
        assert_eq!(z.keys_label(), "zipf s=0.99");
        z.cache_stats = Some(CacheCounters { hits: 0, misses: 0, invalidations: 0 });
        assert_eq!(z.hit_rate(), None);
        assert_eq!(hit_rate_cell(&z), "n/a");
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
