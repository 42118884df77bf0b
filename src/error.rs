//! Errors for every layer, classified once.
//!
//! Lives here: [`ProtocolError`] (hostile or malformed bytes from the peer; the
//! connection must close), [`ServerError`] with its [`ServerErrorKind`] (an error
//! *reply* from the server, parsed once at decode time, MOVED/ASK carrying their
//! slot and node), and the crate-wide [`Error`] with predicates such as
//! [`Error::is_timeout`]. What to *do* about an error (retry, redirect, give up)
//! is decided elsewhere (`route::redirect`), as a pure function of these types.
//!
//! This module is pure: no tokio, no sockets, no clock.

use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;

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

/// What kind of error reply the server sent, from its first word.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// `ERR`: generic error.
    Generic,
    /// `WRONGTYPE`: the key holds another type.
    WrongType,
    /// `MOVED slot host:port`: the slot lives on another node, permanently.
    Moved {
        /// The slot of the key.
        slot: u16,
        /// The node that owns it now.
        node: NodeAddr,
    },
    /// `ASK slot host:port`: the slot is migrating; ask that node once.
    Ask {
        /// The slot of the key.
        slot: u16,
        /// The node to ask (after `ASKING`).
        node: NodeAddr,
    },
    /// `TRYAGAIN`: multi-key command during resharding.
    TryAgain,
    /// `CLUSTERDOWN`: the cluster cannot serve this slot now.
    ClusterDown,
    /// `LOADING`: the server is loading its dataset.
    Loading,
    /// `MASTERDOWN`: the replica lost its primary.
    MasterDown,
    /// `READONLY`: a write was sent to a replica.
    ReadOnly,
    /// `CROSSSLOT`: keys of one command hash to different slots.
    CrossSlot,
    /// `NOAUTH`: authentication required.
    NoAuth,
    /// `WRONGPASS`: invalid username/password pair.
    WrongPass,
    /// `NOPERM`: the ACL user lacks a permission.
    NoPerm,
    /// `NOSCRIPT`: no script with that SHA1.
    NoScript,
    /// `BUSY`: a script is running.
    Busy,
    /// `OOM`: out of memory under `maxmemory`.
    Oom,
    /// `EXECABORT`: the transaction was discarded.
    ExecAbort,
    /// `NOPROTO`: the requested protocol version is not supported.
    NoProto,
    /// `UNKILLABLE`, `NOTBUSY`, ... and anything not listed: see the code.
    Other,
}

/// A node address as found in redirects and topology replies: host and port.
/// The host is kept as text (IPv4, IPv6 without brackets, or a hostname).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddr {
    /// Host name or IP address, without brackets.
    pub host: Arc<str>,
    /// TCP port.
    pub port: u16,
}

impl NodeAddr {
    /// Builds an address from its parts.
    pub fn new(host: impl Into<Arc<str>>, port: u16) -> Self {
        NodeAddr { host: host.into(), port }
    }

    /// Parses `host:port`, `[v6]:port` or `v6:port` (the last colon splits).
    /// Returns `None` when the port is missing or invalid.
    pub fn parse(text: &str) -> Option<NodeAddr> {
        let (host, port) = text.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        Some(NodeAddr::new(host, port))
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// An error reply from the server (`-...` or `!...`), classified at decode.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerError {
    // Boxed: errors are rare, frames are many, and an inline error would
    // make every `Frame` nearly twice as large.
    inner: Box<ServerErrorInner>,
}

#[derive(Clone, PartialEq, Eq)]
struct ServerErrorInner {
    kind: ServerErrorKind,
    line: Bytes,
}

impl ServerError {
    /// Classifies an error line (without the type byte and CRLF).
    ///
    /// # Errors
    /// A `MOVED`/`ASK` line whose slot or address does not parse is a
    /// [`ProtocolError::BadRedirect`]: acting on it would misroute commands.
    pub fn parse(line: Bytes) -> Result<ServerError, ProtocolError> {
        let code_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        let code = &line[..code_end];
        let kind = match code {
            b"ERR" => ServerErrorKind::Generic,
            b"WRONGTYPE" => ServerErrorKind::WrongType,
            b"MOVED" | b"ASK" => {
                let rest = line.get(code_end + 1..).ok_or(ProtocolError::BadRedirect)?;
                let (slot, node) = parse_redirect(rest)?;
                if code == b"MOVED" {
                    ServerErrorKind::Moved { slot, node }
                } else {
                    ServerErrorKind::Ask { slot, node }
                }
            }
            b"TRYAGAIN" => ServerErrorKind::TryAgain,
            b"CLUSTERDOWN" => ServerErrorKind::ClusterDown,
            b"LOADING" => ServerErrorKind::Loading,
            b"MASTERDOWN" => ServerErrorKind::MasterDown,
            b"READONLY" => ServerErrorKind::ReadOnly,
            b"CROSSSLOT" => ServerErrorKind::CrossSlot,
            b"NOAUTH" => ServerErrorKind::NoAuth,
            b"WRONGPASS" => ServerErrorKind::WrongPass,
            b"NOPERM" => ServerErrorKind::NoPerm,
            b"NOSCRIPT" => ServerErrorKind::NoScript,
            b"BUSY" => ServerErrorKind::Busy,
            b"OOM" => ServerErrorKind::Oom,
            b"EXECABORT" => ServerErrorKind::ExecAbort,
            b"NOPROTO" => ServerErrorKind::NoProto,
            _ => ServerErrorKind::Other,
        };
        Ok(ServerError { inner: Box::new(ServerErrorInner { kind, line }) })
    }

