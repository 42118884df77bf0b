//! One standalone server (`Server`), Valkey by default, on a free loopback port in its own scratch
//! dir; optionally with an ACL user and password, a default-user password, extra config, or
//! Debian's redis-server instead of Valkey.
//!
//! Readiness is a PING (authenticated when needed) answered by *our* process (its `INFO server`
//! `process_id` is checked, so a server of another test on a recycled port is never mistaken for
//! ours). TLS servers live in `tls.rs`: the Valkey build we install has no TLS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ports::free_port;
use super::process::{self, base_args, launch, Process, READY_TIMEOUT};
use super::resp_client::{Client, Reply};
use super::scratch::ScratchDir;

/// How a client logs in: an ACL user, or just the default user's password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// `None` for the default user (`AUTH <password>`).
    pub username: Option<String>,
    /// The password.
    pub password: String,
}

impl Credentials {
    /// Logs `client` in; `Err` with the server's reply when refused.
    pub fn login(&self, client: &mut Client) -> std::io::Result<Reply> {
        client.auth(self.username.as_deref(), &self.password)
    }

    /// `user:pass@` (or `:pass@`) for a URL, percent-encoded.
    pub fn url_userinfo(&self) -> String {
        format!("{}:{}@", encode(self.username.as_deref().unwrap_or("")), encode(&self.password))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Options for [`Server::start_with`].
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    user: Option<(String, String)>,
    requirepass: Option<String>,
    args: Vec<String>,
    redis: bool,
}

impl ServerOptions {
    /// Plain Valkey, no auth.
    pub fn new() -> ServerOptions {
        ServerOptions::default()
    }

    /// Adds the ACL user `name` with password `password` and every permission
    /// (`user <name> on ><pass> ~* &* +@all`). Unless [`ServerOptions::requirepass`] is also given,
    /// the default user is switched off, so an unauthenticated client gets `NOAUTH`.
    pub fn user(mut self, name: &str, password: &str) -> ServerOptions {
        self.user = Some((name.to_string(), password.to_string()));
        self
    }

    /// Gives the default user a password (`requirepass`), for `AUTH <password>` logins.
    pub fn requirepass(mut self, password: &str) -> ServerOptions {
        self.requirepass = Some(password.to_string());
        self
    }

    /// Adds one command-line argument, e.g. `.arg("--maxmemory").arg("10mb")`.
    pub fn arg(mut self, arg: &str) -> ServerOptions {
        self.args.push(arg.to_string());
        self
    }

    /// Adds command-line arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> ServerOptions {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs Debian's redis-server (7.0) instead of Valkey.
    pub fn redis(mut self) -> ServerOptions {
        self.redis = true;
        self
    }

    /// What the harness uses to log in, if anything (the ACL user wins over the default user).
    pub fn credentials(&self) -> Option<Credentials> {
        match (&self.user, &self.requirepass) {
            (Some((u, p)), _) => Some(Credentials { username: Some(u.clone()), password: p.clone() }),
            (None, Some(p)) => Some(Credentials { username: None, password: p.clone() }),
            (None, None) => None,
        }
    }

    /// The auth and extra arguments (everything but ports and [`base_args`]).
    pub(crate) fn config_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some((name, password)) = &self.user {
            args.extend(
                ["--user", name, "on", &format!(">{password}"), "~*", "&*", "+@all"].map(String::from),
            );
            if self.requirepass.is_none() {
                args.extend(["--user", "default", "off"].map(String::from));
            }
        }
        if let Some(password) = &self.requirepass {
            args.extend(["--requirepass".to_string(), password.clone()]);
        }
        if self.user.is_none() && self.requirepass.is_none() {
            args.extend(["--protected-mode", "no"].map(String::from));
        }
        args.extend(self.args.iter().cloned());
        args
    }

    fn binary(&self) -> PathBuf {
        if self.redis {
            process::redis_binary()
        } else {
            process::valkey_binary()
        }
    }
}

/// Connects to `port`, logs in, and checks that PING answers PONG from process `pid`.
pub(crate) fn answers_ping(port: u16, creds: Option<&Credentials>, pid: u32) -> bool {
    let check = || -> std::io::Result<bool> {
        let mut c = Client::connect_timeout(("127.0.0.1", port), Duration::from_secs(1))?;
        if let Some(creds) = creds {
            if creds.login(&mut c)?.is_error() {
                return Ok(false);
            }
        }
        if c.call(&["PING"])? != Reply::Simple("PONG".into()) {
            return Ok(false);
        }
        let info = c.call(&["INFO", "server"])?.as_text().unwrap_or_default();
        Ok(info.lines().any(|l| l.trim() == format!("process_id:{pid}")))
    };
    check().unwrap_or(false)
}

/// A running standalone server; killed (and its dir removed) on drop.
pub struct Server {
    process: Process,
    port: u16,
    creds: Option<Credentials>,
}

impl Server {
    /// A standalone Valkey without auth.
    pub fn start() -> Server {
        Server::start_with(ServerOptions::new())
    }

    /// A standalone server with `opts`. Panics (with the log tail) when it does not start.
    pub fn start_with(opts: ServerOptions) -> Server {
        let bin = opts.binary();
        let creds = opts.credentials();
        launch("server", || {
            let port = free_port();
            let dir = ScratchDir::new("servers");
            let mut args = base_args(&dir);
            args.extend(["--port".to_string(), port.to_string()]);
            args.extend(opts.config_args());
            let process = Process::spawn(&bin, args, dir)?;
            let pid = process.pid();
            process.wait_ready(READY_TIMEOUT, || answers_ping(port, creds.as_ref(), pid))?;
            Ok(Server { process, port, creds: creds.clone() })
        })
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://[user:pass@]127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        let userinfo = self.creds.as_ref().map(Credentials::url_userinfo).unwrap_or_default();
        format!("redis://{userinfo}127.0.0.1:{}", self.port)
    }

    /// The ACL user name, if the server has one.
    pub fn username(&self) -> Option<&str> {
        self.creds.as_ref().and_then(|c| c.username.as_deref())
    }

    /// The password the harness logs in with, if any.
    pub fn password(&self) -> Option<&str> {
        self.creds.as_ref().map(|c| c.password.as_str())
    }

    /// The login the harness uses, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.creds.as_ref()
    }

    /// The server's pid (the latest one after a restart).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The scratch dir (`--dir`), which also holds `server.log`.
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

    /// SIGTERM (a clean shutdown), and wait for the exit.
    pub fn stop(&self) {
        self.process.stop();
    }

    /// Kills the server if it runs, starts it again on the same port and dir, and waits until it
    /// answers. Panics when it does not come back (e.g. the port was taken meanwhile).
    pub fn restart(&self) {
        let what = format!("server on port {}", self.port);
        self.process.restart(&what, |pid| answers_ping(self.port, self.creds.as_ref(), pid));
    }

    /// A harness client, logged in when the server needs it. Panics when that fails.
    #[track_caller]
    pub fn client(&self) -> Client {
        let mut c = self.raw_client();
        if let Some(creds) = &self.creds {
            let reply = creds.login(&mut c).unwrap_or_else(|e| panic!("AUTH on {}: {e}", self.addr()));
            assert!(reply.is_ok(), "AUTH on {} refused: {reply:?}", self.addr());
        }
        c
    }

    /// A harness client that has not logged in.
    #[track_caller]
    pub fn raw_client(&self) -> Client {
        Client::connect(self.addr()).unwrap_or_else(|e| panic!("connect to {}: {e}", self.addr()))
    }
}
