//! Opening the byte stream: TCP (with socket2 options), Unix sockets, and TLS via tokio-rustls.
//!
//! Lives here: [`connect`], which returns a [`Transport`] ready for the
//! handshake, and the split into read and write halves for the driver. Not
//! here: RESP, the handshake, reconnect policy.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::TlsConnector;

use super::options::{Address, ConnectOptions, Roots, TlsOptions};
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
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
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
                Some(tls) => {
                    let config = client_config(tls)?;
                    let name = tls.server_name.as_deref().unwrap_or(host);
                    let server_name = ServerName::try_from(name.to_string())
                        .map_err(|_| Error::Tls(format!("invalid server name {name:?}")))?;
                    let stream = TlsConnector::from(config)
                        .connect(server_name, tcp)
                        .await
                        .map_err(|e| Error::Tls(format!("handshake with {host}:{port} failed: {e}")))?;
                    Ok(Transport::Tls(Box::new(stream)))
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
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => Error::Tls(format!("the server ended the TLS session: {tls}")),
        None => Error::from(e),
    }
}

/// Builds the rustls client configuration for `tls`.
///
/// # Errors
/// [`Error::Tls`] when a CA, certificate or key file cannot be read or parsed.
pub fn client_config(tls: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let builder = if tls.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| Error::Tls(format!("cannot read CA file {}: {e}", path.display())))?;
                for cert in certs {
                    let cert =
                        cert.map_err(|e| Error::Tls(format!("bad CA file {}: {e}", path.display())))?;
                    roots.add(cert).map_err(|e| Error::Tls(format!("bad CA certificate: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(Error::Tls(format!("no certificate in CA file {}", path.display())));
                }
            }
            None => roots = builtin_roots(tls.roots),
        }
        builder.with_root_certificates(roots)
    };
    let config = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| Error::Tls(format!("cannot read client certificate {}: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| Error::Tls(format!("cannot read client key {}: {e}", key.display())))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| Error::Tls(e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::Tls("a client certificate needs both a certificate and a key".into())),
    };
    Ok(Arc::new(config))
}

/// The operating system's root certificates, read once per process: every
/// certificate that parses (an unreadable store or a bad entry is skipped,
/// not fatal). Empty when the system has none we can read.
static NATIVE_ROOTS: LazyLock<rustls::RootCertStore> = LazyLock::new(|| {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    roots
});

/// The root store for `choice` (see [`Roots`]).
fn builtin_roots(choice: Roots) -> rustls::RootCertStore {
    let webpki = || webpki_roots::TLS_SERVER_ROOTS.iter().cloned();
    match choice {
        Roots::Native if !NATIVE_ROOTS.is_empty() => NATIVE_ROOTS.clone(),
        Roots::Native | Roots::Webpki => webpki().collect(),
        Roots::NativeAndWebpki => {
            let mut roots = NATIVE_ROOTS.clone();
            roots.extend(webpki());
            roots
        }
    }
}

/// Accepts any server certificate (`#insecure`). Signatures are still checked
/// so the handshake itself is sound; only the chain of trust is skipped.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl AsyncRead for Transport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_read(cx, buf),
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
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_shutdown(cx),
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
