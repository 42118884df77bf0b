//! Arbitrary bytes as a coordination message from another node: decoding
//! returns a batch or a typed error, never panics; a decoded batch encodes
//! to a message that decodes to the same sender and events (no unknown kinds
//! left, since only known ones are re-encoded), and that encoding is stable.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use redwire::__unstable::coord::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let message = Bytes::copy_from_slice(data);
    let Ok(batch) = decode(&message) else { return };
    let again = encode(batch.sender, &batch.events);
    let back = decode(&again).unwrap_or_else(|e| panic!("re-encoded {batch:?} does not decode: {e}"));
    assert_eq!(back.sender, batch.sender);
    assert_eq!(back.events, batch.events, "events changed through encode and decode");
    assert_eq!(back.unknown, 0, "re-encoding produced unknown kinds");
    assert_eq!(encode(back.sender, &back.events), again, "encoding is not stable");
});
