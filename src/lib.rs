//! redwire: a Redis/Valkey client built to be fast and hard to break.
//!
//! Layers, bottom to top; each uses only the layers below it:
//!
//! | layer | module | IO? |
//! |---|---|---|
//! | errors, secrets | [`error`], [`secret`] | pure |
//! | wire format | [`resp`] (frame, decode, encode) | pure |
//! | commands | [`cmd`](mod@cmd) (builder, reply conversion, command table) | pure |
//! | retry timing | [`backoff`] | pure |
//! | one connection | [`conn`] (transport, handshake, driver, reconnect) | tokio |
//! | exclusive connections | [`pool`] | tokio |
//! | push frames of a client (tracking, keyspace notifications) | [`push`] (borrows the pub/sub inbox) | tokio |
//! | client-side cache (tracking, bounded store) | [`cache`] (commands, store: pure; tracker, send: tokio) | both |
//! | standalone client | [`client`] | tokio |
//! | typed commands, any topology | [`commands`] | tokio |
//! | sentinel client | [`sentinel`] (replies: pure; client, failover watch: tokio) | both |
//! | routing | [`route`] (slot, topology, redirect, split: pure; fetch, cluster: tokio) | both |
//! | what users call | [`store`], [`pubsub`] (registry: pure; subscriber, publisher: tokio) | both |
//! | cluster coordination | [`coord`] (events, wire format: pure; coordinator, in-process bus) | both |
//! | configuration | [`config`], [`url`] | pure |
//!
//! See `ARCHITECTURE.md` for the data flow of one GET and the invariants.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
pub mod cache;
pub mod client;
pub mod cmd;
pub mod commands;
pub mod config;
pub mod conn;
pub mod coord;
pub mod error;
pub mod pipeline;
pub mod pool;
pub mod pubsub;
pub mod push;
pub mod resp;
pub mod route;
pub mod secret;
pub mod sentinel;
pub mod store;
pub mod url;

pub use client::Client;
pub use cmd::{cmd, Cmd, FromReply, ToArg};
pub use commands::{connect, AnyClient, Execute};
pub use conn::{ConnectOptions, Connection};
pub use error::{Error, NodeAddr, ProtocolError, Result, ServerError, ServerErrorKind};
pub use pipeline::{pipe, Pipeline};
pub use pool::{Pool, PoolOptions};
pub use resp::Frame;
pub use route::ClusterClient;
pub use secret::Secret;
pub use store::{Store, StoreKind};
