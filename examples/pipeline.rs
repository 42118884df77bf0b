//! A typed pipeline, an atomic pipeline and a WATCH transaction, the same
//! code on one server or a cluster:
//! `cargo run --example pipeline [redis://127.0.0.1:6379 ...]` (several URLs,
//! or one URL of a cluster node, for a cluster).

use bytes::Bytes;
use redwire::commands::*;
use redwire::pipeline::transaction;
use redwire::{cmd, pipe};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        urls.push("redis://127.0.0.1:6379".into());
    }
    let client = redwire::connect(&urls).await?;

    // One round trip (one per node on a cluster), replies typed and in order.
    let ((), name, visits): ((), Option<Bytes>, i64) =
        pipe().set("example:name", "ann").get("example:name").incr("example:visits").query(&client).await?;
    println!("name {name:?}, visit {visits}");

    // All or nothing: MULTI/EXEC. On a cluster the keys share a slot ({...}).
    let (from, to): (i64, i64) = pipe()
        .atomic()
        .incr_by("{example:acct}:alice", -10)
        .incr_by("{example:acct}:bob", 10)
        .query(&client)
        .await?;
    println!("moved 10: alice {from}, bob {to}");

    // Read, decide, write, with WATCH: retried when someone else wrote the key meanwhile.
    let (doubled,): (i64,) = transaction(&client, &["example:visits"], |conn| async move {
        let now: i64 = conn.query::<Option<i64>>(&cmd("GET").arg("example:visits")).await?.unwrap_or(0);
        let mut p = pipe();
        p.set("example:visits", now * 2).ignore().get("example:visits");
        Ok(p)
    })
    .await?;
    println!("visits doubled to {doubled}");
    Ok(())
}
