//! The store API in a few lines: `cargo run --example store [CONFIG.json]`.
//!
//! Without an argument it uses the embedded store; with one, the store that
//! configuration describes (Stalwart's JSON, see the `*.json` files next to this one).

use std::time::Duration;

use bytes::Bytes;
use redwire::{config, Store};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = match std::env::args().nth(1) {
        Some(path) => Store::from_config(&config::parse(&std::fs::read_to_string(path)?)?).await?,
        None => Store::embedded(),
    };
    println!("a {} store", store.kind());

    // A session for ten minutes.
    let session = Bytes::from_static(br#"{"account":"alice@example.org"}"#);
    store.key_set(b"example:session:1", session, Some(Duration::from_secs(600))).await?;
    println!("session: {:?}", store.key_get(b"example:session:1").await?);

    // At most 100 messages per hour from one address.
    match store.is_rate_allowed(b"example:rate:192.0.2.10", 100, Duration::from_secs(3600), false).await? {
        None => println!("message accepted"),
        Some(secs) => println!("rate limited, retry in {secs} s"),
    }

    // One writer per mailbox.
    if let Some(token) = store.try_lock(b"example:lock:inbox", Duration::from_secs(30)).await? {
        println!("lock taken; expunging");
        store.remove_lock(b"example:lock:inbox", &token).await?;
    }

    // Quota in bytes, then clean up.
    let used = store.counter_incr(b"example:quota:alice", 2048, None).await?;
    println!("quota used: {used} bytes");
    println!("deleted {} example keys", store.key_delete_prefix(b"example:").await?);
    Ok(())
}
