//! redwire: a Redis/Valkey client built to be fast and hard to break.
//!
//! One tokio client for a standalone server, a cluster or a Sentinel-managed
//! master: commands are multiplexed and pipelined on shared connections,
//! cluster redirects and failovers are followed, and every failure says
//! whether the command ran ([`Error::NotSent`]: it did not, safe to send
//! again; [`Error::OutcomeUnknown`]: it may have).
//!
//! # A tour
//!
//! **Connect.** [`connect`] takes one URL or several cluster seeds and finds
//! out the topology; [`Client`] (one server), [`ClusterClient`] and
//! [`sentinel::SentinelClient`] can be opened directly. URLs are
//! `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS (see
//! [`url::parse_url`]); [`ConnectOptions`] and [`ClusterOptions`] hold the rest.
//!
//! **Typed commands.** The groups in [`commands`] ([`commands::StringCommands`],
//! [`commands::HashCommands`], ...) are extension traits on every [`Execute`]
//! client, so service code is written once for any topology:
//!
//! ```no_run
//! use redwire::commands::*;
//!
//! async fn visit<C: Execute>(client: &C) -> redwire::Result<i64> {
//!     client.set("greeting", "hello").await?;
//!     let _greeting: Option<bytes::Bytes> = client.get("greeting").await?;
//!     client.incr("hits").await
//! }
//!
//! # async fn run() -> redwire::Result<()> {
//! let client = redwire::connect(&["redis://127.0.0.1:6379"]).await?; // or cluster seeds
//! visit(&client).await?;
//! # Ok(()) }
//! ```
//!
//! Any other command: build it with [`cmd()`] ([`Cmd`], arguments are
//! anything [`ToArg`]) and convert the reply with [`FromReply`]:
//! `client.query::<i64>(&cmd("INCRBY").arg("hits").arg(5))`, or take the raw
//! [`Frame`] with `send`.
//!
//! **Cluster.** [`ClusterClient`] routes each command to its slot's node,
//! follows `MOVED`/`ASK`, retries by a [`cluster::RetryPolicy`], splits
//! multi-key commands whose keys span slots, and can read from replicas.
//! [`key_slot`] tells which slot a key hashes to; [`cluster`] has the rest.
//!
//! **Pipelines and transactions.** [`pipe()`] batches commands in one round
//! trip (one per node on a cluster) with typed replies; `.atomic()` makes it
//! `MULTI`/`EXEC`; [`pipeline::transaction`] runs a `WATCH`-guarded
//! read-decide-write and retries it when a watched key changed.
//!
//! ```no_run
//! # async fn run(client: redwire::AnyClient) -> redwire::Result<()> {
//! let ((), visits): ((), i64) = redwire::pipe().set("name", "ann").incr("visits").query(&client).await?;
//! # Ok(()) }
//! ```
//!
//! **Pub/sub.** A [`pubsub::Subscriber`] keeps its subscriptions across
//! reconnects, failovers and slot moves, and says when messages may have been
//! lost ([`pubsub::Event::Interrupted`], `Resubscribed`, `Lagged`); a
//! [`pubsub::Publisher`] publishes. Client-side caching and keyspace
//! notifications arrive through [`push`].
//!
//! **Store.** [`Store`] is a small key-value API (values with expiry,
//! counters, rate limits, locks with owner tokens, prefix delete) over an
//! embedded map, Redis, a cluster, Sentinel or several sharded servers, built
//! from the same JSON configuration Stalwart's `InMemoryStore` takes
//! ([`config`]). [`coord::Coordinator`] broadcasts typed events between the
//! nodes of a service over pub/sub.
//!
//! **Lower levels.** [`Connection`] is one multiplexed connection, [`Pool`]
//! lends exclusive ones (blocking commands, `WATCH`). [`resp`] is the sans-IO
//! RESP2/RESP3 codec ([`resp::Decoder`] with [`resp::DecodeLimits`],
//! [`resp::encode_frame`]) for callers who run their own IO.
//!
//! **Errors.** One [`Error`] enum; server errors are classified once into a
//! [`ServerErrorKind`], and predicates such as [`Error::is_retryable`] and
//! [`Error::is_timeout`] answer the usual questions. [`Secret`] keeps
//! passwords out of `Debug` output and logs.
//!
//! # Features
//!
//! The first four are on by default.
//!
//! - `tls`: `rediss://` and `valkeys://` with rustls; without it a TLS address
//!   fails to connect with `Error::Tls`.
//! - `native-roots`: trust the operating system's root certificates.
//! - `webpki-roots`: Mozilla's roots compiled in (and the fallback when the
//!   system store is empty).
//! - `serde`: `FromReply` for a user's struct from a JSON string (`cmd::Json`)
//!   or a hash (`cmd::Hash`).
//! - `tracing` (off by default): structured events for reconnects, the
//!   watchdog, redirects, retries, topology refreshes, pool exhaustion and
//!   pub/sub gaps; `metrics` (off by default): counters, gauges and a latency
//!   histogram through the `metrics` facade. Both listed in [`observe`], whose
//!   [`observe::Stats`] (`Client::stats()`, `ClusterClient::stats()`) needs no feature.
//!
//! # Stability
//!
//! Everything documented here is the public API and follows semver. The
//! hidden `__unstable` module exists for redwire's own fuzz targets and tests:
//! it carries no guarantee and may change in any release.
//!
//! # Layers
//!
//! Bottom to top; each uses only the layers below it. Modules without a link
//! are private.
//!
//! | layer | module | IO? |
//! |---|---|---|
//! | errors, secrets | [`error`], `secret` | pure |
//! | observability, called from every layer (reads their option and event types) | [`observe`] (`Stats`; `tracing` events and `metrics` behind features) | pure |
//! | wire format | [`resp`] (frame, decode, encode) | pure |
//! | commands | [`cmd`](mod@cmd) (builder, reply conversion, command table) | pure |
//! | retry timing | `backoff` | pure |
//! | one connection | [`conn`] (transport, handshake, driver, reconnect) | tokio |
//! | exclusive connections | [`pool`] | tokio |
//! | push frames of a client (tracking, keyspace notifications) | [`push`] (borrows the pub/sub inbox) | tokio |
//! | standalone client | [`client`] | tokio |
//! | typed commands, any topology | [`commands`], [`pipeline`] | tokio |
//! | sentinel client | [`sentinel`] (replies: pure; client, failover watch: tokio) | both |
//! | routing | `route` (slot, topology, redirect, split: pure; fetch, cluster: tokio), public as [`cluster`] | both |
//! | what users call | [`store`], [`pubsub`] (registry: pure; subscriber, publisher: tokio) | both |
//! | cluster coordination | [`coord`] (events, wire format: pure; coordinator, in-process bus) | both |
//! | configuration | [`config`], [`url`] | pure |
//!
//! See `ARCHITECTURE.md` for the data flow of one GET and the invariants.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub(crate) mod backoff;
pub mod client;
pub mod cluster;
pub mod cmd;
pub mod commands;
pub mod config;
pub mod conn;
pub mod coord;
pub mod error;
pub mod observe;
pub mod pipeline;
pub mod pool;
pub mod pubsub;
pub mod push;
pub mod resp;
pub(crate) mod route;
pub(crate) mod secret;
pub mod sentinel;
pub mod store;
pub mod url;

#[doc(hidden)]
#[path = "unstable.rs"]
pub mod __unstable;

pub use client::Client;
pub use cluster::{key_slot, ClusterClient, ClusterOptions};
pub use cmd::{cmd, Cmd, FromReply, ToArg};
pub use commands::{connect, AnyClient, Execute};
pub use conn::{ConnectOptions, Connection};
pub use error::{Error, NodeAddr, ProtocolError, Result, ServerError, ServerErrorKind};
pub use pipeline::{pipe, Pipeline};
pub use pool::{Pool, PoolOptions};
pub use resp::Frame;
pub use secret::Secret;
pub use store::{Store, StoreKind};
