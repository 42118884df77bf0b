//! `redwire bench --workload counter`: an exactly-once check under load.
//!
//! N tasks share one client (standalone or cluster) and send `INCR` over K
//! keys named with a per-run random prefix. Each task counts, per key, what
//! the client told it: `acked` (INCR returned a value), `outcome_unknown`
//! (an error after which the increment MAY have happened), `not_sent` (the
//! client says the command never ran; the task then sends it again, counted
//! as `not_sent_resent`) and `rejected` (the server answered with an error
//! reply: INCR changes nothing then). At the end every key is read back and
//! the client's promise is checked on the server's own counters, per key and
//! in total: `acked <= server <= acked + outcome_unknown`.
//!
//! Not here: the GET/SET workload (`bench.rs`), the target abstraction
//! (`target.rs`). The keys are left on the server (their prefix is printed)
//! so the result can be checked independently.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use redwire::Error;

use crate::bench::{cpu_time, new_hist};
use crate::target::Target;

/// How long the final read-back of all keys may take, retries included.
const READ_BACK_BOUND: Duration = Duration::from_secs(10);

/// How many violating keys the summary lists one by one.
const LISTED_VIOLATIONS: usize = 20;

/// Counter workload parameters.
#[derive(Debug, Clone)]
pub struct CounterArgs {
    pub clients: usize,
    pub duration: Duration,
    pub keys: u64,
    pub json: bool,
}

/// What one key saw, from one task or summed over all.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct KeyCounts {
    acked: u64,
    outcome_unknown: u64,
    not_sent: u64,
    not_sent_resent: u64,
    rejected: u64,
}

impl KeyCounts {
    fn add(&mut self, other: &KeyCounts) {
        self.acked += other.acked;
        self.outcome_unknown += other.outcome_unknown;
        self.not_sent += other.not_sent;
        self.not_sent_resent += other.not_sent_resent;
        self.rejected += other.rejected;
    }

    /// The exactly-once invariant for a server count of `server`.
    fn holds_for(&self, server: u64) -> bool {
        self.acked <= server && server <= self.acked.saturating_add(self.outcome_unknown)
    }
}

/// What a failed `INCR` says about whether the increment happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Never written: it did not run, and may be sent again.
    NotSent,
    /// The server answered with an error reply: INCR changed nothing.
    Rejected,
    /// Anything else: it may have run (conservative).
    MayHaveRun,
}

/// Classifies conservatively: only `NotSent` and a plain error reply count as
/// "did not run". `RetriesExhausted` counts as "may have run" whatever its
/// last cause, since only the last attempt is reported.
fn classify(e: &Error) -> Failure {
    match e {
        Error::NotSent { .. } => Failure::NotSent,
        Error::Server(_) => Failure::Rejected,
        _ => Failure::MayHaveRun,
    }
}

/// What one task brings back.
struct TaskResult {
    keys: Vec<KeyCounts>,
    errors_by_kind: BTreeMap<&'static str, u64>,
    hist: Histogram<u64>,
}

/// A key's final state as read from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReadBack {
    Value(u64),
    /// The value is not a non-negative integer (someone else wrote it).
    Garbage(String),
    /// No read succeeded within the bound; the last error.
    Unread(String),
}

