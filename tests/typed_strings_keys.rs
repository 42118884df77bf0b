//! The typed data commands (strings, keys, hashes, HyperLogLog, bitmaps),
//! one suite run against standalone RESP2, standalone RESP3 and the 6-node
//! cluster (see `support::typed`). Every method is called and its reply
//! read back; where the cluster answers differently (SCAN, cross-slot
//! commands) the test says so and checks that answer.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redwire::commands::*;
use redwire::{AnyClient, Error};
use support::typed::Env;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

fn is_server_error(r: &Result<impl std::fmt::Debug, Error>, needle: &str) -> bool {
    matches!(r, Err(Error::Server(e)) if format!("{e:?}").contains(needle) || e.to_string().contains(needle))
}

async fn strings_set_and_get(env: Env) {
    let c = &env.client;
    let (k, missing) = (env.key("k"), env.key("missing"));
    c.set(&k, "v1").await.unwrap();
    assert_eq!(c.get(&k).await.unwrap(), Some(b("v1")));
    assert_eq!(c.get(&missing).await.unwrap(), None);

    // NX / XX report whether they wrote.
    assert!(!c.set_with(&k, "no", SetOptions::new().if_absent()).await.unwrap());
    assert!(!c.set_with(&missing, "no", SetOptions::new().if_present()).await.unwrap());
    assert_eq!(c.get(&missing).await.unwrap(), None);
    let fresh = env.key("fresh");
    let opts = SetOptions::new().if_absent().expire_after(Duration::from_secs(100));
    assert!(c.set_with(&fresh, "yes", opts).await.unwrap());
    let ttl = c.ttl(&fresh).await.unwrap();
    assert!((1..=100).contains(&ttl), "ttl {ttl}");
    assert!(c.set_with(&fresh, "kept", SetOptions::new().if_present().keep_ttl()).await.unwrap());
    assert_eq!(c.get(&fresh).await.unwrap(), Some(b("kept")));
    assert!(c.ttl(&fresh).await.unwrap() > 0, "KEEPTTL kept the expiry");

    // Absolute expiries are stored as given.
    let at = now_secs() + 1000;
    assert!(c.set_with(&k, "v2", SetOptions::new().expiry(Expiry::AtSeconds(at))).await.unwrap());
    assert_eq!(c.expire_time(&k).await.unwrap(), at as i64);
    let at_ms = (now_secs() + 1000) * 1000 + 123;
    assert!(c.set_with(&k, "v3", SetOptions::new().expiry(Expiry::AtMillis(at_ms))).await.unwrap());
    assert_eq!(c.pexpire_time(&k).await.unwrap(), at_ms as i64);
    assert!(c.set_with(&k, "v4", SetOptions::new().expiry(Expiry::Millis(50_000))).await.unwrap());
    assert!((1..=50_000).contains(&c.pttl(&k).await.unwrap()));

    // SET ... GET returns the old value.
    assert_eq!(c.set_get(&k, "v5", SetOptions::new()).await.unwrap(), Some(b("v4")));
    assert_eq!(c.pttl(&k).await.unwrap(), -1, "a plain SET clears the expiry");
    let other = env.key("other");
    assert_eq!(c.set_get(&other, "x", SetOptions::new().if_absent()).await.unwrap(), None);
    assert_eq!(c.set_get(&other, "y", SetOptions::new().if_absent()).await.unwrap(), Some(b("x")));
    assert_eq!(c.get(&other).await.unwrap(), Some(b("x")), "NX with an existing key wrote nothing");

    c.set_ex(&k, "ex", Duration::from_millis(1500)).await.unwrap();
    assert!((1..=1500).contains(&c.pttl(&k).await.unwrap()));
    assert_eq!(c.get(&k).await.unwrap(), Some(b("ex")));

    let nx = env.key("nx");
    assert!(c.setnx(&nx, "1").await.unwrap());
    assert!(!c.setnx(&nx, "2").await.unwrap());
    assert_eq!(c.get(&nx).await.unwrap(), Some(b("1")));
    c.setex(&nx, 50, "se").await.unwrap();
    assert!((1..=50).contains(&c.ttl(&nx).await.unwrap()));
    c.psetex(&nx, 5000, "pse").await.unwrap();
    assert!((1..=5000).contains(&c.pttl(&nx).await.unwrap()));
    assert_eq!(c.get(&nx).await.unwrap(), Some(b("pse")));
    assert!(is_server_error(&c.setex(&nx, 0, "bad").await, "expire"), "SETEX with 0 seconds is refused");
}

