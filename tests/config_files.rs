//! The sample configurations in `examples/` parse, and mean what they say.

use std::path::{Path, PathBuf};
use std::time::Duration;

use redwire::config::{parse, SecretSource, StoreConfig};
use redwire::conn::Protocol;

fn example(name: &str) -> StoreConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&text).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()))
}

#[test]
fn default_json() {
    assert_eq!(example("default.json"), StoreConfig::Default);
}

#[test]
fn redis_json() {
    let StoreConfig::Redis(r) = example("redis.json") else { panic!("not Redis") };
    assert_eq!(r.url, "redis://:change-me@127.0.0.1:6379/0?protocol=resp3");
    assert_eq!(r.timeout, Duration::from_secs(10));
    assert_eq!(r.pool.max_connections, 32);
    assert_eq!(r.pool.timeout_create, Some(Duration::from_secs(5)));
    assert_eq!(r.pool.timeout_wait, Some(Duration::from_secs(2)));
    assert_eq!(r.pool.timeout_recycle, None);
    let options = r.connect_options().unwrap();
    assert_eq!(options.protocol, Protocol::Resp3);
    assert_eq!(options.password.map(|p| p.expose().to_string()).as_deref(), Some("change-me"));
    assert!(!format!("{r:?}").contains("change-me"));
}

#[test]
fn redis_cluster_json() {
    let StoreConfig::RedisCluster(c) = example("redis-cluster.json") else { panic!("not RedisCluster") };
    assert_eq!(c.urls.len(), 3);
    assert_eq!(c.auth_username.as_deref(), Some("stalwart"));
    assert_eq!(c.auth_secret, SecretSource::EnvironmentVariable("REDIS_PASSWORD".into()));
    assert_eq!(c.max_retry_wait, Some(Duration::from_secs(1)));
    assert_eq!(c.min_retry_wait, Some(Duration::from_millis(10)));
    assert_eq!(c.max_retries, Some(16));
    assert!(c.read_from_replicas);
    assert_eq!(c.protocol_version, Protocol::Resp2);
    assert_eq!(c.connect_options(None).unwrap().len(), 3);
}

#[test]
fn sharded_json() {
    let StoreConfig::Sharded(s) = example("sharded.json") else { panic!("not Sharded") };
    assert_eq!(s.stores.len(), 3);
    let StoreConfig::Redis(second) = &s.stores[1] else { panic!("stores[1] not Redis") };
    assert_eq!(second.pool.max_connections, 20);
    assert!(second.connect_options().unwrap().tls.is_some_and(|t| t.insecure));
    let StoreConfig::RedisCluster(third) = &s.stores[2] else { panic!("stores[2] not RedisCluster") };
    assert_eq!(third.auth_username, None);
    assert_eq!(third.auth_secret, SecretSource::File(PathBuf::from("/run/secrets/valkey-password")));
}

/// Every sample, including ones added later, parses and survives a trip through
/// its normal form.
#[test]
fn every_example_parses_and_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let config = example(&name);
        let normal = config.to_redacted_json();
        let again = redwire::config::parse_value(&normal).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again.to_redacted_json(), normal, "{name}");
        seen += 1;
    }
    assert!(seen >= 4, "only {seen} examples found");
}
