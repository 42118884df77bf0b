//! Unit tests of the configuration parser: every field, default, bound and error path.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use super::parse::suggest;
use super::*;
use crate::conn::Address;

const SENTINEL: &str = "s3ntinel-Pa55";

fn ok(value: Value) -> StoreConfig {
    match parse_value(&value) {
        Ok(c) => c,
        Err(e) => panic!("{value}: {e}"),
    }
}

fn errs(value: Value) -> ConfigErrors {
    match parse_value(&value) {
        Ok(c) => panic!("{value} parsed: {c:?}"),
        Err(e) => e,
    }
}

/// The only error, as `path: message`.
fn one_error(value: Value) -> String {
    let e = errs(value.clone());
    assert_eq!(e.len(), 1, "{value}: {e}");
    e.to_string()
}

fn redis(value: Value) -> RedisConfig {
    match ok(value) {
        StoreConfig::Redis(r) => r,
        other => panic!("not Redis: {other:?}"),
    }
}

fn cluster(mut fields: Value) -> RedisClusterConfig {
    if let Value::Object(map) = &mut fields {
        map.insert("@type".into(), json!("RedisCluster"));
        map.entry("authSecret").or_insert(json!({"@type": "None"}));
    }
    match ok(fields) {
        StoreConfig::RedisCluster(c) => c,
        other => panic!("not RedisCluster: {other:?}"),
    }
}

/// A RedisCluster object with `fields` and a `None` secret unless given.
fn cluster_json(fields: Value) -> Value {
    let mut object = json!({"@type": "RedisCluster", "authSecret": {"@type": "None"}});
    if let (Value::Object(target), Value::Object(source)) = (&mut object, fields) {
        target.extend(source);
    }
    object
}

#[test]
fn default_variant() {
    assert_eq!(ok(json!({"@type": "Default"})), StoreConfig::Default);
    assert_eq!(
        one_error(json!({"@type": "Default", "url": "redis://h"})),
        "url: unknown field (\"Default\" takes no other fields)"
    );
}

#[test]
fn redis_defaults_are_the_seeds() {
    let r = redis(json!({"@type": "Redis"}));
    assert_eq!(r, RedisConfig::default());
    assert_eq!(r.url, "redis://127.0.0.1");
    assert_eq!(r.timeout, Duration::from_secs(10));
    assert_eq!(r.pool.max_connections, 10);
    assert_eq!(r.pool.timeout_create, Some(Duration::from_secs(30)));
    assert_eq!(r.pool.timeout_wait, Some(Duration::from_secs(30)));
    assert_eq!(r.pool.timeout_recycle, Some(Duration::from_secs(30)));
}

#[test]
fn redis_every_field() {
    let r = redis(json!({
        "@type": "Redis",
        "url": " rediss://u:p@cache:6380/2 ",
        "timeout": "2m",
        "poolMaxConnections": 64,
        "poolTimeoutCreate": 1500,
        "poolTimeoutWait": null,
        "poolTimeoutRecycle": "1h",
    }));
    assert_eq!(r.url, "rediss://u:p@cache:6380/2");
    assert_eq!(r.timeout, Duration::from_secs(120));
    assert_eq!(
        r.pool,
        PoolConfig {
            max_connections: 64,
            timeout_create: Some(Duration::from_millis(1500)),
            timeout_wait: None,
            timeout_recycle: Some(Duration::from_secs(3600)),
        }
    );
    let o = r.connect_options().unwrap();
    assert_eq!(o.connect_timeout, Duration::from_secs(120));
    assert_eq!(o.db, 2);
    assert!(o.tls.is_some());
}

#[test]
fn cluster_defaults_are_the_seeds() {
    let c = cluster(json!({}));
    assert_eq!(c, RedisClusterConfig::default());
    assert_eq!(c.urls, vec!["redis://127.0.0.1".to_string()]);
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(c.auth_username.as_deref(), Some("stalwart"));
    assert_eq!(c.auth_secret, SecretSource::None);
    assert_eq!((c.max_retry_wait, c.min_retry_wait, c.max_retries), (None, None, None));
    assert!(c.read_from_replicas);
    assert_eq!(c.protocol_version, Protocol::Resp2);
    assert_eq!(c.pool, PoolConfig::default());
}

