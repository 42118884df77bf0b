//! Stalwart's `InMemoryStore` JSON configuration, parsed and validated.
//!
//! Lives here: the configuration types ([`StoreConfig`] and its variants), the
//! parser [`parse`] (a hand walk over `serde_json::Value`, so every error carries
//! its JSON path and unknown fields are rejected by name), the secret sources
//! ([`SecretSource`], resolved in a separate step), duration syntax, and
//! [`StoreConfig::to_redacted_json`] for showing the effective configuration.
//! Not here: building stores from it (`store`), or connection URLs (`url`, which
//! this module uses to validate every URL up front).
//!
//! The accepted document is exactly Stalwart's: `"@type"` is `Default`,
//! `Sharded`, `Redis`, `RedisCluster` or `RedisSentinel`, field names are camelCase, and the
//! defaults and bounds are the ones Stalwart documents (listed on each field
//! below). Every problem in a document is reported at once, each as
//! `path: message` (for example `stores[1].poolMaxConnections: 0 is below the
//! minimum 1`); secrets never appear in messages, `Debug` or the redacted JSON.
//!
//! Unknown fields are errors by default; [`parse_with`] with
//! [`UnknownFields::WarnAndIgnore`] ignores them and returns them as
//! warnings instead, for a configuration written by a newer Stalwart.
//!
//! Pure: no tokio; std IO only in [`SecretSource::resolve`] and
//! [`StoreConfig::check_sources`].

mod check;
mod compat;
mod duration;
mod error;
mod parse;
mod secret_source;
mod sentinel;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use serde_json::{json, Value};

pub use compat::Compat;
pub use error::{ConfigError, ConfigErrors};
pub use parse::{parse, parse_value, parse_value_with, parse_with, Parsed, UnknownFields};
pub use secret_source::SecretSource;
pub use sentinel::{RedisSentinelConfig, SentinelConnectOptions, DEFAULT_SENTINEL_URL, DEFAULT_SERVICE_NAME};

use crate::conn::{ConnectOptions, Protocol};
use crate::error::Error;
use crate::secret::Secret;
use crate::url::{parse_url, redact_url};
use duration::format_duration;

/// `url` when the field is missing.
pub const DEFAULT_URL: &str = "redis://127.0.0.1";
/// `timeout` when the field is missing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// `poolMaxConnections` when the field is missing.
pub const DEFAULT_POOL_MAX_CONNECTIONS: u32 = 10;
/// Bounds of `poolMaxConnections`, inclusive.
pub const POOL_MAX_CONNECTIONS_RANGE: (u32, u32) = (1, 8192);
/// Each pool timeout when its field is missing (JSON `null` means no limit).
pub const DEFAULT_POOL_TIMEOUT: Duration = Duration::from_secs(30);
/// `authUsername` when the field is missing (JSON `null` means no user name).
pub const DEFAULT_AUTH_USERNAME: &str = "stalwart";
/// Bounds of `maxRetryWait` and `minRetryWait`, in milliseconds, inclusive.
pub const RETRY_WAIT_MS_RANGE: (u64, u64) = (1, 1024);
/// Bounds of `maxRetries`, inclusive.
pub const MAX_RETRIES_RANGE: (u32, u32) = (1, 1024);

/// One in-memory store configuration (Stalwart's `InMemoryStore`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum StoreConfig {
    /// `"@type": "Default"`: the embedded in-process store (`store::embedded`).
    #[default]
    Default,
    /// `"@type": "Sharded"`: keys spread over several Redis or cluster stores.
    Sharded(ShardedConfig),
    /// `"@type": "Redis"`: one Redis/Valkey server.
    Redis(RedisConfig),
    /// `"@type": "RedisCluster"`: a Redis/Valkey cluster.
    RedisCluster(RedisClusterConfig),
    /// `"@type": "RedisSentinel"`: a master and its replicas watched by
    /// sentinels (not allowed inside `Sharded`).
    RedisSentinel(RedisSentinelConfig),
}

/// `"@type": "Sharded"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardedConfig {
    /// `stores`: at least 2, each a [`StoreConfig::Redis`] or
    /// [`StoreConfig::RedisCluster`] (Stalwart's `InMemoryStoreBase`).
    pub stores: Vec<StoreConfig>,
    /// `compat` (redwire's own): applies to every shard, see [`Compat`].
    pub compat: Compat,
}

