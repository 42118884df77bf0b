//! The cluster router: per-node connections, the slot map, redirects and retries.
//!
//! Split by job: this file is the send loop (one [`RetryAction`] per failed
//! attempt says what to do next); `registry` holds the node entries, `refresh`
//! the topology refresh task and map installs, `lifetime` `close()` and RESP3
//! push.
//!
//! One GET: [`plan`] finds the slot, the current `Routing`
//! (slot map + one multiplexed connection per node, swapped whole on every
//! topology change, read lock-free) gives the node, and the command is queued
//! on its live connection while that snapshot is held; the first attempt runs
//! inline, everything after it (connecting, redirects, retries) in a boxed
//! future, so the common path's future stays small. A failed attempt is
//! classified by the pure [`classify`]: MOVED patches the
//! slot and resends at once (and schedules a refresh), ASK sends
//! `ASKING` + the command as one pipeline to the importing node, TRYAGAIN /
//! CLUSTERDOWN / LOADING / MASTERDOWN back off with jitter, READONLY and dead
//! nodes refresh the map and retry, everything else returns. Each command
//! stops after `max_retries` attempts or its deadline, whichever comes first.
//!
//! Topology refresh is one background task: requests are coalesced (a burst
//! of MOVEDs causes one refresh), spaced by at least `min_refresh_gap`, and
//! also run every `refresh_interval`. A refresh asks up to three nodes for
//! `CLUSTER SHARDS` (`CLUSTER SLOTS` when that fails), keeps the view most of
//! them agree on, and keeps the old map when none answers.
//!
//! Bounded nodes: the router holds connections only to the nodes of the
//! current topology and to recent redirect targets, at most `max_nodes`
//! ([`NodeSet`]). A MOVED to a node the map does not know is followed but
//! does not add the node to the map (the refresh it triggers does, if the
//! cluster agrees), so a confused or hostile node cannot grow the map.
//! Commands that would change the state of a shared connection (SUBSCRIBE,
//! MULTI, SELECT ...) are refused before routing; blocking ones go to a
//! pooled connection of their node, after `ASKING` on that same connection
//! when redirected by ASK.
//!
//! Lifetime: [`ClusterClient::close`] stops the refresh task and closes
//! every node's connections, waiting for their tasks. Push frames (RESP3):
//! every node's multiplexed connection feeds one [`crate::push`] hub, so
//! `CLIENT TRACKING` invalidations arrive from every node; push links for
//! keyspace notifications follow the primaries of each installed map.
//!
//! Replica reads (off unless asked: `read_from_replicas`): read-only commands go round-robin to healthy replicas of
//! the slot's shard (connections opened with `READONLY`), except when the
//! replica looks down or lags far behind, and for slots this client wrote to
//! within `read_your_writes_window` (so its own writes are always visible).
//! Not here: the pure routing decisions (`slot`, `keys`, `split`,
//! `topology`, `redirect`).

mod lifetime;
mod refresh;
mod registry;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::Notify;

use super::fetch::{fetch_topology, node_options};
use super::nodes::NodeSet;
use super::topology::{Health, SlotMap};
use super::{
    classify, is_retry_safe, merge, merge_fan_out, plan, CommandInfo, RetryAction, RetryPolicy, Target,
};
use crate::cmd::{cmd, Cmd, FromReply};
use crate::conn::{ConnectOptions, Reconnecting};
use crate::error::{connect_failure, Error, NodeAddr};
use crate::pool::{Pool, PoolOptions};
use crate::resp::Frame;