#[test]
fn cluster_every_field() {
    let c = cluster(json!({
        "urls": ["redis://a:7000", "redis://[::1]:7001"],
        "timeout": 2500,
        "authUsername": "mail",
        "authSecret": {"@type": "Value", "secret": "pw"},
        "maxRetryWait": "1s",
        "minRetryWait": 10,
        "maxRetries": 5,
        "readFromReplicas": false,
        "protocolVersion": "resp3",
        "poolMaxConnections": 8192,
        "poolTimeoutCreate": null,
        "poolTimeoutWait": "0s",
        "poolTimeoutRecycle": "5S",
    }));
    assert_eq!(c.urls, vec!["redis://a:7000".to_string(), "redis://[::1]:7001".to_string()]);
    assert_eq!(c.timeout, Duration::from_millis(2500));
    assert_eq!(c.auth_username.as_deref(), Some("mail"));
    assert_eq!(c.auth_secret, SecretSource::Value(Secret::new("pw")));
    assert_eq!(c.max_retry_wait, Some(Duration::from_secs(1)));
    assert_eq!(c.min_retry_wait, Some(Duration::from_millis(10)));
    assert_eq!(c.max_retries, Some(5));
    assert!(!c.read_from_replicas);
    assert_eq!(c.protocol_version, Protocol::Resp3);
    assert_eq!(
        c.pool,
        PoolConfig {
            max_connections: 8192,
            timeout_create: None,
            timeout_wait: Some(Duration::ZERO),
            timeout_recycle: Some(Duration::from_secs(5)),
        }
    );
}

#[test]
fn cluster_connect_options_apply_auth_only_with_a_password() {
    let c = cluster(
        json!({"urls": ["redis://u:urlpass@a:7000?protocol=2", "redis://b"], "protocolVersion": "resp3"}),
    );
    let without = c.connect_options(None).unwrap();
    assert_eq!(without.len(), 2);
    assert_eq!(without[0].username.as_deref(), Some("u"));
    assert_eq!(without[0].password.as_ref().map(Secret::expose), Some("urlpass"));
    assert_eq!(without[1].username, None);
    assert!(without.iter().all(|o| o.protocol == Protocol::Resp3 && o.connect_timeout == c.timeout));
    let password = Secret::new("cfgpass");
    let with = c.connect_options(Some(&password)).unwrap();
    assert!(with.iter().all(|o| o.username.as_deref() == Some("stalwart")
        && o.password.as_ref().map(Secret::expose) == Some("cfgpass")));
    assert_eq!(with[1].address, Address::Tcp { host: "b".into(), port: 6379 });
}

#[test]
fn pool_max_connections_bounds() {
    for (n, expected) in [(1, Ok(1)), (8192, Ok(8192)), (10, Ok(10))] {
        let got = redis(json!({"@type": "Redis", "poolMaxConnections": n})).pool.max_connections;
        assert_eq!(Ok::<u32, ()>(got), expected);
    }
    for (value, message) in [
        (json!(0), "poolMaxConnections: 0 is below the minimum 1"),
        (json!(8193), "poolMaxConnections: 8193 is above the maximum 8192"),
        (json!(-1), "poolMaxConnections: -1 is below the minimum 1"),
        (json!(u64::MAX), "poolMaxConnections: 18446744073709551615 is above the maximum 8192"),
        (json!(1.5), "poolMaxConnections: 1.5 is not a whole number (expected 1 to 8192)"),
        (json!("10"), "poolMaxConnections: expected a whole number from 1 to 8192, got a string"),
        (json!(null), "poolMaxConnections: must not be null (expected 1 to 8192)"),
    ] {
        assert_eq!(one_error(json!({"@type": "Redis", "poolMaxConnections": value})), message);
        // The same field, in the same words, in a cluster.
        assert_eq!(one_error(cluster_json(json!({"poolMaxConnections": value}))), message);
    }
}

#[test]
fn pool_timeouts_missing_null_and_bad() {
    for name in ["poolTimeoutCreate", "poolTimeoutWait", "poolTimeoutRecycle"] {
        let get = |r: &RedisConfig| match name {
            "poolTimeoutCreate" => r.pool.timeout_create,
            "poolTimeoutWait" => r.pool.timeout_wait,
            _ => r.pool.timeout_recycle,
        };
        let mut object = json!({"@type": "Redis"});
        assert_eq!(get(&redis(object.clone())), Some(Duration::from_secs(30)), "{name} missing");
        object[name] = json!(null);
        assert_eq!(get(&redis(object.clone())), None, "{name} null");
        object[name] = json!("45s");
        assert_eq!(get(&redis(object.clone())), Some(Duration::from_secs(45)), "{name}");
        object[name] = json!(250);
        assert_eq!(get(&redis(object.clone())), Some(Duration::from_millis(250)), "{name}");
        object[name] = json!("5y");
        assert_eq!(
            one_error(object.clone()),
            format!("{name}: unknown unit \"y\" in \"5y\" (expected d, h, m, s or ms)")
        );
        object[name] = json!(-1);
        assert!(one_error(object.clone()).starts_with(&format!("{name}: -1 is negative")));
        object[name] = json!(true);
        assert!(one_error(object).starts_with(&format!("{name}: a boolean is not a duration")));
    }
}

