//! Unit tests of the error types: classification, redirects, predicates, messages.

use super::*;

#[test]
fn classifies_codes() {
    let e = ServerError::from_line("WRONGTYPE Operation against a key").unwrap();
    assert_eq!(e.kind(), &ServerErrorKind::WrongType);
    assert_eq!(e.code(), b"WRONGTYPE");
    assert_eq!(e.message(), b"Operation against a key");
    let e = ServerError::from_line("ERR").unwrap();
    assert_eq!(e.kind(), &ServerErrorKind::Generic);
    assert_eq!(e.message(), b"");
    let e = ServerError::from_line("SOMETHING new").unwrap();
    assert_eq!(e.kind(), &ServerErrorKind::Other);
}

#[test]
fn parses_redirects() {
    let e = ServerError::from_line("MOVED 3999 127.0.0.1:6381").unwrap();
    assert_eq!(e.kind(), &ServerErrorKind::Moved { slot: 3999, node: NodeAddr::new("127.0.0.1", 6381) });
    let e = ServerError::from_line("ASK 0 [::1]:7000").unwrap();
    assert_eq!(e.kind(), &ServerErrorKind::Ask { slot: 0, node: NodeAddr::new("::1", 7000) });
    let e = ServerError::from_line("MOVED 12 ::1:7000").unwrap();
    assert_eq!(e.kind(), &ServerErrorKind::Moved { slot: 12, node: NodeAddr::new("::1", 7000) });
    assert_eq!(NodeAddr::new("::1", 7000).to_string(), "[::1]:7000");
    for bad in ["MOVED", "MOVED 16384 a:1", "MOVED x a:1", "ASK 1", "ASK 1 host", "MOVED 1 h:99999"] {
        assert_eq!(ServerError::from_line(bad), Err(ProtocolError::BadRedirect), "{bad}");
    }
}

fn server(line: &str) -> Error {
    Error::Server(ServerError::from_line(line).unwrap())
}

fn io(kind: io::ErrorKind) -> Error {
    Error::Io(Arc::new(io::Error::new(kind, "boom")))
}

#[test]
fn retryable_means_transient_and_not_run() {
    let not_sent = |cause: Error| Error::NotSent { cause: Arc::new(cause) };
    for e in [
        not_sent(io(io::ErrorKind::ConnectionRefused)),
        not_sent(Error::ConnectTimeout),
        not_sent(server("LOADING still loading")),
        Error::ConnectTimeout,
        Error::Pool(PoolTimeout::Wait),
        server("TRYAGAIN multi-key during resharding"),
        server("LOADING dataset"),
        server("CLUSTERDOWN the cluster is down"),
        server("MASTERDOWN link with master is down"),
        Error::SlotNotServed { slot: 7 },
        Error::NoPrimary,
        Error::TransactionAborted { attempts: 1 },
    ] {
        assert!(e.is_retryable(), "{e:?}");
    }
    for e in [
        Error::OutcomeUnknown { cause: Arc::new(io(io::ErrorKind::ConnectionReset)) },
        Error::Timeout,
        not_sent(Error::Closed),
        server("ERR wrong number of arguments"),
        server("MOVED 1 127.0.0.1:7000"),
        Error::RetriesExhausted { attempts: 3, last: Arc::new(server("TRYAGAIN x")) },
        Error::InvalidArgument("a ttl of zero is invalid".into()),
        Error::UnexpectedReply { what: "x" },
        Error::Closed,
    ] {
        assert!(!e.is_retryable(), "{e:?}");
    }
}

#[test]
fn source_is_the_cause() {
    use std::error::Error as _;
    let cause = Arc::new(Error::ConnectTimeout);
    for e in [
        Error::NotSent { cause: cause.clone() },
        Error::OutcomeUnknown { cause: cause.clone() },
        Error::RetriesExhausted { attempts: 2, last: cause.clone() },
        Error::PipelineIncomplete { replies: Vec::new(), unknown: 1, not_sent: 0, cause: cause.clone() },
    ] {
        let source = e.source().map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("connect timed out"), "{e:?}");
    }
    assert_eq!(io(io::ErrorKind::Other).source().map(ToString::to_string).as_deref(), Some("boom"));
    assert!(Error::Closed.source().is_none());
    assert!(Error::TransactionAborted { attempts: 1 }.source().is_none());
}

#[test]
fn connect_failures_name_the_node_and_keep_rejections() {
    let e = connect_failure(io(io::ErrorKind::ConnectionRefused), "redis://10.0.0.9:7003");
    let Error::NotSent { cause } = &e else { panic!("{e:?}") };
    let Error::Io(inner) = cause.as_ref() else { panic!("{cause:?}") };
    assert_eq!(inner.kind(), io::ErrorKind::ConnectionRefused, "the kind is kept");
    assert!(e.to_string().contains("redis://10.0.0.9:7003"), "{e}");
    assert!(e.is_retryable());
    let timeout = connect_failure(Error::ConnectTimeout, "redis://h:1");
    assert!(matches!(&timeout, Error::NotSent { cause } if matches!(**cause, Error::ConnectTimeout)));
    let auth = Error::Auth(ServerError::from_line("WRONGPASS invalid").unwrap());
    assert!(matches!(connect_failure(auth, "redis://h:1"), Error::Auth(_)));
    assert!(matches!(connect_failure(Error::Tls("bad cert".into()), "redis://h:1"), Error::Tls(_)));
}

#[test]
fn new_variants_have_names_and_messages() {
    let exec = ServerError::from_line("EXECABORT Transaction discarded").unwrap();
    let queued = ServerError::from_line("ERR unknown command 'NOPE'").unwrap();
    assert!(queued.is_unknown_command() && !exec.is_unknown_command());
    for (e, name, text) in [
        (
            Error::TransactionAborted { attempts: 1 },
            "transaction_aborted",
            "transaction aborted: a watched key changed",
        ),
        (
            Error::TransactionDiscarded { exec, queued },
            "transaction_discarded",
            "EXECABORT Transaction discarded (queued command failed: ERR unknown command 'NOPE')",
        ),
        (Error::SlotNotServed { slot: 42 }, "slot_not_served", "slot 42 is not served"),
        (Error::NoPrimary, "no_primary", "no known primary"),
        (
            Error::NotACluster { node: "redis://h:1".into() },
            "not_a_cluster",
            "redis://h:1 serves no slots (not a cluster?)",
        ),
        (Error::UnexpectedReply { what: "stray" }, "unexpected_reply", "unexpected reply: stray"),
        (
            Error::InvalidArgument("a ttl of zero is invalid".into()),
            "invalid_argument",
            "a ttl of zero is invalid",
        ),
    ] {
        assert_eq!(e.kind_name(), name);
        assert_eq!(e.to_string(), text);
    }
}

#[test]
fn one_conversion_from_frame_to_result() {
    use crate::resp::Frame;
    let err = ServerError::from_line("ERR nope").unwrap();
    assert!(matches!(Frame::SimpleError(err.clone()).into_result(), Err(Error::Server(_))));
    assert!(matches!(Frame::BlobError(err.clone()).into_result(), Err(Error::Server(_))));
    let attributed = Frame::Attributed { attributes: Vec::new(), frame: Box::new(Frame::SimpleError(err)) };
    assert!(matches!(attributed.into_result(), Err(Error::Server(_))), "errors under attributes too");
    assert_eq!(Frame::Integer(3).into_result().unwrap(), Frame::Integer(3));
    assert_eq!(Frame::Null.into_result().unwrap(), Frame::Null);
}
