//! The two clients behind one shape: a [`Publisher`] (one multiplexed
//! connection, `PUBLISH` per message) and a [`Feed`] (one subscription on its
//! own connection), each through the library's ordinary public API.
//!
//! - redwire: [`redwire::pubsub::Publisher`] and [`redwire::pubsub::Subscriber`].
//! - redis-rs: a `MultiplexedConnection` and `Client::get_async_pubsub()`.
//!
//! Both speak RESP2 (their default). Two redis-rs defaults are changed, each
//! to match what redwire does by default, so that the bench's own window is
//! the only limit on publishes in flight for both:
//!
//! - the 500 ms response timeout is off (redwire has none): a stall on a
//!   loaded machine must show up as latency, not end one client's run early;
//! - the command queue (`pipeline_buffer_size`, default 50) holds the whole
//!   window (redwire queues up to 65536). With the default, publishes that
//!   find the queue full wait in tokio's semaphore, and a newer publish that
//!   arrives when room frees up, after every waiter was granted room but
//!   before all of them ran, is queued ahead of them: the server then sees
//!   the publishes out of order. Measured with a window of 256: 0 to 173 of
//!   200000 publishes reordered per run (confirmed with `MONITOR`); none with
//!   the queue at 256.
//!
//! Not here: the window of publishes, the measurement (`run`).

use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;

use clap::ValueEnum;
use futures_core::Stream;

use super::payload;
use super::window::Boxed;

/// Which library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum Library {
    /// redwire (this crate).
    #[value(name = "redwire")]
    #[serde(rename = "redwire")]
    Redwire,
    /// redis-rs (`redis` on crates.io).
    #[value(name = "redis-rs")]
    #[serde(rename = "redis-rs")]
    RedisRs,
}

impl Library {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Library::Redwire => "redwire",
            Library::RedisRs => "redis-rs",
        }
    }
}

/// Publishes the bench's messages on one channel.
pub enum Publisher {
    Redwire(redwire::pubsub::Publisher),
    RedisRs(redis::aio::MultiplexedConnection),
}

impl Publisher {
    /// Connects one publishing connection; `queue`: redis-rs's command queue
    /// (redwire's is fixed and larger than any window used here).
    ///
    /// # Errors
    /// The client's connect error, as text.
    pub async fn connect(library: Library, url: &str, queue: usize) -> Result<Publisher, String> {
        match library {
            Library::Redwire => {
                let opts = redwire::url::parse_url(url).map_err(|e| format!("redwire url: {e}"))?;
                let servers = redwire::pubsub::Servers::standalone(opts);
                let p = redwire::pubsub::Publisher::connect(servers)
                    .await
                    .map_err(|e| format!("redwire publisher: {e}"))?;
                Ok(Publisher::Redwire(p))
            }
            Library::RedisRs => {
                let client = redis::Client::open(url).map_err(|e| format!("redis-rs url: {e}"))?;
                let config = redis::AsyncConnectionConfig::new()
                    .set_response_timeout(None)
                    .set_pipeline_buffer_size(queue.max(1));
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| format!("redis-rs publisher: {e}"))?;
                Ok(Publisher::RedisRs(conn))
            }
        }
    }

    /// `PUBLISH channel payload`: resolves to the number of subscribers that
    /// received it. The command is queued on the future's first poll.
    pub fn publish(&self, channel: &Arc<str>, payload: Vec<u8>) -> Boxed<Result<u64, String>> {
        match self {
            Publisher::Redwire(p) => {
                let (p, channel) = (p.clone(), channel.clone());
                Box::pin(
                    async move { p.publish(&*channel, payload).await.map_err(|e| format!("PUBLISH: {e}")) },
                )
            }
            Publisher::RedisRs(conn) => {
                let mut conn = conn.clone();
                let cmd = redis::cmd("PUBLISH").arg(&**channel).arg(payload).to_owned();
                Box::pin(async move {
                    cmd.query_async::<u64>(&mut conn).await.map_err(|e| format!("PUBLISH: {e}"))
                })
            }
        }
    }
}

/// What a [`Feed`] yields.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// A message; its header (`None`: the payload did not parse).
    Message(Option<(u64, u64)>),
    /// The client dropped this many messages (a slow consumer).
    Dropped(u64),
    /// The client reported an interruption of the subscription, or a
    /// resubscription after one.
    Interrupted,
    /// The subscription ended.
    Closed,
}

/// One subscriber, subscribed to the bench channel on its own connection.
pub enum Feed {
    Redwire(redwire::pubsub::Subscriber),
    RedisRs(redis::aio::PubSub),
}

impl Feed {
    /// Connects and subscribes; returns once the server confirmed.
    /// `buffer`: redwire's [`redwire::pubsub::SubscriberOptions::buffer`]
    /// (`None`: its default). redis-rs's buffer is unbounded, not settable.
    ///
    /// # Errors
    /// The connect or subscribe error, as text.
    pub async fn connect(
        library: Library,
        url: &str,
        channel: &str,
        buffer: Option<usize>,
    ) -> Result<Feed, String> {
        match library {
            Library::Redwire => {
                let opts = redwire::url::parse_url(url).map_err(|e| format!("redwire url: {e}"))?;
                let servers = redwire::pubsub::Servers::standalone(opts);
                let mut options = redwire::pubsub::SubscriberOptions::default();
                if let Some(b) = buffer {
                    options.buffer = b;
                }
                let s = redwire::pubsub::Subscriber::connect(servers, options)
                    .await
                    .map_err(|e| format!("redwire subscriber: {e}"))?;
                s.subscribe([channel]).await.map_err(|e| format!("redwire SUBSCRIBE: {e}"))?;
                Ok(Feed::Redwire(s))
            }
            Library::RedisRs => {
                let client = redis::Client::open(url).map_err(|e| format!("redis-rs url: {e}"))?;
                let mut pubsub =
                    client.get_async_pubsub().await.map_err(|e| format!("redis-rs pubsub: {e}"))?;
                pubsub.subscribe(channel).await.map_err(|e| format!("redis-rs SUBSCRIBE: {e}"))?;
                Ok(Feed::RedisRs(pubsub))
            }
        }
    }

    /// The next message or event.
    ///
    /// # Cancel safety
    /// Cancel-safe for both clients: nothing is lost when the future is dropped.
    pub async fn recv(&mut self) -> Received {
        match self {
            Feed::Redwire(s) => match s.recv().await {
                Some(redwire::pubsub::Event::Message(m)) => Received::Message(payload::decode(&m.payload)),
                Some(redwire::pubsub::Event::Lagged { dropped }) => Received::Dropped(dropped),
                Some(_) => Received::Interrupted,
                None => Received::Closed,
            },
            Feed::RedisRs(pubsub) => {
                let mut stream = pin!(pubsub.on_message());
                match poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
                    Some(msg) => Received::Message(payload::decode(msg.get_payload_bytes())),
                    None => Received::Closed,
                }
            }
        }
    }
}