#[test]
fn timeout_forms_and_errors() {
    let t = |v: Value| redis(json!({"@type": "Redis", "timeout": v})).timeout;
    assert_eq!(t(json!("10s")), Duration::from_secs(10));
    assert_eq!(t(json!(" 3M ")), Duration::from_secs(180));
    assert_eq!(t(json!(1)), Duration::from_millis(1));
    assert_eq!(t(json!("1d")), Duration::from_secs(86_400));
    assert_eq!(
        one_error(json!({"@type": "Redis", "timeout": "10x"})),
        "timeout: unknown unit \"x\" in \"10x\" (expected d, h, m, s or ms)"
    );
    assert_eq!(one_error(json!({"@type": "Redis", "timeout": 0})), "timeout: must be greater than zero");
    assert_eq!(one_error(json!({"@type": "Redis", "timeout": "0s"})), "timeout: must be greater than zero");
    assert!(one_error(json!({"@type": "Redis", "timeout": null})).starts_with("timeout: must not be null"));
    assert!(one_error(json!({"@type": "Redis", "timeout": 2.5})).starts_with("timeout: 2.5 is not a whole"));
    assert!(one_error(json!({"@type": "Redis", "timeout": "99999999999999999999"})).contains("too large"));
    assert!(one_error(cluster_json(json!({"timeout": "1w"}))).starts_with("timeout: unknown unit \"w\""));
}

#[test]
fn retry_wait_bounds_are_milliseconds() {
    for name in ["maxRetryWait", "minRetryWait"] {
        let get =
            |c: &RedisClusterConfig| if name == "maxRetryWait" { c.max_retry_wait } else { c.min_retry_wait };
        for (value, ms) in [(json!(1), 1), (json!(1024), 1024), (json!("1s"), 1000), (json!("1024ms"), 1024)]
        {
            assert_eq!(get(&cluster(json!({ name: value }))), Some(Duration::from_millis(ms)), "{name}");
        }
        assert_eq!(get(&cluster(json!({ name: null }))), None);
        assert_eq!(get(&cluster(json!({}))), None);
        for (value, message) in [
            (json!(0), "0ms is below the minimum 1ms"),
            (json!("0s"), "0ms is below the minimum 1ms"),
            (json!(1025), "1025ms is above the maximum 1024ms"),
            (json!("2s"), "2000ms is above the maximum 1024ms"),
            (json!("1m"), "60000ms is above the maximum 1024ms"),
        ] {
            assert_eq!(one_error(cluster_json(json!({ name: value }))), format!("{name}: {message}"));
        }
        assert!(
            one_error(cluster_json(json!({ name: "fast" }))).starts_with(&format!("{name}: \"fast\" is not"))
        );
    }
}

#[test]
fn max_retries_bounds() {
    assert_eq!(cluster(json!({"maxRetries": 1})).max_retries, Some(1));
    assert_eq!(cluster(json!({"maxRetries": 1024})).max_retries, Some(1024));
    assert_eq!(cluster(json!({"maxRetries": null})).max_retries, None);
    assert_eq!(one_error(cluster_json(json!({"maxRetries": 0}))), "maxRetries: 0 is below the minimum 1");
    assert_eq!(
        one_error(cluster_json(json!({"maxRetries": 1025}))),
        "maxRetries: 1025 is above the maximum 1024"
    );
    assert!(one_error(cluster_json(json!({"maxRetries": "3"})))
        .starts_with("maxRetries: expected a whole number"));
}

#[test]
fn auth_username_forms() {
    assert_eq!(cluster(json!({})).auth_username.as_deref(), Some("stalwart"));
    assert_eq!(cluster(json!({"authUsername": null})).auth_username, None);
    assert_eq!(cluster(json!({"authUsername": ""})).auth_username, None);
    assert_eq!(cluster(json!({"authUsername": "mail"})).auth_username.as_deref(), Some("mail"));
    assert_eq!(
        one_error(cluster_json(json!({"authUsername": 7}))),
        "authUsername: expected a string or null, got a number"
    );
}

