//! Opening the byte stream: TCP (with socket2 options), Unix sockets, and TLS
//! (`tls` feature) over TCP.
//!
//! Lives here: [`connect`], which returns a [`Transport`] ready for the
//! handshake, and the split into read and write halves for the driver. Not
//! here: the rustls setup (`conn::tls`), RESP, the handshake, reconnect policy.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::options::{Address, ConnectOptions};
use crate::error::Error;

/// A connected stream: plain TCP, Unix socket or TLS over TCP.
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP.
    Tcp(TcpStream),
    /// Unix domain socket.
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Transport {
    /// Whether this is a TLS session.
    pub(crate) fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Transport::Tls(_) = self {
            return true;
        }
        false
    }
}

/// Opens the stream for `opts`: resolves, connects, sets socket options, and
/// runs the TLS handshake when asked. The caller bounds the time taken.
///
/// # Errors
/// [`Error::Io`] for resolve/connect failures, [`Error::Tls`] for TLS setup or
/// handshake failures (an untrusted certificate among them).
pub async fn connect(opts: &ConnectOptions) -> Result<Transport, Error> {
    match &opts.address {
        Address::Tcp { host, port } => {
            let tcp = connect_tcp(host, *port, opts.tcp_keepalive, opts.response_timeout).await?;
            match &opts.tls {
                None => Ok(Transport::Tcp(tcp)),
                #[cfg(feature = "tls")]
                Some(tls) => {
                    Ok(Transport::Tls(Box::new(super::tls::handshake(tcp, tls, host, *port).await?)))
                }
                #[cfg(not(feature = "tls"))]
                Some(_) => {
                    Err(Error::Tls("TLS asked for, but redwire was built without its `tls` feature".into()))
                }
            }
        }
        #[cfg(unix)]
        Address::Unix(path) => {
            if opts.tls.is_some() {
                return Err(Error::Tls("TLS over a Unix socket is not supported".into()));
            }
            Ok(Transport::Unix(tokio::net::UnixStream::connect(path).await?))
        }
        #[cfg(not(unix))]
        Address::Unix(_) => Err(Error::Other("Unix sockets are not supported on this platform".into())),
    }
}

async fn connect_tcp(
    host: &str,
    port: u16,
    keepalive: Option<Duration>,
    response_timeout: Option<Duration>,
) -> Result<TcpStream, Error> {
    let mut last_err = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                if let Some(idle) = keepalive {
                    let sock = socket2::SockRef::from(&stream);
                    let ka = socket2::TcpKeepalive::new().with_time(idle).with_interval(idle / 4);
                    sock.set_tcp_keepalive(&ka)?;
                }
                set_user_timeout(&stream, response_timeout)?;
                return Ok(stream);
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(match last_err {
        Some(e) => Error::from(e),
        None => {
            Error::from(io::Error::new(io::ErrorKind::NotFound, format!("{host} resolved to no address")))
        }
    })
}

/// On Linux, bounds how long written bytes may stay unacknowledged by the
/// peer's kernel before the kernel gives the connection up
/// (`TCP_USER_TIMEOUT`): the response timeout, at least one second. A dead
/// host then fails the connection even while nothing is being read.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_user_timeout(stream: &TcpStream, response_timeout: Option<Duration>) -> Result<(), Error> {
    if let Some(t) = response_timeout {
        socket2::SockRef::from(stream).set_tcp_user_timeout(Some(t.max(Duration::from_secs(1))))?;
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_user_timeout(_stream: &TcpStream, _response_timeout: Option<Duration>) -> Result<(), Error> {
    Ok(())
}

/// Resets a TCP connection when the driver gives it up: a duplicate of the
/// socket's descriptor, kept until the driver ends, through which
/// `SO_LINGER 0` is set so the final close sends RST and the kernel drops the
/// bytes it has not delivered yet (none of them may run after their commands
/// were reported). Does nothing for Unix sockets.
pub(crate) struct SocketAbort(Option<socket2::Socket>);

impl SocketAbort {
    fn of(stream: &TcpStream) -> SocketAbort {
        // A failed dup only loses the reset, never the connection.
        SocketAbort(socket2::SockRef::from(stream).try_clone().ok())
    }

    /// Sets `SO_LINGER 0`: the last close of the socket (when the driver's
    /// halves are dropped) sends RST and discards unsent bytes. No orderly
    /// shutdown is started, as that would queue a FIN behind them.
    pub(crate) fn reset(self) {
        if let Some(sock) = self.0 {
            let _ = sock.set_linger(Some(Duration::ZERO));
        }
    }
}

/// Converts an IO error from the stream: a TLS failure that surfaces on a read
/// or write (with TLS 1.3 a server refusing our client certificate says so
/// only after the client's side of the handshake is done) becomes
/// [`Error::Tls`], anything else [`Error::Io`].
pub(crate) fn stream_error(e: io::Error) -> Error {
    #[cfg(feature = "tls")]
    if let Some(tls) = super::tls::session_error(&e) {
        return tls;
    }
    Error::from(e)
}

impl AsyncRead for Transport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The read half used by the driver's reader.
pub(crate) enum ReadHalf {
    Tcp(tokio::net::tcp::OwnedReadHalf),
    Other(tokio::io::ReadHalf<Transport>),
}

/// The write half used by the driver's writer.
pub(crate) enum WriteHalf {
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    Other(tokio::io::WriteHalf<Transport>),
}

impl Transport {
    /// Splits into halves (TCP without a lock, others through tokio's
    /// split) and the handle that resets the TCP connection.
    pub(crate) fn split(self) -> (ReadHalf, WriteHalf, SocketAbort) {
        let abort = match &self {
            Transport::Tcp(s) => SocketAbort::of(s),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => SocketAbort::of(s.get_ref().0),
            #[cfg(unix)]
            Transport::Unix(_) => SocketAbort(None),
        };
        match self {
            Transport::Tcp(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w), abort)
            }
            other => {
                let (r, w) = tokio::io::split(other);
                (ReadHalf::Other(r), WriteHalf::Other(w), abort)
            }
        }
    }
}

impl WriteHalf {
    /// Drops the half without the orderly shutdown a TCP write half starts
    /// when dropped (after [`SocketAbort::reset`], the close resets instead).
    pub(crate) fn abandon(self) {
        match self {
            WriteHalf::Tcp(w) => w.forget(),
            WriteHalf::Other(w) => drop(w),
        }
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            ReadHalf::Other(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            WriteHalf::Other(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_flush(cx),
            WriteHalf::Other(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            WriteHalf::Other(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
