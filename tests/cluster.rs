//! The cluster router on a real 6-node Valkey cluster: slots against the
//! server's own CLUSTER KEYSLOT, multi-key splits, fan-out, CROSSSLOT, replica
//! reads; and correct answers under load through four drills: a primary
//! killed, a manual CLUSTER FAILOVER, a slot range migrated with MIGRATE, and
//! a killed node restarted. The load is the shared verified generator
//! (`redwire-load`, the same as `redwire bench` and `bench/`). Each drill
//! prints its recovery time and errors (`REDWIRE_DRILL_PLOTS=DIR` also draws it).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redwire::cluster::{key_slot, ClusterClient, ClusterOptions};
use redwire::url::parse_url;
use redwire::{cmd, Error, Frame};
use redwire_load::{Failure, LoadConfig, Mix, Report, Running};
use support::Cluster;

async fn client(cluster: &Cluster, read_from_replicas: bool) -> ClusterClient {
    let seeds = cluster
        .seed_urls()
        .iter()
        .map(|u| {
            let mut o = parse_url(u).expect("seed url");
            o.connect_timeout = Duration::from_secs(2);
            o.response_timeout = Some(Duration::from_secs(3));
            o
        })
        .collect();
    ClusterClient::connect(ClusterOptions { seeds, read_from_replicas, ..ClusterOptions::default() })
        .await
        .expect("cluster connect")
}

