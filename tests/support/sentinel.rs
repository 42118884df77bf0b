//! A sentinel-monitored Valkey (`SentinelGroup`): 1 master + 1 replica + 3 sentinels on free
//! loopback ports, the master and replica with an ACL data user, the sentinels with an ACL user
//! of their own.
//!
//! The sentinels are the same `valkey-server` binary started with `--sentinel` and a generated,
//! writable config file in their scratch dir (sentinels rewrite it as they learn the topology):
//! `sentinel monitor mymaster 127.0.0.1 <port> 2`, `down-after-milliseconds 1000`,
//! `failover-timeout 5000`, so a killed master is replaced within seconds. `start` returns only
//! once every sentinel sees the master, the replica and the two other sentinels (a failover needs
//! them). Every process is killed by pid on drop (see `process`); the config file path on the
//! command line lets `scripts/test` find strays.

use std::time::{Duration, Instant};

use super::ports::free_port;
use super::process::{launch, valkey_binary, Process, StartError, READY_TIMEOUT};
use super::resp_client::{Client, Reply};
use super::scratch::ScratchDir;
use super::server::{Server, ServerOptions};

/// The monitored service's name.
pub const SERVICE: &str = "mymaster";
/// The data user on master and replica (the default user is off).
pub const DATA_USER: (&str, &str) = ("stalwart", "data-pw");
/// The sentinels' ACL user (their default user is off).
pub const SENTINEL_USER: (&str, &str) = ("watcher", "sentinel-pw");

/// How long the sentinels get to see each other and the replica.
const FORMED_TIMEOUT: Duration = Duration::from_secs(30);

/// One sentinel process.
pub struct Sentinel {
    process: Process,
    port: u16,
}

impl Sentinel {
    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A harness client logged in as [`SENTINEL_USER`]; `None` when the sentinel does not answer.
    pub fn try_client(&self) -> Option<Client> {
        let mut c = Client::connect_timeout(("127.0.0.1", self.port), Duration::from_secs(1)).ok()?;
        c.set_timeout(Duration::from_secs(2)).ok()?;
        let reply = c.auth(Some(SENTINEL_USER.0), SENTINEL_USER.1).ok()?;
        reply.is_ok().then_some(c)
    }

    /// The master's port as this sentinel names it.
    pub fn master_port(&self) -> Option<u16> {
        let reply = self.try_client()?.call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE]).ok()?;
        reply.as_array()?.get(1)?.as_text()?.parse().ok()
    }

    /// `SENTINEL MASTER mymaster` as field/value pairs.
    pub fn master_info(&self) -> Vec<(String, String)> {
        let Some(mut c) = self.try_client() else { return Vec::new() };
        let Ok(reply) = c.call(&["SENTINEL", "MASTER", SERVICE]) else { return Vec::new() };
        let items = reply.as_array().unwrap_or_default();
        items.chunks(2).filter_map(|kv| Some((kv.first()?.as_text()?, kv.get(1)?.as_text()?))).collect()
    }

    /// The last lines of the sentinel log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// SIGKILL, and wait for the exit.
    pub fn kill(&self) {
        self.process.kill();
    }
}

/// 1 master + 1 replica + 3 sentinels.
pub struct SentinelGroup {
    nodes: Vec<Server>,
    sentinels: Vec<Sentinel>,
}

impl SentinelGroup {
    /// Starts the servers, then the sentinels, and waits until the sentinels are formed. Panics
    /// (with logs) when that does not happen in time.
    pub fn start() -> SentinelGroup {
        let master = Server::start_with(ServerOptions::new().user(DATA_USER.0, DATA_USER.1));
        let replica = Server::start_with(ServerOptions::new().user(DATA_USER.0, DATA_USER.1).args([
            "--replicaof".to_string(),
            "127.0.0.1".to_string(),
            master.port().to_string(),
            "--masteruser".to_string(),
            DATA_USER.0.to_string(),
            "--masterauth".to_string(),
            DATA_USER.1.to_string(),
        ]));
        wait_for("the replica to sync", Duration::from_secs(20), || {
            replica.client().info_field("replication", "master_link_status").as_deref() == Some("up")
        });
        let sentinels = (0..3).map(|_| start_sentinel(master.port())).collect();
        let group = SentinelGroup { nodes: vec![master, replica], sentinels };
        group.wait_formed();
        group
    }

