//! RESP3 push frames for [`Client`](crate::Client) and
//! [`ClusterClient`](crate::ClusterClient): one receiver for every push that
//! reaches the client, tagged with the node it came from.
//!
//! Two sources feed it:
//!
//! - **The multiplexed connections** (one per node): every push frame they
//!   receive, which after [`enable_tracking`](crate::Client::enable_tracking)
//!   means the `CLIENT TRACKING` invalidations. Their push sink is installed
//!   when the client is built, so a client nobody listens to pays one atomic
//!   load per push frame and nothing per reply.
//! - **Push links** (one dedicated connection per node, opened by
//!   [`subscribe_push`](crate::Client::subscribe_push)): `SUBSCRIBE` /
//!   `PSUBSCRIBE` for keyspace notifications (`__keyevent@0__:set` ...). A
//!   subscription changes a connection's state, so it cannot live on the
//!   shared connection (which refuses SUBSCRIBE); and keyspace notifications
//!   are local to the node where the key changed (the cluster bus does not
//!   carry them), so a cluster needs a link to every primary, which the
//!   pub/sub [`Subscriber`](crate::pubsub::Subscriber) (one connection per
//!   cluster for ordinary channels) does not give. A link reconnects and
//!   resubscribes by itself, pings when idle, and follows the cluster's
//!   primaries as topology refreshes install them.
//!
//! Every loss of a connection that carries pushes is reported
//! ([`PushEvent::Reconnected`], [`PushEvent::Interrupted`] /
//! [`PushEvent::Resubscribed`]): a client-side cache must be flushed then,
//! because invalidations may have been missed. The receiver is bounded and
//! drops the oldest events past its bound, reporting [`PushEvent::Lagged`].
//!
//! Not here: the driver that tells pushes from replies (`conn::driver`), the
//! pub/sub subscriber with its message parsing (`pubsub`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cmd::{cmd, Cmd};
use crate::conn::{Address, ConnectOptions, Connection, PushSink};
use crate::error::{Error, NodeAddr};
use crate::pubsub::{Inbox, Popped};
use crate::resp::Frame;

/// Events a receiver holds by default before dropping the oldest.
pub const DEFAULT_CAPACITY: usize = 4096;
/// Bytes of frames a receiver holds by default before dropping the oldest.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;
/// How often an idle push link pings its node, so a dead peer is noticed.
const LINK_PING: Duration = Duration::from_secs(10);
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What a [`PushReceiver`] yields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PushEvent {
    /// A push frame from `node`: `Frame::Push` on RESP3 (`invalidate`,
    /// `message`, `pmessage` ...); on a RESP2 push link, the array the
    /// server sends (`["message", channel, payload]`).
    Frame {
        /// The node whose connection received it.
        node: NodeAddr,
        /// The frame as received.
        frame: Frame,
    },
    /// The multiplexed connection to `node` was replaced by a new one:
    /// pushes meant for the old one (invalidations) may have been lost.
    Reconnected {
        /// The node.
        node: NodeAddr,
    },
    /// The push link to `node` broke: its subscriptions are off until
    /// [`PushEvent::Resubscribed`]; notifications in between are lost.
    Interrupted {
        /// The node.
        node: NodeAddr,
    },
    /// The push link to `node` is back and resubscribed to everything.
    Resubscribed {
        /// The node.
        node: NodeAddr,
    },
    /// This many events were dropped (oldest first) because the receiver
    /// fell behind its bound.
    Lagged {
        /// How many.
        dropped: u64,
    },
}

impl PushEvent {
    /// For a [`PushEvent::Frame`] of kind `invalidate`: the keys it names
    /// (empty for a flush of everything, `FLUSHALL` / `FLUSHDB`).
    pub fn invalidated_keys(&self) -> Option<Vec<Bytes>> {
        let PushEvent::Frame { frame: Frame::Push(items), .. } = self else { return None };
        match (items.first().and_then(Frame::as_bytes), items.get(1)) {
            (Some(kind), Some(keys)) if kind.eq_ignore_ascii_case(b"invalidate") => match keys {
                Frame::Array(keys) => Some(keys.iter().filter_map(|k| k.as_bytes().cloned()).collect()),
                _ => Some(Vec::new()),
            },
            _ => None,
        }
    }
}

/// Receives the push events of one client (see the module documentation).
/// Several receivers each get every event. Dropping it unregisters it.
pub struct PushReceiver {
    inbox: Arc<Inbox<PushEvent>>,
}

