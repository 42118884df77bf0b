//! Asking a cluster node for the topology: the one fetch the cluster router
//! and the pub/sub subscriber share.
//!
//! Lives here: [`node_options`] (a node's connection settings from a
//! template: its address, its TLS server name), [`fetch_topology`] (one
//! node, on a short-lived connection: `CLUSTER SHARDS`, then `CLUSTER SLOTS`
//! when the first reply is an error or serves no slot) and [`fetch_first`]
//! (the first of several nodes that answers). Not here: parsing the replies
//! (`topology::parse`), or choosing among several views
//! ([`SlotMap::pick_consensus`], the router's refresh).
//!
//! IO: tokio, one connection per ask, closed after it.

use std::time::Duration;

use crate::cmd::cmd;
use crate::conn::{Address, ConnectOptions, Connection};
use crate::error::{Error, NodeAddr};

use super::topology::SlotMap;

/// The longest a topology query may take on one node, connect aside.
const MAX_QUERY_TIME: Duration = Duration::from_secs(5);

/// Options to reach `node`: `template`'s credentials, TLS and timeouts with
/// the node's address. Over TLS the certificate is checked against the
/// node's own host unless the template names a server explicitly.
pub fn node_options(template: &ConnectOptions, node: &NodeAddr) -> ConnectOptions {
    let mut opts = template.clone();
    opts.address = Address::Tcp { host: node.host.to_string(), port: node.port };
    if let Some(tls) = &mut opts.tls {
        tls.server_name.get_or_insert_with(|| node.host.to_string());
    }
    opts
}

/// Asks one node for its view of the topology, on a short-lived connection
/// without `READONLY` (the query needs none, and a replica answers it too).
///
/// `CLUSTER SHARDS` first (node health, replication offsets, TLS ports);
/// `CLUSTER SLOTS` when that reply is an error (a server before 7.0) or
/// serves no slot.
///
/// # Errors
/// The connect error; [`Error::Timeout`] when the queries take longer than
/// the response timeout (at most 5 s); the reply's error or shape error;
/// [`Error::NotACluster`] when the node serves no slot.
pub async fn fetch_topology(opts: &ConnectOptions) -> Result<SlotMap, Error> {
    let mut o = opts.clone();
    o.readonly = false;
    let timeout = o.response_timeout.unwrap_or(MAX_QUERY_TIME).min(MAX_QUERY_TIME);
    o.connect_timeout = o.connect_timeout.min(timeout);
    let host = match &o.address {
        Address::Tcp { host, .. } => host.clone(),
        Address::Unix(_) => String::from("127.0.0.1"),
    };
    let tls = o.tls.is_some();
    let conn = Connection::connect(&o, None).await?;
    let query = async {
        let shards = conn.send(&cmd("CLUSTER").arg("SHARDS")).await?;
        match SlotMap::from_shards(&shards, &host, tls) {
            Ok(map) if map.assigned_slots() > 0 => Ok(map),
            _ => {
                let slots = conn.send(&cmd("CLUSTER").arg("SLOTS")).await?;
                SlotMap::from_slots(&slots, &host)
            }
        }
    };
    let result = tokio::time::timeout(timeout, query).await.map_err(|_| Error::Timeout);
    conn.close();
    // Its tasks end before the caller goes on (a closing client waits for this).
    conn.stopped().await;
    let map = result??;
    if map.assigned_slots() == 0 {
        return Err(Error::NotACluster { node: opts.describe().into() });
    }
    Ok(map)
}

/// The topology as the first answering node sees it: `known` nodes first
/// (from an earlier map: more current than the seeds), then the seeds.
///
/// # Errors
/// The last node's error when none answers with a usable map;
/// [`Error::Config`] when there is no node to ask.
pub async fn fetch_first(
    template: &ConnectOptions,
    known: &[NodeAddr],
    seeds: &[ConnectOptions],
) -> Result<SlotMap, Error> {
    let mut last = Error::Config("no cluster node to ask for the slot map".into());
    let candidates = known.iter().map(|n| node_options(template, n)).chain(seeds.iter().cloned());
    for opts in candidates {
        match fetch_topology(&opts).await {
            Ok(map) => return Ok(map),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::TlsOptions;

    #[test]
    fn node_options_keep_everything_but_the_address() {
        let mut t = ConnectOptions::tcp("seed", 1);
        t.username = Some("u".into());
        let o = node_options(&t, &NodeAddr::new("10.0.0.9", 7003));
        assert_eq!(o.address, Address::Tcp { host: "10.0.0.9".into(), port: 7003 });
        assert_eq!(o.username.as_deref(), Some("u"));
        assert!(o.tls.is_none());
    }

    #[test]
    fn tls_names_the_node_unless_the_template_does() {
        let mut t = ConnectOptions::tcp("seed", 1);
        t.tls = Some(TlsOptions::default());
        let o = node_options(&t, &NodeAddr::new("node-3.example", 7003));
        assert_eq!(o.tls.and_then(|tls| tls.server_name).as_deref(), Some("node-3.example"));
        if let Some(tls) = &mut t.tls {
            tls.server_name = Some("cluster.example".into());
        }
        let o = node_options(&t, &NodeAddr::new("node-3.example", 7003));
        assert_eq!(o.tls.and_then(|tls| tls.server_name).as_deref(), Some("cluster.example"));
    }
}
