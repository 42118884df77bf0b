//! One measured run of one library: N subscribers, one publisher keeping a
//! bounded window of `PUBLISH`es in flight, a watchdog, and the [`Report`].
//!
//! ```text
//! publisher task ── Window (≤ window in flight, queued in sequence order) ──▶ server
//! server ──▶ N subscriber tasks: Tally each (order, loss, latency histogram)
//! watchdog (this task): every 50 ms, done? stalled? ── stop signals
//! ```
//!
//! The measured window starts when every subscriber is confirmed and the first
//! message is about to be published, and ends when every subscriber has its
//! last message (or was stopped). CPU is `getrusage` of the whole process over
//! that window, so it covers the publisher and all subscribers; run one library
//! at a time in a runtime of its own (the binary does) and it is that library's.
//!
//! Not here: the clients (`client`), the command line and output (`bin/pubsub.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client::{Feed, Library, Publisher, Received};
use super::payload::{self, clock};
use super::tally::{self, Tally};
use super::window::Window;

/// How often the watchdog looks.
const TICK: Duration = Duration::from_millis(50);

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Subscribers, each on its own connection.
    pub subscribers: usize,
    /// Messages published (each delivered to every subscriber).
    pub messages: u64,
    /// Payload bytes per message (at least [`payload::HEADER`]).
    pub payload: usize,
    /// Publishes in flight at most.
    pub window: usize,
    /// redwire's subscriber buffer (`None`: its default).
    pub buffer: Option<usize>,
    /// Give up when nothing was published or delivered for this long.
    pub stall: Duration,
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// The outcome of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub client: &'static str,
    pub subscribers: usize,
    pub messages: u64,
    pub payload: usize,
    pub window: usize,
    /// `PUBLISH`es that got a reply.
    pub published: u64,
    /// First publish to last reply.
    pub publish_secs: f64,
    pub published_per_sec: f64,
    /// `PUBLISH` replies counting fewer receivers than subscribers.
    pub short_publishes: u64,
    /// Messages received, summed over subscribers.
    pub delivered: u64,
    /// First publish to the last delivery to any subscriber.
    pub deliver_secs: f64,
    pub delivered_per_sec: f64,
    /// Publish-to-receive time of every first delivery, all subscribers.
    pub latency_us: Latency,
    /// Published messages some subscriber never received (summed over subscribers).
    pub lost: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
    pub malformed: u64,
    /// Messages the client itself reported dropping (redwire `Lagged`).
    pub reported_dropped: u64,
    /// Interruptions the client reported.
    pub interruptions: u64,
    /// User + system CPU of the process over the measured window.
    pub cpu_secs: f64,
    /// `cpu_secs` per delivered message, in microseconds.
    pub cpu_us_per_delivered: f64,
    /// The watchdog stopped the run: nothing moved for `stall`.
    pub stalled: bool,
}

/// What the publisher task returns.
struct Published {
    count: u64,
    short: u64,
    end_ns: u64,
}

/// Runs `config` against `url` with `library`.
///
/// # Errors
/// A connect, subscribe or publish error, or a task that panicked. Loss,
/// reordering and stalls are not errors: they are in the report.
pub async fn run(library: Library, url: &str, config: &Config) -> Result<Report, String> {
    let channel: Arc<str> = format!("redwire-bench.pubsub.{}.{}", std::process::id(), library.name()).into();
    let publisher = Publisher::connect(library, url, config.window).await?;
    let mut feeds = Vec::with_capacity(config.subscribers);
    for _ in 0..config.subscribers {
        feeds.push(Feed::connect(library, url, &channel, config.buffer).await?);
    }

    // Slot 0: publishes completed; slot i + 1: deliveries to subscriber i.
    let progress: Arc<Vec<AtomicU64>> =
        Arc::new((0..=config.subscribers).map(|_| AtomicU64::new(0)).collect());
    let mut stops = Vec::with_capacity(config.subscribers);
    let mut subscribers = Vec::with_capacity(config.subscribers);
    for (i, feed) in feeds.into_iter().enumerate() {
        let (stop_tx, stop_rx) = oneshot::channel();
        stops.push(stop_tx);
        let tally = Tally::new(config.messages)?;
        subscribers.push(tokio::spawn(subscribe(feed, tally, stop_rx, progress.clone(), i + 1)));
    }

    let cpu_start = cpu_time();
    let start_ns = clock();
    // Unconstrained: see `window` (the budget would reorder waiting publishes).
    let publishing = tokio::spawn(tokio::task::unconstrained(publish(
        publisher,
        channel,
        config.clone(),
        progress.clone(),
    )));
    let (published, stalled) = watch(publishing, &subscribers, &progress, config.stall).await;
    // Done or not, every subscriber stops now (those done already ignore it).
    for stop in stops {
        let _ = stop.send(());
    }
    let mut tallies = Vec::with_capacity(subscribers.len());
    for s in subscribers {
        tallies.push(s.await.map_err(|e| format!("subscriber task: {e}"))?);
    }
    let cpu = cpu_time().saturating_sub(cpu_start);
    let published = published?;
    report(library, config, start_ns, &published, &tallies, cpu, stalled)
}

