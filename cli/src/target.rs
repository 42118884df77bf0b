//! What the CLI talks to: a server or cluster (the crate's one client type,
//! `AnyClient`), or a configured store, behind one small get/set/incr/send API,
//! and the client's stats for the bench summaries; and how a failure to reach
//! it is told (`could_not_connect`, redis-cli's words: `Could not connect to
//! 127.0.0.1:1: Connection refused`).

use bytes::Bytes;
use redwire::commands::{Execute, StringCommands};
use redwire::conn::Address;
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

    /// The client-side cache's counters, when the client has one.
    pub fn cache_stats(&self) -> Option<redwire::cache::CacheStats> {
        match self {
            Target::Server(AnyClient::Standalone(c)) => c.cache_stats(),
            Target::Server(AnyClient::Cluster(c)) => c.cache_stats(),
            _ => None,
        }
    }
}

/// A failure to reach the server(s) at `addresses`, said as redis-cli says it:
/// `Could not connect to 127.0.0.1:1: Connection refused` (several seeds are
/// joined with `or`). Only the address is named, never a URL, so no user name
/// or password can show. Errors that are not about reaching the server (a
/// rejected password, a bad reply, a bad URL) are returned unchanged.
pub fn could_not_connect(addresses: &[&Address], e: Error) -> Error {
    let Some(reason) = unreachable_reason(&e).filter(|_| !addresses.is_empty()) else { return e };
    let names: Vec<String> = addresses.iter().map(|a| address_name(a)).collect();
    Error::Other(format!("Could not connect to {}: {reason}", names.join(" or ")))
}

/// Why the server could not be reached, if that is what `e` says.
fn unreachable_reason(e: &Error) -> Option<String> {
    match e {
        // "Connection refused (os error 111)": redis-cli prints strerror alone.
        Error::Io(io) => {
            let text = io.to_string();
            let text = text.split(" (os error ").next().unwrap_or(&text);
            Some(text.trim_start_matches("failed to lookup address information: ").to_string())
        }
        Error::ConnectTimeout => Some("Connection timed out".into()),
        Error::Tls(_) => Some(e.to_string()),
        Error::NotSent { cause } => unreachable_reason(cause),
        Error::RetriesExhausted { last, .. } => unreachable_reason(last),
        _ => None,
    }
}

/// `host:port` (`[::1]:port` for IPv6), or the socket's path.
fn address_name(address: &Address) -> String {
    match address {
        Address::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
        Address::Tcp { host, port } => format!("{host}:{port}"),
        Address::Unix(path) => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn connect_failures_name_the_address_like_redis_cli() {
        let tcp = Address::Tcp { host: "127.0.0.1".into(), port: 1 };
        let refused = Error::Io(Arc::new(io::Error::from_raw_os_error(111)));
        assert_eq!(
            could_not_connect(&[&tcp], refused.clone()).to_string(),
            "Could not connect to 127.0.0.1:1: Connection refused"
        );
        let nested = Error::NotSent { cause: Arc::new(refused) };
        let v6 = Address::Tcp { host: "::1".into(), port: 6379 };
        assert_eq!(
            could_not_connect(&[&tcp, &v6], nested).to_string(),
            "Could not connect to 127.0.0.1:1 or [::1]:6379: Connection refused"
        );
        let unix = Address::Unix("/tmp/none.sock".into());
        assert_eq!(
            could_not_connect(&[&unix], Error::ConnectTimeout).to_string(),
            "Could not connect to /tmp/none.sock: Connection timed out"
        );
        // Not about reaching the server: unchanged.
        let other = could_not_connect(&[&tcp], Error::Url("bad port".into()));
        assert!(matches!(other, Error::Url(_)), "{other}");
    }
}