#[test]
fn auth_secret_forms() {
    let secret = |v: Value| cluster(json!({ "authSecret": v })).auth_secret;
    assert_eq!(secret(json!({"@type": "None"})), SecretSource::None);
    assert_eq!(secret(json!({"@type": "Value", "secret": "pw"})), SecretSource::Value(Secret::new("pw")));
    assert_eq!(
        secret(json!({"@type": "EnvironmentVariable", "variableName": "REDIS_PASSWORD"})),
        SecretSource::EnvironmentVariable("REDIS_PASSWORD".into())
    );
    assert_eq!(
        secret(json!({"@type": "File", "filePath": "/run/secrets/redis"})),
        SecretSource::File(PathBuf::from("/run/secrets/redis"))
    );
}

#[test]
fn auth_secret_errors() {
    let no_secret = json!({"@type": "RedisCluster"});
    assert_eq!(
        one_error(no_secret),
        "authSecret: missing (required; write {\"@type\": \"None\"} for no password)"
    );
    for (secret, message) in [
        (json!(null), "authSecret: expected an object with an \"@type\" of None, Value, EnvironmentVariable or File, got null"),
        (json!("pw"), "authSecret: expected an object with an \"@type\" of None, Value, EnvironmentVariable or File, got a string"),
        (json!({}), "authSecret.@type: missing (expected None, Value, EnvironmentVariable or File)"),
        (json!({"@type": 1}), "authSecret.@type: expected a string (None, Value, EnvironmentVariable or File), got a number"),
        (json!({"@type": "Plain"}), "authSecret.@type: unknown type \"Plain\" (expected None, Value, EnvironmentVariable or File)"),
        (json!({"@type": "value", "secret": "x"}), "authSecret.@type: unknown type \"value\" (expected None, Value, EnvironmentVariable or File; did you mean Value?)"),
        (json!({"@type": "None", "secret": "x"}), "authSecret.secret: unknown field (\"None\" takes no other fields)"),
        (json!({"@type": "Value"}), "authSecret.secret: missing (required)"),
        (json!({"@type": "Value", "secret": ""}), "authSecret.secret: must not be empty (use {\"@type\": \"None\"})"),
        (json!({"@type": "Value", "secret": 1234}), "authSecret.secret: expected a string, got a number"),
        (json!({"@type": "Value", "secret": "x", "secrt": "y"}), "authSecret.secrt: unknown field (did you mean secret?)"),
        (json!({"@type": "EnvironmentVariable"}), "authSecret.variableName: missing (required)"),
        (json!({"@type": "EnvironmentVariable", "variableName": ""}), "authSecret.variableName: must not be empty"),
        (json!({"@type": "EnvironmentVariable", "variableName": "A=B"}), "authSecret.variableName: must not contain '=' or NUL"),
        (json!({"@type": "EnvironmentVariable", "variableName": "X", "filePath": "/f"}), "authSecret.filePath: unknown field (\"EnvironmentVariable\" takes variableName)"),
        (json!({"@type": "File", "filePath": []}), "authSecret.filePath: expected a string, got an array"),
        (json!({"@type": "File", "file_path": "/f"}), "authSecret.file_path: unknown field (did you mean filePath?)"),
    ] {
        let e = errs(cluster_json(json!({ "authSecret": secret })));
        assert_eq!(e.errors().first().map(ToString::to_string).as_deref(), Some(message), "{e}");
    }
}

#[test]
fn read_from_replicas_and_protocol() {
    assert!(!cluster(json!({"readFromReplicas": false})).read_from_replicas);
    assert!(cluster(json!({"readFromReplicas": true})).read_from_replicas);
    assert_eq!(
        one_error(cluster_json(json!({"readFromReplicas": "yes"}))),
        "readFromReplicas: expected true or false, got a string"
    );
    assert_eq!(cluster(json!({"protocolVersion": "resp2"})).protocol_version, Protocol::Resp2);
    assert_eq!(cluster(json!({"protocolVersion": "RESP3"})).protocol_version, Protocol::Resp3);
    assert_eq!(
        one_error(cluster_json(json!({"protocolVersion": "resp4"}))),
        "protocolVersion: unknown protocol \"resp4\" (expected \"resp2\" or \"resp3\")"
    );
    assert_eq!(
        one_error(cluster_json(json!({"protocolVersion": 3}))),
        "protocolVersion: expected \"resp2\" or \"resp3\", got a number"
    );
}

