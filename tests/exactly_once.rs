//! The exactly-once promise, measured on the server's own counters: a command
//! reported `NotSent` never ran, so however often the client sends again
//! after one, every key ends with
//! `acknowledged <= server count <= acknowledged + outcome unknown`.
//!
//! Faults: a counting fake server with a tiny receive buffer that stops
//! reading for longer than the response timeout (the writer is blocked in
//! `write()` on a full socket when the watchdog closes the connection); real
//! Valkey frozen with SIGSTOP, paused with `CLIENT PAUSE WRITE` and cut with
//! `CLIENT KILL` while thousands of `INCR`s and large `SET`s run through one
//! `Client`; big pipelines under kills (a pipeline broken part-way says which
//! of its commands may have run); and a `ClusterClient` whose primary is
//! killed (after its replica caught up, so the failover loses no write: any
//! excess is the client's doing).

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redwire::cluster::{ClusterClient, ClusterOptions};
use redwire::url::parse_url;
use redwire::{cmd, Client, Cmd, ConnectOptions, Error, Frame};
use support::{Cluster, Server};

const KEYS: usize = 10;

/// Per key: replies received, errors saying "may have run", and NotSent
/// errors (after which the command was sent again).
#[derive(Default)]
struct Tally {
    acked: Vec<AtomicU64>,
    unknown: Vec<AtomicU64>,
    not_sent: AtomicU64,
    other: Mutex<HashMap<&'static str, u64>>,
}

impl Tally {
    fn new(keys: usize) -> Arc<Tally> {
        Arc::new(Tally {
            acked: (0..keys).map(|_| AtomicU64::new(0)).collect(),
            unknown: (0..keys).map(|_| AtomicU64::new(0)).collect(),
            ..Tally::default()
        })
    }

