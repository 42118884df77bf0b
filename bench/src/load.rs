//! The load: N tasks share one client, each loops GET or SET on random keys
//! until the deadline, and every GET is verified.
//!
//! Verification. Every key has exactly one writer task (key `k` belongs to
//! task `k % N`), so a key's versions reach the server in the order they were
//! issued, and a GET must return a version between the newest one
//! acknowledged before it was sent and the newest one issued when it
//! returned. Anything else is a verify failure, with two exceptions counted
//! on their own: older versions read from replicas (`--replicas`), and older
//! versions read after a primary was killed (acknowledged writes lost).
//!
//! Measurement. Successes and errors are counted per 100 ms in shared atomic
//! buckets (the timeline and the failover analysis read those, so a task
//! stuck on a reply loses nothing). Latency (successful operations only) goes
//! into per-task HDR histograms, flushed into the shared per-second ones
//! whenever a task crosses a second; the run's percentiles merge those. The
//! longest time without any success is tracked at clock resolution. CPU is `getrusage` of the
//! whole process over the measured window (prefill excluded).
//!
//! Not here: which library sends (`driver`), the analysis of a failover
//! (`failover`), the command line (`args`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::args::Ratio;
use crate::driver::{Driver, Failure};
use crate::failover::{self, Events, BUCKET_MS};
use crate::summary::{Second, Summary};
use crate::value::{key_name, make_value, parse_value};

/// How long tasks may still wait for replies after the deadline before they are aborted.
const GRACE: Duration = Duration::from_secs(5);
/// Time before the measured run during which replicas catch up with the prefill.
const REPLICA_SETTLE: Duration = Duration::from_secs(1);
/// Longest time the prefill may take.
const PREFILL_LIMIT: Duration = Duration::from_secs(120);
/// Pause after an error, so a dead server is not hammered in a tight loop.
const ERROR_PAUSE: Duration = Duration::from_millis(1);

/// A primary to kill during the run.
#[derive(Debug, Clone)]
pub struct KillPlan {
    /// When, after the measured run starts.
    pub at: Duration,
    /// The process.
    pub pid: i32,
    /// Its replica (host:port), polled with `ROLE` after the kill.
    pub watch: Option<String>,
}

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Concurrent tasks.
    pub clients: usize,
    /// Measured time.
    pub duration: Duration,
    /// Distinct keys.
    pub keys: u64,
    /// Value size in bytes.
    pub value_size: usize,
    /// GET:SET weights.
    pub ratio: Ratio,
    /// Reads may be served by replicas, so older versions are allowed.
    pub replicas: bool,
    /// Kill a primary during the run.
    pub kill: Option<KillPlan>,
}

struct KeyState {
    name: Vec<u8>,
    issued: AtomicU64,
    acked: AtomicU64,
}

#[derive(Default)]
struct Tallies {
    errors_by_kind: BTreeMap<String, u64>,
    error_samples: BTreeMap<String, String>,
    failures_by_reason: BTreeMap<String, u64>,
    first_failure: Option<String>,
}

struct Shared {
    cfg: LoadConfig,
    start: Instant,
    deadline: Instant,
    keys: Vec<KeyState>,
    ops: AtomicU64,
    errors: AtomicU64,
    errors_after_kill: AtomicU64,
    verify_failures: AtomicU64,
    stale_reads: AtomicU64,
    older_after_failover: AtomicU64,
    /// Successes per `BUCKET_MS`.
    buckets: Box<[AtomicU64]>,
    /// Errors per `BUCKET_MS`.
    error_buckets: Box<[AtomicU64]>,
    /// µs since start of the latest success.
    last_ok_us: AtomicU64,
    /// Longest gap between successes (µs) and where it ended, for a quick check without the lock.
    max_gap_us: AtomicU64,
    max_gap: Mutex<(u64, u64)>,
    /// µs since start of the kill; `u64::MAX` before it.
    kill_at_us: AtomicU64,
    tallies: Mutex<Tallies>,
    /// Latencies of successes, per second (by the second an operation started).
    seconds: Mutex<Vec<Histogram<u64>>>,
    template: Histogram<u64>,
}