    fn wait_formed(&self) {
        let deadline = Instant::now() + FORMED_TIMEOUT;
        loop {
            let formed = self.sentinels.iter().all(|s| {
                let info = s.master_info();
                let get = |k: &str| info.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
                get("num-other-sentinels").as_deref() == Some("2")
                    && get("num-slaves").as_deref() == Some("1")
                    && get("flags").as_deref() == Some("master")
            });
            if formed {
                return;
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = self.sentinels.iter().map(Sentinel::log_tail).collect();
                panic!("the sentinels did not form within {FORMED_TIMEOUT:?}:\n{}", logs.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The data servers: `[0]` started as master, `[1]` as its replica.
    pub fn nodes(&self) -> &[Server] {
        &self.nodes
    }

    /// The sentinels.
    pub fn sentinels(&self) -> &[Sentinel] {
        &self.sentinels
    }

    /// `redis://127.0.0.1:<port>` of each sentinel, without credentials.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels.iter().map(|s| format!("redis://127.0.0.1:{}", s.port)).collect()
    }

    /// The master's port as the first answering sentinel names it.
    pub fn master_port(&self) -> Option<u16> {
        self.sentinels.iter().find_map(Sentinel::master_port)
    }

    /// The data server listening on `port`.
    pub fn node_on(&self, port: u16) -> Option<&Server> {
        self.nodes.iter().find(|n| n.port() == port)
    }

    /// Polls the sentinels until one names a master other than `old`, and returns it. Panics
    /// after `timeout`.
    pub fn wait_for_new_master(&self, old: u16, timeout: Duration) -> u16 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(port) = self.sentinels.iter().filter_map(Sentinel::master_port).find(|p| *p != old) {
                return port;
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = self.sentinels.iter().map(Sentinel::log_tail).collect();
                panic!("no new master within {timeout:?}:\n{}", logs.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The RedisSentinel store JSON for this group: the sentinels' URLs, the data user and its
    /// password from `authSecret`, the sentinel user and its password from `sentinelSecret`.
    pub fn store_json(&self, timeout: &str) -> String {
        serde_json::json!({
            "@type": "RedisSentinel",
            "urls": self.sentinel_urls(),
            "serviceName": SERVICE,
            "timeout": timeout,
            "authUsername": DATA_USER.0,
            "authSecret": {"@type": "Value", "secret": DATA_USER.1},
            "sentinelUsername": SENTINEL_USER.0,
            "sentinelSecret": {"@type": "Value", "secret": SENTINEL_USER.1},
            "poolMaxConnections": 4,
        })
        .to_string()
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The sentinel's config file: everything a sentinel needs, in its scratch dir.
fn sentinel_config(dir: &ScratchDir, port: u16, master_port: u16) -> String {
    let d = dir.path().display();
    let (user, pw) = SENTINEL_USER;
    let (data_user, data_pw) = DATA_USER;
    format!(
        "port {port}\n\
         bind 127.0.0.1\n\
         daemonize no\n\
         set-proc-title no\n\
         dir {d}\n\
         logfile {d}/server.log\n\
         user default off\n\
         user {user} on >{pw} ~* &* +@all\n\
         sentinel sentinel-user {user}\n\
         sentinel sentinel-pass {pw}\n\
         sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n\
         sentinel down-after-milliseconds {SERVICE} 1000\n\
         sentinel failover-timeout {SERVICE} 5000\n\
         sentinel parallel-syncs {SERVICE} 1\n\
         sentinel auth-user {SERVICE} {data_user}\n\
         sentinel auth-pass {SERVICE} {data_pw}\n"
    )
}

fn start_sentinel(master_port: u16) -> Sentinel {
    let bin = valkey_binary();
    launch("sentinel", || {
        let port = free_port();
        let dir = ScratchDir::new("sentinels");
        let config = dir.join("sentinel.conf");
        std::fs::write(&config, sentinel_config(&dir, port, master_port))
            .map_err(|e| StartError::Failed(format!("cannot write {}: {e}", config.display())))?;
        let args = vec![config.display().to_string(), "--sentinel".to_string()];
        let process = Process::spawn(&bin, args, dir)?;
        let sentinel = Sentinel { process, port };
        sentinel.process.wait_ready(READY_TIMEOUT, || {
            sentinel
                .try_client()
                .is_some_and(|mut c| c.call(&["PING"]).is_ok_and(|r| r == Reply::Simple("PONG".into())))
        })?;
        Ok(sentinel)
    })
}
