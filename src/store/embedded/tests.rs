//! Unit tests of `embedded`.

use super::clock::ManualClock;
use super::*;
use crate::error::ServerErrorKind;
use crate::store::Rate;

fn manual(options: EmbeddedOptions) -> (Embedded, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock {
        start: Instant::now(),
        // A round number, so window boundaries in tests are easy to reason about.
        unix_start: 1_700_000_000,
        offset_ms: AtomicU64::new(0),
    });
    (Embedded::with_clock(options, Clock::Manual(clock.clone())), clock)
}

fn store() -> (Embedded, Arc<ManualClock>) {
    manual(EmbeddedOptions { max_memory: None, purge_interval: Duration::ZERO })
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Embedded>();
    check::<LockToken>();
}

#[tokio::test]
async fn set_get_exists_delete() {
    let (s, _) = store();
    assert_eq!(s.key_get(b"k").await.unwrap(), None);
    assert!(!s.key_exists(b"k").await.unwrap());
    s.key_set(b"k", b("v1"), None).await.unwrap();
    assert_eq!(s.key_get(b"k").await.unwrap(), Some(b("v1")));
    assert!(s.key_exists(b"k").await.unwrap());
    s.key_set(b"k", b("v2"), None).await.unwrap();
    assert_eq!(s.key_get(b"k").await.unwrap(), Some(b("v2")));
    assert_eq!(s.len(), 1);
    assert!(s.key_delete(b"k").await.unwrap());
    assert!(!s.key_delete(b"k").await.unwrap());
    assert_eq!(s.key_get(b"k").await.unwrap(), None);
    assert!(s.is_empty());
    assert_eq!(s.memory_used(), 0);
    // Binary keys and values, and the empty key.
    s.key_set(&[0, 255, 10], Bytes::from_static(&[1, 2, 3]), None).await.unwrap();
    s.key_set(b"", b(""), None).await.unwrap();
    assert_eq!(s.key_get(&[0, 255, 10]).await.unwrap(), Some(Bytes::from_static(&[1, 2, 3])));
    assert_eq!(s.key_get(b"").await.unwrap(), Some(b("")));
}

#[tokio::test]
async fn values_expire_lazily_and_by_purge() {
    let (s, clock) = store();
    s.key_set(b"short", b("v"), Some(secs(10))).await.unwrap();
    s.key_set(b"long", b("v"), Some(secs(100))).await.unwrap();
    s.key_set(b"forever", b("v"), None).await.unwrap();
    clock.advance(Duration::from_millis(9_999));
    assert!(s.key_exists(b"short").await.unwrap());
    clock.advance(Duration::from_millis(1));
    // Invisible at once, on every path.
    assert_eq!(s.key_get(b"short").await.unwrap(), None);
    s.key_set(b"short2", b("v"), Some(secs(1))).await.unwrap();
    clock.advance(secs(1));
    assert!(!s.key_exists(b"short2").await.unwrap());
    assert!(!s.key_delete(b"short2").await.unwrap());
    // Expired but not accessed: held until a purge.
    s.key_set(b"a", b("v"), Some(secs(1))).await.unwrap();
    s.key_set(b"b", b("v"), Some(secs(1))).await.unwrap();
    clock.advance(secs(1));
    assert_eq!(s.len(), 4);
    assert_eq!(s.purge().await.unwrap(), 2);
    assert_eq!(s.len(), 2);
    assert_eq!(s.purge().await.unwrap(), 0);
    clock.advance(secs(100));
    assert_eq!(s.purge().await.unwrap(), 1);
    assert_eq!(s.key_get(b"forever").await.unwrap(), Some(b("v")));
    assert_eq!(s.memory_used(), entry_size(7, 1));
}

#[tokio::test]
async fn set_replaces_or_clears_the_ttl() {
    let (s, clock) = store();
    s.key_set(b"k", b("v"), Some(secs(5))).await.unwrap();
    s.key_set(b"k", b("w"), None).await.unwrap();
    clock.advance(secs(10));
    assert_eq!(s.key_get(b"k").await.unwrap(), Some(b("w")));
    s.key_set(b"k", b("x"), Some(secs(50))).await.unwrap();
    s.key_set(b"k", b("y"), Some(secs(5))).await.unwrap();
    clock.advance(secs(5));
    assert_eq!(s.key_get(b"k").await.unwrap(), None);
}