impl std::fmt::Debug for PushReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushReceiver").field("buffered", &self.inbox.len()).finish()
    }
}

impl PushReceiver {
    /// The next event; `None` once the client is closed and the buffer drained.
    ///
    /// # Cancel safety
    /// Cancel-safe: no event is lost when the future is dropped.
    pub async fn recv(&self) -> Option<PushEvent> {
        self.inbox.pop().await.map(into_event)
    }

    /// The next event if one is buffered.
    pub fn try_recv(&self) -> Option<PushEvent> {
        self.inbox.try_pop().map(into_event)
    }

    /// Events waiting.
    pub fn buffered(&self) -> usize {
        self.inbox.len()
    }
}

impl Drop for PushReceiver {
    fn drop(&mut self) {
        // The hub forgets closed inboxes at its next delivery.
        self.inbox.close();
    }
}

fn into_event(p: Popped<PushEvent>) -> PushEvent {
    match p {
        Popped::Item(e) => e,
        Popped::Lagged(dropped) => PushEvent::Lagged { dropped },
    }
}

/// Bytes a frame holds, roughly: payloads plus 16 per value.
fn frame_weight(frame: &Frame) -> usize {
    match frame {
        Frame::Array(items) | Frame::Push(items) | Frame::Set(items) => {
            items.iter().fold(16, |sum, f| sum.saturating_add(frame_weight(f)))
        }
        Frame::Map(pairs) => pairs
            .iter()
            .fold(16, |sum, (k, v)| sum.saturating_add(frame_weight(k)).saturating_add(frame_weight(v))),
        other => other.as_bytes().map_or(16, |b| b.len().saturating_add(16)),
    }
}

fn event_weight(e: &PushEvent) -> usize {
    match e {
        PushEvent::Frame { frame, .. } => frame_weight(frame),
        _ => 64,
    }
}

/// Hands every push event to the registered receivers.
#[derive(Default)]
pub(crate) struct Hub {
    receivers: RwLock<Vec<Arc<Inbox<PushEvent>>>>,
    /// Receivers registered: the fast path when nobody listens.
    count: AtomicUsize,
    closed: std::sync::atomic::AtomicBool,
}

impl Hub {
    /// A new receiver holding at most `capacity` events and `max_bytes` bytes.
    pub(crate) fn receiver(&self, capacity: usize, max_bytes: usize) -> PushReceiver {
        let inbox = Arc::new(Inbox::with_byte_limit(capacity, max_bytes, event_weight));
        if self.closed.load(Ordering::Acquire) {
            inbox.close();
        } else {
            let mut receivers = self.receivers.write().unwrap_or_else(|p| p.into_inner());
            receivers.retain(|r| !r.is_closed());
            receivers.push(inbox.clone());
            self.count.store(receivers.len(), Ordering::Release);
        }
        PushReceiver { inbox }
    }

    pub(crate) fn deliver(&self, event: PushEvent) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut stale = false;
        {
            let receivers = self.receivers.read().unwrap_or_else(|p| p.into_inner());
            for r in receivers.iter() {
                if r.is_closed() {
                    stale = true;
                } else {
                    r.push(event.clone());
                }
            }
        }
        if stale {
            let mut receivers = self.receivers.write().unwrap_or_else(|p| p.into_inner());
            receivers.retain(|r| !r.is_closed());
            self.count.store(receivers.len(), Ordering::Release);
        }
    }

    /// The push sink of a connection to `node`.
    pub(crate) fn sink(self: &Arc<Self>, node: NodeAddr) -> PushSink {
        let hub = self.clone();
        Arc::new(move |frame| hub.deliver(PushEvent::Frame { node: node.clone(), frame }))
    }

    /// The reconnect hook of the multiplexed connection to `node`: reports
    /// every connection after the first.
    pub(crate) fn on_connect(self: &Arc<Self>, node: NodeAddr) -> Arc<dyn Fn(&Connection) + Send + Sync> {
        let hub = self.clone();
        let connects = AtomicUsize::new(0);
        Arc::new(move |_conn: &Connection| {
            if connects.fetch_add(1, Ordering::AcqRel) > 0 {
                hub.deliver(PushEvent::Reconnected { node: node.clone() });
            }
        })
    }

    /// Ends every receiver: they drain what they hold, then yield `None`.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let receivers = std::mem::take(&mut *self.receivers.write().unwrap_or_else(|p| p.into_inner()));
        self.count.store(0, Ordering::Release);
        for r in receivers {
            r.close();
        }
    }
}

