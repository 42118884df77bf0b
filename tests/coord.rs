//! Two coordinators (two simulated nodes) exchange every event kind through
//! real Valkey (standalone and cluster, from store configurations) and
//! through the embedded store's in-process bus; own events are not echoed
//! back; batches are split at 100 events; garbage and unknown kinds on the
//! channel are reported or skipped while delivery goes on; a lost
//! subscription is reported as missed events.

mod support;

use std::time::Duration;

use bytes::Bytes;
use redwire::__unstable::coord::encode;
use redwire::config::StoreConfig;
use redwire::coord::{
    CacheKind, Coordinator, CoordinatorOptions, DataTypes, Delivery, Event, Missed, NodeId, ObjectId,
    ObjectType, MAX_BATCH,
};
use redwire::pubsub::{Publisher, Servers};
use support::{Cluster, Server};

fn every_event() -> Vec<Event> {
    vec![
        Event::StateChange { account_id: 7, change_id: 1234, types: [1u8, 4].into_iter().collect() },
        Event::EmailPush { account_id: 7, email_id: 99, change_id: 1235 },
        Event::CalendarAlert {
            account_id: 8,
            event_id: 4,
            recurrence_id: Some(1_700_000_000),
            uid: "2f1e@example.com".into(),
            alert_id: "VALARM-1".into(),
        },
        Event::PushServerUpdate { account_id: 9 },
        Event::RegistryInsert(ObjectId {
            object_type: ObjectType::BLOCKED_IP,
            id: Bytes::from_static(b"192.0.2.7"),
        }),
        Event::RegistryDelete(ObjectId {
            object_type: ObjectType::ACME_CERTIFICATE,
            id: Bytes::from_static(b"mail.example.com"),
        }),
        Event::RegistryReload(ObjectType::SPAM_FILTER),
        Event::CacheInvalidate { kind: CacheKind::ACCESS_TOKEN, ids: vec![1, 2, 3] },
        Event::CacheInvalidateAll(CacheKind::DIRECTORY),
        Event::CacheInvalidateNegative(CacheKind::ACCOUNT),
        Event::QueueStatus { paused: true },
        Event::QueueRefresh,
        Event::Application { kind: 77, payload: Bytes::from_static(b"\x00opaque\xff") },
    ]
}

fn options(node: u64, channel: &str) -> CoordinatorOptions {
    let mut o =
        CoordinatorOptions { node_id: NodeId(node), channel: channel.to_string(), ..Default::default() };
    o.subscriber.min_backoff = Duration::from_millis(10);
    o.subscriber.max_backoff = Duration::from_millis(250);
    o
}

async fn next(c: &Coordinator) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(10), c.recv()).await {
        Ok(Some(d)) => d,
        Ok(None) => panic!("the coordinator stopped"),
        Err(_) => panic!("nothing delivered within 10 s"),
    }
}

async fn assert_quiet(c: &Coordinator) {
    if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(300), c.recv()).await {
        panic!("unexpected delivery {d:?}");
    }
}

