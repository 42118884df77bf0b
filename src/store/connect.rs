//! From a parsed configuration to connection settings: the `timeout`, pool,
//! retry and credential fields of Stalwart's JSON mapped onto the client's options.
//!
//! Lives here: [`redis_options`], [`cluster_options`], [`sentinel_options`],
//! [`pool_options`]. Not here: parsing and validation (`config`), connecting
//! (`remote`).
//!
//! Pure apart from [`cluster_options`] and [`sentinel_options`] reading the
//! secrets (environment or file).

use crate::config::{PoolConfig, RedisClusterConfig, RedisConfig, RedisSentinelConfig};
use crate::conn::ConnectOptions;
use crate::error::{Error, Result};
use crate::pool::PoolOptions;
use crate::route::{ClusterOptions, RetryPolicy};
use crate::sentinel::SentinelOptions;

/// The pool settings; the idle health check keeps its default.
pub fn pool_options(pool: &PoolConfig) -> PoolOptions {
    PoolOptions {
        max_connections: pool.max_connections,
        timeout_create: pool.timeout_create,
        timeout_wait: pool.timeout_wait,
        timeout_recycle: pool.timeout_recycle,
        ..PoolOptions::default()
    }
}

/// A `Redis` store's connection and pool settings: `timeout` bounds both the
/// connect and each reply.
///
/// # Errors
/// [`Error::Url`] for a URL that does not parse.
pub fn redis_options(config: &RedisConfig) -> Result<(ConnectOptions, PoolOptions)> {
    let mut opts = config.connect_options()?;
    opts.response_timeout = Some(config.timeout);
    Ok((opts, pool_options(&config.pool)))
}

/// A `RedisCluster` store's router settings: seeds from `urls` with
/// `authUsername` and the resolved `authSecret`, `protocolVersion`, `timeout`
/// for connects and replies, the retry policy from `maxRetries`,
/// `minRetryWait` and `maxRetryWait` (each [`RetryPolicy::default`]'s when
/// unset), `readFromReplicas` and the pool settings.
///
/// # Errors
/// [`Error::Config`] when the secret cannot be read (naming the variable or
/// file, never the value); [`Error::Url`] for a URL that does not parse.
pub fn cluster_options(config: &RedisClusterConfig) -> Result<ClusterOptions> {
    let password = config.auth_secret.resolve()?;
    let mut seeds = config.connect_options(password.as_ref())?;
    for seed in &mut seeds {
        seed.response_timeout = Some(config.timeout);
    }
    let defaults = RetryPolicy::default();
    let retry = RetryPolicy {
        max_retries: config.max_retries.unwrap_or(defaults.max_retries),
        min_wait: config.min_retry_wait.unwrap_or(defaults.min_wait),
        max_wait: config.max_retry_wait.unwrap_or(defaults.max_wait),
    };
    Ok(ClusterOptions {
        seeds,
        retry,
        read_from_replicas: config.read_from_replicas,
        pool: pool_options(&config.pool),
        cache: config.cache.clone(),
        ..ClusterOptions::default()
    })
}

/// A `RedisSentinel` store's client settings: the sentinels from `urls`
/// (logged into with `sentinelUsername` and the resolved `sentinelSecret`),
/// the master's options with `authUsername` and the resolved `authSecret`,
/// `serviceName`, `timeout` for connects and replies, the pool settings, and
/// the default retry policy (which rides out a promotion, see
/// [`RetryPolicy::default`]).
///
/// # Errors
/// [`Error::Config`] when a secret cannot be read (naming `authSecret` or
/// `sentinelSecret` and the variable or file, never the value);
/// [`Error::Url`] for a URL that does not parse.
pub fn sentinel_options(config: &RedisSentinelConfig) -> Result<SentinelOptions> {
    let sentinel_password = config.resolve_sentinel_secret()?;
    let password = config.auth_secret.resolve()?;
    let options = config.connect_options(sentinel_password.as_ref(), password.as_ref())?;
    Ok(SentinelOptions {
        sentinels: options.sentinels,
        service_name: config.service_name.clone(),
        master: options.master,
        pool: pool_options(&config.pool),
        ..SentinelOptions::default()
    })
}

