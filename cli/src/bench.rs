//! `redwire bench`: a verified GET/SET load generator (the default
//! workload; `--workload counter` lives in `bench_counter.rs`).
//!
//! N tasks share one client. Every value encodes its key and a version, so
//! every GET is checked: the key must match, and the version must lie between
//! the newest version acknowledged before the GET was sent (unless reads may
//! be stale, e.g. from replicas) and the newest version issued when it
//! returned. A mismatch is a `verify_failure`, never silent. Errors are counted
//! by kind and the run goes on. The summary has an HDR latency histogram,
//! ops/s, client CPU per op, and a per-second timeline.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use hdrhistogram::Histogram;
use redwire::Error;

use crate::target::Target;

/// Bench parameters.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    pub clients: usize,
    pub duration: Duration,
    pub keys: u64,
    pub value_size: usize,
    pub get_ratio: u32,
    pub set_ratio: u32,
    pub json: bool,
    pub stale_reads_ok: bool,
}

struct KeyState {
    name: Vec<u8>,
    issued: AtomicU64,
    acked: AtomicU64,
}

#[derive(Default)]
struct Second {
    ops: u64,
    errors: u64,
    hist: Option<Histogram<u64>>,
}

struct Shared {
    keys: Vec<KeyState>,
    ops: AtomicU64,
    errors: AtomicU64,
    verify_failures: AtomicU64,
    stale_reads: AtomicU64,
    errors_by_kind: Mutex<BTreeMap<String, u64>>,
    seconds: Mutex<Vec<Second>>,
    first_failure: Mutex<Option<String>>,
}

/// 1 µs .. 60 s at 3 significant figures.
pub fn new_hist() -> Result<Histogram<u64>, Error> {
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| Error::Other(format!("histogram: {e}")))
}

fn key_name(i: u64) -> Vec<u8> {
    format!("rwbench:{i}").into_bytes()
}

fn make_value(i: u64, version: u64, size: usize) -> Bytes {
    let head = format!("{i}:{version}:");
    let mut b = BytesMut::with_capacity(size.max(head.len()));
    b.put_slice(head.as_bytes());
    while b.len() < size {
        b.put_u8(b'x');
    }
    b.freeze()
}

/// Parses a value written by `make_value`; None if it is not one.
fn parse_value(v: &[u8], size: usize) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(v).ok()?;
    let mut parts = text.splitn(3, ':');
    let key: u64 = parts.next()?.parse().ok()?;
    let version: u64 = parts.next()?.parse().ok()?;
    let pad = parts.next()?;
    let expected = size.saturating_sub(text.len() - pad.len());
    (pad.len() == expected && pad.bytes().all(|b| b == b'x')).then_some((key, version))
}

