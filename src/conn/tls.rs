//! The rustls side of TLS (`tls` feature): the client configuration built
//! from [`TlsOptions`] (a private CA, a client certificate, the built-in roots
//! of the `native-roots` and `webpki-roots` features, `#insecure`), the
//! handshake over a connected TCP stream, and telling a TLS failure apart
//! from a plain IO error.
//!
//! Not here: opening the TCP stream and the `Transport` enum
//! (`conn::transport`), parsing the TLS URL parameters (`url`).

use std::io;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::TlsConnector;

use super::options::{Roots, TlsOptions};
use crate::error::Error;

/// Runs the TLS handshake over `tcp`, verifying the server as `tls` says
/// (its `server_name`, else `host`).
pub(crate) async fn handshake(
    tcp: TcpStream,
    tls: &TlsOptions,
    host: &str,
    port: u16,
) -> Result<TlsStream<TcpStream>, Error> {
    let config = client_config(tls)?;
    let name = tls.server_name.as_deref().unwrap_or(host);
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| Error::Tls(format!("invalid server name {name:?}")))?;
    TlsConnector::from(config)
        .connect(server_name, tcp)
        .await
        .map_err(|e| Error::Tls(format!("handshake with {host}:{port} failed: {e}")))
}

/// The TLS failure inside an IO error from the session, if that is what it is.
pub(crate) fn session_error(e: &io::Error) -> Option<Error> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(Error::Tls(format!("the server ended the TLS session: {tls}")))
}

/// Builds the rustls client configuration for `tls`.
///
/// # Errors
/// [`Error::Tls`] when a CA, certificate or key file cannot be read or parsed.
pub(crate) fn client_config(tls: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, Error> {
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
            None => {
                roots = builtin_roots(tls.roots);
                if roots.is_empty() {
                    return Err(Error::Tls(format!(
                        "no root certificates for tls_roots={}: the system store is empty or this \
                         build lacks the `native-roots`/`webpki-roots` feature; give a CA file \
                         (tls_ca=)",
                        tls.roots.as_param()
                    )));
                }
            }
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
#[cfg(feature = "native-roots")]
fn native_roots() -> &'static rustls::RootCertStore {
    static NATIVE_ROOTS: std::sync::LazyLock<rustls::RootCertStore> = std::sync::LazyLock::new(|| {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
        roots
    });
    &NATIVE_ROOTS
}

/// Mozilla's roots as compiled in by the `webpki-roots` feature (none without it).
fn webpki_roots() -> rustls::RootCertStore {
    #[cfg(feature = "webpki-roots")]
    return webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
    #[cfg(not(feature = "webpki-roots"))]
    rustls::RootCertStore::empty()
}

/// The root store for `choice` (see [`Roots`]). Empty when the features that
/// would supply it are off.
fn builtin_roots(choice: Roots) -> rustls::RootCertStore {
    #[cfg(feature = "native-roots")]
    let native = native_roots().clone();
    #[cfg(not(feature = "native-roots"))]
    let native = rustls::RootCertStore::empty();
    match choice {
        Roots::Native if !native.is_empty() => native,
        Roots::Native | Roots::Webpki => webpki_roots(),
        Roots::NativeAndWebpki => {
            let mut roots = native;
            roots.extend(webpki_roots().roots);
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
