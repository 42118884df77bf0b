//! The `tracing` and `metrics` features against real servers: the events of
//! a reconnect, a watchdog close, a MOVED and an ASK, a topology refresh and pub/sub gaps, with
//! their fields; no password in any event; and the `metrics` counters after
//! a known workload, to the unit. Also `stats()` of a cluster client.
//!
//! Built only with both features (`required-features` in Cargo.toml):
//! `cargo test --features tracing,metrics --test observability`.
//!
//! Capture is per test: a scoped `tracing` subscriber and a thread-local
//! `metrics` recorder, each test on a current-thread runtime so that every
//! task of its clients runs on the thread where they are installed. Not
//! here: the stats of a standalone client (`tests/stats.rs`).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use redwire::client::Client;
use redwire::cmd::cmd;
use redwire::pool::PoolOptions;
use redwire::pubsub::{Event, Servers, Subscriber, SubscriberOptions};
use redwire::url::parse_url;
use redwire::ClusterClient;
use support::{Cluster, Server, ServerOptions};
use tracing::field::{Field, Visit};
use tracing::span;

const PASSWORD: &str = "obs-Secret-pw-7781";

// ---- a tiny tracing subscriber that keeps every event ------------------------

#[derive(Debug, Clone)]
struct Captured {
    level: tracing::Level,
    target: String,
    /// Every field, `message` included, as text.
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }

    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or_else(|| panic!("no field {name} in {self:?}"), String::as_str)
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let meta = event.metadata();
        let captured = Captured { level: *meta.level(), target: meta.target().to_string(), fields };
        self.0.lock().unwrap().push(captured);
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

impl Capture {
    fn all(&self) -> Vec<Captured> {
        self.0.lock().unwrap().clone()
    }

    /// The first event with `message`, waiting for it up to `limit`.
    async fn wait_for(&self, message: &str, limit: Duration) -> Captured {
        self.wait_for_where(message, limit, |_| true).await
    }