/// Waits until the publisher and every subscriber are done, or nothing moved
/// for `stall`. Returns the publisher's outcome and whether it stalled.
async fn watch(
    mut publishing: JoinHandle<Result<Published, String>>,
    subscribers: &[JoinHandle<Tally>],
    progress: &[AtomicU64],
    stall: Duration,
) -> (Result<Published, String>, bool) {
    let mut published = None;
    let mut last_sum = 0u64;
    let mut last_move = Instant::now();
    loop {
        tokio::time::sleep(TICK).await;
        if published.is_none() && publishing.is_finished() {
            let outcome = (&mut publishing).await.unwrap_or_else(|e| Err(format!("publisher task: {e}")));
            if outcome.is_err() {
                return (outcome, false);
            }
            published = Some(outcome);
        }
        if let Some(outcome) = published.take_if(|_| subscribers.iter().all(JoinHandle::is_finished)) {
            return (outcome, false);
        }
        let sum = progress.iter().map(|p| p.load(Ordering::Relaxed)).fold(0u64, u64::wrapping_add);
        if sum != last_sum {
            last_sum = sum;
            last_move = Instant::now();
        } else if last_move.elapsed() >= stall {
            let outcome = match published {
                Some(outcome) => outcome,
                None => {
                    publishing.abort();
                    Err(format!("the publisher made no progress for {stall:?}"))
                }
            };
            return (outcome, true);
        }
    }
}

/// Publishes `config.messages` messages, at most `config.window` in flight.
async fn publish(
    publisher: Publisher,
    channel: Arc<str>,
    config: Config,
    progress: Arc<Vec<AtomicU64>>,
) -> Result<Published, String> {
    let mut window = Window::new();
    let mut done = Published { count: 0, short: 0, end_ns: 0 };
    let receivers = u64::try_from(config.subscribers).unwrap_or(u64::MAX);
    let counter = progress.first().ok_or("no progress slot for the publisher")?;
    let mut settle = |reply: Result<u64, String>| -> Result<(), String> {
        if reply? < receivers {
            done.short += 1;
        }
        done.count += 1;
        counter.store(done.count, Ordering::Relaxed);
        Ok(())
    };
    let cap = config.window.max(1);
    for seq in 0..config.messages {
        while window.len() >= cap {
            if let Some(reply) = window.next().await {
                settle(reply)?;
            }
        }
        window.push(publisher.publish(&channel, payload::encode(seq, clock(), config.payload)));
    }
    while let Some(reply) = window.next().await {
        settle(reply)?;
    }
    done.end_ns = clock();
    Ok(done)
}

/// Receives until the last message arrives, the feed closes, or `stop`.
async fn subscribe(
    mut feed: Feed,
    mut tally: Tally,
    mut stop: oneshot::Receiver<()>,
    progress: Arc<Vec<AtomicU64>>,
    slot: usize,
) -> Tally {
    let Some(counter) = progress.get(slot) else { return tally };
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            received = feed.recv() => match received {
                Received::Message(header) => {
                    let last = tally.record(header, clock());
                    counter.store(tally.delivered, Ordering::Relaxed);
                    if last {
                        break;
                    }
                }
                Received::Dropped(n) => tally.reported_dropped += n,
                Received::Interrupted => tally.interruptions += 1,
                Received::Closed => break,
            },
        }
    }
    tally
}

