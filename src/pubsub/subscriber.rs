//! [`Subscriber`]: the handle users hold, and the task that keeps its
//! subscriptions alive.
//!
//! The handle sends commands to one task, which owns the [`Registry`] and
//! performs its actions: it opens connections (in pub/sub mode, see
//! [`Connection::connect_pubsub`]), sends (un)subscribe commands, watches
//! connections close, pings idle ones and looks the cluster's slot map up.
//! Every outcome goes back into the registry; all IO runs in spawned tasks,
//! so a slow node never delays the others. Messages do not pass through the
//! task: each connection's push sink parses them on the reader task and puts
//! them straight into the bounded [`Inbox`].
//!
//! On RESP3 a link is an ordinary multiplexed connection that also carries
//! push frames; on RESP2 it is dedicated to pub/sub (the protocol allows
//! nothing else once subscribed).
//!
//! Not here: the recovery decisions (`registry`), parsing (`message`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::inbox::{Inbox, Popped};
use super::message::{parse_push, Event, Kind, Push, Subscription};
use super::registry::{Action, CallId, LinkId, Registry, Settings};
use super::servers::{fetch_slot_map, known_nodes, node_options, Servers};
use crate::cmd::{cmd, Cmd};
use crate::conn::{Connection, PushSink};
use crate::error::{Error, NodeAddr};
use crate::resp::Frame;
use crate::route::SlotMap;
use crate::sentinel::resolve;

/// Settings of a [`Subscriber`].
#[derive(Debug, Clone)]
pub struct SubscriberOptions {
    /// Events buffered for a slow consumer; past it the oldest are dropped
    /// and reported as [`Event::Lagged`]. Default 4096.
    pub buffer: usize,
    /// Bytes buffered for a slow consumer (payloads, channel names, and 64
    /// bytes per event), a bound that holds together with `buffer`: past
    /// it the oldest events are dropped and reported as [`Event::Lagged`].
    /// A message heavier than this on its own is dropped at once (and
    /// reported the same way). Default 64 MiB.
    pub buffer_bytes: usize,
    /// Shortest wait before a reconnect or a retry. Default 10 ms.
    pub min_backoff: Duration,
    /// Longest wait (the backoff's cap). Default 2 s.
    pub max_backoff: Duration,
    /// `PING` an idle connection this often, so a dead peer is noticed
    /// without traffic; `None` never pings. Default 10 s.
    pub ping_interval: Option<Duration>,
    /// Cluster: refresh the slot map this often even when nothing failed.
    /// Default 60 s.
    pub refresh_interval: Option<Duration>,
    /// Redirects and transient errors tolerated for a name never confirmed
    /// before the subscribe call gives up. Default 5.
    pub max_attempts: u32,
}

impl Default for SubscriberOptions {
    fn default() -> Self {
        SubscriberOptions {
            buffer: 4096,
            buffer_bytes: 64 << 20,
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(2),
            ping_interval: Some(Duration::from_secs(10)),
            refresh_interval: Some(Duration::from_secs(60)),
            max_attempts: 5,
        }
    }
}

enum Command {
    Open(oneshot::Sender<Result<(), Error>>),
    Subscribe(Kind, Vec<Bytes>, oneshot::Sender<Result<(), Error>>),
    Unsubscribe(Kind, Vec<Bytes>, oneshot::Sender<Result<(), Error>>),
    Subscriptions { active_only: bool, reply: oneshot::Sender<Vec<Subscription>> },
    Close,
}

/// Outcomes of the spawned IO, back to the task. Their channel is unbounded,
/// but what flows through it is bounded: one outcome per action the task
/// started, one close per connection, and (messages never pass here) at most
/// [`MAX_PENDING_UNSUBSCRIBES`] unsolicited unsubscribes not yet handled, a
/// server sending more getting one `Flooded` per connection instead.
enum Io {
    Connected {
        link: LinkId,
        gen: u64,
        result: Result<Connection, Error>,
    },
    Closed {
        link: LinkId,
        gen: u64,
    },
    OpDone {
        link: LinkId,
        gen: u64,
        op: u64,
        result: Result<(), Error>,
    },
    Unsubscribed {
        link: LinkId,
        gen: u64,
        sub: Subscription,
    },
    /// The connection sent unsolicited unsubscribes faster than the task
    /// handles them: it is closed, and what it held is restored elsewhere.
    Flooded {
        link: LinkId,
        gen: u64,
    },
    Topology(Result<SlotMap, Error>),
}