    async fn wait_for_where(
        &self,
        message: &str,
        limit: Duration,
        pred: impl Fn(&Captured) -> bool,
    ) -> Captured {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(e) = self.all().into_iter().find(|e| e.message() == message && pred(e)) {
                return e;
            }
            assert!(Instant::now() < deadline, "no `{message}` event; got:\n{:#?}", self.all());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Fails if any event's message or field holds `secret`.
    fn assert_never_shows(&self, secret: &str) {
        let events = self.all();
        assert!(!events.is_empty(), "nothing captured");
        for e in events {
            for (name, value) in &e.fields {
                assert!(!value.contains(secret), "field {name} of {e:?} shows a secret");
            }
        }
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

// ---- tracing ------------------------------------------------------------------

#[test]
fn reconnect_is_traced_and_no_password_shows() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    current_thread().block_on(async {
        let server = Server::start_with(ServerOptions::new().user("obsuser", PASSWORD));
        let url = server.url();
        assert!(url.contains(PASSWORD), "the URL carries the password: {url}");
        let node = format!("redis://127.0.0.1:{}", server.port());

        let client = Client::open(&url).await.expect("connect");
        let connected = capture.wait_for("connected", Duration::from_secs(5)).await;
        assert_eq!(connected.field("node"), node);
        assert_eq!(connected.target, "redwire::conn");

        client.send(&cmd("SET").arg("obs:k").arg("v")).await.expect("set");
        let id: i64 = client.query(&cmd("CLIENT").arg("ID")).await.expect("id");
        let killed = server.client().cmd(&["CLIENT", "KILL", "ID", &id.to_string()]);
        assert_eq!(killed.as_int(), Some(1), "{killed:?}");
        // GET is safe to repeat: the client reconnects and answers.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match client.query::<Option<String>>(&cmd("GET").arg("obs:k")).await {
                Ok(v) => {
                    assert_eq!(v.as_deref(), Some("v"));
                    break;
                }
                Err(e) => assert!(Instant::now() < deadline, "no reconnect: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let e = capture.wait_for("reconnected", Duration::from_secs(5)).await;
        assert_eq!(e.level, tracing::Level::INFO);
        assert_eq!(e.field("node"), node);
        assert_eq!(e.field("generation"), "1");
        // The server closed the socket: an IO error or an EOF, never "unknown".
        assert_ne!(e.field("cause"), "unknown", "{e:?}");
        assert_ne!(e.field("error_kind"), "none", "{e:?}");
        assert_eq!(client.stats().reconnects, 1);

        // Per-command events at TRACE (the capture enables every level).
        let traced = capture.all().into_iter().filter(|e| e.message() == "command").count();
        assert!(traced >= 3, "{traced} command events");
        let set = capture.wait_for_where("command", Duration::ZERO, |e| e.field("command") == "SET").await;
        assert_eq!(set.level, tracing::Level::TRACE);
        assert_eq!(set.field("outcome"), "ok");

        // A rejected password: the failure is traced, the password is not.
        let wrong = url.replace(PASSWORD, "obs-Wrong-pw-3319");
        let err = Client::open(&wrong).await.expect_err("wrong password must fail");
        let failed = capture.wait_for("connect failed", Duration::from_secs(5)).await;
        assert_eq!(failed.field("node"), node);
        assert_eq!(failed.field("error_kind"), "auth", "{err}");

        client.close().await;
        capture.assert_never_shows(PASSWORD);
        capture.assert_never_shows("obs-Wrong-pw-3319");
        capture.assert_never_shows("obsuser:");
    });
}

#[test]
fn watchdog_close_is_traced() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    current_thread().block_on(async {
        let server = Server::start();
        let mut opts = parse_url(&server.url()).expect("url");
        opts.response_timeout = Some(Duration::from_millis(200));
        let client = Client::connect(opts, PoolOptions::default()).await.expect("connect");
        client.send(&cmd("PING")).await.expect("ping");
        // The server stops answering for a while: the watchdog gives up first.
        server.client().cmd(&["CLIENT", "PAUSE", "1500", "ALL"]).assert_ok();
        let err = client.send(&cmd("GET").arg("obs:paused")).await.expect_err("paused server");
        assert!(err.is_timeout() || err.is_outcome_unknown(), "{err}");
        let e = capture.wait_for("watchdog closed the connection", Duration::from_secs(5)).await;
        assert_eq!(e.level, tracing::Level::WARN);
        assert_eq!(e.field("node"), format!("redis://127.0.0.1:{}", server.port()));
        assert_eq!(e.field("timeout_ms"), "200");
        server.client().cmd(&["CLIENT", "UNPAUSE"]).assert_ok();
        client.close().await;
    });
}

/// Sets `slot` migrating from `src` to `dst` (both primaries).
fn start_migration(src: &support::ClusterNode, dst: &support::ClusterNode, slot: u16) {
    let s = slot.to_string();
    dst.client().cmd(&["CLUSTER", "SETSLOT", &s, "IMPORTING", src.id()]).assert_ok();
    src.client().cmd(&["CLUSTER", "SETSLOT", &s, "MIGRATING", dst.id()]).assert_ok();
}

/// Moves `key` (the only key of its slot) from `src` to `dst` and gives the
/// slot to `dst` on every primary.
fn finish_migration(
    cluster: &Cluster,
    src: &support::ClusterNode,
    dst: &support::ClusterNode,
    slot: u16,
    key: &str,
) {
    let port = dst.port().to_string();
    let r = src.client().cmd(&["MIGRATE", "127.0.0.1", &port, key, "0", "5000"]);
    assert!(!r.is_error(), "MIGRATE: {r:?}");
    let s = slot.to_string();
    for node in [dst, src].into_iter().chain(cluster.primaries()) {
        let r = node.client().cmd(&["CLUSTER", "SETSLOT", &s, "NODE", dst.id()]);
        assert!(r.is_ok(), "SETSLOT NODE on {}: {r:?}", node.port());
    }
}

#[test]
fn redirects_and_refresh_are_traced() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    current_thread().block_on(async {
        let cluster = Cluster::start();
        let client = ClusterClient::open(&cluster.seed_urls()).await.expect("connect");
        let key = "{obs}moved";
        client.send(&cmd("SET").arg(key).arg("v")).await.expect("set");
        let slot = cluster.slot_of(key);
        let src = cluster.primary_for_slot(slot);
        let dst = cluster.primaries().into_iter().find(|p| p.port() != src.port()).expect("another primary");

        // A key the source does not have, in a migrating slot: ASK.
        start_migration(src, dst, slot);
        let absent: Option<String> = client.query(&cmd("GET").arg("{obs}absent")).await.expect("get via ASK");
        assert_eq!(absent, None);
        let ask = capture.wait_for("ASK", Duration::from_secs(5)).await;
        assert_eq!(ask.level, tracing::Level::DEBUG);
        assert_eq!(ask.target, "redwire::cluster");
        assert_eq!(ask.field("slot"), slot.to_string());
        assert!(ask.field("target").ends_with(&format!(":{}", dst.port())), "{ask:?}");

        // The slot moves for good: MOVED, then a refresh.
        finish_migration(&cluster, src, dst, slot, key);
        let refreshes_before = capture.all().iter().filter(|e| e.message() == "topology refresh").count();
        let v: Option<String> = client.query(&cmd("GET").arg(key)).await.expect("get via MOVED");
        assert_eq!(v.as_deref(), Some("v"));
        let moved = capture.wait_for("MOVED", Duration::from_secs(5)).await;
        assert_eq!(moved.level, tracing::Level::DEBUG);
        assert_eq!(moved.field("slot"), slot.to_string());
        assert!(moved.field("target").ends_with(&format!(":{}", dst.port())), "{moved:?}");

        let deadline = Instant::now() + Duration::from_secs(10);
        let refresh = loop {
            let all: Vec<Captured> =
                capture.all().into_iter().filter(|e| e.message() == "topology refresh").collect();
            // Settling replicas may bring a refresh of their own: the one the MOVED asked for says so.
            if let Some(r) = all.iter().skip(refreshes_before).find(|e| e.field("why") == "requested") {
                break r.clone();
            }
            assert!(Instant::now() < deadline, "no refresh after MOVED: {:#?}", capture.all());
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(refresh.level, tracing::Level::INFO);
        for f in ["duration_ms", "changed", "slots_moved", "nodes_added", "nodes_removed"] {
            refresh.field(f);
        }
        assert_eq!(refresh.field("nodes_added"), "0");
        assert_eq!(refresh.field("nodes_removed"), "0");

        let stats = client.stats();
        assert_eq!(stats.redirects_ask, 1, "{stats:?}");
        assert!(stats.redirects_moved >= 1, "{stats:?}");
        assert!(stats.topology_refreshes >= 1, "{stats:?}");
        client.close().await;
    });
}

#[test]
fn pubsub_gaps_are_traced() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    current_thread().block_on(async {
        let server = Server::start();
        let options = SubscriberOptions { buffer: 4, ..SubscriberOptions::default() };
        let opts = parse_url(&server.url()).expect("url");
        let sub = Subscriber::connect(Servers::standalone(opts), options).await.expect("subscriber");
        sub.subscribe(["obs-ch"]).await.expect("subscribe");

        // A slow consumer: 20 messages into a buffer of 4.
        let mut publisher = server.client();
        for i in 0..20 {
            let r = publisher.cmd(&["PUBLISH", "obs-ch", &i.to_string()]);
            assert_eq!(r.as_int(), Some(1), "{r:?}");
        }
        // Every message is either received or counted as dropped; the
        // dropped ones are reported by `Lagged` events, each one traced.
        let (mut received, mut dropped_total, mut gaps) = (0u64, 0u64, 0usize);
        while received + dropped_total < 20 {
            match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await {
                Ok(Some(Event::Message(_))) => received += 1,
                Ok(Some(Event::Lagged { dropped })) => {
                    dropped_total += dropped;
                    gaps += 1;
                }
                other => panic!("after {received} messages and {dropped_total} dropped: {other:?}"),
            }
        }
        assert_eq!(received + dropped_total, 20);
        // The publishes block this (only) runtime thread, so the 20 messages
        // are waiting before the subscriber reads any: some must be dropped.
        assert!(dropped_total >= 1 && gaps >= 1, "no gap: {received} received");
        let lagged: Vec<Captured> = capture.all().into_iter().filter(|e| e.message() == "lagged").collect();
        assert_eq!(lagged.len(), gaps, "{lagged:?}");
        assert!(lagged.iter().all(|e| e.level == tracing::Level::WARN && e.target == "redwire::pubsub"));
        let traced: u64 = lagged.iter().map(|e| e.field("dropped").parse::<u64>().expect("a number")).sum();
        assert_eq!(traced, dropped_total);

        // The connection is killed: Interrupted, then Resubscribed.
        let killed = server.client().cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]);
        assert_eq!(killed.as_int(), Some(1), "{killed:?}");
        let interrupted = capture.wait_for("interrupted", Duration::from_secs(5)).await;
        assert_eq!(interrupted.level, tracing::Level::INFO);
        assert_eq!(interrupted.field("subscriptions"), "1");
        interrupted.field("cause");
        let back = capture.wait_for("resubscribed", Duration::from_secs(10)).await;
        assert_eq!(back.field("subscriptions"), "1");
        sub.close();
    });
}

