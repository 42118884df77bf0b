//! The `subscribe` and `publish` subcommands.
//!
//! `subscribe [--pattern|--sharded] CHANNEL...` prints each message the way
//! `redis-cli` does (`1) "message"` ...) as it arrives, and a `--` line for
//! every interruption, restoration and lag, so a gap is never silent.
//! `publish [--sharded] CHANNEL MESSAGE` prints the receiver count as
//! `(integer) N`. Both talk to the `--url` server, the `--cluster` seeds, or
//! the Redis or RedisCluster store of `--config`.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use redwire::pubsub::{
    Event, Kind, Message, Publisher, Servers, Subscriber, SubscriberOptions, Subscription,
};
use redwire::{Error, Frame};

use super::{apply_overrides, connect_options, unreachable, Cli};

/// `redwire subscribe`.
#[derive(Args, Debug, Clone)]
pub struct SubscribeArgs {
    /// The names are glob patterns (PSUBSCRIBE).
    #[arg(long, conflicts_with = "sharded")]
    pattern: bool,
    /// The names are sharded channels (SSUBSCRIBE).
    #[arg(long)]
    sharded: bool,
    /// Exit after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Channels (or patterns).
    #[arg(required = true, num_args = 1..)]
    channels: Vec<String>,
}

/// `redwire publish`.
#[derive(Args, Debug, Clone)]
pub struct PublishArgs {
    /// Publish to a sharded channel (SPUBLISH).
    #[arg(long)]
    sharded: bool,
    /// The channel.
    channel: String,
    /// The message.
    message: String,
}

/// The servers of the global options: `--config` (a Redis or RedisCluster
/// store), `--cluster` seeds, or the `--url` server.
fn servers(cli: &Cli) -> Result<Servers, Error> {
    let given = [cli.config.is_some(), cli.url.is_some(), !cli.cluster.is_empty()];
    if given.iter().filter(|&&g| g).count() > 1 {
        return Err(Error::Config("give only one of --config, --url and --cluster".into()));
    }
    if let Some(path) = &cli.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        let config = redwire::config::parse(&text)
            .map_err(|errors| Error::Config(format!("{}:\n{errors}", path.display())))?;
        return Servers::from_config(&config);
    }
    if !cli.cluster.is_empty() {
        let seeds = cli
            .cluster
            .iter()
            .map(|url| apply_overrides(cli, redwire::url::parse_url(url.trim())?))
            .collect::<Result<Vec<_>, Error>>()?;
        return Ok(Servers::cluster(seeds));
    }
    Ok(Servers::standalone(connect_options(cli)?))
}

fn bulk(b: &Bytes) -> Frame {
    Frame::BulkString(b.clone())
}

fn word(s: &'static str) -> Frame {
    Frame::BulkString(Bytes::from_static(s.as_bytes()))
}

/// A message as `redis-cli` shows it: `message`/`pmessage`/`smessage` and the fields.
pub fn format_message(m: &Message) -> String {
    let frame = match (&m.kind, &m.pattern) {
        (Kind::Pattern, Some(p)) => {
            Frame::Array(vec![word("pmessage"), bulk(p), bulk(&m.channel), bulk(&m.payload)])
        }
        (Kind::Sharded, _) => Frame::Array(vec![word("smessage"), bulk(&m.channel), bulk(&m.payload)]),
        _ => Frame::Array(vec![word("message"), bulk(&m.channel), bulk(&m.payload)]),
    };
    super::format::format_reply(&frame)
}

fn list(subs: &[Subscription]) -> String {
    subs.iter().map(Subscription::to_string).collect::<Vec<_>>().join(", ")
}

