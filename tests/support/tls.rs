//! Debian's `redis-server` (7.0, built with TLS) listening only on a TLS port (`TlsServer`).
//!
//! The harness's own client speaks plain TCP, so readiness is "the log says `Ready to accept
//! connections` and the TLS port accepts TCP connections". Certificates usually come from
//! [`super::certs::TestCerts`].

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ports::free_port;
use super::process::{self, base_args, launch, Process, READY_TIMEOUT};
use super::scratch::ScratchDir;
use super::server::{Credentials, ServerOptions};

/// `tls-auth-clients`: whether the server asks clients for a certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsAuthClients {
    /// Never asks.
    No,
    /// Asks; a client without a certificate is still accepted.
    #[default]
    Optional,
    /// Requires a certificate signed by the CA.
    Yes,
}

impl TlsAuthClients {
    fn as_arg(self) -> &'static str {
        match self {
            TlsAuthClients::No => "no",
            TlsAuthClients::Optional => "optional",
            TlsAuthClients::Yes => "yes",
        }
    }
}

/// Options for [`TlsServer::start_with`].
#[derive(Clone, Debug)]
pub struct TlsOptions {
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    auth_clients: TlsAuthClients,
    server: ServerOptions,
}

impl TlsOptions {
    /// The server's certificate and key, and the CA that client certificates must chain to.
    pub fn new(cert: impl AsRef<Path>, key: impl AsRef<Path>, ca: impl AsRef<Path>) -> TlsOptions {
        TlsOptions {
            cert: cert.as_ref().to_path_buf(),
            key: key.as_ref().to_path_buf(),
            ca: ca.as_ref().to_path_buf(),
            auth_clients: TlsAuthClients::Optional,
            server: ServerOptions::new(),
        }
    }

    /// Sets `tls-auth-clients` (default `optional`).
    pub fn auth_clients(mut self, mode: TlsAuthClients) -> TlsOptions {
        self.auth_clients = mode;
        self
    }

    /// Adds an ACL user, as [`ServerOptions::user`].
    pub fn user(mut self, name: &str, password: &str) -> TlsOptions {
        self.server = self.server.user(name, password);
        self
    }

    /// Adds one command-line argument.
    pub fn arg(mut self, arg: &str) -> TlsOptions {
        self.server = self.server.arg(arg);
        self
    }
}

/// A running TLS-only redis-server; killed (and its dir removed) on drop.
pub struct TlsServer {
    process: Process,
    tls_port: u16,
    creds: Option<Credentials>,
}

impl TlsServer {
    /// TLS only (`--port 0`), `tls-auth-clients optional`, no auth.
    pub fn start(cert: impl AsRef<Path>, key: impl AsRef<Path>, ca: impl AsRef<Path>) -> TlsServer {
        TlsServer::start_with(TlsOptions::new(cert, key, ca))
    }

    /// A TLS server with `opts`. Panics (with the log tail) when it does not start.
    pub fn start_with(opts: TlsOptions) -> TlsServer {
        let bin = process::redis_binary();
        let creds = opts.server.credentials();
        launch("TLS server", || {
            let tls_port = free_port();
            let dir = ScratchDir::new("servers");
            let mut args = base_args(&dir);
            let path = |p: &PathBuf| p.display().to_string();
            for (k, v) in [
                ("--port", "0".to_string()),
                ("--tls-port", tls_port.to_string()),
                ("--tls-cert-file", path(&opts.cert)),
                ("--tls-key-file", path(&opts.key)),
                ("--tls-ca-cert-file", path(&opts.ca)),
                ("--tls-auth-clients", opts.auth_clients.as_arg().to_string()),
            ] {
                args.extend([k.to_string(), v]);
            }
            args.extend(opts.server.config_args());
            let process = Process::spawn(&bin, args, dir)?;
            process.wait_ready(READY_TIMEOUT, || accepts(&process, tls_port))?;
            Ok(TlsServer { process, tls_port, creds: creds.clone() })
        })
    }

    /// The TLS port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The TLS port (the only one).
    pub fn port(&self) -> u16 {
        self.tls_port
    }

    /// `127.0.0.1:<tls port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.tls_port)
    }

    /// `rediss://[user:pass@]127.0.0.1:<tls port>`.
    pub fn url(&self) -> String {
        let userinfo = self.creds.as_ref().map(Credentials::url_userinfo).unwrap_or_default();
        format!("rediss://{userinfo}127.0.0.1:{}", self.tls_port)
    }

    /// The ACL user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.creds.as_ref().and_then(|c| c.username.as_deref())
    }

    /// The password, if any.
    pub fn password(&self) -> Option<&str> {
        self.creds.as_ref().map(|c| c.password.as_str())
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The scratch dir.
    pub fn dir(&self) -> &Path {
        self.process.dir()
    }

    /// The last lines of the server log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// True while the process runs.
    pub fn is_running(&self) -> bool {
        self.process.is_running()
    }

    /// SIGKILL, and wait for the exit.
    pub fn kill(&self) {
        self.process.kill();
    }

    /// SIGTERM, and wait for the exit.
    pub fn stop(&self) {
        self.process.stop();
    }

    /// Starts the server again on the same port and dir, and waits until it is ready.
    pub fn restart(&self) {
        let what = format!("TLS server on port {}", self.tls_port);
        self.process.restart(&what, |_| accepts(&self.process, self.tls_port));
    }
}

fn accepts(process: &Process, port: u16) -> bool {
    process.log_contains("Ready to accept connections")
        && TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}