#[tokio::test]
async fn zero_ttl_is_an_error() {
    let (s, _) = store();
    assert!(matches!(s.key_set(b"k", b("v"), Some(Duration::ZERO)).await, Err(Error::InvalidArgument(_))));
    assert!(matches!(s.counter_incr(b"c", 1, Some(Duration::ZERO)).await, Err(Error::InvalidArgument(_))));
    assert!(matches!(s.try_lock(b"l", Duration::ZERO).await, Err(Error::InvalidArgument(_))));
    assert!(s.is_empty());
    // A ttl too far away to represent means "never".
    s.key_set(b"k", b("v"), Some(Duration::MAX)).await.unwrap();
    assert!(s.key_exists(b"k").await.unwrap());
}

#[tokio::test]
async fn counters() {
    let (s, _) = store();
    assert_eq!(s.counter_get(b"c").await.unwrap(), 0);
    assert_eq!(s.counter_incr(b"c", 5, None).await.unwrap(), 5);
    assert_eq!(s.counter_incr(b"c", -7, None).await.unwrap(), -2);
    assert_eq!(s.counter_get(b"c").await.unwrap(), -2);
    // One key space: a counter reads as digits, digits count as a counter.
    assert_eq!(s.key_get(b"c").await.unwrap(), Some(b("-2")));
    s.key_set(b"n", b("41"), None).await.unwrap();
    assert_eq!(s.counter_incr(b"n", 1, None).await.unwrap(), 42);
    assert!(s.counter_delete(b"c").await.unwrap());
    assert!(!s.counter_delete(b"c").await.unwrap());
    assert_eq!(s.counter_get(b"c").await.unwrap(), 0);
    s.key_set(b"max", integer_bytes(i64::MAX), None).await.unwrap();
    assert!(matches!(s.counter_incr(b"max", 1, None).await, Err(Error::Type { .. })));
    assert_eq!(s.counter_incr(b"max", -1, None).await.unwrap(), i64::MAX - 1);
    assert_eq!(s.counter_incr(b"min", i64::MIN, None).await.unwrap(), i64::MIN);
    assert!(matches!(s.counter_incr(b"min", -1, None).await, Err(Error::Type { .. })));
}

#[tokio::test]
async fn counters_reject_non_integers() {
    let (s, _) = store();
    for bad in ["abc", "", " 1", "1 ", "+1", "1.5", "99999999999999999999", "-", "1e3"] {
        s.key_set(b"v", b(bad), None).await.unwrap();
        let e = s.counter_incr(b"v", 1, None).await.unwrap_err();
        assert!(matches!(e, Error::Type { .. }), "{bad:?}: {e:?}");
        assert!(matches!(s.counter_get(b"v").await, Err(Error::Type { .. })), "{bad:?}");
        // The value is left alone.
        assert_eq!(s.key_get(b"v").await.unwrap(), Some(b(bad)));
    }
    s.key_set(b"v", b("-9223372036854775808"), None).await.unwrap();
    assert_eq!(s.counter_get(b"v").await.unwrap(), i64::MIN);
}

#[tokio::test]
async fn counter_ttl_is_set_only_when_absent() {
    let (s, clock) = store();
    assert_eq!(s.counter_incr(b"c", 1, Some(secs(10))).await.unwrap(), 1);
    clock.advance(secs(6));
    // A later, longer ttl does not push the expiry back.
    assert_eq!(s.counter_incr(b"c", 1, Some(secs(10))).await.unwrap(), 2);
    clock.advance(secs(4));
    assert_eq!(s.counter_get(b"c").await.unwrap(), 0);
    // Expired: the next increment starts again from zero with a new ttl.
    assert_eq!(s.counter_incr(b"c", 3, Some(secs(10))).await.unwrap(), 3);
    clock.advance(secs(9));
    assert_eq!(s.counter_get(b"c").await.unwrap(), 3);
    // An existing key without expiry gets one (EXPIRE NX).
    s.counter_incr(b"p", 1, None).await.unwrap();
    s.counter_incr(b"p", 1, Some(secs(2))).await.unwrap();
    clock.advance(secs(2));
    assert!(!s.key_exists(b"p").await.unwrap());
    // Incrementing without ttl keeps the existing one.
    s.counter_incr(b"q", 1, Some(secs(2))).await.unwrap();
    s.counter_incr(b"q", 1, None).await.unwrap();
    clock.advance(secs(2));
    assert!(!s.key_exists(b"q").await.unwrap());
}

