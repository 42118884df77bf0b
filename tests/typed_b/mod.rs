//! The three topologies the typed collection and stream tests run on:
//! standalone Valkey over RESP2, the same over RESP3, and the real 6-node
//! cluster, each behind one `AnyClient` so a suite is written once.
//!
//! Used by `tests/typed_collections.rs` and `tests/typed_streams.rs` with
//! `mod support; mod typed_b;`. Not here: the servers themselves (`support`).

#![allow(dead_code)]

use std::time::Duration;

use redwire::cluster::{ClusterClient, ClusterOptions};
use redwire::url::parse_url;
use redwire::{AnyClient, Client, Frame, PoolOptions};

use crate::support::{Cluster, Server};

/// Which deployment a suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    Resp2,
    Resp3,
    Cluster,
}

/// A client and the servers behind it (killed on drop).
pub struct Target {
    pub topology: Topology,
    pub client: AnyClient,
    _server: Option<Server>,
    _cluster: Option<Cluster>,
}

impl Target {
    pub fn is_cluster(&self) -> bool {
        self.topology == Topology::Cluster
    }
}

/// Starts `topology` and connects a client to it.
pub async fn start(topology: Topology) -> Target {
    match topology {
        Topology::Resp2 | Topology::Resp3 => {
            let server = Server::start();
            let mut url = server.url();
            if topology == Topology::Resp3 {
                url.push_str("?protocol=resp3");
            }
            let mut opts = parse_url(&url).expect("url");
            opts.response_timeout = Some(Duration::from_secs(5));
            let client = Client::connect(opts, PoolOptions::default()).await.expect("connect");
            let client = AnyClient::Standalone(client);
            check_protocol(&client, topology).await;
            Target { topology, client, _server: Some(server), _cluster: None }
        }
        Topology::Cluster => {
            let cluster = Cluster::start();
            let seeds = cluster
                .seed_urls()
                .iter()
                .map(|u| {
                    let mut o = parse_url(u).expect("seed url");
                    o.response_timeout = Some(Duration::from_secs(5));
                    o
                })
                .collect();
            let client = ClusterClient::connect(ClusterOptions {
                seeds,
                read_from_replicas: false,
                ..ClusterOptions::default()
            })
            .await
            .expect("cluster connect");
            Target { topology, client: AnyClient::Cluster(client), _server: None, _cluster: Some(cluster) }
        }
    }
}

/// Proves the protocol the test claims: `ZSCORE` is a bulk string over RESP2
/// and a double over RESP3.
async fn check_protocol(client: &AnyClient, topology: Topology) {
    use redwire::{cmd, Execute};
    client.execute(&cmd("ZADD").arg("proto:z").arg(1.5).arg("m")).await.expect("zadd");
    let score = client.execute(&cmd("ZSCORE").arg("proto:z").arg("m")).await.expect("zscore");
    let resp3 = matches!(score, Frame::Double(_));
    assert_eq!(resp3, topology == Topology::Resp3, "{topology:?} answered {score:?}");
    client.execute(&cmd("DEL").arg("proto:z")).await.expect("del");
}
