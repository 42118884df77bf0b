//! The command line of `e2e`, and the small parsers it needs (durations like
//! `10s`, read:write ratios like `80:20`, Zipf exponents). Pure: no IO.

use std::time::Duration;

use clap::{Parser, ValueEnum};
use redwire_load::KeyDist;

/// The client library a run drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// redwire: `Client` (one multiplexed connection) or `ClusterClient`.
    Redwire,
    /// redis-rs: `MultiplexedConnection` cloned per task, or `cluster_async::ClusterConnection`.
    #[value(name = "redis-rs")]
    RedisRs,
    /// fred: one `Client` with default settings (plus a reconnect policy).
    Fred,
}

impl ClientKind {
    /// The name used on the command line, in JSON and in tables.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Redwire => "redwire",
            ClientKind::RedisRs => "redis-rs",
            ClientKind::Fred => "fred",
        }
    }
}

/// How the load picks keys (`--keys-dist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeysDist {
    /// Every key equally often.
    Uniform,
    /// Zipf-distributed, key 0 hottest, with exponent `--zipf-s`.
    Zipf,
}

/// `e2e`: one verified GET/SET load run of one client library.
#[derive(Debug, Clone, Parser)]
#[command(name = "e2e", about = "Verified GET/SET load of one Redis client library against Valkey")]
pub struct Args {
    /// Which client library to drive.
    #[arg(long, value_enum)]
    pub client: ClientKind,
    /// A standalone server, e.g. redis://127.0.0.1:6379.
    #[arg(long, conflicts_with = "cluster", required_unless_present = "cluster")]
    pub url: Option<String>,
    /// Cluster seed URLs, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub cluster: Vec<String>,
    /// Read from replicas (cluster only; see [`Args::check`]).
    #[arg(long)]
    pub replicas: bool,
    /// Concurrent tasks, all sharing one client.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Measured time, e.g. 10s, 500ms, 2m (plain numbers are seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,
    /// GET:SET ratio, e.g. 80:20.
    #[arg(long, default_value = "80:20", value_parser = parse_ratio)]
    pub ratio: Ratio,
    /// How keys are picked: uniform, or zipf (key 0 hottest; exponent --zipf-s).
    #[arg(long, value_enum, default_value = "uniform")]
    pub keys_dist: KeysDist,
    /// The Zipf exponent s (with --keys-dist zipf): key i drawn in proportion to 1/(i+1)^s.
    #[arg(long, default_value = "0.99", value_parser = parse_zipf_s)]
    pub zipf_s: f64,
    /// Turn on the client's own client-side cache: redwire's (`connect_cached`,
    /// `ClusterOptions::cache`), redis-rs's `cache-aio` (the URL must ask for
    /// RESP3: `?protocol=resp3`). fred has none and is refused.
    #[arg(long)]
    pub cache: bool,
    /// Send SIGKILL to --kill-pid this long after the measured run starts.
    #[arg(long, value_parser = parse_duration, requires = "kill_pid")]
    pub kill_primary_at: Option<Duration>,
    /// The process to kill (a cluster primary).
    #[arg(long, requires = "kill_primary_at")]
    pub kill_pid: Option<i32>,
    /// After the kill, poll this replica (host:port) with ROLE until it is a primary.
    #[arg(long, requires = "kill_primary_at")]
    pub watch_promotion: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also draw the run as an SVG here: ops/s, p99 and errors over time (the
    /// kill and the promotion marked) and the latency histogram.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,
}

impl Args {
    /// Checks what clap cannot express: `--replicas` needs `--cluster`;
    /// `--cache` needs a client with a managed cache (not fred), reads from
    /// primaries (no `--replicas`), and for redis-rs URLs that ask for RESP3.
    ///
    /// # Errors
    /// A message for the user.
    pub fn check(&self) -> Result<(), String> {
        if self.replicas && !self.is_cluster() {
            return Err("--replicas needs --cluster".into());
        }
        if self.cache {
            if self.client == ClientKind::Fred {
                return Err("--cache: fred has no managed client-side cache (only its CLIENT TRACKING \
                            interface, which leaves storing and invalidating values to the caller); \
                            use --cache with redwire or redis-rs"
                    .into());
            }
            if self.replicas {
                return Err("--cache reads from primaries (a cached read is served locally, and \
                            redwire ignores replica reads with a cache): drop --replicas"
                    .into());
            }
            if self.client == ClientKind::RedisRs && !self.urls().all(asks_resp3) {
                return Err(
                    "--cache: redis-rs caches only over RESP3; add ?protocol=resp3 to every URL".into()
                );
            }
        }
        Ok(())
    }

    /// The server URL, or every cluster seed.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.url.iter().chain(&self.cluster).map(String::as_str)
    }

