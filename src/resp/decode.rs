//! The resumable, zero-copy RESP2/RESP3 decoder with limits.
//!
//! Placeholder: the real decoder lands with issue 3.

use bytes::BytesMut;

use super::Frame;
use crate::error::ProtocolError;

/// Limits against hostile replies. Defaults match the server's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest bulk string, blob error, verbatim string or simple line (bytes).
    pub max_bulk_len: u64,
    /// Most elements in one aggregate (pairs count twice for maps).
    pub max_elements: u64,
    /// Deepest nesting of aggregates.
    pub max_depth: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_bulk_len: 512 * 1024 * 1024, max_elements: i32::MAX as u64, max_depth: 128 }
    }
}

/// Decodes frames from a growing buffer; honours the tokio-util `Decoder` contract.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: DecodeLimits,
}

impl Decoder {
    /// A decoder with default limits.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: DecodeLimits) -> Self {
        Decoder { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &DecodeLimits {
        &self.limits
    }

    /// `Ok(None)`: need more bytes. `Ok(Some)`: exactly one frame removed from `buf`.
    /// `Err`: the stream is corrupt; close the connection.
    ///
    /// # Errors
    /// A [`ProtocolError`] for malformed or over-limit input.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let _ = buf;
        Ok(None)
    }
}
