//! RESP3 push frames on `Client` and `ClusterClient`, against real Valkey:
//! keyspace notifications through push links (standalone RESP3 and RESP2,
//! and from every primary of the 6-node cluster), and `CLIENT TRACKING`
//! invalidations after `enable_tracking` (standalone, with a reconnect in
//! between, and from every primary of the cluster).

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bytes::Bytes;
use redwire::cluster::key_slot;
use redwire::push::{PushEvent, PushReceiver, Tracking};
use redwire::{cmd, Client, ClusterClient, Error, Frame, NodeAddr};
use support::{Cluster, Server};

const WAIT: Duration = Duration::from_secs(10);

/// The next frame event, skipping none: lag, reconnect and link events fail the test.
async fn next_frame(rx: &PushReceiver) -> (NodeAddr, Frame) {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(PushEvent::Frame { node, frame })) => (node, frame),
        other => panic!("expected a push frame, got {other:?}"),
    }
}

/// `[kind, arg1, arg2 ...]` of a push frame (or a RESP2 array) as text.
fn words(frame: &Frame) -> Vec<String> {
    let (Frame::Push(items) | Frame::Array(items)) = frame else { panic!("not a push: {frame:?}") };
    items
        .iter()
        .map(|f| match f {
            Frame::Array(keys) => keys
                .iter()
                .map(|k| String::from_utf8_lossy(k.as_bytes().expect("key")).into_owned())
                .collect::<Vec<_>>()
                .join(","),
            f => f.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default(),
        })
        .collect()
}

async fn keyspace_on_standalone(protocol: &str) {
    let server = Server::start();
    server.client().cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]).assert_ok();
    let client = Client::open(&format!("{}?protocol={protocol}", server.url())).await.unwrap();
    let rx = client.push_frames();
    client.subscribe_push(["__keyevent@0__:set"]).await.unwrap();
    client.psubscribe_push(["__keyspace@0__:user:*"]).await.unwrap();
    let _: () = client.query(&cmd("SET").arg("user:1").arg("v")).await.unwrap();
    let mut got = BTreeSet::new();
    for _ in 0..2 {
        let (node, frame) = next_frame(&rx).await;
        assert_eq!(node, NodeAddr::new("127.0.0.1", server.port()));
        if protocol == "3" {
            assert!(matches!(frame, Frame::Push(_)), "{frame:?}");
        }
        got.insert(words(&frame));
    }
    let expected: BTreeSet<Vec<String>> = [
        vec!["message", "__keyevent@0__:set", "user:1"],
        vec!["pmessage", "__keyspace@0__:user:*", "__keyspace@0__:user:1", "set"],
    ]
    .into_iter()
    .map(|w| w.into_iter().map(String::from).collect())
    .collect();
    assert_eq!(got, expected);
    // A write to a key outside the pattern: the channel only.
    let _: () = client.query(&cmd("SET").arg("other").arg("v")).await.unwrap();
    let (_, frame) = next_frame(&rx).await;
    assert_eq!(words(&frame), ["message", "__keyevent@0__:set", "other"]);
    assert!(matches!(client.subscribe_push(Vec::<&str>::new()).await, Err(Error::Config(_))));
}

#[tokio::test]
async fn keyspace_notifications_reach_the_client_on_resp3() {
    keyspace_on_standalone("3").await;
}

#[tokio::test]
async fn keyspace_notifications_reach_the_client_on_resp2() {
    keyspace_on_standalone("2").await;
}

#[tokio::test]
async fn push_link_resubscribes_after_its_connection_is_killed() {
    let server = Server::start();
    server.client().cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]).assert_ok();
    let client = Client::open(&format!("{}?protocol=3", server.url())).await.unwrap();
    let rx = client.push_frames();
    client.subscribe_push(["__keyevent@0__:del"]).await.unwrap();
    // Kills the subscribed connection only (the multiplexed one is not in pub/sub).
    let killed = server.client().cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]).as_int();
    assert_eq!(killed, Some(1));
    let node = NodeAddr::new("127.0.0.1", server.port());
    let mut events = Vec::new();
    while !events.contains(&PushEvent::Resubscribed { node: node.clone() }) {
        let e = tokio::time::timeout(WAIT, rx.recv()).await.expect("resubscribed in time").expect("open");
        events.push(e);
    }
    assert_eq!(events.first(), Some(&PushEvent::Interrupted { node: node.clone() }));
    let _: () = client.query(&cmd("SET").arg("d").arg("v")).await.unwrap();
    let _: u64 = client.query(&cmd("DEL").arg("d")).await.unwrap();
    let (_, frame) = next_frame(&rx).await;
    assert_eq!(words(&frame), ["message", "__keyevent@0__:del", "d"]);
}