    /// The key distribution for the load generator.
    pub fn key_dist(&self) -> KeyDist {
        match self.keys_dist {
            KeysDist::Uniform => KeyDist::Uniform,
            KeysDist::Zipf => KeyDist::Zipf(self.zipf_s),
        }
    }

    /// True for a cluster run.
    pub fn is_cluster(&self) -> bool {
        !self.cluster.is_empty()
    }
}

/// How many GETs and SETs, relatively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// Weight of GET.
    pub get: u32,
    /// Weight of SET.
    pub set: u32,
}

/// Parses `GET:SET` weights, e.g. `80:20`, `100:0`.
///
/// # Errors
/// A message for anything but two integers with a positive sum.
pub fn parse_ratio(text: &str) -> Result<Ratio, String> {
    let (get, set) = text.split_once(':').ok_or_else(|| format!("ratio {text:?}: expected GET:SET"))?;
    let get: u32 = get.trim().parse().map_err(|_| format!("ratio {text:?}: bad GET weight"))?;
    let set: u32 = set.trim().parse().map_err(|_| format!("ratio {text:?}: bad SET weight"))?;
    if get.checked_add(set).unwrap_or(0) == 0 {
        return Err(format!("ratio {text:?}: weights must add up to more than 0"));
    }
    Ok(Ratio { get, set })
}

/// Parses a Zipf exponent: a finite number from 0 to 10 (0 is uniform; the
/// usual skew is 0.99).
///
/// # Errors
/// A message for anything else.
pub fn parse_zipf_s(text: &str) -> Result<f64, String> {
    let s: f64 = text.trim().parse().map_err(|_| format!("zipf exponent {text:?}: bad number"))?;
    if !(0.0..=10.0).contains(&s) {
        return Err(format!("zipf exponent {text:?}: must be between 0 and 10"));
    }
    Ok(s)
}

/// True when a URL's query asks for RESP3 (`protocol=resp3` or `protocol=3`).
pub fn asks_resp3(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else { return false };
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').any(|param| match param.split_once('=') {
        Some((name, value)) => {
            name.eq_ignore_ascii_case("protocol")
                && (value.eq_ignore_ascii_case("resp3") || value.trim() == "3")
        }
        None => false,
    })
}

