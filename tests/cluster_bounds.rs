//! The cluster router against hostile nodes (scripted fakes): a node that
//! answers every command with `MOVED` to yet another address, and one whose
//! topology names more nodes than the router may hold. The router's node
//! count stays within `max_nodes`, every command ends with a typed error
//! within its deadline, and no address that was never named receives a
//! connection (so never the credentials).
//!
//! What real Valkey does (redirects during resharding, ASK) is covered in
//! `tests/cluster.rs` and `tests/stateful_cmds.rs`.

mod support;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redwire::cluster::{ClusterClient, ClusterOptions};
use redwire::Secret;
use redwire::{cmd, ConnectOptions, Error};
use support::{FakeServer, Step};

fn seed(port: u16) -> ConnectOptions {
    let mut o = ConnectOptions::tcp("127.0.0.1", port);
    o.username = Some("alice".into());
    o.password = Some(Secret::new("pw"));
    o.connect_timeout = Duration::from_millis(800);
    o.response_timeout = Some(Duration::from_millis(800));
    o
}

fn name(args: &[Vec<u8>]) -> String {
    args.first().map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default()
}

fn sub(args: &[Vec<u8>]) -> String {
    args.get(1).map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default()
}

/// `CLUSTER SLOTS` with one entry per `(first, last, port)`.
fn cluster_slots(ranges: &[(u16, u16, u16)]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", ranges.len());
    for (first, last, port) in ranges {
        out.push_str(&format!("*3\r\n:{first}\r\n:{last}\r\n*2\r\n$9\r\n127.0.0.1\r\n:{port}\r\n"));
    }
    out.into_bytes()
}

/// A fake node: handshake and topology answered, every other command
/// answered by `other`.
fn hostile(
    topology: Arc<dyn Fn() -> Vec<u8> + Send + Sync>,
    other: impl Fn() -> Vec<u8> + Send + Sync + 'static,
) -> FakeServer {
    FakeServer::start(vec![Step::respond_to_each(move |args| match name(args).as_str() {
        "HELLO" => b"%1\r\n$6\r\nserver\r\n$4\r\nfake\r\n".to_vec(),
        "AUTH" | "READONLY" | "ASKING" => b"+OK\r\n".to_vec(),
        "PING" => b"+PONG\r\n".to_vec(),
        "CLUSTER" if sub(args) == "SHARDS" => b"-ERR unknown subcommand 'SHARDS'\r\n".to_vec(),
        "CLUSTER" if sub(args) == "SLOTS" => topology(),
        _ => other(),
    })])
}