/// Puts `path` in front of a configuration error's message (`stores[1]` +
/// `authSecret: ...` gives `stores[1].authSecret: ...`); other errors pass through.
pub fn at_path(path: &str, error: Error) -> Error {
    match error {
        Error::Config(message) => Error::Config(format!("{path}.{message}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{parse, SecretSource, StoreConfig};
    use crate::conn::Protocol;

    #[test]
    fn redis_timeout_bounds_connect_and_replies() {
        let config = parse(
            r#"{"@type": "Redis", "url": "redis://h:7000/2", "timeout": "1500ms",
            "poolMaxConnections": 3, "poolTimeoutWait": null}"#,
        )
        .unwrap();
        let StoreConfig::Redis(redis) = config else { panic!("not Redis") };
        let (opts, pool) = redis_options(&redis).unwrap();
        assert_eq!(opts.connect_timeout, Duration::from_millis(1500));
        assert_eq!(opts.response_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(opts.db, 2);
        assert_eq!(pool.max_connections, 3);
        assert_eq!(pool.timeout_wait, None);
        assert_eq!(pool.timeout_create, Some(Duration::from_secs(30)));
    }

    #[test]
    fn a_cluster_store_reads_from_replicas_by_default_as_stalwart_does() {
        // ClusterOptions::default() reads from primaries; the store keeps
        // Stalwart's `readFromReplicas` default (true) all the same.
        let config = parse(
            r#"{"@type": "RedisCluster", "urls": ["redis://a:7000"], "authSecret": {"@type": "None"}}"#,
        )
        .unwrap();
        let StoreConfig::RedisCluster(cluster) = config else { panic!("not RedisCluster") };
        assert!(cluster_options(&cluster).unwrap().read_from_replicas);
        assert!(!ClusterOptions::default().read_from_replicas);
    }

    #[test]
    fn cluster_fields_map_onto_router_options() {
        std::env::set_var("REDWIRE_STORE_CONNECT_TEST_PW", "pw-sentinel");
        let config = parse(
            r#"{"@type": "RedisCluster", "urls": ["redis://a:7000", "redis://u:p@b:7001"], "timeout": "2s",
            "authUsername": "mail", "authSecret": {"@type": "EnvironmentVariable",
            "variableName": "REDWIRE_STORE_CONNECT_TEST_PW"}, "maxRetries": 5, "minRetryWait": "20ms",
            "readFromReplicas": false, "protocolVersion": "resp3", "poolMaxConnections": 4}"#,
        )
        .unwrap();
        let StoreConfig::RedisCluster(cluster) = config else { panic!("not RedisCluster") };
        let opts = cluster_options(&cluster).unwrap();
        assert_eq!(opts.seeds.len(), 2);
        for seed in &opts.seeds {
            assert_eq!(seed.username.as_deref(), Some("mail"));
            assert_eq!(seed.password.as_ref().map(|p| p.expose()), Some("pw-sentinel"));
            assert_eq!(seed.protocol, Protocol::Resp3);
            assert_eq!(seed.response_timeout, Some(Duration::from_secs(2)));
        }
        assert_eq!(opts.retry.max_retries, 5);
        assert_eq!(opts.retry.min_wait, Duration::from_millis(20));
        assert_eq!(opts.retry.max_wait, RetryPolicy::default().max_wait);
        assert!(!opts.read_from_replicas);
        assert_eq!(opts.pool.max_connections, 4);
        assert!(!format!("{opts:?}").contains("pw-sentinel"));
    }

    #[test]
    fn sentinel_fields_map_onto_client_options() {
        std::env::set_var("REDWIRE_STORE_CONNECT_TEST_SENTINEL_PW", "pw-of-sentinels");
        let config = parse(
            r#"{"@type": "RedisSentinel", "urls": ["redis://s1:26379", "redis://s2:26380"],
            "serviceName": "mail", "timeout": "2s", "authUsername": "data",
            "authSecret": {"@type": "Value", "secret": "pw-of-data"}, "sentinelUsername": "watch",
            "sentinelSecret": {"@type": "EnvironmentVariable", "variableName": "REDWIRE_STORE_CONNECT_TEST_SENTINEL_PW"},
            "poolMaxConnections": 4}"#,
        )
        .unwrap();
        let StoreConfig::RedisSentinel(sentinel) = config else { panic!("not RedisSentinel") };
        let opts = sentinel_options(&sentinel).unwrap();
        assert_eq!(opts.service_name, "mail");
        assert_eq!(opts.sentinels.len(), 2);
        for s in &opts.sentinels {
            assert_eq!(s.username.as_deref(), Some("watch"));
            assert_eq!(s.password.as_ref().map(|p| p.expose()), Some("pw-of-sentinels"));
            assert_eq!(s.response_timeout, Some(Duration::from_secs(2)));
        }
        assert_eq!(opts.master.username.as_deref(), Some("data"));
        assert_eq!(opts.master.password.as_ref().map(|p| p.expose()), Some("pw-of-data"));
        assert_eq!(opts.master.connect_timeout, Duration::from_secs(2));
        assert_eq!(opts.pool.max_connections, 4);
        assert!(opts.watch);
        let shown = format!("{opts:?}");
        assert!(!shown.contains("pw-of-data") && !shown.contains("pw-of-sentinels"), "{shown}");
    }

    #[test]
    fn unreadable_secret_names_the_variable_and_path() {
        let cluster = RedisClusterConfig {
            auth_secret: SecretSource::EnvironmentVariable("REDWIRE_STORE_CONNECT_TEST_UNSET".into()),
            ..RedisClusterConfig::default()
        };
        let e = at_path("stores[1]", cluster_options(&cluster).unwrap_err());
        assert!(
            matches!(&e, Error::Config(m) if m.starts_with("stores[1].authSecret: environment variable \"REDWIRE_STORE_CONNECT_TEST_UNSET\"")),
            "{e}"
        );
    }
}