// ---- metrics ------------------------------------------------------------------

/// A recorder that keeps every counter and gauge value, and how many values
/// each histogram got, by `name{label=value,...}` (labels sorted).
#[derive(Default)]
struct Counting {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
    gauges: Mutex<HashMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<HashMap<String, Arc<Samples>>>,
}

#[derive(Default)]
struct Samples(AtomicU64);

impl HistogramFn for Samples {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn key_text(key: &Key) -> String {
    let mut labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
    labels.sort();
    if labels.is_empty() {
        key.name().to_string()
    } else {
        format!("{}{{{}}}", key.name(), labels.join(","))
    }
}

impl Recorder for Counting {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.counters.lock().unwrap().entry(key_text(key)).or_default().clone())
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.gauges.lock().unwrap().entry(key_text(key)).or_default().clone())
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.histograms.lock().unwrap().entry(key_text(key)).or_default().clone())
    }
}

impl Counting {
    fn counter(&self, key: &str) -> u64 {
        self.counters.lock().unwrap().get(key).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn gauge(&self, key: &str) -> f64 {
        self.gauges.lock().unwrap().get(key).map_or(0.0, |g| f64::from_bits(g.load(Ordering::Relaxed)))
    }

    fn samples(&self, key: &str) -> u64 {
        self.histograms.lock().unwrap().get(key).map_or(0, |h| h.0.load(Ordering::Relaxed))
    }

    fn counter_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.counters.lock().unwrap().keys().cloned().collect();
        names.sort();
        names
    }
}

