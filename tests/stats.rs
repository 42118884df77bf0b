//! `Client::stats()` (always on, no feature) against a real server: the
//! reconnects after `CLIENT KILL`, the failed connects while the server is
//! down, and nothing counted that did not happen. The cluster client's
//! redirects and refreshes are checked in `tests/observability.rs`, next to
//! their events. Not here: `tracing` and `metrics` (that file too).

mod support;

use std::time::{Duration, Instant};

use redwire::client::Client;
use redwire::cmd::cmd;
use redwire::observe::Stats;
use support::Server;

/// Sends PING until it succeeds (the client reconnects on the way).
async fn ping_until_ok(client: &Client, limit: Duration) {
    let deadline = Instant::now() + limit;
    while let Err(e) = client.send(&cmd("PING")).await {
        assert!(Instant::now() < deadline, "PING keeps failing: {e}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stats_count_reconnects_and_failed_connects() {
    let server = Server::start();
    let client = Client::open(&server.url()).await.expect("connect");
    ping_until_ok(&client, Duration::from_secs(1)).await;
    assert_eq!(client.stats(), Stats::default(), "a fresh client has seen nothing");

    for round in 1..=2 {
        let id: i64 = client.query(&cmd("CLIENT").arg("ID")).await.expect("id");
        let killed = server.client().cmd(&["CLIENT", "KILL", "ID", &id.to_string()]);
        assert_eq!(killed.as_int(), Some(1), "{killed:?}");
        ping_until_ok(&client, Duration::from_secs(10)).await;
        assert_eq!(client.stats().reconnects, round);
    }
    assert_eq!(client.stats().connect_failures, 0);

    // Down: the connects fail and are counted; back up: one more reconnect.
    server.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.stats().connect_failures == 0 {
        let _ = client.send(&cmd("PING")).await;
        assert!(Instant::now() < deadline, "no failed connect counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.restart();
    ping_until_ok(&client, Duration::from_secs(20)).await;
    let stats = client.stats();
    assert_eq!(stats.reconnects, 3, "{stats:?}");
    assert!(stats.connect_failures >= 1, "{stats:?}");
    // A standalone client is never redirected and never refreshes a topology.
    assert_eq!((stats.redirects_moved, stats.redirects_ask, stats.topology_refreshes), (0, 0, 0));
    client.close().await;
}
