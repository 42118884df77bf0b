//! Typed replies, typed and atomic pipelines and the WATCH transaction helper,
//! one suite run unchanged against a real standalone Valkey over RESP2 and
//! RESP3 and against the real 6-node cluster: tuple, map and set
//! conversions from both protocols, serde structs from hashes and JSON,
//! error replies kept in place, keys spread over every shard reassembled in
//! order, atomic pipelines (and the cluster's cross-slot refusal), and the
//! WATCH helper against a concurrent writer (aborts observed, no update lost).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redwire::cluster::{key_slot, ClusterClient, ClusterOptions};
use redwire::commands::{Execute, StringCommands};
use redwire::pipeline::{transaction, transaction_with, PipelineExecutor};
use redwire::{cmd, pipe, Error, Frame};
use support::{Cluster, Server};

/// Everything that runs the same on every topology. `p` prefixes the keys.
async fn suite<C: PipelineExecutor + Execute + Clone + 'static>(client: &C, p: &str) {
    tuples(client, p).await;
    maps_and_sets(client, p).await;
    errors_stay_in_place(client, p).await;
    many_keys_in_order(client, p).await;
    atomic(client, p).await;
    #[cfg(feature = "serde")]
    serde_structs(client, p).await;
    watch_under_a_concurrent_writer(client, p).await;
    watch_gives_up(client, p).await;
}

async fn tuples<C: PipelineExecutor>(client: &C, p: &str) {
    let (k, n) = (format!("{p}:t:k"), format!("{p}:t:n"));
    let (set, got, one, six, missing): ((), Option<String>, i64, u32, Option<Bytes>) = pipe()
        .set(&k, "v")
        .get(&k)
        .incr(&n)
        .incr_by(&n, 5)
        .get(format!("{p}:t:missing"))
        .query(client)
        .await
        .expect("pipeline");
    assert_eq!((set, got.as_deref(), one, six, missing), ((), Some("v"), 1, 6, None));
    // Twelve replies into a twelve-tuple; ignored replies are left out.
    let mut twelve = pipe();
    twelve.set(&n, 0).ignore();
    for _ in 0..12 {
        twelve.incr(&n);
    }
    let t: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) = twelve.query(client).await.unwrap();
    assert_eq!((t.0, t.5, t.11), (1, 6, 12));
    // A tuple of the wrong length is a typed error naming both shapes.
    match pipe().get(&k).get(&k).query::<(Bytes,), _>(client).await {
        Err(Error::Type { expected, got }) => {
            assert_eq!(expected, "an array of 1 element");
            assert_eq!(got, "array of 2 elements");
        }
        other => panic!("{other:?}"),
    }
    // `()` is `+OK` only: a bulk string is not.
    match pipe().get(&k).query::<((),), _>(client).await {
        Err(Error::Type { expected: "+OK", got }) => assert_eq!(got, "bulk string \"v\""),
        other => panic!("{other:?}"),
    }
    // A single command's Vec, and the empty pipeline.
    let v: Vec<i64> = pipe().incr(&n).query(client).await.unwrap();
    assert_eq!(v, [13]);
    let none: Vec<Frame> = pipe().query(client).await.unwrap();
    assert!(none.is_empty());
}

