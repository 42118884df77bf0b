//! `"@type": "RedisSentinel"`: the type, its defaults, its connection options
//! and its redacted form.
//!
//! Lives here: [`RedisSentinelConfig`]. Not here: reading it from JSON
//! (`parse::sentinel`), connecting (`crate::sentinel`, `store`).
//!
//! The fields are Stalwart's. `urls` name the *sentinels*; the master's
//! address comes from them. `rediss://` means TLS to the sentinels and to the
//! master alike (the URLs must agree on it), with the URL's TLS settings
//! (`#insecure`, CA file) for both; the master's certificate is checked
//! against the address the sentinels give. The sentinels are logged into
//! with `sentinelUsername`/`sentinelSecret` (when `sentinelSecret` is set;
//! otherwise with whatever credentials the URL carries), the master with
//! `authUsername`/`authSecret`. A database number in the first URL (`/2`)
//! selects the master's database; sentinels have none.
//!
//! Pure: no IO but [`SecretSource::resolve`] in the caller.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Value};

use super::duration::format_duration;
use super::{add_pool, Compat, PoolConfig, SecretSource, DEFAULT_AUTH_USERNAME, DEFAULT_TIMEOUT};
use crate::conn::{ConnectOptions, Protocol};
use crate::error::Error;
use crate::secret::Secret;
use crate::url::{parse_url, redact_url};

/// `urls` when the field is missing.
pub const DEFAULT_SENTINEL_URL: &str = "redis://127.0.0.1:26379";
/// `serviceName` when the field is missing.
pub const DEFAULT_SERVICE_NAME: &str = "mymaster";

/// `"@type": "RedisSentinel"`. `Debug` hides passwords inside `urls` and the secrets.
#[derive(Clone, PartialEq)]
pub struct RedisSentinelConfig {
    /// `urls`: the sentinels, default `["redis://127.0.0.1:26379"]`, never
    /// empty, all `redis://` or all `rediss://`; each validated by [`parse_url`].
    pub urls: Vec<String>,
    /// `serviceName`: the monitored master's name, default `"mymaster"`, never empty.
    pub service_name: String,
    /// `timeout`: connect and reply timeout, default 10s, above zero.
    pub timeout: Duration,
    /// `authUsername`: the master's user, default `"stalwart"`; `None` for
    /// JSON `null` or `""`.
    pub auth_username: Option<String>,
    /// `authSecret`: the master's password; required in the JSON
    /// (`{"@type": "None"}` for none).
    pub auth_secret: SecretSource,
    /// `sentinelUsername`: the sentinels' user; optional, never `""`.
    pub sentinel_username: Option<String>,
    /// `sentinelSecret`: the sentinels' password; optional (missing or JSON
    /// `null` is [`SecretSource::None`]).
    pub sentinel_secret: SecretSource,
    /// `protocolVersion`: `"resp2"` (default) or `"resp3"`, for the master.
    pub protocol_version: Protocol,
    /// The `pool*` fields, for the master's pool.
    pub pool: PoolConfig,
    /// `compat`: the wire layouts shared with other nodes (see [`Compat`]).
    pub compat: Compat,
}

impl Default for RedisSentinelConfig {
    /// Stalwart's defaults, with no passwords.
    fn default() -> Self {
        RedisSentinelConfig {
            urls: vec![DEFAULT_SENTINEL_URL.to_string()],
            service_name: DEFAULT_SERVICE_NAME.to_string(),
            timeout: DEFAULT_TIMEOUT,
            auth_username: Some(DEFAULT_AUTH_USERNAME.to_string()),
            auth_secret: SecretSource::None,
            sentinel_username: None,
            sentinel_secret: SecretSource::None,
            protocol_version: Protocol::Resp2,
            pool: PoolConfig::default(),
            compat: Compat::default(),
        }
    }
}

impl fmt::Debug for RedisSentinelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self.urls.iter().map(|u| redact_url(u)).collect();
        f.debug_struct("RedisSentinelConfig")
            .field("urls", &urls)
            .field("service_name", &self.service_name)
            .field("timeout", &self.timeout)
            .field("auth_username", &self.auth_username)
            .field("auth_secret", &self.auth_secret)
            .field("sentinel_username", &self.sentinel_username)
            .field("sentinel_secret", &self.sentinel_secret)
            .field("protocol_version", &self.protocol_version)
            .field("pool", &self.pool)
            .finish()
    }
}

