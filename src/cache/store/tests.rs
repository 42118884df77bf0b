//! Unit tests of the cache store: bounds, SIEVE, the read/invalidation
//! race, sources, flushes and `max_ttl`, with time as a parameter.

use super::*;
use crate::cache::commands::{encode_id, get_id, id_matches};

fn store(max_bytes: usize, max_entries: usize) -> Arc<Store> {
    Arc::new(Store::new(max_bytes, max_entries, Duration::from_secs(10), 1 << 20))
}

fn ready() -> Arc<Source> {
    let s = Arc::new(Source::default());
    s.set_ready();
    s
}

fn val(s: &str) -> Frame {
    Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
}

fn is_get(id: &[u8]) -> bool {
    id_matches(id, b"GET", std::iter::empty())
}

fn put(st: &Arc<Store>, src: &Arc<Source>, key: &str, v: &str, now: Instant) -> bool {
    let t = st.begin(key.as_bytes(), src).expect("ticket");
    st.complete(t, get_id(), &val(v), now)
}

#[test]
fn a_read_is_cached_and_served() {
    let st = store(1 << 20, 100);
    let src = ready();
    let now = Instant::now();
    assert_eq!(st.get(b"k", now, is_get), None);
    assert!(put(&st, &src, "k", "v1", now));
    assert_eq!(st.get(b"k", now, is_get), Some(val("v1")));
    let s = st.stats();
    assert_eq!((s.hits, s.misses, s.entries, s.keys), (1, 1, 1, 1));
}

#[test]
fn variants_of_a_key_are_apart_and_fall_together() {
    let st = store(1 << 20, 100);
    let src = ready();
    let now = Instant::now();
    assert!(put(&st, &src, "k", "string", now));
    let t = st.begin(b"k", &src).expect("ticket");
    let hget_f = encode_id(b"HGET", [&b"f"[..]].into_iter());
    assert!(st.complete(t, hget_f, &val("field"), now));
    let is_hget_f = |id: &[u8]| id_matches(id, b"HGET", [&b"f"[..]].into_iter());
    assert_eq!(st.get(b"k", now, is_get), Some(val("string")));
    assert_eq!(st.get(b"k", now, is_hget_f), Some(val("field")));
    assert_eq!(st.get(b"k", now, |id| id_matches(id, b"HGET", [&b"g"[..]].into_iter())), None);
    assert_eq!(st.stats().entries, 2);
    st.invalidate(b"k");
    assert_eq!(st.get(b"k", now, is_get), None);
    assert_eq!(st.get(b"k", now, is_hget_f), None);
    assert_eq!(st.stats().entries, 0);
}

#[test]
fn an_invalidation_while_the_read_is_in_flight_prevents_caching() {
    let st = store(1 << 20, 100);
    let src = ready();
    let now = Instant::now();
    let t = st.begin(b"k", &src).expect("ticket");
    st.invalidate(b"k");
    assert!(!st.complete(t, get_id(), &val("old"), now));
    assert_eq!(st.get(b"k", now, is_get), None);
    // An invalidation of another key does not matter.
    let t = st.begin(b"k", &src).expect("ticket");
    st.invalidate(b"other");
    assert!(st.complete(t, get_id(), &val("new"), now));
    // A read that started after the invalidation may be cached.
    st.invalidate(b"k");
    assert!(put(&st, &src, "k", "newer", now));
    assert_eq!(st.get(b"k", now, is_get), Some(val("newer")));
}

#[test]
fn overlapping_reads_are_all_marked() {
    let st = store(1 << 20, 100);
    let src = ready();
    let now = Instant::now();
    let a = st.begin(b"k", &src).expect("ticket");
    let b = st.begin(b"k", &src).expect("ticket");
    st.invalidate(b"k");
    assert!(!st.complete(a, get_id(), &val("a"), now));
    assert!(!st.complete(b, get_id(), &val("b"), now));
    let c = st.begin(b"k", &src).expect("ticket");
    assert!(st.complete(c, get_id(), &val("c"), now));
    // A dropped ticket leaves nothing pending.
    let d = st.begin(b"k", &src).expect("ticket");
    drop(d);
    assert!(st.lock(st.shard_of(b"k")).pending.is_empty());
}

