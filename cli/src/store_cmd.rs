//! `redwire store ...` (the store API, one operation per run), `redwire config
//! check FILE`, and opening the store the global options name: `--config FILE`
//! (Stalwart's JSON), `--url URL` (a Redis store), `--cluster URL...` (a
//! RedisCluster store), or, with none of them, the embedded store.
//!
//! Output: one line per result on stdout; errors go to stderr with exit code 1.
//! Keys, values and prefixes are taken as given (UTF-8 bytes); values are shown
//! with control characters and invalid UTF-8 escaped (`\n`, `\x80`, `\\`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use clap::Subcommand;
use redwire::cluster::ClusterOptions;
use redwire::config::{Parsed, StoreConfig, UnknownFields};
use redwire::store::LockToken;
use redwire::{Error, PoolOptions, Store};

use redwire::url::parse_url;

use crate::{apply_overrides, connect_options, parse_duration, Cli};

/// `redwire store <op>`.
#[derive(Subcommand, Debug)]
pub enum StoreOp {
    /// Print the value of KEY, or (nil).
    Get { key: String },
    /// Set KEY to VALUE, with an optional expiry.
    Set {
        key: String,
        value: String,
        /// Expiry, e.g. 30 (seconds), 500ms, 10m.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// Print true if KEY exists.
    Exists { key: String },
    /// Delete KEY; print true if it existed.
    Delete { key: String },
    /// Delete every key starting with PREFIX (taken literally); print how many.
    DeletePrefix { prefix: String },
    /// Add DELTA to the counter KEY; print the new value.
    Incr {
        key: String,
        /// May be negative; write `-- -3` for -3, which would read as the `-3` (RESP3) flag.
        #[arg(allow_hyphen_values = true)]
        delta: i64,
        /// Expiry, set only when the counter has none.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// Print the counter KEY (0 when missing).
    CounterGet { key: String },
    /// Count one hit against KEY (at most LIMIT per PERIOD); print `allowed` or `limited <seconds>`.
    Rate {
        key: String,
        limit: u64,
        /// Window length, e.g. 60 (seconds), 1h.
        #[arg(value_parser = parse_duration)]
        period: Duration,
        /// Only check, do not count this hit.
        #[arg(long)]
        soft: bool,
    },
    /// Take the lock KEY for TTL; print its token (hex), or `(held)` if someone has it.
    Lock {
        key: String,
        #[arg(value_parser = parse_duration)]
        ttl: Duration,
    },
    /// Release the lock KEY held with TOKEN (hex); print true if released.
    Unlock { key: String, token: String },
}

/// `redwire config <op>`.
#[derive(Subcommand, Debug)]
pub enum ConfigOp {
    /// Validate a store configuration: print it normalised (secrets redacted), or every error
    /// with its JSON path; exit 0 when valid, 1 otherwise. Every secret (environment variable,
    /// file) and TLS file it names is read too, never printed; one that cannot be is an error.
    Check {
        file: PathBuf,
        /// Warn about unknown fields (printed with their JSON paths) instead of rejecting them,
        /// as a configuration written for a newer Stalwart may have some.
        #[arg(long)]
        lenient: bool,
    },
}

/// The store named by the global options; the embedded store when none is given.
///
/// # Errors
/// More than one of `--config`, `--url`, `--cluster`; an unreadable or invalid
/// file; the store's connect error.
pub async fn open_store(cli: &Cli) -> Result<Store, Error> {
    let given = [cli.config.is_some(), cli.url.is_some(), !cli.cluster.is_empty()];
    if given.iter().filter(|&&g| g).count() > 1 {
        return Err(Error::Config("give only one of --config, --url and --cluster".into()));
    }
    if let Some(path) = &cli.config {
        let config = redwire::config::parse(&read(path)?)
            .map_err(|errors| Error::Config(format!("{}:\n{errors}", path.display())))?;
        return Store::from_config(&config).await;
    }
    if cli.url.is_some() {
        return Store::redis(connect_options(cli)?, PoolOptions::default()).await;
    }
    if !cli.cluster.is_empty() {
        let seeds = cli
            .cluster
            .iter()
            .map(|url| apply_overrides(cli, parse_url(url.trim())?))
            .collect::<Result<_, Error>>()?;
        // Reads of a slot this client just wrote stay on its primary (the default): the store
        // semantics promise a reader sees its own writes.
        let opts =
            ClusterOptions { seeds, read_from_replicas: cli.read_from_replicas, ..ClusterOptions::default() };
        return Store::cluster(opts).await;
    }
    Ok(Store::embedded())
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))
}