/// Runs `f` on the blocking pool, starting now (not when awaited).
fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> tokio::task::JoinHandle<T> {
    tokio::task::spawn_blocking(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_match_the_server() {
    let cluster = Cluster::start();
    let mut raw = cluster.client();
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..2000 {
        let len = rng.usize(0..24);
        let mut key: String = (0..len).map(|_| rng.alphanumeric()).collect();
        if i % 5 == 0 {
            key = format!("x{{{key}}}y");
        }
        if i % 7 == 0 {
            key.push_str("{}");
        }
        let reply = raw.cmd(&["CLUSTER", "KEYSLOT", &key]);
        assert_eq!(Some(i64::from(key_slot(key.as_bytes()))), reply.as_int(), "key {key:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_route_split_and_fan_out() {
    let cluster = Cluster::start();
    for replicas in [false, true] {
        let c = client(&cluster, replicas).await;
        // Futures are moved on every call: the one-slot path's stays small
        // (the slow paths are boxed; it was 4.4 KB before they were).
        let get = cmd("GET").arg("k0");
        let size = std::mem::size_of_val(&c.send(&get));
        assert!(size <= 1024, "ClusterClient::send's future is {size} bytes");
        c.send(&cmd("FLUSHALL")).await.expect("flushall fans out");
        for i in 0..300 {
            c.query::<()>(&cmd("SET").arg(format!("k{i}")).arg(format!("v{i}"))).await.expect("set");
        }
        for i in 0..300 {
            let v: Option<String> = c.query(&cmd("GET").arg(format!("k{i}"))).await.expect("get");
            assert_eq!(v, Some(format!("v{i}")));
        }
        // MGET across slots comes back in the caller's order, repeated keys included.
        let keys = ["k5", "k200", "missing", "k5", "k17"];
        let got: Vec<Option<String>> = c.query(&cmd("MGET").args_from(keys)).await.expect("mget");
        assert_eq!(
            got,
            vec![Some("v5".into()), Some("v200".into()), None, Some("v5".into()), Some("v17".into())]
        );
        let mut mset = cmd("MSET");
        for i in 0..50 {
            mset.push_arg(format!("m{i}"));
            mset.push_arg(format!("mv{i}"));
        }
        c.query::<()>(&mset).await.expect("mset");
        let n: i64 =
            c.query(&cmd("EXISTS").args_from((0..50).map(|i| format!("m{i}")))).await.expect("exists");
        assert_eq!(n, 50);
        let dbsize: i64 = c.query(&cmd("DBSIZE")).await.expect("dbsize sums");
        assert_eq!(dbsize, 350);
        let keys: Vec<String> = c.query(&cmd("KEYS").arg("m*")).await.expect("keys concatenates");
        assert_eq!(keys.len(), 50);
        let deleted: i64 =
            c.query(&cmd("DEL").args_from((0..50).map(|i| format!("m{i}")))).await.expect("del");
        assert_eq!(deleted, 50);
        // An unsplittable command across slots fails before anything is sent.
        let err = c.send(&cmd("SUNIONSTORE").arg("a").arg("b")).await.expect_err("crossslot");
        assert!(matches!(err, Error::CrossSlot), "{err:?}");
        // Same-slot keys with a hash tag go as one command.
        let n: i64 = c
            .query(&cmd("SUNIONSTORE").arg("{t}dst").arg("{t}a").arg("{t}b"))
            .await
            .expect("same-slot multi-key command");
        assert_eq!(n, 0);
        // Error replies that are not redirects come back as frames.
        let f = c.send(&cmd("INCR").arg("k1")).await.expect("error reply");
        assert!(f.is_error(), "{f:?}");
    }
}

fn cmdstat(node: &support::ClusterNode, command: &str) -> u64 {
    let mut raw = node.client();
    let line = raw
        .info("commandstats")
        .into_iter()
        .find(|(k, _)| k == &format!("cmdstat_{command}"))
        .map(|(_, v)| v)
        .unwrap_or_default();
    line.split(',').find_map(|kv| kv.strip_prefix("calls=")).and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_reads_reach_replicas_and_fall_back() {
    let cluster = Cluster::start();
    let c = client(&cluster, true).await;
    for i in 0..100 {
        c.query::<()>(&cmd("SET").arg(format!("r{i}")).arg("x")).await.expect("set");
    }
    // Let the read-your-writes window pass so reads may go to replicas.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let before: u64 = cluster.replicas().iter().map(|r| cmdstat(r, "get")).sum();
    for _ in 0..3 {
        for i in 0..100 {
            let v: Option<String> = c.query(&cmd("GET").arg(format!("r{i}"))).await.expect("get");
            assert_eq!(v.as_deref(), Some("x"));
        }
    }
    let after: u64 = cluster.replicas().iter().map(|r| cmdstat(r, "get")).sum();
    assert!(after - before >= 250, "replicas served {} of 300 GETs", after - before);
    // Reads right after a write go to the primary and see the write.
    for i in 0..100 {
        c.query::<()>(&cmd("SET").arg(format!("r{i}")).arg(format!("new{i}"))).await.expect("set");
        let v: Option<String> = c.query(&cmd("GET").arg(format!("r{i}"))).await.expect("get");
        assert_eq!(v, Some(format!("new{i}")), "read-your-writes");
    }
    // Replicas down: reads fall back to the primaries.
    let replica_indexes: Vec<usize> =
        (0..cluster.nodes().len()).filter(|&i| cluster.node(i).role() == support::Role::Replica).collect();
    for &i in &replica_indexes {
        cluster.kill_node(i);
    }
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let started = Instant::now();
    for i in 0..100 {
        let v: Option<String> =
            c.query(&cmd("GET").arg(format!("r{i}"))).await.expect("get with replicas down");
        assert_eq!(v, Some(format!("new{i}")));
    }
    assert!(started.elapsed() < Duration::from_secs(10), "fallback took {:?}", started.elapsed());
}

/// The cluster client as the shared load generator (`redwire-load`) drives it.
#[derive(Clone)]
struct LoadDriver(ClusterClient);

fn failure(e: Error) -> Failure {
    if e.is_not_sent() && std::env::var_os("REDWIRE_DEBUG_ERRORS").is_some() {
        eprintln!("not sent: {e:?}");
    }
    Failure::new(e.kind_name(), e.to_string())
}

impl redwire_load::Driver for LoadDriver {
    type Value = Bytes;

    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, Failure> {
        self.0.query(&cmd("GET").arg(key)).await.map_err(failure)
    }

    async fn set(&mut self, key: &[u8], value: Bytes) -> Result<(), Failure> {
        self.0.query(&cmd("SET").arg(key).arg(value)).await.map_err(failure)
    }

    async fn mget(&mut self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, Failure> {
        self.0.query(&cmd("MGET").args_from(keys.iter().copied())).await.map_err(failure)
    }

    async fn incr(&mut self, key: &[u8]) -> Result<i64, Failure> {
        self.0.query(&cmd("INCR").arg(key)).await.map_err(failure)
    }
}

/// Keys of the drills' load: `load:0` .. `load:1999`.
const LOAD_KEYS: u64 = 2000;

/// 50 tasks of verified GET/SET/MGET/INCR (see `redwire-load`): every value
/// names its key and version, every counter must grow, so a value of another
/// key, a lost acknowledged write before the fault or a garbled reply is a
/// verify failure. Runs until `stop` (at most a minute).
async fn start_load(c: &ClusterClient) -> Running {
    let mut cfg = LoadConfig::new(50, Duration::from_secs(60), LOAD_KEYS, "load:");
    cfg.mix = Mix { get: 4, set: 3, mget: 1, incr: 1 };
    // The client reads from replicas: another task's newest write may not be there yet.
    cfg.replicas = true;
    cfg.settle = Duration::from_secs(1);
    cfg.error_pause = Duration::from_millis(5);
    cfg.grace = Duration::from_secs(10);
    redwire_load::start(LoadDriver(c.clone()), cfg).await.expect("load prefill")
}

fn value_for(key: &str, version: u64) -> String {
    format!("{key}|{version}")
}

/// Writes `key` every 5 ms and remembers when each write succeeded.
struct Probe {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Instant>>,
}

impl Probe {
    fn start(c: &ClusterClient, key: &str) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let (c, key, stop2) = (c.clone(), key.to_string(), stop.clone());
        let task = tokio::spawn(async move {
            let mut ok = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                if c.query::<()>(&cmd("SET").arg(&key).arg(value_for(&key, 0))).await.is_ok() {
                    ok.push(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            ok
        });
        Probe { stop, task }
    }

    /// The longest time without a successful write after `from`.
    async fn longest_stall(self, from: Instant) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        let times = self.task.await.expect("probe");
        let mut last = from;
        let mut worst = Duration::ZERO;
        for t in times.into_iter().filter(|t| *t >= from) {
            worst = worst.max(t - last);
            last = t;
        }
        worst
    }
}

/// Writes to `key` every 10 ms until one succeeds after `since`; returns when.
async fn first_write_after(
    c: &ClusterClient,
    key: &str,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    while since.elapsed() < limit {
        if c.query::<()>(&cmd("SET").arg(key).arg(value_for(key, 0))).await.is_ok() {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Prints what the drill saw (`fault_ms`: when the fault began, ms since the
/// load started); with `REDWIRE_DRILL_PLOTS=DIR` also draws it as `DIR/<drill>.svg`.
fn report(drill: &str, recovery: Option<Duration>, r: &Report, fault_ms: u64) {
    let last_error = r.last_error_at_ms().map(|ms| Duration::from_millis(ms.saturating_sub(fault_ms)));
    eprintln!(
        "DRILL {drill}: recovery {recovery:?}, ok {}, errors {:?} (last within 100 ms of {:?} after the fault), \
         wrong {} {:?}, stale reads {}, older after the fault {}",
        r.ops,
        r.errors_by_kind,
        last_error,
        r.verify_failures,
        r.first_verify_failure,
        r.stale_reads,
        r.older_after_failover
    );
    if let Some(dir) = std::env::var_os("REDWIRE_DRILL_PLOTS") {
        let name: String = drill.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let mut run = r.plot_run("redwire");
        run.fault_at_ms = Some(fault_ms);
        let svg = redwire_load::plot::render(&format!("cluster drill {drill}"), &[run]);
        let path = std::path::Path::new(&dir).join(format!("{name}.svg"));
        std::fs::write(&path, svg).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Only these error kinds may surface (whatever the operation).
#[track_caller]
fn assert_error_kinds(r: &Report, allowed: &[&str]) {
    for kind in r.errors_by_kind_only().keys() {
        assert!(allowed.contains(&kind.as_str()), "unexpected error kind {kind}: {:?}", r.errors_by_kind);
    }
}

/// ms from the load's start to `t`.
fn ms_since_start(load: &Running, t: Instant) -> u64 {
    t.saturating_duration_since(load.marker().start()).as_millis() as u64
}

#[track_caller]
fn assert_no_wrong_answers(r: &Report) {
    assert_eq!(
        r.verify_failures, 0,
        "wrong answers: {:?}: {:?}",
        r.verify_failures_by_reason, r.first_verify_failure
    );
    assert_eq!(r.unfinished_tasks, 0, "tasks stuck on a reply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_kill_a_primary_under_load() {
    let cluster = Cluster::start();
    let c = client(&cluster, true).await;
    let load = start_load(&c).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let probe = "probe-key";
    let victim_port = cluster.primary_for_slot(key_slot(probe.as_bytes())).port();
    let victim = (0..cluster.nodes().len()).find(|&i| cluster.node(i).port() == victim_port).expect("victim");
    let fault = Instant::now();
    cluster.kill_node(victim);
    // Acknowledged writes the dead primary had not replicated yet may be lost from here on.
    load.mark_fault();
    let recovery = first_write_after(&c, probe, fault, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fault_ms = ms_since_start(&load, fault);
    let r = load.stop().await;
    report("kill-primary", recovery, &r, fault_ms);
    assert_no_wrong_answers(&r);
    assert!(recovery.is_some(), "writes to the failed slots never recovered");
    // Only in-flight commands may fail, with "outcome unknown" or a timeout; nothing else surfaces.
    assert_error_kinds(&r, &["outcome_unknown", "timeout"]);
    assert!(r.errors < 200, "too many errors: {:?}", r.errors_by_kind);
    assert!(r.ops > 1000, "{} ops", r.ops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_manual_failover_under_load() {
    let cluster = Cluster::start();
    let c = client(&cluster, true).await;
    let load = start_load(&c).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let probe = "probe-key";
    let primary_port = cluster.primary_for_slot(key_slot(probe.as_bytes())).port();
    let replica_port = cluster
        .replica_of(cluster.nodes().iter().find(|n| n.port() == primary_port).expect("primary"))
        .expect("replica")
        .port();
    let nodes: Vec<u16> = cluster.nodes().iter().map(|n| n.port()).collect();
    let idx = nodes.iter().position(|&p| p == replica_port).expect("replica index");
    let cluster = Arc::new(cluster);
    let cl = cluster.clone();
    let prober = Probe::start(&c, probe);
    let fault = Instant::now();
    blocking(move || cl.failover(cl.node(idx))).await.expect("failover");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stall = prober.longest_stall(fault).await;
    // A coordinated failover loses no acknowledged write: no fault is marked for the verification.
    let fault_ms = ms_since_start(&load, fault);
    let r = load.stop().await;
    report("manual-failover (longest write stall)", Some(stall), &r, fault_ms);
    assert_no_wrong_answers(&r);
    assert_eq!(r.older_after_failover, 0);
    assert_error_kinds(&r, &["outcome_unknown"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_migrate_slots_under_load() {
    let cluster = Arc::new(Cluster::start());
    let c = client(&cluster, true).await;
    // Keys of the load live in many slots; migrate the slots of every fifth key.
    let load = start_load(&c).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut slots: Vec<u16> =
        (0..LOAD_KEYS).step_by(5).map(|k| key_slot(format!("load:{k}").as_bytes())).collect();
    slots.sort_unstable();
    slots.dedup();
    // The probe writes a key of its own in the slot of `load:0` (a hash tag), not a load key.
    let prober = Probe::start(&c, "{load:0}probe");
    let fault = Instant::now();
    let cl = cluster.clone();
    let moved = blocking(move || {
        let mut moved = 0;
        for slot in slots {
            let source = cl.primary_for_slot(slot);
            let target =
                cl.primaries().into_iter().find(|p| p.port() != source.port()).expect("another primary");
            migrate_slot(source, target, slot);
            moved += 1;
        }
        moved
    })
    .await
    .expect("migration");
    eprintln!("migration of {moved} slots took {:?}", fault.elapsed());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stall = prober.longest_stall(fault).await;
    let fault_ms = ms_since_start(&load, fault);
    let r = load.stop().await;
    report(&format!("migrate-{moved}-slots (longest write stall)"), Some(stall), &r, fault_ms);
    assert_no_wrong_answers(&r);
    assert_eq!(r.older_after_failover, 0);
    assert!(r.errors_by_kind.is_empty(), "errors surfaced during migration: {:?}", r.errors_by_kind);
    assert!(c.refresh_count() < 200, "refresh storm: {}", c.refresh_count());
}

/// Moves one slot from `source` to `target` as redis-cli --cluster reshard does.
fn migrate_slot(source: &support::ClusterNode, target: &support::ClusterNode, slot: u16) {
    let s = slot.to_string();
    let mut src = source.client();
    let mut dst = target.client();
    dst.cmd(&["CLUSTER", "SETSLOT", &s, "IMPORTING", source.id()]).assert_ok();
    src.cmd(&["CLUSTER", "SETSLOT", &s, "MIGRATING", target.id()]).assert_ok();
    loop {
        let keys = src.cmd(&["CLUSTER", "GETKEYSINSLOT", &s, "100"]);
        let keys: Vec<String> = keys.as_array().unwrap_or(&[]).iter().map(|k| k.text()).collect();
        if keys.is_empty() {
            break;
        }
        let mut args: Vec<String> = vec![
            "MIGRATE".into(),
            "127.0.0.1".into(),
            target.port().to_string(),
            "".into(),
            "0".into(),
            "5000".into(),
            "KEYS".into(),
        ];
        args.extend(keys);
        let r = src.cmd(&args);
        assert!(!r.is_error(), "MIGRATE: {r:?}");
        // Give the load time to hit ASK redirects mid-migration.
        std::thread::sleep(Duration::from_millis(5));
    }
    // Assign the slot; retry while the source still reports keys (a write
    // that raced the last GETKEYSINSLOT) or gossip is catching up.
    for attempt in 0.. {
        let leftover = src.cmd(&["CLUSTER", "COUNTKEYSINSLOT", &s]).as_int().unwrap_or(0);
        if leftover > 0 {
            let keys = src.cmd(&["CLUSTER", "GETKEYSINSLOT", &s, "100"]);
            let mut args: Vec<String> = vec![
                "MIGRATE".into(),
                "127.0.0.1".into(),
                target.port().to_string(),
                "".into(),
                "0".into(),
                "5000".into(),
                "KEYS".into(),
            ];
            args.extend(keys.as_array().unwrap_or(&[]).iter().map(|k| k.text()));
            let _ = src.cmd(&args);
        }
        let a = dst.cmd(&["CLUSTER", "SETSLOT", &s, "NODE", target.id()]);
        let b = src.cmd(&["CLUSTER", "SETSLOT", &s, "NODE", target.id()]);
        if a.is_ok() && b.is_ok() {
            return;
        }
        assert!(attempt < 50, "CLUSTER SETSLOT {s} NODE keeps failing: {a:?} {b:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_restart_a_killed_node_under_load() {
    let cluster = Arc::new(Cluster::start());
    let c = client(&cluster, true).await;
    let load = start_load(&c).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let probe = "probe-key";
    let victim_port = cluster.primary_for_slot(key_slot(probe.as_bytes())).port();
    let victim = (0..cluster.nodes().len()).find(|&i| cluster.node(i).port() == victim_port).expect("victim");
    cluster.kill_node(victim);
    let killed = Instant::now();
    load.mark_fault();
    let first = first_write_after(&c, probe, killed, Duration::from_secs(20)).await;
    assert!(first.is_some(), "no failover after the kill");
    let fault = Instant::now();
    let cl = cluster.clone();
    blocking(move || {
        cl.restart_node(victim);
        cl.wait_ok();
    })
    .await
    .expect("restart");
    let recovery = first_write_after(&c, probe, fault, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let fault_ms = ms_since_start(&load, killed);
    let r = load.stop().await;
    report("restart-killed-node", recovery, &r, fault_ms);
    assert_no_wrong_answers(&r);
    assert_error_kinds(&r, &["outcome_unknown", "timeout"]);
    // The restarted node is a replica now; reads through replicas still answer correctly.
    let v: Option<String> = c.query(&cmd("GET").arg(probe)).await.expect("get");
    assert_eq!(v, Some(value_for(probe, 0)));
    let _: Frame = c.send(&cmd("PING")).await.expect("ping");
}