/// Most unsolicited unsubscribes (the server's own `sunsubscribe` when a slot
/// moves, or a hostile server's) queued for the task at once, over all
/// connections. Past it, the connection that sent one more is closed rather
/// than the notice dropped: its subscriptions are interrupted and restored,
/// so nothing is lost silently and the queue stays bounded.
const MAX_PENDING_UNSUBSCRIBES: usize = 4096;

/// Subscribes to channels, patterns and sharded channels, and yields their
/// messages and what happens to the subscriptions (see [`Event`]).
///
/// Subscriptions form a set that is restored automatically after any loss
/// (reconnect, server restart, `CLIENT KILL`, failover, slot migration), with
/// capped, jittered backoff, and an [`Event::Interrupted`] /
/// [`Event::Resubscribed`] pair around every possible gap. Dropping the
/// subscriber (or [`Subscriber::close`]) closes its connections.
///
/// All methods take `&self`: wrap it in an `Arc` to receive in one task and
/// subscribe from another. Several receivers share one stream.
pub struct Subscriber {
    commands: mpsc::Sender<Command>,
    inbox: Arc<Inbox<Event>>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").field("buffered", &self.inbox.len()).finish()
    }
}

fn closed() -> Error {
    Error::Closed
}

fn to_names<I, N>(names: I) -> Result<Vec<Bytes>, Error>
where
    I: IntoIterator<Item = N>,
    N: AsRef<[u8]>,
{
    let names: Vec<Bytes> = names.into_iter().map(|n| Bytes::copy_from_slice(n.as_ref())).collect();
    if names.is_empty() {
        return Err(Error::InvalidArgument("give at least one channel or pattern".into()));
    }
    Ok(names)
}

impl Subscriber {
    /// Starts a subscriber and connects (for a cluster, also reads the slot
    /// map), so a wrong address or password shows here. Must be called
    /// inside a tokio runtime.
    ///
    /// # Errors
    /// The connect error, or the slot map lookup's.
    ///
    /// # Cancel safety
    /// Dropping the future stops the subscriber.
    pub async fn connect(servers: Servers, options: SubscriberOptions) -> Result<Subscriber, Error> {
        servers.template()?;
        let inbox = Arc::new(Inbox::with_byte_limit(options.buffer, options.buffer_bytes, Event::weight));
        let (commands, rx) = mpsc::channel(64);
        let (io_tx, io_rx) = mpsc::unbounded_channel();
        let settings = Settings {
            cluster: servers.is_cluster(),
            min_backoff: options.min_backoff,
            max_backoff: options.max_backoff,
            refresh_interval: options.refresh_interval,
            max_attempts: options.max_attempts.max(1),
        };
        let task = Task {
            registry: Registry::new(settings, rand::random::<u64>()),
            servers,
            options,
            inbox: inbox.clone(),
            io_tx,
            conns: HashMap::new(),
            calls: HashMap::new(),
            main_index: 0,
            known: Vec::new(),
            pending_unsubscribes: Arc::new(AtomicUsize::new(0)),
        };
        tokio::spawn(task.run(rx, io_rx));
        let subscriber = Subscriber { commands, inbox };
        subscriber.call(Command::Open).await?;
        Ok(subscriber)
    }

