//! The pool of exclusive connections against a real Valkey (and a fake server
//! for a handshake that never answers): the connection limit and waiters, the
//! three Stalwart timeouts (`poolTimeoutWait`, `poolTimeoutCreate`,
//! `poolTimeoutRecycle`), no PING on a fresh checkout, dirty connections
//! discarded and clean ones reused, a connection killed while idle replaced,
//! and blocking commands sent by `Client::send` kept off the multiplexed
//! connection.

mod support;

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use redwire::commands::*;
use redwire::conn::Protocol;
use redwire::error::PoolTimeout;
use redwire::url::parse_url;
use redwire::{cmd, Client, ConnectOptions, Error, Frame, Pool, PoolOptions, Secret};
use support::{FakeServer, Server, Step};

fn opts(server: &Server) -> ConnectOptions {
    let mut o = parse_url(&server.url()).expect("url");
    o.connect_timeout = Duration::from_secs(5);
    o.response_timeout = Some(Duration::from_secs(5));
    o
}

fn pool_opts(max: u32) -> PoolOptions {
    PoolOptions {
        max_connections: max,
        timeout_create: Some(Duration::from_secs(5)),
        timeout_wait: Some(Duration::from_secs(5)),
        timeout_recycle: Some(Duration::from_secs(5)),
        health_check_after: Duration::from_secs(30),
    }
}

async fn client_id(p: &mut redwire::pool::Pooled) -> i64 {
    p.query(&cmd("CLIENT").arg("ID")).await.expect("CLIENT ID")
}

/// `calls` of `cmdstat_<name>` in `INFO commandstats`, 0 when absent.
fn calls(server: &Server, name: &str) -> u64 {
    let stats = server.client().info("commandstats");
    let field = format!("cmdstat_{name}");
    stats
        .iter()
        .find(|(k, _)| *k == field)
        .and_then(|(_, v)| v.split(',').find_map(|kv| kv.strip_prefix("calls=")))
        .map(|n| n.parse().expect("calls is a number"))
        .unwrap_or(0)
}

