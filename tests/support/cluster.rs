//! A real Valkey cluster for tests (`Cluster`): 3 primaries + 3 replicas by default, each node on
//! free ports (client port and `cluster-port`) in its own scratch dir, formed by the harness's own
//! blocking client: `CLUSTER ADDSLOTSRANGE`, `CLUSTER MEET`, `CLUSTER REPLICATE`, then a wait until
//! every node agrees and every replica is in sync.
//!
//! Faults: `kill_node`, `restart_node` (same port and dir, so `nodes.conf` brings it back into the
//! cluster), `failover` (a manual `CLUSTER FAILOVER`), and `wait_ok` to wait for convergence.
//! Replicas may always fail over (`cluster-replica-validity-factor 0`) and never migrate.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

pub use super::cluster_node::{ClusterNode, Role};
use super::resp_client::Client;
use super::server::{answers_ping, Credentials};

/// How long forming the cluster, a failover, or `wait_ok` may take.
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(60);

/// Number of hash slots.
pub const SLOTS: u16 = 16384;

/// Who serves which slots, as one node sees it: `(first, last, node id)`.
type SlotOwners = BTreeSet<(u16, u16, String)>;

/// Options for [`Cluster::start_with`].
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Primaries (each gets an equal share of the slots). Default 3.
    pub primaries: usize,
    /// Replicas of each primary. Default 1.
    pub replicas_per_primary: usize,
    /// `cluster-node-timeout` in milliseconds: how soon a dead node is failed over. Default 2000.
    pub node_timeout_ms: u64,
    /// An ACL user and password on every node (the default user is switched off; replicas
    /// authenticate to their primary with it).
    pub user: Option<(String, String)>,
    /// Extra command-line arguments for every node.
    pub args: Vec<String>,
}

impl Default for ClusterOptions {
    fn default() -> ClusterOptions {
        ClusterOptions {
            primaries: 3,
            replicas_per_primary: 1,
            node_timeout_ms: 2000,
            user: None,
            args: Vec::new(),
        }
    }
}

/// One line of `CLUSTER NODES`, as one node sees another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    /// Node id.
    pub id: String,
    /// Client port.
    pub port: u16,
    /// Flags (`myself`, `master`, `slave`, `fail?`, `fail`, `handshake`, `noaddr`, ...).
    pub flags: Vec<String>,
    /// The primary's id, for a replica.
    pub primary: Option<String>,
    /// Slot ranges served (inclusive), for a primary.
    pub slots: Vec<(u16, u16)>,
}

impl NodeView {
    /// True when the flags include `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Parses `CLUSTER NODES` output. Lines that do not parse are skipped; importing/migrating
/// markers (`[slot->-id]`) are ignored.
pub fn parse_cluster_nodes(text: &str) -> Vec<NodeView> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let id = f.next()?.to_string();
            let addr = f.next()?;
            let hostport = addr.split('@').next()?;
            let port = hostport.rsplit(':').next()?.parse().ok()?;
            let flags = f.next()?.split(',').map(String::from).collect();
            let primary = f.next().filter(|m| *m != "-").map(String::from);
            let rest: Vec<&str> = f.skip(4).collect();
            let slots = rest
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|n| (n, n)),
                })
                .collect();
            Some(NodeView { id, port, flags, primary, slots })
        })
        .collect()
}

/// The slot ranges for `n` primaries, split the way `valkey-cli --cluster create` does
/// (for 3: 0-5460, 5461-10922, 10923-16383).
pub fn slot_ranges(n: usize) -> Vec<(u16, u16)> {
    let per = f64::from(SLOTS) / n as f64;
    let mut first = 0u16;
    let mut cursor = 0f64;
    (0..n)
        .map(|i| {
            let last = if i + 1 == n { SLOTS - 1 } else { (cursor + per - 1.0).round() as u16 };
            let range = (first, last);
            first = last + 1;
            cursor += per;
            range
        })
        .collect()
}

/// The value of `field` in parsed `INFO` output.
fn field_of(info: &[(String, String)], field: &str) -> Option<String> {
    info.iter().find(|(k, _)| k == field).map(|(_, v)| v.clone())
}

/// A running cluster; every node is killed (and its dir removed) on drop.
pub struct Cluster {
    nodes: Vec<ClusterNode>,
    opts: ClusterOptions,
}

impl Cluster {
    /// 3 primaries + 3 replicas, node timeout 2 s, no auth.
    pub fn start() -> Cluster {
        Cluster::start_with(ClusterOptions::default())
    }