/// `a` and `b` exchange every event kind both ways; neither hears itself.
async fn exchange(a: &Coordinator, b: &Coordinator) {
    for (from, to) in [(a, b), (b, a)] {
        for event in every_event() {
            from.publish(event).await.unwrap();
        }
        from.flush().await;
        for expected in every_event() {
            assert_eq!(next(to).await, Delivery::Event { from: from.node_id(), event: expected });
        }
        assert_quiet(from).await;
        assert_quiet(to).await;
    }
    for c in [a, b] {
        let stats = c.stats();
        assert_eq!(stats.events_sent, every_event().len() as u64);
        assert_eq!(stats.events_received, every_event().len() as u64);
        assert!(stats.own_skipped >= 1, "its own messages came back and were skipped: {stats:?}");
        assert_eq!(stats.own_skipped, stats.messages_sent);
        assert_eq!((stats.malformed, stats.unknown_skipped, stats.batches_failed), (0, 0, 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_through_the_embedded_store() {
    let a = Coordinator::start(&StoreConfig::Default, options(1, "coord-embedded")).await.unwrap();
    let b = Coordinator::start(&StoreConfig::Default, options(2, "coord-embedded")).await.unwrap();
    // Another channel is another cluster: it hears nothing.
    let other = Coordinator::start(&StoreConfig::Default, options(3, "coord-embedded-other")).await.unwrap();
    exchange(&a, &b).await;
    assert_quiet(&other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_through_a_redis_server() {
    let server = Server::start();
    let config = StoreConfig::from_url(&server.url()).unwrap();
    let a = Coordinator::start(&config, options(1, "coord")).await.unwrap();
    let b = Coordinator::start(&config, options(2, "coord")).await.unwrap();
    exchange(&a, &b).await;

    // A lost subscription is reported, then events flow again.
    let killed = server.client().cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_eq!(killed.as_int(), Some(2));
    assert_eq!(next(&a).await, Delivery::Missed(Missed::Reconnected));
    assert_eq!(next(&b).await, Delivery::Missed(Missed::Reconnected));
    a.publish(Event::QueueRefresh).await.unwrap();
    assert_eq!(next(&b).await, Delivery::Event { from: NodeId(1), event: Event::QueueRefresh });
    assert_quiet(&a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_through_a_cluster_with_the_default_resp2() {
    let cluster = Cluster::start();
    let config = StoreConfig::from_cluster_urls(cluster.seed_urls()).unwrap();
    let a = Coordinator::start(&config, options(1, "coord")).await.unwrap();
    let b = Coordinator::start(&config, options(2, "coord")).await.unwrap();
    exchange(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_batched_by_up_to_a_hundred() {
    let a = Coordinator::in_process(options(1, "coord-batch"));
    let b = Coordinator::in_process(options(2, "coord-batch"));
    let n = 250u32;
    // Queued faster than they can be sent: they share messages.
    for i in 0..n {
        a.try_publish(Event::PushServerUpdate { account_id: i }).unwrap();
    }
    a.flush().await;
    for i in 0..n {
        assert_eq!(
            next(&b).await,
            Delivery::Event { from: NodeId(1), event: Event::PushServerUpdate { account_id: i } }
        );
    }
    let stats = a.stats();
    assert_eq!(stats.events_sent, u64::from(n));
    assert!(
        stats.messages_sent >= u64::from(n).div_ceil(MAX_BATCH as u64),
        "at most 100 per message: {stats:?}"
    );
    assert!(stats.messages_sent < u64::from(n), "batched: {stats:?}");
    // An idle sender sends a lone event at once.
    let started = std::time::Instant::now();
    a.publish(Event::QueueRefresh).await.unwrap();
    assert_eq!(next(&b).await, Delivery::Event { from: NodeId(1), event: Event::QueueRefresh });
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_unknown_kinds_on_the_channel_do_not_stop_delivery() {
    let server = Server::start();
    let config = StoreConfig::from_url(&server.url()).unwrap();
    let b = Coordinator::start(&config, options(2, "coord")).await.unwrap();
    let raw = Publisher::connect(Servers::from_config(&config).unwrap()).await.unwrap();

    raw.publish("coord", "not a coordination message").await.unwrap();
    match next(&b).await {
        Delivery::Malformed(e) => assert!(e.to_string().contains("not supported"), "{e}"),
        other => panic!("{other:?}"),
    }
    raw.publish("coord", &[1u8, 0, 0][..]).await.unwrap();
    assert!(matches!(next(&b).await, Delivery::Malformed(_)));

    // A newer node's message: a kind this version does not know, between known ones.
    let mut future = encode(NodeId(9), &[Event::QueueRefresh]).to_vec();
    future.extend_from_slice(&[250, 3, b'n', b'e', b'w']);
    future.extend_from_slice(&encode(NodeId(9), &[Event::QueueStatus { paused: false }])[9..]);
    raw.publish("coord", future).await.unwrap();
    assert_eq!(next(&b).await, Delivery::Event { from: NodeId(9), event: Event::QueueRefresh });
    assert_eq!(
        next(&b).await,
        Delivery::Event { from: NodeId(9), event: Event::QueueStatus { paused: false } }
    );

    // And an ordinary node is still heard.
    let a = Coordinator::start(&config, options(1, "coord")).await.unwrap();
    a.publish(Event::StateChange { account_id: 1, change_id: 2, types: DataTypes(4) }).await.unwrap();
    assert_eq!(
        next(&b).await,
        Delivery::Event {
            from: NodeId(1),
            event: Event::StateChange { account_id: 1, change_id: 2, types: DataTypes(4) }
        }
    );
    let stats = b.stats();
    assert_eq!((stats.malformed, stats.unknown_skipped, stats.events_received), (2, 1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_is_told_it_missed_events() {
    let mut slow = options(2, "coord-slow");
    slow.buffer = 5;
    let a = Coordinator::in_process(options(1, "coord-slow"));
    let b = Coordinator::in_process(slow);
    for i in 0..20 {
        a.publish(Event::PushServerUpdate { account_id: i }).await.unwrap();
    }
    a.flush().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(next(&b).await, Delivery::Missed(Missed::Lagged { dropped: 15 }));
    for i in 15..20 {
        assert_eq!(
            next(&b).await,
            Delivery::Event { from: NodeId(1), event: Event::PushServerUpdate { account_id: i } }
        );
    }
}