#[tokio::test]
async fn delete_prefix_covers_values_and_counters() {
    let (s, clock) = store();
    s.key_set(b"user:1", b("a"), None).await.unwrap();
    s.key_set(b"user:2", b("b"), None).await.unwrap();
    s.counter_incr(b"user:hits", 3, None).await.unwrap();
    s.key_set(b"user:old", b("c"), Some(secs(1))).await.unwrap();
    s.key_set(b"use", b("d"), None).await.unwrap();
    s.key_set(b"other:1", b("e"), None).await.unwrap();
    for i in 0..200u32 {
        s.key_set(format!("bulk:{i}").as_bytes(), b("x"), None).await.unwrap();
    }
    clock.advance(secs(1));
    // The expired one is removed but not counted.
    assert_eq!(s.key_delete_prefix(b"user:").await.unwrap(), 3);
    assert!(!s.key_exists(b"user:1").await.unwrap());
    assert_eq!(s.counter_get(b"user:hits").await.unwrap(), 0);
    assert!(s.key_exists(b"use").await.unwrap());
    assert!(s.key_exists(b"other:1").await.unwrap());
    assert_eq!(s.key_delete_prefix(b"bulk:").await.unwrap(), 200);
    assert_eq!(s.key_delete_prefix(b"nothing").await.unwrap(), 0);
    assert_eq!(s.len(), 2);
    assert_eq!(s.key_delete_prefix(b"").await.unwrap(), 2);
    assert!(s.is_empty());
    assert_eq!(s.memory_used(), 0);
}

#[tokio::test]
async fn rate_limit_fixed_window() {
    let (s, clock) = store();
    // unix_start is a multiple of 60 plus 20 seconds: 40 seconds left in the window.
    assert_eq!(1_700_000_000 % 60, 20);
    let period = secs(60);
    for _ in 0..3 {
        assert_eq!(s.is_rate_allowed(b"ip", 3, period, false).await.unwrap(), None);
    }
    assert_eq!(s.is_rate_allowed(b"ip", 3, period, false).await.unwrap(), Some(40));
    clock.advance(secs(10));
    assert_eq!(s.is_rate_allowed(b"ip", 3, period, false).await.unwrap(), Some(30));
    // The counter lives under <key>:<window>.
    let window = (1_700_000_000 + 10) / 60;
    assert_eq!(s.counter_get(format!("ip:{window}").as_bytes()).await.unwrap(), 5);
    // Another key has its own budget.
    assert_eq!(s.is_rate_allowed(b"other", 3, period, false).await.unwrap(), None);
    // A new window starts afresh.
    clock.advance(secs(30));
    assert_eq!(s.is_rate_allowed(b"ip", 3, period, false).await.unwrap(), None);
    // The old window's counter expires one period after its first hit.
    assert_eq!(s.counter_get(format!("ip:{window}").as_bytes()).await.unwrap(), 5);
    clock.advance(secs(20));
    assert_eq!(s.counter_get(format!("ip:{window}").as_bytes()).await.unwrap(), 0);
    assert_eq!(s.is_rate_allowed(b"ip", 0, period, false).await.unwrap(), Some(40));
}

#[tokio::test]
async fn rate_limit_soft_does_not_count() {
    let (s, _) = store();
    let period = secs(60);
    assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), None);
    assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), None);
    assert!(s.is_empty(), "a soft check must not create the counter");
    assert_eq!(s.is_rate_allowed(b"k", 2, period, false).await.unwrap(), None);
    assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), None);
    assert_eq!(s.is_rate_allowed(b"k", 2, period, false).await.unwrap(), None);
    // Count is 2 = limit: soft says limited, without counting.
    assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), Some(40));
    assert_eq!(s.is_rate_allowed(b"k", 2, period, true).await.unwrap(), Some(40));
    assert_eq!(s.is_rate_allowed(b"k", 0, period, true).await.unwrap(), Some(40));
    assert_eq!(s.is_rate_allowed(b"fresh", 0, period, true).await.unwrap(), Some(40));
}

