//! A hostile or stalled server cannot make the client hang or grow without
//! bound. Each case states its bound as a number and checks it: bytes held
//! (a counting global allocator measures the heap's peak above the case's
//! start), queued bytes, tasks alive, and the time until every caller has a
//! typed error.
//!
//! Cases run one at a time (one lock), so the allocator's peak belongs to the
//! case that reads it. The cluster router's bounds (a MOVED flood to ever new
//! addresses, a topology naming too many nodes) are in `cluster_bounds.rs`,
//! commands refused on shared connections in `stateful_cmds.rs`, and the
//! exactly-once rule under stalls in `exactly_once.rs`.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redwire::{cmd, ConnectOptions, Connection, Error, Frame, ProtocolError};
use support::{FakeServer, Step};

struct Tracking;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// bookkeeping touches only atomics.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Heap bytes above the level at `start`, at their peak since `start`.
struct HeapWatch(usize);

impl HeapWatch {
    fn start() -> HeapWatch {
        let now = LIVE.load(Ordering::Relaxed);
        PEAK.store(now, Ordering::Relaxed);
        HeapWatch(now)
    }

    fn peak_above_start(&self) -> usize {
        PEAK.load(Ordering::Relaxed).saturating_sub(self.0)
    }
}

const MIB: usize = 1024 * 1024;

fn opts(port: u16) -> ConnectOptions {
    let mut o = ConnectOptions::tcp("127.0.0.1", port);
    o.connect_timeout = Duration::from_secs(1);
    o.response_timeout = Some(Duration::from_millis(300));
    o
}

fn cause_of(e: &Error) -> &Error {
    match e {
        Error::NotSent { cause } | Error::OutcomeUnknown { cause } => cause_of(cause),
        Error::PipelineIncomplete { cause, .. } => cause_of(cause),
        other => other,
    }
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

/// A server that reads one command, then neither reads nor answers: callers
/// queue far more than the write buffer may hold. Bound: at most
/// `max_write_buffer` plus one command unwritten at any time; every caller
/// has a typed error within the response timeout plus a margin; afterwards
/// the driver's tasks are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_reading_cannot_grow_the_write_buffer() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = FakeServer::start(vec![Step::stall(Duration::from_secs(20))]);
    let mut o = opts(server.port());
    o.max_write_buffer = 4 * MIB;
    let before = alive_tasks();
    let conn = Connection::connect(&o, None).await.unwrap();
    let value = Bytes::from(vec![b'x'; 256 * 1024]);
    let callers = 200; // 50 MiB wanted on the wire
    let mut set = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..callers {
        let (conn, value) = (conn.clone(), value.clone());
        set.spawn(async move {
            let r = conn.send(&cmd("SET").arg(format!("k{i}")).arg(value)).await;
            (r, Instant::now())
        });
    }
    let mut max_unwritten = 0;
    while !conn.is_closed() && started.elapsed() < Duration::from_secs(5) {
        max_unwritten = max_unwritten.max(conn.unwritten_bytes());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut last = started;
    let mut kinds = std::collections::BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        let (r, at) = joined.unwrap();
        let e = r.expect_err("nothing can succeed");
        *kinds.entry(format!("{}/{}", e.kind_name(), cause_of(&e).kind_name())).or_insert(0) += 1;
        last = last.max(at);
    }
    let took = last - started;
    println!(
        "stopped reader: {callers} callers x 256 KiB, max unwritten {} KiB (limit 4096 KiB + one command), \
         all failed after {took:?}: {kinds:?}",
        max_unwritten / 1024
    );
    assert!(max_unwritten <= 4 * MIB + 256 * 1024 + 64, "unwritten {max_unwritten}");
    assert!(took < Duration::from_secs(3), "callers waited {took:?}");
    assert!(kinds.keys().all(|k| k.ends_with("/timeout")), "{kinds:?}");
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(2);
    while alive_tasks() > before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(alive_tasks() <= before, "driver tasks left: {} > {before}", alive_tasks());
}