/// The node a connection's options point at (a Unix socket: its path, port 0).
pub(crate) fn node_of(opts: &ConnectOptions) -> NodeAddr {
    match &opts.address {
        Address::Tcp { host, port } => NodeAddr::new(host.as_str(), *port),
        Address::Unix(path) => NodeAddr::new(path.to_string_lossy().as_ref(), 0),
    }
}

/// `CLIENT TRACKING ON` with the options of [`Tracking`].
pub(crate) fn tracking_cmd(t: &Tracking) -> Cmd {
    let mut c = cmd("CLIENT").arg("TRACKING").arg("ON");
    if t.bcast {
        c = c.arg("BCAST");
        for p in &t.prefixes {
            c = c.arg("PREFIX").arg(&p[..]);
        }
    }
    if t.noloop {
        c = c.arg("NOLOOP");
    }
    c
}

/// Options of `CLIENT TRACKING ON` (RESP3 only: invalidations arrive as
/// push frames on the tracked connection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    /// `BCAST`: invalidations for every key matching `prefixes` (all keys
    /// when empty), whether this client read it or not.
    pub bcast: bool,
    /// `PREFIX`es for `bcast`.
    pub prefixes: Vec<Bytes>,
    /// `NOLOOP`: no invalidations for this connection's own writes.
    pub noloop: bool,
}

/// `SUBSCRIBE` or `PSUBSCRIBE` names, as one call asked.
#[derive(Debug, Clone)]
pub(crate) struct Sub {
    pattern: bool,
    names: Vec<Bytes>,
}

impl Sub {
    /// Channels (`pattern` false) or patterns; `None` when `names` is empty.
    pub(crate) fn new(pattern: bool, names: Vec<Bytes>) -> Option<Sub> {
        (!names.is_empty()).then_some(Sub { pattern, names })
    }

    /// As [`Sub::new`] from what a caller passes to `subscribe_push`;
    /// [`Error::Config`] without any name.
    pub(crate) fn from_names<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        pattern: bool,
        names: I,
    ) -> Result<Sub, Error> {
        let names = names.into_iter().map(|n| Bytes::copy_from_slice(n.as_ref())).collect();
        Sub::new(pattern, names).ok_or_else(|| Error::Config("give at least one channel or pattern".into()))
    }

    fn command(&self) -> (Cmd, &'static [u8]) {
        let (name, kind): (&str, &'static [u8]) =
            if self.pattern { ("PSUBSCRIBE", b"psubscribe") } else { ("SUBSCRIBE", b"subscribe") };
        (cmd(name).args_from(&self.names), kind)
    }

    async fn send(&self, conn: &Connection) -> Result<(), Error> {
        let (c, kind) = self.command();
        match conn.send_confirmed(&c, kind, self.names.clone()).await? {
            Frame::SimpleError(e) | Frame::BlobError(e) => Err(Error::Server(e)),
            _ => Ok(()),
        }
    }
}

/// One push link's task and what it shares with its owner.
struct Link {
    /// Set to stop the task; dropping it (the client dropped) stops it too.
    stop: watch::Sender<bool>,
    /// The link's connection while it is subscribed to everything.
    up: watch::Receiver<Option<Connection>>,
    /// Bound for waiting on the first connect.
    wait: Duration,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct LinksState {
    subs: Vec<Sub>,
    links: HashMap<NodeAddr, Link>,
    /// Tasks of links stopped by a topology change, not yet awaited.
    retired: Vec<JoinHandle<()>>,
    closed: bool,
}

/// The push links of one client: what to subscribe to, and a link per node.
#[derive(Default)]
pub(crate) struct Links {
    state: Mutex<LinksState>,
}

impl Links {
    fn lock(&self) -> std::sync::MutexGuard<'_, LinksState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `sub` to every link, starting links for `nodes` that lack one;
    /// returns once each of them confirmed it.
    ///
    /// # Errors
    /// [`Error::Closed`] after [`Links::close`]; the first node's failure
    /// (the subscription stays registered and is made when the link is up);
    /// [`Error::Timeout`] when a link did not come up within its connect and
    /// response timeouts.
    pub(crate) async fn subscribe(
        &self,
        hub: &Arc<Hub>,
        nodes: Vec<(NodeAddr, ConnectOptions)>,
        sub: Sub,
    ) -> Result<(), Error> {
        let targets = {
            let mut st = self.lock();
            if st.closed {
                return Err(Error::Closed);
            }
            st.subs.push(sub.clone());
            let subs = st.subs.clone();
            for (node, opts) in nodes {
                // A new link subscribes to everything, `sub` included.
                if let std::collections::hash_map::Entry::Vacant(slot) = st.links.entry(node) {
                    let node = slot.key().clone();
                    slot.insert(start_link(hub.clone(), node, opts, subs.clone()));
                }
            }
            st.links.values().map(|l| (l.up.clone(), l.wait)).collect::<Vec<_>>()
        };
        for (mut up, wait) in targets {
            let conn = tokio::time::timeout(wait, up.wait_for(Option::is_some))
                .await
                .map_err(|_| Error::Timeout)?
                .map_err(|_| Error::Closed)?
                .clone();
            if let Some(conn) = conn {
                // A link that came up after `sub` was registered subscribed
                // to it already; a second SUBSCRIBE only confirms again.
                sub.send(&conn).await?;
            }
        }
        Ok(())
    }

