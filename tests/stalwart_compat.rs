//! A mixed fleet against real Valkey: an "old" Stalwart 0.16 node, played by
//! the harness's own client sending exactly the commands Stalwart's redis-rs
//! backend sends (hand-built here from the documented layout), shares data
//! and the coordination channel with a redwire store and coordinator in
//! `"compat": "stalwart-0.16"` mode. Values, counters, rate limits and locks
//! written by either side are read, counted, limited and unlocked correctly by
//! the other, on one server and on `Sharded` over two servers (where every
//! key must sit on the server `xxh3_64(key) % 2` names); coordination
//! messages cross both ways on `stwt.agora`.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redwire::config::{parse, Compat};
use redwire::coord::{
    CacheKind, Coordinator, CoordinatorOptions, DataTypes, DecodeError, Delivery, Event, NodeId, ObjectId,
    ObjectType, STALWART_CHANNEL,
};
use redwire::store::Rate;
use redwire::{Error, Store};
use support::{Client, Cluster, Reply, Server};
use xxhash_rust::xxh3::xxh3_64;

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// An old Stalwart node: raw commands on the harness's client, one per server,
/// the shard picked as Stalwart picks it.
struct OldNode {
    servers: Vec<Client>,
}

impl OldNode {
    fn new(servers: &[&Server]) -> OldNode {
        OldNode { servers: servers.iter().map(|s| s.client()).collect() }
    }

    fn shard(&self, key: &[u8]) -> usize {
        (xxh3_64(key) % self.servers.len() as u64) as usize
    }

    fn on(&mut self, key: &[u8]) -> &mut Client {
        let i = self.shard(key);
        &mut self.servers[i]
    }

    fn set(&mut self, key: &[u8], value: &[u8], secs: u64) {
        self.on(key).cmd(&[b"SET", key, value, b"EX", secs.to_string().as_bytes()]).assert_ok();
    }

    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        match self.on(key).cmd(&[&b"GET"[..], key]) {
            Reply::Bulk(v) => Some(v),
            Reply::Null => None,
            other => panic!("GET: {other:?}"),
        }
    }

    fn ttl(&mut self, key: &[u8]) -> i64 {
        self.on(key).cmd(&[&b"TTL"[..], key]).as_int().expect("TTL")
    }

    /// `MULTI; INCRBY key delta; EXPIRE key secs; EXEC`, as redis-rs's atomic pipe sends it.
    fn incr(&mut self, key: &[u8], delta: i64, secs: u64) -> i64 {
        let c = self.on(key);
        c.cmd(&["MULTI"]).assert_ok();
        assert_eq!(c.cmd(&[b"INCRBY", key, delta.to_string().as_bytes()]), Reply::Simple("QUEUED".into()));
        assert_eq!(c.cmd(&[b"EXPIRE", key, secs.to_string().as_bytes()]), Reply::Simple("QUEUED".into()));
        match c.cmd(&["EXEC"]) {
            Reply::Array(items) => items[0].as_int().expect("INCRBY reply"),
            other => panic!("EXEC: {other:?}"),
        }
    }

    /// Stalwart's rate limit: bucket `prefix ‖ key ‖ window (u64 BE)`, ttl to the window's end.
    fn rate(&mut self, prefix: u8, key: &[u8], count: u64, period: u64, soft: bool) -> Option<u64> {
        let now = now();
        let window = now / period;
        let ttl = (window + 1) * period - now;
        let bucket = [&[prefix][..], key, &window.to_be_bytes()].concat();
        let hits = if soft {
            self.get(&bucket).map_or(0, |v| String::from_utf8(v).unwrap().parse::<i64>().unwrap()) + 1
        } else {
            self.incr(&bucket, 1, ttl)
        };
        (hits > count as i64).then_some(ttl)
    }

    /// `SET key <expiry unix secs> NX EX secs`.
    fn try_lock(&mut self, key: &[u8], secs: u64) -> bool {
        let value = (now() + secs).to_string();
        match self.on(key).cmd(&[b"SET", key, value.as_bytes(), b"NX", b"EX", secs.to_string().as_bytes()]) {
            Reply::Simple(ok) if ok == "OK" => true,
            Reply::Null => false,
            other => panic!("SET NX: {other:?}"),
        }
    }

    fn remove_lock(&mut self, key: &[u8]) {
        self.on(key).cmd(&[&b"DEL"[..], key]);
    }
}