async fn maps_and_sets<C: PipelineExecutor>(client: &C, p: &str) {
    let (h, s, z) = (format!("{p}:m:h"), format!("{p}:m:s"), format!("{p}:m:z"));
    let mut setup = pipe();
    setup.del(&[&h, &s, &z][..]).ignore();
    setup.hset_multiple(&h, &[("a", 1), ("b", 2), ("c", 3)]);
    setup.sadd(&s, &["x", "y", "z"][..]);
    setup.zadd(&z, 1.5, "one").zadd(&z, 2.5, "two");
    let (added, members, one, two): (u64, u64, u64, u64) = setup.query(client).await.unwrap();
    assert_eq!((added, members, one, two), (3, 3, 1, 1));

    type All = (
        HashMap<String, i64>,
        BTreeMap<String, u32>,
        Vec<(String, String)>,
        HashSet<String>,
        BTreeSet<Bytes>,
        Vec<(String, f64)>,
    );
    let (map, btree, pairs, set, bset, scores): All = pipe()
        .hgetall(&h)
        .hgetall(&h)
        .hgetall(&h)
        .smembers(&s)
        .smembers(&s)
        .zrange_withscores(&z, 0, -1)
        .query(client)
        .await
        .unwrap();
    assert_eq!(map, HashMap::from([("a".into(), 1), ("b".into(), 2), ("c".into(), 3)]));
    assert_eq!(btree.into_iter().collect::<Vec<_>>(), [("a".into(), 1), ("b".into(), 2), ("c".into(), 3)]);
    let mut pairs = pairs;
    pairs.sort();
    assert_eq!(pairs, [("a".into(), "1".into()), ("b".into(), "2".into()), ("c".into(), "3".into())]);
    assert_eq!(set, HashSet::from(["x".into(), "y".into(), "z".into()]));
    assert_eq!(bset.len(), 3);
    assert_eq!(scores, [("one".into(), 1.5), ("two".into(), 2.5)]);
    // A map is not a list of integers: a typed error naming both.
    match pipe().hgetall(&h).query::<(i64,), _>(client).await {
        Err(Error::Type { expected: "an integer", got }) => {
            assert!(got.contains("of 3 entries") || got.contains("of 6 elements"), "{got}")
        }
        other => panic!("{other:?}"),
    }
}