async fn strings_getex_getdel_ranges(env: Env) {
    let c = &env.client;
    let k = env.key("k");
    c.set(&k, "hello").await.unwrap();
    assert_eq!(c.getex(&k, Expiry::Seconds(100)).await.unwrap(), Some(b("hello")));
    assert!((1..=100).contains(&c.ttl(&k).await.unwrap()));
    assert_eq!(c.getex(&k, Expiry::KeepTtl).await.unwrap(), Some(b("hello")));
    assert!(c.ttl(&k).await.unwrap() > 0, "GETEX without options keeps the expiry");
    assert_eq!(c.getex_persist(&k).await.unwrap(), Some(b("hello")));
    assert_eq!(c.ttl(&k).await.unwrap(), -1);
    assert_eq!(c.getex(env.key("none"), Expiry::Millis(10)).await.unwrap(), None);

    assert_eq!(c.getset(&k, "world").await.unwrap(), Some(b("hello")));
    assert_eq!(c.getdel(&k).await.unwrap(), Some(b("world")));
    assert_eq!(c.get(&k).await.unwrap(), None);
    assert_eq!(c.getdel(&k).await.unwrap(), None);

    assert_eq!(c.append(&k, "Hello").await.unwrap(), 5);
    assert_eq!(c.append(&k, " World").await.unwrap(), 11);
    assert_eq!(c.strlen(&k).await.unwrap(), 11);
    assert_eq!(c.strlen(env.key("none")).await.unwrap(), 0);
    assert_eq!(c.getrange(&k, 0, 4).await.unwrap(), b("Hello"));
    assert_eq!(c.getrange(&k, -5, -1).await.unwrap(), b("World"));
    assert_eq!(c.setrange(&k, 6, "Redis").await.unwrap(), 11);
    assert_eq!(c.get(&k).await.unwrap(), Some(b("Hello Redis")));
    assert_eq!(c.setrange(env.key("pad"), 2, "x").await.unwrap(), 3);
    assert_eq!(c.get(env.key("pad")).await.unwrap(), Some(Bytes::from_static(b"\0\0x")));
}

async fn strings_counters(env: Env) {
    let c = &env.client;
    let n = env.key("n");
    assert_eq!(c.incr(&n).await.unwrap(), 1);
    assert_eq!(c.incr_by(&n, 10).await.unwrap(), 11);
    assert_eq!(c.decr(&n).await.unwrap(), 10);
    assert_eq!(c.decr_by(&n, 15).await.unwrap(), -5);
    assert_eq!(c.incr_by_float(&n, 0.5).await.unwrap(), -4.5);
    assert_eq!(c.get(&n).await.unwrap(), Some(b("-4.5")));
    assert!(is_server_error(&c.incr(&n).await, "not an integer"));
    let max = env.key("max");
    c.set(&max, i64::MAX).await.unwrap();
    assert!(matches!(c.incr(&max).await, Err(Error::Server(_))), "overflow is an error");
}

