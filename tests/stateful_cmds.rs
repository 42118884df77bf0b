//! Commands that change a shared connection's state, against real Valkey
//! (standalone and the 6-node cluster): each is refused with
//! `Error::NotOnSharedConnection` by `Client::send`, `Client::pipeline`,
//! `Client::transaction` and `ClusterClient::send`, nothing reaches the
//! server, and the shared connection keeps answering correctly. Blocking
//! commands are not refused: they run on an exclusive connection while
//! concurrent GETs on the shared one get their own replies, in the cluster
//! also when an ASK redirect sends them to the importing node (`ASKING` on
//! that same exclusive connection).

mod support;

use std::time::Duration;

use redwire::cluster::{key_slot, ClusterClient, ClusterOptions};
use redwire::commands::*;
use redwire::error::UseInstead;
use redwire::url::parse_url;
use redwire::{cmd, Client, Cmd, Error, Frame};
use support::{Cluster, Server};

/// Each stateful command, with the API the error must point to.
fn stateful() -> Vec<(Cmd, &'static str, UseInstead)> {
    vec![
        (cmd("SUBSCRIBE").arg("ch"), "SUBSCRIBE", UseInstead::Subscriber),
        (cmd("PSUBSCRIBE").arg("ch*"), "PSUBSCRIBE", UseInstead::Subscriber),
        (cmd("SSUBSCRIBE").arg("ch"), "SSUBSCRIBE", UseInstead::Subscriber),
        (cmd("UNSUBSCRIBE"), "UNSUBSCRIBE", UseInstead::Subscriber),
        (cmd("PUNSUBSCRIBE"), "PUNSUBSCRIBE", UseInstead::Subscriber),
        (cmd("SUNSUBSCRIBE").arg("ch"), "SUNSUBSCRIBE", UseInstead::Subscriber),
        (cmd("MULTI"), "MULTI", UseInstead::Transaction),
        (cmd("EXEC"), "EXEC", UseInstead::Transaction),
        (cmd("DISCARD"), "DISCARD", UseInstead::Transaction),
        (cmd("WATCH").arg("k"), "WATCH", UseInstead::Exclusive),
        (cmd("UNWATCH"), "UNWATCH", UseInstead::Exclusive),
        (cmd("CLIENT").arg("REPLY").arg("OFF"), "CLIENT REPLY", UseInstead::Exclusive),
        (cmd("CLIENT").arg("TRACKING").arg("ON"), "CLIENT TRACKING", UseInstead::Exclusive),
        (cmd("MONITOR"), "MONITOR", UseInstead::Exclusive),
        (cmd("RESET"), "RESET", UseInstead::Exclusive),
        (cmd("QUIT"), "QUIT", UseInstead::Exclusive),
        (cmd("SYNC"), "SYNC", UseInstead::Exclusive),
        (cmd("SELECT").arg(1), "SELECT", UseInstead::ConnectOptions),
        (cmd("HELLO").arg(2), "HELLO", UseInstead::ConnectOptions),
        (cmd("AUTH").arg("nobody").arg("pw"), "AUTH", UseInstead::ConnectOptions),
        (cmd("READONLY"), "READONLY", UseInstead::ConnectOptions),
        (cmd("READWRITE"), "READWRITE", UseInstead::ConnectOptions),
    ]
}

fn assert_refused(result: Result<impl std::fmt::Debug, Error>, name: &str, api: UseInstead) {
    match result {
        Err(Error::NotOnSharedConnection { command, use_instead }) => {
            assert_eq!(&*command, name);
            assert_eq!(use_instead, api, "{name}");
        }
        other => panic!("{name}: expected NotOnSharedConnection, got {other:?}"),
    }
}

