//! The JSON walk of a `RedisSentinel` object.
//!
//! Lives here: `Walker::sentinel` and the field checks only this variant has
//! (`serviceName`, `sentinelUsername`, the optional `sentinelSecret`, one TLS
//! scheme for all `urls`). Not here: the shared checks (`parse`), the type
//! (`config::sentinel`).
//!
//! Pure: no IO.

use serde_json::Value;

use super::super::duration::{kind, quote};
use super::super::sentinel::{tls_mismatch, RedisSentinelConfig, DEFAULT_SENTINEL_URL, TLS_MISMATCH};
use super::super::{Protocol, SecretSource};
use super::{Obj, Walker};

/// The fields of `"@type": "RedisSentinel"`.
pub(super) const SENTINEL_FIELDS: &[&str] = &[
    "urls",
    "serviceName",
    "timeout",
    "authUsername",
    "authSecret",
    "sentinelUsername",
    "sentinelSecret",
    "protocolVersion",
    "poolMaxConnections",
    "poolTimeoutCreate",
    "poolTimeoutWait",
    "poolTimeoutRecycle",
    "compat",
];

impl Walker {
    pub(super) fn sentinel(&mut self, obj: &Obj<'_>) -> RedisSentinelConfig {
        self.unknown_fields(obj, SENTINEL_FIELDS, "RedisSentinel");
        let defaults = RedisSentinelConfig::default();
        let urls = self.sentinel_urls(obj);
        let service_name = match obj.map.get("serviceName") {
            None => defaults.service_name,
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::String(_)) => {
                self.error(obj.path_of("serviceName"), "must not be empty");
                defaults.service_name
            }
            Some(other) => {
                let message = format!("expected a string (the monitored master's name), got {}", kind(other));
                self.error(obj.path_of("serviceName"), message);
                defaults.service_name
            }
        };
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
        let sentinel_username = match obj.map.get("sentinelUsername") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => {
                self.error(
                    obj.path_of("sentinelUsername"),
                    "must not be empty (leave it out for no user name)",
                );
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                let message = format!("expected a string or null, got {}", kind(other));
                self.error(obj.path_of("sentinelUsername"), message);
                None
            }
        };
        let sentinel_secret = match obj.map.get("sentinelSecret") {
            None | Some(Value::Null) => SecretSource::None,
            Some(_) => self.secret_field(obj, "sentinelSecret"),
        };
        RedisSentinelConfig {
            urls,
            service_name,
            timeout: self.timeout(obj),
            auth_username,
            auth_secret: self.secret(obj),
            sentinel_username,
            sentinel_secret,
            protocol_version: self.protocol(obj, defaults.protocol_version),
            pool: self.pool(obj),
            compat: self.compat(obj),
        }
    }

    /// `urls`: at least one, each a valid URL, all with TLS or all without.
    fn sentinel_urls(&mut self, obj: &Obj<'_>) -> Vec<String> {
        let path = obj.path_of("urls");
        let urls = match obj.map.get("urls") {
            None => return vec![DEFAULT_SENTINEL_URL.to_string()],
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    self.error(path.clone(), "must not be empty (give at least one sentinel URL)");
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| self.url(item, format!("{path}[{i}]")))
                    .collect()
            }
            Some(other) => {
                self.error(path.clone(), format!("expected an array of sentinel URLs, got {}", kind(other)));
                vec![DEFAULT_SENTINEL_URL.to_string()]
            }
        };
        if let Some(i) = tls_mismatch(&urls) {
            self.error(format!("{path}[{i}]"), TLS_MISMATCH);
        }
        urls
    }

    /// `protocolVersion`: `"resp2"` or `"resp3"`, any case.
    fn protocol(&mut self, obj: &Obj<'_>, default: Protocol) -> Protocol {
        match obj.map.get("protocolVersion") {
            None => default,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("resp2") => Protocol::Resp2,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("resp3") => Protocol::Resp3,
            Some(Value::String(s)) => {
                let message = format!("unknown protocol {} (expected \"resp2\" or \"resp3\")", quote(s));
                self.error(obj.path_of("protocolVersion"), message);
                default
            }
            Some(other) => {
                let message = format!("expected \"resp2\" or \"resp3\", got {}", kind(other));
                self.error(obj.path_of("protocolVersion"), message);
                default
            }
        }
    }
}
