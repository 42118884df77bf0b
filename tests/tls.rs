//! TLS against Debian's redis-server (7.0, built with TLS) using throwaway
//! certificates: verified connections in RESP2 and RESP3, a refusal without
//! the CA, `#insecure`, mutual TLS with and without a client certificate,
//! `rediss://` URLs (the CLI's `--tls-*` flags: `cli/tests/cli_tls.rs`).

mod support;

use std::time::{Duration, Instant};

use redwire::commands::*;
use redwire::conn::{Protocol, TlsOptions};
use redwire::url::parse_url;
use redwire::{cmd, Client, ConnectOptions, Connection, Error, PoolOptions};
use support::{TestCerts, TlsAuthClients, TlsServer};

fn tls_opts(server: &TlsServer, tls: TlsOptions, protocol: Protocol) -> ConnectOptions {
    let mut o = parse_url(&format!("rediss://127.0.0.1:{}", server.port())).expect("url");
    o.tls = Some(tls);
    o.protocol = protocol;
    o.connect_timeout = Duration::from_secs(5);
    o.response_timeout = Some(Duration::from_secs(5));
    o
}

fn with_ca(certs: &TestCerts) -> TlsOptions {
    TlsOptions { ca_file: Some(certs.ca_path()), ..TlsOptions::default() }
}

fn with_client_cert(certs: &TestCerts) -> TlsOptions {
    TlsOptions {
        client_cert: Some(certs.client_cert_path()),
        client_key: Some(certs.client_key_path()),
        ..with_ca(certs)
    }
}