#[test]
fn urls_are_validated_with_their_paths() {
    assert!(
        one_error(json!({"@type": "Redis", "url": "http://h"})).starts_with("url: unknown scheme \"http\"")
    );
    assert_eq!(one_error(json!({"@type": "Redis", "url": 5})), "url: expected a URL string, got a number");
    assert!(
        one_error(json!({"@type": "Redis", "url": null})).starts_with("url: expected a URL string, got null")
    );
    assert_eq!(
        one_error(cluster_json(json!({"urls": []}))),
        "urls: must not be empty (give at least one URL)"
    );
    assert_eq!(
        one_error(cluster_json(json!({"urls": "redis://h"}))),
        "urls: expected an array of URLs, got a string"
    );
    let e = errs(cluster_json(json!({"urls": ["redis://ok", 1, format!("redis://u:{SENTINEL}@h:0")]})));
    assert_eq!(e.len(), 2);
    assert_eq!(e.errors()[0].to_string(), "urls[1]: expected a URL string, got a number");
    assert_eq!(e.errors()[1].path, "urls[2]");
    assert!(e.errors()[1].message.contains("port"));
    assert!(!e.to_string().contains(SENTINEL));
}

#[test]
fn sharded_stores() {
    let c = ok(json!({"@type": "Sharded", "stores": [
        {"@type": "Redis", "url": "redis://a"},
        {"@type": "RedisCluster", "urls": ["redis://b:7000"], "authSecret": {"@type": "None"}},
        {"@type": "Redis"},
    ]}));
    let StoreConfig::Sharded(s) = c else { panic!("not sharded") };
    assert_eq!(s.stores.len(), 3);
    assert!(matches!(&s.stores[0], StoreConfig::Redis(r) if r.url == "redis://a"));
    assert!(matches!(&s.stores[1], StoreConfig::RedisCluster(c) if c.urls == ["redis://b:7000"]));
    assert_eq!(s.stores[2], StoreConfig::Redis(RedisConfig::default()));
}

#[test]
fn sharded_errors() {
    let redis = json!({"@type": "Redis"});
    assert_eq!(
        one_error(json!({"@type": "Sharded"})),
        "stores: missing (a Sharded store needs at least 2 stores)"
    );
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": [redis]})),
        "stores: needs at least 2 stores, got 1"
    );
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": []})),
        "stores: needs at least 2 stores, got 0"
    );
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": {}})),
        "stores: expected an array of at least 2 stores, got an object"
    );
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": [redis, redis, {"@type": "Sharded", "stores": []}]})),
        "stores[2].@type: \"Sharded\" is not allowed inside a Sharded store (expected Redis or RedisCluster)"
    );
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": [{"@type": "Default"}, redis]})),
        "stores[0].@type: \"Default\" is not allowed inside a Sharded store (expected Redis or RedisCluster)"
    );
    assert_eq!(
        one_error(
            json!({"@type": "Sharded", "stores": [redis, {"@type": "Redis", "poolMaxConnections": 0}]})
        ),
        "stores[1].poolMaxConnections: 0 is below the minimum 1"
    );
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": [redis, "redis://h"]})),
        "stores[1]: expected an object with an \"@type\" field, got a string"
    );
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": [redis, {"@type": "Memcached"}]})),
        "stores[1].@type: unknown type \"Memcached\" (expected Redis or RedisCluster)"
    );
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": [redis, {"@type": "RedisCluster"}]})),
        "stores[1].authSecret: missing (required; write {\"@type\": \"None\"} for no password)"
    );
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": [redis, {"@type": "RedisCluster",
            "authSecret": {"@type": "Value", "secret": "x", "extra": 1}}]})),
        "stores[1].authSecret.extra: unknown field (\"Value\" takes secret)"
    );
}

