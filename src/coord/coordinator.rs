//! [`Coordinator`]: publishes this node's events to the cluster and delivers
//! the other nodes' events.
//!
//! Two tasks per coordinator. The sender takes events from a bounded outbox
//! and publishes them in batches: whatever is waiting when it is free, up to
//! [`MAX_BATCH`] per message, at once (no timer: an idle sender sends the
//! first event immediately; events that arrive while a publish is in flight
//! share the next message). The receiver reads the channel, decodes each
//! message, skips the ones this node sent, and delivers the events into a
//! bounded buffer (drop-oldest, reported).
//!
//! The transport follows the store configuration: Redis and RedisCluster
//! go through [`Subscriber`] / [`Publisher`] on one classic channel (a
//! cluster forwards classic messages to every node); the embedded `Default`
//! store uses the in-process bus (`bus`), with the same wire format and the
//! same skipping of one's own messages.
//!
//! The wire format is redwire's own (`codec`) or, with
//! [`Compat::Stalwart016`], Stalwart 0.16's (`stalwart`) on its channel
//! `stwt.agora`, so the node shares coordination with old Stalwart nodes.
//! There, events Stalwart's format cannot carry are refused by `publish`,
//! and a message that does not decode is dropped, counted
//! ([`CoordinatorStats::malformed`]) and reported ([`Delivery::Malformed`]);
//! the subscription goes on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use super::bus::{self, BusSubscription};
use super::codec::{decode, encode, DecodeError, MAX_BATCH};
use super::event::{Event, NodeId};
use super::stalwart::{check_stalwart, decode_stalwart, encode_stalwart, stalwart_node_id, STALWART_CHANNEL};
use crate::config::{Compat, StoreConfig};
use crate::error::Error;
use crate::pubsub::{self, Inbox, Popped, Publisher, Servers, Subscriber, SubscriberOptions};

/// The channel used when none is configured.
pub const DEFAULT_CHANNEL: &str = "redwire.coord";

/// Settings of a [`Coordinator`].
#[derive(Debug, Clone)]
pub struct CoordinatorOptions {
    /// This node's id; messages carrying it are skipped. Default: random.
    pub node_id: NodeId,
    /// The channel all nodes share. Default [`DEFAULT_CHANNEL`].
    pub channel: String,
    /// Received events buffered for a slow consumer (drop-oldest). Default 4096.
    pub buffer: usize,
    /// Events waiting to be sent before [`Coordinator::publish`] waits. Default 4096.
    pub outbox: usize,
    /// Publishes of one batch that was never written, before it is dropped
    /// (and counted). Default 5.
    pub publish_attempts: u32,
    /// The underlying subscriber's settings (its buffer holds messages, each
    /// a batch of events).
    pub subscriber: SubscriberOptions,
    /// The wire format: redwire's own (default) or, with
    /// [`Compat::Stalwart016`], Stalwart 0.16's, where `node_id` must be the
    /// node's Stalwart id (0 to 65535). See [`CoordinatorOptions::stalwart`].
    pub compat: Compat,
}

impl CoordinatorOptions {
    /// Options for a node sharing coordination with Stalwart 0.16 nodes:
    /// its Stalwart node id, Stalwart's format and channel (`stwt.agora`),
    /// every other setting at its default.
    pub fn stalwart(node_id: u16) -> CoordinatorOptions {
        CoordinatorOptions {
            node_id: NodeId(u64::from(node_id)),
            channel: STALWART_CHANNEL.to_string(),
            compat: Compat::Stalwart016,
            ..CoordinatorOptions::default()
        }
    }

    /// These options with the configuration's `compat` applied: when it
    /// says `stalwart-0.16`, Stalwart's format, and its channel unless one
    /// other than the default was chosen.
    #[must_use]
    pub fn with_config_compat(mut self, config: &StoreConfig) -> CoordinatorOptions {
        if config.compat().is_stalwart() {
            self.compat = Compat::Stalwart016;
            if self.channel == DEFAULT_CHANNEL {
                self.channel = STALWART_CHANNEL.to_string();
            }
        }
        self
    }

    /// Checks that `node_id` fits the format.
    fn check(&self) -> Result<(), Error> {
        if self.compat.is_stalwart() {
            stalwart_node_id(self.node_id).map_err(|e| Error::Config(format!("coordinator node_id: {e}")))?;
        }
        Ok(())
    }
}

