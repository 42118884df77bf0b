//! The typed list, set and sorted-set groups against real Valkey: standalone
//! over RESP2 and RESP3, and the 6-node cluster. One suite per group, run
//! unchanged on each topology; every method is called and its reply checked
//! by reading the data back. Blocking pops are shown to wait on their own
//! connection while the same client keeps serving other commands.

mod support;
mod typed_b;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use redwire::commands::*;
use redwire::{AnyClient, Error};
use typed_b::{start, Target, Topology};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn set_of(items: &[&str]) -> HashSet<Bytes> {
    items.iter().map(|s| b(s)).collect()
}

/// Keys in one slot (hash tag) so multi-key commands run on the cluster too.
fn k(name: &str) -> String {
    format!("{{t}}:{name}")
}

async fn lists(t: &Target) {
    let c = &t.client;
    let l = k("list");
    assert_eq!(c.rpush(&l, ["b", "c"]).await.unwrap(), 2);
    assert_eq!(c.lpush(&l, ["a"]).await.unwrap(), 3);
    assert_eq!(c.lpushx(&l, ["z"]).await.unwrap(), 4);
    assert_eq!(c.rpushx(&l, ["y"]).await.unwrap(), 5);
    assert_eq!(c.lpushx(k("nolist"), ["x"]).await.unwrap(), 0);
    assert_eq!(c.rpushx(k("nolist"), ["x"]).await.unwrap(), 0);
    assert_eq!(c.lrange(&l, 0, -1).await.unwrap(), vec![b("z"), b("a"), b("b"), b("c"), b("y")]);
    assert_eq!(c.llen(&l).await.unwrap(), 5);
    assert_eq!(c.lindex(&l, 1).await.unwrap(), Some(b("a")));
    assert_eq!(c.lindex(&l, 99).await.unwrap(), None);
    c.lset(&l, 1, "A").await.unwrap();
    assert!(matches!(c.lset(&l, 99, "x").await, Err(Error::Server(_))));
    assert_eq!(c.lpop(&l).await.unwrap(), Some(b("z")));
    assert_eq!(c.rpop(&l).await.unwrap(), Some(b("y")));
    assert_eq!(c.lrange(&l, 0, -1).await.unwrap(), vec![b("A"), b("b"), b("c")]);
    assert_eq!(c.linsert(&l, InsertPlace::Before, "b", "x").await.unwrap(), Some(4));
    assert_eq!(c.linsert(&l, InsertPlace::After, "b", "x").await.unwrap(), Some(5));
    assert_eq!(c.linsert(&l, InsertPlace::After, "nope", "x").await.unwrap(), None);
    assert_eq!(c.linsert(k("nolist"), InsertPlace::After, "a", "x").await.unwrap(), Some(0));
    assert_eq!(c.lrange(&l, 0, -1).await.unwrap(), vec![b("A"), b("x"), b("b"), b("x"), b("c")]);
    assert_eq!(c.lpos(&l, "x", &LPosOptions::default()).await.unwrap(), Some(1));
    assert_eq!(c.lpos(&l, "x", &LPosOptions { rank: Some(-1), maxlen: None }).await.unwrap(), Some(3));
    assert_eq!(c.lpos(&l, "nope", &LPosOptions::default()).await.unwrap(), None);
    assert_eq!(c.lpos_count(&l, "x", 0, &LPosOptions::default()).await.unwrap(), vec![1, 3]);
    assert_eq!(
        c.lpos_count(&l, "x", 0, &LPosOptions { rank: None, maxlen: Some(2) }).await.unwrap(),
        vec![1]
    );
    assert_eq!(c.lrem(&l, 0, "x").await.unwrap(), 2);
    assert_eq!(c.lrange(&l, 0, -1).await.unwrap(), vec![b("A"), b("b"), b("c")]);
    c.ltrim(&l, 1, -1).await.unwrap();
    assert_eq!(c.lrange(&l, 0, -1).await.unwrap(), vec![b("b"), b("c")]);

    let other = k("list2");
    assert_eq!(c.lmove(&l, &other, ListEnd::Left, ListEnd::Right).await.unwrap(), Some(b("b")));
    assert_eq!(c.lmove(k("nolist"), &other, ListEnd::Left, ListEnd::Right).await.unwrap(), None);
    assert_eq!(c.lrange(&other, 0, -1).await.unwrap(), vec![b("b")]);
    c.rpush(&l, ["d", "e", "f"]).await.unwrap();
    assert_eq!(c.lpop_count(&l, 2).await.unwrap(), vec![b("c"), b("d")]);
    assert_eq!(c.rpop_count(&l, 5).await.unwrap(), vec![b("f"), b("e")]);
    assert!(c.lpop_count(&l, 2).await.unwrap().is_empty());
    assert!(c.rpop_count(&l, 2).await.unwrap().is_empty());
    assert_eq!(c.lpop(&l).await.unwrap(), None);

    let got = c.lmpop(&[k("nolist"), other.clone()], ListEnd::Right, 5).await.unwrap();
    assert_eq!(got, Some((b(&other), vec![b("b")])));
    assert_eq!(c.lmpop(&[k("nolist")], ListEnd::Left, 1).await.unwrap(), None);

    // Blocking forms that find data right away, and that time out.
    let short = Duration::from_millis(100);
    c.rpush(&l, ["1", "2", "3", "4"]).await.unwrap();
    assert_eq!(c.blpop(&[k("nolist"), l.clone()], short).await.unwrap(), Some((b(&l), b("1"))));
    assert_eq!(c.brpop(&[&l], short).await.unwrap(), Some((b(&l), b("4"))));
    assert_eq!(c.blmove(&l, &other, ListEnd::Right, ListEnd::Left, short).await.unwrap(), Some(b("3")));
    assert_eq!(c.blmpop(short, &[&l], ListEnd::Left, 9).await.unwrap(), Some((b(&l), vec![b("2")])));
    assert_eq!(c.blpop(&[k("empty")], short).await.unwrap(), None);
    assert_eq!(c.brpop(&[k("empty")], short).await.unwrap(), None);
    assert_eq!(c.blmove(k("empty"), &other, ListEnd::Left, ListEnd::Left, short).await.unwrap(), None);
    assert_eq!(c.blmpop(short, &[k("empty")], ListEnd::Left, 1).await.unwrap(), None);

    blocking_pop_waits_aside(c).await;
}

