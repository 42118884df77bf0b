//! The JSON walk of the `cache` object of a `Redis` or `RedisCluster` store
//! (redwire's own: client-side caching, see [`crate::cache`]):
//!
//! ```json
//! "cache": {"maxBytes": 67108864, "maxEntries": 100000, "maxTtl": "60s",
//!           "mode": "broadcast", "prefixes": ["dkim:", "dns:"]}
//! ```
//!
//! Every field is optional (the [`CacheOptions`] defaults); `{}` turns the
//! cache on with them, a missing `cache` or `null` leaves it off. `mode` is
//! `"tracking"` (default), `"broadcast"` or `"optin"`; `prefixes` only goes
//! with `"broadcast"`. Unknown fields follow the walk's [`UnknownFields`]
//! setting. Not here: the shared checks (`parse`).
//!
//! Pure: no IO.
//!
//! [`UnknownFields`]: super::UnknownFields

use bytes::Bytes;
use serde_json::Value;

use super::super::duration::{kind, parse_duration, quote};
use super::{Obj, Walker};
use crate::cache::{CacheMode, CacheOptions};

/// The fields of a `cache` object.
pub(super) const CACHE_FIELDS: &[&str] =
    &["maxBytes", "maxEntries", "maxEntryBytes", "maxTtl", "mode", "prefixes"];

impl Walker {
    /// The store's `cache`, if it has one.
    pub(super) fn cache(&mut self, store: &Obj<'_>) -> Option<CacheOptions> {
        let path = store.path_of("cache");
        let map = match store.map.get("cache") {
            None | Some(Value::Null) => return None,
            Some(Value::Object(map)) => map,
            Some(other) => {
                self.error(path, format!("expected an object (or null for no cache), got {}", kind(other)));
                return None;
            }
        };
        let obj = Obj { map, path: &path };
        self.unknown_fields(&obj, CACHE_FIELDS, "cache");
        let mut opts = CacheOptions::default();
        if let Some(n) = self.positive(&obj, "maxBytes") {
            opts.max_bytes = n;
        }
        if let Some(n) = self.positive(&obj, "maxEntries") {
            opts.max_entries = n;
        }
        if let Some(n) = self.positive(&obj, "maxEntryBytes") {
            opts.max_entry_bytes = n;
        }
        match map.get("maxTtl") {
            None => {}
            Some(value) => match parse_duration(value) {
                Ok(d) if d.is_zero() => self.error(obj.path_of("maxTtl"), "must be above zero"),
                Ok(d) => opts.max_ttl = d,
                Err(message) => self.error(obj.path_of("maxTtl"), message),
            },
        }
        let prefixes = self.prefixes(&obj);
        opts.mode = match map.get("mode") {
            None => CacheMode::Tracking,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("tracking") => CacheMode::Tracking,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("broadcast") => {
                CacheMode::Broadcast { prefixes: prefixes.clone().unwrap_or_default() }
            }
            Some(Value::String(s)) if s.eq_ignore_ascii_case("optin") => CacheMode::OptIn,
            Some(Value::String(s)) => {
                let message =
                    format!("unknown mode {} (expected \"tracking\", \"broadcast\" or \"optin\")", quote(s));
                self.error(obj.path_of("mode"), message);
                CacheMode::Tracking
            }
            Some(other) => {
                let message =
                    format!("expected \"tracking\", \"broadcast\" or \"optin\", got {}", kind(other));
                self.error(obj.path_of("mode"), message);
                CacheMode::Tracking
            }
        };
        if prefixes.is_some() && !matches!(opts.mode, CacheMode::Broadcast { .. }) {
            self.error(obj.path_of("prefixes"), "only with \"mode\": \"broadcast\"");
        }
        Some(opts)
    }

