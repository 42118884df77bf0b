//! Everything needed to open one connection: address, TLS, credentials,
//! protocol, database, timeouts and limits. Built from a URL by `crate::url`
//! or by hand; validated when used.
//!
//! Pure: no IO.

use std::path::PathBuf;
use std::time::Duration;

use crate::resp::DecodeLimits;
use crate::secret::Secret;

/// The RESP protocol version asked for in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2 (`AUTH` + `SELECT`; pub/sub on a dedicated connection).
    #[default]
    Resp2,
    /// RESP3 (`HELLO 3`; push frames on the same connection).
    Resp3,
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// TCP host (name, IPv4 or IPv6 without brackets) and port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
}

/// Which built-in root certificates verify a server when no CA file is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Roots {
    /// The operating system's store (loaded once per process and cached), as
    /// Stalwart's own TLS setup does; the bundled webpki roots when that store
    /// is empty or unreadable. URL query `tls_roots=native`.
    #[default]
    Native,
    /// Only the Mozilla roots bundled in the binary (`webpki-roots`), whatever
    /// the machine trusts. URL query `tls_roots=webpki`.
    Webpki,
    /// Both sets. URL query `tls_roots=both`.
    NativeAndWebpki,
}

impl Roots {
    /// The `tls_roots=` value that selects this choice.
    pub fn as_param(self) -> &'static str {
        match self {
            Roots::Native => "native",
            Roots::Webpki => "webpki",
            Roots::NativeAndWebpki => "both",
        }
    }
}

/// TLS settings; certificates are verified unless `insecure`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    /// Skip certificate verification (URL fragment `#insecure`). Testing only.
    pub insecure: bool,
    /// Built-in roots trusted when `ca_file` is `None`.
    pub roots: Roots,
    /// PEM file with CA certificates to trust instead of `roots` (URL query
    /// `tls_ca=`): a private CA.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for mutual TLS (URL query `tls_cert=`).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate (URL query `tls_key=`).
    pub client_key: Option<PathBuf>,
    /// Server name to verify; defaults to the host.
    pub server_name: Option<String>,
}

/// Options for one connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectOptions {
    /// Server address.
    pub address: Address,
    /// `Some` for TLS (`rediss://`, `valkeys://`).
    pub tls: Option<TlsOptions>,
    /// Database selected after connecting (0 = none sent).
    pub db: i64,
    /// ACL user name; `None` means `default`.
    pub username: Option<String>,
    /// Password; never printed.
    pub password: Option<Secret>,
    /// Protocol version asked for.
    pub protocol: Protocol,
    /// `CLIENT SETNAME` value, if any.
    pub client_name: Option<String>,
    /// Bound on TCP connect + TLS + handshake.
    pub connect_timeout: Duration,
    /// Bound on waiting for a reply; `None` waits for ever (not advised).
    pub response_timeout: Option<Duration>,
    /// Most commands in flight on one connection before callers wait.
    pub max_in_flight: usize,
    /// Most bytes of commands queued on one connection and not yet handed to
    /// the socket before callers wait (a server that stops reading cannot
    /// make the buffer grow without bound). A single command larger than
    /// this still goes, alone.
    pub max_write_buffer: usize,
    /// TCP keepalive idle time; `None` leaves the OS default.
    pub tcp_keepalive: Option<Duration>,
    /// Decoder limits against hostile replies.
    pub limits: DecodeLimits,
    /// Keep RESP3 doubles as the text the server wrote
    /// ([`Frame::DoubleText`](crate::Frame::DoubleText)) instead of their
    /// value ([`Frame::Double`](crate::Frame::Double)): for tools that print
    /// or forward replies exactly. Off by default.
    pub keep_double_text: bool,
    /// Send `READONLY` in the handshake (cluster replicas serving reads).
    pub readonly: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            address: Address::Tcp { host: "127.0.0.1".into(), port: 6379 },
            tls: None,
            db: 0,
            username: None,
            password: None,
            protocol: Protocol::Resp2,
            client_name: None,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Some(Duration::from_secs(10)),
            max_in_flight: 65_536,
            max_write_buffer: 64 * 1024 * 1024,
            tcp_keepalive: Some(Duration::from_secs(60)),
            limits: DecodeLimits::default(),
            keep_double_text: false,
            readonly: false,
        }
    }
}

impl ConnectOptions {
    /// Options for a TCP server at `host:port`, everything else default.
    pub fn tcp(host: impl Into<String>, port: u16) -> ConnectOptions {
        ConnectOptions { address: Address::Tcp { host: host.into(), port }, ..ConnectOptions::default() }
    }

    /// A printable description of the target (no credentials).
    pub fn describe(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        match &self.address {
            Address::Tcp { host, port } if host.contains(':') => {
                format!("{scheme}://[{host}]:{port}")
            }
            Address::Tcp { host, port } => format!("{scheme}://{host}:{port}"),
            Address::Unix(p) => format!("unix://{}", p.display()),
        }
    }
}