/// A BLPOP parked on an empty list does not hold up the client's other
/// commands, and returns once another task pushes.
async fn blocking_pop_waits_aside(c: &AnyClient) {
    let key = k("wait");
    let waiter = {
        let c = c.clone();
        let key = key.clone();
        tokio::spawn(async move { c.blpop(&[key], Duration::from_secs(20)).await })
    };
    // Ordinary traffic on the same client while the pop is parked.
    for i in 0..50 {
        let n = c.rpush(k("busy"), [i]).await.unwrap();
        assert_eq!(n, (i + 1) as usize);
    }
    assert_eq!(c.llen(k("busy")).await.unwrap(), 50);
    assert!(!waiter.is_finished(), "the pop must still be waiting: nothing was pushed");
    let pusher = {
        let c = c.clone();
        tokio::spawn(async move { c.rpush(key, ["hello"]).await })
    };
    assert_eq!(pusher.await.unwrap().unwrap(), 1);
    let popped = tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("pop returns").unwrap();
    assert_eq!(popped.unwrap(), Some((b(&k("wait")), b("hello"))));

    // The same for a sorted set's blocking pop.
    let z = k("zwait");
    let waiter = {
        let c = c.clone();
        let z = z.clone();
        tokio::spawn(async move { c.bzpopmax(&[z], Duration::from_secs(20)).await })
    };
    assert_eq!(c.llen(k("busy")).await.unwrap(), 50);
    assert!(!waiter.is_finished());
    c.zadd(&z, [(2.5, "m")], &ZAddOptions::new()).await.unwrap();
    let popped = tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("pop returns").unwrap();
    assert_eq!(popped.unwrap(), Some((b(&z), b("m"), 2.5)));
}

