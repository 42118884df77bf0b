//! The `redwire` command-line tool: send one command (`cmd`), run a verified
//! load (`bench`), use the store API (`store`, `demo`), check a store
//! configuration (`config check`), or `subscribe` / `publish`.
//!
//! Global options pick the target: `--url URL` (standalone), `--cluster URL,...`
//! or `--config FILE` (Stalwart's store JSON), with `--tls-ca`, `--tls-cert` and
//! `--tls-key` for TLS URLs; `store`, `demo` and `bench` use the embedded store
//! when none is given. Exit codes: 0 on success, 1 on an error (one line on
//! stderr), 2 when `bench` or `demo` saw wrong answers (for `bench --workload
//! counter`: the exactly-once invariant failed or could not be checked).

mod bench;
mod bench_counter;
mod demo;
mod format;
mod pubsub_cmd;
mod store_cmd;
mod target;

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use redwire::conn::{Address, Protocol};
use redwire::{Client, Cmd, ConnectOptions, Error, PoolOptions, Secret};

use target::{could_not_connect, Target};

#[derive(Parser, Debug)]
#[command(name = "redwire", version, about = "A fast, hard-to-break Redis/Valkey client")]
struct Cli {
    /// Server URL: redis://\[user\]\[:pass@\]host\[:port\]\[/db\], rediss://, valkey://, unix:///path ...
    #[arg(long, global = true)]
    url: Option<String>,
    /// Cluster seed URLs, comma separated (any may be down).
    #[arg(long, global = true, value_delimiter = ',')]
    cluster: Vec<String>,
    /// With --cluster: send read-only commands to replicas.
    #[arg(long, global = true)]
    read_from_replicas: bool,
    /// A store configuration file (Stalwart's InMemoryStore JSON).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Use RESP3 (HELLO 3).
    #[arg(short = '3', long = "resp3", global = true)]
    resp3: bool,
    /// ACL user name (overrides the URL's).
    #[arg(long, global = true)]
    user: Option<String>,
    /// Password (overrides the URL's). Prefer the REDWIRE_PASSWORD environment variable.
    #[arg(long, global = true, env = "REDWIRE_PASSWORD", hide_env_values = true)]
    pass: Option<String>,
    /// PEM file of CA certificates to trust instead of the webpki roots (TLS URLs only).
    #[arg(long = "tls-ca", global = true, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS (with --tls-key; TLS URLs only).
    #[arg(long = "tls-cert", global = true, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long = "tls-key", global = true, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Connect and response timeout, e.g. 500ms, 2s (a number needs its unit).
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send one command and print the reply as `redis-cli --no-raw` does.
    Cmd {
        /// The command and its arguments (any bytes, as redis-cli takes them).
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<OsString>,
    },
    /// Run a verified load (GET/SET, or INCR checked for exactly-once) and print the summary.
    Bench {
        /// What to run: `getset` (verified GET/SET) or `counter` (INCR, then
        /// `acked <= server <= acked + outcome_unknown` checked on every key;
        /// needs --url or --cluster).
        #[arg(long, value_enum, default_value_t = Workload::Getset)]
        workload: Workload,
        /// Concurrent tasks sharing the client.
        #[arg(long, default_value_t = 128)]
        clients: usize,
        /// How long to run, e.g. 10s.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
        /// Number of distinct keys [default: 10000 for getset, 10 for counter].
        #[arg(long)]
        keys: Option<u64>,
        /// Value size in bytes (getset).
        #[arg(long, default_value_t = 64)]
        value_size: usize,
        /// GET:SET ratio, e.g. 80:20 (getset).
        #[arg(long, default_value = "80:20", value_parser = parse_ratio)]
        ratio: (u32, u32),
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Serve reads from a client-side cache kept valid by the server
        /// (`CLIENT TRACKING`); the summary adds its hit rate. Needs --url or --cluster.
        #[arg(long)]
        cache: bool,
        /// How keys are picked: `uniform`, or `zipf` (key 0 hottest, see --zipf-s).
        #[arg(long, value_enum, default_value_t = KeysDist::Uniform)]
        keys_dist: KeysDist,
        /// The Zipf exponent for --keys-dist zipf.
        #[arg(long, default_value_t = 0.99)]
        zipf_s: f64,
        /// Draw the run (getset): ops/s, p99 and errors over time, and the latency histogram, as SVG.
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<PathBuf>,
        /// Mark this time in the --plot picture, e.g. when you killed a primary (5s).
        #[arg(long, value_parser = parse_duration, requires = "plot")]
        mark_at: Option<Duration>,
    },
    /// A scripted run of what a mail server does with its store, checking every result.
    Demo,
    /// One store operation (get, set, incr, rate, lock ...).
    Store {
        #[command(subcommand)]
        op: store_cmd::StoreOp,
    },
    /// Store configuration files.
    Config {
        #[command(subcommand)]
        op: store_cmd::ConfigOp,
    },
    /// Subscribe and print messages (and gaps) as they come.
    Subscribe(pubsub_cmd::SubscribeArgs),
    /// Publish one message and print how many subscribers received it.
    Publish(pubsub_cmd::PublishArgs),
}