/// Settings of a [`ClusterClient`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Seed nodes (Stalwart's `urls`); any of them may be down. The first
    /// one's credentials, TLS, protocol and timeouts apply to every node.
    pub seeds: Vec<ConnectOptions>,
    /// Retries of redirects and transient errors.
    pub retry: RetryPolicy,
    /// Send read-only commands to replicas. Default `false`: a general
    /// client reads what it wrote from primaries unless asked; the store
    /// sets it from Stalwart's `readFromReplicas` (whose default is true).
    pub read_from_replicas: bool,
    /// After this client writes to a slot, read that slot from its primary
    /// for `read_your_writes_window`, so its own writes are always visible.
    pub read_your_writes: bool,
    /// How long reads of a freshly written slot stay on the primary.
    pub read_your_writes_window: Duration,
    /// A replica further behind its primary than this (replication offset,
    /// in bytes) is not read from.
    pub max_replica_lag: i64,
    /// Periodic topology refresh.
    pub refresh_interval: Duration,
    /// Least time between two refreshes, however many are asked for.
    pub min_refresh_gap: Duration,
    /// Bound on one command's retries in time (besides `retry.max_retries`).
    pub request_deadline: Duration,
    /// Pools of exclusive connections per node (blocking commands).
    pub pool: PoolOptions,
    /// Most nodes the router holds connections to at once (each has one
    /// multiplexed connection and a pool): the topology's nodes plus recent
    /// redirect targets. A topology naming more is not installed (the old
    /// map stays); a redirect past it fails with [`Error::TooManyNodes`].
    /// Default 1000, the cluster specification's suggested maximum size.
    pub max_nodes: usize,
    /// A client-side cache (see [`crate::cache`]); `None` (the default)
    /// for none. With a cache, reads go to primaries (`read_from_replicas`
    /// is ignored): a cached read is served locally anyway, and tracking a
    /// key on the node that takes its writes keeps invalidations prompt.
    pub cache: Option<crate::cache::CacheOptions>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            seeds: Vec::new(),
            retry: RetryPolicy::default(),
            read_from_replicas: false,
            read_your_writes: true,
            read_your_writes_window: Duration::from_secs(2),
            max_replica_lag: 16 * 1024 * 1024,
            refresh_interval: Duration::from_secs(60),
            min_refresh_gap: Duration::from_millis(100),
            request_deadline: Duration::from_secs(20),
            pool: PoolOptions::default(),
            max_nodes: 1000,
            cache: None,
        }
    }
}

/// A connection to one node: multiplexed for ordinary commands, a pool for blocking ones.
#[derive(Clone, Debug)]
struct NodeConn {
    addr: NodeAddr,
    conn: Reconnecting,
    pool: Pool,
    /// The cache's view of `conn`'s tracking, with a cache.
    source: Option<Arc<crate::cache::Source>>,
}

/// Where [`ClusterClient::send_slot`] sends one attempt.
enum Pick<F> {
    /// Already queued on the node's live connection: the reply.
    Queued(F),
    /// This node, through its handles (connecting first if need be).
    Node(NodeConn),
    /// No node serves the slot in the client's map.
    Unserved,
}

/// The slot map with a connection for every node it names.
struct Routing {
    map: SlotMap,
    /// Per shard index: the primary's connection.
    primaries: Vec<NodeConn>,
    /// Per shard index: replicas that may serve reads.
    replicas: Vec<Vec<NodeConn>>,
}

struct Inner {
    opts: ClusterOptions,
    /// Per-node connection options, built from the first seed.
    template: ConnectOptions,
    /// Read lock-free on every command; replaced whole by `install`.
    routing: ArcSwap<Routing>,
    nodes: std::sync::Mutex<NodeSet<NodeConn>>,
    /// Shared with the refresh task, which holds only a `Weak` to the rest.
    refresh_wanted: Arc<Notify>,
    refresh_pending: AtomicBool,
    refreshes: AtomicU64,
    round_robin: AtomicUsize,
    /// Per slot: when this client last wrote to it, in ms since `epoch` (0 = never).
    last_write: Box<[AtomicU32]>,
    epoch: Instant,
    /// Set once by [`ClusterClient::close`].
    closed: AtomicBool,
    /// The refresh task, taken and awaited by [`ClusterClient::close`].
    refresh_task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Push frames of every node's connection, tracking, push links.
    push: Arc<crate::push::PushState>,
    /// Redirects, retries, and every node connection's reconnects.
    counters: Arc<crate::observe::Counters>,
    /// The client-side cache, when asked for.
    cache: Option<Arc<crate::cache::Cache>>,
}