impl Default for CoordinatorOptions {
    fn default() -> Self {
        CoordinatorOptions {
            node_id: NodeId::random(),
            channel: DEFAULT_CHANNEL.to_string(),
            buffer: 4096,
            outbox: 4096,
            publish_attempts: 5,
            subscriber: SubscriberOptions { buffer: 1024, ..SubscriberOptions::default() },
            compat: Compat::default(),
        }
    }
}

/// Why events from other nodes may have been missed: resynchronise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missed {
    /// The subscription was interrupted (reconnect, restart, failover) and is back.
    Reconnected,
    /// This node read too slowly: this many deliveries (or, in the
    /// subscriber's own buffer, messages) were dropped.
    Lagged {
        /// How many were dropped.
        dropped: u64,
    },
    /// The server refused to restore the subscription: no more events will come.
    Unsubscribed,
}

/// What a coordinator delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// An event from another node.
    Event {
        /// The node that sent it.
        from: NodeId,
        /// The event.
        event: Event,
    },
    /// Events may have been missed; the state they drive should be reloaded.
    Missed(Missed),
    /// A message on the channel could not be read (another program, a bug,
    /// a newer format); it was dropped, and delivery goes on.
    Malformed(DecodeError),
}

/// Counters of a coordinator, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CoordinatorStats {
    /// Messages (batches) published.
    pub messages_sent: u64,
    /// Events published.
    pub events_sent: u64,
    /// Batches dropped after failing to publish.
    pub batches_failed: u64,
    /// Events delivered from other nodes.
    pub events_received: u64,
    /// Messages skipped because this node sent them.
    pub own_skipped: u64,
    /// Events of unknown kinds skipped.
    pub unknown_skipped: u64,
    /// Messages that could not be decoded.
    pub malformed: u64,
}

#[derive(Default)]
struct Counters {
    messages_sent: AtomicU64,
    events_sent: AtomicU64,
    batches_failed: AtomicU64,
    events_received: AtomicU64,
    own_skipped: AtomicU64,
    unknown_skipped: AtomicU64,
    malformed: AtomicU64,
    /// Events accepted by `publish` and not yet sent (or dropped).
    pending: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

enum Outlet {
    Redis(Publisher),
    Bus,
}

enum Source {
    Redis(Subscriber),
    Bus(BusSubscription),
}

impl Source {
    async fn next(&self) -> Option<pubsub::Event> {
        match self {
            Source::Redis(s) => s.recv().await,
            Source::Bus(b) => b.inbox().pop().await.map(|p| match p {
                Popped::Item(e) => e,
                Popped::Lagged(dropped) => pubsub::Event::Lagged { dropped },
            }),
        }
    }
}

struct Shared {
    node: NodeId,
    compat: Compat,
    outbox: mpsc::Sender<Event>,
    inbox: Arc<Inbox<Delivery>>,
    counters: Arc<Counters>,
    flushed: Arc<Notify>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.inbox.close();
    }
}

/// Publishes coordination events to the other nodes and delivers theirs.
/// Clones share everything; the tasks stop when the last clone is dropped.
#[derive(Clone)]
pub struct Coordinator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator").field("node", &self.shared.node).finish()
    }
}

impl Coordinator {
    /// A coordinator over the store of `config`: Redis or RedisCluster
    /// through the server(s); `Sharded` through its first store; the
    /// embedded `Default` store through the in-process bus. Must be called
    /// inside a tokio runtime.
    ///
    /// The configuration's `compat` applies as
    /// [`CoordinatorOptions::with_config_compat`] says.
    ///
    /// # Errors
    /// As [`Subscriber::connect`], [`Subscriber::subscribe`] and
    /// [`Publisher::connect`]; configuration errors from [`Servers::from_config`];
    /// [`Error::Config`] for a `node_id` Stalwart's format cannot carry.
    pub async fn start(config: &StoreConfig, options: CoordinatorOptions) -> Result<Coordinator, Error> {
        let options = options.with_config_compat(config);
        options.check()?;
        match config {
            StoreConfig::Default => Ok(Coordinator::in_process(options)),
            other => Coordinator::over(Servers::from_config(other)?, options).await,
        }
    }

    /// A coordinator over Redis servers.
    ///
    /// # Errors
    /// As [`Coordinator::start`].
    pub async fn over(servers: Servers, options: CoordinatorOptions) -> Result<Coordinator, Error> {
        options.check()?;
        let subscriber = Subscriber::connect(servers.clone(), options.subscriber.clone()).await?;
        subscriber.subscribe([options.channel.as_bytes()]).await?;
        let publisher = Publisher::connect(servers).await?;
        Ok(Coordinator::spawn(Outlet::Redis(publisher), Source::Redis(subscriber), options))
    }

