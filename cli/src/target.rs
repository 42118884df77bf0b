//! What the CLI talks to: a server or cluster (the crate's one client type,
//! `AnyClient`), or a configured store, behind one small get/set/incr/send API,
//! and the client's stats for the bench summaries.

use bytes::Bytes;
use redwire::commands::{Execute, StringCommands};
use redwire::observe::Stats;
use redwire::{AnyClient, Cmd, Error, Frame, Store};

/// The thing `cmd` and `bench` send to.
pub enum Target {
    /// One server or a cluster.
    Server(AnyClient),
    /// Any store variant (`--config`, or the embedded one): `key_get` / `key_set`.
    Store(Store),
}

impl Target {
    /// Sends one raw command.
    pub async fn send(&self, c: &Cmd) -> Result<Frame, Error> {
        match self {
            Target::Server(AnyClient::Standalone(client)) => match client.send(c).await {
                // One command, then exit: it may change its connection's
                // state (HELLO, SELECT, CLIENT REPLY ...) on a connection of its own.
                Err(Error::NotOnSharedConnection { .. }) => client.exclusive().await?.send(c).await,
                other => other,
            },
            Target::Server(server) => server.execute(c).await,
            Target::Store(_) => Err(Error::Config("raw commands need a server: use --url".into())),
        }
    }

    /// `GET key`.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Error> {
        match self {
            Target::Server(server) => server.get(key).await,
            Target::Store(store) => store.key_get(key).await,
        }
    }

    /// `INCR key`: the new value. Servers only; a store has its own counters.
    pub async fn incr(&self, key: &[u8]) -> Result<i64, Error> {
        let c = redwire::cmd("INCR").arg(key);
        match self {
            Target::Server(server) => server.query(&c).await,
            Target::Store(_) => Err(Error::Config("INCR needs a server: use --url or --cluster".into())),
        }
    }

    /// What the client went through (reconnects, redirects, retries,
    /// refreshes); `None` for a store.
    pub fn stats(&self) -> Option<Stats> {
        match self {
            Target::Server(server) => Some(server.stats()),
            Target::Store(_) => None,
        }
    }

    /// [`Target::stats`] as the `client_stats` object of a `--json` summary (`null` for a store).
    pub fn stats_json(&self) -> serde_json::Value {
        match self.stats() {
            Some(s) => serde_json::json!({
                "reconnects": s.reconnects,
                "connect_failures": s.connect_failures,
                "resends": s.resends,
                "redirects_moved": s.redirects_moved,
                "redirects_ask": s.redirects_ask,
                "retries": s.retries,
                "topology_refreshes": s.topology_refreshes,
            }),
            None => serde_json::Value::Null,
        }
    }

    /// [`Target::stats`] as one line of a text summary (`None` for a store).
    pub fn stats_line(&self) -> Option<String> {
        self.stats().map(|s| {
            format!(
                "client: reconnects {}  connect failures {}  resends {}  redirects moved {} ask {}  retries {}  \
                 topology refreshes {}",
                s.reconnects,
                s.connect_failures,
                s.resends,
                s.redirects_moved,
                s.redirects_ask,
                s.retries,
                s.topology_refreshes
            )
        })
    }

    /// `SET key value`.
    pub async fn set(&self, key: &[u8], value: Bytes) -> Result<(), Error> {
        match self {
            Target::Server(server) => server.set(key, value).await,
            Target::Store(store) => store.key_set(key, value, None).await,
        }
    }
}
