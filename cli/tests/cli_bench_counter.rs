//! `redwire bench --workload counter` as a user runs it: the built binary
//! against a real standalone Valkey and the real 6-node cluster, while a side
//! thread kills every normal client connection (`CLIENT KILL TYPE normal
//! SKIPME yes`) every ~200 ms. The bench must report `exactly_once: true`,
//! and the test checks the same invariant again on the server's own counters
//! with the harness client. A scripted fake server whose counters disagree
//! with its INCR replies shows that a violation is reported (exit code 2).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use support::{Cluster, FakeServer, Server, Step};

/// Runs `redwire <target> bench --workload counter ... --json`; gives the output and the summary.
fn bench(target: &[&str], duration: &str) -> (Output, Value) {
    let mut args: Vec<&str> = target.to_vec();
    args.extend([
        "--timeout",
        "2s",
        "bench",
        "--workload",
        "counter",
        "--clients",
        "16",
        "--keys",
        "10",
        "--duration",
        duration,
        "--json",
    ]);
    eprintln!("running: redwire {}", args.join(" "));
    let out = Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(&args)
        .env_remove("REDWIRE_PASSWORD")
        .output()
        .expect("run redwire");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "bench printed no JSON ({e}): stdout {stdout:?}, stderr {:?}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, summary)
}

fn count(summary: &Value, field: &str) -> u64 {
    summary[field].as_u64().unwrap_or_else(|| panic!("no count {field:?} in {summary}"))
}

/// Kills every normal client (but itself) on each node, every ~200 ms, until stopped.
struct Killer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<i64>>,
}

impl Killer {
    fn start(mut nodes: Vec<support::Client>) -> Killer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut killed = 0;
            while !flag.load(Ordering::Acquire) {
                for node in &mut nodes {
                    let reply = node.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
                    killed += reply.as_int().unwrap_or_else(|| panic!("CLIENT KILL: {reply:?}"));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            killed
        });
        Killer { stop, thread: Some(thread) }
    }

    /// Stops the thread; gives how many connections it killed.
    fn stop(mut self) -> i64 {
        self.stop.store(true, Ordering::Release);
        self.thread.take().map(|t| t.join().expect("killer thread")).unwrap_or(0)
    }
}

impl Drop for Killer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Sums the counters under `prefix` on one node, as the server holds them; gives (keys, sum).
fn server_counters(node: &mut support::Client, prefix: &str) -> (u64, u64) {
    let reply = node.cmd(&["KEYS", &format!("{prefix}*")]);
    let keys = reply.as_array().unwrap_or_else(|| panic!("KEYS: {reply:?}")).to_vec();
    let mut sum = 0;
    for key in &keys {
        let name = key.as_text().unwrap_or_else(|| panic!("key name {key:?}"));
        let value = node.cmd(&["GET", &name]);
        let text = value.as_text().unwrap_or_else(|| panic!("GET {name}: {value:?}"));
        sum += text.parse::<u64>().unwrap_or_else(|_| panic!("GET {name}: not a counter: {text:?}"));
    }
    (keys.len() as u64, sum)
}

/// The checks every run must pass, then the server's own counters against the summary.
fn check(summary: &Value, out: &Output, killed: i64, mut nodes: Vec<support::Client>) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["exactly_once"], Value::Bool(true), "{summary}\nstderr: {stderr}");
    assert_eq!(out.status.code(), Some(0), "{summary}\nstderr: {stderr}");
    assert_eq!(count(summary, "per_key_violations"), 0, "{summary}");
    assert_eq!(count(summary, "unread_keys"), 0, "{summary}");
    let acked = count(summary, "acked");
    let unknown = count(summary, "outcome_unknown");
    let resent = count(summary, "not_sent_resent");
    let server_total = count(summary, "server_total");
    assert!(acked > 0, "nothing acknowledged: {summary}");
    // The client's own stats: each killed connection of the bench was reopened.
    let reconnects = summary["client_stats"]["reconnects"]
        .as_u64()
        .unwrap_or_else(|| panic!("no client_stats.reconnects in {summary}"));
    assert!(
        killed == 0 || reconnects >= 1,
        "{killed} connections killed, {reconnects} reconnects: {summary}"
    );
    eprintln!(
        "acked {acked}  outcome_unknown {unknown}  not_sent_resent {resent}  server_total {server_total}  \
         connections killed {killed}  errors {}",
        summary["errors_by_kind"]
    );
    // The bench's verdict, recomputed from what the servers hold now.
    let prefix = summary["key_prefix"].as_str().unwrap_or_else(|| panic!("no key_prefix in {summary}"));
    assert!(prefix.starts_with("rwcounter:"), "{prefix}");
    let (mut keys, mut sum) = (0, 0);
    for node in &mut nodes {
        let (k, s) = server_counters(node, prefix);
        keys += k;
        sum += s;
    }
    assert!(keys <= 10, "{keys} keys under {prefix}");
    assert_eq!(sum, server_total, "the servers hold {sum}, the bench read {server_total}");
    assert!(acked <= sum && sum <= acked + unknown, "acked {acked} server {sum} unknown {unknown}");
}

#[test]
fn counter_is_exactly_once_on_standalone_while_connections_are_killed() {
    let server = Server::start();
    let killer = Killer::start(vec![server.client()]);
    let (out, summary) = bench(&["--url", &server.url()], "3s");
    let killed = killer.stop();
    check(&summary, &out, killed, vec![server.client()]);
}

#[test]
fn counter_is_exactly_once_on_a_cluster_while_connections_are_killed() {
    let cluster = Cluster::start();
    let seeds = cluster.seed_urls().join(",");
    let killer = Killer::start(cluster.primaries().iter().map(|n| n.client()).collect());
    let (out, summary) = bench(&["--cluster", &seeds], "3s");
    let killed = killer.stop();
    check(&summary, &out, killed, cluster.primaries().iter().map(|n| n.client()).collect());
}

#[test]
fn a_server_holding_more_than_was_sent_is_a_violation_with_exit_code_2() {
    // Acknowledges every INCR with 1 but holds 10^15 in every key: more than
    // any count of acknowledged plus unknown increments could explain.
    let server = FakeServer::start(vec![Step::respond_to_each(|args| {
        let name = args.first().map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default();
        match name.as_str() {
            "INCR" => b":1\r\n".to_vec(),
            "GET" => b"$16\r\n1000000000000000\r\n".to_vec(),
            _ => b"+OK\r\n".to_vec(),
        }
    })]);
    let (out, summary) = bench(&["--url", &server.url()], "300ms");
    assert_eq!(summary["exactly_once"], Value::Bool(false), "{summary}");
    assert_eq!(out.status.code(), Some(2), "{summary}");
    assert_eq!(count(&summary, "per_key_violations"), 10, "{summary}");
    assert_eq!(count(&summary, "server_total"), 10 * 1_000_000_000_000_000, "{summary}");
    assert!(count(&summary, "acked") > 0, "{summary}");
    let listed = summary["violations"].as_array().unwrap_or_else(|| panic!("no violations in {summary}"));
    assert_eq!(listed.len(), 10, "{summary}");
    assert_eq!(listed[0]["server"], Value::from(1_000_000_000_000_000u64), "{summary}");
}

#[test]
fn counter_needs_a_server() {
    let out = Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(["bench", "--workload", "counter", "--duration", "1s"])
        .env_remove("REDWIRE_PASSWORD")
        .output()
        .expect("run redwire");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--url or --cluster"), "{stderr}");
}
