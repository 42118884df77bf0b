//! Redis/Valkey Cluster: the client and what it lets you see of the cluster.
//!
//! Lives here (the public face of the cluster router): [`ClusterClient`] and its
//! [`ClusterOptions`], the [`RetryPolicy`] it follows on redirects and transient errors,
//! the read-only view of the topology it routes by ([`SlotMap`], [`Shard`], [`Node`],
//! [`Health`], [`Lag`]), and [`key_slot`], the hash slot of a key (CRC16 of the key or of
//! its `{hash tag}`), for callers who group keys by slot.
//!
//! Not here: the router's own machinery (command planning, splitting multi-key
//! commands per slot, merging replies, redirect classification, topology fetch). It
//! lives in a private module and may change in any release.
//!
//! ```no_run
//! # async fn run() -> redwire::Result<()> {
//! use redwire::cluster::ClusterClient;
//! use redwire::cmd;
//!
//! let client = ClusterClient::open(&["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]).await?;
//! client.send(&cmd("SET").arg("user:{42}:name").arg("Ada")).await?;
//! let name: Option<String> = client.query(&cmd("GET").arg("user:{42}:name")).await?;
//! assert_eq!(redwire::cluster::key_slot(b"user:{42}:name"), redwire::cluster::key_slot(b"{42}"));
//! # let _ = name;
//! # Ok(())
//! # }
//! ```

pub use crate::route::{
    key_slot, ClusterClient, ClusterOptions, Health, Lag, Node, RetryPolicy, Shard, SlotMap, SLOTS,
};