/// Every node answers every command with `MOVED` to a random one of eight
/// other fake nodes, which do the same. With `max_nodes` = 4 the router
/// never holds more than 4 nodes; each command ends with a typed error
/// (too many nodes, or retries exhausted) well within its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_to_ever_new_nodes_stays_bounded() {
    const MAX_NODES: usize = 4;
    let seed_port = Arc::new(AtomicU16::new(0));
    let targets: Arc<std::sync::Mutex<Vec<u16>>> = Arc::default();
    let topology: Arc<dyn Fn() -> Vec<u8> + Send + Sync> = {
        let seed_port = seed_port.clone();
        Arc::new(move || cluster_slots(&[(0, 16383, seed_port.load(Ordering::SeqCst))]))
    };
    let moved = {
        let targets = targets.clone();
        move || {
            let ports = targets.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let port = ports.get(fastrand::usize(..ports.len().max(1))).copied().unwrap_or(1);
            format!("-MOVED {} 127.0.0.1:{port}\r\n", fastrand::u16(..16384)).into_bytes()
        }
    };
    let seed_fake = hostile(topology.clone(), moved.clone());
    seed_port.store(seed_fake.port(), Ordering::SeqCst);
    let fakes: Vec<FakeServer> = (0..8).map(|_| hostile(topology.clone(), moved.clone())).collect();
    *targets.lock().unwrap() = fakes.iter().map(FakeServer::port).collect();
    let bystander = hostile(topology.clone(), moved.clone());

    let deadline = Duration::from_secs(3);
    let opts = ClusterOptions {
        seeds: vec![seed(seed_fake.port())],
        max_nodes: MAX_NODES,
        request_deadline: deadline,
        min_refresh_gap: Duration::from_millis(20),
        ..ClusterOptions::default()
    };
    let client = ClusterClient::connect(opts).await.expect("connect to the hostile seed");
    assert_eq!(client.node_count(), 1);

    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..16 {
        let client = client.clone();
        tasks.spawn(async move {
            let mut outcomes = Vec::new();
            for i in 0..4 {
                let started = Instant::now();
                let result = client.send(&cmd("GET").arg(format!("key:{t}:{i}"))).await;
                outcomes.push((result, started.elapsed()));
            }
            outcomes
        });
    }
    let mut most = 0;
    let mut outcomes = Vec::new();
    let sampling = async {
        loop {
            most = most.max(client.node_count());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let joined = async {
        while let Some(joined) = tasks.join_next().await {
            outcomes.extend(joined.expect("task"));
        }
    };
    tokio::time::timeout(Duration::from_secs(50), async {
        tokio::select! {
            () = sampling => {}
            () = joined => {}
        }
    })
    .await
    .expect("every command ends");
    most = most.max(client.node_count());

    let mut too_many = 0;
    for (result, took) in &outcomes {
        match result {
            Err(Error::TooManyNodes { limit }) => {
                assert_eq!(*limit, MAX_NODES);
                too_many += 1;
            }
            Err(Error::RetriesExhausted { .. }) => {}
            other => panic!("expected a typed error, got {other:?}"),
        }
        // Generous: the deadline, plus one attempt's response timeout and a backoff.
        assert!(*took < deadline + Duration::from_secs(3), "took {took:?}");
    }
    let accepted: usize = fakes.iter().map(FakeServer::connections).sum::<usize>() + seed_fake.connections();
    eprintln!(
        "commands: {}, too many nodes: {too_many}, most nodes held: {most}, connections accepted: {accepted}",
        outcomes.len()
    );
    assert!(most <= MAX_NODES, "held {most} nodes, limit {MAX_NODES}");
    assert!(too_many > 0, "the cap was never reached: the test did not exercise it");
    assert_eq!(bystander.connections(), 0, "an address never named was connected to");
    // Bounded creation too: per held node, its multiplexed connection and a
    // few reconnects after drops, plus the topology queries.
    assert!(accepted < 200, "{accepted} connections accepted");
}

/// A seed whose topology names more nodes than `max_nodes`: the map is
/// refused whole, with a typed error, and nothing connects to those nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topology_past_max_nodes_is_refused() {
    let bystander = hostile(Arc::new(|| cluster_slots(&[])), || b"-ERR no\r\n".to_vec());
    let named = bystander.port();
    let topology: Arc<dyn Fn() -> Vec<u8> + Send + Sync> = Arc::new(move || {
        // 20 primaries, one of them a listening fake.
        let ranges: Vec<(u16, u16, u16)> = (0..20u16)
            .map(|i| {
                (i * 800, if i == 19 { 16383 } else { i * 800 + 799 }, if i == 0 { named } else { 1 + i })
            })
            .collect();
        cluster_slots(&ranges)
    });
    let seed_fake = hostile(topology, || b"-ERR no\r\n".to_vec());
    let opts =
        ClusterOptions { seeds: vec![seed(seed_fake.port())], max_nodes: 10, ..ClusterOptions::default() };
    let err = ClusterClient::connect(opts).await.expect_err("20 nodes, limit 10");
    assert!(matches!(err, Error::TooManyNodes { limit: 10 }), "{err:?}");
    assert_eq!(bystander.connections(), 0, "a node of a refused map was connected to");
}
