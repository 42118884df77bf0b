//! How a client library enters the load: the [`Driver`] trait (GET and SET,
//! optionally MGET and INCR), and [`Failure`], a command's error as a short
//! kind plus the library's message.
//!
//! Not here: the loop that calls a driver (`run`), and any implementation:
//! those live with their client (the CLI, `bench/`, the cluster drills), so
//! this crate depends on no client library.

use std::borrow::Cow;
use std::future::Future;

use bytes::Bytes;

/// A failed command: a short kind for counting, and the library's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Stable, lower-case name of the kind (`timeout`, `io`, `clusterdown`, ...).
    pub kind: Cow<'static, str>,
    /// The library's own description (must not carry secrets).
    pub message: String,
}

impl Failure {
    /// A failure of kind `kind`.
    pub fn new(kind: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Failure {
        Failure { kind: kind.into(), message: message.into() }
    }

    /// A failure to set the run up (connect, prefill): the run does not start.
    pub fn setup(message: impl Into<String>) -> Failure {
        Failure::new("setup", message)
    }

    /// The driver does not implement this operation.
    pub fn unsupported(op: &str) -> Failure {
        Failure::new("unsupported", format!("{op} is not implemented by this driver"))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// One client, as the load sees it. Cloned once per task; clones may share
/// connections (that is what a multiplexed client does).
///
/// `mget` and `incr` have defaults that fail with `unsupported`: the load
/// only sends them when its [`crate::Mix`] gives them a weight.
pub trait Driver: Clone + Send + Sync + 'static {
    /// A `GET` reply's payload, in whatever type the library hands out (no copy).
    type Value: AsRef<[u8]> + Send;

    /// `GET key`.
    fn get(&mut self, key: &[u8]) -> impl Future<Output = Result<Option<Self::Value>, Failure>> + Send;

    /// `SET key value`.
    fn set(&mut self, key: &[u8], value: Bytes) -> impl Future<Output = Result<(), Failure>> + Send;

    /// `MGET key...`: one entry per key, in order.
    fn mget(
        &mut self,
        keys: &[&[u8]],
    ) -> impl Future<Output = Result<Vec<Option<Self::Value>>, Failure>> + Send {
        let _ = keys;
        async { Err(Failure::unsupported("MGET")) }
    }

    /// `INCR key`: the new value.
    fn incr(&mut self, key: &[u8]) -> impl Future<Output = Result<i64, Failure>> + Send {
        let _ = key;
        async { Err(Failure::unsupported("INCR")) }
    }
}
