//! Lazy start (`Store::from_config_lazy`): a store built while its server is
//! down, an operation that fails as never sent, then the server coming up
//! and serving the next operation. Against real Valkey.

mod support;

use std::time::Duration;

use redwire::config::parse;
use redwire::{Error, Store, StoreKind};
use support::Server;

fn redis_json(port: u16) -> String {
    format!(r#"{{"@type": "Redis", "url": "redis://127.0.0.1:{port}", "timeout": "3s"}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_while_the_server_is_down_and_serves_once_it_is_up() {
    // Reserve a port with a real server, then stop it: nothing listens there.
    let server = Server::start();
    let port = server.port();
    server.stop();
    let config = parse(&redis_json(port)).expect("config");

    // The eager form still fails at start ...
    let e = Store::from_config(&config).await.expect_err("nothing listens");
    assert!(matches!(e, Error::Io(_) | Error::ConnectTimeout), "{e:?}");

    // ... the lazy one starts.
    let store = Store::from_config_lazy(&config).expect("lazy start");
    assert_eq!(store.kind(), StoreKind::Redis);
    assert!(!store.is_started());
    for _ in 0..2 {
        let e = tokio::time::timeout(Duration::from_secs(20), store.key_set(b"lazy:k", "v".into(), None))
            .await
            .expect("bounded")
            .expect_err("server is down");
        let Error::NotSent { cause } = &e else { panic!("expected NotSent, got {e:?}") };
        assert!(matches!(**cause, Error::Io(_) | Error::ConnectTimeout), "{cause:?}");
        assert!(!store.is_started());
    }

    server.restart();
    let clone = store.clone();
    store.key_set(b"lazy:k", "v".into(), None).await.expect("served after the server came up");
    assert!(store.is_started() && clone.is_started(), "clones share the started store");
    assert_eq!(clone.key_get(b"lazy:k").await.expect("get").as_deref(), Some(&b"v"[..]));
    assert_eq!(store.counter_incr(b"lazy:n", 2, Some(Duration::from_secs(60))).await.expect("incr"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_problems_still_fail_at_start() {
    let json = r#"{"@type": "Sharded", "stores": [
        {"@type": "Redis", "url": "redis://127.0.0.1:1"},
        {"@type": "RedisCluster", "urls": ["redis://127.0.0.1:2"],
         "authSecret": {"@type": "EnvironmentVariable", "variableName": "REDWIRE_TEST_LAZY_UNSET_VAR"}}]}"#;
    let e = Store::from_config_lazy(&parse(json).expect("config")).expect_err("unset secret");
    let Error::Config(message) = &e else { panic!("not a config error: {e:?}") };
    assert!(message.starts_with("stores[1].authSecret: environment variable"), "{message}");

    // A well-formed sharded store over dead servers starts, and fails per operation.
    let ok = r#"{"@type": "Sharded", "stores": [
        {"@type": "Redis", "url": "redis://127.0.0.1:1", "timeout": "1s"},
        {"@type": "Redis", "url": "redis://127.0.0.1:2", "timeout": "1s"}]}"#;
    let store = Store::from_config_lazy(&parse(ok).expect("config")).expect("lazy sharded");
    assert_eq!(store.kind(), StoreKind::Sharded);
    let e = store.key_get(b"k").await.expect_err("down");
    assert!(matches!(e, Error::NotSent { .. }), "{e:?}");
}
