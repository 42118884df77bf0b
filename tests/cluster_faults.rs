//! Crafted redirects a real cluster will not send on demand: a node that
//! answers MOVED to itself for ever (the router must stop, quickly, without a
//! refresh storm), and ASK to another node (ASKING must precede the command on
//! the same connection).

mod support;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redwire::cluster::{ClusterClient, ClusterOptions, RetryPolicy};
use redwire::{cmd, ConnectOptions, Error};
use support::{FakeServer, Step};

fn slots_reply(port: u16) -> Vec<u8> {
    let id = "a".repeat(40);
    format!("*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$40\r\n{id}\r\n").into_bytes()
}

fn name(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).collect::<Vec<_>>().join(" ")
}

fn options(port: u16) -> ClusterOptions {
    let mut seed = ConnectOptions::tcp("127.0.0.1", port);
    seed.connect_timeout = Duration::from_secs(1);
    seed.response_timeout = Some(Duration::from_secs(1));
    ClusterOptions {
        seeds: vec![seed],
        read_from_replicas: false,
        retry: RetryPolicy {
            max_retries: 5,
            min_wait: Duration::from_millis(5),
            max_wait: Duration::from_millis(50),
        },
        ..ClusterOptions::default()
    }
}

/// Answers the topology queries with "all slots here", and `other` for the rest.
fn node(
    port: Arc<AtomicU16>,
    other: impl Fn(&[Vec<u8>], u16) -> Vec<u8> + Send + Sync + 'static,
) -> FakeServer {
    FakeServer::start(vec![Step::respond_to_each(move |args| {
        let me = port.load(Ordering::Acquire);
        match name(args).as_str() {
            "CLUSTER SHARDS" => b"-ERR unknown subcommand 'SHARDS'\r\n".to_vec(),
            "CLUSTER SLOTS" => slots_reply(me),
            "READONLY" | "PING" => b"+OK\r\n".to_vec(),
            _ => other(args, me),
        }
    })])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_moved_stops_at_max_retries_without_a_refresh_storm() {
    let port = Arc::new(AtomicU16::new(0));
    let server = node(port.clone(), |_, me| format!("-MOVED 7000 127.0.0.1:{me}\r\n").into_bytes());
    port.store(server.port(), Ordering::Release);
    let client = ClusterClient::connect(options(server.port())).await.expect("connect");
    let started = Instant::now();
    let err = client.send(&cmd("GET").arg("k")).await.expect_err("MOVED loop must end");
    assert!(matches!(err, Error::RetriesExhausted { attempts: 6, .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    // Many callers in the same loop share refreshes instead of causing one each.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.send(&cmd("GET").arg("k")).await }));
    }
    for t in tasks {
        assert!(t.await.expect("task").is_err());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refreshes = client.refresh_count();
    assert!(refreshes <= 10, "{refreshes} refreshes for 51 MOVED loops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_sends_asking_then_the_command_to_the_target() {
    let target_port = Arc::new(AtomicU16::new(0));
    let target = node(target_port.clone(), |args, _| match name(args).as_str() {
        "ASKING" => b"+OK\r\n".to_vec(),
        n if n.starts_with("GET") => b"$6\r\nmoving\r\n".to_vec(),
        _ => b"-ERR unexpected\r\n".to_vec(),
    });
    target_port.store(target.port(), Ordering::Release);
    let source_port = Arc::new(AtomicU16::new(0));
    let tp = target.port();
    let source = node(source_port.clone(), move |_, _| format!("-ASK 12539 127.0.0.1:{tp}\r\n").into_bytes());
    source_port.store(source.port(), Ordering::Release);

    let client = ClusterClient::connect(options(source.port())).await.expect("connect");
    let v: Option<String> = client.query(&cmd("GET").arg("k")).await.expect("ask followed");
    assert_eq!(v.as_deref(), Some("moving"));
    let names: Vec<String> = target.commands().iter().map(|a| name(a)).collect();
    let asking = names.iter().position(|n| n == "ASKING").expect("ASKING sent");
    assert!(names.get(asking + 1).is_some_and(|n| n.starts_with("GET")), "{names:?}");
    // ASK does not change the slot map: the next GET goes to the source again.
    let before = source.commands().len();
    let _ = client.query::<Option<String>>(&cmd("GET").arg("k")).await;
    assert!(source.commands().len() > before);
}