#[test]
fn unknown_fields_at_every_level() {
    assert_eq!(
        one_error(json!({"@type": "Redis", "poolMaxConnectionz": 5})),
        "poolMaxConnectionz: unknown field (did you mean poolMaxConnections?)"
    );
    assert_eq!(
        one_error(json!({"@type": "Redis", "PoolMaxConnections": 5})),
        "PoolMaxConnections: unknown field (did you mean poolMaxConnections?)"
    );
    assert_eq!(
        one_error(json!({"@type": "Redis", "pool_timeout_wait": "1s"})),
        "pool_timeout_wait: unknown field (did you mean poolTimeoutWait?)"
    );
    assert_eq!(
        one_error(json!({"@type": "Redis", "authSecret": {"@type": "None"}})),
        "authSecret: unknown field (it belongs to \"RedisCluster\", not \"Redis\")"
    );
    assert_eq!(
        one_error(json!({"@type": "Redis", "host": "h"})),
        "host: unknown field (\"Redis\" takes url, timeout, poolMaxConnections, poolTimeoutCreate, \
         poolTimeoutWait, poolTimeoutRecycle, compat, cache)"
    );
    assert_eq!(
        one_error(cluster_json(json!({"readFromReplica": true}))),
        "readFromReplica: unknown field (did you mean readFromReplicas?)"
    );
    assert_eq!(
        one_error(cluster_json(json!({"url": "redis://h"}))),
        "url: unknown field (did you mean urls?)"
    );
    assert_eq!(
        one_error(
            json!({"@type": "Sharded", "store": [], "stores": [{"@type": "Redis"}, {"@type": "Redis"}]})
        ),
        "store: unknown field (did you mean stores?)"
    );
    assert_eq!(
        one_error(
            json!({"@type": "Sharded", "stores": [{"@type": "Redis", "tiemout": 5}, {"@type": "Redis"}]})
        ),
        "stores[0].tiemout: unknown field (did you mean timeout?)"
    );
}

#[test]
fn type_errors() {
    assert_eq!(
        one_error(json!({})),
        "@type: missing (expected Default, Sharded, Redis, RedisCluster or RedisSentinel)"
    );
    assert_eq!(
        one_error(json!({"@type": ["Redis"]})),
        "@type: expected a string (Default, Sharded, Redis, RedisCluster or RedisSentinel), got an array"
    );
    assert_eq!(
        one_error(json!({"@type": "Memcached"})),
        "@type: unknown type \"Memcached\" (expected Default, Sharded, Redis, RedisCluster or RedisSentinel)"
    );
    assert_eq!(
        one_error(json!({"@type": "redis"})),
        "@type: unknown type \"redis\" (expected Default, Sharded, Redis, RedisCluster or RedisSentinel; did you mean Redis?)"
    );
    assert_eq!(
        one_error(json!({"@type": "Redis_Cluster"})),
        "@type: unknown type \"Redis_Cluster\" (expected Default, Sharded, Redis, RedisCluster or RedisSentinel; \
         did you mean RedisCluster?)"
    );
    assert_eq!(one_error(json!([])), "expected an object with an \"@type\" field, got an array");
    let e = parse("{\"@type\": \"Redis\",").unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(e.to_string().starts_with("invalid JSON: "), "{e}");
    assert!(parse("").is_err());
}

#[test]
fn every_error_is_reported_at_once() {
    let e = errs(json!({
        "@type": "RedisCluster",
        "urls": ["ftp://x"],
        "timeout": "soon",
        "authSecret": {"@type": "Value"},
        "maxRetries": 0,
        "poolMaxConnections": 9000,
        "poolTimeoutWait": "1 fortnight",
        "colour": "blue",
    }));
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "colour",
            "urls[0]",
            "timeout",
            "authSecret.secret",
            "maxRetries",
            "poolMaxConnections",
            "poolTimeoutWait"
        ]
    );
}

#[test]
fn secrets_never_shown() {
    let c = ok(cluster_json(json!({
        "urls": [format!("redis://u:{SENTINEL}@h")],
        "authSecret": {"@type": "Value", "secret": SENTINEL},
    })));
    let shown = format!("{c:?} {}", c.to_redacted_json());
    assert!(!shown.contains(SENTINEL), "{shown}");
    assert!(shown.contains("***"));
    let r = ok(json!({"@type": "Redis", "url": format!("redis://:{SENTINEL}@h")}));
    let shown = format!("{r:?} {}", r.to_redacted_json());
    assert!(!shown.contains(SENTINEL), "{shown}");

    // Errors elsewhere in a document with secrets do not quote them.
    let e = errs(json!({"@type": "Sharded", "stores": [
        {"@type": "Redis", "url": format!("redis://:{SENTINEL}@h:x")},
        {"@type": "RedisCluster", "authSecret": {"@type": "Value", "secret": SENTINEL, "oops": 1},
         "urls": [format!("rediss://u:{SENTINEL}@h#bad")]},
    ]}));
    assert_eq!(e.len(), 3, "{e}");
    let shown = format!("{e} {e:?} {}", Error::from(e.clone()));
    assert!(!shown.contains(SENTINEL), "{shown}");
}

