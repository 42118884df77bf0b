//! Side-by-side decode benchmark: redwire's decoder against the parsers of
//! redis-protocol (its zero-copy `decode_bytes_mut`) and redis-rs
//! (`parse_redis_value`), on the same replies.
//!
//! Fairness: every function gets an identical fresh `BytesMut` per iteration
//! from `iter_batched` (setup and dropping the result are not timed), and
//! must return the decoded value. redis-protocol uses its RESP2 decoder for
//! inputs that are plain RESP2 and its RESP3 decoder for the others;
//! redis-rs has one parser for both.
//!
//! Run: `cd bench && cargo bench --bench decode`.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use redwire::resp::{encode_frame, Decoder};
use redwire::Frame;

fn wire(frame: &Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(frame, &mut out);
    out.to_vec()
}

fn bulk(s: &str) -> Frame {
    Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
}

fn map(resp3: bool, pairs: Vec<(&str, Frame)>) -> Frame {
    if resp3 {
        Frame::Map(pairs.into_iter().map(|(k, v)| (bulk(k), v)).collect())
    } else {
        Frame::Array(pairs.into_iter().flat_map(|(k, v)| [bulk(k), v]).collect())
    }
}

fn hello(resp3: bool) -> Frame {
    map(
        resp3,
        vec![
            ("server", bulk("valkey")),
            ("version", bulk("8.0.2")),
            ("proto", Frame::Integer(if resp3 { 3 } else { 2 })),
            ("id", Frame::Integer(1042)),
            ("mode", bulk("cluster")),
            ("role", bulk("master")),
            ("modules", Frame::Array(vec![])),
        ],
    )
}

fn cluster_shards(resp3: bool) -> Frame {
    let shards = (0..3i64)
        .map(|s| {
            let nodes = (0..2i64)
                .map(|n| {
                    let port = 7000 + s * 2 + n;
                    map(
                        resp3,
                        vec![
                            ("id", bulk(&format!("{:040x}", port * 7919))),
                            ("port", Frame::Integer(port)),
                            ("ip", bulk("10.0.0.12")),
                            ("endpoint", bulk("10.0.0.12")),
                            ("hostname", bulk(&format!("node-{port}.example.internal"))),
                            ("role", bulk(if n == 0 { "master" } else { "replica" })),
                            ("replication-offset", Frame::Integer(72_156_812 + port)),
                            ("health", bulk("online")),
                        ],
                    )
                })
                .collect();
            map(
                resp3,
                vec![
                    ("slots", Frame::Array(vec![Frame::Integer(s * 5461), Frame::Integer(s * 5461 + 5460)])),
                    ("nodes", Frame::Array(nodes)),
                ],
            )
        })
        .collect();
    Frame::Array(shards)
}

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
        let batch = if input.len() > 1 << 20 { BatchSize::PerIteration } else { BatchSize::SmallInput };
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
