//! The JSON walk: `serde_json::Value` into [`StoreConfig`], collecting every error.
//!
//! Lives here: [`parse`] and [`parse_value`], the per-variant field lists, and
//! the did-you-mean for unknown fields. Not here: the types (`config`), duration
//! syntax (`duration`), reading secrets (`secret_source`).
//!
//! The walk never stops at the first problem: a bad field is recorded with its
//! path and replaced by its default so the rest of the document is still
//! checked. A value is quoted in a message only where it cannot be a secret
//! (`authSecret.secret` never is; URL errors come from `url`, which never
//! quotes passwords).
//!
//! Pure: no IO.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use super::duration::{kind, parse_duration, quote};
use super::*;
use sentinel::SENTINEL_FIELDS;

mod cache;
mod sentinel;

const TYPES: &str = "Default, Sharded, Redis, RedisCluster or RedisSentinel";
const REDIS_FIELDS: &[&str] = &[
    "url",
    "timeout",
    "poolMaxConnections",
    "poolTimeoutCreate",
    "poolTimeoutWait",
    "poolTimeoutRecycle",
    "compat",
    "cache",
];
const CLUSTER_FIELDS: &[&str] = &[
    "urls",
    "timeout",
    "authUsername",
    "authSecret",
    "maxRetryWait",
    "minRetryWait",
    "maxRetries",
    "readFromReplicas",
    "protocolVersion",
    "poolMaxConnections",
    "poolTimeoutCreate",
    "poolTimeoutWait",
    "poolTimeoutRecycle",
    "compat",
    "cache",
];
const SHARDED_FIELDS: &[&str] = &["stores", "compat"];

/// Parses a JSON `InMemoryStore` document.
///
/// ```
/// use redwire::config::{parse, StoreConfig};
/// let config = parse(r#"{"@type": "Redis", "url": "redis://cache:6379", "poolMaxConnections": 32}"#).unwrap();
/// let StoreConfig::Redis(redis) = config else { unreachable!() };
/// assert_eq!(redis.pool.max_connections, 32);
/// assert_eq!(redis.timeout, std::time::Duration::from_secs(10));
/// ```
///
/// # Errors
/// [`ConfigErrors`] listing every problem found, each with its JSON path.
pub fn parse(json: &str) -> Result<StoreConfig, ConfigErrors> {
    parse_with(json, UnknownFields::Reject).map(|parsed| parsed.config)
}

/// Parses an already decoded JSON `InMemoryStore` document (as [`parse`]).
///
/// # Errors
/// [`ConfigErrors`] listing every problem found, each with its JSON path.
pub fn parse_value(value: &Value) -> Result<StoreConfig, ConfigErrors> {
    parse_value_with(value, UnknownFields::Reject).map(|parsed| parsed.config)
}

/// What the parser does with a field it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownFields {
    /// An error naming the field (with a did-you-mean): the default, since a
    /// misspelt field would otherwise silently keep its default.
    #[default]
    Reject,
    /// Ignore the field and report it in [`Parsed::warnings`], so a
    /// configuration written for a newer Stalwart still loads. Unknown
    /// `"@type"` values stay errors.
    WarnAndIgnore,
}

/// A parsed configuration and the warnings the parse produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The configuration.
    pub config: StoreConfig,
    /// Fields ignored under [`UnknownFields::WarnAndIgnore`], each with its
    /// JSON path (`stores[0].newOption`) and the same message an error would
    /// have; empty under [`UnknownFields::Reject`].
    pub warnings: Vec<ConfigError>,
}

/// Parses a JSON `InMemoryStore` document, with `unknown` deciding about
/// unknown fields (see [`UnknownFields`]).
///
/// ```
/// use redwire::config::{parse_with, UnknownFields};
/// let json = r#"{"@type": "Redis", "url": "redis://cache", "fromTheFuture": 1}"#;
/// assert!(parse_with(json, UnknownFields::Reject).is_err());
/// let parsed = parse_with(json, UnknownFields::WarnAndIgnore).unwrap();
/// assert_eq!(parsed.warnings[0].path, "fromTheFuture");
/// ```
///
/// # Errors
/// [`ConfigErrors`] listing every problem found, each with its JSON path.
pub fn parse_with(json: &str, unknown: UnknownFields) -> Result<Parsed, ConfigErrors> {
    match serde_json::from_str::<Value>(json) {
        Ok(value) => parse_value_with(&value, unknown),
        Err(e) => Err(ConfigErrors::new(vec![ConfigError::new("", format!("invalid JSON: {e}"))])),
    }
}