async fn strings_multi_key(env: Env) {
    let c = &env.client;
    let (a, bk, missing) = (env.key("a"), env.key("b"), env.key("missing"));
    c.mset(&[(&a, "1"), (&bk, "2")]).await.unwrap();
    assert_eq!(c.mget(&[&a, &missing, &bk]).await.unwrap(), vec![Some(b("1")), None, Some(b("2"))]);

    // Keys of several slots: split on the cluster, answered in order.
    let spread: Vec<String> = (0..6).map(|i| env.untagged_key(&format!("s{i}"))).collect();
    let pairs: Vec<(&String, String)> = spread.iter().map(|k| (k, format!("v-{k}"))).collect();
    c.mset(&pairs).await.unwrap();
    let got = c.mget(&spread).await.unwrap();
    let want: Vec<Option<Bytes>> = spread.iter().map(|k| Some(Bytes::from(format!("v-{k}")))).collect();
    assert_eq!(got, want);

    let (x, y) = (env.key("x"), env.key("y"));
    assert!(c.msetnx(&[(&x, "1"), (&y, "2")]).await.unwrap());
    assert!(!c.msetnx(&[(&x, "3"), (&env.key("z"), "4")]).await.unwrap());
    assert_eq!(c.mget(&[&x, &env.key("z")]).await.unwrap(), vec![Some(b("1")), None]);
    let cross = c.msetnx(&[(&spread[0], "1"), (&spread[1], "2")]).await;
    if env.is_cluster() {
        assert!(matches!(cross, Err(Error::CrossSlot)), "MSETNX across slots: {cross:?}");
    } else {
        assert!(!cross.unwrap(), "the keys exist");
    }
    c.del(&spread).await.unwrap();

    let (l1, l2) = (env.key("l1"), env.key("l2"));
    c.set(&l1, "ohmytext").await.unwrap();
    c.set(&l2, "mynewtext").await.unwrap();
    assert_eq!(c.lcs(&l1, &l2).await.unwrap(), b("mytext"));
    assert_eq!(c.lcs_len(&l1, &l2).await.unwrap(), 6);
}

async fn keys_exist_delete_touch(env: Env) {
    let c = &env.client;
    let keys: Vec<String> = (0..4).map(|i| env.key(&format!("k{i}"))).collect();
    let spread: Vec<String> = (0..4).map(|i| env.untagged_key(&format!("u{i}"))).collect();
    for k in keys.iter().chain(&spread) {
        c.set(k, "v").await.unwrap();
    }
    assert_eq!(c.exists(&[&keys[0], &keys[0], &env.key("none")]).await.unwrap(), 2);
    assert_eq!(c.exists(&spread).await.unwrap(), 4, "split by slot on the cluster");
    assert_eq!(c.touch(&[&keys[0], &keys[1], &env.key("none")]).await.unwrap(), 2);
    assert_eq!(c.touch(&spread).await.unwrap(), 4);
    assert_eq!(c.del(&[&keys[0], &keys[1], &env.key("none")]).await.unwrap(), 2);
    assert_eq!(c.unlink(&[&keys[2], &keys[3]]).await.unwrap(), 2);
    assert_eq!(c.exists(&keys).await.unwrap(), 0);
    assert_eq!(c.unlink(&spread[..2]).await.unwrap(), 2);
    assert_eq!(c.del(&spread).await.unwrap(), 2);
    assert_eq!(c.exists(&spread).await.unwrap(), 0);
}

