//! The retry policy as one pure function: from a failed attempt to what to do next.
//!
//! Lives here: [`classify`], [`RetryAction`], [`RetryPolicy`] and
//! [`is_retry_safe`]. Not here: the sleeping, the sending of `ASKING`, or the
//! refresh of the slot map: the IO router does those, in a loop of
//! "route, send, classify, act".
//!
//! The rules, in order:
//!
//! 1. Out of attempts (`attempt >= max_retries`): [`RetryAction::Exhausted`]
//!    for an error that would have been retried, [`RetryAction::Return`]
//!    otherwise.
//! 2. `MOVED`: the slot lives elsewhere for good; update the map, resend at once.
//! 3. `ASK`: the slot is migrating; ask the target node once, map unchanged.
//! 4. `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `MASTERDOWN`: the cluster is
//!    busy with itself; wait and resend.
//! 5. `READONLY` (a write reached a node that was demoted), a command that
//!    was never written (connection refused, connect timeout, `NotSent`): the
//!    topology has probably changed; refresh the map, wait, resend.
//! 6. Written but no reply (connection lost, response timeout): resend only
//!    when the command is safe to run twice (read-only or marked idempotent),
//!    after a refresh, since the node may be gone.
//! 7. Anything else, including `BUSY` (a script is running: resending would
//!    only queue behind it) and every other server error: return it.
//!
//! Pure: no tokio, no sockets, no clock. Randomness (for jitter) is a parameter.

use std::io;
use std::time::Duration;

use crate::backoff::backoff;
use crate::error::{Error, NodeAddr, PoolTimeout, ServerErrorKind};

pub(crate) use crate::cmd::is_retry_safe;