/// A 4 MiB reply arriving in 64 KiB pieces every 50 ms (3.2 s in all, ten
/// times the response timeout) is progress, not a stall: it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_reply_trickling_in_is_not_killed_by_the_watchdog() {
    let _one = ONE_AT_A_TIME.lock().await;
    let body = vec![b'z'; 4 * MIB];
    let mut reply = format!("${}\r\n", body.len()).into_bytes();
    reply.extend_from_slice(&body);
    reply.extend_from_slice(b"\r\n");
    let server = FakeServer::start(vec![
        Step::expect("GET"),
        Step::SendChunked(reply, 64 * 1024, Duration::from_millis(50)),
        Step::stall(Duration::from_secs(10)),
    ]);
    let conn = Connection::connect(&opts(server.port()), None).await.unwrap();
    let started = Instant::now();
    let got = conn.send(&cmd("GET").arg("big")).await.unwrap();
    let took = started.elapsed();
    println!("trickled 4 MiB reply: complete after {took:?} (response timeout 300 ms)");
    assert!(matches!(&got, Frame::BulkString(b) if b.len() == 4 * MIB));
    assert!(took > Duration::from_millis(1500), "the trickle was not slow: {took:?}");
}

/// A server that accepts the command and never answers: one typed error
/// (`OutcomeUnknown`, cause `Timeout`) within the response timeout plus a
/// margin, the connection closed, and no heap growth to speak of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_gives_a_typed_timeout() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = FakeServer::start(vec![Step::expect("GET"), Step::stall(Duration::from_secs(10))]);
    let heap = HeapWatch::start();
    let conn = Connection::connect(&opts(server.port()), None).await.unwrap();
    let started = Instant::now();
    let e = conn.send(&cmd("GET").arg("k")).await.unwrap_err();
    let took = started.elapsed();
    println!("silent server: {e} after {took:?}, heap peak +{} KiB", heap.peak_above_start() / 1024);
    assert!(matches!(&e, Error::OutcomeUnknown { cause } if matches!(**cause, Error::Timeout)), "{e:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(conn.is_closed());
    assert!(heap.peak_above_start() < 2 * MIB);
}

fn protocol_cause(e: &Error) -> Option<&ProtocolError> {
    match cause_of(e) {
        Error::Protocol(p) => Some(p),
        _ => None,
    }
}