async fn keys_expiry(env: Env) {
    let c = &env.client;
    let (k, none) = (env.key("k"), env.key("none"));
    c.set(&k, "v").await.unwrap();
    assert_eq!(c.ttl(&k).await.unwrap(), -1);
    assert_eq!(c.ttl(&none).await.unwrap(), -2);
    assert_eq!(c.pttl(&none).await.unwrap(), -2);
    assert_eq!(c.expire_time(&k).await.unwrap(), -1);
    assert_eq!(c.pexpire_time(&none).await.unwrap(), -2);
    assert!(!c.expire(&none, 10).await.unwrap());

    assert!(!c.expire_if(&k, 100, ExpireCondition::IfSome).await.unwrap(), "XX: no expiry yet");
    assert!(c.expire_if(&k, 100, ExpireCondition::IfNone).await.unwrap());
    assert!(!c.expire_if(&k, 200, ExpireCondition::IfNone).await.unwrap());
    assert!(!c.expire_if(&k, 50, ExpireCondition::IfLater).await.unwrap());
    assert!(c.expire_if(&k, 200, ExpireCondition::IfLater).await.unwrap());
    assert!((101..=200).contains(&c.ttl(&k).await.unwrap()));
    assert!(c.expire(&k, 300).await.unwrap());
    assert!((201..=300).contains(&c.ttl(&k).await.unwrap()));

    assert!(c.pexpire(&k, 40_000).await.unwrap());
    assert!((1..=40_000).contains(&c.pttl(&k).await.unwrap()));
    assert!(!c.pexpire_if(&k, 90_000, ExpireCondition::IfEarlier).await.unwrap());
    assert!(c.pexpire_if(&k, 30_000, ExpireCondition::IfEarlier).await.unwrap());
    assert!((1..=30_000).contains(&c.pttl(&k).await.unwrap()));

    let at = now_secs() + 500;
    assert!(c.expire_at(&k, at).await.unwrap());
    assert_eq!(c.expire_time(&k).await.unwrap(), at as i64);
    assert!(!c.expire_at_if(&k, at - 100, ExpireCondition::IfLater).await.unwrap());
    assert!(c.expire_at_if(&k, at + 100, ExpireCondition::IfSome).await.unwrap());
    assert_eq!(c.expire_time(&k).await.unwrap(), (at + 100) as i64);
    let at_ms = (now_secs() + 700) * 1000 + 7;
    assert!(c.pexpire_at(&k, at_ms).await.unwrap());
    assert_eq!(c.pexpire_time(&k).await.unwrap(), at_ms as i64);
    assert!(c.pexpire_at_if(&k, at_ms + 1000, ExpireCondition::IfLater).await.unwrap());
    assert_eq!(c.pexpire_time(&k).await.unwrap(), (at_ms + 1000) as i64);

    assert!(c.persist(&k).await.unwrap());
    assert!(!c.persist(&k).await.unwrap());
    assert_eq!(c.ttl(&k).await.unwrap(), -1);

    // A time in the past deletes the key.
    assert!(c.expire_at(&k, 1).await.unwrap());
    assert_eq!(c.get(&k).await.unwrap(), None);
}

async fn keys_type_rename_copy(env: Env) {
    let c = &env.client;
    let (s, h, none) = (env.key("s"), env.key("h"), env.key("none"));
    c.set(&s, "v").await.unwrap();
    c.hset(&h, &[("f", "v")]).await.unwrap();
    assert_eq!(c.key_type(&s).await.unwrap(), "string");
    assert_eq!(c.key_type(&h).await.unwrap(), "hash");
    assert_eq!(c.key_type(&none).await.unwrap(), "none");

    let (r1, r2) = (env.key("r1"), env.key("r2"));
    c.rename(&s, &r1).await.unwrap();
    assert_eq!(c.get(&r1).await.unwrap(), Some(b("v")));
    assert_eq!(c.get(&s).await.unwrap(), None);
    assert!(is_server_error(&c.rename(&none, &r2).await, "no such key"));
    c.set(&r2, "taken").await.unwrap();
    assert!(!c.renamenx(&r1, &r2).await.unwrap());
    c.del(&[&r2]).await.unwrap();
    assert!(c.renamenx(&r1, &r2).await.unwrap());
    assert_eq!(c.get(&r2).await.unwrap(), Some(b("v")));

    let cp = env.key("cp");
    assert!(c.copy(&r2, &cp, false).await.unwrap());
    c.set(&r2, "newer").await.unwrap();
    assert!(!c.copy(&r2, &cp, false).await.unwrap(), "the destination exists");
    assert_eq!(c.get(&cp).await.unwrap(), Some(b("v")));
    assert!(c.copy(&r2, &cp, true).await.unwrap());
    assert_eq!(c.get(&cp).await.unwrap(), Some(b("newer")));
    assert!(!c.copy(&none, &cp, true).await.unwrap());

    let elsewhere = env.untagged_key("elsewhere");
    let cross = c.rename(&cp, &elsewhere).await;
    if env.is_cluster() {
        assert!(matches!(cross, Err(Error::CrossSlot)), "RENAME across slots: {cross:?}");
    } else {
        cross.unwrap();
        assert_eq!(c.get(&elsewhere).await.unwrap(), Some(b("newer")));
        c.del(&[&elsewhere]).await.unwrap();
    }
}

