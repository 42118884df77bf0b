//! The typed command API, one for every topology.
//!
//! [`Execute`] is what a client must do: send one [`Cmd`] and return its
//! reply frame, routed as that client routes (by slot on a cluster, blocking
//! commands on an exclusive connection). [`Client`], [`ClusterClient`] and
//! [`AnyClient`] (either, chosen at run time by [`connect`]) implement it.
//! The command groups ([`StringCommands`] ...) are extension traits with a
//! blanket implementation for every `Execute`, each method building its
//! command, sending it and converting the reply to a typed value, so the same
//! service code runs on one server or a cluster:
//!
//! ```no_run
//! use redwire::commands::*;
//!
//! async fn bump<C: Execute>(client: &C) -> redwire::Result<i64> {
//!     client.set("greeting", "hello").await?;
//!     client.incr("visits").await
//! }
//! ```
//!
//! Bring the groups into scope with `use redwire::commands::*`. Not here: the
//! wire format (`resp`), the command builder (`cmd`), routing (`route`).

// Command groups A (strings, keys, hashes, HyperLogLog, bitmaps, scripting,
// publishing, server).
mod bitmaps;
mod hashes;
mod hyperloglog;
mod keys;
mod pubsub;
mod scripting;
mod server;
mod strings;

// Collections: lists, sets, sorted sets, streams, geo.
mod geo;
mod lists;
mod member_scan;
mod reply_shape;
mod sets;
mod sorted_sets;
mod stream_options;
mod stream_reply;
mod streams;
mod zrange;

use std::future::Future;

use crate::client::Client;
use crate::cmd::{Cmd, FromReply};
use crate::error::Error;
use crate::resp::Frame;
use crate::route::ClusterClient;
use crate::sentinel::SentinelClient;

pub use bitmaps::{BitFieldOp, BitOp, BitRange, BitType, BitUnit, BitmapCommands};
pub use hashes::{FieldExpiry, HashCommands, HashScanPage};
pub use hyperloglog::HyperLogLogCommands;
pub use keys::{ExpireCondition, KeyCommands, ScanOptions, ScanPage};
pub use pubsub::PubSubCommands;
pub use scripting::{FunctionLibrary, ScriptingCommands};
pub use server::{FlushMode, ServerCommands};
pub use strings::{Expiry, SetCondition, SetOptions, StringCommands};

pub use geo::{GeoAddOptions, GeoCommands, GeoFrom, GeoMatch, GeoOrder, GeoSearchOptions, GeoShape, GeoUnit};
pub use lists::{InsertPlace, LPosOptions, ListCommands, ListEnd};
pub use member_scan::{MemberScanOptions, ScanReply};
pub use sets::SetCommands;
pub use sorted_sets::{SortedSetCommands, ZAddOptions};
pub use stream_options::{PendingRange, StreamTrim, XAddOptions, XReadGroupOptions, XReadOptions};
pub use stream_reply::{
    AutoClaim, ConsumerInfo, GroupInfo, PendingEntry, PendingSummary, StreamEntry, StreamInfo, StreamRead,
};
pub use streams::StreamCommands;
pub use zrange::{LexBound, ScoreBound, ZRange};

/// A client that can send one command and return its reply frame.
///
/// Error replies come back as `Ok(Frame::SimpleError)`; the typed methods of
/// the command groups turn them into [`Error::Server`].
pub trait Execute: Send + Sync {
    /// Sends `cmd` and returns its reply.
    ///
    /// # Errors
    /// Connection and routing failures, as the client documents them.
    fn execute(&self, cmd: &Cmd) -> impl Future<Output = Result<Frame, Error>> + Send;

    /// Sends `cmd` and converts its reply.
    ///
    /// # Errors
    /// As [`Execute::execute`], plus [`Error::Server`] for an error reply and
    /// [`Error::Type`] for a reply of another shape.
    fn query<T: FromReply>(&self, cmd: &Cmd) -> impl Future<Output = Result<T, Error>> + Send {
        async move { T::from_reply(self.execute(cmd).await?) }
    }
}