#[test]
fn reads_of_one_key_returning_out_of_order_cache_nothing() {
    let st = store(1 << 20, 100);
    let src = ready();
    src.set_out_of_band(true);
    let in_band = ready();
    let now = Instant::now();
    // The older read (sent first) returns last. The newer reply is cached
    // first; when the older one returns, which is newer is unknown, so the
    // key is dropped: a caller who got v2 never reads v1 next.
    let older = st.begin(b"k", &src).expect("ticket");
    let newer = st.begin(b"k", &src).expect("ticket");
    assert!(st.complete(newer, get_id(), &val("v2"), now));
    assert!(!st.complete(older, get_id(), &val("v1"), now));
    assert_eq!(st.get(b"k", now, is_get), None);
    // A cancelled read returned to no caller: it does not count.
    let a = st.begin(b"j", &src).expect("ticket");
    let b = st.begin(b"j", &src).expect("ticket");
    drop(b);
    assert!(st.complete(a, get_id(), &val("v1"), now));
    assert_eq!(st.get(b"j", now, is_get), Some(val("v1")));
    // In band, invalidations order the replies: both may be cached.
    let older = st.begin(b"i", &in_band).expect("ticket");
    let newer = st.begin(b"i", &in_band).expect("ticket");
    assert!(st.complete(newer, get_id(), &val("v1"), now));
    assert!(st.complete(older, get_id(), &val("v1"), now));
}

#[test]
fn a_flush_drops_everything_and_voids_tickets() {
    let st = store(1 << 20, 100);
    let src = ready();
    let now = Instant::now();
    assert!(put(&st, &src, "a", "1", now));
    assert!(put(&st, &src, "b", "2", now));
    let t = st.begin(b"c", &src).expect("ticket");
    st.flush();
    assert!(!st.complete(t, get_id(), &val("3"), now));
    assert_eq!(st.get(b"a", now, is_get), None);
    assert_eq!(st.stats().entries, 0);
    assert_eq!(st.stats().flushes, 1);
}

#[test]
fn a_lost_source_is_never_served_again() {
    let st = store(1 << 20, 100);
    let a = ready();
    let b = ready();
    let now = Instant::now();
    assert!(put(&st, &a, "x", "1", now));
    assert!(put(&st, &b, "y", "2", now));
    let in_flight = st.begin(b"z", &a).expect("ticket");
    a.set_down();
    assert!(a.ready_state().is_none());
    assert!(st.begin(b"x", &a).is_none(), "no tickets while not tracking");
    assert!(!st.complete(in_flight, get_id(), &val("3"), now));
    assert_eq!(st.get(b"x", now, is_get), None);
    assert_eq!(st.get(b"y", now, is_get), Some(val("2")));
    // Back up: a new state; the old entries stay dead.
    a.set_ready();
    assert_eq!(st.get(b"x", now, is_get), None);
    assert!(put(&st, &a, "x", "4", now));
    assert_eq!(st.get(b"x", now, is_get), Some(val("4")));
    // Down and up between a ticket and its reply: not cached.
    let t = st.begin(b"w", &a).expect("ticket");
    a.set_down();
    a.set_ready();
    assert!(!st.complete(t, get_id(), &val("5"), now));
}

#[test]
fn max_ttl_bounds_staleness() {
    let st = store(1 << 20, 100);
    let src = ready();
    let now = Instant::now();
    assert!(put(&st, &src, "k", "v", now));
    assert!(st.get(b"k", now + Duration::from_secs(10), is_get).is_some());
    assert!(st.get(b"k", now + Duration::from_millis(10_001), is_get).is_none());
    assert_eq!(st.stats().expired, 1);
    assert_eq!(st.stats().entries, 0);
}

#[test]
fn errors_and_oversized_replies_are_not_cached() {
    let st = Arc::new(Store::new(1 << 20, 100, Duration::from_secs(10), 200));
    let src = ready();
    let now = Instant::now();
    let t = st.begin(b"k", &src).expect("ticket");
    let err = Frame::SimpleError(
        crate::error::ServerError::parse(Bytes::from_static(b"WRONGTYPE x")).expect("parses"),
    );
    assert!(!st.complete(t, get_id(), &err, now));
    let t = st.begin(b"k", &src).expect("ticket");
    assert!(!st.complete(t, get_id(), &val(&"x".repeat(300)), now));
    assert_eq!(st.stats().not_stored, 2);
}