#[test]
fn redacted_json_is_normal_form() {
    assert_eq!(ok(json!({"@type": "Default"})).to_redacted_json(), json!({"@type": "Default"}));
    assert_eq!(
        ok(json!({"@type": "Redis", "poolTimeoutWait": null, "timeout": 90000})).to_redacted_json(),
        json!({
            "@type": "Redis",
            "url": "redis://127.0.0.1",
            "timeout": "90s",
            "poolMaxConnections": 10,
            "poolTimeoutCreate": "30s",
            "poolTimeoutWait": null,
            "poolTimeoutRecycle": "30s",
        })
    );
    assert_eq!(
        ok(cluster_json(json!({"minRetryWait": 5, "authSecret": {"@type": "Value", "secret": "pw"}})))
            .to_redacted_json(),
        json!({
            "@type": "RedisCluster",
            "urls": ["redis://127.0.0.1"],
            "timeout": "10s",
            "authUsername": "stalwart",
            "authSecret": {"@type": "Value", "secret": "***"},
            "maxRetryWait": null,
            "minRetryWait": "5ms",
            "maxRetries": null,
            "readFromReplicas": true,
            "protocolVersion": "resp2",
            "poolMaxConnections": 10,
            "poolTimeoutCreate": "30s",
            "poolTimeoutWait": "30s",
            "poolTimeoutRecycle": "30s",
        })
    );
}

#[test]
fn redacted_json_round_trips() {
    let documents = [
        json!({"@type": "Default"}),
        json!({"@type": "Redis", "url": "rediss://cache:6380/3#insecure", "timeout": "1500ms",
               "poolMaxConnections": 1, "poolTimeoutCreate": null, "poolTimeoutRecycle": 0}),
        cluster_json(json!({"urls": ["redis://a", "redis://b"], "authUsername": null,
            "authSecret": {"@type": "EnvironmentVariable", "variableName": "PW"},
            "maxRetryWait": 1024, "minRetryWait": "1ms", "maxRetries": 7, "readFromReplicas": false,
            "protocolVersion": "resp3", "poolMaxConnections": 8192})),
        json!({"@type": "Sharded", "stores": [
            {"@type": "Redis"},
            cluster_json(json!({"authSecret": {"@type": "File", "filePath": "/run/pw"}})),
        ]}),
    ];
    for document in documents {
        let config = ok(document);
        let again = ok(config.to_redacted_json());
        assert_eq!(again, config);
        assert_eq!(again.to_redacted_json(), config.to_redacted_json());
    }
}

#[test]
fn convenience_constructors() {
    let c = StoreConfig::from_url(" redis://h:7000/1 ").unwrap();
    assert_eq!(
        c,
        StoreConfig::Redis(RedisConfig { url: "redis://h:7000/1".into(), ..RedisConfig::default() })
    );
    assert_eq!(c.type_name(), "Redis");
    assert!(matches!(StoreConfig::from_url("nope"), Err(Error::Url(_))));

    let c = StoreConfig::from_cluster_urls(["redis://a:7000", "redis://b:7001"]).unwrap();
    let StoreConfig::RedisCluster(cl) = &c else { panic!("not a cluster") };
    assert_eq!(cl.urls, ["redis://a:7000", "redis://b:7001"]);
    assert_eq!(cl.auth_username, None);
    assert_eq!(cl.auth_secret, SecretSource::None);
    assert_eq!(cl.pool, PoolConfig::default());
    assert!(matches!(StoreConfig::from_cluster_urls(Vec::<String>::new()), Err(Error::Config(_))));
    assert!(matches!(
        StoreConfig::from_cluster_urls(vec!["redis://a".to_string(), "x".into()]),
        Err(Error::Url(_))
    ));
    assert_eq!(StoreConfig::default().type_name(), "Default");
}

#[test]
fn suggestions() {
    let fields = ["url", "timeout", "poolMaxConnections"];
    assert_eq!(suggest("timeot", &fields), Some("timeout"));
    assert_eq!(suggest("TIMEOUT", &fields), Some("timeout"));
    assert_eq!(suggest("pool_max_connections", &fields), Some("poolMaxConnections"));
    assert_eq!(suggest("poolMaxConn", &fields), None);
    assert_eq!(suggest("zzz", &fields), None);
    assert_eq!(suggest("", &[]), None);
}

