//! The store API, one suite written once (`mod suite`) and instantiated for every variant
//! (`store_suite!`): Default (embedded), Redis on Valkey 9 (built from `StoreConfig` JSON, with an
//! ACL user in the URL), Redis on Redis 7 (no `DELIFEQ`: the script fallback), RedisCluster (the
//! harness's 3+3 cluster, an ACL user whose password comes from an `EnvironmentVariable` secret),
//! RedisSentinel (the harness's 1 master + 1 replica + 3 sentinels, data and sentinel users with
//! their own passwords), Sharded over two Valkey servers, and Sharded over a Valkey server and the
//! cluster. Then a few
//! checks of one variant each: where Sharded puts keys, which release command runs, errors.
//!
//! Servers are started once per test binary and shared; every test works under its own random
//! key prefix, so tests running side by side never see each other's keys.

mod support;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redwire::__unstable::store::shard_of;
use redwire::config::parse;
use redwire::store::LockToken;
use redwire::{Error, Store, StoreKind};
use support::{Cluster, ClusterOptions, SentinelGroup, Server, ServerOptions};

const VALKEY_USER: (&str, &str) = ("mail", "p@ss:w/rd");
const CLUSTER_USER: (&str, &str) = ("stalwart", "cluster-secret");
const CLUSTER_SECRET_VAR: &str = "REDWIRE_TEST_STORE_CLUSTER_SECRET";

/// Valkey 9 with an ACL user (the default user is off).
fn valkey_a() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start_with(ServerOptions::new().user(VALKEY_USER.0, VALKEY_USER.1)))
}

/// Valkey 9, no auth.
fn valkey_b() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(Server::start)
}

/// Redis 7.0, which has no `DELIFEQ`.
fn redis7() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start_with(ServerOptions::new().redis()))
}

/// 3 primaries + 3 replicas with an ACL user.
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let user = Some((CLUSTER_USER.0.to_string(), CLUSTER_USER.1.to_string()));
        Cluster::start_with(ClusterOptions { user, ..ClusterOptions::default() })
    })
}

/// The cluster's `RedisCluster` JSON: seed URLs without credentials, the user from
/// `authUsername`, the password from an environment variable.
fn cluster_json() -> String {
    std::env::set_var(CLUSTER_SECRET_VAR, CLUSTER_USER.1);
    let urls: Vec<String> = cluster().nodes().iter().map(|n| format!("redis://{}", n.addr())).collect();
    serde_json::json!({
        "@type": "RedisCluster",
        "urls": urls,
        "timeout": "5s",
        "authUsername": CLUSTER_USER.0,
        "authSecret": {"@type": "EnvironmentVariable", "variableName": CLUSTER_SECRET_VAR},
        "maxRetries": 20,
        "minRetryWait": "10ms",
        "maxRetryWait": "500ms",
        "poolMaxConnections": 4,
    })
    .to_string()
}

/// 1 master + 1 replica + 3 sentinels.
fn sentinel_group() -> &'static SentinelGroup {
    static GROUP: OnceLock<SentinelGroup> = OnceLock::new();
    GROUP.get_or_init(SentinelGroup::start)
}

fn redis_json(url: &str) -> String {
    serde_json::json!({"@type": "Redis", "url": url, "timeout": "5s", "poolMaxConnections": 4}).to_string()
}

async fn from_json(json: &str) -> Store {
    let config = parse(json).unwrap_or_else(|e| panic!("config does not parse:\n{e}"));
    Store::from_config(&config).await.unwrap_or_else(|e| panic!("cannot open the store: {e}"))
}

async fn open_embedded() -> Store {
    Store::embedded()
}

async fn open_redis() -> Store {
    let store = from_json(&redis_json(&valkey_a().url())).await;
    assert_eq!(store.kind(), StoreKind::Redis);
    store
}

async fn open_redis7() -> Store {
    Store::from_url(&redis7().url()).await.expect("open the Redis 7 store")
}

async fn open_cluster() -> Store {
    let store = from_json(&cluster_json()).await;
    assert_eq!(store.kind(), StoreKind::RedisCluster);
    let shown = format!("{store:?}");
    assert!(!shown.contains(CLUSTER_USER.1), "the cluster password shows in Debug: {shown}");
    store
}