#[test]
fn entries_are_bounded_and_sieve_keeps_the_visited() {
    let st = store(1 << 20, 4);
    let src = ready();
    let now = Instant::now();
    for k in ["a", "b", "c", "d"] {
        assert!(put(&st, &src, k, k, now));
    }
    // "a" (the oldest) is hit: SIEVE spares it and evicts "b".
    assert!(st.get(b"a", now, is_get).is_some());
    assert!(put(&st, &src, "e", "e", now));
    let s = st.stats();
    assert_eq!((s.entries, s.evictions), (4, 1));
    assert!(st.get(b"a", now, is_get).is_some());
    assert!(st.get(b"b", now, is_get).is_none());
    for k in ["c", "d", "e"] {
        assert!(st.get(k.as_bytes(), now, is_get).is_some(), "{k}");
    }
    // Many more: the bound holds throughout.
    for i in 0..100 {
        assert!(put(&st, &src, &format!("k{i}"), "v", now));
        assert!(st.stats().entries <= 4);
    }
}

#[test]
fn bytes_are_bounded() {
    let st = store(2_000, 1000);
    let src = ready();
    let now = Instant::now();
    for i in 0..100 {
        assert!(put(&st, &src, &format!("key{i}"), &"v".repeat(100), now));
        assert!(st.stats().bytes <= 2_000);
    }
    assert!(st.stats().evictions > 0);
    assert!(st.stats().entries > 0);
}

#[test]
fn dropping_keys_by_predicate() {
    let st = store(1 << 20, 100);
    let src = ready();
    let now = Instant::now();
    for k in ["a1", "a2", "b1"] {
        assert!(put(&st, &src, k, k, now));
    }
    let t = st.begin(b"b2", &src).expect("ticket");
    st.drop_keys(|k| k.starts_with(b"a"));
    assert!(!st.complete(t, get_id(), &val("x"), now), "tickets are void");
    assert!(st.get(b"a1", now, is_get).is_none());
    assert!(st.get(b"b1", now, is_get).is_some());
}

proptest::proptest! {
    /// Random operations keep the counted sizes equal to what is held and
    /// within the bounds, and the queue consistent with the map.
    #[test]
    fn random_operations_keep_the_books(ops in proptest::collection::vec((0u8..5, 0u8..20, 0usize..300), 1..300)) {
        let st = store(3_000, 8);
        let src = ready();
        let now = Instant::now();
        for (op, k, len) in ops {
            let key = format!("k{k}");
            match op {
                0 | 1 => { let _ = put(&st, &src, &key, &"v".repeat(len), now); }
                2 => { let _ = st.get(key.as_bytes(), now, is_get); }
                3 => st.invalidate(key.as_bytes()),
                _ => { if len % 50 == 0 { st.flush() } }
            }
            let s = st.stats();
            proptest::prop_assert!(s.entries <= 8 && s.bytes <= 3_000);
            let shard = st.lock(0);
            let (mut n, mut count, mut bytes) = (shard.head, 0, 0);
            while n != NIL {
                let node = &shard.nodes[n as usize];
                proptest::prop_assert_eq!(shard.map.get(&node.key).copied(), Some(n));
                count += node.variants.len();
                bytes += node.variants.iter().map(|v| v.bytes).sum::<usize>();
                n = node.next;
            }
            proptest::prop_assert_eq!(count, shard.entries);
            proptest::prop_assert_eq!(bytes, shard.bytes);
        }
    }
}

#[test]
fn only_invalidations_that_drop_or_mark_something_count() {
    let st = store(1 << 20, 100);
    let src = ready();
    let now = Instant::now();
    // A key this cache never saw: nothing to drop, no read to mark.
    st.invalidate(b"never-read");
    assert_eq!(st.stats().invalidations, 0);
    // A cached key counts once; invalidating it again finds nothing.
    assert!(put(&st, &src, "k", "v", now));
    st.invalidate(b"k");
    st.invalidate(b"k");
    assert_eq!(st.stats().invalidations, 1);
    // A read in flight is marked (and its reply then not cached): counted.
    let t = st.begin(b"j", &src).expect("ticket");
    st.invalidate(b"j");
    assert_eq!(st.stats().invalidations, 2);
    assert!(!st.complete(t, get_id(), &val("old"), now));
}