    /// A coordinator on the in-process bus: every coordinator of this
    /// process on the same channel is a node. Must be called inside a tokio
    /// runtime. With a `node_id` Stalwart's format cannot carry, every
    /// [`Coordinator::publish`] fails with [`Error::Config`].
    pub fn in_process(options: CoordinatorOptions) -> Coordinator {
        let channel = Bytes::from(options.channel.clone());
        let subscription = bus::subscribe(&channel, options.subscriber.buffer);
        Coordinator::spawn(Outlet::Bus, Source::Bus(subscription), options)
    }

    fn spawn(outlet: Outlet, source: Source, options: CoordinatorOptions) -> Coordinator {
        let channel = Bytes::from(options.channel.clone());
        let (outbox, rx) = mpsc::channel(options.outbox.max(1));
        let inbox = Arc::new(Inbox::new(options.buffer));
        let counters = Arc::new(Counters::default());
        let flushed = Arc::new(Notify::new());
        let sender = Sender {
            outlet,
            channel,
            node: options.node_id,
            compat: options.compat,
            counters: counters.clone(),
            flushed: flushed.clone(),
            attempts: options.publish_attempts.max(1),
            min_backoff: options.subscriber.min_backoff,
            max_backoff: options.subscriber.max_backoff,
        };
        let send_task = tokio::spawn(sender.run(rx));
        let receive_task =
            tokio::spawn(receive(source, options.node_id, options.compat, inbox.clone(), counters.clone()));
        Coordinator {
            shared: Arc::new(Shared {
                node: options.node_id,
                compat: options.compat,
                outbox,
                inbox,
                counters,
                flushed,
                tasks: vec![send_task.abort_handle(), receive_task.abort_handle()],
            }),
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.shared.node
    }

    /// Whose wire format this coordinator speaks.
    pub fn compat(&self) -> Compat {
        self.shared.compat
    }

    /// Refuses what the wire format cannot carry, before it is queued.
    fn check(&self, event: &Event) -> Result<(), Error> {
        if !self.shared.compat.is_stalwart() {
            return Ok(());
        }
        stalwart_node_id(self.shared.node).map_err(|e| Error::Config(format!("coordinator node_id: {e}")))?;
        check_stalwart(event).map_err(|e| Error::Type {
            expected: "an event Stalwart 0.16's coordination format can carry",
            got: e.to_string(),
        })
    }

    /// Queues `event` for the other nodes; waits while the outbox is full.
    ///
    /// # Errors
    /// [`Error::Closed`] when the coordinator stopped; with Stalwart's format,
    /// [`Error::Type`] for an event it cannot carry (see `coord::stalwart`:
    /// application events, cache kinds above 255 ...) and [`Error::Config`]
    /// for a node id above 65535. A refused event is not queued.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped call queues nothing.
    pub async fn publish(&self, event: Event) -> Result<(), Error> {
        self.check(&event)?;
        let permit = self.shared.outbox.reserve().await.map_err(|_| Error::Closed)?;
        add(&self.shared.counters.pending, 1);
        permit.send(event);
        Ok(())
    }

    /// Queues `event` without waiting.
    ///
    /// # Errors
    /// [`Error::Other`] when the outbox is full, [`Error::Closed`] when the
    /// coordinator stopped, the format's refusals as for
    /// [`Coordinator::publish`]; the event is not queued.
    pub fn try_publish(&self, event: Event) -> Result<(), Error> {
        self.check(&event)?;
        match self.shared.outbox.try_reserve() {
            Ok(permit) => {
                add(&self.shared.counters.pending, 1);
                permit.send(event);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(())) => {
                Err(Error::Other("the coordination outbox is full".into()))
            }
            Err(mpsc::error::TrySendError::Closed(())) => Err(Error::Closed),
        }
    }

    /// Waits until every event queued so far was published (or dropped
    /// after failing; see [`CoordinatorStats::batches_failed`]).
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn flush(&self) {
        loop {
            let notified = self.shared.flushed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.counters.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// The next delivery; `None` once the coordinator stopped.
    ///
    /// # Cancel safety
    /// Cancel-safe: nothing is lost when the future is dropped.
    pub async fn recv(&self) -> Option<Delivery> {
        self.shared.inbox.pop().await.map(into_delivery)
    }

    /// The next delivery if one is buffered.
    pub fn try_recv(&self) -> Option<Delivery> {
        self.shared.inbox.try_pop().map(into_delivery)
    }

    /// The counters so far.
    pub fn stats(&self) -> CoordinatorStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CoordinatorStats {
            messages_sent: get(&c.messages_sent),
            events_sent: get(&c.events_sent),
            batches_failed: get(&c.batches_failed),
            events_received: get(&c.events_received),
            own_skipped: get(&c.own_skipped),
            unknown_skipped: get(&c.unknown_skipped),
            malformed: get(&c.malformed),
        }
    }
}

fn into_delivery(p: Popped<Delivery>) -> Delivery {
    match p {
        Popped::Item(d) => d,
        Popped::Lagged(dropped) => Delivery::Missed(Missed::Lagged { dropped }),
    }
}

/// The sending task's state.
struct Sender {
    outlet: Outlet,
    channel: Bytes,
    node: NodeId,
    compat: Compat,
    counters: Arc<Counters>,
    flushed: Arc<Notify>,
    attempts: u32,
    min_backoff: Duration,
    max_backoff: Duration,
}

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<Event>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // Takes what is waiting, up to a batch, as soon as this task is free.
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let n = batch.len() as u64;
            let payloads = if self.compat.is_stalwart() {
                // `publish` checked every event and the node id, so this does not fail.
                encode_stalwart(self.node, &batch).ok()
            } else {
                Some(vec![encode(self.node, &batch)])
            };
            let mut sent = payloads.is_some();
            for payload in payloads.into_iter().flatten() {
                if self.send(payload).await {
                    add(&self.counters.messages_sent, 1);
                } else {
                    sent = false;
                }
            }
            if sent {
                add(&self.counters.events_sent, n);
            } else {
                add(&self.counters.batches_failed, 1);
            }
            batch.clear();
            self.counters.pending.fetch_sub(n, Ordering::AcqRel);
            self.flushed.notify_waiters();
        }
    }

    /// Publishes one message; resends only what was never written (a
    /// message must not arrive twice). True when published.
    async fn send(&self, payload: Bytes) -> bool {
        for attempt in 0..self.attempts {
            let result = match &self.outlet {
                Outlet::Redis(p) => p.publish(&self.channel, payload.clone()).await.map(|_| ()),
                Outlet::Bus => {
                    bus::publish(&self.channel, payload.clone());
                    Ok(())
                }
            };
            match result {
                Ok(()) => return true,
                Err(e) if e.is_not_sent() => {
                    let wait = crate::backoff::backoff(
                        attempt,
                        self.min_backoff,
                        self.max_backoff,
                        rand::random::<u64>(),
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(_) => return false,
            }
        }
        false
    }
}

/// The receiving task: decode, skip our own, deliver.
async fn receive(
    source: Source,
    node: NodeId,
    compat: Compat,
    inbox: Arc<Inbox<Delivery>>,
    counters: Arc<Counters>,
) {
    while let Some(event) = source.next().await {
        match event {
            pubsub::Event::Message(m) => match decode_any(compat, &m.payload) {
                Ok(batch) if batch.sender == node => add(&counters.own_skipped, 1),
                Ok(batch) => {
                    add(&counters.unknown_skipped, u64::from(batch.unknown));
                    add(&counters.events_received, batch.events.len() as u64);
                    for event in batch.events {
                        inbox.push(Delivery::Event { from: batch.sender, event });
                    }
                }
                Err(e) => {
                    add(&counters.malformed, 1);
                    crate::observe::coord_decode_error(&e);
                    inbox.push(Delivery::Malformed(e));
                }
            },
            pubsub::Event::Resubscribed { .. } => inbox.push(Delivery::Missed(Missed::Reconnected)),
            pubsub::Event::Lagged { dropped } => inbox.push(Delivery::Missed(Missed::Lagged { dropped })),
            pubsub::Event::Refused { .. } => inbox.push(Delivery::Missed(Missed::Unsubscribed)),
            _ => {}
        }
    }
    inbox.close();
}

fn decode_any(compat: Compat, payload: &Bytes) -> Result<super::codec::Batch, DecodeError> {
    if compat.is_stalwart() {
        decode_stalwart(payload)
    } else {
        decode(payload)
    }
}
