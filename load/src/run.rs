//! The loop: [`start`] prefills the keys and spawns N tasks sharing one
//! driver; each task picks an operation from the [`Mix`](crate::Mix) until
//! the deadline, verifies every value read, and counts into the shared
//! tallies. [`Running`] is the handle while it runs: progress, the fault
//! and promotion marks, an early stop, and [`Running::finish`] for the report.
//!
//! Each key has one writer (key `k` belongs to task `k % N`), and each task
//! one counter, which is what makes every read checkable (see `verify`).
//! Not here: what is judged (`verify`), how it is counted (`tally`), how it
//! is summarized (`report`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::config::{LoadConfig, MGET_KEYS};
use crate::driver::{Driver, Failure};
use crate::measure::{cpu_time, micros_since, new_hist, MAX_US};
use crate::report::Report;
use crate::tally::Shared;
use crate::value::{counter_name, key_name, make_value};
use crate::verify::{judge, judge_counter};

/// Longest time the prefill may take (some clients never time a command out).
const PREFILL_LIMIT: Duration = Duration::from_secs(120);
/// Concurrent writers of the prefill.
const PREFILL_WRITERS: u64 = 64;

/// What a run has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Time since the measured run started.
    pub elapsed: Duration,
    /// Successful operations.
    pub ops: u64,
    /// Errors returned.
    pub errors: u64,
    /// Reads that returned a wrong value.
    pub verify_failures: u64,
}

/// Marks events of a run from anywhere (a task that injects the fault).
#[derive(Clone)]
pub struct Marker(Arc<Shared>);

impl Marker {
    /// The fault happens now (a primary killed, a failover started): the
    /// timeline marks it, failover analysis starts from it, and older
    /// versions read from then on count as `older_after_failover`.
    pub fn mark_fault(&self) {
        self.mark_fault_at(Instant::now());
    }

    /// The fault happened at `t` (see [`Marker::mark_fault`]); the earliest mark counts.
    pub fn mark_fault_at(&self, t: Instant) {
        self.0.fault_at_us.fetch_min(micros_since(self.0.start, t), Ordering::AcqRel);
    }

    /// The fault is over now (a replica promoted).
    pub fn mark_promotion(&self) {
        self.mark_promotion_at(Instant::now());
    }

    /// The fault was over at `t`; the earliest mark counts.
    pub fn mark_promotion_at(&self, t: Instant) {
        self.0.promoted_at_us.fetch_min(micros_since(self.0.start, t), Ordering::AcqRel);
    }

    /// When the measured run started.
    pub fn start(&self) -> Instant {
        self.0.start
    }

    /// When the tasks stop sending (the run's end, or an earlier stop).
    pub fn deadline(&self) -> Instant {
        self.0.start + Duration::from_micros(self.0.deadline_us.load(Ordering::Acquire))
    }
}

/// A run in progress.
pub struct Running {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    cpu_start: Duration,
}

/// Prefills and runs the load to its deadline; the report.
///
/// # Errors
/// A `setup` failure when the prefill fails; errors during the run are
/// counted in the report, not returned.
pub async fn run<D: Driver>(driver: D, cfg: LoadConfig) -> Result<Report, Failure> {
    Ok(start(driver, cfg).await?.finish().await)
}

/// Writes version 0 of every key (and 0 to every task's counter when the mix
/// has `INCR`), then starts the tasks. Needs a tokio runtime.
///
/// # Errors
/// A `setup` failure when a key could not be written (five attempts each) or
/// the prefill took over two minutes.
pub async fn start<D: Driver>(driver: D, cfg: LoadConfig) -> Result<Running, Failure> {
    let template = new_hist()?;
    let counters = if cfg.mix.incr > 0 { cfg.clients as u64 } else { 0 };
    tokio::time::timeout(PREFILL_LIMIT, prefill(&driver, &cfg, counters))
        .await
        .map_err(|_| Failure::setup(format!("prefill took over {PREFILL_LIMIT:?}")))??;
    if !cfg.settle.is_zero() {
        tokio::time::sleep(cfg.settle).await;
    }
    let shared = Arc::new(Shared::new(cfg, Instant::now(), template));
    let cpu_start = cpu_time();
    let tasks = (0..shared.cfg.clients)
        .map(|id| {
            let shared = shared.clone();
            let driver = driver.clone();
            tokio::spawn(async move { worker(id as u64, driver, &shared).await })
        })
        .collect();
    Ok(Running { shared, tasks, cpu_start })
}

impl Running {
    /// A handle to mark the fault and the promotion.
    pub fn marker(&self) -> Marker {
        Marker(self.shared.clone())
    }

