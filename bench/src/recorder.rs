//! A cheap `metrics` recorder for `e2e --features metrics`: what redwire's
//! `metrics` feature costs when a recorder is installed, without the cost of
//! a real exporter's rendering. Counters and gauges are atomics; a histogram
//! keeps its count and its sum (in nanoseconds), which is about what a
//! bucketed histogram's record costs. Not here: exporting (the values are
//! printed to stderr once, at the end of a run).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};

/// A histogram's count and sum.
#[derive(Default)]
struct Sum {
    count: AtomicU64,
    nanos: AtomicU64,
}

impl HistogramFn for Sum {
    fn record(&self, value: f64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add((value * 1e9) as u64, Ordering::Relaxed);
    }
}

/// Every metric by `name{labels}`.
#[derive(Default)]
pub struct Cheap {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<String, Arc<Sum>>>,
}

fn text(key: &Key) -> String {
    let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
    if labels.is_empty() {
        key.name().to_string()
    } else {
        format!("{}{{{}}}", key.name(), labels.join(","))
    }
}

fn entry<T: Default>(map: &Mutex<BTreeMap<String, Arc<T>>>, key: &Key) -> Arc<T> {
    map.lock().unwrap_or_else(|p| p.into_inner()).entry(text(key)).or_default().clone()
}

impl Recorder for Cheap {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(entry(&self.counters, key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(entry(&self.gauges, key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(entry(&self.histograms, key))
    }
}

/// A handle to the installed recorder, for printing its values.
pub struct Installed(&'static Cheap);

/// Installs the recorder globally; `None` when one was installed already.
pub fn install() -> Option<Installed> {
    let recorder: &'static Cheap = Box::leak(Box::default());
    metrics::set_global_recorder(recorder).ok().map(|()| Installed(recorder))
}

impl Installed {
    /// Every metric, one per line (`metrics: name{labels} value`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let lock = |m: &Mutex<BTreeMap<String, Arc<AtomicU64>>>| {
            m.lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
                .collect::<Vec<_>>()
        };
        for (k, v) in lock(&self.0.counters) {
            let _ = writeln!(out, "metrics: {k} {v}");
        }
        for (k, v) in lock(&self.0.gauges) {
            let _ = writeln!(out, "metrics: {k} {}", f64::from_bits(v));
        }
        for (k, h) in self.0.histograms.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let count = h.count.load(Ordering::Relaxed);
            let mean_us = h.nanos.load(Ordering::Relaxed) / count.max(1) / 1000;
            let _ = writeln!(out, "metrics: {k} count {count} mean {mean_us} us");
        }
        out
    }
}