fn is_pool_timeout(err: &Error, kind: PoolTimeout) -> bool {
    matches!(err, Error::Pool(k) if *k == kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_is_respected_and_a_waiter_gets_the_returned_one() {
    let server = Server::start();
    let pool = Pool::new(opts(&server), PoolOptions { timeout_wait: None, ..pool_opts(2) });
    let mut a = pool.get().await.expect("first");
    let mut b = pool.get().await.expect("second");
    let id_a = client_id(&mut a).await;
    let id_b = client_id(&mut b).await;
    assert_ne!(id_a, id_b);
    assert_eq!(pool.available(), 0);

    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut c = pool.get().await.expect("third, after a return");
            client_id(&mut c).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "a third connection was handed out while two were checked out");
    assert_eq!(server.client().cmd(&["CLIENT", "LIST"]).text().lines().count(), 3, "2 pooled + harness");

    let returned = Instant::now();
    drop(a);
    let id_c =
        tokio::time::timeout(Duration::from_secs(2), waiter).await.expect("waiter woke").expect("task");
    assert!(returned.elapsed() < Duration::from_millis(500), "took {:?}", returned.elapsed());
    assert_eq!(id_c, id_a, "the waiter reuses the returned connection instead of opening one");
    drop(b);
    assert_eq!(pool.available(), 2);
    assert_eq!(pool.idle_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_timeout_expires_within_bounds() {
    let server = Server::start();
    let wait = Duration::from_millis(300);
    let pool = Pool::new(opts(&server), PoolOptions { timeout_wait: Some(wait), ..pool_opts(1) });
    let held = pool.get().await.expect("first");
    let started = Instant::now();
    let err = pool.get().await.expect_err("no free slot");
    let took = started.elapsed();
    assert!(is_pool_timeout(&err, PoolTimeout::Wait), "{err:?}");
    assert!(err.is_timeout());
    assert!(took >= wait && took < wait + Duration::from_millis(700), "took {took:?}");
    drop(held);
    pool.get().await.expect("free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_timeout_when_the_handshake_never_answers() {
    // Accepts, reads AUTH, and never answers.
    let server = FakeServer::start(vec![Step::expect("AUTH"), Step::stall(Duration::from_secs(10))]);
    let mut o = ConnectOptions::tcp("127.0.0.1", server.port());
    o.password = Some(Secret::new("pw"));
    o.connect_timeout = Duration::from_secs(10);
    let create = Duration::from_millis(300);
    let pool = Pool::new(o, PoolOptions { timeout_create: Some(create), ..pool_opts(2) });
    let started = Instant::now();
    let err = pool.get().await.expect_err("the handshake stalls");
    let took = started.elapsed();
    assert!(is_pool_timeout(&err, PoolTimeout::Create), "{err:?}");
    assert!(took >= create && took < create + Duration::from_millis(700), "took {took:?}");
    assert!(server.wait_for_commands(1, Duration::from_secs(1)));
    assert_eq!(server.command_names(), vec!["AUTH"]);
    assert!(server.failures().is_empty(), "{:?}", server.failures());
    // The slot went back.
    assert_eq!(pool.available(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recycle_timeout_when_the_server_is_paused() {
    let server = Server::start();
    let recycle = Duration::from_millis(300);
    let pool = Pool::new(
        opts(&server),
        PoolOptions { timeout_recycle: Some(recycle), health_check_after: Duration::ZERO, ..pool_opts(2) },
    );
    let mut p = pool.get().await.expect("get");
    let id_before = client_id(&mut p).await;
    drop(p);
    assert_eq!(pool.idle_count(), 1);

    server.client().cmd(&["CLIENT", "PAUSE", "3000", "ALL"]).assert_ok();
    let started = Instant::now();
    let err = pool.get().await.expect_err("the health check cannot be answered");
    let took = started.elapsed();
    server.client().cmd(&["CLIENT", "UNPAUSE"]).assert_ok();
    assert!(is_pool_timeout(&err, PoolTimeout::Recycle), "{err:?}");
    assert!(took >= recycle && took < recycle + Duration::from_millis(700), "took {took:?}");

    // The connection that failed its check was dropped, and the slot freed.
    assert_eq!(pool.idle_count(), 0);
    assert_eq!(pool.available(), 2);
    let mut p = pool.get().await.expect("after unpause");
    assert_ne!(client_id(&mut p).await, id_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_checkout_sends_no_ping_and_a_stale_one_does() {
    let server = Server::start();
    let fresh = Pool::new(opts(&server), pool_opts(1));
    let mut p = fresh.get().await.expect("get");
    let id = client_id(&mut p).await;
    drop(p);
    server.client().cmd(&["CONFIG", "RESETSTAT"]).assert_ok();
    for _ in 0..10 {
        let mut p = fresh.get().await.expect("get");
        let got: Option<String> = p.query(&cmd("GET").arg("nokey")).await.expect("GET");
        assert_eq!(got, None);
        assert_eq!(client_id(&mut p).await, id, "the idle connection is reused");
    }
    assert_eq!(calls(&server, "get"), 10, "the measure works");
    assert_eq!(calls(&server, "ping"), 0, "a fresh connection must be handed out without a round trip");

    // With the health check due at once, each checkout of an idle connection pings.
    let stale = Pool::new(opts(&server), PoolOptions { health_check_after: Duration::ZERO, ..pool_opts(1) });
    drop(stale.get().await.expect("first, new: no ping"));
    for _ in 0..3 {
        drop(stale.get().await.expect("idle: pinged"));
    }
    assert_eq!(calls(&server, "ping"), 3);
}

/// Checks a connection out, notes its id, lets `dirty` use it, returns it, and
/// gives the id of the next checkout's connection.
async fn id_after<F>(pool: &Pool, dirty: F) -> (i64, i64)
where
    F: for<'a> FnOnce(
        &'a mut redwire::pool::Pooled,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>,
{
    let mut p = pool.get().await.expect("get");
    let before = client_id(&mut p).await;
    dirty(&mut p).await;
    drop(p);
    let mut p = pool.get().await.expect("get again");
    (before, client_id(&mut p).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dirty_connections_are_discarded_clean_ones_reused() {
    let server = Server::start();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut o = opts(&server);
        o.protocol = protocol;
        let pool = Pool::new(o, pool_opts(1));

        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                p.query::<()>(&cmd("SET").arg("k").arg("v")).await.expect("SET");
                let v: Option<String> = p.query(&cmd("GET").arg("k")).await.expect("GET");
                assert_eq!(v.as_deref(), Some("v"));
            })
        })
        .await;
        assert_eq!(a, b, "{protocol:?}: a clean connection is reused");

        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                p.query::<()>(&cmd("MULTI")).await.expect("MULTI");
                p.send(&cmd("INCR").arg("n")).await.expect("queued");
            })
        })
        .await;
        assert_ne!(a, b, "{protocol:?}: inside MULTI");

        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                p.query::<()>(&cmd("MULTI")).await.expect("MULTI");
                p.send(&cmd("INCR").arg("n")).await.expect("queued");
                let r = p.send(&cmd("EXEC")).await.expect("EXEC");
                assert!(matches!(r, Frame::Array(_)), "{r:?}");
            })
        })
        .await;
        assert_eq!(a, b, "{protocol:?}: a finished transaction leaves it clean");

        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                p.query::<()>(&cmd("WATCH").arg("k")).await.expect("WATCH");
            })
        })
        .await;
        assert_ne!(a, b, "{protocol:?}: after WATCH");

        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                p.query::<()>(&cmd("WATCH").arg("k")).await.expect("WATCH");
                p.query::<()>(&cmd("UNWATCH")).await.expect("UNWATCH");
            })
        })
        .await;
        assert_eq!(a, b, "{protocol:?}: UNWATCH leaves it clean");

        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                p.query::<()>(&cmd("SELECT").arg(2)).await.expect("SELECT");
            })
        })
        .await;
        assert_ne!(a, b, "{protocol:?}: after SELECT");

        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                let conn = p.connection_mut().expect("connection");
                if conn.protocol() == Protocol::Resp2 {
                    let r = conn.send(&cmd("SUBSCRIBE").arg("ch")).await.expect("SUBSCRIBE");
                    assert!(matches!(r, Frame::Array(_)), "{r:?}");
                } else {
                    // In RESP3 the confirmation is a push frame, not a reply: do not wait for it.
                    let subscribe = cmd("SUBSCRIBE").arg("ch");
                    let _ = tokio::time::timeout(Duration::from_millis(100), conn.send(&subscribe)).await;
                }
            })
        })
        .await;
        assert_ne!(a, b, "{protocol:?}: after SUBSCRIBE through connection_mut");

        // A BLPOP abandoned while it waits: its reply is still due.
        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                let blpop = cmd("BLPOP").arg("empty-list").arg(1).blocking();
                assert!(tokio::time::timeout(Duration::from_millis(100), p.send(&blpop)).await.is_err());
            })
        })
        .await;
        assert_ne!(a, b, "{protocol:?}: with an abandoned BLPOP");

        // Abandoned, and returned only after the reply came and was thrown away: the
        // documented rule is still "discarded" (the caller never saw what it popped).
        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                let blpop = cmd("BLPOP").arg("empty-list").arg(1).blocking();
                assert!(tokio::time::timeout(Duration::from_millis(100), p.send(&blpop)).await.is_err());
                tokio::time::sleep(Duration::from_millis(1300)).await;
            })
        })
        .await;
        assert_ne!(a, b, "{protocol:?}: with a BLPOP abandoned long ago");

        // A WATCH abandoned after it was queued: it ran, but nothing tracked it.
        let (a, b) = id_after(&pool, |p| {
            Box::pin(async move {
                let watch = cmd("WATCH").arg("k");
                {
                    // Poll once: the command is queued, then the future is dropped.
                    let mut fut = std::pin::pin!(p.send(&watch));
                    // Almost always pending; on a loaded machine this task can be
                    // preempted long enough for the reply to arrive first. Either
                    // way the connection is dirty: a WATCH in flight, or one done.
                    let _polled = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            })
        })
        .await;
        assert_ne!(a, b, "{protocol:?}: with an abandoned WATCH");

        // After all that, the pool still holds at most one connection.
        assert!(pool.idle_count() <= 1);
    }
    // Discarded connections were closed, not leaked: only the harness and the last pooled one.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let n = server.client().cmd(&["CLIENT", "LIST"]).text().lines().count();
        if n <= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{n} clients still connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_while_idle_is_replaced() {
    let server = Server::start();
    let pool = Pool::new(opts(&server), pool_opts(1));
    let mut p = pool.get().await.expect("get");
    let id = client_id(&mut p).await;
    drop(p);
    assert_eq!(pool.idle_count(), 1);
    let killed = server.client().cmd(&["CLIENT", "KILL", "ID", &id.to_string()]);
    assert_eq!(killed.as_int(), Some(1), "{killed:?}");
    // The reader sees the close at once; give its task a moment to run.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut p = pool.get().await.expect("get after kill");
    let new_id = client_id(&mut p).await;
    assert_ne!(new_id, id);
    let pong: String = p.query(&cmd("PING")).await.expect("works");
    assert_eq!(pong, "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_commands_do_not_stall_the_multiplexed_connection() {
    let server = Server::start();
    let client = Client::connect(opts(&server), pool_opts(4)).await.expect("connect");
    client.set("k", "v").await.expect("set");
    let shared_id: i64 = client.query(&cmd("CLIENT").arg("ID")).await.expect("id");

    let blpop = {
        let client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = client.send(&cmd("BLPOP").arg("bl").arg(1).blocking()).await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Ten GETs while BLPOP waits: each comes back at once.
    for _ in 0..10 {
        let started = Instant::now();
        let v = client.get("k").await.expect("get");
        let took = started.elapsed();
        assert_eq!(v.as_deref(), Some(&b"v"[..]));
        assert!(took < Duration::from_millis(200), "GET took {took:?} behind a BLPOP");
    }
    // The BLPOP runs on another connection than the shared one.
    let list = server.client().cmd(&["CLIENT", "LIST"]).text();
    let blocked: Vec<&str> = list.lines().filter(|l| l.contains("cmd=blpop")).collect();
    assert_eq!(blocked.len(), 1, "{list}");
    assert!(!blocked[0].contains(&format!("id={shared_id} ")), "BLPOP ran on the shared connection");
    let (r, took) = blpop.await.expect("task");
    assert!(r.expect("BLPOP").is_null(), "timed out with nil");
    assert!(took >= Duration::from_millis(900), "BLPOP returned after {took:?}");

    // A value pushed through the shared connection reaches a waiting BLPOP.
    let blpop = {
        let client = client.clone();
        tokio::spawn(async move { client.send(&cmd("BLPOP").arg("bl2").arg(5).blocking()).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let n: i64 = client.query(&cmd("LPUSH").arg("bl2").arg("x")).await.expect("lpush");
    assert_eq!(n, 1);
    let r = tokio::time::timeout(Duration::from_secs(2), blpop).await.expect("woken").expect("task");
    match r.expect("BLPOP") {
        Frame::Array(items) => {
            assert_eq!(items.len(), 2);
            assert_eq!(items[1].as_bytes().map(|b| &b[..]), Some(&b"x"[..]));
        }
        other => panic!("{other:?}"),
    }
    // The pooled connection went back clean and is kept.
    assert_eq!(client.pool().idle_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_blocking_commands_go_to_the_pool_even_unmarked() {
    let server = Server::start();
    let mut o = opts(&server);
    o.response_timeout = Some(Duration::from_millis(500));
    let client = Client::connect(o, pool_opts(4)).await.expect("connect");
    client.set("k", "v").await.expect("set");
    // BLPOP without .blocking(), waiting longer than the response timeout.
    let blpop = {
        let client = client.clone();
        tokio::spawn(async move { client.send(&cmd("BLPOP").arg("bl").arg(1)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let v = client.get("k").await.expect("a GET is not stuck behind the BLPOP");
    assert_eq!(v.as_deref(), Some(&b"v"[..]));
    assert!(started.elapsed() < Duration::from_millis(200), "GET took {:?}", started.elapsed());
    // The BLPOP is not cut off by the response timeout either.
    let r = blpop.await.expect("task").expect("BLPOP times out with nil, not an error");
    assert!(r.is_null(), "{r:?}");
}
