//! The staleness drill: writers bump per-key versions with `SET` through an
//! uncached client while cached readers read in a loop, on one server
//! (RESP3, RESP2) and on a cluster (RESP3, RESP2), quietly and then with
//! `CLIENT KILL` of the connections (RESP2: the invalidation connections
//! too) and, on the cluster, a primary failover. Checked: no reader ever
//! sees a key's version go backwards, and a read started after a newer
//! version's `SET` returned sees it within [`BOUND`] (staleness p99 and max
//! printed). Zero violations. Each test runs well under 60 s.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redwire::cache::{CacheOptions, CacheStats};
use redwire::cluster::{key_slot, ClusterClient, ClusterOptions};
use redwire::url::parse_url;
use redwire::{cmd, Client, Execute, Frame, PoolOptions};
use support::{Cluster, Server};

/// The most a read may lag a `SET` that returned before it started.
const BOUND: Duration = Duration::from_secs(2);
const KEYS: usize = 16;
const READERS: usize = 4;

/// Per key, the version it had when the phase started (`first`), and when
/// each later version's `SET` returned (index = version - first; index 0 is
/// the phase's start). Versions keep growing from phase to phase, so a value
/// a reader cached in an earlier phase can only ever look older, never newer.
struct Book {
    first: Vec<u64>,
    commits: Vec<Mutex<Vec<Instant>>>,
}

#[derive(Default)]
struct Outcome {
    reads: u64,
    backwards: Vec<String>,
    /// Staleness of each read, in µs (0 when it saw the latest version).
    lags: Vec<u64>,
    errors: u64,
}

fn key(i: usize) -> String {
    format!("ver:{i}")
}

fn version(f: &Frame) -> Option<u64> {
    if f.is_null() {
        return Some(0);
    }
    std::str::from_utf8(f.as_bytes()?).ok()?.parse().ok()
}