    /// See [`Marker::mark_fault`].
    pub fn mark_fault(&self) {
        self.marker().mark_fault();
    }

    /// Counts so far.
    pub fn progress(&self) -> Progress {
        let s = &self.shared;
        Progress {
            elapsed: s.start.elapsed(),
            ops: s.ops.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            verify_failures: s.verify_failures.load(Ordering::Relaxed),
        }
    }

    /// Ends the run now instead of at its deadline; the report.
    pub async fn stop(self) -> Report {
        let now = micros_since(self.shared.start, Instant::now());
        self.shared.deadline_us.fetch_min(now, Ordering::AcqRel);
        self.finish().await
    }

    /// Waits for the deadline, then for the tasks' last replies (aborting
    /// those still waiting after the grace time); the report.
    pub async fn finish(self) -> Report {
        let deadline = self.marker().deadline();
        let grace_end = tokio::time::Instant::from_std(deadline + self.shared.cfg.grace);
        let mut unfinished = 0;
        for mut t in self.tasks {
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
        let cpu = cpu_time().saturating_sub(self.cpu_start);
        Report::from_run(&self.shared, end, cpu, unfinished)
    }
}

async fn prefill<D: Driver>(driver: &D, cfg: &LoadConfig, counters: u64) -> Result<(), Failure> {
    let writes = cfg.keys + counters;
    let mut tasks = Vec::new();
    for w in 0..PREFILL_WRITERS.min(writes.max(1)) {
        let mut d = driver.clone();
        let (keys, size, prefix) = (cfg.keys, cfg.value_size, cfg.key_prefix.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < writes {
                let (name, value) = if i < keys {
                    (key_name(&prefix, i), make_value(i, 0, size))
                } else {
                    (counter_name(&prefix, i - keys), Bytes::from_static(b"0"))
                };
                let mut attempt = 0;
                loop {
                    match d.set(&name, value.clone()).await {
                        Ok(()) => break,
                        Err(e) if attempt >= 4 => return Err(e),
                        Err(_) => {
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
                i += PREFILL_WRITERS;
            }
            Ok(())
        }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Failure::setup(format!("prefill: {e}"))),
            Err(e) => return Err(Failure::setup(format!("prefill task: {e}"))),
        }
    }
    Ok(())
}

/// One task's own state: its clock second, its unflushed latencies, its counter.
struct Task {
    id: u64,
    rng: fastrand::Rng,
    second: usize,
    hist: Histogram<u64>,
    counter: Vec<u8>,
    counter_last: i64,
    counter_sent: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Set,
    Mget,
    Incr,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "GET",
            Op::Set => "SET",
            Op::Mget => "MGET",
            Op::Incr => "INCR",
        }
    }
}

async fn worker<D: Driver>(id: u64, mut driver: D, shared: &Shared) {
    let cfg = &shared.cfg;
    let mut task = Task {
        id,
        rng: fastrand::Rng::with_seed(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5eed),
        second: 0,
        hist: shared.template.clone(),
        counter: counter_name(&cfg.key_prefix, id),
        counter_last: 0,
        counter_sent: 0,
    };
    let keys = cfg.keys.max(1);
    let tasks = (cfg.clients as u64).max(1);
    // Keys this task writes: id, id + tasks, id + 2 tasks, ...
    let owned = if id < keys { (keys - id - 1) / tasks + 1 } else { 0 };
    let mix = cfg.mix;
    let mut now = Instant::now();
    while micros_since(shared.start, now) < shared.deadline_us.load(Ordering::Relaxed) {
        let second = (now - shared.start).as_secs() as usize;
        if second != task.second {
            shared.flush_second(task.second, &mut task.hist);
            task.second = second;
        }
        let pick = task.rng.u32(0..mix.total());
        let op = if pick < mix.get {
            Op::Get
        } else if pick < mix.get.saturating_add(mix.set) {
            // A task that owns no key (more tasks than keys) only reads.
            if owned == 0 {
                Op::Get
            } else {
                Op::Set
            }
        } else if pick < mix.get.saturating_add(mix.set).saturating_add(mix.mget) {
            Op::Mget
        } else if mix.incr > 0 {
            Op::Incr
        } else {
            // All weights zero: `total` is 1, and a GET is the harmless choice.
            Op::Get
        };
        let sent = now;
        let result = match op {
            Op::Get => get(&mut driver, shared, &mut task, keys, sent).await,
            Op::Set => set(&mut driver, shared, &mut task, owned).await,
            Op::Mget => mget(&mut driver, shared, &mut task, keys, sent).await,
            Op::Incr => incr(&mut driver, shared, &mut task, sent).await,
        };
        now = Instant::now();
        match result {
            Ok(()) => {
                let us = now.saturating_duration_since(sent).as_micros().max(1) as u64;
                let _ = task.hist.record(us.min(MAX_US));
                shared.count_success(micros_since(shared.start, now));
            }
            Err(e) => {
                shared.count_error(op.name(), e, micros_since(shared.start, now));
                tokio::time::sleep(cfg.error_pause).await;
                now = Instant::now();
            }
        }
    }
    shared.flush_second(task.second, &mut task.hist);
}

