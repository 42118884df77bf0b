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

use std::io;
use std::sync::Arc;

/// Malformed or hostile bytes from the peer. The stream is corrupt after any of
/// these: the connection that produced it must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The first byte of a frame is not a RESP2/RESP3 type byte.
    #[error("unknown RESP type byte 0x{0:02x}")]
    UnknownType(u8),
    /// A length or count that is not a valid integer, or negative other than -1.
    #[error("invalid length or element count")]
    BadLength,
    /// An integer reply (`:`) that is not a valid signed 64-bit integer.
    #[error("invalid integer")]
    BadInteger,
    /// A double (`,`) that is not a valid floating point number.
    #[error("invalid double")]
    BadDouble,
    /// A boolean (`#`) other than `t` or `f`.
    #[error("invalid boolean")]
    BadBoolean,
    /// A big number (`(`) that is not an optional sign followed by digits.
    #[error("invalid big number")]
    BadBigNumber,
    /// A verbatim string without its `xxx:` format prefix.
    #[error("invalid verbatim string")]
    BadVerbatim,
    /// A line or payload not terminated by CRLF where one is required.
    #[error("missing CRLF terminator")]
    MissingCrlf,
    /// A stream chunk (`;`) or end marker (`.`) where none may appear.
    #[error("unexpected streamed chunk or end marker")]
    UnexpectedStreamPart,
    /// Text that must be UTF-8 (an address in a MOVED/ASK error, for one) is not.
    #[error("invalid UTF-8 where text is required")]
    InvalidUtf8,
    /// A MOVED or ASK error whose slot or address cannot be parsed.
    #[error("malformed MOVED/ASK redirect")]
    BadRedirect,
    /// A bulk string, blob error, verbatim or streamed string (or one of its
    /// chunks) longer than the configured `max_bulk_len`.
    #[error("payload of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The length the peer declared (the total so far, for a streamed string).
        len: u64,
        /// The configured limit.
        limit: u64,
    },
    /// An aggregate with more elements than the configured limit.
    #[error("aggregate of {count} elements exceeds the limit of {limit}")]
    TooManyElements {
        /// The count the peer declared.
        count: u64,
        /// The configured limit.
        limit: u64,
    },
    /// Aggregates nested deeper than the configured limit.
    #[error("nesting deeper than {limit} levels")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// A line of text (simple string, error, number, ...) with no CR in its
    /// first `limit + 1` bytes.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The configured `max_line_len`.
        limit: u64,
    },
    /// One reply that takes, or has announced it will take, more bytes on the
    /// wire than the configured budget.
    #[error("reply larger than {limit} bytes")]
    ReplyTooLarge {
        /// The configured `max_reply_bytes`.
        limit: u64,
    },
    /// One reply made of more values (at any depth) than the configured budget.
    #[error("reply of more than {limit} values")]
    ReplyTooManyElements {
        /// The configured `max_reply_elements`.
        limit: u64,
    },
}

mod server;

pub use server::{NodeAddr, ServerError, ServerErrorKind};

/// Which pool timeout expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolTimeout {
    /// Creating a new connection took longer than `poolTimeoutCreate`.
    #[error("creating a connection timed out")]
    Create,
    /// No connection became free within `poolTimeoutWait`.
    #[error("waiting for a free connection timed out")]
    Wait,
    /// Checking an idle connection took longer than `poolTimeoutRecycle`.
    #[error("recycling a connection timed out")]
    Recycle,
}