    /// Builds an error for tests and fakes from a line such as `ERR nope`.
    ///
    /// # Errors
    /// As [`ServerError::parse`].
    pub fn from_line(line: &str) -> Result<ServerError, ProtocolError> {
        ServerError::parse(Bytes::copy_from_slice(line.as_bytes()))
    }

    /// The classified kind.
    pub fn kind(&self) -> &ServerErrorKind {
        &self.inner.kind
    }

    /// The whole line, code included, as sent by the server.
    pub fn line(&self) -> &Bytes {
        &self.inner.line
    }

    /// The first word of the line (`ERR`, `MOVED`, ...).
    pub fn code(&self) -> &[u8] {
        let line = &self.inner.line;
        let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        &line[..end]
    }

    /// The line after the code.
    pub fn message(&self) -> &[u8] {
        let line = &self.inner.line;
        match line.iter().position(|&b| b == b' ') {
            Some(i) => &line[i + 1..],
            None => &[],
        }
    }
}

fn parse_redirect(rest: &[u8]) -> Result<(u16, NodeAddr), ProtocolError> {
    let text = std::str::from_utf8(rest).map_err(|_| ProtocolError::InvalidUtf8)?;
    let mut parts = text.split(' ');
    let slot: u16 =
        parts.next().and_then(|s| s.parse().ok()).filter(|s| *s < 16384).ok_or(ProtocolError::BadRedirect)?;
    let addr = parts.next().ok_or(ProtocolError::BadRedirect)?;
    let node = NodeAddr::parse(addr).ok_or(ProtocolError::BadRedirect)?;
    Ok((slot, node))
}

impl fmt::Debug for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerError")
            .field("kind", &self.inner.kind)
            .field("line", &String::from_utf8_lossy(&self.inner.line))
            .finish()
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.inner.line))
    }
}

impl std::error::Error for ServerError {}

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
    /// A `WATCH`ed transaction's `EXEC` was aborted (a watched key changed)
    /// on every attempt: none of its commands ran.
    TransactionAborted {
        /// How many times the transaction was tried.
        attempts: u32,
    },
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
            Error::TransactionAborted { attempts } => write!(
                f,
                "transaction aborted: a watched key changed on each of {attempts} attempts (nothing ran)"
            ),
        }
    }
}

impl std::error::Error for Error {}

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
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        let e = ServerError::from_line("WRONGTYPE Operation against a key").unwrap();
        assert_eq!(e.kind(), &ServerErrorKind::WrongType);
        assert_eq!(e.code(), b"WRONGTYPE");
        assert_eq!(e.message(), b"Operation against a key");
        let e = ServerError::from_line("ERR").unwrap();
        assert_eq!(e.kind(), &ServerErrorKind::Generic);
        assert_eq!(e.message(), b"");
        let e = ServerError::from_line("SOMETHING new").unwrap();
        assert_eq!(e.kind(), &ServerErrorKind::Other);
    }

    #[test]
    fn parses_redirects() {
        let e = ServerError::from_line("MOVED 3999 127.0.0.1:6381").unwrap();
        assert_eq!(e.kind(), &ServerErrorKind::Moved { slot: 3999, node: NodeAddr::new("127.0.0.1", 6381) });
        let e = ServerError::from_line("ASK 0 [::1]:7000").unwrap();
        assert_eq!(e.kind(), &ServerErrorKind::Ask { slot: 0, node: NodeAddr::new("::1", 7000) });
        let e = ServerError::from_line("MOVED 12 ::1:7000").unwrap();
        assert_eq!(e.kind(), &ServerErrorKind::Moved { slot: 12, node: NodeAddr::new("::1", 7000) });
        assert_eq!(NodeAddr::new("::1", 7000).to_string(), "[::1]:7000");
        for bad in ["MOVED", "MOVED 16384 a:1", "MOVED x a:1", "ASK 1", "ASK 1 host", "MOVED 1 h:99999"] {
            assert_eq!(ServerError::from_line(bad), Err(ProtocolError::BadRedirect), "{bad}");
        }
    }
}
