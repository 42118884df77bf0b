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
use redwire::pubsub::{Event, Kind, Message, Publisher, Servers, Subscriber, SubscriberOptions, Subscription};
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
    Servers::Cluster(cluster.seed_urls().iter().map(|u| opts(u, protocol)).collect())
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
    let publisher = Publisher::connect(Servers::Standalone(opts(&server.url(), Protocol::Resp2))).await.unwrap();
    for protocol in PROTOCOLS {
        let s = Subscriber::connect(Servers::Standalone(opts(&server.url(), protocol)), quick()).await.unwrap();
        s.subscribe(["news", "sport"]).await.unwrap();
        s.psubscribe(["n*"]).await.unwrap();
        s.ssubscribe(["{s}1"]).await.unwrap();
        let mut all = s.subscriptions().await.unwrap();
        all.sort();
        assert_eq!(
            all,
            vec![sub(Kind::Channel, "news"), sub(Kind::Channel, "sport"), sub(Kind::Pattern, "n*"), sub(Kind::Sharded, "{s}1")]
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
        assert!(matches!(s.subscribe(Vec::<&str>::new()).await, Err(Error::Other(_))));
        assert_quiet(&s).await;
        s.close();
        assert!(matches!(s.subscribe(["x"]).await, Err(Error::Closed)));
        assert!(s.recv().await.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_pubsub_restores_every_subscription_with_one_gap_event() {
    let server = Server::start();
    let publisher = Publisher::connect(Servers::Standalone(opts(&server.url(), Protocol::Resp2))).await.unwrap();
    for protocol in PROTOCOLS {
        let s = Subscriber::connect(Servers::Standalone(opts(&server.url(), protocol)), quick()).await.unwrap();
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
        let s = Subscriber::connect(Servers::Standalone(opts(&server.url(), protocol)), quick()).await.unwrap();
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
        let publisher = Publisher::connect(Servers::Standalone(opts(&server.url(), Protocol::Resp2))).await.unwrap();
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
    let err = Subscriber::connect(Servers::Standalone(opts(&format!("redis://127.0.0.1:{port}"), Protocol::Resp2)), quick())
        .await
        .expect_err("nothing listens");
    assert!(err.is_connection_error() || matches!(err, Error::Io(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_loses_the_oldest_messages_and_is_told_how_many() {
    let server = Server::start();
    let options = SubscriberOptions { buffer: 10, ..quick() };
    let s = Subscriber::connect(Servers::Standalone(opts(&server.url(), Protocol::Resp3)), options).await.unwrap();
    s.subscribe(["flood"]).await.unwrap();
    let publisher = Publisher::connect(Servers::Standalone(opts(&server.url(), Protocol::Resp2))).await.unwrap();
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
        Step::send("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nm1\r\n"),
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
    let s = Subscriber::connect(Servers::Standalone(opts(&fake.url(), Protocol::Resp2)), options).await.unwrap();
    s.subscribe(["a", "b"]).await.unwrap();
    assert_eq!(next_message(&s).await, msg(Kind::Channel, "a", None, "m1"));
    assert_eq!(next_message(&s).await, msg(Kind::Channel, "b", None, "m2"));
    // Pings answered with `pong` arrays keep the connection: no gap event.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(s.try_recv().is_none());
    assert!(fake.command_names().iter().filter(|n| n.eq_ignore_ascii_case("PING")).count() >= 2);
    assert!(fake.failures().is_empty(), "{:?}", fake.failures());
}