#[tokio::test]
async fn rate_limit_bad_period() {
    let (s, _) = store();
    assert!(s.is_rate_allowed(b"k", 1, Duration::from_millis(999), false).await.is_err());
    assert!(s.is_rate_allowed(b"k", 1, Duration::from_millis(999), true).await.is_err());
    assert!(s.is_empty());
}

#[tokio::test]
async fn locks_are_exclusive_and_need_the_token() {
    let (s, clock) = store();
    let token = s.try_lock(b"lock", secs(30)).await.unwrap().expect("free lock");
    assert_eq!(token.as_bytes().len(), 16);
    assert_eq!(s.try_lock(b"lock", secs(30)).await.unwrap(), None);
    let stranger = LockToken::random();
    assert_ne!(stranger, token);
    assert!(!s.remove_lock(b"lock", &stranger).await.unwrap());
    assert_eq!(s.try_lock(b"lock", secs(30)).await.unwrap(), None);
    assert!(s.remove_lock(b"lock", &token).await.unwrap());
    assert!(!s.remove_lock(b"lock", &token).await.unwrap());
    // Expired locks are free again, and the old holder cannot remove the new one.
    let first = s.try_lock(b"lock", secs(5)).await.unwrap().expect("free");
    clock.advance(secs(5));
    let second = s.try_lock(b"lock", secs(5)).await.unwrap().expect("expired lock is free");
    assert!(!s.remove_lock(b"lock", &first).await.unwrap());
    assert!(s.remove_lock(b"lock", &second).await.unwrap());
    // A lock on a key that holds a value is refused.
    s.key_set(b"taken", b("v"), None).await.unwrap();
    assert_eq!(s.try_lock(b"taken", secs(5)).await.unwrap(), None);
}