async fn errors_stay_in_place<C: PipelineExecutor>(client: &C, p: &str) {
    let k = format!("{p}:e:k");
    let mut pl = pipe();
    pl.set(&k, "text").incr(&k).get(&k);
    let frames = pl.query_frames(client).await.unwrap();
    assert_eq!(frames.len(), 3);
    assert!(matches!(&frames[1], Frame::SimpleError(e) if e.code() == b"ERR"), "{frames:?}");
    assert_eq!(frames[2], Frame::BulkString(Bytes::from_static(b"text")));
    match pl.query::<((), i64, Option<String>), _>(client).await {
        Err(Error::Server(e)) => {
            assert!(String::from_utf8_lossy(e.message()).contains("not an integer"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // Commands that would change a shared connection are refused before sending.
    let refused = pipe().cmd(cmd("MULTI")).query_frames(client).await;
    assert!(matches!(refused, Err(Error::NotOnSharedConnection { .. })), "{refused:?}");
}

async fn many_keys_in_order<C: PipelineExecutor>(client: &C, p: &str) {
    let n = 300;
    let mut writes = pipe();
    for i in 0..n {
        writes.set(format!("{p}:spread:{i}"), i).ignore();
    }
    let mut reads = pipe();
    for i in (0..n).rev() {
        reads.get(format!("{p}:spread:{i}"));
    }
    let none: Vec<()> = writes.query(client).await.unwrap();
    assert!(none.is_empty());
    let got: Vec<i64> = reads.query(client).await.unwrap();
    assert_eq!(got, (0..n).rev().collect::<Vec<i64>>());
}

async fn atomic<C: PipelineExecutor>(client: &C, p: &str) {
    let (a, b) = (format!("{{{p}:acct}}:a"), format!("{{{p}:acct}}:b"));
    let (set, b_now, a_now): ((), i64, Option<String>) =
        pipe().atomic().set(&a, 10).incr_by(&b, 5).get(&a).query(client).await.unwrap();
    assert_eq!((set, b_now, a_now.as_deref()), ((), 5, Some("10")));
    // A runtime error inside EXEC stays in its place; the others ran.
    let mut pl = pipe();
    pl.atomic().set(&a, "text").incr(&a).incr(&b);
    let frames = pl.query_frames(client).await.unwrap();
    assert!(frames[1].is_error(), "{frames:?}");
    assert_eq!(frames[2], Frame::Integer(6));
    // A command the server refuses to queue discards everything: nothing ran.
    let refused =
        pipe().atomic().set(&a, "never").cmd(cmd("GET").arg(&a).arg("extra")).query_frames(client).await;
    assert!(matches!(&refused, Err(Error::Server(e)) if e.code() == b"ERR"), "{refused:?}");
    let a_now: Option<String> = client_get(client, &a).await;
    assert_eq!(a_now.as_deref(), Some("text"));
}

async fn client_get<C: PipelineExecutor>(client: &C, key: &str) -> Option<String> {
    let (v,): (Option<String>,) = pipe().get(key).query(client).await.unwrap();
    v
}

#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct User {
    name: String,
    age: u32,
    admin: bool,
    score: f64,
    nick: Option<String>,
    tags: Vec<String>,
}

#[cfg(feature = "serde")]
async fn serde_structs<C: PipelineExecutor>(client: &C, p: &str) {
    use redwire::cmd::{Hash, Json};
    let user = User {
        name: "ann \u{e9}".into(),
        age: 41,
        admin: true,
        score: -2.25,
        nick: None,
        tags: vec!["a".into(), "b c".into()],
    };
    let (h, j) = (format!("{p}:u:h"), format!("{p}:u:j"));
    let fields = Hash(&user).to_fields().unwrap();
    let mut pl = pipe();
    pl.del(&h).ignore().hset_multiple(&h, &fields).ignore().hgetall(&h);
    pl.set(&j, Json(&user).encode().unwrap()).ignore().get(&j).get(format!("{p}:u:none"));
    let (Hash(from_hash), Json(from_json), none): (Hash<User>, Json<User>, Option<Json<User>>) =
        pl.query(client).await.unwrap();
    assert_eq!(from_hash, user);
    assert_eq!(from_json, user);
    assert!(none.is_none());
    // A hash that does not fit the struct is a typed error.
    let mut bad = pipe();
    bad.hset(&h, "age", "old").ignore().hgetall(&h);
    match bad.query::<(Hash<User>,), _>(client).await {
        Err(Error::Type { expected: "a hash matching the struct", got }) => {
            assert!(got.contains("old"), "{got}")
        }
        other => panic!("{other:?}"),
    }
}

/// A writer keeps incrementing the watched key while transactions read it,
/// wait for the writer to move on (on every other attempt, so those attempts
/// must abort), and set it to what they read + 1000. Every abort is retried;
/// no increment and no transaction is lost.
async fn watch_under_a_concurrent_writer<C: PipelineExecutor + Execute + Clone + 'static>(
    client: &C,
    p: &str,
) {
    let key = format!("{p}:w:counter");
    client.set(&key, 0).await.unwrap();
    let writes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, key, writes, stop) = (client.clone(), key.clone(), writes.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                client.incr(&key).await.expect("writer incr");
                writes.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let calls = Arc::new(AtomicU32::new(0));
    let transactions = 10u32;
    for _ in 0..transactions {
        let (key2, writes, calls) = (key.clone(), writes.clone(), calls.clone());
        let (set_to, read_back): (i64, i64) = transaction_with(client, &[&key], 1000, move |conn| {
            let (key, writes, calls) = (key2.clone(), writes.clone(), calls.clone());
            async move {
                let call = calls.fetch_add(1, Ordering::Relaxed);
                let now: i64 = conn.query::<Option<i64>>(&cmd("GET").arg(&key)).await?.unwrap_or(0);
                if call % 2 == 0 {
                    // Let the writer change the watched key: this attempt must abort.
                    let seen = writes.load(Ordering::Relaxed);
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while writes.load(Ordering::Relaxed) < seen + 2 && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                let mut pl = pipe();
                pl.cmd(cmd("SET").arg(&key).arg(now + 1000).arg("GET")).get(&key);
                Ok(pl)
            }
        })
        .await
        .expect("transaction");
        assert_eq!(read_back, set_to + 1000, "EXEC ran SET and GET with nothing in between");
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let calls = calls.load(Ordering::Relaxed);
    println!(
        "{p}: {transactions} WATCH transactions, {calls} attempts ({} aborted), {} concurrent writes",
        calls - transactions,
        writes.load(Ordering::Relaxed)
    );
    assert!(calls >= 2 * transactions, "every transaction's first attempt aborted: {calls} calls");
    let final_value: i64 = client.query(&cmd("GET").arg(&key)).await.unwrap();
    assert_eq!(final_value, writes.load(Ordering::Relaxed) as i64 + 1000 * i64::from(transactions));
}

/// Each attempt's watched key is changed by another caller: after
/// `max_attempts` the helper gives up with a typed error, and nothing ran.
async fn watch_gives_up<C: PipelineExecutor + Execute + Clone + 'static>(client: &C, p: &str) {
    let (key, other) = (format!("{p}:g:k"), format!("{{{p}:g:k}}:other"));
    let calls = Arc::new(AtomicU32::new(0));
    let result: Result<Vec<Frame>, Error> = transaction_with(client, &[&key], 3, {
        let (client, key, other, calls) = (client.clone(), key.clone(), other.clone(), calls.clone());
        move |_conn| {
            let (client, key, other, calls) = (client.clone(), key.clone(), other.clone(), calls.clone());
            async move {
                calls.fetch_add(1, Ordering::Relaxed);
                client.incr(&key).await?;
                let mut pl = pipe();
                pl.incr(&other);
                Ok(pl)
            }
        }
    })
    .await;
    assert!(matches!(result, Err(Error::TransactionAborted { attempts: 3 })), "{result:?}");
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    let other_now: Option<i64> = client.query(&cmd("GET").arg(&other)).await.unwrap();
    assert_eq!(other_now, None, "an aborted EXEC ran nothing");
    // The closure's error ends the helper at once, keys unwatched.
    let failed: Result<Vec<Frame>, Error> =
        transaction(client, &[&key], |_conn| async { Err(Error::Closed) }).await;
    assert!(matches!(failed, Err(Error::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_resp2() {
    let server = Server::start();
    let client = redwire::Client::open(&server.url()).await.expect("connect");
    suite(&client, "r2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_resp3_any_client() {
    let server = Server::start();
    let client = redwire::connect(&[format!("{}?protocol=resp3", server.url())]).await.expect("connect");
    assert!(matches!(client, redwire::AnyClient::Standalone(_)));
    suite(&client, "r3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster() {
    let cluster = Cluster::start();
    let seeds = cluster.seed_urls().iter().map(|u| redwire::url::parse_url(u).expect("seed")).collect();
    let client =
        ClusterClient::connect(ClusterOptions { seeds, ..ClusterOptions::default() }).await.expect("connect");
    // The spread keys of the suite reach every shard.
    let map = client.slot_map();
    let shards: HashSet<_> = (0..300)
        .filter_map(|i| map.primary_for_slot(key_slot(format!("c:spread:{i}").as_bytes())).cloned())
        .collect();
    assert_eq!(shards.len(), 3, "keys on every primary");
    suite(&client, "c").await;

    // An atomic pipeline must stay in one slot: refused before sending.
    let refused = pipe().atomic().set("c:x:a", 1).set("c:x:b", 2).query_frames(&client).await;
    assert!(matches!(refused, Err(Error::CrossSlot)), "{refused:?}");
    let a: Option<String> = client.query(&cmd("GET").arg("c:x:a")).await.unwrap();
    assert_eq!(a, None, "nothing was sent");
    // So must the keys of a WATCH.
    let watched: Result<Vec<Frame>, Error> =
        transaction(&client, &["c:x:a", "c:x:b"], |_conn| async { Ok(pipe()) }).await;
    assert!(matches!(watched, Err(Error::CrossSlot)), "{watched:?}");
    // Keyless, fan-out and split commands ride along, replies in order.
    let (pong, dbsize, values): (String, u64, Vec<Option<i64>>) = pipe()
        .cmd(cmd("PING"))
        .cmd(cmd("DBSIZE"))
        .cmd(cmd("MGET").arg(&["c:spread:1", "c:spread:2", "c:nope"][..]))
        .query(&client)
        .await
        .unwrap();
    assert_eq!(pong, "PONG");
    assert!(dbsize >= 300, "{dbsize}");
    assert_eq!(values, [Some(1), Some(2), None]);
    // The AnyClient over the same cluster runs the pipeline the same way.
    let any = redwire::connect(&cluster.seed_urls()).await.expect("connect");
    assert!(matches!(any, redwire::AnyClient::Cluster(_)));
    let got: Vec<i64> = {
        let mut reads = pipe();
        for i in 0..300 {
            reads.get(format!("c:spread:{i}"));
        }
        reads.query(&any).await.unwrap()
    };
    assert_eq!(got, (0..300).collect::<Vec<i64>>());
}

/// A slot moves under a client whose map still names the old owner: the
/// pipeline's commands answered `ASK` (mid-migration) and then `MOVED`
/// (after it) are sent again through the router, in order, and an atomic
/// pipeline on that slot is tried again on the new owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_pipelines_follow_redirects() {
    let cluster = Cluster::start();
    let seeds = cluster.seed_urls().iter().map(|u| redwire::url::parse_url(u).expect("seed")).collect();
    let client =
        ClusterClient::connect(ClusterOptions { seeds, ..ClusterOptions::default() }).await.expect("connect");
    let (moving, staying) = ("{mv}:moving", "{mv}:staying");
    let slot = key_slot(b"{mv}");
    let source = cluster.primary_for_slot(slot);
    let target = cluster.primaries().into_iter().find(|n| n.id() != source.id()).expect("another primary");
    let ((), ()): ((), ()) = pipe().set(moving, "m").set(staying, 1).query(&client).await.unwrap();

    // Mid-migration: `moving` is on the target already (ASK), `staying` not yet.
    let s = slot.to_string();
    let (mut src, mut dst) = (source.client(), target.client());
    dst.cmd(&["CLUSTER", "SETSLOT", &s, "IMPORTING", source.id()]).assert_ok();
    src.cmd(&["CLUSTER", "SETSLOT", &s, "MIGRATING", target.id()]).assert_ok();
    let port = target.port().to_string();
    let migrated = src.cmd(&["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS", moving]);
    assert!(!migrated.is_error(), "{migrated:?}");
    let (m, n, m_again): (Option<String>, i64, Option<String>) =
        pipe().get(moving).incr(staying).get(moving).query(&client).await.unwrap();
    assert_eq!((m.as_deref(), n, m_again.as_deref()), (Some("m"), 2, Some("m")));

    // Migration done: every command to the old owner is answered MOVED.
    let migrated = src.cmd(&["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS", staying]);
    assert!(!migrated.is_error(), "{migrated:?}");
    dst.cmd(&["CLUSTER", "SETSLOT", &s, "NODE", target.id()]).assert_ok();
    src.cmd(&["CLUSTER", "SETSLOT", &s, "NODE", target.id()]).assert_ok();
    let stale = client.slot_map().primary_for_slot(slot).map(|a| a.port);
    assert_eq!(stale, Some(source.port()), "the client's map still names the old owner");
    let ((), got, three): ((), Option<String>, i64) =
        pipe().set(moving, "m2").get(moving).incr(staying).query(&client).await.unwrap();
    assert_eq!((got.as_deref(), three), (Some("m2"), 3));
    let on_target: String = target.client().cmd(&["GET", staying]).text();
    assert_eq!(on_target, "3", "the writes reached the new owner");

    // An atomic pipeline on a slot that moved: MOVED while queueing (the
    // server discards the transaction), then again on the new owner.
    let atomic_key = "{at}:n";
    let slot = key_slot(b"{at}");
    let source = cluster.primary_for_slot(slot);
    let target = cluster.primaries().into_iter().find(|n| n.id() != source.id()).expect("another primary");
    let ((),): ((),) = pipe().set(atomic_key, 10).query(&client).await.unwrap();
    let s = slot.to_string();
    let (mut src, mut dst) = (source.client(), target.client());
    dst.cmd(&["CLUSTER", "SETSLOT", &s, "IMPORTING", source.id()]).assert_ok();
    src.cmd(&["CLUSTER", "SETSLOT", &s, "MIGRATING", target.id()]).assert_ok();
    let port = target.port().to_string();
    let migrated = src.cmd(&["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS", atomic_key]);
    assert!(!migrated.is_error(), "{migrated:?}");
    dst.cmd(&["CLUSTER", "SETSLOT", &s, "NODE", target.id()]).assert_ok();
    src.cmd(&["CLUSTER", "SETSLOT", &s, "NODE", target.id()]).assert_ok();
    let stale = client.slot_map().primary_for_slot(slot).map(|a| a.port);
    assert_eq!(stale, Some(source.port()), "the client's map still names the old owner");
    let (eleven, twelve): (i64, i64) =
        pipe().atomic().incr(atomic_key).incr(atomic_key).query(&client).await.unwrap();
    assert_eq!((eleven, twelve), (11, 12));
    assert_eq!(target.client().cmd(&["GET", atomic_key]).text(), "12");
}
