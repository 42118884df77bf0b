//! The whole loop against in-memory fake drivers: an honest one must give a
//! clean run, and each kind of lie (a stale value, another key's value, a
//! garbled one, a counter that goes back) must be counted as a verify failure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::{Driver, Failure, LoadConfig, Mix, Report};

/// How the fake lies.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lie {
    None,
    /// GET returns the value before the newest one.
    Stale,
    /// GET returns the value of the next key.
    OtherKey,
    /// GET flips the last byte.
    Garbled,
    /// INCR answers one less than the previous answer, once in a while.
    CounterBack,
    /// Every tenth command fails.
    Errors,
}

#[derive(Default)]
struct Store {
    /// Every value a key had, oldest first.
    history: HashMap<Vec<u8>, Vec<Bytes>>,
    counters: HashMap<Vec<u8>, i64>,
    calls: u64,
}

#[derive(Clone)]
struct Fake {
    store: Arc<Mutex<Store>>,
    lie: Lie,
}

impl Fake {
    fn new(lie: Lie) -> Fake {
        Fake { store: Arc::new(Mutex::new(Store::default())), lie }
    }

    fn read(&self, key: &[u8]) -> Result<Option<Bytes>, Failure> {
        let mut s = self.store.lock().unwrap();
        s.calls += 1;
        if self.lie == Lie::Errors && s.calls % 10 == 0 {
            return Err(Failure::new("io", "connection reset"));
        }
        let history = |k: &[u8]| s.history.get(k).cloned().unwrap_or_default();
        let own = history(key);
        Ok(match self.lie {
            Lie::Stale if own.len() >= 2 => own.get(own.len() - 2).cloned(),
            Lie::OtherKey => {
                let text = String::from_utf8_lossy(key).into_owned();
                let (prefix, index) = text.rsplit_once(':').unwrap();
                let next = format!("{prefix}:{}", index.parse::<u64>().unwrap() + 1);
                history(next.as_bytes()).last().cloned().or_else(|| own.last().cloned())
            }
            Lie::Garbled => own.last().map(|v| {
                let mut v = v.to_vec();
                if let Some(b) = v.last_mut() {
                    *b = b'!';
                }
                Bytes::from(v)
            }),
            _ => own.last().cloned(),
        })
    }
}

impl Driver for Fake {
    type Value = Bytes;

    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, Failure> {
        tokio::task::yield_now().await;
        self.read(key)
    }

    async fn set(&mut self, key: &[u8], value: Bytes) -> Result<(), Failure> {
        tokio::task::yield_now().await;
        let mut s = self.store.lock().unwrap();
        s.calls += 1;
        if self.lie == Lie::Errors && s.calls % 10 == 0 {
            return Err(Failure::new("timeout", "no reply"));
        }
        if value.as_ref() == b"0" {
            s.counters.insert(key.to_vec(), 0);
        }
        s.history.entry(key.to_vec()).or_default().push(value);
        Ok(())
    }