async fn sets(t: &Target) {
    let c = &t.client;
    let (a, bb, dst) = (k("sa"), k("sb"), k("sdst"));
    assert_eq!(c.sadd(&a, ["x", "y", "z", "x"]).await.unwrap(), 3);
    assert_eq!(c.sadd(&bb, ["y", "z", "w"]).await.unwrap(), 3);
    assert_eq!(c.smembers(&a).await.unwrap(), set_of(&["x", "y", "z"]));
    assert!(c.smembers(k("noset")).await.unwrap().is_empty());
    assert!(c.sismember(&a, "x").await.unwrap());
    assert!(!c.sismember(&a, "w").await.unwrap());
    assert_eq!(c.smismember(&a, ["w", "x"]).await.unwrap(), vec![false, true]);
    assert_eq!(c.scard(&a).await.unwrap(), 3);
    assert_eq!(c.srem(&a, ["z", "nope"]).await.unwrap(), 1);
    assert_eq!(c.smembers(&a).await.unwrap(), set_of(&["x", "y"]));
    assert_eq!(c.sinter(&[&a, &bb]).await.unwrap(), set_of(&["y"]));
    assert_eq!(c.sunion(&[&a, &bb]).await.unwrap(), set_of(&["x", "y", "z", "w"]));
    assert_eq!(c.sdiff(&[&bb, &a]).await.unwrap(), set_of(&["z", "w"]));
    assert_eq!(c.sinterstore(&dst, &[&a, &bb]).await.unwrap(), 1);
    assert_eq!(c.smembers(&dst).await.unwrap(), set_of(&["y"]));
    assert_eq!(c.sunionstore(&dst, &[&a, &bb]).await.unwrap(), 4);
    assert_eq!(c.smembers(&dst).await.unwrap(), set_of(&["x", "y", "z", "w"]));
    assert_eq!(c.sdiffstore(&dst, &[&bb, &a]).await.unwrap(), 2);
    assert_eq!(c.smembers(&dst).await.unwrap(), set_of(&["z", "w"]));
    assert_eq!(c.sintercard(&[&a, &bb], None).await.unwrap(), 1);
    assert_eq!(c.sintercard(&[&dst, &bb], Some(1)).await.unwrap(), 1);
    assert_eq!(c.sintercard(&[&dst, &bb], None).await.unwrap(), 2);
    assert!(c.smove(&a, &bb, "x").await.unwrap());
    assert!(!c.smove(&a, &bb, "nope").await.unwrap());
    assert_eq!(c.smembers(&bb).await.unwrap(), set_of(&["x", "y", "z", "w"]));

    let r = c.srandmember(&bb).await.unwrap().expect("a member");
    assert!(set_of(&["x", "y", "z", "w"]).contains(&r));
    assert_eq!(c.srandmember(k("noset")).await.unwrap(), None);
    let some = c.srandmember_count(&bb, 3).await.unwrap();
    assert_eq!(some.iter().collect::<HashSet<_>>().len(), 3);
    assert_eq!(c.srandmember_count(&bb, -6).await.unwrap().len(), 6, "negative count repeats");
    let popped = c.spop(&bb).await.unwrap().expect("a member");
    assert!(!c.sismember(&bb, &popped).await.unwrap());
    let rest = c.spop_count(&bb, 10).await.unwrap();
    assert_eq!(rest.len(), 3);
    assert_eq!(c.scard(&bb).await.unwrap(), 0);
    assert_eq!(c.spop(&bb).await.unwrap(), None);

    let big = k("sbig");
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    c.sadd(&big, &members).await.unwrap();
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let opts = MemberScanOptions::new().pattern("m1*").count(50);
    loop {
        let page = c.sscan(&big, cursor, &opts).await.unwrap();
        seen.extend(page.items.iter().cloned());
        if page.is_done() {
            break;
        }
        cursor = page.cursor;
    }
    let want: HashSet<Bytes> = members.iter().filter(|m| m.starts_with("m1")).map(|m| b(m)).collect();
    assert_eq!(seen, want);

    // Keys in different slots: fine on one server, refused before sending on a cluster.
    let spread = c.sunion(&["spread-a", "spread-b"]).await;
    if t.is_cluster() {
        assert!(matches!(spread, Err(Error::CrossSlot)), "{spread:?}");
    } else {
        assert!(spread.unwrap().is_empty());
    }
}