/// CPU time this process has used so far (user plus system).
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Runs the bench and prints the summary. Returns the process exit code.
pub async fn run(target: Target, args: BenchArgs) -> Result<i32, Error> {
    let template = new_hist()?;
    let shared = Arc::new(Shared {
        keys: (0..args.keys)
            .map(|i| KeyState { name: key_name(i), issued: AtomicU64::new(0), acked: AtomicU64::new(0) })
            .collect(),
        ops: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        verify_failures: AtomicU64::new(0),
        stale_reads: AtomicU64::new(0),
        errors_by_kind: Mutex::new(BTreeMap::new()),
        seconds: Mutex::new(Vec::new()),
        first_failure: Mutex::new(None),
    });
    // Start from a known state: no bench key exists, or each holds version 0 written now.
    let mut prefill_errors = 0;
    for i in 0..args.keys {
        if target.set(&key_name(i), make_value(i, 0, args.value_size)).await.is_err() {
            prefill_errors += 1;
        }
    }
    if prefill_errors > 0 {
        eprintln!("warning: {prefill_errors} prefill writes failed");
    }
    let target = Arc::new(target);
    let start = Instant::now();
    let cpu_start = cpu_time();
    let deadline = start + args.duration;
    let progress = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(args.duration.as_secs().max(1));
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len}s {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let mut tasks = Vec::with_capacity(args.clients);
    for t in 0..args.clients {
        let shared = shared.clone();
        let target = target.clone();
        let args = args.clone();
        let hist = template.clone();
        tasks.push(tokio::spawn(async move {
            worker(t as u64, target, shared, args, start, deadline, hist).await
        }));
    }
    if let Some(pb) = &progress {
        let mut last = 0;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let ops = shared.ops.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64().max(0.001);
            pb.set_position(start.elapsed().as_secs());
            pb.set_message(format!(
                "{:.0} ops/s, {} errors, {} verify failures",
                ops as f64 / secs,
                shared.errors.load(Ordering::Relaxed),
                shared.verify_failures.load(Ordering::Relaxed)
            ));
            last = ops;
        }
        let _ = last;
    }
    let mut total = template.clone();
    for t in tasks {
        if let Ok(h) = t.await {
            let _ = total.add(&h);
        }
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_start);
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let ops = shared.ops.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed);
    let verify_failures = shared.verify_failures.load(Ordering::Relaxed);
    let ops_per_sec = ops as f64 / elapsed.as_secs_f64().max(1e-9);
    let cpu_per_op = if ops > 0 { cpu.as_secs_f64() * 1e6 / ops as f64 } else { 0.0 };
    let by_kind = shared.errors_by_kind.lock().map(|m| m.clone()).unwrap_or_default();
    let seconds = shared.seconds.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
    let timeline: Vec<serde_json::Value> = seconds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            serde_json::json!({
                "second": i,
                "ops": s.ops,
                "errors": s.errors,
                "p99_us": s.hist.as_ref().map(|h| h.value_at_quantile(0.99)).unwrap_or(0),
            })
        })
        .collect();
    if args.json {
        let summary = serde_json::json!({
            "clients": args.clients,
            "duration_s": elapsed.as_secs_f64(),
            "ops": ops,
            "errors": errors,
            "verify_failures": verify_failures,
            "stale_reads": shared.stale_reads.load(Ordering::Relaxed),
            "ops_per_sec": ops_per_sec,
            "p50_us": total.value_at_quantile(0.50),
            "p90_us": total.value_at_quantile(0.90),
            "p99_us": total.value_at_quantile(0.99),
            "p999_us": total.value_at_quantile(0.999),
            "max_us": total.max(),
            "client_cpu_us_per_op": cpu_per_op,
            "errors_by_kind": by_kind,
            "timeline": timeline,
            "client_stats": target.stats_json(),
        });
        println!("{summary}");
    } else {
        println!(
            "clients {}  duration {:.1}s  keys {}  value {} B",
            args.clients,
            elapsed.as_secs_f64(),
            args.keys,
            args.value_size
        );
        println!("ops {ops}  ops/s {ops_per_sec:.0}  errors {errors}  verify_failures {verify_failures}");
        println!(
            "latency us: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            total.value_at_quantile(0.5),
            total.value_at_quantile(0.9),
            total.value_at_quantile(0.99),
            total.value_at_quantile(0.999),
            total.max()
        );
        println!("client cpu per op: {cpu_per_op:.2} us");
        if let Some(line) = target.stats_line() {
            println!("{line}");
        }
        for (kind, n) in &by_kind {
            println!("errors[{kind}] = {n}");
        }
        if let Ok(Some(f)) = shared.first_failure.lock().map(|f| f.clone()) {
            println!("first verify failure: {f}");
        }
    }
    Ok(if verify_failures > 0 { 2 } else { 0 })
}