/// A Stalwart-compatible store over `servers` (Redis for one, Sharded for more).
async fn compat_store(servers: &[&Server]) -> Store {
    let json = if let [one] = servers {
        format!(r#"{{"@type": "Redis", "url": "{}", "compat": "stalwart-0.16"}}"#, one.url())
    } else {
        let stores: Vec<String> =
            servers.iter().map(|s| format!(r#"{{"@type": "Redis", "url": "{}"}}"#, s.url())).collect();
        format!(r#"{{"@type": "Sharded", "compat": "stalwart-0.16", "stores": [{}]}}"#, stores.join(", "))
    };
    let config = parse(&json).unwrap();
    assert_eq!(config.compat(), Compat::Stalwart016);
    let store = Store::from_config(&config).await.unwrap();
    assert_eq!(store.compat(), Compat::Stalwart016);
    store
}

/// Waits, if needed, so that a test of a `period`-second window does not straddle two windows.
async fn away_from_window_end(period: u64) {
    let left = period - now() % period;
    if left < 10 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

async fn values_cross(old: &mut OldNode, store: &Store) {
    // Binary keys and values, verbatim both ways.
    for i in 0..20u8 {
        let key = [b'v', 0, 0xff, i];
        let value = [0u8, 1, 0xfe, i, b'\r', b'\n'];
        old.set(&key, &value, 600);
        assert_eq!(store.key_get(&key).await.unwrap().as_deref(), Some(&value[..]), "key {key:?}");
        let key = [b'w', 0x80, i];
        store.key_set(&key, Bytes::copy_from_slice(&value), Some(Duration::from_secs(600))).await.unwrap();
        assert_eq!(old.get(&key).as_deref(), Some(&value[..]), "key {key:?}");
        assert!(store.key_exists(&key).await.unwrap());
    }
}

async fn counters_cross(old: &mut OldNode, store: &Store) {
    // A key that redwire's own FNV placement puts on the same shard as xxh3, so
    // the redwire-mode store below (which shards by FNV) finds it too.
    let n = old.servers.len();
    let key = (0u32..)
        .map(|i| [&b"\x05counter\x00quota"[..], &i.to_be_bytes()].concat())
        .find(|k| redwire::__unstable::store::shard_of(k, n) == old.shard(k))
        .unwrap();
    let key = &key[..];
    assert_eq!(old.incr(key, 3, 100), 3);
    assert_eq!(store.counter_get(key).await.unwrap(), 3);
    // Stalwart's rule: the call's ttl replaces the old one.
    assert_eq!(store.counter_incr(key, 2, Some(Duration::from_secs(1000))).await.unwrap(), 5);
    let ttl = old.ttl(key);
    assert!(ttl > 100 && ttl <= 1000, "compat counter_incr sets the expiry on every call: TTL {ttl}");
    assert_eq!(old.get(key).as_deref(), Some(&b"5"[..]));
    assert_eq!(old.incr(key, -1, 50), 4);
    assert_eq!(store.counter_get(key).await.unwrap(), 4);
    // redwire's own rule, still available on the same connections: the first ttl stays.
    let own = store.with_compat(Compat::Redwire);
    assert_eq!(own.counter_incr(key, 1, Some(Duration::from_secs(1000))).await.unwrap(), 5);
    assert!(old.ttl(key) <= 50, "redwire's counter keeps the existing expiry");
    assert!(store.counter_delete(key).await.unwrap());
    assert_eq!(old.get(key), None);
}

async fn rate_limits_cross(old: &mut OldNode, store: &Store) {
    let period = 60;
    away_from_window_end(period).await;
    let rate = Rate::new(3, Duration::from_secs(period));
    let key = b"ip:192.0.2.1";
    assert_eq!(old.rate(4, key, 3, period, false), None);
    assert_eq!(old.rate(4, key, 3, period, false), None);
    // The third hit, by redwire, counts in the same bucket.
    assert_eq!(store.is_rate_allowed_prefixed(4, key, &rate, false).await.unwrap(), None);
    // Both now see the limit reached: soft checks refuse without counting.
    let left = store.is_rate_allowed_prefixed(4, key, &rate, true).await.unwrap();
    assert!(matches!(left, Some(s) if (1..=period).contains(&s)), "{left:?}");
    assert!(old.rate(4, key, 3, period, true).is_some());
    assert!(old.rate(4, key, 3, period, false).is_some(), "the 4th hit is refused");
    assert!(store.is_rate_allowed_prefixed(4, key, &rate, false).await.unwrap().is_some());
    // The bucket holds 5 hits, under Stalwart's key, where Stalwart looks for it.
    let bucket = [&[4u8][..], key, &(now() / period).to_be_bytes()].concat();
    assert_eq!(old.get(&bucket).as_deref(), Some(&b"5"[..]));
    let ttl = old.ttl(&bucket);
    assert!((1..=period as i64).contains(&ttl), "bucket TTL {ttl}");
    // Another prefix is another budget.
    assert_eq!(store.is_rate_allowed_prefixed(5, key, &rate, false).await.unwrap(), None);
}

async fn locks_cross(old: &mut OldNode, store: &Store) {
    let key = b"\x09lock:queue:42";
    assert!(old.try_lock(key, 30));
    assert!(!store.try_lock_plain(key, 30).await.unwrap(), "an old node's lock is held");
    assert!(store.remove_lock_plain(key).await.unwrap());
    assert!(store.try_lock_plain(key, 30).await.unwrap());
    assert!(!old.try_lock(key, 30), "a redwire lock is held for old nodes");
    // The value is the expiry time, as old nodes write it.
    let value: u64 = String::from_utf8(old.get(key).unwrap()).unwrap().parse().unwrap();
    assert!((now() + 25..=now() + 31).contains(&value), "{value}");
    old.remove_lock(key);
    assert!(store.try_lock_plain(key, 30).await.unwrap());
    assert!(store.remove_lock_plain(key).await.unwrap());
    assert!(!store.remove_lock_plain(key).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_old_and_new_nodes_share_data() {
    let server = Server::start();
    let mut old = OldNode::new(&[&server]);
    let store = compat_store(&[&server]).await;
    values_cross(&mut old, &store).await;
    counters_cross(&mut old, &store).await;
    rate_limits_cross(&mut old, &store).await;
    locks_cross(&mut old, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_old_and_new_nodes_share_data_and_agree_on_shards() {
    let (a, b) = (Server::start(), Server::start());
    let mut old = OldNode::new(&[&a, &b]);
    let store = compat_store(&[&a, &b]).await;
    values_cross(&mut old, &store).await;
    counters_cross(&mut old, &store).await;
    rate_limits_cross(&mut old, &store).await;
    locks_cross(&mut old, &store).await;

    // Every key the compat store writes sits on the server xxh3 names, and only there.
    let mut per_server = [0u32; 2];
    let mut fnv_would_differ = 0;
    let mut clients = [a.client(), b.client()];
    for i in 0..64u32 {
        let key = format!("placed:{i}").into_bytes();
        store.key_set(&key, Bytes::from_static(b"x"), Some(Duration::from_secs(600))).await.unwrap();
        let expected = (xxh3_64(&key) % 2) as usize;
        assert_eq!(store.shard_index(&key), Some(expected));
        for (s, client) in clients.iter_mut().enumerate() {
            let exists = client.cmd(&[&b"EXISTS"[..], &key]).as_int();
            assert_eq!(exists, Some(i64::from(s == expected)), "key placed:{i} on server {s}");
        }
        per_server[expected] += 1;
        fnv_would_differ += u32::from(redwire::__unstable::store::shard_of(&key, 2) != expected);
    }
    assert!(per_server.iter().all(|&n| n > 10), "keys spread over both servers: {per_server:?}");
    assert!(fnv_would_differ > 0, "the test tells xxh3 from redwire's own FNV placement");
    // A rate-limit bucket sits on the server of its full bucket key.
    let rate = Rate::new(10, Duration::from_secs(3600));
    away_from_window_end(3600).await;
    store.is_rate_allowed_prefixed(7, b"acct", &rate, false).await.unwrap();
    let bucket = [&[7u8][..], b"acct", &(now() / 3600).to_be_bytes()].concat();
    let expected = (xxh3_64(&bucket) % 2) as usize;
    assert_eq!(clients[expected].cmd(&[&b"GET"[..], &bucket]), Reply::Bulk(b"1".to_vec()));
    assert_eq!(clients[1 - expected].cmd(&[&b"EXISTS"[..], &bucket]).as_int(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_counters_run_in_a_transaction_on_the_slots_primary() {
    let cluster = Cluster::start();
    let urls: Vec<String> = cluster.seed_urls().iter().map(|u| format!("\"{u}\"")).collect();
    let json = format!(
        r#"{{"@type": "RedisCluster", "urls": [{}], "authSecret": {{"@type": "None"}}, "compat": "stalwart-0.16"}}"#,
        urls.join(", ")
    );
    let store = Store::from_config(&parse(&json).unwrap()).await.unwrap();
    let rate = Rate::new(1, Duration::from_secs(3600));
    away_from_window_end(3600).await;
    for i in 0..8u32 {
        // Keys over several slots, so the transactions go to several primaries.
        let key = format!("cluster-counter:{i}");
        let mut node = cluster.primary_for_slot(cluster.slot_of(&key)).client();
        node.cmd(&["SET", &key, "10", "EX", "100"]).assert_ok();
        assert_eq!(store.counter_incr(key.as_bytes(), 5, Some(Duration::from_secs(1000))).await.unwrap(), 15);
        assert_eq!(node.cmd(&["GET", &key]), Reply::Bulk(b"15".to_vec()));
        let ttl = node.cmd(&["TTL", &key]).as_int().unwrap();
        assert!(ttl > 100 && ttl <= 1000, "the expiry was set again: {ttl}");
        let key = format!("acct{i}");
        assert_eq!(store.is_rate_allowed_prefixed(2, key.as_bytes(), &rate, false).await.unwrap(), None);
        assert!(store.is_rate_allowed_prefixed(2, key.as_bytes(), &rate, false).await.unwrap().is_some());
    }
}

// ----- coordination -----

/// Node 300 (`0xac 0x02`) sends a StateChange, a CalendarAlert, a
/// CacheInvalidate with markers 3, 3 and 10 (two u32), and a QueueRefresh.
const FROM_300: &[u8] = &[
    0xac, 0x02, // node 300
    0, 0xd2, 0x09, 0x0b, 7, // StateChange change 1234, types 0b1011, account 7
    1, 3, 4, 0, 1, b'u', 1, b'a', // CalendarAlert account 3, event 4, no recurrence, "u", "a"
    7, 3, 3, 5, 3, 6, 10, 1, 2,  // CacheInvalidate [3:5, 3:6, 10:(1,2)]
    12, // QueueRefresh
];

fn from_300() -> Vec<Event> {
    vec![
        Event::StateChange { account_id: 7, change_id: 1234, types: DataTypes(0b1011) },
        Event::CalendarAlert {
            account_id: 3,
            event_id: 4,
            recurrence_id: None,
            uid: "u".into(),
            alert_id: "a".into(),
        },
        Event::CacheInvalidate { kind: CacheKind(3), ids: vec![5, 6] },
        Event::CacheInvalidate { kind: CacheKind(10), ids: vec![(1 << 32) | 2] },
        Event::QueueRefresh,
    ]
}

async fn next(c: &Coordinator) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(10), c.recv()).await {
        Ok(Some(d)) => d,
        Ok(None) => panic!("the coordinator stopped"),
        Err(_) => panic!("nothing delivered within 10 s"),
    }
}

fn publish(client: &mut Client, payload: &[u8]) {
    let receivers = client.cmd(&[&b"PUBLISH"[..], STALWART_CHANNEL.as_bytes(), payload]).as_int();
    assert_eq!(receivers, Some(1), "one subscriber: the redwire node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordination_with_old_nodes_on_stwt_agora() {
    let server = Server::start();
    let config =
        parse(&format!(r#"{{"@type": "Redis", "url": "{}", "compat": "stalwart-0.16"}}"#, server.url()))
            .unwrap();
    // Stalwart's node ids are 16-bit: a larger one is refused up front.
    let wide = CoordinatorOptions { node_id: NodeId(70_000), ..Default::default() };
    assert!(matches!(Coordinator::start(&config, wide).await, Err(Error::Config(_))));
    // The configuration's compat picks Stalwart's format and channel.
    let node = Coordinator::start(&config, CoordinatorOptions { node_id: NodeId(7), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(node.compat(), Compat::Stalwart016);
    let mut old = server.client();

    // An old node's message arrives as typed events.
    publish(&mut old, FROM_300);
    for event in from_300() {
        assert_eq!(next(&node).await, Delivery::Event { from: NodeId(300), event });
    }
    // Our own node id is skipped; garbage is reported and counted, and delivery goes on.
    publish(&mut old, &[7, 12]);
    publish(&mut old, &[0xac, 0x02, 12, 200]);
    publish(&mut old, &[0xac, 0x02, 3, 42]);
    assert_eq!(next(&node).await, Delivery::Malformed(DecodeError::UnknownKind(200)));
    assert_eq!(
        next(&node).await,
        Delivery::Event { from: NodeId(300), event: Event::PushServerUpdate { account_id: 42 } }
    );
    let stats = node.stats();
    assert_eq!((stats.own_skipped, stats.malformed, stats.events_received), (1, 1, 6), "{stats:?}");

    // What the redwire node publishes, an old node reads as Stalwart's bytes.
    let mut listener = server.client();
    let confirm = listener.cmd(&["SUBSCRIBE", STALWART_CHANNEL]);
    assert!(matches!(&confirm, Reply::Array(items) if items.len() == 3), "{confirm:?}");
    node.publish(Event::StateChange { account_id: 7, change_id: 1234, types: DataTypes(0b1011) })
        .await
        .unwrap();
    node.flush().await;
    let message = listener.read_reply().unwrap();
    let Reply::Array(parts) = message else { panic!("{message:?}") };
    assert_eq!(parts[1], Reply::Bulk(STALWART_CHANNEL.as_bytes().to_vec()));
    assert_eq!(parts[2], Reply::Bulk(vec![7, 0, 0xd2, 0x09, 0x0b, 7]));
    node.publish(Event::RegistryInsert(ObjectId {
        object_type: ObjectType(12),
        id: Bytes::from_static(b"300"),
    }))
    .await
    .unwrap();
    node.publish(Event::QueueStatus { paused: true }).await.unwrap();
    node.flush().await;
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    while payloads.concat().len() < 5 {
        let Reply::Array(parts) = listener.read_reply().unwrap() else { panic!("not a message") };
        let Reply::Bulk(p) = &parts[2] else { panic!("{parts:?}") };
        payloads.push(p[1..].to_vec());
        assert_eq!(p[0], 7, "every message starts with our node id");
    }
    assert_eq!(payloads.concat(), vec![4, 12, 0xac, 0x02, 11]);
    // An event with no Stalwart form is refused, not sent.
    let refused = node.publish(Event::Application { kind: 1, payload: Bytes::new() }).await;
    assert!(matches!(refused, Err(Error::Type { .. })), "{refused:?}");
    assert_eq!(node.stats().batches_failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_redwire_nodes_in_stalwart_format_in_process() {
    let a = Coordinator::in_process(CoordinatorOptions::stalwart(1));
    let b = Coordinator::in_process(CoordinatorOptions::stalwart(2));
    for event in from_300() {
        a.publish(event).await.unwrap();
    }
    a.flush().await;
    for event in from_300() {
        assert_eq!(next(&b).await, Delivery::Event { from: NodeId(1), event });
    }
    assert_eq!(a.stats().own_skipped, a.stats().messages_sent);
}