#[test]
fn compat_is_a_top_level_choice() {
    assert_eq!(ok(json!({"@type": "Redis"})).compat(), Compat::Redwire);
    assert_eq!(ok(json!({"@type": "Default"})).compat(), Compat::Redwire);
    let r = ok(json!({"@type": "Redis", "compat": "stalwart-0.16"}));
    assert_eq!(r.compat(), Compat::Stalwart016);
    assert_eq!(r.to_redacted_json()["compat"], json!("stalwart-0.16"));
    assert_eq!(ok(r.to_redacted_json()), r);
    let c = ok(cluster_json(json!({"compat": "redwire"})));
    assert_eq!(c.compat(), Compat::Redwire);
    assert!(c.to_redacted_json().get("compat").is_none(), "the default stays out of the normal form");
    let s = ok(json!({"@type": "Sharded", "compat": "stalwart-0.16",
        "stores": [{"@type": "Redis"}, {"@type": "Redis", "url": "redis://b"}]}));
    assert_eq!(s.compat(), Compat::Stalwart016);
    assert_eq!(ok(s.to_redacted_json()), s);
    assert_eq!(
        one_error(json!({"@type": "Redis", "compat": "stalwart"})),
        "compat: unknown compat \"stalwart\" (expected \"redwire\" or \"stalwart-0.16\")"
    );
    assert!(one_error(json!({"@type": "Redis", "compat": 16})).starts_with("compat: expected"));
    assert_eq!(
        one_error(json!({"@type": "Sharded", "stores": [{"@type": "Redis", "compat": "stalwart-0.16"},
            {"@type": "Redis"}]})),
        "stores[0].compat: set compat on the Sharded store; it applies to every shard"
    );
    assert!(one_error(json!({"@type": "Default", "compat": "redwire"})).starts_with("compat:"));
}

#[test]
fn unknown_fields_can_be_warned_about_and_ignored() {
    use crate::config::{parse_with, UnknownFields};
    let json = r#"{"@type": "Sharded", "newTopLevel": true, "stores": [
        {"@type": "Redis", "url": "redis://a", "poolMaxConections": 3, "timeout": "2s"},
        {"@type": "RedisCluster", "urls": ["redis://b"], "tlsFromTheFuture": {},
         "authSecret": {"@type": "Value", "secret": "pw", "rotation": "daily"}}]}"#;
    let errors = parse_with(json, UnknownFields::Reject).unwrap_err();
    let paths: Vec<&str> = errors.errors().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "newTopLevel",
            "stores[0].poolMaxConections",
            "stores[1].tlsFromTheFuture",
            "stores[1].authSecret.rotation"
        ]
    );
    let parsed = parse_with(json, UnknownFields::WarnAndIgnore).unwrap();
    let warned: Vec<&str> = parsed.warnings.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(warned, paths);
    assert!(
        parsed.warnings[1].message.contains("did you mean poolMaxConnections?"),
        "{:?}",
        parsed.warnings[1]
    );
    let StoreConfig::Sharded(sharded) = &parsed.config else { panic!("not sharded") };
    let StoreConfig::Redis(redis) = &sharded.stores[0] else { panic!("not redis") };
    assert_eq!(redis.timeout, std::time::Duration::from_secs(2));
    assert_eq!(redis.pool.max_connections, crate::config::DEFAULT_POOL_MAX_CONNECTIONS);
    // The plain parse is the strict one, and a clean document has no warnings.
    assert!(parse(json).is_err());
    let clean = parse_with(r#"{"@type": "Redis"}"#, UnknownFields::WarnAndIgnore).unwrap();
    assert!(clean.warnings.is_empty());
}

#[test]
fn lenient_parse_still_rejects_real_errors() {
    use crate::config::{parse_with, UnknownFields};
    let e = parse_with(r#"{"@type": "RedisFuture", "x": 1}"#, UnknownFields::WarnAndIgnore).unwrap_err();
    assert!(e.errors()[0].path == "@type", "{e}");
    let e = parse_with(r#"{"@type": "Redis", "timeout": "0s", "x": 1}"#, UnknownFields::WarnAndIgnore)
        .unwrap_err();
    assert_eq!(e.errors().len(), 1);
    assert_eq!(e.errors()[0].path, "timeout");
}