    async fn call(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), Error>>) -> Command,
    ) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// `SUBSCRIBE`: completes when the server confirmed every channel.
    ///
    /// # Errors
    /// At the first failure of a channel not subscribed before (connect
    /// error, lost connection, refusal): such channels are not kept.
    /// [`Error::Closed`] once the subscriber is closed.
    ///
    /// # Cancel safety
    /// The subscription goes ahead in the background: dropping the future
    /// only stops waiting for it.
    pub async fn subscribe<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        channels: I,
    ) -> Result<(), Error> {
        self.subscribe_kind(Kind::Channel, channels).await
    }

    /// `PSUBSCRIBE`: as [`Subscriber::subscribe`], for glob patterns.
    ///
    /// # Errors
    /// As [`Subscriber::subscribe`].
    ///
    /// # Cancel safety
    /// As [`Subscriber::subscribe`].
    pub async fn psubscribe<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        patterns: I,
    ) -> Result<(), Error> {
        self.subscribe_kind(Kind::Pattern, patterns).await
    }

    /// `SSUBSCRIBE`: as [`Subscriber::subscribe`], for sharded channels; in a
    /// cluster each goes to the primary owning its slot (any number of slots).
    ///
    /// # Errors
    /// As [`Subscriber::subscribe`], plus [`Error::RetriesExhausted`] when
    /// redirects never settle.
    ///
    /// # Cancel safety
    /// As [`Subscriber::subscribe`].
    pub async fn ssubscribe<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        channels: I,
    ) -> Result<(), Error> {
        self.subscribe_kind(Kind::Sharded, channels).await
    }

    /// Subscribes to names of `kind`.
    ///
    /// # Errors
    /// As [`Subscriber::subscribe`].
    ///
    /// # Cancel safety
    /// As [`Subscriber::subscribe`].
    pub async fn subscribe_kind<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        kind: Kind,
        names: I,
    ) -> Result<(), Error> {
        let names = to_names(names)?;
        self.call(|tx| Command::Subscribe(kind, names, tx)).await
    }

    /// `UNSUBSCRIBE`: completes when no connection holds the channels (at
    /// once while disconnected). They are no longer restored.
    ///
    /// # Errors
    /// [`Error::Closed`] once the subscriber is closed.
    ///
    /// # Cancel safety
    /// As [`Subscriber::subscribe`].
    pub async fn unsubscribe<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        channels: I,
    ) -> Result<(), Error> {
        self.unsubscribe_kind(Kind::Channel, channels).await
    }

    /// `PUNSUBSCRIBE`: as [`Subscriber::unsubscribe`], for patterns.
    ///
    /// # Errors
    /// As [`Subscriber::unsubscribe`].
    ///
    /// # Cancel safety
    /// As [`Subscriber::subscribe`].
    pub async fn punsubscribe<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        patterns: I,
    ) -> Result<(), Error> {
        self.unsubscribe_kind(Kind::Pattern, patterns).await
    }

    /// `SUNSUBSCRIBE`: as [`Subscriber::unsubscribe`], for sharded channels.
    ///
    /// # Errors
    /// As [`Subscriber::unsubscribe`].
    ///
    /// # Cancel safety
    /// As [`Subscriber::subscribe`].
    pub async fn sunsubscribe<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        channels: I,
    ) -> Result<(), Error> {
        self.unsubscribe_kind(Kind::Sharded, channels).await
    }

    /// Unsubscribes from names of `kind`.
    ///
    /// # Errors
    /// As [`Subscriber::unsubscribe`].
    ///
    /// # Cancel safety
    /// As [`Subscriber::subscribe`].
    pub async fn unsubscribe_kind<I: IntoIterator<Item = N>, N: AsRef<[u8]>>(
        &self,
        kind: Kind,
        names: I,
    ) -> Result<(), Error> {
        let names = to_names(names)?;
        self.call(|tx| Command::Unsubscribe(kind, names, tx)).await
    }

    /// The subscription set: everything subscribed and not unsubscribed,
    /// whether active right now or being restored.
    ///
    /// # Errors
    /// [`Error::Closed`] once the subscriber is closed.
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        self.list(false).await
    }

    /// The subscriptions the server has confirmed on a live connection.
    ///
    /// # Errors
    /// [`Error::Closed`] once the subscriber is closed.
    pub async fn active(&self) -> Result<Vec<Subscription>, Error> {
        self.list(true).await
    }

    async fn list(&self, active_only: bool) -> Result<Vec<Subscription>, Error> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command::Subscriptions { active_only, reply }).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())
    }

    /// The next event; `None` once the subscriber is closed and drained.
    ///
    /// # Cancel safety
    /// Cancel-safe: no event is lost when the future is dropped.
    pub async fn recv(&self) -> Option<Event> {
        self.inbox.pop().await.map(into_event)
    }

    /// The next event if one is buffered.
    pub fn try_recv(&self) -> Option<Event> {
        self.inbox.try_pop().map(into_event)
    }

    /// Events waiting to be received.
    pub fn buffered(&self) -> usize {
        self.inbox.len()
    }

    /// Stops the subscriber: connections close, waiting calls fail with
    /// [`Error::Closed`], and `recv` returns the buffered events, then `None`.
    pub fn close(&self) {
        self.inbox.close();
        // Should the queue be full, the task sees the closed inbox after its next command.
        let _ = self.commands.try_send(Command::Close);
    }
}

