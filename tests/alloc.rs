//! Heap allocations per GET round trip on one warm connection to a real Valkey,
//! counted by a global allocator, on a current-thread runtime (so every
//! allocation of the client, its driver tasks included, happens on this
//! thread while we measure).
//!
//! The budget: one allocation per GET of a 64-byte value with the `Cmd`
//! built once per operation, as users do (the reply's channel; the `Cmd`
//! keeps a small command inline, the reply is a slice of the read buffer),
//! plus a small tolerance for the occasional read-buffer growth; and no
//! allocation that grows with the value (16 KB values cost what 64-byte
//! ones do).
//!
//! `REDWIRE_ALLOC_TRACE=N` prints the backtraces of the first N allocations
//! of the 64-byte run, to find where they come from.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redwire::{cmd, ConnectOptions, Connection, Frame};
use support::Server;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static TRACING: AtomicBool = AtomicBool::new(false);
static TRACES_LEFT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set while a backtrace is taken, so its own allocations are not traced.
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn note(size: usize) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
    if TRACING.load(Ordering::Relaxed) && !IN_TRACE.with(Cell::get) {
        let left = TRACES_LEFT.load(Ordering::Relaxed);
        if left > 0 {
            TRACES_LEFT.store(left - 1, Ordering::Relaxed);
            IN_TRACE.with(|t| t.set(true));
            eprintln!("--- allocation of {size} bytes:\n{}", std::backtrace::Backtrace::force_capture());
            IN_TRACE.with(|t| t.set(false));
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting
// touches only atomics and a const-initialised thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ROUNDS: u64 = 2_000;

/// Allocations and bytes per GET of `key` (whose value has `len` bytes).
async fn per_get(conn: &Connection, key: &str, len: usize, trace: u64) -> (f64, f64) {
    // Warm up: buffers reach their working size.
    for _ in 0..200 {
        let reply = conn.send(&cmd("GET").arg(key)).await.expect("GET");
        assert_eq!(reply.as_bytes().map(|b| b.len()), Some(len));
    }
    TRACES_LEFT.store(trace, Ordering::Relaxed);
    TRACING.store(trace > 0, Ordering::Relaxed);
    let (a0, b0) = (ALLOCATIONS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    for _ in 0..ROUNDS {
        let get = cmd("GET").arg(key);
        let reply = conn.send(&get).await.expect("GET");
        match &reply {
            Frame::BulkString(b) if b.len() == len => {}
            other => panic!("unexpected reply {other:?}"),
        }
    }
    let (a1, b1) = (ALLOCATIONS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    TRACING.store(false, Ordering::Relaxed);
    ((a1 - a0) as f64 / ROUNDS as f64, (b1 - b0) as f64 / ROUNDS as f64)
}

#[test]
fn allocations_per_get() {
    let server = Server::start();
    let mut raw = server.client();
    raw.cmd(&["SET", "alloc:64", &"v".repeat(64)]).assert_ok();
    raw.cmd(&["SET", "alloc:16k", &"w".repeat(16 * 1024)]).assert_ok();
    let trace: u64 = std::env::var("REDWIRE_ALLOC_TRACE").ok().and_then(|v| v.parse().ok()).unwrap_or(0);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (small, small_bytes, large, large_bytes) = runtime.block_on(async {
        let mut opts = ConnectOptions::tcp("127.0.0.1", server.port());
        opts.response_timeout = Some(Duration::from_secs(5));
        let conn = Connection::connect(&opts, None).await.expect("connect");
        let (small, small_bytes) = per_get(&conn, "alloc:64", 64, trace).await;
        let (large, large_bytes) = per_get(&conn, "alloc:16k", 16 * 1024, 0).await;
        // And the small ones again, after the buffers grew for the large ones.
        let (again, _) = per_get(&conn, "alloc:64", 64, 0).await;
        assert!(again <= small + 0.1, "64 B after 16 KB: {again:.3} per GET vs {small:.3} before");
        (small, small_bytes, large, large_bytes)
    });
    eprintln!("allocations per GET: 64 B value {small:.3} ({small_bytes:.0} bytes), 16 KB value {large:.3} ({large_bytes:.0} bytes)");
    assert!(small <= 1.05, "{small:.3} allocations per 64-byte GET (budget 1, plus buffer growth)");
    assert!(large <= small + 0.25, "16 KB GETs allocate more often: {large:.3} vs {small:.3}");
    // Nothing sized by the value: bytes allocated per GET stay far below 16 KB.
    assert!(large_bytes < small_bytes + 1024.0, "{large_bytes:.0} bytes per 16 KB GET vs {small_bytes:.0}");
}