async fn sorted_sets(t: &Target) {
    let c = &t.client;
    let z = k("z");
    let none = &ZAddOptions::new();
    assert_eq!(c.zadd(&z, [(1.0, "a"), (2.0, "b"), (3.0, "c")], none).await.unwrap(), 3);
    assert_eq!(c.zadd(&z, [(10.0, "a"), (4.0, "d")], &ZAddOptions::new().nx()).await.unwrap(), 1);
    assert_eq!(c.zscore(&z, "a").await.unwrap(), Some(1.0), "NX left a alone");
    assert_eq!(c.zadd(&z, [(0.5, "a"), (9.0, "e")], &ZAddOptions::new().xx().ch()).await.unwrap(), 1);
    assert_eq!(c.zscore(&z, "e").await.unwrap(), None, "XX added nothing");
    assert_eq!(c.zadd(&z, [(0.1, "a"), (5.0, "b")], &ZAddOptions::new().gt().ch()).await.unwrap(), 1);
    assert_eq!(c.zmscore(&z, ["a", "b", "nope"]).await.unwrap(), vec![Some(0.5), Some(5.0), None]);
    assert_eq!(c.zadd(&z, [(0.25, "a")], &ZAddOptions::new().lt().ch()).await.unwrap(), 1);
    assert_eq!(c.zadd_incr(&z, 1.0, "a", none).await.unwrap(), Some(1.25));
    assert_eq!(c.zadd_incr(&z, 1.0, "a", &ZAddOptions::new().nx()).await.unwrap(), None);
    assert_eq!(c.zincrby(&z, 0.75, "a").await.unwrap(), 2.0);
    // a=2 c=3 d=4 b=5
    assert_eq!(c.zcard(&z).await.unwrap(), 4);
    assert_eq!(c.zcount(&z, ScoreBound::Exclusive(2.0), ScoreBound::MAX).await.unwrap(), 3);
    assert_eq!(c.zcount(&z, ScoreBound::MIN, 3.0.into()).await.unwrap(), 2);
    assert_eq!(c.zrank(&z, "c").await.unwrap(), Some(1));
    assert_eq!(c.zrevrank(&z, "c").await.unwrap(), Some(2));
    assert_eq!(c.zrank(&z, "nope").await.unwrap(), None);
    assert_eq!(c.zrange(&z, &ZRange::by_index(0, -1)).await.unwrap(), vec![b("a"), b("c"), b("d"), b("b")]);
    assert_eq!(c.zrange(&z, &ZRange::by_index(0, 1).rev()).await.unwrap(), vec![b("b"), b("d")]);
    let by_score = ZRange::by_score(ScoreBound::Exclusive(2.0), ScoreBound::MAX).limit(1, 2);
    assert_eq!(c.zrange(&z, &by_score).await.unwrap(), vec![b("d"), b("b")]);
    let rev = ZRange::by_score(4.0, ScoreBound::MIN).rev();
    assert_eq!(
        c.zrange_withscores(&z, &rev).await.unwrap(),
        vec![(b("d"), 4.0), (b("c"), 3.0), (b("a"), 2.0)]
    );
    assert_eq!(c.zrange_withscores(&z, &ZRange::by_index(0, 0)).await.unwrap(), vec![(b("a"), 2.0)]);

    let lex = k("lex");
    c.zadd(&lex, [(0.0, "apple"), (0.0, "banana"), (0.0, "cherry"), (0.0, "date")], none).await.unwrap();
    assert_eq!(c.zlexcount(&lex, LexBound::Min, LexBound::Max).await.unwrap(), 4);
    assert_eq!(c.zlexcount(&lex, LexBound::Exclusive(b("banana")), LexBound::Max).await.unwrap(), 2);
    let range = ZRange::by_lex(LexBound::Inclusive(b("b")), LexBound::Exclusive(b("d")));
    assert_eq!(c.zrange(&lex, &range).await.unwrap(), vec![b("banana"), b("cherry")]);
    let range = ZRange::by_lex(LexBound::Max, LexBound::Min).rev().limit(0, 1);
    assert_eq!(c.zrange(&lex, &range).await.unwrap(), vec![b("date")]);

    let dst = k("zdst");
    assert_eq!(c.zrangestore(&dst, &z, &ZRange::by_score(3.0, 4.0)).await.unwrap(), 2);
    assert_eq!(
        c.zrange_withscores(&dst, &ZRange::by_index(0, -1)).await.unwrap(),
        vec![(b("c"), 3.0), (b("d"), 4.0)]
    );

    let other = k("z2");
    c.zadd(&other, [(10.0, "a"), (1.0, "x")], none).await.unwrap();
    assert_eq!(c.zunionstore(&dst, &[&z, &other]).await.unwrap(), 5);
    assert_eq!(c.zscore(&dst, "a").await.unwrap(), Some(12.0));
    assert_eq!(c.zinterstore(&dst, &[&z, &other]).await.unwrap(), 1);
    assert_eq!(c.zrange_withscores(&dst, &ZRange::by_index(0, -1)).await.unwrap(), vec![(b("a"), 12.0)]);

    assert_eq!(c.zrem(&z, ["b", "nope"]).await.unwrap(), 1);
    let r = c.zrandmember(&z).await.unwrap().expect("a member");
    assert!(set_of(&["a", "c", "d"]).contains(&r));
    assert_eq!(c.zrandmember(k("nozset")).await.unwrap(), None);
    let mut some = c.zrandmember_count(&z, 5).await.unwrap();
    some.sort();
    assert_eq!(some, vec![b("a"), b("c"), b("d")]);
    let mut scored = c.zrandmember_withscores(&z, 3).await.unwrap();
    scored.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(scored, vec![(b("a"), 2.0), (b("c"), 3.0), (b("d"), 4.0)]);
    assert_eq!(c.zrandmember_withscores(&z, -4).await.unwrap().len(), 4);

    let big = k("zbig");
    let members: Vec<(f64, String)> = (0..200).map(|i| (f64::from(i), format!("m{i}"))).collect();
    assert_eq!(c.zadd(&big, members.clone(), none).await.unwrap(), 200);
    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        let page = c.zscan(&big, cursor, &MemberScanOptions::new().count(40)).await.unwrap();
        let done = page.is_done();
        seen.extend(page.items);
        if done {
            break;
        }
        cursor = page.cursor;
    }
    seen.sort_by(|x, y| x.1.total_cmp(&y.1));
    seen.dedup();
    let want: Vec<(Bytes, f64)> = members.iter().map(|(s, m)| (b(m), *s)).collect();
    assert_eq!(seen, want);

    assert_eq!(c.zpopmin(&z, 1).await.unwrap(), vec![(b("a"), 2.0)]);
    assert_eq!(c.zpopmax(&z, 5).await.unwrap(), vec![(b("d"), 4.0), (b("c"), 3.0)]);
    assert!(c.zpopmin(&z, 1).await.unwrap().is_empty());
    let short = Duration::from_millis(100);
    c.zadd(&z, [(1.0, "lo"), (9.0, "hi")], none).await.unwrap();
    assert_eq!(c.bzpopmin(&[k("nozset"), z.clone()], short).await.unwrap(), Some((b(&z), b("lo"), 1.0)));
    assert_eq!(c.bzpopmax(&[&z], short).await.unwrap(), Some((b(&z), b("hi"), 9.0)));
    assert_eq!(c.bzpopmin(&[&z], short).await.unwrap(), None);
    assert_eq!(c.bzpopmax(&[&z], short).await.unwrap(), None);
    assert_eq!(c.zcard(&z).await.unwrap(), 0);
}

async fn suite(topology: Topology) {
    let t = start(topology).await;
    lists(&t).await;
    sets(&t).await;
    sorted_sets(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_on_standalone_resp2() {
    suite(Topology::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_on_standalone_resp3() {
    suite(Topology::Resp3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_on_cluster() {
    suite(Topology::Cluster).await;
}
