//! Reading, without using, every secret and file a configuration would need:
//! what `redwire config check` runs after parsing.
//!
//! Lives here: [`StoreConfig::check_sources`], which resolves each
//! `authSecret` / `sentinelSecret` (environment variable or file) and opens
//! each TLS file a URL names (`tls_ca`, `tls_cert`, `tls_key`), reporting
//! each failure with its JSON path. Not here: parsing (`parse`), or building
//! stores (`store`), which resolve the same sources again when they connect.
//!
//! Nothing read is kept or printed: a secret is dropped as soon as it is
//! known to be there; messages name the variable or the path, never a value.
//! Std IO only.

use super::error::ConfigError;
use super::{RedisSentinelConfig, SecretSource, StoreConfig};
use crate::error::Error;
use crate::url::parse_url;

impl StoreConfig {
    /// Resolves every secret and opens every TLS file this configuration
    /// names, as building the store would, and returns one [`ConfigError`]
    /// per failure (a missing environment variable, an unreadable or empty
    /// file), each at its JSON path (`stores[1].authSecret`,
    /// `urls[0]`). Empty when everything can be read.
    pub fn check_sources(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        walk(self, "", &mut problems);
        problems
    }
}

fn walk(config: &StoreConfig, path: &str, problems: &mut Vec<ConfigError>) {
    match config {
        StoreConfig::Default => {}
        StoreConfig::Sharded(sharded) => {
            for (i, store) in sharded.stores.iter().enumerate() {
                walk(store, &join(path, &format!("stores[{i}]")), problems);
            }
        }
        StoreConfig::Redis(redis) => tls_files(&redis.url, &join(path, "url"), problems),
        StoreConfig::RedisCluster(cluster) => {
            secret(&cluster.auth_secret, &join(path, "authSecret"), problems);
            urls(&cluster.urls, path, problems);
        }
        StoreConfig::RedisSentinel(sentinel) => sentinel_sources(sentinel, path, problems),
    }
}

fn sentinel_sources(sentinel: &RedisSentinelConfig, path: &str, problems: &mut Vec<ConfigError>) {
    secret(&sentinel.auth_secret, &join(path, "authSecret"), problems);
    secret(&sentinel.sentinel_secret, &join(path, "sentinelSecret"), problems);
    urls(&sentinel.urls, path, problems);
}

fn urls(urls: &[String], path: &str, problems: &mut Vec<ConfigError>) {
    for (i, url) in urls.iter().enumerate() {
        tls_files(url, &join(path, &format!("urls[{i}]")), problems);
    }
}

/// Resolves `source`; the value is dropped at once.
fn secret(source: &SecretSource, path: &str, problems: &mut Vec<ConfigError>) {
    if let Err(e) = source.resolve() {
        let message = match e {
            // `resolve` names the field itself; the path already does.
            Error::Config(m) => m.strip_prefix("authSecret: ").map(str::to_string).unwrap_or(m),
            other => other.to_string(),
        };
        problems.push(ConfigError::new(path, message));
    }
}

/// Opens each file the URL's `tls_*` parameters name.
fn tls_files(url: &str, path: &str, problems: &mut Vec<ConfigError>) {
    let Ok(options) = parse_url(url) else { return };
    let Some(tls) = options.tls else { return };
    let files = [("tls_ca", &tls.ca_file), ("tls_cert", &tls.client_cert), ("tls_key", &tls.client_key)];
    for (name, file) in files {
        if let Some(file) = file {
            let readable = std::fs::File::open(file).and_then(|f| f.metadata()).map(|m| m.is_file());
            let problem = match readable {
                Ok(true) => continue,
                Ok(false) => "is not a regular file".to_string(),
                Err(e) => format!("cannot be read: {}", e.kind()),
            };
            problems.push(ConfigError::new(path, format!("{name} file \"{}\" {problem}", file.display())));
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    #[test]
    fn every_unreadable_source_is_reported_at_its_path_without_values() {
        std::env::set_var("REDWIRE_CHECK_TEST_SET", "the-value-itself");
        let json = r#"{"@type": "Sharded", "stores": [
            {"@type": "Redis", "url": "rediss://h/?tls_ca=/nonexistent/ca.pem"},
            {"@type": "RedisCluster", "urls": ["redis://a", "rediss://b?tls_cert=/etc&tls_key=/nonexistent/k"],
             "authSecret": {"@type": "EnvironmentVariable", "variableName": "REDWIRE_CHECK_TEST_UNSET"}},
            {"@type": "RedisCluster", "urls": ["redis://c"],
             "authSecret": {"@type": "EnvironmentVariable", "variableName": "REDWIRE_CHECK_TEST_SET"}}]}"#;
        let problems = parse(json).unwrap().check_sources();
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 4, "{shown:#?}");
        assert_eq!(problems[0].path, "stores[0].url");
        assert!(shown[0].contains("tls_ca file \"/nonexistent/ca.pem\" cannot be read"), "{}", shown[0]);
        assert_eq!(
            shown[1],
            "stores[1].authSecret: environment variable \"REDWIRE_CHECK_TEST_UNSET\" is not set"
        );
        assert!(shown[2].starts_with("stores[1].urls[1]: tls_cert file \"/etc\" is not a regular file"));
        assert!(shown[3].starts_with("stores[1].urls[1]: tls_key file"));
        assert!(!format!("{shown:?} {problems:?}").contains("the-value-itself"));
    }

    #[test]
    fn sentinel_secrets_and_files() {
        let dir = std::env::temp_dir().join(format!("redwire-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("pw");
        std::fs::write(&good, "s3cret\n").unwrap();
        let json = format!(
            r#"{{"@type": "RedisSentinel", "authSecret": {{"@type": "File", "filePath": "{}"}},
            "sentinelSecret": {{"@type": "File", "filePath": "{}"}}}}"#,
            good.display(),
            dir.join("missing").display()
        );
        let problems = parse(&json).unwrap().check_sources();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "sentinelSecret");
        assert!(problems[0].message.starts_with("cannot read secret file"), "{}", problems[0]);
        assert!(!format!("{problems:?}").contains("s3cret"));
        assert!(parse(r#"{"@type": "Redis"}"#).unwrap().check_sources().is_empty());
    }
}
