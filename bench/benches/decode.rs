//! Side-by-side decode benchmark: redwire's decoder against the parsers of
//! redis-protocol (its zero-copy `decode_bytes_mut`) and redis-rs
//! (`parse_redis_value`), on the same replies.
//!
//! Fairness: every function gets an identical fresh `BytesMut` per iteration
//! from `iter_batched` (setup and dropping the result are not timed; batches
//! of 64), and must return the decoded value. redis-protocol uses its RESP2 decoder for
//! inputs that are plain RESP2 and its RESP3 decoder for the others;
//! redis-rs has one parser for both.
//!
//! Run: `cd bench && cargo bench --bench decode`.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use redwire::resp::{encode_frame, Decoder};
use redwire::Frame;

include!("../../benches/common/replies.rs");

/// (name, wire bytes, is RESP3)
fn inputs() -> Vec<(&'static str, Vec<u8>, bool)> {
    let value = Bytes::from(vec![b'v'; 64]);
    vec![
        ("get_64b", wire(&Frame::BulkString(value.clone())), false),
        ("bulk_16k", wire(&Frame::BulkString(Bytes::from(vec![b'x'; 16 * 1024]))), false),
        ("array_100x64b", wire(&Frame::Array(vec![Frame::BulkString(value); 100])), false),
        ("hello_resp3", wire(&hello(true)), true),
        ("hello_resp2", wire(&hello(false)), false),
        ("cluster_shards_resp3", wire(&cluster_shards(true)), true),
        ("cluster_shards_resp2", wire(&cluster_shards(false)), false),
        ("bulk_64mb", wire(&Frame::BulkString(Bytes::from(vec![b'y'; 64 << 20]))), false),
    ]
}

fn decode(c: &mut Criterion) {
    for (name, input, resp3) in inputs() {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(input.len() as u64));
        if input.len() > 1 << 20 {
            group.sample_size(10);
        }
        // Small batches: the inputs of one batch stay in cache, as the bytes of
        // a reply just read from a socket are, and the allocator recycles
        // the previous batch's memory instead of faulting in fresh pages
        // (criterion's `SmallInput` batches are large enough that page
        // faults, the same for every parser, dominate the timings).
        let batch =
            if input.len() > 1 << 20 { BatchSize::PerIteration } else { BatchSize::NumIterations(64) };
        let fresh = || BytesMut::from(&input[..]);

        let mut decoder = Decoder::new();
        group.bench_function("redwire", |b| {
            b.iter_batched(
                fresh,
                |mut buf| decoder.decode(&mut buf).expect("valid").expect("complete"),
                batch,
            )
        });
        if resp3 {
            group.bench_function("redis-protocol", |b| {
                b.iter_batched(
                    fresh,
                    |mut buf| {
                        redis_protocol::resp3::decode::complete::decode_bytes_mut(&mut buf)
                            .expect("valid")
                            .expect("complete")
                    },
                    batch,
                )
            });
        } else {
            group.bench_function("redis-protocol", |b| {
                b.iter_batched(
                    fresh,
                    |mut buf| {
                        redis_protocol::resp2::decode::decode_bytes_mut(&mut buf)
                            .expect("valid")
                            .expect("complete")
                    },
                    batch,
                )
            });
        }
        group.bench_function("redis-rs", |b| {
            b.iter_batched(fresh, |buf| redis::parse_redis_value(&buf).expect("valid"), batch)
        });
        group.finish();
    }
}

criterion_group!(benches, decode);
criterion_main!(benches);
