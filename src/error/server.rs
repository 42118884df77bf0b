//! Error replies from the server, classified once at decode time.
//!
//! Lives here: [`ServerError`] (the line as sent, and its kind),
//! [`ServerErrorKind`] (from the first word; `MOVED`/`ASK` with their slot
//! and node) and [`NodeAddr`] (the `host:port` of redirects and topology
//! replies). Not here: what to do about an error (`route::redirect`).
//!
//! Pure: no async runtime, no sockets, no clock.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::ProtocolError;

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

    /// True for the errors of a server busy with itself, after which the
    /// same command may succeed: `TRYAGAIN`, `LOADING`, `CLUSTERDOWN`,
    /// `MASTERDOWN`.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            ServerErrorKind::TryAgain
                | ServerErrorKind::Loading
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
        )
    }

    /// True for `ERR unknown command ...`: the server (or the ACL-less
    /// proxy in front of it) does not know the command, e.g. one newer than
    /// its version.
    pub fn is_unknown_command(&self) -> bool {
        self.code() == b"ERR" && self.message().starts_with(b"unknown command")
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