/// Connection pool settings, shared by the Redis and RedisCluster variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// `poolMaxConnections`: 1 to 8192, default 10.
    pub max_connections: u32,
    /// `poolTimeoutCreate`: default 30s; `None` (JSON `null`) = no limit.
    pub timeout_create: Option<Duration>,
    /// `poolTimeoutWait`: default 30s; `None` (JSON `null`) = no limit.
    pub timeout_wait: Option<Duration>,
    /// `poolTimeoutRecycle`: default 30s; `None` (JSON `null`) = no limit.
    pub timeout_recycle: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: DEFAULT_POOL_MAX_CONNECTIONS,
            timeout_create: Some(DEFAULT_POOL_TIMEOUT),
            timeout_wait: Some(DEFAULT_POOL_TIMEOUT),
            timeout_recycle: Some(DEFAULT_POOL_TIMEOUT),
        }
    }
}

/// `"@type": "Redis"`. `Debug` hides the password inside `url`.
#[derive(Clone, PartialEq)]
pub struct RedisConfig {
    /// `url`: default `redis://127.0.0.1`; already validated by [`parse_url`].
    pub url: String,
    /// `timeout`: connect timeout, default 10s, must be above zero.
    pub timeout: Duration,
    /// The `pool*` fields.
    pub pool: PoolConfig,
    /// `compat` (redwire's own, top level only), see [`Compat`].
    pub compat: Compat,
    /// `cache` (redwire's own): client-side caching, off when `None`.
    pub cache: Option<crate::cache::CacheOptions>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: DEFAULT_URL.to_string(),
            timeout: DEFAULT_TIMEOUT,
            pool: PoolConfig::default(),
            compat: Compat::default(),
            cache: None,
        }
    }
}

impl RedisConfig {
    /// The options for one connection: the URL's, with `timeout` as the connect timeout.
    ///
    /// # Errors
    /// [`Error::Url`] if `url` does not parse (only possible when it was set by
    /// hand, not by [`parse`]).
    pub fn connect_options(&self) -> Result<ConnectOptions, Error> {
        let mut options = parse_url(&self.url)?;
        options.connect_timeout = self.timeout;
        Ok(options)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("timeout", &self.timeout)
            .field("pool", &self.pool)
            .field("compat", &self.compat)
            .field("cache", &self.cache)
            .finish()
    }
}

/// `"@type": "RedisCluster"`. `Debug` hides passwords inside `urls`.
#[derive(Clone, PartialEq)]
pub struct RedisClusterConfig {
    /// `urls`: seed nodes, default `["redis://127.0.0.1"]`, never empty; each
    /// validated by [`parse_url`].
    pub urls: Vec<String>,
    /// `timeout`: connect timeout, default 10s, must be above zero.
    pub timeout: Duration,
    /// `authUsername`: default `"stalwart"`; `None` for JSON `null` or `""`.
    pub auth_username: Option<String>,
    /// `authSecret`: required in the JSON (`{"@type": "None"}` for no password).
    pub auth_secret: SecretSource,
    /// `maxRetryWait`: optional, 1 to 1024 milliseconds.
    pub max_retry_wait: Option<Duration>,
    /// `minRetryWait`: optional, 1 to 1024 milliseconds.
    pub min_retry_wait: Option<Duration>,
    /// `maxRetries`: optional, 1 to 1024.
    pub max_retries: Option<u32>,
    /// `readFromReplicas`: default true.
    pub read_from_replicas: bool,
    /// `protocolVersion`: `"resp2"` (default) or `"resp3"`.
    pub protocol_version: Protocol,
    /// The `pool*` fields.
    pub pool: PoolConfig,
    /// `compat` (redwire's own, top level only), see [`Compat`].
    pub compat: Compat,
    /// `cache` (redwire's own): client-side caching, off when `None`.
    pub cache: Option<crate::cache::CacheOptions>,
}

