//! Test support shared by the integration tests: real servers, a blocking RESP client and a
//! scripted fake server. Each test file pulls it in with `mod support;`.
//!
//! What lives here:
//! - [`resp_client`]: a tiny blocking RESP2/RESP3 client with its own parser. It never uses
//!   redwire's codec, so the harness keeps working while the codec under test is broken.
//! - [`server`]: one standalone Valkey (`Server`), optionally with an ACL user.
//! - [`cluster`], [`cluster_node`]: a 3 primary + 3 replica Valkey cluster (`Cluster`), formed by hand.
//! - [`sentinel`]: 1 master + 1 replica + 3 sentinels (`SentinelGroup`), the sentinels being
//!   `valkey-server --sentinel` with a generated config.
//! - [`tls`]: Debian's `redis-server` with TLS (`TlsServer`); [`certs`] makes a CA and certificates.
//! - [`fake`]: `FakeServer`, which follows a script, for what a real server will not do.
//! - [`typed`]: the typed-API suite's harness (one suite, three topologies).
//! - [`ports`], [`scratch`], [`process`]: free ports, scratch dirs, child processes.
//!
//! What does not: anything from redwire itself. Every helper panics with a useful message on
//! failure (this is test code); servers are killed and scratch dirs removed on drop.
//!
//! Usage, in `tests/<name>.rs`:
//!
//! ```ignore
//! mod support;
//! use support::{Cluster, Server, ServerOptions};
//!
//! let server = Server::start_with(ServerOptions::new().user("alice", "pw"));
//! server.client().cmd(&["SET", "k", "v"]).assert_ok(); // the harness's own client
//! let url = server.url(); // redis://alice:pw@127.0.0.1:<port>, for the client under test
//! let cluster = Cluster::start(); // 3 primaries + 3 replicas, formed and in sync
//! let seeds = cluster.seed_urls();
//! ```
//!
//! Binaries: `$REDWIRE_VALKEY_SERVER` / `$REDWIRE_REDIS_SERVER` (exported by `scripts/test`), else
//! the places `scripts/install-deps` installs to; missing binaries fail the test, never skip it.
//! `REDWIRE_KEEP_SCRATCH=1` keeps the scratch dirs (logs, `nodes.conf`) under `.tmp/` for a
//! post-mortem.

// Each test binary uses a different part of this module: unused items and re-exports are normal.
#![allow(dead_code, unused_imports)]

pub mod certs;
pub mod cluster;
pub mod cluster_node;
pub mod fake;
pub mod ports;
pub mod process;
pub mod resp_client;
pub mod scratch;
pub mod sentinel;
pub mod server;
pub mod tls;
pub mod typed;

pub use certs::TestCerts;
pub use cluster::{Cluster, ClusterNode, ClusterOptions, Role};
pub use fake::{FakeServer, Step};
pub use resp_client::{Client, Reply};
pub use sentinel::SentinelGroup;
pub use server::{Server, ServerOptions};
pub use tls::{TlsAuthClients, TlsOptions, TlsServer};