fn into_event(p: Popped<Event>) -> Event {
    match p {
        Popped::Item(e) => e,
        Popped::Lagged(dropped) => {
            crate::observe::pubsub_lagged(dropped);
            Event::Lagged { dropped }
        }
    }
}

/// What a push sink does with one more unsolicited unsubscribe.
#[derive(Debug, PartialEq, Eq)]
enum Admit {
    /// Queue it for the task (counted in `pending` until handled).
    Queue,
    /// Too many queued: report this connection as flooded (once).
    Flooded,
    /// Too many queued and already reported: the connection is being closed.
    Drop,
}

/// Bounds the unsolicited unsubscribes queued for the task: `pending` counts
/// them over all connections, `flooded` is this connection's "reported" flag.
fn admit_unsubscribe(pending: &AtomicUsize, flooded: &AtomicBool) -> Admit {
    if pending.fetch_add(1, Ordering::AcqRel) < MAX_PENDING_UNSUBSCRIBES {
        return Admit::Queue;
    }
    pending.fetch_sub(1, Ordering::AcqRel);
    if flooded.swap(true, Ordering::AcqRel) {
        Admit::Drop
    } else {
        Admit::Flooded
    }
}

/// The task behind a [`Subscriber`].
struct Task {
    registry: Registry,
    servers: Servers,
    options: SubscriberOptions,
    inbox: Arc<Inbox<Event>>,
    io_tx: mpsc::UnboundedSender<Io>,
    conns: HashMap<LinkId, (u64, Connection)>,
    calls: HashMap<CallId, oneshot::Sender<Result<(), Error>>>,
    /// Which seed the main link tries next (cluster: any node will do).
    main_index: usize,
    /// Nodes of the last slot map, asked first on the next lookup.
    known: Vec<NodeAddr>,
    /// `Io::Unsubscribed` sent by the push sinks and not yet handled.
    pending_unsubscribes: Arc<AtomicUsize>,
}