#[tokio::test]
async fn tracking_invalidations_survive_a_reconnect() {
    let server = Server::start();
    let client = Client::open(&format!("{}?protocol=3", server.url())).await.unwrap();
    let rx = client.push_frames();
    client.enable_tracking(Tracking::default()).await.unwrap();
    let _: () = client.query(&cmd("SET").arg("t1").arg("a")).await.unwrap();
    // Own write: an invalidation for a key not read yet does not come.
    let _: Option<Bytes> = client.query(&cmd("GET").arg("t1")).await.unwrap();
    server.client().cmd(&["SET", "t1", "b"]).assert_ok();
    let event = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert_eq!(event.invalidated_keys(), Some(vec![Bytes::from_static(b"t1")]), "{event:?}");

    // The tracked connection is killed: the next command reconnects, the
    // receiver hears of it, and tracking is on again before that command runs.
    let id: i64 = client.query(&cmd("CLIENT").arg("ID")).await.unwrap();
    server.client().cmd(&["CLIENT", "KILL", "ID", &id.to_string()]);
    let mut reply: Result<Option<Bytes>, Error> = client.query(&cmd("GET").arg("t2")).await;
    for _ in 0..3 {
        if reply.is_ok() {
            break;
        }
        reply = client.query(&cmd("GET").arg("t2")).await;
    }
    assert_eq!(reply.unwrap(), None);
    let event = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert!(matches!(event, PushEvent::Reconnected { .. }), "{event:?}");
    server.client().cmd(&["SET", "t2", "x"]).assert_ok();
    let event = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert_eq!(event.invalidated_keys(), Some(vec![Bytes::from_static(b"t2")]), "{event:?}");
}

#[tokio::test]
async fn tracking_needs_resp3() {
    let server = Server::start();
    let client = Client::open(&server.url()).await.unwrap();
    assert!(matches!(client.enable_tracking(Tracking::default()).await, Err(Error::Config(_))));
}

/// One key per primary of the cluster's current map, keyed by primary.
fn key_per_primary(client: &ClusterClient) -> HashMap<NodeAddr, String> {
    let map = client.slot_map();
    let mut keys = HashMap::new();
    for i in 0..1000 {
        let key = format!("key{i}");
        if let Some(node) = map.primary_for_slot(key_slot(key.as_bytes())) {
            keys.entry(node.clone()).or_insert(key);
        }
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_push_frames_come_from_every_primary() {
    let cluster = Cluster::start();
    for node in cluster.nodes() {
        node.client().cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]).assert_ok();
    }
    let urls: Vec<String> = cluster.seed_urls().iter().map(|u| format!("{u}?protocol=3")).collect();
    let client = ClusterClient::open(&urls).await.unwrap();
    let keys = key_per_primary(&client);
    assert_eq!(keys.len(), 3, "three primaries");
    let rx = client.push_frames();

    // Keyspace notifications: each is local to the primary that ran the write.
    client.subscribe_push(["__keyevent@0__:set"]).await.unwrap();
    for key in keys.values() {
        let _: () = client.query(&cmd("SET").arg(key.as_str()).arg("v")).await.unwrap();
    }
    let mut from: HashMap<NodeAddr, String> = HashMap::new();
    for _ in 0..keys.len() {
        let (node, frame) = next_frame(&rx).await;
        let w = words(&frame);
        assert_eq!(w[..2], ["message", "__keyevent@0__:set"]);
        from.insert(node, w[2].clone());
    }
    assert_eq!(from, keys, "each key's event comes from its primary");

    // Tracking invalidations, from every node that served a read.
    client.enable_tracking(Tracking::default()).await.unwrap();
    for key in keys.values() {
        let _: Option<Bytes> = client.query(&cmd("GET").arg(key.as_str())).await.unwrap();
    }
    let writer = ClusterClient::open(&urls).await.unwrap();
    for key in keys.values() {
        let _: () = writer.query(&cmd("SET").arg(key.as_str()).arg("w")).await.unwrap();
    }
    let mut invalidated: HashMap<NodeAddr, String> = HashMap::new();
    while invalidated.len() < keys.len() {
        let event = tokio::time::timeout(WAIT, rx.recv()).await.expect("invalidation in time").expect("open");
        if let (PushEvent::Frame { node, frame }, Some(k)) = (&event, event.invalidated_keys()) {
            assert_eq!(k.len(), 1, "{frame:?}");
            invalidated.insert(node.clone(), String::from_utf8_lossy(&k[0]).into_owned());
        } else {
            // The writer's SETs also raise keyevent notifications on the link.
            let PushEvent::Frame { frame, .. } = &event else { panic!("unexpected {event:?}") };
            assert_eq!(words(frame)[0], "message");
        }
    }
    assert_eq!(invalidated, keys);
    writer.close().await;
    client.close().await;
    assert_eq!(tokio::time::timeout(WAIT, async { while rx.recv().await.is_some() {} }).await, Ok(()));
}
