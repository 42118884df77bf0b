//! `redwire bench --cache --keys-dist zipf` as a user runs it: the built
//! binary against a real standalone Valkey (RESP3 and RESP2). Every GET is
//! verified as in the plain bench (the cache must never make one wrong), and
//! the summary carries the cache's counters; a run without `--cache` has none.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::process::Command;

use serde_json::Value;
use support::Server;

fn bench(url: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--url",
        url,
        "--timeout",
        "2s",
        "bench",
        "--clients",
        "16",
        "--keys",
        "2000",
        "--duration",
        "2s",
        "--ratio",
        "95:5",
        "--keys-dist",
        "zipf",
        "--zipf-s",
        "0.99",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_redwire")).args(&args).output().expect("run redwire");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "exit {:?}: {stdout} {}", out.status, String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("no JSON ({e}): {stdout:?}"))
}

#[test]
fn a_cached_bench_stays_verified_and_reports_its_hit_rate() {
    let server = Server::start();
    for protocol in ["resp3", "resp2"] {
        let url = format!("{}?protocol={protocol}", server.url());
        let summary = bench(&url, &["--cache"]);
        assert_eq!(summary["verify_failures"], 0, "{protocol}: {summary}");
        assert_eq!(summary["errors"], 0, "{protocol}: {summary}");
        let cache = &summary["cache"];
        let hits = cache["hits"].as_u64().unwrap_or(0);
        let rate = cache["hit_rate"].as_f64().unwrap_or(0.0);
        assert!(hits > 0 && rate > 0.0 && rate <= 1.0, "{protocol}: {cache}");
        assert_eq!(summary["keys_dist"]["zipf"], 0.99);
        println!("{protocol}: {} ops/s, cache {cache}", summary["ops_per_sec"]);
    }
    let plain = bench(&server.url(), &[]);
    assert!(plain["cache"].is_null(), "{plain}");
}

#[test]
fn cache_needs_a_server() {
    let out = Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(["bench", "--cache", "--duration", "1s"])
        .output()
        .expect("run redwire");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cache"), "{out:?}");
}