#[test]
fn lock_token_debug_is_hex() {
    let t = LockToken::from_bytes(Bytes::from_static(&[0x00, 0xab, 0x10]));
    assert_eq!(format!("{t:?}"), "LockToken(00ab10)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_sum_exactly() {
    let s = Embedded::new(EmbeddedOptions::default());
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..500 {
                    s.counter_incr(b"shared", 1, None).await.unwrap();
                    s.counter_incr(format!("own:{t}").as_bytes(), 2, None).await.unwrap();
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(s.counter_get(b"shared").await.unwrap(), 4000);
    for t in 0..8 {
        assert_eq!(s.counter_get(format!("own:{t}").as_bytes()).await.unwrap(), 1000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_lock_has_one_winner() {
    let s = Embedded::new(EmbeddedOptions::default());
    for round in 0..20 {
        let key = format!("lock:{round}");
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (s, key) = (s.clone(), key.clone());
                tokio::spawn(async move { s.try_lock(key.as_bytes(), secs(30)).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap().is_some());
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn max_memory_refuses_an_entry_larger_than_the_limit() {
    let (s, _) = manual(EmbeddedOptions { max_memory: Some(1000), purge_interval: Duration::ZERO });
    let e = s.key_set(b"k", Bytes::from(vec![0u8; 1000]), None).await.unwrap_err();
    assert!(matches!(e.server_error().map(|e| e.kind()), Some(ServerErrorKind::Oom)), "{e:?}");
    assert!(s.is_empty());
    s.key_set(b"k", Bytes::from(vec![0u8; 1000 - 64 - 1]), None).await.unwrap();
    assert_eq!(s.memory_used(), 1000);
}

/// Entries of exactly 100 bytes each: 1-byte key, 35-byte value, 64 overhead.
fn value100() -> Bytes {
    Bytes::from(vec![b'x'; 35])
}

#[tokio::test]
async fn max_memory_evicts_the_oldest_down_to_90_percent() {
    let (s, _) = manual(EmbeddedOptions { max_memory: Some(1000), purge_interval: Duration::ZERO });
    for k in b'a'..=b'j' {
        s.key_set(&[k], value100(), None).await.unwrap();
    }
    assert_eq!(s.memory_used(), 1000);
    // Rewriting "a" makes it the newest.
    s.key_set(b"a", value100(), None).await.unwrap();
    s.key_set(b"k", value100(), None).await.unwrap();
    // Room was made down to 800 bytes so the write leaves 900: b and c went, the rest stayed.
    assert_eq!(s.memory_used(), 900);
    for (k, present) in [(b'a', true), (b'b', false), (b'c', false), (b'd', true), (b'j', true), (b'k', true)]
    {
        assert_eq!(s.key_exists(&[k]).await.unwrap(), present, "{}", k as char);
    }
}

#[tokio::test]
async fn max_memory_evicts_expired_then_closest_to_expiry() {
    let (s, clock) = manual(EmbeddedOptions { max_memory: Some(1000), purge_interval: Duration::ZERO });
    s.key_set(b"p", value100(), None).await.unwrap(); // persistent, oldest
    s.key_set(b"e", value100(), Some(secs(1))).await.unwrap(); // will have expired
    s.key_set(b"l", value100(), Some(secs(1000))).await.unwrap(); // far expiry
    s.key_set(b"s", value100(), Some(secs(100))).await.unwrap(); // near expiry
    for k in b'0'..=b'5' {
        s.key_set(&[k], value100(), None).await.unwrap();
    }
    assert_eq!(s.memory_used(), 1000);
    clock.advance(secs(1));
    // Dropping the expired entry is enough: nothing live goes.
    s.key_set(b"x", value100(), None).await.unwrap();
    assert_eq!(s.memory_used(), 1000);
    assert!(s.key_exists(b"p").await.unwrap() && s.key_exists(b"s").await.unwrap());
    // Now live entries must go: the closest to expiry first, then the next.
    s.key_set(b"y", value100(), None).await.unwrap();
    assert!(!s.key_exists(b"s").await.unwrap());
    assert!(!s.key_exists(b"l").await.unwrap());
    assert!(s.key_exists(b"p").await.unwrap(), "entries with an expiry go before persistent ones");
    assert!(s.key_exists(b"y").await.unwrap());
    assert_eq!(s.memory_used(), 900);
}

#[tokio::test]
async fn max_memory_applies_to_counters_and_locks() {
    let (s, _) = manual(EmbeddedOptions { max_memory: Some(1000), purge_interval: Duration::ZERO });
    for i in 0..100u32 {
        s.counter_incr(format!("c{i}").as_bytes(), 1, None).await.unwrap();
        s.try_lock(format!("l{i}").as_bytes(), secs(60)).await.unwrap();
        assert!(s.memory_used() <= 1000, "{}", s.memory_used());
    }
    assert_eq!(s.counter_get(b"c99").await.unwrap(), 1);
    assert!(s.key_exists(b"l99").await.unwrap());
}

#[tokio::test]
async fn background_purge_runs_and_stops_with_the_store() {
    let s = Embedded::new(EmbeddedOptions { max_memory: None, purge_interval: Duration::from_millis(20) });
    s.key_set(b"k", b("v"), Some(Duration::from_millis(10))).await.unwrap();
    s.key_set(b"keep", b("v"), None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.len() != 1 {
        assert!(Instant::now() < deadline, "expired entry never purged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let task = s.inner.purge_task.get().cloned().expect("purge task spawned inside a runtime");
    let weak = Arc::downgrade(&s.inner);
    let clone = s.clone();
    drop(s);
    assert!(!task.is_finished(), "a clone still holds the store");
    drop(clone);
    assert!(weak.upgrade().is_none(), "the task must not keep the store alive");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !task.is_finished() {
        assert!(Instant::now() < deadline, "purge task still running");
        tokio::task::yield_now().await;
    }
}

#[test]
fn no_runtime_no_task() {
    let s = Embedded::new(EmbeddedOptions::default());
    assert!(s.inner.purge_task.get().is_none());
    let s = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        Embedded::new(EmbeddedOptions { max_memory: None, purge_interval: Duration::ZERO })
    });
    assert!(s.inner.purge_task.get().is_none());
}

#[test]
fn shards_spread_keys() {
    let mut counts = [0usize; SHARDS];
    for i in 0..64_000u32 {
        counts[shard_of(format!("key:{i}").as_bytes())] += 1;
    }
    assert!(counts.iter().all(|&c| (500..1500).contains(&c)), "{counts:?}");
}

#[tokio::test]
async fn stalwart_counters_reset_their_expiry_on_every_call() {
    let (redwire, clock) = store();
    let stalwart = redwire.with_compat(Compat::Stalwart016);
    assert_eq!(stalwart.compat(), Compat::Stalwart016);
    // redwire's rule: the first ttl stays.
    redwire.counter_incr(b"r", 1, Some(secs(10))).await.unwrap();
    clock.advance(secs(6));
    redwire.counter_incr(b"r", 1, Some(secs(10))).await.unwrap();
    clock.advance(secs(5));
    assert_eq!(redwire.counter_get(b"r").await.unwrap(), 0, "expired 10 s after the first call");
    // Stalwart's rule: every call with a ttl sets it again (same key space).
    stalwart.counter_incr(b"s", 1, Some(secs(10))).await.unwrap();
    clock.advance(secs(6));
    stalwart.counter_incr(b"s", 1, Some(secs(10))).await.unwrap();
    clock.advance(secs(5));
    assert_eq!(redwire.counter_get(b"s").await.unwrap(), 2, "alive 11 s after the first call");
    // A call without a ttl leaves the expiry alone.
    stalwart.counter_incr(b"s", 1, None).await.unwrap();
    clock.advance(secs(5));
    assert_eq!(stalwart.counter_get(b"s").await.unwrap(), 0);
}

#[tokio::test]
async fn stalwart_rate_limit_layout() {
    let (s, clock) = store();
    // 40 seconds left in the minute (see rate_limit_fixed_window).
    let rate = Rate::new(2, secs(60));
    let window = 1_700_000_000u64 / 60;
    let bucket = [&[9u8][..], b"ip", &window.to_be_bytes()].concat();
    assert_eq!(s.is_rate_allowed_prefixed(9, b"ip", &rate, true).await.unwrap(), None);
    assert!(s.is_empty(), "a soft check counts nothing");
    assert_eq!(s.is_rate_allowed_prefixed(9, b"ip", &rate, false).await.unwrap(), None);
    assert_eq!(s.is_rate_allowed_prefixed(9, b"ip", &rate, false).await.unwrap(), None);
    assert_eq!(s.counter_get(&bucket).await.unwrap(), 2);
    // At the limit: a soft check (2 + 1) and a hit (3) are refused.
    assert_eq!(s.is_rate_allowed_prefixed(9, b"ip", &rate, true).await.unwrap(), Some(40));
    clock.advance(secs(15));
    assert_eq!(s.is_rate_allowed_prefixed(9, b"ip", &rate, false).await.unwrap(), Some(25));
    // Another prefix is another bucket.
    assert_eq!(s.is_rate_allowed_prefixed(8, b"ip", &rate, false).await.unwrap(), None);
    // The bucket expires when its window ends.
    clock.advance(secs(25));
    assert_eq!(s.counter_get(&bucket).await.unwrap(), 0);
    assert_eq!(s.is_rate_allowed_prefixed(9, b"ip", &rate, false).await.unwrap(), None);
}

#[tokio::test]
async fn plain_locks() {
    let (s, clock) = store();
    assert!(s.try_lock_plain(b"l", 30).await.unwrap());
    assert!(!s.try_lock_plain(b"l", 30).await.unwrap());
    assert_eq!(s.key_get(b"l").await.unwrap(), Some(b("1700000030")));
    assert!(s.try_lock_plain(b"l", 0).await.is_err());
    assert!(s.remove_lock_plain(b"l").await.unwrap());
    assert!(!s.remove_lock_plain(b"l").await.unwrap());
    assert!(s.try_lock_plain(b"l", 1).await.unwrap());
    clock.advance(secs(1));
    assert!(s.try_lock_plain(b"l", 1).await.unwrap(), "an expired lock is free");
}
