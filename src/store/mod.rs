//! The store API over the four variants (Default, Redis, RedisCluster, Sharded).
//!
//! Lives here: `embedded` (the `Default` variant, an in-process store). The
//! server-backed variants land with issue 6.

pub mod embedded;

pub use embedded::{Embedded, EmbeddedOptions, LockToken};
