//! The cluster slot hash, CRC16/XMODEM, on the same keys (16 B and 64 B, no
//! hash tag): the `crc16` crate that `route::slot` uses, a hand-written
//! table-driven version (what redwire used before, kept here as the
//! reference the choice was measured against), and `key_slot` itself (the
//! crate plus the hash-tag scan).
//!
//! Run: `cargo bench -p redwire --bench slot`. Numbers in BENCHMARKS.md, "Slot hash".

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// One table entry per byte value, built at compile time.
const TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = (byte as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
};

fn hand_written(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| (crc << 8) ^ TABLE[usize::from((crc >> 8) as u8 ^ b)])
}

fn slot_hash(c: &mut Criterion) {
    assert_eq!(hand_written(b"123456789"), crc16::State::<crc16::XMODEM>::calculate(b"123456789"));
    let mut group = c.benchmark_group("slot_hash");
    for len in [16usize, 64] {
        let key: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("crc16_crate", len), &key, |b, key| {
            b.iter(|| crc16::State::<crc16::XMODEM>::calculate(black_box(key)))
        });
        group.bench_with_input(BenchmarkId::new("hand_written", len), &key, |b, key| {
            b.iter(|| hand_written(black_box(key)))
        });
        group.bench_with_input(BenchmarkId::new("key_slot", len), &key, |b, key| {
            b.iter(|| redwire::key_slot(black_box(key)))
        });
    }
    group.finish();
}

criterion_group!(benches, slot_hash);
criterion_main!(benches);