impl Task {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>, mut io: mpsc::UnboundedReceiver<Io>) {
        loop {
            if self.inbox.is_closed() {
                break;
            }
            let deadline = self.registry.next_deadline();
            let sleep = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Close) | None => break,
                    Some(c) => self.command(c),
                },
                Some(outcome) = io.recv() => self.io(outcome),
                () = sleep => self.registry.tick(Instant::now()),
            }
            self.perform();
        }
        self.registry.close();
        self.perform();
        for (_, (_, conn)) in self.conns.drain() {
            conn.close();
        }
        self.inbox.close();
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        let (call, reply) = match command {
            Command::Open(reply) => (self.registry.open(now), reply),
            Command::Subscribe(kind, names, reply) => (self.registry.subscribe(kind, names, now), reply),
            Command::Unsubscribe(kind, names, reply) => (self.registry.unsubscribe(kind, names, now), reply),
            Command::Subscriptions { active_only, reply } => {
                let list = if active_only { self.registry.active() } else { self.registry.subscriptions() };
                let _ = reply.send(list);
                return;
            }
            Command::Close => return,
        };
        self.calls.insert(call, reply);
    }

    fn io(&mut self, outcome: Io) {
        let now = Instant::now();
        match outcome {
            Io::Connected { link, gen, result: Ok(conn) } => {
                if self.registry.connected(&link, gen, Ok(()), now) {
                    self.watch(&link, gen, &conn);
                    if let Some((_, old)) = self.conns.insert(link, (gen, conn)) {
                        old.close();
                    }
                } else {
                    conn.close();
                }
            }
            Io::Connected { link, gen, result: Err(e) } => {
                if link == LinkId::Main {
                    self.main_index = self.main_index.wrapping_add(1);
                }
                self.registry.connected(&link, gen, Err(e), now);
            }
            Io::Closed { link, gen } => {
                let cause = match self.conns.get(&link) {
                    Some((g, conn)) if *g == gen => {
                        conn.closed_reason().unwrap_or_else(|| Arc::new(Error::Closed))
                    }
                    _ => return,
                };
                self.lose(link, gen, cause, now);
            }
            Io::Flooded { link, gen } => {
                let cause = Error::Other(format!(
                    "the server sent unsolicited unsubscribes faster than they could be handled \
                     (more than {MAX_PENDING_UNSUBSCRIBES} queued): connection closed"
                ));
                self.lose(link, gen, Arc::new(cause), now);
            }
            Io::OpDone { link, gen, op, result } => self.registry.op_done(&link, gen, op, result, now),
            Io::Unsubscribed { link, gen, sub } => {
                self.pending_unsubscribes.fetch_sub(1, Ordering::AcqRel);
                self.registry.server_unsubscribed(&link, gen, sub, now);
            }
            Io::Topology(result) => {
                if let Ok(map) = &result {
                    self.known = known_nodes(map);
                }
                self.registry.topology(result, now);
            }
        }
    }

    /// Closes connection `gen` of `link` (if current) and reports its loss.
    fn lose(&mut self, link: LinkId, gen: u64, cause: Arc<Error>, now: Instant) {
        if self.conns.get(&link).is_none_or(|(g, _)| *g != gen) {
            return;
        }
        if let Some((_, conn)) = self.conns.remove(&link) {
            conn.close();
        }
        if link == LinkId::Main {
            // In a cluster, the next attempt goes to another node.
            self.main_index = self.main_index.wrapping_add(1);
        }
        self.registry.closed(&link, gen, cause, now);
    }

    /// Performs the registry's actions until it has no more.
    fn perform(&mut self) {
        loop {
            let actions = self.registry.take_actions();
            if actions.is_empty() {
                return;
            }
            for action in actions {
                self.act(action);
            }
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Connect { link, gen } => self.connect(link, gen),
            Action::Send { link, gen, op, subscribe, kind, names } => {
                let conn = match self.conns.get(&link) {
                    Some((g, conn)) if *g == gen => conn.clone(),
                    _ => {
                        let err = Error::NotSent { cause: Arc::new(Error::Closed) };
                        self.registry.op_done(&link, gen, op, Err(err), Instant::now());
                        return;
                    }
                };
                let (name, confirmation) = if subscribe {
                    (kind.subscribe_command(), kind.subscribe_confirmation())
                } else {
                    (kind.unsubscribe_command(), kind.unsubscribe_confirmation())
                };
                let command: Cmd = cmd(name).args_from(&names);
                let tx = self.io_tx.clone();
                tokio::spawn(async move {
                    let result =
                        conn.send_confirmed(&command, confirmation, names).await.and_then(Frame::into_result);
                    let _ = tx.send(Io::OpDone { link, gen, op, result: result.map(|_| ()) });
                });
            }
            Action::Close { link, gen } => {
                if self.conns.get(&link).is_some_and(|(g, _)| *g == gen) {
                    if let Some((_, conn)) = self.conns.remove(&link) {
                        conn.close();
                    }
                }
            }
            Action::RefreshTopology => {
                let template = self.servers.template().cloned();
                let seeds = self.servers.seeds().to_vec();
                let known = self.known.clone();
                let tx = self.io_tx.clone();
                tokio::spawn(async move {
                    let result = match template {
                        Ok(t) => fetch_slot_map(&t, &known, &seeds).await,
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Io::Topology(result));
                });
            }
            Action::Emit(event) => {
                crate::observe::pubsub_event(&event);
                self.inbox.push(event);
            }
            Action::Complete { call, result } => {
                if let Some(reply) = self.calls.remove(&call) {
                    let _ = reply.send(result);
                }
            }
        }
    }

    fn connect(&mut self, link: LinkId, gen: u64) {
        let opts = match (&link, self.servers.template()) {
            (_, Err(e)) => {
                self.registry.connected(&link, gen, Err(e), Instant::now());
                return;
            }
            (LinkId::Node(addr), Ok(template)) => node_options(template, addr),
            (LinkId::Main, Ok(template)) => {
                // Any node will do: the seeds first, then the nodes of the
                // last slot map (seeds may all be gone by now).
                let seeds = self.servers.seeds();
                let extra = if self.servers.is_cluster() { self.known.len() } else { 0 };
                let i = self.main_index % (seeds.len() + extra).max(1);
                match seeds.get(i) {
                    Some(seed) => seed.clone(),
                    None => match i.checked_sub(seeds.len()).and_then(|j| self.known.get(j)) {
                        Some(addr) => node_options(template, addr),
                        None => template.clone(),
                    },
                }
            }
        };
        let sink = self.sink(link.clone(), gen);
        let tx = self.io_tx.clone();
        // With sentinels, the master is asked for at every connect.
        let sentinel = self.servers.sentinel_options().cloned();
        tokio::spawn(async move {
            let opts = match sentinel {
                Some(sentinel) => resolve(&sentinel).await,
                None => Ok(opts),
            };
            let result = match opts {
                Ok(opts) => Connection::connect_pubsub(&opts, sink).await,
                Err(e) => Err(e),
            };
            let _ = tx.send(Io::Connected { link, gen, result });
        });
    }

    /// Runs on the connection's reader task: messages straight to the
    /// (bounded) inbox, unsolicited unsubscribes to this task (at most
    /// [`MAX_PENDING_UNSUBSCRIBES`] queued), anything else dropped.
    fn sink(&self, link: LinkId, gen: u64) -> PushSink {
        let inbox = self.inbox.clone();
        let tx = self.io_tx.clone();
        let pending = self.pending_unsubscribes.clone();
        let flooded = AtomicBool::new(false);
        Arc::new(move |frame: Frame| match parse_push(&frame) {
            Push::Message(m) => inbox.push(Event::Message(m)),
            Push::Unsubscribed(sub) => match admit_unsubscribe(&pending, &flooded) {
                Admit::Queue => {
                    let _ = tx.send(Io::Unsubscribed { link: link.clone(), gen, sub });
                }
                Admit::Flooded => {
                    let _ = tx.send(Io::Flooded { link: link.clone(), gen });
                }
                Admit::Drop => {}
            },
            Push::Other => {}
        })
    }

    /// Reports the connection's close, and pings it while it is idle.
    fn watch(&self, link: &LinkId, gen: u64, conn: &Connection) {
        let closed = conn.closed();
        let tx = self.io_tx.clone();
        let link = link.clone();
        tokio::spawn(async move {
            closed.await;
            let _ = tx.send(Io::Closed { link, gen });
        });
        if let Some(every) = self.options.ping_interval {
            let conn = conn.clone();
            tokio::spawn(async move {
                let closed = conn.closed();
                tokio::pin!(closed);
                let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                loop {
                    tokio::select! {
                        () = &mut closed => return,
                        _ = tick.tick() => {
                            // A failed PING means a dead peer: close, and the watcher reports it.
                            if conn.send(&cmd("PING")).await.and_then(Frame::into_result).is_err() {
                                conn.close();
                                return;
                            }
                        }
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_unsolicited_unsubscribes_queues_a_bounded_number_then_one_flooded() {
        let pending = AtomicUsize::new(0);
        let flooded = AtomicBool::new(false);
        let mut seen = (0, 0, 0);
        for _ in 0..100_000 {
            match admit_unsubscribe(&pending, &flooded) {
                Admit::Queue => seen.0 += 1,
                Admit::Flooded => seen.1 += 1,
                Admit::Drop => seen.2 += 1,
            }
        }
        assert_eq!(seen, (MAX_PENDING_UNSUBSCRIBES, 1, 100_000 - MAX_PENDING_UNSUBSCRIBES - 1));
        assert_eq!(pending.load(Ordering::Acquire), MAX_PENDING_UNSUBSCRIBES);
        // The task handles one: another connection may queue one more.
        pending.fetch_sub(1, Ordering::AcqRel);
        let other = AtomicBool::new(false);
        assert_eq!(admit_unsubscribe(&pending, &other), Admit::Queue);
        assert_eq!(admit_unsubscribe(&pending, &other), Admit::Flooded);
        assert_eq!(admit_unsubscribe(&pending, &other), Admit::Drop);
    }

    #[test]
    fn the_default_inbox_is_bounded_in_bytes() {
        let options = SubscriberOptions::default();
        let inbox = Inbox::with_byte_limit(usize::MAX, options.buffer_bytes, Event::weight);
        let payload = Bytes::from(vec![0u8; 1 << 20]);
        for _ in 0..100 {
            inbox.push(Event::Message(super::super::message::Message {
                kind: Kind::Channel,
                channel: Bytes::from_static(b"ch"),
                pattern: None,
                payload: payload.clone(),
            }));
        }
        assert!(inbox.bytes() <= options.buffer_bytes);
        assert!(inbox.len() < 100);
    }
}
