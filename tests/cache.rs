//! Client-side caching against real Valkey: reads served from the cache and
//! invalidated by the server (RESP3 push, RESP2 redirect), variants of a key
//! falling together, MGET per key, own writes at once, FLUSHALL, a killed
//! data connection and (RESP2) a killed invalidation connection, `max_ttl`,
//! opt-in and broadcast modes, and a cluster. The staleness drill under load
//! is `tests/cache_staleness.rs`.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use redwire::cache::{CacheOptions, CacheStats};
use redwire::cluster::{ClusterClient, ClusterOptions};
use redwire::url::parse_url;
use redwire::{cmd, Client, Cmd, Frame, PoolOptions};
use support::{Cluster, Server};

const PROTOCOLS: [&str; 2] = ["resp3", "resp2"];

async fn cached(server: &Server, protocol: &str, opts: CacheOptions) -> Client {
    let url = format!("{}?protocol={protocol}", server.url());
    Client::connect_cached(parse_url(&url).expect("url"), PoolOptions::default(), opts)
        .await
        .expect("connect")
}

fn bulk(s: &str) -> Frame {
    Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
}

fn stats(c: &Client) -> CacheStats {
    c.cache_stats().expect("a cache")
}

/// Reads `c` until one is answered from the cache (tracking confirmed);
/// returns that reply.
async fn until_hit(client: &Client, c: &Cmd) -> Frame {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let before = stats(client).hits;
        let reply = client.send(c).await.expect("read");
        if stats(client).hits > before {
            return reply;
        }
        assert!(Instant::now() < deadline, "never served from the cache: {:?}", stats(client));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads `c` until it answers `want`, within 2 s; panics otherwise.
async fn until_equal(client: &Client, c: &Cmd, want: &Frame) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let got = client.send(c).await.expect("read");
        if &got == want {
            return;
        }
        assert!(Instant::now() < deadline, "still {got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_cached_and_invalidated_by_the_server() {
    let server = Server::start();
    let mut raw = server.client();
    for protocol in PROTOCOLS {
        let c = cached(&server, protocol, CacheOptions::new()).await;
        let (k, h) = (format!("{protocol}:k"), format!("{protocol}:h"));
        raw.cmd(&["SET", &k, "v1"]);
        raw.cmd(&["HSET", &h, "f", "1", "g", "2"]);
        let get = cmd("GET").arg(&k);
        assert_eq!(until_hit(&c, &get).await, bulk("v1"), "{protocol}");
        // Variants of one key are cached apart.
        let hget = cmd("HGET").arg(&h).arg("f");
        let hget_g = cmd("HGET").arg(&h).arg("g");
        let hlen = cmd("HLEN").arg(&h);
        assert_eq!(until_hit(&c, &hget).await, bulk("1"));
        assert_eq!(until_hit(&c, &hget_g).await, bulk("2"));
        assert_eq!(until_hit(&c, &hlen).await, Frame::Integer(2));
        let before = stats(&c);
        // Changed by another client: every variant of the key goes.
        raw.cmd(&["HSET", &h, "f", "10", "x", "3"]);
        until_equal(&c, &hget, &bulk("10")).await;
        until_equal(&c, &hlen, &Frame::Integer(3)).await;
        assert_eq!(c.send(&hget_g).await.expect("hget"), bulk("2"));
        raw.cmd(&["SET", &k, "v2"]);
        until_equal(&c, &get, &bulk("v2")).await;
        assert!(stats(&c).invalidations > before.invalidations, "{protocol}: {:?}", stats(&c));
        // MGET: per key, only the misses fetched; reassembled in order.
        let k2 = format!("{protocol}:k2");
        raw.cmd(&["SET", &k2, "w"]);
        let mget = cmd("MGET").arg(&k).arg(&k2).arg(format!("{protocol}:absent"));
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let before = stats(&c);
            let got = c.send(&mget).await.expect("mget");
            let Frame::Array(v) = &got else { panic!("{got:?}") };
            assert!(v.len() == 3 && v[0] == bulk("v2") && v[1] == bulk("w") && v[2].is_null(), "{got:?}");
            let after = stats(&c);
            if after.hits == before.hits + 3 {
                break;
            }
            assert!(Instant::now() < deadline, "MGET never fully cached: {after:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A GET is served from what the MGET cached.
        assert_eq!(until_hit(&c, &cmd("GET").arg(&k2)).await, bulk("w"));
        c.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_invalidate_at_once_and_flushall_flushes_all() {
    let server = Server::start();
    let mut raw = server.client();
    for protocol in PROTOCOLS {
        let c = cached(&server, protocol, CacheOptions::new()).await;
        let k = format!("{protocol}:own");
        raw.cmd(&["SET", &k, "old"]);
        let get = cmd("GET").arg(&k);
        assert_eq!(until_hit(&c, &get).await, bulk("old"));
        // No waiting: the write drops the entry itself.
        c.send(&cmd("SET").arg(&k).arg("new")).await.expect("set");
        assert_eq!(c.send(&get).await.expect("get"), bulk("new"), "{protocol}");
        c.pipeline(&[cmd("SET").arg(&k).arg("piped")]).await.expect("pipeline");
        assert_eq!(c.send(&get).await.expect("get"), bulk("piped"), "{protocol}");
        assert_eq!(until_hit(&c, &get).await, bulk("piped"));
        // FLUSHALL by someone else: the server's null invalidation flushes all.
        let flushes = stats(&c).flushes;
        raw.cmd(&["FLUSHALL"]);
        let deadline = Instant::now() + Duration::from_secs(2);
        while !c.send(&get).await.expect("get").is_null() {
            assert!(Instant::now() < deadline, "{protocol}: served after FLUSHALL");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(stats(&c).flushes > flushes, "{protocol}: {:?}", stats(&c));
        c.close().await;
    }
}

/// The killed connection's tracking is gone, so a write after it sends no
/// invalidation: the cached value must not be served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_is_never_served_from_again() {
    let server = Server::start();
    let mut raw = server.client();
    for protocol in PROTOCOLS {
        // Kill the data connection (RESP2: the invalidation connection too,
        // in the second round).
        for kill in ["normal", "pubsub"] {
            if kill == "pubsub" && protocol == "resp3" {
                continue;
            }
            let c = cached(&server, protocol, CacheOptions::new()).await;
            let k = format!("{protocol}:{kill}:killed");
            raw.cmd(&["SET", &k, "before"]);
            let get = cmd("GET").arg(&k);
            assert_eq!(until_hit(&c, &get).await, bulk("before"));
            let killed = raw.cmd(&["CLIENT", "KILL", "TYPE", kill, "SKIPME", "yes"]);
            assert!(killed.as_int().unwrap_or(0) >= 1, "{protocol}/{kill}: {killed:?}");
            // Time for the client to see the close (a correctness bound, generous).
            tokio::time::sleep(Duration::from_millis(300)).await;
            raw.cmd(&["SET", &k, "after"]);
            assert_eq!(c.send(&get).await.expect("get"), bulk("after"), "{protocol}/{kill}");
            // And it caches again once tracking is back.
            assert_eq!(until_hit(&c, &get).await, bulk("after"));
            raw.cmd(&["SET", &k, "later"]);
            until_equal(&c, &get, &bulk("later")).await;
            c.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_ttl_bounds_what_is_served() {
    let server = Server::start();
    let mut raw = server.client();
    let c = cached(&server, "resp3", CacheOptions::new().max_ttl(Duration::from_millis(200))).await;
    raw.cmd(&["SET", "ttl", "v"]);
    let get = cmd("GET").arg("ttl");
    until_hit(&c, &get).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = stats(&c);
    assert_eq!(c.send(&get).await.expect("get"), bulk("v"));
    let after = stats(&c);
    assert_eq!((after.hits, after.expired), (before.hits, before.expired + 1), "{after:?}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_in_caches_only_what_is_asked() {
    let server = Server::start();
    let mut raw = server.client();
    for protocol in PROTOCOLS {
        let c = cached(&server, protocol, CacheOptions::new().opt_in()).await;
        let k = format!("{protocol}:optin");
        raw.cmd(&["SET", &k, "1"]);
        let get = cmd("GET").arg(&k);
        tokio::time::sleep(Duration::from_millis(200)).await;
        for _ in 0..3 {
            assert_eq!(c.send(&get).await.expect("get"), bulk("1"));
        }
        assert_eq!(stats(&c).hits, 0, "{protocol}: plain sends are not cached in opt-in mode");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let before = stats(&c).hits;
            assert_eq!(c.send_cached(&get).await.expect("get"), bulk("1"));
            if stats(&c).hits > before {
                break;
            }
            assert!(Instant::now() < deadline, "{protocol}: never cached: {:?}", stats(&c));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The server tracked it (CLIENT CACHING YES): a change invalidates it.
        raw.cmd(&["SET", &k, "2"]);
        let deadline = Instant::now() + Duration::from_secs(2);
        while c.send_cached(&get).await.expect("get") != bulk("2") {
            assert!(Instant::now() < deadline, "{protocol}: stale");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_caches_its_prefixes_only() {
    let server = Server::start();
    let mut raw = server.client();
    for protocol in PROTOCOLS {
        let c = cached(&server, protocol, CacheOptions::new().broadcast(["b:"])).await;
        let (inside, outside) = (format!("b:{protocol}"), format!("o:{protocol}"));
        raw.cmd(&["SET", &inside, "1"]);
        raw.cmd(&["SET", &outside, "1"]);
        let get_in = cmd("GET").arg(&inside);
        assert_eq!(until_hit(&c, &get_in).await, bulk("1"));
        let hits = stats(&c).hits;
        for _ in 0..3 {
            c.send(&cmd("GET").arg(&outside)).await.expect("get");
        }
        assert_eq!(stats(&c).hits, hits, "{protocol}: a key outside the prefixes is not cached");
        raw.cmd(&["SET", &inside, "2"]);
        until_equal(&c, &get_in, &bulk("2")).await;
        c.close().await;
    }
}

async fn cluster_client(cluster: &Cluster, protocol: &str, cache: Option<CacheOptions>) -> ClusterClient {
    let seeds = cluster
        .seed_urls()
        .iter()
        .map(|u| {
            let mut o = parse_url(&format!("{u}?protocol={protocol}")).expect("seed url");
            o.connect_timeout = Duration::from_secs(2);
            o.response_timeout = Some(Duration::from_secs(3));
            o
        })
        .collect();
    ClusterClient::connect(ClusterOptions { seeds, cache, ..ClusterOptions::default() })
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_caches_and_invalidates_on_every_node() {
    let cluster = Cluster::start();
    for protocol in PROTOCOLS {
        let writer = cluster_client(&cluster, "resp2", None).await;
        let c = cluster_client(&cluster, protocol, Some(CacheOptions::new())).await;
        let keys: Vec<String> = (0..12).map(|i| format!("{protocol}:ck{i}")).collect();
        for k in &keys {
            writer.send(&cmd("SET").arg(k).arg("1")).await.expect("set");
        }
        let stats = |c: &ClusterClient| c.cache_stats().expect("cache");
        // Every key (spread over the three primaries) ends up served from the cache.
        let deadline = Instant::now() + Duration::from_secs(5);
        for k in &keys {
            loop {
                let before = stats(&c).hits;
                assert_eq!(c.send(&cmd("GET").arg(k)).await.expect("get"), bulk("1"));
                if stats(&c).hits > before {
                    break;
                }
                assert!(Instant::now() < deadline, "{protocol}: {k} never cached: {:?}", stats(&c));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        for k in &keys {
            writer.send(&cmd("SET").arg(k).arg("2")).await.expect("set");
        }
        let mget = cmd("MGET").args_from(&keys);
        let want = Frame::Array(keys.iter().map(|_| bulk("2")).collect());
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if c.send(&mget).await.expect("mget") == want {
                break;
            }
            assert!(Instant::now() < deadline, "{protocol}: stale after writes: {:?}", stats(&c));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Own write, at once.
        c.send(&cmd("SET").arg(&keys[0]).arg("3")).await.expect("set");
        assert_eq!(c.send(&cmd("GET").arg(&keys[0])).await.expect("get"), bulk("3"));
        c.close().await;
        writer.close().await;
    }
}

/// The race, made certain by a scripted server: the invalidation of `race`
/// arrives while the read of `race` is in flight (before its reply). The
/// reply goes to the caller but is not cached, so the next read asks the
/// server again. (A real server orders these by timing only.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_during_the_read_keeps_its_reply_out_of_the_cache() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use support::{FakeServer, Step};

    let race_gets = Arc::new(AtomicUsize::new(0));
    let counter = race_gets.clone();
    let fake = FakeServer::start(vec![Step::respond_to_each(move |args| {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        let key = args.get(1).map(|k| k.as_slice());
        match (name.as_str(), key) {
            ("HELLO", _) => b"%1\r\n$6\r\nserver\r\n$4\r\nfake\r\n".to_vec(),
            ("GET", Some(b"race")) => match counter.fetch_add(1, Ordering::SeqCst) {
                0 => b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nrace\r\n$3\r\nold\r\n".to_vec(),
                _ => b"$3\r\nnew\r\n".to_vec(),
            },
            ("GET", Some(_)) => b"$1\r\nw\r\n".to_vec(),
            _ => b"+OK\r\n".to_vec(),
        }
    })]);
    let url = format!("redis://{}?protocol=resp3", fake.addr());
    let c =
        Client::connect_cached(parse_url(&url).expect("url"), PoolOptions::default(), CacheOptions::new())
            .await
            .expect("connect");
    // Tracking confirmed once a read is served from the cache.
    assert_eq!(until_hit(&c, &cmd("GET").arg("warm")).await, bulk("w"));
    let get = cmd("GET").arg("race");
    assert_eq!(c.send(&get).await.expect("get"), bulk("old"), "the reply still goes to the caller");
    assert_eq!(c.send(&get).await.expect("get"), bulk("new"), "served the reply invalidated in flight");
    assert_eq!(race_gets.load(Ordering::SeqCst), 2);
    // An ordinary read of the key is cached.
    assert_eq!(c.send(&get).await.expect("get"), bulk("new"));
    assert_eq!(race_gets.load(Ordering::SeqCst), 2, "the next read is a hit");
    c.close().await;
}

/// A batch of this client's own writes (a pipeline, an atomic pipeline, a
/// `WATCH` transaction, which runs on a connection of its own) drops the
/// keys it writes at once, on one server and on a cluster: the read right
/// after it sees the new value, never the cached one. Each round first
/// waits until the key is served from the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_own_writes_invalidate_at_once() {
    let server = Server::start();
    let cluster = Cluster::start();
    for protocol in PROTOCOLS {
        let one = cached(&server, protocol, CacheOptions::new()).await;
        own_batches(&one, || stats(&one).hits, &format!("one:{protocol}")).await;
        one.close().await;
        let many = cluster_client(&cluster, protocol, Some(CacheOptions::new())).await;
        let hits = || many.cache_stats().expect("cache").hits;
        own_batches(&many, hits, &format!("cluster:{protocol}")).await;
        many.close().await;
    }
}

async fn own_batches<C>(c: &C, hits: impl Fn() -> u64, tag: &str)
where
    C: redwire::commands::Execute + redwire::pipeline::PipelineExecutor,
{
    use redwire::commands::StringCommands;
    use redwire::pipeline::{pipe, transaction};

    for how in ["pipeline", "atomic", "watch"] {
        let k = format!("{tag}:{how}");
        c.set(&k, "0").await.expect("set");
        let mut current = "0".to_string();
        for i in 1..=10 {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let before = hits();
                let got = c.get(&k).await.expect("get");
                assert_eq!(got.as_deref(), Some(current.as_bytes()), "{tag} {how}: before round {i}");
                if hits() > before {
                    break;
                }
                assert!(Instant::now() < deadline, "{tag} {how}: never served from the cache");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let v = i.to_string();
            match how {
                "pipeline" => {
                    let mut p = pipe();
                    p.set(&k, &v);
                    p.query_frames(c).await.expect("pipeline");
                }
                "atomic" => {
                    let mut p = pipe();
                    p.atomic().set(&k, &v);
                    p.query_frames(c).await.expect("atomic pipeline");
                }
                _ => {
                    let _: Frame = transaction(c, &[&k], |_watched| {
                        let (k, v) = (k.clone(), v.clone());
                        async move {
                            let mut p = pipe();
                            p.atomic().set(k, v);
                            Ok(p)
                        }
                    })
                    .await
                    .expect("transaction");
                }
            }
            // At once: no waiting for the server's invalidation.
            let got = c.get(&k).await.expect("get");
            assert_eq!(got.as_deref(), Some(v.as_bytes()), "{tag} {how}: round {i} read a stale value");
            current = v;
        }
    }
}