/// The crate-wide error.
///
/// Match on it, or use the predicates (`is_timeout`, `is_outcome_unknown`, ...):
/// every failure says what happened and whether a command may have run.
/// [`source`](std::error::Error::source) is the cause: of [`Error::NotSent`],
/// [`Error::OutcomeUnknown`] and [`Error::PipelineIncomplete`], the last error
/// of [`Error::RetriesExhausted`], the IO or protocol error, the server's
/// error line.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server replied with an error.
    #[error("server error: {0}")]
    Server(#[source] ServerError),
    /// The peer sent malformed bytes; the connection was closed.
    #[error("protocol error: {0}")]
    Protocol(#[source] ProtocolError),
    /// An IO error (connect, read, write). Shared so every waiting caller gets it.
    #[error("io error: {0}")]
    Io(#[source] Arc<io::Error>),
    /// Connecting (TCP + TLS + handshake) took longer than the connect timeout.
    #[error("connect timed out")]
    ConnectTimeout,
    /// No reply within the response timeout. The command was sent: its outcome is unknown.
    #[error("no reply within the response timeout (outcome unknown)")]
    Timeout,
    /// The command was written but the connection failed before its reply:
    /// it may or may not have run. Retried automatically only for commands
    /// marked idempotent or read-only.
    #[error("connection lost after the command was sent, outcome unknown: {cause}")]
    OutcomeUnknown {
        /// What broke the connection.
        #[source]
        cause: Arc<Error>,
    },
    /// The command was never written to any socket; it did not run.
    #[error("command not sent: {cause}")]
    NotSent {
        /// Why it could not be sent.
        #[source]
        cause: Arc<Error>,
    },
    /// Authentication was rejected (wrong user/password, or NOAUTH).
    #[error("authentication failed: {0}")]
    Auth(#[source] ServerError),
    /// A TLS configuration or handshake problem.
    #[error("tls: {0}")]
    Tls(String),
    /// A URL that cannot be used; the message never contains the password.
    #[error("invalid url: {0}")]
    Url(String),
    /// Invalid configuration; the message names the JSON path.
    #[error("invalid config: {0}")]
    Config(String),
    /// A pool timeout expired.
    #[error("pool: {0}")]
    Pool(PoolTimeout),
    /// A reply of another shape than the caller asked for.
    #[error("unexpected reply: expected {expected}, got {got}")]
    Type {
        /// What the conversion expected.
        expected: &'static str,
        /// A short description of what arrived.
        got: String,
    },
    /// The keys of a command that must run on one node map to different slots.
    #[error("keys of this command hash to different slots")]
    CrossSlot,
    /// Retries were exhausted; carries the last error.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The last error seen.
        #[source]
        last: Arc<Error>,
    },
    /// The client, connection or subscriber was closed by its owner.
    #[error("closed")]
    Closed,
    /// A pipeline's connection failed part-way. Its commands, in order, are:
    /// first those answered (`replies`), then `unknown` commands that were
    /// handed to the socket without a reply (each may have run), then
    /// `not_sent` commands no byte of which left the process (they did not
    /// run and are safe to send again).
    #[error(
        "pipeline broken part-way: {} answered, {unknown} sent without reply (outcome unknown), \
         {not_sent} not sent: {cause}",
        .replies.len()
    )]
    PipelineIncomplete {
        /// Replies of the pipeline's first commands, in order.
        replies: Vec<crate::resp::Frame>,
        /// Commands after those, sent without a reply: outcome unknown.
        unknown: u32,
        /// The last commands, never sent.
        not_sent: u32,
        /// What broke the connection.
        #[source]
        cause: Arc<Error>,
    },
    /// Anything else, with a message meant for humans (no secrets).
    #[error("{0}")]
    Other(String),
    /// A command that changes the state of the connection it runs on
    /// (SUBSCRIBE, MULTI, SELECT, CLIENT REPLY ...) was refused on a shared
    /// connection, where other callers' replies would be misrouted. Nothing was sent.
    #[error("{command} changes the state of its connection and is refused on a shared one: {use_instead}")]
    NotOnSharedConnection {
        /// The command's name (and subcommand, for CLIENT and SCRIPT), upper-cased.
        command: Box<str>,
        /// The API to use instead.
        use_instead: UseInstead,
    },
    /// The cluster router already holds connections to `limit` nodes
    /// (`ClusterOptions::max_nodes`) and refused to open one more. Nothing was sent.
    #[error("connections to {limit} cluster nodes already open (max_nodes): not opening another")]
    TooManyNodes {
        /// The configured limit.
        limit: usize,
    },
    /// `EXEC` replied null: a key the transaction `WATCH`ed changed, so the
    /// server ran none of its commands, on each of `attempts` tries. Safe to
    /// try the whole transaction again.
    #[error("{}", transaction_aborted_message(*.attempts))]
    TransactionAborted {
        /// How many times the transaction was tried.
        attempts: u32,
    },
    /// `EXEC` replied `EXECABORT`: the server refused a command while
    /// queueing it (a syntax error, a `MOVED` for a slot that left the node)
    /// and discarded the transaction; none of its commands ran.
    #[error("{exec} (queued command failed: {queued})")]
    TransactionDiscarded {
        /// `EXEC`'s error.
        exec: ServerError,
        /// The first queued command's error, which caused it.
        #[source]
        queued: ServerError,
    },
    /// No shard serves this slot in the cluster router's current map (the
    /// cluster is being resharded or has lost a shard). Nothing was sent.
    #[error("slot {slot} is not served")]
    SlotNotServed {
        /// The slot.
        slot: u16,
    },
    /// The cluster router knows no primary to send a keyless command to
    /// (every shard lost). Nothing was sent.
    #[error("no known primary")]
    NoPrimary,
    /// The node asked for the topology serves no slot: not a cluster node,
    /// or one that has not joined its cluster yet.
    #[error("{node} serves no slots (not a cluster?)")]
    NotACluster {
        /// The node, as its URL without credentials.
        node: Box<str>,
    },
    /// A reply that fits no request: one no command was waiting for, a
    /// pipeline reply of the wrong length, or replies of several nodes that
    /// cannot be merged (different values, arrays of different lengths, a
    /// sum that overflows). The connection it came on is not to be trusted.
    #[error("unexpected reply: {what}")]
    UnexpectedReply {
        /// What was wrong, for humans.
        what: &'static str,
    },
    /// An argument the command cannot take, refused before anything was
    /// sent: a zero TTL, a lock of zero seconds, an empty subscription list,
    /// a pipeline too long to count.
    #[error("{0}")]
    InvalidArgument(Box<str>),
}

/// Where a command refused with [`Error::NotOnSharedConnection`] belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UseInstead {
    /// Subscriptions: the pub/sub `Subscriber`.
    #[error("use the pub/sub Subscriber")]
    Subscriber,
    /// `MULTI`/`EXEC`/`DISCARD`: `Client::transaction` (one atomic pipeline),
    /// or an exclusive connection for `WATCH`-guarded transactions.
    #[error("use Client::transaction, or WATCH/MULTI/EXEC on a connection from Client::exclusive")]
    Transaction,
    /// A connection of its own: `Client::exclusive` (a pooled connection).
    #[error("send it alone, or on a connection of its own from Client::exclusive")]
    Exclusive,
    /// Connection settings (protocol, credentials, database, `READONLY`):
    /// `ConnectOptions`, applied on every (re)connect.
    #[error("set it in ConnectOptions (applied on every connect)")]
    ConnectOptions,
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

/// The message of [`Error::TransactionAborted`].
fn transaction_aborted_message(attempts: u32) -> String {
    match attempts {
        1 => "transaction aborted: a watched key changed".to_string(),
        n => format!("transaction aborted: a watched key changed on each of {n} attempts (nothing ran)"),
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
