//! Errors for every layer, classified once.
//!
//! Lives here: [`ProtocolError`] (hostile or malformed bytes from the peer; the
//! connection must close), [`ServerError`] with its [`ServerErrorKind`] (an error
//! *reply* from the server, parsed once at decode time, MOVED/ASK carrying their
//! slot and node), and the crate-wide [`Error`] with predicates such as
//! [`Error::is_timeout`]. What to *do* about an error (retry, redirect, give up)
//! is decided elsewhere (`route::redirect`), as a pure function of these types.
//!
//! The server's error replies live in `server` ([`ServerError`],
//! [`ServerErrorKind`], [`NodeAddr`]), re-exported here.
//!
//! This module is pure: no async runtime, no sockets, no clock.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Malformed or hostile bytes from the peer. The stream is corrupt after any of
/// these: the connection that produced it must be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The first byte of a frame is not a RESP2/RESP3 type byte.
    UnknownType(u8),
    /// A length or count that is not a valid integer, or negative other than -1.
    BadLength,
    /// An integer reply (`:`) that is not a valid signed 64-bit integer.
    BadInteger,
    /// A double (`,`) that is not a valid floating point number.
    BadDouble,
    /// A boolean (`#`) other than `t` or `f`.
    BadBoolean,
    /// A big number (`(`) that is not an optional sign followed by digits.
    BadBigNumber,
    /// A verbatim string without its `xxx:` format prefix.
    BadVerbatim,
    /// A line or payload not terminated by CRLF where one is required.
    MissingCrlf,
    /// A stream chunk (`;`) or end marker (`.`) where none may appear.
    UnexpectedStreamPart,
    /// Text that must be UTF-8 (an address in a MOVED/ASK error, for one) is not.
    InvalidUtf8,
    /// A MOVED or ASK error whose slot or address cannot be parsed.
    BadRedirect,
    /// A bulk string, blob error, verbatim or streamed string (or one of its
    /// chunks) longer than the configured `max_bulk_len`.
    TooLarge {
        /// The length the peer declared (the total so far, for a streamed string).
        len: u64,
        /// The configured limit.
        limit: u64,
    },
    /// An aggregate with more elements than the configured limit.
    TooManyElements {
        /// The count the peer declared.
        count: u64,
        /// The configured limit.
        limit: u64,
    },
    /// Aggregates nested deeper than the configured limit.
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// A line of text (simple string, error, number, ...) with no CR in its
    /// first `limit + 1` bytes.
    LineTooLong {
        /// The configured `max_line_len`.
        limit: u64,
    },
    /// One reply that takes, or has announced it will take, more bytes on the
    /// wire than the configured budget.
    ReplyTooLarge {
        /// The configured `max_reply_bytes`.
        limit: u64,
    },
    /// One reply made of more values (at any depth) than the configured budget.
    ReplyTooManyElements {
        /// The configured `max_reply_elements`.
        limit: u64,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnknownType(b) => write!(f, "unknown RESP type byte 0x{b:02x}"),
            ProtocolError::BadLength => f.write_str("invalid length or element count"),
            ProtocolError::BadInteger => f.write_str("invalid integer"),
            ProtocolError::BadDouble => f.write_str("invalid double"),
            ProtocolError::BadBoolean => f.write_str("invalid boolean"),
            ProtocolError::BadBigNumber => f.write_str("invalid big number"),
            ProtocolError::BadVerbatim => f.write_str("invalid verbatim string"),
            ProtocolError::MissingCrlf => f.write_str("missing CRLF terminator"),
            ProtocolError::UnexpectedStreamPart => f.write_str("unexpected streamed chunk or end marker"),
            ProtocolError::InvalidUtf8 => f.write_str("invalid UTF-8 where text is required"),
            ProtocolError::BadRedirect => f.write_str("malformed MOVED/ASK redirect"),
            ProtocolError::TooLarge { len, limit } => {
                write!(f, "payload of {len} bytes exceeds the limit of {limit}")
            }
            ProtocolError::TooManyElements { count, limit } => {
                write!(f, "aggregate of {count} elements exceeds the limit of {limit}")
            }
            ProtocolError::TooDeep { limit } => write!(f, "nesting deeper than {limit} levels"),
            ProtocolError::LineTooLong { limit } => write!(f, "line longer than {limit} bytes"),
            ProtocolError::ReplyTooLarge { limit } => write!(f, "reply larger than {limit} bytes"),
            ProtocolError::ReplyTooManyElements { limit } => {
                write!(f, "reply of more than {limit} values")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

mod server;

pub use server::{NodeAddr, ServerError, ServerErrorKind};

/// Which pool timeout expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolTimeout {
    /// Creating a new connection took longer than `poolTimeoutCreate`.
    Create,
    /// No connection became free within `poolTimeoutWait`.
    Wait,
    /// Checking an idle connection took longer than `poolTimeoutRecycle`.
    Recycle,
}

/// The crate-wide error.
///
/// Match on it, or use the predicates (`is_timeout`, `is_outcome_unknown`, ...):
/// every failure says what happened and whether a command may have run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The server replied with an error.
    Server(ServerError),
    /// The peer sent malformed bytes; the connection was closed.
    Protocol(ProtocolError),
    /// An IO error (connect, read, write). Shared so every waiting caller gets it.
    Io(Arc<io::Error>),
    /// Connecting (TCP + TLS + handshake) took longer than the connect timeout.
    ConnectTimeout,
    /// No reply within the response timeout. The command was sent: its outcome is unknown.
    Timeout,
    /// The command was written but the connection failed before its reply:
    /// it may or may not have run. Retried automatically only for commands
    /// marked idempotent or read-only.
    OutcomeUnknown {
        /// What broke the connection.
        cause: Arc<Error>,
    },
    /// The command was never written to any socket; it did not run.
    NotSent {
        /// Why it could not be sent.
        cause: Arc<Error>,
    },
    /// Authentication was rejected (wrong user/password, or NOAUTH).
    Auth(ServerError),
    /// A TLS configuration or handshake problem.
    Tls(String),
    /// A URL that cannot be used; the message never contains the password.
    Url(String),
    /// Invalid configuration; the message names the JSON path.
    Config(String),
    /// A pool timeout expired.
    Pool(PoolTimeout),
    /// A reply of another shape than the caller asked for.
    Type {
        /// What the conversion expected.
        expected: &'static str,
        /// A short description of what arrived.
        got: String,
    },
    /// The keys of a command that must run on one node map to different slots.
    CrossSlot,
    /// Retries were exhausted; carries the last error.
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The last error seen.
        last: Arc<Error>,
    },
    /// The client, connection or subscriber was closed by its owner.
    Closed,
    /// A pipeline's connection failed part-way. Its commands, in order, are:
    /// first those answered (`replies`), then `unknown` commands that were
    /// handed to the socket without a reply (each may have run), then
    /// `not_sent` commands no byte of which left the process (they did not
    /// run and are safe to send again).
    PipelineIncomplete {
        /// Replies of the pipeline's first commands, in order.
        replies: Vec<crate::resp::Frame>,
        /// Commands after those, sent without a reply: outcome unknown.
        unknown: u32,
        /// The last commands, never sent.
        not_sent: u32,
        /// What broke the connection.
        cause: Arc<Error>,
    },
    /// Anything else, with a message meant for humans (no secrets).
    Other(String),
    /// A command that changes the state of the connection it runs on
    /// (SUBSCRIBE, MULTI, SELECT, CLIENT REPLY ...) was refused on a shared
    /// connection, where other callers' replies would be misrouted. Nothing was sent.
    NotOnSharedConnection {
        /// The command's name (and subcommand, for CLIENT and SCRIPT), upper-cased.
        command: Box<str>,
        /// The API to use instead.
        use_instead: UseInstead,
    },
    /// The cluster router already holds connections to `limit` nodes
    /// (`ClusterOptions::max_nodes`) and refused to open one more. Nothing was sent.
    TooManyNodes {
        /// The configured limit.
        limit: usize,
    },
    /// `EXEC` replied null: a key the transaction `WATCH`ed changed, so the
    /// server ran none of its commands, on each of `attempts` tries. Safe to
    /// try the whole transaction again.
    TransactionAborted {
        /// How many times the transaction was tried.
        attempts: u32,
    },
    /// `EXEC` replied `EXECABORT`: the server refused a command while
    /// queueing it (a syntax error, a `MOVED` for a slot that left the node)
    /// and discarded the transaction; none of its commands ran.
    TransactionDiscarded {
        /// `EXEC`'s error.
        exec: ServerError,
        /// The first queued command's error, which caused it.
        queued: ServerError,
    },
    /// No shard serves this slot in the cluster router's current map (the
    /// cluster is being resharded or has lost a shard). Nothing was sent.
    SlotNotServed {
        /// The slot.
        slot: u16,
    },
    /// The cluster router knows no primary to send a keyless command to
    /// (every shard lost). Nothing was sent.
    NoPrimary,
    /// The node asked for the topology serves no slot: not a cluster node,
    /// or one that has not joined its cluster yet.
    NotACluster {
        /// The node, as its URL without credentials.
        node: Box<str>,
    },
    /// A reply that fits no request: one no command was waiting for, a
    /// pipeline reply of the wrong length, or replies of several nodes that
    /// cannot be merged (different values, arrays of different lengths, a
    /// sum that overflows). The connection it came on is not to be trusted.
    UnexpectedReply {
        /// What was wrong, for humans.
        what: &'static str,
    },
    /// An argument the command cannot take, refused before anything was
    /// sent: a zero TTL, a lock of zero seconds, an empty subscription list,
    /// a pipeline too long to count.
    InvalidArgument(Box<str>),
}

