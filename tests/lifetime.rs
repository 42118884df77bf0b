//! Construction and lifetime, against real Valkey: `Client::open` and
//! `ClusterClient::open` from URLs; `close()` ends every background task
//! (driver tasks, push links, the cluster's refresh task) before it returns
//! (tokio's count of alive tasks is back to where it was), the server's
//! `CLIENT LIST` no longer shows the connections, and later commands fail
//! with `Error::Closed`, unsent. A general cluster client reads from primaries.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use redwire::cluster::ClusterOptions;
use redwire::push::Tracking;
use redwire::{cmd, Client, ClusterClient, Error};
use support::{Cluster, Server};

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

/// Normal clients connected to a server, the harness's own connection included.
fn normal_clients(client: &mut support::resp_client::Client) -> usize {
    let list = client.cmd(&["CLIENT", "LIST", "TYPE", "normal"]).text();
    let pubsub = client.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]).text();
    list.lines().chain(pubsub.lines()).filter(|l| !l.is_empty()).count()
}

/// Polls `f` until it returns `want`, for at most 5 s; returns the last value.
fn settle(want: usize, mut f: impl FnMut() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = f();
        if got == want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (at most 2 s) for the count of alive tasks to come back to `want`.
/// close() has waited for every task's future to end by then; the runtime
/// releases a finished (or aborted) task just after, so the count may lag
/// by a scheduling step.
async fn settle_tasks(want: usize) -> usize {
    let started = Instant::now();
    while alive_tasks() != want && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!("alive tasks back to {} after {:?} past close()", alive_tasks(), started.elapsed());
    alive_tasks()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_client_ends_its_tasks_and_connections() {
    let server = Server::start();
    let mut harness = server.client();
    let before_conns = normal_clients(&mut harness);
    let before_tasks = alive_tasks();

    let client = Client::open(&format!("{}?protocol=3", server.url())).await.unwrap();
    let rx = client.push_frames();
    client.enable_tracking(Tracking::default()).await.unwrap();
    client.subscribe_push(["__keyevent@0__:set"]).await.unwrap();
    let _: Option<Bytes> = client.query(&cmd("GET").arg("k")).await.unwrap();
    let clone = client.clone();
    assert!(alive_tasks() > before_tasks, "driver tasks run");
    assert_eq!(normal_clients(&mut harness), before_conns + 2, "multiplexed connection and push link");

    client.close().await;
    assert_eq!(settle_tasks(before_tasks).await, before_tasks, "tasks still alive after close()");
    assert_eq!(settle(before_conns, || normal_clients(&mut harness)), before_conns);
    assert!(clone.is_closed());
    assert!(matches!(clone.query::<Option<Bytes>>(&cmd("GET").arg("k")).await, Err(Error::Closed)));
    assert!(matches!(clone.pipeline(&[cmd("PING")]).await, Err(Error::Closed)));
    assert!(matches!(clone.send(&cmd("BLPOP").arg("l").arg(1)).await, Err(Error::Closed)));
    assert!(matches!(clone.subscribe_push(["c"]).await, Err(Error::Closed)));
    assert_eq!(rx.recv().await, None, "the receiver ends");
    // Nothing reconnected behind the caller's back.
    assert_eq!(normal_clients(&mut harness), before_conns);
    assert_eq!(alive_tasks(), before_tasks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_cluster_client_ends_its_tasks_and_connections() {
    let cluster = Cluster::start();
    let mut harnesses: Vec<_> = cluster.nodes().iter().map(|n| n.client()).collect();
    let before_conns: Vec<usize> = harnesses.iter_mut().map(normal_clients).collect();
    let before_tasks = alive_tasks();

    let urls: Vec<String> = cluster.seed_urls().iter().map(|u| format!("{u}?protocol=3")).collect();
    let client = ClusterClient::open(&urls).await.unwrap();
    client.enable_tracking(Tracking::default()).await.unwrap();
    client.subscribe_push(["__keyevent@0__:set"]).await.unwrap();
    for i in 0..30 {
        let _: () = client.query(&cmd("SET").arg(format!("k{i}")).arg("v")).await.unwrap();
        let _: Option<Bytes> = client.query(&cmd("GET").arg(format!("k{i}"))).await.unwrap();
    }
    let during: usize = harnesses.iter_mut().map(normal_clients).sum();
    // Three primaries, each with a multiplexed connection and a push link.
    assert_eq!(during, before_conns.iter().sum::<usize>() + 6);
    assert!(alive_tasks() > before_tasks + 1, "driver and refresh tasks run");

    client.close().await;
    assert_eq!(settle_tasks(before_tasks).await, before_tasks, "tasks still alive after close()");
    for (h, before) in harnesses.iter_mut().zip(&before_conns) {
        assert_eq!(settle(*before, || normal_clients(h)), *before);
    }
    assert!(matches!(client.query::<Option<Bytes>>(&cmd("GET").arg("k1")).await, Err(Error::Closed)));
    assert!(matches!(client.enable_tracking(Tracking::default()).await, Err(Error::Closed)));
    assert_eq!(alive_tasks(), before_tasks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_general_cluster_client_reads_from_primaries() {
    assert!(!ClusterOptions::default().read_from_replicas);
    let cluster = Cluster::start();
    let client = ClusterClient::open(&cluster.seed_urls()).await.unwrap();
    for i in 0..30 {
        let _: () = client.query(&cmd("SET").arg(format!("r{i}")).arg("v")).await.unwrap();
    }
    // Past the read-your-writes window, reads would go to replicas if allowed.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for i in 0..30 {
        let v: Option<Bytes> = client.query(&cmd("GET").arg(format!("r{i}"))).await.unwrap();
        assert_eq!(v.as_deref(), Some(&b"v"[..]));
    }
    for replica in cluster.replicas() {
        let stats = replica.client().cmd(&["INFO", "commandstats"]).text();
        assert!(!stats.contains("cmdstat_get:"), "a replica served GET: {stats}");
    }
    let primary_gets: usize = cluster
        .primaries()
        .iter()
        .filter(|p| p.client().cmd(&["INFO", "commandstats"]).text().contains("cmdstat_get:"))
        .count();
    assert!(primary_gets > 0);
    client.close().await;
}

#[tokio::test]
async fn open_refuses_bad_urls() {
    assert!(matches!(ClusterClient::open::<&str>(&[]).await, Err(Error::Config(_))));
    assert!(matches!(ClusterClient::open(&["nonsense://x"]).await, Err(Error::Url(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_client_without_close_stops_its_push_link() {
    let server = Server::start();
    let mut harness = server.client();
    let before_conns = normal_clients(&mut harness);
    let before_tasks = alive_tasks();
    let client = Client::open(&format!("{}?protocol=3", server.url())).await.unwrap();
    let rx = client.push_frames();
    client.subscribe_push(["c"]).await.unwrap();
    drop(client);
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), rx.recv()).await, Ok(None));
    assert_eq!(settle(before_conns, || normal_clients(&mut harness)), before_conns);
    assert_eq!(settle_tasks(before_tasks).await, before_tasks);
}
