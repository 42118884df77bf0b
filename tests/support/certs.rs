//! Throwaway TLS material for tests, made with rcgen: a CA, a server certificate for `127.0.0.1`
//! and `localhost`, and a client certificate, all signed by the CA and written as PEM files into a
//! scratch dir (removed on drop).

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use super::scratch::ScratchDir;

/// A CA plus server and client certificates, as PEM text and as files.
pub struct TestCerts {
    dir: ScratchDir,
    /// The CA certificate (PEM).
    pub ca_pem: String,
    /// The server certificate (PEM), for `127.0.0.1` and `localhost`.
    pub server_cert_pem: String,
    /// The server's private key (PEM).
    pub server_key_pem: String,
    /// A client certificate (PEM), for servers that ask for one.
    pub client_cert_pem: String,
    /// The client's private key (PEM).
    pub client_key_pem: String,
}

impl TestCerts {
    /// Makes fresh certificates and writes `ca.crt`, `server.crt`, `server.key`, `client.crt`,
    /// `client.key` into a new scratch dir.
    pub fn generate() -> TestCerts {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.distinguished_name.push(DnType::CommonName, "redwire test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca = ca_params.self_signed(&ca_key).expect("self-signed CA");

        let leaf = |name: &str, sans: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(sans).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca, &ca_key).expect("leaf signed by the CA");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert_pem, server_key_pem) = leaf(
            "redwire test server",
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert_pem, client_key_pem) = leaf(
            "redwire test client",
            vec!["client.redwire.test".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        );

        let certs = TestCerts {
            dir: ScratchDir::new("certs"),
            ca_pem: ca.pem(),
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        };
        for (name, pem) in [
            ("ca.crt", &certs.ca_pem),
            ("server.crt", &certs.server_cert_pem),
            ("server.key", &certs.server_key_pem),
            ("client.crt", &certs.client_cert_pem),
            ("client.key", &certs.client_key_pem),
        ] {
            let path = certs.dir.join(name);
            std::fs::write(&path, pem).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
        certs
    }

    /// `ca.crt`.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// `server.crt`.
    pub fn server_cert_path(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    /// `server.key`.
    pub fn server_key_path(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// `client.crt`.
    pub fn client_cert_path(&self) -> PathBuf {
        self.dir.join("client.crt")
    }

    /// `client.key`.
    pub fn client_key_path(&self) -> PathBuf {
        self.dir.join("client.key")
    }
}