/// Where a command refused with [`Error::NotOnSharedConnection`] belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UseInstead {
    /// Subscriptions: the pub/sub `Subscriber`.
    Subscriber,
    /// `MULTI`/`EXEC`/`DISCARD`: `Client::transaction` (one atomic pipeline),
    /// or an exclusive connection for `WATCH`-guarded transactions.
    Transaction,
    /// A connection of its own: `Client::exclusive` (a pooled connection).
    Exclusive,
    /// Connection settings (protocol, credentials, database, `READONLY`):
    /// `ConnectOptions`, applied on every (re)connect.
    ConnectOptions,
}

impl fmt::Display for UseInstead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UseInstead::Subscriber => "use the pub/sub Subscriber",
            UseInstead::Transaction => {
                "use Client::transaction, or WATCH/MULTI/EXEC on a connection from Client::exclusive"
            }
            UseInstead::Exclusive => "send it alone, or on a connection of its own from Client::exclusive",
            UseInstead::ConnectOptions => "set it in ConnectOptions (applied on every connect)",
        })
    }
}

impl Error {
    /// True for response and connect timeouts.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout | Error::ConnectTimeout | Error::Pool(_))
    }

    /// True when a command was sent but its outcome is unknown (also when
    /// retries gave up on such an error, and for a pipeline some of whose
    /// commands may have run unanswered).
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::OutcomeUnknown { .. } | Error::Timeout => true,
            Error::PipelineIncomplete { unknown, .. } => *unknown > 0,
            Error::RetriesExhausted { last, .. } => last.is_outcome_unknown(),
            _ => false,
        }
    }

    /// True for a transient failure after which the same command may succeed
    /// if sent again, and sending it again is safe because it did not run:
    /// [`Error::NotSent`] for a transient cause (the network, a timeout, a
    /// node loading or failing over; not [`Error::Closed`] or a rejected
    /// password), a connect timeout, a pool timeout, the server's
    /// `TRYAGAIN`, `LOADING`, `CLUSTERDOWN` and `MASTERDOWN`, a slot or
    /// primary the cluster router cannot find now, and a `WATCH` transaction
    /// aborted by a concurrent write. Never for [`Error::OutcomeUnknown`] or
    /// [`Error::Timeout`] (the command may have run: see
    /// [`Error::is_outcome_unknown`]), nor once retries are exhausted.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::NotSent { cause } => cause.is_transient_cause(),
            Error::ConnectTimeout
            | Error::Pool(_)
            | Error::SlotNotServed { .. }
            | Error::NoPrimary
            | Error::TransactionAborted { .. } => true,
            Error::Server(e) => e.is_transient(),
            _ => false,
        }
    }

    /// Why a command was not sent, when trying again could help: the node or
    /// the network, not the client's own configuration or state.
    fn is_transient_cause(&self) -> bool {
        match self {
            Error::Io(_) | Error::ConnectTimeout | Error::Timeout | Error::Protocol(_) | Error::Pool(_) => {
                true
            }
            Error::Server(e) => e.is_transient(),
            Error::NotSent { cause } | Error::OutcomeUnknown { cause } => cause.is_transient_cause(),
            _ => false,
        }
    }

    /// True when the command certainly did not run (never written).
    pub fn is_not_sent(&self) -> bool {
        matches!(self, Error::NotSent { .. })
    }

    /// True for errors of the connection itself (IO, protocol, timeouts),
    /// after which the connection is replaced.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            Error::Io(_)
                | Error::Protocol(_)
                | Error::ConnectTimeout
                | Error::Timeout
                | Error::OutcomeUnknown { .. }
                | Error::NotSent { .. }
                | Error::PipelineIncomplete { .. }
        )
    }

    /// The server error, if this is one.
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) | Error::Auth(e) => Some(e),
            _ => None,
        }
    }

    /// A short stable name for counting errors by kind (bench, logs).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::Server(e) => match e.kind() {
                ServerErrorKind::Generic => "server_err",
                ServerErrorKind::WrongType => "wrongtype",
                ServerErrorKind::Moved { .. } => "moved",
                ServerErrorKind::Ask { .. } => "ask",
                ServerErrorKind::TryAgain => "tryagain",
                ServerErrorKind::ClusterDown => "clusterdown",
                ServerErrorKind::Loading => "loading",
                ServerErrorKind::MasterDown => "masterdown",
                ServerErrorKind::ReadOnly => "readonly",
                ServerErrorKind::CrossSlot => "crossslot",
                ServerErrorKind::NoAuth => "noauth",
                ServerErrorKind::WrongPass => "wrongpass",
                ServerErrorKind::NoPerm => "noperm",
                ServerErrorKind::NoScript => "noscript",
                ServerErrorKind::Busy => "busy",
                ServerErrorKind::Oom => "oom",
                ServerErrorKind::ExecAbort => "execabort",
                ServerErrorKind::NoProto => "noproto",
                ServerErrorKind::Other => "server_other",
            },
            Error::Protocol(_) => "protocol",
            Error::Io(_) => "io",
            Error::ConnectTimeout => "connect_timeout",
            Error::Timeout => "timeout",
            Error::OutcomeUnknown { .. } => "outcome_unknown",
            Error::NotSent { .. } => "not_sent",
            Error::Auth(_) => "auth",
            Error::Tls(_) => "tls",
            Error::Url(_) => "url",
            Error::Config(_) => "config",
            Error::Pool(_) => "pool_timeout",
            Error::Type { .. } => "type",
            Error::CrossSlot => "crossslot",
            Error::RetriesExhausted { .. } => "retries_exhausted",
            Error::Closed => "closed",
            Error::PipelineIncomplete { .. } => "pipeline_incomplete",
            Error::Other(_) => "other",
            Error::NotOnSharedConnection { .. } => "not_on_shared_connection",
            Error::TooManyNodes { .. } => "too_many_nodes",
            Error::TransactionAborted { .. } => "transaction_aborted",
            Error::TransactionDiscarded { .. } => "transaction_discarded",
            Error::SlotNotServed { .. } => "slot_not_served",
            Error::NoPrimary => "no_primary",
            Error::NotACluster { .. } => "not_a_cluster",
            Error::UnexpectedReply { .. } => "unexpected_reply",
            Error::InvalidArgument(_) => "invalid_argument",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server(e) => write!(f, "server error: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Io(e) => write!(f, "io error: {e}"),
            Error::ConnectTimeout => f.write_str("connect timed out"),
            Error::Timeout => f.write_str("no reply within the response timeout (outcome unknown)"),
            Error::OutcomeUnknown { cause } => {
                write!(f, "connection lost after the command was sent, outcome unknown: {cause}")
            }
            Error::NotSent { cause } => write!(f, "command not sent: {cause}"),
            Error::Auth(e) => write!(f, "authentication failed: {e}"),
            Error::Tls(m) => write!(f, "tls: {m}"),
            Error::Url(m) => write!(f, "invalid url: {m}"),
            Error::Config(m) => write!(f, "invalid config: {m}"),
            Error::Pool(PoolTimeout::Create) => f.write_str("pool: creating a connection timed out"),
            Error::Pool(PoolTimeout::Wait) => f.write_str("pool: waiting for a free connection timed out"),
            Error::Pool(PoolTimeout::Recycle) => f.write_str("pool: recycling a connection timed out"),
            Error::Type { expected, got } => {
                write!(f, "unexpected reply: expected {expected}, got {got}")
            }
            Error::CrossSlot => f.write_str("keys of this command hash to different slots"),
            Error::RetriesExhausted { attempts, last } => {
                write!(f, "gave up after {attempts} attempts: {last}")
            }
            Error::Closed => f.write_str("closed"),
            Error::PipelineIncomplete { replies, unknown, not_sent, cause } => write!(
                f,
                "pipeline broken part-way: {} answered, {unknown} sent without reply (outcome unknown), \
                 {not_sent} not sent: {cause}",
                replies.len()
            ),
            Error::Other(m) => f.write_str(m),
            Error::NotOnSharedConnection { command, use_instead } => write!(
                f,
                "{command} changes the state of its connection and is refused on a shared one: {use_instead}"
            ),
            Error::TooManyNodes { limit } => {
                write!(
                    f,
                    "connections to {limit} cluster nodes already open (max_nodes): not opening another"
                )
            }
            Error::TransactionAborted { attempts: 1 } => {
                f.write_str("transaction aborted: a watched key changed")
            }
            Error::TransactionAborted { attempts } => write!(
                f,
                "transaction aborted: a watched key changed on each of {attempts} attempts (nothing ran)"
            ),
            Error::TransactionDiscarded { exec, queued } => {
                write!(f, "{exec} (queued command failed: {queued})")
            }
            Error::SlotNotServed { slot } => write!(f, "slot {slot} is not served"),
            Error::NoPrimary => f.write_str("no known primary"),
            Error::NotACluster { node } => write!(f, "{node} serves no slots (not a cluster?)"),
            Error::UnexpectedReply { what } => write!(f, "unexpected reply: {what}"),
            Error::InvalidArgument(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {
    /// The error that caused this one: the cause of [`Error::NotSent`],
    /// [`Error::OutcomeUnknown`] and [`Error::PipelineIncomplete`], the last
    /// error of [`Error::RetriesExhausted`], the IO or protocol error, the
    /// server's error line. `None` for errors with no cause of their own.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::NotSent { cause }
            | Error::OutcomeUnknown { cause }
            | Error::PipelineIncomplete { cause, .. } => Some(cause.as_ref()),
            Error::RetriesExhausted { last, .. } => Some(last.as_ref()),
            Error::Io(e) => Some(e.as_ref()),
            Error::Protocol(e) => Some(e),
            Error::Server(e) | Error::Auth(e) => Some(e),
            Error::TransactionDiscarded { queued, .. } => Some(queued),
            _ => None,
        }
    }
}

/// A failed connect as the caller of a command sees it, the same on the
/// standalone client and the cluster router: a rejected password or
/// certificate as is (sending again will not help), anything else as
/// [`Error::NotSent`]. An IO error's message is prefixed with `node` (the
/// connection's URL without credentials) so the caller learns which server
/// could not be reached; its kind is kept.
pub(crate) fn connect_failure(e: Error, node: &str) -> Error {
    let cause = match e {
        e @ (Error::Auth(_) | Error::Tls(_) | Error::Closed) => return e,
        Error::Io(io) => Error::Io(Arc::new(io::Error::new(io.kind(), format!("{node}: {io}")))),
        e => e,
    };
    Error::NotSent { cause: Arc::new(cause) }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        Error::Server(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
