//! Fuzz target: decode arbitrary bytes until an error or "need more"; every
//! decoded frame must encode to bytes that decode back to the same frame,
//! and encode again to the very same bytes.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use redwire::resp::{encode_frame, Decoder};

#[path = "frame_eq.rs"]
mod frame_eq;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        let mut wire = BytesMut::new();
        encode_frame(&frame, &mut wire);
        let first = wire.clone();
        let again = Decoder::new().decode(&mut wire);
        let Ok(Some(again)) = again else { panic!("re-encoded {frame:?} does not decode: {again:?}") };
        assert!(wire.is_empty(), "re-encoded {frame:?} left {wire:?}");
        assert!(frame_eq::same(&frame, &again), "{frame:?} came back as {again:?}");
        let mut second = BytesMut::new();
        encode_frame(&again, &mut second);
        assert_eq!(first, second, "encoding is not stable for {frame:?}");
    }
});
