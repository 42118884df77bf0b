//! Arbitrary bytes as a Stalwart 0.16 coordination message (`stwt.agora`):
//! decoding returns events or a typed error, never panics; decoded events
//! re-encode to messages that decode to the same events from the same sender.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use redwire::__unstable::coord::{decode_stalwart, encode_stalwart};

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = decode_stalwart(&Bytes::copy_from_slice(data)) else { return };
    let messages = match encode_stalwart(batch.sender, &batch.events) {
        Ok(messages) => messages,
        Err(e) => panic!("decoded events do not re-encode: {e}"),
    };
    let mut again = Vec::new();
    for message in &messages {
        match decode_stalwart(message) {
            Ok(b) => {
                assert_eq!(b.sender, batch.sender);
                again.extend(b.events);
            }
            Err(e) => panic!("a re-encoded message does not decode: {e}"),
        }
    }
    assert_eq!(again, batch.events);
});
