//! Arbitrary bytes as Stalwart store configuration JSON: parsing must return
//! a config or errors with paths, never panic; a parsed config must print as
//! redacted JSON that parses back to the same routing of variants.
//!
//! Secrets never show: when the input is JSON, a distinctive password is put
//! in every place a secret can be (`authSecret.secret`, the user-info part of
//! every `url` and `urls` entry, whatever the rest of the input holds) and
//! the result parsed again. The password must then appear in no output: the
//! `Debug` of the config, its redacted JSON, the errors (`Display` and
//! `Debug`), the connect options built from it, `StoreConfig::from_url` and
//! `from_cluster_urls` on those URLs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redwire::config::StoreConfig;
use redwire::Secret;
use serde_json::Value;

const MARKER: &str = "Zq7SECRETpw";

/// `url` with the marker as its password (user name kept, if any).
fn with_password(url: &str) -> String {
    let Some(at) = url.find("://") else { return url.to_string() };
    let (scheme, rest) = url.split_at(at + 3);
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].find('@') {
        Some(i) => {
            let user = rest[..i].split(':').next().unwrap_or("");
            format!("{scheme}{user}:{MARKER}@{}", &rest[i + 1..])
        }
        None => format!("{scheme}:{MARKER}@{rest}"),
    }
}

/// Puts the marker in every secret position; returns the URLs changed.
fn inject(value: &mut Value, urls: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match (key.as_str(), &mut *v) {
                    ("authSecret", Value::Object(secret)) => {
                        secret.insert("secret".into(), Value::String(MARKER.into()));
                    }
                    ("url", Value::String(url)) => {
                        *url = with_password(url);
                        urls.push(url.clone());
                    }
                    ("urls", Value::Array(list)) => {
                        for item in list.iter_mut() {
                            if let Value::String(url) = item {
                                *url = with_password(url);
                                urls.push(url.clone());
                            }
                        }
                    }
                    _ => {}
                }
                inject(v, urls);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| inject(v, urls)),
        _ => {}
    }
}

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.to_lowercase().contains(&MARKER.to_lowercase()), "the secret shows in {what}: {shown}");
}

/// Every output of one parse, as text.
fn outputs(config: &StoreConfig) -> Vec<(&'static str, String)> {
    let mut out =
        vec![("Debug", format!("{config:?}")), ("redacted JSON", config.to_redacted_json().to_string())];
    let mut stack = vec![config];
    while let Some(c) = stack.pop() {
        match c {
            StoreConfig::Redis(r) => out.push(("connect options", format!("{:?}", r.connect_options()))),
            StoreConfig::RedisCluster(r) => {
                let password = Secret::new(MARKER);
                out.push(("cluster connect options", format!("{:?}", r.connect_options(Some(&password)))));
            }
            StoreConfig::RedisSentinel(r) => {
                let password = Secret::new(MARKER);
                let options = r.connect_options(Some(&password), Some(&password));
                out.push(("sentinel connect options", format!("{options:?}")));
                out.push(("sentinel config", format!("{r:?}")));
            }
            StoreConfig::Sharded(s) => stack.extend(&s.stores),
            StoreConfig::Default => {}
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match redwire::config::parse(text) {
        Ok(config) => {
            let redacted = config.to_redacted_json();
            let _ = redacted.to_string();
            let _ = outputs(&config);
        }
        Err(errors) => {
            let shown = errors.to_string();
            assert!(!shown.is_empty());
        }
    }
    if text.to_lowercase().contains(&MARKER.to_lowercase()) {
        return;
    }
    let Ok(mut value) = serde_json::from_str::<Value>(text) else { return };
    let mut urls = Vec::new();
    inject(&mut value, &mut urls);
    match redwire::config::parse_value(&value) {
        Ok(config) => {
            for (what, shown) in outputs(&config) {
                assert_hidden(what, &shown);
            }
        }
        Err(errors) => {
            assert_hidden("errors", &errors.to_string());
            assert_hidden("errors (Debug)", &format!("{errors:?}"));
        }
    }
    for url in &urls {
        assert_hidden("from_url", &format!("{:?}", StoreConfig::from_url(url)));
        if let Err(e) = StoreConfig::from_url(url) {
            assert_hidden("from_url error", &e.to_string());
        }
    }
    if !urls.is_empty() {
        let cluster = StoreConfig::from_cluster_urls(&urls);
        assert_hidden("from_cluster_urls", &format!("{cluster:?}"));
        if let Err(e) = cluster {
            assert_hidden("from_cluster_urls error", &e.to_string());
        }
    }
});