fn report(
    library: Library,
    config: &Config,
    start_ns: u64,
    published: &Published,
    tallies: &[Tally],
    cpu: Duration,
    stalled: bool,
) -> Result<Report, String> {
    let mut latency = tally::histogram()?;
    for t in tallies {
        latency.add(&t.latency).map_err(|e| format!("histogram: {e:?}"))?;
    }
    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    let delivered = sum(|t| t.delivered);
    let last_ns = tallies.iter().map(|t| t.last_ns).max().unwrap_or(start_ns);
    let secs = |end_ns: u64| end_ns.saturating_sub(start_ns) as f64 / 1e9;
    let rate = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let (publish_secs, deliver_secs) = (secs(published.end_ns), secs(last_ns));
    let us = |ns: u64| ns as f64 / 1e3;
    let cpu_secs = cpu.as_secs_f64();
    Ok(Report {
        client: library.name(),
        subscribers: config.subscribers,
        messages: config.messages,
        payload: config.payload,
        window: config.window,
        published: published.count,
        publish_secs,
        published_per_sec: rate(published.count, publish_secs),
        short_publishes: published.short,
        delivered,
        deliver_secs,
        delivered_per_sec: rate(delivered, deliver_secs),
        latency_us: Latency {
            p50: us(latency.value_at_quantile(0.5)),
            p99: us(latency.value_at_quantile(0.99)),
            p999: us(latency.value_at_quantile(0.999)),
            max: us(latency.max()),
            mean: latency.mean() / 1e3,
        },
        lost: sum(Tally::lost),
        out_of_order: sum(|t| t.out_of_order),
        duplicates: sum(|t| t.duplicates),
        malformed: sum(|t| t.malformed),
        reported_dropped: sum(|t| t.reported_dropped),
        interruptions: sum(|t| t.interruptions),
        cpu_secs,
        cpu_us_per_delivered: if delivered > 0 { cpu_secs * 1e6 / delivered as f64 } else { 0.0 },
        stalled,
    })
}

/// User + system CPU time of this process (all threads).
fn cpu_time() -> Duration {
    // SAFETY: rusage is plain integers, for which all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a pointer to a live, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let of = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    of(usage.ru_utime) + of(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_advances_with_work() {
        let before = cpu_time();
        let mut x = 0u64;
        let until = Instant::now() + Duration::from_millis(30);
        while Instant::now() < until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(cpu_time() > before);
    }

    #[test]
    fn report_sums_subscribers_and_rates() {
        let config = Config {
            subscribers: 2,
            messages: 4,
            payload: 64,
            window: 8,
            buffer: None,
            stall: Duration::from_secs(1),
        };
        let mut a = Tally::new(4).unwrap();
        let mut b = Tally::new(4).unwrap();
        for seq in 0..4 {
            a.record(Some((seq, 0)), 1_000_000_000 + seq * 1_000);
        }
        b.record(Some((1, 0)), 1_000);
        b.record(Some((0, 0)), 500_000_000);
        let published = Published { count: 4, short: 1, end_ns: 500_000_000 };
        let r = report(Library::Redwire, &config, 0, &published, &[a, b], Duration::from_millis(3), false)
            .unwrap();
        assert_eq!(r.delivered, 6);
        assert_eq!(r.lost, 2);
        assert_eq!(r.out_of_order, 1);
        assert!((r.published_per_sec - 8.0).abs() < 1e-6);
        // Last delivery at ~1 s: 6 messages per ~1 s.
        assert!((r.delivered_per_sec - 6.0).abs() < 0.01);
        assert!((r.cpu_us_per_delivered - 500.0).abs() < 1e-6);
        assert!(r.latency_us.max >= 1_000_000.0 * 0.999);
        assert_eq!(r.short_publishes, 1);
    }
}