/// Parses `10s`, `500ms`, `2m`, or a plain number of seconds.
///
/// # Errors
/// A message for an unknown unit or a bad number.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = number.parse().map_err(|_| format!("duration {text:?}: bad number"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("duration {text:?}: unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("duration {text:?}: out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("80:20"), Ok(Ratio { get: 80, set: 20 }));
        assert_eq!(parse_ratio("100:0"), Ok(Ratio { get: 100, set: 0 }));
        assert!(parse_ratio("0:0").is_err());
        assert!(parse_ratio("80").is_err());
        assert!(parse_ratio("a:1").is_err());
    }

    #[test]
    fn command_line() {
        let a = Args::try_parse_from([
            "e2e",
            "--client",
            "redis-rs",
            "--cluster",
            "redis://a:1,redis://b:2",
            "--replicas",
            "--json",
            "--plot",
            "out.svg",
        ])
        .unwrap();
        assert_eq!(a.client, ClientKind::RedisRs);
        assert_eq!(a.cluster, vec!["redis://a:1".to_string(), "redis://b:2".to_string()]);
        assert!(a.is_cluster() && a.replicas && a.json);
        assert_eq!(a.plot.as_deref(), Some(std::path::Path::new("out.svg")));
        assert!(Args::try_parse_from(["e2e", "--client", "fred"]).is_err(), "needs --url or --cluster");
        let standalone_replicas =
            Args::try_parse_from(["e2e", "--client", "fred", "--url", "redis://x", "--replicas"]).unwrap();
        assert!(standalone_replicas.check().is_err());
        assert!(a.check().is_ok());
        assert!(Args::try_parse_from(["e2e", "--client", "fred", "--url", "u", "--kill-pid", "3"]).is_err());
        assert_eq!(a.keys_dist, KeysDist::Uniform);
        assert_eq!(a.key_dist(), KeyDist::Uniform);
        assert!(!a.cache);
    }

    fn parse(args: &[&str]) -> Result<Args, String> {
        let a = Args::try_parse_from(std::iter::once("e2e").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        a.check()?;
        Ok(a)
    }

    #[test]
    fn key_distribution() {
        let a = parse(&["--client", "redwire", "--url", "redis://h", "--keys-dist", "zipf"]).unwrap();
        assert_eq!(a.key_dist(), KeyDist::Zipf(0.99));
        let a =
            parse(&["--client", "redwire", "--url", "redis://h", "--keys-dist", "zipf", "--zipf-s", "1.2"])
                .unwrap();
        assert_eq!(a.key_dist(), KeyDist::Zipf(1.2));
        let a = parse(&["--client", "redwire", "--url", "redis://h", "--zipf-s", "1.2"]).unwrap();
        assert_eq!(a.key_dist(), KeyDist::Uniform, "the exponent alone changes nothing");
        assert!(parse(&["--client", "redwire", "--url", "redis://h", "--keys-dist", "pareto"]).is_err());
        assert!(parse(&["--client", "redwire", "--url", "redis://h", "--zipf-s", "-1"]).is_err());
        assert!(parse(&["--client", "redwire", "--url", "redis://h", "--zipf-s", "x"]).is_err());
        assert_eq!(parse_zipf_s("0"), Ok(0.0));
        assert_eq!(parse_zipf_s(" 0.99 "), Ok(0.99));
        assert!(parse_zipf_s("NaN").is_err());
        assert!(parse_zipf_s("inf").is_err());
        assert!(parse_zipf_s("11").is_err());
    }

    #[test]
    fn cache_flag() {
        let a = parse(&["--client", "redwire", "--url", "redis://h", "--cache"]).unwrap();
        assert!(a.cache);
        let a = parse(&["--client", "redwire", "--cluster", "redis://a:1,redis://b:2", "--cache"]).unwrap();
        assert!(a.cache && a.is_cluster());
        let a = parse(&["--client", "redis-rs", "--url", "redis://h:1/?protocol=resp3", "--cache"]).unwrap();
        assert!(a.cache);
        parse(&[
            "--client",
            "redis-rs",
            "--cluster",
            "redis://a:1?protocol=3,redis://b:2?protocol=RESP3",
            "--cache",
        ])
        .unwrap();
        let err = parse(&["--client", "redis-rs", "--url", "redis://h:1", "--cache"]).unwrap_err();
        assert!(err.contains("RESP3"), "{err}");
        let err =
            parse(&["--client", "redis-rs", "--cluster", "redis://a:1?protocol=3,redis://b:2", "--cache"])
                .unwrap_err();
        assert!(err.contains("every URL"), "{err}");
        let err = parse(&["--client", "fred", "--url", "redis://h", "--cache"]).unwrap_err();
        assert!(err.contains("fred has no managed client-side cache"), "{err}");
        let err =
            parse(&["--client", "redwire", "--cluster", "redis://a:1", "--replicas", "--cache"]).unwrap_err();
        assert!(err.contains("--replicas"), "{err}");
        // Without --cache a RESP3 URL and fred are fine.
        parse(&["--client", "fred", "--url", "redis://h"]).unwrap();
        parse(&["--client", "redis-rs", "--url", "redis://h?protocol=resp3"]).unwrap();
    }

    #[test]
    fn resp3_in_the_query() {
        assert!(asks_resp3("redis://h:1/?protocol=resp3"));
        assert!(asks_resp3("redis://h:1?db=2&protocol=3"));
        assert!(asks_resp3("redis://h?protocol=RESP3#insecure"));
        assert!(!asks_resp3("redis://h?protocol=resp2"));
        assert!(!asks_resp3("redis://h"));
        assert!(!asks_resp3("redis://h?resp3"));
        assert!(!asks_resp3("redis://h?xprotocol=3"));
    }
}

/// `(host, port)` of a `redis://[user:pass@]host:port[/db]` URL (for
/// clients configured by host and port). IPv6 hosts come in brackets.
///
/// # Errors
/// A message naming the URL's position, never its password.
pub fn host_port(url: &str) -> Result<(String, u16), String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or("URL: unclosed [ in the host")?;
            (host, after.strip_prefix(':').unwrap_or("6379"))
        }
        None => authority.rsplit_once(':').unwrap_or((authority, "6379")),
    };
    if host.is_empty() {
        return Err("URL: no host".into());
    }
    let port = port.parse().map_err(|_| "URL: bad port".to_string())?;
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod url_tests {
    use super::host_port;

    #[test]
    fn hosts_and_ports() {
        assert_eq!(host_port("redis://127.0.0.1:7001"), Ok(("127.0.0.1".into(), 7001)));
        assert_eq!(host_port("redis://u:secret@h:7/0"), Ok(("h".into(), 7)));
        assert_eq!(host_port("redis://h"), Ok(("h".into(), 6379)));
        assert_eq!(host_port("redis://[::1]:7002"), Ok(("::1".into(), 7002)));
        assert_eq!(host_port("h:9"), Ok(("h".into(), 9)));
        assert!(host_port("redis://:7").is_err());
        let err = host_port("redis://u:secret@h:x").unwrap_err();
        assert!(!err.contains("secret"));
    }
}