async fn open_sentinel() -> Store {
    let json = tokio::task::spawn_blocking(|| sentinel_group().store_json("5s")).await.expect("sentinels");
    let store = from_json(&json).await;
    assert_eq!(store.kind(), StoreKind::RedisSentinel);
    store
}

async fn open_sharded_valkey() -> Store {
    let json = format!(
        r#"{{"@type": "Sharded", "stores": [{}, {}]}}"#,
        redis_json(&valkey_a().url()),
        redis_json(&valkey_b().url())
    );
    let store = from_json(&json).await;
    assert_eq!(store.kind(), StoreKind::Sharded);
    store
}

async fn open_sharded_mixed() -> Store {
    let json = format!(
        r#"{{"@type": "Sharded", "stores": [{}, {}]}}"#,
        redis_json(&valkey_b().url()),
        cluster_json()
    );
    from_json(&json).await
}

/// A key prefix no other test uses.
fn namespace(case: &str) -> Vec<u8> {
    format!("rwtest:{case}:{:016x}:", fastrand::u64(..)).into_bytes()
}

fn key(ns: &[u8], suffix: impl AsRef<[u8]>) -> Vec<u8> {
    [ns, suffix.as_ref()].concat()
}

/// One test per case of the suite, in a module named after the variant.
macro_rules! store_suite {
    ($variant:ident, $open:path $(, #[$meta:meta])*) => {
        mod $variant {
            use super::*;

            async fn run_case<F, Fut>(name: &str, case: F)
            where
                F: FnOnce(Store, Vec<u8>) -> Fut,
                Fut: std::future::Future<Output = ()>,
            {
                let ns = namespace(name);
                case($open().await, ns).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn binary_keys_and_values() {
                run_case("binary", suite::binary_keys_and_values).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn counters_and_values_share_one_key_space() {
                run_case("keyspace", suite::counters_and_values_share_one_key_space).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn keys_vanish_after_their_ttl() {
                run_case("expiry", suite::keys_vanish_after_their_ttl).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn zero_ttl_and_short_period_are_refused() {
                run_case("refused", suite::zero_ttl_and_short_period_are_refused).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_increments_sum_exactly() {
                run_case("counters", suite::concurrent_increments_sum_exactly).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rate_limit_fixed_window() {
                run_case("rate", suite::rate_limit_fixed_window).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn one_lock_holder_under_contention() {
                run_case("lock", suite::one_lock_holder_under_contention).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn prefix_delete_matches_glob_characters_literally() {
                run_case("prefix", suite::prefix_delete_matches_glob_characters_literally).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn many_keys_over_all_slots() {
                run_case("many", suite::many_keys_over_all_slots).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn one_megabyte_values() {
                run_case("large", suite::one_megabyte_values).await;
            }
        }
    };
}

store_suite!(default, open_embedded);
store_suite!(redis, open_redis);
store_suite!(redis7, open_redis7);
store_suite!(redis_cluster, open_cluster);
store_suite!(redis_sentinel, open_sentinel);
store_suite!(sharded_valkey, open_sharded_valkey);
store_suite!(sharded_valkey_and_cluster, open_sharded_mixed);

/// The cases: each takes a fresh store and a key prefix of its own.
mod suite {
    use super::*;

    fn assert_type_error<T: std::fmt::Debug>(result: Result<T, Error>) {
        assert!(matches!(result, Err(Error::Type { .. })), "expected a type error, got {result:?}");
    }

    pub async fn binary_keys_and_values(store: Store, ns: Vec<u8>) {
        let k = key(&ns, b"\0\xff\r\n key \x80*");
        let value = Bytes::from((0..=255u8).rev().collect::<Vec<u8>>());
        assert_eq!(store.key_get(&k).await.unwrap(), None);
        assert!(!store.key_exists(&k).await.unwrap());
        store.key_set(&k, value.clone(), None).await.unwrap();
        assert_eq!(store.key_get(&k).await.unwrap(), Some(value));
        assert!(store.key_exists(&k).await.unwrap());
        store.key_set(&k, Bytes::new(), None).await.unwrap();
        assert_eq!(store.key_get(&k).await.unwrap(), Some(Bytes::new()), "an empty value is a value");
        assert!(store.key_exists(&k).await.unwrap());
        assert!(store.key_delete(&k).await.unwrap());
        assert!(!store.key_delete(&k).await.unwrap(), "a second delete finds nothing");
        assert_eq!(store.key_get(&k).await.unwrap(), None);
        assert!(!store.key_exists(&k).await.unwrap());
        // A key that differs in one byte is another key.
        store.key_set(&key(&ns, b"a\0"), Bytes::from_static(b"1"), None).await.unwrap();
        assert_eq!(store.key_get(&key(&ns, b"a")).await.unwrap(), None);
        assert_eq!(store.key_get(&key(&ns, b"a\0")).await.unwrap(), Some(Bytes::from_static(b"1")));
    }

    pub async fn counters_and_values_share_one_key_space(store: Store, ns: Vec<u8>) {
        let counter = key(&ns, "counter");
        assert_eq!(store.counter_get(&counter).await.unwrap(), 0, "a missing counter reads 0");
        assert_eq!(store.counter_incr(&counter, -42, None).await.unwrap(), -42);
        assert_eq!(store.counter_incr(&counter, 50, None).await.unwrap(), 8);
        assert_eq!(store.key_get(&counter).await.unwrap(), Some(Bytes::from_static(b"8")));
        assert!(store.counter_delete(&counter).await.unwrap());
        assert!(!store.counter_delete(&counter).await.unwrap());
        assert_eq!(store.counter_get(&counter).await.unwrap(), 0);

        let text = key(&ns, "text");
        store.key_set(&text, Bytes::from_static(b"abc"), None).await.unwrap();
        assert_type_error(store.counter_incr(&text, 1, None).await);
        assert_type_error(store.counter_incr(&text, 1, Some(Duration::from_secs(5))).await);
        assert_type_error(store.counter_get(&text).await);
        assert_eq!(store.key_get(&text).await.unwrap(), Some(Bytes::from_static(b"abc")), "left as it was");

        let digits = key(&ns, "digits");
        store.key_set(&digits, Bytes::from_static(b"41"), None).await.unwrap();
        assert_eq!(store.counter_incr(&digits, 1, None).await.unwrap(), 42, "a decimal value is a counter");

        let big = key(&ns, "big");
        assert_eq!(store.counter_incr(&big, i64::MAX, None).await.unwrap(), i64::MAX);
        assert_type_error(store.counter_incr(&big, 1, None).await);
        assert_eq!(store.counter_get(&big).await.unwrap(), i64::MAX);
    }

    pub async fn keys_vanish_after_their_ttl(store: Store, ns: Vec<u8>) {
        let second = Some(Duration::from_secs(1));
        let value = Bytes::from_static(b"session-data");
        store.key_set(&key(&ns, "value"), value.clone(), second).await.unwrap();
        store.key_set(&key(&ns, "short"), value.clone(), Some(Duration::from_millis(600))).await.unwrap();
        assert!(store.key_exists(&key(&ns, "short")).await.unwrap(), "a sub-second ttl");
        assert_eq!(store.counter_incr(&key(&ns, "counter"), 5, second).await.unwrap(), 5);
        let lock = store.try_lock(&key(&ns, "lock"), Duration::from_secs(1)).await.unwrap();
        assert!(lock.is_some());
        // A later ttl does not replace the first one (EXPIRE NX semantics).
        store.counter_incr(&key(&ns, "kept"), 1, second).await.unwrap();
        assert_eq!(
            store.counter_incr(&key(&ns, "kept"), 1, Some(Duration::from_secs(100))).await.unwrap(),
            2
        );
        // A set without ttl clears the old one.
        store.key_set(&key(&ns, "cleared"), value.clone(), second).await.unwrap();
        store.key_set(&key(&ns, "cleared"), value.clone(), None).await.unwrap();
        // A counter incremented without ttl keeps none.
        store.counter_incr(&key(&ns, "forever"), 1, None).await.unwrap();
        store.key_set(&key(&ns, "long"), value.clone(), Some(Duration::from_secs(60))).await.unwrap();

        assert!(store.key_exists(&key(&ns, "value")).await.unwrap());
        assert_eq!(store.counter_get(&key(&ns, "counter")).await.unwrap(), 5);
        assert!(store.try_lock(&key(&ns, "lock"), Duration::from_secs(1)).await.unwrap().is_none());

        tokio::time::sleep(Duration::from_millis(1300)).await;

        assert_eq!(store.key_get(&key(&ns, "value")).await.unwrap(), None);
        assert!(!store.key_exists(&key(&ns, "value")).await.unwrap());
        assert!(!store.key_exists(&key(&ns, "short")).await.unwrap());
        assert_eq!(store.counter_get(&key(&ns, "counter")).await.unwrap(), 0);
        assert_eq!(store.counter_get(&key(&ns, "kept")).await.unwrap(), 0);
        assert!(!store.key_delete(&key(&ns, "value")).await.unwrap(), "an expired key is not deleted");
        let relock = store.try_lock(&key(&ns, "lock"), Duration::from_secs(10)).await.unwrap();
        assert!(relock.is_some(), "an expired lock can be taken again");
        assert!(
            !store.remove_lock(&key(&ns, "lock"), &lock.unwrap()).await.unwrap(),
            "the old token is stale"
        );
        assert_eq!(store.key_get(&key(&ns, "cleared")).await.unwrap(), Some(value.clone()));
        assert_eq!(store.counter_get(&key(&ns, "forever")).await.unwrap(), 1);
        assert_eq!(store.key_get(&key(&ns, "long")).await.unwrap(), Some(value));
        assert!(store.purge().await.unwrap() <= 100, "purge reports what it dropped");
    }

    pub async fn zero_ttl_and_short_period_are_refused(store: Store, ns: Vec<u8>) {
        let zero = Duration::ZERO;
        assert!(store.key_set(&key(&ns, "v"), Bytes::from_static(b"x"), Some(zero)).await.is_err());
        assert!(!store.key_exists(&key(&ns, "v")).await.unwrap(), "nothing written");
        assert!(store.counter_incr(&key(&ns, "c"), 1, Some(zero)).await.is_err());
        assert_eq!(store.counter_get(&key(&ns, "c")).await.unwrap(), 0, "nothing counted");
        assert!(store.try_lock(&key(&ns, "l"), zero).await.is_err());
        assert!(!store.key_exists(&key(&ns, "l")).await.unwrap(), "no lock taken");
        assert!(store.is_rate_allowed(&key(&ns, "r"), 3, Duration::from_millis(999), false).await.is_err());
    }

    pub async fn concurrent_increments_sum_exactly(store: Store, ns: Vec<u8>) {
        let with_ttl = key(&ns, "hits");
        let without = key(&ns, "bytes");
        let mut tasks = tokio::task::JoinSet::new();
        for i in 1..=50i64 {
            let (store, with_ttl, without) = (store.clone(), with_ttl.clone(), without.clone());
            tasks.spawn(async move {
                let seen = store.counter_incr(&with_ttl, 1, Some(Duration::from_secs(3))).await.unwrap();
                store.counter_incr(&without, i, None).await.unwrap();
                seen
            });
        }
        let mut seen = BTreeSet::new();
        while let Some(result) = tasks.join_next().await {
            assert!(seen.insert(result.unwrap()), "two increments saw the same value");
        }
        assert_eq!(seen, (1..=50).collect::<BTreeSet<i64>>(), "each increment saw its own value");
        assert_eq!(store.counter_get(&with_ttl).await.unwrap(), 50);
        assert_eq!(store.counter_get(&without).await.unwrap(), (1..=50).sum::<i64>());
        tokio::time::sleep(Duration::from_millis(3300)).await;
        assert_eq!(store.counter_get(&with_ttl).await.unwrap(), 0, "the first increment's ttl applies");
        assert_eq!(store.counter_get(&without).await.unwrap(), 1275, "no ttl, no expiry");
    }

    /// Sleeps until just after the next multiple of `period_secs` since the epoch, so the
    /// hits that follow fall into one window.
    async fn start_of_next_window(period_secs: u64) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let period_ms = u128::from(period_secs) * 1000;
        let left = period_ms - now.as_millis() % period_ms;
        tokio::time::sleep(Duration::from_millis(u64::try_from(left).unwrap() + 30)).await;
    }

    pub async fn rate_limit_fixed_window(store: Store, ns: Vec<u8>) {
        let period = Duration::from_secs(2);
        let ip = key(&ns, "ip:192.0.2.1");
        let user = key(&ns, "user:alice");
        start_of_next_window(2).await;
        assert_eq!(store.is_rate_allowed(&ip, 3, period, true).await.unwrap(), None, "soft, nothing counted");
        for hit in 1..=3 {
            assert_eq!(store.is_rate_allowed(&ip, 3, period, false).await.unwrap(), None, "hit {hit}");
        }
        let soft = store.is_rate_allowed(&ip, 3, period, true).await.unwrap();
        assert!(matches!(soft, Some(1..=2)), "soft check at the limit: {soft:?}");
        let fourth = store.is_rate_allowed(&ip, 3, period, false).await.unwrap();
        assert!(matches!(fourth, Some(1..=2)), "the 4th hit: {fourth:?}");

        // Soft checks do not count.
        for _ in 0..2 {
            assert_eq!(store.is_rate_allowed(&user, 3, period, false).await.unwrap(), None);
        }
        for _ in 0..5 {
            assert_eq!(store.is_rate_allowed(&user, 3, period, true).await.unwrap(), None);
        }
        assert_eq!(store.is_rate_allowed(&user, 3, period, false).await.unwrap(), None, "3rd real hit");
        assert!(store.is_rate_allowed(&user, 3, period, false).await.unwrap().is_some(), "4th real hit");

        // The next window starts from zero.
        start_of_next_window(2).await;
        assert_eq!(store.is_rate_allowed(&ip, 3, period, false).await.unwrap(), None);
    }

    pub async fn one_lock_holder_under_contention(store: Store, ns: Vec<u8>) {
        let lock = key(&ns, "mailbox:42");
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (store, lock) = (store.clone(), lock.clone());
            tasks.spawn(async move { store.try_lock(&lock, Duration::from_secs(30)).await.unwrap() });
        }
        let mut winners = Vec::new();
        while let Some(result) = tasks.join_next().await {
            winners.extend(result.unwrap());
        }
        assert_eq!(winners.len(), 1, "exactly one of 20 contenders gets the lock");
        let token = winners.remove(0);

        assert!(!store.remove_lock(&lock, &LockToken::random()).await.unwrap(), "a wrong token fails");
        assert!(store.try_lock(&lock, Duration::from_secs(30)).await.unwrap().is_none(), "still held");
        assert!(store.remove_lock(&lock, &token).await.unwrap(), "the right token releases");
        assert!(!store.remove_lock(&lock, &token).await.unwrap(), "already released");
        let again = store.try_lock(&lock, Duration::from_secs(30)).await.unwrap().expect("free again");
        assert_ne!(again, token, "every lock gets a new token");
        assert!(!store.remove_lock(&key(&ns, "other"), &again).await.unwrap(), "wrong key");
        assert!(store.remove_lock(&lock, &again).await.unwrap());

        // A key holding a value is not a free lock.
        let busy = key(&ns, "busy");
        store.key_set(&busy, Bytes::from_static(b"x"), None).await.unwrap();
        assert!(store.try_lock(&busy, Duration::from_secs(30)).await.unwrap().is_none());
    }

    pub async fn prefix_delete_matches_glob_characters_literally(store: Store, ns: Vec<u8>) {
        let prefix = key(&ns, b"a*b?c[d]e\\f");
        let matching: Vec<Vec<u8>> =
            [&b""[..], b"1", b":x*", b"\\", b"\0\xff"].iter().map(|s| key(&prefix, s)).collect();
        // Each would match if one of the glob characters in the prefix were taken as a pattern.
        let others: Vec<Vec<u8>> = [
            &b"aXbYc[d]e\\f1"[..], // `*` and `?` as wildcards
            b"a*b?cde\\f1",        // `[d]` as a class
            b"a*b?c[d]ef1",        // `\f` as an escaped `f`
            b"a*b?c[d]e\\",        // shorter than the prefix
            b"a*b?c[d]e\\F1",      // another byte
            b"axb",
        ]
        .iter()
        .map(|s| key(&ns, s))
        .collect();
        for k in matching.iter().chain(&others) {
            store.key_set(k, Bytes::from_static(b"v"), None).await.unwrap();
        }
        store.counter_incr(&key(&prefix, "counter"), 3, Some(Duration::from_secs(60))).await.unwrap();
        assert_eq!(store.key_delete_prefix(&prefix).await.unwrap(), 6, "5 values and a counter");
        for k in &matching {
            assert!(!store.key_exists(k).await.unwrap(), "{:?} survived", String::from_utf8_lossy(k));
        }
        for k in &others {
            assert!(store.key_exists(k).await.unwrap(), "{:?} was deleted", String::from_utf8_lossy(k));
        }
        assert_eq!(store.key_delete_prefix(&prefix).await.unwrap(), 0, "nothing left to delete");

        // The simplest case: `a*b` must not delete `axb...`.
        store.key_set(&key(&ns, "x*y:1"), Bytes::from_static(b"v"), None).await.unwrap();
        store.key_set(&key(&ns, "xzy:1"), Bytes::from_static(b"v"), None).await.unwrap();
        assert_eq!(store.key_delete_prefix(&key(&ns, "x*y")).await.unwrap(), 1);
        assert!(store.key_exists(&key(&ns, "xzy:1")).await.unwrap());
        assert_eq!(store.key_delete_prefix(&ns).await.unwrap(), others.len() as u64 + 1);
    }

    pub async fn many_keys_over_all_slots(store: Store, ns: Vec<u8>) {
        const KEYS: usize = 3000;
        let slots: BTreeSet<u16> =
            (0..KEYS).map(|i| redwire::cluster::key_slot(&key(&ns, format!("k:{i}")))).collect();
        assert!(slots.first().is_some_and(|&s| s < 500) && slots.last().is_some_and(|&s| s > 15_800));
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..16 {
            let (store, ns) = (store.clone(), ns.clone());
            tasks.spawn(async move {
                for i in (worker..KEYS).step_by(16) {
                    let value = Bytes::from(format!("value-{i}"));
                    store.key_set(&key(&ns, format!("k:{i}")), value, None).await.unwrap();
                }
            });
        }
        while let Some(result) = tasks.join_next().await {
            result.unwrap();
        }
        for i in (0..KEYS).step_by(7) {
            let got = store.key_get(&key(&ns, format!("k:{i}"))).await.unwrap();
            assert_eq!(got, Some(Bytes::from(format!("value-{i}"))), "key {i}");
        }
        // More keys than one SCAN page and one UNLINK batch; on a cluster, keys on every primary.
        assert_eq!(store.key_delete_prefix(&ns).await.unwrap(), KEYS as u64);
        for i in (0..KEYS).step_by(101) {
            assert!(!store.key_exists(&key(&ns, format!("k:{i}"))).await.unwrap(), "key {i}");
        }
    }

    pub async fn one_megabyte_values(store: Store, ns: Vec<u8>) {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..4u8 {
            let (store, ns) = (store.clone(), ns.clone());
            tasks.spawn(async move {
                let mut bytes = vec![0u8; 1 << 20];
                fastrand::fill(&mut bytes);
                bytes[0] = i;
                let value = Bytes::from(bytes);
                let k = key(&ns, [b'v', i]);
                store.key_set(&k, value.clone(), Some(Duration::from_secs(60))).await.unwrap();
                let got = store.key_get(&k).await.unwrap().expect("the value is there");
                assert_eq!(got.len(), value.len());
                assert!(got == value, "value {i} came back different");
                assert!(store.key_delete(&k).await.unwrap());
            });
        }
        while let Some(result) = tasks.join_next().await {
            result.unwrap();
        }
    }
}

/// Each key lives on the shard `shard_of` names, and both shards get keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_puts_each_key_on_its_documented_shard() {
    let store = open_sharded_valkey().await;
    let ns = namespace("placement");
    let servers = [valkey_a(), valkey_b()];
    let mut clients = servers.map(Server::client);
    let mut per_shard = [0usize; 2];
    for i in 0..200 {
        let k = key(&ns, format!("k:{i}"));
        store.key_set(&k, Bytes::from_static(b"v"), None).await.unwrap();
        let shard = shard_of(&k, 2);
        per_shard[shard] += 1;
        for (index, client) in clients.iter_mut().enumerate() {
            let exists = client.cmd(&[&b"EXISTS"[..], k.as_slice()]).as_int();
            assert_eq!(exists, Some(i64::from(index == shard)), "key {i} on server {index}");
        }
    }
    assert!(per_shard.iter().all(|&n| n > 60), "keys spread over both shards: {per_shard:?}");
    assert_eq!(store.key_delete_prefix(&ns).await.unwrap(), 200);
}

fn command_calls(server: &Server, command: &str) -> u64 {
    let stats = server.client().info("commandstats");
    let field = format!("cmdstat_{command}");
    stats
        .iter()
        .find(|(k, _)| *k == field)
        .and_then(|(_, v)| v.split(',').find_map(|kv| kv.strip_prefix("calls=")))
        .map_or(0, |n| n.parse().expect("calls= is a number"))
}

/// Valkey 9 releases locks with `DELIFEQ`; Redis 7 (which lacks it) with the script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_release_uses_delifeq_where_the_server_has_it() {
    for (server, store) in [(valkey_a(), open_redis().await), (redis7(), open_redis7().await)] {
        let before = (command_calls(server, "delifeq"), command_calls(server, "evalsha"));
        let lock = namespace("release");
        let token = store.try_lock(&lock, Duration::from_secs(30)).await.unwrap().expect("free");
        assert!(store.remove_lock(&lock, &token).await.unwrap());
        let after = (command_calls(server, "delifeq"), command_calls(server, "evalsha"));
        if std::ptr::eq(server, valkey_a()) {
            assert_eq!(after.0, before.0 + 1, "Valkey 9: one DELIFEQ");
            assert_eq!(after.1, before.1, "Valkey 9: no script");
        } else {
            assert_eq!(after.0, 0, "Redis 7 has no DELIFEQ");
            assert_eq!(after.1, before.1 + 1, "Redis 7: the script, by hash");
        }
    }
}

/// A script the server forgot (`SCRIPT FLUSH`, a restart) is sent again in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_survive_a_script_flush() {
    let store = open_redis7().await;
    let ns = namespace("flush");
    assert_eq!(store.counter_incr(&key(&ns, "c"), 2, Some(Duration::from_secs(60))).await.unwrap(), 2);
    assert!(redis7().client().cmd(&["SCRIPT", "FLUSH"]).is_ok());
    assert_eq!(store.counter_incr(&key(&ns, "c"), 3, Some(Duration::from_secs(60))).await.unwrap(), 5);
    let token = store.try_lock(&key(&ns, "l"), Duration::from_secs(60)).await.unwrap().expect("free");
    assert!(redis7().client().cmd(&["SCRIPT", "FLUSH"]).is_ok());
    assert!(store.remove_lock(&key(&ns, "l"), &token).await.unwrap());
}

const SENTINEL: &str = "s3ntinel-PW";

fn assert_no_secret(e: &Error) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(SENTINEL), "a secret leaked: {shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_dead_server_errors_hide_the_secret() {
    let wrong = format!("redis://{}:{SENTINEL}@{}", VALKEY_USER.0, valkey_a().addr());
    let e = Store::from_config(&parse(&redis_json(&wrong)).unwrap()).await.unwrap_err();
    assert!(matches!(e, Error::Auth(_)), "{e:?}");
    assert_no_secret(&e);

    let port = support::ports::free_port();
    let dead = format!("redis://u:{SENTINEL}@127.0.0.1:{port}");
    let e = Store::from_config(&parse(&redis_json(&dead)).unwrap()).await.unwrap_err();
    assert!(matches!(e, Error::Io(_) | Error::ConnectTimeout), "{e:?}");
    assert_no_secret(&e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_secret_names_its_path_in_a_sharded_store() {
    let json = format!(
        r#"{{"@type": "Sharded", "stores": [{}, {{"@type": "RedisCluster", "urls": ["redis://127.0.0.1:1"],
        "authSecret": {{"@type": "EnvironmentVariable", "variableName": "REDWIRE_TEST_STORE_UNSET_VAR"}}}}]}}"#,
        redis_json(&valkey_b().url())
    );
    let e = Store::from_config(&parse(&json).unwrap()).await.unwrap_err();
    let Error::Config(message) = &e else { panic!("not a config error: {e:?}") };
    assert!(
        message.starts_with("stores[1].authSecret: environment variable \"REDWIRE_TEST_STORE_UNSET_VAR\""),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_hides_the_password() {
    let store = from_json(&redis_json(&valkey_a().url())).await;
    let shown = format!("{store:?}");
    assert!(!shown.contains(VALKEY_USER.1), "{shown}");
    assert!(shown.contains("Redis"), "{shown}");
}