#[test]
fn metrics_count_a_known_workload_exactly() {
    let recorder = Counting::default();
    let server = Server::start();
    metrics::with_local_recorder(&recorder, || {
        current_thread().block_on(async {
            let pool = PoolOptions {
                max_connections: 1,
                timeout_wait: Some(Duration::from_millis(100)),
                ..PoolOptions::default()
            };
            let client =
                Client::connect(parse_url(&server.url()).expect("url"), pool).await.expect("connect");
            client.send(&cmd("SET").arg("obs:s").arg("v")).await.expect("set");
            for _ in 0..100 {
                let v: Option<String> = client.query(&cmd("GET").arg("obs:s")).await.expect("get");
                assert_eq!(v.as_deref(), Some("v"));
            }
            for _ in 0..10 {
                let reply = client.send(&cmd("LPUSH").arg("obs:s").arg("x")).await.expect("reply");
                assert!(reply.is_error(), "{reply:?}");
            }
            let pipeline = [
                cmd("GET").arg("obs:s"),
                cmd("LPUSH").arg("obs:s").arg("x"),
                cmd("GET").arg("obs:s"),
                cmd("GET").arg("nope"),
                cmd("LPUSH").arg("obs:s").arg("y"),
            ];
            let replies = client.pipeline(&pipeline).await.expect("pipeline");
            assert_eq!(replies.len(), 5);

            // A command written and waiting for its reply is in flight: a
            // BLPOP on an empty list (on a pooled connection of its own).
            let waiting = client.clone();
            let blocked =
                tokio::spawn(async move { waiting.send(&cmd("BLPOP").arg("obs:empty").arg("0.3")).await });
            let deadline = Instant::now() + Duration::from_secs(2);
            while recorder.gauge("redwire_in_flight") < 1.0 {
                assert!(Instant::now() < deadline, "the BLPOP was never counted in flight");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(recorder.gauge("redwire_in_flight"), 1.0);
            assert!(blocked.await.expect("join").expect("blpop").is_null(), "BLPOP timed out");
            assert_eq!(recorder.gauge("redwire_in_flight"), 0.0);

            // The pool: one connection in use, a second checkout times out.
            let held = client.exclusive().await.expect("checkout");
            assert_eq!(recorder.gauge("redwire_pool_in_use"), 1.0);
            let err = client.exclusive().await.expect_err("pool of one");
            assert!(matches!(err, redwire::Error::Pool(_)), "{err}");
            drop(held);
            assert_eq!(recorder.gauge("redwire_pool_in_use"), 0.0);
            client.close().await;
        });
    });
    let names = recorder.counter_names();
    // SET, 100 GETs, the pipeline's 3 good replies, the BLPOP that timed out.
    assert_eq!(recorder.counter("redwire_commands_total{outcome=ok}"), 1 + 100 + 3 + 1, "{names:?}");
    assert_eq!(
        recorder.counter("redwire_commands_total{kind=WRONGTYPE,outcome=server_error}"),
        10 + 2,
        "{names:?}"
    );
    assert_eq!(recorder.counter("redwire_pool_timeouts_total"), 1, "{names:?}");
    assert_eq!(recorder.samples("redwire_command_duration_seconds{command=GET}"), 100);
    assert_eq!(recorder.samples("redwire_command_duration_seconds{command=SET}"), 1);
    assert_eq!(recorder.samples("redwire_command_duration_seconds{command=LPUSH}"), 10);
    assert_eq!(recorder.gauge("redwire_in_flight"), 0.0);
    // Nothing else went wrong, so nothing else was counted.
    for name in &names {
        assert!(
            name.starts_with("redwire_commands_total{") || name == "redwire_pool_timeouts_total",
            "unexpected counter {name} = {}",
            recorder.counter(name)
        );
    }
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn metrics_count_reconnects() {
    let recorder = Counting::default();
    let server = Server::start();
    metrics::with_local_recorder(&recorder, || {
        current_thread().block_on(async {
            let client = Client::open(&server.url()).await.expect("connect");
            for round in 0..3 {
                let id: i64 = client.query(&cmd("CLIENT").arg("ID")).await.expect("id");
                let killed = server.client().cmd(&["CLIENT", "KILL", "ID", &id.to_string()]);
                assert_eq!(killed.as_int(), Some(1), "round {round}: {killed:?}");
                let deadline = Instant::now() + Duration::from_secs(10);
                while client.send(&cmd("PING")).await.is_err() {
                    assert!(Instant::now() < deadline, "no reconnect");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            assert_eq!(client.stats().reconnects, 3);
            client.close().await;
        });
    });
    assert_eq!(recorder.counter("redwire_reconnects_total"), 3, "{:?}", recorder.counter_names());
}