/// As [`parse_with`], for an already decoded document.
///
/// # Errors
/// [`ConfigErrors`] listing every problem found, each with its JSON path.
pub fn parse_value_with(value: &Value, unknown: UnknownFields) -> Result<Parsed, ConfigErrors> {
    let mut walker = Walker { errors: Vec::new(), unknown, warnings: Vec::new() };
    let config = walker.store(value, "", false);
    if walker.errors.is_empty() {
        Ok(Parsed { config, warnings: walker.warnings })
    } else {
        Err(ConfigErrors::new(walker.errors))
    }
}

struct Walker {
    errors: Vec<ConfigError>,
    unknown: UnknownFields,
    warnings: Vec<ConfigError>,
}

/// One JSON object being read, with its path.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

impl Obj<'_> {
    fn path_of(&self, name: &str) -> String {
        join(self.path, name)
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

impl Walker {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::new(path, message));
    }

    /// A store object; `nested` inside `Sharded.stores`, where only Redis and
    /// RedisCluster are allowed.
    fn store(&mut self, value: &Value, path: &str, nested: bool) -> StoreConfig {
        let Value::Object(map) = value else {
            self.error(path, format!("expected an object with an \"@type\" field, got {}", kind(value)));
            return StoreConfig::Default;
        };
        let obj = Obj { map, path };
        let type_path = obj.path_of("@type");
        let expected = if nested { "Redis or RedisCluster" } else { TYPES };
        let type_name = match map.get("@type") {
            None => {
                self.error(type_path, format!("missing (expected {expected})"));
                return StoreConfig::Default;
            }
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                self.error(type_path, format!("expected a string ({expected}), got {}", kind(other)));
                return StoreConfig::Default;
            }
        };
        match (type_name, nested) {
            ("Default", false) => {
                self.unknown_fields(&obj, &[], "Default");
                StoreConfig::Default
            }
            ("Sharded", false) => StoreConfig::Sharded(self.sharded(&obj)),
            ("Redis", _) => StoreConfig::Redis(self.redis(&obj)),
            ("RedisCluster", _) => StoreConfig::RedisCluster(self.cluster(&obj)),
            ("RedisSentinel", false) => StoreConfig::RedisSentinel(self.sentinel(&obj)),
            ("Default" | "Sharded" | "RedisSentinel", true) => {
                self.error(
                    type_path,
                    format!("\"{type_name}\" is not allowed inside a Sharded store (expected {expected})"),
                );
                StoreConfig::Default
            }
            (other, _) => {
                let allowed: &[&str] = if nested {
                    &["Redis", "RedisCluster"]
                } else {
                    &["Default", "Sharded", "Redis", "RedisCluster", "RedisSentinel"]
                };
                let hint =
                    suggest(other, allowed).map(|s| format!("; did you mean {s}?")).unwrap_or_default();
                self.error(type_path, format!("unknown type {} (expected {expected}{hint})", quote(other)));
                StoreConfig::Default
            }
        }
    }

    fn sharded(&mut self, obj: &Obj<'_>) -> ShardedConfig {
        self.unknown_fields(obj, SHARDED_FIELDS, "Sharded");
        let path = obj.path_of("stores");
        let items = match obj.map.get("stores") {
            None => {
                self.error(path, "missing (a Sharded store needs at least 2 stores)");
                return ShardedConfig { stores: Vec::new(), compat: self.compat(obj) };
            }
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.error(path, format!("expected an array of at least 2 stores, got {}", kind(other)));
                return ShardedConfig { stores: Vec::new(), compat: self.compat(obj) };
            }
        };
        if items.len() < 2 {
            self.error(path.clone(), format!("needs at least 2 stores, got {}", items.len()));
        }
        let stores = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.store(item, &format!("{path}[{i}]"), true))
            .collect();
        ShardedConfig { stores, compat: self.compat(obj) }
    }

    fn redis(&mut self, obj: &Obj<'_>) -> RedisConfig {
        self.unknown_fields(obj, REDIS_FIELDS, "Redis");
        let url = match obj.map.get("url") {
            None => DEFAULT_URL.to_string(),
            Some(value) => self.url(value, obj.path_of("url")).unwrap_or_else(|| DEFAULT_URL.to_string()),
        };
        RedisConfig {
            url,
            timeout: self.timeout(obj),
            pool: self.pool(obj),
            compat: self.compat(obj),
            cache: self.cache(obj),
        }
    }

    fn cluster(&mut self, obj: &Obj<'_>) -> RedisClusterConfig {
        self.unknown_fields(obj, CLUSTER_FIELDS, "RedisCluster");
        let defaults = RedisClusterConfig::default();
        let urls = match obj.map.get("urls") {
            None => defaults.urls,
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    self.error(obj.path_of("urls"), "must not be empty (give at least one URL)");
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| self.url(item, obj.path_of(&format!("urls[{i}]"))))
                    .collect()
            }
            Some(other) => {
                self.error(obj.path_of("urls"), format!("expected an array of URLs, got {}", kind(other)));
                defaults.urls
            }
        };
        let timeout = self.timeout(obj);
        let auth_username = match obj.map.get("authUsername") {
            None => defaults.auth_username,
            Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(
                    obj.path_of("authUsername"),
                    format!("expected a string or null, got {}", kind(other)),
                );
                None
            }
        };
        let auth_secret = self.secret(obj);
        let max_retry_wait = self.retry_wait(obj, "maxRetryWait");
        let min_retry_wait = self.retry_wait(obj, "minRetryWait");
        let max_retries = match obj.map.get("maxRetries") {
            None | Some(Value::Null) => None,
            Some(value) => self.uint(value, obj.path_of("maxRetries"), MAX_RETRIES_RANGE),
        };
        let read_from_replicas = match obj.map.get("readFromReplicas") {
            None => defaults.read_from_replicas,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.error(
                    obj.path_of("readFromReplicas"),
                    format!("expected true or false, got {}", kind(other)),
                );
                defaults.read_from_replicas
            }
        };
        let protocol_version = match obj.map.get("protocolVersion") {
            None => defaults.protocol_version,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("resp2") => Protocol::Resp2,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("resp3") => Protocol::Resp3,
            Some(Value::String(s)) => {
                let message = format!("unknown protocol {} (expected \"resp2\" or \"resp3\")", quote(s));
                self.error(obj.path_of("protocolVersion"), message);
                defaults.protocol_version
            }
            Some(other) => {
                let message = format!("expected \"resp2\" or \"resp3\", got {}", kind(other));
                self.error(obj.path_of("protocolVersion"), message);
                defaults.protocol_version
            }
        };
        RedisClusterConfig {
            urls,
            timeout,
            auth_username,
            auth_secret,
            max_retry_wait,
            min_retry_wait,
            max_retries,
            read_from_replicas,
            protocol_version,
            pool: self.pool(obj),
            compat: self.compat(obj),
            cache: self.cache(obj),
        }
    }

    /// `compat`: `"redwire"` (default) or `"stalwart-0.16"`, only on the
    /// top-level object (a Sharded store's shards follow the Sharded store).
    fn compat(&mut self, obj: &Obj<'_>) -> Compat {
        let Some(value) = obj.map.get("compat") else { return Compat::default() };
        let path = obj.path_of("compat");
        if !obj.path.is_empty() {
            self.error(path, "set compat on the Sharded store; it applies to every shard");
            return Compat::default();
        }
        let expected = "\"redwire\" or \"stalwart-0.16\"";
        match value {
            Value::String(s) => Compat::from_name(s).unwrap_or_else(|| {
                self.error(path, format!("unknown compat {} (expected {expected})", quote(s)));
                Compat::default()
            }),
            other => {
                self.error(path, format!("expected {expected}, got {}", kind(other)));
                Compat::default()
            }
        }
    }

    /// A URL string, validated by `url::parse_url` (whose messages never quote a password).
    fn url(&mut self, value: &Value, path: String) -> Option<String> {
        let Value::String(text) = value else {
            self.error(path, format!("expected a URL string, got {}", kind(value)));
            return None;
        };
        match parse_url(text) {
            Ok(_) => Some(text.trim().to_string()),
            Err(Error::Url(message)) => {
                self.error(path, message);
                None
            }
            Err(other) => {
                self.error(path, other.to_string());
                None
            }
        }
    }

    /// `timeout`: required to be above zero (a zero connect timeout fails every connect).
    fn timeout(&mut self, obj: &Obj<'_>) -> Duration {
        let path = obj.path_of("timeout");
        match obj.map.get("timeout") {
            None => DEFAULT_TIMEOUT,
            Some(Value::Null) => {
                self.error(path, "must not be null (expected a duration such as \"10s\")");
                DEFAULT_TIMEOUT
            }
            Some(value) => match parse_duration(value) {
                Ok(d) if d.is_zero() => {
                    self.error(path, "must be greater than zero");
                    DEFAULT_TIMEOUT
                }
                Ok(d) => d,
                Err(message) => {
                    self.error(path, message);
                    DEFAULT_TIMEOUT
                }
            },
        }
    }

    fn pool(&mut self, obj: &Obj<'_>) -> PoolConfig {
        let max_connections = match obj.map.get("poolMaxConnections") {
            None => DEFAULT_POOL_MAX_CONNECTIONS,
            Some(Value::Null) => {
                self.error(obj.path_of("poolMaxConnections"), "must not be null (expected 1 to 8192)");
                DEFAULT_POOL_MAX_CONNECTIONS
            }
            Some(value) => self
                .uint(value, obj.path_of("poolMaxConnections"), POOL_MAX_CONNECTIONS_RANGE)
                .unwrap_or(DEFAULT_POOL_MAX_CONNECTIONS),
        };
        PoolConfig {
            max_connections,
            timeout_create: self.pool_timeout(obj, "poolTimeoutCreate"),
            timeout_wait: self.pool_timeout(obj, "poolTimeoutWait"),
            timeout_recycle: self.pool_timeout(obj, "poolTimeoutRecycle"),
        }
    }

    /// Missing: 30s. `null`: no limit.
    fn pool_timeout(&mut self, obj: &Obj<'_>, name: &str) -> Option<Duration> {
        match obj.map.get(name) {
            None => Some(DEFAULT_POOL_TIMEOUT),
            Some(Value::Null) => None,
            Some(value) => match parse_duration(value) {
                Ok(d) => Some(d),
                Err(message) => {
                    self.error(obj.path_of(name), message);
                    Some(DEFAULT_POOL_TIMEOUT)
                }
            },
        }
    }

    /// `maxRetryWait` / `minRetryWait`: optional; the bounds 1..=1024 apply to
    /// the value in milliseconds (Stalwart's documented min and max carry no
    /// unit; its retry waits are kept in milliseconds).
    fn retry_wait(&mut self, obj: &Obj<'_>, name: &str) -> Option<Duration> {
        let value = match obj.map.get(name) {
            None | Some(Value::Null) => return None,
            Some(value) => value,
        };
        let (min, max) = RETRY_WAIT_MS_RANGE;
        match parse_duration(value) {
            Ok(d) => {
                let ms = d.as_millis();
                if ms < u128::from(min) {
                    self.error(obj.path_of(name), format!("{ms}ms is below the minimum {min}ms"));
                    None
                } else if ms > u128::from(max) {
                    self.error(obj.path_of(name), format!("{ms}ms is above the maximum {max}ms"));
                    None
                } else {
                    Some(d)
                }
            }
            Err(message) => {
                self.error(obj.path_of(name), message);
                None
            }
        }
    }

    /// A whole number within `(min, max)`, inclusive.
    fn uint(&mut self, value: &Value, path: String, (min, max): (u32, u32)) -> Option<u32> {
        let Value::Number(n) = value else {
            self.error(path, format!("expected a whole number from {min} to {max}, got {}", kind(value)));
            return None;
        };
        if let Some(v) = n.as_u64() {
            if v < u64::from(min) {
                self.error(path, format!("{v} is below the minimum {min}"));
            } else if v > u64::from(max) {
                self.error(path, format!("{v} is above the maximum {max}"));
            } else {
                return u32::try_from(v).ok();
            }
        } else if let Some(v) = n.as_i64() {
            self.error(path, format!("{v} is below the minimum {min}"));
        } else {
            self.error(path, format!("{n} is not a whole number (expected {min} to {max})"));
        }
        None
    }

    /// `authSecret`: required; one of the four `SecretKeyOptional` forms.
    fn secret(&mut self, obj: &Obj<'_>) -> SecretSource {
        self.secret_field(obj, "authSecret")
    }

    /// The secret field `name`, required; one of the four `SecretKeyOptional` forms.
    fn secret_field(&mut self, obj: &Obj<'_>, name: &str) -> SecretSource {
        const FORMS: &str = "None, Value, EnvironmentVariable or File";
        let path = obj.path_of(name);
        let map = match obj.map.get(name) {
            None => {
                self.error(path, "missing (required; write {\"@type\": \"None\"} for no password)");
                return SecretSource::None;
            }
            Some(Value::Object(map)) => map,
            Some(other) => {
                let message = format!("expected an object with an \"@type\" of {FORMS}, got {}", kind(other));
                self.error(path, message);
                return SecretSource::None;
            }
        };
        let inner = Obj { map, path: &path };
        let type_name = match map.get("@type") {
            Some(Value::String(s)) => s.as_str(),
            None => {
                self.error(inner.path_of("@type"), format!("missing (expected {FORMS})"));
                return SecretSource::None;
            }
            Some(other) => {
                self.error(
                    inner.path_of("@type"),
                    format!("expected a string ({FORMS}), got {}", kind(other)),
                );
                return SecretSource::None;
            }
        };
        match type_name {
            "None" => {
                self.unknown_fields(&inner, &[], "None");
                SecretSource::None
            }
            "Value" => {
                self.unknown_fields(&inner, &["secret"], "Value");
                // Never quoted, whatever it is.
                match map.get("secret") {
                    Some(Value::String(s)) if !s.is_empty() => SecretSource::Value(Secret::new(s.as_str())),
                    Some(Value::String(_)) => {
                        self.error(inner.path_of("secret"), "must not be empty (use {\"@type\": \"None\"})");
                        SecretSource::None
                    }
                    None => {
                        self.error(inner.path_of("secret"), "missing (required)");
                        SecretSource::None
                    }
                    Some(other) => {
                        self.error(
                            inner.path_of("secret"),
                            format!("expected a string, got {}", kind(other)),
                        );
                        SecretSource::None
                    }
                }
            }
            "EnvironmentVariable" => {
                self.unknown_fields(&inner, &["variableName"], "EnvironmentVariable");
                match self.required_string(&inner, "variableName") {
                    Some(name) if name.contains(['=', '\0']) => {
                        self.error(inner.path_of("variableName"), "must not contain '=' or NUL");
                        SecretSource::None
                    }
                    Some(name) => SecretSource::EnvironmentVariable(name),
                    None => SecretSource::None,
                }
            }
            "File" => {
                self.unknown_fields(&inner, &["filePath"], "File");
                match self.required_string(&inner, "filePath") {
                    Some(path) => SecretSource::File(PathBuf::from(path)),
                    None => SecretSource::None,
                }
            }
            other => {
                let hint = suggest(other, &["None", "Value", "EnvironmentVariable", "File"])
                    .map(|s| format!("; did you mean {s}?"))
                    .unwrap_or_default();
                self.error(
                    inner.path_of("@type"),
                    format!("unknown type {} (expected {FORMS}{hint})", quote(other)),
                );
                SecretSource::None
            }
        }
    }

    fn required_string(&mut self, obj: &Obj<'_>, name: &str) -> Option<String> {
        match obj.map.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::String(_)) => {
                self.error(obj.path_of(name), "must not be empty");
                None
            }
            None => {
                self.error(obj.path_of(name), "missing (required)");
                None
            }
            Some(other) => {
                self.error(obj.path_of(name), format!("expected a string, got {}", kind(other)));
                None
            }
        }
    }

    /// Records every key of `obj` other than `@type` that is not in `allowed`.
    fn unknown_fields(&mut self, obj: &Obj<'_>, allowed: &[&str], variant: &str) {
        for key in obj.map.keys() {
            if key == "@type" || allowed.contains(&key.as_str()) {
                continue;
            }
            let hint = if let Some(s) = suggest(key, allowed) {
                format!(" (did you mean {s}?)")
            } else if allowed.is_empty() {
                format!(" (\"{variant}\" takes no other fields)")
            } else if let Some(owner) = owner_of(key, variant) {
                format!(" (it belongs to \"{owner}\", not \"{variant}\")")
            } else {
                format!(" (\"{variant}\" takes {})", allowed.join(", "))
            };
            let problem = ConfigError::new(obj.path_of(key), format!("unknown field{hint}"));
            match self.unknown {
                UnknownFields::Reject => self.errors.push(problem),
                UnknownFields::WarnAndIgnore => self.warnings.push(problem),
            }
        }
    }
}

/// The store variant that has `field`, when `variant` does not.
fn owner_of(field: &str, variant: &str) -> Option<&'static str> {
    [
        ("Redis", REDIS_FIELDS),
        ("RedisCluster", CLUSTER_FIELDS),
        ("RedisSentinel", SENTINEL_FIELDS),
        ("Sharded", SHARDED_FIELDS),
    ]
    .into_iter()
    .find(|(name, fields)| *name != variant && fields.contains(&field))
    .map(|(name, _)| name)
}

/// The candidate closest to `name`: equal ignoring case, `_` and `-`, or within
/// a small edit distance (2, or 3 for long names).
pub(super) fn suggest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let normal = |s: &str| -> String {
        s.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
    };
    let wanted = normal(name);
    candidates
        .iter()
        .map(|c| (edit_distance(&wanted, &normal(c)), *c))
        .filter(|(d, c)| *d <= if c.len() >= 12 { 3 } else { 2 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous.get(j).map_or(usize::MAX, |d| d + usize::from(ca != *cb));
            let delete = previous.get(j + 1).map_or(usize::MAX, |d| d + 1);
            let insert = current.last().map_or(usize::MAX, |d| d + 1);
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}