    /// A whole number above zero, if the field is there.
    fn positive(&mut self, obj: &Obj<'_>, name: &str) -> Option<usize> {
        let value = obj.map.get(name)?;
        match value.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n > 0 => Some(n),
            _ => {
                self.error(
                    obj.path_of(name),
                    format!("expected a whole number above zero, got {}", describe(value)),
                );
                None
            }
        }
    }

    fn prefixes(&mut self, obj: &Obj<'_>) -> Option<Vec<Bytes>> {
        let value = obj.map.get("prefixes")?;
        let Value::Array(items) = value else {
            self.error(obj.path_of("prefixes"), format!("expected an array of strings, got {}", kind(value)));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(Bytes::copy_from_slice(s.as_bytes())),
                other => self.error(
                    format!("{}[{i}]", obj.path_of("prefixes")),
                    format!("expected a string, got {}", kind(other)),
                ),
            }
        }
        Some(out)
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::cache::{CacheMode, CacheOptions};
    use crate::config::{parse_value, parse_value_with, StoreConfig, UnknownFields};

    fn cache_of(value: serde_json::Value) -> Option<CacheOptions> {
        match parse_value(&value).expect("valid") {
            StoreConfig::Redis(r) => r.cache,
            StoreConfig::RedisCluster(c) => c.cache,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn absent_or_null_is_off_and_empty_is_the_defaults() {
        assert_eq!(cache_of(json!({"@type": "Redis"})), None);
        assert_eq!(cache_of(json!({"@type": "Redis", "cache": null})), None);
        assert_eq!(cache_of(json!({"@type": "Redis", "cache": {}})), Some(CacheOptions::default()));
    }

    #[test]
    fn fields_map_onto_the_options() {
        let c = cache_of(json!({"@type": "RedisCluster", "authSecret": {"@type": "None"}, "cache": {
            "maxBytes": 1000, "maxEntries": 10, "maxEntryBytes": 100, "maxTtl": "5s",
            "mode": "broadcast", "prefixes": ["dkim:", "dns:"]}}))
        .expect("cache");
        assert_eq!(
            (c.max_bytes, c.max_entries, c.max_entry_bytes, c.max_ttl),
            (1000, 10, 100, Duration::from_secs(5))
        );
        assert_eq!(c.mode, CacheMode::Broadcast { prefixes: vec!["dkim:".into(), "dns:".into()] });
        let o = cache_of(json!({"@type": "Redis", "cache": {"mode": "optin"}})).expect("cache");
        assert_eq!(o.mode, CacheMode::OptIn);
        // The normal form (`config check`) shows it and parses back to it.
        for doc in [
            json!({"@type": "Redis", "cache": {"mode": "broadcast", "prefixes": ["p:"], "maxTtl": 1500}}),
            json!({"@type": "Redis", "cache": {"mode": "optin"}}),
            json!({"@type": "Redis"}),
        ] {
            let config = parse_value(&doc).expect("valid");
            let normal = config.to_redacted_json();
            assert_eq!(normal.get("cache").is_some(), doc.get("cache").is_some(), "{normal}");
            assert_eq!(parse_value(&normal).expect("normal form parses"), config);
        }
    }

    #[test]
    fn bad_values_and_unknown_fields_are_named() {
        let bad = json!({"@type": "Redis", "cache": {
            "maxBytes": 0, "maxEntries": "many", "maxTtl": "0s", "mode": "lru", "prefixes": ["a"], "maxTTL": 1}});
        let errors = parse_value(&bad).expect_err("invalid").to_string();
        for needle in [
            "cache.maxBytes",
            "cache.maxEntries",
            "cache.maxTtl",
            "cache.mode",
            "cache.prefixes",
            "cache.maxTTL",
        ] {
            assert!(errors.contains(needle), "{needle} missing from {errors}");
        }
        let not_object = json!({"@type": "Redis", "cache": true});
        assert!(parse_value(&not_object).expect_err("invalid").to_string().contains("cache"));
        // Unknown fields can be ignored with a warning, like everywhere else.
        let lenient = parse_value_with(
            &json!({"@type": "Redis", "cache": {"future": 1}}),
            UnknownFields::WarnAndIgnore,
        )
        .expect("lenient");
        assert_eq!(lenient.warnings.len(), 1);
    }
}
