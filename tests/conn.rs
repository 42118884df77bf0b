//! The multiplexed connection and the standalone client against a real Valkey:
//! handshakes (RESP2/RESP3, ACL user, wrong password, SELECT), many concurrent
//! callers, pipelines and transactions, restarts and CLIENT KILL mid-load.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redwire::commands::*;
use redwire::conn::{Protocol, Reconnecting};
use redwire::url::parse_url;
use redwire::{cmd, Client, ConnectOptions, Connection, Error, Frame, PoolOptions};
use support::{Server, ServerOptions};

fn opts(url: &str, protocol: Protocol) -> ConnectOptions {
    let mut o = parse_url(url).expect("url");
    o.protocol = protocol;
    o.connect_timeout = Duration::from_secs(5);
    o.response_timeout = Some(Duration::from_secs(5));
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_resp2_and_resp3() {
    let server = Server::start();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let conn = Connection::connect(&opts(&server.url(), protocol), None).await.expect("connect");
        assert_eq!(conn.protocol(), protocol);
        let pong: String = conn.query(&cmd("PING")).await.expect("ping");
        assert_eq!(pong, "PONG");
        // HELLO without arguments reports the protocol in force.
        let hello = conn.send(&cmd("HELLO")).await.expect("hello");
        let proto = match hello {
            Frame::Map(pairs) => {
                pairs.into_iter().find(|(k, _)| k.as_bytes().map(|b| &b[..]) == Some(b"proto"))
            }
            Frame::Array(items) => {
                let mut it = items.into_iter();
                let mut found = None;
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    if k.as_bytes().map(|b| &b[..]) == Some(b"proto") {
                        found = Some((k, v));
                    }
                }
                found
            }
            other => panic!("unexpected HELLO reply {other:?}"),
        };
        let expected = if protocol == Protocol::Resp3 { 3 } else { 2 };
        assert_eq!(proto.map(|(_, v)| v), Some(Frame::Integer(expected)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_and_wrong_password() {
    let server = Server::start_with(ServerOptions::new().user("alice", "s3cr:t@pw"));
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let conn = Connection::connect(&opts(&server.url(), protocol), None).await.expect("connect as alice");
        let who: String = conn.query(&cmd("ACL").arg("WHOAMI")).await.expect("whoami");
        assert_eq!(who, "alice");

        let mut bad = opts(&server.url(), protocol);
        bad.password = Some(redwire::Secret::new("wrong-password"));
        let started = Instant::now();
        let err = Connection::connect(&bad, None).await.expect_err("wrong password must fail");
        assert!(matches!(err, Error::Auth(_)), "{protocol:?}: {err:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "auth failure must not retry");
        assert!(!format!("{err} {err:?}").contains("wrong-password"), "the password leaked: {err}");

        // The reconnecting handle reports it at once too, and does not loop.
        let started = Instant::now();
        let r = Reconnecting::new(bad.clone(), None, None);
        let err = r.send(&cmd("PING")).await.expect_err("still wrong");
        assert!(matches!(err, Error::Auth(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // No password at all: the server answers NOAUTH.
    let anon = ConnectOptions::tcp("127.0.0.1", server.port());
    let conn = Connection::connect(&anon, None).await.expect("tcp connect works without auth");
    let err = conn.query::<String>(&cmd("GET").arg("x")).await.expect_err("NOAUTH");
    assert!(err.to_string().contains("NOAUTH"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_database_from_url() {
    let server = Server::start();
    let client =
        Client::connect(opts(&format!("{}/3", server.url()), Protocol::Resp2), PoolOptions::default())
            .await
            .expect("connect");
    client.set("in-db-3", "yes").await.expect("set");
    let mut raw = server.client();
    assert_eq!(raw.cmd(&["GET", "in-db-3"]).as_text(), None, "must not land in db 0");
    raw.cmd(&["SELECT", "3"]).assert_ok();
    assert_eq!(raw.cmd(&["GET", "in-db-3"]).as_text().as_deref(), Some("yes"));
    // Pooled connections select the same db.
    let mut pooled = client.exclusive().await.expect("pooled");
    let v: Option<String> = pooled.query(&cmd("GET").arg("in-db-3")).await.expect("get");
    assert_eq!(v.as_deref(), Some("yes"));
}

async fn many_callers(protocol: Protocol) {
    let server = Server::start();
    let client =
        Client::connect(opts(&server.url(), protocol), PoolOptions::default()).await.expect("connect");
    let mut tasks = Vec::new();
    for t in 0..100u32 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..100u32 {
                let key = format!("k:{t}:{i}");
                let value = format!("v:{t}:{i}:{}", "x".repeat((i % 7) as usize * 10));
                client.set(&key, &value).await.expect("set");
                let got = client.get(&key).await.expect("get");
                assert_eq!(got.as_deref(), Some(value.as_bytes()), "wrong answer for {key}");
                let n = client.incr_by(format!("ctr:{t}"), 1).await.expect("incr");
                assert_eq!(n, i64::from(i) + 1);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let total: u64 = client.query(&cmd("DBSIZE")).await.expect("dbsize");
    assert_eq!(total, 100 * 100 + 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_commands_resp2() {
    many_callers(Protocol::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_commands_resp3() {
    many_callers(Protocol::Resp3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_and_transaction() {
    let server = Server::start();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let client =
            Client::connect(opts(&server.url(), protocol), PoolOptions::default()).await.expect("connect");
        let replies = client
            .pipeline(&[
                cmd("SET").arg("p1").arg("a"),
                cmd("INCR").arg("p1"),
                cmd("GET").arg("p1"),
                cmd("DEL").arg("p1"),
            ])
            .await
            .expect("pipeline");
        assert_eq!(replies.len(), 4);
        assert!(matches!(&replies[0], Frame::SimpleString(s) if &s[..] == b"OK"));
        assert!(replies[1].is_error(), "INCR of a non-number is an error reply: {:?}", replies[1]);
        assert_eq!(replies[2].as_bytes().map(|b| &b[..]), Some(&b"a"[..]));
        assert_eq!(replies[3], Frame::Integer(1));

        let results = client
            .transaction(&[
                cmd("SET").arg("t1").arg("1"),
                cmd("INCRBY").arg("t1").arg(41),
                cmd("GET").arg("t1"),
            ])
            .await
            .expect("transaction");
        assert_eq!(results.len(), 3);
        assert_eq!(results[1], Frame::Integer(42));
        assert_eq!(results[2].as_bytes().map(|b| &b[..]), Some(&b"42"[..]));

        // A command the server refuses to queue aborts the whole transaction.
        let err = client
            .transaction(&[cmd("SET").arg("t2").arg("1"), cmd("NOSUCHCOMMAND")])
            .await
            .expect_err("EXECABORT");
        assert!(
            err.to_string().contains("EXECABORT") || err.to_string().contains("unknown command"),
            "{err}"
        );
        assert_eq!(client.get("t2").await.expect("get"), None, "aborted transaction must not write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_then_reconnect() {
    let server = Server::start();
    let client =
        Client::connect(opts(&server.url(), Protocol::Resp3), PoolOptions::default()).await.expect("connect");
    client.set("before", "1").await.expect("set");
    let id_before: i64 = client.query(&cmd("CLIENT").arg("ID")).await.expect("id");
    let mut raw = server.client();
    let killed = raw.cmd(&["CLIENT", "KILL", "ID", &id_before.to_string()]);
    assert_eq!(killed.as_int(), Some(1), "{killed:?}");
    // The next commands reconnect transparently (GET is safe to repeat).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut value = None;
    while Instant::now() < deadline {
        match client.get("before").await {
            Ok(v) => {
                value = v;
                break;
            }
            Err(e) => assert!(e.is_outcome_unknown() || e.is_not_sent(), "unexpected error {e:?}"),
        }
    }
    assert_eq!(value.as_deref(), Some(&b"1"[..]));
    let id_after: i64 = client.query(&cmd("CLIENT").arg("ID")).await.expect("id");
    assert_ne!(id_before, id_after, "a new connection was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_load() {
    let server = Server::start();
    let client =
        Client::connect(opts(&server.url(), Protocol::Resp2), PoolOptions::default()).await.expect("connect");
    let wrong = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let unknown = Arc::new(AtomicU64::new(0));
    let not_sent = Arc::new(AtomicU64::new(0));
    let other = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..20u32 {
        let client = client.clone();
        let (wrong, ok, unknown, not_sent, other, stop) =
            (wrong.clone(), ok.clone(), unknown.clone(), not_sent.clone(), other.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let key = format!("r:{t}:{}", i % 50);
                let value = format!("{key}={i}");
                match client.set(&key, &value).await {
                    Ok(()) => match client.get(&key).await {
                        Ok(Some(v)) if v == value.as_bytes() => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        // The restart loses data (no persistence): a missing key is fine, another value is not.
                        Ok(None) => {}
                        Ok(Some(v)) => {
                            if !v.starts_with(format!("{key}=").as_bytes()) {
                                wrong.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(e) => classify(&e, &unknown, &not_sent, &other),
                    },
                    Err(e) => classify(&e, &unknown, &not_sent, &other),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ok.load(Ordering::Relaxed);
    let restarted = tokio::task::block_in_place(|| {
        server.restart();
        Instant::now()
    });
    // Traffic recovers within a few seconds of the restart.
    let deadline = restarted + Duration::from_secs(5);
    let mut recovered = false;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if ok.load(Ordering::Relaxed) > before + 100 {
            recovered = true;
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(wrong.load(Ordering::Relaxed), 0, "wrong answers");
    assert_eq!(other.load(Ordering::Relaxed), 0, "errors other than outcome-unknown / not-sent");
    assert!(recovered, "traffic did not recover after the restart");
    eprintln!(
        "ok {} outcome_unknown {} not_sent {}",
        ok.load(Ordering::Relaxed),
        unknown.load(Ordering::Relaxed),
        not_sent.load(Ordering::Relaxed)
    );
}

fn classify(e: &Error, unknown: &AtomicU64, not_sent: &AtomicU64, other: &AtomicU64) {
    if e.is_outcome_unknown() {
        unknown.fetch_add(1, Ordering::Relaxed);
    } else if e.is_not_sent() {
        not_sent.fetch_add(1, Ordering::Relaxed);
    } else {
        eprintln!("unexpected error: {e:?}");
        other.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_futures_keep_replies_matched() {
    let server = Server::start();
    let conn = Connection::connect(&opts(&server.url(), Protocol::Resp2), None).await.expect("connect");
    for i in 0..200u32 {
        conn.send(&cmd("SET").arg(format!("d{i}")).arg(format!("v{i}"))).await.expect("set");
    }
    // Start many GETs and drop half of them before their replies arrive.
    let mut kept = Vec::new();
    for i in 0..200u32 {
        let fut = {
            let conn = conn.clone();
            async move { conn.query::<Option<Bytes>>(&cmd("GET").arg(format!("d{i}"))).await }
        };
        if i % 2 == 0 {
            kept.push((i, tokio::spawn(fut)));
        } else {
            let h = tokio::spawn(fut);
            h.abort();
        }
    }
    for (i, h) in kept {
        if let Ok(r) = h.await {
            assert_eq!(r.expect("get").as_deref(), Some(format!("v{i}").as_bytes()));
        }
    }
    // Later commands still get their own replies.
    for i in 0..50u32 {
        let v: Option<String> = conn.query(&cmd("GET").arg(format!("d{i}"))).await.expect("get");
        assert_eq!(v, Some(format!("v{i}")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_pressure_bounds_in_flight() {
    let server = Server::start();
    let mut o = opts(&server.url(), Protocol::Resp2);
    o.max_in_flight = 4;
    let conn = Connection::connect(&o, None).await.expect("connect");
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let v: i64 = conn.query(&cmd("INCR").arg("bp")).await.expect("incr");
            assert!(conn.in_flight() <= 4);
            (i, v)
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        let (_, v) = t.await.expect("task");
        assert!(seen.insert(v));
    }
    assert_eq!(seen.len(), 64);
}