/// A client for a Redis/Valkey cluster. Clones share everything.
#[derive(Clone)]
pub struct ClusterClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let routing = self.routing();
        f.debug_struct("ClusterClient")
            .field("shards", &routing.map.shards().len())
            .field("version", &routing.map.version())
            .finish()
    }
}

impl ClusterClient {
    /// Connects to the cluster: asks the seeds for the topology (any of them
    /// may be down) and starts the refresh task. Connections to the nodes
    /// are opened on first use.
    ///
    /// # Errors
    /// [`Error::Config`] without seeds; the last seed's error when none
    /// answers with a usable slot map; [`Error::Auth`] at once for bad credentials.
    pub async fn connect(mut opts: ClusterOptions) -> Result<ClusterClient, Error> {
        let cache = opts.cache.clone().map(crate::cache::Cache::new);
        if cache.is_some() {
            opts.read_from_replicas = false;
        }
        let template =
            opts.seeds.first().cloned().ok_or_else(|| Error::Config("no cluster seed URL".into()))?;
        let inner = Arc::new(Inner {
            template,
            routing: ArcSwap::from_pointee(Routing {
                map: empty_map()?,
                primaries: Vec::new(),
                replicas: Vec::new(),
            }),
            nodes: std::sync::Mutex::new(NodeSet::new(opts.max_nodes)),
            refresh_wanted: Arc::new(Notify::new()),
            refresh_pending: AtomicBool::new(false),
            refreshes: AtomicU64::new(0),
            round_robin: AtomicUsize::new(0),
            last_write: (0..super::SLOTS).map(|_| AtomicU32::new(0)).collect(),
            epoch: Instant::now(),
            closed: AtomicBool::new(false),
            refresh_task: std::sync::Mutex::new(None),
            push: Arc::new(crate::push::PushState::default()),
            counters: Arc::default(),
            cache,
            opts,
        });
        let client = ClusterClient { inner };
        let mut last_err = None;
        for seed in &client.inner.opts.seeds {
            match fetch_topology(seed).await {
                Ok(map) => match client.inner.install(map) {
                    Ok(()) => {
                        last_err = None;
                        break;
                    }
                    Err(e) => last_err = Some(e),
                },
                Err(e @ Error::Auth(_)) => return Err(e),
                Err(e) => last_err = Some(e),
            }
        }
        if let Some(e) = last_err {
            return Err(e);
        }
        let task = tokio::spawn(refresh::refresh_task(
            Arc::downgrade(&client.inner),
            client.inner.refresh_wanted.clone(),
        ));
        *client.inner.refresh_task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(client)
    }

    /// A client from seed URLs (see [`crate::url::parse_url`]; any of them
    /// may be down), with default [`ClusterOptions`]: reads from primaries.
    /// The first URL's credentials, TLS and protocol apply to every node.
    ///
    /// # Errors
    /// [`Error::Config`] without URLs, [`Error::Url`] for a bad one,
    /// otherwise as [`ClusterClient::connect`].
    pub async fn open<S: AsRef<str>>(urls: &[S]) -> Result<ClusterClient, Error> {
        let seeds = urls.iter().map(|u| crate::url::parse_url(u.as_ref())).collect::<Result<Vec<_>, _>>()?;
        ClusterClient::connect(ClusterOptions { seeds, ..ClusterOptions::default() }).await
    }

    fn routing(&self) -> Arc<Routing> {
        self.inner.routing.load_full()
    }

    /// How many topology refreshes ran so far (start-up not counted).
    pub fn refresh_count(&self) -> u64 {
        self.inner.refreshes.load(Ordering::Relaxed)
    }

    /// What this client went through since it was created: redirects,
    /// retries, refreshes, and the reconnects of every node's connection
    /// (nodes that left the topology included). A few relaxed loads.
    pub fn stats(&self) -> crate::observe::Stats {
        crate::observe::Stats { topology_refreshes: self.refresh_count(), ..self.inner.counters.snapshot() }
    }