/// 1 µs .. 60 s at 3 significant figures.
fn new_hist() -> Result<Histogram<u64>, Failure> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| Failure { kind: Cow::Borrowed("setup"), message: format!("histogram: {e}") })
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a pointer to a live struct.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn micros_since(start: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(start).as_micros()).unwrap_or(u64::MAX)
}

/// Writes version 0 of every key, 64 writes in flight, each retried a few times.
///
/// # Errors
/// The last failure when some key could not be written.
async fn prefill(driver: &Driver, keys: u64, value_size: usize) -> Result<(), Failure> {
    const WRITERS: u64 = 64;
    let mut tasks = Vec::new();
    for w in 0..WRITERS.min(keys.max(1)) {
        let mut d = driver.clone();
        tasks.push(tokio::spawn(async move {
            let mut k = w;
            while k < keys {
                let mut attempt = 0;
                loop {
                    match d.set(&key_name(k), make_value(k, 0, value_size)).await {
                        Ok(()) => break,
                        Err(e) if attempt >= 5 => return Err(e),
                        Err(_) => {
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
                k += WRITERS;
            }
            Ok(())
        }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                return Err(Failure { kind: Cow::Borrowed("setup"), message: format!("prefill task: {e}") })
            }
        }
    }
    Ok(())
}

/// Prefills, runs the load, and summarizes it.
///
/// # Errors
/// A `setup` failure when the prefill or the histogram setup fails; errors
/// during the run are counted, not returned.
pub async fn run(driver: Driver, cfg: LoadConfig, client: &str, topology: &str) -> Result<Summary, Failure> {
    let template = new_hist()?;
    // Some clients never time a command out by default: bound the prefill as a whole.
    tokio::time::timeout(PREFILL_LIMIT, prefill(&driver, cfg.keys, cfg.value_size)).await.map_err(
        |_| Failure { kind: Cow::Borrowed("setup"), message: format!("prefill took over {PREFILL_LIMIT:?}") },
    )??;
    if cfg.replicas {
        tokio::time::sleep(REPLICA_SETTLE).await;
    }
    let bucket_count = ((cfg.duration + GRACE).as_millis() / u128::from(BUCKET_MS)) as usize + 1;
    let start = Instant::now();
    let shared = Arc::new(Shared {
        keys: (0..cfg.keys)
            .map(|i| KeyState { name: key_name(i), issued: AtomicU64::new(0), acked: AtomicU64::new(0) })
            .collect(),
        start,
        deadline: start + cfg.duration,
        ops: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        errors_after_kill: AtomicU64::new(0),
        verify_failures: AtomicU64::new(0),
        stale_reads: AtomicU64::new(0),
        older_after_failover: AtomicU64::new(0),
        buckets: (0..bucket_count).map(|_| AtomicU64::new(0)).collect(),
        error_buckets: (0..bucket_count).map(|_| AtomicU64::new(0)).collect(),
        last_ok_us: AtomicU64::new(0),
        max_gap_us: AtomicU64::new(0),
        max_gap: Mutex::new((0, 0)),
        kill_at_us: AtomicU64::new(u64::MAX),
        tallies: Mutex::new(Tallies::default()),
        seconds: Mutex::new(Vec::new()),
        template: template.clone(),
        cfg,
    });
    let cpu_start = cpu_time();

    let killer = shared.cfg.kill.clone().map(|plan| {
        let shared = shared.clone();
        tokio::spawn(async move { kill_and_watch(&shared, plan).await })
    });

    let mut tasks = Vec::with_capacity(shared.cfg.clients);
    for id in 0..shared.cfg.clients {
        let shared = shared.clone();
        let driver = driver.clone();
        tasks.push(tokio::spawn(async move { worker(id as u64, driver, &shared).await }));
    }
    let mut unfinished = 0;
    let grace_end = tokio::time::Instant::from_std(shared.deadline + GRACE);
    for mut t in tasks {
        match tokio::time::timeout_at(grace_end, &mut t).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => unfinished += 1,
            Err(_) => {
                t.abort();
                unfinished += 1;
            }
        }
    }
    let end = Instant::now();
    let cpu = cpu_time().saturating_sub(cpu_start);
    let promoted_at = match killer {
        Some(k) => k.await.unwrap_or(None),
        None => None,
    };
    drop(driver);
    Ok(summarize(&shared, end, cpu, unfinished, promoted_at, client, topology))
}

/// Kills at the planned time, then waits for the promotion; returns its time (ms since start).
async fn kill_and_watch(shared: &Shared, plan: KillPlan) -> Option<u64> {
    tokio::time::sleep_until(tokio::time::Instant::from_std(shared.start + plan.at)).await;
    let killed = Instant::now();
    if let Err(e) = crate::watch::kill(plan.pid) {
        eprintln!("e2e: {e}");
        return None;
    }
    shared.kill_at_us.store(micros_since(shared.start, killed), Ordering::Release);
    let addr = plan.watch?;
    let until = shared.deadline + GRACE;
    let seen = tokio::task::spawn_blocking(move || {
        crate::watch::wait_for_promotion(&addr, Duration::from_millis(50), until)
    })
    .await
    .ok()
    .flatten()?;
    Some(micros_since(shared.start, seen) / 1000)
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    shared: &Shared,
    end: Instant,
    cpu: Duration,
    unfinished: usize,
    promoted_at_ms: Option<u64>,
    client: &str,
    topology: &str,
) -> Summary {
    let cfg = &shared.cfg;
    let elapsed = end.saturating_duration_since(shared.start).as_secs_f64().max(1e-9);
    let ops = shared.ops.load(Ordering::Relaxed);
    // A stall still running at the deadline counts up to the deadline.
    let deadline_us = micros_since(shared.start, shared.deadline);
    let last_ok = shared.last_ok_us.load(Ordering::Relaxed);
    let (mut gap_us, mut gap_end_us) = shared.max_gap.lock().map(|g| *g).unwrap_or((0, 0));
    if deadline_us.saturating_sub(last_ok) > gap_us {
        gap_us = deadline_us.saturating_sub(last_ok);
        gap_end_us = deadline_us;
    }
    let tallies = shared.tallies.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default();
    let seconds = shared.seconds.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
    let mut total = shared.template.clone();
    for h in &seconds {
        let _ = total.add(h);
    }
    let measured_seconds = (cfg.duration.as_secs_f64().ceil() as usize).max(1);
    let per_second = (1000 / BUCKET_MS) as usize;
    let sum = |b: &[AtomicU64], i: usize| -> u64 {
        b.iter().skip(i * per_second).take(per_second).map(|c| c.load(Ordering::Relaxed)).sum()
    };
    let timeline = (0..measured_seconds)
        .map(|i| Second {
            second: i as u64,
            ops: sum(&shared.buckets, i),
            errors: sum(&shared.error_buckets, i),
            p99_us: seconds.get(i).filter(|h| !h.is_empty()).map_or(0, |h| h.value_at_quantile(0.99)),
        })
        .collect();
    let kill_at_us = shared.kill_at_us.load(Ordering::Acquire);
    let failover = (kill_at_us != u64::MAX).then(|| {
        let buckets: Vec<u64> = shared
            .buckets
            .iter()
            .take((deadline_us / 1000 / BUCKET_MS) as usize)
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        failover::analyze(
            &buckets,
            Events {
                kill_at_ms: kill_at_us / 1000,
                promoted_at_ms,
                max_stall_ms: gap_us / 1000,
                max_stall_from_ms: gap_end_us.saturating_sub(gap_us) / 1000,
                errors_after_kill: shared.errors_after_kill.load(Ordering::Relaxed),
            },
        )
    });
    let q = |q: f64| if total.is_empty() { 0 } else { total.value_at_quantile(q) };
    Summary {
        client: client.to_string(),
        topology: topology.to_string(),
        replicas: cfg.replicas,
        clients: cfg.clients,
        keys: cfg.keys,
        value_size: cfg.value_size,
        ratio: format!("{}:{}", cfg.ratio.get, cfg.ratio.set),
        duration_s: elapsed,
        ops,
        ops_per_sec: ops as f64 / elapsed,
        p50_us: q(0.5),
        p99_us: q(0.99),
        p999_us: q(0.999),
        max_us: total.max(),
        cpu_us_per_op: if ops > 0 { cpu.as_secs_f64() * 1e6 / ops as f64 } else { 0.0 },
        errors: shared.errors.load(Ordering::Relaxed),
        errors_by_kind: tallies.errors_by_kind,
        error_samples: tallies.error_samples,
        verify_failures: shared.verify_failures.load(Ordering::Relaxed),
        verify_failures_by_reason: tallies.failures_by_reason,
        first_verify_failure: tallies.first_failure,
        stale_reads: shared.stale_reads.load(Ordering::Relaxed),
        older_after_failover: shared.older_after_failover.load(Ordering::Relaxed),
        unfinished_tasks: unfinished,
        timeline,
        failover,
    }
}

/// What a GET's value says about the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A version the read may see.
    Ok,
    /// Older than an acknowledged write, read from a replica (allowed there).
    Stale,
    /// Older than an acknowledged write, read after the primary was killed.
    OlderAfterFailover,
    /// Wrong: the reason is a stable short name.
    Wrong(&'static str),
}

/// Judges a GET of key `key` that returned `value`, given the newest
/// version acknowledged before it was sent (`lower`) and the newest issued
/// when it returned (`upper`).
pub fn judge(
    value: Option<&[u8]>,
    key: u64,
    size: usize,
    lower: u64,
    upper: u64,
    replicas: bool,
    after_kill: bool,
) -> Verdict {
    let Some(value) = value else { return Verdict::Wrong("missing") };
    let Some((k, version)) = parse_value(value, size) else { return Verdict::Wrong("garbled") };
    if k != key {
        Verdict::Wrong("other_key")
    } else if version > upper {
        Verdict::Wrong("never_written")
    } else if version >= lower {
        Verdict::Ok
    } else if replicas {
        Verdict::Stale
    } else if after_kill {
        Verdict::OlderAfterFailover
    } else {
        Verdict::Wrong("older_than_acked")
    }
}

/// A task's latencies of the current second, not yet flushed.
struct TaskClock {
    second: usize,
    hist: Histogram<u64>,
}

async fn worker(id: u64, mut driver: Driver, shared: &Shared) {
    let cfg = &shared.cfg;
    let mut rng = fastrand::Rng::with_seed(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5eed);
    let mut clock = TaskClock { second: 0, hist: shared.template.clone() };
    let keys = cfg.keys.max(1);
    let tasks = (cfg.clients as u64).max(1);
    // Keys this task writes: id, id + tasks, id + 2 tasks, ...
    let owned = if id < keys { (keys - id - 1) / tasks + 1 } else { 0 };
    let weights = cfg.ratio.get.saturating_add(cfg.ratio.set).max(1);
    let mut now = Instant::now();
    while now < shared.deadline {
        let second = (now - shared.start).as_secs() as usize;
        if second != clock.second {
            flush_second(shared, &mut clock);
            clock.second = second;
        }
        let is_get = owned == 0 || rng.u32(0..weights) < cfg.ratio.get;
        let k = if is_get { rng.u64(0..keys) } else { id + tasks * rng.u64(0..owned) };
        let Some(state) = shared.keys.get(k as usize) else { break };
        let sent = now;
        let result = if is_get {
            let lower = state.acked.load(Ordering::Acquire);
            let after_kill = micros_since(shared.start, sent) >= shared.kill_at_us.load(Ordering::Acquire);
            match driver.get(&state.name).await {
                Ok(value) => {
                    let upper = state.issued.load(Ordering::Acquire);
                    let bytes = value.as_ref().map(|v| v.as_slice());
                    let verdict = judge(bytes, k, cfg.value_size, lower, upper, cfg.replicas, after_kill);
                    record_verdict(shared, verdict, k, bytes, lower, upper);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else {
            let version = state.issued.fetch_add(1, Ordering::AcqRel) + 1;
            match driver.set(&state.name, make_value(k, version, cfg.value_size)).await {
                Ok(()) => {
                    state.acked.fetch_max(version, Ordering::AcqRel);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        now = Instant::now();
        match result {
            Ok(()) => {
                let us = now.saturating_duration_since(sent).as_micros().max(1) as u64;
                let _ = clock.hist.record(us.min(60_000_000));
                count_success(shared, micros_since(shared.start, now));
            }
            Err(e) => {
                count_error(shared, if is_get { "GET" } else { "SET" }, e, micros_since(shared.start, now));
                tokio::time::sleep(ERROR_PAUSE).await;
                now = Instant::now();
            }
        }
    }
    flush_second(shared, &mut clock);
}

fn count_success(shared: &Shared, at_us: u64) {
    shared.ops.fetch_add(1, Ordering::Relaxed);
    if let Some(b) = shared.buckets.get((at_us / 1000 / BUCKET_MS) as usize) {
        b.fetch_add(1, Ordering::Relaxed);
    }
    let prev = shared.last_ok_us.fetch_max(at_us, Ordering::AcqRel);
    let gap = at_us.saturating_sub(prev);
    if gap > shared.max_gap_us.load(Ordering::Relaxed) {
        shared.max_gap_us.fetch_max(gap, Ordering::Relaxed);
        if let Ok(mut g) = shared.max_gap.lock() {
            if gap > g.0 {
                *g = (gap, at_us);
            }
        }
    }
}

/// Counts an error under `"<op> <kind>"` (e.g. `GET timeout`): whether a
/// read or a write failed says whether the client could have retried it.
fn count_error(shared: &Shared, op: &str, e: Failure, at_us: u64) {
    shared.errors.fetch_add(1, Ordering::Relaxed);
    if let Some(b) = shared.error_buckets.get((at_us / 1000 / BUCKET_MS) as usize) {
        b.fetch_add(1, Ordering::Relaxed);
    }
    if at_us >= shared.kill_at_us.load(Ordering::Acquire) {
        shared.errors_after_kill.fetch_add(1, Ordering::Relaxed);
    }
    let key = format!("{op} {}", e.kind);
    if let Ok(mut t) = shared.tallies.lock() {
        *t.errors_by_kind.entry(key.clone()).or_insert(0) += 1;
        t.error_samples.entry(key).or_insert(e.message);
    }
}

fn record_verdict(shared: &Shared, verdict: Verdict, k: u64, value: Option<&[u8]>, lower: u64, upper: u64) {
    match verdict {
        Verdict::Ok => {}
        Verdict::Stale => {
            shared.stale_reads.fetch_add(1, Ordering::Relaxed);
        }
        Verdict::OlderAfterFailover => {
            shared.older_after_failover.fetch_add(1, Ordering::Relaxed);
        }
        Verdict::Wrong(reason) => {
            shared.verify_failures.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut t) = shared.tallies.lock() {
                *t.failures_by_reason.entry(reason.to_string()).or_insert(0) += 1;
                if t.first_failure.is_none() {
                    let shown = value.map(|v| String::from_utf8_lossy(v.get(..40).unwrap_or(v)).into_owned());
                    t.first_failure = Some(format!(
                        "key {k}: {reason}: got {shown:?}, expected a version in {lower}..={upper}"
                    ));
                }
            }
        }
    }
}

fn flush_second(shared: &Shared, clock: &mut TaskClock) {
    if let Ok(mut seconds) = shared.seconds.lock() {
        while seconds.len() <= clock.second {
            seconds.push(shared.template.clone());
        }
        if let Some(s) = seconds.get_mut(clock.second) {
            let _ = s.add(&clock.hist);
        }
    }
    clock.hist.reset();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(k: u64, version: u64) -> Vec<u8> {
        make_value(k, version, 64).to_vec()
    }

    #[test]
    fn judging_reads() {
        let ok = |val: &[u8], lower, upper| judge(Some(val), 3, 64, lower, upper, false, false);
        assert_eq!(ok(&v(3, 5), 5, 5), Verdict::Ok);
        assert_eq!(ok(&v(3, 6), 5, 6), Verdict::Ok, "a write in flight may be seen");
        assert_eq!(ok(&v(3, 4), 5, 6), Verdict::Wrong("older_than_acked"));
        assert_eq!(ok(&v(3, 7), 5, 6), Verdict::Wrong("never_written"));
        assert_eq!(ok(&v(4, 5), 5, 5), Verdict::Wrong("other_key"));
        assert_eq!(ok(b"junk", 0, 0), Verdict::Wrong("garbled"));
        assert_eq!(judge(None, 3, 64, 0, 0, false, false), Verdict::Wrong("missing"));
        assert_eq!(judge(Some(&v(3, 4)), 3, 64, 5, 6, true, false), Verdict::Stale);
        assert_eq!(judge(Some(&v(3, 4)), 3, 64, 5, 6, false, true), Verdict::OlderAfterFailover);
        assert_eq!(judge(Some(&v(4, 4)), 3, 64, 5, 6, true, true), Verdict::Wrong("other_key"));
        assert_eq!(judge(None, 3, 64, 5, 6, true, true), Verdict::Wrong("missing"));
    }

    #[test]
    fn the_longest_gap_between_successes_is_kept() {
        let shared = Shared {
            cfg: LoadConfig {
                clients: 1,
                duration: Duration::from_secs(1),
                keys: 1,
                value_size: 8,
                ratio: Ratio { get: 1, set: 1 },
                replicas: false,
                kill: None,
            },
            start: Instant::now(),
            deadline: Instant::now(),
            keys: Vec::new(),
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            errors_after_kill: AtomicU64::new(0),
            verify_failures: AtomicU64::new(0),
            stale_reads: AtomicU64::new(0),
            older_after_failover: AtomicU64::new(0),
            buckets: (0..20).map(|_| AtomicU64::new(0)).collect(),
            error_buckets: (0..20).map(|_| AtomicU64::new(0)).collect(),
            last_ok_us: AtomicU64::new(0),
            max_gap_us: AtomicU64::new(0),
            max_gap: Mutex::new((0, 0)),
            kill_at_us: AtomicU64::new(u64::MAX),
            tallies: Mutex::new(Tallies::default()),
            seconds: Mutex::new(Vec::new()),
            template: new_hist().unwrap(),
        };
        for at in [1_000, 2_000, 400_000, 400_500, 350_000, 900_000] {
            count_success(&shared, at);
        }
        // Gaps: 1 ms, 1 ms, 398 ms, 0.5 ms, none (out of order), 499.5 ms.
        assert_eq!(*shared.max_gap.lock().unwrap(), (499_500, 900_000));
        assert_eq!(shared.ops.load(Ordering::Relaxed), 6);
        assert_eq!(shared.buckets[0].load(Ordering::Relaxed), 2);
        assert_eq!(shared.buckets[3].load(Ordering::Relaxed), 1);
        assert_eq!(shared.buckets[4].load(Ordering::Relaxed), 2);
        assert_eq!(shared.buckets[9].load(Ordering::Relaxed), 1);
        count_error(&shared, "GET", Failure { kind: Cow::Borrowed("io"), message: "gone".into() }, 5);
        count_error(&shared, "GET", Failure { kind: Cow::Borrowed("io"), message: "again".into() }, 150_000);
        count_error(&shared, "SET", Failure { kind: Cow::Borrowed("io"), message: "set".into() }, 150_000);
        assert_eq!(shared.error_buckets[0].load(Ordering::Relaxed), 1);
        assert_eq!(shared.error_buckets[1].load(Ordering::Relaxed), 2);
        let t = shared.tallies.lock().unwrap();
        assert_eq!(t.errors_by_kind.get("GET io"), Some(&2));
        assert_eq!(t.errors_by_kind.get("SET io"), Some(&1));
        assert_eq!(t.error_samples.get("GET io").map(String::as_str), Some("gone"));
        assert_eq!(shared.errors_after_kill.load(Ordering::Relaxed), 0);
    }
}
