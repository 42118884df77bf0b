//! Criterion benches for the RESP decoder and encoder.
//!
//! Decoder: typical replies (a GET, a 16 KB bulk, a 100-element array, a
//! HELLO map, CLUSTER SHARDS in RESP3 and RESP2 form), each from a fresh
//! buffer per iteration; runs of 100 replies decoded one after another from
//! one buffer, as the connection's reader does with pipelined replies
//! (`decode_run`, throughput in replies); and a 64 MB and a 512 MB bulk
//! arriving in 64 KB reads (the two sizes show the cost is linear: the
//! decoder waits in O(1) per read). Encoder: `Cmd` for GET and SET (a 16-byte
//! key and a 64-byte value, next to the same bytes written by hand: the
//! floor), `encode_frame` of an array. Throughput is in bytes of wire form.
//!
//! `cargo bench --bench resp`; the side-by-side comparison with other
//! clients' parsers is the separate crate in `bench/`.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use redwire::resp::{encode_frame, Decoder};
use redwire::{cmd, Frame};

include!("common/replies.rs");

/// The replies decoded from a fresh buffer each iteration.
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let value = Bytes::from(vec![b'v'; 64]);
    vec![
        ("get_64b", wire(&Frame::BulkString(value.clone()))),
        ("bulk_16k", wire(&Frame::BulkString(Bytes::from(vec![b'x'; 16 * 1024])))),
        ("array_100x64b", wire(&Frame::Array(vec![Frame::BulkString(value); 100]))),
        ("hello_resp3", wire(&hello(true))),
        ("hello_resp2", wire(&hello(false))),
        ("cluster_shards_resp3", wire(&cluster_shards(true))),
        ("cluster_shards_resp2", wire(&cluster_shards(false))),
    ]
}

fn decode_replies(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, input) in inputs() {
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut decoder = Decoder::new();
        group.bench_function(name, |b| {
            b.iter_batched(
                || BytesMut::from(&input[..]),
                |mut buf| decoder.decode(&mut buf).map(|f| f.is_some()),
                // Small batches keep inputs in cache (as freshly read bytes
                // are) and avoid page faults from huge batches.
                BatchSize::NumIterations(64),
            )
        });
    }
    group.finish();
}

/// Runs of 100 replies in one buffer: GET replies of 64 bytes, and a mix of
/// small pipelined replies (`+OK`, a 5-byte bulk, an integer, a null bulk).
fn runs() -> Vec<(&'static str, Vec<u8>)> {
    let get = wire(&Frame::BulkString(Bytes::from(vec![b'v'; 64])));
    let small = [&b"+OK\r\n"[..], b"$5\r\nhello\r\n", b":42\r\n", b"$-1\r\n"];
    vec![("get_64b_x100", get.repeat(100)), ("small_mix_x100", small.concat().repeat(25))]
}

fn decode_runs(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_run");
    for (name, input) in runs() {
        group.throughput(Throughput::Elements(100));
        let mut decoder = Decoder::new();
        group.bench_function(name, |b| {
            b.iter_batched(
                || BytesMut::from(&input[..]),
                |mut buf| {
                    let mut n = 0u32;
                    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
                        black_box(&frame);
                        n += 1;
                    }
                    assert_eq!(n, 100);
                    buf
                },
                BatchSize::NumIterations(64),
            )
        });
    }
    group.finish();
}

/// A bulk of `total` bytes arriving in 64 KB reads into a buffer sized once.
fn decode_in_reads(total: usize) -> usize {
    const READ: usize = 64 * 1024;
    static CHUNK: [u8; READ] = [b'z'; READ];
    let header = format!("${total}\r\n");
    let mut buf = BytesMut::with_capacity(header.len() + total + 2);
    buf.extend_from_slice(header.as_bytes());
    let mut decoder = Decoder::new();
    let mut left = total;
    loop {
        let n = left.min(READ);
        buf.extend_from_slice(&CHUNK[..n]);
        left -= n;
        if left == 0 {
            buf.extend_from_slice(b"\r\n");
        }
        if let Ok(Some(Frame::BulkString(b))) = decoder.decode(&mut buf) {
            return b.len();
        }
        assert!(left > 0, "the whole bulk arrived but was not decoded");
    }
}

fn decode_big_bulks(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_big_bulk_64k_reads");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(20));
    for (name, total) in [("64mb", 64usize << 20), ("512mb", 512usize << 20)] {
        group.throughput(Throughput::Bytes(total as u64));
        group.bench_function(name, |b| b.iter(|| assert_eq!(decode_in_reads(black_box(total)), total)));
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let value = [b'v'; 64];
    let get = cmd("GET").arg("user:1000:profile");
    group.throughput(Throughput::Bytes(get.encoded_len() as u64));
    group.bench_function("cmd_get", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            cmd("GET").arg(black_box("user:1000:profile")).write_to(&mut out);
            out.len()
        })
    });
    let set = cmd("SET").arg("user:1000:profile").arg(&value[..]);
    group.throughput(Throughput::Bytes(set.encoded_len() as u64));
    group.bench_function("cmd_set_64b", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            cmd("SET").arg(black_box("user:1000:profile")).arg(black_box(&value[..])).write_to(&mut out);
            out.len()
        })
    });
    let key16 = "user:0000001000p";
    let set = cmd("SET").arg(key16).arg(&value[..]);
    let mut by_hand = b"*3\r\n$3\r\nSET\r\n$16\r\nuser:0000001000p\r\n$64\r\n".to_vec();
    by_hand.extend_from_slice(&value);
    by_hand.extend_from_slice(b"\r\n");
    let mut encoded = BytesMut::new();
    set.write_to(&mut encoded);
    assert_eq!(encoded[..], by_hand[..], "the two SET benches write the same bytes");
    group.throughput(Throughput::Bytes(set.encoded_len() as u64));
    group.bench_function("cmd_set_k16_v64", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            cmd("SET").arg(black_box(key16)).arg(black_box(&value[..])).write_to(&mut out);
            out.len()
        })
    });
    group.bench_function("by_hand_set_k16_v64", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            let (k, v) = (black_box(key16.as_bytes()), black_box(&value[..]));
            out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$16\r\n");
            out.extend_from_slice(k);
            out.extend_from_slice(b"\r\n$64\r\n");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
            out.len()
        })
    });
    let array = Frame::Array(vec![Frame::BulkString(Bytes::from(value.to_vec())); 100]);
    group.throughput(Throughput::Bytes(wire(&array).len() as u64));
    group.bench_function("frame_array_100x64b", |b| {
        let mut out = BytesMut::with_capacity(16 * 1024);
        b.iter(|| {
            out.clear();
            encode_frame(black_box(&array), &mut out);
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, decode_replies, decode_runs, decode_big_bulks, encode);
criterion_main!(benches);
