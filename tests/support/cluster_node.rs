//! One node of a test cluster (`ClusterNode`): how it is started (cluster mode, its own client
//! and bus ports, `nodes.conf` in its scratch dir) and what can be asked of it (role, primary,
//! a logged-in harness client). Forming and faulting the cluster is `cluster.rs`.

use std::path::Path;

use super::cluster::ClusterOptions;
use super::ports::free_port;
use super::process::{self, base_args, launch, Process, READY_TIMEOUT};
use super::resp_client::{parse_info, Client, Reply};
use super::scratch::ScratchDir;
use super::server::{answers_ping, Credentials};

/// What a node is right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Serves slots (or could).
    Primary,
    /// Replicates a primary.
    Replica,
    /// Not running (killed or stopped).
    Down,
}

/// One node of a [`Cluster`].
pub struct ClusterNode {
    pub(super) process: Process,
    pub(super) port: u16,
    pub(super) cluster_port: u16,
    pub(super) id: String,
    pub(super) creds: Option<Credentials>,
}

impl ClusterNode {
    pub(super) fn start(opts: &ClusterOptions, creds: Option<&Credentials>) -> ClusterNode {
        let bin = process::valkey_binary();
        launch("cluster node", || {
            let port = free_port();
            let cluster_port = free_port();
            let dir = ScratchDir::new("servers");
            let mut args = base_args(&dir);
            for (k, v) in [
                ("--port", port.to_string()),
                ("--cluster-enabled", "yes".into()),
                ("--cluster-port", cluster_port.to_string()),
                ("--cluster-config-file", "nodes.conf".into()),
                ("--cluster-node-timeout", opts.node_timeout_ms.to_string()),
                ("--cluster-replica-validity-factor", "0".into()),
                ("--cluster-allow-replica-migration", "no".into()),
                ("--repl-diskless-sync", "yes".into()),
                ("--repl-diskless-sync-delay", "0".into()),
            ] {
                args.extend([k.to_string(), v]);
            }
            match &opts.user {
                Some((name, password)) => {
                    args.extend(
                        ["--user", name, "on", &format!(">{password}"), "~*", "&*", "+@all"]
                            .map(String::from),
                    );
                    args.extend(["--user", "default", "off"].map(String::from));
                    args.extend(["--masteruser", name, "--masterauth", password].map(String::from));
                }
                None => args.extend(["--protected-mode", "no"].map(String::from)),
            }
            args.extend(opts.args.iter().cloned());
            let process = Process::spawn(&bin, args, dir)?;
            let pid = process.pid();
            process.wait_ready(READY_TIMEOUT, || answers_ping(port, creds, pid))?;
            let mut node =
                ClusterNode { process, port, cluster_port, id: String::new(), creds: creds.cloned() };
            node.id = node.client().cmd_text(&["CLUSTER", "MYID"]);
            Ok(node)
        })
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster bus port.
    pub fn cluster_port(&self) -> u16 {
        self.cluster_port
    }

    /// The node id (40 hex characters; kept across restarts by `nodes.conf`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pid (the latest one after a restart).
    pub fn pid(&self) -> u32 {
        self.process.pid()
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

    /// The scratch dir (`--dir`, holding `nodes.conf` and `server.log`).
    pub fn dir(&self) -> &Path {
        self.process.dir()
    }

    /// The last lines of the node's log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// True while the process runs.
    pub fn is_running(&self) -> bool {
        self.process.is_running()
    }

    /// The node's role right now (asked with `ROLE`); `Down` when not running or not answering.
    pub fn role(&self) -> Role {
        if !self.is_running() {
            return Role::Down;
        }
        let Ok(mut c) = self.try_client() else { return Role::Down };
        match c.call(&["ROLE"]) {
            Ok(Reply::Array(items)) => match items.first().and_then(Reply::as_text).as_deref() {
                Some("master") => Role::Primary,
                Some("slave") => Role::Replica,
                _ => Role::Down,
            },
            _ => Role::Down,
        }
    }

    /// For a replica: the port of the primary it replicates (from `INFO replication`).
    pub fn primary_port(&self) -> Option<u16> {
        let mut c = self.try_client().ok()?;
        let info = parse_info(&c.call(&["INFO", "replication"]).ok()?.as_text()?);
        let field = |name: &str| info.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        if field("role")? != "slave" {
            return None;
        }
        field("master_port")?.parse().ok()
    }

    /// A harness client, logged in when needed. Panics when that fails.
    #[track_caller]
    pub fn client(&self) -> Client {
        self.try_client().unwrap_or_else(|e| panic!("client for cluster node {}: {e}", self.addr()))
    }

    /// A harness client, logged in when needed.
    pub fn try_client(&self) -> std::io::Result<Client> {
        let mut c = Client::connect(self.addr())?;
        if let Some(creds) = &self.creds {
            let reply = creds.login(&mut c)?;
            if !reply.is_ok() {
                return Err(std::io::Error::other(format!("AUTH refused: {reply:?}")));
            }
        }
        Ok(c)
    }
}