    /// A cluster with `opts`; returns once it is formed and in sync. Panics (with the reason and
    /// the nodes' log tails) when that takes over 60 s.
    pub fn start_with(opts: ClusterOptions) -> Cluster {
        assert!(opts.primaries >= 1, "a cluster needs at least one primary");
        let creds =
            opts.user.as_ref().map(|(u, p)| Credentials { username: Some(u.clone()), password: p.clone() });
        let total = opts.primaries * (1 + opts.replicas_per_primary);
        let nodes: Vec<ClusterNode> = (0..total).map(|_| ClusterNode::start(&opts, creds.as_ref())).collect();
        let cluster = Cluster { nodes, opts };
        cluster.form();
        cluster
    }

    fn form(&self) {
        let primaries = &self.nodes[..self.opts.primaries];
        for (node, (first, last)) in primaries.iter().zip(slot_ranges(self.opts.primaries)) {
            let reply =
                node.client().cmd(&["CLUSTER", "ADDSLOTSRANGE", &first.to_string(), &last.to_string()]);
            assert!(reply.is_ok(), "CLUSTER ADDSLOTSRANGE {first} {last} on {}: {reply:?}", node.addr());
        }
        let mut first = self.nodes[0].client();
        for node in &self.nodes[1..] {
            let reply = first.cmd(&[
                "CLUSTER",
                "MEET",
                "127.0.0.1",
                &node.port.to_string(),
                &node.cluster_port.to_string(),
            ]);
            assert!(reply.is_ok(), "CLUSTER MEET {}: {reply:?}", node.addr());
        }
        let total = self.nodes.len();
        self.wait("every node to know every other node", true, || {
            for node in &self.nodes {
                let view = self.view_of(node)?;
                let known = view
                    .iter()
                    .filter(|v| !v.has_flag("handshake") && !v.has_flag("noaddr") && !v.id.is_empty())
                    .count();
                if known != total {
                    return Err(format!("{} knows {known} of {total} nodes", node.addr()));
                }
            }
            Ok(())
        });
        for (i, replica) in self.nodes[self.opts.primaries..].iter().enumerate() {
            let primary = &self.nodes[i % self.opts.primaries];
            self.wait("CLUSTER REPLICATE to be accepted", true, || {
                match replica.client().cmd(&["CLUSTER", "REPLICATE", &primary.id]) {
                    r if r.is_ok() => Ok(()),
                    r => Err(format!("CLUSTER REPLICATE on {}: {r:?}", replica.addr())),
                }
            });
        }
        self.wait("the cluster to be formed", true, || {
            for node in &self.nodes {
                let known = self.info_field(node, "cluster", "cluster_known_nodes")?;
                if known != total.to_string() {
                    return Err(format!("{} has cluster_known_nodes:{known}", node.addr()));
                }
                let view = self.view_of(node)?;
                for (i, replica) in self.nodes[self.opts.primaries..].iter().enumerate() {
                    let primary = &self.nodes[i % self.opts.primaries];
                    let seen = view.iter().find(|v| v.id == replica.id);
                    if !seen.is_some_and(|v| v.has_flag("slave") && v.primary.as_deref() == Some(&primary.id))
                    {
                        return Err(format!(
                            "{} does not see {} as replica of {}",
                            node.addr(),
                            replica.addr(),
                            primary.addr()
                        ));
                    }
                }
            }
            self.check_ok()
        });
    }

