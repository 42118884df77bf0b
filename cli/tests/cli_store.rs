//! The `redwire` binary's store commands, run as a user runs them: `demo` on the embedded store,
//! on a Valkey `--url`, from a `--config` file and on a cluster (`--cluster`); `store ...`
//! operations and their output; `config check` on good and bad files with its exit codes; `bench`
//! on the embedded store, and its `--plot` picture.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::scratch::ScratchDir;
use support::Server;

fn redwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(args)
        .env_remove("REDWIRE_PASSWORD")
        .output()
        .expect("run the redwire binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
}

/// Runs `redwire <global> store <op...>`, expects success and returns the one line printed.
#[track_caller]
fn store_line(global: &[&str], op: &[&str]) -> String {
    let args: Vec<&str> = global.iter().copied().chain(["store"]).chain(op.iter().copied()).collect();
    let out = redwire(&args);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one line per result: {text:?}");
    text.trim_end().to_string()
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).display().to_string()
}

#[test]
fn demo_on_the_embedded_store() {
    let out = redwire(&["demo"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("on the Default store"), "{text}");
    assert!(text.contains("all 18 checks passed"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn demo_on_valkey_by_url_and_by_config_file() {
    let server = Server::start();
    let out = redwire(&["--url", &server.url(), "demo"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("on the Redis store"), "{}", stdout(&out));
    assert!(stdout(&out).contains("all 18 checks passed"), "{}", stdout(&out));
    let mut client = server.client();
    assert_eq!(client.cmd(&["DBSIZE"]).as_int(), Some(0), "the demo deletes its keys");

    let dir = ScratchDir::new("cli-store");
    let config = dir.join("sharded.json");
    let json = format!(
        r#"{{"@type": "Sharded", "stores": [{{"@type": "Redis", "url": "{0}/1"}}, {{"@type": "Redis", "url": "{0}/2"}}]}}"#,
        server.url()
    );
    std::fs::write(&config, json).unwrap();
    let out = redwire(&["--config", &config.display().to_string(), "demo"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("on the Sharded store"), "{}", stdout(&out));
    assert!(stdout(&out).contains("all 18 checks passed"), "{}", stdout(&out));
}

#[test]
fn store_operations_against_valkey() {
    let server = Server::start();
    let url = server.url();
    let g = ["--url", url.as_str()];
    assert_eq!(store_line(&g, &["get", "greeting"]), "(nil)");
    assert_eq!(store_line(&g, &["set", "greeting", "hello\nworld", "--ttl", "60s"]), "OK");
    assert_eq!(server.client().cmd(&["GET", "greeting"]).as_text().as_deref(), Some("hello\nworld"));
    let ttl = server.client().cmd(&["TTL", "greeting"]).as_int().unwrap();
    assert!((55..=60).contains(&ttl), "ttl {ttl}");
    assert_eq!(store_line(&g, &["get", "greeting"]), "hello\\nworld", "escaped onto one line");
    assert_eq!(store_line(&g, &["exists", "greeting"]), "true");
    assert_eq!(store_line(&g, &["delete", "greeting"]), "true");
    assert_eq!(store_line(&g, &["exists", "greeting"]), "false");

    assert_eq!(store_line(&g, &["incr", "quota", "10"]), "10");
    assert_eq!(store_line(&g, &["incr", "quota", "-4", "--ttl", "30s"]), "6");
    assert_eq!(store_line(&g, &["incr", "quota", "--ttl", "30s", "--", "-3"]), "3");
    assert_eq!(store_line(&g, &["incr", "quota", "4"]), "7");
    let ttl = server.client().cmd(&["TTL", "quota"]).as_int().unwrap();
    assert!((25..=30).contains(&ttl), "the counter got its ttl: {ttl}");
    assert_eq!(store_line(&g, &["counter-get", "quota"]), "7");
    assert_eq!(store_line(&g, &["counter-get", "nobody"]), "0");

    assert_eq!(store_line(&g, &["rate", "ip", "2", "1h"]), "allowed");
    assert_eq!(store_line(&g, &["rate", "ip", "2", "1h"]), "allowed");
    let limited = store_line(&g, &["rate", "ip", "2", "1h"]);
    let secs: u64 = limited.strip_prefix("limited ").and_then(|s| s.parse().ok()).expect(&limited);
    assert!((1..=3600).contains(&secs), "{limited}");

    let token = store_line(&g, &["lock", "mbox", "30s"]);
    assert_eq!(token.len(), 32, "16 bytes in hex: {token}");
    assert_eq!(store_line(&g, &["lock", "mbox", "30s"]), "(held)");
    assert_eq!(store_line(&g, &["unlock", "mbox", "00112233445566778899aabbccddeeff"]), "false");
    assert_eq!(store_line(&g, &["unlock", "mbox", &token]), "true");

    for k in ["cache:a*1", "cache:a*2", "cache:ab"] {
        assert_eq!(store_line(&g, &["set", k, "v"]), "OK");
    }
    assert_eq!(store_line(&g, &["delete-prefix", "cache:a*"]), "2");
    assert_eq!(store_line(&g, &["exists", "cache:ab"]), "true");

    let out = redwire(&["--url", &url, "store", "unlock", "mbox", "not-hex"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("not hex"), "{}", stderr(&out));
    let out = redwire(&["--url", &url, "store", "incr", "cache:ab", "1"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("counter"), "{}", stderr(&out));
}

#[test]
fn store_errors_exit_non_zero() {
    let out = redwire(&["store", "get", "k"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "(nil)\n", "the embedded store by default");
    let out = redwire(&["--url", "redis://127.0.0.1:1", "--timeout", "2s", "store", "get", "k"]);
    assert_exit(&out, 1);
    let out =
        redwire(&["--url", "redis://127.0.0.1:1", "--config", &example("default.json"), "store", "get", "k"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("only one of"), "{}", stderr(&out));
    let out = redwire(&["--config", "/nonexistent/redwire.json", "demo"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("/nonexistent/redwire.json"), "{}", stderr(&out));
    let out = redwire(&["store", "set", "k", "v", "--ttl", "0"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("ttl of zero"), "{}", stderr(&out));
}

#[test]
fn config_check_prints_the_normalised_config_with_secrets_redacted() {
    let out = redwire(&["config", "check", &example("redis.json")]);
    assert_exit(&out, 0);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the output is JSON");
    assert_eq!(printed["@type"], "Redis");
    assert_eq!(printed["poolMaxConnections"], 32);
    assert_eq!(printed["poolTimeoutRecycle"], serde_json::Value::Null);
    assert!(!stdout(&out).contains("change-me"), "the URL password shows: {}", stdout(&out));

    let dir = ScratchDir::new("cli-config");
    let file = dir.join("cluster.json");
    std::fs::write(
        &file,
        r#"{"@type": "RedisCluster", "authSecret": {"@type": "Value", "secret": "hunter2-s3cret"}}"#,
    )
    .unwrap();
    let out = redwire(&["config", "check", &file.display().to_string()]);
    assert_exit(&out, 0);
    assert!(!stdout(&out).contains("hunter2-s3cret"), "{}", stdout(&out));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["authSecret"]["secret"], "***");
    assert_eq!(printed["timeout"], "10s", "defaults filled in");
}

#[test]
fn config_check_resolves_secrets_and_can_be_lenient() {
    let dir = ScratchDir::new("cli-config");
    let secret_file = dir.join("pw");
    std::fs::write(&secret_file, "file-s3cret\n").unwrap();
    let file = dir.join("sentinel.json");
    let json = format!(
        r#"{{"@type": "Sharded", "stores": [
            {{"@type": "RedisCluster", "authSecret": {{"@type": "File", "filePath": "{}"}}, "newField": 1}},
            {{"@type": "RedisCluster", "authSecret": {{"@type": "EnvironmentVariable", "variableName": "REDWIRE_CLI_CHECK_UNSET"}}}},
            {{"@type": "RedisCluster", "authSecret": {{"@type": "File", "filePath": "{}"}}}}]}}"#,
        secret_file.display(),
        dir.join("missing").display()
    );
    std::fs::write(&file, json).unwrap();
    let path = file.display().to_string();

    // Strict: the unknown field is an error (and secrets are not looked at yet).
    let out = redwire(&["config", "check", &path]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains(": stores[0].newField: unknown field"), "{}", stderr(&out));

    // Lenient: a warning, then every secret is resolved; the two that cannot be are errors.
    let out = redwire(&["config", "check", "--lenient", &path]);
    assert_exit(&out, 1);
    let errors = stderr(&out);
    assert!(errors.contains("warning: stores[0].newField: unknown field"), "{errors}");
    assert!(
        errors
            .contains(": stores[1].authSecret: environment variable \"REDWIRE_CLI_CHECK_UNSET\" is not set"),
        "{errors}"
    );
    assert!(errors.contains(": stores[2].authSecret: cannot read secret file"), "{errors}");
    assert!(errors.contains("2 error(s)"), "{errors}");
    assert!(out.stdout.is_empty());

    // With every secret readable it passes, and prints no secret.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace(&dir.join("missing").display().to_string(), &secret_file.display().to_string()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(["config", "check", "--lenient", &path])
        .env("REDWIRE_CLI_CHECK_UNSET", "env-s3cret")
        .output()
        .expect("run redwire");
    assert_exit(&out, 0);
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!shown.contains("file-s3cret") && !shown.contains("env-s3cret"), "{shown}");
}

#[test]
fn config_check_lists_every_error_with_its_path() {
    let dir = ScratchDir::new("cli-config");
    let file = dir.join("bad.json");
    std::fs::write(
        &file,
        r#"{"@type": "Sharded", "stores": [{"@type": "Default"},
            {"@type": "Redis", "url": "redis://:hunter2-s3cret@h:99999", "poolMaxConnections": 0, "tmeout": "1s"}]}"#,
    )
    .unwrap();
    let out = redwire(&["config", "check", &file.display().to_string()]);
    assert_exit(&out, 1);
    let errors = stderr(&out);
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", stdout(&out));
    for path in ["stores[0].@type", "stores[1].url", "stores[1].poolMaxConnections", "stores[1].tmeout"] {
        assert!(errors.contains(&format!(": {path}: ")), "no error at {path}:\n{errors}");
    }
    assert!(errors.contains("did you mean timeout?"), "{errors}");
    assert!(!errors.contains("hunter2-s3cret"), "a secret leaked:\n{errors}");

    std::fs::write(&file, "{ not json").unwrap();
    let out = redwire(&["config", "check", &file.display().to_string()]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("invalid JSON"), "{}", stderr(&out));
    let out = redwire(&["config", "check", "/nonexistent/redwire.json"]);
    assert_exit(&out, 1);
}

#[test]
fn bench_runs_through_the_embedded_store() {
    // One client: the bench's version check assumes writes to a key land in the order they were
    // issued, which only a single writer guarantees on a multi-threaded in-process store.
    let out = redwire(&["bench", "--duration", "1s", "--clients", "1", "--keys", "100", "--json"]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bench --json prints JSON");
    assert_eq!(report["client_stats"], serde_json::Value::Null, "a store has no client stats: {report}");
    assert!(report["ops"].as_u64().is_some_and(|n| n > 1000), "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["verify_failures"], 0, "{report}");
}

#[test]
fn bench_draws_the_run_with_the_mark() {
    let dir = ScratchDir::new("cli-bench-plot");
    let svg_path = dir.join("run.svg");
    let svg_arg = svg_path.to_string_lossy().into_owned();
    let out = redwire(&[
        "bench",
        "--duration",
        "1s",
        "--clients",
        "1",
        "--keys",
        "100",
        "--plot",
        &svg_arg,
        "--mark-at",
        "500ms",
    ]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("verify_failures 0"), "{}", stdout(&out));
    let svg = std::fs::read_to_string(&svg_path).expect("--plot wrote the file");
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"), "{svg}");
    for part in [
        r#"data-series="ops""#,
        r#"data-series="p99""#,
        r#"data-series="errors""#,
        r#"data-series="latency""#,
    ] {
        assert!(svg.contains(part), "{part} missing");
    }
    assert_eq!(svg.matches(r#"data-marker="fault""#).count(), 3, "the mark on each timeline");
    assert!(svg.contains("fault 0.5s"), "{svg}");
    // The mark belongs to a picture; the counter workload has none.
    assert_exit(&redwire(&["bench", "--mark-at", "1s"]), 2);
    let counter =
        redwire(&["--url", "redis://127.0.0.1:1", "bench", "--workload", "counter", "--plot", &svg_arg]);
    assert_exit(&counter, 1);
    assert!(stderr(&counter).contains("--plot"), "{}", stderr(&counter));
}

#[test]
fn demo_on_a_cluster_by_seed_urls() {
    let cluster = support::Cluster::start();
    let seeds = cluster.seed_urls().join(",");
    let out = redwire(&["--cluster", &seeds, "demo"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("on the RedisCluster store"), "{}", stdout(&out));
    assert!(stdout(&out).contains("all 18 checks passed"), "{}", stdout(&out));
    assert_eq!(store_line(&["--cluster", &seeds], &["incr", "hits", "5"]), "5");
    assert_eq!(store_line(&["--cluster", &seeds], &["counter-get", "hits"]), "5");
}