    async fn mget(&mut self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, Failure> {
        tokio::task::yield_now().await;
        keys.iter().map(|k| self.read(k)).collect()
    }

    async fn incr(&mut self, key: &[u8]) -> Result<i64, Failure> {
        tokio::task::yield_now().await;
        let mut s = self.store.lock().unwrap();
        s.calls += 1;
        let calls = s.calls;
        let n = s.counters.entry(key.to_vec()).or_insert(0);
        *n += 1;
        Ok(if self.lie == Lie::CounterBack && calls % 50 == 0 { *n - 2 } else { *n })
    }
}

fn config(mix: Mix) -> LoadConfig {
    let mut cfg = LoadConfig::new(4, Duration::from_millis(300), 40, "t:");
    cfg.mix = mix;
    cfg.value_size = 32;
    cfg.grace = Duration::from_secs(2);
    cfg
}

async fn run(lie: Lie, mix: Mix) -> Report {
    crate::run(Fake::new(lie), config(mix)).await.expect("the fake never fails the prefill")
}

fn all_ops() -> Mix {
    Mix { get: 4, set: 3, mget: 1, incr: 1 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_driver_gives_a_clean_run() {
    let r = run(Lie::None, all_ops()).await;
    assert!(r.ops > 100, "{r:?}");
    assert_eq!(r.verify_failures, 0, "{:?}", r.first_verify_failure);
    assert_eq!((r.errors, r.stale_reads, r.older_after_failover, r.unfinished_tasks), (0, 0, 0, 0));
    assert_eq!(r.seconds.len(), 1);
    assert_eq!(r.buckets.len(), 3);
    // Each task may complete one operation after the deadline, outside the timeline.
    let in_timeline = r.buckets.iter().map(|b| b.ops).sum::<u64>();
    assert!(in_timeline <= r.ops && r.ops - in_timeline <= 4, "{in_timeline} of {}", r.ops);
    assert_eq!(r.latency.len(), r.ops);
    assert!(r.failover.is_none() && r.fault_at_ms.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_value_is_a_verify_failure() {
    let r = run(Lie::Stale, Mix::get_set(1, 1)).await;
    assert!(r.verify_failures > 0, "{r:?}");
    assert!(r.verify_failures_by_reason.contains_key("older_than_acked"), "{r:?}");
    assert!(r.first_verify_failure.as_deref().is_some_and(|f| f.contains("older_than_acked")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_values_are_allowed_from_replicas_and_counted_on_their_own() {
    let mut cfg = config(Mix::get_set(1, 1));
    cfg.replicas = true;
    let r = crate::run(Fake::new(Lie::Stale), cfg).await.unwrap();
    assert_eq!(r.verify_failures, 0, "{:?}", r.first_verify_failure);
    assert!(r.stale_reads > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_keys_value_is_a_verify_failure_for_get_and_mget() {
    let r = run(Lie::OtherKey, Mix { get: 1, set: 0, mget: 0, incr: 0 }).await;
    assert!(r.verify_failures > 0 && r.verify_failures_by_reason.contains_key("other_key"), "{r:?}");
    let r = run(Lie::OtherKey, Mix { get: 0, set: 0, mget: 1, incr: 0 }).await;
    assert!(r.verify_failures > 0 && r.verify_failures_by_reason.contains_key("other_key"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbled_value_is_a_verify_failure() {
    let r = run(Lie::Garbled, Mix::get_set(1, 1)).await;
    assert_eq!(r.verify_failures_by_reason.get("garbled").copied(), Some(r.verify_failures));
    assert!(r.verify_failures > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_that_goes_back_is_a_verify_failure() {
    let r = run(Lie::CounterBack, Mix { get: 0, set: 0, mget: 0, incr: 1 }).await;
    assert!(r.verify_failures_by_reason.contains_key("counter_went_back"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_counted_by_operation_and_kind_and_the_run_goes_on() {
    let r = run(Lie::Errors, Mix::get_set(1, 1)).await;
    assert!(r.errors > 0 && r.ops > r.errors, "{r:?}");
    assert_eq!(r.errors_by_kind.values().sum::<u64>(), r.errors);
    let kinds = r.errors_by_kind_only();
    assert!(kinds.keys().all(|k| k == "io" || k == "timeout"), "{kinds:?}");
    assert!(r.errors_by_kind.keys().any(|k| k == "GET io"));
    assert!(r.errors - r.buckets.iter().map(|b| b.errors).sum::<u64>() <= 4);
    assert!(r.last_error_at_ms().is_some());
    assert_eq!(r.verify_failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marked_fault_is_analysed_drawn_and_excuses_lost_writes() {
    let fake = Fake::new(Lie::Stale);
    let mut cfg = config(Mix::get_set(1, 1));
    cfg.duration = Duration::from_secs(10);
    let running = crate::start(fake, cfg).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    running.mark_fault();
    let marker = running.marker();
    tokio::time::sleep(Duration::from_millis(150)).await;
    marker.mark_promotion();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = running.stop().await;
    assert!(r.elapsed < Duration::from_secs(5), "stop ends the run early: {:?}", r.elapsed);
    let fault = r.fault_at_ms.expect("fault marked");
    assert!(r.promoted_at_ms.is_some_and(|p| p >= fault + 100));
    assert!(r.failover.as_ref().is_some_and(|f| f.kill_at_ms == fault));
    // The stale reads sent in the first 20 ms are failures; those after the fault are lost writes.
    assert!(r.older_after_failover > 0, "{r:?}");
    let svg = crate::plot::render("fake", &[r.plot_run("fake")]);
    assert!(svg.contains(r#"data-marker="fault""#) && svg.contains(r#"data-marker="promoted""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefill_that_keeps_failing_stops_the_run() {
    #[derive(Clone)]
    struct Down;
    impl Driver for Down {
        type Value = Bytes;
        async fn get(&mut self, _: &[u8]) -> Result<Option<Bytes>, Failure> {
            Err(Failure::new("io", "refused"))
        }
        async fn set(&mut self, _: &[u8], _: Bytes) -> Result<(), Failure> {
            Err(Failure::new("io", "refused"))
        }
    }
    let mut cfg = config(Mix::get_set(1, 1));
    cfg.keys = 2;
    let e = crate::run(Down, cfg).await.expect_err("prefill fails");
    assert_eq!(e.kind, "setup");
    assert!(e.message.contains("refused"), "{e}");
}