impl Default for RedisClusterConfig {
    /// Stalwart's defaults, with no password (the JSON has none: it must name one).
    fn default() -> Self {
        RedisClusterConfig {
            urls: vec![DEFAULT_URL.to_string()],
            timeout: DEFAULT_TIMEOUT,
            auth_username: Some(DEFAULT_AUTH_USERNAME.to_string()),
            auth_secret: SecretSource::None,
            max_retry_wait: None,
            min_retry_wait: None,
            max_retries: None,
            read_from_replicas: true,
            protocol_version: Protocol::Resp2,
            pool: PoolConfig::default(),
            compat: Compat::default(),
            cache: None,
        }
    }
}

impl RedisClusterConfig {
    /// The options for each seed URL, in order, with `timeout` as the connect
    /// timeout and `protocolVersion` as the protocol (it wins over a URL's
    /// `?protocol=`). When `password` is `Some` (the resolved `authSecret`), it
    /// and `authUsername` replace any credentials in the URLs; when it is
    /// `None`, the URLs' own credentials stay and `authUsername` is not used,
    /// since a user name alone cannot authenticate.
    ///
    /// # Errors
    /// [`Error::Url`] if a URL does not parse (only possible when set by hand).
    pub fn connect_options(&self, password: Option<&Secret>) -> Result<Vec<ConnectOptions>, Error> {
        self.urls
            .iter()
            .map(|url| {
                let mut options = parse_url(url)?;
                options.connect_timeout = self.timeout;
                options.protocol = self.protocol_version;
                if let Some(password) = password {
                    options.username = self.auth_username.clone();
                    options.password = Some(password.clone());
                }
                Ok(options)
            })
            .collect()
    }
}

impl fmt::Debug for RedisClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self.urls.iter().map(|u| redact_url(u)).collect();
        f.debug_struct("RedisClusterConfig")
            .field("urls", &urls)
            .field("timeout", &self.timeout)
            .field("auth_username", &self.auth_username)
            .field("auth_secret", &self.auth_secret)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("min_retry_wait", &self.min_retry_wait)
            .field("max_retries", &self.max_retries)
            .field("read_from_replicas", &self.read_from_replicas)
            .field("protocol_version", &self.protocol_version)
            .field("pool", &self.pool)
            .field("compat", &self.compat)
            .field("cache", &self.cache)
            .finish()
    }
}

impl StoreConfig {
    /// A `Redis` store for one URL, every other field at its default (the
    /// CLI's `--url`).
    ///
    /// # Errors
    /// [`Error::Url`] if the URL does not parse.
    pub fn from_url(url: &str) -> Result<StoreConfig, Error> {
        parse_url(url)?;
        Ok(StoreConfig::Redis(RedisConfig { url: url.trim().to_string(), ..RedisConfig::default() }))
    }