fn after_fault(shared: &Shared, sent: Instant) -> bool {
    micros_since(shared.start, sent) >= shared.fault_at_us.load(Ordering::Acquire)
}

fn describe(k: u64, reason: &str, value: Option<&[u8]>, lower: u64, upper: u64) -> String {
    let shown = value.map(|v| String::from_utf8_lossy(v.get(..40).unwrap_or(v)).into_owned());
    format!("key {k}: {reason}: got {shown:?}, expected a version in {lower}..={upper}")
}

async fn get<D: Driver>(
    driver: &mut D,
    shared: &Shared,
    task: &mut Task,
    keys: u64,
    sent: Instant,
) -> Result<(), Failure> {
    let k = shared.picker.read(&mut task.rng, keys);
    let Some(state) = shared.keys.get(k as usize) else { return Ok(()) };
    let lower = state.acked.load(Ordering::Acquire);
    let value = driver.get(&state.name).await?;
    let upper = state.issued.load(Ordering::Acquire);
    let bytes = value.as_ref().map(AsRef::as_ref);
    let cfg = &shared.cfg;
    let verdict = judge(bytes, k, cfg.value_size, lower, upper, cfg.replicas, after_fault(shared, sent));
    shared.record_verdict(verdict, |reason| describe(k, reason, bytes, lower, upper));
    Ok(())
}

async fn set<D: Driver>(driver: &mut D, shared: &Shared, task: &mut Task, owned: u64) -> Result<(), Failure> {
    let tasks = (shared.cfg.clients as u64).max(1);
    let k = task.id + tasks * shared.picker.write_rank(&mut task.rng, owned);
    let Some(state) = shared.keys.get(k as usize) else { return Ok(()) };
    let version = state.issued.fetch_add(1, Ordering::AcqRel) + 1;
    driver.set(&state.name, make_value(k, version, shared.cfg.value_size)).await?;
    state.acked.fetch_max(version, Ordering::AcqRel);
    Ok(())
}

async fn mget<D: Driver>(
    driver: &mut D,
    shared: &Shared,
    task: &mut Task,
    keys: u64,
    sent: Instant,
) -> Result<(), Failure> {
    let picked: Vec<u64> = (0..MGET_KEYS).map(|_| shared.picker.read(&mut task.rng, keys)).collect();
    let states: Vec<_> = picked.iter().filter_map(|&k| shared.keys.get(k as usize)).collect();
    let lowers: Vec<u64> = states.iter().map(|s| s.acked.load(Ordering::Acquire)).collect();
    let names: Vec<&[u8]> = states.iter().map(|s| s.name.as_slice()).collect();
    let values = driver.mget(&names).await?;
    let cfg = &shared.cfg;
    if values.len() != names.len() {
        shared.record_verdict(crate::verify::Verdict::Wrong("mget_length"), |reason| {
            format!("MGET of {} keys: {reason}: got {} values", names.len(), values.len())
        });
        return Ok(());
    }
    let fault = after_fault(shared, sent);
    for (((k, state), lower), value) in picked.iter().zip(&states).zip(&lowers).zip(&values) {
        let upper = state.issued.load(Ordering::Acquire);
        let bytes = value.as_ref().map(AsRef::as_ref);
        let verdict = judge(bytes, *k, cfg.value_size, *lower, upper, cfg.replicas, fault);
        shared.record_verdict(verdict, |reason| describe(*k, reason, bytes, *lower, upper));
    }
    Ok(())
}

async fn incr<D: Driver>(
    driver: &mut D,
    shared: &Shared,
    task: &mut Task,
    sent: Instant,
) -> Result<(), Failure> {
    task.counter_sent += 1;
    let n = driver.incr(&task.counter).await?;
    let verdict = judge_counter(n, task.counter_last, task.counter_sent, after_fault(shared, sent));
    let (id, last, issued) = (task.id, task.counter_last, task.counter_sent);
    shared.record_verdict(verdict, |reason| {
        format!("counter of task {id}: {reason}: got {n} after {last}, {issued} INCRs sent")
    });
    // Judge the next reply against this one (after lost writes the counter restarts lower).
    task.counter_last = n;
    Ok(())
}