/// A simple-string reply that never ends: 16 MiB of `a` with no CRLF, in
/// 64 KiB writes. Bound: `LineTooLong` once 64 KiB (the default
/// `max_line_len`) have no CR, with the heap up by well under 2 MiB, and
/// within the response timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_without_crlf_is_cut_at_the_line_limit() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut line = b"+".to_vec();
    line.extend(std::iter::repeat_n(b'a', 16 * MIB));
    let server = FakeServer::start(vec![
        Step::expect("GET"),
        Step::SendChunked(line, 64 * 1024, Duration::from_millis(1)),
        Step::stall(Duration::from_secs(10)),
    ]);
    let conn = Connection::connect(&opts(server.port()), None).await.unwrap();
    let heap = HeapWatch::start();
    let started = Instant::now();
    let e = conn.send(&cmd("GET").arg("k")).await.unwrap_err();
    let took = started.elapsed();
    let peak = heap.peak_above_start();
    println!("endless line: {e} after {took:?}, heap peak +{} KiB", peak / 1024);
    assert_eq!(protocol_cause(&e), Some(&ProtocolError::LineTooLong { limit: 64 * 1024 }), "{e:?}");
    assert!(peak < 2 * MIB, "heap peak +{peak}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// `*2147483647` then endless `_`, and the same hidden in a nested array
/// whose first part is legal: the reply budget (here 1 Mi values) ends both
/// with a typed error. The first fails at its header; the second after about
/// 1 Mi values, holding the heap to tens of MiB (24 bytes per value scanned),
/// not the gigabytes the declared counts ask for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_elements_are_cut_by_the_reply_budget() {
    let _one = ONE_AT_A_TIME.lock().await;
    let nulls = |n: usize| b"_\r\n".repeat(n);
    let mut huge = b"*2147483647\r\n".to_vec();
    huge.extend(nulls(200_000));
    let mut nested = b"*2\r\n*900000\r\n".to_vec();
    nested.extend(nulls(900_000));
    nested.extend_from_slice(b"*900000\r\n");
    nested.extend(nulls(900_000));
    for (name, bytes) in [("*2147483647", huge), ("nested", nested)] {
        let server = FakeServer::start(vec![
            Step::expect("GET"),
            Step::SendChunked(bytes, 256 * 1024, Duration::from_millis(1)),
            Step::stall(Duration::from_secs(10)),
        ]);
        let mut o = opts(server.port());
        o.limits.max_reply_elements = 1 << 20;
        let conn = Connection::connect(&o, None).await.unwrap();
        let heap = HeapWatch::start();
        let started = Instant::now();
        let e = conn.send(&cmd("GET").arg("k")).await.unwrap_err();
        let (took, peak) = (started.elapsed(), heap.peak_above_start());
        println!("{name} + endless `_`: {e} after {took:?}, heap peak +{} KiB", peak / 1024);
        assert_eq!(
            protocol_cause(&e),
            Some(&ProtocolError::ReplyTooManyElements { limit: 1 << 20 }),
            "{name}: {e:?}"
        );
        assert!(peak < 64 * MIB, "{name}: heap peak +{peak}");
        assert!(took < Duration::from_secs(5), "{name}: {took:?}");
    }
}

/// A flood of 20 MiB of pub/sub messages (2000 x 10 KiB, real Valkey) to a
/// consumer that does not read: the subscriber's buffer is capped at 1 MiB,
/// so the heap grows by a few MiB at most, and every message is accounted
/// for (delivered, or counted in `Lagged`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pubsub_flood_to_a_slow_consumer_is_bounded_in_bytes() {
    use redwire::pubsub::{Event, Servers, Subscriber, SubscriberOptions};
    let _one = ONE_AT_A_TIME.lock().await;
    let server = support::Server::start();
    let heap = HeapWatch::start();
    let options = SubscriberOptions { buffer: 100_000, buffer_bytes: MIB, ..SubscriberOptions::default() };
    let opts = redwire::url::parse_url(&server.url()).unwrap();
    let sub = Subscriber::connect(Servers::standalone(opts), options).await.unwrap();
    sub.subscribe(["flood"]).await.unwrap();
    let addr = server.addr();
    let published = tokio::task::spawn_blocking(move || {
        let mut c = support::Client::connect(addr.as_str()).unwrap();
        let payload = vec![b'p'; 10 * 1024];
        let mut receivers = 0;
        for _ in 0..2000 {
            receivers += c.cmd(&[b"PUBLISH".as_slice(), b"flood", &payload]).as_int().unwrap_or(0);
        }
        receivers
    })
    .await
    .unwrap();
    assert_eq!(published, 2000, "every message reached the subscriber's connection");
    // Let the reader take in everything the server sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = heap.peak_above_start();
    let (mut messages, mut lagged) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(5);
    while messages + lagged < 2000 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), sub.recv()).await {
            Ok(Some(Event::Message(_))) => messages += 1,
            Ok(Some(Event::Lagged { dropped })) => lagged += dropped,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    println!(
        "pub/sub flood: 20000 KiB published, subscriber heap peak +{} KiB (cap 1024 KiB of events), \
         {messages} delivered, {lagged} dropped as Lagged",
        peak / 1024
    );
    assert_eq!(messages + lagged, 2000, "every message delivered or counted as lagged");
    assert!(messages <= 1024 * 1024 / (10 * 1024), "more than the byte cap was kept: {messages}");
    assert!(peak < 8 * MIB, "heap peak +{peak}");
}