/// The innermost cause of a connection error.
fn root(err: &Error) -> &Error {
    match err {
        Error::OutcomeUnknown { cause } | Error::NotSent { cause } => root(cause),
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_connection_resp2_and_resp3() {
    let certs = TestCerts::generate();
    let server = TlsServer::start(certs.server_cert_path(), certs.server_key_path(), certs.ca_path());
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let conn = Connection::connect(&tls_opts(&server, with_ca(&certs), protocol), None)
            .await
            .unwrap_or_else(|e| panic!("{protocol:?}: {e}"));
        assert_eq!(conn.protocol(), protocol);
        let key = format!("tls:{protocol:?}");
        conn.query::<()>(&cmd("SET").arg(&key).arg("over tls")).await.expect("SET");
        let v: Option<String> = conn.query(&cmd("GET").arg(&key)).await.expect("GET");
        assert_eq!(v.as_deref(), Some("over tls"));
        // Big enough to span several TLS records both ways.
        let big = "x".repeat(100_000);
        conn.query::<()>(&cmd("SET").arg("big").arg(&big)).await.expect("SET big");
        let v: Option<String> = conn.query(&cmd("GET").arg("big")).await.expect("GET big");
        assert_eq!(v.as_deref().map(str::len), Some(big.len()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_without_the_ca() {
    let certs = TestCerts::generate();
    let server = TlsServer::start(certs.server_cert_path(), certs.server_key_path(), certs.ca_path());
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        // No CA file: the webpki roots, which do not know our test CA.
        let started = Instant::now();
        let err = Connection::connect(&tls_opts(&server, TlsOptions::default(), protocol), None)
            .await
            .expect_err("an unknown issuer must be refused");
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
        let Error::Tls(msg) = &err else { panic!("{protocol:?}: expected Error::Tls, got {err:?}") };
        assert!(msg.contains("UnknownIssuer") || msg.to_lowercase().contains("unknown issuer"), "{msg}");
    }
    // A client that trusts another CA is refused too.
    let other = TestCerts::generate();
    let err = Connection::connect(&tls_opts(&server, with_ca(&other), Protocol::Resp2), None)
        .await
        .expect_err("wrong CA");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    // A missing CA file says which file.
    let missing = TlsOptions { ca_file: Some("/nonexistent/ca.pem".into()), ..TlsOptions::default() };
    let err = Connection::connect(&tls_opts(&server, missing, Protocol::Resp2), None)
        .await
        .expect_err("missing CA file");
    assert!(matches!(&err, Error::Tls(m) if m.contains("/nonexistent/ca.pem")), "{err:?}");
    // A server name the certificate does not cover is refused.
    let wrong_name = TlsOptions { server_name: Some("elsewhere.example".into()), ..with_ca(&certs) };
    let err = Connection::connect(&tls_opts(&server, wrong_name, Protocol::Resp2), None)
        .await
        .expect_err("wrong name");
    assert!(matches!(&err, Error::Tls(m) if m.contains("not valid for name")), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_connects_without_the_ca() {
    let certs = TestCerts::generate();
    let server = TlsServer::start(certs.server_cert_path(), certs.server_key_path(), certs.ca_path());
    let o = parse_url(&format!("rediss://127.0.0.1:{}#insecure", server.port())).expect("url");
    assert_eq!(o.tls.as_ref().map(|t| t.insecure), Some(true));
    assert_eq!(o.tls.as_ref().and_then(|t| t.ca_file.clone()), None);
    let client = Client::connect(o, PoolOptions::default()).await.expect("insecure connect");
    client.set("insecure", "1").await.expect("set");
    assert_eq!(client.get("insecure").await.expect("get").as_deref(), Some(&b"1"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls() {
    let certs = TestCerts::generate();
    let server = TlsServer::start_with(
        support::TlsOptions::new(certs.server_cert_path(), certs.server_key_path(), certs.ca_path())
            .auth_clients(TlsAuthClients::Yes),
    );
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let conn = Connection::connect(&tls_opts(&server, with_client_cert(&certs), protocol), None)
            .await
            .unwrap_or_else(|e| panic!("{protocol:?} with a client certificate: {e}"));
        let pong: String = conn.query(&cmd("PING")).await.expect("PING");
        assert_eq!(pong, "PONG");

        // Without one, the server refuses. With TLS 1.3 the client learns it only on its
        // first read, so the refusal must still come out of connect, as a TLS error.
        let started = Instant::now();
        let err = Connection::connect(&tls_opts(&server, with_ca(&certs), protocol), None)
            .await
            .expect_err("no client certificate");
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
        assert!(matches!(root(&err), Error::Tls(_)), "{protocol:?}: {err:?}");
        let shown = err.to_string().to_lowercase();
        assert!(shown.contains("certificate"), "the error should name the problem: {err}");
    }
    // A certificate without its key is a configuration error, not a handshake failure.
    let half = TlsOptions { client_key: None, ..with_client_cert(&certs) };
    let err = Connection::connect(&tls_opts(&server, half, Protocol::Resp2), None).await.expect_err("no key");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_urls_parse_into_tls_options() {
    let o = parse_url("rediss://:pw@127.0.0.1:6390/2").expect("url");
    assert_eq!(o.tls, Some(TlsOptions::default()));
    assert_eq!(o.db, 2);
    let o = parse_url("valkeys://127.0.0.1#insecure").expect("url");
    assert_eq!(o.tls, Some(TlsOptions { insecure: true, ..TlsOptions::default() }));
    assert_eq!(parse_url("redis://127.0.0.1").expect("url").tls, None);
    assert!(parse_url("redis://127.0.0.1#insecure").is_err(), "#insecure without TLS");

    // A URL's TLS options plus a CA connect for real, through the client.
    let certs = TestCerts::generate();
    let server = TlsServer::start(certs.server_cert_path(), certs.server_key_path(), certs.ca_path());
    let mut o = parse_url(&server.url()).expect("url");
    assert!(o.tls.is_some(), "{} is TLS", server.url());
    if let Some(tls) = o.tls.as_mut() {
        tls.ca_file = Some(certs.ca_path());
    }
    let client = Client::connect(o, PoolOptions::default()).await.expect("connect");
    client.set("url", "ok").await.expect("set");
    assert_eq!(client.get("url").await.expect("get").as_deref(), Some(&b"ok"[..]));
    // Pooled connections use TLS as well.
    let mut p = client.exclusive().await.expect("pooled");
    let v: Option<String> = p.query(&cmd("GET").arg("url")).await.expect("pooled get");
    assert_eq!(v.as_deref(), Some("ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_writes_are_flushed_through_tls() {
    let certs = TestCerts::generate();
    let server = TlsServer::start(certs.server_cert_path(), certs.server_key_path(), certs.ca_path());
    let mut o = tls_opts(&server, with_ca(&certs), Protocol::Resp2);
    o.response_timeout = Some(Duration::from_secs(3));
    let conn = Connection::connect(&o, None).await.expect("connect");
    // Values far larger than the socket buffer: the TLS layer is left holding
    // encrypted bytes whenever the socket is full, and they must still go out
    // when no other command follows.
    let big = "z".repeat(8 * 1024 * 1024);
    for i in 0..5 {
        let started = Instant::now();
        conn.query::<()>(&cmd("SET").arg(format!("big{i}")).arg(&big)).await.expect("SET 8 MB");
        assert!(started.elapsed() < Duration::from_secs(2), "SET {i} took {:?}", started.elapsed());
    }
    let n: i64 = conn.query(&cmd("STRLEN").arg("big4")).await.expect("STRLEN");
    assert_eq!(n, big.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_on_reconnect_keep_their_kind() {
    let certs = TestCerts::generate();
    let server = TlsServer::start_with(
        support::TlsOptions::new(certs.server_cert_path(), certs.server_key_path(), certs.ca_path())
            .auth_clients(TlsAuthClients::Yes)
            .user("alice", "first-pw"),
    );
    // Without a client certificate, the lazily connecting handle says Error::Tls.
    let mut no_cert = parse_url(&server.url()).expect("url");
    no_cert.tls = Some(with_ca(&certs));
    let r = redwire::conn::Reconnecting::new(no_cert, None, None);
    let err = r.send(&cmd("PING")).await.expect_err("no client certificate");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");

    // A client whose password is changed under it: after its connection is
    // killed, every path reports Error::Auth, not "not sent".
    let mut o = parse_url(&server.url()).expect("url");
    o.tls = Some(with_client_cert(&certs));
    o.response_timeout = Some(Duration::from_secs(5));
    let client = Client::connect(o, PoolOptions::default()).await.expect("connect");
    client.ping().await.expect("ping");
    client
        .query::<()>(&cmd("ACL").arg("SETUSER").arg("alice").arg("resetpass").arg(">second-pw"))
        .await
        .expect("ACL");
    let _ = client.send(&cmd("CLIENT").arg("KILL").arg("USER").arg("alice").arg("SKIPME").arg("no")).await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while !client.multiplexed().connection().await.map(|c| c.is_closed()).unwrap_or(true) {
        assert!(Instant::now() < deadline, "the connection was not killed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let err = client.ping().await.expect_err("old password");
    assert!(matches!(err, Error::Auth(_)), "send: {err:?}");
    let err = client.pipeline(&[cmd("PING")]).await.expect_err("old password");
    assert!(matches!(err, Error::Auth(_)), "pipeline: {err:?}");
    let err = client.transaction(&[cmd("PING")]).await.expect_err("old password");
    assert!(matches!(err, Error::Auth(_)), "transaction: {err:?}");
    assert!(!format!("{err} {err:?}").contains("first-pw"), "{err}");
}

/// Percent-encodes a path for a URL query value.
fn query_path(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ca_and_client_certificate_from_the_url_query() {
    let certs = TestCerts::generate();
    let server = TlsServer::start_with(
        support::TlsOptions::new(certs.server_cert_path(), certs.server_key_path(), certs.ca_path())
            .auth_clients(TlsAuthClients::Yes),
    );
    let base = format!("rediss://127.0.0.1:{}", server.port());
    let url = format!(
        "{base}/?tls_ca={}&tls_cert={}&tls_key={}",
        query_path(&certs.ca_path()),
        query_path(&certs.client_cert_path()),
        query_path(&certs.client_key_path())
    );
    // Through the store configuration, whose `url` carries the same query.
    let json = serde_json::json!({ "@type": "Redis", "url": url, "timeout": "5s" }).to_string();
    let store = redwire::Store::from_config(&redwire::config::parse(&json).expect("config"))
        .await
        .unwrap_or_else(|e| panic!("private CA from the URL: {e}"));
    store.key_set(b"tls:query", "ok".into(), None).await.expect("set");
    assert_eq!(store.key_get(b"tls:query").await.expect("get").as_deref(), Some(&b"ok"[..]));

    // Without the CA, the default roots (the system's, else webpki) do not know
    // the test CA: a typed TLS error naming the verification failure.
    for roots in ["", "?tls_roots=native", "?tls_roots=webpki", "?tls_roots=both"] {
        let mut o = parse_url(&format!("{base}{roots}")).expect("url");
        o.connect_timeout = Duration::from_secs(5);
        let err = Connection::connect(&o, None).await.expect_err("unknown issuer must be refused");
        let Error::Tls(msg) = &err else { panic!("{roots}: expected Error::Tls, got {err:?}") };
        assert!(
            msg.contains("UnknownIssuer") || msg.to_lowercase().contains("unknown issuer"),
            "{roots}: {msg}"
        );
    }
}
