//! The codec benches' operations in a plain loop, for instruction counts
//! under callgrind (stable where criterion's timings are not).
//!
//! `codec_loop OP N` runs `N` times one of: `encode_set` (`cmd("SET")` with a
//! 16-byte key and a 64-byte value, then `write_to`), `decode_get` (one
//! 71-byte GET reply from a fresh buffer), `decode_get_run` and
//! `decode_small_run` (100 replies decoded in turn from one buffer, as in
//! `benches/resp.rs`). Each operation is the function `op_<name>`:
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='codec_loop::op_*' \
//!     target/release/examples/codec_loop encode_set 100000
//! ```
//!
//! and divide the count by `N` (by `100 N` for the runs).

use std::hint::black_box;

use bytes::BytesMut;
use redwire::resp::Decoder;
use redwire::{cmd, Frame};

const KEY16: &str = "user:0000001000p";

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "encode_set".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let value = [b'v'; 64];
    let mut get = b"$64\r\n".to_vec();
    get.extend_from_slice(&value);
    get.extend_from_slice(b"\r\n");
    let small = [&b"+OK\r\n"[..], b"$5\r\nhello\r\n", b":42\r\n", b"$-1\r\n"].concat().repeat(25);
    let mut out = BytesMut::with_capacity(4096);
    let mut decoder = Decoder::new();
    let mut total = 0usize;
    for _ in 0..n {
        total += match op.as_str() {
            "encode_set" => op_encode_set(&mut out, &value),
            "decode_get" => op_decode(&mut decoder, BytesMut::from(&get[..])),
            "decode_get_run" => op_decode(&mut decoder, BytesMut::from(&get.repeat(100)[..])),
            "decode_small_run" => op_decode(&mut decoder, BytesMut::from(&small[..])),
            other => {
                eprintln!("unknown op {other}");
                std::process::exit(2);
            }
        };
    }
    println!("{op} x {n}: {total}");
}

#[inline(never)]
fn op_encode_set(out: &mut BytesMut, value: &[u8]) -> usize {
    out.clear();
    cmd("SET").arg(black_box(KEY16)).arg(black_box(value)).write_to(out);
    out.len()
}

/// Decodes every frame in `buf`; dropping the frames is counted too.
#[inline(never)]
fn op_decode(decoder: &mut Decoder, mut buf: BytesMut) -> usize {
    let mut n = 0;
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        n += usize::from(!matches!(black_box(frame), Frame::Null));
    }
    n
}