/// Every command the server received so far, run or rejected (INFO commandstats).
fn commands_run(client: &mut support::Client) -> i64 {
    let mut total = 0;
    for (_, stats) in client.info("commandstats") {
        for field in stats.split(',') {
            if let Some(("calls" | "rejected_calls", n)) = field.split_once('=') {
                total += n.parse::<i64>().unwrap_or(0);
            }
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_refuses_stateful_commands_and_isolates_blocking_ones() {
    let server = Server::start();
    let mut harness = server.client();
    let client = Client::open(&server.url()).await.expect("connect");
    client.set("k", "v0").await.expect("set");

    let before = commands_run(&mut harness);
    for (c, name, api) in stateful() {
        assert_refused(client.send(&c).await, name, api);
        assert_refused(client.pipeline(&[cmd("GET").arg("k"), c.clone()]).await, name, api);
        assert_refused(client.transaction(std::slice::from_ref(&c)).await, name, api);
    }
    // Nothing was sent: the server ran only the INFO of the first count.
    assert_eq!(commands_run(&mut harness), before + 1, "a refused command reached the server");
    // The shared connection is as it was: same db, replies on, not subscribed.
    assert_eq!(client.get("k").await.expect("get").as_deref(), Some(&b"v0"[..]));
    client.set("k", "v1").await.expect("set");
    assert_eq!(harness.cmd_text(&["GET", "k"]), "v1", "the write went to db 0");

    // The transaction API still works (it adds MULTI/EXEC itself).
    let replies =
        client.transaction(&[cmd("SET").arg("t").arg(1), cmd("INCR").arg("t")]).await.expect("transaction");
    assert_eq!(replies, vec![Frame::SimpleString("OK".into()), Frame::Integer(2)]);

    // A blocking command in a pipeline would hold back every other caller.
    assert_refused(
        client.pipeline(&[cmd("GET").arg("k"), cmd("BLPOP").arg("list").arg(1)]).await,
        "BLPOP",
        UseInstead::Exclusive,
    );

    // Alone, it waits on an exclusive connection while GETs get their own replies.
    let waiter = {
        let client = client.clone();
        tokio::spawn(async move { client.send(&cmd("BLPOP").arg("list").arg(10)).await })
    };
    for i in 0..50 {
        let value = format!("value-{i}");
        client.set(format!("key-{i}"), value.as_str()).await.expect("set");
        assert_eq!(client.get(format!("key-{i}")).await.expect("get").as_deref(), Some(value.as_bytes()));
    }
    assert!(!waiter.is_finished(), "BLPOP returned before anything was pushed");
    harness.cmd(&["RPUSH", "list", "pushed"]);
    let popped =
        tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("BLPOP returns").expect("task");
    assert_eq!(
        popped.expect("BLPOP"),
        Frame::Array(vec![Frame::BulkString("list".into()), Frame::BulkString("pushed".into())])
    );
}

async fn cluster_client(cluster: &Cluster) -> ClusterClient {
    let seeds = cluster
        .seed_urls()
        .iter()
        .map(|u| {
            let mut o = parse_url(u).expect("seed url");
            o.connect_timeout = Duration::from_secs(2);
            o.response_timeout = Some(Duration::from_secs(3));
            o
        })
        .collect();
    ClusterClient::connect(ClusterOptions { seeds, ..ClusterOptions::default() })
        .await
        .expect("cluster connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_refuses_stateful_commands_and_asks_blocking_ones_on_one_connection() {
    let cluster = Cluster::start();
    let client = cluster_client(&cluster).await;

    for (c, name, api) in stateful() {
        assert_refused(client.send(&c).await, name, api);
    }
    client.send(&cmd("SET").arg("k").arg("v")).await.expect("set");
    assert_eq!(
        client.query::<Option<String>>(&cmd("GET").arg("k")).await.expect("get").as_deref(),
        Some("v")
    );

    // A slot mid-migration: the source answers ASK for a missing key, so a
    // BLPOP goes to the importing node, after ASKING on the same exclusive
    // connection (on another connection the target would answer MOVED).
    let key = "{stateful}list";
    let slot = key_slot(key.as_bytes());
    let source = cluster.primary_for_slot(slot);
    let target = cluster.primaries().into_iter().find(|p| p.id() != source.id()).expect("another primary");
    let s = slot.to_string();
    target.client().cmd(&["CLUSTER", "SETSLOT", &s, "IMPORTING", source.id()]).assert_ok();
    source.client().cmd(&["CLUSTER", "SETSLOT", &s, "MIGRATING", target.id()]).assert_ok();

    let waiter = {
        let client = client.clone();
        tokio::spawn(async move { client.send(&cmd("BLPOP").arg(key).arg(10)).await })
    };
    for i in 0..50 {
        let k = format!("key-{i}");
        let value = format!("value-{i}");
        client.send(&cmd("SET").arg(&k).arg(&value)).await.expect("set");
        let got: Option<String> = client.query(&cmd("GET").arg(&k)).await.expect("get");
        assert_eq!(got.as_deref(), Some(value.as_str()));
    }
    assert!(!waiter.is_finished(), "BLPOP returned before anything was pushed: {:?}", waiter.await);
    let mut on_target = target.client();
    on_target.cmd(&["ASKING"]).assert_ok();
    assert_eq!(on_target.cmd(&["RPUSH", key, "pushed"]).as_int(), Some(1));
    let popped =
        tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("BLPOP returns").expect("task");
    assert_eq!(
        popped.expect("BLPOP"),
        Frame::Array(vec![Frame::BulkString(key.into()), Frame::BulkString("pushed".into())])
    );

    for node in [source, target] {
        node.client().cmd(&["CLUSTER", "SETSLOT", &s, "STABLE"]).assert_ok();
    }
}
