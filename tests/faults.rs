//! What a real server will not do, from a scripted fake server: malformed
//! replies of every class, stalls, a close in the middle of a reply, replies
//! dribbled byte by byte, a handshake that never answers, push frames ahead
//! of the reply.

mod support;

use std::time::{Duration, Instant};

use redwire::conn::{Protocol, Reconnecting};
use redwire::{cmd, ConnectOptions, Connection, Error, Frame, ProtocolError};
use support::{FakeServer, Step};

fn opts(port: u16) -> ConnectOptions {
    let mut o = ConnectOptions::tcp("127.0.0.1", port);
    o.connect_timeout = Duration::from_millis(800);
    o.response_timeout = Some(Duration::from_millis(400));
    o
}

fn protocol_cause(err: &Error) -> Option<ProtocolError> {
    match err {
        Error::Protocol(p) => Some(p.clone()),
        Error::OutcomeUnknown { cause } | Error::NotSent { cause } => protocol_cause(cause),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_reply_class_closes_with_a_typed_error() {
    let cases: &[(&[u8], ProtocolError)] = &[
        (b"?what\r\n", ProtocolError::UnknownType(b'?')),
        (b"$abc\r\n", ProtocolError::BadLength),
        (b"$-5\r\n", ProtocolError::BadLength),
        (b"*99999999999999999999999\r\n", ProtocolError::BadLength),
        (b"$3\r\nfooXY", ProtocolError::MissingCrlf),
        (b":12a\r\n", ProtocolError::BadInteger),
        (b",1.2.3\r\n", ProtocolError::BadDouble),
        (b"#x\r\n", ProtocolError::BadBoolean),
        (b"(12x\r\n", ProtocolError::BadBigNumber),
        (b"=3\r\ntxt\r\n", ProtocolError::BadVerbatim),
        (b"-MOVED notaslot 1.2.3.4:5\r\n", ProtocolError::BadRedirect),
        (b"$1073741823\r\n", ProtocolError::TooLarge { len: 1_073_741_823, limit: 512 * 1024 * 1024 }),
    ];
    for (bytes, expected) in cases {
        // On a loaded machine the scripted server has, rarely, dropped the
        // connection before sending its bytes (the client then sees a plain
        // EOF). Such a run proves nothing either way: try again, at most
        // three times. A wrong protocol error is never retried.
        let mut attempt = 0;
        let (server, r) = loop {
            attempt += 1;
            let server = FakeServer::start_per_connection(vec![
                vec![Step::expect("SET"), Step::send(bytes), Step::stall(Duration::from_secs(5))],
                vec![Step::expect("GET"), Step::send(b"$2\r\nok\r\n"), Step::stall(Duration::from_secs(5))],
            ]);
            let r = Reconnecting::new(opts(server.port()), None, None);
            let started = Instant::now();
            // SET is not repeated after "outcome unknown" (a GET would be, and succeed).
            let err = r.send(&cmd("SET").arg("k").arg("v")).await.expect_err("malformed reply must fail");
            let cause = protocol_cause(&err);
            if cause.is_none() && attempt < 3 {
                eprintln!(
                    "inconclusive run for {:?}: {err:?}; fake: {:?}",
                    String::from_utf8_lossy(bytes),
                    server.failures()
                );
                continue;
            }
            assert!(started.elapsed() < Duration::from_secs(2), "{expected:?} took {:?}", started.elapsed());
            assert_eq!(
                cause,
                Some(expected.clone()),
                "for {:?}: {err:?}; fake server: {:?}",
                String::from_utf8_lossy(bytes),
                server.failures()
            );
            break (server, r);
        };
        // The next command reconnects and works.
        let v: String = r.query(&cmd("GET").arg("k")).await.expect("second connection");
        assert_eq!(v, "ok");
        assert_eq!(server.connections(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_gives_a_timeout_within_bounds() {
    let server = FakeServer::start(vec![Step::expect("GET"), Step::stall(Duration::from_secs(10))]);
    let conn = Connection::connect(&opts(server.port()), None).await.expect("connect");
    let started = Instant::now();
    let err = conn.send(&cmd("GET").arg("k")).await.expect_err("stalled");
    let took = started.elapsed();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(matches!(&err, Error::OutcomeUnknown { cause } if matches!(**cause, Error::Timeout)), "{err:?}");
    assert!(took >= Duration::from_millis(350) && took < Duration::from_millis(1500), "took {took:?}");
    assert!(conn.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_mid_reply_is_outcome_unknown() {
    let server = FakeServer::start(vec![Step::expect("SET"), Step::send(b"$10\r\nhalf"), Step::Close]);
    let conn = Connection::connect(&opts(server.port()), None).await.expect("connect");
    let err = conn.send(&cmd("SET").arg("k").arg("v")).await.expect_err("closed mid-reply");
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    // Commands after the close were never sent.
    let err = conn.send(&cmd("GET").arg("k")).await.expect_err("closed");
    assert!(err.is_not_sent(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_byte_by_byte_replies_decode() {
    let reply = b"*3\r\n$5\r\nhello\r\n:42\r\n%1\r\n+k\r\n,1.5\r\n";
    let server = FakeServer::start(vec![
        Step::expect("GET"),
        Step::send_slowly(reply, Duration::from_millis(3)),
        Step::stall(Duration::from_secs(5)),
    ]);
    let conn = Connection::connect(&opts(server.port()), None).await.expect("connect");
    let frame = conn.send(&cmd("GET").arg("k")).await.expect("slow reply");
    match frame {
        Frame::Array(items) => {
            assert_eq!(items.len(), 3);
            assert_eq!(items[1], Frame::Integer(42));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_that_never_answers_is_a_connect_timeout() {
    let server = FakeServer::start(vec![Step::expect_any(), Step::stall(Duration::from_secs(10))]);
    let mut o = opts(server.port());
    o.protocol = Protocol::Resp3;
    let started = Instant::now();
    let err = Connection::connect(&o, None).await.expect_err("no HELLO reply");
    assert!(matches!(err, Error::ConnectTimeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_frames_are_never_taken_for_replies() {
    let server = FakeServer::start(vec![
        Step::expect("HELLO"),
        Step::send(b"%1\r\n+proto\r\n:3\r\n"),
        Step::expect("GET"),
        Step::send(b">3\r\n+message\r\n+ch\r\n+payload\r\n$5\r\nvalue\r\n"),
        Step::stall(Duration::from_secs(5)),
    ]);
    let pushes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = {
        let pushes = pushes.clone();
        std::sync::Arc::new(move |f: Frame| pushes.lock().expect("lock").push(f)) as redwire::conn::PushSink
    };
    let mut o = opts(server.port());
    o.protocol = Protocol::Resp3;
    let conn = Connection::connect(&o, Some(sink)).await.expect("connect");
    let v: String = conn.query(&cmd("GET").arg("k")).await.expect("get");
    assert_eq!(v, "value");
    assert_eq!(pushes.lock().expect("lock").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsolicited_reply_closes_the_connection() {
    let server = FakeServer::start(vec![Step::send(b"+surprise\r\n"), Step::stall(Duration::from_secs(5))]);
    let conn = Connection::connect(&opts(server.port()), None).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(conn.is_closed(), "a reply nobody asked for must close the connection");
}