async fn writer<E: Execute + 'static>(w: Arc<E>, keys: Vec<usize>, book: Arc<Book>, stop: Arc<AtomicBool>) {
    let mut next = [1u64; KEYS];
    for (k, n) in next.iter_mut().enumerate() {
        *n = book.first[k] + 1;
    }
    while !stop.load(Ordering::Acquire) {
        for &k in &keys {
            let v = next[k];
            // Retried until it succeeds (the same value: idempotent), so
            // versions are committed in order.
            loop {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                if let Ok(Frame::SimpleString(_)) = w.execute(&cmd("SET").arg(key(k)).arg(v)).await {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            book.commits[k].lock().unwrap_or_else(|p| p.into_inner()).push(Instant::now());
            next[k] = v + 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn reader<E: Execute + 'static>(r: Arc<E>, book: Arc<Book>, stop: Arc<AtomicBool>) -> Outcome {
    let mut last = [0u64; KEYS];
    let mut out = Outcome::default();
    let mut rng = fastrand::Rng::new();
    while !stop.load(Ordering::Acquire) {
        let k = rng.usize(0..KEYS);
        let started = Instant::now();
        let reply = r.execute(&cmd("GET").arg(key(k))).await;
        // Hits never wait on IO: let the writers and the driver run.
        tokio::task::yield_now().await;
        let Some(v) = reply.ok().as_ref().and_then(version) else {
            out.errors += 1;
            continue;
        };
        out.reads += 1;
        if v < last[k] {
            out.backwards.push(format!("key {k}: saw {} then {v}", last[k]));
        }
        last[k] = last[k].max(v);
        let commits = book.commits[k].lock().unwrap_or_else(|p| p.into_inner());
        // A version older than the phase's first: stale at least since the phase started.
        let newer = match v.checked_sub(book.first[k]) {
            Some(i) => commits.get(i as usize + 1),
            None => commits.first(),
        };
        let lag = match newer {
            Some(newer) if *newer < started => started.duration_since(*newer),
            _ => Duration::ZERO,
        };
        out.lags.push(lag.as_micros() as u64);
    }
    out
}

/// Runs writers and readers for `run`, calling `fault` at `fault_at` if any.
async fn drill<E: Execute + 'static, W: Execute + 'static>(
    name: &str,
    readers: Vec<Arc<E>>,
    write: Arc<W>,
    run: Duration,
    fault: Option<(Duration, tokio::task::JoinHandle<()>, Arc<AtomicBool>)>,
    stats: impl Fn() -> CacheStats,
) {
    // Versions continue from the previous phase's (no reset): a reader that
    // still serves an earlier phase's value then sees an older version, which
    // the lag bound checks, instead of a newer one.
    let mut first = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let current = write.execute(&cmd("GET").arg(key(i))).await.expect("current version");
        first.push(version(&current).expect("a version number"));
    }
    let book =
        Arc::new(Book { first, commits: (0..KEYS).map(|_| Mutex::new(vec![Instant::now()])).collect() });
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for part in 0..2 {
        let keys: Vec<usize> = (0..KEYS).filter(|k| k % 2 == part).collect();
        writers.push(tokio::spawn(writer(write.clone(), keys, book.clone(), stop.clone())));
    }
    let mut tasks = Vec::new();
    for r in readers {
        tasks.push(tokio::spawn(reader(r, book.clone(), stop.clone())));
    }
    if let Some((at, _, go)) = &fault {
        tokio::time::sleep(*at).await;
        go.store(true, Ordering::Release);
    }
    tokio::time::sleep(run).await;
    if let Some((_, task, _)) = fault {
        task.await.expect("fault");
    }
    stop.store(true, Ordering::Release);
    let mut all = Outcome::default();
    for t in tasks {
        let o = t.await.expect("reader");
        all.reads += o.reads;
        all.errors += o.errors;
        all.backwards.extend(o.backwards);
        all.lags.extend(o.lags);
    }
    for w in writers {
        w.await.expect("writer");
    }
    all.lags.sort_unstable();
    let p99 = all.lags.get(all.lags.len() * 99 / 100).copied().unwrap_or(0);
    let max = all.lags.last().copied().unwrap_or(0);
    let writes: usize =
        book.commits.iter().map(|c| c.lock().unwrap_or_else(|p| p.into_inner()).len() - 1).sum();
    let s = stats();
    println!(
        "{name}: {} reads ({} errors), {writes} writes, hit rate {:.1}%, staleness p99 {p99} µs max {max} µs, \
         {} backwards; cache {s:?}",
        all.reads,
        all.errors,
        s.hit_rate() * 100.0,
        all.backwards.len()
    );
    assert!(
        all.backwards.is_empty(),
        "{name}: versions went backwards: {:?}",
        &all.backwards[..all.backwards.len().min(10)]
    );
    assert!(max < BOUND.as_micros() as u64, "{name}: a read lagged {max} µs behind a returned SET");
    assert!(all.reads > 100 && writes > 10, "{name}: the drill did too little");
    assert!(s.hits > 0, "{name}: nothing was served from the cache");
}

fn opts(url: &str, protocol: &str) -> redwire::ConnectOptions {
    let mut o = parse_url(&format!("{url}?protocol={protocol}")).expect("url");
    o.connect_timeout = Duration::from_secs(2);
    o.response_timeout = Some(Duration::from_secs(3));
    o
}

fn cache_opts() -> CacheOptions {
    CacheOptions::new().max_ttl(Duration::from_secs(30))
}

/// Kills the normal (and pub/sub) client connections of `addrs` every
/// 300 ms, `times` times, once `go` is set.
fn killer(
    addrs: Vec<u16>,
    kinds: &'static [&'static str],
    times: usize,
    go: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !go.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for _ in 0..times {
            let addrs = addrs.clone();
            tokio::task::spawn_blocking(move || {
                for port in addrs {
                    let mut c = support::Client::connect(format!("127.0.0.1:{port}")).expect("connect");
                    for kind in kinds {
                        c.cmd(&["CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes"]);
                    }
                }
            })
            .await
            .expect("kill");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

async fn standalone(protocol: &str, kinds: &'static [&'static str]) {
    let server = Server::start();
    let url = server.url();
    let write = Arc::new(Client::connect(opts(&url, "resp2"), PoolOptions::default()).await.expect("writer"));
    let mut readers = Vec::new();
    for _ in 0..READERS / 2 {
        let c = Client::connect_cached(opts(&url, protocol), PoolOptions::default(), cache_opts())
            .await
            .expect("reader");
        // Two tasks per client: concurrent reads through one cache.
        readers.push(Arc::new(c.clone()));
        readers.push(Arc::new(c));
    }
    let probe = readers[0].clone();
    let stats = move || probe.cache_stats().expect("cache");
    drill(
        &format!("standalone {protocol} quiet"),
        readers.clone(),
        write.clone(),
        Duration::from_secs(3),
        None,
        &stats,
    )
    .await;
    let go = Arc::new(AtomicBool::new(false));
    let kill = killer(vec![server.port()], kinds, 6, go.clone());
    drill(
        &format!("standalone {protocol} CLIENT KILL"),
        readers,
        write,
        Duration::from_secs(3),
        Some((Duration::from_millis(500), kill, go)),
        &stats,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_resp3() {
    standalone("resp3", &["normal"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_resp2() {
    standalone("resp2", &["normal", "pubsub"]).await;
}

async fn cluster_client(cluster: &Cluster, protocol: &str, cache: Option<CacheOptions>) -> ClusterClient {
    let seeds = cluster.seed_urls().iter().map(|u| opts(u, protocol)).collect();
    ClusterClient::connect(ClusterOptions { seeds, cache, ..ClusterOptions::default() })
        .await
        .expect("cluster")
}

async fn cluster(protocol: &str, kinds: &'static [&'static str]) {
    let cluster = Arc::new(Cluster::start());
    let write = Arc::new(cluster_client(&cluster, "resp2", None).await);
    let mut readers = Vec::new();
    for _ in 0..READERS / 2 {
        let c = cluster_client(&cluster, protocol, Some(cache_opts())).await;
        readers.push(Arc::new(c.clone()));
        readers.push(Arc::new(c));
    }
    let probe = readers[0].clone();
    let stats = move || probe.cache_stats().expect("cache");
    drill(
        &format!("cluster {protocol} quiet"),
        readers.clone(),
        write.clone(),
        Duration::from_secs(3),
        None,
        &stats,
    )
    .await;
    let ports: Vec<u16> = cluster.nodes().iter().map(|n| n.port()).collect();
    let go = Arc::new(AtomicBool::new(false));
    let kill = killer(ports, kinds, 4, go.clone());
    drill(
        &format!("cluster {protocol} CLIENT KILL"),
        readers.clone(),
        write.clone(),
        Duration::from_secs(3),
        Some((Duration::from_millis(500), kill, go)),
        &stats,
    )
    .await;
    // A primary failover (of the shard holding key 0) while reading.
    let primary_port = cluster.primary_for_slot(key_slot(key(0).as_bytes())).port();
    let primary = cluster.nodes().iter().find(|n| n.port() == primary_port).expect("primary");
    let replica_port = cluster.replica_of(primary).expect("replica").port();
    let idx = cluster.nodes().iter().position(|n| n.port() == replica_port).expect("replica index");
    let go = Arc::new(AtomicBool::new(false));
    let (cl, g) = (cluster.clone(), go.clone());
    let failover = tokio::spawn(async move {
        while !g.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::task::spawn_blocking(move || cl.failover(cl.node(idx))).await.expect("failover");
    });
    drill(
        &format!("cluster {protocol} failover"),
        readers,
        write,
        Duration::from_secs(3),
        Some((Duration::from_millis(500), failover, go)),
        &stats,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_resp3() {
    cluster("resp3", &["normal"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_resp2() {
    cluster("resp2", &["normal", "pubsub"]).await;
}