async fn keys_object_dump_restore(env: Env) {
    let c = &env.client;
    let (s, n, none) = (env.key("s"), env.key("n"), env.key("none"));
    c.set(&s, "short").await.unwrap();
    c.set(&n, 12345).await.unwrap();
    assert_eq!(c.object_encoding(&s).await.unwrap().as_deref(), Some("embstr"));
    assert_eq!(c.object_encoding(&n).await.unwrap().as_deref(), Some("int"));
    assert_eq!(c.object_encoding(&none).await.unwrap(), None);
    assert!(c.object_refcount(&s).await.unwrap().is_some_and(|r| r >= 1));
    assert_eq!(c.object_refcount(&none).await.unwrap(), None);
    assert!(c.object_idle_time(&s).await.unwrap().is_some_and(|t| t < 3600));
    assert_eq!(c.object_idle_time(&none).await.unwrap(), None);

    let dumped = c.dump(&s).await.unwrap().expect("a dump of an existing key");
    assert_eq!(c.dump(&none).await.unwrap(), None);
    let copy = env.key("copy");
    c.restore(&copy, 0, &dumped, false).await.unwrap();
    assert_eq!(c.get(&copy).await.unwrap(), Some(b("short")));
    assert_eq!(c.ttl(&copy).await.unwrap(), -1);
    assert!(is_server_error(&c.restore(&copy, 0, &dumped, false).await, "BUSYKEY"));
    c.set(&copy, "other").await.unwrap();
    c.restore(&copy, 60_000, &dumped, true).await.unwrap();
    assert_eq!(c.get(&copy).await.unwrap(), Some(b("short")));
    assert!((1..=60_000).contains(&c.pttl(&copy).await.unwrap()));
    assert!(matches!(c.restore(&none, 0, "garbage", false).await, Err(Error::Server(_))));
}