/// How many times, and how patiently, a command is retried.
///
/// The configuration layer maps Stalwart's `maxRetries` (1 to 1024),
/// `minRetryWait` and `maxRetryWait` onto these fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying. Redirects count.
    pub max_retries: u32,
    /// The shortest wait, and the base of the exponential window.
    pub min_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    /// 16 retries, waits from 8 ms doubling up to 1024 ms.
    ///
    /// Redirects cost no wait, so 16 leaves room for a MOVED, an ASK and a
    /// TRYAGAIN or two during resharding. With equal jitter (see
    /// `backoff`) the waits add up to between about 5 s and 10 s
    /// (8 + 16 + ... + 1024 ms, then 1024 ms each, half of each random):
    /// long enough to ride out a primary's failover (node timeout plus
    /// election), short enough that a caller is not held for minutes.
    /// 8 ms is a few round trips, not a spin; 1 s matches Stalwart's default
    /// `maxRetryWait`. Stalwart's other defaults (3 retries from 500 ms) are
    /// sized for reconnecting, and would make every TRYAGAIN during a
    /// resharding cost half a second; the config layer applies them only
    /// when a user sets them.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 16,
            min_wait: Duration::from_millis(8),
            max_wait: Duration::from_millis(1024),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt`, with jitter from `random`
    /// (see `backoff`).
    pub fn wait(&self, attempt: u32, random: u64) -> Duration {
        backoff(attempt, self.min_wait, self.max_wait, random)
    }
}

/// What the IO router does after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAction {
    /// `MOVED`: point `slot` at `node` in the slot map
    /// (`SlotMap::apply_moved`), schedule a full refresh, and resend to
    /// `node` at once.
    Moved {
        /// The slot that moved.
        slot: u16,
        /// The node that owns it now.
        node: NodeAddr,
    },
    /// `ASK`: send `ASKING` then the command to `node`, once, on the same
    /// connection; the slot map is not changed.
    Ask {
        /// The node importing the slot.
        node: NodeAddr,
    },
    /// Wait this long, then resend along the current slot map.
    Backoff(Duration),
    /// Refresh the slot map, wait this long, then resend along the new map.
    RefreshAndRetry(Duration),
    /// Do not retry: hand the error to the caller as it is.
    Return,
    /// The error would be retried but the attempts are used up: hand the
    /// caller [`Error::RetriesExhausted`] carrying it.
    Exhausted,
}

/// Decides what to do after attempt number `attempt` (0 for the first
/// send) failed with `err`.
///
/// `retry_safe` says whether the command may run twice (see
/// [`is_retry_safe`]); `random` is any random `u64`, used for jitter.
pub fn classify(
    err: &Error,
    attempt: u32,
    policy: &RetryPolicy,
    retry_safe: bool,
    random: u64,
) -> RetryAction {
    let wait = || policy.wait(attempt, random);
    let action = match err {
        Error::Server(e) => match e.kind() {
            ServerErrorKind::Moved { slot, node } => RetryAction::Moved { slot: *slot, node: node.clone() },
            ServerErrorKind::Ask { node, .. } => RetryAction::Ask { node: node.clone() },
            ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::Loading
            | ServerErrorKind::MasterDown => RetryAction::Backoff(wait()),
            ServerErrorKind::ReadOnly => RetryAction::RefreshAndRetry(wait()),
            _ => RetryAction::Return,
        },
        Error::NotSent { cause } if is_transient(cause) => RetryAction::RefreshAndRetry(wait()),
        Error::ConnectTimeout => RetryAction::RefreshAndRetry(wait()),
        Error::Io(e) if never_connected(e.kind()) => RetryAction::RefreshAndRetry(wait()),
        Error::OutcomeUnknown { .. } | Error::Timeout | Error::Io(_) | Error::Protocol(_) if retry_safe => {
            RetryAction::RefreshAndRetry(wait())
        }
        _ => RetryAction::Return,
    };
    if attempt >= policy.max_retries && action != RetryAction::Return {
        return RetryAction::Exhausted;
    }
    action
}

/// IO errors that can only happen before anything was written.
fn never_connected(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionRefused | io::ErrorKind::NotConnected | io::ErrorKind::AddrNotAvailable
    )
}

/// Why a command was not sent, when trying again could help: the node or the
/// network, not the client's own configuration or state.
fn is_transient(cause: &Error) -> bool {
    match cause {
        Error::Io(_) | Error::ConnectTimeout | Error::Timeout | Error::Protocol(_) => true,
        Error::Pool(PoolTimeout::Create | PoolTimeout::Recycle) => true,
        Error::Server(e) => matches!(
            e.kind(),
            ServerErrorKind::Loading | ServerErrorKind::TryAgain | ServerErrorKind::ClusterDown
        ),
        Error::NotSent { cause } | Error::OutcomeUnknown { cause } => is_transient(cause),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cmd::cmd;
    use crate::cmd::command_info;
    use crate::error::{ProtocolError, ServerError};

    fn server(line: &str) -> Error {
        Error::Server(ServerError::from_line(line).unwrap())
    }

    fn io(kind: io::ErrorKind) -> Error {
        Error::Io(Arc::new(io::Error::new(kind, "test")))
    }

    const P: RetryPolicy = RetryPolicy {
        max_retries: 3,
        min_wait: Duration::from_millis(10),
        max_wait: Duration::from_millis(100),
    };

    fn act(err: &Error) -> RetryAction {
        classify(err, 0, &P, false, 0)
    }

    #[test]
    fn redirects() {
        assert_eq!(
            act(&server("MOVED 3999 127.0.0.1:6381")),
            RetryAction::Moved { slot: 3999, node: NodeAddr::new("127.0.0.1", 6381) }
        );
        assert_eq!(
            act(&server("ASK 3999 10.0.0.2:7000")),
            RetryAction::Ask { node: NodeAddr::new("10.0.0.2", 7000) }
        );
    }

    #[test]
    fn transient_cluster_states_back_off() {
        for line in [
            "TRYAGAIN Multiple keys request during rehashing",
            "CLUSTERDOWN The cluster is down",
            "LOADING",
            "MASTERDOWN Link down",
        ] {
            assert_eq!(act(&server(line)), RetryAction::Backoff(Duration::from_millis(10)), "{line}");
        }
        // The wait grows with the attempt (largest random value: the ceiling).
        assert_eq!(
            classify(&server("TRYAGAIN"), 2, &P, false, u64::MAX),
            RetryAction::Backoff(Duration::from_millis(40))
        );
    }

    #[test]
    fn topology_changes_refresh() {
        let wait = Duration::from_millis(10);
        assert_eq!(
            act(&server("READONLY You can't write against a read only replica.")),
            RetryAction::RefreshAndRetry(wait)
        );
        let refused = Error::NotSent { cause: Arc::new(io(io::ErrorKind::ConnectionRefused)) };
        assert_eq!(act(&refused), RetryAction::RefreshAndRetry(wait));
        assert_eq!(act(&io(io::ErrorKind::ConnectionRefused)), RetryAction::RefreshAndRetry(wait));
        assert_eq!(act(&Error::ConnectTimeout), RetryAction::RefreshAndRetry(wait));
        let pool_create = Error::NotSent { cause: Arc::new(Error::Pool(PoolTimeout::Create)) };
        assert_eq!(act(&pool_create), RetryAction::RefreshAndRetry(wait));
    }

    #[test]
    fn outcome_unknown_needs_a_safe_command() {
        let lost = Error::OutcomeUnknown { cause: Arc::new(io(io::ErrorKind::ConnectionReset)) };
        let wait = Duration::from_millis(10);
        for err in [
            lost,
            Error::Timeout,
            io(io::ErrorKind::ConnectionReset),
            Error::Protocol(ProtocolError::BadLength),
        ] {
            assert_eq!(classify(&err, 0, &P, false, 0), RetryAction::Return, "{err:?}");
            assert_eq!(classify(&err, 0, &P, true, 0), RetryAction::RefreshAndRetry(wait), "{err:?}");
        }
    }

    #[test]
    fn final_errors_return() {
        for line in [
            "BUSY script running",
            "ERR syntax",
            "WRONGTYPE x",
            "NOSCRIPT",
            "CROSSSLOT x",
            "OOM x",
            "NOPERM x",
        ] {
            assert_eq!(classify(&server(line), 0, &P, true, 0), RetryAction::Return, "{line}");
        }
        let not_sent_closed = Error::NotSent { cause: Arc::new(Error::Closed) };
        for err in [
            Error::CrossSlot,
            Error::Closed,
            not_sent_closed,
            Error::Pool(PoolTimeout::Wait),
            Error::Auth(ServerError::from_line("WRONGPASS x").unwrap()),
            Error::Type { expected: "integer", got: "map".into() },
        ] {
            assert_eq!(classify(&err, 0, &P, true, 0), RetryAction::Return, "{err:?}");
        }
    }

    #[test]
    fn attempts_run_out() {
        let moved = server("MOVED 1 a:1");
        assert!(matches!(classify(&moved, 2, &P, false, 0), RetryAction::Moved { .. }));
        assert_eq!(classify(&moved, 3, &P, false, 0), RetryAction::Exhausted);
        assert_eq!(classify(&server("TRYAGAIN"), 3, &P, false, 0), RetryAction::Exhausted);
        assert_eq!(classify(&server("TRYAGAIN"), u32::MAX, &P, false, 0), RetryAction::Exhausted);
        // A final error stays final, whatever the attempt.
        assert_eq!(classify(&server("ERR x"), 3, &P, false, 0), RetryAction::Return);
        let never = RetryPolicy { max_retries: 0, ..P };
        assert_eq!(classify(&server("LOADING"), 0, &never, false, 0), RetryAction::Exhausted);
    }

    #[test]
    fn retry_safety() {
        let get = cmd("GET").arg("k");
        assert!(is_retry_safe(&get, &command_info(&get)));
        let incr = cmd("INCR").arg("k");
        assert!(!is_retry_safe(&incr, &command_info(&incr)));
        let set = cmd("SET").arg("k").arg("v").idempotent();
        assert!(is_retry_safe(&set, &command_info(&set)));
    }

    #[test]
    fn default_policy() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_retries, 16);
        assert_eq!(p.wait(0, u64::MAX), Duration::from_millis(8));
        assert!(p.wait(20, u64::MAX) <= Duration::from_millis(1024));
    }
}