    /// A copy of the current slot map.
    pub fn slot_map(&self) -> SlotMap {
        self.routing().map.clone()
    }

    /// Asks for a topology refresh soon (coalesced with other requests).
    pub fn request_refresh(&self) {
        self.inner.request_refresh();
    }

    /// How many nodes the router holds connections (or pools) for: the
    /// topology's plus recent redirect targets; never more than
    /// [`ClusterOptions::max_nodes`].
    pub fn node_count(&self) -> usize {
        self.inner.lock_nodes().len()
    }

    /// Sends one command to the node(s) it belongs to, following redirects.
    /// Error replies that are not retried come back as frames, as from the
    /// standalone client.
    ///
    /// Multi-key MGET/MSET/DEL/UNLINK/EXISTS/TOUCH across slots are split by
    /// slot, sent in parallel and merged in the caller's order; keyless
    /// commands that must reach every primary (DBSIZE, FLUSHALL, KEYS,
    /// SCRIPT LOAD ...) fan out (see `route::split::FanOut` for how replies
    /// merge); other keyless commands go to a random primary. Blocking
    /// commands go to a pooled connection of their node.
    ///
    /// # Errors
    /// [`Error::CrossSlot`] before sending when the keys of an unsplittable
    /// command span slots; [`Error::NotOnSharedConnection`] before sending
    /// for a command that would change the state of a shared connection
    /// (SUBSCRIBE, MULTI, WATCH, SELECT, READONLY, CLIENT REPLY ...: use the
    /// pub/sub `Subscriber` or a connection of its own);
    /// [`Error::TooManyNodes`] when a redirect names a node past
    /// [`ClusterOptions::max_nodes`]; [`Error::RetriesExhausted`]; connection
    /// errors as the standalone client's (`OutcomeUnknown` only for writes
    /// in flight).
    ///
    /// # Cancel safety
    /// Cancel-safe: an abandoned reply is read and discarded.
    pub async fn send(&self, c: &Cmd) -> Result<Frame, Error> {
        if let Some(cache) = &self.inner.cache {
            return cache.send(&crate::cache::Cluster { client: self }, c, false).await;
        }
        self.send_uncached(c).await
    }

    /// As [`ClusterClient::send`], asking to cache a cacheable read (see
    /// [`crate::Client::send_cached`]).
    ///
    /// # Errors
    /// As [`ClusterClient::send`].
    pub async fn send_cached(&self, c: &Cmd) -> Result<Frame, Error> {
        match &self.inner.cache {
            Some(cache) => cache.send(&crate::cache::Cluster { client: self }, c, true).await,
            None => self.send_uncached(c).await,
        }
    }

    /// The cache's counters, or `None` without a cache.
    pub fn cache_stats(&self) -> Option<crate::cache::CacheStats> {
        self.inner.cache.as_ref().map(|c| c.stats())
    }

    /// With a cache: the keys `cmds` write are invalidated now and again
    /// when the guard drops (after their replies).
    pub(crate) fn own_writes<'a>(&'a self, cmds: &'a [Cmd]) -> Option<crate::cache::Writes<'a>> {
        self.inner.cache.as_ref().map(|c| c.writes(cmds))
    }

    /// With a cache: the keys `cmds` write are invalidated now.
    pub(crate) fn invalidate_own_writes(&self, cmds: &[Cmd]) {
        if let Some(c) = &self.inner.cache {
            c.invalidate_writes(cmds);
        }
    }

    /// The source and connection of `key`'s primary, for the cache.
    pub(crate) fn cache_target(&self, key: &[u8]) -> Option<(Arc<crate::cache::Source>, Reconnecting)> {
        let routing = self.routing();
        let idx = routing.map.shard_index(super::slot::key_slot(key))?;
        let p = routing.primaries.get(idx)?;
        Some((p.source.clone()?, p.conn.clone()))
    }