    /// Records one outcome; true when the command must be sent again
    /// (`NotSent`: it did not run).
    fn record(&self, key: usize, result: &Result<i64, Error>) -> bool {
        match result {
            Ok(_) => {
                self.acked[key].fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(e) if e.is_outcome_unknown() => {
                self.unknown[key].fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(e) => {
                if e.is_not_sent() {
                    self.not_sent.fetch_add(1, Ordering::Relaxed);
                }
                // Any other error says the command did not run: counted as such.
                *self.other.lock().unwrap().entry(e.kind_name()).or_default() += 1;
                e.is_not_sent()
            }
        }
    }

    /// Checks the invariant against the server's counts; returns a summary.
    fn check(&self, what: &str, server: &[i64]) -> String {
        let mut violations = Vec::new();
        let (mut acked_total, mut unknown_total, mut server_total) = (0u64, 0u64, 0i64);
        for (k, &count) in server.iter().enumerate() {
            let acked = self.acked[k].load(Ordering::Relaxed);
            let unknown = self.unknown[k].load(Ordering::Relaxed);
            acked_total += acked;
            unknown_total += unknown;
            server_total += count;
            let count = u64::try_from(count).unwrap_or(0);
            if !(acked <= count && count <= acked + unknown) {
                violations.push(format!("key {k}: acked {acked}, unknown {unknown}, server {count}"));
            }
        }
        let summary = format!(
            "{what}: acked {acked_total}, outcome unknown {unknown_total}, server {server_total}, \
             not sent (resent) {}, other errors {:?}",
            self.not_sent.load(Ordering::Relaxed),
            self.other.lock().unwrap()
        );
        println!("{summary}");
        assert!(violations.is_empty(), "{summary}\nexactly-once violated:\n{}", violations.join("\n"));
        assert!(acked_total > 0, "{summary}: nothing was acknowledged");
        summary
    }
}

fn fast_fail(mut o: ConnectOptions) -> ConnectOptions {
    o.connect_timeout = Duration::from_secs(1);
    o.response_timeout = Some(Duration::from_millis(300));
    o
}

/// `tasks` tasks INCR keys `prefix0..prefix{KEYS-1}` through `incr` until
/// `stop`; a NotSent is sent again (it did not run).
async fn incr_load<F, Fut>(tasks: usize, prefix: &str, tally: &Arc<Tally>, stop: &Arc<AtomicBool>, incr: F)
where
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<i64, Error>> + Send,
{
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let (tally, stop, incr, prefix) = (tally.clone(), stop.clone(), incr.clone(), prefix.to_string());
        set.spawn(async move {
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let key = i % KEYS;
                i += 1;
                loop {
                    let r = incr(format!("{prefix}{key}")).await;
                    if !tally.record(key, &r) || stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// `tasks` tasks SET `size`-byte values until `stop`, keeping the socket full.
fn big_sets(tasks: usize, size: usize, stop: &Arc<AtomicBool>, client: Client) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    let value = Bytes::from(vec![b'v'; size]);
    for t in 0..tasks {
        let (stop, client, value) = (stop.clone(), client.clone(), value.clone());
        set.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = client.query::<Frame>(&cmd("SET").arg(format!("big{t}")).arg(value.clone())).await;
            }
        });
    }
    set
}

// ---------------------------------------------------------------------------------------------
// A counting fake server with a tiny receive buffer.

/// Counts the INCRs it received per key, over all connections. Every
/// connection, after `stall_after` commands, stops reading for `stall`, then
/// reads (and counts) everything that still arrives.
struct CountingServer {
    port: u16,
    counts: Arc<Mutex<HashMap<Vec<u8>, i64>>>,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
}

impl CountingServer {
    fn start(stall_after: usize, stall: Duration) -> CountingServer {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        // Inherited by accepted sockets: the client's writes fill it quickly.
        socket.set_recv_buffer_size(4096).unwrap();
        socket.set_reuse_address(true).unwrap();
        socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        socket.listen(64).unwrap();
        let listener: TcpListener = socket.into();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let (c, s, n) = (counts.clone(), stop.clone(), connections.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        n.fetch_add(1, Ordering::Relaxed);
                        let (c, s) = (c.clone(), s.clone());
                        std::thread::spawn(move || serve(stream, &c, &s, stall_after, stall));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        CountingServer { port, counts, stop, connections }
    }

    fn count(&self, key: &str) -> i64 {
        self.counts.lock().unwrap().get(key.as_bytes()).copied().unwrap_or(0)
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One connection of the counting server.
fn serve(
    mut stream: TcpStream,
    counts: &Mutex<HashMap<Vec<u8>, i64>>,
    stop: &AtomicBool,
    stall_after: usize,
    stall: Duration,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut served = 0usize;
    let mut stalled = false;
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                continue;
            }
            Err(_) => return,
        }
        let mut out = Vec::new();
        while let Some((args, used)) = parse_command(&buf) {
            buf.drain(..used);
            served += 1;
            let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
            if name == b"INCR" && args.len() == 2 {
                let mut c = counts.lock().unwrap();
                let v = c.entry(args[1].clone()).or_insert(0);
                *v += 1;
                out.extend_from_slice(format!(":{v}\r\n").as_bytes());
            } else {
                out.extend_from_slice(b"+OK\r\n");
            }
        }
        // The client may be gone: replies are best effort.
        let _ = stream.write_all(&out);
        if !stalled && served >= stall_after {
            stalled = true;
            std::thread::sleep(stall);
        }
    }
}

/// One RESP array of bulk strings at the front of `buf`: its arguments and length.
fn parse_command(buf: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = buf.get(at..)?.windows(2).position(|w| w == b"\r\n")? + at;
        Some((&buf[at..end], end + 2))
    }
    let (head, mut at) = line(buf, 0)?;
    assert_eq!(head.first(), Some(&b'*'), "counting server: not an array: {head:?}");
    let n: usize = std::str::from_utf8(&head[1..]).ok()?.parse().ok()?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        let (h, next) = line(buf, at)?;
        let len: usize = std::str::from_utf8(h.get(1..)?).ok()?.parse().ok()?;
        let end = next + len;
        if buf.len() < end + 2 {
            return None;
        }
        args.push(buf[next..end].to_vec());
        at = end + 2;
    }
    Some((args, at))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_with_a_full_socket_never_gets_a_command_twice() {
    let server = CountingServer::start(40, Duration::from_millis(900));
    let client = Client::connect(
        fast_fail(ConnectOptions::tcp("127.0.0.1", server.port)),
        redwire::PoolOptions::default(),
    )
    .await
    .unwrap();
    let tally = Tally::new(KEYS);
    let stop = Arc::new(AtomicBool::new(false));
    let mut sets = big_sets(16, 2 * 1024 * 1024, &stop, client.clone());
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let c = client.clone();
    incr_load(24, "ctr", &tally, &stop, move |k| {
        let c = c.clone();
        async move { c.query::<i64>(&cmd("INCR").arg(k)).await }
    })
    .await;
    timer.await.unwrap();
    while sets.join_next().await.is_some() {}
    drop(client);
    // Let the server read what the kernel still delivers.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let counts: Vec<i64> = (0..KEYS).map(|k| server.count(&format!("ctr{k}"))).collect();
    tally.check("fake server, stalled reads", &counts);
    // Each stall outlasts the response timeout, so each closed a connection with commands queued.
    let connections = server.connections.load(Ordering::Relaxed);
    println!("fake server: {connections} connections");
    assert!(connections >= 3, "only {connections} connections: the stalls never closed one");
}

// ---------------------------------------------------------------------------------------------
// Real Valkey.

fn server_counts(server: &Server, prefix: &str) -> Vec<i64> {
    let mut c = server.client();
    (0..KEYS)
        .map(|k| c.cmd(&["GET", &format!("{prefix}{k}")]).as_text().and_then(|t| t.parse().ok()).unwrap_or(0))
        .collect()
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill").arg(sig).arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill {sig} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valkey_frozen_paused_and_killed_never_runs_a_command_twice() {
    let server = Server::start();
    let client =
        Client::connect(fast_fail(parse_url(&server.url()).unwrap()), redwire::PoolOptions::default())
            .await
            .unwrap();
    let tally = Tally::new(KEYS);
    let stop = Arc::new(AtomicBool::new(false));
    let mut sets = big_sets(16, 2 * 1024 * 1024, &stop, client.clone());
    // Eight 1.2 s freezes (four times the response timeout), then pauses and kills.
    let chaos = {
        let (stop, pid, addr) = (stop.clone(), server.pid(), server.addr());
        tokio::task::spawn_blocking(move || {
            let mut admin = support::Client::connect(addr.as_str()).unwrap();
            for round in 0..14 {
                std::thread::sleep(Duration::from_millis(300));
                match round {
                    0..8 => {
                        signal(pid, "-STOP");
                        std::thread::sleep(Duration::from_millis(1200));
                        signal(pid, "-CONT");
                    }
                    r if r % 2 == 0 => {
                        admin.cmd(&["CLIENT", "PAUSE", "700", "WRITE"]);
                        std::thread::sleep(Duration::from_millis(700));
                    }
                    _ => {
                        admin.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
                    }
                }
            }
            stop.store(true, Ordering::Relaxed);
            14
        })
    };
    let timer = tokio::spawn(async {});
    let c = client.clone();
    incr_load(32, "ctr", &tally, &stop, move |k| {
        let c = c.clone();
        async move { c.query::<i64>(&cmd("INCR").arg(k)).await }
    })
    .await;
    timer.await.unwrap();
    let rounds = chaos.await.unwrap();
    while sets.join_next().await.is_some() {}
    drop(client);
    // Paused commands of connections already closed are dropped or run now: wait for the pause.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let summary = tally.check("valkey, SIGSTOP / CLIENT PAUSE / CLIENT KILL", &server_counts(&server, "ctr"));
    assert!(rounds >= 3, "{summary}: only {rounds} faults injected");
}

/// The outcome of each command of a pipeline of INCRs over the keys, in order.
fn record_pipeline(tally: &Tally, keys: &[usize], result: &Result<Vec<Frame>, Error>) -> Vec<usize> {
    let mut resend = Vec::new();
    match result {
        Ok(replies) => {
            assert_eq!(replies.len(), keys.len());
            for (k, r) in keys.iter().zip(replies) {
                let r = match r {
                    Frame::Integer(n) => Ok(*n),
                    other => panic!("INCR replied {other:?}"),
                };
                tally.record(*k, &r);
            }
        }
        Err(Error::PipelineIncomplete { replies, unknown, not_sent, .. }) => {
            let (answered, unknown, not_sent) = (replies.len(), *unknown as usize, *not_sent as usize);
            assert_eq!(answered + unknown + not_sent, keys.len(), "pipeline accounting adds up");
            for &k in &keys[..answered] {
                tally.acked[k].fetch_add(1, Ordering::Relaxed);
            }
            for &k in &keys[answered..answered + unknown] {
                tally.unknown[k].fetch_add(1, Ordering::Relaxed);
            }
            tally.not_sent.fetch_add(not_sent as u64, Ordering::Relaxed);
            resend.extend_from_slice(&keys[answered + unknown..]);
        }
        Err(e) if e.is_outcome_unknown() => {
            for &k in keys {
                tally.unknown[k].fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) if e.is_not_sent() => {
            tally.not_sent.fetch_add(keys.len() as u64, Ordering::Relaxed);
            resend.extend_from_slice(keys);
        }
        Err(e) => {
            *tally.other.lock().unwrap().entry(e.kind_name()).or_default() += keys.len() as u64;
        }
    }
    resend
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_pipelines_broken_part_way_say_which_commands_ran() {
    let server = Server::start();
    let client =
        Client::connect(fast_fail(parse_url(&server.url()).unwrap()), redwire::PoolOptions::default())
            .await
            .unwrap();
    let tally = Tally::new(KEYS);
    let stop = Arc::new(AtomicBool::new(false));
    let incomplete = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for t in 0..4 {
        let (client, tally, stop, incomplete) =
            (client.clone(), tally.clone(), stop.clone(), incomplete.clone());
        set.spawn(async move {
            let mut n = t;
            while !stop.load(Ordering::Relaxed) {
                let mut keys: Vec<usize> = (0..5000).map(|i| (i + n) % KEYS).collect();
                n += 1;
                while !keys.is_empty() {
                    let cmds: Vec<Cmd> = keys.iter().map(|k| cmd("INCR").arg(format!("pip{k}"))).collect();
                    let result = client.pipeline(&cmds).await;
                    if matches!(result, Err(Error::PipelineIncomplete { .. })) {
                        incomplete.fetch_add(1, Ordering::Relaxed);
                    }
                    keys = record_pipeline(&tally, &keys, &result);
                }
            }
        });
    }
    let chaos = {
        let (stop, pid, addr) = (stop.clone(), server.pid(), server.addr());
        tokio::task::spawn_blocking(move || {
            let mut admin = support::Client::connect(addr.as_str()).unwrap();
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(150));
                if round % 4 == 3 {
                    signal(pid, "-STOP");
                    std::thread::sleep(Duration::from_millis(700));
                    signal(pid, "-CONT");
                } else {
                    admin.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
                }
                round += 1;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    while set.join_next().await.is_some() {}
    chaos.await.unwrap();
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let summary = tally.check("valkey, pipelines of 5000 INCR", &server_counts(&server, "pip"));
    println!("pipelines broken part-way: {}", incomplete.load(Ordering::Relaxed));
    let _ = summary;
}

// ---------------------------------------------------------------------------------------------
// The cluster: a primary killed under load.

fn repl_offset(node: &support::ClusterNode, field: &str) -> Option<i64> {
    let info = node.try_client().ok()?.cmd_text(&["INFO", "replication"]);
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_primary_killed_under_incr_load_never_runs_a_command_twice() {
    let cluster = Cluster::start();
    let seeds = cluster.seed_urls().iter().map(|u| fast_fail(parse_url(u).unwrap())).collect();
    let client = ClusterClient::connect(ClusterOptions {
        seeds,
        read_from_replicas: false,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    // Keys `cl0` .. `cl9` spread over the three shards.
    let tally = Tally::new(KEYS);
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (tally, stop, c) = (tally.clone(), stop.clone(), client.clone());
        tokio::spawn(async move {
            incr_load(16, "cl", &tally, &stop, move |k| {
                let c = c.clone();
                async move { c.query::<i64>(&cmd("INCR").arg(k)).await }
            })
            .await;
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Kill the primary serving the first key, once its replica holds every write it acknowledged:
    // writes are paused there first, and the replica's offset must reach the primary's.
    let victim = cluster.primary_for_slot(cluster.slot_of("cl0"));
    let replica = cluster.replica_of(victim).expect("a replica");
    victim.client().cmd(&["CLIENT", "PAUSE", "30000", "WRITE"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let primary = repl_offset(victim, "master_repl_offset");
        let copied =
            repl_offset(replica, "slave_repl_offset").or_else(|| repl_offset(replica, "master_repl_offset"));
        if primary.is_some() && primary == copied {
            break;
        }
        assert!(Instant::now() < deadline, "replica never caught up: {primary:?} vs {copied:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let victim_index = cluster.nodes().iter().position(|n| n.port() == victim.port()).unwrap();
    cluster.kill_node(victim_index);
    // Kills of client connections on the surviving primaries, meanwhile.
    let killed = Instant::now();
    while killed.elapsed() < Duration::from_secs(6) {
        for p in cluster.primaries() {
            if let Ok(mut c) = p.try_client() {
                c.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cluster.wait_ok();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let counts: Vec<i64> = (0..KEYS)
        .map(|k| {
            let key = format!("cl{k}");
            let node = cluster.primary_for_slot(cluster.slot_of(&key));
            node.client().cmd(&["GET", &key]).as_text().and_then(|t| t.parse().ok()).unwrap_or(0)
        })
        .collect();
    tally.check("cluster, primary killed", &counts);
}
