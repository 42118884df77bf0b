//! Criterion benches for the client-side cache's store: a hit (one lock,
//! one hash lookup, the id compared in place, the reply cloned), a miss, and
//! the fill path of a miss (ticket before the read, then the reply cached,
//! evicting by SIEVE when full), against a bare `Mutex<HashMap>` lookup as
//! the floor. `cargo bench --bench cache`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use redwire::__unstable::cache::Filled;
use redwire::Frame;

const KEYS: usize = 100_000;

fn keys() -> Vec<Vec<u8>> {
    (0..KEYS).map(|i| format!("key:{i}").into_bytes()).collect()
}

fn lookups(c: &mut Criterion) {
    let filled = Filled::new(KEYS, KEYS);
    let keys = keys();
    let mut i = 0usize;
    c.bench_function("cache_hit_100k", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(filled.get(black_box(&keys[i])))
        })
    });
    let warm = Filled::new(1_000, 1_000);
    c.bench_function("cache_hit_1k", |b| {
        b.iter(|| {
            i = (i + 7919) % 1_000;
            black_box(warm.get(black_box(&keys[i])))
        })
    });
    c.bench_function("cache_miss_100k", |b| b.iter(|| black_box(filled.get(black_box(b"absent:key")))));
    // Full at 10k entries: every fill evicts.
    let small = Filled::new(10_000, 10_000);
    c.bench_function("cache_fill_evicting", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(small.fill(black_box(&keys[i])))
        })
    });
    let floor: Mutex<HashMap<Bytes, Frame>> = Mutex::new(
        keys.iter()
            .map(|k| (Bytes::copy_from_slice(k), Frame::BulkString(Bytes::from_static(&[b'v'; 64]))))
            .collect(),
    );
    c.bench_function("floor_mutex_hashmap_hit_100k", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let map = floor.lock().unwrap_or_else(|p| p.into_inner());
            black_box(map.get(black_box(&keys[i][..])).cloned())
        })
    });
}

fn floor_small(c: &mut Criterion) {
    let keys = keys();
    let floor: Mutex<HashMap<Bytes, Frame>> = Mutex::new(
        keys[..1_000]
            .iter()
            .map(|k| (Bytes::copy_from_slice(k), Frame::BulkString(Bytes::from_static(&[b'v'; 64]))))
            .collect(),
    );
    let mut i = 0usize;
    c.bench_function("floor_mutex_hashmap_hit_1k", |b| {
        b.iter(|| {
            i = (i + 7919) % 1_000;
            let map = floor.lock().unwrap_or_else(|p| p.into_inner());
            black_box(map.get(black_box(&keys[i][..])).cloned())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = lookups, floor_small
}
criterion_main!(benches);