impl Execute for Client {
    fn execute(&self, cmd: &Cmd) -> impl Future<Output = Result<Frame, Error>> + Send {
        self.send(cmd)
    }
}

impl Execute for ClusterClient {
    fn execute(&self, cmd: &Cmd) -> impl Future<Output = Result<Frame, Error>> + Send {
        self.send(cmd)
    }
}

/// One server, a cluster or a sentinel-monitored master, decided when
/// connecting ([`connect`], or the store's configuration): the one type a
/// service (and this crate's store, publisher and CLI) holds whatever the
/// deployment.
#[derive(Clone, Debug)]
pub enum AnyClient {
    /// One server (with its pool for blocking commands).
    Standalone(Client),
    /// A cluster.
    Cluster(ClusterClient),
    /// The master the sentinels name, followed through failovers.
    Sentinel(SentinelClient),
}

impl AnyClient {
    /// Closes every connection and waits for the background tasks (see
    /// [`Client::close`], [`ClusterClient::close`]); a sentinel client closes
    /// its current master's client.
    pub async fn close(&self) {
        match self {
            AnyClient::Standalone(c) => c.close().await,
            AnyClient::Cluster(c) => c.close().await,
            AnyClient::Sentinel(c) => c.master().close().await,
        }
    }

    /// True for a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, AnyClient::Cluster(_))
    }

    /// What the client went through (see [`Client::stats`],
    /// [`ClusterClient::stats`]); for a sentinel client, its current
    /// master's connection, counted from the last switch.
    pub fn stats(&self) -> crate::observe::Stats {
        match self {
            AnyClient::Standalone(c) => c.stats(),
            AnyClient::Cluster(c) => c.stats(),
            AnyClient::Sentinel(c) => c.master().stats(),
        }
    }
}

impl Execute for AnyClient {
    async fn execute(&self, cmd: &Cmd) -> Result<Frame, Error> {
        match self {
            AnyClient::Standalone(c) => c.send(cmd).await,
            AnyClient::Cluster(c) => c.send(cmd).await,
            AnyClient::Sentinel(c) => c.send(cmd).await,
        }
    }
}

impl Execute for SentinelClient {
    fn execute(&self, cmd: &Cmd) -> impl Future<Output = Result<Frame, Error>> + Send {
        self.send(cmd)
    }
}

/// Checks a reply that must be `+OK`.
///
/// # Errors
/// [`Error::Server`] for an error reply, [`Error::Type`] for anything but `OK`.
pub(crate) fn expect_ok(frame: Frame) -> Result<(), Error> {
    match frame.value() {
        Frame::SimpleString(s) if s.as_ref() == b"OK" => Ok(()),
        Frame::SimpleError(e) | Frame::BlobError(e) => Err(Error::Server(e.clone())),
        other => Err(Error::Type { expected: "+OK", got: other.type_name().into() }),
    }
}

/// Connects to `urls`: one URL is one server (`redis://`, `rediss://` ...);
/// several, or a URL whose server says it is a cluster node, a cluster.
///
/// # Errors
/// [`Error::Url`] for a URL that does not parse; connect errors.
pub async fn connect<S: AsRef<str>>(urls: &[S]) -> Result<AnyClient, Error> {
    let Some(first) = urls.first() else {
        return Err(Error::Url("no URL given".into()));
    };
    if urls.len() == 1 {
        let client = Client::open(first.as_ref()).await?;
        let cluster_enabled: Result<String, Error> =
            client.query(&crate::cmd::cmd("INFO").arg("cluster")).await;
        if !cluster_enabled.is_ok_and(|info| info.contains("cluster_enabled:1")) {
            return Ok(AnyClient::Standalone(client));
        }
    }
    let mut seeds = Vec::with_capacity(urls.len());
    for url in urls {
        seeds.push(crate::url::parse_url(url.as_ref())?);
    }
    let opts = crate::route::ClusterOptions { seeds, read_from_replicas: false, ..Default::default() };
    Ok(AnyClient::Cluster(ClusterClient::connect(opts).await?))
}