/// The load `bench` runs.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    /// Verified GET/SET.
    Getset,
    /// INCR over a few keys, then the exactly-once check.
    Counter,
}

/// How `bench` picks keys.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum KeysDist {
    /// Every key equally often.
    Uniform,
    /// Zipf-distributed (--zipf-s).
    Zipf,
}

/// Parses `500ms`, `2s`, `1m`, `1h`, `1d` (any case), the units of the store
/// configuration. A bare number other than 0 is refused with a hint: it means
/// seconds to redis-cli but milliseconds in the configuration (as in
/// Stalwart's), so either reading would surprise someone.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {text:?} (write e.g. 5s or 500ms)"))?;
    let ms = match unit.trim_start() {
        "" if n == 0 => Some(0),
        "" => return Err(format!("{text:?} needs a unit: write {n}s or {n}ms (also m, h, d)")),
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => return Err(format!("unknown unit in {text:?} (use ms, s, m, h or d)")),
    };
    ms.map(Duration::from_millis).ok_or_else(|| format!("duration {text:?} is too large"))
}

/// An argument's bytes, exactly as given on Unix.
fn os_bytes(arg: &OsStr) -> Cow<'_, [u8]> {
    #[cfg(unix)]
    {
        Cow::Borrowed(std::os::unix::ffi::OsStrExt::as_bytes(arg))
    }
    #[cfg(not(unix))]
    {
        match arg.to_string_lossy() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }
    }
}

fn parse_ratio(text: &str) -> Result<(u32, u32), String> {
    let (g, s) = text.split_once(':').ok_or_else(|| format!("ratio {text:?} must look like 80:20"))?;
    let g: u32 = g.trim().parse().map_err(|_| format!("bad GET share in {text:?}"))?;
    let s: u32 = s.trim().parse().map_err(|_| format!("bad SET share in {text:?}"))?;
    if g + s == 0 {
        return Err("ratio must not be 0:0".into());
    }
    Ok((g, s))
}

fn connect_options(cli: &Cli) -> Result<ConnectOptions, Error> {
    let opts = match &cli.url {
        Some(url) => redwire::url::parse_url(url)?,
        None => ConnectOptions::default(),
    };
    apply_overrides(cli, opts)
}

fn apply_overrides(cli: &Cli, mut opts: ConnectOptions) -> Result<ConnectOptions, Error> {
    if cli.resp3 {
        opts.protocol = Protocol::Resp3;
    }
    if let Some(user) = &cli.user {
        opts.username = Some(user.clone());
    }
    if let Some(pass) = &cli.pass {
        opts.password = Some(Secret::new(pass.clone()));
    }
    if cli.tls_ca.is_some() || cli.tls_cert.is_some() || cli.tls_key.is_some() {
        let Some(tls) = opts.tls.as_mut() else {
            return Err(Error::Other(
                "--tls-ca, --tls-cert and --tls-key need a TLS URL (rediss:// or valkeys://)".into(),
            ));
        };
        if let Some(ca) = &cli.tls_ca {
            tls.ca_file = Some(ca.clone());
        }
        if let Some(cert) = &cli.tls_cert {
            tls.client_cert = Some(cert.clone());
        }
        if let Some(key) = &cli.tls_key {
            tls.client_key = Some(key.clone());
        }
    }
    // Print doubles as the server wrote them, as redis-cli does.
    opts.keep_double_text = true;
    opts.connect_timeout = cli.timeout;
    opts.response_timeout = Some(cli.timeout);
    Ok(opts)
}

/// `e`, said as redis-cli says a failure to reach the `--url` server or the
/// `--cluster` seeds (`Could not connect to 127.0.0.1:1: Connection refused`);
/// other errors, and those of a `--config` store, unchanged.
fn unreachable(cli: &Cli, e: Error) -> Error {
    let urls = cli.url.iter().chain(&cli.cluster);
    let addresses: Vec<Address> =
        urls.filter_map(|url| redwire::url::parse_url(url.trim()).ok()).map(|o| o.address).collect();
    could_not_connect(&addresses.iter().collect::<Vec<_>>(), e)
}

async fn open_target(cli: &Cli) -> Result<Target, Error> {
    open_target_with(cli, None).await
}

/// As [`open_target`], with a client-side cache when `cache` is given.
async fn open_target_with(cli: &Cli, cache: Option<redwire::cache::CacheOptions>) -> Result<Target, Error> {
    if cli.config.is_some() {
        return Err(Error::Config("--config names a store: use the store commands, or --url".into()));
    }
    if !cli.cluster.is_empty() {
        let mut seeds = Vec::with_capacity(cli.cluster.len());
        for url in &cli.cluster {
            seeds.push(apply_overrides(cli, redwire::url::parse_url(url.trim())?)?);
        }
        let opts = redwire::cluster::ClusterOptions {
            seeds,
            read_from_replicas: cli.read_from_replicas,
            // The bench measures raw replica reads (stale ones are counted, not failed).
            read_your_writes: false,
            cache,
            ..redwire::cluster::ClusterOptions::default()
        };
        let client = redwire::cluster::ClusterClient::connect(opts).await.map_err(|e| unreachable(cli, e))?;
        return Ok(Target::Server(redwire::AnyClient::Cluster(client)));
    }
    let opts = connect_options(cli)?;
    let client = match cache {
        Some(cache) => Client::connect_cached(opts, PoolOptions::default(), cache).await,
        None => Client::connect(opts, PoolOptions::default()).await,
    }
    .map_err(|e| unreachable(cli, e))?;
    Ok(Target::Server(redwire::AnyClient::Standalone(client)))
}

