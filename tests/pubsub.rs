//! Pub/sub against real Valkey, standalone and a 6-node cluster, RESP2 and
//! RESP3: messages on channels, patterns and sharded channels; subscriptions
//! restored after `CLIENT KILL TYPE pubsub`, a server restart, the death of a
//! sharded channel's primary and the migration of its slot, with the gap
//! events exactly when a gap was possible; a slow consumer's bounded buffer;
//! and a scripted server for confirmations a real one sends only by accident.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use redwire::conn::Protocol;
use redwire::pubsub::{
    Event, Kind, Message, Publisher, Servers, Subscriber, SubscriberOptions, Subscription,
};
use redwire::url::parse_url;
use redwire::{ConnectOptions, Error};
use support::{Cluster, FakeServer, Server, Step};

const PROTOCOLS: [Protocol; 2] = [Protocol::Resp2, Protocol::Resp3];

fn opts(url: &str, protocol: Protocol) -> ConnectOptions {
    let mut o = parse_url(url).expect("url");
    o.protocol = protocol;
    o.connect_timeout = Duration::from_secs(2);
    o.response_timeout = Some(Duration::from_secs(2));
    o
}

fn cluster_servers(cluster: &Cluster, protocol: Protocol) -> Servers {
    Servers::cluster(cluster.seed_urls().iter().map(|u| opts(u, protocol)).collect())
}

