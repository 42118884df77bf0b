//! Least privilege: every store operation works for ACL users refused
//! scripting (`-@scripting`), and also refused `DELIFEQ` and `INFO`, against
//! real Valkey 9. The store remembers the `NOPERM` and uses plain commands
//! (see LEAST_PRIVILEGE.md); expiries are checked on the server.

mod support;

use std::time::Duration;

use redwire::{cmd, Client, Error, PoolOptions, Store};
use support::{Reply, Server, ServerOptions};

const NO_SCRIPTS: (&str, &str) = ("noscript", "pw-noscript");
const MINIMAL: (&str, &str) = ("minimal", "pw-minimal");

fn server() -> Server {
    Server::start_with(ServerOptions::new().args([
        "--user",
        NO_SCRIPTS.0,
        "on",
        ">pw-noscript",
        "~*",
        "&*",
        "+@all",
        "-@scripting",
        "--user",
        MINIMAL.0,
        "on",
        ">pw-minimal",
        "~*",
        "&*",
        "+@all",
        "-@scripting",
        "-delifeq",
        "-info",
    ]))
}

fn url(server: &Server, (user, pass): (&str, &str)) -> String {
    format!("redis://{user}:{pass}@{}", server.addr())
}

fn pttl(server: &Server, key: &[u8]) -> i64 {
    match server.client().call(&[&b"PTTL"[..], key]).expect("PTTL") {
        Reply::Integer(n) => n,
        other => panic!("PTTL: {other:?}"),
    }
}

async fn every_operation(server: &Server, store: &Store, p: &str) {
    let k = |s: &str| format!("{p}:{s}").into_bytes();
    store.key_set(&k("a"), "1".into(), Some(Duration::from_secs(60))).await.expect("set");
    assert_eq!(store.key_get(&k("a")).await.expect("get").as_deref(), Some(&b"1"[..]));
    assert!(store.key_exists(&k("a")).await.expect("exists"));
    assert!(store.key_delete(&k("a")).await.expect("delete"));
    for i in 0..5 {
        store.key_set(&k(&format!("pre:{i}")), "x".into(), None).await.expect("set");
    }
    assert_eq!(store.key_delete_prefix(&k("pre:")).await.expect("delete prefix"), 5);

    // Counters with a ttl: the expiry is set once, not pushed back by later calls.
    assert_eq!(store.counter_incr(&k("n"), 3, Some(Duration::from_secs(100))).await.expect("incr"), 3);
    let first = pttl(server, &k("n"));
    assert!((90_000..=100_000).contains(&first), "pttl {first}");
    assert_eq!(store.counter_incr(&k("n"), 4, Some(Duration::from_secs(1000))).await.expect("incr"), 7);
    assert!(pttl(server, &k("n")) <= first, "the ttl was only set when missing");
    assert_eq!(store.counter_incr(&k("m"), -2, None).await.expect("incr"), -2);
    assert_eq!(pttl(server, &k("m")), -1);
    // A counter made without a ttl gets one from the first call that carries one.
    assert_eq!(store.counter_incr(&k("m"), 1, Some(Duration::from_secs(50))).await.expect("incr"), -1);
    assert!(pttl(server, &k("m")) > 0);
    assert_eq!(store.counter_get(&k("n")).await.expect("counter get"), 7);
    assert!(store.counter_delete(&k("n")).await.expect("counter delete"));

    // Rate limits: 2 per minute.
    let period = Duration::from_secs(60);
    assert_eq!(store.is_rate_allowed(&k("rate"), 2, period, false).await.expect("rate"), None);
    assert_eq!(store.is_rate_allowed(&k("rate"), 2, period, false).await.expect("rate"), None);
    assert!(store.is_rate_allowed(&k("rate"), 2, period, false).await.expect("rate").is_some());
    assert!(store.is_rate_allowed(&k("rate"), 2, period, true).await.expect("soft").is_some());

    // Locks: taken once, released only with the right token.
    let token = store.try_lock(&k("lock"), Duration::from_secs(30)).await.expect("lock").expect("free");
    assert!(store.try_lock(&k("lock"), Duration::from_secs(30)).await.expect("lock").is_none());
    let other = redwire::store::LockToken::random();
    assert!(!store.remove_lock(&k("lock"), &other).await.expect("wrong token"));
    assert!(store.remove_lock(&k("lock"), &token).await.expect("release"));
    assert!(!store.key_exists(&k("lock")).await.expect("exists"), "released");
    assert!(!store.remove_lock(&k("lock"), &token).await.expect("released twice"));
    let again = store.try_lock(&k("lock"), Duration::from_secs(30)).await.expect("lock").expect("free again");
    assert!(store.remove_lock(&k("lock"), &again).await.expect("release"));
    assert_eq!(store.purge().await.expect("purge"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_operation_works_without_scripting() {
    let server = server();
    for user in [NO_SCRIPTS, MINIMAL] {
        // The ACL really refuses scripts to this user.
        let client = Client::connect(
            redwire::url::parse_url(&url(&server, user)).expect("url"),
            PoolOptions::default(),
        )
        .await
        .expect("connect");
        let e = client.query::<i64>(&cmd("EVAL").arg("return 1").arg(0)).await.expect_err("no scripting");
        assert!(
            matches!(&e, Error::Server(s) if *s.kind() == redwire::error::ServerErrorKind::NoPerm),
            "{e:?}"
        );

        let store = Store::from_url(&url(&server, user)).await.expect("store");
        // Twice: once while finding out, once with the refusal remembered.
        every_operation(&server, &store, &format!("{}:first", user.0)).await;
        every_operation(&server, &store, &format!("{}:second", user.0)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_about_to_expire_is_left_to_expire() {
    let server = server();
    let store = Store::from_url(&url(&server, MINIMAL)).await.expect("store");
    let token = store.try_lock(b"short", Duration::from_millis(1500)).await.expect("lock").expect("free");
    assert!(store.remove_lock(b"short", &token).await.expect("release"));
    // Within the margin: not deleted, but gone once its ttl runs out.
    let left = pttl(&server, b"short");
    assert!((-2..=1500).contains(&left), "pttl {left}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(store.try_lock(b"short", Duration::from_secs(5)).await.expect("lock").is_some());
}