    /// A `RedisCluster` store for these seed URLs (the CLI's `--cluster`).
    /// Unlike the JSON defaults, no `authUsername` and no `authSecret`:
    /// credentials, if any, come from the URLs.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty list, [`Error::Url`] for a URL that does
    /// not parse.
    pub fn from_cluster_urls<I, S>(urls: I) -> Result<StoreConfig, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let urls = urls
            .into_iter()
            .map(|url| parse_url(url.as_ref()).map(|_| url.as_ref().trim().to_string()))
            .collect::<Result<Vec<String>, Error>>()?;
        if urls.is_empty() {
            return Err(Error::Config("a cluster needs at least one URL".into()));
        }
        Ok(StoreConfig::RedisCluster(RedisClusterConfig {
            urls,
            auth_username: None,
            ..RedisClusterConfig::default()
        }))
    }

    /// The `"@type"` of this variant.
    pub fn type_name(&self) -> &'static str {
        match self {
            StoreConfig::Default => "Default",
            StoreConfig::Sharded(_) => "Sharded",
            StoreConfig::Redis(_) => "Redis",
            StoreConfig::RedisCluster(_) => "RedisCluster",
            StoreConfig::RedisSentinel(_) => "RedisSentinel",
        }
    }

    /// The `compat` of the document ([`Compat::Redwire`] for `Default`, which
    /// has no such field).
    pub fn compat(&self) -> Compat {
        match self {
            StoreConfig::Default => Compat::default(),
            StoreConfig::Sharded(s) => s.compat,
            StoreConfig::Redis(r) => r.compat,
            StoreConfig::RedisCluster(c) => c.compat,
            StoreConfig::RedisSentinel(s) => s.compat,
        }
    }

    /// The configuration as JSON in normal form: every field present with its
    /// default filled in, durations in their largest exact unit (`"10s"`),
    /// `null` for "no limit"/"none", passwords in URLs and `authSecret.secret`
    /// replaced by `"***"`; `compat` only when it is not the default (so
    /// documents that never heard of it print as before). Parsing the result gives back this configuration,
    /// except for the redacted secrets.
    pub fn to_redacted_json(&self) -> Value {
        let mut object = match self {
            StoreConfig::Default => json!({ "@type": "Default" }),
            StoreConfig::Sharded(s) => json!({
                "@type": "Sharded",
                "stores": s.stores.iter().map(StoreConfig::to_redacted_json).collect::<Vec<_>>(),
            }),
            StoreConfig::Redis(r) => {
                let mut object = json!({
                    "@type": "Redis",
                    "url": redact_url(&r.url),
                    "timeout": format_duration(r.timeout),
                });
                add_pool(&mut object, &r.pool);
                add_cache(&mut object, r.cache.as_ref());
                object
            }
            StoreConfig::RedisCluster(c) => {
                let secret = match &c.auth_secret {
                    SecretSource::None => json!({ "@type": "None" }),
                    SecretSource::Value(_) => json!({ "@type": "Value", "secret": "***" }),
                    SecretSource::EnvironmentVariable(name) => {
                        json!({ "@type": "EnvironmentVariable", "variableName": name })
                    }
                    SecretSource::File(path) => {
                        json!({ "@type": "File", "filePath": path.to_string_lossy() })
                    }
                };
                let mut object = json!({
                    "@type": "RedisCluster",
                    "urls": c.urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
                    "timeout": format_duration(c.timeout),
                    "authUsername": c.auth_username,
                    "authSecret": secret,
                    "maxRetryWait": c.max_retry_wait.map(format_duration),
                    "minRetryWait": c.min_retry_wait.map(format_duration),
                    "maxRetries": c.max_retries,
                    "readFromReplicas": c.read_from_replicas,
                    "protocolVersion": match c.protocol_version {
                        Protocol::Resp2 => "resp2",
                        Protocol::Resp3 => "resp3",
                    },
                });
                add_pool(&mut object, &c.pool);
                add_cache(&mut object, c.cache.as_ref());
                object
            }
            StoreConfig::RedisSentinel(s) => s.to_redacted_json(),
        };
        if let (Value::Object(map), compat) = (&mut object, self.compat()) {
            if compat != Compat::default() {
                map.insert("compat".into(), json!(compat.as_str()));
            }
        }
        object
    }
}

/// `cache`, only when there is one (documents without it print as before).
fn add_cache(object: &mut Value, cache: Option<&crate::cache::CacheOptions>) {
    use crate::cache::CacheMode;
    if let (Value::Object(map), Some(c)) = (object, cache) {
        let mut cache = json!({
            "maxBytes": c.max_bytes,
            "maxEntries": c.max_entries,
            "maxEntryBytes": c.max_entry_bytes,
            "maxTtl": format_duration(c.max_ttl),
        });
        if let Value::Object(fields) = &mut cache {
            let mode = match &c.mode {
                CacheMode::Tracking => "tracking",
                CacheMode::Broadcast { prefixes } => {
                    let prefixes: Vec<String> =
                        prefixes.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect();
                    fields.insert("prefixes".into(), json!(prefixes));
                    "broadcast"
                }
                CacheMode::OptIn => "optin",
            };
            fields.insert("mode".into(), json!(mode));
        }
        map.insert("cache".into(), cache);
    }
}

fn add_pool(object: &mut Value, pool: &PoolConfig) {
    if let Value::Object(map) = object {
        map.insert("poolMaxConnections".into(), json!(pool.max_connections));
        map.insert("poolTimeoutCreate".into(), json!(pool.timeout_create.map(format_duration)));
        map.insert("poolTimeoutWait".into(), json!(pool.timeout_wait.map(format_duration)));
        map.insert("poolTimeoutRecycle".into(), json!(pool.timeout_recycle.map(format_duration)));
    }
}