async fn run(cli: Cli) -> Result<i32, Error> {
    match &cli.command {
        Command::Cmd { args } => {
            let Some((name, rest)) = args.split_first() else {
                return Err(Error::Other("no command given".into()));
            };
            let mut c = Cmd::new(&name.to_string_lossy());
            for a in rest {
                c.push_bytes(os_bytes(a).as_ref());
            }
            // One bound on the whole exchange, whatever the server does.
            let deadline = cli.timeout.saturating_mul(2) + Duration::from_millis(100);
            let reply = tokio::time::timeout(deadline, async {
                let target = open_target(&cli).await?;
                target.send(&c).await
            })
            .await
            .map_err(|_| Error::Timeout)??;
            let words: Vec<Cow<'_, [u8]>> = args.iter().map(|a| os_bytes(a)).collect();
            let words: Vec<&[u8]> = words.iter().map(AsRef::as_ref).collect();
            let text = if format::prints_raw(&words) {
                format::format_raw(&reply)
            } else {
                format::format_reply(&reply).into_bytes()
            };
            // Not print!: it panics when stdout is closed (`| head -0`).
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&text).and_then(|()| stdout.flush())?;
            Ok(0)
        }
        Command::Bench {
            workload,
            clients,
            duration,
            keys,
            value_size,
            ratio,
            json,
            cache,
            keys_dist,
            zipf_s,
            plot,
            mark_at,
        } => {
            let has_server = cli.url.is_some() || !cli.cluster.is_empty();
            if *cache && (!has_server || *workload == Workload::Counter) {
                return Err(Error::Config("--cache needs --url or --cluster and the getset workload".into()));
            }
            if *keys_dist == KeysDist::Zipf && !(zipf_s.is_finite() && *zipf_s > 0.0) {
                return Err(Error::Config("--zipf-s must be a number above 0".into()));
            }
            if *workload == Workload::Counter {
                if !has_server {
                    return Err(Error::Config(
                        "--workload counter needs a server: give --url or --cluster".into(),
                    ));
                }
                if plot.is_some() {
                    return Err(Error::Config("--plot draws the getset workload only".into()));
                }
                let args = bench_counter::CounterArgs {
                    clients: (*clients).max(1),
                    duration: *duration,
                    keys: keys.unwrap_or(10).max(1),
                    json: *json,
                };
                return bench_counter::run(open_target(&cli).await?, args).await;
            }
            // --url and --cluster bench the raw clients; --config (or nothing) a store.
            let target = if has_server {
                open_target_with(&cli, cache.then(redwire::cache::CacheOptions::new)).await?
            } else {
                Target::Store(store_cmd::open_store(&cli).await?)
            };
            let args = bench::BenchArgs {
                clients: (*clients).max(1),
                duration: *duration,
                keys: keys.unwrap_or(10_000).max(1),
                value_size: *value_size,
                get_ratio: ratio.0,
                set_ratio: ratio.1,
                json: *json,
                // Replica reads may trail the primary; anything else must be exact.
                stale_reads_ok: cli.read_from_replicas,
                key_dist: match keys_dist {
                    KeysDist::Uniform => redwire_load::KeyDist::Uniform,
                    KeysDist::Zipf => redwire_load::KeyDist::Zipf(*zipf_s),
                },
                plot: plot.clone(),
                mark_at: *mark_at,
            };
            bench::run(target, args).await
        }
        Command::Demo => demo::run(&store_cmd::open_store(&cli).await?).await,
        Command::Store { op } => store_cmd::run_store(&store_cmd::open_store(&cli).await?, op).await,
        Command::Config { op } => Ok(store_cmd::run_config(op)),
        Command::Subscribe(args) => pubsub_cmd::subscribe(&cli, args).await,
        Command::Publish(args) => pubsub_cmd::publish(&cli, args).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redwire: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    // Do not wait for connection tasks that are still parked.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("redwire: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ratios() {
        // The units and spellings of the store configuration (src/config/duration.rs).
        for (text, ms) in [
            ("500ms", 500),
            ("2s", 2_000),
            ("1M", 60_000),
            ("3h", 10_800_000),
            ("1d", 86_400_000),
            (" 10 s ", 10_000),
            ("0", 0),
            ("0ms", 0),
        ] {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        // A bare number is seconds to redis-cli, milliseconds in the config: refused, with a hint.
        let bare = parse_duration("5").unwrap_err();
        assert!(bare.contains("write 5s or 5ms"), "{bare}");
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(parse_ratio("80:20"), Ok((80, 20)));
        assert!(parse_ratio("80").is_err());
        assert!(parse_ratio("0:0").is_err());
    }
}