    /// Retries `check` every 50 ms until it is `Ok`; panics with the last reason and every node's
    /// log tail after [`CLUSTER_TIMEOUT`], or at once when no node (or, if `all`, some node) is
    /// running, since waiting cannot help then.
    fn wait(&self, what: &str, all: bool, mut check: impl FnMut() -> Result<(), String>) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        let reason = loop {
            let running = self.nodes.iter().filter(|n| n.is_running()).count();
            if running == 0 || (all && running < self.nodes.len()) {
                break format!("only {running} of {} nodes are running", self.nodes.len());
            }
            match check() {
                Ok(()) => return,
                Err(reason) if Instant::now() >= deadline => {
                    break format!("timed out after {CLUSTER_TIMEOUT:?}: {reason}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let logs: String = self
            .nodes
            .iter()
            .map(|n| format!("=== node {} (id {}) ===\n{}", n.addr(), n.id, n.log_tail()))
            .collect();
        panic!("cluster: waiting for {what}: {reason}\n{logs}");
    }

    fn view_of(&self, node: &ClusterNode) -> Result<Vec<NodeView>, String> {
        let mut c = node.try_client().map_err(|e| format!("{}: {e}", node.addr()))?;
        let reply = c.call(&["CLUSTER", "NODES"]).map_err(|e| format!("{}: {e}", node.addr()))?;
        let text = reply.as_text().filter(|_| !reply.is_error());
        Ok(parse_cluster_nodes(&text.ok_or_else(|| format!("CLUSTER NODES on {}: {reply:?}", node.addr()))?))
    }

    /// `CLUSTER INFO` (section `"cluster"`) or `INFO <section>`, as `field -> value` pairs.
    fn info(&self, node: &ClusterNode, section: &str) -> Result<Vec<(String, String)>, String> {
        let mut c = node.try_client().map_err(|e| format!("{}: {e}", node.addr()))?;
        let reply =
            if section == "cluster" { c.call(&["CLUSTER", "INFO"]) } else { c.call(&["INFO", section]) }
                .map_err(|e| format!("{}: {e}", node.addr()))?;
        match reply.as_text() {
            Some(text) if !reply.is_error() => Ok(super::resp_client::parse_info(&text)),
            _ => Err(format!("INFO {section} on {}: {reply:?}", node.addr())),
        }
    }

    fn info_field(&self, node: &ClusterNode, section: &str, field: &str) -> Result<String, String> {
        field_of(&self.info(node, section)?, field).ok_or_else(|| format!("{} has no {field}", node.addr()))
    }

    /// `Ok` when the running nodes form a usable cluster: every one says `cluster_state:ok`, all
    /// agree who serves which slots, every slot is served by a running node, and every replica of
    /// a running primary has its link up and no sync in progress.
    fn check_ok(&self) -> Result<(), String> {
        let mut agreed: Option<(String, SlotOwners)> = None;
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let state = self.info_field(node, "cluster", "cluster_state")?;
            if state != "ok" {
                return Err(format!("{} has cluster_state:{state}", node.addr()));
            }
            let owners: SlotOwners = self
                .view_of(node)?
                .into_iter()
                .filter(|v| v.has_flag("master") && !v.has_flag("fail"))
                .flat_map(|v| v.slots.iter().map(|&(a, b)| (a, b, v.id.clone())).collect::<Vec<_>>())
                .collect();
            match &agreed {
                None => agreed = Some((node.addr(), owners)),
                Some((who, first)) if *first != owners => {
                    return Err(format!("{} and {who} disagree about slot owners", node.addr()))
                }
                Some(_) => {}
            }
        }
        let Some((_, owners)) = agreed else { return Err("no node is running".into()) };
        let mut covered = 0u32;
        for (first, last, id) in &owners {
            covered += u32::from(last - first) + 1;
            if !self.nodes.iter().any(|n| n.id == *id && n.is_running()) {
                return Err(format!("slots {first}-{last} are served by {id}, which is down"));
            }
        }
        if covered != u32::from(SLOTS) {
            return Err(format!("{covered} of {SLOTS} slots are served"));
        }
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let info = self.info(node, "replication")?;
            let field = |name: &str| field_of(&info, name).unwrap_or_default();
            if field("role") != "slave" {
                continue;
            }
            let primary_port = field("master_port");
            let primary_up = self.nodes.iter().any(|n| n.port.to_string() == primary_port && n.is_running());
            let (link, syncing) = (field("master_link_status"), field("master_sync_in_progress"));
            if primary_up && (link != "up" || syncing != "0") {
                return Err(format!(
                    "replica {} of port {primary_port}: master_link_status:{link} master_sync_in_progress:{syncing}",
                    node.addr()
                ));
            }
        }
        Ok(())
    }

    /// Waits (up to 60 s) until the running nodes form a usable cluster again: `cluster_state:ok`
    /// everywhere, one agreed slot map, every slot on a running primary, replicas in sync.
    pub fn wait_ok(&self) {
        self.wait("the cluster to be ok", false, || self.check_ok());
    }

    /// Every node, in start order (primaries first, then replicas, as formed).
    pub fn nodes(&self) -> &[ClusterNode] {
        &self.nodes
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &ClusterNode {
        &self.nodes[i]
    }

    /// The running nodes whose role is primary right now.
    pub fn primaries(&self) -> Vec<&ClusterNode> {
        self.nodes.iter().filter(|n| n.role() == Role::Primary).collect()
    }

    /// The running nodes whose role is replica right now.
    pub fn replicas(&self) -> Vec<&ClusterNode> {
        self.nodes.iter().filter(|n| n.role() == Role::Replica).collect()
    }

    /// The URL of every node, to seed a cluster client.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.iter().map(ClusterNode::url).collect()
    }

    /// A client to the first running node.
    pub fn client(&self) -> Client {
        self.nodes
            .iter()
            .find(|n| n.is_running())
            .map(ClusterNode::client)
            .unwrap_or_else(|| panic!("cluster: no node is running"))
    }

    /// `CLUSTER KEYSLOT key`, asked of a running node.
    pub fn slot_of(&self, key: &str) -> u16 {
        let reply = self.client().cmd(&["CLUSTER", "KEYSLOT", key]);
        let slot = reply.as_int().unwrap_or_else(|| panic!("CLUSTER KEYSLOT {key}: {reply:?}"));
        u16::try_from(slot).unwrap_or_else(|_| panic!("CLUSTER KEYSLOT {key}: {slot} is not a slot"))
    }

    /// The node serving `slot`, as the first running node sees it. Call after [`Cluster::wait_ok`].
    pub fn primary_for_slot(&self, slot: u16) -> &ClusterNode {
        let runner = self
            .nodes
            .iter()
            .find(|n| n.is_running())
            .unwrap_or_else(|| panic!("cluster: no node is running"));
        let view = self.view_of(runner).unwrap_or_else(|e| panic!("cluster: {e}"));
        let owner = view
            .iter()
            .find(|v| {
                v.has_flag("master")
                    && !v.has_flag("fail")
                    && v.slots.iter().any(|&(a, b)| a <= slot && slot <= b)
            })
            .unwrap_or_else(|| panic!("cluster: nobody serves slot {slot} according to {}", runner.addr()));
        self.nodes
            .iter()
            .find(|n| n.id == owner.id)
            .unwrap_or_else(|| panic!("cluster: slot {slot} is served by unknown node {}", owner.id))
    }

    /// A running replica of `primary` (asked of each node with `INFO replication`), if any.
    pub fn replica_of(&self, primary: &ClusterNode) -> Option<&ClusterNode> {
        self.replicas_of(primary).into_iter().next()
    }

    /// Every running replica of `primary`.
    pub fn replicas_of(&self, primary: &ClusterNode) -> Vec<&ClusterNode> {
        self.nodes
            .iter()
            .filter(|n| n.port != primary.port && n.is_running() && n.primary_port() == Some(primary.port))
            .collect()
    }

    /// SIGKILL node `i` (its slots fail over to a replica after the node timeout).
    pub fn kill_node(&self, i: usize) {
        self.nodes[i].process.kill();
    }

    /// SIGTERM node `i` (a clean shutdown).
    pub fn stop_node(&self, i: usize) {
        self.nodes[i].process.stop();
    }

    /// Starts node `i` again (same ports, same dir, so `nodes.conf` rejoins it) and waits until it
    /// answers PING. Call [`Cluster::wait_ok`] to wait for the cluster to take it back.
    pub fn restart_node(&self, i: usize) {
        let node = &self.nodes[i];
        let what = format!("cluster node {}", node.addr());
        node.process.restart(&what, |pid| answers_ping(node.port, node.creds.as_ref(), pid));
    }

    /// Promotes `replica` with `CLUSTER FAILOVER` and waits until it is a primary, its old primary
    /// (if running) has become its replica, and the cluster is ok.
    pub fn failover(&self, replica: &ClusterNode) {
        let old_primary_port =
            replica.primary_port().unwrap_or_else(|| panic!("cluster: {} is not a replica", replica.addr()));
        let old_primary = self.nodes.iter().find(|n| n.port == old_primary_port);
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        'attempt: loop {
            let reply = replica.client().cmd(&["CLUSTER", "FAILOVER"]);
            assert!(reply.is_ok(), "CLUSTER FAILOVER on {}: {reply:?}", replica.addr());
            // A manual failover that has not happened in 10 s was abandoned: ask again.
            let attempt_deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < attempt_deadline.min(deadline) {
                assert!(replica.is_running(), "cluster: {} died during its failover", replica.addr());
                let swapped = replica.role() == Role::Primary
                    && old_primary.is_none_or(|p| !p.is_running() || p.primary_port() == Some(replica.port));
                if swapped {
                    break 'attempt;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if Instant::now() >= deadline {
                panic!("cluster: failover of {} did not happen within {CLUSTER_TIMEOUT:?}", replica.addr());
            }
        }
        self.wait_ok();
    }
}