/// The options of the sentinels and the template of the master's, from
/// [`RedisSentinelConfig::connect_options`].
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelConnectOptions {
    /// One per URL, in order: TLS from the URL, the sentinel credentials, no database.
    pub sentinels: Vec<ConnectOptions>,
    /// The master's, but for the address: the data credentials, the first
    /// URL's TLS settings (checked against the master's own address) and
    /// database, `protocolVersion`.
    pub master: ConnectOptions,
}

impl RedisSentinelConfig {
    /// The resolved `sentinelSecret`.
    ///
    /// # Errors
    /// [`Error::Config`] starting `sentinelSecret:` naming the variable or file.
    pub fn resolve_sentinel_secret(&self) -> Result<Option<Secret>, Error> {
        self.sentinel_secret.resolve().map_err(|e| match e {
            Error::Config(m) => {
                Error::Config(format!("sentinelSecret: {}", m.strip_prefix("authSecret: ").unwrap_or(&m)))
            }
            other => other,
        })
    }

    /// The sentinels' and the master's options, `timeout` bounding each
    /// connect and reply. `sentinel_password` (the resolved `sentinelSecret`)
    /// with `sentinelUsername` replaces any credentials in the URLs;
    /// `master_password` (the resolved `authSecret`) with `authUsername` logs
    /// into the master, which gets no credentials when it is `None`.
    ///
    /// # Errors
    /// [`Error::Url`] for a URL that does not parse, [`Error::Config`] for
    /// none or for URLs that disagree on TLS (possible only when set by hand).
    pub fn connect_options(
        &self,
        sentinel_password: Option<&Secret>,
        master_password: Option<&Secret>,
    ) -> Result<SentinelConnectOptions, Error> {
        let mut sentinels = Vec::with_capacity(self.urls.len());
        for url in &self.urls {
            let mut options = parse_url(url)?;
            options.connect_timeout = self.timeout;
            options.response_timeout = Some(self.timeout);
            if let Some(password) = sentinel_password {
                options.username = self.sentinel_username.clone();
                options.password = Some(password.clone());
            }
            sentinels.push(options);
        }
        let Some(first) = sentinels.first().cloned() else {
            return Err(Error::Config("urls: a RedisSentinel store needs at least one sentinel".into()));
        };
        if let Some(i) = tls_mismatch(&self.urls) {
            return Err(Error::Config(format!("urls[{i}]: {TLS_MISMATCH}")));
        }
        let mut master = first;
        for sentinel in &mut sentinels {
            sentinel.db = 0;
        }
        if let Some(tls) = &mut master.tls {
            tls.server_name = None;
        }
        master.protocol = self.protocol_version;
        master.username = None;
        master.password = None;
        if let Some(password) = master_password {
            master.username = self.auth_username.clone();
            master.password = Some(password.clone());
        }
        Ok(SentinelConnectOptions { sentinels, master })
    }

    /// The normal form (see [`super::StoreConfig::to_redacted_json`]).
    pub(super) fn to_redacted_json(&self) -> Value {
        let mut object = json!({
            "@type": "RedisSentinel",
            "urls": self.urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
            "serviceName": self.service_name,
            "timeout": format_duration(self.timeout),
            "authUsername": self.auth_username,
            "authSecret": redacted_secret(&self.auth_secret),
            "sentinelUsername": self.sentinel_username,
            "sentinelSecret": redacted_secret(&self.sentinel_secret),
            "protocolVersion": match self.protocol_version {
                Protocol::Resp2 => "resp2",
                Protocol::Resp3 => "resp3",
            },
        });
        add_pool(&mut object, &self.pool);
        object
    }
}

/// Why URLs that mix `redis://` and `rediss://` are refused.
pub(super) const TLS_MISMATCH: &str =
    "mixes TLS and plain URLs (rediss:// means TLS to every sentinel and to the master: use one scheme)";