fn quick() -> SubscriberOptions {
    SubscriberOptions {
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(250),
        ping_interval: Some(Duration::from_millis(500)),
        ..SubscriberOptions::default()
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn sub(kind: Kind, name: &str) -> Subscription {
    Subscription::new(kind, b(name))
}

/// The next event, failing the test after `within`.
async fn next_event(s: &Subscriber, within: Duration) -> Event {
    match tokio::time::timeout(within, s.recv()).await {
        Ok(Some(e)) => e,
        Ok(None) => panic!("the subscriber closed"),
        Err(_) => panic!("no event within {within:?}"),
    }
}

async fn next_message(s: &Subscriber) -> Message {
    match next_event(s, Duration::from_secs(5)).await {
        Event::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Asserts nothing arrives for a short while (no stray event, no stray message).
async fn assert_quiet(s: &Subscriber) {
    if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(300), s.recv()).await {
        panic!("unexpected event {e:?}");
    }
}

fn msg(kind: Kind, channel: &str, pattern: Option<&str>, payload: &str) -> Message {
    Message { kind, channel: b(channel), pattern: pattern.map(b), payload: b(payload) }
}

/// Waits for the recovery after a fault: one `Interrupted` naming `expected`
/// (in one or several events), then `Resubscribed` for all of them; no
/// message in between. Returns the interruption's cause.
async fn expect_recovery(s: &Subscriber, expected: &[Subscription], within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut interrupted: Vec<Subscription> = Vec::new();
    let mut restored: Vec<Subscription> = Vec::new();
    let mut cause = String::new();
    let mut want = expected.to_vec();
    want.sort();
    while restored.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_event(s, left.max(Duration::from_millis(1))).await {
            Event::Interrupted { subscriptions, cause: c } => {
                assert!(restored.is_empty() || interrupted.len() < expected.len(), "interrupted again");
                cause = c.to_string();
                interrupted.extend(subscriptions);
            }
            Event::Resubscribed { subscriptions } => {
                for s in &subscriptions {
                    assert!(interrupted.contains(s), "{s} restored but never interrupted");
                }
                restored.extend(subscriptions);
            }
            other => panic!("unexpected event during recovery: {other:?}"),
        }
    }
    interrupted.sort();
    restored.sort();
    assert_eq!(interrupted, want, "interrupted");
    assert_eq!(restored, want, "restored");
    cause
}

/// Waits for `Resubscribed` events covering `expected` (one per restoring
/// command); nothing else may arrive meanwhile.
async fn expect_restored(s: &Subscriber, expected: &[Subscription], within: Duration) {
    let deadline = Instant::now() + within;
    let mut restored = Vec::new();
    while restored.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_event(s, left.max(Duration::from_millis(1))).await {
            Event::Resubscribed { subscriptions } => restored.extend(subscriptions),
            other => panic!("unexpected event while restoring: {other:?}"),
        }
    }
    let mut want = expected.to_vec();
    want.sort();
    restored.sort();
    assert_eq!(restored, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_channels_patterns_and_sharded_in_both_protocols() {
    let server = Server::start();
    let publisher =
        Publisher::connect(Servers::standalone(opts(&server.url(), Protocol::Resp2))).await.unwrap();
    for protocol in PROTOCOLS {
        let s =
            Subscriber::connect(Servers::standalone(opts(&server.url(), protocol)), quick()).await.unwrap();
        s.subscribe(["news", "sport"]).await.unwrap();
        s.psubscribe(["n*"]).await.unwrap();
        s.ssubscribe(["{s}1"]).await.unwrap();
        let mut all = s.subscriptions().await.unwrap();
        all.sort();
        assert_eq!(
            all,
            vec![
                sub(Kind::Channel, "news"),
                sub(Kind::Channel, "sport"),
                sub(Kind::Pattern, "n*"),
                sub(Kind::Sharded, "{s}1")
            ]
        );
        assert_eq!(s.active().await.unwrap().len(), 4);

        assert_eq!(publisher.publish("news", "hello").await.unwrap(), 2, "{protocol:?}");
        assert_eq!(next_message(&s).await, msg(Kind::Channel, "news", None, "hello"));
        assert_eq!(next_message(&s).await, msg(Kind::Pattern, "news", Some("n*"), "hello"));
        assert_eq!(publisher.publish("nothing-here", "x").await.unwrap(), 1, "the pattern only");
        assert_eq!(next_message(&s).await, msg(Kind::Pattern, "nothing-here", Some("n*"), "x"));
        assert_eq!(publisher.spublish("{s}1", "sharded").await.unwrap(), 1);
        assert_eq!(next_message(&s).await, msg(Kind::Sharded, "{s}1", None, "sharded"));
        // Binary payloads are passed through untouched.
        let blob: Vec<u8> = (0..=255u8).collect();
        publisher.publish("sport", blob.as_slice()).await.unwrap();
        assert_eq!(next_message(&s).await.payload, Bytes::from(blob));

        s.unsubscribe(["news"]).await.unwrap();
        s.punsubscribe(["n*"]).await.unwrap();
        s.sunsubscribe(["{s}1"]).await.unwrap();
        assert_eq!(s.subscriptions().await.unwrap(), vec![sub(Kind::Channel, "sport")]);
        assert_eq!(publisher.publish("news", "gone").await.unwrap(), 0);
        assert_eq!(publisher.spublish("{s}1", "gone").await.unwrap(), 0);
        assert_eq!(publisher.publish("sport", "still").await.unwrap(), 1);
        assert_eq!(next_message(&s).await, msg(Kind::Channel, "sport", None, "still"));
        assert!(matches!(s.subscribe(Vec::<&str>::new()).await, Err(Error::InvalidArgument(_))));
        assert_quiet(&s).await;
        s.close();
        assert!(matches!(s.subscribe(["x"]).await, Err(Error::Closed)));
        assert!(s.recv().await.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_pubsub_restores_every_subscription_with_one_gap_event() {
    let server = Server::start();
    let publisher =
        Publisher::connect(Servers::standalone(opts(&server.url(), Protocol::Resp2))).await.unwrap();
    for protocol in PROTOCOLS {
        let s =
            Subscriber::connect(Servers::standalone(opts(&server.url(), protocol)), quick()).await.unwrap();
        s.subscribe(["a"]).await.unwrap();
        s.psubscribe(["p.*"]).await.unwrap();
        s.ssubscribe(["{x}s"]).await.unwrap();
        let expected = [sub(Kind::Channel, "a"), sub(Kind::Pattern, "p.*"), sub(Kind::Sharded, "{x}s")];

        // Killing normal clients leaves a pub/sub connection alone: no event.
        server.client().cmd(&["CLIENT", "KILL", "TYPE", "normal"]);
        assert_quiet(&s).await;

        let killed = server.client().cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]);
        assert_eq!(killed.as_int(), Some(1), "{protocol:?}: the subscriber's connection is a pubsub client");
        expect_recovery(&s, &expected, Duration::from_secs(5)).await;
        assert_eq!(s.active().await.unwrap().len(), 3);

        assert_eq!(publisher.publish("a", "1").await.unwrap(), 1);
        assert_eq!(publisher.publish("p.q", "2").await.unwrap(), 1);
        assert_eq!(publisher.spublish("{x}s", "3").await.unwrap(), 1);
        assert_eq!(next_message(&s).await, msg(Kind::Channel, "a", None, "1"));
        assert_eq!(next_message(&s).await, msg(Kind::Pattern, "p.q", Some("p.*"), "2"));
        assert_eq!(next_message(&s).await, msg(Kind::Sharded, "{x}s", None, "3"));
        assert_quiet(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_restores_subscriptions_after_backoff() {
    let server = Server::start();
    for protocol in PROTOCOLS {
        let s =
            Subscriber::connect(Servers::standalone(opts(&server.url(), protocol)), quick()).await.unwrap();
        s.subscribe(["r"]).await.unwrap();
        s.psubscribe(["r*"]).await.unwrap();
        let expected = [sub(Kind::Channel, "r"), sub(Kind::Pattern, "r*")];
        server.kill();
        // Down for a while: reconnects keep failing, yet one Interrupted only.
        match next_event(&s, Duration::from_secs(5)).await {
            Event::Interrupted { subscriptions, .. } => assert_eq!(subscriptions.len(), 2),
            other => panic!("{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(s.try_recv().is_none(), "nothing more while the server is down");
        server.restart();
        expect_restored(&s, &expected, Duration::from_secs(10)).await;
        let publisher =
            Publisher::connect(Servers::standalone(opts(&server.url(), Protocol::Resp2))).await.unwrap();
        assert_eq!(publisher.publish("r", "back").await.unwrap(), 2);
        assert_eq!(next_message(&s).await, msg(Kind::Channel, "r", None, "back"));
        assert_eq!(next_message(&s).await, msg(Kind::Pattern, "r", Some("r*"), "back"));
        assert_quiet(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribe_to_an_unreachable_server_fails_promptly() {
    let server = Server::start();
    let port = server.port();
    drop(server);
    let started = Instant::now();
    let err = Subscriber::connect(
        Servers::standalone(opts(&format!("redis://127.0.0.1:{port}"), Protocol::Resp2)),
        quick(),
    )
    .await
    .expect_err("nothing listens");
    assert!(err.is_connection_error() || matches!(err, Error::Io(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_loses_the_oldest_messages_and_is_told_how_many() {
    let server = Server::start();
    let options = SubscriberOptions { buffer: 10, ..quick() };
    let s = Subscriber::connect(Servers::standalone(opts(&server.url(), Protocol::Resp3)), options)
        .await
        .unwrap();
    s.subscribe(["flood"]).await.unwrap();
    let publisher =
        Publisher::connect(Servers::standalone(opts(&server.url(), Protocol::Resp2))).await.unwrap();
    for i in 0..100 {
        assert_eq!(publisher.publish("flood", i.to_string()).await.unwrap(), 1);
    }
    // The subscriber's connection keeps working while nobody reads.
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.buffered() < 10 || s.active().await.unwrap().len() != 1 {
        assert!(Instant::now() < deadline, "buffer never filled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.buffered(), 10, "bounded");
    match next_event(&s, Duration::from_secs(1)).await {
        Event::Lagged { dropped } => assert_eq!(dropped, 90),
        other => panic!("{other:?}"),
    }
    for i in 90..100 {
        assert_eq!(next_message(&s).await.payload, b(&i.to_string()));
    }
    assert_quiet(&s).await;
}

/// RESP2, scripted: a confirmation arrives split from its command's write,
/// messages interleave with confirmations, and a `pong` array is a reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp2_confirmations_and_messages_interleaved() {
    let fake = FakeServer::start(vec![
        Step::expect("SUBSCRIBE"),
        Step::send(
            "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nm1\r\n",
        ),
        Step::stall(Duration::from_millis(50)),
        Step::send("*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"),
        Step::send("*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nm2\r\n"),
        Step::respond_to_each(|args| {
            if args[0].eq_ignore_ascii_case(b"PING") {
                b"*2\r\n$4\r\npong\r\n$0\r\n\r\n".to_vec()
            } else {
                b"-ERR unexpected\r\n".to_vec()
            }
        }),
    ]);
    let options = SubscriberOptions { ping_interval: Some(Duration::from_millis(100)), ..quick() };
    let s =
        Subscriber::connect(Servers::standalone(opts(&fake.url(), Protocol::Resp2)), options).await.unwrap();
    s.subscribe(["a", "b"]).await.unwrap();
    assert_eq!(next_message(&s).await, msg(Kind::Channel, "a", None, "m1"));
    assert_eq!(next_message(&s).await, msg(Kind::Channel, "b", None, "m2"));
    // Pings answered with `pong` arrays keep the connection: no gap event.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(s.try_recv().is_none());
    assert!(fake.command_names().iter().filter(|n| n.eq_ignore_ascii_case("PING")).count() >= 2);
    assert!(fake.failures().is_empty(), "{:?}", fake.failures());
}

// ----- cluster -----

/// Runs blocking harness work (killing, waiting for the cluster) off the async workers.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A sharded channel name, `{prefix-N}` (a hash tag, so keys `{prefix-N}...`
/// share its slot), whose slot the node at `index` serves now.
fn channel_on(cluster: &Cluster, index: usize, prefix: &str) -> String {
    let port = cluster.node(index).port();
    (0..10_000)
        .map(|i| format!("{{{prefix}-{i}}}"))
        .find(|name| cluster.primary_for_slot(redwire::cluster::key_slot(name.as_bytes())).port() == port)
        .unwrap_or_else(|| panic!("no channel name lands on node {index}"))
}

fn index_of_port(cluster: &Cluster, port: u16) -> usize {
    cluster.nodes().iter().position(|n| n.port() == port).expect("a node of the cluster")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_messages_on_every_kind_and_recovery_after_client_kill() {
    let cluster = Cluster::start();
    // One sharded channel per primary.
    let sharded: Vec<String> = (0..3).map(|i| channel_on(&cluster, i, "shard")).collect();
    for protocol in PROTOCOLS {
        let publisher = Publisher::connect(cluster_servers(&cluster, protocol)).await.unwrap();
        let s = Subscriber::connect(cluster_servers(&cluster, protocol), quick()).await.unwrap();
        s.subscribe(["news"]).await.unwrap();
        s.psubscribe(["new*"]).await.unwrap();
        s.ssubscribe(&sharded).await.unwrap();
        let mut expected = vec![sub(Kind::Channel, "news"), sub(Kind::Pattern, "new*")];
        expected.extend(sharded.iter().map(|c| sub(Kind::Sharded, c)));
        expected.sort();
        let mut active = s.active().await.unwrap();
        active.sort();
        assert_eq!(active, expected, "{protocol:?}");

        // Classic messages reach the subscriber whichever node they are published on.
        publisher.publish("news", "classic").await.unwrap();
        assert_eq!(next_message(&s).await, msg(Kind::Channel, "news", None, "classic"));
        assert_eq!(next_message(&s).await, msg(Kind::Pattern, "news", Some("new*"), "classic"));
        for c in &sharded {
            assert_eq!(publisher.spublish(c.as_str(), "s").await.unwrap(), 1, "{c} on its owner");
            assert_eq!(next_message(&s).await, msg(Kind::Sharded, c, None, "s"));
        }
        assert_quiet(&s).await;

        // Kill every pub/sub connection on every node: everything comes back.
        let mut killed = 0;
        for node in cluster.nodes() {
            killed += node.client().cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]).as_int().unwrap_or(0);
        }
        assert_eq!(killed, 4, "the main link and one link per primary");
        expect_recovery(&s, &expected, Duration::from_secs(10)).await;
        publisher.publish("news", "after").await.unwrap();
        assert_eq!(next_message(&s).await, msg(Kind::Channel, "news", None, "after"));
        assert_eq!(next_message(&s).await, msg(Kind::Pattern, "news", Some("new*"), "after"));
        for c in &sharded {
            assert_eq!(publisher.spublish(c.as_str(), "after").await.unwrap(), 1);
            assert_eq!(next_message(&s).await, msg(Kind::Sharded, c, None, "after"));
        }
        assert_quiet(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_sharded_channel_moves_to_the_replica_that_replaces_a_dead_primary() {
    let cluster = Cluster::start();
    for (round, protocol) in PROTOCOLS.into_iter().enumerate() {
        // The victim is never node 0, where the main link (classic channels) lives.
        let victim = cluster.primary_for_slot(redwire::cluster::key_slot(b"x")).port();
        let victim = cluster
            .primaries()
            .iter()
            .map(|n| n.port())
            .find(|p| *p != cluster.node(0).port())
            .unwrap_or(victim);
        let victim = index_of_port(&cluster, victim);
        let doomed = channel_on(&cluster, victim, &format!("doomed{round}"));
        let safe_owner = cluster
            .primaries()
            .iter()
            .map(|n| index_of_port(&cluster, n.port()))
            .find(|i| *i != victim)
            .unwrap();
        let safe = channel_on(&cluster, safe_owner, &format!("safe{round}"));

        let s = Subscriber::connect(cluster_servers(&cluster, protocol), quick()).await.unwrap();
        s.ssubscribe([&doomed, &safe]).await.unwrap();
        s.subscribe(["classic"]).await.unwrap();
        let publisher = Publisher::connect(cluster_servers(&cluster, protocol)).await.unwrap();

        blocking(|| cluster.kill_node(victim));
        // Only the dead primary's channel had a gap; the replica takes over
        // after the node timeout and the subscription follows it.
        expect_recovery(&s, &[sub(Kind::Sharded, &doomed)], Duration::from_secs(30)).await;
        assert_eq!(publisher.spublish(doomed.as_str(), "after failover").await.unwrap(), 1);
        assert_eq!(next_message(&s).await, msg(Kind::Sharded, &doomed, None, "after failover"));
        assert_eq!(publisher.spublish(safe.as_str(), "untouched").await.unwrap(), 1);
        assert_eq!(next_message(&s).await, msg(Kind::Sharded, &safe, None, "untouched"));
        publisher.publish("classic", "c").await.unwrap();
        assert_eq!(next_message(&s).await, msg(Kind::Channel, "classic", None, "c"));
        assert_quiet(&s).await;

        // Bring the old primary back (as a replica) for the next round.
        blocking(|| {
            cluster.restart_node(victim);
            cluster.wait_ok();
        });
        assert_quiet(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_sharded_channel_follows_its_slot_when_migrated() {
    let cluster = Cluster::start();
    for (round, protocol) in PROTOCOLS.into_iter().enumerate() {
        let channel = channel_on(&cluster, 1, &format!("mig{round}"));
        let slot = redwire::cluster::key_slot(channel.as_bytes());
        let bystander = channel_on(&cluster, 2, &format!("by{round}"));
        let source = cluster.primary_for_slot(slot);
        let target = cluster.primaries().into_iter().find(|n| n.port() != source.port()).unwrap();

        let s = Subscriber::connect(cluster_servers(&cluster, protocol), quick()).await.unwrap();
        s.ssubscribe([&channel, &bystander]).await.unwrap();
        let publisher = Publisher::connect(cluster_servers(&cluster, protocol)).await.unwrap();
        assert_eq!(publisher.spublish(channel.as_str(), "before").await.unwrap(), 1);
        assert_eq!(next_message(&s).await, msg(Kind::Sharded, &channel, None, "before"));

        // Migrate the slot, with a key in it, the way resharding tools do.
        blocking(|| {
            let key = format!("{channel}:key");
            source.client().cmd(&["SET", &key, "v"]).assert_ok();
            let slot_text = slot.to_string();
            target.client().cmd(&["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", source.id()]).assert_ok();
            source.client().cmd(&["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", target.id()]).assert_ok();
            let port = target.port().to_string();
            let migrated =
                source.client().cmd(&["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS", &key]);
            assert!(migrated.is_ok(), "MIGRATE: {migrated:?}");
            for node in [target, source] {
                node.client().cmd(&["CLUSTER", "SETSLOT", &slot_text, "NODE", target.id()]).assert_ok();
            }
            cluster.wait_ok();
        });
        let cause = expect_recovery(&s, &[sub(Kind::Sharded, &channel)], Duration::from_secs(10)).await;
        assert!(cause.contains("slot moved"), "the old owner dropped it: {cause}");
        assert_eq!(publisher.spublish(channel.as_str(), "after").await.unwrap(), 1);
        assert_eq!(next_message(&s).await, msg(Kind::Sharded, &channel, None, "after"));
        assert_eq!(publisher.spublish(bystander.as_str(), "b").await.unwrap(), 1);
        assert_eq!(next_message(&s).await, msg(Kind::Sharded, &bystander, None, "b"));
        assert_quiet(&s).await;
    }
}
