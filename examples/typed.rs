//! One service, any topology: `cargo run --example typed -- URL [URL ...]`.
//!
//! `redwire::connect` decides from the URLs (one server, or a cluster: several
//! seeds, or one node that says it is clustered) and returns an `AnyClient`.
//! The service code below is generic over `C: Execute`, so it runs unchanged
//! on a `Client`, a `ClusterClient` or an `AnyClient`. Its keys share a hash
//! tag (`{user:42}`), so the multi-key commands stay in one slot on a cluster.
//!
//! Try: `cargo run --example typed -- redis://127.0.0.1:6379`, or with the
//! seed URLs of a cluster.

use std::time::Duration;

use redwire::commands::*;
use redwire::{AnyClient, Execute};

/// A visit: a profile hash, a counter, a unique-visitor estimate and a
/// session with an expiry. Written once, for every topology.
async fn record_visit<C: Execute>(client: &C, user: &str, page: &str) -> redwire::Result<i64> {
    let profile = format!("{{user:{user}}}:profile");
    let visits = format!("{{user:{user}}}:visits");
    let pages = format!("{{user:{user}}}:pages");
    let session = format!("{{user:{user}}}:session");

    client.hset(&profile, &[("name", "Ada"), ("plan", "pro")]).await?;
    client.hincr_by(&profile, "logins", 1).await?;
    client.pfadd(&pages, &[page]).await?;
    let fresh = client
        .set_with(&session, page, SetOptions::new().if_absent().expire_after(Duration::from_secs(1800)))
        .await?;
    if !fresh {
        // Sliding expiry for an existing session.
        client.expire(&session, 1800).await?;
    }
    client.incr(&visits).await
}

async fn report<C: Execute>(client: &C, user: &str) -> redwire::Result<()> {
    let profile = format!("{{user:{user}}}:profile");
    let keys = [format!("{{user:{user}}}:visits"), format!("{{user:{user}}}:session")];
    let values = client.mget(&keys).await?;
    let name = client.hget(&profile, "name").await?;
    let distinct = client.pfcount(&[format!("{{user:{user}}}:pages")]).await?;
    let ttl = client.ttl(&keys[1]).await?;
    println!(
        "{}: visits {:?}, last page {:?}, {distinct} distinct pages, session ttl {ttl} s",
        name.as_deref().map(String::from_utf8_lossy).unwrap_or_default(),
        values[0].as_deref().map(String::from_utf8_lossy),
        values[1].as_deref().map(String::from_utf8_lossy),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        eprintln!("usage: typed URL [URL ...]   (one server, or cluster seeds)");
        std::process::exit(2);
    }
    let client = redwire::connect(&urls).await?;
    match &client {
        AnyClient::Standalone(_) => println!("one server"),
        AnyClient::Cluster(c) => println!("a cluster of {} nodes", c.node_count()),
        AnyClient::Sentinel(c) => println!("the master {} named by the sentinels", c.master_addr()),
    }
    client.ping().await?;
    for page in ["/", "/inbox", "/inbox", "/settings"] {
        record_visit(&client, "42", page).await?;
    }
    report(&client, "42").await?;
    // DBSIZE: one server's count, or the sum over a cluster's primaries.
    println!("keys in the database: {}", client.dbsize().await?);
    let removed = client
        .del(&["{user:42}:profile", "{user:42}:visits", "{user:42}:pages", "{user:42}:session"])
        .await?;
    println!("cleaned up {removed} keys");
    Ok(())
}