/// Runs the workload and prints the summary. Returns the exit code: 0 when
/// the invariant holds on every key, 2 when it does not or cannot be checked.
pub async fn run(target: Target, args: CounterArgs) -> Result<i32, Error> {
    if matches!(target, Target::Store(_)) {
        return Err(Error::Config("--workload counter needs a server: give --url or --cluster".into()));
    }
    let prefix = format!("rwcounter:{:016x}:", fastrand::u64(..));
    let names: Arc<Vec<Vec<u8>>> =
        Arc::new((0..args.keys).map(|i| format!("{prefix}{i}").into_bytes()).collect());
    let target = Arc::new(target);
    let template = new_hist()?;
    let start = Instant::now();
    let cpu_start = cpu_time();
    let deadline = start + args.duration;
    let mut tasks = Vec::with_capacity(args.clients);
    for t in 0..args.clients {
        let target = target.clone();
        let names = names.clone();
        let hist = template.clone();
        tasks.push(tokio::spawn(worker(t as u64, target, names, deadline, hist)));
    }
    let mut per_key = vec![KeyCounts::default(); names.len()];
    let mut errors_by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut latency = template;
    let mut lost_tasks = 0u64;
    for task in tasks {
        match task.await {
            Ok(result) => {
                for (sum, counts) in per_key.iter_mut().zip(&result.keys) {
                    sum.add(counts);
                }
                for (kind, n) in result.errors_by_kind {
                    *errors_by_kind.entry(kind).or_insert(0) += n;
                }
                let _ = latency.add(&result.hist);
            }
            Err(_) => lost_tasks += 1,
        }
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_start);
    let reads = read_back(&target, &names).await;

    let mut total = KeyCounts::default();
    for counts in &per_key {
        total.add(counts);
    }
    let mut server_total = 0u64;
    let mut unread = 0u64;
    let mut violations = Vec::new();
    for (i, (counts, read)) in per_key.iter().zip(&reads).enumerate() {
        let ok = match read {
            ReadBack::Value(v) => {
                server_total += v;
                counts.holds_for(*v)
            }
            ReadBack::Garbage(_) | ReadBack::Unread(_) => {
                unread += 1;
                false
            }
        };
        if !ok {
            violations.push((i, *counts, read.clone()));
        }
    }
    // A lost task took its counts with it: nothing can be promised then.
    let exactly_once =
        violations.is_empty() && lost_tasks == 0 && total.holds_for(server_total) && unread == 0;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let cpu_per_op = if total.acked > 0 { cpu.as_secs_f64() * 1e6 / total.acked as f64 } else { 0.0 };

    if args.json {
        let listed: Vec<serde_json::Value> = violations
            .iter()
            .take(LISTED_VIOLATIONS)
            .map(|(i, c, read)| {
                let (server, problem) = match read {
                    ReadBack::Value(v) => (Some(*v), None),
                    ReadBack::Garbage(g) => (None, Some(format!("not a counter: {g}"))),
                    ReadBack::Unread(e) => (None, Some(format!("not read back: {e}"))),
                };
                serde_json::json!({
                    "key": i,
                    "acked": c.acked,
                    "outcome_unknown": c.outcome_unknown,
                    "server": server,
                    "problem": problem,
                })
            })
            .collect();
        let summary = serde_json::json!({
            "workload": "counter",
            "clients": args.clients,
            "keys": args.keys,
            "key_prefix": prefix,
            "duration_s": elapsed.as_secs_f64(),
            "acked": total.acked,
            "outcome_unknown": total.outcome_unknown,
            "not_sent": total.not_sent,
            "not_sent_resent": total.not_sent_resent,
            "rejected": total.rejected,
            "server_total": server_total,
            "exactly_once": exactly_once,
            "per_key_violations": violations.len(),
            "violations": listed,
            "unread_keys": unread,
            "lost_tasks": lost_tasks,
            "ops_per_sec": total.acked as f64 / secs,
            "p50_us": latency.value_at_quantile(0.50),
            "p99_us": latency.value_at_quantile(0.99),
            "max_us": latency.max(),
            "client_cpu_us_per_op": cpu_per_op,
            "errors_by_kind": errors_by_kind,
            "client_stats": target.stats_json(),
        });
        println!("{summary}");
    } else {
        println!(
            "workload counter  clients {}  duration {:.1}s  keys {} (prefix {prefix})",
            args.clients,
            elapsed.as_secs_f64(),
            args.keys
        );
        println!(
            "INCR acked {}  ops/s {:.0}  latency us: p50 {}  p99 {}  max {}  client cpu per op {cpu_per_op:.2} us",
            total.acked,
            total.acked as f64 / secs,
            latency.value_at_quantile(0.5),
            latency.value_at_quantile(0.99),
            latency.max()
        );
        println!(
            "acked {}  outcome_unknown {}  not_sent {} (resent {})  rejected {}",
            total.acked, total.outcome_unknown, total.not_sent, total.not_sent_resent, total.rejected
        );
        println!(
            "server_total {server_total}  exactly_once {exactly_once}  (acked <= server <= acked + outcome_unknown; \
             per-key violations {}, unread keys {unread})",
            violations.len()
        );
        for (kind, n) in &errors_by_kind {
            println!("errors[{kind}] = {n}");
        }
        if let Some(line) = target.stats_line() {
            println!("{line}");
        }
        for (i, c, read) in violations.iter().take(LISTED_VIOLATIONS) {
            println!(
                "violation: key {i}: acked {} outcome_unknown {} server {read:?}",
                c.acked, c.outcome_unknown
            );
        }
        if lost_tasks > 0 {
            println!("{lost_tasks} tasks failed: their counts are lost");
        }
    }
    Ok(if exactly_once { 0 } else { 2 })
}