/// One line for an event that is not a message.
pub fn format_notice(e: &Event) -> Option<String> {
    Some(match e {
        Event::Message(_) => return None,
        Event::Interrupted { subscriptions, cause } => {
            format!("-- interrupted: {} ({cause}); restoring\n", list(subscriptions))
        }
        Event::Resubscribed { subscriptions } => {
            format!("-- resubscribed: {}; messages in between may have been missed\n", list(subscriptions))
        }
        Event::Refused { subscriptions, error } => {
            format!("-- dropped: {} (the server refused: {error})\n", list(subscriptions))
        }
        Event::Lagged { dropped } => format!("-- lagged: {dropped} messages dropped (reading too slowly)\n"),
        _ => "-- unknown event\n".to_string(),
    })
}

/// Runs `subscribe`; returns the exit code.
pub async fn subscribe(cli: &Cli, args: &SubscribeArgs) -> Result<i32, Error> {
    let options = SubscriberOptions {
        max_backoff: Duration::from_secs(2).min(cli.timeout.max(Duration::from_millis(100))),
        ..SubscriberOptions::default()
    };
    let subscriber = Subscriber::connect(servers(cli)?, options).await.map_err(|e| unreachable(cli, e))?;
    let kind = if args.pattern {
        Kind::Pattern
    } else if args.sharded {
        Kind::Sharded
    } else {
        Kind::Channel
    };
    subscriber.subscribe_kind(kind, &args.channels).await.map_err(|e| unreachable(cli, e))?;
    eprintln!("Reading messages... (press Ctrl-C to quit)");
    let mut seen = 0u64;
    while let Some(event) = subscriber.recv().await {
        let text = match &event {
            Event::Message(m) => {
                seen += 1;
                format_message(m)
            }
            other => format_notice(other).unwrap_or_default(),
        };
        // Not print!: it panics when stdout is closed (`| head`); stop quietly instead.
        let mut stdout = std::io::stdout().lock();
        if stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).is_err() {
            break;
        }
        if args.count.is_some_and(|n| seen >= n) {
            break;
        }
    }
    Ok(0)
}

/// Runs `publish`; returns the exit code.
pub async fn publish(cli: &Cli, args: &PublishArgs) -> Result<i32, Error> {
    let publisher = Publisher::connect(servers(cli)?).await.map_err(|e| unreachable(cli, e))?;
    let receivers = if args.sharded {
        publisher.spublish(args.channel.as_str(), args.message.as_str()).await
    } else {
        publisher.publish(args.channel.as_str(), args.message.as_str()).await
    };
    let receivers = receivers.map_err(|e| unreachable(cli, e))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "(integer) {receivers}").and_then(|()| stdout.flush())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn messages_print_like_redis_cli() {
        let m =
            Message { kind: Kind::Channel, channel: b("news"), pattern: None, payload: b("hi \"there\"") };
        assert_eq!(format_message(&m), "1) \"message\"\n2) \"news\"\n3) \"hi \\\"there\\\"\"\n");
        let p = Message { kind: Kind::Pattern, channel: b("news"), pattern: Some(b("n*")), payload: b("x") };
        assert_eq!(format_message(&p), "1) \"pmessage\"\n2) \"n*\"\n3) \"news\"\n4) \"x\"\n");
        let s = Message { kind: Kind::Sharded, channel: b("{a}"), pattern: None, payload: b("") };
        assert_eq!(format_message(&s), "1) \"smessage\"\n2) \"{a}\"\n3) \"\"\n");
    }

    #[test]
    fn gaps_are_printed() {
        let subs = vec![Subscription::new(Kind::Channel, b("a")), Subscription::new(Kind::Pattern, b("p*"))];
        let i = Event::Interrupted { subscriptions: subs.clone(), cause: Arc::new(Error::Closed) };
        assert!(format_notice(&i).unwrap().starts_with("-- interrupted: channel a, pattern p* ("));
        let r = Event::Resubscribed { subscriptions: subs };
        assert!(format_notice(&r).unwrap().contains("may have been missed"));
        assert_eq!(
            format_notice(&Event::Lagged { dropped: 3 }).unwrap(),
            "-- lagged: 3 messages dropped (reading too slowly)\n"
        );
    }
}