    /// [`ClusterClient::send`] without the cache.
    pub(crate) async fn send_uncached(&self, c: &Cmd) -> Result<Frame, Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let plan = plan(c)?;
        match plan.target {
            Target::Slot(slot) => self.send_slot(c, slot, &plan.info).await,
            // Boxed, so that the one-slot case's future stays small.
            _ => Box::pin(self.send_planned(c, plan)).await,
        }
    }

    /// A command with a plan other than one slot: any primary, every
    /// primary, or split by slot.
    async fn send_planned(&self, c: &Cmd, plan: crate::route::Plan) -> Result<Frame, Error> {
        match plan.target {
            Target::Slot(slot) => self.send_slot(c, slot, &plan.info).await,
            Target::AnyPrimary => self.send_any(c, &plan.info).await,
            Target::AllPrimaries(policy) => {
                let replies = self.fan_out(c, &plan.info).await?;
                merge_fan_out(policy, replies)
            }
            Target::Split { kind, parts } => {
                let mut set = tokio::task::JoinSet::new();
                for part in parts {
                    let me = self.clone();
                    let info = plan.info;
                    set.spawn(async move {
                        let reply = me.send_slot(&part.cmd, part.slot, &info).await;
                        (part.positions, reply)
                    });
                }
                let mut replies = Vec::new();
                while let Some(joined) = set.join_next().await {
                    let (positions, reply) =
                        joined.map_err(|e| Error::Other(format!("split part failed: {e}")))?;
                    replies.push((positions, reply?));
                }
                merge(kind, replies)
            }
        }
    }

    /// Sends one command and converts its reply.
    ///
    /// # Errors
    /// As [`ClusterClient::send`], plus conversion errors.
    ///
    /// # Cancel safety
    /// As [`ClusterClient::send`].
    pub async fn query<T: FromReply>(&self, c: &Cmd) -> Result<T, Error> {
        T::from_reply(self.send(c).await?)
    }

    /// The current primaries with a connection to each (for per-node SCAN).
    ///
    /// # Errors
    /// [`Error::NoPrimary`] when no primary is known.
    pub async fn primaries(&self) -> Result<Vec<(NodeAddr, Reconnecting)>, Error> {
        let routing = self.routing();
        if routing.primaries.is_empty() {
            return Err(Error::NoPrimary);
        }
        let mut out: Vec<(NodeAddr, Reconnecting)> = Vec::new();
        for (i, p) in routing.primaries.iter().enumerate() {
            let serves = (0..super::SLOTS).any(|s| routing.map.shard_index(s) == Some(i));
            if serves && !out.iter().any(|(a, _)| *a == p.addr) {
                out.push((p.addr.clone(), p.conn.clone()));
            }
        }
        Ok(out)
    }

    /// The connection to the primary serving `slot` (for pub/sub and callers
    /// that drive a node themselves).
    ///
    /// # Errors
    /// [`Error::SlotNotServed`] when the slot is not served.
    pub fn primary_for_slot(&self, slot: u16) -> Result<(NodeAddr, Reconnecting), Error> {
        let routing = self.routing();
        let idx = routing.map.shard_index(slot).ok_or(Error::SlotNotServed { slot })?;
        let p = routing.primaries.get(idx).ok_or(Error::SlotNotServed { slot })?;
        Ok((p.addr.clone(), p.conn.clone()))
    }

    fn now_ms(&self) -> u32 {
        // Wraps after 49 days; comparisons use wrapping arithmetic. Never 0 (= "never written").
        (self.inner.epoch.elapsed().as_millis() as u32).max(1)
    }

    fn note_write(&self, slot: u16) {
        if let Some(w) = self.inner.last_write.get(usize::from(slot)) {
            w.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    fn recently_written(&self, slot: u16) -> bool {
        let Some(w) = self.inner.last_write.get(usize::from(slot)) else { return false };
        let at = w.load(Ordering::Relaxed);
        at != 0 && self.now_ms().wrapping_sub(at) < self.inner.opts.read_your_writes_window.as_millis() as u32
    }

    /// The node to send a slot's command to.
    fn pick<'r>(
        &self,
        routing: &'r Routing,
        slot: u16,
        read_only: bool,
        allow_replica: bool,
    ) -> Option<&'r NodeConn> {
        let idx = routing.map.shard_index(slot)?;
        if read_only
            && allow_replica
            && self.inner.opts.read_from_replicas
            && !(self.inner.opts.read_your_writes && self.recently_written(slot))
        {
            if let Some(replicas) = routing.replicas.get(idx) {
                let healthy: usize = replicas.iter().filter(|r| !r.conn.is_down()).count();
                if healthy > 0 {
                    let n = self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % healthy;
                    if let Some(r) = replicas.iter().filter(|r| !r.conn.is_down()).nth(n) {
                        return Some(r);
                    }
                }
            }
        }
        routing.primaries.get(idx)
    }

    /// Sends a command whose keys are in `slot`, following redirects and
    /// retrying as the policy says. The first attempt, when it can be queued
    /// at once on the node's live connection, runs inline and keeps this
    /// future small (it is moved on every call); anything else (connecting,
    /// redirects, retries, blocking commands) runs in a boxed future.
    async fn send_slot(&self, c: &Cmd, slot: u16, info: &CommandInfo) -> Result<Frame, Error> {
        let read_only = info.is_read_only();
        if !read_only {
            self.note_write(slot);
        }
        let started = Instant::now();
        let first = match self.pick_and_queue(c, slot, info, read_only, true) {
            (Pick::Queued(reply), used_replica) => {
                let result = reply.await;
                if matches!(&result, Ok(f) if !matches!(f, Frame::SimpleError(_) | Frame::BlobError(_))) {
                    return result;
                }
                Some((result, used_replica))
            }
            // Nothing was queued: the loop picks again.
            _ => None,
        };
        Box::pin(self.send_slot_slow(c, slot, info, started, first)).await
    }

    /// Picks the node for `slot` from the routing snapshot (read without a
    /// lock or a reference count) and, unless `c` blocks, queues `c` on its
    /// live connection before the snapshot is let go; only a node without a
    /// live connection (or a blocking command) takes the node's handles
    /// along. Also says whether the node is a replica.
    fn pick_and_queue<'c>(
        &self,
        c: &'c Cmd,
        slot: u16,
        info: &CommandInfo,
        read_only: bool,
        allow_replica: bool,
    ) -> (Pick<impl std::future::Future<Output = Result<Frame, Error>> + Send + 'c>, bool) {
        let routing = self.inner.routing.load();
        match self.pick(&routing, slot, read_only, allow_replica) {
            Some(t) => {
                let used_replica =
                    self.inner.opts.read_from_replicas && routing.map.primary_for_slot(slot) != Some(&t.addr);
                // Blocking commands go to a pooled connection (`send_on`).
                let queued = if info.is_blocking() { None } else { t.conn.try_send(c) };
                match queued {
                    Some(reply) => (Pick::Queued(reply), used_replica),
                    None => (Pick::Node(t.clone()), used_replica),
                }
            }
            None => (Pick::Unserved, false),
        }
    }

    /// [`ClusterClient::send_slot`] from its first attempt's result
    /// (`first`, with whether a replica answered), or from the start.
    async fn send_slot_slow(
        &self,
        c: &Cmd,
        slot: u16,
        info: &CommandInfo,
        started: Instant,
        mut first: Option<(Result<Frame, Error>, bool)>,
    ) -> Result<Frame, Error> {
        let read_only = info.is_read_only();
        let retry_safe = is_retry_safe(c, info);
        let policy = self.inner.opts.retry;
        let mut attempt = 0u32;
        let mut redirect: Option<NodeAddr> = None;
        let mut asking: Option<NodeAddr> = None;
        let mut allow_replica = true;
        loop {
            let mut used_replica = false;
            let result = if let Some((result, replica)) = first.take() {
                used_replica = replica;
                result
            } else if let Some(node) = asking.take() {
                match self.inner.redirect_target(&node) {
                    Ok(target) => self.send_asking(&target, c, info).await,
                    Err(e) => Err(e),
                }
            } else {
                let target = match redirect.take() {
                    Some(node) => match self.inner.redirect_target(&node) {
                        Ok(t) => Pick::Node(t),
                        Err(e) => return Err(e),
                    },
                    None => {
                        let (target, replica) = self.pick_and_queue(c, slot, info, read_only, allow_replica);
                        used_replica = replica;
                        target
                    }
                };
                match target {
                    Pick::Queued(reply) => reply.await,
                    Pick::Node(t) => self.send_on(&t, c, info).await,
                    Pick::Unserved => Err(Error::Server(crate::error::ServerError::from_line(&format!(
                        "CLUSTERDOWN Hash slot {slot} not served (client view)"
                    ))?)),
                }
            };
            let (err, reply) = match result {
                Ok(Frame::SimpleError(e)) | Ok(Frame::BlobError(e)) => {
                    let frame = Frame::SimpleError(e.clone());
                    (Error::Server(e), Some(frame))
                }
                Ok(frame) => return Ok(frame),
                Err(e) => (e, None),
            };
            let action = classify(&err, attempt, &policy, retry_safe, rand::random::<u64>());
            let out_of_time = started.elapsed() >= self.inner.opts.request_deadline;
            crate::observe::retry(&self.inner.counters, &action, &err, slot, attempt, out_of_time);
            if let (Some(cache), RetryAction::Moved { .. } | RetryAction::Ask { .. }) =
                (&self.inner.cache, &action)
            {
                cache.note_redirect();
            }
            match action {
                RetryAction::Moved { slot: moved, node } if !out_of_time => {
                    self.apply_moved(moved, node.clone());
                    redirect = Some(node);
                }
                RetryAction::Ask { node } if !out_of_time => asking = Some(node),
                RetryAction::Backoff(_) | RetryAction::RefreshAndRetry(_) if used_replica && !out_of_time => {
                    // The replica is down, loading or lost its primary: read
                    // from the primary next, at once.
                    allow_replica = false;
                    if matches!(action, RetryAction::RefreshAndRetry(_)) {
                        self.inner.request_refresh();
                    }
                }
                RetryAction::Backoff(wait) if !out_of_time => tokio::time::sleep(wait).await,
                RetryAction::RefreshAndRetry(wait) if !out_of_time => {
                    self.inner.request_refresh();
                    tokio::time::sleep(wait).await;
                }
                RetryAction::Return => {
                    return match reply {
                        Some(frame) => Ok(frame),
                        None => Err(err),
                    };
                }
                _ => {
                    return Err(Error::RetriesExhausted { attempts: attempt + 1, last: Arc::new(err) });
                }
            }
            attempt += 1;
        }
    }

    /// `ASKING` then `c` on one connection of `target`: one pipeline on the
    /// shared connection (nothing can come between them), or two round trips
    /// on a pooled one for a blocking command.
    async fn send_asking(&self, target: &NodeConn, c: &Cmd, info: &CommandInfo) -> Result<Frame, Error> {
        if c.is_blocking() || info.is_blocking() {
            let mut pooled =
                target.pool.get().await.map_err(|e| connect_failure(e, &target.conn.options().describe()))?;
            let asking =
                pooled.send(&cmd("ASKING")).await.map_err(|e| Error::NotSent { cause: Arc::new(e) })?;
            if asking.is_error() {
                return Ok(asking);
            }
            return pooled.send(&c.clone().blocking()).await;
        }
        match target.conn.connection().await {
            Ok(conn) => match conn.send_pipeline(&[cmd("ASKING"), c.clone()]).await {
                Ok(mut frames) => {
                    frames.pop().ok_or(Error::UnexpectedReply { what: "no reply after ASKING" })
                }
                Err(e) => Err(asking_failure(e)),
            },
            Err(e) => Err(connect_failure(e, &target.conn.options().describe())),
        }
    }

    async fn send_on(&self, target: &NodeConn, c: &Cmd, info: &CommandInfo) -> Result<Frame, Error> {
        if c.is_blocking() || info.is_blocking() {
            // A blocking command would stall every caller queued behind it on
            // the shared connection (and trip its response watchdog).
            let mut pooled =
                target.pool.get().await.map_err(|e| connect_failure(e, &target.conn.options().describe()))?;
            return pooled.send(&c.clone().blocking()).await;
        }
        match target.conn.connection().await {
            Ok(conn) => conn.send(c).await,
            Err(e) => Err(connect_failure(e, &target.conn.options().describe())),
        }
    }

    async fn send_any(&self, c: &Cmd, info: &CommandInfo) -> Result<Frame, Error> {
        let routing = self.routing();
        if routing.primaries.is_empty() {
            return Err(Error::NoPrimary);
        }
        // A random slot picks a random primary weighted by the slots it serves.
        let slot = rand::random_range(0..super::SLOTS);
        self.send_slot(c, slot, info).await
    }

    async fn fan_out(&self, c: &Cmd, info: &CommandInfo) -> Result<Vec<Frame>, Error> {
        let routing = self.routing();
        // One representative slot per primary, so each part follows redirects.
        let mut slots: Vec<u16> = Vec::new();
        let mut seen = Vec::new();
        for slot in 0..super::SLOTS {
            if let Some(idx) = routing.map.shard_index(slot) {
                if !seen.contains(&idx) {
                    seen.push(idx);
                    slots.push(slot);
                }
            }
        }
        let mut set = tokio::task::JoinSet::new();
        for (i, slot) in slots.into_iter().enumerate() {
            let me = self.clone();
            let c = c.clone();
            let info = *info;
            set.spawn(async move { (i, me.send_slot(&c, slot, &info).await) });
        }
        let mut replies: Vec<(usize, Frame)> = Vec::new();
        while let Some(joined) = set.join_next().await {
            let (i, reply) = joined.map_err(|e| Error::Other(format!("fan-out part failed: {e}")))?;
            replies.push((i, reply?));
        }
        replies.sort_by_key(|(i, _)| *i);
        Ok(replies.into_iter().map(|(_, f)| f).collect())
    }

    /// Patches the map for a MOVED to a node it knows already; a node it
    /// does not know is only followed (by the caller), and comes in with the
    /// refresh asked for here if the cluster agrees.
    fn apply_moved(&self, slot: u16, node: NodeAddr) {
        let current = self.routing();
        let known = current.map.nodes().contains(&&node);
        if known && current.map.primary_for_slot(slot) != Some(&node) {
            let mut map = current.map.clone();
            if map.apply_moved(slot, node) {
                // Known nodes only: the node count cannot grow, so this cannot fail.
                let _ = self.inner.install(map);
            }
        }
        self.inner.request_refresh();
    }

    /// An exclusive (pooled) connection to the primary serving `slot`, for
    /// `WATCH`-guarded transactions (`pipeline::transaction`).
    pub(crate) async fn pooled_for_slot(&self, slot: u16) -> Result<crate::pool::Pooled, Error> {
        let routing = self.routing();
        let pool = routing
            .map
            .shard_index(slot)
            .and_then(|idx| routing.primaries.get(idx))
            .map(|p| p.pool.clone())
            .ok_or_else(|| Error::Other(format!("slot {slot} is not served")))?;
        pool.get().await
    }
}

/// The error of the command in an `ASKING` + command pipeline that broke:
/// not sent when its bytes never left, outcome unknown otherwise.
fn asking_failure(e: Error) -> Error {
    match e {
        Error::PipelineIncomplete { not_sent, cause, .. } if not_sent > 0 => Error::NotSent { cause },
        Error::PipelineIncomplete { cause, .. } => Error::OutcomeUnknown { cause },
        other => other,
    }
}

fn empty_map() -> Result<SlotMap, Error> {
    SlotMap::from_ranges(Vec::new())
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.refresh_wanted.notify_one();
    }
}