async fn worker(
    id: u64,
    target: Arc<Target>,
    shared: Arc<Shared>,
    args: BenchArgs,
    start: Instant,
    deadline: Instant,
    template: Histogram<u64>,
) -> Histogram<u64> {
    let mut rng = fastrand::Rng::with_seed(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xdead_beef);
    let mut total = template.clone();
    let mut current_sec = 0usize;
    let mut sec_hist = template;
    let mut sec_ops = 0u64;
    let mut sec_errors = 0u64;
    let ratio_total = (args.get_ratio + args.set_ratio).max(1);
    // One clock read per operation: the end of one is the start of the next.
    let mut now = Instant::now();
    loop {
        if now >= deadline {
            break;
        }
        let sec = (now - start).as_secs() as usize;
        if sec != current_sec {
            let _ = total.add(&sec_hist);
            flush_second(&shared, current_sec, sec_ops, sec_errors, &mut sec_hist);
            sec_ops = 0;
            sec_errors = 0;
            current_sec = sec;
        }
        // Each key has one writer (the task `key % clients`), so a key's
        // versions reach the server in the order they were issued and the
        // newest acknowledged version is a sound lower bound for reads.
        let keys = args.keys.max(1);
        let clients = args.clients.max(1) as u64;
        let owns_keys = id < keys;
        let mut is_get = rng.u32(0..ratio_total) < args.get_ratio || !owns_keys;
        let k = if is_get {
            rng.u64(0..keys)
        } else {
            let own = (keys - id - 1) / clients + 1;
            id + clients * rng.u64(0..own)
        };
        if k >= keys {
            is_get = true;
        }
        let k = k.min(keys - 1);
        let Some(key) = shared.keys.get(k as usize).map(|s| s.name.as_slice()) else { break };
        let t0 = now;
        let result: Result<(), Error> = if is_get {
            let lower = shared.keys.get(k as usize).map(|s| s.acked.load(Ordering::Acquire)).unwrap_or(0);
            match target.get(key).await {
                Ok(value) => {
                    let upper =
                        shared.keys.get(k as usize).map(|s| s.issued.load(Ordering::Acquire)).unwrap_or(0);
                    let ok = match &value {
                        Some(v) => match parse_value(v, args.value_size) {
                            Some((vk, ver))
                                if vk == k && ver <= upper && ver < lower && args.stale_reads_ok =>
                            {
                                shared.stale_reads.fetch_add(1, Ordering::Relaxed);
                                true
                            }
                            Some((vk, ver)) => vk == k && ver <= upper && ver >= lower,
                            None => false,
                        },
                        None => false,
                    };
                    if !ok {
                        shared.verify_failures.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut f) = shared.first_failure.lock() {
                            if f.is_none() {
                                *f = Some(format!(
                                    "key {k}: got {:?}, expected version in {lower}..={upper}",
                                    value
                                        .as_ref()
                                        .map(|v| String::from_utf8_lossy(&v[..v.len().min(40)]).into_owned())
                                ));
                            }
                        }
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else {
            let state = shared.keys.get(k as usize);
            let version = state.map(|s| s.issued.fetch_add(1, Ordering::AcqRel) + 1).unwrap_or(0);
            match target.set(key, make_value(k, version, args.value_size)).await {
                Ok(()) => {
                    if let Some(s) = state {
                        s.acked.fetch_max(version, Ordering::AcqRel);
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        now = Instant::now();
        let us = now.saturating_duration_since(t0).as_micros().max(1) as u64;
        let _ = sec_hist.record(us.min(60_000_000));
        match result {
            Ok(()) => {
                sec_ops += 1;
                shared.ops.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                sec_errors += 1;
                shared.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut m) = shared.errors_by_kind.lock() {
                    *m.entry(e.kind_name().to_string()).or_insert(0) += 1;
                }
                // Do not spin on a dead server.
                tokio::time::sleep(Duration::from_millis(1)).await;
                now = Instant::now();
            }
        }
    }
    let _ = total.add(&sec_hist);
    flush_second(&shared, current_sec, sec_ops, sec_errors, &mut sec_hist);
    total
}

fn flush_second(shared: &Shared, sec: usize, ops: u64, errors: u64, hist: &mut Histogram<u64>) {
    if let Ok(mut seconds) = shared.seconds.lock() {
        while seconds.len() <= sec {
            seconds.push(Second::default());
        }
        if let Some(s) = seconds.get_mut(sec) {
            s.ops += ops;
            s.errors += errors;
            match &mut s.hist {
                Some(h) => {
                    let _ = h.add(&*hist);
                }
                None => s.hist = Some(hist.clone()),
            }
        }
    }
    hist.reset();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_detect_corruption() {
        let v = make_value(42, 7, 64);
        assert_eq!(v.len(), 64);
        assert_eq!(parse_value(&v, 64), Some((42, 7)));
        assert_eq!(parse_value(b"42:7:xx", 64), None);
        let mut bad = v.to_vec();
        bad[63] = b'y';
        assert_eq!(parse_value(&bad, 64), None);
        let long = make_value(123456, 99999, 4);
        assert_eq!(parse_value(&long, 4), Some((123456, 99999)));
    }
}