async fn keys_scan_and_keys(env: Env) {
    let c = &env.client;
    let pattern = format!("{}:scan*", env.key("").trim_end_matches(':'));
    let names: BTreeSet<Bytes> = (0..7).map(|i| Bytes::from(env.key(&format!("scan{i}")))).collect();
    for k in &names {
        c.set(k, "v").await.unwrap();
    }
    let hash_key = env.key("scanhash");
    c.hset(&hash_key, &[("f", "v")]).await.unwrap();

    // KEYS: every primary's answers, concatenated on the cluster.
    let escaped = pattern.replace('{', "\\{").replace('}', "\\}");
    let found: BTreeSet<Bytes> = c.keys(&escaped).await.unwrap().into_iter().collect();
    let mut all = names.clone();
    all.insert(Bytes::from(hash_key.clone()));
    assert_eq!(found, all);

    let opts = ScanOptions::new().pattern(&escaped).count(2);
    match &c {
        AnyClient::Standalone(_) => {
            let mut seen = BTreeSet::new();
            let mut cursor = 0;
            for _ in 0..10_000 {
                let page = c.scan(cursor, &opts).await.unwrap();
                seen.extend(page.keys);
                cursor = page.cursor;
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(cursor, 0, "the scan ends");
            assert_eq!(seen, all);
            let hashes = c.scan(0, &opts.clone().count(1000).kind("hash")).await.unwrap();
            assert_eq!(hashes.keys, vec![Bytes::from(hash_key.clone())]);
        }
        AnyClient::Cluster(cluster) => {
            // No single cursor on a cluster: the typed SCAN says so ...
            match c.scan(0, &opts).await {
                Err(Error::Type { expected, .. }) => assert!(expected.contains("cluster"), "{expected}"),
                other => panic!("SCAN on a cluster: {other:?}"),
            }
            // ... and each primary is scanned with its own cursor.
            let mut seen = BTreeSet::new();
            for (_, node) in cluster.primaries().await.unwrap() {
                let mut cursor = 0;
                loop {
                    let scan = opts.apply(redwire::cmd("SCAN").arg(cursor));
                    let page: ScanPage = node.query(&scan).await.unwrap();
                    seen.extend(page.keys);
                    cursor = page.cursor;
                    if cursor == 0 {
                        break;
                    }
                }
            }
            assert_eq!(seen, all);
        }
        AnyClient::Sentinel(_) => unreachable!("the typed suite runs on standalone and cluster"),
    }
}

async fn hashes_fields(env: Env) {
    let c = &env.client;
    let (h, none) = (env.key("h"), env.key("none"));
    assert_eq!(c.hset(&h, &[("a", "1"), ("b", "2")]).await.unwrap(), 2);
    assert_eq!(c.hset(&h, &[("a", "10"), ("c", "3")]).await.unwrap(), 1);
    assert_eq!(c.hget(&h, "a").await.unwrap(), Some(b("10")));
    assert_eq!(c.hget(&h, "zz").await.unwrap(), None);
    assert_eq!(c.hmget(&h, &["a", "zz", "c"]).await.unwrap(), vec![Some(b("10")), None, Some(b("3"))]);
    let all = c.hgetall(&h).await.unwrap();
    assert_eq!(all, HashMap::from([(b("a"), b("10")), (b("b"), b("2")), (b("c"), b("3"))]));
    assert!(c.hgetall(&none).await.unwrap().is_empty());
    assert!(c.hexists(&h, "b").await.unwrap());
    assert!(!c.hexists(&h, "zz").await.unwrap());
    assert_eq!(c.hlen(&h).await.unwrap(), 3);
    let keys: BTreeSet<Bytes> = c.hkeys(&h).await.unwrap().into_iter().collect();
    assert_eq!(keys, BTreeSet::from([b("a"), b("b"), b("c")]));
    let vals: BTreeSet<Bytes> = c.hvals(&h).await.unwrap().into_iter().collect();
    assert_eq!(vals, BTreeSet::from([b("10"), b("2"), b("3")]));
    assert_eq!(c.hincr_by(&h, "a", 5).await.unwrap(), 15);
    assert_eq!(c.hincr_by(&h, "n", -2).await.unwrap(), -2);
    assert_eq!(c.hincr_by_float(&h, "a", 0.25).await.unwrap(), 15.25);
    assert!(is_server_error(&c.hincr_by(&h, "a", 1).await, "not an integer"));
    assert!(c.hsetnx(&h, "new", "x").await.unwrap());
    assert!(!c.hsetnx(&h, "new", "y").await.unwrap());
    assert_eq!(c.hget(&h, "new").await.unwrap(), Some(b("x")));
    assert_eq!(c.hstrlen(&h, "a").await.unwrap(), 5);
    assert_eq!(c.hstrlen(&h, "zz").await.unwrap(), 0);
    assert_eq!(c.hdel(&h, &["n", "new", "zz"]).await.unwrap(), 2);
    assert_eq!(c.hlen(&h).await.unwrap(), 3);

    let field = c.hrandfield(&h).await.unwrap().expect("a field");
    assert!(keys.contains(&field));
    assert_eq!(c.hrandfield(&none).await.unwrap(), None);
    let current = c.hgetall(&h).await.unwrap();
    let two = c.hrandfield_with_values(&h, 2).await.unwrap();
    assert_eq!(two.len(), 2);
    assert_ne!(two[0].0, two[1].0, "a positive count gives distinct fields");
    let five = c.hrandfield_with_values(&h, -5).await.unwrap();
    assert_eq!(five.len(), 5, "a negative count allows repeats");
    for (f, v) in two.iter().chain(&five) {
        assert_eq!(current.get(f), Some(v));
    }

    let big = env.key("big");
    let pairs: Vec<(String, String)> = (0..300).map(|i| (format!("f{i}"), format!("v{i}"))).collect();
    c.hset(&big, &pairs).await.unwrap();
    let mut seen = HashMap::new();
    let mut cursor = 0;
    for _ in 0..10_000 {
        let page = c.hscan(&big, cursor, &ScanOptions::new().pattern("f1*").count(20)).await.unwrap();
        seen.extend(page.entries);
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    let want: HashMap<Bytes, Bytes> =
        pairs.iter().filter(|(f, _)| f.starts_with("f1")).map(|(f, v)| (b(f), b(v))).collect();
    assert_eq!(seen, want);
}

async fn hashes_field_expiry(env: Env) {
    let c = &env.client;
    let h = env.key("h");
    c.hset(&h, &[("a", "1"), ("b", "2"), ("c", "3")]).await.unwrap();
    use FieldExpiry::*;
    let set = c.hexpire(&h, 100, Some(ExpireCondition::IfNone), &["a", "zz"]).await.unwrap();
    assert_eq!(set, vec![Done, NoField]);
    assert_eq!(c.hexpire(&h, 200, Some(ExpireCondition::IfNone), &["a"]).await.unwrap(), vec![NotSet]);
    let ttls = c.httl(&h, &["a", "b", "zz"]).await.unwrap();
    assert!((1..=100).contains(&ttls[0]), "{ttls:?}");
    assert_eq!(ttls[1..], [-1, -2]);
    assert_eq!(c.hpexpire(&h, 500_000, Some(ExpireCondition::IfLater), &["a"]).await.unwrap(), vec![Done]);
    assert!(c.httl(&h, &["a"]).await.unwrap()[0] > 100);
    assert_eq!(c.hpexpire(&h, 400_000, None, &["b"]).await.unwrap(), vec![Done]);
    assert_eq!(c.hpersist(&h, &["a", "c", "zz"]).await.unwrap(), vec![Done, NotSet, NoField]);
    assert_eq!(c.httl(&h, &["a"]).await.unwrap(), vec![-1]);
    assert_eq!(c.hexpire(&h, 0, None, &["c"]).await.unwrap(), vec![Deleted]);
    assert_eq!(c.hget(&h, "c").await.unwrap(), None);
    assert_eq!(c.hlen(&h).await.unwrap(), 2);
}

async fn hyperloglog(env: Env) {
    let c = &env.client;
    let (p1, p2, dest) = (env.key("p1"), env.key("p2"), env.key("dest"));
    assert!(c.pfadd(&p1, &["a", "b", "c"]).await.unwrap());
    assert!(!c.pfadd(&p1, &["a", "b"]).await.unwrap(), "nothing new");
    assert!(c.pfadd(&p2, &["c", "d"]).await.unwrap());
    assert_eq!(c.pfcount(&[&p1]).await.unwrap(), 3);
    assert_eq!(c.pfcount(&[&p1, &p2]).await.unwrap(), 4);
    c.pfmerge(&dest, &[&p1, &p2]).await.unwrap();
    assert_eq!(c.pfcount(&[&dest]).await.unwrap(), 4);
    let elsewhere = env.untagged_key("hll");
    c.pfadd(&elsewhere, &["z"]).await.unwrap();
    let cross = c.pfcount(&[&p1, &elsewhere]).await;
    if env.is_cluster() {
        assert!(matches!(cross, Err(Error::CrossSlot)), "{cross:?}");
    } else {
        assert_eq!(cross.unwrap(), 4);
    }
    c.del(&[&elsewhere]).await.unwrap();
}

async fn bitmaps(env: Env) {
    let c = &env.client;
    let (k, none) = (env.key("bits"), env.key("none"));
    assert!(!c.setbit(&k, 7, true).await.unwrap());
    assert!(c.setbit(&k, 7, true).await.unwrap(), "the old bit");
    assert!(!c.setbit(&k, 9, true).await.unwrap());
    assert!(c.getbit(&k, 7).await.unwrap());
    assert!(!c.getbit(&k, 8).await.unwrap());
    assert!(!c.getbit(&none, 3).await.unwrap());
    assert_eq!(c.get(&k).await.unwrap(), Some(Bytes::from_static(&[0x01, 0x40])));
    assert_eq!(c.bitcount(&k, None).await.unwrap(), 2);
    assert_eq!(c.bitcount(&k, Some(BitRange::bytes(1, 1))).await.unwrap(), 1);
    assert_eq!(c.bitcount(&k, Some(BitRange::bits(0, 7))).await.unwrap(), 1);
    assert_eq!(c.bitpos(&k, true, None).await.unwrap(), 7);
    assert_eq!(c.bitpos(&k, true, Some(BitRange::bits(8, 15))).await.unwrap(), 9);
    assert_eq!(c.bitpos(&k, false, None).await.unwrap(), 0);
    assert_eq!(c.bitpos(&none, true, None).await.unwrap(), -1);

    let (x, y, out) = (env.key("x"), env.key("y"), env.key("out"));
    c.set(&x, Bytes::from_static(&[0b1100])).await.unwrap();
    c.set(&y, Bytes::from_static(&[0b1010])).await.unwrap();
    assert_eq!(c.bitop(BitOp::And, &out, &[&x, &y]).await.unwrap(), 1);
    assert_eq!(c.get(&out).await.unwrap(), Some(Bytes::from_static(&[0b1000])));
    c.bitop(BitOp::Or, &out, &[&x, &y]).await.unwrap();
    assert_eq!(c.get(&out).await.unwrap(), Some(Bytes::from_static(&[0b1110])));
    c.bitop(BitOp::Xor, &out, &[&x, &y]).await.unwrap();
    assert_eq!(c.get(&out).await.unwrap(), Some(Bytes::from_static(&[0b0110])));
    c.bitop(BitOp::Not, &out, &[&x]).await.unwrap();
    assert_eq!(c.get(&out).await.unwrap(), Some(Bytes::from_static(&[!0b1100u8])));
    assert!(matches!(c.bitop(BitOp::Not, &out, &[&x, &y]).await, Err(Error::Server(_))));

    let f = env.key("field");
    let ops = [
        BitFieldOp::Set(BitType::unsigned(8), 0, 200),
        BitFieldOp::IncrBy(BitType::unsigned(8), 0, 100),
        BitFieldOp::Get(BitType::unsigned(8), 0),
        BitFieldOp::IncrBy(BitType::signed(16), 8, -5),
    ];
    assert_eq!(c.bitfield(&f, &ops).await.unwrap(), vec![Some(0), Some(44), Some(44), Some(-5)]);
    assert_eq!(c.get(&f).await.unwrap(), Some(Bytes::from_static(&[44, 0xff, 0xfb])));
    assert!(matches!(
        c.bitfield(&f, &[BitFieldOp::Get(BitType::unsigned(64), 0)]).await,
        Err(Error::Server(_))
    ));
}

/// Exclusive: changes `maxmemory-policy` and empties the keyspace.
async fn keys_object_freq_and_random_key(env: Env) {
    let c = &env.client;
    let k = env.key("k");
    c.set(&k, "v").await.unwrap();
    assert!(is_server_error(&c.object_freq(&k).await, "LFU"), "no LFU policy yet");
    c.config_set("maxmemory-policy", "allkeys-lfu").await.unwrap();
    let freq = c.object_freq(&k).await;
    let idle = c.object_idle_time(&k).await;
    c.config_set("maxmemory-policy", "noeviction").await.unwrap();
    assert!(freq.unwrap().is_some(), "a counter under LFU");
    assert!(matches!(idle, Err(Error::Server(_))), "IDLETIME is refused under LFU: {idle:?}");
    assert!(is_server_error(&c.object_freq(&k).await, "LFU"), "policy restored: the error again");
    assert_eq!(
        c.object_freq(&env.key("none")).await.unwrap(),
        None,
        "a missing key: nil, whatever the policy"
    );

    c.flushall(FlushMode::Sync).await.unwrap();
    assert_eq!(c.random_key().await.unwrap(), None, "every primary is empty");
    c.set(&k, "v").await.unwrap();
    // On the cluster RANDOMKEY asks one random primary: only the owner of
    // `k` has a key, so the answer is `k` or nothing.
    let mut found = false;
    for _ in 0..if env.is_cluster() { 60 } else { 1 } {
        match c.random_key().await.unwrap() {
            Some(key) => {
                assert_eq!(key, b(&k));
                found = true;
                break;
            }
            None => assert!(env.is_cluster(), "a standalone server with a key answers it"),
        }
    }
    assert!(found, "RANDOMKEY never reached the primary with the key");
}

typed_suite!(
    strings_set_and_get,
    strings_getex_getdel_ranges,
    strings_counters,
    strings_multi_key,
    keys_exist_delete_touch,
    keys_expiry,
    keys_type_rename_copy,
    keys_object_dump_restore,
    keys_scan_and_keys,
    hashes_fields,
    hashes_field_expiry,
    hyperloglog,
    bitmaps;
    exclusive: keys_object_freq_and_random_key,
);