    /// Keeps a link to exactly `nodes` (a cluster's primaries after a
    /// topology change), when there is anything to subscribe to.
    pub(crate) fn sync(&self, hub: &Arc<Hub>, nodes: Vec<(NodeAddr, ConnectOptions)>) {
        let mut st = self.lock();
        if st.closed || st.subs.is_empty() {
            return;
        }
        st.retired.retain(|t| !t.is_finished());
        let keep: Vec<NodeAddr> = nodes.iter().map(|(n, _)| n.clone()).collect();
        let gone: Vec<NodeAddr> = st.links.keys().filter(|n| !keep.contains(n)).cloned().collect();
        for node in gone {
            if let Some(link) = st.links.remove(&node) {
                let _ = link.stop.send(true);
                st.retired.push(link.task);
            }
        }
        let subs = st.subs.clone();
        for (node, opts) in nodes {
            if let std::collections::hash_map::Entry::Vacant(slot) = st.links.entry(node) {
                let node = slot.key().clone();
                slot.insert(start_link(hub.clone(), node, opts, subs.clone()));
            }
        }
    }

    /// Stops every link and waits for their tasks (and connections) to end.
    pub(crate) async fn close(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut st = self.lock();
            st.closed = true;
            let mut tasks = std::mem::take(&mut st.retired);
            for (_, link) in st.links.drain() {
                let _ = link.stop.send(true);
                tasks.push(link.task);
            }
            tasks
        };
        for t in tasks {
            let _ = t.await;
        }
    }
}

fn start_link(hub: Arc<Hub>, node: NodeAddr, opts: ConnectOptions, subs: Vec<Sub>) -> Link {
    let (stop, stop_rx) = watch::channel(false);
    let (up_tx, up) = watch::channel(None);
    let wait = opts.connect_timeout + opts.response_timeout.unwrap_or(Duration::from_secs(10));
    let task = tokio::spawn(run_link(hub, node, opts, subs, stop_rx, up_tx));
    Link { stop, up, wait, task }
}