/// Runs one store operation and prints its result.
///
/// # Errors
/// The operation's error, or a token that is not hex.
pub async fn run_store(store: &Store, op: &StoreOp) -> Result<i32, Error> {
    let line = match op {
        StoreOp::Get { key } => match store.key_get(key.as_bytes()).await? {
            Some(value) => show(&value),
            None => "(nil)".to_string(),
        },
        StoreOp::Set { key, value, ttl } => {
            store.key_set(key.as_bytes(), Bytes::copy_from_slice(value.as_bytes()), *ttl).await?;
            "OK".to_string()
        }
        StoreOp::Exists { key } => store.key_exists(key.as_bytes()).await?.to_string(),
        StoreOp::Delete { key } => store.key_delete(key.as_bytes()).await?.to_string(),
        StoreOp::DeletePrefix { prefix } => store.key_delete_prefix(prefix.as_bytes()).await?.to_string(),
        StoreOp::Incr { key, delta, ttl } => {
            store.counter_incr(key.as_bytes(), *delta, *ttl).await?.to_string()
        }
        StoreOp::CounterGet { key } => store.counter_get(key.as_bytes()).await?.to_string(),
        StoreOp::Rate { key, limit, period, soft } => {
            match store.is_rate_allowed(key.as_bytes(), *limit, *period, *soft).await? {
                None => "allowed".to_string(),
                Some(secs) => format!("limited {secs}"),
            }
        }
        StoreOp::Lock { key, ttl } => match store.try_lock(key.as_bytes(), *ttl).await? {
            Some(token) => hex(token.as_bytes()),
            None => "(held)".to_string(),
        },
        StoreOp::Unlock { key, token } => {
            let token = LockToken::from_bytes(Bytes::from(unhex(token)?));
            store.remove_lock(key.as_bytes(), &token).await?.to_string()
        }
    };
    println!("{line}");
    Ok(0)
}

/// `redwire config check FILE`: 0 and the normalised JSON when valid, 1 and the errors otherwise.
pub fn run_config(op: &ConfigOp) -> i32 {
    let ConfigOp::Check { file, lenient } = op;
    let text = match read(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("redwire: {e}");
            return 1;
        }
    };
    let unknown = if *lenient { UnknownFields::WarnAndIgnore } else { UnknownFields::Reject };
    match redwire::config::parse_with(&text, unknown) {
        Ok(Parsed { config, warnings }) => {
            for warning in &warnings {
                eprintln!("{}: warning: {warning} (ignored)", file.display());
            }
            let problems = config.check_sources();
            if !problems.is_empty() {
                for problem in &problems {
                    eprintln!("{}: {problem}", file.display());
                }
                eprintln!("{}: {} error(s)", file.display(), problems.len());
                return 1;
            }
            print_config(&config)
        }
        Err(errors) => {
            for error in &errors {
                eprintln!("{}: {error}", file.display());
            }
            eprintln!("{}: {} error(s)", file.display(), errors.len());
            1
        }
    }
}

/// Prints `config` as normalised JSON, secrets redacted.
fn print_config(config: &StoreConfig) -> i32 {
    match serde_json::to_string_pretty(&config.to_redacted_json()) {
        Ok(json) => {
            println!("{json}");
            0
        }
        Err(e) => {
            eprintln!("redwire: cannot print the configuration: {e}");
            1
        }
    }
}

/// Bytes for one line: UTF-8 text as is, control characters, `\` and invalid UTF-8 escaped.
pub fn show(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn unhex(text: &str) -> Result<Vec<u8>, Error> {
    let bad = || Error::Other(format!("token {text:?} is not hex (as `store lock` prints it)"));
    let digits = text.trim().as_bytes();
    if digits.len() % 2 != 0 {
        return Err(bad());
    }
    digits
        .chunks(2)
        .map(|pair| {
            // `from_str_radix` alone would take a sign.
            let digits = std::str::from_utf8(pair).ok().filter(|p| p.bytes().all(|b| b.is_ascii_hexdigit()));
            digits.and_then(|p| u8::from_str_radix(p, 16).ok()).ok_or_else(bad)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_show_on_one_line() {
        assert_eq!(show(b"plain text"), "plain text");
        assert_eq!(show("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(show(b"a\nb\\c\x01\xff"), "a\\nb\\\\c\\u{1}\\xff");
    }

    #[test]
    fn tokens_round_trip_through_hex() {
        let token = LockToken::random();
        assert_eq!(unhex(&hex(token.as_bytes())).unwrap(), token.as_bytes().to_vec());
        assert_eq!(hex(&[0, 0xab]), "00ab");
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
        assert!(unhex("+1").is_err());
    }
}