/// The index of the first URL whose TLS differs from the first URL's.
pub(super) fn tls_mismatch(urls: &[String]) -> Option<usize> {
    let tls = |url: &String| parse_url(url).map(|o| o.tls.is_some()).ok();
    let first = urls.first().and_then(tls)?;
    urls.iter().position(|url| tls(url).is_some_and(|t| t != first))
}

fn redacted_secret(source: &SecretSource) -> Value {
    match source {
        SecretSource::None => json!({ "@type": "None" }),
        SecretSource::Value(_) => json!({ "@type": "Value", "secret": "***" }),
        SecretSource::EnvironmentVariable(name) => {
            json!({ "@type": "EnvironmentVariable", "variableName": name })
        }
        SecretSource::File(path) => json!({ "@type": "File", "filePath": path.to_string_lossy() }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{parse_value, StoreConfig};
    use super::*;
    use crate::conn::Address;

    const PW: &str = "s3ntinel-Pa55";

    fn sentinel(fields: Value) -> RedisSentinelConfig {
        let mut object = json!({"@type": "RedisSentinel", "authSecret": {"@type": "None"}});
        if let (Value::Object(target), Value::Object(source)) = (&mut object, fields) {
            target.extend(source);
        }
        match parse_value(&object) {
            Ok(StoreConfig::RedisSentinel(c)) => c,
            other => panic!("{object}: {other:?}"),
        }
    }

    fn errors(value: Value) -> String {
        match parse_value(&value) {
            Ok(c) => panic!("{value} parsed: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_are_stalwarts() {
        let c = sentinel(json!({}));
        assert_eq!(c, RedisSentinelConfig::default());
        assert_eq!(c.urls, ["redis://127.0.0.1:26379"]);
        assert_eq!(c.service_name, "mymaster");
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.auth_username.as_deref(), Some("stalwart"));
        assert_eq!(c.sentinel_username, None);
        assert_eq!(c.sentinel_secret, SecretSource::None);
        assert_eq!(c.protocol_version, Protocol::Resp2);
        assert_eq!(c.pool, PoolConfig::default());
    }

    #[test]
    fn every_field() {
        let c = sentinel(json!({
            "urls": ["redis://s1:26379", "redis://s2:26380/3"],
            "serviceName": "mail",
            "timeout": "2s",
            "authUsername": null,
            "authSecret": {"@type": "Value", "secret": PW},
            "sentinelUsername": "watcher",
            "sentinelSecret": {"@type": "EnvironmentVariable", "variableName": "SENTINEL_PW"},
            "protocolVersion": "RESP3",
            "poolMaxConnections": 3,
            "poolTimeoutWait": null,
        }));
        assert_eq!(c.urls.len(), 2);
        assert_eq!(c.service_name, "mail");
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert_eq!(c.auth_username, None);
        assert_eq!(c.sentinel_username.as_deref(), Some("watcher"));
        assert_eq!(c.sentinel_secret, SecretSource::EnvironmentVariable("SENTINEL_PW".into()));
        assert_eq!(c.protocol_version, Protocol::Resp3);
        assert_eq!(c.pool.max_connections, 3);
        assert_eq!(c.pool.timeout_wait, None);
        assert!(!format!("{c:?}").contains(PW));
        let json = StoreConfig::RedisSentinel(c.clone()).to_redacted_json();
        assert!(!json.to_string().contains(PW), "{json}");
        assert_eq!(json["authSecret"], json!({"@type": "Value", "secret": "***"}));
        assert_eq!(json["sentinelSecret"]["variableName"], "SENTINEL_PW");
        assert_eq!(json["serviceName"], "mail");
        assert_eq!(json["poolTimeoutWait"], Value::Null);
        // The normal form parses back to the same configuration (but for the redacted secret).
        let StoreConfig::RedisSentinel(back) = parse_value(&json).unwrap() else {
            panic!("not RedisSentinel")
        };
        assert_eq!(back, RedisSentinelConfig { auth_secret: back.auth_secret.clone(), ..c });
    }

    #[test]
    fn errors_name_their_path() {
        let base = |fields: Value| {
            let mut object = json!({"@type": "RedisSentinel", "authSecret": {"@type": "None"}});
            if let (Value::Object(target), Value::Object(source)) = (&mut object, fields) {
                target.extend(source);
            }
            object
        };
        assert_eq!(errors(base(json!({"serviceName": ""}))), "serviceName: must not be empty");
        assert!(errors(base(json!({"serviceName": 5}))).starts_with("serviceName: expected a string"));
        assert_eq!(
            errors(base(json!({"sentinelUsername": ""}))),
            "sentinelUsername: must not be empty (leave it out for no user name)"
        );
        assert!(errors(base(json!({"urls": []}))).starts_with("urls: must not be empty"));
        let mixed = errors(base(json!({"urls": ["redis://a:1", "rediss://b:2"]})));
        assert!(mixed.starts_with("urls[1]: mixes TLS and plain URLs"), "{mixed}");
        assert!(errors(base(json!({"sentinelSecret": {"@type": "Value"}})))
            .starts_with("sentinelSecret.secret: missing"));
        assert!(errors(json!({"@type": "RedisSentinel"})).starts_with("authSecret: missing"));
        let unknown = errors(base(json!({"readFromReplicas": true})));
        assert!(unknown.contains("readFromReplicas: unknown field"), "{unknown}");
        let typo = errors(base(json!({"servicename": "x"})));
        assert!(typo.contains("did you mean serviceName?"), "{typo}");
    }

    #[test]
    fn not_allowed_inside_sharded() {
        let nested = json!({"@type": "Sharded", "stores": [
            {"@type": "Redis"},
            {"@type": "RedisSentinel", "authSecret": {"@type": "None"}},
        ]});
        let e = errors(nested);
        assert!(
            e.contains("stores[1].@type: \"RedisSentinel\" is not allowed inside a Sharded store"),
            "{e}"
        );
    }

    #[test]
    fn connect_options_split_credentials_and_share_tls() {
        let c = sentinel(json!({
            "urls": ["rediss://u:urlpw@s1:26379/2#insecure", "rediss://s2:26380"],
            "timeout": "3s",
            "authUsername": "mail",
            "sentinelUsername": "watcher",
            "protocolVersion": "resp3",
        }));
        let data = Secret::new("data-pw");
        let watch = Secret::new("watch-pw");
        let o = c.connect_options(Some(&watch), Some(&data)).unwrap();
        assert_eq!(o.sentinels.len(), 2);
        for s in &o.sentinels {
            assert_eq!(s.username.as_deref(), Some("watcher"));
            assert_eq!(s.password.as_ref().map(Secret::expose), Some("watch-pw"));
            assert_eq!(s.db, 0, "sentinels have no databases");
            assert!(s.tls.is_some());
            assert_eq!(s.connect_timeout, Duration::from_secs(3));
            assert_eq!(s.response_timeout, Some(Duration::from_secs(3)));
        }
        assert_eq!(o.sentinels[1].address, Address::Tcp { host: "s2".into(), port: 26380 });
        let m = &o.master;
        assert_eq!(m.username.as_deref(), Some("mail"));
        assert_eq!(m.password.as_ref().map(Secret::expose), Some("data-pw"));
        assert_eq!(m.db, 2);
        assert_eq!(m.protocol, Protocol::Resp3);
        let tls = m.tls.as_ref().expect("TLS to the master too");
        assert!(tls.insecure);
        assert_eq!(tls.server_name, None);
        // Without secrets: the URL's own credentials for the sentinels, none for the master.
        let o = c.connect_options(None, None).unwrap();
        assert_eq!(o.sentinels[0].username.as_deref(), Some("u"));
        assert_eq!(o.sentinels[0].password.as_ref().map(Secret::expose), Some("urlpw"));
        assert_eq!(o.master.password, None);
        assert_eq!(o.master.username, None);
    }

    #[test]
    fn sentinel_secret_errors_name_their_field() {
        let c = RedisSentinelConfig {
            sentinel_secret: SecretSource::EnvironmentVariable("REDWIRE_SENTINEL_CONFIG_TEST_UNSET".into()),
            ..RedisSentinelConfig::default()
        };
        let e = c.resolve_sentinel_secret().unwrap_err();
        assert!(
            matches!(&e, Error::Config(m) if m.starts_with("sentinelSecret: environment variable \"REDWIRE_SENTINEL_CONFIG_TEST_UNSET\"")),
            "{e}"
        );
    }
}