/// Resolves once `stop` is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A push link: connect, subscribe to everything, wait for the connection
/// to break (pinging it when idle), report, back off, again; until stopped.
async fn run_link(
    hub: Arc<Hub>,
    node: NodeAddr,
    opts: ConnectOptions,
    subs: Vec<Sub>,
    mut stop: watch::Receiver<bool>,
    up: watch::Sender<Option<Connection>>,
) {
    let sink = hub.sink(node.clone());
    let mut failures = 0u32;
    let mut was_up = false;
    loop {
        let attempt = async {
            let conn = Connection::connect_pubsub(&opts, sink.clone()).await?;
            for s in &subs {
                s.send(&conn).await?;
            }
            Ok::<_, Error>(conn)
        };
        let connected = tokio::select! {
            r = attempt => r,
            () = stopped(&mut stop) => return,
        };
        match connected {
            Ok(conn) => {
                failures = 0;
                if was_up {
                    hub.deliver(PushEvent::Resubscribed { node: node.clone() });
                }
                was_up = true;
                up.send_replace(Some(conn.clone()));
                let stopping = tokio::select! {
                    () = keep_alive(&conn) => false,
                    () = stopped(&mut stop) => true,
                };
                up.send_replace(None);
                conn.close();
                conn.stopped().await;
                if stopping {
                    return;
                }
                hub.deliver(PushEvent::Interrupted { node: node.clone() });
            }
            Err(_) => failures = failures.saturating_add(1),
        }
        let wait = crate::backoff::backoff(failures, MIN_BACKOFF, MAX_BACKOFF, rand::random::<u64>());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

/// Pings `conn` every [`LINK_PING`] until it closes (a ping without a reply
/// trips the connection's watchdog, which closes it).
async fn keep_alive(conn: &Connection) {
    loop {
        tokio::select! {
            () = conn.closed() => return,
            () = tokio::time::sleep(LINK_PING) => {
                if conn.send(&cmd("PING")).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// What a client holds for pushes: the hub, the links, and the tracking
/// command its multiplexed connections run on every connect.
#[derive(Default)]
pub(crate) struct PushState {
    pub(crate) hub: Arc<Hub>,
    pub(crate) links: Links,
    pub(crate) tracking: Mutex<Option<Cmd>>,
}

impl std::fmt::Debug for PushState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushState").field("receivers", &self.hub.count.load(Ordering::Relaxed)).finish()
    }
}

impl Drop for PushState {
    /// The client is gone: receivers end after what they hold. (Dropping the
    /// links' stop senders stops their tasks.)
    fn drop(&mut self) {
        self.hub.close();
    }
}

impl PushState {
    /// Stops the links, then ends the receivers.
    pub(crate) async fn close(&self) {
        self.links.close().await;
        self.hub.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(items: Vec<Frame>) -> Frame {
        Frame::Push(items)
    }

    #[test]
    fn invalidated_keys_are_read_from_the_push() {
        let node = NodeAddr::new("h", 1);
        let e = PushEvent::Frame {
            node: node.clone(),
            frame: push(vec![
                Frame::BulkString(Bytes::from_static(b"invalidate")),
                Frame::Array(vec![Frame::BulkString(Bytes::from_static(b"k1"))]),
            ]),
        };
        assert_eq!(e.invalidated_keys(), Some(vec![Bytes::from_static(b"k1")]));
        let flush = PushEvent::Frame {
            node: node.clone(),
            frame: push(vec![Frame::BulkString(Bytes::from_static(b"invalidate")), Frame::Null]),
        };
        assert_eq!(flush.invalidated_keys(), Some(vec![]));
        let message =
            PushEvent::Frame { node, frame: push(vec![Frame::BulkString(Bytes::from_static(b"message"))]) };
        assert_eq!(message.invalidated_keys(), None);
    }

    #[test]
    fn tracking_command_carries_its_options() {
        let t = Tracking { bcast: true, prefixes: vec![Bytes::from_static(b"user:")], noloop: true };
        let c = tracking_cmd(&t);
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(args, vec![&b"CLIENT"[..], b"TRACKING", b"ON", b"BCAST", b"PREFIX", b"user:", b"NOLOOP"]);
        let plain = tracking_cmd(&Tracking::default());
        assert_eq!(plain.args().count(), 3);
    }

    #[tokio::test]
    async fn the_hub_fans_out_bounds_and_forgets_dropped_receivers() {
        let hub = Arc::new(Hub::default());
        // Nobody listens: nothing is kept.
        hub.deliver(PushEvent::Reconnected { node: NodeAddr::new("h", 1) });
        let a = hub.receiver(2, usize::MAX);
        let b = hub.receiver(8, usize::MAX);
        let sink = hub.sink(NodeAddr::new("h", 1));
        for i in 0..3i64 {
            sink(Frame::Integer(i));
        }
        assert_eq!(a.try_recv(), Some(PushEvent::Lagged { dropped: 1 }));
        assert!(matches!(a.try_recv(), Some(PushEvent::Frame { frame: Frame::Integer(1), .. })));
        assert_eq!(b.buffered(), 3);
        drop(a);
        sink(Frame::Integer(3));
        assert_eq!(hub.count.load(Ordering::Acquire), 1);
        assert_eq!(b.buffered(), 4);
        hub.close();
        for _ in 0..4 {
            assert!(b.recv().await.is_some());
        }
        assert_eq!(b.recv().await, None);
        assert_eq!(hub.receiver(1, 1).recv().await, None);
    }

    #[test]
    fn frame_weight_counts_payloads() {
        let f = Frame::Push(vec![Frame::BulkString(Bytes::from(vec![0u8; 100]))]);
        assert_eq!(frame_weight(&f), 16 + 116);
    }
}
