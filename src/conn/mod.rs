//! One multiplexed, auto-pipelined connection shared by many tasks.
//!
//! Lives here: options (`options`). Transport, handshake and driver land with issue 4.

mod options;

pub use options::{Address, ConnectOptions, Protocol, TlsOptions};