async fn worker(
    id: u64,
    target: Arc<Target>,
    names: Arc<Vec<Vec<u8>>>,
    deadline: Instant,
    mut hist: Histogram<u64>,
) -> TaskResult {
    let mut rng = fastrand::Rng::with_seed(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xc0ff_ee00);
    let mut keys = vec![KeyCounts::default(); names.len()];
    let mut errors_by_kind = BTreeMap::new();
    let mut now = Instant::now();
    'ops: while now < deadline && !names.is_empty() {
        let k = rng.usize(0..names.len());
        let (Some(name), Some(counts)) = (names.get(k), keys.get_mut(k)) else { break };
        // One increment: sent again for as long as the client says it never ran.
        loop {
            let t0 = now;
            let result = target.incr(name).await;
            now = Instant::now();
            let us = now.saturating_duration_since(t0).as_micros().max(1) as u64;
            let _ = hist.record(us.min(60_000_000));
            let e = match result {
                Ok(_) => {
                    counts.acked += 1;
                    continue 'ops;
                }
                Err(e) => e,
            };
            *errors_by_kind.entry(e.kind_name()).or_insert(0) += 1;
            let failure = classify(&e);
            match failure {
                Failure::NotSent => counts.not_sent += 1,
                Failure::Rejected => counts.rejected += 1,
                Failure::MayHaveRun => counts.outcome_unknown += 1,
            }
            // Do not spin on a dead server.
            tokio::time::sleep(Duration::from_millis(1)).await;
            now = Instant::now();
            if failure != Failure::NotSent || now >= deadline {
                continue 'ops;
            }
            counts.not_sent_resent += 1;
        }
    }
    TaskResult { keys, errors_by_kind, hist }
}

/// Reads every key, retrying failed reads until all are read or the bound passes.
async fn read_back(target: &Target, names: &[Vec<u8>]) -> Vec<ReadBack> {
    let until = Instant::now() + READ_BACK_BOUND;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let read = loop {
            match target.get(name).await {
                Ok(None) => break ReadBack::Value(0),
                Ok(Some(v)) => {
                    break match std::str::from_utf8(&v).ok().and_then(|s| s.parse::<u64>().ok()) {
                        Some(n) => ReadBack::Value(n),
                        None => {
                            ReadBack::Garbage(String::from_utf8_lossy(&v[..v.len().min(40)]).into_owned())
                        }
                    }
                }
                Err(e) if Instant::now() >= until => break ReadBack::Unread(e.to_string()),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        out.push(read);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use redwire::ServerError;

    #[test]
    fn only_never_written_or_rejected_counts_as_not_run() {
        let closed = Arc::new(Error::Closed);
        assert_eq!(classify(&Error::NotSent { cause: closed.clone() }), Failure::NotSent);
        let wrongtype = ServerError::from_line("WRONGTYPE Operation against a key").unwrap();
        assert_eq!(classify(&Error::Server(wrongtype)), Failure::Rejected);
        let may = [
            Error::OutcomeUnknown { cause: closed.clone() },
            Error::Timeout,
            Error::Io(Arc::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset))),
            Error::RetriesExhausted { attempts: 3, last: Arc::new(Error::NotSent { cause: closed.clone() }) },
            Error::RetriesExhausted { attempts: 3, last: Arc::new(Error::OutcomeUnknown { cause: closed }) },
            Error::Other("?".into()),
        ];
        for e in &may {
            assert_eq!(classify(e), Failure::MayHaveRun, "{e:?}");
        }
    }

    #[test]
    fn the_invariant_bounds_the_server_count_on_both_sides() {
        let c = KeyCounts { acked: 10, outcome_unknown: 3, ..KeyCounts::default() };
        assert!(!c.holds_for(9));
        assert!(c.holds_for(10));
        assert!(c.holds_for(13));
        assert!(!c.holds_for(14));
        let none = KeyCounts::default();
        assert!(none.holds_for(0));
        assert!(!none.holds_for(1));
    }
}
