//! RESP2/RESP3 wire format, sans-IO: bytes in, [`Frame`]s out, and back.
//!
//! Lives here: the frame type (`frame`), the resumable zero-copy decoder
//! (`decode`) with its limits and budgets (`limits`) and its tokens and frame
//! building (`token`), the parsers for the text inside one line (`parse`),
//! and the encoder (`encode`). Not here: sockets, buffers' ownership, timeouts (see `conn`),
//! or what a reply means (see `cmd::reply`).
//!
//! Pure: no tokio, no sockets, no clock.

mod decode;
mod encode;
mod frame;
mod limits;
mod parse;
mod token;

pub use decode::Decoder;
pub use encode::{encode_frame, encoded_len_hint};
pub use frame::Frame;
pub use limits::DecodeLimits;
