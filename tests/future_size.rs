//! The size of the futures a command returns, against a real Valkey.
//!
//! A future is moved (copied byte for byte) each time it is returned or
//! stored in the future that awaits it, so its size is paid on every call:
//! before the slow paths (connecting, waiting for room, resending, blocking
//! commands, cache misses) were boxed, `Client::send`'s future was 3.5 KB
//! and copying futures took about 13% of the client's CPU in the end-to-end
//! bench. These bounds keep the common path's futures small; the cluster
//! router's is checked in `tests/cluster.rs`.

mod support;

use std::mem::size_of_val;

use redwire::cache::CacheOptions;
use redwire::commands::StringCommands;
use redwire::{cmd, Client, PoolOptions};
use support::Server;

/// Several times today's sizes (368 to 536 bytes), far below the 3.5 KB before.
const MAX_FUTURE: usize = 1024;

#[tokio::test]
async fn command_futures_stay_small() {
    let server = Server::start();
    let opts = redwire::url::parse_url(&server.url()).expect("url");
    let plain = Client::connect(opts.clone(), PoolOptions::default()).await.expect("connect");
    let cached = Client::connect_cached(opts, PoolOptions::default(), CacheOptions::default())
        .await
        .expect("connect cached");
    let get = cmd("GET").arg("k");
    for (what, client) in [("plain", &plain), ("cached", &cached)] {
        let sizes = [
            ("send", size_of_val(&client.send(&get))),
            ("get", size_of_val(&client.get("k"))),
            ("set", size_of_val(&client.set("k", "v"))),
            ("multiplexed().send", size_of_val(&client.multiplexed().send(&get))),
        ];
        for (call, size) in sizes {
            assert!(size <= MAX_FUTURE, "{what} client: {call}'s future is {size} bytes");
        }
        // The futures above were dropped unpolled: nothing was sent, and the
        // client still works.
        client.set("k", "v").await.expect("set");
        assert_eq!(client.get("k").await.expect("get").as_deref(), Some(&b"v"[..]));
    }
}
